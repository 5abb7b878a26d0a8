//! Pair identity: `(chain, address)` keys and their interning into dense [`PairId`]s.
//!
//! Everything inside pairwarm works on [`PairId`], a `u32` that indexes fixed-size
//! tables (price-matrix slots, metrics by chain). Addresses are parsed once, at the edge,
//! by [`Address::parse`]; the [`PairInterner`] maps `(chain, address)` to an id.
//!
//! The interner is **bounded**: once `capacity` pairs are interned (and not before),
//! interning a new pair recycles the slot of a cold pair (CLOCK, an approximation of least-recently-used that
//! costs one relaxed atomic store per lookup). A recycled slot gets a new *generation*, which
//! is part of the id, so an id handed out before the recycling never aliases the new pair:
//! [`PairInterner::resolve`] returns `None` for it and caches keyed by id simply never see it
//! again. Ten million distinct addresses therefore cost the same memory as `capacity`.

use std::collections::HashMap;
use std::fmt;
use std::hash::BuildHasher;
use std::str::FromStr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU32, AtomicUsize, Ordering};

use parking_lot::{Mutex, RwLock, RwLockWriteGuard};

/// Errors for pair identities that come from outside (stream entries, trace files, config).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PairError {
    /// The address neither starts with `0x` nor is base58.
    #[error(
        "invalid pair address {input:?}: expected 0x + 40 hex digits (EVM) or the base58 text of 32 bytes (Solana)"
    )]
    MissingPrefix {
        /// The rejected input.
        input: String,
    },
    /// Base58 text that does not decode to 32 bytes.
    #[error("invalid pair address {input:?}: base58 of {}, expected 32 bytes (Solana)", match bytes { Some(n) => format!("{n} bytes"), None => "more than 32 bytes".to_owned() })]
    BadBase58Length {
        /// The rejected input.
        input: String,
        /// Bytes it decodes to (`None`: more than 32).
        bytes: Option<usize>,
    },
    /// The address has the wrong number of hex digits.
    #[error("invalid pair address {input:?}: expected 40 hex digits after 0x, found {digits}")]
    BadLength {
        /// The rejected input.
        input: String,
        /// Number of characters after the `0x` prefix.
        digits: usize,
    },
    /// The address holds a character that is not a hex digit.
    #[error("invalid pair address {input:?}: {found:?} at position {position} is not a hex digit")]
    BadHex {
        /// The rejected input.
        input: String,
        /// Byte offset of the offending character in `input`.
        position: usize,
        /// The offending character.
        found: char,
    },
    /// The chain name is empty, too long, or has characters outside `[a-z0-9_-]`.
    #[error("invalid chain name {input:?}: expected 1-{max} characters of a-z, 0-9, '_' or '-'")]
    BadChain {
        /// The rejected input.
        input: String,
        /// Maximum accepted length.
        max: usize,
    },
    /// More distinct chains than the interner accepts.
    #[error("too many distinct chains (limit {limit}); rejected {input:?}")]
    TooManyChains {
        /// The chain that did not fit.
        input: String,
        /// The limit.
        limit: usize,
    },
}

/// Longest text form of an [`Address`]: a 32-byte base58 address takes at most 44
/// characters, an EVM one exactly 42.
pub const MAX_ADDRESS_TEXT: usize = 44;

/// A pool/pair address: a 20-byte EVM address or a 32-byte Solana (base58) address.
///
/// EVM addresses are shown as lowercase `0x` hex (the original system lowercases them in
/// keys); base58 is case-sensitive and is shown exactly as its canonical encoding, which is
/// the text it was parsed from. `Copy`, 33 bytes, no allocation to parse, hash or show.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address {
    /// 20 (EVM) or 32 (base58).
    len: u8,
    /// The address bytes, zero-padded after `len`.
    bytes: [u8; 32],
}

/// The two address families pairwarm knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressKind {
    /// `0x` + 40 hex digits (Ethereum and the other EVM chains).
    Evm,
    /// Base58 of 32 bytes (Solana).
    Base58,
}

impl Address {
    /// Parses an EVM address (`0x` followed by exactly 40 hex digits, case-insensitively)
    /// or a Solana address (the base58 text of 32 bytes, case-sensitive).
    ///
    /// ```
    /// use pairwarm::pair::Address;
    /// let a = Address::parse("0xB4e16d0168e52d35CaCD2c6185b44281Ec28C9Dc").unwrap();
    /// assert_eq!(a.to_string(), "0xb4e16d0168e52d35cacd2c6185b44281ec28c9dc");
    /// let s = Address::parse("58oQChx4yWmvKdwLLZzBi4ChoCc2fqCUWBkwMihLYQo2").unwrap();
    /// assert_eq!(s.to_string(), "58oQChx4yWmvKdwLLZzBi4ChoCc2fqCUWBkwMihLYQo2");
    /// assert!(Address::parse("0x12").is_err());
    /// ```
    pub fn parse(input: &str) -> Result<Self, PairError> {
        match input
            .strip_prefix("0x")
            .or_else(|| input.strip_prefix("0X"))
        {
            Some(digits) => Self::parse_hex(input, digits),
            None => Self::parse_base58(input),
        }
    }

    fn parse_hex(input: &str, digits: &str) -> Result<Self, PairError> {
        if digits.len() != 40 {
            return Err(PairError::BadLength {
                input: clip(input),
                digits: digits.chars().count(),
            });
        }
        let mut out = [0u8; 20];
        let bytes = digits.as_bytes();
        for (i, chunk) in bytes.chunks_exact(2).enumerate() {
            let hi = hex_value(chunk[0]).ok_or_else(|| bad_hex(input, 2 + 2 * i))?;
            let lo = hex_value(chunk[1]).ok_or_else(|| bad_hex(input, 3 + 2 * i))?;
            out[i] = (hi << 4) | lo;
        }
        Ok(Self::from_bytes(out))
    }

    /// Base58 of exactly 32 bytes. Text that is not base58 at all is reported as a
    /// missing `0x` (the common mistake); base58 of another length names the length.
    fn parse_base58(input: &str) -> Result<Self, PairError> {
        let is_base58 = !input.is_empty()
            && input.len() <= MAX_ADDRESS_TEXT
            && input
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() && !matches!(b, b'0' | b'O' | b'I' | b'l'));
        if !is_base58 {
            return Err(PairError::MissingPrefix { input: clip(input) });
        }
        let mut bytes = [0u8; 32];
        // A longer decoding overflows the buffer: the same error as a short one.
        let len = bs58::decode(input)
            .onto(&mut bytes[..])
            .unwrap_or(usize::MAX);
        if len != 32 {
            return Err(PairError::BadBase58Length {
                input: clip(input),
                bytes: (len != usize::MAX).then_some(len),
            });
        }
        Ok(Self { len: 32, bytes })
    }

    /// An EVM address from its 20 bytes.
    pub const fn from_bytes(evm: [u8; 20]) -> Self {
        let mut bytes = [0u8; 32];
        let mut i = 0;
        while i < 20 {
            bytes[i] = evm[i];
            i += 1;
        }
        Self { len: 20, bytes }
    }

    /// A Solana address from its 32 bytes.
    pub const fn from_base58_bytes(bytes: [u8; 32]) -> Self {
        Self { len: 32, bytes }
    }

    /// The family of the address.
    pub const fn kind(&self) -> AddressKind {
        if self.len == 32 {
            AddressKind::Base58
        } else {
            AddressKind::Evm
        }
    }

    /// The raw bytes: 20 for EVM, 32 for base58.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len).min(32)]
    }

    /// Writes the text form (lowercase `0x…` or base58) into a fixed buffer, without
    /// allocating.
    pub fn encode_into<'b>(&self, buf: &'b mut [u8; MAX_ADDRESS_TEXT]) -> &'b str {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let len = match self.kind() {
            AddressKind::Evm => {
                buf[0] = b'0';
                buf[1] = b'x';
                for (i, b) in self.as_bytes().iter().enumerate() {
                    buf[2 + 2 * i] = HEX[(b >> 4) as usize];
                    buf[3 + 2 * i] = HEX[(b & 0x0f) as usize];
                }
                42
            }
            // 32 bytes never take more than 44 characters.
            AddressKind::Base58 => bs58::encode(self.as_bytes())
                .onto(&mut buf[..])
                .unwrap_or(0),
        };
        // Only ASCII was written.
        std::str::from_utf8(&buf[..len]).unwrap_or("0x")
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; MAX_ADDRESS_TEXT];
        f.write_str(self.encode_into(&mut buf))
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Address {
    type Err = PairError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Bounds the size of inputs echoed back in errors (a hostile 1 MB "address" stays short),
/// cutting on a character boundary: at most 80 bytes, then `…`. Public so that every parser
/// of outside input (the service's stream entries too) echoes input the same bounded way.
pub fn clip(input: &str) -> String {
    const MAX: usize = 80;
    if input.len() <= MAX {
        return input.to_owned();
    }
    let mut end = MAX;
    while !input.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &input[..end])
}

fn bad_hex(input: &str, position: usize) -> PairError {
    let found = input
        .get(position..)
        .and_then(|s| s.chars().next())
        .unwrap_or('?');
    PairError::BadHex {
        input: clip(input),
        position,
        found,
    }
}

/// A chain interned into a small integer (see [`PairInterner::chain_id`]).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct ChainId(pub(crate) u16);

impl ChainId {
    /// Position of the chain in the interner's chain table (dense, from 0).
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

/// Maximum number of distinct chains one interner accepts (bounds per-chain tables).
pub const MAX_CHAINS: usize = 64;
/// Maximum length of a chain name.
pub const MAX_CHAIN_NAME: usize = 32;

/// Validates and normalises a chain name to lowercase.
pub fn normalize_chain(input: &str) -> Result<String, PairError> {
    let ok = !input.is_empty()
        && input.len() <= MAX_CHAIN_NAME
        && input
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !ok {
        return Err(PairError::BadChain {
            input: clip(input),
            max: MAX_CHAIN_NAME,
        });
    }
    Ok(input.to_ascii_lowercase())
}

/// A pair's identity: the chain it lives on and its address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct PairKey {
    /// Interned chain.
    pub chain: ChainId,
    /// Pool address.
    pub address: Address,
}

/// A dense pair id: `slot` in the low bits, `generation` in the high bits.
///
/// Two ids are equal only if they name the same interned pair: when the interner recycles
/// a slot it bumps the generation, so stale ids never compare equal to the new owner's.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct PairId(u32);

impl PairId {
    /// The raw `u32` (slot and generation bits together).
    pub const fn raw(self) -> u32 {
        self.0
    }

    /// Rebuilds an id from [`PairId::raw`]. Only meaningful for the interner that made it.
    pub const fn from_raw(raw: u32) -> Self {
        Self(raw)
    }
}

impl fmt::Display for PairId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Configuration-independent hasher with a fixed seed, so runs are reproducible.
pub(crate) fn fixed_hasher() -> foldhash::fast::FixedState {
    foldhash::fast::FixedState::with_seed(0x7061_6972_7761_726d) // "pairwarm"
}

const SHARDS: usize = 16;

/// Bounded `(chain, address) -> PairId` map with CLOCK eviction of cold pairs.
///
/// **Capacity is global**: a new pair takes a never-used slot while there is one, and only
/// once all `capacity` slots hold a pair does it recycle the slot of the coldest pair of the
/// whole interner (one CLOCK hand over all slots). So `n` distinct pairs keep `min(n,
/// capacity)`, and an id is never recycled below capacity.
///
/// Concurrency: the key -> slot map is split into 16 shards, each behind its own
/// read-write lock; a lookup of a known pair takes one shard read lock and one relaxed
/// atomic store, never a global lock. Interning a new pair locks its shard; recycling a
/// slot whose pair lives in another shard only *tries* that shard's lock (a busy victim is
/// skipped), so two interning threads never wait for each other.
///
/// ```
/// use pairwarm::pair::PairInterner;
/// let interner = PairInterner::new(1024);
/// let id = interner.intern_str("ethereum", "0xB4e16d0168e52d35CaCD2c6185b44281Ec28C9Dc").unwrap();
/// let key = interner.resolve(id).unwrap();
/// assert_eq!(interner.chain_name(key.chain), Some("ethereum"));
/// assert_eq!(interner.lookup(&key), Some(id));
/// ```
pub struct PairInterner {
    /// Key -> slot, by shard of the key's hash.
    shards: Box<[RwLock<HashMap<PairKey, u32, foldhash::fast::FixedState>>]>,
    /// The pair in each slot and its generation (`None`: free or being recycled).
    slots: Box<[Mutex<Option<SlotOwner>>]>,
    /// Generation of each slot's current pair, for lock-free id construction; written
    /// together with `slots` under the owning shard's write lock.
    generations: Box<[AtomicU32]>,
    /// CLOCK reference bit per slot, set on every lookup of the slot's pair.
    referenced: Box<[AtomicBool]>,
    /// Chain of the pair currently in each slot (lock-free, for per-chain metrics).
    slot_chain: Box<[AtomicU16]>,
    /// Slots below this have been handed out at least once.
    used: AtomicUsize,
    /// Pairs interned now.
    live: AtomicUsize,
    /// The CLOCK hand (a counter; the slot is it modulo the capacity).
    hand: AtomicUsize,
    slot_bits: u32,
    hasher: foldhash::fast::FixedState,
    /// Chain names by id; written once each under `chain_writer`, read without locks.
    chains: Box<[OnceLock<Box<str>>]>,
    chain_writer: Mutex<()>,
}

type ShardMap = HashMap<PairKey, u32, foldhash::fast::FixedState>;
/// A slot's pair and the generation its ids carry.
type SlotOwner = (PairKey, u32);

impl PairInterner {
    /// An interner holding at most `capacity` pairs (at least 1, at most 2^24).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.clamp(1, 1 << 24);
        let slot_bits = usize::BITS - (capacity - 1).leading_zeros();
        let hasher = fixed_hasher();
        Self {
            shards: (0..SHARDS)
                .map(|_| RwLock::new(HashMap::with_hasher(hasher.clone())))
                .collect(),
            slots: (0..capacity).map(|_| Mutex::new(None)).collect(),
            generations: (0..capacity).map(|_| AtomicU32::new(0)).collect(),
            referenced: (0..capacity).map(|_| AtomicBool::new(false)).collect(),
            slot_chain: (0..capacity).map(|_| AtomicU16::new(0)).collect(),
            used: AtomicUsize::new(0),
            live: AtomicUsize::new(0),
            hand: AtomicUsize::new(0),
            slot_bits,
            hasher,
            chains: (0..MAX_CHAINS).map(|_| OnceLock::new()).collect(),
            chain_writer: Mutex::new(()),
        }
    }

    /// Maximum number of pairs held at once.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Number of pairs currently interned.
    pub fn len(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }

    /// True when no pair is interned.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Interns a chain name (validated, lowercased). Chains are never evicted; at most
    /// [`MAX_CHAINS`] distinct chains are accepted.
    pub fn chain_id(&self, name: &str) -> Result<ChainId, PairError> {
        if let Some(id) = self.find_chain(name) {
            return Ok(id);
        }
        let name = normalize_chain(name)?;
        let _writer = self.chain_writer.lock();
        if let Some(id) = self.find_chain(&name) {
            return Ok(id);
        }
        let Some(free) = self.chains.iter().position(|c| c.get().is_none()) else {
            return Err(PairError::TooManyChains {
                input: name,
                limit: MAX_CHAINS,
            });
        };
        let _ = self.chains[free].set(name.into_boxed_str());
        Ok(ChainId(free as u16))
    }

    fn find_chain(&self, name: &str) -> Option<ChainId> {
        self.chains
            .iter()
            .map_while(|c| c.get())
            .position(|c| c.eq_ignore_ascii_case(name))
            .map(|pos| ChainId(pos as u16))
    }

    /// Name of an interned chain.
    pub fn chain_name(&self, chain: ChainId) -> Option<&str> {
        self.chains.get(chain.index())?.get().map(|c| &**c)
    }

    /// Names of all chains, in id order.
    pub fn chain_names(&self) -> Vec<String> {
        self.chains
            .iter()
            .map_while(|c| c.get())
            .map(|c| c.to_string())
            .collect()
    }

    /// Parses and interns a `(chain, address)` given as text.
    pub fn intern_str(&self, chain: &str, address: &str) -> Result<PairId, PairError> {
        let address = Address::parse(address)?;
        let chain = self.chain_id(chain)?;
        Ok(self.intern(PairKey { chain, address }))
    }

    /// Returns the id of `key`, interning it if new: into a never-used slot while there is
    /// one, else into the slot of the coldest pair, whose ids stop resolving.
    pub fn intern(&self, key: PairKey) -> PairId {
        loop {
            if let Some(id) = self.lookup(&key) {
                return id;
            }
            let shard_ix = self.shard_of(&key);
            let mut map = self.shards[shard_ix].write();
            if let Some(&slot) = map.get(&key) {
                return self.touch(slot as usize);
            }
            let (slot, generation) = match self.take_unused() {
                Some(slot) => {
                    self.live.fetch_add(1, Ordering::Relaxed);
                    (slot, self.generations[slot].load(Ordering::Relaxed))
                }
                None => {
                    let Some(slot) = self.recycle(shard_ix, &mut map) else {
                        // Every victim's shard stayed busy: let their writers finish.
                        drop(map);
                        std::thread::yield_now();
                        continue;
                    };
                    let next = self.generations[slot].load(Ordering::Relaxed) + 1;
                    (slot, next & self.generation_mask())
                }
            };
            self.generations[slot].store(generation, Ordering::Relaxed);
            *self.slots[slot].lock() = Some((key, generation));
            self.slot_chain[slot].store(key.chain.0, Ordering::Relaxed);
            map.insert(key, slot as u32);
            return self.touch(slot);
        }
    }

    /// A slot never handed out yet, if any is left.
    fn take_unused(&self) -> Option<usize> {
        let capacity = self.capacity();
        self.used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |u| {
                (u < capacity).then_some(u + 1)
            })
            .ok()
    }

    /// Frees the slot of the coldest pair: the CLOCK hand's first slot not referenced since
    /// its last pass whose shard is ours (`own`, locked as `own_map`) or free. `None` if
    /// every candidate's shard stayed busy for two sweeps.
    fn recycle(&self, own: usize, own_map: &mut ShardMap) -> Option<usize> {
        let capacity = self.capacity();
        for _ in 0..2 * capacity + 1 {
            let slot = self.hand.fetch_add(1, Ordering::Relaxed) % capacity;
            if self.referenced[slot].swap(false, Ordering::Relaxed) {
                continue;
            }
            let Some((victim, _)) = *self.slots[slot].lock() else {
                continue;
            };
            let shard_ix = self.shard_of(&victim);
            let mut guard: Option<RwLockWriteGuard<'_, ShardMap>> = None;
            let map: &mut ShardMap = if shard_ix == own {
                own_map
            } else {
                // Never wait while holding our own shard: skip a busy victim.
                match self.shards[shard_ix].try_write() {
                    Some(g) => guard.insert(g),
                    None => continue,
                }
            };
            // Still that pair's slot (not recycled meanwhile)?
            if map.get(&victim) == Some(&(slot as u32)) {
                map.remove(&victim);
                *self.slots[slot].lock() = None;
                return Some(slot);
            }
        }
        None
    }

    /// The id of `key` if it is interned; never allocates a slot (reads of unknown pairs
    /// must not evict known ones).
    pub fn lookup(&self, key: &PairKey) -> Option<PairId> {
        let map = self.shards[self.shard_of(key)].read();
        let slot = *map.get(key)?;
        // The generation is stable while `key` maps to the slot (we hold its shard).
        Some(self.touch(slot as usize))
    }

    /// The id of a `(chain, address)` given as text, if both are known; never takes a
    /// chain or pair slot (for keys named from outside, such as Redis invalidations).
    pub fn lookup_str(&self, chain: &str, address: &str) -> Option<PairId> {
        let chain = self.find_chain(chain)?;
        let address = Address::parse(address).ok()?;
        self.lookup(&PairKey { chain, address })
    }

    /// The key an id stands for, or `None` if its slot was recycled since.
    pub fn resolve(&self, id: PairId) -> Option<PairKey> {
        let (key, generation) = (*self.slots.get(self.slot(id))?.lock())?;
        (generation == self.generation(id)).then_some(key)
    }

    /// Chain of the pair currently in `id`'s slot, without locking. For a recycled id this
    /// may name the new owner's chain, which is good enough for per-chain counters.
    #[inline]
    pub fn chain_of(&self, id: PairId) -> ChainId {
        let slot = self.slot(id);
        ChainId(
            self.slot_chain
                .get(slot)
                .map_or(0, |c| c.load(Ordering::Relaxed)),
        )
    }

    /// Dense slot index of an id, in `0..capacity()`.
    pub fn slot(&self, id: PairId) -> usize {
        (id.0 & self.slot_mask()) as usize
    }

    /// Mask that extracts the slot bits of a raw id.
    pub(crate) fn slot_mask(&self) -> u32 {
        ((1u64 << self.slot_bits) - 1) as u32
    }

    fn generation(&self, id: PairId) -> u32 {
        id.0.checked_shr(self.slot_bits).unwrap_or(0)
    }

    fn generation_mask(&self) -> u32 {
        u32::MAX.checked_shr(self.slot_bits).unwrap_or(0)
    }

    fn shard_of(&self, key: &PairKey) -> usize {
        (self.hasher.hash_one(key) as usize) % SHARDS
    }

    /// Whether `id` still names the pair in its slot, without locking (hot paths). A pair
    /// removed without its slot being reused yet may still read as current; [`resolve`]
    /// is exact.
    ///
    /// [`resolve`]: Self::resolve
    #[inline]
    pub fn is_current(&self, id: PairId) -> bool {
        self.generations
            .get(self.slot(id))
            .is_some_and(|g| g.load(Ordering::Relaxed) == self.generation(id))
    }

    /// Marks `slot` referenced and returns its current id.
    fn touch(&self, slot: usize) -> PairId {
        if !self.referenced[slot].load(Ordering::Relaxed) {
            self.referenced[slot].store(true, Ordering::Relaxed);
        }
        let generation = self.generations[slot].load(Ordering::Relaxed);
        PairId((generation << self.slot_bits) | slot as u32)
    }

    /// Approximate heap bytes held (fixed once full).
    pub fn memory_bytes(&self) -> usize {
        let per_slot = std::mem::size_of::<Mutex<Option<SlotOwner>>>()
            + std::mem::size_of::<(PairKey, u32)>() + 1 // hash map entry + control byte
            + std::mem::size_of::<AtomicU32>()
            + std::mem::size_of::<AtomicBool>()
            + std::mem::size_of::<AtomicU16>();
        self.capacity() * per_slot
    }
}

impl fmt::Debug for PairInterner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PairInterner")
            .field("capacity", &self.capacity())
            .field("len", &self.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_normalises_case() {
        let a = Address::parse("0xABCDEF0123456789abcdef0123456789ABCDEF01").unwrap();
        assert_eq!(a.to_string(), "0xabcdef0123456789abcdef0123456789abcdef01");
        assert_eq!(a.as_bytes()[0], 0xab);
    }

    #[test]
    fn parse_rejects_bad_input_naming_it() {
        assert_eq!(
            Address::parse("abcdef0123456789abcdef0123456789abcdef01"),
            Err(PairError::MissingPrefix {
                input: "abcdef0123456789abcdef0123456789abcdef01".into()
            })
        );
        assert!(matches!(
            Address::parse("0x1234"),
            Err(PairError::BadLength { digits: 4, .. })
        ));
        let err = Address::parse("0xabcdef0123456789abcdef0123456789abcdefzz").unwrap_err();
        assert_eq!(
            err,
            PairError::BadHex {
                input: "0xabcdef0123456789abcdef0123456789abcdefzz".into(),
                position: 40,
                found: 'z'
            }
        );
        assert!(
            err.to_string()
                .contains("0xabcdef0123456789abcdef0123456789abcdefzz")
        );
        // Multi-byte characters are reported, not split.
        assert!(matches!(
            Address::parse("0xé"),
            Err(PairError::BadLength { digits: 1, .. })
        ));
    }

    #[test]
    fn base58_addresses_are_pairs_of_their_own_and_keep_their_case() {
        // Raydium's SOL/USDC pool: case-sensitive base58, shown exactly as given.
        let text = "58oQChx4yWmvKdwLLZzBi4ChoCc2fqCUWBkwMihLYQo2";
        let a = Address::parse(text).unwrap();
        assert_eq!(a.kind(), AddressKind::Base58);
        assert_eq!(a.as_bytes().len(), 32);
        assert_eq!(a.to_string(), text);
        let mut buf = [0u8; MAX_ADDRESS_TEXT];
        assert_eq!(a.encode_into(&mut buf), text);
        // Another case is another address (or none), never the same one.
        let lower = Address::parse(&text.to_ascii_lowercase());
        assert_ne!(lower.ok(), Some(a));
        // Leading zero bytes are leading '1's and survive the round trip.
        let ones = "11111111111111111111111111111111";
        assert_eq!(Address::parse(ones).unwrap().to_string(), ones);
        assert_eq!(Address::parse(ones).unwrap().as_bytes(), &[0u8; 32]);
        // Base58 of another length, and text that is not base58 at all.
        assert!(matches!(
            Address::parse("3yZe7d"),
            Err(PairError::BadBase58Length { bytes: Some(4), .. })
        ));
        assert!(matches!(
            Address::parse(&"z".repeat(44)),
            Err(PairError::BadBase58Length { bytes: None, .. })
        ));
        assert!(matches!(
            Address::parse("0OIl0OIl0OIl"),
            Err(PairError::MissingPrefix { .. })
        ));
        // Interned next to an EVM pair with the same leading bytes: distinct pairs.
        let i = PairInterner::new(16);
        let sol = i.intern_str("solana", text).unwrap();
        let mut evm = [0u8; 20];
        evm.copy_from_slice(&a.as_bytes()[..20]);
        let other = i.intern(PairKey {
            chain: i.chain_id("solana").unwrap(),
            address: Address::from_bytes(evm),
        });
        assert_ne!(sol, other);
        assert_eq!(i.resolve(sol).unwrap().address.to_string(), text);
    }

    #[test]
    fn chains_are_validated_and_bounded() {
        let i = PairInterner::new(16);
        let eth = i.chain_id("Ethereum").unwrap();
        assert_eq!(i.chain_id("ethereum").unwrap(), eth);
        assert_eq!(i.chain_name(eth), Some("ethereum"));
        assert!(matches!(i.chain_id(""), Err(PairError::BadChain { .. })));
        assert!(matches!(
            i.chain_id("eth mainnet"),
            Err(PairError::BadChain { .. })
        ));
        for n in 1..MAX_CHAINS {
            i.chain_id(&format!("c{n}")).unwrap();
        }
        assert!(matches!(
            i.chain_id("onemore"),
            Err(PairError::TooManyChains { .. })
        ));
    }

    #[test]
    fn recycled_slot_changes_generation() {
        let i = PairInterner::new(16);
        let chain = i.chain_id("bsc").unwrap();
        let key = |n: u32| PairKey {
            chain,
            address: Address::from_bytes({
                let mut b = [0u8; 20];
                b[..4].copy_from_slice(&n.to_le_bytes());
                b
            }),
        };
        let first = i.intern(key(0));
        for n in 1..1000 {
            i.intern(key(n));
        }
        assert!(i.len() <= i.capacity());
        if i.lookup(&key(0)).is_none() {
            assert_eq!(i.resolve(first), None, "stale id must not resolve");
        }
        let again = i.intern(key(0));
        assert_eq!(i.resolve(again), Some(key(0)));
    }

    /// Threads interning distinct pairs recycle each other's slots without deadlock; the
    /// interner ends exactly full, every slot's pair mapping back to it.
    #[test]
    fn concurrent_interning_fills_exactly_to_capacity() {
        let i = PairInterner::new(1_000);
        let chain = i.chain_id("bsc").unwrap();
        std::thread::scope(|s| {
            for t in 0..4u32 {
                let i = &i;
                s.spawn(move || {
                    for n in 0..10_000u32 {
                        let mut b = [0u8; 20];
                        b[..4].copy_from_slice(&n.to_le_bytes());
                        b[4..8].copy_from_slice(&t.to_le_bytes());
                        let key = PairKey {
                            chain,
                            address: Address::from_bytes(b),
                        };
                        let id = i.intern(key);
                        // Another thread may recycle the slot between the two calls: the
                        // generation then makes the id resolve to nothing, never to
                        // another pair.
                        if let Some(resolved) = i.resolve(id) {
                            assert_eq!(resolved, key);
                        }
                    }
                });
            }
        });
        assert_eq!(i.len(), 1_000);
        let mapped: usize = i.shards.iter().map(|m| m.read().len()).sum();
        assert_eq!(mapped, 1_000);
        for (slot, entry) in i.slots.iter().enumerate() {
            let (key, _) = entry.lock().unwrap();
            let id = i.lookup(&key).unwrap();
            assert_eq!(i.slot(id), slot);
        }
    }
}

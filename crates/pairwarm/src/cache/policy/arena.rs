//! Entries of the hand-written policies: one slab of nodes threaded on intrusive doubly
//! linked queues (indices, not pointers), plus the id -> node index ([`IdIndex`]). Bounded:
//! the slab never holds more nodes than the policy's capacity, freed nodes are reused.

use std::collections::HashMap;

use super::speculation::Speculation;
use super::{Insert, Inserted};
use crate::cache::entry::{Evictions, L1Entry};
use crate::pair::PairId;

pub(super) const NIL: u32 = u32::MAX;
/// Queues a policy can thread its nodes on: three of its own, plus [`SPECULATIVE`].
pub(super) const QUEUES: usize = 4;
/// The queue of warmed entries not read yet (shared by every policy): a FIFO of at most
/// the policy's speculative quota, outside the policy's own segments. A read or a write
/// of one of them hands it to the policy as if it had just been loaded.
pub(super) const SPECULATIVE: u8 = 3;

/// Which ids a shard of a policy holds when the ids' interner slots decide the shard (see
/// [`IdIndex::Slots`]): ids whose slot (`raw & slot_mask`) is congruent to the shard's
/// number modulo `2^shard_bits`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SlotIndexing {
    pub(crate) slot_mask: u32,
    pub(crate) shard_bits: u32,
}

impl SlotIndexing {
    /// The position of `id` in its shard's array.
    #[inline]
    fn position(self, id: PairId) -> usize {
        ((id.raw() & self.slot_mask) >> self.shard_bits) as usize
    }

    /// Positions in one shard's array.
    fn positions(self) -> usize {
        ((self.slot_mask as usize) >> self.shard_bits) + 1
    }
}

/// How an arena finds an id's node.
enum IdIndex {
    /// A hash map: any ids, memory in proportion to the entries. Small caches and the
    /// tuner's shadows (which see a sample of the keys) use it.
    Map(HashMap<PairId, u32, foldhash::fast::FixedState>),
    /// One node index per interner slot the shard owns, checked against the node's id: a
    /// hit costs one array load instead of a hash and two dependent loads of hashbrown's
    /// control bytes and bucket (`l1_hit/pairwarm_default`, ids read in order: 54-58 ->
    /// 37-48 ns in three alternating runs; docs/simulation.md, round 7). 4 bytes per slot, so it is used only where the
    /// interner has at most [`SLOTS_PER_ENTRY_MAX`](super::SLOTS_PER_ENTRY_MAX) slots per
    /// entry. The interner recycles a cold pair's slot with a new generation: an entry of
    /// the slot's older pair can no longer be read and is dropped when the new one arrives.
    Slots {
        nodes: Box<[u32]>,
        indexing: SlotIndexing,
    },
}

#[derive(Clone, Copy, Debug)]
pub(super) struct Node<E = L1Entry> {
    pub(super) id: PairId,
    pub(super) entry: E,
    prev: u32,
    next: u32,
    /// Which queue the node is on.
    pub(super) queue: u8,
    /// Policy-specific counter (reference bits, clock frequency).
    pub(super) freq: u8,
}

/// Nodes, their queues and the id map. Each queue runs from its *front* (oldest, next to
/// leave) to its *back* (newest). `E` is what a node holds: an [`L1Entry`] in a cache, the
/// time it was stored (`u64`) in a miniature simulation (`tuner.rs`).
pub(super) struct Arena<E = L1Entry> {
    nodes: Vec<Node<E>>,
    free: Vec<u32>,
    index: IdIndex,
    /// Entries held (nodes in the index).
    len: usize,
    front: [u32; QUEUES],
    back: [u32; QUEUES],
    lens: [usize; QUEUES],
    /// How many slots unread guesses may hold.
    speculation: Speculation,
    /// Whether evictions feed the speculation gate (not in a miniature simulation, which
    /// holds no guesses).
    gated: bool,
}

impl<E: Copy> Arena<E> {
    pub(super) fn new(capacity: usize) -> Self {
        Self {
            nodes: Vec::with_capacity(capacity.min(1 << 16)),
            free: Vec::new(),
            index: IdIndex::Map(HashMap::with_capacity_and_hasher(
                capacity.min(1 << 16),
                crate::pair::fixed_hasher(),
            )),
            len: 0,
            front: [NIL; QUEUES],
            back: [NIL; QUEUES],
            lens: [0; QUEUES],
            speculation: Speculation::new(super::speculative_quota(capacity)),
            gated: true,
        }
    }

    /// An arena that never holds guesses: its evictions are not remembered for the
    /// speculation gate (a miniature simulation's, `tuner.rs`).
    pub(super) fn without_gate(capacity: usize) -> Self {
        Self {
            gated: false,
            ..Self::new(capacity)
        }
    }

    /// Whether the cache has an L1 TTL: the speculation gate asks more of guesses under one
    /// (`speculation.rs`). Right after construction.
    pub(super) fn set_expiring(&mut self, expiring: bool) {
        self.speculation.set_expiring(expiring);
    }

    /// Finds ids through an array indexed by interner slot ([`IdIndex::Slots`]) instead of
    /// a hash map. Only on an empty arena (a policy just built).
    pub(super) fn index_by_slots(&mut self, indexing: SlotIndexing) {
        debug_assert_eq!(self.len, 0, "re-indexing a non-empty arena");
        if self.len == 0 {
            self.index = IdIndex::Slots {
                nodes: vec![NIL; indexing.positions()].into_boxed_slice(),
                indexing,
            };
        }
    }

    /// A guess was read (or written): it joins queue `q` as a demand load would, and counts
    /// for speculation.
    pub(super) fn guess_taken(&mut self, ix: u32, q: u8) {
        self.move_back(ix, q);
        self.speculation.guess_read();
    }

    /// A read of `id` missed (feeds the speculation gate's measures; `now_us` is read only
    /// for a guess refused before its fetch, see [`Arena::guess_has_room`]).
    #[inline]
    pub(super) fn missed(&mut self, id: PairId, now_us: impl FnOnce() -> u64) {
        self.speculation.missed(id, now_us);
    }

    /// Evicts unread guesses beyond the gate's limit while the arena holds more than
    /// `max_len` entries (guesses are the first to go once they stopped paying).
    pub(super) fn trim_speculative(&mut self, max_len: usize, evicted: &mut Evictions) {
        while self.len() > max_len && self.queue_len(SPECULATIVE) > self.speculation.limit() {
            if !self.evict_speculative(evicted) {
                break;
            }
        }
    }

    #[inline]
    pub(super) fn find(&self, id: PairId) -> Option<u32> {
        match &self.index {
            IdIndex::Map(map) => map.get(&id).copied(),
            IdIndex::Slots { nodes, indexing } => {
                let ix = *nodes.get(indexing.position(id))?;
                (ix != NIL && self.nodes[ix as usize].id == id).then_some(ix)
            }
        }
    }

    #[inline]
    pub(super) fn node(&self, ix: u32) -> &Node<E> {
        &self.nodes[ix as usize]
    }

    #[inline]
    pub(super) fn node_mut(&mut self, ix: u32) -> &mut Node<E> {
        &mut self.nodes[ix as usize]
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn queue_len(&self, q: u8) -> usize {
        self.lens[q as usize]
    }

    pub(super) fn front(&self, q: u8) -> Option<u32> {
        let ix = self.front[q as usize];
        (ix != NIL).then_some(ix)
    }

    /// A new node at the back of `q`.
    pub(super) fn insert_back(&mut self, id: PairId, entry: E, q: u8, freq: u8) -> u32 {
        let ix = self.alloc(id, entry, q, freq);
        self.link_back(q, ix);
        ix
    }

    /// Under [`IdIndex::Slots`], removes the entry of another pair that held `id`'s
    /// interner slot (an older generation: it can no longer be read). Not an eviction: its
    /// pair is gone. Policies call it before making room for `id`; returns whether an
    /// entry was removed.
    pub(super) fn drop_stale(&mut self, id: PairId) -> bool {
        if let Some(stale) = self.stale_of(id) {
            self.remove(stale);
            return true;
        }
        false
    }

    /// The node of an older pair that held `id`'s interner slot, if any (see
    /// [`Arena::drop_stale`]).
    fn stale_of(&self, id: PairId) -> Option<u32> {
        if let IdIndex::Slots { nodes, indexing } = &self.index
            && let Some(&stale) = nodes.get(indexing.position(id))
            && stale != NIL
            && self.nodes[stale as usize].id != id
        {
            return Some(stale);
        }
        None
    }

    /// A node for `id`, which is not in the arena.
    fn alloc(&mut self, id: PairId, entry: E, q: u8, freq: u8) -> u32 {
        // Every policy drops a stale entry of `id`'s slot before making room for it.
        debug_assert!(
            !matches!(&self.index, IdIndex::Slots { nodes, indexing }
                if nodes.get(indexing.position(id)).is_some_and(|&ix| ix != NIL)),
            "a stale entry still holds the slot of {id:?}"
        );
        let node = Node {
            id,
            entry,
            prev: NIL,
            next: NIL,
            queue: q,
            freq,
        };
        let ix = match self.free.pop() {
            Some(ix) => {
                self.nodes[ix as usize] = node;
                ix
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        };
        match &mut self.index {
            IdIndex::Map(map) => {
                map.insert(id, ix);
            }
            IdIndex::Slots { nodes, indexing } => {
                if let Some(at) = nodes.get_mut(indexing.position(id)) {
                    *at = ix;
                }
            }
        }
        self.len += 1;
        ix
    }

    /// Moves a node to the back of `q` (its own queue or another). A node already at the
    /// back of `q` stays put (re-linking it would change nothing but cost two cache lines).
    #[inline]
    pub(super) fn move_back(&mut self, ix: u32, q: u8) {
        if self.back[q as usize] == ix && self.nodes[ix as usize].queue == q {
            return;
        }
        self.unlink(ix);
        self.nodes[ix as usize].queue = q;
        self.link_back(q, ix);
    }

    /// Removes a node from its queue and the map; returns it.
    pub(super) fn remove(&mut self, ix: u32) -> Node<E> {
        self.unlink(ix);
        let node = self.nodes[ix as usize];
        match &mut self.index {
            IdIndex::Map(map) => {
                map.remove(&node.id);
            }
            IdIndex::Slots { nodes, indexing } => {
                if let Some(at) = nodes.get_mut(indexing.position(node.id))
                    && *at == ix
                {
                    *at = NIL;
                }
            }
        }
        self.len -= 1;
        self.free.push(ix);
        node
    }

    /// Removes `id` if present.
    pub(super) fn remove_id(&mut self, id: PairId) -> bool {
        match self.find(id) {
            Some(ix) => {
                self.remove(ix);
                true
            }
            None => false,
        }
    }

    /// Evicts a node: removes it and reports its id.
    pub(super) fn evict(&mut self, ix: u32, evicted: &mut Evictions) -> PairId {
        let node = self.remove(ix);
        if self.gated && node.queue != SPECULATIVE {
            self.speculation.evicted(node.id);
        }
        evicted.push(node.id);
        node.id
    }

    /// Evicts the oldest unread guess, if any (a policy's last resort when its own
    /// segments are empty).
    pub(super) fn evict_speculative(&mut self, evicted: &mut Evictions) -> bool {
        match self.front(SPECULATIVE) {
            Some(ix) => {
                self.evict(ix, evicted);
                true
            }
            None => false,
        }
    }

    pub(super) fn clear(&mut self) {
        self.nodes.clear();
        self.free.clear();
        match &mut self.index {
            IdIndex::Map(map) => map.clear(),
            IdIndex::Slots { nodes, .. } => nodes.fill(NIL),
        }
        self.len = 0;
        self.front = [NIL; QUEUES];
        self.back = [NIL; QUEUES];
        self.lens = [0; QUEUES];
        self.speculation.clear();
    }

    #[inline]
    fn link_back(&mut self, q: u8, ix: u32) {
        let qi = q as usize;
        let old = self.back[qi];
        {
            let n = &mut self.nodes[ix as usize];
            n.prev = old;
            n.next = NIL;
            n.queue = q;
        }
        if old == NIL {
            self.front[qi] = ix;
        } else {
            self.nodes[old as usize].next = ix;
        }
        self.back[qi] = ix;
        self.lens[qi] += 1;
    }

    #[inline]
    fn unlink(&mut self, ix: u32) {
        let Node {
            prev, next, queue, ..
        } = self.nodes[ix as usize];
        let qi = queue as usize;
        if prev == NIL {
            self.front[qi] = next;
        } else {
            self.nodes[prev as usize].next = next;
        }
        if next == NIL {
            self.back[qi] = prev;
        } else {
            self.nodes[next as usize].prev = prev;
        }
        self.lens[qi] -= 1;
    }
}

/// What only a cache's arena does: values, references and warmed guesses.
impl Arena<L1Entry> {
    /// A put of a pair already present: its value is replaced, and a write counts as a
    /// reference (`freq` + 1, saturating at `max_ref`) for the CLOCK-style policies.
    pub(super) fn replace(
        &mut self,
        ix: u32,
        entry: L1Entry,
        kind: Insert,
        max_ref: u8,
    ) -> Inserted {
        let node = &mut self.nodes[ix as usize];
        node.entry = entry;
        if kind == Insert::Write {
            node.freq = (node.freq + 1).min(max_ref);
        }
        Inserted::Replaced
    }

    /// A read hit on `ix` in a CLOCK-style policy: a guess's first read joins `entry_q` as a
    /// demand load would; any other hit counts a reference (saturating at `max_ref`).
    pub(super) fn clock_hit(&mut self, ix: u32, entry_q: u8, max_ref: u8) -> L1Entry {
        if self.nodes[ix as usize].queue == SPECULATIVE {
            self.guess_taken(ix, entry_q);
            return self.nodes[ix as usize].entry;
        }
        let node = &mut self.nodes[ix as usize];
        node.freq = (node.freq + 1).min(max_ref);
        node.entry
    }

    /// A put of a pair already present in a CLOCK-style policy: a guess overwritten before
    /// it was read goes to `entry_q` without counting as a guess that paid; then
    /// [`replace`](Self::replace).
    pub(super) fn clock_replace(
        &mut self,
        ix: u32,
        entry: L1Entry,
        kind: Insert,
        entry_q: u8,
        max_ref: u8,
    ) -> Inserted {
        if kind == Insert::Write && self.nodes[ix as usize].queue == SPECULATIVE {
            self.move_back(ix, entry_q);
        }
        self.replace(ix, entry, kind, max_ref)
    }

    /// The admission of a warmed entry, shared by the hand-written policies. A warm is a
    /// guess: it enters the back of the [`SPECULATIVE`] FIFO and, when L1 is full, takes
    /// the slot of (in this order) the policy's next victim if that expired (stored before
    /// `stale_before_ms`), the oldest unread guess once the gate's limit is held, and —
    /// only while the speculation gate is open (guesses out-earn the marginal slot,
    /// [`Speculation`]) — `displaceable`: the policy's cheapest *probationary* entry,
    /// never a protected one. With nothing to take, the warm is skipped (and remembered by the
    /// gate). So a wrong guess only displaces another guess or a probation candidate, and
    /// guesses that do not pay take no live entry's slot.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn admit_guess(
        &mut self,
        id: PairId,
        entry: L1Entry,
        capacity: usize,
        (next, displaceable): (Option<u32>, Option<u32>),
        stale_before_ms: u64,
        evicted: &mut Evictions,
    ) -> Inserted {
        if self.len() >= capacity {
            let limit = self.speculation.limit();
            let guesses = self.queue_len(SPECULATIVE);
            let take = match next {
                Some(v) if self.node(v).entry.stored_ms < stale_before_ms => Some(v),
                // A guess for a guess displaces nothing real.
                _ if guesses > 0 && guesses >= limit => self.front(SPECULATIVE),
                _ if limit > 0 => displaceable,
                _ => None,
            };
            match take {
                Some(v) => {
                    self.evict(v, evicted);
                }
                None => {
                    self.speculation.turned_away(id);
                    return Inserted::Skipped;
                }
            }
        }
        self.insert_back(id, entry, SPECULATIVE, 0);
        Inserted::Added
    }

    /// Whether a warm of `id` could land now, *without a TTL* (no entry is ever expired):
    /// `id` is held (its value is renewed in place), its slot holds an older pair's entry
    /// (dropped on insert), or [`Arena::admit_guess`] finds a free slot, an unread
    /// guess's, or, while the gate is open, the policy's displaceable entry. The warmer
    /// asks before it fetches: a guess that cannot land costs an L2 round trip for nothing.
    /// (It may say yes where `admit_guess` then refuses, e.g. nothing displaceable: one
    /// fetch, as before.)
    ///
    /// A refusal here teaches the gate only through a read after `lands_at_us`, when the
    /// warm would have landed ([`Speculation::missed`]): the check runs one L2
    /// round trip before the value could land, and the detector often reads the pool
    /// within microseconds of the update that planned it. Counted at once, such reads
    /// opened the gate for guesses that landed too late (round 13); not counted at all,
    /// a shut gate over a full L1 stayed shut for good (round 14; docs/simulation.md,
    /// round 16).
    pub(super) fn guess_has_room(&mut self, id: PairId, capacity: usize, lands_at_us: u64) -> bool {
        let room = self.len() < capacity
            || self.queue_len(SPECULATIVE) > 0
            || self.speculation.limit() > 0
            || self.find(id).is_some()
            || self.stale_of(id).is_some();
        if room {
            self.speculation.fetched(id);
        } else {
            self.speculation.refused_before_fetch(id, lands_at_us);
        }
        room
    }

    /// [`Arena::admit_guess`] for the CLOCK-style policies (S3-FIFO, quick_cache's): the
    /// next victim is the front of `probation` (else of `main`), and a guess may displace
    /// it only if it was never referenced (it would leave next anyway).
    pub(super) fn admit_guess_clock(
        &mut self,
        (id, entry): (PairId, L1Entry),
        capacity: usize,
        (probation, main): (u8, u8),
        stale_before_ms: u64,
        evicted: &mut Evictions,
    ) -> Inserted {
        let next = self.front(probation).or_else(|| self.front(main));
        let unreferenced = self.front(probation).filter(|&ix| self.node(ix).freq == 0);
        self.admit_guess(
            id,
            entry,
            capacity,
            (next, unreferenced),
            stale_before_ms,
            evicted,
        )
    }
}

//! Property tests of the cache and the interner against simple models.

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, Ordering};

use pairwarm::cache::{HierarchicalCache, L1Policy, MemoryL2, Price};
use pairwarm::pair::{Address, PairId, PairInterner, PairKey};
use proptest::prelude::*;

/// Counts live heap bytes so the flood test can check memory, not just lengths.
struct CountingAlloc;
static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn address(n: u32) -> Address {
    let mut b = [0u8; 20];
    b[..4].copy_from_slice(&n.to_be_bytes());
    b[19] = 0xaa;
    Address::from_bytes(b)
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Set(u32, u32),
    Get(u32),
    Promote(u32, u32),
    Delete(u32),
}

fn op(pairs: u32) -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..pairs, any::<u32>()).prop_map(|(p, v)| Op::Set(p, v)),
        5 => (0..pairs).prop_map(Op::Get),
        1 => (0..pairs, any::<u32>()).prop_map(|(p, v)| Op::Promote(p, v)),
        1 => (0..pairs).prop_map(Op::Delete),
    ]
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Policy(L1Policy),
    Matrix,
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        Just(Kind::Policy(L1Policy::Default)),
        (0..L1Policy::ALL.len()).prop_map(|i| Kind::Policy(L1Policy::ALL[i])),
        Just(Kind::Matrix),
    ]
}

fn build(kind: Kind, l1: usize) -> HierarchicalCache<MemoryL2> {
    let builder = HierarchicalCache::builder().l1_entries(l1);
    match kind {
        Kind::Policy(p) => builder.l1_policy(p),
        // The matrix has one slot per interner slot, so the interner is sized to the bound.
        Kind::Matrix => builder.use_price_matrix(true),
    }
    .build_in_memory()
}

fn price(v: u32) -> Price {
    Price::new(f64::from(v), u64::from(v), 0)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// L1 stays within its bound, `get` after `set` returns the newest value set (from L1
    /// or L2; an older write never replaces a newer one), and deleted pairs read as
    /// absent — for every L1 kind.
    #[test]
    fn cache_matches_model(kind in kind(), l1 in 1usize..40, ops in prop::collection::vec(op(60), 1..400)) {
        let rt = runtime();
        let cache = build(kind, l1);
        let chain = cache.interner().chain_id("ethereum").unwrap();
        // Intern at every use, as a detector does with each incoming address: with a small
        // interner (price-matrix mode) ids of cold pairs are recycled, never reused.
        let id = |n: u32| cache.interner().intern(PairKey { chain, address: address(n) });
        let bound = cache.l1_capacity();
        let mut model: HashMap<u32, u32> = HashMap::new();
        rt.block_on(async {
            for op in ops {
                match op {
                    Op::Set(p, v) => {
                        cache.set(id(p), price(v)).await.unwrap();
                        // Newer wins: `price(v)` has block `v`, so an older one is refused.
                        if model.get(&p).is_none_or(|&held| v >= held) {
                            model.insert(p, v);
                        }
                    }
                    Op::Get(p) => {
                        let got = cache.get(id(p)).await.unwrap();
                        prop_assert_eq!(got, model.get(&p).map(|&v| price(v)));
                    }
                    Op::Promote(p, v) => {
                        // Promotion only fills L1 (L2 stays the source of truth).
                        if !model.contains_key(&p) {
                            cache.promote(id(p), price(v));
                            cache.invalidate_l1(id(p));
                        }
                    }
                    Op::Delete(p) => {
                        cache.delete(id(p)).await.unwrap();
                        model.remove(&p);
                    }
                }
                prop_assert!(cache.l1_len() <= bound, "L1 holds {} > bound {}", cache.l1_len(), bound);
            }
            let stats = cache.stats();
            prop_assert!(stats.l1.size <= stats.l1.capacity);
            Ok(())
        })?;
    }

    /// An L2 hit is promoted: the very next read of the same pair is an L1 hit.
    #[test]
    fn l2_hit_is_promoted(kind in kind(), n in 2u32..50, target in 0u32..50) {
        let target = target % n;
        let rt = runtime();
        // L1 of one entry: writing n pairs pushes the target out of L1 (except in the
        // matrix, whose bound is the interner size; there we invalidate explicitly).
        let cache = build(kind, 1);
        let chain = cache.interner().chain_id("bsc").unwrap();
        rt.block_on(async {
            for i in 0..n {
                let id = cache.interner().intern(PairKey { chain, address: address(i) });
                cache.set(id, price(i)).await.unwrap();
            }
            let id = cache.interner().intern(PairKey { chain, address: address(target) });
            cache.invalidate_l1(id);
            let before = cache.stats();
            prop_assert_eq!(cache.get(id).await.unwrap(), Some(price(target)));
            let mid = cache.stats();
            prop_assert_eq!(mid.l1.misses, before.l1.misses + 1);
            prop_assert_eq!(mid.l2.hits, before.l2.hits + 1);
            prop_assert_eq!(cache.get(id).await.unwrap(), Some(price(target)));
            let after = cache.stats();
            prop_assert_eq!(after.l1.hits, mid.l1.hits + 1);
            prop_assert_eq!(after.l2.hits, mid.l2.hits);
            Ok(())
        })?;
    }

    /// Interned ids resolve back to their key; the interner never exceeds its capacity;
    /// an id that still resolves always resolves to the key it was made for.
    #[test]
    fn interner_round_trips_and_stays_bounded(cap in 16usize..200, keys in prop::collection::vec(0u32..2000, 1..3000)) {
        let interner = PairInterner::new(cap);
        let chain = interner.chain_id("arbitrum").unwrap();
        let mut issued: Vec<(PairId, u32)> = Vec::new();
        for k in keys {
            let key = PairKey { chain, address: address(k) };
            let id = interner.intern(key);
            prop_assert_eq!(interner.resolve(id), Some(key));
            prop_assert_eq!(interner.lookup(&key), Some(id));
            issued.push((id, k));
            prop_assert!(interner.len() <= interner.capacity());
        }
        for (id, k) in issued {
            if let Some(key) = interner.resolve(id) {
                prop_assert_eq!(key.address, address(k));
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// `n` distinct pairs into an interner of capacity `c` keep `min(n, c)`: below
    /// capacity no id is recycled (every id issued still resolves); beyond it each new pair
    /// recycles exactly one slot.
    #[test]
    fn n_distinct_pairs_into_capacity_c_keep_min_n_c(
        cap in 1usize..1_500,
        extra in 0usize..300,
        fewer in any::<bool>(),
    ) {
        let interner = PairInterner::new(cap);
        prop_assert_eq!(interner.capacity(), cap);
        let chain = interner.chain_id("ethereum").unwrap();
        let key = |n: usize| PairKey { chain, address: address(n as u32) };
        let n = if fewer { cap.saturating_sub(extra) } else { cap + extra };
        let ids: Vec<PairId> = (0..n.min(cap)).map(|i| interner.intern(key(i))).collect();
        prop_assert_eq!(interner.len(), n.min(cap));
        for (i, &id) in ids.iter().enumerate() {
            prop_assert_eq!(interner.resolve(id), Some(key(i)), "id of pair {} recycled below capacity", i);
        }
        for i in n.min(cap)..n {
            interner.intern(key(i));
        }
        prop_assert_eq!(interner.len(), n.min(cap));
    }
}

/// A price-matrix L1 of 1,024 entries holds 1,024 distinct pools, and every id issued for
/// them keeps working (the review found 986 kept, and `UnknownPair` for recycled ids).
#[test]
fn a_price_matrix_of_1024_holds_1024_pools() {
    let rt = runtime();
    let cache = HierarchicalCache::builder()
        .l1_entries(1024)
        .use_price_matrix(true)
        .build_in_memory();
    let chain = cache.interner().chain_id("ethereum").unwrap();
    rt.block_on(async {
        let ids: Vec<PairId> = (0..1024u32)
            .map(|n| {
                cache.interner().intern(PairKey {
                    chain,
                    address: address(n),
                })
            })
            .collect();
        for (n, &id) in ids.iter().enumerate() {
            cache.set(id, price(n as u32)).await.unwrap();
        }
        assert_eq!(cache.l1_len(), 1024);
        for (n, &id) in ids.iter().enumerate() {
            assert_eq!(
                cache.get(id).await.unwrap(),
                Some(price(n as u32)),
                "pool {n}"
            );
        }
        assert_eq!(cache.stats().l1.hits, 1024);
    });
}

/// A flood of distinct addresses: once the interner and L1 are full, live heap memory
/// stops growing (other tests run in parallel threads, so allow a little noise).
#[test]
fn flood_of_distinct_addresses_stays_bounded() {
    let interner = Arc::new(PairInterner::new(4096));
    let cache = HierarchicalCache::builder()
        .l1_entries(1024)
        .l2_enabled(false)
        .interner(interner.clone())
        .build_in_memory();
    let chain = interner.chain_id("polygon").unwrap();
    let flood = |from: u32, to: u32| {
        for n in from..to {
            let id = interner.intern(PairKey {
                chain,
                address: address(n),
            });
            cache.set_l1(id, price(n));
        }
    };
    flood(0, 200_000);
    let full = LIVE_BYTES.load(Ordering::Relaxed);
    flood(200_000, 2_200_000);
    let after = LIVE_BYTES.load(Ordering::Relaxed);
    assert_eq!(interner.len(), interner.capacity());
    assert!(cache.l1_len() <= 1024);
    let growth = after - full;
    assert!(
        growth < 256 * 1024,
        "heap grew by {growth} bytes over 2,000,000 new addresses"
    );
}

/// A slow L2 read that started before a write must not put its older price into L1.
#[test]
fn slow_l2_fetch_never_overwrites_a_newer_write() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let l2 = MemoryL2::new().with_latency(std::time::Duration::from_millis(100));
        let cache = Arc::new(HierarchicalCache::builder().l1_entries(16).build(l2));
        let id = cache
            .interner()
            .intern_str("base", "0x00000000000000000000000000000000000000aa")
            .unwrap();
        cache.set(id, price(1)).await.unwrap();
        cache.invalidate_l1(id);
        let reader = {
            let cache = cache.clone();
            tokio::spawn(async move { cache.get(id).await.unwrap() })
        };
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
        // The write lands in L1 at once; its L2 write takes the injected 100 ms.
        let writer = {
            let cache = cache.clone();
            tokio::spawn(async move { cache.set(id, price(2)).await.unwrap() })
        };
        // The reader got the old value from L2 (correct for its read) ...
        assert_eq!(reader.await.unwrap(), Some(price(1)));
        writer.await.unwrap();
        // ... but L1 keeps the newer price.
        assert_eq!(cache.peek_l1(id), Some(price(2)));
        // And a warm whose fetch was in flight during a write does not promote.
        cache.invalidate_l1(id);
        let warm = {
            let cache = cache.clone();
            tokio::spawn(async move { cache.fetch_for_warm(&[id]).await.unwrap() })
        };
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
        cache.set_l1(id, price(3));
        let fetch = warm.await.unwrap();
        assert_eq!((fetch.promoted, fetch.superseded), (0, 1), "{fetch:?}");
        assert_eq!(cache.peek_l1(id), Some(price(3)));
    });
}

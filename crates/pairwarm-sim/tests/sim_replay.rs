//! The simulator against hand-computed traces, an independent LRU, and its own baselines.

use std::collections::VecDeque;

use pairwarm::cache::L1Policy;
use pairwarm::pair::Address;
use pairwarm_sim::trace::{GeneratorConfig, Op, Trace, TraceEvent, TracePair, generate};
use pairwarm_sim::{Learn, ResultRow, RunKind, RunSpec, SimConfig, SimReport, simulate};
use proptest::prelude::*;

fn pair(n: u32) -> TracePair {
    let mut b = [0u8; 20];
    b[..4].copy_from_slice(&n.to_be_bytes());
    TracePair {
        chain: "ethereum".into(),
        address: Address::from_bytes(b),
    }
}

fn trace(pairs: u32, events: &[(u64, Op, u32)]) -> Trace {
    Trace {
        pairs: (0..pairs).map(pair).collect(),
        events: events
            .iter()
            .map(|&(ts_us, op, pair)| TraceEvent { ts_us, op, pair })
            .collect(),
        skipped_rows: 0,
    }
}

fn run(trace: &Trace, config: SimConfig, names: &[&str]) -> SimReport {
    let config = SimConfig {
        runs: names
            .iter()
            .map(|n| RunSpec::parse(n, None).unwrap())
            .collect(),
        threads: 1,
        ..config
    };
    simulate(trace, &config, &|_| {}).unwrap()
}

fn row<'a>(report: &'a SimReport, name: &str, l1: usize) -> &'a ResultRow {
    report
        .results
        .iter()
        .find(|r| r.strategy == name && r.l1 == l1)
        .unwrap()
}

/// A textbook LRU of `cap` entries: updates write through (insert or refresh to the front),
/// reads hit or load on a miss. Returns (hits, reads).
fn reference_lru(trace: &Trace, cap: usize) -> (u64, u64) {
    let mut order: VecDeque<u32> = VecDeque::new();
    let touch = |order: &mut VecDeque<u32>, p: u32| {
        if let Some(i) = order.iter().position(|&q| q == p) {
            order.remove(i);
        } else if order.len() == cap {
            order.pop_back();
        }
        order.push_front(p);
    };
    let (mut hits, mut reads) = (0, 0);
    for e in &trace.events {
        if e.op == Op::Read {
            reads += 1;
            if order.contains(&e.pair) {
                hits += 1;
            }
        }
        touch(&mut order, e.pair);
    }
    (hits, reads)
}

fn arbitrary_trace() -> impl Strategy<Value = Trace> {
    (
        2u32..40,
        prop::collection::vec((0u64..3000, any::<bool>(), 0u32..40), 1..400),
    )
        .prop_map(|(pairs, raw)| {
            let mut ts = 0;
            let events: Vec<(u64, Op, u32)> = raw
                .into_iter()
                .map(|(dt, read, p)| {
                    ts += dt;
                    (ts, if read { Op::Read } else { Op::Update }, p % pairs)
                })
                .collect();
            trace(pairs, &events)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// `none` with the original's policy is exactly a plain LRU.
    #[test]
    fn none_with_lru_policy_equals_reference_lru(t in arbitrary_trace(), l1 in 1usize..12) {
        let report = run(&t, SimConfig { l1_sizes: vec![l1], l1_policy: L1Policy::Lru, ..SimConfig::default() }, &["none"]);
        let r = row(&report, "none", l1);
        let (hits, reads) = reference_lru(&t, l1);
        let expected = if reads == 0 { 0.0 } else { hits as f64 / reads as f64 };
        prop_assert!((r.hit_rate - expected).abs() < 1e-12, "sim {} vs reference {}", r.hit_rate, expected);
        prop_assert_eq!(r.l2_round_trips, reads - hits);
    }

    /// Belady's offline optimum is never below LRU, and nothing exceeds 100%.
    #[test]
    fn belady_bounds_lru(t in arbitrary_trace(), l1 in 1usize..12) {
        let report = run(&t, SimConfig { l1_sizes: vec![l1], l1_policy: L1Policy::Lru, ..SimConfig::default() }, &["none", "belady"]);
        let none = row(&report, "none", l1).hit_rate;
        let belady = row(&report, "belady", l1).hit_rate;
        prop_assert!(belady + 1e-12 >= none, "belady {belady} < lru {none}");
        prop_assert!(belady <= 1.0);
    }

    /// Perfect LFU is one offline policy among those Belady's optimum (with bypass) beats.
    #[test]
    fn belady_bounds_perfect_lfu(t in arbitrary_trace(), l1 in 1usize..12) {
        let report = run(&t, SimConfig { l1_sizes: vec![l1], ..SimConfig::default() }, &["belady", "perfect-lfu"]);
        let belady = row(&report, "belady", l1);
        let lfu = row(&report, "perfect-lfu", l1);
        prop_assert!(belady.hit_rate + 1e-12 >= lfu.hit_rate, "belady {} < perfect-lfu {}", belady.hit_rate, lfu.hit_rate);
        prop_assert!(belady.l2_round_trips <= lfu.l2_round_trips);
    }
}

/// Hand-computed: perfect LFU holds the pools read most (here, with one entry, pool 0),
/// never admits another, and misses each held pool's first access only if it is a read.
#[test]
fn perfect_lfu_holds_the_pools_read_most() {
    let t = trace(
        3,
        &[
            (0, Op::Read, 1),   // miss: 1 is not among the top 1
            (1, Op::Read, 0),   // miss: 0's first access
            (2, Op::Read, 0),   // hit
            (3, Op::Read, 2),   // miss
            (4, Op::Update, 2), // 2 is written, not held
            (5, Op::Read, 2),   // miss
            (6, Op::Read, 1),   // miss
            (7, Op::Read, 0),   // hit
            (8, Op::Update, 1), // 1: 2 reads, 0: 3 reads; only 0 is held
        ],
    );
    let report = run(
        &t,
        SimConfig {
            l1_sizes: vec![1, 2],
            ..SimConfig::default()
        },
        &["perfect-lfu"],
    );
    let one = row(&report, "perfect-lfu", 1);
    assert_eq!(one.l2_round_trips, 5);
    assert!((one.hit_rate - 2.0 / 7.0).abs() < 1e-12, "{}", one.hit_rate);
    // With two entries pool 1 is held as well: its second read hits.
    let two = row(&report, "perfect-lfu", 2);
    assert_eq!(two.l2_round_trips, 4);
    // L2 round trips of `perfect-lfu` with one entry.
    let trips_at_one = |t: &Trace| {
        let config = SimConfig {
            l1_sizes: vec![1],
            ..SimConfig::default()
        };
        row(&run(t, config, &["perfect-lfu"]), "perfect-lfu", 1).l2_round_trips
    };
    // An update before the first read makes that read a hit.
    let t = trace(1, &[(0, Op::Update, 0), (1, Op::Read, 0), (2, Op::Read, 0)]);
    assert_eq!(trips_at_one(&t), 0);
    // Ties go to the pool seen first: pools 1 and 2 are read twice each; holding 1 (seen
    // first) gives 3 round trips, holding 2 (written before its reads) would give 2.
    let t = trace(
        3,
        &[
            (0, Op::Read, 1),
            (1, Op::Update, 2),
            (2, Op::Read, 1),
            (3, Op::Read, 2),
            (4, Op::Read, 2),
        ],
    );
    assert_eq!(trips_at_one(&t), 3);
    // It models eviction only.
    assert!(RunSpec::parse("perfect-lfu+refresh", None).is_err());
}

/// Hand-computed: the oracle's warm lands after the latency; a read before that is late,
/// a read after it is a hit. L1 TTL makes earlier writes expire so `none` misses.
#[test]
fn oracle_warm_lands_after_latency() {
    // Pairs: 0 = updated pool, 1 = read pool. TTL 1 ms: the initial write of 1 expires.
    let t = trace(
        2,
        &[
            (0, Op::Update, 1),      // 1 written at t=0, expires at 1 ms
            (10_000, Op::Update, 0), // oracle warms 1 (read at 10_400 >= 10_250)
            (10_100, Op::Read, 0),   // 0 was just written: hit everywhere
            (10_400, Op::Read, 1),   // warm landed at 10_250: hit for the oracle, miss for none
            (20_000, Op::Update, 0), // warms nothing useful: next read of 1 is at 20_100 < 20_250
            (20_100, Op::Read, 1),   // expired for everyone, the oracle did not pick it
        ],
    );
    let config = SimConfig {
        l1_sizes: vec![8],
        l1_ttl_ms: Some(1),
        oracle_k: 1,
        ..SimConfig::default()
    };
    let report = run(&t, config, &["none", "oracle"]);
    let none = row(&report, "none", 8);
    let oracle = row(&report, "oracle", 8);
    assert_eq!(none.hit_rate, 1.0 / 3.0);
    assert_eq!(oracle.hit_rate, 2.0 / 3.0);
    assert_eq!(oracle.warms, 1);
    assert_eq!(oracle.accuracy, 1.0, "{oracle:?}");
    assert_eq!(oracle.coverage, 0.5);
    assert_eq!(oracle.late, 0);
    assert_eq!(oracle.oracle_gain_captured, Some(1.0));
    assert!((oracle.gain - 1.0 / 3.0).abs() < 1e-12);
    // l2 round trips: none loads 1 twice; the oracle loads once and warms once.
    assert_eq!(none.l2_round_trips, 2);
    assert_eq!(oracle.l2_round_trips, 2);
}

/// Training for a strategy: 0 and 1 update together 6 times, 10 s apart (outside the 1 s
/// window of each other), so the tracker learns 1 after 0.
fn co_updates() -> Vec<(u64, Op, u32)> {
    (0..6u64)
        .flat_map(|k| {
            [
                (k * 10_000_000, Op::Update, 0),
                (k * 10_000_000 + 1_000, Op::Update, 1),
            ]
        })
        .collect()
}

/// Hand-computed: a real strategy, trained by repeated co-updates, warms its partner; a read
/// before the warm lands is a late miss, one after it is a hit.
#[test]
fn strategy_warm_is_late_then_useful() {
    let mut events = co_updates();
    let t0 = 100_000_000;
    events.extend([
        (t0, Op::Update, 0),              // warm of 1 issued, lands at t0 + 250
        (t0 + 100, Op::Read, 1),          // before landing: late miss (1 expired long ago)
        (t0 + 20_000_000, Op::Update, 0), // warm of 1 again, lands 250 µs later
        (t0 + 20_000_400, Op::Read, 1),   // after landing: hit
    ]);
    let t = trace(2, &events);
    let config = SimConfig {
        l1_sizes: vec![8],
        l1_ttl_ms: Some(5),
        ..SimConfig::default()
    };
    let report = run(&t, config, &["none", "topn"]);
    let none = row(&report, "none", 8);
    let topn = row(&report, "topn", 8);
    assert_eq!(none.hit_rate, 0.0);
    assert_eq!(topn.late, 1, "{topn:?}");
    assert_eq!(topn.hit_rate, 0.5, "{topn:?}");
    assert!(topn.warms >= 2);
}

fn generated(events: usize, seed: u64) -> Trace {
    generate(
        &GeneratorConfig {
            seed,
            ..GeneratorConfig::default()
        },
        events,
    )
    .unwrap()
    .0
}

/// On realistic traces the oracle never scores below `none`, and every rate is a fraction.
#[test]
fn oracle_at_least_none_and_rates_are_fractions() {
    for seed in [1, 2] {
        let t = generated(20_000, seed);
        let report = run(
            &t,
            SimConfig {
                l1_sizes: vec![32, 256],
                ..SimConfig::default()
            },
            &["none", "topn", "topn:reads", "adaptive", "oracle", "belady"],
        );
        for l1 in [32, 256] {
            let none = row(&report, "none", l1).hit_rate;
            assert!(
                row(&report, "oracle", l1).hit_rate >= none,
                "seed {seed} l1 {l1}"
            );
        }
        for r in &report.results {
            for v in [r.hit_rate, r.accuracy, r.coverage] {
                assert!((0.0..=1.0).contains(&v), "{r:?}");
            }
        }
    }
}

/// Same input, same output (wall time aside).
#[test]
fn deterministic() {
    let t = generated(15_000, 7);
    let config = SimConfig {
        l1_sizes: vec![64],
        ..SimConfig::default()
    };
    let names = [
        "none",
        "topn",
        "threshold",
        "adaptive",
        "timebased",
        "topn:reads",
        "oracle",
        "belady",
    ];
    let mut a = run(&t, config.clone(), &names);
    let mut b = run(
        &t,
        SimConfig {
            threads: 2,
            ..config
        },
        &names,
    );
    for r in a.results.iter_mut().chain(b.results.iter_mut()) {
        r.wall_ms = 0.0;
    }
    assert_eq!(a.results, b.results);
    let json_a = serde_json::to_string(&a).unwrap();
    let json_b = serde_json::to_string(&b).unwrap();
    assert_eq!(json_a, json_b);
    assert!(
        json_a.starts_with(r#"{"trace":{"events":15000,"#),
        "{json_a}"
    );
}

#[test]
fn bad_names_are_rejected_naming_them() {
    let err = RunSpec::parse("lfu", None).unwrap_err().to_string();
    assert!(err.contains("lfu"), "{err}");
    let err = RunSpec::parse("topn:writes", None).unwrap_err().to_string();
    assert!(err.contains("writes"), "{err}");
}

/// The default L1 policy, as tuned (`HOT_ALLOCATION`), beats the original's strict LRU on
/// a realistic trace at a realistic L1 size, with no warming at all.
#[test]
fn default_policy_beats_lru_without_warming() {
    let t = generated(120_000, 42);
    let run_policy = |policy| {
        let report = run(
            &t,
            SimConfig {
                l1_sizes: vec![128],
                l1_policy: policy,
                ..SimConfig::default()
            },
            &["none"],
        );
        row(&report, "none", 128).hit_rate
    };
    let (default, lru) = (run_policy(L1Policy::Default), run_policy(L1Policy::Lru));
    assert!(
        default > lru + 0.02,
        "default policy {default:.4} vs LRU {lru:.4}"
    );
}

/// Refresh-ahead, counted honestly: a pair written once and read every 900 ms with an L1 TTL
/// of 1 s misses every other read without refresh; with refresh every read after the first
/// load hits, and each refresh batch is one L2 round trip that lands after the latency.
#[test]
fn refresh_ahead_keeps_a_read_entry_fresh_and_counts_its_round_trips() {
    let mut events = vec![(0u64, Op::Update, 0u32)];
    for k in 1..=20u64 {
        events.push((k * 900_000, Op::Read, 0));
    }
    let t = trace(1, &events);
    let config = SimConfig {
        l1_sizes: vec![8],
        l1_ttl_ms: Some(1_000),
        ..SimConfig::default()
    };
    let report = run(&t, config, &["none", "refresh"]);
    let none = row(&report, "none", 8);
    let refresh = row(&report, "refresh", 8);
    // none: the write lives 1 s (read at 0.9 s hits), then every read lands 900 ms after
    // the previous load or 1.8 s after it: hits alternate.
    assert_eq!(none.hit_rate, 10.0 / 20.0);
    assert_eq!(none.refreshes, 0);
    // refresh: the first read hits (written at 0), and the entry never expires again.
    assert_eq!(refresh.hit_rate, 1.0);
    assert!(refresh.refreshes >= 17, "{}", refresh.refreshes);
    assert_eq!(refresh.refreshed_pairs, refresh.refreshes);
    assert_eq!(refresh.l2_round_trips, refresh.refreshes);
    // A refresh that cannot land before the expiry does not help: with an L2 latency
    // longer than the lead the tick leaves, entries expire in flight.
    let slow = SimConfig {
        l1_sizes: vec![8],
        l1_ttl_ms: Some(1_000),
        l2_latency_us: 2_000_000,
        ..SimConfig::default()
    };
    let report = run(&t, slow, &["none", "refresh"]);
    assert!(row(&report, "refresh", 8).hit_rate < 1.0);
}

/// Refresh-ahead across a quiet gap: a pool read once per 12 s "block" under a 3 s TTL,
/// with no other event in between. The refreshes must land in time order between the ticks
/// of the gap (as `serve`'s timer has them), so each one renews the entry before the next
/// tick and the chain reaches the next block; landed only at the next event, the chain
/// broke after one refresh and every block's read missed.
#[test]
fn refresh_chains_cross_a_gap_longer_than_the_ttl() {
    let mut events = vec![(0u64, Op::Update, 0u32), (50, Op::Read, 0)];
    for block in 1..=5u64 {
        events.push((block * 12_000_000, Op::Read, 0));
    }
    let t = trace(1, &events);
    let config = SimConfig {
        l1_sizes: vec![8],
        l1_ttl_ms: Some(3_000),
        ..SimConfig::default()
    };
    let report = run(&t, config, &["none", "refresh"]);
    // none: only the read right after the write hits.
    assert_eq!(row(&report, "none", 8).hit_rate, 1.0 / 6.0);
    // refresh: every read hits (the idle horizon, 10 TTLs = 30 s, covers a 12 s gap), at
    // about one refresh per TTL: 60 s / ~2.65 s.
    let refresh = row(&report, "refresh", 8);
    assert_eq!(refresh.hit_rate, 1.0);
    assert!(
        (20..=26).contains(&refresh.refreshes),
        "{} refreshes",
        refresh.refreshes
    );
}

/// Warm start: after a simulated restart the warm-started run preloads the hottest pairs
/// (one round trip) and hits where the cold one misses.
#[test]
fn warm_start_preloads_the_hottest_pairs_after_a_restart() {
    // Pairs 0..4 are updated every 100 ms for 10 s, then only pair 0; all are read every
    // 100 ms; restart at 10 s.
    let mut events = Vec::new();
    for k in 0..200u64 {
        for p in 0..4u32 {
            if k < 100 || p == 0 {
                events.push((k * 100_000 + u64::from(p), Op::Update, p));
            }
        }
        for p in 0..4u32 {
            events.push((k * 100_000 + 50_000 + u64::from(p), Op::Read, (p + 1) % 4));
        }
    }
    let t = trace(4, &events);
    let config = SimConfig {
        l1_sizes: vec![16],
        cold_start_s: Some(10.0),
        cold_window_s: 0.06,
        ..SimConfig::default()
    };
    let report = run(&t, config, &["none", "warmstart"]);
    let cold = row(&report, "none", 16).cold_start_hit_rate.unwrap();
    let warm = row(&report, "warmstart", 16).cold_start_hit_rate.unwrap();
    // The restart happens at the update of pair 0 at 10.0 s: the reads at 10.05 s of pairs
    // 1, 2, 3 miss cold (pair 0 was just written); the preload landed at 10.00025 s.
    assert_eq!(cold, 1.0 / 4.0);
    assert_eq!(warm, 1.0);
}

/// A restart resumes the L1 policy's learned window by default (as `serve` does from its
/// saved image) and starts at LRU with `cold_start_resumes_policy: false`. The reads: a hot
/// set of 56 pools replaced every 3,000 reads among 30% of reads to pools never read again,
/// where the tuner leaves LRU for a recency-filter window; restart after 30,000 reads.
#[test]
fn a_restart_resumes_the_learned_window_unless_told_not_to() {
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let events: Vec<(u64, Op, u32)> = (0..36_000u32)
        .map(|n| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let pool = if rng % 10 < 3 {
                1_000 + n
            } else {
                (n / 3_000) * 60 + (rng >> 8) as u32 % 56
            };
            (u64::from(n) * 1_000, Op::Read, pool)
        })
        .collect();
    let t = trace(37_000, &events);
    let cold = |resumes: bool| {
        let config = SimConfig {
            l1_sizes: vec![64],
            cold_start_s: Some(30.0),
            cold_window_s: 4.0,
            cold_start_resumes_policy: resumes,
            ..SimConfig::default()
        };
        row(&run(&t, config, &["none"]), "none", 64)
            .cold_start_hit_rate
            .unwrap()
    };
    // Measured: 65.35% against 46.35%.
    let (resumed, fresh) = (cold(true), cold(false));
    assert!(
        resumed > fresh + 0.05,
        "hit rate over the 4,000 reads after the restart: resumed {resumed}, fresh {fresh}"
    );
}

/// `--strategy default` is what serve runs: serve's default strategy with refresh-ahead
/// and warm start.
#[test]
fn default_strategy_is_the_production_profile() {
    let spec = RunSpec::parse("default", None).unwrap();
    assert_eq!(spec, RunSpec::production_default());
    assert!(spec.refresh.is_some() && spec.warm_start);
    assert!(RunSpec::parse("belady+refresh", None).is_err());
    assert_eq!(
        RunSpec::parse("topn+refresh", None).unwrap().refresh,
        Some(pairwarm::warmer::RefreshConfig::default())
    );
}

/// Hand-computed: the original-equivalent baseline (`topn` under `lru`) warms into a full
/// LRU as most recent, displacing the least recent entry; the product's admission
/// (`topn+guarded`) turns the same warm away, before fetching it.
#[test]
fn original_warms_displace_guarded_ones_do_not() {
    let mut events = co_updates();
    let t0 = 100_000_000;
    events.extend([
        (t0, Op::Read, 2),        // L1 (2 entries): [2, ...]
        (t0 + 10, Op::Read, 3),   // [3, 2]
        (t0 + 20, Op::Update, 0), // [0, 3]; the warm of 1 lands at t0 + 270:
        //                             original [1, 0] (3 displaced); guarded: turned away
        (t0 + 1_000, Op::Read, 3), // original: miss; none / guarded: hit
        (t0 + 1_010, Op::Read, 1), // original: hit; none / guarded: miss
    ]);
    let t = trace(4, &events);
    let config = SimConfig {
        l1_sizes: vec![2],
        l1_policy: L1Policy::Lru,
        ..SimConfig::default()
    };
    let report = run(&t, config, &["none", "topn", "topn+guarded"]);
    let at = |name: &str| row(&report, name, 2);
    assert_eq!(at("none").hit_rate, 0.25);
    assert_eq!(
        at("topn").hit_rate,
        0.25,
        "the warm's hit cost the displaced entry's"
    );
    assert_eq!(at("topn").accuracy, 1.0, "{:?}", at("topn"));
    assert_eq!(at("topn+guarded").hit_rate, 0.25);
    assert_eq!(at("topn+guarded").accuracy, 0.0, "{:?}", at("topn+guarded"));
    // As in `serve`, a guess the full LRU could not admit is not fetched at all.
    assert_eq!((at("topn").warms, at("topn").l2_round_trips), (1, 4));
    assert_eq!(
        (at("topn+guarded").warms, at("topn+guarded").l2_round_trips),
        (0, at("none").l2_round_trips)
    );
    assert!(RunSpec::parse("none+guarded", None).is_err());
}

/// Hand-computed: `structure` warms the updated pool's siblings from the pairs file (each
/// pool described at its first update, as `serve` learns tokens from the feed); a sibling
/// read after the warm lands is a hit. Without a pairs file it is an error.
#[test]
fn structure_warms_siblings_from_the_pairs_file() {
    use pairwarm_sim::trace::PairInfo;
    let t = trace(
        5,
        &[
            // First updates describe the pools (and put them in L1, expired by 2 ms).
            (0, Op::Update, 1),
            (10, Op::Update, 2),
            (20, Op::Update, 3),
            (30, Op::Update, 4),
            // Hubs: WETH and DAI (3 pools each; USDC 2). Warms 1 (same tokens, other
            // DEX) and the DAI leg 2 (WETH/DAI); lands at 2,250 us.
            (2_000, Op::Update, 0),
            (2_400, Op::Read, 1),
            (2_410, Op::Read, 3), // unrelated and expired: a miss
        ],
    );
    let info = |n: u32, dex: &str, t0: &str, t1: &str| PairInfo {
        pair: pair(n).address,
        chain: "ethereum".into(),
        dex: dex.into(),
        token0: t0.into(),
        token1: t1.into(),
    };
    let pairs = vec![
        info(0, "uniswap-v2", "WETH", "USDC"),
        info(1, "sushiswap", "USDC", "WETH"),
        info(2, "uniswap-v2", "WETH", "DAI"),
        info(3, "uniswap-v2", "PEPE", "DAI"),
        info(4, "uniswap-v2", "DAI", "LINK"),
    ];
    let config = SimConfig {
        l1_sizes: vec![8],
        l1_ttl_ms: Some(1),
        pairs,
        ..SimConfig::default()
    };
    let report = run(&t, config.clone(), &["none", "structure"]);
    assert_eq!(row(&report, "none", 8).hit_rate, 0.0);
    assert_eq!(row(&report, "structure", 8).hit_rate, 0.5);
    let no_pairs = SimConfig {
        runs: vec![RunSpec::parse("structure", None).unwrap()],
        pairs: Vec::new(),
        ..config
    };
    let err = simulate(&t, &no_pairs, &|_| {}).unwrap_err().to_string();
    assert!(err.contains("--pairs"), "{err}");
}

/// `:misses` learns from the reads a warm could have served. Pool 1 is read 2 ms after
/// each update of pool 0, and eight other pools are read more than a second later, so an
/// L1 of four entries has evicted pool 1 by the next round: every such read misses
/// without warming. Learning from those misses warms pool 1 on the updates of pool 0.
#[test]
fn misses_learning_warms_what_missed() {
    let mut events = Vec::new();
    for round in 0..200u64 {
        let t = round * 3_000_000;
        events.push((t, Op::Update, 0));
        events.push((t + 2_000, Op::Read, 1));
        // The tracker learns about pools it has seen update.
        events.push((t + 5_000, Op::Update, 1));
        for (k, filler) in (2..10).enumerate() {
            // Beyond the tracker's 1 s window: not credited to either update.
            events.push((t + 1_500_000 + k as u64 * 100_000, Op::Read, filler));
        }
    }
    let t = trace(10, &events);
    let report = run(
        &t,
        SimConfig {
            l1_sizes: vec![4],
            l1_policy: L1Policy::Lru,
            ..SimConfig::default()
        },
        &["none", "topn:misses", "topn:reads"],
    );
    let reads = 200.0 * 9.0;
    // Without warming nothing hits: each pool is read once per round and four
    // entries hold the last four reads.
    assert_eq!(row(&report, "none", 4).hit_rate, 0.0);
    // Every read after an update: pool 1 is warmed and read in (nearly) every round once
    // learned.
    let hits = |name| row(&report, name, 4).hit_rate * reads;
    assert!(
        (190.0..=200.0).contains(&hits("topn:reads")),
        "{}",
        hits("topn:reads")
    );
    // Misses only: an unguarded warm (the original's admission) enters L1 as a plain
    // entry, so its read is a plain hit (guarded warms are told apart by the hand-written
    // policies, tests/learn_from_misses.rs); once warming works nothing feeds the pair and
    // its score decays until misses teach it again. Still most of pool 1's reads hit.
    assert!(
        (100.0..190.0).contains(&hits("topn:misses")),
        "{}",
        hits("topn:misses")
    );
    // `default` (what serve runs, `WARMING_LEARN_FROM=misses`) learns from misses;
    // `default:updates` is it learning update co-occurrence.
    let learn = |name| match RunSpec::parse(name, None).unwrap().kind {
        RunKind::Strategy { learn, .. } => Some(learn),
        _ => None,
    };
    assert_eq!(learn("default"), Some(Learn::Misses));
    assert_eq!(learn("default:misses"), Some(Learn::Misses));
    assert_eq!(learn("default:updates"), Some(Learn::Updates));
    let err = RunSpec::parse("default:writes", None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("writes"), "{err}");
}

//! The synthetic workload: determinism, ordering and timing structure, pool structure, and
//! the statistics documented in docs/trace-model.md (measured vs the model's exact
//! expectation, with tolerances derived from the sampling error).

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use pairwarm::pair::Address;
use pairwarm_sim::trace::{
    EventKind, ExpectedStats, GeneratedEvent, GeneratorConfig, GeneratorError, Op, PairInfo,
    ReadOptions, SyntheticWorkload, WorkloadStats, WorkloadSummary, generate, parse_trace,
    write_trace_to,
};

const N: usize = 600_000;

struct Run {
    events: Vec<GeneratedEvent>,
    pairs: Vec<PairInfo>,
    read_sets: Vec<Vec<u32>>,
    expected: ExpectedStats,
    summary: WorkloadSummary,
}

fn run(config: GeneratorConfig, n: usize) -> Run {
    let mut w = SyntheticWorkload::new(config).unwrap();
    let expected = w.expected();
    let mut stats = WorkloadStats::new(&w);
    let events: Vec<GeneratedEvent> = w.by_ref().take(n).collect();
    for e in &events {
        stats.observe(e);
    }
    let read_sets = (0..w.pairs().len() as u32)
        .map(|p| w.read_set(p).to_vec())
        .collect();
    Run {
        events,
        pairs: w.pairs().to_vec(),
        read_sets,
        expected,
        summary: stats.summary(),
    }
}

/// The default model, 600,000 events, generated once for all tests of this file.
fn default_run() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| run(GeneratorConfig::default(), N))
}

fn trace_bytes(config: &GeneratorConfig, n: usize) -> Vec<u8> {
    let (trace, _) = generate(config, n).unwrap();
    write_trace_to(Vec::new(), "mem", &trace).unwrap()
}

#[test]
fn same_seed_same_bytes_different_seed_differs() {
    let config = GeneratorConfig::default();
    let a = trace_bytes(&config, 50_000);
    assert_eq!(a, trace_bytes(&config, 50_000));
    let (_, pairs_a) = generate(&config, 10).unwrap();
    let (_, pairs_b) = generate(&config, 10).unwrap();
    assert_eq!(pairs_a, pairs_b);

    let other = GeneratorConfig {
        seed: 43,
        ..GeneratorConfig::default()
    };
    assert_ne!(a, trace_bytes(&other, 50_000));
    let (_, pairs_c) = generate(&other, 10).unwrap();
    assert_ne!(pairs_a, pairs_c);
    // The generated trace is a valid file that reads back identically.
    let (trace, _) = generate(&config, 50_000).unwrap();
    assert_eq!(
        parse_trace(&a[..], "gen", &ReadOptions::default()).unwrap(),
        trace
    );
}

#[test]
fn generate_is_the_prefix_of_the_stream() {
    let config = GeneratorConfig::default();
    let (trace, pairs) = generate(&config, 20_000).unwrap();
    let w = SyntheticWorkload::new(config).unwrap();
    assert_eq!(w.pairs(), &pairs[..]);
    for (e, t) in w.take(20_000).zip(&trace.events) {
        let p = &trace.pairs[t.pair as usize];
        assert_eq!((e.ts_us, e.op), (t.ts_us, t.op));
        assert_eq!(
            (&pairs[e.pair as usize].chain, pairs[e.pair as usize].pair),
            (&p.chain, p.address)
        );
    }
}

#[test]
fn timestamps_never_decrease_and_blocks_are_processed_sequentially() {
    let run = default_run();
    assert!(run.events.windows(2).all(|w| w[0].ts_us <= w[1].ts_us));
    let config = GeneratorConfig::default();
    let (lo, hi) = (
        config.detector_us_per_update - config.detector_jitter_us,
        config.detector_us_per_update + config.detector_jitter_us,
    );
    // Per chain: blocks in order; inside a block, updates 40-60 µs apart; each read follows
    // its update within a few µs and comes from that update's read set (or is an extra read).
    let mut last: HashMap<u16, (u64, u64, u32, u64)> = HashMap::new(); // block, update ts, pool, last ts
    let (mut gaps, mut reads_checked) = (0u64, 0u64);
    for e in &run.events {
        let prev = last.get(&e.chain).copied();
        match e.op {
            Op::Update => {
                if let Some((block, ts, _, last_ts)) = prev {
                    assert!(e.block >= block, "blocks go backwards on chain {}", e.chain);
                    assert!(e.ts_us >= last_ts);
                    if e.block == block {
                        let gap = e.ts_us - ts;
                        assert!((lo..=hi).contains(&gap), "update gap {gap} µs in a block");
                        gaps += 1;
                    }
                }
                last.insert(e.chain, (e.block, e.ts_us, e.pair, e.ts_us));
            }
            Op::Read => {
                let (block, ts, pool, _) = prev.expect("a read before any update");
                assert_eq!(e.block, block);
                let delay = e.ts_us - ts;
                assert!((1..=9).contains(&delay), "read {delay} µs after its update");
                match e.kind {
                    EventKind::Read => {
                        assert!(run.read_sets[pool as usize].contains(&e.pair));
                        reads_checked += 1;
                    }
                    EventKind::ExtraRead => assert_ne!(e.pair, pool),
                    other => panic!("read of kind {other:?}"),
                }
                last.insert(e.chain, (block, ts, pool, e.ts_us));
            }
        }
    }
    assert!(
        gaps > 50_000 && reads_checked > 400_000,
        "{gaps} {reads_checked}"
    );
}

#[test]
fn pools_have_valid_unique_addresses_and_coherent_structure() {
    let run = default_run();
    let config = GeneratorConfig::default();
    let mut seen = HashSet::new();
    for (i, p) in run.pairs.iter().enumerate() {
        assert_eq!(Address::parse(&p.pair.to_string()), Ok(p.pair));
        assert!(seen.insert((p.chain.clone(), p.pair)), "duplicate pool {i}");
        let chain = config.chains.iter().find(|c| c.name == p.chain).unwrap();
        assert!(chain.dexes[..config.dexes_per_chain].contains(&p.dex));
        assert_ne!(p.token0, p.token1);
        let reads = &run.read_sets[i];
        assert!(reads.len() <= config.max_reads_per_update);
        assert!(!reads.contains(&(i as u32)), "pool {i} reads itself");
        for &r in reads {
            let q = &run.pairs[r as usize];
            assert_eq!(q.chain, p.chain, "reads stay on the pool's chain");
            // A read pool shares a token with the updated pool (sibling or triangle leg) or
            // is the hub-hub leg of a triangle.
            let shares = [&q.token0, &q.token1]
                .iter()
                .any(|t| **t == p.token0 || **t == p.token1);
            assert!(
                shares || chain.hubs.contains(&q.token0),
                "{p:?} reads {q:?}"
            );
        }
    }
    // Hub pairs are listed on every DEX: WETH/USDC on ethereum has 4 pools.
    let weth_usdc = run
        .pairs
        .iter()
        .filter(|p| p.chain == "ethereum" && p.token0 == "WETH" && p.token1 == "USDC")
        .count();
    assert_eq!(weth_usdc, config.dexes_per_chain);
    // Structure exists to learn: most updates have a non-empty read set.
    let with_reads = run.read_sets.iter().filter(|r| !r.is_empty()).count();
    assert!(with_reads * 10 > run.pairs.len() * 7, "{with_reads}");
}

/// Documented numbers (docs/trace-model.md) are the model's exact expectations for the
/// defaults; pin them so the document and the code cannot drift apart.
#[test]
fn documented_defaults_match_the_model() {
    let e = &default_run().expected;
    let documented = [
        ("ethereum", 52.96),
        ("bsc", 26.32),
        ("arbitrum", 3.97),
        ("polygon", 10.51),
        ("base", 15.80),
        ("optimism", 5.31),
    ];
    for ((name, upb), c) in documented.iter().zip(&e.chains) {
        assert_eq!(*name, c.name);
        assert!(
            (c.updates_per_block - upb).abs() < 0.01 * upb,
            "{name}: model {} vs documented {upb}",
            c.updates_per_block
        );
        assert!((0.30..=0.34).contains(&c.cascade_updates_per_swap), "{c:?}");
    }
    assert!(
        (e.reads_per_update - 5.02).abs() < 0.05,
        "{}",
        e.reads_per_update
    );
    assert!(
        (e.top_decile_update_share - 0.582).abs() < 0.01,
        "{}",
        e.top_decile_update_share
    );
    assert!((e.events_per_s - 270.1).abs() < 3.0, "{}", e.events_per_s);
    assert_eq!(default_run().pairs.len(), 3495);
}

#[test]
fn measured_statistics_match_the_model() {
    let run = default_run();
    let (m, e) = (&run.summary, &run.expected);
    let config = GeneratorConfig::default();
    assert_eq!(m.events, N as u64);
    for (mc, ec) in m.chains.iter().zip(&e.chains) {
        // Updates per block: Gamma-Poisson swaps (Var = λ + λ²/shape) times (1 + cascades).
        let lambda = ec.swaps_per_block;
        let sd_block = (1.0 + ec.cascade_updates_per_swap)
            * (lambda + lambda * lambda / config.burst_shape).sqrt()
            * 1.2;
        let tol = 4.5 * sd_block / (mc.blocks as f64).sqrt() + 0.005 * ec.updates_per_block;
        assert!(
            (mc.updates_per_block - ec.updates_per_block).abs() < tol,
            "{}: {} updates/block measured, {} expected (±{tol})",
            mc.name,
            mc.updates_per_block,
            ec.updates_per_block
        );
        // Cascade updates per swap: per-swap variance < 0.5.
        let tol = 4.5 * (0.5 / mc.swaps as f64).sqrt();
        assert!(
            (mc.cascade_updates_per_swap - ec.cascade_updates_per_swap).abs() < tol,
            "{}: cascade/swap {} vs {} (±{tol})",
            mc.name,
            mc.cascade_updates_per_swap,
            ec.cascade_updates_per_swap
        );
        assert!(
            (mc.reads_per_update / ec.reads_per_update - 1.0).abs() < 0.04,
            "{}: reads/update {} vs {}",
            mc.name,
            mc.reads_per_update,
            ec.reads_per_update
        );
    }
    assert!((m.reads_per_update / e.reads_per_update - 1.0).abs() < 0.02);
    assert!(
        (m.top_decile_update_share - e.top_decile_update_share).abs() < 0.03,
        "top-10% share {} vs {}",
        m.top_decile_update_share,
        e.top_decile_update_share
    );
    let events_per_s = m.events as f64 / m.span_s;
    assert!((events_per_s / e.events_per_s - 1.0).abs() < 0.05);
    // The trace-level statistics agree with the generator's own tally.
    let (trace, _) = generate(&config, N).unwrap();
    let s = trace.stats();
    assert_eq!((s.updates, s.reads), (m.updates, m.reads));
    assert!((s.span_s - m.span_s).abs() < 1e-6);
}

/// Swaps per block are Gamma-Poisson: index of dispersion `Var/mean = 1 + λ/shape` (2.5 on
/// arbitrum, 11 on bsc with the defaults), not the 1 of a plain Poisson: busy blocks come in
/// bursts.
#[test]
fn swaps_per_block_are_bursty() {
    let run = default_run();
    let config = GeneratorConfig::default();
    for (c, name) in [(2u16, "arbitrum"), (1u16, "bsc")] {
        let chain = &config.chains[usize::from(c)];
        assert_eq!(chain.name, name);
        let mut per_block: HashMap<u64, f64> = HashMap::new();
        let mut max_block = chain.first_block;
        for e in run.events.iter().filter(|e| e.chain == c) {
            max_block = max_block.max(e.block);
            if matches!(e.kind, EventKind::Swap | EventKind::NoiseSwap) {
                *per_block.entry(e.block).or_default() += 1.0;
            }
        }
        // Blocks without swaps count too; the last block may be cut short, so drop it.
        let counts: Vec<f64> = (chain.first_block..max_block)
            .map(|b| per_block.get(&b).copied().unwrap_or(0.0))
            .collect();
        let n = counts.len() as f64;
        let mean = counts.iter().sum::<f64>() / n;
        let var = counts.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
        let lambda = chain.swaps_per_block;
        let expected = 1.0 + lambda / config.burst_shape;
        assert!((mean / lambda - 1.0).abs() < 0.1, "{name}: mean {mean}");
        assert!(
            (var / mean / expected - 1.0).abs() < 0.25,
            "{name}: dispersion {} expected {expected}",
            var / mean
        );
    }
}

/// Lead time: inside a busy block, reads caused by update j were announced by an earlier
/// update i's read set (j - i) × 40-60 µs before; the documented share of reads a warmer
/// could get in time (lead >= 250 µs) holds, and it shrinks as the warm latency grows.
#[test]
fn reads_have_learnable_lead_time() {
    let run = default_run();
    let lead = |us: u64| {
        let w = SyntheticWorkload::new(GeneratorConfig::default()).unwrap();
        let mut stats = WorkloadStats::new(&w).with_warm_latency_us(us);
        run.events.iter().for_each(|e| stats.observe(e));
        stats.summary()
    };
    let at_250 = &run.summary;
    assert!(
        (0.23..=0.29).contains(&at_250.reads_predictable),
        "{}",
        at_250.reads_predictable
    );
    assert!(
        (0.13..=0.18).contains(&at_250.reads_of_updated),
        "{}",
        at_250.reads_of_updated
    );
    let (immediate, slow) = (lead(0).reads_predictable, lead(2_000).reads_predictable);
    assert!(
        immediate > 0.9 && slow < at_250.reads_predictable * 0.6,
        "{immediate} {slow}"
    );
}

#[test]
fn skew_and_cascade_options_change_what_they_say() {
    let base = GeneratorConfig {
        chains: GeneratorConfig::with_chains(&["bsc"]).unwrap().chains,
        ..GeneratorConfig::default()
    };
    let top = |zipf: f64| {
        let r = run(
            GeneratorConfig {
                zipf_exponent: zipf,
                ..base.clone()
            },
            100_000,
        );
        (
            r.summary.top_decile_update_share,
            r.expected.top_decile_update_share,
        )
    };
    let (flat, flat_model) = top(0.0);
    let (steep, steep_model) = top(1.5);
    assert!(
        flat_model < 0.3 && steep_model > 0.7,
        "{flat_model} {steep_model}"
    );
    assert!((flat - flat_model).abs() < 0.05 && (steep - steep_model).abs() < 0.05);

    let cascades = |p: f64| {
        let r = run(
            GeneratorConfig {
                cascade_prob: p,
                ..base.clone()
            },
            50_000,
        );
        r.events
            .iter()
            .filter(|e| e.kind == EventKind::Cascade)
            .count() as f64
            / r.summary.chains[0].swaps as f64
    };
    assert_eq!(cascades(0.0), 0.0);
    let high = cascades(0.9);
    assert!(high > 0.8, "{high}");

    // No noise: every read is from the read set, every swap is weighted.
    let r = run(
        GeneratorConfig {
            noise_swap_prob: 0.0,
            extra_read_prob: 0.0,
            ..base.clone()
        },
        50_000,
    );
    assert!(
        r.events
            .iter()
            .all(|e| !matches!(e.kind, EventKind::ExtraRead | EventKind::NoiseSwap))
    );
    assert!(
        default_run()
            .events
            .iter()
            .any(|e| e.kind == EventKind::ExtraRead)
    );
    assert!(
        default_run()
            .events
            .iter()
            .any(|e| e.kind == EventKind::NoiseSwap)
    );

    // Detector time: with 100 µs and no jitter, updates of a block are exactly 100 µs apart.
    let r = run(
        GeneratorConfig {
            detector_us_per_update: 100,
            detector_jitter_us: 0,
            ..base
        },
        20_000,
    );
    let updates: Vec<_> = r.events.iter().filter(|e| e.op == Op::Update).collect();
    for w in updates.windows(2) {
        if w[0].block == w[1].block {
            assert_eq!(w[1].ts_us - w[0].ts_us, 100);
        }
    }
}

fn top_decile_pools(events: &[GeneratedEvent], pools: usize) -> HashSet<u32> {
    let mut counts = vec![0u64; pools];
    for e in events.iter().filter(|e| e.op == Op::Update) {
        counts[e.pair as usize] += 1;
    }
    let mut order: Vec<u32> = (0..pools as u32).collect();
    order.sort_by_key(|&p| std::cmp::Reverse(counts[p as usize]));
    order.into_iter().take(pools.div_ceil(10)).collect()
}

#[test]
fn regime_change_changes_the_popular_set() {
    let control = default_run();
    let half = N / 2;
    let pools = control.pairs.len();
    let overlap = |events: &[GeneratedEvent]| {
        let (a, b) = events.split_at(half);
        let (ta, tb) = (top_decile_pools(a, pools), top_decile_pools(b, pools));
        ta.intersection(&tb).count() as f64 / ta.len() as f64
    };
    let changed = run(
        GeneratorConfig {
            regime_change_at: Some(half as u64),
            ..GeneratorConfig::default()
        },
        N,
    );
    let (same, moved) = (overlap(&control.events), overlap(&changed.events));
    assert!(
        same > 0.8,
        "without a change the top decile is stable: {same}"
    );
    assert!(moved < 0.65, "after a change the top decile moves: {moved}");
    // Same universe, new popularity; the switch happens right at the requested event.
    assert_eq!(changed.pairs, control.pairs);
    assert_eq!(changed.summary.regimes, 1);
    let first = changed.events.iter().position(|e| e.regime == 1).unwrap();
    assert!((half..half + 1_000).contains(&first), "{first}");
    // Before the change the stream is the control stream, event for event.
    assert_eq!(changed.events[..half], control.events[..half]);
}

#[test]
fn streaming_source_runs_on_with_repeated_regimes() {
    let config = GeneratorConfig {
        chains: GeneratorConfig::with_chains(&["arbitrum", "base"])
            .unwrap()
            .chains,
        regime_change_at: Some(50_000),
        regime_repeat: true,
        ..GeneratorConfig::default()
    };
    let mut w = SyntheticWorkload::new(config).unwrap();
    let mut last = 0;
    for _ in 0..210_000 {
        let e = w.next().expect("the stream never ends");
        assert!(e.ts_us >= last);
        last = e.ts_us;
    }
    assert_eq!(w.regime(), 4);
    assert_eq!(w.emitted(), 210_000);
    // Updates carry a positive finite price; reads carry none.
    let e: Vec<_> = w.take(1_000).collect();
    assert!(e.iter().all(|e| match e.op {
        Op::Update => e.price.is_some_and(|p| p.is_finite() && p > 0.0),
        Op::Read => e.price.is_none(),
    }));
}

#[test]
fn invalid_configs_are_rejected_naming_the_parameter() {
    let bad = |f: fn(&mut GeneratorConfig)| {
        let mut c = GeneratorConfig::default();
        f(&mut c);
        match SyntheticWorkload::new(c) {
            Err(GeneratorError::InvalidConfig { field, .. }) => field,
            Err(other) => panic!("{other}"),
            Ok(_) => panic!("accepted"),
        }
    };
    assert_eq!(bad(|c| c.cascade_prob = 1.5), "cascade_prob");
    assert_eq!(bad(|c| c.zipf_exponent = f64::NAN), "zipf_exponent");
    assert_eq!(bad(|c| c.tokens_per_chain = 1), "tokens_per_chain");
    assert_eq!(bad(|c| c.dexes_per_chain = 0), "dexes_per_chain");
    assert_eq!(bad(|c| c.chains.clear()), "chains");
    assert_eq!(bad(|c| c.detector_jitter_us = 100), "detector_jitter_us");
    assert_eq!(bad(|c| c.regime_change_at = Some(0)), "regime_change_at");
    assert_eq!(
        bad(|c| c.chains.iter_mut().for_each(|c| c.swaps_per_block = 0.0)),
        "chains.swaps_per_block"
    );
    assert_eq!(bad(|c| c.chains[1].name = "Ethereum".into()), "chains.name");
    let err = GeneratorConfig::with_chains(&["solana"]).unwrap_err();
    assert!(err.to_string().contains("solana") && err.to_string().contains("ethereum"));
    // Small universes work: two tokens, one DEX.
    let tiny = GeneratorConfig {
        tokens_per_chain: 2,
        dexes_per_chain: 1,
        ..GeneratorConfig::with_chains(&["optimism"]).unwrap()
    };
    let (trace, pairs) = generate(&tiny, 1_000).unwrap();
    assert_eq!(pairs.len(), 1);
    assert_eq!(trace.events.len(), 1_000);
}

//! `pairwarm simulate`: replay a trace through the real components and compare strategies.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use pairwarm::cache::L1Policy;
use pairwarm_sim::trace::{ReadOptions, read_pairs, read_trace};
use pairwarm_sim::{ResultRow, RunSpec, SimConfig, SimReport, simulate};

/// What a simulated restart does with the L1 policy's learned window (`--cold-start-policy`).
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColdStartPolicy {
    /// Resumed from the saved image, as `serve` does.
    Resumed,
    /// A new tuner at LRU, as after a restart without a snapshot.
    Fresh,
}

/// Arguments of `pairwarm simulate`.
#[derive(clap::Args, Debug)]
pub struct SimulateArgs {
    /// Trace file (`ts_us,op,chain,pair`; `.gz` accepted).
    #[arg(long)]
    trace: PathBuf,
    /// Pairs file (`pair,chain,dex,token0,token1`); validated and summarised.
    #[arg(long)]
    pairs: Option<PathBuf>,
    /// L1 sizes in entries, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "128")]
    l1: Vec<usize>,
    /// Runs to compare, comma-separated: none, oracle, belady, topn, threshold, adaptive,
    /// timebased (these warm as the original did: unguarded, most recent in LRU); a strategy
    /// suffixed `:reads` learns from reads after updates, `:misses` from those reads that
    /// missed L1 or took a warmed entry, `+guarded` warms with the product's admission;
    /// `+refresh` adds refresh-ahead (with --l1-ttl-ms); `refresh` (refresh-ahead alone),
    /// `warmstart` (preload after --cold-start), `structure` (the pools' siblings,
    /// cross-chain twins and triangle legs from --pairs), `default` (what serve runs by
    /// default, which learns from misses as the library's `learn_from_misses`;
    /// `default:updates` is it learning update co-occurrence, as before round 11),
    /// `perfect-lfu` (L1 holds the pools read most over the trace: a reference for what
    /// knowing each pool's read rate, not the order of the reads, is worth).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "none,topn,threshold,adaptive,timebased,oracle,belady"
    )]
    strategy: Vec<String>,
    /// Strategy config JSON (camelCase, as WARMING_STRATEGY_CONFIG) applied to every strategy
    /// run that accepts its fields.
    #[arg(long)]
    strategy_config: Option<String>,
    /// Time for a warmed entry to land in L1 (one L2 round trip), µs.
    #[arg(long, default_value_t = 250)]
    l2_latency_us: u64,
    /// L1 entry lifetime in ms (entries expire this long after being written, loaded or warmed).
    #[arg(long)]
    l1_ttl_ms: Option<u64>,
    /// L1 eviction policies, comma-separated: default (the product's, what serve runs), lru
    /// (the original's), quickcache, quickcache-adaptive, s3fifo, wtinylfu, wtinylfu-climber,
    /// wtinylfu-fixed.
    /// Every run is replayed under each.
    #[arg(long, value_delimiter = ',', default_value = "default")]
    l1_policy: Vec<L1Policy>,
    /// Pairs the oracle warms per update.
    #[arg(long, default_value_t = 10)]
    oracle_k: usize,
    /// Seconds at the start of the trace whose reads are not counted.
    #[arg(long, default_value_t = 0.0)]
    warmup_s: f64,
    /// Pairs warmed per update at most.
    #[arg(long, default_value_t = 5)]
    max_pairs_per_warm: usize,
    /// Tracker co-occurrence window, ms (default: the tracker's, 1000 as the original).
    #[arg(long)]
    window_ms: Option<u64>,
    /// Runs that learn from reads (`:reads`, `:misses`, and `default`, which learns from
    /// misses): a read credits an update only if it comes at least this many ms after it
    /// (lead-time-aware learning; 0, `serve`'s: every read in the window).
    #[arg(long)]
    min_lead_ms: Option<u64>,
    /// Tracker decay half-life, ms.
    #[arg(long)]
    half_life_ms: Option<u64>,
    /// Neighbours credited per update at most.
    #[arg(long)]
    max_credits: Option<usize>,
    /// Simulate a restart this many seconds into the trace (L1 emptied, the tracker kept as
    /// from a restored snapshot) and report each run's hit rate over the next
    /// --cold-window-s seconds (`cold%`); compare `none` with `warmstart` (or `default`).
    #[arg(long)]
    cold_start: Option<f64>,
    /// Window after the simulated restart, seconds.
    #[arg(long, default_value_t = 60.0)]
    cold_window_s: f64,
    /// What the simulated restart does with the L1 policy's learned window: `resumed`
    /// (as `serve` does from `<PAIRWARM_SNAPSHOT>.policy`) or `fresh` (a new tuner at LRU,
    /// a restart without a snapshot).
    #[arg(long, value_enum, default_value_t = ColdStartPolicy::Resumed)]
    cold_start_policy: ColdStartPolicy,
    /// Write the results as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Draw hit rate over time per strategy (.svg or .png).
    #[arg(long)]
    plot: Option<PathBuf>,
    /// Count and skip malformed trace rows instead of stopping at the first.
    #[arg(long)]
    skip_bad_rows: bool,
    /// Worker threads (0: one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

pub fn run(args: SimulateArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let opts = ReadOptions {
        skip_bad_rows: args.skip_bad_rows,
        ..ReadOptions::default()
    };
    let trace = read_trace(&args.trace, &opts)
        .with_context(|| format!("read trace {}", args.trace.display()))?;
    if trace.skipped_rows > 0 {
        eprintln!("skipped {} malformed rows", trace.skipped_rows);
    }
    let mut pools = Vec::new();
    if let Some(pairs) = &args.pairs {
        pools = read_pairs(pairs).with_context(|| format!("read pairs {}", pairs.display()))?;
        eprintln!(
            "pairs file: {} pools (structure for `structure` and `default` runs; the other strategies learn from the trace)",
            pools.len()
        );
    }
    if trace.events.is_empty() {
        bail!("{} holds no events", args.trace.display());
    }
    let mut runs = Vec::new();
    for name in &args.strategy {
        let json = args
            .strategy_config
            .as_deref()
            .filter(|_| !matches!(name.as_str(), "none" | "oracle" | "belady" | "perfect-lfu"));
        runs.push(RunSpec::parse(name.trim(), json)?);
    }
    let mut config = SimConfig {
        l1_sizes: args.l1.clone(),
        runs,
        l2_latency_us: args.l2_latency_us,
        l1_ttl_ms: args.l1_ttl_ms,
        l1_policy: args.l1_policy.first().copied().unwrap_or_default(),
        oracle_k: args.oracle_k,
        warmup_s: args.warmup_s,
        threads: args.threads,
        cold_start_s: args.cold_start,
        cold_window_s: args.cold_window_s,
        cold_start_resumes_policy: args.cold_start_policy == ColdStartPolicy::Resumed,
        pairs: pools,
        ..SimConfig::default()
    };
    config.warmer.max_pairs_per_warm = args.max_pairs_per_warm;
    if let Some(m) = args.min_lead_ms {
        config.tracker.min_lead_ms = m;
    }
    if let Some(w) = args.window_ms {
        config.tracker.window_ms = w;
    }
    if let Some(h) = args.half_life_ms {
        config.tracker.half_life_ms = h;
    }
    if let Some(c) = args.max_credits {
        config.tracker.max_credits_per_update = c;
    }
    config
        .tracker
        .validate()
        .map_err(|e| anyhow::anyhow!("tracker settings: {e}"))?;
    let policies = if args.l1_policy.is_empty() {
        vec![L1Policy::Default]
    } else {
        args.l1_policy.clone()
    };
    let runs_total = (config.runs.len() + usize::from(!args.strategy.iter().any(|s| s == "none")))
        * config.l1_sizes.len()
        * policies.len();
    let total = trace.events.len() as u64 * runs_total as u64;
    let bar = crate::progress::bar(total, "replaying", args.quiet);
    let mut report: Option<SimReport> = None;
    let mut base = 0u64;
    for &policy in &policies {
        config.l1_policy = policy;
        let one = simulate(&trace, &config, &|done| bar.set_position(base + done))?;
        base += trace.events.len() as u64 * (one.results.len() as u64);
        match &mut report {
            None => report = Some(one),
            Some(r) => {
                r.results.extend(one.results);
                r.timelines.extend(one.timelines);
            }
        }
    }
    bar.finish_and_clear();
    let Some(mut report) = report else {
        bail!("no L1 policy to simulate");
    };
    if policies.len() > 1 {
        // Group by L1 size, then policy, so the table reads size by size.
        let mut order: Vec<usize> = (0..report.results.len()).collect();
        order.sort_by_key(|&i| {
            let r = &report.results[i];
            let p = policies.iter().position(|p| p.name() == r.l1_policy);
            (r.l1, p, i)
        });
        report.results = order.iter().map(|&i| report.results[i].clone()).collect();
        report.timelines = order.iter().map(|&i| report.timelines[i].clone()).collect();
    }

    print_table(&report, &config, &policies);
    eprintln!(
        "replayed {} events x {} runs in {:.1} s",
        trace.events.len(),
        runs_total,
        started.elapsed().as_secs_f64()
    );
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, text + "\n").with_context(|| format!("write {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    if let Some(path) = &args.plot {
        pairwarm_sim::plot::draw(&report, path).context("--plot")?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

fn pct(v: f64) -> String {
    format!("{:.2}", v * 100.0)
}

fn print_table(report: &SimReport, config: &SimConfig, policies: &[L1Policy]) {
    let t = &report.trace;
    let names: Vec<String> = policies
        .iter()
        .map(|p| match p {
            L1Policy::Default => format!("default (= {})", p.resolve()),
            p => p.to_string(),
        })
        .collect();
    println!(
        "trace: {} events ({} updates, {} reads), {} pairs, {:.1} s; L2 latency {} µs; L1 policy {}{}",
        t.events,
        t.updates,
        t.reads,
        t.pairs,
        t.span_s,
        report.l2_latency_us,
        names.join(", "),
        config
            .l1_ttl_ms
            .map(|ms| format!("; L1 TTL {ms} ms"))
            .unwrap_or_default()
    );
    println!(
        "{:<16} {:<20} {:>6} {:>9} {:>8} {:>8} {:>9} {:>9} {:>10} {:>9} {:>9} {:>10} {:>9} {:>9} {:>6}",
        "strategy",
        "l1_policy",
        "l1",
        "hit_rate%",
        "gain_pt",
        "oracle%",
        "accuracy%",
        "coverage%",
        "pollution",
        "late",
        "warms",
        "l2_trips",
        "refreshes",
        "wall_ms",
        "cold%"
    );
    let mut last_l1 = None;
    for r in &report.results {
        if last_l1.is_some_and(|l| l != r.l1) {
            println!();
        }
        last_l1 = Some(r.l1);
        print_row(r);
    }
}

fn print_row(r: &ResultRow) {
    println!(
        "{:<16} {:<20} {:>6} {:>9} {:>8} {:>8} {:>9} {:>9} {:>10} {:>9} {:>9} {:>10} {:>9} {:>9.0} {:>6}",
        r.strategy,
        r.l1_policy,
        r.l1,
        pct(r.hit_rate),
        format!("{:+.2}", r.gain * 100.0),
        r.oracle_gain_captured.map_or("-".into(), pct),
        pct(r.accuracy),
        pct(r.coverage),
        r.pollution,
        r.late,
        r.warms,
        r.l2_round_trips,
        r.refreshes,
        r.wall_ms,
        r.cold_start_hit_rate.map_or("-".into(), pct)
    );
}

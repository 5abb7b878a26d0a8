//! `pairwarm trace generate` (synthetic workload to a trace file) and `pairwarm trace stats`
//! (read a trace, print its numbers and how fast it parsed).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use pairwarm_sim::trace::{
    ChainConfig, GeneratorConfig, ReadOptions, SyntheticWorkload, TraceWriter, WorkloadStats,
    read_pairs, read_trace, write_pairs,
};

/// Arguments of `pairwarm trace`.
#[derive(clap::Args, Debug)]
pub struct TraceArgs {
    #[command(subcommand)]
    command: TraceCommand,
}

#[derive(clap::Subcommand, Debug)]
enum TraceCommand {
    /// Generate a synthetic DEX workload trace (model: docs/trace-model.md).
    Generate(GenerateArgs),
    /// Read a trace (and optionally a pairs file), print its statistics and parse speed.
    Stats(StatsArgs),
    /// Write the named evaluation workloads (docs/simulation.md): NAME.csv.gz and
    /// NAME.pairs.csv per workload.
    Workloads(WorkloadsArgs),
}

/// Arguments of `pairwarm trace workloads`.
#[derive(clap::Args, Debug)]
pub struct WorkloadsArgs {
    /// Directory to write the traces and pairs files into (created if missing).
    #[arg(long, required_unless_present = "list")]
    out_dir: Option<PathBuf>,
    /// Only these workloads (comma-separated names).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// List the workloads and exit.
    #[arg(long)]
    list: bool,
}

/// Arguments of `pairwarm trace generate`. Defaults are the documented model.
#[derive(clap::Args, Debug)]
pub struct GenerateArgs {
    /// Output trace file (gzip if it ends in .gz).
    #[arg(long)]
    out: PathBuf,
    /// Number of events (updates + reads) to write.
    #[arg(long, default_value_t = 1_000_000)]
    events: u64,
    /// Seed of every random draw (same seed and options, same bytes).
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Also write the pairs file (pair,chain,dex,token0,token1) of every pool.
    #[arg(long)]
    pairs_out: Option<PathBuf>,
    /// Chains: a count N (the first N of ethereum,bsc,arbitrum,polygon,base,optimism,avalanche)
    /// or a comma-separated list of those names.
    #[arg(long, default_value = "6")]
    chains: String,
    /// Tokens per chain, hub tokens included.
    #[arg(long, default_value_t = 150)]
    tokens: usize,
    /// DEXes per chain (the first N of the chain's list, most liquid first).
    #[arg(long, default_value_t = 4)]
    dexes: usize,
    /// Zipf exponent of token popularity (0 = uniform; higher = more skewed).
    #[arg(long, default_value_t = 1.0)]
    zipf: f64,
    /// Probability that a swap triggers arbitrage updates of the same pair on other DEXes.
    #[arg(long, default_value_t = 0.3)]
    cascade: f64,
    /// Probability that a swap hits a uniformly random pool (noise).
    #[arg(long, default_value_t = 0.1)]
    noise_swaps: f64,
    /// Probability that the detector reads one extra random pool after an update.
    #[arg(long, default_value_t = 0.1)]
    extra_reads: f64,
    /// Multiplier of every chain's swaps per block.
    #[arg(long, default_value_t = 1.0)]
    swaps_scale: f64,
    /// Mean detector processing time per update, in µs.
    #[arg(long, default_value_t = 50)]
    detector_us: u64,
    /// Uniform jitter of the detector time per update, in µs (at most --detector-us).
    #[arg(long, default_value_t = 10)]
    detector_jitter_us: u64,
    /// Re-draw token popularity after this fraction of the events (0 < F < 1).
    #[arg(long)]
    regime_at: Option<f64>,
    /// Time base of the first block, µs since the Unix epoch.
    #[arg(long, default_value_t = pairwarm_sim::trace::generate::DEFAULT_START_TS_US)]
    start_ts_us: u64,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

/// Arguments of `pairwarm trace stats`.
#[derive(clap::Args, Debug)]
pub struct StatsArgs {
    /// Trace file (plain or gzip).
    #[arg(long)]
    trace: PathBuf,
    /// Pairs file to validate and count.
    #[arg(long)]
    pairs: Option<PathBuf>,
    /// Count and skip malformed rows instead of stopping at the first.
    #[arg(long)]
    skip_bad_rows: bool,
}

/// Runs `pairwarm trace ...`.
pub fn run(args: TraceArgs) -> anyhow::Result<()> {
    match args.command {
        TraceCommand::Generate(a) => run_generate(a),
        TraceCommand::Stats(a) => run_stats(a),
        TraceCommand::Workloads(a) => run_workloads(a),
    }
}

fn config_from(args: &GenerateArgs) -> anyhow::Result<GeneratorConfig> {
    let mut config = match args.chains.trim().parse::<usize>() {
        Ok(n) => {
            let names = ChainConfig::preset_names();
            anyhow::ensure!(
                (1..=names.len()).contains(&n),
                "--chains {n}: expected 1 to {} (or a list of {})",
                names.len(),
                names.join(",")
            );
            GeneratorConfig::with_chains(&names[..n])?
        }
        Err(_) => {
            let names: Vec<&str> = args.chains.split(',').map(str::trim).collect();
            GeneratorConfig::with_chains(&names).context("--chains")?
        }
    };
    config.seed = args.seed;
    config.tokens_per_chain = args.tokens;
    config.dexes_per_chain = args.dexes;
    config.zipf_exponent = args.zipf;
    config.cascade_prob = args.cascade;
    config.noise_swap_prob = args.noise_swaps;
    config.extra_read_prob = args.extra_reads;
    config.swaps_scale = args.swaps_scale;
    config.detector_us_per_update = args.detector_us;
    config.detector_jitter_us = args.detector_jitter_us;
    config.start_ts_us = args.start_ts_us;
    if let Some(f) = args.regime_at {
        anyhow::ensure!(
            f > 0.0 && f < 1.0,
            "--regime-at {f}: expected a fraction of the events strictly between 0 and 1"
        );
        config.regime_change_at = Some(((args.events as f64 * f).ceil() as u64).max(1));
    }
    config.validate()?;
    Ok(config)
}

fn run_generate(args: GenerateArgs) -> anyhow::Result<()> {
    let config = config_from(&args)?;
    let started = Instant::now();
    let mut workload = SyntheticWorkload::new(config)?;
    let expected = workload.expected();
    let mut stats = WorkloadStats::new(&workload);
    let mut writer = TraceWriter::create(&args.out)?;
    let bar = crate::progress::bar(args.events, "generating", args.quiet);
    let pairs = workload.pairs().to_vec();
    for n in 0..args.events {
        let Some(e) = workload.next() else { break };
        let pool = &pairs[e.pair as usize];
        writer.write_row(e.ts_us, e.op, &pool.chain, &pool.pair)?;
        stats.observe(&e);
        if n % 65_536 == 0 {
            bar.set_position(n);
        }
    }
    bar.finish_and_clear();
    writer.finish()?;
    if let Some(path) = &args.pairs_out {
        write_pairs(path, &pairs)?;
    }
    let s = stats.summary();
    let mut out = String::new();
    writeln!(
        out,
        "wrote {}: {} events ({} updates, {} reads) in {:.2} s",
        args.out.display(),
        s.events,
        s.updates,
        s.reads,
        started.elapsed().as_secs_f64()
    )?;
    if let Some(path) = &args.pairs_out {
        writeln!(out, "wrote {}: {} pools", path.display(), pairs.len())?;
    }
    writeln!(
        out,
        "span {:.1} s; pools updated {}/{}; regime changes {}",
        s.span_s, s.pools_updated, s.pools, s.regimes
    )?;
    writeln!(
        out,
        "reads predictable >= {} µs ahead from an earlier update of the block: {:.3}; \
         reads of pools already updated in the block: {:.3}",
        pairwarm_sim::trace::DEFAULT_WARM_LATENCY_US,
        s.reads_predictable,
        s.reads_of_updated
    )?;
    writeln!(out, "{:<34} {:>10} {:>10}", "", "measured", "model")?;
    writeln!(
        out,
        "{:<34} {:>10.3} {:>10.3}",
        "reads per update", s.reads_per_update, expected.reads_per_update
    )?;
    writeln!(
        out,
        "{:<34} {:>10.3} {:>10.3}",
        "top-10% pools' share of updates",
        s.top_decile_update_share,
        expected.top_decile_update_share
    )?;
    writeln!(
        out,
        "{:<34} {:>10.1} {:>10.1}",
        "events per second of trace",
        s.events as f64 / s.span_s.max(1e-9),
        expected.events_per_s
    )?;
    writeln!(
        out,
        "\n{:<10} {:>7} {:>8} {:>18} {:>18} {:>18}",
        "chain", "blocks", "updates", "upd/block (model)", "casc/swap (model)", "reads/upd (model)"
    )?;
    for (m, e) in s.chains.iter().zip(&expected.chains) {
        writeln!(
            out,
            "{:<10} {:>7} {:>8} {:>9.2} ({:>6.2}) {:>9.3} ({:>6.3}) {:>9.2} ({:>6.2})",
            m.name,
            m.blocks,
            m.updates,
            m.updates_per_block,
            e.updates_per_block,
            m.cascade_updates_per_swap,
            e.cascade_updates_per_swap,
            m.reads_per_update,
            e.reads_per_update
        )?;
    }
    print_report(&out)
}

fn run_stats(args: StatsArgs) -> anyhow::Result<()> {
    let opts = ReadOptions {
        skip_bad_rows: args.skip_bad_rows,
        ..ReadOptions::default()
    };
    let started = Instant::now();
    let trace = read_trace(&args.trace, &opts)?;
    let elapsed = started.elapsed().as_secs_f64();
    let s = trace.stats();
    let mut out = String::new();
    writeln!(
        out,
        "{}: parsed {} events in {:.3} s ({:.2} M rows/s)",
        args.trace.display(),
        s.events,
        elapsed,
        s.events as f64 / elapsed.max(1e-9) / 1e6
    )?;
    writeln!(
        out,
        "updates {}  reads {}  distinct pairs {} (updated {})  chains {}",
        s.updates, s.reads, s.distinct_pairs, s.updated_pairs, s.chains
    )?;
    writeln!(
        out,
        "span {:.1} s  reads/update {:.3}  top-10% updated pairs' share of updates {:.3}  skipped rows {}",
        s.span_s, s.reads_per_update, s.top_decile_update_share, s.skipped_rows
    )?;
    if let Some(path) = &args.pairs {
        let pairs = read_pairs(path)?;
        writeln!(out, "{}: {} pools", path.display(), pairs.len())?;
    }
    print_report(&out)
}

fn run_workloads(args: WorkloadsArgs) -> anyhow::Result<()> {
    let all = pairwarm_sim::trace::workloads::all();
    for name in &args.only {
        anyhow::ensure!(
            all.iter().any(|w| w.name == name),
            "--only {name}: no such workload (known: {})",
            all.iter().map(|w| w.name).collect::<Vec<_>>().join(", ")
        );
    }
    let mut out = String::new();
    let chosen = all
        .iter()
        .filter(|w| args.only.is_empty() || args.only.iter().any(|n| n == w.name));
    let Some(dir) = args.out_dir.filter(|_| !args.list) else {
        for w in chosen {
            writeln!(out, "{:<24} {}", w.name, w.description)?;
        }
        return print_report(&out);
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    for w in chosen {
        let started = Instant::now();
        let (trace, pools) = w.generate()?;
        let trace_path = dir.join(format!("{}.csv.gz", w.name));
        let pairs_path = dir.join(format!("{}.pairs.csv", w.name));
        pairwarm_sim::trace::write_trace(&trace_path, &trace)?;
        write_pairs(&pairs_path, &pools)?;
        let s = trace.stats();
        writeln!(
            out,
            "{:<24} {:>8} updates {:>8} reads ({:.2} reads/update) {:>6} pairs in trace, {:>6} pools, {:>7.1} s span, top-10% share {:.2}  ({:.1} s)",
            w.name,
            s.updates,
            s.reads,
            s.reads_per_update,
            s.distinct_pairs,
            pools.len(),
            s.span_s,
            s.top_decile_update_share,
            started.elapsed().as_secs_f64()
        )?;
    }
    print_report(&out)
}

/// Prints a finished report; a closed pipe (`| head`) is not an error worth a panic.
fn print_report(report: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(report.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

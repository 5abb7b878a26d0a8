//! `pairwarm bench`: micro-benchmarks users can run on their own hardware.

mod coherence;
mod tracker;
mod warm;

/// Arguments of `pairwarm bench`.
#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    #[command(subcommand)]
    target: BenchTarget,
}

#[derive(clap::Subcommand, Debug)]
enum BenchTarget {
    /// Latency of `CorrelationTracker::record_price_update` under bursty, Zipf-skewed load,
    /// and the tracker's memory (at N pairs and after a flood of distinct pairs).
    Tracker(tracker::TrackerBenchArgs),
    /// `warm_for_pair` latency and round trips against a real Redis, next to the original's
    /// per-pair GET + write-back SET in the same run.
    Warm(warm::WarmBenchArgs),
    /// L1 coherence against a real Redis: the staleness bound after a foreign write (two
    /// instances), and the hit-rate/throughput cost of coherence, off vs tracking in one run.
    Coherence(coherence::CoherenceBenchArgs),
}

pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    match args.target {
        BenchTarget::Tracker(a) => tracker::run(a),
        BenchTarget::Warm(a) => warm::run(a),
        BenchTarget::Coherence(a) => coherence::run(a),
    }
}

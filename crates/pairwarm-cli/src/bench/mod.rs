//! `pairwarm bench`: micro-benchmarks users can run on their own hardware.

mod tracker;

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
}

pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    match args.target {
        BenchTarget::Tracker(a) => tracker::run(a),
    }
}

//! `pairwarm`: the command-line front of the pairwarm library.
//!
//! Thin glue only: argument parsing and wiring. The work lives in the `pairwarm` crate.

use clap::{Parser, Subcommand};

mod bench;
mod demo;
// `pairwarm serve` is being assembled module by module; until its command is wired in,
// the finished parts are exercised by their own tests only.
#[allow(dead_code)]
mod serve;
mod trace_cmd;

/// Predictive cache warming for DEX price pipelines.
#[derive(Parser, Debug)]
#[command(name = "pairwarm", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Build a cache on the embedded in-memory L2, write and read prices, print per-level stats.
    Demo(demo::DemoArgs),
    /// Trace files: generate a synthetic DEX workload, inspect a trace.
    Trace(trace_cmd::TraceArgs),
    /// Micro-benchmarks (`pairwarm bench tracker [--pairs N] [--json]`).
    Bench(bench::BenchArgs),
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Demo(args) => demo::run(args),
        Command::Trace(args) => trace_cmd::run(args),
        Command::Bench(args) => bench::run(args),
    }
}

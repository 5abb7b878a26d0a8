//! `pairwarm`: the command-line front of the pairwarm library.
//!
//! Thin glue only: argument parsing and wiring. The work lives in the library crates:
//! `pairwarm` (cache, tracker, strategies, warmer), `pairwarm-service` (`serve`) and
//! `pairwarm-sim` (`trace`, `simulate`).

use clap::{Parser, Subcommand};

/// mimalloc instead of the system allocator: `serve` allocates per stream entry (redis-rs
/// replies, parsed entries) on two threads, and glibc's malloc showed up at ~20% of its CPU
/// profile (`perf record` on a 300k-entry run). Measured with farm-bench on a 300k-entry
/// feed + serve run: median wall 0.89x and CPU 0.86x of glibc. The price is memory: a flat
/// 60-78 MB peak RSS instead of 26 MB (mimalloc keeps freed pages per thread).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod bench;
mod demo;
mod feed;
mod logging;
mod progress;
mod serve;
mod simulate;
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
    /// Run the service: price feed (Redis Streams, or the embedded synthetic feed without
    /// REDIS_URL), cache, tracker, warmer, reference detector, /metrics and health.
    Serve(Box<serve::ServeArgs>),
    /// Print the configuration reference (docs/configuration.md) generated from the
    /// settings table.
    ConfigDoc,
    /// Replay a trace through the real cache, tracker and warmer; compare strategies.
    Simulate(simulate::SimulateArgs),
    /// Trace files: generate a synthetic DEX workload, inspect a trace.
    Trace(trace_cmd::TraceArgs),
    /// Write price updates into a Redis stream (trace replay or synthetic), at a rate.
    Feed(feed::FeedArgs),
    /// Measure the hot paths (tracker, warming) and print figures.
    Bench(bench::BenchArgs),
    /// Build a cache on the embedded in-memory L2, write and read prices, print per-level stats.
    Demo(demo::DemoArgs),
}

/// Reads a `--redis-url` (kept as a [`RedisUrl`], so it never prints its password).
fn redis_url(value: &str) -> Result<pairwarm::cache::RedisUrl, std::convert::Infallible> {
    Ok(value.into())
}

fn main() -> std::process::ExitCode {
    let logging = logging::init();
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Serve(args) => serve::run(*args, logging),
        Command::ConfigDoc => {
            print!("{}", pairwarm_service::config::reference_markdown());
            Ok(())
        }
        Command::Simulate(args) => simulate::run(args),
        Command::Trace(args) => trace_cmd::run(args),
        Command::Feed(args) => feed::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Demo(args) => demo::run(args),
    };
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{}", error_report(&e));
            std::process::ExitCode::FAILURE
        }
    }
}

/// The error for a person: `error: <what failed>` and one `caused by:` line per cause
/// that adds something. Our errors name the input and quote their cause in the message
/// (`open t.csv: No such file or directory`), so a cause already quoted is not printed
/// twice; and no backtrace, which `anyhow`'s default report prints whenever
/// `RUST_BACKTRACE` is set, making a missing file look like a crash.
fn error_report(e: &anyhow::Error) -> String {
    let mut out = format!("error: {e}");
    let mut said = e.to_string();
    for cause in e.chain().skip(1) {
        let text = cause.to_string();
        if !said.contains(&text) {
            out.push_str("\n  caused by: ");
            out.push_str(&text);
            said.push('\n');
            said.push_str(&text);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::error_report;
    use anyhow::Context;

    #[test]
    fn a_cause_the_message_already_quotes_is_not_repeated() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory");
        let e = Err::<(), _>(io)
            .context("open t.csv: No such file or directory")
            .context("read trace t.csv")
            .unwrap_err();
        assert_eq!(
            error_report(&e),
            "error: read trace t.csv\n  caused by: open t.csv: No such file or directory"
        );
    }
}

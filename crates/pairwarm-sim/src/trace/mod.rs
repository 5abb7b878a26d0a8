//! Traces: the recorded (or synthetic) stream of price updates and detector reads that the
//! simulator replays, their CSV file format, and a synthetic workload generator.
//!
//! A trace is the contract between whatever produces workload (a recorder in production, the
//! [`generate()`] model, a hand-written test file) and whatever consumes it (`pairwarm
//! simulate`, `pairwarm feed`, fuzz targets). The format is deliberately boring CSV so that a
//! practitioner can produce one with `awk` from their own logs:
//!
//! ```text
//! ts_us,op,chain,pair
//! 1735689600000000,u,ethereum,0xb4e16d0168e52d35cacd2c6185b44281ec28c9dc
//! 1735689600000003,r,ethereum,0x88e6a0c2ddd26feeb64f039a2c41296fcb3f5640
//! ```
//!
//! `ts_us` is integer microseconds, non-decreasing; `op` is `u` (a price update of `pair`) or
//! `r` (the detector read `pair`). An optional pairs file (`pair,chain,dex,token0,token1`, see
//! [`pairs`]) describes pool structure for strategies that use it. Files may be gzipped
//! (detected by magic bytes). The full contract is in `docs/trace-format.md`; the synthetic
//! model is in `docs/trace-model.md`.
//!
//! | module | concept |
//! |---|---|
//! | [`format`](mod@format) | streaming [`TraceReader`], [`parse_trace`]/[`read_trace`], [`TraceWriter`]/[`write_trace`], [`TraceBuilder`] |
//! | [`pairs`] | the pairs file: [`PairInfo`], [`parse_pairs`]/[`read_pairs`]/[`write_pairs`] |
//! | [`generate`](mod@generate) | [`SyntheticWorkload`]: an unbounded, seeded, block-structured DEX workload |
//! | [`market`] | a second, structurally different model (block-synchronous sweeps, cross-chain lag, independent reads, scans) |
//! | [`workloads`] | the named evaluation workloads of `docs/simulation.md` |
//!
//! Memory: parsing holds one line buffer (capped by [`ReadOptions::max_line_len`]) plus the
//! result; an event costs 16 bytes, a distinct pair ~70 bytes, so 10^7 events fit in ~160 MB.

use std::fmt;

use crate::pair::{Address, PairError};

pub mod format;
pub mod generate;
mod lines;
pub mod market;
pub mod pairs;
pub mod workloads;

pub use format::{
    TraceBuilder, TraceReader, TraceRow, TraceWriter, parse_trace, read_trace, write_trace,
    write_trace_to,
};
pub use generate::{
    ChainConfig, DEFAULT_WARM_LATENCY_US, EventKind, ExpectedStats, GeneratedEvent,
    GeneratorConfig, GeneratorError, SyntheticWorkload, WorkloadStats, WorkloadSummary, generate,
};
pub use lines::FileSink;
pub use pairs::{PairInfo, parse_pairs, read_pairs, write_pairs, write_pairs_to};

/// The trace file header, exactly.
pub const TRACE_HEADER: &str = "ts_us,op,chain,pair";
/// The pairs file header, exactly.
pub const PAIRS_HEADER: &str = "pair,chain,dex,token0,token1";
/// Default cap on one line's length: a valid row is < 100 bytes, so 1 KiB leaves room for
/// long chain names while bounding what a hostile file can make us buffer.
pub const DEFAULT_MAX_LINE_LEN: usize = 1024;

/// What happened to a pair in one trace row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Op {
    /// `u`: a price update of the pair arrived (Sync/Swap); it is written through to L1 and L2.
    Update,
    /// `r`: the detector read the pair's price.
    Read,
}

impl Op {
    /// The one-letter code used in trace files.
    pub const fn code(self) -> char {
        match self {
            Op::Update => 'u',
            Op::Read => 'r',
        }
    }

    /// Parses the one-letter code (`u` or `r`, lowercase only: the writer never emits other forms).
    pub fn from_code(code: &str) -> Option<Self> {
        match code {
            "u" => Some(Op::Update),
            "r" => Some(Op::Read),
            _ => None,
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code())
    }
}

/// A pair as it appears in a trace: chain name (normalised lowercase) and address.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TracePair {
    /// Chain name, validated by [`crate::pair::normalize_chain`].
    pub chain: String,
    /// Pool address.
    pub address: Address,
}

/// One row of a trace, with the pair interned into [`Trace::pairs`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TraceEvent {
    /// Microseconds (any epoch; non-decreasing through a trace).
    pub ts_us: u64,
    /// Update or read.
    pub op: Op,
    /// Index into [`Trace::pairs`].
    pub pair: u32,
}

/// A whole trace in memory, compact enough to replay 10^6+ events quickly: pairs are interned
/// once, events are 16 bytes each.
///
/// Pairs are numbered in order of first appearance, so reading back a written trace yields an
/// identical value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trace {
    /// Distinct pairs, in order of first appearance.
    pub pairs: Vec<TracePair>,
    /// Events in file order (timestamps non-decreasing).
    pub events: Vec<TraceEvent>,
    /// Rows skipped as malformed (only with [`ReadOptions::skip_bad_rows`]).
    pub skipped_rows: u64,
}

/// Summary numbers of a trace, as printed by `pairwarm trace stats`.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceStats {
    /// Number of events.
    pub events: u64,
    /// Number of `u` events.
    pub updates: u64,
    /// Number of `r` events.
    pub reads: u64,
    /// Pairs that occur in at least one event.
    pub distinct_pairs: u64,
    /// Pairs with at least one update.
    pub updated_pairs: u64,
    /// Distinct chains among the occurring pairs.
    pub chains: u64,
    /// First and last timestamp, if any event.
    pub first_ts_us: Option<u64>,
    /// Last timestamp, if any event.
    pub last_ts_us: Option<u64>,
    /// `(last - first)` in seconds (0 for an empty trace).
    pub span_s: f64,
    /// `reads / updates` (0 without updates).
    pub reads_per_update: f64,
    /// Share of all updates that go to the most-updated 10% of the pairs that were updated at
    /// least once (rounded up, at least one pair). A measure of skew: 0.1 means uniform.
    pub top_decile_update_share: f64,
    /// Rows skipped as malformed while reading.
    pub skipped_rows: u64,
}

impl Trace {
    /// Summary statistics (one pass over the events plus a sort of per-pair counts).
    pub fn stats(&self) -> TraceStats {
        let mut updates_per_pair = vec![0u64; self.pairs.len()];
        let mut seen = vec![false; self.pairs.len()];
        let (mut updates, mut reads) = (0u64, 0u64);
        for e in &self.events {
            let ix = e.pair as usize;
            if let Some(s) = seen.get_mut(ix) {
                *s = true;
            }
            match e.op {
                Op::Update => {
                    updates += 1;
                    if let Some(c) = updates_per_pair.get_mut(ix) {
                        *c += 1;
                    }
                }
                Op::Read => reads += 1,
            }
        }
        let mut chains: Vec<&str> = self
            .pairs
            .iter()
            .zip(&seen)
            .filter(|(_, s)| **s)
            .map(|(p, _)| p.chain.as_str())
            .collect();
        chains.sort_unstable();
        chains.dedup();
        let first_ts_us = self.events.first().map(|e| e.ts_us);
        let last_ts_us = self.events.last().map(|e| e.ts_us);
        let span_s = match (first_ts_us, last_ts_us) {
            (Some(a), Some(b)) => b.saturating_sub(a) as f64 / 1e6,
            _ => 0.0,
        };
        TraceStats {
            events: self.events.len() as u64,
            updates,
            reads,
            distinct_pairs: seen.iter().filter(|s| **s).count() as u64,
            updated_pairs: updates_per_pair.iter().filter(|c| **c > 0).count() as u64,
            chains: chains.len() as u64,
            first_ts_us,
            last_ts_us,
            span_s,
            reads_per_update: ratio(reads, updates),
            top_decile_update_share: top_decile_share(&updates_per_pair, false),
            skipped_rows: self.skipped_rows,
        }
    }
}

/// `a / b` as f64, 0 when `b` is 0.
pub(crate) fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// Share of the total held by the largest 10% of `counts` (rounded up, at least one).
/// With `include_zeros == false` only non-zero counts form the population.
pub(crate) fn top_decile_share(counts: &[u64], include_zeros: bool) -> f64 {
    let mut sorted: Vec<u64> = counts
        .iter()
        .copied()
        .filter(|c| include_zeros || *c > 0)
        .collect();
    let total: u64 = sorted.iter().sum();
    if total == 0 {
        return 0.0;
    }
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    let top = sorted.len().div_ceil(10).max(1);
    ratio(sorted[..top].iter().sum(), total)
}

/// How strictly to read a trace or pairs file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadOptions {
    /// Count and skip malformed rows instead of failing on the first one. The header must
    /// still be right: a wrong header means a different file, not a damaged row.
    pub skip_bad_rows: bool,
    /// Longest accepted line in bytes (without the line ending); longer lines are malformed
    /// rows. Bounds the memory a hostile file can make the parser hold.
    pub max_line_len: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            skip_bad_rows: false,
            max_line_len: DEFAULT_MAX_LINE_LEN,
        }
    }
}

impl ReadOptions {
    /// Strict reading (the default): the first malformed row is an error.
    pub fn strict() -> Self {
        Self::default()
    }

    /// Lenient reading: malformed rows are counted in [`Trace::skipped_rows`] and skipped.
    pub fn skipping_bad_rows() -> Self {
        Self {
            skip_bad_rows: true,
            ..Self::default()
        }
    }
}

/// Why one row (or one event handed to a writer) is not valid.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RowError {
    /// The line exceeds [`ReadOptions::max_line_len`].
    #[error("line longer than {limit} bytes")]
    TooLong {
        /// The limit in force.
        limit: usize,
    },
    /// The line is not UTF-8.
    #[error("not valid UTF-8 (bad byte at offset {offset})")]
    NotUtf8 {
        /// Byte offset of the first invalid byte within the line.
        offset: usize,
    },
    /// The line is empty (blank lines are not part of the format).
    #[error("empty line")]
    Empty,
    /// Wrong number of comma-separated columns.
    #[error("expected {expected} comma-separated columns, found {found}")]
    ColumnCount {
        /// Columns the format has.
        expected: usize,
        /// Columns found.
        found: usize,
    },
    /// `ts_us` is not a base-10 unsigned 64-bit integer.
    #[error("ts_us {input:?} is not a non-negative integer number of microseconds")]
    BadTimestamp {
        /// The rejected text (clipped).
        input: String,
    },
    /// `ts_us` is smaller than the previous accepted row's.
    #[error(
        "ts_us {ts_us} is earlier than the previous row's {previous}: timestamps must be non-decreasing"
    )]
    DecreasingTimestamp {
        /// This row's timestamp.
        ts_us: u64,
        /// The previous accepted row's timestamp.
        previous: u64,
    },
    /// `op` is neither `u` nor `r`.
    #[error("op {input:?} is neither \"u\" (update) nor \"r\" (read)")]
    BadOp {
        /// The rejected text (clipped).
        input: String,
    },
    /// The chain name is invalid.
    #[error("chain: {0}")]
    BadChain(PairError),
    /// More distinct chains than [`crate::pair::MAX_CHAINS`].
    #[error("more than {limit} distinct chains")]
    TooManyChains {
        /// The limit.
        limit: usize,
    },
    /// The pair address is invalid.
    #[error("pair: {0}")]
    BadAddress(PairError),
    /// More distinct pairs than a `u32` index holds.
    #[error("more than {limit} distinct pairs")]
    TooManyPairs {
        /// The limit.
        limit: u64,
    },
    /// A free-text column (dex, token) is empty, too long or holds a forbidden character.
    #[error("{column} {input:?} is invalid: {why}")]
    BadName {
        /// Column name.
        column: &'static str,
        /// The rejected text (clipped).
        input: String,
        /// What is wrong.
        why: &'static str,
    },
    /// The same `(chain, pair)` appears twice in a pairs file.
    #[error("pair {address} on {chain} is already described on line {first_line}")]
    DuplicatePair {
        /// Chain.
        chain: String,
        /// Address.
        address: Address,
        /// Line of the first description.
        first_line: u64,
    },
    /// An in-memory event names a pair index that [`Trace::pairs`] does not have.
    #[error("pair index {index} out of range ({len} pairs)")]
    PairIndex {
        /// The index.
        index: u32,
        /// Number of pairs.
        len: usize,
    },
}

/// Errors reading or writing trace and pairs files. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// The file could not be opened, read, decompressed or written.
    #[error("{action} {file}: {source}")]
    Io {
        /// What we were doing (`open`, `read`, `create`, `write`).
        action: &'static str,
        /// File name (or the source label given to a parser).
        file: String,
        /// The underlying error (corrupt gzip data surfaces here too).
        #[source]
        source: std::io::Error,
    },
    /// The first line is not the expected header.
    #[error("{file}: line 1: expected header {expected:?}, found {found:?}")]
    BadHeader {
        /// File name.
        file: String,
        /// The header the format requires.
        expected: &'static str,
        /// What the file has instead (clipped; empty for an empty file).
        found: String,
    },
    /// A malformed row (strict mode).
    #[error("{file}: line {line}: {reason}")]
    BadRow {
        /// File name.
        file: String,
        /// 1-based line number (the header is line 1).
        line: u64,
        /// What is wrong with the row.
        reason: RowError,
    },
    /// A writer was handed an event that would not make a valid file.
    #[error("{file}: event #{index}: {reason}")]
    InvalidEvent {
        /// File name.
        file: String,
        /// 0-based index of the event among those written.
        index: u64,
        /// What is wrong.
        reason: RowError,
    },
}

/// Bounds the size of inputs echoed back in errors (a hostile 1 MB field stays short),
/// cutting on a character boundary.
pub(crate) fn clip(input: &str) -> String {
    const MAX: usize = 80;
    if input.len() <= MAX {
        return input.to_owned();
    }
    let mut end = MAX;
    while !input.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &input[..end])
}

//! Reading and writing trace files (`ts_us,op,chain,pair`).
//!
//! Reading is streaming and allocation-light: one reused line buffer capped at
//! [`ReadOptions::max_line_len`], columns split in place, chains and pairs interned through
//! small tables, so the per-row cost is a UTF-8 check, a few comparisons, 40 hex digits and
//! one hash lookup. The same code path serves files, gzip files and in-memory bytes (fuzzing).

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::sync::Arc;

use crate::pair::{Address, MAX_CHAINS, normalize_chain};

use super::lines::{self, FileSink, Line, MaybeGz};
use super::{
    Op, ReadOptions, RowError, TRACE_HEADER, Trace, TraceError, TraceEvent, TracePair, clip,
};

/// One row from a [`TraceReader`], with its line number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceRow {
    /// 1-based line number in the file (the header is line 1).
    pub line: u64,
    /// Timestamp in microseconds.
    pub ts_us: u64,
    /// Update or read.
    pub op: Op,
    /// Chain name, normalised lowercase; shared between rows of the same chain.
    pub chain: Arc<str>,
    /// Pool address.
    pub address: Address,
}

/// A parsed row before its chain name is looked up (chain as an index into the reader's table).
#[derive(Clone, Copy, Debug)]
struct RawRow {
    line: u64,
    ts_us: u64,
    op: Op,
    chain: usize,
    address: Address,
}

/// Per-reader row validation state: the chain table and the last accepted timestamp.
#[derive(Default)]
struct RowParser {
    chains: Vec<Arc<str>>,
    last_chain: usize,
    last_ts: Option<u64>,
}

impl RowParser {
    fn parse(&mut self, line: &str) -> Result<(u64, Op, usize, Address), RowError> {
        let [ts, op, chain, pair] = lines::split_columns::<4>(line)?;
        let ts_us = parse_u64(ts).ok_or_else(|| RowError::BadTimestamp { input: clip(ts) })?;
        let op = Op::from_code(op).ok_or_else(|| RowError::BadOp { input: clip(op) })?;
        let chain = self.chain_index(chain)?;
        let address = Address::parse(pair).map_err(RowError::BadAddress)?;
        if let Some(previous) = self.last_ts
            && ts_us < previous
        {
            return Err(RowError::DecreasingTimestamp { ts_us, previous });
        }
        self.last_ts = Some(ts_us);
        Ok((ts_us, op, chain, address))
    }

    /// Index of a chain name; the common case (same chain as the previous row, already
    /// lowercase) is one string comparison.
    fn chain_index(&mut self, chain: &str) -> Result<usize, RowError> {
        if self
            .chains
            .get(self.last_chain)
            .is_some_and(|c| **c == *chain)
        {
            return Ok(self.last_chain);
        }
        let found = match self.chains.iter().position(|c| **c == *chain) {
            Some(ix) => ix,
            None => {
                let name = normalize_chain(chain).map_err(RowError::BadChain)?;
                match self.chains.iter().position(|c| **c == *name) {
                    Some(ix) => ix,
                    None if self.chains.len() >= MAX_CHAINS => {
                        return Err(RowError::TooManyChains { limit: MAX_CHAINS });
                    }
                    None => {
                        self.chains.push(name.into());
                        self.chains.len() - 1
                    }
                }
            }
        };
        self.last_chain = found;
        Ok(found)
    }
}

/// Parses a base-10 `u64`: digits only (no sign, no spaces), overflow rejected.
fn parse_u64(s: &str) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    s.bytes().try_fold(0u64, |acc, b| {
        let digit = b.checked_sub(b'0').filter(|d| *d <= 9)?;
        acc.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

/// Streaming reader over any `BufRead` (gzip detected by magic bytes), yielding one
/// [`TraceRow`] per line. Use it for files too large to hold as a [`Trace`].
///
/// After an error in strict mode the iterator ends. With
/// [`ReadOptions::skip_bad_rows`] malformed rows are counted ([`Self::skipped_rows`]) and
/// skipped; I/O and decompression errors always end the iteration.
///
/// ```
/// use pairwarm_sim::trace::{Op, ReadOptions, TraceReader};
/// let data = "ts_us,op,chain,pair\n10,u,bsc,0x16b9a82891338f9ba80e2d6970fdda79d1eb0dae\n";
/// let mut reader = TraceReader::new(data.as_bytes(), "inline", &ReadOptions::default()).unwrap();
/// let row = reader.next().unwrap().unwrap();
/// assert_eq!((row.line, row.ts_us, row.op, &*row.chain), (2, 10, Op::Update, "bsc"));
/// assert!(reader.next().is_none());
/// ```
pub struct TraceReader<R: BufRead> {
    input: MaybeGz<R>,
    source: String,
    opts: ReadOptions,
    buf: Vec<u8>,
    line: u64,
    parser: RowParser,
    skipped: u64,
    done: bool,
}

impl TraceReader<BufReader<File>> {
    /// Opens a trace file (plain or gzip) and checks its header.
    pub fn open(path: impl AsRef<Path>, opts: &ReadOptions) -> Result<Self, TraceError> {
        let path = path.as_ref();
        let input = lines::open(path)?;
        Self::from_input(input, path.display().to_string(), opts)
    }
}

impl<R: BufRead> TraceReader<R> {
    /// Wraps a reader (plain or gzip bytes) and checks the header. `source` names the input
    /// in errors.
    pub fn new(reader: R, source: &str, opts: &ReadOptions) -> Result<Self, TraceError> {
        let input = MaybeGz::detect(reader).map_err(|e| TraceError::Io {
            action: "read",
            file: source.to_owned(),
            source: e,
        })?;
        Self::from_input(input, source.to_owned(), opts)
    }

    fn from_input(
        mut input: MaybeGz<R>,
        source: String,
        opts: &ReadOptions,
    ) -> Result<Self, TraceError> {
        let mut buf = Vec::with_capacity(opts.max_line_len.min(4096) + 2);
        check_header(&mut input, &mut buf, &source, TRACE_HEADER, opts)?;
        Ok(Self {
            input,
            source,
            opts: opts.clone(),
            buf,
            line: 1,
            parser: RowParser::default(),
            skipped: 0,
            done: false,
        })
    }

    /// Rows skipped so far (only with [`ReadOptions::skip_bad_rows`]).
    pub fn skipped_rows(&self) -> u64 {
        self.skipped
    }

    /// Chains seen so far, in order of first appearance.
    pub fn chains(&self) -> &[Arc<str>] {
        &self.parser.chains
    }

    fn next_raw(&mut self) -> Option<Result<RawRow, TraceError>> {
        if self.done {
            return None;
        }
        loop {
            self.line += 1;
            let outcome = match lines::read_line_capped(
                &mut self.input,
                &mut self.buf,
                self.opts.max_line_len,
            ) {
                Err(source) => {
                    self.done = true;
                    return Some(Err(TraceError::Io {
                        action: "read",
                        file: self.source.clone(),
                        source,
                    }));
                }
                Ok(Line::Eof) => {
                    self.done = true;
                    return None;
                }
                Ok(Line::TooLong) => Err(RowError::TooLong {
                    limit: self.opts.max_line_len,
                }),
                Ok(Line::Ok) => lines::line_str(&self.buf).and_then(|line| self.parser.parse(line)),
            };
            match outcome {
                Ok((ts_us, op, chain, address)) => {
                    return Some(Ok(RawRow {
                        line: self.line,
                        ts_us,
                        op,
                        chain,
                        address,
                    }));
                }
                Err(_) if self.opts.skip_bad_rows => self.skipped += 1,
                Err(reason) => {
                    self.done = true;
                    return Some(Err(self.bad_row(self.line, reason)));
                }
            }
        }
    }

    fn bad_row(&self, line: u64, reason: RowError) -> TraceError {
        TraceError::BadRow {
            file: self.source.clone(),
            line,
            reason,
        }
    }
}

impl<R: BufRead> Iterator for TraceReader<R> {
    type Item = Result<TraceRow, TraceError>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(self.next_raw()?.map(|raw| {
            TraceRow {
                line: raw.line,
                ts_us: raw.ts_us,
                op: raw.op,
                chain: self
                    .parser
                    .chains
                    .get(raw.chain)
                    .cloned()
                    .unwrap_or_else(|| Arc::from("")),
                address: raw.address,
            }
        }))
    }
}

/// Reads and checks the header line (shared with the pairs file).
pub(crate) fn check_header<R: BufRead>(
    input: &mut R,
    buf: &mut Vec<u8>,
    source: &str,
    expected: &'static str,
    opts: &ReadOptions,
) -> Result<(), TraceError> {
    let bad = |found: String| TraceError::BadHeader {
        file: source.to_owned(),
        expected,
        found,
    };
    match lines::read_line_capped(input, buf, opts.max_line_len) {
        Err(source_err) => Err(TraceError::Io {
            action: "read",
            file: source.to_owned(),
            source: source_err,
        }),
        Ok(Line::Eof) => Err(bad(String::new())),
        Ok(Line::TooLong) => Err(bad(format!(
            "<a line longer than {} bytes>",
            opts.max_line_len
        ))),
        Ok(Line::Ok) => {
            let header = lines::strip_bom(buf);
            if header == expected.as_bytes() {
                Ok(())
            } else {
                Err(bad(clip(&String::from_utf8_lossy(header))))
            }
        }
    }
}

/// Parses a whole trace from any `BufRead` (plain or gzip bytes). `source` names the input in
/// errors. This is the entry point a fuzz target calls.
///
/// ```
/// use pairwarm_sim::trace::{Op, ReadOptions, TraceError, parse_trace};
///
/// let csv = "ts_us,op,chain,pair\n\
///            1000,u,ethereum,0xB4e16d0168e52d35CaCD2c6185b44281Ec28C9Dc\n\
///            1004,r,ethereum,0x88e6a0c2ddd26feeb64f039a2c41296fcb3f5640\n";
/// let trace = parse_trace(csv.as_bytes(), "example.csv", &ReadOptions::default()).unwrap();
/// assert_eq!(trace.events.len(), 2);
/// assert_eq!(trace.events[1].op, Op::Read);
/// // Addresses are normalised to lowercase.
/// assert_eq!(
///     trace.pairs[0].address.to_string(),
///     "0xb4e16d0168e52d35cacd2c6185b44281ec28c9dc"
/// );
///
/// // A malformed row is rejected with its line number...
/// let bad = "ts_us,op,chain,pair\n1000,x,ethereum,0xB4e16d0168e52d35CaCD2c6185b44281Ec28C9Dc\n";
/// let err = parse_trace(bad.as_bytes(), "bad.csv", &ReadOptions::default()).unwrap_err();
/// assert!(matches!(err, TraceError::BadRow { line: 2, .. }));
/// assert_eq!(err.to_string(), "bad.csv: line 2: op \"x\" is neither \"u\" (update) nor \"r\" (read)");
/// // ...or counted and skipped on request.
/// let trace = parse_trace(bad.as_bytes(), "bad.csv", &ReadOptions::skipping_bad_rows()).unwrap();
/// assert_eq!((trace.events.len(), trace.skipped_rows), (0, 1));
/// ```
pub fn parse_trace(
    reader: impl BufRead,
    source: &str,
    opts: &ReadOptions,
) -> Result<Trace, TraceError> {
    collect(TraceReader::new(reader, source, opts)?)
}

/// Reads a trace file (plain or gzip, detected by content).
pub fn read_trace(path: impl AsRef<Path>, opts: &ReadOptions) -> Result<Trace, TraceError> {
    collect(TraceReader::open(path, opts)?)
}

fn collect<R: BufRead>(mut reader: TraceReader<R>) -> Result<Trace, TraceError> {
    let mut builder = TraceBuilder::new();
    // Reader chain index -> builder chain index (both small: at most MAX_CHAINS).
    let mut chain_map: Vec<Option<u16>> = Vec::new();
    let mut skipped_here = 0u64;
    while let Some(raw) = reader.next_raw() {
        let raw = raw?;
        let interned = match chain_map.get(raw.chain).copied().flatten() {
            Some(chain) => builder.intern_in(chain, raw.address),
            None => {
                let name = reader.parser.chains.get(raw.chain).cloned();
                let name = name.as_deref().unwrap_or("");
                builder.chain_id(name).and_then(|chain| {
                    if chain_map.len() <= raw.chain {
                        chain_map.resize(raw.chain + 1, None);
                    }
                    chain_map[raw.chain] = Some(chain);
                    builder.intern_in(chain, raw.address)
                })
            }
        };
        match interned.and_then(|pair| builder.push_pair(raw.ts_us, raw.op, pair)) {
            Ok(()) => {}
            Err(_) if reader.opts.skip_bad_rows => skipped_here += 1,
            Err(reason) => return Err(reader.bad_row(raw.line, reason)),
        }
    }
    let mut trace = builder.finish();
    trace.skipped_rows = reader.skipped_rows() + skipped_here;
    Ok(trace)
}

/// Builds a [`Trace`] in memory, interning `(chain, address)` pairs and enforcing the same
/// rules as the file format (valid chain, non-decreasing timestamps). Used by the parser and
/// the generator, and handy in tests of trace consumers.
///
/// ```
/// use pairwarm::pair::Address;
/// use pairwarm_sim::trace::{Op, TraceBuilder};
/// let a = Address::parse("0x0000000000000000000000000000000000000001").unwrap();
/// let mut b = TraceBuilder::new();
/// b.push(5, Op::Update, "Base", a).unwrap();
/// b.push(7, Op::Read, "base", a).unwrap();
/// assert!(b.push(6, Op::Read, "base", a).is_err()); // time goes forward only
/// let trace = b.finish();
/// assert_eq!((trace.pairs.len(), trace.pairs[0].chain.as_str()), (1, "base"));
/// ```
#[derive(Debug, Default)]
pub struct TraceBuilder {
    trace: Trace,
    chains: Vec<String>,
    index: HashMap<(u16, Address), u32, foldhash::fast::RandomState>,
    last_ts: Option<u64>,
}

impl TraceBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Validates and interns a chain name (at most [`MAX_CHAINS`] distinct chains).
    pub fn chain_id(&mut self, chain: &str) -> Result<u16, RowError> {
        if let Some(ix) = self.chains.iter().position(|c| c == chain) {
            return Ok(ix as u16);
        }
        let name = normalize_chain(chain).map_err(RowError::BadChain)?;
        if let Some(ix) = self.chains.iter().position(|c| *c == name) {
            return Ok(ix as u16);
        }
        if self.chains.len() >= MAX_CHAINS {
            return Err(RowError::TooManyChains { limit: MAX_CHAINS });
        }
        self.chains.push(name);
        Ok((self.chains.len() - 1) as u16)
    }

    /// Interns `(chain, address)` and returns its index in [`Trace::pairs`].
    pub fn intern(&mut self, chain: &str, address: Address) -> Result<u32, RowError> {
        let chain = self.chain_id(chain)?;
        self.intern_in(chain, address)
    }

    fn intern_in(&mut self, chain: u16, address: Address) -> Result<u32, RowError> {
        if let Some(&ix) = self.index.get(&(chain, address)) {
            return Ok(ix);
        }
        let ix = u32::try_from(self.trace.pairs.len()).map_err(|_| RowError::TooManyPairs {
            limit: u64::from(u32::MAX),
        })?;
        let name = self
            .chains
            .get(usize::from(chain))
            .cloned()
            .unwrap_or_default();
        self.trace.pairs.push(TracePair {
            chain: name,
            address,
        });
        self.index.insert((chain, address), ix);
        Ok(ix)
    }

    /// Appends an event for an already interned pair.
    pub fn push_pair(&mut self, ts_us: u64, op: Op, pair: u32) -> Result<(), RowError> {
        if pair as usize >= self.trace.pairs.len() {
            return Err(RowError::PairIndex {
                index: pair,
                len: self.trace.pairs.len(),
            });
        }
        if let Some(previous) = self.last_ts
            && ts_us < previous
        {
            return Err(RowError::DecreasingTimestamp { ts_us, previous });
        }
        self.last_ts = Some(ts_us);
        self.trace.events.push(TraceEvent { ts_us, op, pair });
        Ok(())
    }

    /// Interns the pair and appends an event; returns the pair's index.
    pub fn push(
        &mut self,
        ts_us: u64,
        op: Op,
        chain: &str,
        address: Address,
    ) -> Result<u32, RowError> {
        if let Some(previous) = self.last_ts
            && ts_us < previous
        {
            return Err(RowError::DecreasingTimestamp { ts_us, previous });
        }
        let pair = self.intern(chain, address)?;
        self.push_pair(ts_us, op, pair)?;
        Ok(pair)
    }

    /// Events pushed so far.
    pub fn len(&self) -> usize {
        self.trace.events.len()
    }

    /// True before the first event.
    pub fn is_empty(&self) -> bool {
        self.trace.events.is_empty()
    }

    /// The finished trace.
    pub fn finish(self) -> Trace {
        self.trace
    }
}

/// Writes rows in exactly the trace format, validating as it goes (chains normalised,
/// timestamps non-decreasing), so that whatever it writes, [`parse_trace`] accepts.
pub struct TraceWriter<W: Write> {
    out: W,
    file: String,
    last_ts: Option<u64>,
    rows: u64,
    /// Last chain seen as given and as normalised (skips re-validation of repeated chains).
    last_chain: Option<(String, String)>,
    line: Vec<u8>,
}

impl TraceWriter<FileSink> {
    /// Creates `path` (gzip iff it ends in `.gz`) and writes the header.
    pub fn create(path: impl AsRef<Path>) -> Result<Self, TraceError> {
        let path = path.as_ref();
        let sink = FileSink::create(path)?;
        Self::new(sink, &path.display().to_string())
    }

    /// Flushes and closes the file (writes the gzip trailer).
    pub fn finish(self) -> Result<(), TraceError> {
        let file = self.file.clone();
        self.into_inner()?
            .finish()
            .map_err(|source| TraceError::Io {
                action: "write",
                file,
                source,
            })
    }
}

impl<W: Write> TraceWriter<W> {
    /// Wraps `out` and writes the header. `file` names the output in errors.
    pub fn new(mut out: W, file: &str) -> Result<Self, TraceError> {
        let mut header = TRACE_HEADER.as_bytes().to_vec();
        header.push(b'\n');
        out.write_all(&header).map_err(|source| TraceError::Io {
            action: "write",
            file: file.to_owned(),
            source,
        })?;
        Ok(Self {
            out,
            file: file.to_owned(),
            last_ts: None,
            rows: 0,
            last_chain: None,
            line: Vec::with_capacity(128),
        })
    }

    /// Rows written so far (without the header).
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Writes one row. The chain is normalised to lowercase; an invalid chain or a timestamp
    /// earlier than the previous row's is an error and nothing is written.
    pub fn write_row(
        &mut self,
        ts_us: u64,
        op: Op,
        chain: &str,
        address: &Address,
    ) -> Result<(), TraceError> {
        let invalid = |this: &Self, reason| TraceError::InvalidEvent {
            file: this.file.clone(),
            index: this.rows,
            reason,
        };
        if let Some(previous) = self.last_ts
            && ts_us < previous
        {
            return Err(invalid(
                self,
                RowError::DecreasingTimestamp { ts_us, previous },
            ));
        }
        let cached = matches!(&self.last_chain, Some((given, _)) if given == chain);
        if !cached {
            let name = normalize_chain(chain).map_err(|e| invalid(self, RowError::BadChain(e)))?;
            self.last_chain = Some((chain.to_owned(), name));
        }
        let chain_name = self.last_chain.as_ref().map_or("", |(_, n)| n.as_str());
        self.line.clear();
        // Writing into a Vec cannot fail.
        let _ = write!(self.line, "{ts_us},{},{chain_name},", op.code());
        let mut hex = [0u8; crate::pair::MAX_ADDRESS_TEXT];
        self.line
            .extend_from_slice(address.encode_into(&mut hex).as_bytes());
        self.line.push(b'\n');
        self.out
            .write_all(&self.line)
            .map_err(|source| TraceError::Io {
                action: "write",
                file: self.file.clone(),
                source,
            })?;
        self.last_ts = Some(ts_us);
        self.rows += 1;
        Ok(())
    }

    /// Writes one event of `trace` (its pair looked up in `trace.pairs`).
    pub fn write_event(&mut self, trace: &Trace, event: &TraceEvent) -> Result<(), TraceError> {
        let Some(pair) = trace.pairs.get(event.pair as usize) else {
            return Err(TraceError::InvalidEvent {
                file: self.file.clone(),
                index: self.rows,
                reason: RowError::PairIndex {
                    index: event.pair,
                    len: trace.pairs.len(),
                },
            });
        };
        self.write_row(event.ts_us, event.op, &pair.chain, &pair.address)
    }

    /// Flushes and returns the underlying writer.
    pub fn into_inner(mut self) -> Result<W, TraceError> {
        self.out.flush().map_err(|source| TraceError::Io {
            action: "write",
            file: self.file.clone(),
            source,
        })?;
        Ok(self.out)
    }
}

/// Writes `trace` to `path`: gzip iff the name ends in `.gz`.
pub fn write_trace(path: impl AsRef<Path>, trace: &Trace) -> Result<(), TraceError> {
    let mut writer = TraceWriter::create(path)?;
    for event in &trace.events {
        writer.write_event(trace, event)?;
    }
    writer.finish()
}

/// Writes `trace` to any writer (uncompressed) and returns it; `name` labels errors.
pub fn write_trace_to<W: Write>(out: W, name: &str, trace: &Trace) -> Result<W, TraceError> {
    let mut writer = TraceWriter::new(out, name)?;
    for event in &trace.events {
        writer.write_event(trace, event)?;
    }
    writer.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn u64_parsing_is_strict() {
        assert_eq!(parse_u64("0"), Some(0));
        assert_eq!(parse_u64("18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64("18446744073709551616"), None);
        for bad in ["", "+1", "-1", " 1", "1 ", "1.0", "1e3", "０"] {
            assert_eq!(parse_u64(bad), None, "{bad:?}");
        }
    }
}

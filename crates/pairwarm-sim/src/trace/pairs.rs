//! The optional pairs file, `pair,chain,dex,token0,token1`: which DEX a pool is on and which
//! tokens it trades. A trace alone shows *when* pools are touched; this file gives the
//! *structure* (siblings of the same token pair, triangle legs through a hub token) that a
//! structure-aware strategy or a reference detector needs.
//!
//! Token columns are opaque identifiers: the generator writes symbols (`WETH`, `USDC`), a
//! recorder may write token addresses; only equality matters.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::Path;

use crate::pair::{Address, normalize_chain};

use super::format::check_header;
use super::lines::{self, FileSink, Line, MaybeGz};
use super::{PAIRS_HEADER, ReadOptions, RowError, TraceError};

/// One pool's description.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PairInfo {
    /// Pool address.
    pub pair: Address,
    /// Chain name (normalised lowercase).
    pub chain: String,
    /// DEX name, e.g. `uniswap-v2`.
    pub dex: String,
    /// First token (symbol or address).
    pub token0: String,
    /// Second token.
    pub token1: String,
}

/// Parses a pairs file from any `BufRead` (plain or gzip). Strict: the first malformed row is
/// an error naming its line. A `(chain, pair)` described twice is an error too, since the two
/// descriptions could disagree.
///
/// ```
/// use pairwarm_sim::trace::parse_pairs;
/// let csv = "pair,chain,dex,token0,token1\n\
///            0xB4e16d0168e52d35CaCD2c6185b44281Ec28C9Dc,ethereum,uniswap-v2,USDC,WETH\n";
/// let pairs = parse_pairs(csv.as_bytes(), "pairs.csv").unwrap();
/// assert_eq!(pairs[0].dex, "uniswap-v2");
/// ```
pub fn parse_pairs(reader: impl BufRead, source: &str) -> Result<Vec<PairInfo>, TraceError> {
    let input = MaybeGz::detect(reader).map_err(|e| TraceError::Io {
        action: "read",
        file: source.to_owned(),
        source: e,
    })?;
    parse_input(input, source)
}

/// Reads a pairs file (plain or gzip, detected by content).
pub fn read_pairs(path: impl AsRef<Path>) -> Result<Vec<PairInfo>, TraceError> {
    let path = path.as_ref();
    let input = lines::open(path)?;
    parse_input(input, &path.display().to_string())
}

fn parse_input<R: BufRead>(mut input: R, source: &str) -> Result<Vec<PairInfo>, TraceError> {
    let opts = ReadOptions::default();
    let mut buf = Vec::with_capacity(256);
    check_header(&mut input, &mut buf, source, PAIRS_HEADER, &opts)?;
    let mut out = Vec::new();
    let mut seen: HashMap<(String, Address), u64, foldhash::fast::RandomState> = HashMap::default();
    let mut line_no = 1u64;
    loop {
        line_no += 1;
        let line = match lines::read_line_capped(&mut input, &mut buf, opts.max_line_len) {
            Err(e) => {
                return Err(TraceError::Io {
                    action: "read",
                    file: source.to_owned(),
                    source: e,
                });
            }
            Ok(Line::Eof) => return Ok(out),
            Ok(Line::TooLong) => Err(RowError::TooLong {
                limit: opts.max_line_len,
            }),
            Ok(Line::Ok) => lines::line_str(&buf).and_then(parse_row),
        };
        let bad = |reason| TraceError::BadRow {
            file: source.to_owned(),
            line: line_no,
            reason,
        };
        let info = line.map_err(bad)?;
        let key = (info.chain.clone(), info.pair);
        if let Some(&first_line) = seen.get(&key) {
            return Err(bad(RowError::DuplicatePair {
                chain: info.chain,
                address: info.pair,
                first_line,
            }));
        }
        seen.insert(key, line_no);
        out.push(info);
    }
}

fn parse_row(line: &str) -> Result<PairInfo, RowError> {
    let [pair, chain, dex, token0, token1] = lines::split_columns::<5>(line)?;
    let pair = Address::parse(pair).map_err(RowError::BadAddress)?;
    let chain = normalize_chain(chain).map_err(RowError::BadChain)?;
    lines::check_name("dex", dex)?;
    lines::check_name("token0", token0)?;
    lines::check_name("token1", token1)?;
    Ok(PairInfo {
        pair,
        chain,
        dex: dex.to_owned(),
        token0: token0.to_owned(),
        token1: token1.to_owned(),
    })
}

/// Writes a pairs file to `path` (gzip iff it ends in `.gz`). Every row is validated first, so
/// what is written reads back.
pub fn write_pairs(path: impl AsRef<Path>, pairs: &[PairInfo]) -> Result<(), TraceError> {
    let path = path.as_ref();
    let name = path.display().to_string();
    validate_all(&name, pairs)?;
    let sink = write_unchecked(FileSink::create(path)?, &name, pairs)?;
    sink.finish().map_err(|source| TraceError::Io {
        action: "write",
        file: name,
        source,
    })
}

/// Writes a pairs file to any writer (uncompressed) and returns it; `name` labels errors.
pub fn write_pairs_to<W: Write>(out: W, name: &str, pairs: &[PairInfo]) -> Result<W, TraceError> {
    validate_all(name, pairs)?;
    write_unchecked(out, name, pairs)
}

fn validate_all(name: &str, pairs: &[PairInfo]) -> Result<(), TraceError> {
    for (index, p) in pairs.iter().enumerate() {
        let check = || -> Result<(), RowError> {
            let chain = normalize_chain(&p.chain).map_err(RowError::BadChain)?;
            if chain != p.chain {
                return Err(RowError::BadName {
                    column: "chain",
                    input: super::clip(&p.chain),
                    why: "not in normalised (lowercase) form",
                });
            }
            lines::check_name("dex", &p.dex)?;
            lines::check_name("token0", &p.token0)?;
            lines::check_name("token1", &p.token1)
        };
        check().map_err(|reason| TraceError::InvalidEvent {
            file: name.to_owned(),
            index: index as u64,
            reason,
        })?;
    }
    Ok(())
}

fn write_unchecked<W: Write>(mut out: W, name: &str, pairs: &[PairInfo]) -> Result<W, TraceError> {
    let io_err = |source| TraceError::Io {
        action: "write",
        file: name.to_owned(),
        source,
    };
    writeln!(out, "{PAIRS_HEADER}").map_err(io_err)?;
    for p in pairs {
        writeln!(
            out,
            "{},{},{},{},{}",
            p.pair, p.chain, p.dex, p.token0, p.token1
        )
        .map_err(io_err)?;
    }
    out.flush().map_err(io_err)?;
    Ok(out)
}

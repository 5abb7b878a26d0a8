//! `pairwarm feed`: writes price updates into a Redis stream at a chosen rate — for staging,
//! load tests and the service's integration tests. By default in the original system's
//! format (a `data` batch envelope of `--batch` updates per entry, `sig` with
//! `STREAM_SIGNING_KEY`, `XADD ... MAXLEN ~`), or in pairwarm's flat format.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use pairwarm::cache::{RedisConnection, RedisTarget, RedisTls, RedisTopology, RedisUrl, Reserve};
use pairwarm_service::entry::{PriceUpdate, SigningKeys, encode_batch, encode_update, to_fields};
use pairwarm_service::feed::synthetic;
use pairwarm_sim::trace::{Op, PairInfo, ReadOptions, read_pairs, read_trace};

/// Arguments of `pairwarm feed`.
#[derive(clap::Args, Debug)]
pub struct FeedArgs {
    /// Redis URL (its password is never printed).
    #[arg(long, env = "REDIS_URL", hide_env_values = true, value_parser = crate::redis_url)]
    redis_url: RedisUrl,
    /// Replay the updates of this trace file (times moved so that its last event is now).
    #[arg(long, conflicts_with = "synthetic")]
    trace: Option<PathBuf>,
    /// Pool metadata (dex, token0, token1) for the trace's pairs.
    #[arg(long, requires = "trace")]
    pairs: Option<PathBuf>,
    /// Generate updates with the synthetic workload model.
    #[arg(long)]
    synthetic: bool,
    /// Updates per second (0: as fast as Redis takes them).
    #[arg(long, default_value_t = 10_000)]
    rate: u64,
    /// Stop after this many updates (default: the whole trace; required with --synthetic).
    #[arg(long)]
    count: Option<u64>,
    /// Stream key.
    #[arg(long, default_value = "stream:price-updates")]
    stream: String,
    /// Seed of the synthetic workload.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Entries per pipelined round trip.
    #[arg(long, default_value_t = 256)]
    pipeline: usize,
    /// Entry format: `original` (the original's `data` JSON) or `flat` (pairwarm's fields).
    #[arg(long, value_enum, default_value_t = Format::Original)]
    format: Format,
    /// Updates per entry in the original format: a batch envelope of N updates (the
    /// original's detectors batch 50-1,000); 1 writes single-update entries.
    #[arg(long, default_value_t = 50)]
    batch: usize,
    /// `MAXLEN ~` of the stream (the original's default for price updates); 0: no trimming.
    #[arg(long, default_value_t = 100_000)]
    maxlen: u64,
    /// Sign entries (`sig`) with this key, as the original does.
    #[arg(long, env = "STREAM_SIGNING_KEY", hide_env_values = true)]
    signing_key: Option<String>,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
    /// `rediss://`: CA certificates (PEM) that verify the server, instead of the system's.
    #[arg(long, env = "REDIS_TLS_CA_FILE")]
    redis_tls_ca_file: Option<PathBuf>,
    /// `rediss://`: client certificate (PEM), with --redis-tls-key-file.
    #[arg(long, env = "REDIS_TLS_CERT_FILE", requires = "redis_tls_key_file")]
    redis_tls_cert_file: Option<PathBuf>,
    /// `rediss://`: private key of the client certificate (PEM).
    #[arg(long, env = "REDIS_TLS_KEY_FILE", requires = "redis_tls_cert_file")]
    redis_tls_key_file: Option<PathBuf>,
    /// The URL is a seed node of a Redis Cluster (the stream's node is found by its slot).
    #[arg(long, env = "REDIS_CLUSTER", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    redis_cluster: bool,
}

impl FeedArgs {
    /// The Redis to feed: URL and TLS files (read here).
    fn target(&self) -> anyhow::Result<RedisTarget> {
        let read = |p: &PathBuf| std::fs::read(p).with_context(|| format!("read {}", p.display()));
        let ca_pem = self.redis_tls_ca_file.as_ref().map(read).transpose()?;
        let client_pem = match (&self.redis_tls_cert_file, &self.redis_tls_key_file) {
            (Some(cert), Some(key)) => Some((read(cert)?, read(key)?)),
            _ => None,
        };
        Ok(RedisTarget {
            url: self.redis_url.clone(),
            tls: RedisTls { ca_pem, client_pem },
            topology: if self.redis_cluster {
                RedisTopology::Cluster { seeds: Vec::new() }
            } else {
                RedisTopology::Standalone
            },
        })
    }
}

/// Entry formats `pairwarm feed` writes.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// The original's `data` document (batch envelope or single update).
    Original,
    /// pairwarm's flat fields.
    Flat,
}

/// Gives an update without reserves exact ones with its price (`price = reserve0 /
/// reserve1`, reserve1 = 10^21), as the original's entries always carry them.
fn with_reserves(mut u: PriceUpdate) -> PriceUpdate {
    const R1: u128 = 1_000_000_000_000_000_000_000;
    if u.reserve0.is_zero() && u.reserve1.is_zero() {
        let r0 = u.price * R1 as f64;
        if r0.is_finite() && r0 >= 1.0 && r0 < u128::MAX as f64 {
            u.reserve0 = Reserve::new(r0 as u128);
            u.reserve1 = Reserve::new(R1);
        }
    }
    u
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The stream fields of one entry holding `updates`.
fn entry_fields(
    args: &FeedArgs,
    keys: Option<&SigningKeys>,
    updates: &[PriceUpdate],
) -> Vec<(&'static str, String)> {
    match args.format {
        Format::Flat => {
            let mut fields = updates.first().map(to_fields).unwrap_or_default();
            if let Some(keys) = keys {
                let sig = keys.sign_flat(&args.stream, &fields);
                fields.push(("sig", sig));
            }
            fields
        }
        Format::Original => {
            let data = match updates {
                [one] if args.batch <= 1 => encode_update(one, now_ms()),
                many => encode_batch(many, now_ms()),
            };
            let mut fields = Vec::with_capacity(2);
            if let Some(keys) = keys {
                fields.push(("sig", keys.sign(&args.stream, data.as_bytes())));
            }
            fields.insert(0, ("data", data));
            fields
        }
    }
}

fn updates_from_trace(args: &FeedArgs, path: &PathBuf) -> anyhow::Result<Vec<PriceUpdate>> {
    let trace = read_trace(path, &ReadOptions::default())
        .with_context(|| format!("read trace {}", path.display()))?;
    let info: HashMap<(String, String), PairInfo> = match &args.pairs {
        Some(p) => read_pairs(p)
            .with_context(|| format!("read pairs {}", p.display()))?
            .into_iter()
            .map(|i| ((i.chain.clone(), i.pair.to_string()), i))
            .collect(),
        None => HashMap::new(),
    };
    // A deterministic random walk per pair stands in for prices the trace does not carry.
    let mut prices = vec![1.0f64; trace.pairs.len()];
    let mut state = args.seed | 1;
    let mut out = Vec::new();
    // The trace's times keep their spacing but are moved so that its last event is now:
    // serve refuses times far from when an entry reaches Redis (PAIRWARM_TIMESTAMP_*).
    let last_ms = trace.events.last().map_or(0, |e| e.ts_us / 1000);
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let shift = |ts_ms: u64| now_ms.saturating_sub(last_ms.saturating_sub(ts_ms));
    for e in trace.events.iter().filter(|e| e.op == Op::Update) {
        let pair = &trace.pairs[e.pair as usize];
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let step = ((state >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 0.002;
        let price = &mut prices[e.pair as usize];
        *price *= 1.0 + step;
        let meta = info.get(&(pair.chain.clone(), pair.address.to_string()));
        out.push(PriceUpdate {
            chain: pair.chain.clone(),
            pair: pair.address,
            dex: meta.map(|m| m.dex.to_ascii_lowercase()),
            token0: meta.map(|m| m.token0.to_ascii_lowercase()),
            token1: meta.map(|m| m.token1.to_ascii_lowercase()),
            price: *price,
            reserve0: Reserve::ZERO,
            reserve1: Reserve::ZERO,
            block: 0,
            ts_ms: Some(shift(e.ts_us / 1000)),
        });
        if args.count.is_some_and(|c| out.len() as u64 >= c) {
            break;
        }
    }
    Ok(out)
}

pub fn run(args: FeedArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("start tokio runtime")?;
    let (source, total): (Box<dyn Iterator<Item = PriceUpdate>>, u64) =
        match (&args.trace, args.synthetic) {
            (Some(path), _) => {
                let updates = updates_from_trace(&args, path)?;
                let n = updates.len() as u64;
                (Box::new(updates.into_iter()), n)
            }
            (None, true) => {
                let Some(count) = args.count else {
                    bail!("--synthetic needs --count N");
                };
                (
                    Box::new(synthetic::updates(args.seed)?.take(count as usize)),
                    count,
                )
            }
            (None, false) => bail!("give --trace FILE or --synthetic"),
        };
    runtime.block_on(feed(&args, source, total))
}

async fn feed(
    args: &FeedArgs,
    mut source: Box<dyn Iterator<Item = PriceUpdate>>,
    total: u64,
) -> anyhow::Result<()> {
    // A pipeline of hundreds of XADDs on a loaded machine can take longer than the
    // client's default 500 ms response timeout; a load tool must not give up on it. (On a
    // cluster the pipeline goes to the stream's node: one key, one slot.)
    let mut conn = RedisConnection::connect(
        &args.target()?,
        Duration::from_secs(5),
        Duration::from_secs(10),
    )
    .await
    .with_context(|| format!("connect to {}", args.redis_url))?;
    let bar = crate::progress::bar(total, "feeding", args.quiet);
    let keys = args
        .signing_key
        .as_deref()
        .map(|k| SigningKeys::new(k, None));
    let per_entry = match args.format {
        Format::Flat => 1,
        Format::Original => args.batch.max(1),
    };
    let started = Instant::now();
    let mut sent: u64 = 0;
    let mut entries: u64 = 0;
    let chunk = args.pipeline.max(1);
    let mut updates: Vec<PriceUpdate> = Vec::with_capacity(per_entry);
    loop {
        let mut pipe = redis::pipe();
        let mut n = 0;
        let mut in_pipe = 0;
        while in_pipe < chunk {
            updates.clear();
            updates.extend(source.by_ref().take(per_entry).map(with_reserves));
            if updates.is_empty() {
                break;
            }
            let mut cmd = redis::cmd("XADD");
            cmd.arg(&args.stream);
            if args.maxlen > 0 {
                cmd.arg("MAXLEN").arg("~").arg(args.maxlen);
            }
            cmd.arg("*");
            for (k, v) in entry_fields(args, keys.as_ref(), &updates) {
                cmd.arg(k).arg(v);
            }
            pipe.add_command(cmd).ignore();
            n += updates.len() as u64;
            in_pipe += 1;
        }
        if in_pipe == 0 {
            break;
        }
        pipe.query_async::<()>(&mut conn)
            .await
            .with_context(|| format!("XADD to {}", args.stream))?;
        sent += n;
        entries += in_pipe as u64;
        bar.set_position(sent);
        if args.rate > 0 {
            let due = Duration::from_secs_f64(sent as f64 / args.rate as f64);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                tokio::time::sleep(wait).await;
            }
        }
    }
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "fed {sent} updates in {entries} entries to {} in {secs:.2} s ({:.0} updates/s)",
        args.stream,
        sent as f64 / secs.max(1e-9)
    );
    Ok(())
}

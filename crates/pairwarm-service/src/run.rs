//! Wiring of `pairwarm serve`: components, tasks, signals, shutdown.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::config::{Settings, parse_env_file};
use crate::detector::{Detector, DetectorConfig, PoolRegistry};
use crate::entry::{PriceUpdate, parse_entry};
use crate::health::{HealthInputs, Status, warming_health};
use crate::processor::{Processor, ProcessorCounters, Published};
use crate::rollout::RolloutControls;
use crate::shadow::ShadowTracker;
use crate::stream::RawEntry;
use anyhow::Context;
use pairwarm::cache::{AnyL2, HierarchicalCache, MemoryL2, RedisL2, RedisL2Config};
use pairwarm::container::{WarmingComponents, WarmingContainer};
use pairwarm::metrics::{CacheLevel, DeadLetterReason, WarmingMetrics};
use pairwarm::pair::PairInterner;
use pairwarm::warmer::WarmerStats;
use tokio::sync::watch;

use super::args::ServeArgs;
use super::consumer::{ConsumerConfig, DeadLetter, StreamConsumer};
use super::http::{HealthReport, HealthStatus, HttpState, Readiness};
use super::synthetic;

type Cache = HierarchicalCache<AnyL2>;

/// Reads `--env-file` (its values override flags and the process environment).
fn env_file_vars(path: Option<&Path>) -> anyhow::Result<HashMap<String, String>> {
    let Some(path) = path else {
        return Ok(HashMap::new());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("read env file {}", path.display()))?;
    Ok(parse_env_file(&path.display().to_string(), &text)?
        .into_iter()
        .collect())
}

fn resolve(args: &ServeArgs, file: &HashMap<String, String>) -> anyhow::Result<Settings> {
    let flags = args.variables();
    Ok(Settings::from_lookup(|name| {
        file.get(name).cloned().or_else(|| flags.get(name).cloned())
    })?)
}

/// Everything the tasks share.
struct Service {
    args: ServeArgs,
    settings: parking_lot::Mutex<Settings>,
    cache: Arc<Cache>,
    parts: WarmingComponents<AnyL2>,
    processor: Processor<AnyL2>,
    rollout: Arc<RolloutControls>,
    shadow: Arc<ShadowTracker>,
    metrics: Option<Arc<WarmingMetrics>>,
    counters: Arc<ProcessorCounters>,
    redis: Option<RedisL2>,
    l2_ok: AtomicBool,
    feed_running: AtomicBool,
    /// Set when the feed task has ended, however it ended (even by a panic).
    feed_ended: AtomicBool,
    stream_lag: AtomicU64,
    stream_processed: AtomicU64,
    /// Read-to-ack time of each stream entry, µs (every entry of a batch counts once).
    entry_latency: parking_lot::Mutex<hdrhistogram::Histogram<u64>>,
    /// First and last time a batch was acknowledged (for the end-to-end rate).
    busy: parking_lot::Mutex<Option<(Instant, Instant)>>,
    dead_lettered: AtomicU64,
    published: AtomicU64,
    warmer_at_last_health: parking_lot::Mutex<Option<WarmerStats>>,
    started: Instant,
}

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let file = env_file_vars(args.env_file.as_deref())?;
    let settings = resolve(&args, &file)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("start tokio runtime")?;
    runtime.block_on(serve(args, settings))
}

fn build(args: ServeArgs, settings: Settings) -> anyhow::Result<Arc<Service>> {
    if let Some(note) = &settings.strategy_note {
        tracing::warn!("{note}");
    }
    // The embedded default's synthetic universe has ~3,500 pools: with the 64 MB default
    // (65,536 entries) everything would fit and warming would have nothing to do, so the
    // demo uses 1 MB (1,024 entries) unless CACHE_L1_SIZE says otherwise.
    let l1_size_mb = if settings.redis_url.is_none() && !settings.cache.l1_size_explicit {
        1
    } else {
        settings.cache.l1_size_mb
    };
    let l1_entries = pairwarm::cache::L1Capacity::Megabytes(l1_size_mb).entries();
    let interner = Arc::new(PairInterner::new(if settings.cache.use_price_matrix {
        l1_entries
    } else {
        (l1_entries * 4).max(1 << 16)
    }));
    let (l2, redis): (AnyL2, Option<RedisL2>) = match &settings.redis_url {
        Some(url) => {
            let redis = RedisL2::connect_lazy(&RedisL2Config::new(url.clone()))?;
            (redis.clone().into(), Some(redis))
        }
        None => (MemoryL2::new().into(), None),
    };
    let cache = Arc::new(
        HierarchicalCache::builder()
            .l1_size_mb(l1_size_mb)
            .l1_ttl(settings.cache.l1_ttl_ms.map(Duration::from_millis))
            .use_price_matrix(settings.cache.use_price_matrix)
            .l2_enabled(settings.cache.l2_enabled)
            .interner(interner.clone())
            .build(l2),
    );
    let parts = WarmingContainer::new(cache.clone(), settings.warming.clone()).build()?;
    let rollout = Arc::new(RolloutControls::new(&settings.rollout)?);
    let shadow = Arc::new(ShadowTracker::for_interner(
        &interner,
        settings.warming.tracker.window_ms.max(1000) * 5,
    ));
    let mut fees = HashMap::new();
    for spec in &args.dex_fee {
        let (dex, bps) = spec
            .split_once('=')
            .and_then(|(d, b)| Some((d.trim().to_ascii_lowercase(), b.trim().parse::<f64>().ok()?)))
            .with_context(|| format!("--dex-fee {spec:?}: expected <dex>=<basis points>"))?;
        fees.insert(dex, bps);
    }
    let detector = Arc::new(Detector::new(
        Arc::new(PoolRegistry::new(interner.clone())),
        DetectorConfig {
            default_fee_bps: args.fee_bps,
            dex_fees_bps: fees,
            min_spread_bps: args.min_spread_bps,
            hub_tokens: args.hub_tokens.clone(),
            ..DetectorConfig::default()
        },
    ));
    let counters = Arc::new(ProcessorCounters::default());
    let metrics = parts.metrics.clone();
    let processor = Processor {
        cache: cache.clone(),
        tracker: parts.tracker.clone(),
        warmer: Some(parts.warmer.clone()),
        rollout: rollout.clone(),
        shadow: shadow.clone(),
        detector,
        metrics: metrics.clone(),
        counters: counters.clone(),
    };
    Ok(Arc::new(Service {
        args,
        settings: parking_lot::Mutex::new(settings),
        cache,
        parts,
        processor,
        rollout,
        shadow,
        metrics,
        counters,
        redis,
        l2_ok: AtomicBool::new(true),
        feed_running: AtomicBool::new(false),
        feed_ended: AtomicBool::new(false),
        stream_lag: AtomicU64::new(0),
        stream_processed: AtomicU64::new(0),
        entry_latency: parking_lot::Mutex::new(
            hdrhistogram::Histogram::new_with_bounds(1, 60_000_000, 3)
                .context("latency histogram")?,
        ),
        busy: parking_lot::Mutex::new(None),
        dead_lettered: AtomicU64::new(0),
        published: AtomicU64::new(0),
        warmer_at_last_health: parking_lot::Mutex::new(None),
        started: Instant::now(),
    }))
}

async fn serve(args: ServeArgs, settings: Settings) -> anyhow::Result<()> {
    let listen = args
        .listen
        .unwrap_or_else(|| std::net::SocketAddr::from(([127, 0, 0, 1], settings.metrics_port)));
    // Before anything else: until a handler is registered, SIGTERM, SIGINT and SIGHUP
    // keep their default action and end the process without a graceful shutdown (a
    // SIGTERM or SIGHUP right after the banner killed it).
    let mut signals = Signals::register()?;
    let service = build(args, settings)?;
    if restore_snapshot(&service).await {
        // Warm start: an empty L1 would miss every first read; preload the hottest pairs
        // the restored tracker knows, in one batched L2 fetch, bounded by the L1 size.
        let result = service
            .parts
            .warmer
            .warm_start(pairwarm::warmer::wall_clock_ms())
            .await;
        eprintln!(
            "warm start: {} of {} hottest pairs loaded into L1 ({:?})",
            result.pairs_warmed, result.pairs_attempted, result.status
        );
    }

    let (stop_tx, stop_rx) = watch::channel(false);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("bind HTTP listener on {listen}"))?;
    let mode = if service.redis.is_some() {
        "Redis Streams feed"
    } else {
        "embedded default: in-memory L2, synthetic feed"
    };
    eprintln!(
        "pairwarm serve: {mode}; L1 {} entries; strategy {}; http://{} (/metrics /health /ready /health/warming)",
        service.cache.l1_capacity(),
        service.parts.strategy.name(),
        listener.local_addr().unwrap_or(listen),
    );
    let http = tokio::spawn({
        let state = http_state(&service);
        let mut rx = stop_rx.clone();
        async move {
            let shutdown = async move {
                let _ = rx.wait_for(|s| *s).await;
            };
            super::http::serve(listener, state, shutdown).await
        }
    });
    let feed = tokio::spawn(feed_task(service.clone(), stop_rx.clone()));
    let background = tokio::spawn(background_task(service.clone(), stop_rx.clone()));
    let refresh = tokio::spawn(refresh_task(service.clone(), stop_rx.clone()));

    wait_for_shutdown(&service, &mut signals).await;
    eprintln!("pairwarm serve: shutting down");
    let _ = stop_tx.send(true);
    let deadline = service.args.shutdown_timeout;
    let feed_failed = parking_lot::Mutex::new(None::<String>);
    let graceful = async {
        match feed.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => *feed_failed.lock() = Some(format!("feed stopped with an error: {e:#}")),
            Err(e) => *feed_failed.lock() = Some(format!("feed task panicked: {e}")),
        }
        service.parts.warmer.drain(Duration::from_secs(2)).await;
        service.parts.warmer.shutdown();
        save_snapshot(&service).await;
        let _ = background.await;
        let _ = refresh.await;
        let _ = http.await;
    };
    if tokio::time::timeout(deadline, graceful).await.is_err() {
        tracing::warn!(?deadline, "graceful shutdown took too long; exiting anyway");
    }
    print_status(&service, &mut StatusWindow::default(), true);
    print_stream_summary(&service);
    match feed_failed.into_inner() {
        // A supervisor must see a service whose feed died exit with an error.
        Some(reason) => Err(anyhow::anyhow!(reason)),
        None => Ok(()),
    }
}

/// End-to-end figures of a Redis run: entries/s from the first to the last batch, and the
/// per-entry read-to-ack latency.
fn print_stream_summary(service: &Service) {
    let processed = service.stream_processed.load(Ordering::Relaxed);
    let Some((first, last)) = *service.busy.lock() else {
        return;
    };
    let secs = (last - first).as_secs_f64().max(1e-6);
    let h = service.entry_latency.lock();
    eprintln!(
        "stream: {processed} entries in {secs:.2} s = {:.0} entries/s; read-to-ack latency per entry p50 {} µs, p99 {} µs, max {} µs",
        processed as f64 / secs,
        h.value_at_quantile(0.5),
        h.value_at_quantile(0.99),
        h.max()
    );
}

/// The process signals serve reacts to, registered once at start.
struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    #[cfg(unix)]
    fn register() -> anyhow::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            term: signal(SignalKind::terminate()).context("install the SIGTERM handler")?,
            int: signal(SignalKind::interrupt()).context("install the SIGINT handler")?,
            hup: signal(SignalKind::hangup()).context("install the SIGHUP handler")?,
        })
    }

    #[cfg(not(unix))]
    fn register() -> anyhow::Result<Self> {
        Ok(Self {})
    }
}

async fn wait_for_shutdown(service: &Arc<Service>, signals: &mut Signals) {
    #[cfg(unix)]
    loop {
        tokio::select! {
            _ = signals.int.recv() => return,
            _ = signals.term.recv() => return,
            _ = signals.hup.recv() => reload(service),
            _ = feed_done(service) => return,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = signals;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = feed_done(service) => {}
        }
    }
}

/// Resolves once the feed has stopped by itself (e.g. `--max-updates` reached).
async fn feed_done(service: &Arc<Service>) {
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if service.feed_ended.load(Ordering::Acquire) {
            return;
        }
        let done = service.counters.updates.load(Ordering::Relaxed)
            + service.dead_lettered.load(Ordering::Relaxed);
        if service.args.max_updates.is_some_and(|max| done >= max) {
            return;
        }
    }
}

/// SIGHUP: re-read the env file and apply what can change without a restart.
fn reload(service: &Arc<Service>) {
    let file = match env_file_vars(service.args.env_file.as_deref()) {
        Ok(f) => f,
        Err(e) => {
            tracing::error!(error = %e, "SIGHUP: env file unreadable; nothing changed");
            return;
        }
    };
    let new = match resolve(&service.args, &file) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "SIGHUP: invalid settings; nothing changed");
            return;
        }
    };
    let mut current = service.settings.lock();
    // Only what the file changed since the last load is applied to the rollout, so a
    // SIGHUP for another setting does not undo an emergency switch made through the
    // admin endpoint.
    let (was, now) = (&current.rollout, &new.rollout);
    let update = crate::rollout::RolloutUpdate {
        enabled: (was.enabled != now.enabled).then_some(now.enabled),
        shadow_mode: (was.shadow_mode != now.shadow_mode).then_some(now.shadow_mode),
        percentage: (was.percentage != now.percentage).then_some(now.percentage),
        enabled_chains: (was.enabled_chains != now.enabled_chains)
            .then(|| now.enabled_chains.clone().unwrap_or_default()),
    };
    if update != crate::rollout::RolloutUpdate::default() {
        match service.rollout.apply(&update) {
            Ok(state) => tracing::warn!(?state, "SIGHUP: rollout applied"),
            Err(e) => tracing::error!(error = %e, "SIGHUP: rollout rejected"),
        }
    }
    let mut warmer_config = new.warming.warmer.clone();
    warmer_config.queue_capacity = service.parts.warmer.config().queue_capacity;
    warmer_config.enabled = service.rollout.enabled();
    if let Err(e) = service.parts.warmer.update_config(warmer_config) {
        tracing::error!(error = %e, "SIGHUP: warmer config rejected");
    }
    if new.warming.strategy != current.warming.strategy {
        service
            .parts
            .warmer
            .set_strategy(new.warming.strategy.build());
        tracing::warn!(
            strategy = new.warming.strategy.kind(),
            "SIGHUP: strategy replaced"
        );
    }
    if new.cache != current.cache
        || new.redis_url != current.redis_url
        || new.metrics_port != current.metrics_port
    {
        tracing::warn!(
            "SIGHUP: cache, Redis and port settings need a restart; kept the running ones"
        );
    }
    *current = new;
    tracing::warn!(file = ?service.args.env_file, "SIGHUP: settings reloaded");
}

/// Marks the feed stopped when its task ends, including by a panic, so `/ready` and the
/// shutdown wait see it.
struct FeedGuard(Arc<Service>);

impl Drop for FeedGuard {
    fn drop(&mut self) {
        self.0.feed_running.store(false, Ordering::Relaxed);
        self.0.feed_ended.store(true, Ordering::Release);
    }
}

async fn feed_task(service: Arc<Service>, stop: watch::Receiver<bool>) -> anyhow::Result<()> {
    let _guard = FeedGuard(service.clone());
    service.feed_running.store(true, Ordering::Relaxed);
    let result = match &service.redis {
        Some(_) => consume(&service, stop).await,
        None => {
            synthetic::run(
                &service.processor,
                service.args.rate,
                service.args.seed,
                service.args.max_updates,
                stop,
            )
            .await
        }
    };
    service.feed_running.store(false, Ordering::Relaxed);
    result
}

fn consumer_name(args: &ServeArgs) -> String {
    args.consumer.clone().unwrap_or_else(|| {
        let host = std::fs::read_to_string("/etc/hostname")
            .ok()
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "pairwarm".to_owned());
        format!("{host}-{}", std::process::id())
    })
}

/// Reads the streams until told to stop; reconnects with backoff on errors. Entries are
/// acknowledged only after processing, so a failure mid-batch leaves them pending and they
/// are read again (own pending entries first) after the reconnect.
async fn consume(service: &Arc<Service>, mut stop: watch::Receiver<bool>) -> anyhow::Result<()> {
    let Some(url) = service.settings.lock().redis_url.clone() else {
        return Ok(());
    };
    let cfg = ConsumerConfig {
        url,
        streams: service.args.streams.clone(),
        group: service.args.group.clone(),
        consumer: consumer_name(&service.args),
        count: service.args.count,
        block_ms: service.args.block_ms,
        claim_idle_ms: service.args.claim_idle_ms,
        claim_every: Duration::from_millis((service.args.claim_idle_ms / 2).clamp(100, 30_000)),
    };
    let mut backoff = Duration::from_millis(100);
    let mut last_lag = Instant::now() - Duration::from_secs(60);
    'connect: loop {
        if *stop.borrow() {
            return Ok(());
        }
        let mut consumer = match StreamConsumer::connect(cfg.clone()).await {
            Ok(c) => {
                service.feed_running.store(true, Ordering::Relaxed);
                c
            }
            Err(e) => {
                service.feed_running.store(false, Ordering::Relaxed);
                tracing::warn!(error = %format!("{e:#}"), ?backoff, "stream consumer cannot connect; retrying");
                pause(&mut backoff, &mut stop).await;
                continue 'connect;
            }
        };
        // While a batch is processed the next one is already being read (and parsed) on
        // the consumer's own connection, so Redis, parsing and processing overlap.
        let mut prefetch: Option<tokio::task::JoinHandle<anyhow::Result<Vec<RawEntry>>>> = None;
        loop {
            if *stop.borrow() {
                // Entries already read are processed and acknowledged before stopping.
                if let Some(ahead) = prefetch.take()
                    && let Ok(Ok(batch)) = ahead.await
                    && !batch.is_empty()
                {
                    handle_batch(service, &mut consumer, &batch).await?;
                }
                return Ok(());
            }
            if last_lag.elapsed() >= Duration::from_secs(1) {
                last_lag = Instant::now();
                if let Ok(lag) = consumer.lag().await {
                    service.stream_lag.store(lag, Ordering::Relaxed);
                    if let Some(m) = &service.metrics {
                        m.stream().set_consumer_lag(lag);
                    }
                }
            }
            let batch = match prefetch.take() {
                Some(ahead) => ahead.await.map_err(anyhow::Error::from).and_then(|r| r),
                None => consumer.next_batch().await,
            };
            let batch = match batch {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), ?backoff, "stream read failed; reconnecting");
                    service.feed_running.store(false, Ordering::Relaxed);
                    pause(&mut backoff, &mut stop).await;
                    continue 'connect;
                }
            };
            if batch.is_empty() {
                continue;
            }
            if consumer.can_prefetch() && !*stop.borrow() {
                prefetch = Some(tokio::spawn(consumer.prefetch()));
            }
            if let Err(e) = handle_batch(service, &mut consumer, &batch).await {
                tracing::warn!(error = %format!("{e:#}"), ?backoff, "batch not fully acknowledged; what is pending is re-read after reconnecting");
                // Let a read already sent land in the pending list before recovery reads it.
                if let Some(ahead) = prefetch.take() {
                    let _ = ahead.await;
                }
                pause(&mut backoff, &mut stop).await;
                continue 'connect;
            }
            backoff = Duration::from_millis(100);
            if let Some(max) = service.args.max_updates
                && service.stream_processed.load(Ordering::Relaxed) >= max
            {
                if let Some(ahead) = prefetch.take()
                    && let Ok(Ok(batch)) = ahead.await
                    && !batch.is_empty()
                {
                    handle_batch(service, &mut consumer, &batch).await?;
                }
                return Ok(());
            }
        }
    }
}

/// Waits `backoff` (or until told to stop), then doubles it up to 5 s: failures never spin.
async fn pause(backoff: &mut Duration, stop: &mut watch::Receiver<bool>) {
    tokio::select! {
        _ = tokio::time::sleep(*backoff) => {}
        _ = stop.changed() => {}
    }
    *backoff = (*backoff * 2).min(Duration::from_secs(5));
}

async fn handle_batch(
    service: &Arc<Service>,
    consumer: &mut StreamConsumer,
    batch: &[RawEntry],
) -> anyhow::Result<()> {
    let received = Instant::now();
    let mut updates: Vec<PriceUpdate> = Vec::with_capacity(batch.len());
    let mut good: HashMap<&str, Vec<&str>> = HashMap::new();
    let mut letters: Vec<DeadLetter<'_>> = Vec::new();
    for entry in batch {
        match &entry.fields {
            None => letters.push(DeadLetter {
                entry,
                reason: "deleted",
                detail: "entry was deleted from the stream while pending".into(),
            }),
            Some(fields) => match parse_entry(fields) {
                // The processor cannot intern a chain beyond the interner's chain limit
                // and would skip the update; dead-letter it here instead of acknowledging
                // it as processed.
                Ok(update) if let Err(e) = service.cache.interner().chain_id(&update.chain) => {
                    letters.push(DeadLetter {
                        entry,
                        reason: "chain_limit",
                        detail: e.to_string(),
                    });
                }
                Ok(update) => {
                    updates.push(update);
                    good.entry(&*entry.stream)
                        .or_default()
                        .push(entry.id.as_str());
                }
                Err(e) => letters.push(DeadLetter {
                    entry,
                    reason: e.reason(),
                    detail: e.to_string(),
                }),
            },
        }
    }
    let found = service.processor.process(&updates).await;
    publish(service, consumer, &found).await;
    // The good entries are processed: acknowledge them whatever happens to the bad ones.
    for (stream, ids) in &good {
        consumer.ack(stream, ids).await?;
    }
    let copied = consumer.dead_letter(&letters).await?;
    let dead = copied.iter().filter(|c| **c).count() as u64;
    let n = good.values().map(|ids| ids.len() as u64).sum::<u64>() + dead;
    let done = Instant::now();
    let micros = (done - received).as_micros().max(1) as u64;
    let _ = service
        .entry_latency
        .lock()
        .record_n(micros.min(60_000_000), n);
    {
        let mut busy = service.busy.lock();
        let first = busy.map_or(received, |(first, _)| first);
        *busy = Some((first, done));
    }
    service.stream_processed.fetch_add(n, Ordering::Relaxed);
    service.dead_lettered.fetch_add(dead, Ordering::Relaxed);
    if let Some(m) = &service.metrics {
        m.stream().entries_processed.inc_by(n);
        for (l, _) in letters.iter().zip(&copied).filter(|(_, c)| **c) {
            let reason = if l.entry.fields.is_none() {
                DeadLetterReason::Trimmed
            } else if l.reason == "chain_limit" {
                DeadLetterReason::Other
            } else {
                DeadLetterReason::Malformed
            };
            m.stream().dead_letter(reason).inc();
        }
    }
    if dead < letters.len() as u64 {
        anyhow::bail!(
            "{} dead-letter copies were refused by Redis; those entries stay pending and are retried",
            letters.len() as u64 - dead
        );
    }
    Ok(())
}

/// Publishes opportunities to the opportunities stream (best effort: a failure is logged
/// and counted, never blocks the price feed).
async fn publish(service: &Arc<Service>, _consumer: &mut StreamConsumer, found: &[Published]) {
    service
        .published
        .fetch_add(found.len() as u64, Ordering::Relaxed);
    let Some(redis) = &service.redis else {
        return;
    };
    if found.is_empty() {
        return;
    }
    let mut pipe = redis::pipe();
    for o in found {
        pipe.cmd("XADD")
            .arg(&service.args.opportunities_stream)
            .arg("MAXLEN")
            .arg("~")
            .arg(100_000)
            .arg("*")
            .arg("chain")
            .arg(&o.chain)
            .arg("kind")
            .arg(o.opportunity.kind.as_str())
            .arg("pool")
            .arg(&o.pool)
            .arg("buy")
            .arg(&o.buy)
            .arg("sell")
            .arg(&o.sell)
            .arg("spread_bps")
            .arg(format!("{:.2}", o.opportunity.spread_bps))
            .arg("ts_ms")
            .arg(o.ts_ms)
            .ignore();
    }
    let mut conn = redis.connection();
    if let Err(e) = pipe.query_async::<()>(&mut conn).await {
        tracing::debug!(error = %e, "publishing opportunities failed");
    }
}

#[derive(Default)]
struct StatusWindow {
    at: Option<Instant>,
    updates: u64,
    reads: (u64, u64),
    warms: u64,
    opportunities: u64,
}

fn print_status(service: &Service, window: &mut StatusWindow, last: bool) {
    let now = Instant::now();
    let secs = window
        .at
        .map_or(service.started.elapsed(), |t| now - t)
        .as_secs_f64()
        .max(1e-3);
    let updates = service.counters.updates.load(Ordering::Relaxed);
    let cache = service.cache.stats();
    let warmer = service.parts.warmer.stats();
    let opportunities = service.counters.opportunities.load(Ordering::Relaxed);
    let (hits, misses) = (
        cache.l1.hits - window.reads.0,
        cache.l1.misses - window.reads.1,
    );
    let hit_rate = if hits + misses == 0 {
        0.0
    } else {
        hits as f64 / (hits + misses) as f64
    };
    let shadow = service.shadow.stats();
    eprintln!(
        "{}{:>8.0} updates/s | L1 hit {:>6.2}% | warms {:>7} (+{}) warmed {} | opportunities {} (+{}) | queue {} | lag {}{}",
        if last { "final: " } else { "" },
        (updates - window.updates) as f64 / secs,
        hit_rate * 100.0,
        warmer.total_warming_ops,
        warmer.total_warming_ops - window.warms,
        warmer.total_pairs_warmed,
        opportunities,
        opportunities - window.opportunities,
        warmer.queue_depth,
        service.stream_lag.load(Ordering::Relaxed),
        if service.rollout.state().shadow_mode {
            format!(
                " | shadow would-have-hit {:.2}%",
                shadow.would_have_added_hit_rate * 100.0
            )
        } else {
            String::new()
        }
    );
    *window = StatusWindow {
        at: Some(now),
        updates,
        reads: (cache.l1.hits, cache.l1.misses),
        warms: warmer.total_warming_ops,
        opportunities,
    };
}

/// Status line, snapshots, L2 health checks.
async fn background_task(service: Arc<Service>, mut stop: watch::Receiver<bool>) {
    let mut window = StatusWindow::default();
    let status_every = service.args.status_interval;
    let mut next_status = Instant::now() + status_every;
    let mut next_snapshot = Instant::now() + service.args.snapshot_interval;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            _ = stop.changed() => return,
        }
        if let Some(redis) = &service.redis {
            let ok = redis.ping().await.is_ok();
            if service.l2_ok.swap(ok, Ordering::Relaxed) != ok {
                if ok {
                    tracing::info!("Redis reachable again");
                } else {
                    tracing::warn!("Redis unreachable: warming degrades, L1 keeps serving");
                }
            }
        }
        if !status_every.is_zero() && Instant::now() >= next_status {
            next_status += status_every;
            print_status(&service, &mut window, false);
        }
        if service.args.snapshot.is_some() && Instant::now() >= next_snapshot {
            next_snapshot += service.args.snapshot_interval;
            save_snapshot(&service).await;
        }
    }
}

enum SnapshotTarget {
    File(PathBuf),
    Redis(String),
}

fn snapshot_target(spec: &str) -> SnapshotTarget {
    match spec.strip_prefix("redis:") {
        Some(key) => SnapshotTarget::Redis(key.to_owned()),
        None => SnapshotTarget::File(PathBuf::from(spec)),
    }
}

async fn save_snapshot(service: &Service) {
    let Some(spec) = &service.args.snapshot else {
        return;
    };
    let bytes = service.parts.tracker.snapshot(service.cache.interner());
    let result: anyhow::Result<()> = match snapshot_target(spec) {
        SnapshotTarget::File(path) => {
            let tmp = path.with_extension("tmp");
            std::fs::write(&tmp, &bytes)
                .and_then(|()| std::fs::rename(&tmp, &path))
                .with_context(|| format!("write snapshot {}", path.display()))
        }
        SnapshotTarget::Redis(key) => match &service.redis {
            None => Err(anyhow::anyhow!("--snapshot redis:{key} needs REDIS_URL")),
            Some(redis) => redis::cmd("SET")
                .arg(&key)
                .arg(bytes.as_slice())
                .query_async::<()>(&mut redis.connection())
                .await
                .with_context(|| format!("SET snapshot key {key}")),
        },
    };
    match result {
        Ok(()) => tracing::info!(bytes = bytes.len(), "tracker snapshot saved"),
        Err(e) => tracing::warn!(error = %format!("{e:#}"), "tracker snapshot not saved"),
    }
}

/// Refresh-ahead while L1 has a TTL (`CACHE_L1_TTL_MS`): every `interval_ms`, one batched
/// L2 fetch renews the entries being read that would expire before the next batch.
async fn refresh_task(service: Arc<Service>, mut stop: watch::Receiver<bool>) {
    if service.cache.l1_ttl_ms().is_none() {
        return;
    }
    let config = pairwarm::warmer::RefreshConfig::default();
    // Slack for the fetch itself: a Redis round trip is well under this.
    const L2_LATENCY_MARGIN_MS: u64 = 5;
    let mut tick = tokio::time::interval(Duration::from_millis(config.interval_ms));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                service.parts.warmer.refresh_once(&config, L2_LATENCY_MARGIN_MS).await;
            }
            _ = stop.changed() => return,
        }
    }
}

/// Restores the tracker snapshot if one is configured and readable; returns whether it was.
async fn restore_snapshot(service: &Service) -> bool {
    let Some(spec) = &service.args.snapshot else {
        return false;
    };
    let bytes: Option<Vec<u8>> = match snapshot_target(spec) {
        SnapshotTarget::File(path) => std::fs::read(&path).ok(),
        SnapshotTarget::Redis(key) => match &service.redis {
            None => None,
            Some(redis) => redis::cmd("GET")
                .arg(&key)
                .query_async::<Option<Vec<u8>>>(&mut redis.connection())
                .await
                .ok()
                .flatten(),
        },
    };
    let Some(bytes) = bytes else {
        tracing::info!("no tracker snapshot to restore; starting empty");
        return false;
    };
    match service
        .parts
        .tracker
        .restore(service.cache.interner(), &bytes)
    {
        Ok(report) => {
            eprintln!("restored tracker snapshot: {report:?}");
            let signal = service.parts.tracker.config().signal;
            if report.signal != signal {
                tracing::warn!(
                    snapshot = ?report.signal,
                    configured = ?signal,
                    "the snapshot was learned from another signal; its scores mean something else until relearned"
                );
            }
            true
        }
        Err(e) => {
            tracing::warn!(error = %e, "tracker snapshot rejected; starting empty");
            false
        }
    }
}

fn http_state(service: &Arc<Service>) -> HttpState {
    let scrape = service.clone();
    let health = service.clone();
    let ready = service.clone();
    let change = service.clone();
    HttpState {
        metrics: service.metrics.clone(),
        before_scrape: Arc::new(move || {
            let s = &scrape;
            if let Some(m) = &s.metrics {
                m.sync_cache(&s.cache.stats_by_chain());
                let w = s.parts.warmer.stats();
                m.set_pending((w.queue_depth as u64 + w.in_flight) as usize);
                m.set_cache_entries(CacheLevel::L1, s.cache.l1_len());
                // Tracked pairs per chain (at most max_tracked_pairs lookups per scrape).
                let interner = s.cache.interner();
                let mut per_chain = [0usize; pairwarm::pair::MAX_CHAINS];
                s.parts.tracker.for_each_tracked(|id| {
                    if let Some(n) = per_chain.get_mut(interner.chain_of(id).index()) {
                        *n += 1;
                    }
                });
                for (i, name) in interner.chain_names().iter().enumerate() {
                    if let Ok(chain) = interner.chain_id(name) {
                        m.chain(chain, name).set_pairs_tracked(per_chain[i]);
                    }
                }
            }
        }),
        health: Arc::new(move || {
            let s = &health;
            let tracker = s.parts.tracker.stats();
            let warmer = s.parts.warmer.stats();
            let before = s.warmer_at_last_health.lock().replace(warmer);
            let mut failures = Vec::new();
            if !s.feed_running.load(Ordering::Relaxed) {
                failures.push("price feed not running".to_owned());
            }
            let strategy = s.parts.warmer.strategy();
            let (status, body) = warming_health(&HealthInputs {
                tracker: &tracker,
                warmer: Some(&warmer),
                warmer_before: before.as_ref(),
                cache: &s.cache.stats(),
                strategy: Some((strategy.name(), strategy.config())),
                l2_ok: s
                    .settings
                    .lock()
                    .cache
                    .l2_enabled
                    .then(|| s.l2_ok.load(Ordering::Relaxed)),
                extra: vec![
                    (
                        "rollout",
                        serde_json::to_value(s.rollout.state()).unwrap_or_default(),
                    ),
                    (
                        "shadow",
                        serde_json::to_value(s.shadow.stats()).unwrap_or_default(),
                    ),
                    (
                        "stream",
                        serde_json::json!({
                            "mode": if s.redis.is_some() { "redis" } else { "synthetic" },
                            "lag": s.stream_lag.load(Ordering::Relaxed),
                            "processed": s.stream_processed.load(Ordering::Relaxed),
                            "deadLettered": s.dead_lettered.load(Ordering::Relaxed),
                            "feedRunning": s.feed_running.load(Ordering::Relaxed),
                        }),
                    ),
                    (
                        "detector",
                        serde_json::json!({
                            "reads": s.counters.detector_reads.load(Ordering::Relaxed),
                            "opportunities": s.counters.opportunities.load(Ordering::Relaxed),
                            "updates": s.counters.updates.load(Ordering::Relaxed),
                        }),
                    ),
                    (
                        "uptimeSeconds",
                        serde_json::json!(s.started.elapsed().as_secs()),
                    ),
                ],
                failures,
            });
            HealthReport {
                status: match status {
                    Status::Healthy => HealthStatus::Healthy,
                    Status::Degraded => HealthStatus::Degraded,
                    Status::Unhealthy => HealthStatus::Unhealthy,
                },
                body,
            }
        }),
        ready: Arc::new(move || {
            let s = &ready;
            let l2 = s.redis.is_none() || s.l2_ok.load(Ordering::Relaxed);
            let feed = s.feed_running.load(Ordering::Relaxed);
            Readiness {
                ready: l2 && feed,
                checks: vec![
                    (
                        "l2".into(),
                        l2,
                        if s.redis.is_some() {
                            "redis PING"
                        } else {
                            "in-memory"
                        }
                        .into(),
                    ),
                    (
                        "feed".into(),
                        feed,
                        if s.redis.is_some() {
                            "stream consumer"
                        } else {
                            "synthetic feed"
                        }
                        .into(),
                    ),
                ],
            }
        }),
        rollout: service.rollout.clone(),
        admin_token: service.settings.lock().admin_token.clone(),
        on_rollout_change: Arc::new(move |state| {
            change.parts.warmer.set_enabled(state.enabled);
        }),
    }
}

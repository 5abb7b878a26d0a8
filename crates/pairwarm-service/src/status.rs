//! The status line (every `PAIRWARM_STATUS_INTERVAL`, and a `final:` one at shutdown) and
//! the stream summary of a Redis run, logged at `info`.

use std::sync::atomic::Ordering;
use std::time::Instant;

use crate::shared::Shared;

/// Counters at the previous line, so each line shows rates over its own interval.
#[derive(Default)]
pub(crate) struct Window {
    at: Option<Instant>,
    updates: u64,
    reads: (u64, u64),
    warms: u64,
    opportunities: u64,
}

/// One status line; advances `window`.
fn line(inner: &Shared, window: &mut Window) -> String {
    let now = Instant::now();
    let secs = window
        .at
        .map_or(inner.started.elapsed(), |t| now - t)
        .as_secs_f64()
        .max(1e-3);
    let counters = &inner.processor.counters;
    let updates = counters.updates.load(Ordering::Relaxed);
    let cache = inner.cache.stats();
    let warmer = inner.parts.warmer.stats();
    let opportunities = counters.opportunities.load(Ordering::Relaxed);
    let (hits, misses) = (
        cache.l1.hits - window.reads.0,
        cache.l1.misses - window.reads.1,
    );
    let hit_rate = if hits + misses == 0 {
        0.0
    } else {
        hits as f64 / (hits + misses) as f64
    };
    let shadow = if inner.rollout.state().shadow_mode {
        format!(
            " | shadow would-have-hit {:.2}%",
            inner.shadow.stats().would_have_added_hit_rate * 100.0
        )
    } else {
        String::new()
    };
    let text = format!(
        "{:>8.0} updates/s | L1 hit {:>6.2}% | warms {:>7} (+{}) warmed {} | opportunities {} (+{}) | queue {} | lag {}{shadow}",
        (updates - window.updates) as f64 / secs,
        hit_rate * 100.0,
        warmer.total_warming_ops,
        warmer.total_warming_ops - window.warms,
        warmer.total_pairs_warmed,
        opportunities,
        opportunities - window.opportunities,
        warmer.queue_depth,
        inner.stats.lag.load(Ordering::Relaxed),
    );
    *window = Window {
        at: Some(now),
        updates,
        reads: (cache.l1.hits, cache.l1.misses),
        warms: warmer.total_warming_ops,
        opportunities,
    };
    text
}

/// Logs a status line.
pub(crate) fn log(inner: &Shared, window: &mut Window) {
    tracing::info!("{}", line(inner, window));
}

/// Logs the run's final status line and, for a Redis run, its stream figures.
pub(crate) fn log_final(inner: &Shared) {
    tracing::info!("final: {}", line(inner, &mut Window::default()));
    if let Some(s) = inner.stats.summary() {
        let (p50, p99, max) = s.latency_us;
        let updates = inner
            .processor
            .counters
            .updates
            .load(std::sync::atomic::Ordering::Relaxed);
        tracing::info!(
            "stream: {} entries ({updates} updates) in {:.2} s = {:.0} entries/s, {:.0} updates/s; read-to-ack latency per entry p50 {p50} µs, p99 {p99} µs, max {max} µs",
            s.entries,
            s.seconds,
            s.per_second,
            updates as f64 / s.seconds
        );
    }
}

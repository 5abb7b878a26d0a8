//! The running service as a library: configuration, the stream entry format, rollout
//! controls, the reference detector, the per-batch pipeline, the Redis Streams consumer,
//! snapshots, reload and the HTTP endpoints. The `pairwarm serve` binary is a thin front.
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

pub mod args;
pub mod config;
pub mod consumer;
pub mod detector;
pub mod entry;
pub mod health;
pub mod http;
pub mod processor;
pub mod rollout;
pub mod run;
pub mod shadow;
pub mod stream;
pub mod synthetic;

// The core crate's modules under the paths this crate's modules used when they lived in
// `pairwarm` (`crate::cache`, `crate::pair`, ...).
use pairwarm::{cache, container, metrics, pair, strategy, tracker, warmer};

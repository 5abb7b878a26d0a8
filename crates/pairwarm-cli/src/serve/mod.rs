//! `pairwarm serve`: the long-running service.
//!
//! | module | role |
//! |---|---|
//! | [`args`] | every flag and its environment variable |
//! | [`run`] | wiring: components, tasks, signals (SIGTERM/SIGINT graceful stop, SIGHUP reload), shutdown |
//! | [`consumer`] | Redis Streams consumer group: XREADGROUP, XAUTOCLAIM, XACK after processing, dead-letter stream |
//! | [`synthetic`] | the embedded default's feed (the trace generator's model, paced in real time) |
//! | [`http`] | `/metrics`, `/health`, `/ready`, `/health/warming`, `/admin/warming` |
//!
//! The per-update pipeline itself (cache write-through, tracking, rollout, warming,
//! detector) is the library's [`pairwarm::service::processor`].

pub mod args;
pub mod consumer;
pub mod http;
pub mod run;
pub mod synthetic;

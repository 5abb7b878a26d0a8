//! The running service's library side: the stream entry format, rollout controls, the
//! reference detector and the health document. The `pairwarm serve` binary wires these to
//! Redis Streams and HTTP.

pub mod detector;
pub mod entry;
pub mod health;
pub mod processor;
pub mod rollout;
pub mod shadow;
pub mod stream;

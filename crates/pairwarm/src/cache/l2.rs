//! The L2 interface: a shared, slower store of encoded prices (Redis in production).
//!
//! The cache speaks bytes to L2 and does the encoding itself ([`codec`](super::codec)), so
//! every backend stores exactly what Redis stores and bad values are caught in one place.

use std::future::Future;
use std::time::Duration;

/// Failure of an L2 call. Never a panic, never a hang past the configured timeout.
#[derive(Debug, thiserror::Error)]
pub enum L2Error {
    /// The call did not complete within the timeout.
    #[error("L2 {op} timed out after {after:?}")]
    Timeout {
        /// The operation (`MGET`, `SET`, ...).
        op: &'static str,
        /// The timeout that fired.
        after: Duration,
    },
    /// The store is unreachable (connection refused or dropped, reconnecting).
    #[error("L2 {op} failed, store unreachable: {reason}")]
    Unavailable {
        /// The operation.
        op: &'static str,
        /// What the client reported.
        reason: String,
    },
    /// The store answered with an error or an unexpected reply.
    #[error("L2 {op} failed: {reason}")]
    Command {
        /// The operation.
        op: &'static str,
        /// What the store replied.
        reason: String,
    },
    /// The store refuses this client for good (wrong password, missing permission, TLS
    /// that does not verify): retrying cannot help until the configuration changes.
    #[error("L2 {op} refused: {hint} ({reason})")]
    Refused {
        /// The operation.
        op: &'static str,
        /// What to check.
        hint: &'static str,
        /// What the client reported.
        reason: String,
    },
    /// The L2 configuration is invalid (for example a malformed Redis URL).
    #[error("invalid L2 configuration: {0}")]
    Config(String),
}

impl L2Error {
    /// Whether retrying cannot help (a refusal or an invalid configuration).
    pub fn is_permanent(&self) -> bool {
        matches!(self, Self::Refused { .. } | Self::Config(_))
    }
}

/// One write of [`L2Store::set_many`]: the encoded value and the version it carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct L2Write {
    /// The key.
    pub key: String,
    /// The encoded value ([`codec`](super::codec)).
    pub value: Vec<u8>,
    /// Its `blockNumber`.
    pub block: u64,
    /// Its `timestamp`, ms.
    pub ts_ms: u64,
}

/// A shared key-value store of encoded prices.
///
/// Implementations must bound every call in time and count each network round trip.
pub trait L2Store: Send + Sync + 'static {
    /// Fetches all `keys` in one round trip; `None` where a key is absent.
    fn get_many(
        &self,
        keys: &[String],
    ) -> impl Future<Output = Result<Vec<Option<Vec<u8>>>, L2Error>> + Send;

    /// Stores `value` at `key`, expiring after `ttl`, whatever is there (tools and tests;
    /// the cache writes through [`L2Store::set_many`], which keeps newer values).
    fn set(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> impl Future<Output = Result<(), L2Error>> + Send;

    /// Stores many values with one expiry in one round trip (a pipeline for Redis), each
    /// only if it is not older than the value already there (newer wins, compared by
    /// `blockNumber`, then `timestamp`, atomically in the store), so replaying history
    /// never rolls a shared price back. Returns, per item, whether it was written (`false`:
    /// the store kept a newer value).
    fn set_many(
        &self,
        items: Vec<L2Write>,
        ttl: Duration,
    ) -> impl Future<Output = Result<Vec<bool>, L2Error>> + Send;

    /// Removes `key`.
    fn delete(&self, key: &str) -> impl Future<Output = Result<(), L2Error>> + Send;

    /// Round trips made so far (one per call above).
    fn round_trips(&self) -> u64;

    /// Short name for logs and health output (`redis`, `memory`).
    fn name(&self) -> &'static str;

    /// Number of keys held, if the store can tell without a round trip.
    fn len_hint(&self) -> Option<usize> {
        None
    }
}

//! Which Redis failures go away by themselves and which never do.
//!
//! A service retries the first kind with backoff (Redis restarting, loading its data, a
//! script running long, the network) and stops on the second with a message saying what to
//! fix (a wrong password, a key of the wrong type, TLS that cannot be verified): retrying
//! those forever only hides them. The classification is explicit, by redis-rs error kind
//! and server error code; what it does not know is treated as transient.

use redis::{ErrorKind, RedisError, ServerErrorKind};

/// Whether retrying can help.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedisErrorClass {
    /// Goes away by itself (or after someone fixes the server): retry with backoff.
    Transient,
    /// Cannot succeed without a configuration change: stop and say what is wrong.
    Permanent(Permanent),
}

/// The permanent failures, each with what to check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Permanent {
    /// Wrong password or user (`WRONGPASS`, failed `AUTH`), or none given (`NOAUTH`).
    Authentication,
    /// The user may not run a command (`NOPERM`).
    Permission,
    /// A key holds another type than the command needs (`WRONGTYPE`).
    WrongType,
    /// The server does not know a command (Redis too old).
    UnknownCommand,
    /// The client configuration is invalid (URL, TLS material).
    ClientConfig,
    /// The TLS handshake failed: the certificate does not verify, or the server does not
    /// speak TLS on that port.
    Tls,
}

impl Permanent {
    /// What an operator should check, for the error message.
    pub const fn hint(self) -> &'static str {
        match self {
            Self::Authentication => {
                "authentication failed: check the user and password in REDIS_URL (redis://user:password@host:port/db)"
            }
            Self::Permission => "the Redis user lacks a permission (ACL NOPERM)",
            Self::WrongType => {
                "a key has the wrong type: a stream name (PAIRWARM_STREAMS) names a key that is not a stream"
            }
            Self::UnknownCommand => {
                "the Redis server lacks a command pairwarm needs (Redis >= 6.2 required)"
            }
            Self::ClientConfig => "the Redis client configuration is invalid",
            Self::Tls => {
                "TLS failed: the server certificate does not verify against REDIS_TLS_CA_FILE (or the system roots), or the port does not speak TLS"
            }
        }
    }
}

impl RedisErrorClass {
    /// Whether the failure is permanent.
    pub const fn is_permanent(self) -> bool {
        matches!(self, Self::Permanent(_))
    }
}

/// Classifies a redis-rs error.
///
/// | permanent | transient |
/// |---|---|
/// | `AuthenticationFailed`, `WRONGPASS`, `NOAUTH` | I/O errors: refused, reset, timeouts |
/// | `NOPERM` | `LOADING`, `BUSY`, `TRYAGAIN`, `MASTERDOWN`, `CLUSTERDOWN`, `READONLY` |
/// | `WRONGTYPE` | `OOM`, `MISCONF`, `NOREPLICAS`, `NOGROUP` (recreated on reconnect) |
/// | `ERR unknown command` | any other `ERR` and unknown codes |
/// | `InvalidClientConfig` | parse and reply-type errors |
/// | TLS errors (rustls) | |
pub fn classify_redis_error(e: &RedisError) -> RedisErrorClass {
    use Permanent::*;
    let permanent = match e.kind() {
        ErrorKind::AuthenticationFailed => Some(Authentication),
        ErrorKind::InvalidClientConfig => Some(ClientConfig),
        ErrorKind::Server(ServerErrorKind::NoPerm) => Some(Permission),
        ErrorKind::Server(ServerErrorKind::ResponseError)
            if e.detail()
                .is_some_and(|d| d.to_ascii_lowercase().starts_with("unknown command")) =>
        {
            Some(UnknownCommand)
        }
        ErrorKind::Io if is_tls_failure(e) => Some(Tls),
        _ => match e.code() {
            Some("WRONGPASS" | "NOAUTH") => Some(Authentication),
            Some("WRONGTYPE") => Some(WrongType),
            _ => None,
        },
    };
    permanent.map_or(RedisErrorClass::Transient, RedisErrorClass::Permanent)
}

/// A rustls error inside the error chain: tokio-rustls wraps them in an `io::Error`, which
/// redis-rs keeps behind an `Arc<dyn Error>` (so both wrappers are looked through).
fn is_tls_failure(e: &RedisError) -> bool {
    type Shared = std::sync::Arc<dyn std::error::Error + Send + Sync>;
    fn is_tls(err: &(dyn std::error::Error + 'static)) -> bool {
        if err.is::<rustls::Error>() {
            return true;
        }
        if let Some(shared) = err.downcast_ref::<Shared>() {
            return is_tls(shared.as_ref());
        }
        err.downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
            .is_some_and(|inner| is_tls(inner))
    }
    let mut cur = std::error::Error::source(e);
    while let Some(err) = cur {
        if is_tls(err) {
            return true;
        }
        cur = err.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(code: &str, detail: &str) -> RedisError {
        // The parser's path: an error reply becomes a server error with its code.
        let reply = format!("-{code} {detail}\r\n");
        redis::parse_redis_value(reply.as_bytes())
            .and_then(|v| v.extract_error())
            .unwrap_err()
    }

    #[test]
    fn classifies_by_kind_and_code() {
        let permanent = [
            (
                server("WRONGPASS", "invalid username-password pair"),
                Permanent::Authentication,
            ),
            (
                server("NOAUTH", "Authentication required."),
                Permanent::Authentication,
            ),
            (
                server(
                    "WRONGTYPE",
                    "Operation against a key holding the wrong kind of value",
                ),
                Permanent::WrongType,
            ),
            (
                server("NOPERM", "this user has no permissions"),
                Permanent::Permission,
            ),
            (
                server("ERR", "unknown command 'XAUTOCLAIM'"),
                Permanent::UnknownCommand,
            ),
            (
                RedisError::from((
                    ErrorKind::AuthenticationFailed,
                    "Password authentication failed",
                )),
                Permanent::Authentication,
            ),
        ];
        for (e, want) in permanent {
            assert_eq!(
                classify_redis_error(&e),
                RedisErrorClass::Permanent(want),
                "{e}"
            );
        }
        let transient = [
            server("LOADING", "Redis is loading the dataset in memory"),
            server("BUSY", "Redis is busy running a script"),
            server("OOM", "command not allowed when used memory > 'maxmemory'"),
            server("NOGROUP", "No such key or consumer group"),
            server("ERR", "something else"),
            RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)),
            RedisError::from(std::io::Error::from(std::io::ErrorKind::TimedOut)),
        ];
        for e in transient {
            assert_eq!(classify_redis_error(&e), RedisErrorClass::Transient, "{e}");
        }
        let tls = RedisError::from(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        ));
        assert_eq!(
            classify_redis_error(&tls),
            RedisErrorClass::Permanent(Permanent::Tls)
        );
    }
}

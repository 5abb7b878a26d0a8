//! Where Redis is and how to reach it: the URL, whose password is never printed, and the
//! TLS material of a `rediss://` connection.
//!
//! Every component that talks to Redis (the L2, the stream consumer, the feed tool) builds
//! its client through [`RedisTarget::client`], so a URL is parsed, TLS is set up and errors
//! are worded the same way everywhere. Anything that prints a URL prints
//! [`RedisUrl`]'s `Display`/`Debug` (`redis://user:***@host:6379/0`); error text that comes
//! from redis-rs passes through [`RedisUrl::scrub`] first, in case it quotes the password.

use std::fmt;
use std::sync::Once;

/// A Redis URL whose `Display` and `Debug` hide the password.
///
/// ```
/// use pairwarm::cache::RedisUrl;
///
/// let url = RedisUrl::from("redis://app:s3cret@127.0.0.1:6379/2");
/// assert_eq!(url.to_string(), "redis://app:***@127.0.0.1:6379/2");
/// assert_eq!(format!("{url:?}"), "\"redis://app:***@127.0.0.1:6379/2\"");
/// assert_eq!(url.expose(), "redis://app:s3cret@127.0.0.1:6379/2");
/// assert_eq!(url.scrub("AUTH s3cret failed"), "AUTH *** failed");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct RedisUrl(String);

impl RedisUrl {
    /// The URL itself, password included: only for handing to the Redis client.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the scheme is `rediss://` (TLS).
    pub fn is_tls(&self) -> bool {
        self.0.starts_with("rediss://")
    }

    /// `text` with every occurrence of this URL's password (as written, and
    /// percent-decoded) replaced by `***`.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in self.secrets() {
            if !secret.is_empty() {
                out = out.replace(&secret, "***");
            }
        }
        out
    }

    /// The password as written in the URL and percent-decoded, and the whole URL (which
    /// contains it), longest first so the URL is replaced before its parts.
    fn secrets(&self) -> Vec<String> {
        let Some((_, Some(password), _)) = split(&self.0) else {
            return Vec::new();
        };
        let mut secrets = vec![self.0.clone(), password.to_owned()];
        let decoded = percent_decode(password);
        if decoded != password {
            secrets.push(decoded);
        }
        secrets
    }
}

impl From<String> for RedisUrl {
    fn from(url: String) -> Self {
        Self(url)
    }
}

impl From<&str> for RedisUrl {
    fn from(url: &str) -> Self {
        Self(url.to_owned())
    }
}

impl fmt::Display for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact_url(&self.0))
    }
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&redact_url(&self.0), f)
    }
}

/// `url` with its password (and `pass`/`password` query values) replaced by `***`; works on
/// malformed URLs too (a rejected URL is still printed in the error naming it).
///
/// Everything between `://` and the **last** `@` counts as credentials, so a password with
/// an unencoded `/`, `?` or `@` is hidden as a whole rather than split into a host part.
pub fn redact_url(url: &str) -> String {
    let Some((prefix, password, rest)) = split(url) else {
        return redact_query(url);
    };
    // With a password, `prefix` is `scheme://user:`; without, `scheme://user`.
    match password {
        Some(_) => format!("{prefix}***@{}", redact_query(rest)),
        None => format!("{prefix}@{}", redact_query(rest)),
    }
}

/// Splits `scheme://userinfo@rest` into (`scheme://user:` or `scheme://user`, password,
/// rest); `None` without userinfo.
fn split(url: &str) -> Option<(&str, Option<&str>, &str)> {
    let start = url.find("://")? + 3;
    let at = start + url[start..].rfind('@')?;
    let userinfo = &url[start..at];
    let rest = &url[at + 1..];
    Some(match userinfo.find(':') {
        Some(colon) => (
            &url[..start + colon + 1],
            Some(&userinfo[colon + 1..]),
            rest,
        ),
        None => (&url[..at], None, rest),
    })
}

/// Hides the values of `pass=` and `password=` query parameters.
fn redact_query(tail: &str) -> String {
    let Some(q) = tail.find('?') else {
        return tail.to_owned();
    };
    let (head, query) = tail.split_at(q + 1);
    let (query, fragment) = query.split_at(query.find('#').unwrap_or(query.len()));
    let params: Vec<String> = query
        .split('&')
        .map(|p| match p.split_once('=') {
            Some((k, _))
                if k.eq_ignore_ascii_case("pass") || k.eq_ignore_ascii_case("password") =>
            {
                format!("{k}=***")
            }
            _ => p.to_owned(),
        })
        .collect();
    format!("{head}{}{fragment}", params.join("&"))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push(((hex(h).unwrap_or(0) << 4) | hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// PEM material of a `rediss://` connection. Empty: the system's root certificates verify
/// the server, and no client certificate is presented.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RedisTls {
    /// CA certificate(s) that sign the server's certificate (PEM), instead of the system
    /// roots.
    pub ca_pem: Option<Vec<u8>>,
    /// Client certificate chain and private key (PEM) for servers that require them
    /// (redis-server's `tls-auth-clients yes`, its default).
    pub client_pem: Option<(Vec<u8>, Vec<u8>)>,
}

impl RedisTls {
    /// No CA and no client certificate.
    pub fn is_empty(&self) -> bool {
        self.ca_pem.is_none() && self.client_pem.is_none()
    }
}

impl fmt::Debug for RedisTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisTls")
            .field("ca", &self.ca_pem.as_ref().map(|_| "<pem>"))
            .field("client", &self.client_pem.as_ref().map(|_| "<pem>"))
            .finish()
    }
}

/// A Redis server to connect to: URL plus TLS material, and whether the URL names one
/// server or a seed node of a Redis Cluster.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RedisTarget {
    /// The URL (`redis://` or `rediss://`); with a cluster, its first seed node.
    pub url: RedisUrl,
    /// TLS material (`rediss://` only).
    pub tls: RedisTls,
    /// One server, or a cluster ([`RedisTarget::cluster_client`]).
    pub topology: RedisTopology,
}

/// Whether a [`RedisTarget`] is one server or a Redis Cluster.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum RedisTopology {
    /// A standalone server (or a proxy in front of a cluster).
    #[default]
    Standalone,
    /// A Redis Cluster: the URL is one seed node, `seeds` are more (`host:port`, same
    /// scheme, user and password as the URL), tried in turn to discover the cluster.
    Cluster {
        /// Further seed nodes, `host:port`.
        seeds: Vec<String>,
    },
}

impl Default for RedisUrl {
    fn default() -> Self {
        Self("redis://127.0.0.1:6379/".to_owned())
    }
}

impl<T: Into<RedisUrl>> From<T> for RedisTarget {
    fn from(url: T) -> Self {
        Self {
            url: url.into(),
            tls: RedisTls::default(),
            topology: RedisTopology::Standalone,
        }
    }
}

impl RedisTarget {
    /// Whether this target is a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        matches!(self.topology, RedisTopology::Cluster { .. })
    }

    /// The seed URLs of a cluster: the URL, then each further seed with the URL's scheme,
    /// credentials and query (empty for a standalone target).
    fn seed_urls(&self) -> Vec<String> {
        let RedisTopology::Cluster { seeds } = &self.topology else {
            return Vec::new();
        };
        let url = self.url.expose();
        // `scheme://[userinfo@]` and the part after `host:port` (`/db?query`).
        let start = url.find("://").map_or(0, |i| i + 3);
        let host_at = start + url[start..].rfind('@').map_or(0, |i| i + 1);
        let tail_at = url[host_at..]
            .find(['/', '?'])
            .map_or(url.len(), |i| host_at + i);
        let mut out = vec![url.to_owned()];
        out.extend(
            seeds
                .iter()
                .map(|seed| format!("{}{seed}{}", &url[..host_at], &url[tail_at..])),
        );
        out
    }

    /// A redis-rs cluster client for this target (no connection is made yet): its seed
    /// nodes, TLS material, connection and response timeouts. The cluster's own
    /// per-request retries are `retries` with waits of `min_wait..=max_wait`.
    ///
    /// # Errors
    /// Not a cluster target, a malformed URL or seed, a database other than 0 (a cluster
    /// has only database 0), or unparsable PEM; the message shows the URL without its
    /// password.
    pub fn cluster_client(
        &self,
        timeouts: ClusterTimeouts,
    ) -> Result<redis::cluster::ClusterClient, redis::RedisError> {
        let invalid = |what: &str, e: &dyn fmt::Display| {
            redis::RedisError::from((
                redis::ErrorKind::InvalidClientConfig,
                "invalid Redis Cluster configuration",
                format!("{}: {what}: {}", self.url, self.url.scrub(&e.to_string())),
            ))
        };
        if !self.is_cluster() {
            return Err(invalid("not a cluster", &"REDIS_CLUSTER is off"));
        }
        // The same URL checks as a standalone client (scheme, port, TLS material).
        let info = redis::IntoConnectionInfo::into_connection_info(self.url.expose())
            .map_err(|e| invalid("seed URL", &e))?;
        if info.redis_settings().db() != 0 {
            return Err(invalid(
                "database",
                &"a Redis Cluster has only database 0: drop the /db part of REDIS_URL",
            ));
        }
        if !self.url.is_tls() && !self.tls.is_empty() {
            return Err(invalid(
                "TLS",
                &"TLS certificates given for a redis:// URL (use rediss:// for TLS)",
            ));
        }
        let mut builder = redis::cluster::ClusterClientBuilder::new(self.seed_urls())
            .connection_timeout(timeouts.connection)
            .response_timeout(timeouts.response)
            .retries(timeouts.retries)
            .min_retry_wait(millis(timeouts.min_wait))
            .max_retry_wait(millis(timeouts.max_wait));
        if self.url.is_tls() {
            install_crypto_provider();
            if !self.tls.is_empty() {
                builder = builder.certs(self.tls_certificates());
            }
        }
        builder.build().map_err(|e| invalid("seed nodes", &e))
    }

    fn tls_certificates(&self) -> redis::TlsCertificates {
        redis::TlsCertificates {
            client_tls: self
                .tls
                .client_pem
                .as_ref()
                .map(|(cert, key)| redis::ClientTlsConfig {
                    client_cert: cert.clone(),
                    client_key: key.clone(),
                }),
            root_cert: self.tls.ca_pem.clone(),
        }
    }

    /// A redis-rs client for this target (no connection is made yet).
    ///
    /// # Errors
    /// A malformed URL, TLS material on a `redis://` URL, or unparsable PEM; the message
    /// shows the URL without its password.
    pub fn client(&self) -> Result<redis::Client, redis::RedisError> {
        let url = self.url.expose();
        let client = if self.url.is_tls() {
            install_crypto_provider();
            if self.tls.is_empty() {
                redis::Client::open(url)
            } else {
                redis::Client::build_with_tls(url, self.tls_certificates())
            }
        } else if !self.tls.is_empty() {
            return Err(redis::RedisError::from((
                redis::ErrorKind::InvalidClientConfig,
                "TLS certificates given for a redis:// URL (use rediss:// for TLS)",
            )));
        } else {
            redis::Client::open(url)
        };
        client.map_err(|e| {
            redis::RedisError::from((
                redis::ErrorKind::InvalidClientConfig,
                "invalid Redis URL",
                format!("{}: {}", self.url, self.url.scrub(&e.to_string())),
            ))
        })
    }
}

/// Timeouts and retries of a cluster client ([`RedisTarget::cluster_client`]).
#[derive(Clone, Copy, Debug)]
pub struct ClusterTimeouts {
    /// Deadline for connecting to a node.
    pub connection: std::time::Duration,
    /// Deadline for a reply (longer than any `BLOCK` sent on the connection).
    pub response: std::time::Duration,
    /// Retries of one request (redirections, reconnects) before its error is returned.
    pub retries: u32,
    /// First wait between retries.
    pub min_wait: std::time::Duration,
    /// Longest wait between retries.
    pub max_wait: std::time::Duration,
}

fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// rustls needs a process-wide crypto provider; redis-rs leaves choosing it to the
/// application. Installed once, before the first TLS client (an embedding program that
/// installed its own keeps it).
fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords_and_keeps_the_rest() {
        let cases = [
            ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
            ("redis://:pw@h:1/2", "redis://:***@h:1/2"),
            ("rediss://user:pw@h:1", "rediss://user:***@h:1"),
            ("redis://user@h:1", "redis://user@h:1"),
            // Unencoded '/', '@' and '?' in the password: hidden as a whole.
            ("redis://u:p/a@s?s@h:1/0", "redis://u:***@h:1/0"),
            (
                "redis+unix:///tmp/r.sock?db=1&pass=pw",
                "redis+unix:///tmp/r.sock?db=1&pass=***",
            ),
            ("not a url :pw@", "not a url :pw@"),
            ("redis://:pw@", "redis://:***@"),
        ];
        for (url, shown) in cases {
            assert_eq!(redact_url(url), shown, "{url}");
        }
    }

    #[test]
    fn scrub_removes_encoded_and_decoded_forms() {
        let url = RedisUrl::from("redis://:p%40ss@h:1/");
        assert_eq!(url.scrub("bad p%40ss and p@ss"), "bad *** and ***");
        assert_eq!(
            url.scrub("connect redis://:p%40ss@h:1/ failed"),
            "connect *** failed"
        );
        let plain = RedisUrl::from("redis://h:1/");
        assert_eq!(plain.scrub("nothing to hide"), "nothing to hide");
    }

    #[test]
    fn client_errors_never_show_the_password() {
        let target = RedisTarget::from("redis://:hunter2@h:notaport/0");
        let err = target.client().unwrap_err().to_string();
        assert!(!err.contains("hunter2"), "{err}");
        assert!(err.contains("redis://:***@h:notaport/0"), "{err}");
        let tls_on_plain = RedisTarget {
            url: "redis://h:1/".into(),
            tls: RedisTls {
                ca_pem: Some(b"x".to_vec()),
                client_pem: None,
            },
            ..RedisTarget::default()
        };
        assert!(tls_on_plain.client().is_err());
    }

    #[test]
    fn cluster_seeds_take_the_urls_scheme_and_credentials() {
        let target = RedisTarget {
            url: "rediss://app:hunter2@10.0.0.1:7000".into(),
            topology: RedisTopology::Cluster {
                seeds: vec!["10.0.0.2:7001".into(), "node-c:7002".into()],
            },
            ..RedisTarget::default()
        };
        assert_eq!(
            target.seed_urls(),
            [
                "rediss://app:hunter2@10.0.0.1:7000",
                "rediss://app:hunter2@10.0.0.2:7001",
                "rediss://app:hunter2@node-c:7002",
            ]
        );
        let timeouts = ClusterTimeouts {
            connection: std::time::Duration::from_secs(1),
            response: std::time::Duration::from_secs(1),
            retries: 1,
            min_wait: std::time::Duration::ZERO,
            max_wait: std::time::Duration::ZERO,
        };
        assert!(target.cluster_client(timeouts).is_ok());
        // A cluster has only database 0; the error names it and hides the password.
        let db = RedisTarget {
            url: "redis://:hunter2@10.0.0.1:7000/3".into(),
            topology: RedisTopology::Cluster { seeds: Vec::new() },
            ..RedisTarget::default()
        };
        let err = db.cluster_client(timeouts).unwrap_err().to_string();
        assert!(err.contains("database 0"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        assert!(err.contains("redis://:***@10.0.0.1:7000/3"), "{err}");
        assert!(
            RedisTarget::from("redis://h:1/")
                .cluster_client(timeouts)
                .is_err()
        );
    }
}

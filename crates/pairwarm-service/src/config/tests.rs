//! Tests of `ServiceConfig`: defaults, every setting's rejection, precedence, reload, the
//! reference. Longer than most files because `BAD` lists a bad value for each of the 53
//! settings.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use pairwarm::cache::{CoherenceMode, L1Policy};
use pairwarm::container::Profile;

use super::*;

fn config(vars: &[(&str, &str)]) -> Result<ServiceConfig, ConfigErrors> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    ServiceConfig::from_lookup(move |k| map.get(k).cloned())
}

fn one_error(vars: &[(&str, &str)]) -> ConfigError {
    let errors = config(vars).unwrap_err();
    assert_eq!(errors.0.len(), 1, "{errors}");
    errors.0[0].clone()
}

#[test]
fn defaults() {
    let c = config(&[]).unwrap();
    assert_eq!(c.warming.strategy.kind(), "topn");
    assert_eq!(
        c.cache,
        CacheSettings {
            l1_size_mb: None,
            l1_ttl_ms: None,
            l1_policy: L1Policy::Default,
            l1_coherence: CoherenceMode::Tracking,
            l2_enabled: true,
            use_price_matrix: false
        }
    );
    assert_eq!(c.cache.effective_l1_size_mb(false), 64);
    assert_eq!(c.cache.effective_l1_size_mb(true), 1);
    assert_eq!(c.http.port, 9090);
    assert_eq!(c.http.listen_addr().to_string(), "127.0.0.1:9090");
    assert_eq!(c.warming.metrics.prefix, "arbitrage_");
    assert!(c.rollout.enabled && !c.rollout.shadow_mode);
    assert_eq!(c.redis_url, None);
    assert_eq!(c.feed.streams, ["stream:price-updates"]);
    assert_eq!(c.feed.group, "pairwarm");
    assert_eq!(c.feed.batch_size, 512);
    assert_eq!(c.feed.resolved(false), FeedSource::Synthetic);
    assert_eq!(c.feed.resolved(true), FeedSource::Redis);
    assert_eq!(c.detector.hub_tokens, ["weth", "usdc", "usdt", "wbnb"]);
    assert_eq!(c.detector.fee_bps, 30.0);
    assert_eq!(c.snapshot.interval, Duration::from_secs(60));
    assert_eq!(c.status_interval, Duration::from_secs(5));
    assert_eq!(c.log_format, crate::config::LogFormat::Text);
    assert_eq!(c.origin("METRICS_PORT"), Origin::Default);
}

/// The reference's default column for settings the core decides must say what the core
/// does, or the docs lie.
#[test]
fn documented_core_defaults_match_the_core() {
    let c = config(&[]).unwrap();
    let w = &c.warming;
    let documented = [
        (
            "WARMING_MAX_PAIRS_PER_WARM",
            w.warmer.max_pairs_per_warm.to_string(),
        ),
        (
            "WARMING_MIN_CORRELATION_SCORE",
            w.warmer.min_correlation_score.to_string(),
        ),
        ("WARMING_ASYNC", w.warmer.async_warming.to_string()),
        ("WARMING_TIMEOUT_MS", w.warmer.timeout_ms.to_string()),
        ("WARMING_STRUCTURE", w.warmer.structure.to_string()),
        (
            "WARMING_LEARN_FROM",
            if w.learn_from_misses {
                "misses"
            } else {
                "updates"
            }
            .to_owned(),
        ),
        ("WARMING_METRICS_ENABLED", w.enable_metrics.to_string()),
        ("METRICS_PREFIX", w.metrics.prefix.clone()),
        ("ANALYZER_USE_SHARED", w.use_shared_analyzer.to_string()),
        (
            "ANALYZER_MAX_TRACKED_PAIRS",
            w.tracker.max_tracked_pairs.to_string(),
        ),
        (
            "ANALYZER_CO_OCCURRENCE_WINDOW_MS",
            w.tracker.window_ms.to_string(),
        ),
        ("WARMING_STRATEGY", w.strategy.kind().to_owned()),
        (
            "CACHE_L1_SIZE",
            CacheSettings::DEFAULT_L1_SIZE_MB.to_string(),
        ),
    ];
    for (name, actual) in documented {
        let s = setting(name).unwrap();
        assert!(
            s.fallback.describe().starts_with(&actual),
            "{name}: documented default {:?}, actual {actual}",
            s.fallback.describe()
        );
    }
}

#[test]
fn the_table_is_consistent() {
    let mut names = HashSet::new();
    let mut flags = HashSet::new();
    for s in settings() {
        assert!(names.insert(s.name), "{} twice", s.name);
        assert!(flags.insert(s.flag), "--{} twice", s.flag);
        assert!(
            !s.doc.is_empty() && s.doc.ends_with('.'),
            "{}: {:?}",
            s.name,
            s.doc
        );
        assert!(
            s.name
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'),
            "{}",
            s.name
        );
        assert!(
            s.flag
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
            "{}",
            s.flag
        );
        // A fallback value is accepted by its own setting.
        if let Fallback::Value(v) = s.fallback {
            let built = ServiceConfig::builder().set(s.name, v).build();
            assert!(built.is_ok(), "{} default {v:?}: {:?}", s.name, built.err());
        }
    }
    assert_eq!(
        names.len(),
        75,
        "a new setting? update this count and the docs"
    );
}

#[test]
fn the_checked_in_reference_is_the_generated_one() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/configuration.md");
    let on_disk = std::fs::read_to_string(path).unwrap_or_default();
    let generated = reference_markdown();
    assert!(
        on_disk == generated,
        "docs/configuration.md is out of date: run `cargo run -p pairwarm-cli -- config-doc > docs/configuration.md`"
    );
    for s in settings() {
        assert!(generated.contains(&format!("| `{}` | `--{}` |", s.name, s.flag)));
    }
}

#[test]
fn seed_example_parses() {
    let c = config(&[
        ("WARMING_STRATEGY", "adaptive"),
        (
            "WARMING_STRATEGY_CONFIG",
            r#"{"targetHitRate":0.97,"minPairs":3,"maxPairs":10,"minScore":0.3,"adjustmentFactor":0.1}"#,
        ),
        ("CACHE_L1_SIZE", "128"),
        ("CACHE_L2_ENABLED", "true"),
        ("CACHE_USE_PRICE_MATRIX", "true"),
        ("WARMING_METRICS_ENABLED", "true"),
        ("METRICS_PREFIX", "arbitrage_"),
        ("METRICS_PORT", "9090"),
        ("FEATURE_CACHE_WARMING_ENABLED", "true"),
        ("FEATURE_ADAPTIVE_STRATEGY_ENABLED", "true"),
    ])
    .unwrap();
    assert_eq!(c.warming.strategy.kind(), "adaptive");
    assert_eq!(c.cache.l1_size_mb, Some(128));
    assert!(c.cache.use_price_matrix);
    assert_eq!(c.strategy_note, None);
}

#[test]
fn adaptive_falls_back_when_its_flag_is_off() {
    let c = config(&[
        ("WARMING_STRATEGY", "adaptive"),
        ("FEATURE_ADAPTIVE_STRATEGY_ENABLED", "false"),
    ])
    .unwrap();
    assert_eq!(c.warming.strategy.kind(), "topn");
    assert!(
        c.strategy_note
            .unwrap()
            .contains("FEATURE_ADAPTIVE_STRATEGY_ENABLED=false")
    );
    let c = config(&[
        ("WARMING_PROFILE", "production"),
        ("STREAM_SIGNING_KEY", "interop-signing-key"),
        ("FEATURE_ADAPTIVE_STRATEGY_ENABLED", "0"),
    ])
    .unwrap();
    assert_eq!(c.warming.strategy.kind(), "topn");
}

/// `serve` learns from misses whatever the profile (a profile replaces the whole warming
/// config with the library's, which learns update co-occurrence), unless told otherwise.
#[test]
fn serve_learns_from_misses_under_every_profile() {
    assert!(config(&[]).unwrap().warming.learn_from_misses);
    for profile in ["development", "staging", "production"] {
        let c = config(&[
            ("WARMING_PROFILE", profile),
            ("STREAM_SIGNING_KEY", "k3y-value"),
        ])
        .unwrap();
        assert!(c.warming.learn_from_misses, "{profile}");
        let c = config(&[
            ("WARMING_PROFILE", profile),
            ("STREAM_SIGNING_KEY", "k3y-value"),
            ("WARMING_LEARN_FROM", "updates"),
        ])
        .unwrap();
        assert!(!c.warming.learn_from_misses, "{profile}");
    }
}

/// Production (either switch) refuses to start without a signing key, as the original
/// does with NODE_ENV=production; the key itself is never echoed.
#[test]
fn production_requires_a_signing_key() {
    for switch in [
        ("WARMING_PROFILE", "production"),
        ("NODE_ENV", "production"),
    ] {
        let err = one_error(&[switch]);
        assert_eq!(err.variable(), Some("STREAM_SIGNING_KEY"), "{err}");
        assert!(err.to_string().contains("production"), "{err}");
        let c = config(&[switch, ("STREAM_SIGNING_KEY", "k3y-value")]).unwrap();
        assert!(c.is_production());
        assert!(c.signing_keys().is_some());
        assert!(!format!("{c:?}").contains("k3y-value"));
    }
    let dev = config(&[("NODE_ENV", "development")]).unwrap();
    assert!(!dev.is_production() && dev.signing_keys().is_none());
}

#[test]
fn l1_coherence_is_tracking_or_off() {
    for (raw, mode) in [
        ("tracking", CoherenceMode::Tracking),
        (" OFF ", CoherenceMode::Off),
    ] {
        let c = config(&[("CACHE_L1_COHERENCE", raw)]).unwrap();
        assert_eq!(c.cache.l1_coherence, mode, "{raw}");
    }
    let err = one_error(&[("CACHE_L1_COHERENCE", "bcast")]).to_string();
    assert!(
        err.contains("CACHE_L1_COHERENCE") && err.contains("tracking or off"),
        "names the setting and the accepted form: {err}"
    );
}

#[test]
fn l1_policy_is_named_as_simulate_names_it() {
    for (raw, policy) in [
        ("lru", L1Policy::Lru),
        ("S3FIFO", L1Policy::S3Fifo),
        (" wtinylfu-fixed ", L1Policy::WTinyLfuFixed),
        ("default", L1Policy::Default),
    ] {
        let c = config(&[("CACHE_L1_POLICY", raw)]).unwrap();
        assert_eq!(c.cache.l1_policy, policy, "{raw}");
    }
    let err = one_error(&[("CACHE_L1_POLICY", "arc")]).to_string();
    assert!(
        err.contains("quickcache-adaptive"),
        "names the accepted form: {err}"
    );
}

const BAD: &[(&str, &str)] = &[
    ("WARMING_PROFILE", "qa"),
    ("WARMING_STRATEGY", "lru"),
    ("WARMING_STRATEGY_CONFIG", r#"{"topN":5,"bogus":1}"#),
    ("FEATURE_ADAPTIVE_STRATEGY_ENABLED", "nope"),
    ("WARMING_MAX_PAIRS_PER_WARM", "0"),
    ("WARMING_MIN_CORRELATION_SCORE", "1.5"),
    ("WARMING_ASYNC", "maybe"),
    ("WARMING_TIMEOUT_MS", "-5"),
    ("WARMING_STRUCTURE", "sometimes"),
    ("WARMING_LEARN_FROM", "reads"),
    ("WARMING_METRICS_ENABLED", "enabled"),
    ("METRICS_PREFIX", "9bad"),
    ("CACHE_L1_SIZE", "64MB"),
    ("CACHE_L1_TTL_MS", "0"),
    ("CACHE_L1_POLICY", "arc"),
    ("CACHE_L1_COHERENCE", "bcast"),
    ("CACHE_L2_ENABLED", "2"),
    ("CACHE_USE_PRICE_MATRIX", "y"),
    ("REDIS_URL", "localhost:6379"),
    ("REDIS_TLS_CA_FILE", "/nonexistent/ca.pem"),
    ("REDIS_TLS_CERT_FILE", "/nonexistent/client.pem"),
    ("REDIS_TLS_KEY_FILE", "/nonexistent/client.key"),
    ("REDIS_CLUSTER", "cluster"),
    ("REDIS_CLUSTER_NODES", "127.0.0.1"),
    ("REDIS_CLUSTER_HASH_TAGS", "tagged"),
    ("ANALYZER_USE_SHARED", "shared"),
    ("ANALYZER_MAX_TRACKED_PAIRS", "1"),
    ("ANALYZER_CO_OCCURRENCE_WINDOW_MS", "0"),
    ("FEATURE_CACHE_WARMING_ENABLED", "t"),
    ("WARMING_SHADOW_MODE", "shadow"),
    ("WARMING_ENABLED_CHAINS", "ethereum,b s c"),
    ("WARMING_ROLLOUT_PERCENTAGE", "50%"),
    ("PAIRWARM_ADMIN_TOKEN", "short"),
    ("PAIRWARM_FEED", "kafka"),
    ("PAIRWARM_STREAMS", "a,b c"),
    ("PAIRWARM_GROUP", "g g"),
    ("PAIRWARM_CONSUMER", "c/1"),
    ("PAIRWARM_BATCH_SIZE", "0"),
    ("PAIRWARM_BLOCK_MS", "0"),
    ("PAIRWARM_CLAIM_IDLE_MS", "10"),
    ("PAIRWARM_DEAD_CONSUMER_IDLE", "forever"),
    ("PAIRWARM_MAX_DELIVERIES", "0"),
    ("PAIRWARM_BATCH_MAX_BYTES", "1000"),
    ("PAIRWARM_DEAD_LETTER_MAX_BYTES", "1k"),
    ("PAIRWARM_TIMESTAMP_MAX_AGE", "an hour"),
    ("PAIRWARM_TIMESTAMP_MAX_AHEAD", "-5m"),
    ("PAIRWARM_UNREADY_AFTER_L2_WRITE_FAILURES", "-1"),
    ("PAIRWARM_OPPORTUNITIES_STREAM", "o p"),
    ("PAIRWARM_SYNTHETIC_RATE", "fast"),
    ("PAIRWARM_SYNTHETIC_SEED", "-1"),
    ("PAIRWARM_MAX_UPDATES", "0"),
    ("PAIRWARM_HUB_TOKENS", "weth,,us dc"),
    ("PAIRWARM_MIN_SPREAD_BPS", "-3"),
    ("PAIRWARM_FEE_BPS", "lots"),
    ("PAIRWARM_DEX_FEES", "curve"),
    ("METRICS_PORT", "70000"),
    ("PAIRWARM_LISTEN", "localhost"),
    ("PAIRWARM_HTTP_HEADER_TIMEOUT", "0"),
    ("PAIRWARM_HTTP_REQUEST_TIMEOUT", "0s"),
    ("PAIRWARM_HTTP_IDLE_TIMEOUT", "never"),
    ("PAIRWARM_HTTP_MAX_CONNECTIONS", "0"),
    ("PAIRWARM_SNAPSHOT", "redis:snap"),
    ("PAIRWARM_SNAPSHOT_INTERVAL", "soon"),
    ("PAIRWARM_STATUS_INTERVAL", "5d"),
    ("PAIRWARM_LOG_FORMAT", "xml"),
    ("PAIRWARM_SHUTDOWN_TIMEOUT", "-1s"),
    ("STREAM_SIGNING_KEY", "two\nlines"),
    ("STREAM_SIGNING_KEY_PREVIOUS", "tab\tkey"),
    ("NODE_ENV", "prod env!"),
    ("PAIRWARM_EXTRA_CHAINS", "dev net!"),
    ("PAIRWARM_MAX_ENTRY_BYTES", "1024"),
    ("PAIRWARM_GROUP_START", "middle"),
    ("PAIRWARM_DEAD_LETTER_MAXLEN", "0"),
    ("PAIRWARM_OPPORTUNITY_FORMAT", "xml"),
    ("STREAM_MAXLEN_OPPORTUNITIES", "0"),
];

#[test]
fn every_variable_rejects_bad_values_by_name() {
    for &(var, value) in BAD {
        let err = one_error(&[(var, value)]);
        assert_eq!(err.variable(), Some(var), "{var}={value} gave {err}");
        let msg = err.to_string();
        assert!(msg.contains(var) && msg.contains("expected"), "{msg}");
        assert!(msg.contains("the environment"), "names the origin: {msg}");
    }
    // The admin token is never echoed.
    let err = one_error(&[("PAIRWARM_ADMIN_TOKEN", "secret1")]);
    assert!(!err.to_string().contains("secret1"), "{err}");
    // Every setting has a bad value above, so every parser is exercised.
    let covered: HashSet<&str> = BAD.iter().map(|(k, _)| *k).collect();
    for s in settings() {
        assert!(
            covered.contains(s.name),
            "no bad value tried for {}",
            s.name
        );
    }
}

/// Values that used to pass silently: an empty `REDIS_URL` ran the synthetic demo, a blank
/// admin token disabled the admin routes, `rediss://` was refused.
#[test]
fn empty_redis_url_and_blank_token_are_errors_and_rediss_is_accepted() {
    for empty in ["", "   "] {
        let err = one_error(&[("REDIS_URL", empty)]);
        assert_eq!(err.variable(), Some("REDIS_URL"), "{err}");
        assert!(err.to_string().contains("set but empty"), "{err}");
        let err = one_error(&[("PAIRWARM_ADMIN_TOKEN", empty)]);
        assert_eq!(err.variable(), Some("PAIRWARM_ADMIN_TOKEN"), "{err}");
        assert!(err.to_string().contains("set but blank"), "{err}");
    }
    // Absent is still the embedded default.
    assert_eq!(config(&[]).unwrap().redis_url, None);
    let c = config(&[("REDIS_URL", "rediss://127.0.0.1:6380/0")]).unwrap();
    assert!(c.redis_url.as_ref().is_some_and(|u| u.is_tls()));
    let err = one_error(&[("REDIS_URL", "rediss://127.0.0.1:6380/#insecure")]);
    assert!(err.to_string().contains("#insecure"), "{err}");
}

#[test]
fn the_redis_password_is_never_shown() {
    let err = one_error(&[("REDIS_URL", "redis://app:hunter2@127.0.0.1:notaport/0")]);
    let msg = err.to_string();
    assert!(!msg.contains("hunter2"), "{msg}");
    assert!(
        msg.contains("redis://app:***@127.0.0.1:notaport/0"),
        "{msg}"
    );
    let c = config(&[("REDIS_URL", "redis://app:hunter2@127.0.0.1:6379/0")]).unwrap();
    assert_eq!(
        c.redis_url.as_ref().map(|u| u.expose()),
        Some("redis://app:hunter2@127.0.0.1:6379/0")
    );
    assert!(!format!("{c:?}").contains("hunter2"), "Debug hides it");
    let shown = c.redis_url.as_ref().map(ToString::to_string);
    assert_eq!(shown.as_deref(), Some("redis://app:***@127.0.0.1:6379/0"));
}

#[test]
fn tls_files_need_rediss_and_come_in_pairs() {
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("x.pem");
    std::fs::write(
        &pem,
        "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let pem = pem.to_str().unwrap();
    let err = one_error(&[
        ("REDIS_URL", "redis://127.0.0.1:1/"),
        ("REDIS_TLS_CA_FILE", pem),
    ]);
    assert_eq!(err.variable(), Some("REDIS_TLS_CA_FILE"), "{err}");
    assert!(err.to_string().contains("rediss://"), "{err}");
    let err = one_error(&[
        ("REDIS_URL", "rediss://127.0.0.1:1/"),
        ("REDIS_TLS_CERT_FILE", pem),
    ]);
    assert_eq!(err.variable(), Some("REDIS_TLS_KEY_FILE"), "{err}");
    let not_pem = dir.path().join("x.txt");
    std::fs::write(&not_pem, "hello").unwrap();
    let err = one_error(&[("REDIS_TLS_CA_FILE", not_pem.to_str().unwrap())]);
    assert!(err.to_string().contains("no -----BEGIN line"), "{err}");
    let c = config(&[
        ("REDIS_URL", "rediss://127.0.0.1:1/"),
        ("REDIS_TLS_CA_FILE", pem),
        ("REDIS_TLS_CERT_FILE", pem),
        ("REDIS_TLS_KEY_FILE", pem),
    ])
    .unwrap();
    let target = c.redis_target().unwrap();
    assert!(target.tls.ca_pem.is_some() && target.tls.client_pem.is_some());
}

#[test]
fn all_errors_are_reported_at_once() {
    let errors = config(BAD).unwrap_err();
    // In table order, including those checked together at the end (the strategy config,
    // and the Redis snapshot refused because REDIS_URL is invalid).
    let expected: Vec<&str> = settings()
        .map(|s| s.name)
        .filter(|n| BAD.iter().any(|(k, _)| k == n))
        .collect();
    let got = errors.variables();
    assert_eq!(got, expected, "{errors}");
    let text = errors.to_string();
    assert!(
        text.starts_with(&format!("{} configuration errors:", BAD.len())),
        "{text}"
    );
    assert_eq!(text.lines().count(), BAD.len() + 1, "{text}");
}

#[test]
fn good_values() {
    let c = config(&[
        ("WARMING_PROFILE", "staging"),
        ("WARMING_MAX_PAIRS_PER_WARM", "8"),
        ("WARMING_MIN_CORRELATION_SCORE", "0.45"),
        ("WARMING_ASYNC", "FALSE"),
        ("WARMING_TIMEOUT_MS", "75"),
        ("ANALYZER_MAX_TRACKED_PAIRS", "20000"),
        ("ANALYZER_CO_OCCURRENCE_WINDOW_MS", "500"),
        ("WARMING_SHADOW_MODE", "yes"),
        ("WARMING_ENABLED_CHAINS", "Ethereum, bsc"),
        ("WARMING_ROLLOUT_PERCENTAGE", "0.5"),
        ("METRICS_PREFIX", ""),
        ("REDIS_URL", "redis://127.0.0.1:6379/0"),
        ("PAIRWARM_ADMIN_TOKEN", "0123456789abcdef"),
        ("FEATURE_CACHE_WARMING_ENABLED", "false"),
        ("CACHE_L1_TTL_MS", "2000"),
        ("PAIRWARM_DEX_FEES", "uniswap-v3=5,Curve=4"),
        ("PAIRWARM_SNAPSHOT", "redis:pairwarm:snap"),
        ("PAIRWARM_LISTEN", "0.0.0.0:0"),
        ("PAIRWARM_STREAMS", "stream:eth, stream:bsc"),
    ])
    .unwrap();
    assert_eq!(c.cache.l1_ttl_ms, Some(2000));
    assert_eq!(c.profile, Some(Profile::Staging));
    assert_eq!(c.warming.warmer.max_pairs_per_warm, 8);
    assert_eq!(c.warming.warmer.min_correlation_score, 0.45);
    assert!(!c.warming.warmer.async_warming);
    assert_eq!(c.warming.warmer.timeout_ms, 75);
    assert_eq!(c.warming.tracker.max_tracked_pairs, 20_000);
    assert_eq!(c.warming.tracker.window_ms, 500);
    assert!(c.rollout.shadow_mode);
    assert_eq!(
        c.rollout.enabled_chains,
        Some(vec!["ethereum".to_string(), "bsc".to_string()])
    );
    assert_eq!(c.rollout.percentage, 0.5);
    assert_eq!(c.warming.metrics.prefix, "");
    assert!(!c.rollout.enabled && !c.warming.warmer.enabled);
    assert_eq!(
        c.admin_token.as_ref().map(Secret::expose),
        Some("0123456789abcdef")
    );
    assert!(
        !format!("{c:?}").contains("0123456789abcdef"),
        "Debug hides the token"
    );
    assert_eq!(
        c.detector.dex_fees,
        [("uniswap-v3".to_string(), 5.0), ("curve".to_string(), 4.0)]
    );
    assert_eq!(
        c.snapshot.target,
        Some(SnapshotTarget::Redis("pairwarm:snap".into()))
    );
    assert_eq!(c.http.listen_addr().to_string(), "0.0.0.0:0");
    assert_eq!(c.feed.streams, ["stream:eth", "stream:bsc"]);
}

fn write_env_file(dir: &std::path::Path, text: &str) -> std::path::PathBuf {
    let path = dir.join("pairwarm.env");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn precedence_is_defaults_file_environment_flags() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_env_file(
        dir.path(),
        "CACHE_L1_SIZE=2\nMETRICS_PORT=9101\nWARMING_SHADOW_MODE=true\nPAIRWARM_GROUP=from-file\n",
    );
    let env: HashMap<&str, &str> = [
        ("METRICS_PORT", "9102"),
        ("PAIRWARM_GROUP", "from-env"),
        ("CACHE_L1_SIZE", ""),
    ]
    .into_iter()
    .collect();
    let c = ServiceConfig::builder()
        .env_file(&file)
        .lookup(move |k| env.get(k).map(|v| v.to_string()))
        .flag("PAIRWARM_GROUP", "from-flag")
        .build()
        .unwrap();
    // file only (the empty environment value counts as unset)
    assert_eq!(c.cache.l1_size_mb, Some(2));
    assert!(matches!(c.origin("CACHE_L1_SIZE"), Origin::EnvFile(_)));
    assert!(c.rollout.shadow_mode);
    // environment over file
    assert_eq!(c.http.port, 9102);
    assert_eq!(c.origin("METRICS_PORT"), Origin::Environment);
    // flag over environment over file
    assert_eq!(c.feed.group, "from-flag");
    assert_eq!(c.origin("PAIRWARM_GROUP"), Origin::Flag("group"));
    // default under everything
    assert_eq!(c.feed.batch_size, 512);
}

#[test]
fn reload_rereads_the_file_and_keeps_precedence() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_env_file(dir.path(), "WARMING_SHADOW_MODE=false\nMETRICS_PORT=9101\n");
    let c = ServiceConfig::builder()
        .env_file(&file)
        .lookup(|k| (k == "WARMING_ROLLOUT_PERCENTAGE").then(|| "0.25".to_string()))
        .build()
        .unwrap();
    assert!(!c.rollout.shadow_mode);
    write_env_file(
        dir.path(),
        "WARMING_SHADOW_MODE=true\nMETRICS_PORT=9101\nWARMING_ROLLOUT_PERCENTAGE=0.75\n",
    );
    let again = c.reload().unwrap();
    assert!(again.rollout.shadow_mode, "the file's change applies");
    assert_eq!(again.rollout.percentage, 0.25, "the environment still wins");
    let changed: Vec<&str> = c.changed_settings(&again).iter().map(|s| s.name).collect();
    assert_eq!(changed, ["WARMING_SHADOW_MODE"]);
    // A broken file is reported with its line; the old config stays usable.
    write_env_file(dir.path(), "WARMING_SHADOW_MODE=true\nnot a line\n");
    let err = c.reload().unwrap_err();
    assert!(err.to_string().contains("pairwarm.env:2"), "{err}");
}

#[test]
fn unknown_names_and_unreadable_files_are_errors() {
    let err = ServiceConfig::builder()
        .set("CACHE_L1_SIZ", "3")
        .env_file("/nonexistent/pairwarm.env")
        .build()
        .unwrap_err();
    assert_eq!(err.0.len(), 2, "{err}");
    assert!(err.to_string().contains("CACHE_L1_SIZ"), "{err}");
    assert!(
        err.to_string().contains("/nonexistent/pairwarm.env"),
        "{err}"
    );
}

#[test]
fn log_format_is_text_or_json_in_any_case() {
    use crate::config::LogFormat;
    for (raw, want) in [
        ("text", LogFormat::Text),
        ("JSON", LogFormat::Json),
        (" json ", LogFormat::Json),
    ] {
        let c = ServiceConfig::builder()
            .set("PAIRWARM_LOG_FORMAT", raw)
            .build()
            .unwrap();
        assert_eq!(c.log_format, want, "{raw:?}");
    }
    let err = one_error(&[("PAIRWARM_LOG_FORMAT", "logfmt")]);
    assert!(err.to_string().contains("text or json"), "{err}");
}

#[test]
fn a_cluster_is_named_by_redis_cluster_and_its_seed_nodes() {
    use pairwarm::cache::RedisTopology;
    // Off by default: one server.
    let c = config(&[("REDIS_URL", "redis://127.0.0.1:7000")]).unwrap();
    assert!(!c.redis_target().unwrap().is_cluster());
    let c = config(&[
        ("REDIS_URL", "redis://:hunter2@127.0.0.1:7000"),
        ("REDIS_CLUSTER", "true"),
        ("REDIS_CLUSTER_NODES", "127.0.0.1:7001, node-c:7002"),
        ("REDIS_CLUSTER_HASH_TAGS", "yes"),
        (
            "PAIRWARM_STREAMS",
            "stream:price-updates:{ethereum},stream:price-updates:{bsc}",
        ),
    ])
    .unwrap();
    assert_eq!(
        c.redis_target().unwrap().topology,
        RedisTopology::Cluster {
            seeds: vec!["127.0.0.1:7001".into(), "node-c:7002".into()]
        }
    );
    assert!(c.redis_cluster.hash_tags);
    assert_eq!(c.feed.streams[0], "stream:price-updates:{ethereum}");
    // Seeds without the switch, a database other than 0, bad seeds and bad tags: one error
    // each, naming the variable (and never the password).
    let err = one_error(&[
        ("REDIS_URL", "redis://127.0.0.1:7000"),
        ("REDIS_CLUSTER_NODES", "127.0.0.1:7001"),
    ]);
    assert_eq!(err.variable(), Some("REDIS_CLUSTER_NODES"), "{err}");
    assert!(err.to_string().contains("REDIS_CLUSTER=true"), "{err}");
    let err = one_error(&[
        ("REDIS_URL", "redis://:hunter2@127.0.0.1:7000/2"),
        ("REDIS_CLUSTER", "true"),
    ]);
    assert_eq!(err.variable(), Some("REDIS_URL"), "{err}");
    assert!(err.to_string().contains("database 0"), "{err}");
    assert!(!err.to_string().contains("hunter2"), "{err}");
    for bad in ["127.0.0.1", "h:0", "h:port", ":7000"] {
        let err = one_error(&[
            ("REDIS_URL", "redis://127.0.0.1:7000"),
            ("REDIS_CLUSTER", "true"),
            ("REDIS_CLUSTER_NODES", bad),
        ]);
        assert_eq!(err.variable(), Some("REDIS_CLUSTER_NODES"), "{bad}: {err}");
    }
    for bad in ["s:{}", "s:{a", "s:}a{", "s:{a}{b}", "s:{a b}"] {
        let err = one_error(&[("PAIRWARM_STREAMS", bad)]);
        assert_eq!(err.variable(), Some("PAIRWARM_STREAMS"), "{bad}: {err}");
    }
}

//! `pairwarm serve`: flags from the settings table, then the `pairwarm-service` crate.
//!
//! Every flag is a row of `pairwarm_service::config::table` (so are the environment
//! variables and `docs/configuration.md`); this file only parses them, handles signals
//! (SIGTERM/SIGINT: graceful stop; SIGHUP: reload) and prints the banner.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Arg, ArgMatches, Args, Command, FromArgMatches};
use pairwarm_service::config::{FeedSource, LogFormat, PRECEDENCE, settings};
use pairwarm_service::{Service, ServiceConfig};

use crate::logging::Logging;

/// The flags of `pairwarm serve`: one per setting, plus `--env-file`.
#[derive(Debug, Clone, Default)]
pub struct ServeArgs {
    env_file: Option<PathBuf>,
    /// `(variable, value)` of every flag given.
    flags: Vec<(&'static str, String)>,
}

impl Args for ServeArgs {
    fn augment_args(cmd: Command) -> Command {
        let cmd = cmd
            .after_help(format!("Precedence: {PRECEDENCE} See docs/configuration.md."))
            .arg(
                Arg::new("env-file")
                    .long("env-file")
                    .value_name("PATH")
                    .value_parser(clap::value_parser!(PathBuf))
                    .help("KEY=VALUE file of settings, re-read on SIGHUP (the environment and flags win over it)"),
            );
        settings().fold(cmd, |cmd, s| {
            cmd.arg(
                Arg::new(s.name)
                    .long(s.flag)
                    .value_name(s.kind.value_name())
                    .help(s.help())
                    .long_help(s.long_help())
                    .hide_env_values(s.secret),
            )
        })
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

impl FromArgMatches for ServeArgs {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        Ok(Self {
            env_file: m.get_one::<PathBuf>("env-file").cloned(),
            flags: settings()
                .filter_map(|s| Some((s.name, m.get_one::<String>(s.name)?.clone())))
                .collect(),
        })
    }

    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
}

pub fn run(args: ServeArgs, mut logging: Logging) -> anyhow::Result<()> {
    let mut builder = ServiceConfig::builder();
    if let Some(path) = &args.env_file {
        builder = builder.env_file(path);
    }
    let builder = args
        .flags
        .into_iter()
        .fold(builder.environment(), |b, (name, value)| {
            b.flag(name, value)
        });
    let config = builder.build()?;
    logging.set_format(config.log_format);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("start tokio runtime")?
        .block_on(serve(config, logging.format()))
}

async fn serve(config: ServiceConfig, log_format: LogFormat) -> anyhow::Result<()> {
    // Before anything else: until a handler is registered, SIGTERM, SIGINT and SIGHUP keep
    // their default action and end the process without a graceful shutdown.
    let signals = signals::Signals::register()?;
    let service = Service::builder(config).build()?;
    // What really runs: a synthetic feed may run over Redis L2 too.
    let settings = service.config();
    let l2 = match (settings.cache.l2_enabled, settings.redis_url.is_some()) {
        (false, _) => "no L2",
        (true, true) => "Redis L2",
        (true, false) => "in-memory L2",
    };
    let feed = service.feed_source();
    let feed_name = match feed {
        FeedSource::Redis => "Redis Streams feed",
        FeedSource::Synthetic => "synthetic feed",
        _ => "no feed",
    };
    let embedded = feed == FeedSource::Synthetic && settings.redis_url.is_none();
    let mode = format!(
        "{}{l2}, {feed_name}",
        if embedded { "embedded default: " } else { "" }
    );
    let http = service.local_addr().map_or_else(
        || "no HTTP".to_owned(),
        |a| format!("http://{a} (/metrics /health /ready /health/warming)"),
    );
    let banner = format!(
        "pairwarm serve: {mode}; L1 {} entries; strategy {}; {http}",
        service.cache().l1_capacity(),
        service.warming().strategy.name(),
    );
    // In JSON mode every stderr line is a JSON object, the banner too.
    match log_format {
        LogFormat::Text => eprintln!("{banner}"),
        LogFormat::Json => tracing::info!("{banner}"),
    }
    let reloader = service.clone();
    let shutdown = signals.until_stop(move || match reloader.reload() {
        Ok(r) => tracing::warn!(applied = ?r.applied, needs_restart = ?r.needs_restart, "SIGHUP: settings reloaded"),
        Err(e) => tracing::error!("SIGHUP: invalid settings; nothing changed: {e}"),
    });
    service.run(shutdown).await?;
    Ok(())
}

mod signals {
    //! The process signals serve reacts to, registered once at start.

    /// SIGTERM, SIGINT (stop) and SIGHUP (reload).
    pub struct Signals {
        #[cfg(unix)]
        term: tokio::signal::unix::Signal,
        #[cfg(unix)]
        int: tokio::signal::unix::Signal,
        #[cfg(unix)]
        hup: tokio::signal::unix::Signal,
    }

    impl Signals {
        #[cfg(unix)]
        pub fn register() -> anyhow::Result<Self> {
            use anyhow::Context;
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                term: signal(SignalKind::terminate()).context("install the SIGTERM handler")?,
                int: signal(SignalKind::interrupt()).context("install the SIGINT handler")?,
                hup: signal(SignalKind::hangup()).context("install the SIGHUP handler")?,
            })
        }

        #[cfg(not(unix))]
        pub fn register() -> anyhow::Result<Self> {
            Ok(Self {})
        }

        /// Resolves on SIGTERM or SIGINT; calls `reload` on every SIGHUP meanwhile.
        #[cfg(unix)]
        pub async fn until_stop(mut self, reload: impl Fn()) {
            loop {
                tokio::select! {
                    _ = self.int.recv() => return,
                    _ = self.term.recv() => return,
                    _ = self.hup.recv() => reload(),
                }
            }
        }

        #[cfg(not(unix))]
        pub async fn until_stop(self, _reload: impl Fn()) {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

//! The log subscriber of the binary: `tracing` lines on stderr, levels filtered by
//! `RUST_LOG` (default `info`), as text or JSON (`PAIRWARM_LOG_FORMAT`, `--log-format`).
//!
//! The format is reloadable because `serve` only knows it once its settings are read (a
//! flag, the environment or the `--env-file`), and what is logged while reading them (an
//! unknown env-file variable) must not be lost: the subscriber starts with the format the
//! environment gives and switches once, after the settings are validated.

use std::io::IsTerminal;

use pairwarm_service::config::LogFormat;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry, reload};

type FormatLayer = Box<dyn Layer<Registry> + Send + Sync>;

/// The installed subscriber's format switch.
pub struct Logging {
    handle: reload::Handle<FormatLayer, Registry>,
    format: LogFormat,
}

fn layer(format: LogFormat) -> FormatLayer {
    // Colours only on a terminal: a log file or a shipper must not get escape codes.
    let base = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none());
    match format {
        LogFormat::Text => base.boxed(),
        // Fields at the top level (`chain`, `pair`, `error_kind`, ...), no span lists: one
        // flat object per line is what log shippers index.
        LogFormat::Json => base
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .boxed(),
    }
}

/// Installs the subscriber, in the format `PAIRWARM_LOG_FORMAT` names (text when unset or
/// invalid; `serve` reports an invalid value with its other settings).
pub fn init() -> Logging {
    let format = std::env::var("PAIRWARM_LOG_FORMAT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_default();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let (format_layer, handle) = reload::Layer::new(layer(format));
    tracing_subscriber::registry()
        .with(format_layer)
        .with(filter)
        .init();
    Logging { handle, format }
}

impl Logging {
    /// Switches to `format` (no-op if it is the current one).
    pub fn set_format(&mut self, format: LogFormat) {
        if format != self.format && self.handle.reload(layer(format)).is_ok() {
            self.format = format;
        }
    }

    /// The format in use.
    pub fn format(&self) -> LogFormat {
        self.format
    }
}

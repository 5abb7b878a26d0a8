//! Configuration errors: each names the variable, the value, where it came from and the
//! accepted form; [`ConfigErrors`] holds all of them at once.

use std::fmt;

use super::{EnvFileError, Origin};

/// One invalid setting, or an env file that could not be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// A value that is not accepted.
    #[error("invalid {variable}={value:?} (from {origin}): expected {expected}")]
    Invalid {
        /// The variable.
        variable: &'static str,
        /// The value given (`<hidden>` for secrets), clipped to 200 characters.
        value: String,
        /// The accepted form.
        expected: String,
        /// Where the value came from.
        origin: Origin,
    },
    /// A name given to [`ConfigBuilder::set`](super::ConfigBuilder::set) that is no setting.
    #[error("unknown setting {0:?}: see docs/configuration.md for the variables")]
    Unknown(String),
    /// The env file could not be read.
    #[error("env file {path}: {reason}")]
    EnvFileUnreadable {
        /// The file.
        path: String,
        /// The I/O error.
        reason: String,
    },
    /// A line of the env file is not `KEY=VALUE`.
    #[error(transparent)]
    EnvFile(#[from] EnvFileError),
}

impl ConfigError {
    /// The variable at fault, for [`ConfigError::Invalid`].
    pub fn variable(&self) -> Option<&'static str> {
        match self {
            Self::Invalid { variable, .. } => Some(variable),
            _ => None,
        }
    }
}

/// Every problem found in one configuration (never empty).
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    /// The variables at fault, in table order.
    pub fn variables(&self) -> Vec<&'static str> {
        self.0.iter().filter_map(ConfigError::variable).collect()
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_slice() {
            [one] => write!(f, "{one}"),
            all => {
                write!(f, "{} configuration errors:", all.len())?;
                for e in all {
                    write!(f, "\n  {e}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ConfigErrors {}

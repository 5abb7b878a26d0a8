//! `pairwarm serve`: the long-running service, which lives in the `pairwarm-service` crate.

pub use pairwarm_service::args::ServeArgs;
pub use pairwarm_service::run::run;

//! The body of every fuzz target (`fuzz/fuzz_targets/<t>.rs` is `fuzz_target!` around
//! [`<t>::run`](TARGETS)), with the invariants it asserts.
//!
//! The bodies live here, in the main workspace, so the libFuzzer binaries (in `fuzz/`,
//! outside the workspace) and the test that replays the committed corpora
//! (`tests/corpora.rs`, on every `cargo test`) run exactly the same code: a target cannot
//! drift from its replay. Every `run` panics when an invariant does not hold, which is
//! what libFuzzer reports as a crash and what fails the replay test.

pub mod address;
pub mod admin_body;
mod entry_checks;
pub mod env_file;
pub mod l2_value;
pub mod original_data;
pub mod pairs_csv;
pub mod policy_image;
pub mod signature;
pub mod strategy_config;
pub mod stream_entry;
pub mod stream_reply;
pub mod trace_csv;
pub mod tracker_snapshot;

pub use entry_checks::{ENTRY_REASONS, MAX_MESSAGE_LEN, check_entry, check_entry_error};

/// A fuzz target: its name (the `[[bin]]` of `fuzz/Cargo.toml` and the folder of its
/// corpus and seeds) and its body.
pub type Target = (&'static str, fn(&[u8]));

/// Every fuzz target.
pub const TARGETS: [Target; 13] = [
    ("address", address::run),
    ("admin_body", admin_body::run),
    ("env_file", env_file::run),
    ("l2_value", l2_value::run),
    ("original_data", original_data::run),
    ("pairs_csv", pairs_csv::run),
    ("policy_image", policy_image::run),
    ("signature", signature::run),
    ("strategy_config", strategy_config::run),
    ("stream_entry", stream_entry::run),
    ("stream_reply", stream_reply::run),
    ("trace_csv", trace_csv::run),
    ("tracker_snapshot", tracker_snapshot::run),
];

/// The two bytes every gzip stream starts with (the trace parsers sniff them).
pub const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// `data` as a gzip stream (fastest level: the content matters, not the ratio).
pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data).expect("writing to a Vec cannot fail");
    gz.finish().expect("writing to a Vec cannot fail")
}

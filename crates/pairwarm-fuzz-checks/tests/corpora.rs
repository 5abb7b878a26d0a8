//! Replays every committed corpus file and seed of every fuzz target through the target's
//! own body (`pairwarm_fuzz_checks::<t>::run`, what the libFuzzer binary runs), so the
//! inputs the fuzzer found keep passing the target's invariants on every `cargo test`.
//!
//! The corpora (`fuzz/corpora/<t>/`) are minimised with `cargo fuzz cmin` after a run of
//! `scripts/fuzz.sh`; the seeds (`fuzz/seeds/<t>/`) are hand-written inputs and the inputs
//! of past bugs.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use pairwarm_fuzz_checks::TARGETS;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// The files of `dir`, sorted (an absent folder has none).
fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("readable folder entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// Runs `run` on every file of `dir`; returns how many ran and the failures (file: panic).
fn replay(run: fn(&[u8]), dir: &Path) -> (usize, Vec<String>) {
    let mut failures = Vec::new();
    let files = files(dir);
    for file in &files {
        let data = std::fs::read(file).expect("readable corpus file");
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| run(&data))) {
            let message = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("(no message)");
            failures.push(format!("{}: {message}", file.display()));
        }
    }
    (files.len(), failures)
}

#[test]
fn every_corpus_file_and_seed_keeps_its_targets_invariants() {
    let fuzz = fuzz_dir();
    let mut failures = Vec::new();
    for (target, run) in TARGETS {
        let (corpus, mut failed) = replay(run, &fuzz.join("corpora").join(target));
        assert!(
            corpus > 0,
            "fuzz/corpora/{target} is empty or missing: run scripts/fuzz.sh then scripts/fuzz-cmin.sh"
        );
        let (seeds, failed_seeds) = replay(run, &fuzz.join("seeds").join(target));
        failed.extend(failed_seeds);
        eprintln!(
            "{target}: {corpus} corpus files, {seeds} seeds, {} failed",
            failed.len()
        );
        failures.extend(failed);
    }
    assert!(
        failures.is_empty(),
        "{} inputs failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The list above is the fuzz crate's: every `[[bin]]` of `fuzz/Cargo.toml` is a target
/// of [`TARGETS`] and back, and each binary is `fuzz_target!` around that target's `run`,
/// so a target cannot be added, or its body changed, without its replay.
#[test]
fn the_targets_are_the_fuzz_crates_binaries() {
    let fuzz = fuzz_dir();
    let manifest = std::fs::read_to_string(fuzz.join("Cargo.toml")).expect("fuzz/Cargo.toml");
    let mut bins: Vec<&str> = manifest
        .split("[[bin]]")
        .skip(1)
        .map(|bin| {
            let line = bin
                .lines()
                .find(|l| l.trim_start().starts_with("name"))
                .expect("a [[bin]] has a name");
            line.split('"').nth(1).expect("name = \"...\"")
        })
        .collect();
    bins.sort_unstable();
    let mut names: Vec<&str> = TARGETS.iter().map(|(name, _)| *name).collect();
    names.sort_unstable();
    assert_eq!(bins, names);

    for (target, _) in TARGETS {
        let path = fuzz.join("fuzz_targets").join(format!("{target}.rs"));
        let source = std::fs::read_to_string(&path).expect("the target's source");
        let body = format!("pairwarm_fuzz_checks::{target}::run(data)");
        assert!(
            source.contains("fuzz_target!(") && source.contains(&body),
            "{} does not call {body}",
            path.display()
        );
    }
}

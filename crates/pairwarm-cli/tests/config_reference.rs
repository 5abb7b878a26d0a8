//! `pairwarm serve --help`, `pairwarm config-doc` and `docs/configuration.md` all come from
//! the settings table of `pairwarm-service`; these tests check that they agree with it.

use std::process::Command;

use pairwarm_service::config::{PRECEDENCE, reference_markdown, settings};

const BIN: &str = env!("CARGO_BIN_EXE_pairwarm");

fn run(args: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(args)
        .env("NO_COLOR", "1")
        .env("COLUMNS", "1000")
        .output()
        .expect("run pairwarm");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 help")
}

#[test]
fn serve_help_lists_every_setting_of_the_table() {
    let help = run(&["serve", "--help"]);
    for s in settings() {
        let flag = format!("--{} <{}>", s.flag, s.kind.value_name());
        assert!(
            help.contains(&flag),
            "{flag} missing from serve --help:\n{help}"
        );
        for line in s.long_help().lines() {
            assert!(help.contains(line), "{}: {line:?} missing:\n{help}", s.name);
        }
    }
    assert!(help.contains(PRECEDENCE), "precedence missing:\n{help}");
    let flags = help
        .lines()
        .filter(|l| l.trim_start().starts_with("--"))
        .count();
    // Every setting and --env-file; nothing else (besides -h, --help).
    assert_eq!(flags, settings().count() + 1, "{help}");
}

#[test]
fn config_doc_prints_the_checked_in_reference() {
    let printed = run(&["config-doc"]);
    assert_eq!(printed, reference_markdown());
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/configuration.md");
    let on_disk = std::fs::read_to_string(path).expect("docs/configuration.md");
    assert!(
        on_disk == printed,
        "docs/configuration.md is out of date: run `pairwarm config-doc > docs/configuration.md`"
    );
}

//! `docs/configuration.md`, generated from the table (`pairwarm config-doc` prints it; a
//! test fails when the checked-in file differs).

use std::fmt::Write;

use super::table::{Reload, SECTIONS, Setting};

/// What `--help` and the reference say about precedence and reloads.
pub const PRECEDENCE: &str = "When a setting is given in several places the later wins: defaults < --env-file < environment < command-line flags. SIGHUP re-reads the env file and applies the settings marked live; the environment and flags still win over the file.";

/// The configuration reference as Markdown.
pub fn reference_markdown() -> String {
    let mut out = String::new();
    out.push_str("# Configuration reference\n\n");
    out.push_str(
        "<!-- Generated from crates/pairwarm-service/src/config/table.rs by `pairwarm config-doc > docs/configuration.md`; a test fails when this file differs. Do not edit by hand. -->\n\n",
    );
    out.push_str(
        "Every setting of `pairwarm serve` (and of an embedded `pairwarm_service::Service`) is an \
         environment variable, a `KEY=VALUE` line of the `--env-file`, and a command-line flag.\n\n",
    );
    let _ = writeln!(out, "{PRECEDENCE}\n");
    out.push_str(
        "Every invalid value is reported at start, all at once, each naming the variable, the \
         value, where it came from and the accepted form. Empty values count as unset (except \
         `METRICS_PREFIX`, where empty means no prefix). *reload* says whether SIGHUP applies \
         a change (`live`) or it waits for a restart (`restart`, logged).\n",
    );
    for section in SECTIONS {
        let _ = write!(
            out,
            "\n## {}\n\n| variable | flag | default | accepted | reload | what it does |\n|---|---|---|---|---|---|\n",
            section.title
        );
        for s in section.settings {
            let _ = writeln!(
                out,
                "| `{}` | `--{}` | {} | {} | {} | {} |",
                s.name,
                s.flag,
                default_cell(s),
                cell(&s.kind.accepted()),
                match s.reload {
                    Reload::Live => "live",
                    Reload::Restart => "restart",
                },
                cell(s.doc)
            );
        }
    }
    out
}

fn default_cell(s: &Setting) -> String {
    match s.fallback {
        super::Fallback::Value(v) => format!("`{v}`"),
        super::Fallback::Absent(meaning) => cell(meaning),
    }
}

/// Table cells cannot hold a bare `|`.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

//! The progress bar every long-running command shows on stderr.

use indicatif::{ProgressBar, ProgressStyle};

/// A bar of `total` steps labelled `what` (hidden with `quiet`).
pub fn bar(total: u64, what: &str, quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    let template = format!(
        "{{spinner}} {what} [{{bar:40}}] {{percent}}% {{human_pos}}/{{human_len}} ({{per_sec}}, eta {{eta}})"
    );
    bar.set_style(
        ProgressStyle::with_template(&template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar
}

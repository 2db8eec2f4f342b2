//! What an import shows on a terminal while it runs: a bar over the file's bytes (its size
//! is known, so a percentage and an ETA), or, for standard input, a spinner. Both say the
//! rows parsed and the rows per second. Nothing is drawn when stderr is not a terminal
//! (pipes, CI logs, `docker logs`).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// The display of one import.
#[derive(Clone)]
pub(super) struct ImportProgress {
    bar: ProgressBar,
    started: Instant,
}

impl ImportProgress {
    /// For an import of `size` bytes, or of a stream of unknown length (`None`).
    pub(super) fn new(size: Option<u64>) -> ImportProgress {
        let bar = match size {
            Some(bytes) => ProgressBar::new(bytes).with_style(style(
                "{wide_bar} {percent:>3}%  {bytes}/{total_bytes}  {msg}  ETA {eta}",
                ProgressStyle::default_bar(),
            )),
            None => ProgressBar::new_spinner()
                .with_style(style("{spinner} {msg}  {elapsed}", ProgressStyle::default_spinner())),
        };
        if std::io::stderr().is_terminal() {
            bar.enable_steady_tick(Duration::from_millis(200));
        } else {
            bar.set_draw_target(ProgressDrawTarget::hidden());
        }
        ImportProgress { bar, started: Instant::now() }
    }

    /// The file as the importer reads it: every byte read moves the bar (when its size is known).
    pub(super) fn reading<R: std::io::Read>(&self, input: R) -> indicatif::ProgressBarIter<R> {
        self.bar.wrap_read(input)
    }

    /// `rows` rows have been parsed so far.
    pub(super) fn rows_done(&self, rows: u64) {
        let per_sec = rows as f64 / self.started.elapsed().as_secs_f64().max(1e-3);
        self.bar.set_message(format!("{rows} rows  {per_sec:.0} rows/s"));
        if self.bar.length().is_none() {
            self.bar.set_position(rows);
        }
    }

    pub(super) fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

fn style(template: &str, fallback: ProgressStyle) -> ProgressStyle {
    ProgressStyle::with_template(template).unwrap_or(fallback)
}

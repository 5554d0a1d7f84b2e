//! Progress on stderr: a bar (indicatif) with units done, elapsed and remaining time when stderr
//! is a terminal; otherwise one log line per unit of work (`RUST_LOG` target `vmplace::progress`).
//! Never on stdout.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Progress of `total` units of `what`.
pub struct Progress {
    bar: Option<ProgressBar>,
    what: &'static str,
    total: u64,
    done: AtomicU64,
    start: Instant,
}

impl Progress {
    /// Starts counting.
    pub fn new(total: usize, what: &'static str) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "{msg} [{bar:40}] {pos}/{len} {prefix} elapsed {elapsed_precise}, remaining {eta_precise}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar.set_message(what);
            bar
        });
        Progress {
            bar,
            what,
            total: total as u64,
            done: AtomicU64::new(0),
            start: Instant::now(),
        }
    }

    /// One unit done; `label` names it in the log line.
    pub fn inc(&self, label: &str) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        match &self.bar {
            Some(bar) => bar.inc(1),
            None => {
                let elapsed = self.start.elapsed().as_secs_f64();
                let remaining = elapsed / done as f64 * self.total.saturating_sub(done) as f64;
                tracing::info!(
                    target: "vmplace::progress",
                    "{} {done}/{} {label}: elapsed {elapsed:.1} s, remaining {remaining:.1} s",
                    self.what,
                    self.total
                );
            }
        }
    }

    /// Writes a line to stderr without tearing the bar.
    pub fn line(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| eprintln!("{text}")),
            None => eprintln!("{text}"),
        }
    }

    /// Clears the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

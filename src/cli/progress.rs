//! Progress on stderr: a bar (indicatif) with units done, elapsed and remaining time when stderr
//! is a terminal; otherwise a log line (`RUST_LOG` target `vmplace::progress`) at most every
//! [`LOG_EVERY_S`] seconds, so that a log file does not get one line per unit of work. Never on
//! stdout. [`Spinner`] shows a long solve's elapsed time on a terminal.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Off a terminal, the least time between two progress lines, seconds.
pub const LOG_EVERY_S: u64 = 5;

/// Progress of `total` units of `what`.
pub struct Progress {
    bar: Option<ProgressBar>,
    what: &'static str,
    total: u64,
    done: AtomicU64,
    start: Instant,
    /// Milliseconds from `start` to the last log line (off a terminal).
    logged_ms: AtomicU64,
    /// Off a terminal, no progress lines at all (the caller's table rows say as much).
    silent: bool,
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
            logged_ms: AtomicU64::new(0),
            silent: false,
        }
    }

    /// Off a terminal, no progress lines: the caller writes a row per unit (a table), which
    /// progress lines would break up.
    pub fn silent_off_terminal(mut self) -> Progress {
        self.silent = true;
        self
    }

    /// Whether a log line is due now (off a terminal): the first after [`LOG_EVERY_S`], then
    /// one every [`LOG_EVERY_S`].
    fn due(&self) -> bool {
        if self.silent {
            return false;
        }
        let now = self.start.elapsed().as_millis() as u64;
        let last = self.logged_ms.load(Ordering::Relaxed);
        now >= last + LOG_EVERY_S * 1000
            && self
                .logged_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }

    /// One unit done; `label` names it in the log line.
    pub fn inc(&self, label: &str) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        match &self.bar {
            Some(bar) => bar.inc(1),
            None if self.due() => {
                let elapsed = self.start.elapsed().as_secs_f64();
                let remaining = elapsed / done as f64 * self.total.saturating_sub(done) as f64;
                tracing::info!(
                    target: "vmplace::progress",
                    "{} {done}/{} {label}: elapsed {elapsed:.1} s, remaining {remaining:.1} s",
                    self.what,
                    self.total
                );
            }
            None => {}
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

/// A spinner with the elapsed time, on a terminal only, while one long call runs (a solve of
/// `place` or `capacity` may take a minute). Off a terminal it does nothing.
pub struct Spinner(Option<ProgressBar>);

impl Spinner {
    /// Starts spinning, with `what` as its message.
    pub fn start(what: &'static str) -> Spinner {
        Spinner(std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template("{spinner} {msg}: elapsed {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner());
            bar.set_style(style);
            bar.set_message(what);
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        }))
    }

    /// Stops and clears it.
    pub fn finish(self) {
        if let Some(bar) = self.0 {
            bar.finish_and_clear();
        }
    }
}

//! The wall clock and the cancel flag of one call, and the HiGHS options they give a stage.

use crate::domain::Domain;
use crate::model::MipOptions;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use super::RunConfig;

/// The wall clock and cancel flag of a phase.
pub(crate) struct Deadline {
    start: Instant,
    limit: f64,
    pub(crate) cancel: Option<Arc<AtomicBool>>,
}

impl Deadline {
    pub(crate) fn new(start: Instant, limit: f64, cfg: &RunConfig) -> Self {
        Deadline {
            start,
            limit,
            cancel: cfg.cancel.clone(),
        }
    }

    /// A deadline `seconds` from now, or this one if it comes first, with the same cancel flag.
    pub(crate) fn within(&self, seconds: f64) -> Deadline {
        let now = self.start.elapsed().as_secs_f64();
        Deadline {
            start: self.start,
            limit: self.limit.min(now + seconds),
            cancel: self.cancel.clone(),
        }
    }

    /// Whether the call is over: its time is up, or its client went away.
    pub(crate) fn passed(&self) -> bool {
        self.cancelled() || self.start.elapsed().as_secs_f64() >= self.limit
    }

    /// Whether the client went away.
    fn cancelled(&self) -> bool {
        self.cancel
            .as_ref()
            .is_some_and(|c| c.load(Ordering::Relaxed))
    }

    /// Seconds left (a small floor, so that HiGHS always gets a positive limit).
    pub(crate) fn remaining(&self) -> f64 {
        if self.cancelled() {
            return 0.01;
        }
        (self.limit - self.start.elapsed().as_secs_f64()).max(0.05)
    }
}

/// HiGHS options for a stage that may run `seconds`.
pub(crate) fn mip_options(
    d: &Domain,
    seconds: f64,
    write: Option<PathBuf>,
    deadline: &Deadline,
) -> MipOptions {
    MipOptions {
        cancel: deadline.cancel.clone(),
        max_nodes: None,
        presolve: true,
        light_heuristics: false,
        time_limit_s: seconds,
        mip_gap: d.settings.mip_gap,
        threads: d.settings.threads,
        write_model: write,
        relax: false,
    }
}

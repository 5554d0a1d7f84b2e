//! One call's time: when its work must stop (its deadline, or its client went away), how much of
//! it a stage may take, and how much of it went into building MIPs. The domain build, the
//! placement stages and the migration round all ask the same value; a stage gets a share of what
//! is left with [`Budget::within`], and every share counts its MIPs' build time to the call.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Least time a stage is handed, seconds, so that HiGHS always gets a positive limit.
const FLOOR_S: f64 = 0.05;
/// Time a stage is handed once the client went away, seconds.
const CANCELLED_S: f64 = 0.01;

/// When a call's work must stop, the flag that stops it early, and the call's MIP build time.
/// Clones and shares ([`Budget::within`]) count build time to the same call.
#[derive(Debug, Clone, Default)]
pub struct Budget {
    /// The instant the call's time is up (None: no limit).
    pub deadline: Option<Instant>,
    /// Set when the client went away.
    pub cancel: Option<Arc<AtomicBool>>,
    /// Nanoseconds spent building MIPs, from a builder's creation until HiGHS starts solving.
    built_ns: Arc<AtomicU64>,
}

impl Budget {
    /// A budget of `limit_s` seconds from `start` (no limit when it does not fit an instant).
    pub fn new(start: Instant, limit_s: f64, cancel: Option<Arc<AtomicBool>>) -> Self {
        let deadline = Duration::try_from_secs_f64(limit_s.max(0.0))
            .ok()
            .and_then(|d| start.checked_add(d));
        Budget::until(deadline, cancel)
    }

    /// A budget that ends at `deadline` (None: no limit).
    pub fn until(deadline: Option<Instant>, cancel: Option<Arc<AtomicBool>>) -> Self {
        Budget {
            deadline,
            cancel,
            built_ns: Arc::default(),
        }
    }

    /// Counts `seconds` of MIP building to the call.
    pub fn add_build_time(&self, seconds: f64) {
        let ns = Duration::try_from_secs_f64(seconds.max(0.0)).map_or(0, |d| d.as_nanos());
        let ns = u64::try_from(ns).unwrap_or(u64::MAX);
        self.built_ns.fetch_add(ns, Ordering::Relaxed);
    }

    /// Seconds the call spent building MIPs so far (`stats.timings.model_s`).
    pub fn build_time_s(&self) -> f64 {
        Duration::from_nanos(self.built_ns.load(Ordering::Relaxed)).as_secs_f64()
    }

    /// A budget ending `seconds` from now, or this one's end if it comes first, with the same
    /// cancel flag: the share of a stage.
    pub fn within(&self, seconds: f64) -> Budget {
        let own = Budget::new(Instant::now(), seconds, None).deadline;
        let deadline = match (self.deadline, own) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Budget {
            deadline,
            cancel: self.cancel.clone(),
            built_ns: self.built_ns.clone(),
        }
    }

    /// Whether the work must stop now: its time is up, or its client went away.
    pub fn passed(&self) -> bool {
        self.cancelled() || self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// Whether the client went away.
    pub fn cancelled(&self) -> bool {
        self.cancel
            .as_ref()
            .is_some_and(|c| c.load(Ordering::Relaxed))
    }

    /// Seconds left, with a small floor so that HiGHS always gets a positive limit (unbounded
    /// without a deadline).
    pub fn remaining(&self) -> f64 {
        if self.cancelled() {
            return CANCELLED_S;
        }
        match self.deadline {
            Some(d) => d
                .saturating_duration_since(Instant::now())
                .as_secs_f64()
                .max(FLOOR_S),
            None => f64::INFINITY,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_share_ends_no_later_than_the_call() {
        let call = Budget::new(Instant::now(), 10.0, None);
        assert!(call.within(1.0).remaining() <= 1.0);
        assert!(call.within(100.0).remaining() <= 10.0);
        assert!(!call.within(1.0).passed());
        assert!(Budget::new(Instant::now(), 0.0, None).passed());
        assert_eq!(Budget::default().remaining(), f64::INFINITY);
        assert!(Budget::default().within(1.0).remaining() <= 1.0);
    }

    #[test]
    fn a_cancelled_call_is_over_for_every_share() {
        let flag = Arc::new(AtomicBool::new(false));
        let call = Budget::new(Instant::now(), 10.0, Some(flag.clone()));
        let share = call.within(5.0);
        flag.store(true, Ordering::Relaxed);
        assert!(share.passed() && call.passed());
        assert_eq!(share.remaining(), CANCELLED_S);
    }

    #[test]
    fn every_share_counts_build_time_to_the_call() {
        let call = Budget::new(Instant::now(), 10.0, None);
        call.within(1.0).add_build_time(0.25);
        call.clone().add_build_time(0.5);
        assert!((call.build_time_s() - 0.75).abs() < 1e-9);
        assert_eq!(Budget::default().build_time_s(), 0.0);
    }
}

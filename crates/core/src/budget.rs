//! One call's time: when its work must stop (its deadline, or its client went away), how much of
//! it a stage may take, and how much of it went into building MIPs. A transport knows when a call
//! began and holds the flag that ends it early ([`Clock`]); the document's settings give its
//! limit, and [`Clock::budget`] makes the call's [`Budget`]. The domain build, the placement
//! stages, the migration round and the capacity checks all ask that value; a stage gets its
//! [`Share`] with [`Budget::share`] (every share the core hands out is named in [`shares`]), and
//! every share counts its MIPs' build time to the call.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Least time a stage is handed, seconds, so that HiGHS always gets a positive limit.
const FLOOR_S: f64 = 0.05;
/// Time a stage is handed once the client went away, seconds.
const CANCELLED_S: f64 = 0.01;

/// When a call began and the flag that ends it early: what a transport knows before it has read
/// the document whose settings give the call's limit.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    /// When the call began (before its document was parsed): its time limit counts from here,
    /// the parsing and the domain build included. None: from when its work begins.
    pub started: Option<Instant>,
    /// Set by the caller to stop the work early (the HTTP client went away): the running HiGHS
    /// call is interrupted through its callbacks and every later stage gets no time.
    pub cancel: Option<Arc<AtomicBool>>,
}

impl Clock {
    /// The call's budget: `limit_s` seconds from when it began, or from `working` (when its
    /// work began) if the caller did not say.
    pub fn budget(&self, limit_s: f64, working: Instant) -> Budget {
        Budget::new(
            self.started.unwrap_or(working),
            limit_s,
            self.cancel.clone(),
        )
    }

    /// The same clock, started at `now` if the caller did not say when the call began.
    pub fn pinned(&self, now: Instant) -> Clock {
        Clock {
            started: Some(self.started.unwrap_or(now)),
            cancel: self.cancel.clone(),
        }
    }
}

/// How much of a budget a stage takes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Share {
    /// Until this fraction of the budget's length has passed since it began (what a call keeps
    /// back for its last steps).
    UpTo(f64),
    /// This fraction of the budget's length, from now.
    OfWhole(f64),
    /// This fraction of what is left now.
    OfRest(f64),
}

impl Share {
    /// The seconds this share takes of a span of `seconds`, counted from the span's start (a
    /// limit handed to a stage that makes its own budget from the call's clock).
    pub fn of(self, seconds: f64) -> f64 {
        match self {
            Share::UpTo(f) | Share::OfWhole(f) | Share::OfRest(f) => seconds * f,
        }
    }
}

/// Every share of a call's time the core hands out to its stages, with the reason for its size.
/// A stage takes its share by name. Inside one stage, a loop that splits its own share (column
/// generation's root and dive, the neighbourhood search's parts, the reassignment search's
/// blocks in `roadef`) keeps that schedule beside its code.
pub mod shares {
    use super::Share;

    /// A placement call's work: the rest of the limit is kept for the baseline comparison and
    /// writing the answer, and the repair of an answer over a capacity (`verify`) may use it.
    pub const PLACEMENT: Share = Share::UpTo(0.97);
    /// The baseline heuristics in all, before the phases (at 100,000 requests the twelve
    /// heuristics scan every connected host per request and would take the whole limit).
    pub const BASELINES: Share = Share::OfWhole(0.25);
    /// Phase 1 when the neighbourhood search can follow the phases (models/joint.md,
    /// "Neighbourhoods"): on the sweep, the search improves the answer faster per second than
    /// phase 1's certification rounds after their first.
    pub const PHASE1: Share = Share::OfWhole(0.25);
    /// Phase 1 when no search follows (every request a member of a `groups[]` rule).
    pub const PHASE1_ALONE: Share = Share::OfWhole(0.5);
    /// Phase 2 when the search follows: given phase 1's storage it can only re-pack hosts, where
    /// the search can also move images.
    pub const PHASE2: Share = Share::OfRest(0.5);
    /// Phase 2 when no search follows.
    pub const PHASE2_ALONE: Share = Share::OfRest(1.0);
    /// The fit bound's LP (models/fit.md): it proves nothing unless HiGHS solves it to
    /// optimality, which takes well under a second below 10,000 requests.
    pub const FIT_BOUND: Share = Share::OfWhole(0.15);
    /// Phase 1's MIP stages; its certification (phase 2 feasibility) gets the rest.
    pub const STORAGE_MIPS: Share = Share::OfRest(0.6);
    /// The LP relaxation behind phase 1's relax-and-round warm start.
    pub const STORAGE_LP_ROUNDING: Share = Share::OfRest(0.3);
    /// Column generation for `pack` in phase 2; the MIP after it gets the rest.
    pub const PACKING: Share = Share::OfRest(0.9);
    /// The lexicographic model's placement stage (most weight); its cost stage gets the rest.
    pub const LEXICOGRAPHIC_WEIGHT: Share = Share::OfRest(0.5);
    /// The host MIP that certifies phase 1's storage can be hosted.
    pub const CERTIFY: Share = Share::OfRest(0.8);
    /// A capacity call's placement of its own requests when failures are checked after it (it
    /// would otherwise spend the whole limit improving a large batch).
    pub const CAPACITY_PLACEMENT: Share = Share::UpTo(2.0 / 3.0);
    /// A capacity call's flavour mix when failures are checked after it.
    pub const CAPACITY_MIX: Share = Share::OfWhole(0.5);
}

/// When a call's work must stop, the flag that stops it early, and the call's MIP build time.
/// Clones and shares ([`Budget::share`], [`Budget::within`]) count build time to the same call.
#[derive(Debug, Clone)]
pub struct Budget {
    /// The instant the call's time is up (None: no limit).
    pub deadline: Option<Instant>,
    /// Set when the client went away.
    pub cancel: Option<Arc<AtomicBool>>,
    /// When this budget began, and its length in seconds (infinite without a deadline).
    began: Instant,
    length_s: f64,
    /// Nanoseconds spent building MIPs, from a builder's creation until HiGHS starts solving.
    built_ns: Arc<AtomicU64>,
}

impl Default for Budget {
    /// No limit and no cancel flag.
    fn default() -> Self {
        Budget::until(None, None)
    }
}

impl Budget {
    /// A budget of `limit_s` seconds from `start` (no limit when it does not fit an instant).
    pub fn new(start: Instant, limit_s: f64, cancel: Option<Arc<AtomicBool>>) -> Self {
        let length = Duration::try_from_secs_f64(limit_s.max(0.0)).ok();
        let deadline = length.and_then(|d| start.checked_add(d));
        Budget {
            deadline,
            cancel,
            began: start,
            length_s: deadline.map_or(f64::INFINITY, |_| limit_s.max(0.0)),
            built_ns: Arc::default(),
        }
    }

    /// A budget from now that ends at `deadline` (None: no limit).
    pub fn until(deadline: Option<Instant>, cancel: Option<Arc<AtomicBool>>) -> Self {
        let now = Instant::now();
        Budget {
            deadline,
            cancel,
            began: now,
            length_s: deadline.map_or(f64::INFINITY, |d| {
                d.saturating_duration_since(now).as_secs_f64()
            }),
            built_ns: Arc::default(),
        }
    }

    /// A stage's share of this budget: it ends no later than this one, with the same cancel
    /// flag, and counts its build time to the same call.
    pub fn share(&self, share: Share) -> Budget {
        match share {
            Share::UpTo(f) => {
                let length = Duration::try_from_secs_f64((self.length_s * f).max(0.0)).ok();
                self.ending(length.and_then(|l| self.began.checked_add(l)))
            }
            Share::OfWhole(f) => self.within(self.length_s * f),
            Share::OfRest(f) => self.within(self.remaining() * f),
        }
    }

    /// The seconds of a stage's share (a HiGHS time limit).
    pub fn seconds(&self, share: Share) -> f64 {
        self.share(share).remaining()
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
    /// cancel flag: a stage's share of a given length.
    pub fn within(&self, seconds: f64) -> Budget {
        self.ending(Budget::new(Instant::now(), seconds, None).deadline)
    }

    /// A budget ending at `own`, or this one's end if it comes first (None: no end of its own).
    fn ending(&self, own: Option<Instant>) -> Budget {
        let deadline = match (self.deadline, own) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Budget {
            built_ns: self.built_ns.clone(),
            ..Budget::until(deadline, self.cancel.clone())
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
    fn shares_are_of_the_whole_or_of_the_rest_and_never_past_the_call() {
        let start = Instant::now();
        let call = Budget::new(start, 10.0, None);
        let whole = call.share(Share::OfWhole(0.25)).remaining();
        assert!(whole <= 2.5 && whole > 2.0, "{whole}");
        let rest = call.within(4.0).share(Share::OfRest(0.5)).remaining();
        assert!(rest <= 2.0 && rest > 1.5, "{rest}");
        let upto = call.share(Share::UpTo(0.97)).deadline.expect("a deadline");
        assert!(upto <= start + Duration::from_secs_f64(9.7));
        assert!(call.share(Share::OfWhole(5.0)).remaining() <= 10.0);
        assert_eq!(Budget::default().seconds(Share::OfRest(0.5)), f64::INFINITY);
        let late = Budget::new(start - Duration::from_secs(20), 10.0, None);
        assert!(late.share(Share::UpTo(0.97)).passed());
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

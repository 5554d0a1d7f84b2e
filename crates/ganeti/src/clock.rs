//! The wall clock and cancel flag of one IAllocator call: every vmplace solve gets what is left
//! of the call's time, and no further work starts once the time is up or the caller went away
//! (the HTTP service sets the flag when its client disconnects).

use std::time::Instant;
use vmplace_core::budget::Budget;
use vmplace_core::domain::settings::Overrides;
use vmplace_core::placement::RunConfig;

/// The call's time limit when neither the caller nor the server gives one, seconds.
pub const DEFAULT_LIMIT_S: f64 = 10.0;

/// Why the call stopped before every instance was solved.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stop {
    /// The time limit (seconds) passed.
    TimeUp(f64),
    /// The caller went away.
    Cancelled,
}

impl Stop {
    /// The reason given for each instance left unsolved, with its unplaced code.
    pub fn reason(self) -> String {
        let code = vmplace_wire::spelling::wire_name(&vmplace_wire::ReasonCode::StoppedEarly);
        match self {
            Stop::TimeUp(limit) => {
                format!(
                    "{code}: the time limit of {limit} s ran out before this instance was solved"
                )
            }
            Stop::Cancelled => {
                format!("{code}: the request was cancelled before this instance was solved")
            }
        }
    }
}

/// The clock of one call: its budget, and the limit it was given.
#[derive(Debug, Clone)]
pub struct Clock {
    budget: Budget,
    limit_s: f64,
}

impl Clock {
    /// Starts the clock: the caller's time limit (default 10 s), capped by the server's maximum.
    pub fn start(overrides: &Overrides, cfg: &RunConfig) -> Clock {
        let asked = overrides.time_limit_s.unwrap_or(DEFAULT_LIMIT_S);
        let limit_s = overrides
            .max_time_limit_s
            .map_or(asked, |max| asked.min(max));
        Clock {
            budget: Budget::new(Instant::now(), limit_s, cfg.clock.cancel.clone()),
            limit_s,
        }
    }

    /// Whether the call is over, and why.
    pub fn over(&self) -> Option<Stop> {
        if self.budget.cancelled() {
            Some(Stop::Cancelled)
        } else if self.budget.passed() {
            Some(Stop::TimeUp(self.limit_s))
        } else {
            None
        }
    }

    /// Seconds left for the next solve.
    pub fn remaining(&self) -> f64 {
        self.budget.remaining()
    }
}

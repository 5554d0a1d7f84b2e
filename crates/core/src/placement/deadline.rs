//! When a stage of the search stops paying ([`Stall`]), and the HiGHS options a stage's share of
//! the call's [`Budget`] gives it.

use crate::budget::Budget;
use crate::domain::Domain;
use crate::model::MipOptions;
use std::path::PathBuf;
use std::time::Instant;

/// When a block of the search after the phases has stopped paying (models/joint.md, "The search
/// after the phases"): it has gone without improving for as long as it ran before its last
/// improvement, and for at least its floor. A block that keeps improving keeps the time; one
/// that does not gives it back, so no stage holds a fixed share of the limit.
pub(crate) struct Stall {
    started: Instant,
    gained: Instant,
    floor: f64,
}

impl Stall {
    /// A block starting now that may run `floor` seconds without improving.
    pub(crate) fn new(floor: f64) -> Self {
        let now = Instant::now();
        Stall {
            started: now,
            gained: now,
            floor,
        }
    }

    /// The block improved the answer.
    pub(crate) fn gained(&mut self) {
        self.gained = Instant::now();
    }

    /// Whether the block has gone without improving for as long as it ran before, and its floor.
    pub(crate) fn over(&self) -> bool {
        let idle = self.gained.elapsed().as_secs_f64();
        let paying = (self.gained - self.started).as_secs_f64();
        idle >= paying.max(self.floor)
    }
}

/// HiGHS options for a stage that may run `seconds`.
pub(crate) fn mip_options(
    d: &Domain,
    seconds: f64,
    write: Option<PathBuf>,
    deadline: &Budget,
) -> MipOptions {
    MipOptions {
        budget: deadline.clone(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ago(seconds: u64) -> Instant {
        Instant::now() - Duration::from_secs(seconds)
    }

    #[test]
    fn a_block_that_never_improved_stops_after_its_floor() {
        assert!(Stall::new(0.0).over());
        assert!(!Stall::new(60.0).over());
    }

    #[test]
    fn a_block_that_improved_runs_as_long_again_without_improving() {
        // Ran 10 s, improved at 9 s: idle 1 s < 9 s.
        let paying = Stall {
            started: ago(10),
            gained: ago(1),
            floor: 0.0,
        };
        assert!(!paying.over());
        // Ran 20 s, improved at 9 s: idle 11 s >= 9 s.
        let stalled = Stall {
            started: ago(20),
            gained: ago(11),
            floor: 0.0,
        };
        assert!(stalled.over());
        // The same, with a floor of a minute.
        let floored = Stall {
            floor: 60.0,
            ..stalled
        };
        assert!(!floored.over());
    }
}

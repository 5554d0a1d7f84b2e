//! The round's policy, resolved from the state document: the document's choices over the
//! defaults of each detector and planner.

use crate::budget::{Budget, Clock};
use std::time::Instant;
use vmplace_wire::state::{Detection, Planner, Selection, State};

/// Resolved policy.
#[derive(Debug, Clone)]
pub struct RoundPolicy {
    /// Detector.
    pub detection: Detection,
    /// Its parameter.
    pub parameter: f64,
    /// Threshold used when the history is too short for the detector.
    pub fallback_threshold: f64,
    /// VM selection.
    pub selection: Selection,
    /// Underload evacuation.
    pub underload: bool,
    /// Score weights (power, balance, cost).
    pub weights: (f64, f64, f64),
    /// Migration budget.
    pub budget: usize,
    /// Hold time, s.
    pub hold_s: f64,
    /// Monitoring interval, s.
    pub interval_s: f64,
    /// Seed.
    pub seed: u64,
    /// Candidates listed per migration.
    pub listed: usize,
    /// Use the round MIP instead of PABFD.
    pub optimize: bool,
    /// Reproduce CloudSim 3.0.3's PABFD (see `Emulate::Cloudsim`).
    pub cloudsim: bool,
    /// Minimum power saving of an optional move, W (round MIP).
    pub min_gain_w: f64,
    /// Time limit of the round MIP, s.
    pub time_limit_s: f64,
    /// Migrations at once per host, as source or target (the plan's waves).
    pub max_concurrent: usize,
    /// When the call began (`time_limit_s` counts from there; unset: from when planning begins)
    /// and the flag that stops the round MIP early (the HTTP client went away; the greedy plan
    /// then stands).
    pub clock: Clock,
}

impl RoundPolicy {
    /// Defaults, then the document's choices.
    pub fn from_state(s: &State) -> RoundPolicy {
        let p = s.policy.clone().unwrap_or_default();
        let detection = p.detection.unwrap_or_default();
        let default_parameter = match detection {
            Detection::Thr => 0.8,
            Detection::Iqr => 1.5,
            Detection::Mad => 2.5,
            Detection::Lr | Detection::Lrr => 1.2,
        };
        let w = p.weights.clone();
        let optimize = p.placement.unwrap_or_default() == Planner::Optimize;
        // The round MIP needs a price on moves, or it would shuffle VMs for nothing.
        let default_weights = if optimize {
            (1.0, 0.0, 0.1)
        } else {
            (1.0, 0.0, 0.0)
        };
        RoundPolicy {
            detection,
            parameter: p.parameter.unwrap_or(default_parameter),
            fallback_threshold: 0.7,
            selection: p.selection.unwrap_or_default(),
            underload: p.underload.unwrap_or(true),
            weights: w
                .map(|w| (w.power, w.balance, w.cost))
                .unwrap_or(default_weights),
            budget: p.budget.unwrap_or(usize::MAX),
            // The optimizer consolidates hard; a VM it moved stays put for two hours, or it
            // would chase every fluctuation (measured on the PlanetLab days, see README).
            hold_s: p.hold_s.unwrap_or(if optimize { 7200.0 } else { 0.0 }),
            interval_s: p.interval_s.unwrap_or(300.0),
            seed: p.seed.unwrap_or(0),
            listed: p.candidates_listed.unwrap_or(10),
            optimize,
            cloudsim: p.emulate == Some(vmplace_wire::state::Emulate::Cloudsim),
            min_gain_w: p.min_gain_w.unwrap_or(0.0),
            time_limit_s: p.time_limit_s.unwrap_or(0.5),
            max_concurrent: p.max_concurrent_per_host.unwrap_or(2),
            clock: Clock::default(),
        }
    }

    /// The round's deadline, `time_limit_s` after the call began (or `planning`, when the caller
    /// did not say), with the cancel flag. The round MIP's limit is what is left of it.
    pub fn stop(&self, planning: Instant) -> Budget {
        self.clock.budget(self.time_limit_s, planning)
    }
}

//! Trace-driven simulation of a day of PlanetLab VMs with the CloudSim power set-up, so that
//! vmplace's policies can be compared with CloudSim's published figures.
//!
//! Each 300 s interval: VMs request their type's MIPS x the trace sample; energy is
//! (P(u_start) + P(u_end)) / 2 x 300 s for hosts that were on at the start; under the `cloudsim`
//! workload, VMs that ask for nothing leave; then the monitor runs the round planner
//! (`crate::migration`) on the VMs' usage histories and the moves take effect. A migration costs 10 %
//! of the VM's requested MIPS while it lasts (PDM) and counts as 100 % on both its hosts (SLATAH),
//! as does a host whose VMs request more than its MIPS for the rest of the interval.

//!
//! By file: [`trace`] reads the days, `round` sets up CloudSim's pool and the monitor's state,
//! `replay` runs the day, [`floor`] bounds the energy any policy needs.

pub mod floor;
mod replay;
mod round;
pub mod trace;

pub use trace::{load_planetlab, Trace};

use serde::Serialize;
use std::collections::BTreeMap;
use vmplace_wire::state::{Detection, Selection, State};

/// HP ProLiant ML110 G4 (Xeon 3040) SPECpower watts at 0..100 %.
pub const G4_WATTS: [f64; 11] = [
    86.0, 89.4, 92.6, 96.0, 99.5, 102.0, 106.0, 108.0, 112.0, 114.0, 117.0,
];
/// HP ProLiant ML110 G5 (Xeon 3075).
pub const G5_WATTS: [f64; 11] = [
    93.7, 97.0, 101.0, 105.0, 110.0, 116.0, 121.0, 125.0, 129.0, 133.0, 135.0,
];
/// VM types: (MIPS, RAM MB).
pub const VM_TYPES: [(f64, f64); 4] = [
    (2500.0, 870.0),
    (2000.0, 1740.0),
    (1000.0, 1740.0),
    (500.0, 613.0),
];
/// Seconds between samples and monitoring rounds.
pub const INTERVAL_S: f64 = 300.0;

/// A policy by name: `dvfs`, or `<detection>-<selection>-<parameter>` such as `lr-mmt-1.2`.
#[derive(Debug, Clone, PartialEq)]
pub enum SimPolicy {
    /// No migrations; host power follows utilisation.
    Dvfs,
    /// The round planner with these choices.
    Migrate {
        /// Overload detection.
        detection: Detection,
        /// VM selection.
        selection: Selection,
        /// Detector parameter.
        parameter: f64,
        /// The round MIP instead of PABFD.
        optimize: bool,
    },
}

impl std::str::FromStr for SimPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        // Names are case-insensitive: `LR-MMT-1.2` is `lr-mmt-1.2`, as the papers write it.
        let lower = s.to_ascii_lowercase();
        let s = lower.as_str();
        if s == "dvfs" {
            return Ok(SimPolicy::Dvfs);
        }
        if s == "vmplace" {
            return Ok(SimPolicy::Migrate {
                detection: Detection::Lr,
                selection: Selection::Mmt,
                parameter: 1.2,
                optimize: true,
            });
        }
        let parts: Vec<&str> = s.split('-').collect();
        let [d, sel, p] = parts.as_slice() else {
            return Err(format!(
                "`{s}`: expected dvfs, vmplace or <thr|iqr|mad|lr|lrr>-<mmt|mu|mc|rs>-<parameter>"
            ));
        };
        let detection = match *d {
            "thr" => Detection::Thr,
            "iqr" => Detection::Iqr,
            "mad" => Detection::Mad,
            "lr" => Detection::Lr,
            "lrr" => Detection::Lrr,
            other => return Err(format!("unknown detection `{other}`")),
        };
        let selection = match *sel {
            "mmt" => Selection::Mmt,
            "mu" => Selection::Mu,
            "rs" => Selection::Rs,
            "mc" => Selection::Mc,
            other => return Err(format!("unknown selection `{other}`")),
        };
        let parameter = p
            .parse::<f64>()
            .map_err(|_| format!("`{p}` is not a number"))?;
        // The range of the state document's `policy.parameter`.
        let max = vmplace_wire::limits::WEIGHT_MAX;
        if !(parameter.is_finite() && (0.0..=max).contains(&parameter)) {
            return Err(format!(
                "the parameter `{p}` is not a number between 0 and {max}"
            ));
        }
        Ok(SimPolicy::Migrate {
            detection,
            selection,
            parameter,
            optimize: false,
        })
    }
}

/// One interval of the time series.
#[derive(Debug, Clone, Serialize)]
pub struct IntervalStats {
    /// Seconds since start (end of the interval).
    pub t_s: f64,
    /// Hosts running VMs.
    pub active_hosts: usize,
    /// Hosts whose VMs requested more than their capacity.
    pub overloaded_hosts: usize,
    /// Migrations decided at the end of this interval.
    pub migrations: usize,
    /// Mean power over the interval, W.
    pub power_w: f64,
    /// The floor's mean power over the interval, W (models/simulation.md).
    pub floor_w: f64,
}

/// The report of a simulated day.
#[derive(Debug, Clone, Serialize)]
pub struct SimReport {
    /// Policy name.
    pub policy: String,
    /// VMs.
    pub vms: usize,
    /// The workload replayed.
    pub workload: Workload,
    /// VMs still running at the end (under the `cloudsim` workload, idle VMs leave).
    pub vms_left: usize,
    /// Hosts.
    pub hosts: usize,
    /// Energy over the day.
    pub energy_kwh: f64,
    /// A proven lower bound on the energy any policy needs to serve the day's demand with no host
    /// over capacity (models/simulation.md).
    pub energy_floor_kwh: f64,
    /// `energy_kwh / energy_floor_kwh`: how far from the best any policy could do.
    pub floor_ratio: f64,
    /// VM migrations.
    pub migrations: usize,
    /// Migrations by reason (`overload`, `underload`).
    pub migrations_by_reason: BTreeMap<String, usize>,
    /// Fraction of active host time spent at 100 %.
    pub slatah: f64,
    /// Fraction of requested MIPS lost to migrations.
    pub pdm: f64,
    /// SLATAH x PDM.
    pub slav: f64,
    /// Energy x SLAV.
    pub esv: f64,
    /// Wall time of the simulation, s.
    pub time_s: f64,
    /// Per-interval series.
    pub series: Vec<IntervalStats>,
}

/// What happens to a VM that asks for no CPU at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Workload {
    /// As CloudSim 3.0.3's `PowerDatacenter`: a VM that asks for no CPU at a processing time
    /// (its sample and the next are 0 %) counts as finished and leaves for the rest of the day.
    /// About half of each day's VMs leave this way, most within the first hours; CloudSim's
    /// published figures are for this workload.
    Cloudsim,
    /// Every VM runs the whole day.
    Full,
}

/// Simulates `traces` on `hosts` hosts (alternating G4, G5) under `policy`.
pub fn simulate(
    traces: &[Trace],
    hosts: usize,
    policy: &SimPolicy,
    name: &str,
    workload: Workload,
) -> SimReport {
    simulate_with(traces, hosts, policy, name, workload, &|_| {})
}

/// [`simulate`], calling `round_done(step)` after every monitoring round (for progress).
pub fn simulate_with(
    traces: &[Trace],
    hosts: usize,
    policy: &SimPolicy,
    name: &str,
    workload: Workload,
    round_done: &(dyn Fn(usize) + Sync),
) -> SimReport {
    match replay(traces, hosts, policy, name, workload, None, round_done) {
        Replay::Report(r) => *r,
        Replay::State(_) => unreachable!("no stop step was given"),
    }
}

/// The state document the monitor hands the planner at `step` (1 <= step < samples) of the same
/// replay: a realistic large input for `vmplace migrate`. None if `step` is out of range.
pub fn state_at(
    traces: &[Trace],
    hosts: usize,
    policy: &SimPolicy,
    workload: Workload,
    step: usize,
) -> Option<State> {
    let samples = traces.iter().map(|t| t.samples.len()).min().unwrap_or(0);
    if step == 0 || step >= samples {
        return None;
    }
    match replay(traces, hosts, policy, "", workload, Some(step), &|_| {}) {
        Replay::State(s) => Some(*s),
        Replay::Report(_) => None,
    }
}

enum Replay {
    Report(Box<SimReport>),
    State(Box<State>),
}

use replay::replay;

//! Trace-driven simulation of a day of PlanetLab VMs with the CloudSim power set-up, so that
//! vmplace's policies can be compared with CloudSim's published figures.
//!
//! Each 300 s interval: VMs request their type's MIPS x the trace sample; energy is
//! (P(u_start) + P(u_end)) / 2 x 300 s for hosts that were on at the start; under the `cloudsim`
//! workload, VMs that ask for nothing leave; then the monitor runs the round planner
//! (`crate::migrate`) on the VMs' usage histories and the moves take effect. A migration costs 10 %
//! of the VM's requested MIPS while it lasts (PDM) and counts as 100 % on both its hosts (SLATAH),
//! as does a host whose VMs request more than its MIPS for the rest of the interval.

use crate::format::errors::ErrorCode;
use crate::format::state::{
    Detection, HostState, MigrationPolicy, PowerModel, Selection, State, StateHost, StateVm,
};
use crate::format::{InputError, Storage};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

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

/// One VM's trace.
#[derive(Debug, Clone)]
pub struct Trace {
    /// File name.
    pub name: String,
    /// CPU utilisation per interval, fraction.
    pub samples: Vec<f64>,
}

/// Reads a PlanetLab day: one file per VM, one integer percentage per line, files in byte order
/// of their names. Every problem of every file is reported, with the file and line.
pub fn load_planetlab(dir: &Path, samples: usize) -> Result<Vec<Trace>, Vec<InputError>> {
    let unreadable =
        |path: String, why: String| InputError::new(ErrorCode::TraceUnreadable, path, why);
    let entries = std::fs::read_dir(dir).map_err(|e| {
        vec![unreadable(
            dir.display().to_string(),
            format!("cannot list: {e}"),
        )]
    })?;
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| !n.starts_with('.') && n != "README.md")
        .collect();
    names.sort();
    let mut errors = Vec::new();
    let mut traces = Vec::with_capacity(names.len());
    for name in names {
        let text = match std::fs::read_to_string(dir.join(&name)) {
            Ok(t) => t,
            Err(e) => {
                errors.push(unreadable(name.clone(), format!("cannot read: {e}")));
                continue;
            }
        };
        let mut values = Vec::with_capacity(samples);
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let at = format!("{name}:{}", i + 1);
            match line.parse::<f64>() {
                Ok(v) if (0.0..=100.0).contains(&v) => values.push(v / 100.0),
                Ok(v) => errors.push(InputError::new(
                    ErrorCode::TraceOutOfRange,
                    at,
                    format!("{v} is not a percentage in 0..100"),
                )),
                Err(_) => errors.push(InputError::new(
                    ErrorCode::TraceNotNumber,
                    at,
                    format!("`{line}` is not a number"),
                )),
            }
        }
        if values.len() < samples {
            errors.push(InputError::new(
                ErrorCode::TraceShort,
                name.clone(),
                format!("{} samples, {samples} needed", values.len()),
            ));
        }
        values.truncate(samples);
        traces.push(Trace {
            name,
            samples: values,
        });
    }
    if errors.is_empty() {
        Ok(traces)
    } else {
        Err(errors)
    }
}

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

struct Host {
    mips: f64,
    watts: &'static [f64; 11],
}

/// What happens to a VM that asks for no CPU at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
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
    match replay(traces, hosts, policy, name, workload, None) {
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
    match replay(traces, hosts, policy, "", workload, Some(step)) {
        Replay::State(s) => Some(*s),
        Replay::Report(_) => None,
    }
}

enum Replay {
    Report(Box<SimReport>),
    State(Box<State>),
}

fn replay(
    traces: &[Trace],
    hosts: usize,
    policy: &SimPolicy,
    name: &str,
    workload: Workload,
    stop: Option<usize>,
) -> Replay {
    let start = std::time::Instant::now();
    let pool: Vec<Host> = (0..hosts)
        .map(|i| {
            if i % 2 == 0 {
                Host {
                    mips: 2.0 * 1860.0,
                    watts: &G4_WATTS,
                }
            } else {
                Host {
                    mips: 2.0 * 2660.0,
                    watts: &G5_WATTS,
                }
            }
        })
        .collect();
    let n = traces.len();
    let per_type = n.div_ceil(4).max(1);
    let vm_type: Vec<(f64, f64)> = (0..n).map(|i| VM_TYPES[(i / per_type).min(3)]).collect();
    let steps = traces.iter().map(|t| t.samples.len()).min().unwrap_or(0);
    // Initial placement: power-aware best fit on the full MIPS each VM asks for at creation.
    let threshold = match policy {
        SimPolicy::Migrate {
            detection: Detection::Thr,
            parameter,
            ..
        } => Some(*parameter),
        SimPolicy::Migrate { .. } => Some(0.7),
        SimPolicy::Dvfs => None,
    };
    let mut host_of = initial_placement(&pool, &vm_type, threshold);
    let gone: Vec<std::cell::Cell<bool>> = vec![std::cell::Cell::new(false); n];
    let requested = |v: usize, step: usize| {
        if gone[v].get() {
            0.0
        } else {
            vm_type[v].0 * traces[v].samples[step]
        }
    };
    let util_of = |host_of: &[usize], step: usize| -> Vec<f64> {
        let mut r = vec![0.0; pool.len()];
        for v in 0..n {
            r[host_of[v]] += requested(v, step);
        }
        r.iter().zip(&pool).map(|(x, h)| x / h.mips).collect()
    };
    let power = |h: usize, u: f64| crate::migration::detect::power_at(pool[h].watts, u);
    let mut prev = util_of(&host_of, 0);
    let (mut energy_j, mut active_s, mut full_s, mut lost, mut asked_total) =
        (0.0, 0.0, 0.0, 0.0, 0.0);
    let mut migrations = 0;
    let mut series = Vec::with_capacity(steps);
    let mut moved_at: Vec<Option<usize>> = vec![None; n];
    let mut by_reason: BTreeMap<String, usize> = BTreeMap::new();
    // SLATAH time of an interval whose hosts run at `before` utilisation until their migrations
    // end and at `after` from then on. `window[h]` = (longest migration into h, longest out of h).
    // As in CloudSim, a target gives a VM migrating in 10 % of what it asks, so it counts as at
    // 100 % while the VM comes in; a source keeps giving the VM what it asks (CloudSim's
    // bookkeeping adds the 10 % back), so it counts only if it is over capacity anyway.
    let sla_time =
        |before: &[f64], after: &[f64], window: &[(f64, f64)], active: &mut f64, full: &mut f64| {
            for h in 0..pool.len() {
                let (w_in, w_out) = (window[h].0.min(INTERVAL_S), window[h].1.min(INTERVAL_S));
                let w = w_in.max(w_out);
                if w > 0.0 && (before[h] > 0.0 || after[h] > 0.0) {
                    *active += w;
                    *full += if before[h] > 1.0 { w } else { w_in };
                }
                if after[h] > 0.0 {
                    *active += INTERVAL_S - w;
                    if after[h] > 1.0 {
                        *full += INTERVAL_S - w;
                    }
                }
            }
        };
    sla_time(
        &prev,
        &prev,
        &vec![(0.0, 0.0); hosts],
        &mut active_s,
        &mut full_s,
    );
    for step in 1..steps {
        let now = util_of(&host_of, step);
        let mut overloaded = 0;
        for h in 0..pool.len() {
            if prev[h] > 0.0 {
                energy_j += (power(h, prev[h]) + power(h, now[h])) / 2.0 * INTERVAL_S;
            }
            if now[h] > 1.0 {
                overloaded += 1;
            }
        }
        let mut window = vec![(0.0f64, 0.0f64); hosts];
        for v in 0..n {
            asked_total += requested(v, step - 1) * INTERVAL_S;
        }
        if workload == Workload::Cloudsim {
            for (v, t) in traces.iter().enumerate() {
                let next = t.samples.get(step + 1).copied().unwrap_or(0.0);
                if t.samples[step] == 0.0 && next == 0.0 {
                    gone[v].set(true);
                }
            }
        }
        // The monitor's round on the histories up to `step`.
        let (mut moved, mut rerouted) = (0, 0);
        let left: Vec<bool> = gone.iter().map(|g| g.get()).collect();
        let day = Day {
            pool: &pool,
            vm_type: &vm_type,
            traces,
            policy,
        };
        if stop == Some(step) {
            return Replay::State(Box::new(round_state(
                &day, &host_of, step, &moved_at, &left,
            )));
        }
        if let SimPolicy::Migrate { .. } = policy {
            let state = round_state(&day, &host_of, step, &moved_at, &left);
            // The simulator's own state is valid by construction; a failure here is a bug, and
            // the round then moves nothing rather than plan from a bad state.
            let plan = match crate::validation::validate_state(state) {
                Ok(state) => crate::migration::plan(&state),
                Err(errors) => {
                    tracing::error!(?errors, step, "simulator built an invalid state");
                    crate::format::state::Plan::default()
                }
            };
            rerouted = plan.stats.rerouted;
            if rerouted > 0 {
                *by_reason.entry("rerouted".into()).or_default() += rerouted;
            }
            for m in &plan.migrations {
                let (Some(v), Some(h)) = (
                    m.vm.strip_prefix('v').and_then(|x| x.parse::<usize>().ok()),
                    m.to.strip_prefix('h').and_then(|x| x.parse::<usize>().ok()),
                ) else {
                    continue;
                };
                // The VM gets 90 % of what it requests while it migrates: memory / (bandwidth / 2).
                let seconds = vm_type[v].1 * 8.0 / 500.0;
                lost += 0.1 * requested(v, step) * seconds.min(INTERVAL_S);
                window[h].0 = window[h].0.max(seconds);
                // A re-routed VM also migrated to its first target (CloudSim sends it to both).
                if let Some(a) = m
                    .rerouted_from
                    .as_ref()
                    .and_then(|x| x.strip_prefix('h'))
                    .and_then(|x| x.parse::<usize>().ok())
                {
                    window[a].0 = window[a].0.max(seconds);
                }
                window[host_of[v]].1 = window[host_of[v]].1.max(seconds);
                host_of[v] = h;
                moved_at[v] = Some(step);
                *by_reason.entry(m.reason.name().to_string()).or_default() += 1;
                moved += 1;
            }
        }
        migrations += moved + rerouted;
        prev = util_of(&host_of, step);
        if step + 1 < steps {
            sla_time(&now, &prev, &window, &mut active_s, &mut full_s);
        }
        series.push(IntervalStats {
            t_s: step as f64 * INTERVAL_S,
            active_hosts: prev.iter().filter(|&&u| u > 0.0).count(),
            overloaded_hosts: overloaded,
            migrations: moved,
        });
    }
    let slatah = if active_s > 0.0 {
        full_s / active_s
    } else {
        0.0
    };
    let pdm = if asked_total > 0.0 {
        lost / asked_total
    } else {
        0.0
    };
    let energy_kwh = energy_j / 3.6e6;
    Replay::Report(Box::new(SimReport {
        policy: name.to_string(),
        vms: n,
        workload,
        vms_left: gone.iter().filter(|g| !g.get()).count(),
        hosts,
        energy_kwh,
        migrations,
        migrations_by_reason: by_reason,
        slatah,
        pdm,
        slav: slatah * pdm,
        esv: energy_kwh * slatah * pdm,
        time_s: start.elapsed().as_secs_f64(),
        series,
    }))
}

/// CloudSim's initial placement: each VM in order, asking for its full MIPS, RAM and 100 Mbit/s,
/// goes to the host whose power grows least. A non-empty host must stay at or below `threshold`
/// (the detector's, or its 0.7 fallback while there is no history), and a one-core VM needs a
/// core at least as fast as it asks. No host's utilisation has been measured yet, so every
/// increase is counted from idle power: empty hosts are cheapest, and the VMs spread out.
/// Without a threshold (DVFS, CloudSim's `PowerVmAllocationPolicySimple`) it is first fit.
fn initial_placement(pool: &[Host], vm_type: &[(f64, f64)], threshold: Option<f64>) -> Vec<usize> {
    let mut mips_used = vec![0.0; pool.len()];
    let mut ram_used = vec![0.0; pool.len()];
    let mut count = vec![0usize; pool.len()];
    let mut out = vec![0; vm_type.len()];
    for (v, &(mips, ram)) in vm_type.iter().enumerate() {
        let mut best: Option<(f64, usize)> = None;
        for (h, host) in pool.iter().enumerate() {
            let after_util = (mips_used[h] + mips) / host.mips;
            if mips > host.mips / 2.0
                || after_util > 1.0
                || ram_used[h] + ram > 4096.0
                || count[h] >= 10
                || threshold.is_some_and(|t| mips_used[h] > 0.0 && after_util > t)
            {
                continue;
            }
            if threshold.is_none() {
                best = Some((0.0, h));
                break;
            }
            let before = crate::migration::detect::power_at(host.watts, 0.0);
            let after = crate::migration::detect::power_at(host.watts, after_util);
            if best.is_none_or(|(b, _)| after - before < b) {
                best = Some((after - before, h));
            }
        }
        let h = best.map(|b| b.1).unwrap_or(v % pool.len());
        mips_used[h] += mips;
        ram_used[h] += ram;
        count[h] += 1;
        out[v] = h;
    }
    out
}

/// What stays the same over a simulated day.
struct Day<'a> {
    pool: &'a [Host],
    vm_type: &'a [(f64, f64)],
    traces: &'a [Trace],
    policy: &'a SimPolicy,
}

/// The state document the monitor hands the planner at `step`: where each VM runs, when it last
/// moved, and which VMs have left (`gone`).
fn round_state(
    day: &Day,
    host_of: &[usize],
    step: usize,
    moved_at: &[Option<usize>],
    gone: &[bool],
) -> State {
    let Day {
        pool,
        vm_type,
        traces,
        policy,
    } = *day;
    let (detection, selection, parameter, optimize) = match policy {
        SimPolicy::Migrate {
            detection,
            selection,
            parameter,
            optimize,
        } => (*detection, *selection, *parameter, *optimize),
        SimPolicy::Dvfs => (Detection::Thr, Selection::Mmt, 0.8, false),
    };
    let hosts = pool
        .iter()
        .enumerate()
        .map(|(i, h)| StateHost {
            id: format!("h{i}"),
            capacity: [("cpu".to_string(), h.mips), ("memory_gib".to_string(), 4.0)]
                .into_iter()
                .collect(),
            storage: vec!["nfs".into()],
            state: HostState::Active,
            power: Some(PowerModel {
                watts: h.watts.to_vec(),
            }),
            bandwidth_mbps: Some(1000.0),
        })
        .collect();
    let first = (step + 1).saturating_sub(crate::migration::HISTORY);
    // VMs in arrival order: the planner breaks ties by list position, as CloudSim does.
    let mut arrival: Vec<usize> = (0..traces.len()).filter(|&v| !gone[v]).collect();
    arrival.sort_by_key(|&v| (moved_at[v].map_or(0, |s| s + 1), v));
    let vms = arrival
        .into_iter()
        .map(|v| StateVm {
            id: format!("v{v}"),
            host: format!("h{}", host_of[v]),
            storage: "nfs".into(),
            demand: [
                ("cpu".to_string(), vm_type[v].0),
                ("memory_gib".to_string(), vm_type[v].1 / 1024.0),
            ]
            .into_iter()
            .collect(),
            // CloudSim's PlanetLab cloudlets request no RAM once instantiated (null utilisation
            // model): RAM sets the migration time but does not constrain consolidation.
            usage: [
                ("cpu".to_string(), traces[v].samples[first..=step].to_vec()),
                ("memory_gib".to_string(), vec![0.0]),
            ]
            .into_iter()
            .collect::<BTreeMap<_, _>>(),
            anti_affinity: None,
            moved_ago_s: moved_at[v].map(|s| (step - s) as f64 * INTERVAL_S),
        })
        .collect();
    State {
        storage: vec![Storage {
            id: "nfs".into(),
            capacity_gib: 1e9,
            used_gib: 0.0,
        }],
        hosts,
        vms,
        policy: Some(MigrationPolicy {
            detection: Some(detection),
            parameter: Some(parameter),
            selection: Some(selection),
            placement: Some(if optimize {
                crate::format::state::Planner::Optimize
            } else {
                crate::format::state::Planner::Pabfd
            }),
            candidates_listed: Some(1),
            // The classic policies are here to be compared with CloudSim's figures.
            emulate: (!optimize).then_some(crate::format::state::Emulate::Cloudsim),
            ..Default::default()
        }),
    }
}

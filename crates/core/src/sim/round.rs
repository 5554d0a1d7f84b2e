//! The day's hosts and VMs as CloudSim sets them up, its initial placement, and the state
//! document the monitor hands the planner each round.

use super::{SimPolicy, Trace, G4_WATTS, G5_WATTS, INTERVAL_S, VM_TYPES};
use std::collections::BTreeMap;
use vmplace_wire::state::{
    Detection, HostState, MigrationPolicy, PowerModel, Selection, State, StateHost, StateVm,
};
use vmplace_wire::Storage;

/// A simulated host.
pub(super) struct Host {
    pub mips: f64,
    pub watts: &'static [f64; 11],
}

/// 800 hosts alternating HP ProLiant ML110 G4 (2 x 1860 MIPS) and G5 (2 x 2660 MIPS).
pub(super) fn hosts(n: usize) -> Vec<Host> {
    (0..n)
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
        .collect()
}

/// The four VM types in contiguous blocks over the trace files: (MIPS, RAM MB).
pub(super) fn vm_types(n: usize) -> Vec<(f64, f64)> {
    let per_type = n.div_ceil(4).max(1);
    (0..n).map(|i| VM_TYPES[(i / per_type).min(3)]).collect()
}

/// CloudSim's initial placement: each VM in order, asking for its full MIPS, RAM and 100 Mbit/s,
/// goes to the host whose power grows least. A non-empty host must stay at or below `threshold`
/// (the detector's, or its 0.7 fallback while there is no history), and a one-core VM needs a
/// core at least as fast as it asks. No host's utilisation has been measured yet, so every
/// increase is counted from idle power: empty hosts are cheapest, and the VMs spread out.
/// Without a threshold (DVFS, CloudSim's `PowerVmAllocationPolicySimple`) it is first fit.
pub(super) fn initial_placement(
    pool: &[Host],
    vm_type: &[(f64, f64)],
    threshold: Option<f64>,
) -> Vec<usize> {
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
pub(super) struct Day<'a> {
    pub pool: &'a [Host],
    pub vm_type: &'a [(f64, f64)],
    pub traces: &'a [Trace],
    pub policy: &'a SimPolicy,
}

/// The state document the monitor hands the planner at `step`: where each VM runs, when it last
/// moved, and which VMs have left (`gone`).
pub(super) fn round_state(
    day: &Day,
    host_of: &[usize],
    step: usize,
    moved_at: &[Option<usize>],
    gone: &[bool],
) -> State {
    State {
        storage: vec![Storage {
            id: "nfs".into(),
            capacity_gib: 1e9,
            used_gib: 0.0,
            allocation_ratio: None,
            reserved_gib: None,
            traits: Default::default(),
        }],
        hosts: state_hosts(day.pool),
        vms: state_vms(day, host_of, step, moved_at, gone),
        groups: Vec::new(),
        policy: Some(migration_policy(day.policy)),
        resources: Vec::new(),
        balance: Vec::new(),
        move_costs: None,
        min_domains: None,
        dependencies: None,
    }
}

/// The day's hosts as the state's: all active, on the one storage system.
fn state_hosts(pool: &[Host]) -> Vec<StateHost> {
    pool.iter()
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
            labels: Default::default(),
            allocation_ratio: Default::default(),
            reserved: Default::default(),
            traits: Default::default(),
            safety_capacity: Default::default(),
        })
        .collect()
}

/// The VMs still running at `step`, in arrival order, with their CPU history up to it.
fn state_vms(
    day: &Day,
    host_of: &[usize],
    step: usize,
    moved_at: &[Option<usize>],
    gone: &[bool],
) -> Vec<StateVm> {
    let Day {
        vm_type, traces, ..
    } = *day;
    let first = (step + 1).saturating_sub(crate::migration::HISTORY);
    // VMs in arrival order: the planner breaks ties by list position, as CloudSim does.
    let mut arrival: Vec<usize> = (0..traces.len()).filter(|&v| !gone[v]).collect();
    arrival.sort_by_key(|&v| (moved_at[v].map_or(0, |s| s + 1), v));
    arrival
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
            groups: Vec::new(),
            required_traits: Default::default(),
            forbidden_traits: Default::default(),
            moved_ago_s: moved_at[v].map(|s| (step - s) as f64 * INTERVAL_S),
            move_cost: None,
        })
        .collect()
}

/// The state's migration policy for the simulated one (DVFS: the planner's defaults, unused).
fn migration_policy(policy: &SimPolicy) -> MigrationPolicy {
    let (detection, selection, parameter, optimize) = match policy {
        SimPolicy::Migrate {
            detection,
            selection,
            parameter,
            optimize,
        } => (*detection, *selection, *parameter, *optimize),
        SimPolicy::Dvfs => (Detection::Thr, Selection::Mmt, 0.8, false),
    };
    MigrationPolicy {
        detection: Some(detection),
        parameter: Some(parameter),
        selection: Some(selection),
        placement: Some(if optimize {
            vmplace_wire::state::Planner::Optimize
        } else {
            vmplace_wire::state::Planner::Pabfd
        }),
        candidates_listed: Some(1),
        // The classic policies are here to be compared with CloudSim's figures.
        emulate: (!optimize).then_some(vmplace_wire::state::Emulate::Cloudsim),
        // CloudSim starts every migration of a round at once; vmplace's plans run in waves of
        // at most two migrations per host (the default).
        max_concurrent_per_host: (!optimize).then_some(vmplace_wire::limits::COUNT_MAX as usize),
        ..Default::default()
    }
}

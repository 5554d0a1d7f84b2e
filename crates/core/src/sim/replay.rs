//! The day's loop: each interval, energy and overload from the VMs' requests, VMs that leave,
//! the monitor's round, the moves, and the SLA accounting of their migrations.

use super::floor::Floor;
use super::round::{self, Day, Host};
use super::{IntervalStats, Replay, SimPolicy, SimReport, Trace, Workload, INTERVAL_S};
use crate::model::floor::HostType;
use std::collections::BTreeMap;
use vmplace_wire::state::{Detection, Plan};

/// Where the day stands: each VM's host, when it last moved, and whether it left.
struct Placement {
    host_of: Vec<usize>,
    moved_at: Vec<Option<usize>>,
    gone: Vec<bool>,
}

/// What the day adds up.
#[derive(Default)]
struct Tally {
    energy_j: f64,
    /// The energy floor (models/simulation.md), J.
    floor_j: f64,
    /// Host-seconds with a VM, and of them at 100 % (SLATAH).
    active_s: f64,
    full_s: f64,
    /// MIPS-seconds lost to migrations, and asked for (PDM).
    lost: f64,
    asked: f64,
    migrations: usize,
    by_reason: BTreeMap<String, usize>,
    series: Vec<IntervalStats>,
}

/// MIPS that VM `v` asks for at `step` (nothing once it has left).
fn requested(day: &Day, at: &Placement, v: usize, step: usize) -> f64 {
    if at.gone[v] {
        0.0
    } else {
        day.vm_type[v].0 * day.traces[v].samples[step]
    }
}

/// Each host's CPU utilisation at `step`: requested MIPS over capacity (may exceed 1).
fn utilisation(day: &Day, at: &Placement, step: usize) -> Vec<f64> {
    let mut r = vec![0.0; day.pool.len()];
    for v in 0..day.traces.len() {
        r[at.host_of[v]] += requested(day, at, v, step);
    }
    r.iter().zip(day.pool).map(|(x, h)| x / h.mips).collect()
}

/// SLATAH time of an interval whose hosts run at `before` utilisation until their migrations end
/// and at `after` from then on. `window[h]` = (longest migration into h, longest out of h). As in
/// CloudSim, a target gives a VM migrating in 10 % of what it asks, so it counts as at 100 % while
/// the VM comes in; a source keeps giving the VM what it asks (CloudSim's bookkeeping adds the
/// 10 % back), so it counts only if it is over capacity anyway.
fn sla_time(before: &[f64], after: &[f64], window: &[(f64, f64)], tally: &mut Tally) {
    for h in 0..before.len() {
        let (w_in, w_out) = (window[h].0.min(INTERVAL_S), window[h].1.min(INTERVAL_S));
        let w = w_in.max(w_out);
        if w > 0.0 && (before[h] > 0.0 || after[h] > 0.0) {
            tally.active_s += w;
            tally.full_s += if before[h] > 1.0 { w } else { w_in };
        }
        if after[h] > 0.0 {
            tally.active_s += INTERVAL_S - w;
            if after[h] > 1.0 {
                tally.full_s += INTERVAL_S - w;
            }
        }
    }
}

/// The monitor's round at `step`: the planner's plan for the state it sees.
fn plan_round(day: &Day, at: &Placement, step: usize) -> Plan {
    let state = round::round_state(day, &at.host_of, step, &at.moved_at, &at.gone);
    // The simulator's own state is valid by construction; a failure here is a bug, and the round
    // then moves nothing rather than plan from a bad state.
    match crate::validation::validate_state(state) {
        Ok(state) => crate::migration::plan(&state),
        Err(errors) => {
            tracing::error!(?errors, step, "simulator built an invalid state");
            Plan::default()
        }
    }
}

/// Applies a plan's moves, wave after wave (`steps`): each VM gets 90 % of what it requests while
/// it migrates (memory / (bandwidth / 2)), a wave lasts as long as its longest migration, and the
/// migration windows of the hosts grow to the end of their last migration. Returns the moves
/// made.
fn apply(
    day: &Day,
    at: &mut Placement,
    plan: &Plan,
    step: usize,
    window: &mut [(f64, f64)],
    tally: &mut Tally,
) -> usize {
    let index = |id: &str, prefix: char| id.strip_prefix(prefix)?.parse::<usize>().ok();
    let seconds = |v: usize| day.vm_type[v].1 * 8.0 / 500.0;
    let by_vm: std::collections::HashMap<&str, &vmplace_wire::state::Migration> =
        plan.migrations.iter().map(|m| (m.vm.as_str(), m)).collect();
    // Each hop's end: the wave's start plus its own migration time. `pos`: where a VM is between
    // its hops (a VM with a pivot, `via`, goes there first).
    let mut start = 0.0;
    let mut pos: std::collections::HashMap<&str, &str> = std::collections::HashMap::new();
    for wave in &plan.steps {
        let mut longest: f64 = 0.0;
        for id in wave {
            let (Some(m), Some(v)) = (by_vm.get(id.as_str()), index(id, 'v')) else {
                continue;
            };
            let here = pos.get(id.as_str()).copied();
            let to = match (&m.via, here) {
                (Some(p), None) => p.as_str(),
                _ => m.to.as_str(),
            };
            pos.insert(id.as_str(), to);
            let (Some(from), Some(to)) = (index(here.unwrap_or(&m.from), 'h'), index(to, 'h'))
            else {
                continue;
            };
            tally.lost += 0.1 * requested(day, at, v, step) * seconds(v).min(INTERVAL_S);
            let end = start + seconds(v);
            window[to].0 = window[to].0.max(end);
            window[from].1 = window[from].1.max(end);
            // A re-routed VM also migrated to its first target (CloudSim sends it to both).
            if let Some(a) = m.rerouted_from.as_deref().and_then(|x| index(x, 'h')) {
                window[a].0 = window[a].0.max(end);
            }
            longest = longest.max(seconds(v));
        }
        start += longest;
    }
    let mut moved = 0;
    for m in &plan.migrations {
        let (Some(v), Some(h)) = (index(&m.vm, 'v'), index(&m.to, 'h')) else {
            continue;
        };
        at.host_of[v] = h;
        at.moved_at[v] = Some(step);
        *tally
            .by_reason
            .entry(m.reason.name().to_string())
            .or_default() += 1;
        moved += 1;
    }
    moved
}

/// The floor of the interval that ends at `step`, in watts (models/simulation.md): the least
/// power that serves the demand at its start, plus the least that serves, at its end, what the VMs
/// that asked for CPU at its start ask for then (only hosts running at the start are counted),
/// halved as the energy's trapezoid is. It depends on the trace alone, not on the policy.
fn interval_floor(day: &Day, at: &Placement, step: usize, floor: &Floor) -> f64 {
    let (mut start, mut end) = (0.0, 0.0);
    for v in 0..day.traces.len() {
        let r = requested(day, at, v, step - 1);
        if r > 0.0 {
            start += r;
            end += requested(day, at, v, step);
        }
    }
    (floor.min_power(start) + floor.min_power(end)) / 2.0
}

/// The pool's host types, for the floor.
fn host_types(pool: &[Host]) -> Vec<HostType> {
    let mut types: Vec<HostType> = Vec::new();
    for h in pool {
        match types
            .iter_mut()
            .find(|t| t.mips == h.mips && t.watts.as_slice() == h.watts.as_slice())
        {
            Some(t) => t.count += 1,
            None => types.push(HostType {
                count: 1,
                mips: h.mips,
                watts: h.watts.to_vec(),
            }),
        }
    }
    types
}

/// Energy of the interval that ends at `step`, (P(u_start) + P(u_end)) / 2 x 300 s for every host
/// that was on; returns the hosts over capacity at `step`.
fn interval_energy(pool: &[Host], prev: &[f64], now: &[f64], tally: &mut Tally) -> usize {
    let power = |h: usize, u: f64| crate::migration::detect::power_at(pool[h].watts, u);
    let mut overloaded = 0;
    for h in 0..pool.len() {
        if prev[h] > 0.0 {
            tally.energy_j += (power(h, prev[h]) + power(h, now[h])) / 2.0 * INTERVAL_S;
        }
        if now[h] > 1.0 {
            overloaded += 1;
        }
    }
    overloaded
}

/// Under the CloudSim workload, a VM whose sample and next sample are 0 % leaves for good.
fn leave(traces: &[Trace], at: &mut Placement, step: usize) {
    for (v, t) in traces.iter().enumerate() {
        let next = t.samples.get(step + 1).copied().unwrap_or(0.0);
        if t.samples[step] == 0.0 && next == 0.0 {
            at.gone[v] = true;
        }
    }
}

/// Replays the day; stops at `stop` with the monitor's state of that step, if given.
pub(super) fn replay(
    traces: &[Trace],
    hosts: usize,
    policy: &SimPolicy,
    name: &str,
    workload: Workload,
    stop: Option<usize>,
    round_done: &(dyn Fn(usize) + Sync),
) -> Replay {
    let start = std::time::Instant::now();
    let pool = round::hosts(hosts);
    let n = traces.len();
    let vm_type = round::vm_types(n);
    let day = Day {
        pool: &pool,
        vm_type: &vm_type,
        traces,
        policy,
    };
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
    let mut at = Placement {
        host_of: round::initial_placement(&pool, &vm_type, threshold),
        moved_at: vec![None; n],
        gone: vec![false; n],
    };
    let mut tally = Tally {
        series: Vec::with_capacity(steps),
        ..Default::default()
    };
    let floor = Floor::new(&host_types(&pool));
    let mut prev = utilisation(&day, &at, 0);
    sla_time(&prev, &prev, &vec![(0.0, 0.0); hosts], &mut tally);
    for step in 1..steps {
        let now = utilisation(&day, &at, step);
        let energy_before = tally.energy_j;
        let overloaded = interval_energy(&pool, &prev, &now, &mut tally);
        let power_w = (tally.energy_j - energy_before) / INTERVAL_S;
        let floor_w = interval_floor(&day, &at, step, &floor);
        tally.floor_j += floor_w * INTERVAL_S;
        let mut window = vec![(0.0f64, 0.0f64); hosts];
        for v in 0..n {
            tally.asked += requested(&day, &at, v, step - 1) * INTERVAL_S;
        }
        if workload == Workload::Cloudsim {
            leave(traces, &mut at, step);
        }
        if stop == Some(step) {
            return Replay::State(Box::new(round::round_state(
                &day,
                &at.host_of,
                step,
                &at.moved_at,
                &at.gone,
            )));
        }
        let (mut moved, mut rerouted) = (0, 0);
        if let SimPolicy::Migrate { .. } = policy {
            let plan = plan_round(&day, &at, step);
            rerouted = plan.stats.rerouted;
            if rerouted > 0 {
                *tally.by_reason.entry("rerouted".into()).or_default() += rerouted;
            }
            moved = apply(&day, &mut at, &plan, step, &mut window, &mut tally);
        }
        tally.migrations += moved + rerouted;
        prev = utilisation(&day, &at, step);
        if step + 1 < steps {
            sla_time(&now, &prev, &window, &mut tally);
        }
        tally.series.push(IntervalStats {
            t_s: step as f64 * INTERVAL_S,
            active_hosts: prev.iter().filter(|&&u| u > 0.0).count(),
            overloaded_hosts: overloaded,
            migrations: moved,
            power_w,
            floor_w,
        });
        round_done(step);
    }
    Replay::Report(Box::new(report(tally, &at, name, workload, hosts, start)))
}

/// The day's report from its tally.
fn report(
    tally: Tally,
    at: &Placement,
    name: &str,
    workload: Workload,
    hosts: usize,
    start: std::time::Instant,
) -> SimReport {
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
    let slatah = ratio(tally.full_s, tally.active_s);
    let pdm = ratio(tally.lost, tally.asked);
    let energy_kwh = tally.energy_j / 3.6e6;
    let energy_floor_kwh = tally.floor_j / 3.6e6;
    SimReport {
        policy: name.to_string(),
        vms: at.gone.len(),
        workload,
        vms_left: at.gone.iter().filter(|g| !**g).count(),
        hosts,
        energy_kwh,
        energy_floor_kwh,
        floor_ratio: ratio(energy_kwh, energy_floor_kwh),
        migrations: tally.migrations,
        migrations_by_reason: tally.by_reason,
        slatah,
        pdm,
        slav: slatah * pdm,
        esv: energy_kwh * slatah * pdm,
        time_s: start.elapsed().as_secs_f64(),
        series: tally.series,
    }
}

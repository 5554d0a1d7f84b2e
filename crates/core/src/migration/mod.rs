//! Migration planning for one monitoring round: overload detection, VM selection, admission by
//! each candidate host, target choice by policy weights, and underload evacuation
//! (Beloglazov & Buyya 2012, as in CloudSim's power examples), or vmplace's round MIP.
//! Concerns by file: [`policy`], [`detect`], [`select`], [`admission`], [`pabfd`],
//! [`underload`], [`optimize`], [`protocol`]; the pool itself is [`crate::domain::migration`].

pub mod admission;
pub mod detect;
mod optimize;
mod pabfd;
pub mod policy;
mod protocol;
pub mod reassign;
mod select;
mod sequence;
mod underload;

pub use crate::domain::migration::HISTORY;
pub use policy::RoundPolicy;

use crate::budget::Budget;
use crate::domain::migration::{HostIx, IxVec, Pool, VmIx, PARKED};
use crate::validation::Valid;
use rand::SeedableRng;
use std::collections::BTreeMap;
use std::time::Instant;
use vmplace_wire::state::{
    HostAfter, HostState, Message, Migration, MigrationReason, Plan, PlanStats, State,
};
use vmplace_wire::Status;

struct Ctx<'a> {
    pool: Pool,
    policy: &'a RoundPolicy,
    /// The call's deadline (its time limit from its start) and cancel flag.
    stop: Budget,
    migrations: Vec<Migration>,
    messages: Vec<Message>,
    moved: IxVec<VmIx, bool>,
}

/// Power drawn by the hosts that run VMs, and how many they are.
fn power_totals(pool: &Pool) -> (f64, usize) {
    let mut w = 0.0;
    let mut active = 0;
    for h in pool.host_ids() {
        if pool.vms_on(h).next().is_some() {
            w += detect::power(pool, h, pool.cpu_util(h));
            active += 1;
        }
    }
    (w, active)
}

/// Plans one round of a validated state.
pub fn plan(state: &Valid<State>) -> Plan {
    plan_with(state, &RoundPolicy::from_state(state))
}

/// Plans one round of a validated state with a resolved policy, and says why it cannot: a state
/// planned by cost (`policy.reassign`) whose costs could overflow or whose start breaks a hard
/// rule. Other states always have a plan.
pub fn plan_checked(
    state: &Valid<State>,
    policy: &RoundPolicy,
) -> Result<Plan, Vec<vmplace_wire::InputError>> {
    if reassign::planned_by_cost(state) {
        return reassign::round(state, policy);
    }
    Ok(plan_with(state, policy))
}

/// Plans one round of a validated state with a resolved policy. A state planned by cost that
/// [`plan_checked`] refuses gets a plan in which no VM moves.
pub fn plan_with(state: &Valid<State>, policy: &RoundPolicy) -> Plan {
    if reassign::planned_by_cost(state) {
        return reassign::round(state, policy).unwrap_or_default();
    }
    let start = Instant::now();
    let stop = policy.stop(start);
    let pool = Pool::from_state(state);
    let (power_before, active_before) = power_totals(&pool);
    let mut cx = Ctx {
        moved: IxVec::filled(false, pool.vms.len()),
        pool,
        policy,
        stop,
        migrations: Vec::new(),
        messages: Vec::new(),
    };
    let mut stats = PlanStats {
        power_before_w: power_before,
        active_hosts_before: active_before,
        ..Default::default()
    };
    // Sources: hosts in maintenance (every VM leaves), then overloaded hosts (VMs leave until the
    // detector is satisfied).
    let (mut sources, mut leaving) = maintenance_sources(&cx.pool);
    let overloaded: Vec<HostIx> = cx
        .pool
        .host_ids()
        .filter(|&h| {
            cx.pool.hosts[h].state == HostState::Active
                && detect::host_overloaded(&cx.pool, h, policy)
        })
        .collect();
    stats.overloaded_hosts = overloaded
        .iter()
        .map(|&h| cx.pool.hosts[h].id.clone())
        .collect();
    if policy.optimize {
        let status = optimize::round(&mut cx, &overloaded, &mut stats);
        return finish(cx, stats, status, start);
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(policy.seed);
    for &h in &overloaded {
        sources[h] = true;
        leaving.extend(select_overload(&mut cx.pool, h, policy, &mut rng));
    }
    // Placement: by decreasing CPU use, each to the best accepting host.
    leaving.sort_by(|a, b| cx.pool.by_cpu_desc(a.0, b.0));
    for (v, reason) in leaving {
        if cx.migrations.len() >= policy.budget || !pabfd::place(&mut cx, v, &sources, reason) {
            stats.stayed.push(cx.pool.vms[v].id.clone());
        }
    }
    if policy.underload {
        underload::evacuate(&mut cx, &sources, &mut stats);
    }
    finish(cx, stats, Status::Feasible, start)
}

/// Orders the moves of a plan made elsewhere, or edited, into safe waves (`migrate --sequence`):
/// the moves are taken as they are (checked by `validation::check_moves`), their `steps` and
/// `via` are made anew, and moves no safe order can run are dropped and reported.
pub fn sequence_plan(state: &Valid<State>, mut plan: Plan) -> Plan {
    let start = Instant::now();
    let policy = RoundPolicy::from_state(state);
    let mut pool = Pool::from_state(state);
    let vm_ix: std::collections::HashMap<String, VmIx> =
        pool.vm_ids().map(|v| (pool.vms[v].id.clone(), v)).collect();
    let host_ix: std::collections::HashMap<String, HostIx> = pool
        .host_ids()
        .map(|h| (pool.hosts[h].id.clone(), h))
        .collect();
    for m in &mut plan.migrations {
        m.via = None;
        if let (Some(&v), Some(&h)) = (vm_ix.get(&m.vm), host_ix.get(&m.to)) {
            pool.move_vm(v, h);
        }
    }
    let cx = Ctx {
        moved: IxVec::filled(false, pool.vms.len()),
        pool,
        policy: &policy,
        stop: Budget::default(),
        migrations: std::mem::take(&mut plan.migrations),
        messages: std::mem::take(&mut plan.messages),
    };
    let mut stats = plan.stats;
    stats.dropped.clear();
    let mut plan = finish(cx, stats, plan.status, start);
    if reassign::planned_by_cost(state) {
        reassign::recount(state, &mut plan);
    }
    plan
}

/// Hosts in maintenance or off that run VMs, and those VMs: every one of them leaves.
fn maintenance_sources(pool: &Pool) -> (IxVec<HostIx, bool>, Vec<(VmIx, MigrationReason)>) {
    let mut sources = IxVec::filled(false, pool.hosts.len());
    let mut leaving = Vec::new();
    for h in pool.host_ids() {
        if pool.hosts[h].state != HostState::Active {
            sources[h] = pool.vms_on(h).next().is_some();
            leaving.extend(pool.vms_on(h).map(|v| (v, MigrationReason::Maintenance)));
        }
    }
    (sources, leaving)
}

/// The VMs the selection policy takes off overloaded host `h` until the detector is satisfied.
/// They are removed tentatively (parked on no host) while it decides, then put back.
fn select_overload(
    pool: &mut Pool,
    h: HostIx,
    policy: &RoundPolicy,
    rng: &mut rand_chacha::ChaCha8Rng,
) -> Vec<(VmIx, MigrationReason)> {
    let mut chosen = Vec::new();
    while let Some(v) = select::select(pool, h, policy, rng) {
        pool.move_vm(v, PARKED);
        chosen.push((v, MigrationReason::Overload));
        if !detect::host_overloaded(pool, h, policy) {
            break;
        }
    }
    for &(v, _) in &chosen {
        pool.move_vm(v, h);
    }
    chosen
}

/// Each soft rule's violations where the VMs are now.
fn soft_violations(pool: &Pool) -> BTreeMap<String, u32> {
    pool.rules
        .iter()
        .enumerate()
        .filter(|(_, rule)| !rule.hard)
        .map(|(r, rule)| (rule.id.clone(), rule.violations(&pool.rule_counts(r, None))))
        .collect()
}

/// The round's moves in safe waves, then power, utilisation and statistics after them.
fn finish(mut cx: Ctx, mut stats: PlanStats, status: Status, start: Instant) -> Plan {
    let steps = sequence::sequence(&mut cx, &mut stats);
    let (power_after, active_after) = power_totals(&cx.pool);
    stats.power_after_w = power_after;
    stats.active_hosts_after = active_after;
    let hosts_after = cx
        .pool
        .host_ids()
        .map(|h| {
            let used = cx.pool.used(h);
            let n = cx.pool.vms_on(h).count();
            let util = cx
                .pool
                .axes
                .names()
                .iter()
                .zip(used.iter().zip(&cx.pool.hosts[h].cap))
                .map(|(r, (u, c))| (r.clone(), if *c > 0.0 { u / c } else { 0.0 }))
                .collect();
            let power_w = if n > 0 {
                detect::power(&cx.pool, h, cx.pool.cpu_util(h))
            } else {
                0.0
            };
            (
                cx.pool.hosts[h].id.clone(),
                HostAfter {
                    utilisation: util,
                    vms: n,
                    power_w,
                },
            )
        })
        .collect::<BTreeMap<_, _>>();
    stats.soft_violations = soft_violations(&cx.pool);
    stats.time_s = start.elapsed().as_secs_f64();
    Plan {
        status,
        migrations: cx.migrations,
        steps,
        messages: cx.messages,
        hosts_after,
        stats,
    }
}

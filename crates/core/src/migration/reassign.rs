//! A round planned by cost (`policy.reassign`, issue 29): the state goes through the one
//! converter (`roadef::convert::from_state`) into the reassignment engine (`roadef::reassign`,
//! the engine of `vmplace roadef`), which moves VMs to lower load, balance and move costs under
//! the hard rules (capacity with transient resources, one member of a group per host,
//! `min_domains`, `dependencies`). Its moves are then sequenced into safe waves like any other
//! round's; moves no safe order runs are dropped, and the cost is that of where the waves leave
//! the VMs. If dropping moves would leave a hard rule broken, no VM moves.

use super::{finish, protocol, Ctx, RoundPolicy};
use crate::domain::migration::{HostIx, IxVec, Pool, VmIx};
use crate::roadef::convert::{from_state, Engine};
use crate::roadef::model::Assignment;
use crate::validation::Valid;
use std::time::{Duration, Instant};
use vmplace_check::roadef::{check_roadef, RoadefCheck};
use vmplace_wire::errors::ErrorCode;
use vmplace_wire::reassign::ReassignCost;
use vmplace_wire::state::{
    Candidate, HistorySent, Migration, MigrationReason, Plan, PlanStats, Score, State,
};
use vmplace_wire::{InputError, Status};

/// Whether a state is planned by cost.
pub fn planned_by_cost(state: &State) -> bool {
    state.policy.as_ref().is_some_and(|p| p.reassign.is_some())
}

/// Plans the round by cost. Errors: costs that could overflow (`E1902`), a start that breaks a
/// hard rule (`E2006`, one per violation, at the VM or host concerned).
pub fn round(state: &Valid<State>, policy: &RoundPolicy) -> Result<Plan, Vec<InputError>> {
    let start = Instant::now();
    let Some(engine) = from_state(state) else {
        return Err(vec![InputError::new(
            ErrorCode::ReassignUnsupported,
            "/policy",
            "the state has no `policy.reassign`",
        )]);
    };
    let Engine { model, initial } = engine?;
    let before = check_roadef(&model, &initial, &initial);
    if !before.valid {
        return Err(infeasible(&before));
    }
    let began = policy.clock.started.unwrap_or(start);
    let limit = policy.time_limit_s.max(0.0);
    let margin = (limit * 0.03).clamp(0.02, 2.0);
    let deadline = began + Duration::from_secs_f64((limit - margin).max(0.0));
    let outcome = crate::roadef::reassign(&model, &initial, policy.seed, deadline);
    let answer = if check_roadef(&model, &initial, &outcome.assignment).valid {
        outcome.assignment
    } else {
        tracing::error!("the engine's answer breaks a rule (a bug): no VM moves");
        initial.clone()
    };
    let plan = sequenced(state, policy, &initial, &answer, start);
    let end = realized(state, &initial, &plan);
    let check = check_roadef(&model, &initial, &end);
    let mut plan = if check.valid {
        plan
    } else {
        // A dropped move left another one breaking a rule: stay where the VMs are.
        sequenced(state, policy, &initial, &initial, start)
    };
    let check = if check.valid { check } else { before.clone() };
    plan.stats.reassign_cost = Some(parts(&check, &before));
    Ok(plan)
}

fn parts(check: &RoadefCheck, before: &RoadefCheck) -> ReassignCost {
    ReassignCost {
        load: check.costs.load,
        balance: check.costs.balance,
        vm_move: check.costs.process_move,
        group_move: check.costs.service_move,
        host_move: check.costs.machine_move,
        total: check.costs.total,
        initial_total: before.costs.total,
    }
}

/// `stats.reassign_cost` of a plan ordered anew (`migrate --sequence`) on a state planned by
/// cost: the cost where its waves leave the VMs (None when the state cannot be converted).
pub(super) fn recount(state: &Valid<State>, plan: &mut Plan) {
    let engine = from_state(state).and_then(Result::ok);
    plan.stats.reassign_cost = engine.map(|Engine { model, initial }| {
        let end = realized(state, &initial, plan);
        let before = check_roadef(&model, &initial, &initial);
        parts(&check_roadef(&model, &initial, &end), &before)
    });
}

/// The start's violations as `E2006` errors.
fn infeasible(check: &RoadefCheck) -> Vec<InputError> {
    check
        .violations
        .iter()
        .map(|v| {
            let path = match (v.processes.first(), v.machine) {
                (Some(p), _) => format!("/vms/{p}/host"),
                (None, Some(m)) => format!("/hosts/{m}"),
                (None, None) => format!("/groups/{}", v.service.unwrap_or(0)),
            };
            let cause = format!(
                "{:?} before any move: {} (machine i is hosts[i], process p vms[p], service s groups[s])",
                v.rule, v.message
            );
            InputError::new(ErrorCode::RoadefInfeasibleInitial, path, cause)
        })
        .collect()
}

/// The moves from `initial` to `answer` as a plan in safe waves.
fn sequenced(
    state: &Valid<State>,
    policy: &RoundPolicy,
    initial: &Assignment,
    answer: &Assignment,
    start: Instant,
) -> Plan {
    let mut pool = Pool::from_state(state);
    let (power_before_w, active_hosts_before) = super::power_totals(&pool);
    let mut migrations = Vec::new();
    let mut messages = Vec::new();
    for (p, (&from, &to)) in initial.0.iter().zip(&answer.0).enumerate() {
        if from == to {
            continue;
        }
        let (v, h) = (VmIx(p), HostIx(to.ix()));
        let (id, src, dst) = (
            pool.vms[v].id.clone(),
            pool.hosts[HostIx(from.ix())].id.clone(),
            pool.hosts[h].id.clone(),
        );
        protocol::converse(&mut messages, &id, &src, &dst, true);
        protocol::confirm(&mut messages, &id, &src, &dst);
        migrations.push(Migration {
            vm: id,
            from: src,
            to: dst.clone(),
            live: true,
            reason: MigrationReason::Reassign,
            score: Score {
                total: 0.0,
                power: 0.0,
                balance: 0.0,
                cost: pool.migration_time(v),
            },
            candidates: vec![Candidate {
                host: dst,
                accepted: true,
                code: None,
                reason: None,
            }],
            asked: 1,
            declined: Default::default(),
            history_sent: HistorySent {
                samples: pool.vms[v].samples,
            },
            rerouted_from: None,
            via: None,
        });
        pool.move_vm(v, h);
    }
    let cx = Ctx {
        moved: IxVec::filled(false, pool.vms.len()),
        pool,
        policy,
        stop: crate::budget::Budget::default(),
        migrations,
        messages,
    };
    let stats = PlanStats {
        power_before_w,
        active_hosts_before,
        ..Default::default()
    };
    finish(cx, stats, Status::Feasible, start)
}

/// Where the plan leaves every VM, as the engine indexes hosts.
fn realized(state: &State, initial: &Assignment, plan: &Plan) -> Assignment {
    let host_ix: std::collections::HashMap<&str, u32> = state
        .hosts
        .iter()
        .enumerate()
        .map(|(i, h)| (h.id.as_str(), i as u32))
        .collect();
    let vm_ix: std::collections::HashMap<&str, usize> = state
        .vms
        .iter()
        .enumerate()
        .map(|(i, v)| (v.id.as_str(), i))
        .collect();
    let mut out = initial.clone();
    for m in &plan.migrations {
        if let (Some(&v), Some(&h)) = (vm_ix.get(m.vm.as_str()), host_ix.get(m.to.as_str())) {
            out.0[v] = crate::roadef::model::MachineIx(h);
        }
    }
    out
}

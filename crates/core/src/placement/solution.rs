//! The one converter from a placement (domain) to the solution document (wire).

use super::bounds::whole_call;
use super::explain;
use super::verify;
use super::PhaseOutcome;
use crate::budget::Budget;
use crate::domain::{evaluate, Domain, IxVec, RequestIx};
use std::collections::BTreeSet;
use vmplace_wire::{Placement, ReasonCode, Solution, Stats, Status, Unplaced};

/// The solution document of the phases that ran; `time_s` is the phases' time. Every answer,
/// whatever solver made it, passes the exact capacity check here first ([`verify::enforce`]).
/// Explaining and the statistics are timed here, and the call's model-building time is read
/// from its budget, which also ends the repair's offers when the call is over.
pub(crate) fn to_solution(
    d: &Domain,
    mut phases: Vec<PhaseOutcome>,
    need_host: bool,
    time_s: f64,
    budget: &Budget,
) -> Solution {
    let explaining = std::time::Instant::now();
    verify::enforce(d, &mut phases, need_host, &|| budget.passed());
    let phases = phases.as_slice();
    let last = &phases[phases.len() - 1];
    let a = &last.assignment;
    let (placements, unplaced) = entries(d, phases, need_host);
    let placed_weight = d
        .requests
        .ids()
        .filter(|&i| evaluate::is_placed(a, i, need_host))
        .map(|i| d.requests[i].priority)
        .sum::<f64>();
    let stats_of: Vec<&vmplace_wire::PhaseStats> = phases.iter().map(|p| &p.stats).collect();
    let quality = whole_call(d, &stats_of, placed_weight);
    let load = evaluate::final_load(d, a);
    let mut final_a = a.clone();
    if need_host {
        for j in d.requests.ids() {
            if final_a.host[j].is_none() {
                final_a.storage[j] = None;
            }
        }
    } else {
        // A storage-phase answer names no host, and its statistics see none.
        final_a.host = IxVec::filled(None, d.requests.len());
    }
    let storage_util = evaluate::storage_utilisation(d, &final_a);
    let host_util = evaluate::host_utilisation(d, &final_a);
    let stats = Stats {
        solver: phases
            .iter()
            .map(|p| p.stats.solver.name())
            .collect::<Vec<_>>()
            .join(","),
        mip_error: None,
        solve_time_s: time_s,
        placed: placements.len(),
        requests: d.requests.len(),
        phases: phases.iter().map(|p| p.stats.clone()).collect(),
        storage_utilisation: d
            .storage
            .iter()
            .zip(storage_util)
            .map(|(s, u)| (s.id.clone(), u))
            .collect(),
        host_utilisation: d
            .hosts
            .iter()
            .zip(host_util)
            .map(|(h, u)| (h.id.clone(), d.resources.iter().cloned().zip(u).collect()))
            .collect(),
        active_hosts: evaluate::active_hosts(d, &final_a)
            .iter()
            .filter(|&&b| b)
            .count(),
        migration_domain: migration_domains(d, &load, a, need_host),
        // A storage-phase answer puts no member on a host: its count is the pool's as it stands,
        // which the checker recounts too (issue 27, L1).
        soft_violations: evaluate::soft_violations(d, &final_a)
            .into_iter()
            .map(|(g, n)| (d.group_rules[g].id.clone(), n))
            .collect(),
        timings: Default::default(),
        time_limit_capped: None,
    };
    let explain_s = explaining.elapsed().as_secs_f64();
    let model_s = budget.build_time_s();
    let mut stats = stats;
    stats.solve_time_s = time_s + explain_s;
    stats.timings.model_s = model_s;
    stats.timings.solve_s = (time_s - model_s).max(0.0);
    stats.timings.explain_s = explain_s;
    Solution {
        status: quality.status,
        placed_weight,
        placed_weight_bound: quality.weight_bound,
        objective: last.stats.objective,
        bound: last.stats.bound,
        gap: quality.gap,
        placements,
        unplaced,
        stats,
    }
}

/// The live-migration domain of every placed request. Requests alike (demand, group, storage)
/// share the count of connected hosts that could take them, so that this is near-linear even when
/// a storage system reaches every host; only their own host differs.
fn migration_domains(
    d: &Domain,
    load: &crate::domain::Load,
    a: &crate::domain::Assignment,
    need_host: bool,
) -> std::collections::BTreeMap<String, usize> {
    let mut counted: std::collections::HashMap<(Vec<u64>, Option<usize>, usize), usize> =
        Default::default();
    let mut out = std::collections::BTreeMap::new();
    for (i, vm) in d.requests.enumerate() {
        let r = i;
        let Some(s) = a.storage[i].filter(|_| evaluate::is_placed(a, r, need_host)) else {
            continue;
        };
        let key = (crate::domain::bits(&vm.demand), vm.group, s.0);
        let all = *counted
            .entry(key)
            .or_insert_with(|| evaluate::migration_domain(d, load, r, s, None));
        let own = a.host[i].is_some_and(|h| load.host_accepts(d, r, h)) as usize;
        out.insert(vm.id.clone(), all - own);
    }
    out
}

/// One entry per request: where it goes, or why it is not placed.
fn entries(
    d: &Domain,
    phases: &[PhaseOutcome],
    need_host: bool,
) -> (Vec<Placement>, Vec<Unplaced>) {
    let a = &phases[phases.len() - 1].assignment;
    let dropped: BTreeSet<RequestIx> = phases
        .iter()
        .flat_map(|p| p.dropped.iter().copied())
        .collect();
    let mut placements = Vec::new();
    let mut unplaced = Vec::new();
    // A storage without a host is not a placement: explanations see only hosted requests, plus
    // the explained request's own phase-1 storage (the binding constraint is about that choice).
    let mut placed_only = a.clone();
    for j in d.requests.ids() {
        if !evaluate::is_placed(a, j, need_host) {
            placed_only.storage[j] = None;
            placed_only.host[j] = None;
        }
    }
    let stopped = phases.iter().any(|p| p.status == Status::TimeLimit);
    let mut explainer = explain::Explainer::new(d, &placed_only, stopped);
    for (i, vm) in d.requests.enumerate() {
        let r = i;
        if evaluate::is_placed(a, r, need_host) {
            placements.push(Placement {
                request: vm.id.clone(),
                storage: a.storage[i]
                    .map(|s| d.storage[s].id.clone())
                    .unwrap_or_default(),
                host: if need_host {
                    a.host[i].map(|h| d.hosts[h].id.clone())
                } else {
                    None
                },
            });
        } else if dropped.contains(&i) && !explainer.bound_by_group_rule(r) {
            unplaced.push(Unplaced {
                request: vm.id.clone(),
                code: ReasonCode::LookaheadNoHost,
                reason:
                    "host_lookahead: phase 2 could not host it on any storage phase 1 could give it"
                        .to_string(),
            });
        } else {
            let (code, reason) = explainer.explain(r, a.storage[i]);
            unplaced.push(Unplaced {
                request: vm.id.clone(),
                code,
                reason,
            });
        }
    }
    (placements, unplaced)
}

/// The answer when the call's time ran out, or its client went away, before its domain was built
/// ([`crate::domain::Stopped`]): nothing placed, every request `STOPPED_EARLY`, status
/// `time_limit`. No group rule was counted, so `stats.soft_violations` is empty.
pub fn stopped_while_building(p: &vmplace_wire::Problem) -> Solution {
    let total: f64 = p.requests.iter().map(|r| r.priority.unwrap_or(1.0)).sum();
    Solution {
        status: Status::TimeLimit,
        placed_weight: 0.0,
        placed_weight_bound: total,
        objective: 0.0,
        bound: 0.0,
        gap: 1.0,
        placements: Vec::new(),
        unplaced: p
            .requests
            .iter()
            .map(|r| Unplaced {
                request: r.id.clone(),
                code: ReasonCode::StoppedEarly,
                reason: "the call's time ran out (or its client went away) while its rules were \
                         built; nothing was placed"
                    .to_string(),
            })
            .collect(),
        stats: Stats {
            solver: "none".to_string(),
            requests: p.requests.len(),
            ..Stats::default()
        },
    }
}

/// The answer when no solver could run: every request unplaced with `SOLVER_FAILURE`.
pub(crate) fn solver_failure(d: &Domain, why: &str) -> Solution {
    Solution {
        status: Status::Feasible,
        placed_weight: 0.0,
        placed_weight_bound: super::bounds::total_weight(d),
        objective: 0.0,
        bound: 0.0,
        gap: 1.0,
        placements: Vec::new(),
        unplaced: d
            .requests
            .iter()
            .map(|r| Unplaced {
                request: r.id.clone(),
                code: ReasonCode::SolverFailure,
                reason: format!("solver failure: {why}"),
            })
            .collect(),
        stats: Stats::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Settings;
    use crate::validation::{read_problem, Phase};

    #[test]
    fn a_solver_failure_is_reported_as_such_not_as_capacity_taken() {
        let doc = r#"{"storage": [{"id": "s", "capacity_gib": 10}],
                      "hosts": [{"id": "h", "capacity": {"cpu": 4}, "storage": ["s"]}],
                      "requests": [{"id": "r", "demand": {"cpu": 1}, "disk_gib": 1}]}"#;
        let p = read_problem(doc, Phase::Storage).unwrap();
        let d = Domain::from_problem(&p, Settings::default());
        let s = solver_failure(&d, "HiGHS error: out of memory");
        // Nothing is proven: not `infeasible`, but a feasible empty answer with the whole gap.
        assert_eq!(s.status, Status::Feasible);
        assert_eq!(
            (s.placed_weight, s.placed_weight_bound, s.gap),
            (0.0, 1.0, 1.0)
        );
        assert_eq!(s.unplaced.len(), 1);
        assert_eq!(s.unplaced[0].code, ReasonCode::SolverFailure);
        assert!(s.unplaced[0].reason.contains("out of memory"));
    }
}

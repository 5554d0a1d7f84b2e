//! The baselines vmplace ships and never answers below: the greedy chain of today's schedulers
//! (`greedy`) and greedy with retries over storage systems (`greedy-retry`).

use super::bounds::{host_cost_floor, phase_stats, record, total_weight, Measured};
use super::deadline::Deadline;
use super::greedy;
use super::lexicographic::better;
use super::storage_phase::storage_outcome;
use super::{fixed_storage, Mode, PhaseOutcome};
use crate::domain::{evaluate, Assignment, Domain, RequestIx};
use crate::format::{PhaseName, PhaseSolver};
use std::collections::BTreeSet;

/// Both baselines' answers to the whole call (storage and hosts), with the solver each stands
/// for. Computed before the phases, within the call's deadline, so that the guard never runs
/// past the time limit; phase 1's warm start reuses `retry`.
pub(crate) struct Baselines {
    /// The greedy chain of today's schedulers.
    pub chain: Assignment,
    /// Greedy with retries over storage systems.
    pub retry: Assignment,
}

impl Baselines {
    pub(crate) fn compute(d: &Domain, deadline: &Deadline) -> Baselines {
        let fixed = fixed_storage(d);
        let policy = d.settings.host_policy;
        let stop = || deadline.passed();
        Baselines {
            chain: greedy::place(d, &fixed, policy, &stop),
            retry: greedy::with_retries(d, &fixed, policy, &stop),
        }
    }
}

impl Baselines {
    /// The better of the two baselines (placed weight, then host cost).
    pub(crate) fn best(&self, d: &Domain) -> &Assignment {
        if better(
            evaluate::host_score(d, &self.chain),
            evaluate::host_score(d, &self.retry),
        ) {
            &self.chain
        } else {
            &self.retry
        }
    }
}

/// Never worse than a baseline: the best baseline replaces phase 2's answer when it places more
/// weight, or as much for less cost.
pub(crate) fn keep_if_better(d: &Domain, p2: &mut PhaseOutcome, baselines: Baselines) {
    let mut best: Option<(Assignment, PhaseSolver)> = None;
    let candidates = [
        (baselines.chain, PhaseSolver::GreedyBaseline),
        (baselines.retry, PhaseSolver::GreedyRetry),
    ];
    for (a, solver) in candidates {
        let incumbent = best.as_ref().map_or(&p2.assignment, |b| &b.0);
        if better(
            evaluate::host_score(d, &a),
            evaluate::host_score(d, incumbent),
        ) {
            best = Some((a, solver));
        }
    }
    let Some((a, solver)) = best else { return };
    // The phase-2 bound held for phase 1's storage choice only; the baseline chose differently,
    // so only the global floor is a valid bound.
    p2.assignment = a;
    let time_s = p2.stats.time_s;
    p2.stats = host_stats(d, &p2.assignment, solver, p2.stats.flavors);
    p2.stats.time_s = time_s;
    p2.status = p2.stats.status;
}

/// Host-phase statistics of a baseline's answer: no proof beyond the combinatorial floors.
fn host_stats(
    d: &Domain,
    a: &Assignment,
    solver: PhaseSolver,
    flavors: usize,
) -> crate::format::PhaseStats {
    let mut st = phase_stats(PhaseName::Host, solver, flavors);
    let all: Vec<RequestIx> = (0..d.requests.len()).map(RequestIx).collect();
    let (w, c) = evaluate::host_score(d, a);
    record(
        &mut st,
        d,
        Measured {
            weight: w,
            weight_bound: total_weight(d),
            cost: c,
            cost_bound: host_cost_floor(d, &all, w),
            time_limited: false,
            is_mip: false,
        },
    );
    st
}

/// `--solver greedy-retry`: the phases of the call, from one pass of greedy with retries.
pub(crate) fn retry_phases(d: &Domain, mode: Mode, deadline: &Deadline) -> Vec<PhaseOutcome> {
    let stop = || deadline.passed();
    let a = greedy::with_retries(d, &fixed_storage(d), d.settings.host_policy, &stop);
    let host = || {
        let stats = host_stats(d, &a, PhaseSolver::GreedyRetry, 0);
        PhaseOutcome {
            assignment: a.clone(),
            witness: None,
            dropped: BTreeSet::new(),
            status: stats.status,
            stats,
        }
    };
    match mode {
        Mode::Storage => vec![storage_outcome(d, a.clone(), PhaseSolver::GreedyRetry)],
        Mode::Host => vec![host()],
        Mode::Place => vec![
            storage_outcome(d, a.clone(), PhaseSolver::GreedyRetry),
            host(),
        ],
    }
}

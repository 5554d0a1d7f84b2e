//! The baselines vmplace ships and never answers below: the greedy chain of today's schedulers
//! (`greedy`), greedy with retries over storage systems (`greedy-retry`), and the heuristics
//! schedulers run with retries ([`super::heuristics`]: `openstack`, `best-fit`, `balanced`, and
//! the same host weighers with storage ordered by free RAM on its hosts).

use super::bounds::{
    host_cost_floor, integral_host_bound, phase_stats, record, total_weight, Measured,
};
use super::greedy;
use super::heuristics::{self, Heuristic};
use super::lexicographic::better;
use super::storage_phase::storage_outcome;
use super::{fixed_storage, Mode, PhaseOutcome};
use crate::budget::Budget;
use crate::domain::{evaluate, Assignment, Domain, RequestIx};
use std::collections::BTreeSet;
use vmplace_wire::{PhaseName, PhaseSolver, SolverKind};

/// Every shipped baseline's answer to the whole call (storage and hosts), with the solver each
/// stands for: the greedy chain, greedy with retries, and the heuristics schedulers run
/// ([`Heuristic::ALL`]). Computed before the phases, within the call's deadline, so that the guard
/// never runs past the time limit; phase 1's warm start starts from the best of them.
pub(crate) struct Baselines {
    /// (answer, solver) per baseline, in a fixed order.
    pub answers: Vec<(Assignment, PhaseSolver)>,
}

impl Baselines {
    pub(crate) fn compute(d: &Domain, deadline: &Budget) -> Baselines {
        let fixed = fixed_storage(d);
        let policy = d.settings.host_policy;
        let stop = || deadline.passed();
        // The heuristics users compare with first, so that they are the ones that finish when
        // the share of time runs out on very large calls.
        let mut answers: Vec<(Assignment, PhaseSolver)> = Heuristic::ALL
            .into_iter()
            .chain(Heuristic::ALL.map(Heuristic::decreasing))
            .chain([Heuristic::BEST_FIT, Heuristic::BALANCED].map(Heuristic::increasing))
            .map(|h| (heuristics::place(d, &fixed, h, &stop), h.solver()))
            .collect();
        answers.push((
            greedy::with_retries(d, &fixed, policy, &stop),
            PhaseSolver::GreedyRetry,
        ));
        answers.push((
            greedy::place(d, &fixed, policy, &stop),
            PhaseSolver::GreedyBaseline,
        ));
        Baselines { answers }
    }

    /// The best baseline (placed weight, then host cost; the first of equals).
    pub(crate) fn best(&self, d: &Domain) -> &Assignment {
        let mut best = &self.answers[0].0;
        for (a, _) in &self.answers[1..] {
            if better(evaluate::host_score(d, a), evaluate::host_score(d, best)) {
                best = a;
            }
        }
        best
    }
}

/// Never worse than a baseline: the best baseline replaces phase 2's answer when it places more
/// weight, or as much for less cost.
pub(crate) fn keep_if_better(d: &Domain, p2: &mut PhaseOutcome, baselines: Baselines) {
    let mut best: Option<(Assignment, PhaseSolver)> = None;
    for (a, solver) in baselines.answers {
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
) -> vmplace_wire::PhaseStats {
    let bounds = (total_weight(d), f64::NEG_INFINITY);
    whole_pool_stats(d, a, solver, flavors, bounds, None)
}

/// Host-phase statistics of an answer whose storage choice is not phase 1's: its bounds are the
/// ones that hold for the whole call: `bounds` (placed weight: phase 1's, the joint MIP's or the
/// total; host cost: the joint MIP's, or none), and the combinatorial host floor. `searched`: whether a search ran out of time on it (a MIP status),
/// or None for a heuristic's answer (no proof).
pub(crate) fn whole_pool_stats(
    d: &Domain,
    a: &Assignment,
    solver: PhaseSolver,
    flavors: usize,
    (weight_bound, cost_bound): (f64, f64),
    searched: Option<bool>,
) -> vmplace_wire::PhaseStats {
    let mut st = phase_stats(PhaseName::Host, solver, flavors);
    let all: Vec<RequestIx> = d.requests.ids().collect();
    let (w, c) = evaluate::host_score(d, a);
    record(
        &mut st,
        d,
        Measured {
            weight: w,
            weight_bound,
            cost: c,
            cost_bound: integral_host_bound(d, host_cost_floor(d, &all, w).max(cost_bound)),
            time_limited: searched.unwrap_or(false),
            is_mip: searched.is_some(),
        },
    );
    st
}

/// A heuristic solver of the call (`--solver greedy-retry`, `openstack`, `best-fit`,
/// `balanced`), or None for the MIP solvers.
pub(crate) fn heuristic_of(kind: SolverKind) -> Option<Option<Heuristic>> {
    match kind {
        SolverKind::GreedyRetry => Some(None),
        SolverKind::Openstack => Some(Some(Heuristic::OPENSTACK)),
        SolverKind::BestFit => Some(Some(Heuristic::BEST_FIT)),
        SolverKind::Balanced => Some(Some(Heuristic::BALANCED)),
        SolverKind::Mip | SolverKind::Greedy | SolverKind::Joint => None,
    }
}

/// A heuristic solver's phases of the call, from one pass of the heuristic (`None`: greedy with
/// retries and the host policy's weigher).
pub(crate) fn heuristic_phases(
    d: &Domain,
    mode: Mode,
    heuristic: Option<Heuristic>,
    deadline: &Budget,
) -> Vec<PhaseOutcome> {
    let stop = || deadline.passed();
    let fixed = fixed_storage(d);
    let (a, solver) = match heuristic {
        None => (
            greedy::with_retries(d, &fixed, d.settings.host_policy, &stop),
            PhaseSolver::GreedyRetry,
        ),
        Some(h) => (heuristics::place(d, &fixed, h, &stop), h.solver()),
    };
    let host = || {
        let stats = host_stats(d, &a, solver, 0);
        PhaseOutcome {
            assignment: a.clone(),
            witness: None,
            dropped: BTreeSet::new(),
            status: stats.status,
            stats,
        }
    };
    match mode {
        Mode::Storage => vec![storage_outcome(d, a.clone(), solver)],
        Mode::Host => vec![host()],
        Mode::Place => vec![storage_outcome(d, a.clone(), solver), host()],
    }
}

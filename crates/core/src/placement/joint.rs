//! `--solver joint`: storage and host in one MIP (models/joint.md), for pools up to
//! [`JOINT_COLUMNS`] columns; the reference that measures what the two phases lose by writing the
//! image before the host is chosen.

use super::bounds::{
    host_cost_floor, integral_host_bound, phase_stats, record, total_weight, Measured,
};
use super::deadline::mip_options;
use super::lexicographic::{better, lexicographic};
use super::PhaseOutcome;
use crate::budget::Budget;
use crate::domain::{evaluate, Assignment, Domain, RequestIx};
use crate::model::joint::{self, JointInput};
use crate::model::{MipError, MipOptions, MipStatus};
use std::collections::BTreeSet;
use std::time::Instant;
use vmplace_wire::{PhaseName, PhaseSolver};

/// The joint model's size limit, in (flavor, storage, host) columns: past it the call is solved by
/// the two phases, and says so.
pub const JOINT_COLUMNS: usize = 150_000;

/// Whether the joint model can answer `d`: within [`JOINT_COLUMNS`], and without `groups[]`
/// rules (the joint model has the per-host anti-affinity only).
pub fn fits_joint(d: &Domain) -> bool {
    d.group_rules.is_empty() && joint::columns(d) <= JOINT_COLUMNS
}

/// Storage and hosts in one MIP, warm-started with `warm` (a complete answer), within
/// `deadline_s`. One phase outcome (`phase: host`, `solver: joint`) whose bounds hold for the
/// whole call.
pub(crate) fn joint_phase(
    d: &Domain,
    warm: &Assignment,
    deadline: &Budget,
) -> Result<PhaseOutcome, MipError> {
    let start = Instant::now();
    let total = total_weight(d);
    let mut st = phase_stats(
        PhaseName::Host,
        PhaseSolver::Joint,
        crate::model::storage::flavors(d).len(),
    );
    let lexi = lexicographic(
        warm,
        total,
        f64::NEG_INFINITY,
        deadline,
        |stage, secs, w| {
            let input = JointInput { d, warm: w };
            // No presolve, as in the host phase: symmetric host columns.
            let opts = MipOptions {
                presolve: false,
                ..mip_options(d, secs, None, deadline)
            };
            joint::solve(&input, stage, &opts)
        },
        |a| evaluate::host_score(d, a),
        false,
    )?;
    st.variables = lexi.size.variables;
    st.integer_variables = lexi.size.integer_variables;
    st.constraints = lexi.size.constraints;
    let assignment = if better(
        evaluate::host_score(d, warm),
        evaluate::host_score(d, &lexi.best),
    ) {
        st.solver = PhaseSolver::MipGreedyFallback;
        warm.clone()
    } else {
        lexi.best
    };
    let (w, c) = evaluate::host_score(d, &assignment);
    let all: Vec<RequestIx> = d.requests.ids().collect();
    let floor = host_cost_floor(d, &all, w);
    let status = record(
        &mut st,
        d,
        Measured {
            weight: w,
            weight_bound: lexi.weight_bound,
            cost: c,
            cost_bound: integral_host_bound(d, lexi.cost_bound.max(floor)),
            time_limited: lexi.time_limited,
            is_mip: true,
        },
    );
    st.time_s = start.elapsed().as_secs_f64();
    Ok(PhaseOutcome {
        assignment,
        witness: None,
        dropped: BTreeSet::new(),
        stats: st,
        status,
    })
}

/// What the third joint stage found: a bound on phase 1's cost over the answers that keep the
/// proven placed weight and host cost, and the answer it found, if any.
pub(crate) struct StorageStage {
    pub bound: f64,
    pub answer: Option<Assignment>,
}

/// Stage 3 (models/joint.md): once the joint model has proven `answer`'s placed weight and host
/// cost for the whole call, the lowest phase-1 cost among the answers that keep both. None when
/// HiGHS proves nothing in time.
pub(crate) fn storage_stage(
    d: &Domain,
    answer: &Assignment,
    deadline: &Budget,
) -> Result<Option<StorageStage>, MipError> {
    if deadline.passed() {
        return Ok(None);
    }
    let (weight, host_cost) = evaluate::host_score(d, answer);
    let input = JointInput { d, warm: answer };
    let opts = MipOptions {
        presolve: false,
        ..mip_options(d, deadline.remaining(), None, deadline)
    };
    let (r, a) = joint::solve_storage_cost(&input, weight, host_cost, &opts)?;
    if !r.bound.is_finite() || matches!(r.status, MipStatus::Infeasible | MipStatus::NoSolution) {
        return Ok(None);
    }
    let keeps = |a: &Assignment| !better((weight, host_cost), evaluate::host_score(d, a));
    Ok(Some(StorageStage {
        bound: r.bound,
        answer: (!r.values.is_empty() && keeps(&a)).then_some(a),
    }))
}

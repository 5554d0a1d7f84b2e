//! The lexicographic driver of one phase: stage 1 maximises the placed priority weight, stage 2
//! optimises the policy cost while keeping it.

use crate::budget::{shares, Budget};
use crate::domain::{Assignment, NOISE};
use crate::model::storage::Stage;
use crate::model::{MipError, MipResult, MipStatus, ModelSize};

/// (placed weight, cost) comparison: more weight first, then lower cost.
pub(crate) fn better(a: (f64, f64), b: (f64, f64)) -> bool {
    a.0 > b.0 + NOISE || (a.0 > b.0 - NOISE && a.1 < b.1 - NOISE)
}

/// What the two stages found and proved.
pub(crate) struct Lexi {
    pub best: Assignment,
    /// Stage 1's answer, when stage 1 ran and found one.
    pub stage1: Option<Assignment>,
    /// The MIP's own objective of `best`, when `best` is stage 2's answer.
    pub best_cost: Option<f64>,
    pub weight_bound: f64,
    pub cost_bound: f64,
    pub time_limited: bool,
    pub size: ModelSize,
    pub used_mip: bool,
}

/// Runs the two lexicographic stages of one phase. `solve_stage` builds and solves the phase's
/// MIP for a stage; `score` evaluates an assignment as (placed weight, cost).
pub(crate) fn lexicographic(
    warm: &Assignment,
    total_weight: f64,
    trivial_cost_bound: f64,
    deadline: &Budget,
    mut solve_stage: impl FnMut(Stage, f64, &Assignment) -> Result<(MipResult, Assignment), MipError>,
    score: impl Fn(&Assignment) -> (f64, f64),
    trust_mip_cost: bool,
) -> Result<Lexi, MipError> {
    let mut best = warm.clone();
    let mut out = Lexi {
        best: warm.clone(),
        stage1: None,
        best_cost: None,
        weight_bound: total_weight,
        cost_bound: trivial_cost_bound,
        time_limited: false,
        size: Default::default(),
        used_mip: false,
    };
    let warm_weight = score(warm).0;
    let mut stage2_warm = warm.clone();
    // Past the deadline no stage is built (building a large model takes time too): the warm
    // start stands with the trivial bounds.
    if deadline.passed() {
        out.time_limited = true;
        return Ok(out);
    }
    if warm_weight < total_weight - NOISE {
        let (r, a) = solve_stage(
            Stage::Placement,
            deadline.seconds(shares::LEXICOGRAPHIC_WEIGHT),
            warm,
        )?;
        out.size = r.size;
        out.time_limited |= r.status == MipStatus::TimeLimit;
        out.weight_bound = r.bound.min(total_weight).max(warm_weight);
        if !r.values.is_empty() && better(score(&a), score(&best)) {
            best = a.clone();
            out.stage1 = Some(a.clone());
            stage2_warm = a;
        }
        if r.status == MipStatus::Optimal {
            out.weight_bound = score(&best)
                .0
                .max(out.weight_bound.min(score(&best).0 + NOISE));
        }
    }
    let min_weight = score(&best).0;
    if deadline.passed() {
        out.time_limited = true;
        out.best = best;
        return Ok(out);
    }
    let (r, a) = solve_stage(
        Stage::Policy { min_weight },
        deadline.remaining(),
        &stage2_warm,
    )?;
    out.size = r.size;
    out.time_limited |= r.status == MipStatus::TimeLimit;
    if r.status != MipStatus::NoSolution && r.status != MipStatus::Infeasible {
        out.cost_bound = r.bound;
    }
    // `trust_mip_cost`: the MIP's objective has terms `score` cannot see (phase 1's look-ahead
    // opening); keep its answer unless it places less.
    let keep = if trust_mip_cost {
        score(&a).0 >= score(&best).0 - NOISE
    } else {
        !better(score(&best), score(&a))
    };
    if !r.values.is_empty() && keep {
        best = a;
        out.used_mip = true;
        out.best_cost = Some(r.objective);
    }
    out.best = best;
    Ok(out)
}

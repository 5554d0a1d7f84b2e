//! Honest status: a gap that is a number, a bound that bounds, `optimal` only within the
//! requested gap, and statistics that agree with the answer.

use super::codes::Rule;
use super::{v, Violation};
use crate::format::{Problem, Solution, Status};

/// The status, bound, gap and statistics of a placement answer.
pub(super) fn honesty(problem: &Problem, solution: &Solution) -> Vec<Violation> {
    let mut out = Vec::new();
    if solution.gap.is_nan() || solution.gap < 0.0 {
        out.push(v(
            Rule::BadGap,
            "/gap",
            format!("gap {} is negative or not a number", solution.gap),
        ));
    }
    if solution.bound > solution.objective + 1e-6 * (1.0 + solution.objective.abs()) {
        out.push(v(
            Rule::BadBound,
            "/bound",
            format!(
                "bound {} is above objective {} (objectives are minimised)",
                solution.bound, solution.objective
            ),
        ));
    }
    let gap_limit = problem
        .options
        .as_ref()
        .and_then(|o| o.mip_gap)
        .unwrap_or(0.001);
    if solution.status == Status::Optimal && solution.gap > gap_limit + 1e-6 {
        out.push(v(
            Rule::BadStatus,
            "/status",
            format!(
                "status optimal with gap {} above the requested {gap_limit}",
                solution.gap
            ),
        ));
    }
    if solution.status == Status::Infeasible && !solution.placements.is_empty() {
        out.push(v(
            Rule::BadStatus,
            "/status",
            "status infeasible but requests are placed",
        ));
    }
    if solution.stats.placed != solution.placements.len() {
        out.push(v(
            Rule::BadStats,
            "/stats/placed",
            format!(
                "stats.placed {} but {} placements",
                solution.stats.placed,
                solution.placements.len()
            ),
        ));
    }
    out
}

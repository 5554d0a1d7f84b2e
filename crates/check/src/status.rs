//! Honest status: a gap that is a number, a bound that bounds, `optimal` only within the
//! requested gap, and statistics that agree with the answer.

use super::codes::Rule;
use super::{v, Collector};
use vmplace_wire::{Problem, Solution, Status};

/// The status, bound, gap and statistics of a placement answer.
pub(super) fn honesty(problem: &Problem, solution: &Solution, out: &mut Collector) {
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
    placed_weight(problem, solution, out);
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
}

/// The whole call's first objective: the placed weight is what the placements weigh, its bound
/// lies between it and the total, the gap covers what the bound says could still be placed, and
/// `optimal` means nothing more could.
fn placed_weight(problem: &Problem, solution: &Solution, out: &mut Collector) {
    let priority: std::collections::HashMap<&str, f64> = problem
        .requests
        .iter()
        .map(|r| (r.id.as_str(), r.priority.unwrap_or(1.0)))
        .collect();
    let total: f64 = priority.values().sum();
    let placed: f64 = solution
        .placements
        .iter()
        .filter_map(|p| priority.get(p.request.as_str()))
        .sum();
    let tol = |x: f64| 1e-6 * (1.0 + x.abs());
    let (w, wb) = (solution.placed_weight, solution.placed_weight_bound);
    if (w - placed).abs() > tol(placed) {
        out.push(v(
            Rule::BadPlacedWeight,
            "/placed_weight",
            format!("placed_weight {w} but the placements weigh {placed}"),
        ));
    }
    if wb < placed - tol(placed) || wb > total + tol(total) || wb.is_nan() {
        out.push(v(
            Rule::BadBound,
            "/placed_weight_bound",
            format!(
                "placed_weight_bound {wb} is not between the placed {placed} and the total {total}"
            ),
        ));
        return;
    }
    let weight_gap = if wb > 0.0 { (wb - placed) / wb } else { 0.0 };
    if solution.gap < weight_gap - 1e-6 {
        out.push(v(
            Rule::BadGap,
            "/gap",
            format!(
                "gap {} hides the placed-weight gap {weight_gap} (placed {placed} of a bound {wb})",
                solution.gap
            ),
        ));
    }
    if solution.status == Status::Optimal && wb - placed > tol(wb) {
        out.push(v(
            Rule::BadStatus,
            "/status",
            format!("status optimal while the bound says {wb} could be placed, not {placed}"),
        ));
    }
}

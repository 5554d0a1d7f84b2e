//! Honest status: a gap that is a number, a bound that bounds, `optimal` only within the
//! requested gap, and statistics that agree with the answer. The whole call's first objective
//! is the placed weight: it is what the placements weigh, its bound lies between it and the
//! total, the gap covers what the bound says could still be placed, and `optimal` means nothing
//! more could.

use super::Answer;
use crate::codes::Rule;
use crate::{v, Collector};
use vmplace_wire::{Problem, Solution, Status};

/// What the placements weigh (a request's priority, 1 by default), and what every request does.
pub(super) fn weights(problem: &Problem, solution: &Solution) -> (f64, f64) {
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
    (placed, total)
}

/// The tolerance of a comparison of objectives near `x`.
fn tol(x: f64) -> f64 {
    1e-6 * (1.0 + x.abs())
}

/// Whether `placed_weight_bound` lies between the placed weight and the total (the placed-weight
/// gap and `optimal` are judged only then).
fn weight_bound_holds(cx: &Answer) -> bool {
    let (placed, total, wb) = (
        cx.placed_weight,
        cx.total_weight,
        cx.solution.placed_weight_bound,
    );
    !(wb < placed - tol(placed) || wb > total + tol(total) || wb.is_nan())
}

/// `BAD_GAP`: a gap that is negative or not a number, or that hides the placed-weight gap.
pub(super) fn bad_gap(cx: &Answer, out: &mut Collector) {
    let s = cx.solution;
    if s.gap.is_nan() || s.gap < 0.0 {
        out.push(v(
            Rule::BadGap,
            "/gap",
            format!("gap {} is negative or not a number", s.gap),
        ));
    }
    if !weight_bound_holds(cx) {
        return;
    }
    let (placed, wb) = (cx.placed_weight, s.placed_weight_bound);
    let weight_gap = if wb > 0.0 { (wb - placed) / wb } else { 0.0 };
    if s.gap < weight_gap - 1e-6 {
        out.push(v(
            Rule::BadGap,
            "/gap",
            format!(
                "gap {} hides the placed-weight gap {weight_gap} (placed {placed} of a bound {wb})",
                s.gap
            ),
        ));
    }
}

/// `BAD_BOUND`: a bound above the objective (objectives are minimised), or a placed-weight bound
/// outside the placed weight and the total.
pub(super) fn bad_bound(cx: &Answer, out: &mut Collector) {
    let s = cx.solution;
    if s.bound > s.objective + tol(s.objective) {
        out.push(v(
            Rule::BadBound,
            "/bound",
            format!(
                "bound {} is above objective {} (objectives are minimised)",
                s.bound, s.objective
            ),
        ));
    }
    if !weight_bound_holds(cx) {
        let (placed, total, wb) = (cx.placed_weight, cx.total_weight, s.placed_weight_bound);
        out.push(v(
            Rule::BadBound,
            "/placed_weight_bound",
            format!(
                "placed_weight_bound {wb} is not between the placed {placed} and the total {total}"
            ),
        ));
    }
}

/// `BAD_STATUS`: `optimal` beyond the requested gap or while more could be placed, `infeasible`
/// with placements.
pub(super) fn bad_status(cx: &Answer, out: &mut Collector) {
    let s = cx.solution;
    let options = cx.problem.options.as_ref();
    let gap_limit = options.and_then(|o| o.mip_gap).unwrap_or(0.001);
    if s.status == Status::Optimal && s.gap > gap_limit + 1e-6 {
        out.push(v(
            Rule::BadStatus,
            "/status",
            format!(
                "status optimal with gap {} above the requested {gap_limit}",
                s.gap
            ),
        ));
    }
    if s.status == Status::Infeasible && !s.placements.is_empty() {
        out.push(v(
            Rule::BadStatus,
            "/status",
            "status infeasible but requests are placed",
        ));
    }
    let (placed, wb) = (cx.placed_weight, s.placed_weight_bound);
    if weight_bound_holds(cx) && s.status == Status::Optimal && wb - placed > tol(wb) {
        out.push(v(
            Rule::BadStatus,
            "/status",
            format!("status optimal while the bound says {wb} could be placed, not {placed}"),
        ));
    }
}

/// `BAD_STATS`: `stats.placed` is not the number of placements, or a soft group rule's count in
/// `stats.soft_violations` is not what the answer breaks.
pub(super) fn bad_stats(cx: &Answer, out: &mut Collector) {
    let s = cx.solution;
    if s.stats.placed != s.placements.len() {
        out.push(v(
            Rule::BadStats,
            "/stats/placed",
            format!(
                "stats.placed {} but {} placements",
                s.stats.placed,
                s.placements.len()
            ),
        ));
    }
    super::groups::soft_violations(cx, out);
}

/// `BAD_PLACED_WEIGHT`: `placed_weight` is not what the placements weigh.
pub(super) fn bad_placed_weight(cx: &Answer, out: &mut Collector) {
    let (w, placed) = (cx.solution.placed_weight, cx.placed_weight);
    if (w - placed).abs() > tol(placed) {
        out.push(v(
            Rule::BadPlacedWeight,
            "/placed_weight",
            format!("placed_weight {w} but the placements weigh {placed}"),
        ));
    }
}

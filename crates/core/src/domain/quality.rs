//! How far an answer may be from the best (README, "How good an answer is"): one gap for every
//! answer the core gives, whether it lowers a cost (placement's objective, the migration round)
//! or raises a count (placed weight, restarted VMs, flavour sets that fit).

use super::tolerance::{EPS, NOISE};

/// Whether an answer's value is better lower or higher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Goal {
    /// A cost: the bound is a floor under it.
    Minimize,
    /// A weight or a count: the bound is a ceiling over it.
    Maximize,
}

/// The share of the answer's value that its proven bound leaves open: for a cost,
/// `(value - bound) / |value|` (HiGHS's own gap), for a count or weight, `(bound - value) /
/// bound`. 0 when the bound is met or passed, when the gap is float noise, and when a ceiling is
/// 0 (nothing could be achieved); infinite when the solver has no finite bound.
pub fn gap(value: f64, bound: f64, goal: Goal) -> f64 {
    let g = match goal {
        Goal::Minimize => (value - bound) / value.abs().max(NOISE),
        Goal::Maximize if bound <= EPS => 0.0,
        Goal::Maximize => (bound - value) / bound,
    };
    if g < NOISE {
        0.0
    } else {
        g
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gap_is_the_share_the_bound_leaves_open() {
        assert_eq!(gap(100.0, 90.0, Goal::Minimize), 0.1);
        assert_eq!(gap(90.0, 100.0, Goal::Maximize), 0.1);
        assert_eq!(gap(100.0, 100.0 + 1e-7, Goal::Minimize), 0.0);
        assert_eq!(gap(3.0, 3.0, Goal::Maximize), 0.0);
        assert_eq!(gap(0.0, 0.0, Goal::Maximize), 0.0);
        assert_eq!(gap(0.0, 0.0, Goal::Minimize), 0.0);
        assert!(gap(5.0, f64::NEG_INFINITY, Goal::Minimize).is_infinite());
    }
}

//! What "within capacity" means for an answer (README, "Error codes"): a usable capacity
//! may be exceeded by at most [`CAPACITY_TOL`] of the document's unit (GiB, or the resource's own
//! unit), plus the float rounding of the documents' own numbers ([`ROUNDING`] of the larger of
//! the capacity and the sum). Absolute, not relative to the capacity: `1e-6 × (1 + capacity)`
//! let a 1e8 GiB storage system take 14 GiB more (issue 27, M3). Every answer passes
//! [`exceeds`] on sums taken with [`ExactSum`] before it is written
//! (`placement::verify`); the checker holds answers to the same rule with its own code.
//!
//! Every other tolerance of the core is here too, by what it is for: [`EPS`] (the solvers' slack
//! on a capacity), [`MIP_TOL`] (reading a MIP's values), [`NOISE`] (float noise in the solvers'
//! own sums) and [`TINY`] (a floor under divisors). Code does not write these numbers inline.

/// Numerical tolerance for capacity comparisons, absolute, in the document's unit: what
/// [`super::fits`] and the incremental solvers allow over the free capacity, and the absolute
/// part of the final check every answer passes.
pub const EPS: f64 = 1e-6;

/// Absolute slack on a capacity, in the document's unit. Equal to [`EPS`], the slack of the
/// solvers' incremental [`super::fits`].
pub const CAPACITY_TOL: f64 = EPS;

/// HiGHS's integrality and feasibility tolerance: a MIP value within this of a whole number is
/// that number (`(v + MIP_TOL).floor()`), and a floor handed back to a MIP is loosened by this
/// share so that the solver's own rounding cannot make it infeasible.
pub const MIP_TOL: f64 = 1e-6;

/// Float noise in sums and comparisons the solvers compute themselves (utilisations, costs,
/// weights): two values closer than this are equal, and an amount below it is zero.
pub const NOISE: f64 = 1e-9;

/// A floor under divisors (a capacity or size that may be 0) and the margin of ties where a
/// strict improvement is asked for, far below any amount a document carries.
pub const TINY: f64 = 1e-12;

/// Float rounding of the documents' numbers, relative to the amounts compared: eight units in
/// the last place (1.8e-7 at 1e8, 1.8e-3 at 1e12, where an f64 cannot hold 1e-6 of a unit).
pub const ROUNDING: f64 = 8.0 * f64::EPSILON;

/// Whether `total` exceeds `capacity` beyond the tolerance.
pub fn exceeds(total: f64, capacity: f64) -> bool {
    total > capacity + CAPACITY_TOL + ROUNDING * total.abs().max(capacity.abs())
}

/// The most whole copies of `amount` that `free` holds: the largest `n` whose `n × amount` passes
/// [`exceeds`], the check every placement answer passes. Exact, not `floor(free / amount + 1e-9)`,
/// which counted a copy more whenever the quotient fell short of a whole number by less than 1e-9
/// (10^-9 of an image of 10^6 GiB is 1e-3 GiB, above the tolerance), and one that divides `free`
/// exactly counts exactly at any scale (1e12 / 4 = 2.5e11). `amount` > 0; a count past 2^53 (no
/// longer a whole f64 step) is `free / amount` rounded down.
pub fn whole_copies(free: f64, amount: f64) -> f64 {
    let free = free.max(0.0);
    let mut n = (free / amount).floor();
    if n.is_nan() || n >= 9_007_199_254_740_991.0 {
        return n;
    }
    while n > 0.0 && exceeds(n * amount, free) {
        n -= 1.0;
    }
    while !exceeds((n + 1.0) * amount, free) {
        n += 1.0;
    }
    n
}

/// A compensated (Neumaier) sum: its error stays within a unit or two in the last place of the
/// result however many terms it adds, so that 10,000 images on one storage system are counted
/// as exactly as one.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExactSum {
    sum: f64,
    carry: f64,
}

impl ExactSum {
    /// Adds `x`.
    pub fn add(&mut self, x: f64) {
        let t = self.sum + x;
        self.carry += if self.sum.abs() >= x.abs() {
            (self.sum - t) + x
        } else {
            (x - t) + self.sum
        };
        self.sum = t;
    }

    /// The sum.
    pub fn value(&self) -> f64 {
        self.sum + self.carry
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fourteen_gib_over_1e8_exceeds_and_rounding_does_not() {
        assert!(exceeds(1e8 + 14.0, 1e8));
        assert!(exceeds(1e8 + 2e-6, 1e8));
        assert!(!exceeds(1e8 + 5e-7, 1e8));
        // Ten images of 1e11 + 0.1 GiB fill 1e12 + 1 GiB exactly in decimal; in f64 the sum
        // rounds a little above the capacity.
        let mut s = ExactSum::default();
        for _ in 0..10 {
            s.add(1e11 + 0.1);
        }
        assert!(!exceeds(s.value(), 1e12 + 1.0));
        assert!(exceeds(s.value(), 1e12));
    }

    #[test]
    fn the_compensated_sum_keeps_what_a_plain_sum_loses() {
        let mut s = ExactSum::default();
        s.add(1e16);
        for _ in 0..10 {
            s.add(1.0);
        }
        s.add(-1e16);
        assert_eq!(s.value(), 10.0);
    }
}

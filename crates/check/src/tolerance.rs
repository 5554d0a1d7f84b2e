//! What "within capacity" means for every answer the checker reads (placements, migration plans
//! and their steps, failure scenarios, IAllocator answers): a usable capacity may be exceeded by
//! at most [`CAPACITY_TOL`] of the document's unit (GiB, MiB, or the resource's own unit), plus
//! the float rounding of the documents' own numbers ([`ROUNDING`] of the larger of the capacity
//! and the sum). Absolute, not relative to the capacity: `1e-6 × (1 + capacity)` let a 1e8 GiB
//! system take 100 GiB more and a migration plan overfill a 1e8 host by 5 units (issue 27, M3).
//! The checker's own definition (it imports no solver code); the solvers hold answers to the same
//! rule (`domain::tolerance`).

/// How far a sum may exceed a usable capacity, in the document's unit.
pub(super) const CAPACITY_TOL: f64 = 1e-6;

/// The float rounding of the documents' own numbers, relative to the amounts compared: eight
/// units in the last place (1.8e-3 at 1e12, where an f64 cannot hold 1e-6 of a unit).
const ROUNDING: f64 = 8.0 * f64::EPSILON;

/// Whether `total` exceeds `capacity` beyond the tolerance.
pub(super) fn exceeds(total: f64, capacity: f64) -> bool {
    total > capacity + CAPACITY_TOL + ROUNDING * total.abs().max(capacity.abs())
}

/// A compensated (Neumaier) sum, so that the rounding of many terms stays within the tolerance.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Sum {
    sum: f64,
    carry: f64,
}

impl Sum {
    /// Adds `x`.
    pub(super) fn add(&mut self, x: f64) {
        let t = self.sum + x;
        self.carry += if self.sum.abs() >= x.abs() {
            (self.sum - t) + x
        } else {
            (x - t) + self.sum
        };
        self.sum = t;
    }

    /// The sum.
    pub(super) fn value(&self) -> f64 {
        self.sum + self.carry
    }
}

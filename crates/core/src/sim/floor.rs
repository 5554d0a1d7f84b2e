//! The energy floor of one instant, computed exactly without a solver (models/simulation.md,
//! "Search"): the same optimum as the MIP of [`crate::model::floor`], by enumerating the active
//! host counts of every type but the last and scanning the last one's count, along which the
//! least power is convex.

use crate::domain::NOISE;
use crate::model::floor::{hull, HostType};

/// One type's power envelope as a convex piecewise-linear function of its load.
#[derive(Debug, Clone)]
struct Curve {
    count: usize,
    mips: f64,
    /// Watts of an idle active host (the envelope at u = 0).
    idle: f64,
    /// (width in utilisation, watts per unit of utilisation), in increasing slope.
    pieces: Vec<(f64, f64)>,
}

/// The floor's search over a pool's host types.
#[derive(Debug, Clone)]
pub struct Floor {
    curves: Vec<Curve>,
}

impl Floor {
    /// The search for a pool of these types.
    pub fn new(types: &[HostType]) -> Floor {
        let curves = types
            .iter()
            .filter(|t| t.count > 0 && t.mips > 0.0)
            .map(|t| {
                let h = hull(&t.watts);
                let idle = h.first().map_or(0.0, |p| p.1);
                let pieces = h
                    .windows(2)
                    .map(|w| (w[1].0 - w[0].0, (w[1].1 - w[0].1) / (w[1].0 - w[0].0)))
                    .collect();
                Curve {
                    count: t.count,
                    mips: t.mips,
                    idle,
                    pieces,
                }
            })
            .collect();
        Floor { curves }
    }

    /// The least watts that serve `demand` MIPS with no host over capacity (capped at the pool's
    /// capacity), over integral numbers of active hosts per type.
    pub fn min_power(&self, demand: f64) -> f64 {
        let capacity: f64 = self.curves.iter().map(|c| c.count as f64 * c.mips).sum();
        let demand = demand.clamp(0.0, capacity);
        if demand <= 0.0 || self.curves.is_empty() {
            return 0.0;
        }
        let mut counts = vec![0usize; self.curves.len()];
        self.search(0, &mut counts, demand)
    }

    /// The best over the counts of types `t..`, those before fixed in `counts`.
    fn search(&self, t: usize, counts: &mut [usize], demand: f64) -> f64 {
        let last = self.curves.len() - 1;
        if t < last {
            let mut best = f64::INFINITY;
            for y in 0..=self.curves[t].count {
                counts[t] = y;
                best = best.min(self.search(t + 1, counts, demand));
            }
            return best;
        }
        // The last type: its least count that reaches the demand, then up while power falls
        // (the least power is convex in the count, models/simulation.md).
        let fixed: f64 = (0..last)
            .map(|i| counts[i] as f64 * self.curves[i].mips)
            .sum();
        let c = &self.curves[last];
        let need = ((demand - fixed).max(0.0) / c.mips - NOISE).ceil().max(0.0) as usize;
        if need > c.count {
            return f64::INFINITY;
        }
        let mut best = f64::INFINITY;
        for y in need..=c.count {
            counts[last] = y;
            let p = self.power(counts, demand);
            if p > best {
                break;
            }
            best = p;
        }
        best
    }

    /// The least watts of these active counts: idle power, then the load poured into the cheapest
    /// pieces first (the envelopes are convex and separable).
    fn power(&self, counts: &[usize], demand: f64) -> f64 {
        let mut pieces: Vec<(f64, f64)> = Vec::new();
        let mut watts = 0.0;
        for (c, &y) in self.curves.iter().zip(counts) {
            watts += y as f64 * c.idle;
            for &(width, slope) in &c.pieces {
                // (MIPS the piece holds over y hosts, watts per MIPS)
                pieces.push((y as f64 * c.mips * width, slope / c.mips));
            }
        }
        pieces.sort_by(|a, b| a.1.total_cmp(&b.1));
        let mut left = demand;
        for (mips, per) in pieces {
            let take = left.min(mips);
            watts += take * per;
            left -= take;
            if left <= 0.0 {
                break;
            }
        }
        if left > NOISE {
            return f64::INFINITY;
        }
        watts
    }
}

//! The energy floor of one instant (models/simulation.md): the least power any placement needs to
//! serve a total CPU demand with no host over capacity, as a small MIP over host types. Function
//! names match the constraint families.

use super::{Col, MipBuilder, MipError, MipOptions, Sense};
use crate::domain::NOISE;
use good_lp::{constraint, variable, Expression};

/// One host type of the pool.
#[derive(Debug, Clone)]
pub struct HostType {
    /// Hosts of this type.
    pub count: usize,
    /// CPU capacity of one host (MIPS).
    pub mips: f64,
    /// Watts at 0 %, 10 %, ..., 100 % utilisation, linear in between.
    pub watts: Vec<f64>,
}

/// A line `watts = intercept + slope * u` of a power curve's lower convex envelope.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Segment {
    /// Watts at u = 0 on the line.
    pub intercept: f64,
    /// Watts per unit of utilisation.
    pub slope: f64,
}

/// The vertices (u, watts) of the lower convex envelope of a power table whose points lie at
/// u = i / (n - 1), left to right; points on a line between two others are left out.
pub fn hull(watts: &[f64]) -> Vec<(f64, f64)> {
    let n = watts.len();
    let u = |i: usize| {
        if n > 1 {
            i as f64 / (n - 1) as f64
        } else {
            0.0
        }
    };
    let mut hull: Vec<(f64, f64)> = Vec::new();
    for (i, &w) in watts.iter().enumerate() {
        let p = (u(i), w);
        while let [.., a, b] = hull.as_slice() {
            // Keep b only if it lies strictly below the line from a to p.
            let cross = (b.0 - a.0) * (p.1 - a.1) - (b.1 - a.1) * (p.0 - a.0);
            if cross <= NOISE * (1.0 + p.1.abs()) {
                hull.pop();
            } else {
                break;
            }
        }
        hull.push(p);
    }
    hull
}

/// The lines of the lower convex envelope of a power table: the envelope is their maximum, and
/// it lies below the table's curve everywhere on [0, 1].
pub fn envelope(watts: &[f64]) -> Vec<Segment> {
    let h = hull(watts);
    if h.len() < 2 {
        return vec![Segment {
            intercept: h.first().map_or(0.0, |p| p.1),
            slope: 0.0,
        }];
    }
    h.windows(2)
        .map(|w| {
            let slope = (w[1].1 - w[0].1) / (w[1].0 - w[0].0);
            Segment {
                intercept: w[0].1 - slope * w[0].0,
                slope,
            }
        })
        .collect()
}

struct Model<'a> {
    types: &'a [HostType],
    /// Active hosts per type (integer).
    active: Vec<Col>,
    /// MIPS served per type.
    load: Vec<Col>,
    /// Watts drawn per type.
    power: Vec<Col>,
    b: MipBuilder,
}

/// The least power, in watts, that hosts of these types draw while serving `demand` MIPS with none
/// over capacity: a proven lower bound (HiGHS' dual bound). A demand beyond the pool's capacity is
/// capped at it (every host full).
pub fn min_power(types: &[HostType], demand: f64, opts: &MipOptions) -> Result<f64, MipError> {
    let capacity: f64 = types.iter().map(|t| t.count as f64 * t.mips).sum();
    let demand = demand.clamp(0.0, capacity);
    if demand <= 0.0 {
        return Ok(0.0);
    }
    let mut m = Model::new(types, opts.relax);
    m.floor_demand(demand);
    m.floor_capacity();
    m.floor_envelope();
    let objective: Expression = m.power.iter().map(|p| p.var).sum();
    let r = m.b.solve(Sense::Min, objective, 0.0, opts)?;
    Ok(r.bound.min(r.objective))
}

impl<'a> Model<'a> {
    fn new(types: &'a [HostType], relax: bool) -> Self {
        let mut b = MipBuilder::new(relax);
        let active = types
            .iter()
            .map(|t| {
                b.column(
                    variable().min(0.0).max(t.count as f64),
                    true,
                    t.count as f64,
                )
            })
            .collect();
        let load = types
            .iter()
            .map(|t| b.column(variable().min(0.0), false, t.count as f64 * t.mips))
            .collect();
        let power = types
            .iter()
            .map(|t| {
                let full = t.watts.iter().copied().fold(0.0, f64::max) * t.count as f64;
                b.column(variable().min(0.0), false, full)
            })
            .collect();
        Model {
            types,
            active,
            load,
            power,
            b,
        }
    }

    /// `floor_demand`: the hosts serve the whole demand.
    fn floor_demand(&mut self, demand: f64) {
        let served: Expression = self.load.iter().map(|l| l.var).sum();
        self.b.row(constraint!(served >= demand));
    }

    /// `floor_capacity`: a type serves at most its active hosts' capacity.
    fn floor_capacity(&mut self) {
        for (t, ty) in self.types.iter().enumerate() {
            let (l, y) = (self.load[t].var, self.active[t].var);
            self.b.row(constraint!(l <= ty.mips * y));
        }
    }

    /// `floor_envelope`: a type draws at least every line of its power envelope, taken over its
    /// active hosts at their mean utilisation (Jensen's inequality on the convex envelope).
    fn floor_envelope(&mut self) {
        for (t, ty) in self.types.iter().enumerate() {
            let (p, l, y) = (self.power[t].var, self.load[t].var, self.active[t].var);
            for s in envelope(&ty.watts) {
                self.b
                    .row(constraint!(p >= s.intercept * y + (s.slope / ty.mips) * l));
            }
        }
    }
}

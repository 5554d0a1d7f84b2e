//! A mix of flavors (models/capacity.md, "A mix"): the most whole sets of the mix (`share_f` VMs of
//! each flavor f per set) that fit together, each VM's image on a storage system connected to its
//! host. Function names match the constraint families.

use super::{Col, MipBuilder, MipError, MipOptions, MipStatus, Sense};
use crate::domain::{MIP_TOL, NOISE};
use good_lp::{constraint, variable, Expression};

/// A flavor of the mix, dense over the hosts' resources.
#[derive(Debug, Clone)]
pub struct MixFlavor {
    /// Demand per resource.
    pub demand: Vec<f64>,
    /// Disk image, GiB.
    pub disk_gib: f64,
    /// VMs of it per set.
    pub share: usize,
}

/// The pool, dense.
#[derive(Debug, Clone)]
pub struct MixInput<'a> {
    /// Free capacity per host and resource.
    pub host_free: &'a [Vec<f64>],
    /// Free GiB per storage system.
    pub storage_free: &'a [f64],
    /// The storage systems each host reaches.
    pub links: &'a [Vec<usize>],
    /// The flavors.
    pub flavors: &'a [MixFlavor],
    /// A proven upper bound on the sets (e.g. each flavor's own count over its share).
    pub max_sets: usize,
}

/// What the MIP decided.
#[derive(Debug, Clone)]
pub struct Mix {
    /// Sets that fit.
    pub sets: usize,
    /// Proven upper bound on the sets.
    pub bound: usize,
    /// VMs per flavor, host and storage system: `(flavor, host, storage, count)`.
    pub placed: Vec<(usize, usize, usize, usize)>,
    /// How HiGHS stopped.
    pub status: MipStatus,
}

struct Model<'a> {
    input: &'a MixInput<'a>,
    /// y[f, s, h]: VMs of flavor f on host h with their images on s.
    y: Vec<(usize, usize, usize, Col)>,
    k: Col,
    b: MipBuilder,
}

/// The most sets of the mix that fit.
pub fn mix(input: &MixInput, opts: &MipOptions) -> Result<Mix, MipError> {
    let mut m = Model::new(input, opts.relax);
    m.mix_host_capacity();
    m.mix_storage_capacity();
    m.mix_ratio();
    let objective: Expression = m.k.var.into();
    let (y, k) = (m.y.clone(), m.k);
    let r = m.b.solve(Sense::Max, objective, 0.0, opts)?;
    let value = |c: Col| r.values.get(c.ix).copied().unwrap_or(0.0);
    let placed: Vec<(usize, usize, usize, usize)> = y
        .iter()
        .map(|&(f, s, h, c)| (f, h, s, (value(c) + 0.5).floor() as usize))
        .filter(|p| p.3 > 0)
        .collect();
    let sets = (value(k) + MIP_TOL).floor().max(0.0) as usize;
    let feasible = matches!(
        r.status,
        MipStatus::Optimal | MipStatus::TimeLimit | MipStatus::WorkLimit
    );
    let bound = if feasible {
        ((r.bound + MIP_TOL).floor().max(0.0) as usize).min(input.max_sets)
    } else {
        input.max_sets
    };
    Ok(Mix {
        sets,
        bound: bound.max(sets),
        placed,
        status: r.status,
    })
}

impl<'a> Model<'a> {
    fn new(input: &'a MixInput<'a>, relax: bool) -> Self {
        let mut b = MipBuilder::new(relax);
        let mut y = Vec::new();
        for (f, fl) in input.flavors.iter().enumerate() {
            for (h, free) in input.host_free.iter().enumerate() {
                let copies = copies(free, &fl.demand);
                if fl.share == 0 || copies == 0 {
                    continue;
                }
                for &s in &input.links[h] {
                    let images = if fl.disk_gib > 0.0 {
                        (input.storage_free[s] / fl.disk_gib + NOISE).floor()
                    } else {
                        f64::INFINITY
                    };
                    let most = (copies as f64).min(images);
                    if most >= 1.0 {
                        let c = b.column(variable().min(0.0).max(most), true, 0.0);
                        y.push((f, s, h, c));
                    }
                }
            }
        }
        let k = b.column(variable().min(0.0).max(input.max_sets as f64), true, 0.0);
        Model { input, y, k, b }
    }

    /// `mix_host_capacity`: what the mix puts on a host fits its free capacity, per resource.
    fn mix_host_capacity(&mut self) {
        let hosts = self.input.host_free.len();
        let mut on: Vec<Vec<(usize, Col)>> = vec![Vec::new(); hosts];
        for &(f, _, h, c) in &self.y {
            on[h].push((f, c));
        }
        for (h, cols) in on.iter().enumerate().filter(|(_, c)| !c.is_empty()) {
            for (r, &cap) in self.input.host_free[h].iter().enumerate() {
                let load: Expression = cols
                    .iter()
                    .map(|&(f, c)| self.input.flavors[f].demand[r] * c.var)
                    .sum();
                self.b.row(constraint!(load <= cap));
            }
        }
    }

    /// `mix_storage_capacity`: the images on a storage system fit its free space.
    fn mix_storage_capacity(&mut self) {
        let mut on: Vec<Vec<(usize, Col)>> = vec![Vec::new(); self.input.storage_free.len()];
        for &(f, s, _, c) in &self.y {
            on[s].push((f, c));
        }
        for (s, cols) in on.iter().enumerate().filter(|(_, c)| !c.is_empty()) {
            let images: Expression = cols
                .iter()
                .map(|&(f, c)| self.input.flavors[f].disk_gib * c.var)
                .sum();
            let cap = self.input.storage_free[s];
            self.b.row(constraint!(images <= cap));
        }
    }

    /// `mix_ratio`: each flavor places at least its share of every set.
    fn mix_ratio(&mut self) {
        for (f, fl) in self.input.flavors.iter().enumerate() {
            let placed: Expression = self.y.iter().filter(|p| p.0 == f).map(|p| p.3.var).sum();
            let need = fl.share as f64 * self.k.var;
            self.b.row(constraint!(placed >= need));
        }
    }
}

/// Copies of `demand` that `free` holds.
fn copies(free: &[f64], demand: &[f64]) -> usize {
    demand
        .iter()
        .zip(free)
        .filter(|(d, _)| **d > 0.0)
        .map(|(d, f)| crate::domain::tolerance::whole_copies(*f, *d) as usize)
        .min()
        .unwrap_or(1_000_000_000)
}

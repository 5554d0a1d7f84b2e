//! The fit bound (models/fit.md): an LP that bounds the placed weight of any answer while keeping
//! every host's resources together. Function names match the constraint families.

use super::{Col, MipBuilder, MipError, MipOptions, MipStatus, Sense};
use crate::domain::{bits, fits, Domain, Flavor, HostIx, IxVec, StorageIx, EPS, MIP_TOL, NOISE};
use good_lp::{constraint, variable, Expression};
use std::collections::HashMap;

/// Most shape classes the LP keeps apart; the rest are merged into one (models/fit.md).
pub const MAX_CLASSES: usize = 24;

/// Flavors whose measured demand points the same way.
#[derive(Debug, Clone)]
pub struct Class {
    /// Demand per unit, per measured resource (componentwise least over the members).
    pub delta: Vec<f64>,
    /// Members: (flavor, units per VM).
    pub members: Vec<(usize, f64)>,
    /// One shape: a unit is one VM, so a host runs a whole number of units.
    pub exact: bool,
}

impl Class {
    /// The most units of this class that fit `free` (whole VMs for an exact class).
    fn copies(&self, free: &[f64]) -> f64 {
        let most = self
            .delta
            .iter()
            .zip(free)
            .filter(|(d, _)| **d > EPS)
            .map(|(d, f)| f / d)
            .fold(f64::INFINITY, f64::min);
        if self.exact {
            (most + NOISE).floor()
        } else {
            most
        }
    }
}

/// The shape classes of `flavors`: one per measured demand vector, so that a unit is one VM
/// (flavors without measured demand belong to none); past [`MAX_CLASSES`], the smallest are
/// merged.
pub fn classes(d: &Domain, flavors: &[Flavor]) -> Vec<Class> {
    let nr = d.axes.len();
    let sigma: Vec<f64> = (0..nr)
        .map(|r| d.hosts.iter().map(|h| h.capacity[r]).fold(0.0, f64::max))
        .map(|s| if s > EPS { s } else { 1.0 })
        .collect();
    let mut index: HashMap<Vec<u64>, usize> = HashMap::new();
    let mut out: Vec<Class> = Vec::new();
    for (f, flavor) in flavors.iter().enumerate() {
        let demand = &d.requests[flavor.members[0]].demand[..nr];
        if demand.iter().all(|&x| x <= EPS) {
            continue;
        }
        let c = *index.entry(bits(demand)).or_insert_with(|| {
            out.push(Class {
                delta: demand.to_vec(),
                members: Vec::new(),
                exact: true,
            });
            out.len() - 1
        });
        out[c].members.push((f, 1.0));
    }
    merge_smallest(out, flavors, &sigma)
}

/// Keeps the `MAX_CLASSES - 1` classes with the most VMs and merges the rest into one. Its unit
/// is a VM's demand scaled to its largest share of `sigma` (the largest host), and its demand
/// per unit the componentwise least of its members': `units * delta <= demand` for every member.
fn merge_smallest(mut classes: Vec<Class>, flavors: &[Flavor], sigma: &[f64]) -> Vec<Class> {
    if classes.len() <= MAX_CLASSES {
        return classes;
    }
    let vms = |c: &Class| -> usize {
        c.members
            .iter()
            .map(|&(f, _)| flavors[f].members.len())
            .sum()
    };
    classes.sort_by_key(|c| std::cmp::Reverse(vms(c)));
    let rest = classes.split_off(MAX_CLASSES - 1);
    let mut merged = Class {
        delta: vec![f64::INFINITY; sigma.len()],
        members: Vec::new(),
        exact: false,
    };
    for c in rest {
        let units = c
            .delta
            .iter()
            .zip(sigma)
            .map(|(x, s)| x / s)
            .fold(0.0, f64::max);
        for (m, x) in merged.delta.iter_mut().zip(&c.delta) {
            *m = m.min(x / units);
        }
        merged
            .members
            .extend(c.members.iter().map(|&(f, _)| (f, units)));
    }
    classes.push(merged);
    classes
}

/// The link groups: hosts connected to the same storage systems, with those systems (hosts
/// without any are left out). Hosts of one group are alike to every storage system, so the LP
/// splits a group's units among its systems, not each host's (models/fit.md).
fn link_groups(d: &Domain) -> Vec<(Vec<StorageIx>, Vec<HostIx>)> {
    let mut index: HashMap<Vec<StorageIx>, usize> = HashMap::new();
    let mut groups: Vec<(Vec<StorageIx>, Vec<HostIx>)> = Vec::new();
    for (h, host) in d.hosts.enumerate() {
        if host.storage.is_empty() {
            continue;
        }
        let mut links = host.storage.clone();
        links.sort_unstable();
        links.dedup();
        let g = *index.entry(links.clone()).or_insert_with(|| {
            groups.push((links, Vec::new()));
            groups.len() - 1
        });
        groups[g].1.push(h);
    }
    groups
}

struct Model<'a> {
    d: &'a Domain,
    flavors: Vec<Flavor>,
    classes: Vec<Class>,
    /// y[f] = (storage, column) pairs.
    y: Vec<Vec<(StorageIx, Col)>>,
    b: MipBuilder,
}

/// The fit bound: the LP optimum raised by its tolerance, or None when HiGHS did not prove it
/// within `opts`' time (models/fit.md).
pub fn solve_fit_bound(d: &Domain, opts: &MipOptions) -> Result<Option<f64>, MipError> {
    let flavors = super::storage::flavors(d);
    let classes = classes(d, &flavors);
    let mut m = Model {
        d,
        y: Vec::with_capacity(flavors.len()),
        flavors,
        classes,
        b: MipBuilder::new(true),
    };
    // The interior point method solves this LP about ten times faster than simplex at 10,000
    // requests (4 s against 48 s on 2,000 hosts); its crossover still ends on a proven optimum.
    m.b.interior_point();
    m.fit_candidates();
    m.fit_assignment();
    m.fit_storage_capacity();
    let supply = m.fit_class_supply();
    m.fit_host_capacity(supply);
    let objective = m.fit_weight();
    let mut opts = opts.clone();
    opts.relax = true;
    let r = m.b.solve(Sense::Max, objective, 0.0, &opts)?;
    Ok((r.status == MipStatus::Optimal && r.objective.is_finite())
        .then(|| r.objective + MIP_TOL * r.objective.abs().max(1.0)))
}

impl Model<'_> {
    /// `y_fs` where phase 1 has a column (`storage_candidates`): the storage is the request's
    /// fixed one if it has one, its traits allow it, a connected host fits, and the disk fits.
    fn fit_candidates(&mut self) {
        let d = self.d;
        for flavor in &self.flavors {
            let rep = flavor.members[0];
            let vm = &d.requests[rep];
            let n = flavor.members.len() as f64;
            let mut cols = Vec::new();
            for (s, free) in super::storage::candidate_storage(d, rep) {
                let ub = if vm.disk > EPS {
                    n.min(free / vm.disk)
                } else {
                    n
                };
                cols.push((s, self.b.column(variable().min(0).max(ub), false, 0.0)));
            }
            self.y.push(cols);
        }
    }

    /// **`fit_assignment`**: `sum_s y_fs <= n_f`.
    fn fit_assignment(&mut self) {
        for (f, ys) in self.y.iter().enumerate() {
            if ys.len() > 1 {
                let sum: Expression = ys.iter().map(|(_, c)| c.var).sum();
                let n = self.flavors[f].members.len() as f64;
                self.b.row(constraint::leq(sum, n));
            }
        }
    }

    /// **`fit_storage_capacity`**: `sum_f disk_f y_fs <= free_s`.
    fn fit_storage_capacity(&mut self) {
        let d = self.d;
        let mut rows: IxVec<StorageIx, Option<Expression>> = IxVec::filled(None, d.storage.len());
        for (f, ys) in self.y.iter().enumerate() {
            let disk = d.requests[self.flavors[f].members[0]].disk;
            for (s, c) in ys {
                rows[s]
                    .get_or_insert_with(Expression::default)
                    .add_mul(disk, c.var);
            }
        }
        for (s, row) in rows.into_enumerate() {
            if let Some(e) = row {
                self.b.row(constraint::leq(e, d.storage[s].free()));
            }
        }
    }

    /// **`fit_class_supply`**: `sum_{f in c} u_f y_fs <= sum_{K ∋ s} b_Ksc` for every storage
    /// system and class, over the link groups `K` (hosts with the same storage systems). Then
    /// [`Self::fit_group_supply`]. Returns each host's `(class, a_hc)` terms.
    fn fit_class_supply(&mut self) -> IxVec<HostIx, Vec<(usize, Col)>> {
        let d = self.d;
        let groups = link_groups(d);
        let free = d.hosts.map(|h| h.free());
        let mut supply: IxVec<HostIx, Vec<(usize, Col)>> = IxVec::filled(Vec::new(), d.hosts.len());
        for c in 0..self.classes.len() {
            let mut demand: IxVec<StorageIx, Option<Expression>> =
                IxVec::filled(None, d.storage.len());
            for &(f, units) in &self.classes[c].members {
                for (s, col) in &self.y[f] {
                    demand[s]
                        .get_or_insert_with(Expression::default)
                        .add_mul(units, col.var);
                }
            }
            for (links, hosts) in &groups {
                let served: Vec<StorageIx> = links
                    .iter()
                    .copied()
                    .filter(|s| demand[s].is_some())
                    .collect();
                let fitting: Vec<HostIx> = hosts
                    .iter()
                    .copied()
                    .filter(|&h| self.fits(c, &free[h]))
                    .collect();
                if served.is_empty() || fitting.is_empty() {
                    continue;
                }
                let mut flows = Expression::default();
                for s in served {
                    let b = self.b.column(variable().min(0), false, 0.0);
                    if let Some(row) = demand[s].as_mut() {
                        row.add_mul(-1.0, b.var);
                    }
                    flows.add_mul(1.0, b.var);
                }
                let mut hosts_supply = Expression::default();
                for h in fitting {
                    let most = self.classes[c].copies(&free[h]);
                    let a = self.b.column(variable().min(0).max(most), false, 0.0);
                    hosts_supply.add_mul(1.0, a.var);
                    supply[h].push((c, a));
                }
                self.fit_group_supply(flows, hosts_supply);
            }
            for row in demand.into_iter().flatten() {
                self.b.row(constraint::leq(row, 0.0));
            }
        }
        supply
    }

    /// **`fit_group_supply`**: `sum_{s in K} b_Ksc <= sum_{h in K, fits_hc} a_hc` for a link group
    /// `K` and class `c`: what the group's storage systems take of the class runs on the group's
    /// hosts that fit it, each host's units counted once whichever system they serve.
    fn fit_group_supply(&mut self, flows: Expression, hosts: Expression) {
        self.b.row(constraint::leq(flows - hosts, 0.0));
    }

    /// `fits_hc`: some member of class `c` fits a host with `free` capacity (every dimension,
    /// host traits included).
    fn fits(&self, c: usize, free: &[f64]) -> bool {
        self.classes[c]
            .members
            .iter()
            .any(|&(f, _)| fits(&self.d.requests[self.flavors[f].members[0]].demand, free))
    }

    /// **`fit_host_capacity`**: `sum_c delta_cr a_hc <= free_hr` for every host and measured
    /// resource.
    fn fit_host_capacity(&mut self, supply: IxVec<HostIx, Vec<(usize, Col)>>) {
        let d = self.d;
        for (h, terms) in supply.into_enumerate() {
            if terms.is_empty() {
                continue;
            }
            let free = d.hosts[h].free();
            for (r, &free_r) in free.iter().enumerate().take(d.axes.len()) {
                let mut e = Expression::default();
                let mut any = false;
                for &(c, a) in &terms {
                    let per_unit = self.classes[c].delta[r];
                    if per_unit > 0.0 {
                        e.add_mul(per_unit, a.var);
                        any = true;
                    }
                }
                if any {
                    self.b.row(constraint::leq(e, free_r));
                }
            }
        }
    }

    /// **`fit_weight`**: `sum_fs p_f y_fs`.
    fn fit_weight(&self) -> Expression {
        let mut e = Expression::default();
        for (f, ys) in self.y.iter().enumerate() {
            let p = self.d.requests[self.flavors[f].members[0]].priority;
            for (_, c) in ys {
                e.add_mul(p, c.var);
            }
        }
        e
    }
}

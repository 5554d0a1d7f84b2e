//! Phase 2, the host MIP (models/host.md). Function names match the constraint families.

use super::{hand_out, Col, MipBuilder, MipError, MipOptions, MipResult, Sense};
use crate::domain::MIP_TOL;
use crate::domain::{
    bits, fits, flavors_by, Assignment, Domain, Flavor, HostIx, IxVec, Load, RequestIx, EPS,
};
use good_lp::{constraint, variable, Expression};
use vmplace_wire::Objective;

pub use super::storage::Stage;

/// Inputs of one host-phase solve: the whole phase, or a neighbourhood of it (large
/// neighbourhood search), in which case `load` and `active` describe what stays fixed.
pub struct HostInput<'a> {
    /// The problem.
    pub d: &'a Domain,
    /// Storage of every request to place (requests without one are left out).
    pub storage: &'a Assignment,
    /// Warm start: hosts for (some of) those requests, respecting every constraint.
    pub warm: &'a Assignment,
    /// Free capacity and anti-affinity groups per host, after the fixed requests.
    pub load: &'a Load,
    /// Hosts already running something (counted as active, whatever this solve does).
    pub active: &'a IxVec<HostIx, bool>,
    /// Hosts this solve may use (None = all).
    pub allowed: Option<&'a IxVec<HostIx, bool>>,
}

struct Model<'a> {
    input: &'a HostInput<'a>,
    flavors: Vec<Flavor>,
    /// x[f] = (host, column) pairs.
    x: Vec<Vec<(HostIx, Col)>>,
    /// The columns of members of `groups[]` rules, one per rule.
    group_terms: Vec<super::groups::Term>,
    b: MipBuilder,
}

/// Solves one stage; returns the MIP result and the assignment (storage and host).
pub fn solve(
    input: &HostInput,
    stage: Stage,
    opts: &MipOptions,
) -> Result<(MipResult, Assignment), MipError> {
    let d = input.d;
    let flavors = flavors_by(
        d,
        |r| input.storage.storage[r].is_some(),
        |vm| {
            (
                bits(&vm.demand),
                vm.priority.to_bits(),
                vm.group,
                vm.rules.clone(),
            )
        },
    );
    // The storage is part of the flavor: split each demand flavor by storage.
    let mut by_storage: Vec<Flavor> = Vec::new();
    for f in flavors {
        let mut parts: std::collections::BTreeMap<usize, Flavor> = Default::default();
        for r in f.members {
            let s = input.storage.storage[r].map(|s| s.0).unwrap_or(0);
            parts
                .entry(s)
                .or_insert_with(|| Flavor {
                    members: Vec::new(),
                })
                .members
                .push(r);
        }
        by_storage.extend(parts.into_values());
    }
    let mut m = Model {
        input,
        x: Vec::with_capacity(by_storage.len()),
        flavors: by_storage,
        group_terms: Vec::new(),
        b: MipBuilder::new(opts.relax),
    };
    m.host_connectivity();
    m.host_assignment();
    let open = m.host_open();
    m.host_capacity(&open);
    m.anti_affinity();
    let penalties = super::groups::group_rows(
        &mut m.b,
        &d.group_rules,
        &input.load.rule_counts,
        &m.group_terms,
    );
    let placed = m.placed_weight();
    let (sense, objective, offset) = match stage {
        Stage::Placement => (Sense::Max, placed, 0.0),
        Stage::Policy { min_weight } => {
            m.placed_floor(placed, min_weight);
            let (mut obj, off) = m.policy_cost(&open);
            obj += penalties.expression();
            (Sense::Min, obj, off + penalties.constant)
        }
    };
    let Model { flavors, x, b, .. } = m;
    let result = b.solve(sense, objective, offset, opts)?;
    let mut a = input.storage.clone();
    a.host = IxVec::filled(None, d.requests.len());
    for (flavor, xs) in flavors.iter().zip(&x) {
        let give = |r: RequestIx, h| a.host[r] = Some(h);
        hand_out(
            &flavor.members,
            xs.iter().copied(),
            &result.values,
            opts.relax,
            give,
        );
    }
    Ok((result, a))
}

impl Model<'_> {
    /// Warm start of x[f,h]: the flavor's members the warm start puts on `h`.
    fn warm_count(&self, f: usize, h: HostIx) -> f64 {
        self.flavors[f]
            .members
            .iter()
            .filter(|&&r| self.input.warm.host[r] == Some(h))
            .count() as f64
    }

    /// Variable domain: x[f,h] exists only for hosts connected to the flavor's storage whose
    /// free capacity fits at least one VM of the flavor. Its upper bound is how many fit (1 for an
    /// anti-affinity group).
    fn host_connectivity(&mut self) {
        let d = self.input.d;
        for f in 0..self.flavors.len() {
            let rep = self.flavors[f].members[0];
            let vm = &d.requests[rep];
            let Some(s) = self.input.storage.storage[rep] else {
                self.x.push(Vec::new());
                continue;
            };
            let n = self.flavors[f].members.len() as f64;
            let mut cols = Vec::new();
            for &h in &d.storage[s].hosts {
                if self.input.allowed.is_some_and(|a| !a[h]) {
                    continue;
                }
                let load = self.input.load;
                let free = &load.host_free[h];
                if !fits(&vm.demand, free)
                    || vm.group.is_some_and(|g| load.host_groups[h].contains(&g))
                    || !vm
                        .rules
                        .iter()
                        .all(|&g| d.group_rules[g].may_host(&load.rule_counts[g], h))
                {
                    continue;
                }
                let copies = vm
                    .demand
                    .iter()
                    .zip(free)
                    .filter(|(x, _)| **x > EPS)
                    .map(|(x, f)| (f / x + EPS).floor())
                    .fold(n, f64::min);
                let ub = if vm.group.is_some() {
                    copies.min(1.0)
                } else {
                    copies
                };
                let warm = self.warm_count(f, h).min(ub);
                let col = self.b.column(variable().min(0).max(ub), true, warm);
                cols.push((h, col));
                for &rule in &vm.rules {
                    self.group_terms.push(super::groups::Term {
                        rule,
                        host: h,
                        col,
                        ub,
                        warm,
                    });
                }
            }
            self.x.push(cols);
        }
    }

    /// Each request goes to at most one host.
    fn host_assignment(&mut self) {
        for f in 0..self.flavors.len() {
            if self.x[f].len() > 1 {
                let sum: Expression = self.x[f].iter().map(|(_, c)| c.var).sum();
                self.b
                    .row(constraint::leq(sum, self.flavors[f].members.len() as f64));
            }
        }
    }

    /// `pack` only: a_h = 1 if an initially idle host receives a VM.
    fn host_open(&mut self) -> IxVec<HostIx, Option<Col>> {
        let d = self.input.d;
        let mut open = IxVec::filled(None, d.hosts.len());
        if d.settings.host_policy == Objective::Pack {
            let mut has = IxVec::filled(false, d.hosts.len());
            for xs in &self.x {
                for (h, _) in xs {
                    has[h] = true;
                }
            }
            for h in d.hosts.ids() {
                if has[h] && !self.input.active[h] {
                    let warm = self.input.warm.host.contains(&Some(h));
                    open[h] = Some(self.b.column(
                        variable().min(0).max(1),
                        true,
                        warm as u8 as f64,
                    ));
                }
            }
        }
        open
    }

    fn demand_rows(&self) -> IxVec<HostIx, Vec<Option<Expression>>> {
        let d = self.input.d;
        demand_rows(
            d,
            self.x.iter().enumerate().flat_map(|(f, xs)| {
                let vm = &d.requests[self.flavors[f].members[0]];
                xs.iter().map(move |(h, c)| (*h, vm, *c))
            }),
        )
    }

    /// VMs fit the host's free capacity in every resource (times a_h under `pack`).
    fn host_capacity(&mut self, open: &IxVec<HostIx, Option<Col>>) {
        let rows = self.demand_rows();
        capacity_rows(&mut self.b, rows, &self.input.load.host_free, open);
    }

    /// No two members of an anti-affinity group on one host.
    fn anti_affinity(&mut self) {
        let d = self.input.d;
        let terms = self.x.iter().enumerate().flat_map(|(f, xs)| {
            let g = d.requests[self.flavors[f].members[0]].group;
            xs.iter().filter_map(move |(h, c)| g.map(|g| (g, *h, *c)))
        });
        let terms: Vec<_> = terms.collect();
        group_rows(&mut self.b, terms);
    }

    /// First objective: priority-weighted placed requests.
    fn placed_weight(&self) -> Expression {
        let d = self.input.d;
        let mut e = Expression::default();
        for (f, xs) in self.x.iter().enumerate() {
            let p = d.requests[self.flavors[f].members[0]].priority;
            for (_, c) in xs {
                e.add_mul(p, c.var);
            }
        }
        e
    }

    /// Lexicographic stage 2 keeps what stage 1 placed.
    fn placed_floor(&mut self, placed: Expression, min_weight: f64) {
        self.b.row(constraint::geq(
            placed,
            min_weight - MIP_TOL * min_weight.max(1.0),
        ));
    }

    /// Second objective: active hosts (`pack`) or max utilisation U (`balance`).
    fn policy_cost(&mut self, open: &IxVec<HostIx, Option<Col>>) -> (Expression, f64) {
        let d = self.input.d;
        match d.settings.host_policy {
            Objective::Pack => {
                let active = self.input.active.iter().filter(|&&a| a).count() as f64;
                let obj: Expression = open.iter().flatten().map(|a| a.var).sum();
                (obj, active)
            }
            Objective::Balance => {
                let u = self.host_balance();
                (Expression::from(u.var), 0.0)
            }
        }
    }

    /// Utilisation of what stays fixed, over the hosts this solve sees: a floor for U.
    fn fixed_utilisation(&self) -> f64 {
        let d = self.input.d;
        let load = self.input.load;
        d.hosts
            .ids()
            .filter(|&h| self.input.allowed.is_none_or(|a| a[h]))
            .flat_map(|h| {
                let cap = &d.hosts[h].capacity;
                (0..d.axes.len()).map(move |k| {
                    if cap[k] > EPS {
                        (cap[k] - load.host_free[h][k]) / cap[k]
                    } else {
                        0.0
                    }
                })
            })
            .fold(0.0, f64::max)
    }

    /// `balance`: U >= (used[h,r] + sum d x) / cap[h,r] for every host and resource, and U at
    /// least the utilisation of what stays fixed (**`fixed_utilisation`**).
    fn host_balance(&mut self) -> Col {
        let d = self.input.d;
        let load = self.input.load;
        let floor = self.fixed_utilisation();
        let rows = self.demand_rows();
        let used = |h: HostIx, k: usize| d.hosts[h].capacity[k] - load.host_free[h][k];
        balance_rows(&mut self.b, d, rows, used, floor, self.input.warm)
    }
}

/// The `balance` rows of the host and joint models: a column `U >= floor`, warm-started at the
/// warm assignment's highest utilisation, and `rows[h][r] - cap_hr U <= -used(h, r)` for every
/// host and measured resource with a capacity.
pub(super) fn balance_rows(
    b: &mut MipBuilder,
    d: &Domain,
    rows: IxVec<HostIx, Vec<Option<Expression>>>,
    used: impl Fn(HostIx, usize) -> f64,
    floor: f64,
    warm: &Assignment,
) -> Col {
    let start = crate::domain::evaluate::host_utilisation(d, warm)
        .iter()
        .flatten()
        .copied()
        .fold(floor, f64::max);
    let u = b.column(variable().min(floor), false, start);
    for (h, row) in rows.into_enumerate() {
        for (k, e) in row.into_iter().enumerate() {
            let Some(mut e) = e else { continue };
            let cap = d.hosts[h].capacity[k];
            if cap <= EPS {
                continue;
            }
            e.add_mul(-cap, u.var);
            b.row(constraint::leq(e, -used(h, k)));
        }
    }
    u
}

/// Per host and measured resource, the demand that `(host, vm, column)` terms put there (rule
/// dimensions, traits, are enforced by the variable domain alone). Shared by the host and the
/// joint model.
pub(super) fn demand_rows<'a>(
    d: &Domain,
    terms: impl Iterator<Item = (HostIx, &'a crate::domain::Vm, Col)>,
) -> IxVec<HostIx, Vec<Option<Expression>>> {
    let mut rows: IxVec<HostIx, Vec<Option<Expression>>> =
        IxVec::filled(vec![None; d.axes.len()], d.hosts.len());
    for (h, vm, c) in terms {
        for (row, &x) in rows[h].iter_mut().zip(&vm.demand) {
            if x > 0.0 {
                row.get_or_insert_with(Expression::default)
                    .add_mul(x, c.var);
            }
        }
    }
    rows
}

/// `rows[h][r] <= free[h][r]`, or `<= free[h][r] a_h` where the host has an opening column.
pub(super) fn capacity_rows(
    b: &mut MipBuilder,
    rows: IxVec<HostIx, Vec<Option<Expression>>>,
    free: &IxVec<HostIx, Vec<f64>>,
    open: &IxVec<HostIx, Option<Col>>,
) {
    for (h, row) in rows.into_enumerate() {
        for (k, e) in row.into_iter().enumerate() {
            let Some(mut e) = e else { continue };
            match open[h] {
                Some(a) => {
                    e.add_mul(-free[h][k], a.var);
                    b.row(constraint::leq(e, 0.0));
                }
                None => b.row(constraint::leq(e, free[h][k])),
            }
        }
    }
}

/// At most one member of a group per host, from `(group, host, column)` terms; a single term
/// already has upper bound 1.
pub(super) fn group_rows(b: &mut MipBuilder, terms: Vec<(usize, HostIx, Col)>) {
    let mut rows: std::collections::BTreeMap<(usize, usize), (Expression, usize)> =
        Default::default();
    for (g, h, c) in terms {
        let e = rows.entry((g, h.0)).or_default();
        e.0 += c.var;
        e.1 += 1;
    }
    for (_, (e, terms)) in rows {
        if terms > 1 {
            b.row(constraint::leq(e, 1.0));
        }
    }
}

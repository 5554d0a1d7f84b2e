//! The joint MIP (`--solver joint`, models/joint.md): storage and host chosen together, the
//! reference that measures what writing the image before choosing the host costs. Function names
//! match the constraint families.

use super::storage::Stage;
use super::{hand_out, Col, MipBuilder, MipError, MipOptions, MipResult, Sense};
use crate::domain::evaluate::reach;
use crate::domain::{
    fits, Assignment, Domain, Flavor, HostIx, IxVec, RequestIx, StorageIx, EPS, MIP_TOL,
};
use good_lp::{constraint, variable, Expression};
use vmplace_wire::Objective;

/// Inputs of one joint solve.
pub struct JointInput<'a> {
    /// The problem.
    pub d: &'a Domain,
    /// Warm start: storage and host for (some of) the requests, respecting every constraint.
    pub warm: &'a Assignment,
}

struct Model<'a> {
    input: &'a JointInput<'a>,
    flavors: Vec<Flavor>,
    /// y[f] = (storage, host, column).
    y: Vec<Vec<(StorageIx, HostIx, Col)>>,
    b: MipBuilder,
}

/// The (flavor, storage, host) columns the joint model would have: its size before building.
pub fn columns(d: &Domain) -> usize {
    let flavors = super::storage::flavors(d);
    let free = d.hosts.map(|h| h.free());
    flavors
        .iter()
        .map(|f| {
            let r = f.members[0];
            let vm = &d.requests[r];
            allowed_storage(d, f)
                .map(|s| {
                    d.storage[s]
                        .hosts
                        .iter()
                        .filter(|&&h| fits(&vm.demand, &free[h]))
                        .count()
                })
                .sum::<usize>()
        })
        .sum()
}

/// The storage systems a flavor may use: its pinned one, or every one its storage traits allow
/// with room for one image.
fn allowed_storage<'a>(d: &'a Domain, f: &'a Flavor) -> impl Iterator<Item = StorageIx> + 'a {
    let r = f.members[0];
    let vm = &d.requests[r];
    (0..d.storage.len()).map(StorageIx).filter(move |&s| {
        vm.storage.is_none_or(|p| p == s)
            && d.storage_allows(r, s)
            && vm.disk <= d.storage[s].free() + EPS
    })
}

/// Solves one stage; returns the MIP result and the assignment (storage and host).
pub fn solve(
    input: &JointInput,
    stage: Stage,
    opts: &MipOptions,
) -> Result<(MipResult, Assignment), MipError> {
    let (mut m, open) = build(input, opts);
    let placed = m.placed_weight();
    let (sense, objective, offset) = match stage {
        Stage::Placement => (Sense::Max, placed, 0.0),
        Stage::Policy { min_weight } => {
            m.placed_floor(placed, min_weight);
            let (obj, off) = m.policy_cost(&open);
            (Sense::Min, obj, off)
        }
    };
    m.finish(sense, objective, offset, opts)
}

/// The third stage (models/joint.md, "Stage 3"): phase 1's own cost (the storage policy, the
/// live-migration penalty and, under host `pack`, the idle hosts opened) over the answers that
/// keep `min_weight` and a host policy cost of at most `max_host_cost`.
pub fn solve_storage_cost(
    input: &JointInput,
    min_weight: f64,
    max_host_cost: f64,
    opts: &MipOptions,
) -> Result<(MipResult, Assignment), MipError> {
    let (mut m, open) = build(input, opts);
    let placed = m.placed_weight();
    m.placed_floor(placed, min_weight);
    m.host_cost_ceiling(&open, max_host_cost);
    let (objective, offset) = m.joint_storage_cost(&open);
    m.finish(Sense::Min, objective, offset, opts)
}

/// The columns and the rows every stage shares; the host openings `a_h` under `pack`.
fn build<'a>(
    input: &'a JointInput<'a>,
    opts: &MipOptions,
) -> (Model<'a>, IxVec<HostIx, Option<Col>>) {
    let mut m = Model {
        input,
        flavors: super::storage::flavors(input.d),
        y: Vec::new(),
        b: MipBuilder::new(opts.relax),
    };
    m.joint_domain();
    m.joint_assignment();
    m.joint_storage_capacity();
    let open = m.joint_open();
    m.joint_host_capacity(&open);
    m.joint_anti_affinity();
    (m, open)
}

impl Model<'_> {
    /// Solves the built model and hands the columns' values out to requests.
    fn finish(
        self,
        sense: Sense,
        objective: Expression,
        offset: f64,
        opts: &MipOptions,
    ) -> Result<(MipResult, Assignment), MipError> {
        let d = self.input.d;
        let Model { flavors, y, b, .. } = self;
        let result = b.solve(sense, objective, offset, opts)?;
        let mut a = Assignment::empty(d.requests.len());
        for (flavor, ys) in flavors.iter().zip(&y) {
            let columns = ys.iter().map(|&(s, h, col)| ((s, h), col));
            let give = |r: RequestIx, (s, h)| {
                a.storage[r] = Some(s);
                a.host[r] = Some(h);
            };
            hand_out(&flavor.members, columns, &result.values, opts.relax, give);
        }
        Ok((result, a))
    }

    /// Later stages keep the placed weight of the first: `sum p_f y_fsh >= W*`.
    fn placed_floor(&mut self, placed: Expression, min_weight: f64) {
        self.b.row(constraint::geq(
            placed,
            min_weight - MIP_TOL * min_weight.max(1.0),
        ));
    }

    /// **`joint_domain`**: `y_fsh` exists for a storage system the flavor may use (pinned, traits,
    /// room for one image) and a host connected to it whose free capacity fits one VM (traits
    /// included); its upper bound is how many fit on both (1 for an anti-affinity group).
    fn joint_domain(&mut self) {
        let d = self.input.d;
        let free = d.hosts.map(|h| h.free());
        for f in 0..self.flavors.len() {
            let flavor = &self.flavors[f];
            let vm = &d.requests[flavor.members[0]];
            let n = flavor.members.len() as f64;
            let mut cols = Vec::new();
            let storage: Vec<StorageIx> = allowed_storage(d, flavor).collect();
            for s in storage {
                let on_storage = if vm.disk > EPS {
                    ((d.storage[s].free() + EPS) / vm.disk).floor()
                } else {
                    n
                };
                for &h in &d.storage[s].hosts {
                    if !fits(&vm.demand, &free[h]) {
                        continue;
                    }
                    let copies = vm
                        .demand
                        .iter()
                        .zip(&free[h])
                        .filter(|(x, _)| **x > EPS)
                        .map(|(x, c)| (c / x + EPS).floor())
                        .fold(n.min(on_storage), f64::min);
                    let ub = if vm.group.is_some() {
                        copies.min(1.0)
                    } else {
                        copies
                    };
                    let warm = self.flavors[f]
                        .members
                        .iter()
                        .filter(|&&r| {
                            self.input.warm.storage[r] == Some(s)
                                && self.input.warm.host[r] == Some(h)
                        })
                        .count() as f64;
                    let col = self.b.column(variable().min(0).max(ub), true, warm.min(ub));
                    cols.push((s, h, col));
                }
            }
            self.y.push(cols);
        }
    }

    /// **`joint_assignment`**: each request goes to at most one (storage, host) pair.
    fn joint_assignment(&mut self) {
        for f in 0..self.flavors.len() {
            if self.y[f].len() > 1 {
                let sum: Expression = self.y[f].iter().map(|(_, _, c)| c.var).sum();
                self.b
                    .row(constraint::leq(sum, self.flavors[f].members.len() as f64));
            }
        }
    }

    /// **`joint_storage_capacity`**: images fit each storage system's free space.
    fn joint_storage_capacity(&mut self) {
        let d = self.input.d;
        let mut rows: IxVec<StorageIx, Option<Expression>> = IxVec::filled(None, d.storage.len());
        for (f, ys) in self.y.iter().enumerate() {
            let disk = d.requests[self.flavors[f].members[0]].disk;
            if disk <= 0.0 {
                continue;
            }
            for (s, _, c) in ys {
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

    /// `pack` only: `a_h` binary for every idle host with columns.
    fn joint_open(&mut self) -> IxVec<HostIx, Option<Col>> {
        let d = self.input.d;
        let mut open = IxVec::filled(None, d.hosts.len());
        if d.settings.host_policy != Objective::Pack {
            return open;
        }
        let mut has = IxVec::filled(false, d.hosts.len());
        for ys in &self.y {
            for (_, h, _) in ys {
                has[h] = true;
            }
        }
        for (h, host) in d.hosts.enumerate() {
            if has[h] && !host.initially_active() {
                let warm = self.input.warm.host.contains(&Some(h)) as u8 as f64;
                open[h] = Some(self.b.column(variable().min(0).max(1), true, warm));
            }
        }
        open
    }

    /// Per host and measured resource, the demand the columns put there.
    fn demand_rows(&self) -> IxVec<HostIx, Vec<Option<Expression>>> {
        let d = self.input.d;
        super::host::demand_rows(
            d,
            self.y.iter().enumerate().flat_map(|(f, ys)| {
                let vm = &d.requests[self.flavors[f].members[0]];
                ys.iter().map(move |(_, h, c)| (*h, vm, *c))
            }),
        )
    }

    /// **`joint_host_capacity`**: VMs fit each host's free capacity in every measured resource
    /// (times `a_h` for an idle host under `pack`).
    fn joint_host_capacity(&mut self, open: &IxVec<HostIx, Option<Col>>) {
        let free = self.input.d.hosts.map(|h| h.free());

        let rows = self.demand_rows();
        super::host::capacity_rows(&mut self.b, rows, &free, open);
    }

    /// **`joint_anti_affinity`**: at most one member of a group on a host.
    fn joint_anti_affinity(&mut self) {
        let d = self.input.d;
        let terms = self.y.iter().enumerate().flat_map(|(f, ys)| {
            let g = d.requests[self.flavors[f].members[0]].group;
            ys.iter()
                .filter_map(move |(_, h, c)| g.map(|g| (g, *h, *c)))
        });
        let terms: Vec<_> = terms.collect();
        super::host::group_rows(&mut self.b, terms);
    }

    /// First objective: priority-weighted placed requests.
    fn placed_weight(&self) -> Expression {
        let d = self.input.d;
        let mut e = Expression::default();
        for (f, ys) in self.y.iter().enumerate() {
            let p = d.requests[self.flavors[f].members[0]].priority;
            for (_, _, c) in ys {
                e.add_mul(p, c.var);
            }
        }
        e
    }

    /// Second objective: the host policy's (active hosts under `pack`, the highest host
    /// utilisation under `balance`).
    fn policy_cost(&mut self, open: &IxVec<HostIx, Option<Col>>) -> (Expression, f64) {
        let d = self.input.d;
        match d.settings.host_policy {
            Objective::Pack => {
                let active = d.hosts.iter().filter(|h| h.initially_active()).count() as f64;
                let obj: Expression = open.iter().flatten().map(|a| a.var).sum();
                (obj, active)
            }
            Objective::Balance => {
                let floor = crate::domain::evaluate::host_utilisation(d, &Assignment::empty(0))
                    .iter()
                    .flatten()
                    .copied()
                    .fold(0.0, f64::max);
                let rows = self.demand_rows();
                let used = |h: HostIx, k: usize| d.hosts[h].used[k];
                let u =
                    super::host::balance_rows(&mut self.b, d, rows, used, floor, self.input.warm);
                (Expression::from(u.var), 0.0)
            }
        }
    }

    /// **`joint_host_cost_ceiling`** (stage 3): the host policy's cost stays at most stage 2's,
    /// `|A| + sum a_h <= C` (`pack`, a count: within half a host) or `U <= C` (`balance`).
    fn host_cost_ceiling(&mut self, open: &IxVec<HostIx, Option<Col>>, max_host_cost: f64) {
        let (cost, offset) = self.policy_cost(open);
        let slack = match self.input.d.settings.host_policy {
            Objective::Pack => 0.5,
            Objective::Balance => 1e-6 * max_host_cost.abs().max(1.0),
        };
        self.b
            .row(constraint::leq(cost, max_host_cost - offset + slack));
    }

    /// **`joint_storage_cost`** (stage 3's objective): phase 1's cost, exact: the storage policy
    /// (`pack`: systems in use over `|S|`; `balance`: the highest storage utilisation), plus
    /// `w * sum (1 - reach) / requests`, plus under host `pack` the idle hosts opened over `|H|`.
    fn joint_storage_cost(&mut self, open: &IxVec<HostIx, Option<Col>>) -> (Expression, f64) {
        let d = self.input.d;
        let n = d.requests.len().max(1) as f64;
        let w = d.settings.flexibility_weight;
        let mut obj = Expression::default();
        for (f, ys) in self.y.iter().enumerate() {
            let rep = self.flavors[f].members[0];
            for (s, _, c) in ys {
                obj.add_mul(w * (1.0 - reach(d, rep, *s)) / n, c.var);
            }
        }
        let per_host = 1.0 / d.hosts.len().max(1) as f64;
        for a in open.iter().flatten() {
            obj.add_mul(per_host, a.var);
        }
        let offset = match d.settings.storage_policy {
            Objective::Pack => self.joint_storage_open(&mut obj),
            Objective::Balance => {
                obj += self.joint_storage_balance().var;
                0.0
            }
        };
        (obj, offset)
    }

    /// **`joint_storage_open`** (storage `pack`): `o_s` binary for each initially empty storage
    /// system with columns, `sum_{f,h} y_fsh <= n o_s` (any image puts it in use); adds
    /// `sum o_s / |S|` to `obj` and returns the systems already in use over `|S|`.
    fn joint_storage_open(&mut self, obj: &mut Expression) -> f64 {
        let d = self.input.d;
        let per_system = 1.0 / d.storage.len().max(1) as f64;
        let mut rows: IxVec<StorageIx, Option<(Expression, f64)>> =
            IxVec::filled(None, d.storage.len());
        for (f, ys) in self.y.iter().enumerate() {
            let n = self.flavors[f].members.len() as f64;
            for (s, _, c) in ys {
                let (e, total) = rows[s].get_or_insert_with(|| (Expression::default(), 0.0));
                e.add_mul(1.0, c.var);
                *total += n;
            }
        }
        for (s, row) in rows.into_enumerate() {
            let Some((mut e, total)) = row else { continue };
            if d.storage[s].used > EPS {
                continue;
            }
            let warm = self.input.warm.storage.contains(&Some(s)) as u8 as f64;
            let o = self.b.column(variable().min(0).max(1), true, warm);
            e.add_mul(-total, o.var);
            self.b.row(constraint::leq(e, 0.0));
            obj.add_mul(per_system, o.var);
        }
        d.storage.iter().filter(|s| s.used > EPS).count() as f64 * per_system
    }

    /// **`joint_storage_balance`** (storage `balance`): `U_s >= (used_s + sum disk_f y_fsh) /
    /// cap_s` for every storage system, `U_s` at least the utilisation before the batch.
    fn joint_storage_balance(&mut self) -> Col {
        let d = self.input.d;
        let terms = self.y.iter().enumerate().flat_map(|(f, ys)| {
            let disk = d.requests[self.flavors[f].members[0]].disk;
            ys.iter().map(move |&(s, _, c)| (s, disk, c))
        });
        let terms: Vec<_> = terms.collect();
        super::storage::balance_rows(&mut self.b, d, self.input.warm, terms)
    }
}

//! Phase 1, the storage MIP (models/storage.md). Function names match the constraint families.

use super::{hand_out, Col, MipBuilder, MipError, MipOptions, MipResult, Sense};
use crate::domain::evaluate::reach;
use crate::domain::MIP_TOL;
use crate::domain::{
    bits, fits, flavors_by, Assignment, Domain, Flavor, HostIx, IxVec, RequestIx, StorageIx, EPS,
};
use good_lp::{constraint, variable, Expression};
use vmplace_wire::Objective;

mod group_lookahead;

/// Which objective a solve optimises (lexicographic stages).
#[derive(Debug, Clone, Copy)]
pub enum Stage {
    /// Maximise the placed priority weight.
    Placement,
    /// Minimise the policy cost, keeping at least this placed weight.
    Policy {
        /// Placed weight found by the placement stage.
        min_weight: f64,
    },
}

/// Inputs of one storage-phase solve.
pub struct StorageInput<'a> {
    /// The problem.
    pub d: &'a Domain,
    /// Per storage, per resource: connected host capacity withheld from the look-ahead (grown
    /// by the certification rounds when phase 2 could not host what phase 1 placed).
    pub slack: &'a IxVec<StorageIx, Vec<f64>>,
    /// A complete warm start (storage and hosts), e.g. the look-ahead greedy answer.
    pub warm: &'a Assignment,
}

struct Model<'a> {
    input: &'a StorageInput<'a>,
    flavors: Vec<Flavor>,
    /// y[f] = (storage, column) pairs.
    y: Vec<Vec<(StorageIx, Col)>>,
    /// Fractional opening of idle hosts in the look-ahead (host policy `pack`).
    opened: Vec<Col>,
    b: MipBuilder,
}

/// The storage model's request flavors: requests alike in demand (host traits included), disk,
/// priority, anti-affinity group, fixed storage and storage traits.
pub fn flavors(d: &Domain) -> Vec<Flavor> {
    flavors_by(
        d,
        |_| true,
        |vm| {
            (
                bits(&vm.demand),
                vm.disk.to_bits(),
                vm.priority.to_bits(),
                vm.group,
                vm.storage,
                vm.storage_rule,
                vm.rules.clone(),
            )
        },
    )
}

/// The storage systems request `r` may go to, with their free space: its fixed one if it has one,
/// where its image fits and some connected host could take it (`static_domain`, storage traits
/// included). The variable domain of `storage_candidates` and of the fit bound's `y_fs`.
pub(super) fn candidate_storage(d: &Domain, r: RequestIx) -> Vec<(StorageIx, f64)> {
    let vm = &d.requests[r];
    let options: Vec<StorageIx> = match vm.storage {
        Some(s) => vec![s],
        None => (0..d.storage.len()).map(StorageIx).collect(),
    };
    options
        .into_iter()
        .map(|s| (s, d.storage[s].free()))
        .filter(|&(s, free)| vm.disk <= free + EPS && d.static_domain(r, s) > 0)
        .collect()
}

/// Solves one stage; returns the MIP result and the storage assignment it encodes.
pub fn solve(
    input: &StorageInput,
    stage: Stage,
    opts: &MipOptions,
) -> Result<(MipResult, Assignment), MipError> {
    let d = input.d;
    let flavors = flavors(d);
    let mut m = Model {
        input,
        y: Vec::with_capacity(flavors.len()),
        flavors,
        opened: Vec::new(),
        b: MipBuilder::new(opts.relax),
    };
    m.storage_candidates();
    m.storage_assignment();
    let (capacity_scale, open) = m.storage_open();
    m.storage_capacity(&open);
    m.host_lookahead();
    m.anti_affinity_spread();
    m.group_lookahead();
    let placed = m.placed_weight();
    let (sense, objective, offset) = match stage {
        Stage::Placement => (Sense::Max, placed, 0.0),
        Stage::Policy { min_weight } => {
            m.placed_floor(placed, min_weight);
            let (obj, off) = m.policy_cost(&open, capacity_scale);
            (Sense::Min, obj, off)
        }
    };
    let Model { flavors, y, b, .. } = m;
    let result = b.solve(sense, objective, offset, opts)?;
    let mut a = Assignment::empty(d.requests.len());
    for (flavor, ys) in flavors.iter().zip(&y) {
        let give = |r: RequestIx, s| a.storage[r] = Some(s);
        hand_out(
            &flavor.members,
            ys.iter().copied(),
            &result.values,
            opts.relax,
            give,
        );
    }
    Ok((result, a))
}

impl Model<'_> {
    fn warm_count(&self, f: usize, s: StorageIx) -> f64 {
        self.flavors[f]
            .members
            .iter()
            .filter(|&&r| {
                self.input.warm.storage[r] == Some(s) && self.input.warm.host[r].is_some()
            })
            .count() as f64
    }

    /// Variable domain: y[f,s] exists only where the disk fits the storage's free space and some
    /// connected host could take the VM (the capacity and connectivity pre-filter).
    fn storage_candidates(&mut self) {
        let d = self.input.d;
        for f in 0..self.flavors.len() {
            let rep = self.flavors[f].members[0];
            let vm = &d.requests[rep];
            let n = self.flavors[f].members.len() as f64;
            let mut cols = Vec::new();
            for (s, free) in candidate_storage(d, rep) {
                let by_disk = if vm.disk > EPS {
                    (free / vm.disk + EPS).floor()
                } else {
                    n
                };
                let ub = n.min(by_disk);
                let warm = self.warm_count(f, s).min(ub);
                let col = self.b.column(variable().min(0).max(ub), true, warm);
                cols.push((s, col));
            }
            self.y.push(cols);
        }
    }

    /// Each request goes to at most one storage system.
    fn storage_assignment(&mut self) {
        for f in 0..self.flavors.len() {
            if self.y[f].len() > 1 {
                let sum: Expression = self.y[f].iter().map(|(_, c)| c.var).sum();
                self.b
                    .row(constraint::leq(sum, self.flavors[f].members.len() as f64));
            }
        }
    }

    /// `pack` only: o_s = 1 if an initially empty storage system receives anything.
    fn storage_open(&mut self) -> (f64, IxVec<StorageIx, Option<Col>>) {
        let d = self.input.d;
        let mut open = IxVec::filled(None, d.storage.len());
        if d.settings.storage_policy == Objective::Pack {
            let mut used = IxVec::filled(false, d.storage.len());
            for ys in &self.y {
                for (s, _) in ys {
                    used[s] = true;
                }
            }
            for (s, st) in d.storage.enumerate() {
                if used[s] && st.used <= EPS {
                    let warm = self.input.warm.storage.contains(&Some(s));

                    open[s] = Some(self.b.column(
                        variable().min(0).max(1),
                        true,
                        warm as u8 as f64,
                    ));
                }
            }
        }
        (1.0 / d.storage.len().max(1) as f64, open)
    }

    /// Disk images fit the storage system's free capacity (times o_s under `pack`).
    fn storage_capacity(&mut self, open: &IxVec<StorageIx, Option<Col>>) {
        let d = self.input.d;
        let mut rows: IxVec<StorageIx, Expression> =
            IxVec::filled(Expression::default(), d.storage.len());
        let mut any = IxVec::filled(false, d.storage.len());
        for (f, ys) in self.y.iter().enumerate() {
            let disk = d.requests[self.flavors[f].members[0]].disk;
            for (s, c) in ys {
                rows[s].add_mul(disk, c.var);
                any[s] = true;
            }
        }
        for (s, mut e) in rows.into_enumerate() {
            if !any[s] {
                continue;
            }
            let free = d.storage[s].free();
            match open[s] {
                Some(o) => {
                    e.add_mul(-free, o.var);
                    self.b.row(constraint::leq(e, 0.0));
                }
                None => self.b.row(constraint::leq(e, free)),
            }
        }
    }

    /// Look-ahead on host capacity. Every host splits its free capacity of each resource among
    /// its storage systems (`host_share`: sum_s a[s,h,r] <= free[h,r]); the VMs phase 1 puts on
    /// storage s must fit the share of the hosts connected to s, less the certification slack.
    fn host_lookahead(&mut self) {
        let d = self.input.d;
        // Rule dimensions (host traits) are left to the variable domain (`static_domain`).
        let nr = d.axes.len();
        // Demand expression per (storage, resource), and smallest demand per storage for the
        // host pre-filter.
        let mut demand: IxVec<StorageIx, Vec<Expression>> =
            IxVec::filled(vec![Expression::default(); nr], d.storage.len());
        let mut demanded = IxVec::filled(vec![false; nr], d.storage.len());
        let mut small: IxVec<StorageIx, Vec<Vec<f64>>> = IxVec::filled(Vec::new(), d.storage.len());
        for (f, ys) in self.y.iter().enumerate() {
            let vm = &d.requests[self.flavors[f].members[0]];
            for (s, c) in ys {
                for k in 0..nr {
                    if vm.demand[k] > 0.0 {
                        demand[s][k].add_mul(vm.demand[k], c.var);
                        demanded[s][k] = true;
                    }
                }
                small[s].push(vm.demand.clone());
            }
        }
        let mut share: IxVec<HostIx, Vec<Expression>> =
            IxVec::filled(vec![Expression::default(); nr], d.hosts.len());
        let mut shared = IxVec::filled(vec![false; nr], d.hosts.len());
        let warm_load = self.warm_link_load();
        for s in d.storage.ids() {
            for k in 0..nr {
                if !demanded[s][k] {
                    continue;
                }
                let mut supply = Expression::default();
                for &h in &d.storage[s].hosts {
                    let free = d.hosts[h].free();
                    if !small[s].iter().any(|dem| fits(dem, &free)) {
                        continue;
                    }
                    let warm = warm_load
                        .get(&(s, h))
                        .map(|v| v[k])
                        .unwrap_or(0.0)
                        .min(free[k]);
                    let a = self.b.column(variable().min(0).max(free[k]), false, warm);
                    supply += a.var;
                    share[h][k] += a.var;
                    shared[h][k] = true;
                }
                let lhs = std::mem::take(&mut demand[s][k]) - supply;
                self.b.row(constraint::leq(lhs, -self.input.slack[s][k]));
            }
        }
        self.host_share(share, &shared);
    }

    /// A host's free capacity is shared among its storage systems. Under the host policy `pack`,
    /// an idle host's capacity is only available as far as the host is opened: `sum_s a[s,h,r] <=
    /// free[h,r] * open_h` with `open_h` in [0, 1] (see `host_opening`).
    fn host_share(
        &mut self,
        share: IxVec<HostIx, Vec<Expression>>,
        shared: &IxVec<HostIx, Vec<bool>>,
    ) {
        let d = self.input.d;
        let opening = d.settings.host_policy == Objective::Pack;
        for (h, row) in share.into_enumerate() {
            let free = d.hosts[h].free();
            let idle = opening && !d.hosts[h].initially_active() && shared[h].iter().any(|&b| b);
            let open = idle.then(|| {
                let warm = self.warm_opened(h);
                self.b.column(variable().min(0).max(1), false, warm)
            });
            if let Some(o) = open {
                self.opened.push(o);
            }
            for (k, mut e) in row.into_iter().enumerate() {
                if !shared[h][k] {
                    continue;
                }
                match open {
                    Some(o) => {
                        e.add_mul(-free[k], o.var);
                        self.b.row(constraint::leq(e, 0.0));
                    }
                    None => self.b.row(constraint::leq(e, free[k])),
                }
            }
        }
    }

    /// Warm start of `open_h`: 1 if the warm start puts a VM on host `h`.
    fn warm_opened(&self, h: HostIx) -> f64 {
        let used = self.input.warm.host.iter().flatten().any(|&x| x == h);
        if used {
            1.0
        } else {
            0.0
        }
    }

    fn warm_link_load(&self) -> std::collections::HashMap<(StorageIx, HostIx), Vec<f64>> {
        let d = self.input.d;
        let mut load = std::collections::HashMap::new();
        for (r, vm) in d.requests.enumerate() {
            if let (Some(s), Some(h)) = (self.input.warm.storage[r], self.input.warm.host[r]) {
                let e = load
                    .entry((s, h))
                    .or_insert_with(|| vec![0.0; d.resources.len()]);
                for (x, y) in e.iter_mut().zip(&vm.demand) {
                    *x += y;
                }
            }
        }
        load
    }

    /// Members of an anti-affinity group on one storage system need that many distinct hosts: at
    /// most as many as there are hosts connected to it that fit some member of the group.
    fn anti_affinity_spread(&mut self) {
        let d = self.input.d;
        let mut rows: std::collections::BTreeMap<(usize, StorageIx), (Expression, Vec<usize>)> =
            Default::default();
        for (f, ys) in self.y.iter().enumerate() {
            let rep = self.flavors[f].members[0];
            if let Some(g) = d.requests[rep].group {
                for (s, c) in ys {
                    let row = rows.entry((g, *s)).or_default();
                    row.0 += c.var;
                    row.1.push(f);
                }
            }
        }
        for ((_, s), (e, flavors)) in rows {
            let hosts = d.storage[s]
                .hosts
                .iter()
                .filter(|&&h| {
                    let free = d.hosts[h].free();
                    flavors
                        .iter()
                        .any(|&f| fits(&d.requests[self.flavors[f].members[0]].demand, &free))
                })
                .count();
            self.b.row(constraint::leq(e, hosts as f64));
        }
    }

    /// First objective: priority-weighted placed requests.
    fn placed_weight(&self) -> Expression {
        let d = self.input.d;
        let mut e = Expression::default();
        for (f, ys) in self.y.iter().enumerate() {
            let p = d.requests[self.flavors[f].members[0]].priority;
            for (_, c) in ys {
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

    /// Second objective: `balance` = max storage utilisation U, `pack` = share of storage systems
    /// in use; plus `w * sum (1 - reach) / requests` (the migration-flexibility penalty).
    fn policy_cost(
        &mut self,
        open: &IxVec<StorageIx, Option<Col>>,
        scale: f64,
    ) -> (Expression, f64) {
        let d = self.input.d;
        let n = d.requests.len().max(1) as f64;
        let w = d.settings.flexibility_weight;
        let mut obj = Expression::default();
        let mut offset = 0.0;
        for (f, ys) in self.y.iter().enumerate() {
            let rep = self.flavors[f].members[0];
            for (s, c) in ys {
                obj.add_mul(w * (1.0 - reach(d, rep, *s)) / n, c.var);
            }
        }
        self.host_opening(&mut obj);
        match d.settings.storage_policy {
            Objective::Pack => {
                offset += d.storage.iter().filter(|s| s.used > EPS).count() as f64 * scale;
                for o in open.iter().flatten() {
                    obj.add_mul(scale, o.var);
                }
            }
            Objective::Balance => {
                let u = self.storage_balance();
                obj += u.var;
            }
        }
        (obj, offset)
    }

    /// Host policy `pack`: phase 1 looks ahead to phase 2's objective too. Each idle host the
    /// look-ahead draws capacity from counts as (fractionally) opened: `+ sum_h open_h / |H|`.
    fn host_opening(&self, obj: &mut Expression) {
        let scale = 1.0 / self.input.d.hosts.len().max(1) as f64;
        for o in &self.opened {
            obj.add_mul(scale, o.var);
        }
    }

    /// `balance`: U >= (used_s + sum disk y) / cap_s for every storage system; returns U.
    fn storage_balance(&mut self) -> Col {
        let d = self.input.d;
        let terms = self.y.iter().enumerate().flat_map(|(f, ys)| {
            let disk = d.requests[self.flavors[f].members[0]].disk;
            ys.iter().map(move |&(s, c)| (s, disk, c))
        });
        let terms: Vec<_> = terms.collect();
        balance_rows(&mut self.b, d, self.input.warm, terms)
    }
}

/// `U >= (used_s + sum disk * column) / cap_s` for every storage system with a `(storage, disk,
/// column)` term, `U` at least the utilisation before the batch; returns `U`. Shared by the
/// storage model's `storage_balance` and the joint model's `joint_storage_balance`.
pub(super) fn balance_rows(
    b: &mut MipBuilder,
    d: &Domain,
    warm: &Assignment,
    terms: Vec<(StorageIx, f64, Col)>,
) -> Col {
    let floor = crate::domain::evaluate::initial_storage_utilisation(d);
    let start = crate::domain::evaluate::storage_utilisation(d, warm)
        .into_iter()
        .fold(floor, f64::max);
    let u = b.column(variable().min(floor), false, start);
    let mut rows: IxVec<StorageIx, Option<Expression>> = IxVec::filled(None, d.storage.len());
    for (s, disk, c) in terms {
        rows[s]
            .get_or_insert_with(Expression::default)
            .add_mul(disk, c.var);
    }
    for (s, row) in rows.into_enumerate() {
        let cap = d.storage[s].capacity;
        let Some(mut e) = row.filter(|_| cap > EPS) else {
            continue;
        };
        e.add_mul(-cap, u.var);
        b.row(constraint::leq(e, -d.storage[s].used));
    }
    u
}

//! Restart after failures (models/capacity.md, "What if"): the most VMs of the failed hosts that
//! the surviving hosts can restart, each on a host it is eligible for (connected to its storage,
//! no surviving member of its anti-affinity group), within the hard rules of `groups[]`. Function
//! names match the constraint families.

use super::migration::room_extremes;
use super::{Col, MipBuilder, MipError, MipOptions, MipStatus, Sense};
use crate::domain::groups::{Counts, MemberCounts};
use crate::domain::{HostIx, IxVec, MIP_TOL};
use good_lp::{constraint, variable, Expression};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A VM to restart.
#[derive(Debug, Clone)]
pub struct RestartVm {
    /// Demand per resource (dense, in the hosts' order of resources).
    pub demand: Vec<f64>,
    /// Surviving hosts it may restart on.
    pub eligible: Vec<HostIx>,
    /// Its anti-affinity group, as a small integer.
    pub group: Option<usize>,
}

/// A hard group rule (`groups[]`) over the VMs that restart (models/capacity.md, "Group rules").
#[derive(Debug, Clone)]
pub struct RestartRule {
    /// Domain of each host (None: outside the scope).
    pub domain_of: std::sync::Arc<IxVec<HostIx, Option<usize>>>,
    /// The restarting VMs it holds (indices into the VMs).
    pub members: Vec<usize>,
    /// What it asks of them.
    pub policy: RestartPolicy,
}

/// What a [`RestartRule`] asks of the members that restart. Counts are sparse (only domains with
/// members), so that thousands of one-member rules over as many racks cost their members, not
/// rules x domains (issue 27, H2).
#[derive(Debug, Clone)]
pub enum RestartPolicy {
    /// Anti-affinity: at most `max` less the surviving members there restart into each domain.
    Arrivals {
        /// `max_per_domain`.
        max: u32,
        /// Surviving members per domain.
        present: Counts,
    },
    /// All in one domain (affinity with no surviving member; with survivors, the VMs are eligible
    /// only where those run).
    Together,
    /// The member counts of the domains with room (surviving members `present` plus restarts)
    /// differ by at most `skew`.
    Spread {
        /// Surviving members per domain.
        present: Counts,
        /// Domains with a surviving active host (shared by the rules of one scope).
        room: Arc<Vec<bool>>,
        /// How many domains have room.
        rooms: usize,
        /// The largest difference allowed (at least the survivors' own).
        skew: u32,
    },
}

impl RestartPolicy {
    /// Members that may restart into domain `d` under anti-affinity (`u32::MAX` otherwise).
    fn arrivals(&self, d: usize) -> u32 {
        match self {
            RestartPolicy::Arrivals { max, present } => max.saturating_sub(present.at(d)),
            _ => u32::MAX,
        }
    }
}

/// `a` + `b`, per domain.
fn sum(a: &Counts, b: &Counts) -> Counts {
    let mut out = a.clone();
    for (d, n) in b.occupied() {
        out.add(d, n);
    }
    out
}

impl RestartRule {
    /// Whether one more member may restart on host `h`, with `counts` restarted per domain so far
    /// (the greedy's test; the rows below hold the same).
    pub fn admits(&self, counts: &Counts, h: HostIx) -> bool {
        let Some(d) = self.domain_of[h] else {
            return false;
        };
        match &self.policy {
            RestartPolicy::Arrivals { .. } => counts.at(d) < self.policy.arrivals(d),
            RestartPolicy::Together => counts.occupied().all(|(other, _)| other == d),
            RestartPolicy::Spread {
                present,
                room,
                rooms,
                skew,
            } => {
                let (least, _) = room_extremes(&sum(present, counts), room, *rooms);
                present.at(d) + counts.at(d) < least + skew
            }
        }
    }
}

/// What the MIP decided.
#[derive(Debug, Clone)]
pub struct Restarts {
    /// Each VM's host, or none.
    pub host_of: Vec<Option<HostIx>>,
    /// Proven upper bound on the VMs that can restart.
    pub bound: usize,
    /// Whether the count is proven optimal.
    pub proven: bool,
    /// How HiGHS stopped (`Optimal` also when within the relative gap asked for).
    pub status: MipStatus,
}

struct Model<'a> {
    vms: &'a [RestartVm],
    free: &'a IxVec<HostIx, Vec<f64>>,
    /// x[v]: (host, column) for each eligible host.
    x: Vec<Vec<(HostIx, Col)>>,
    b: MipBuilder,
}

/// Restarts as many VMs as fit on the hosts' free capacity (`free[h][r]`), starting from `warm`
/// (a valid assignment, e.g. the greedy's).
pub fn restart(
    free: &IxVec<HostIx, Vec<f64>>,
    vms: &[RestartVm],
    rules: &[RestartRule],
    warm: &[Option<HostIx>],
    opts: &MipOptions,
) -> Result<Restarts, MipError> {
    let mut m = Model::new(free, vms, warm, opts.relax);
    m.restart_once();
    m.restart_capacity();
    m.restart_anti_affinity();
    for rule in rules {
        match &rule.policy {
            RestartPolicy::Arrivals { .. } => m.restart_group_arrivals(rule),
            RestartPolicy::Together => m.restart_group_together(rule, warm),
            RestartPolicy::Spread {
                present,
                room,
                rooms,
                skew,
            } => m.restart_group_spread(rule, (present, room, *rooms, *skew), warm),
        }
    }
    let objective: Expression = m.x.iter().flatten().map(|(_, c)| c.var).sum();
    let x = m.x.clone();
    let r = m.b.solve(Sense::Max, objective, 0.0, opts)?;
    let host_of: Vec<Option<HostIx>> = x
        .iter()
        .map(|cols| {
            cols.iter()
                .find(|(_, c)| r.values.get(c.ix).copied().unwrap_or(0.0) > 0.5)
                .map(|(h, _)| *h)
        })
        .collect();
    let placed = host_of.iter().flatten().count();
    let feasible = matches!(
        r.status,
        MipStatus::Optimal | MipStatus::TimeLimit | MipStatus::WorkLimit
    );
    // Without a feasible point HiGHS proves nothing here: every VM might still restart.
    let bound = if feasible {
        ((r.bound + MIP_TOL).floor().max(0.0) as usize).min(vms.len())
    } else {
        vms.len()
    };
    let bound = bound.max(placed);
    Ok(Restarts {
        host_of,
        bound,
        proven: r.status == MipStatus::Optimal && bound == placed,
        status: r.status,
    })
}

impl<'a> Model<'a> {
    fn new(
        free: &'a IxVec<HostIx, Vec<f64>>,
        vms: &'a [RestartVm],
        warm: &[Option<HostIx>],
        relax: bool,
    ) -> Self {
        let mut b = MipBuilder::new(relax);
        let x = vms
            .iter()
            .enumerate()
            .map(|(v, vm)| {
                vm.eligible
                    .iter()
                    .map(|&h| {
                        let on = warm.get(v).copied().flatten() == Some(h);
                        (
                            h,
                            b.column(variable().binary(), true, if on { 1.0 } else { 0.0 }),
                        )
                    })
                    .collect()
            })
            .collect();
        Model { vms, free, x, b }
    }

    /// `restart_once`: a VM restarts on one host at most.
    fn restart_once(&mut self) {
        for cols in &self.x {
            let sum: Expression = cols.iter().map(|(_, c)| c.var).sum();
            self.b.row(constraint!(sum <= 1));
        }
    }

    /// `restart_capacity`: what restarts on a host fits its free capacity, per resource.
    fn restart_capacity(&mut self) {
        let mut on: BTreeMap<HostIx, Vec<(usize, Col)>> = BTreeMap::new();
        for (v, cols) in self.x.iter().enumerate() {
            for &(h, c) in cols {
                on.entry(h).or_default().push((v, c));
            }
        }
        for (h, cols) in on {
            for (r, &cap) in self.free[h].iter().enumerate() {
                let load: Expression = cols
                    .iter()
                    .map(|(v, c)| self.vms[*v].demand[r] * c.var)
                    .sum();
                self.b.row(constraint!(load <= cap));
            }
        }
    }

    /// `restart_anti_affinity`: at most one member of a group restarts on a host (hosts with a
    /// surviving member are not eligible at all).
    fn restart_anti_affinity(&mut self) {
        let mut members: BTreeMap<(HostIx, usize), Vec<Col>> = BTreeMap::new();
        for (v, cols) in self.x.iter().enumerate() {
            if let Some(g) = self.vms[v].group {
                for &(h, c) in cols {
                    members.entry((h, g)).or_default().push(c);
                }
            }
        }
        for cols in members.into_values() {
            let sum: Expression = cols.iter().map(|c| c.var).sum();
            self.b.row(constraint!(sum <= 1));
        }
    }

    /// The columns of `rule`'s members, per domain.
    fn by_domain(&self, rule: &RestartRule) -> BTreeMap<usize, Vec<Col>> {
        let mut out: BTreeMap<usize, Vec<Col>> = BTreeMap::new();
        for &v in &rule.members {
            for &(h, c) in &self.x[v] {
                if let Some(d) = rule.domain_of[h] {
                    out.entry(d).or_default().push(c);
                }
            }
        }
        out
    }

    /// `restart_group_arrivals`: at most `max` less the survivors there restart into domain `D`.
    fn restart_group_arrivals(&mut self, rule: &RestartRule) {
        for (d, cols) in self.by_domain(rule) {
            let sum: Expression = cols.iter().map(|c| c.var).sum();
            self.b
                .row(constraint::leq(sum, f64::from(rule.policy.arrivals(d))));
        }
    }

    /// `restart_group_together`: one domain `z_D` is chosen, `sum_D z_D <= 1`, and a member
    /// restarts only there, `x_vh <= z_D(h)`.
    fn restart_group_together(&mut self, rule: &RestartRule, warm: &[Option<HostIx>]) {
        let warm_domain = rule
            .members
            .iter()
            .find_map(|&v| warm.get(v).copied().flatten())
            .and_then(|h| rule.domain_of[h]);
        let mut chosen = Expression::default();
        for (d, cols) in self.by_domain(rule) {
            let on = if warm_domain == Some(d) { 1.0 } else { 0.0 };
            let z = self.b.column(variable().min(0).max(1), true, on);
            chosen += z.var;
            for c in cols {
                self.b.row(constraint::leq(c.var - z.var, 0.0));
            }
        }
        self.b.row(constraint::leq(chosen, 1.0));
    }

    /// `restart_group_spread`: with `m` the least count, `m <= n_D <= m + skew` for every domain
    /// with room, `n_D` = surviving members plus those that restart there. A domain with room
    /// and no column holds a constant: only the least and the most of those get a row.
    fn restart_group_spread(
        &mut self,
        rule: &RestartRule,
        (present, room, rooms, skew): (&Counts, &[bool], usize, u32),
        warm: &[Option<HostIx>],
    ) {
        let cols = self.by_domain(rule);
        let mut warm_counts = present.clone();
        for &v in &rule.members {
            if let Some(d) = warm
                .get(v)
                .copied()
                .flatten()
                .and_then(|h| rule.domain_of[h])
            {
                warm_counts.add(d, 1);
            }
        }
        let varying: Vec<Expression> = cols
            .iter()
            .filter(|(d, _)| room[**d])
            .map(|(&d, cols)| {
                cols.iter().map(|c| c.var).sum::<Expression>() + f64::from(present.at(d))
            })
            .collect();
        let mut constant = Counts::default();
        for (d, n) in present.occupied() {
            if !cols.contains_key(&d) {
                constant.add(d, n);
            }
        }
        let constant =
            (varying.len() < rooms).then(|| room_extremes(&constant, room, rooms - varying.len()));
        let warm = room_extremes(&warm_counts, room, rooms).0;
        super::spread_rows(&mut self.b, varying, constant, warm, skew);
    }
}

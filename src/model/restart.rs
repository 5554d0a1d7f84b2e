//! Restart after failures (models/capacity.md, "What if"): the most VMs of the failed hosts that
//! the surviving hosts can restart, each on a host it is eligible for (connected to its storage,
//! no surviving member of its anti-affinity group), within the hard rules of `groups[]`. Function
//! names match the constraint families.

use super::{Col, MipBuilder, MipError, MipOptions, MipStatus, Sense};
use good_lp::{constraint, variable, Expression};
use std::collections::BTreeMap;

/// A VM to restart.
#[derive(Debug, Clone)]
pub struct RestartVm {
    /// Demand per resource (dense, in the hosts' order of resources).
    pub demand: Vec<f64>,
    /// Surviving hosts it may restart on (indices into the hosts).
    pub eligible: Vec<usize>,
    /// Its anti-affinity group, as a small integer.
    pub group: Option<usize>,
}

/// A hard group rule (`groups[]`) over the VMs that restart (models/capacity.md, "Group rules").
#[derive(Debug, Clone)]
pub struct RestartRule {
    /// Domain of each host (None: outside the scope).
    pub domain_of: std::sync::Arc<Vec<Option<usize>>>,
    /// The restarting VMs it holds (indices into the VMs).
    pub members: Vec<usize>,
    /// What it asks of them.
    pub policy: RestartPolicy,
}

/// What a [`RestartRule`] asks of the members that restart.
#[derive(Debug, Clone)]
pub enum RestartPolicy {
    /// At most this many restart into each domain (anti-affinity: `max_per_domain` less the
    /// surviving members there).
    Arrivals(Vec<u32>),
    /// All in one domain (affinity with no surviving member; with survivors, the VMs are eligible
    /// only where those run).
    Together,
    /// The member counts of the domains with room (surviving members `present` plus restarts)
    /// differ by at most `skew`.
    Spread {
        /// Surviving members per domain.
        present: Vec<u32>,
        /// Domains with a surviving active host.
        room: Vec<bool>,
        /// The largest difference allowed (at least the survivors' own).
        skew: u32,
    },
}

impl RestartRule {
    /// Whether one more member may restart on host `h`, with `counts` restarted per domain so far
    /// (the greedy's test; the rows below hold the same).
    pub fn admits(&self, counts: &[u32], h: usize) -> bool {
        let Some(d) = self.domain_of[h] else {
            return false;
        };
        match &self.policy {
            RestartPolicy::Arrivals(limit) => counts[d] < limit[d],
            RestartPolicy::Together => counts
                .iter()
                .enumerate()
                .all(|(other, &n)| other == d || n == 0),
            RestartPolicy::Spread {
                present,
                room,
                skew,
            } => {
                let least = (0..counts.len())
                    .filter(|&x| room[x])
                    .map(|x| present[x] + counts[x])
                    .min()
                    .unwrap_or(0);
                present[d] + counts[d] < least + skew
            }
        }
    }
}

/// What the MIP decided.
#[derive(Debug, Clone)]
pub struct Restarts {
    /// Each VM's host, or none.
    pub host_of: Vec<Option<usize>>,
    /// Proven upper bound on the VMs that can restart.
    pub bound: usize,
    /// Whether the count is proven optimal.
    pub proven: bool,
    /// How HiGHS stopped (`Optimal` also when within the relative gap asked for).
    pub status: MipStatus,
}

struct Model<'a> {
    vms: &'a [RestartVm],
    free: &'a [Vec<f64>],
    /// x[v]: (host, column) for each eligible host.
    x: Vec<Vec<(usize, Col)>>,
    b: MipBuilder,
}

/// Restarts as many VMs as fit on the hosts' free capacity (`free[h][r]`), starting from `warm`
/// (a valid assignment, e.g. the greedy's).
pub fn restart(
    free: &[Vec<f64>],
    vms: &[RestartVm],
    rules: &[RestartRule],
    warm: &[Option<usize>],
    opts: &MipOptions,
) -> Result<Restarts, MipError> {
    let mut m = Model::new(free, vms, warm, opts.relax);
    m.restart_once();
    m.restart_capacity();
    m.restart_anti_affinity();
    for rule in rules {
        match &rule.policy {
            RestartPolicy::Arrivals(limit) => m.restart_group_arrivals(rule, limit),
            RestartPolicy::Together => m.restart_group_together(rule, warm),
            RestartPolicy::Spread {
                present,
                room,
                skew,
            } => m.restart_group_spread(rule, (present, room, *skew), warm),
        }
    }
    let objective: Expression = m.x.iter().flatten().map(|(_, c)| c.var).sum();
    let x = m.x.clone();
    let r = m.b.solve(Sense::Max, objective, 0.0, opts)?;
    let host_of: Vec<Option<usize>> = x
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
        ((r.bound + 1e-6).floor().max(0.0) as usize).min(vms.len())
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
        free: &'a [Vec<f64>],
        vms: &'a [RestartVm],
        warm: &[Option<usize>],
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
        let mut on: BTreeMap<usize, Vec<(usize, Col)>> = BTreeMap::new();
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
        let mut members: BTreeMap<(usize, usize), Vec<Col>> = BTreeMap::new();
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

    /// `restart_group_arrivals`: at most `limit[D]` members restart into domain `D`.
    fn restart_group_arrivals(&mut self, rule: &RestartRule, limit: &[u32]) {
        for (d, cols) in self.by_domain(rule) {
            let sum: Expression = cols.iter().map(|c| c.var).sum();
            self.b.row(constraint::leq(sum, limit[d] as f64));
        }
    }

    /// `restart_group_together`: one domain `z_D` is chosen, `sum_D z_D <= 1`, and a member
    /// restarts only there, `x_vh <= z_D(h)`.
    fn restart_group_together(&mut self, rule: &RestartRule, warm: &[Option<usize>]) {
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
    /// with room, `n_D` = surviving members plus those that restart there.
    fn restart_group_spread(
        &mut self,
        rule: &RestartRule,
        (present, room, skew): (&[u32], &[bool], u32),
        warm: &[Option<usize>],
    ) {
        let mut cols = self.by_domain(rule);
        let mut warm_counts = present.to_vec();
        for &v in &rule.members {
            if let Some(d) = warm
                .get(v)
                .copied()
                .flatten()
                .and_then(|h| rule.domain_of[h])
            {
                warm_counts[d] += 1;
            }
        }
        let counts: Vec<Expression> = (0..room.len())
            .map(|d| {
                let cols = cols.remove(&d).unwrap_or_default();
                cols.iter().map(|c| c.var).sum::<Expression>() + f64::from(present[d])
            })
            .collect();
        super::spread_rows(&mut self.b, counts, room, &warm_counts, skew);
    }
}

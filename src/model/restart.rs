//! Restart after failures (models/capacity.md, "What if"): the most VMs of the failed hosts that
//! the surviving hosts can restart, each on a host it is eligible for (connected to its storage,
//! no surviving member of its anti-affinity group). Function names match the constraint families.

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
    warm: &[Option<usize>],
    opts: &MipOptions,
) -> Result<Restarts, MipError> {
    let mut m = Model::new(free, vms, warm, opts.relax);
    m.restart_once();
    m.restart_capacity();
    m.restart_anti_affinity();
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
}

//! What if hosts fail (models/capacity.md, "What if"): can every VM of the failed hosts restart on
//! the surviving active hosts that reach its storage? Most scenarios are decided by a best-fit
//! witness; where it leaves VMs out, a bound on the VMs with no eligible host may already prove it
//! best, and the restart MIP (`model::restart`) decides the rest.

mod fleet;
mod survivors;

pub use fleet::{FailSpec, Fleet};

use crate::domain::groups::Counts;
use crate::domain::quality::{self, Goal};
use crate::domain::{HostIx, IxVec, VmIx, NOISE};
use crate::model::restart::{restart, RestartRule, RestartVm};
use crate::model::{MipOptions, MipStatus};
use fleet::Running;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Instant;
use survivors::{eligibility, scenario_rules, Eligible, ScenarioRules, Survivors};
use vmplace_wire::capacity::{
    DecidedBy, FailureReport, NotTolerated, RestartCode, Restarted, Scenario, Unrestartable,
};
use vmplace_wire::Status;

/// Best fit decreasing: largest VMs first (by their largest share of a host), each to the
/// eligible host it leaves with the least room on its tightest resource.
fn best_fit(
    s: &Survivors,
    vms: &[RestartVm],
    rules: &[RestartRule],
    over: &dyn Fn() -> bool,
) -> Option<Vec<Option<HostIx>>> {
    let mut free = s.free.clone();
    let mut counts: Vec<Counts> = vec![Counts::default(); rules.len()];
    let mut rules_of: Vec<Vec<usize>> = vec![Vec::new(); vms.len()];
    for (r, rule) in rules.iter().enumerate() {
        for &v in &rule.members {
            rules_of[v].push(r);
        }
    }
    let mut taken: HashMap<(HostIx, usize), bool> = HashMap::new();
    let size = |v: &RestartVm| {
        v.eligible
            .first()
            .map(|&h| {
                (0..v.demand.len())
                    .map(|r| v.demand[r] / s.free[h][r].max(NOISE))
                    .fold(0.0, f64::max)
            })
            .unwrap_or(0.0)
    };
    let mut order: Vec<usize> = (0..vms.len()).collect();
    order.sort_by(|&a, &b| size(&vms[b]).total_cmp(&size(&vms[a])).then(a.cmp(&b)));
    let mut out = vec![None; vms.len()];
    for v in order {
        if over() {
            return None;
        }
        let vm = &vms[v];
        let best = vm
            .eligible
            .iter()
            .copied()
            .filter(|&h| vm.group.is_none_or(|g| !taken.contains_key(&(h, g))))
            .filter(|&h| rules_of[v].iter().all(|&r| rules[r].admits(&counts[r], h)))
            .filter(|&h| (0..vm.demand.len()).all(|r| vm.demand[r] <= free[h][r] + NOISE))
            .map(|h| {
                let left = (0..vm.demand.len())
                    .filter(|&r| vm.demand[r] > 0.0)
                    .map(|r| free[h][r] - vm.demand[r])
                    .fold(f64::INFINITY, f64::min);
                (h, left)
            })
            .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        if let Some((h, _)) = best {
            for (f, d) in free[h].iter_mut().zip(&vm.demand) {
                *f -= d;
            }
            if let Some(g) = vm.group {
                taken.insert((h, g), true);
            }
            for &r in &rules_of[v] {
                if let Some(d) = rules[r].domain_of[h] {
                    counts[r].add(d, 1);
                }
            }
            out[v] = Some(h);
        }
    }
    Some(out)
}

/// Checks every scenario (from [`Fleet::scenarios`]): first the witness and the bound of each, then the restart
/// MIP where they disagree, each MIP with an equal share of the time left.
pub fn check(
    fleet: &Fleet,
    scenarios: Vec<(String, Vec<HostIx>)>,
    opts: &MipOptions,
) -> FailureReport {
    let start = Instant::now();
    let mut groups: HashMap<(HostIx, &str), usize> = HashMap::new();
    for vm in &fleet.vms {
        if let Some(g) = vm.group.as_deref() {
            *groups.entry((vm.host, g)).or_default() += 1;
        }
    }
    let mut on: IxVec<HostIx, Vec<VmIx>> = IxVec::filled(Vec::new(), fleet.hosts.len());
    for (i, vm) in fleet.vms.enumerate() {
        on[vm.host].push(i);
    }
    let total = scenarios.len();
    let mut done = Vec::with_capacity(total);
    let mut open = Vec::new();
    let over = || super::over(start, opts);
    for (name, failed) in scenarios {
        if over() {
            // The time is up: the scenarios not reached are counted as unchecked.
            break;
        }
        let Some(c) = Case::prepare(fleet, &groups, &on, (name, failed), &over) else {
            // The time ran out while it was prepared: unchecked, as those not reached.
            break;
        };
        if c.settled() {
            done.push(c.finish(DecidedBy::Witness, Status::Optimal));
        } else {
            open.push(c);
        }
    }
    // Smallest first: what a small MIP leaves of its share goes to the larger ones.
    open.sort_by_key(|c| c.model_vms.iter().map(|v| v.eligible.len()).sum::<usize>());
    let n = open.len();
    for (i, c) in open.into_iter().enumerate() {
        let left = (opts.time_limit_s - start.elapsed().as_secs_f64()).max(0.0);
        let cancelled = opts.budget.cancelled();
        let o = MipOptions {
            time_limit_s: if cancelled {
                0.0
            } else {
                left / (n - i) as f64
            },
            ..opts.clone()
        };
        done.push(c.decide(&o));
    }
    // Every scenario prepared is decided (the MIP phase answers each, stopped or not).
    let mut report = summary(done, start);
    report.unchecked = total - report.scenarios;
    report.scenarios = total;
    report
}

/// The report: counts, the scenarios not tolerated, the worst in full.
fn summary(done: Vec<Scenario>, start: Instant) -> FailureReport {
    let mut report = FailureReport {
        scenarios: done.len(),
        tolerated: 0,
        decided: BTreeMap::new(),
        not_tolerated: Vec::new(),
        worst: None,
        unchecked: 0,
        time_s: 0.0,
    };
    for sc in done {
        *report.decided.entry(sc.decided_by).or_default() += 1;
        if sc.restartable {
            report.tolerated += 1;
        } else {
            report.not_tolerated.push(NotTolerated {
                fail: sc.fail.clone(),
                unrestartable: sc.unrestartable.len(),
                bound: sc.bound,
                status: sc.status,
            });
        }
        let worse = report.worst.as_ref().is_none_or(|w| {
            (sc.unrestartable.len(), -sc.headroom_share)
                > (w.unrestartable.len(), -w.headroom_share)
        });
        if worse {
            report.worst = Some(sc);
        }
    }
    report.not_tolerated.sort_by(|a, b| {
        b.unrestartable
            .cmp(&a.unrestartable)
            .then(a.fail.cmp(&b.fail))
    });
    report.time_s = start.elapsed().as_secs_f64();
    report
}

/// One scenario between its witness and its decision.
struct Case<'a> {
    s: Survivors<'a>,
    name: String,
    failed: Vec<HostIx>,
    vms: Vec<&'a Running>,
    eligible: Vec<Eligible>,
    model_vms: Vec<RestartVm>,
    /// The hard group rules with restarting members.
    rules: Vec<RestartRule>,
    host_of: Vec<Option<HostIx>>,
}

impl<'a> Case<'a> {
    /// The survivors, each VM's eligible hosts, and the best-fit witness (None: `over` said stop
    /// before they were complete).
    fn prepare(
        fleet: &'a Fleet,
        groups: &HashMap<(HostIx, &str), usize>,
        on: &IxVec<HostIx, Vec<VmIx>>,
        (name, failed): (String, Vec<HostIx>),
        over: &dyn Fn() -> bool,
    ) -> Option<Case<'a>> {
        let s = Survivors::new(fleet, &failed);
        // Members on failed hosts do not survive.
        let alive: HashMap<(HostIx, &str), usize> = groups
            .iter()
            .filter(|((h, _), _)| !s.failed[*h])
            .map(|(k, n)| (*k, *n))
            .collect();
        let vms: Vec<&Running> = failed
            .iter()
            .flat_map(|&h| on[h].iter().map(|&v| &fleet.vms[v]))
            .collect();
        let ScenarioRules { rules, limits } = scenario_rules(&s, &vms, over)?;
        let mut eligible = eligibility(&s, &vms, &alive, &limits, over)?;
        let group_ix: BTreeMap<&str, usize> = vms
            .iter()
            .filter_map(|v| v.group.as_deref())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .enumerate()
            .map(|(i, g)| (g, i))
            .collect();
        // The host lists move to the model's VMs (VMs x hosts: not copied); `eligible` keeps
        // whether each VM has one, and why not.
        let model_vms: Vec<RestartVm> = vms
            .iter()
            .zip(&mut eligible)
            .map(|(vm, e)| RestartVm {
                demand: vm.demand.clone(),
                eligible: e.as_mut().map(std::mem::take).unwrap_or_default(),
                group: vm.group.as_deref().and_then(|g| group_ix.get(g).copied()),
            })
            .collect();
        let host_of = best_fit(&s, &model_vms, &rules, over)?;
        Some(Case {
            s,
            rules,
            name,
            failed,
            vms,
            eligible,
            model_vms,
            host_of,
        })
    }

    /// VMs with an eligible host: no placement restarts more (`eligible` keeps whether, not
    /// which: the hosts are in `model_vms`).
    fn upper(&self) -> usize {
        self.eligible.iter().filter(|e| e.is_ok()).count()
    }

    fn placed(&self) -> usize {
        self.host_of.iter().flatten().count()
    }

    /// Whether the witness is proven best already (it restarts every VM that has a host).
    fn settled(&self) -> bool {
        self.placed() == self.upper()
    }

    /// The restart MIP, warm-started with the witness, where the witness is not proven.
    fn decide(mut self, opts: &MipOptions) -> Scenario {
        if opts.time_limit_s < 0.01 {
            // No time left for the MIP: the witness stands, unproven.
            return self.finish(DecidedBy::Stopped, Status::TimeLimit);
        }
        let (upper, placed) = (self.upper(), self.placed());
        match restart(
            &self.s.free,
            &self.model_vms,
            &self.rules,
            &self.host_of,
            opts,
        ) {
            Ok(r) => {
                if r.host_of.iter().flatten().count() > placed {
                    self.host_of = r.host_of;
                }
                let placed = self.placed();
                let bound = r.bound.clamp(placed, upper);
                let status = if r.proven || bound == placed {
                    Status::Optimal
                } else if r.status == MipStatus::Optimal {
                    // Stopped within the relative gap asked for (`--gap`).
                    Status::Feasible
                } else {
                    Status::TimeLimit
                };
                let mut sc = self.finish(DecidedBy::Mip, status);
                sc.bound = bound;
                sc.gap = restart_gap(bound, sc.restarted);
                sc
            }
            Err(e) => {
                tracing::warn!(error = %e, "restart MIP failed; the witness stands");
                self.finish(DecidedBy::Mip, Status::Feasible)
            }
        }
    }

    /// The answer: witness, reasons, headroom; `bound` is the VMs with an eligible host (the
    /// caller lowers it when a MIP proved less).
    fn finish(&self, decided: DecidedBy, status: Status) -> Scenario {
        let s = &self.s;
        let decided = if decided == DecidedBy::Witness && self.placed() < self.vms.len() {
            DecidedBy::Bound
        } else {
            decided
        };
        let (vms, eligible, host_of, failed) =
            (&self.vms, &self.eligible, &self.host_of, &self.failed);
        let (fail, bound) = (self.name.clone(), self.upper());
        let mut free = s.free.clone();
        let mut witness = Vec::new();
        let mut unrestartable = Vec::new();
        for (i, vm) in vms.iter().enumerate() {
            match (host_of[i], &eligible[i]) {
            (Some(h), _) => {
                for (f, x) in free[h].iter_mut().zip(&vm.demand) {
                    *f -= x;
                }
                witness.push(Restarted {
                    vm: vm.id.clone(),
                    host: s.fleet.hosts[h].id.clone(),
                });
            }
            (None, Err((code, reason))) => unrestartable.push(Unrestartable {
                vm: vm.id.clone(),
                code: *code,
                reason: reason.clone(),
            }),
            (None, Ok(_)) => unrestartable.push(Unrestartable {
                vm: vm.id.clone(),
                code: if status == Status::Optimal {
                    RestartCode::NoRoom
                } else {
                    RestartCode::StoppedEarly
                },
                reason: if status == Status::Optimal {
                    "the survivors that reach its storage have room for it, but not for it with the others within their group rules (proven)".into()
                } else {
                    "the search stopped before it found room for it or proved there is none".into()
                },
            }),
        }
        }
        let mut headroom = BTreeMap::new();
        let mut share = f64::INFINITY;
        for (r, name) in s.fleet.axes.names().iter().enumerate() {
            let total: f64 = s
                .fleet
                .hosts
                .enumerate()
                .filter(|&(h, host)| !s.failed[h] && host.active)
                .map(|(_, host)| host.capacity[r])
                .sum();
            let left: f64 = free.iter().map(|f| f[r].max(0.0)).sum();
            headroom.insert(name.clone(), left);
            if total > 0.0 {
                share = share.min(left / total);
            }
        }
        let restarted = witness.len();
        Scenario {
            fail,
            hosts: failed
                .iter()
                .map(|&h| s.fleet.hosts[h].id.clone())
                .collect(),
            vms: vms.len(),
            restarted,
            restartable: restarted == vms.len(),
            status,
            bound,
            gap: restart_gap(bound, restarted),
            decided_by: decided,
            headroom,
            headroom_share: if share.is_finite() { share } else { 0.0 },
            witness,
            unrestartable,
        }
    }
}

/// The share of the restart bound not restarted ([`quality::gap`]).
fn restart_gap(bound: usize, restarted: usize) -> f64 {
    quality::gap(restarted as f64, bound as f64, Goal::Maximize)
}

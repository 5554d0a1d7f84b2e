//! vmplace's migration policy: the round MIP (models/migration.md) over candidate moves.

use super::{confirm, converse, decline, Ctx, Migration, PlanStats};
use crate::format::state::{Candidate, HistorySent, HostState, Score};
use crate::format::Status;
use crate::model::migration::{solve, RoundHost, RoundInput, RoundVm};
use crate::model::{MipOptions, MipStatus};
use std::collections::{BTreeMap, HashMap};

/// Share of active hosts, least utilised first, whose VMs are consolidation candidates.
const UNDERLOAD_SHARE: f64 = 0.2;
/// Targets considered per VM (cheapest power increase first).
const TARGETS: usize = 30;
/// Seconds HiGHS gets for a round.
const ROUND_TIME_S: f64 = 0.5;

/// Plans the round with the MIP; returns the plan status.
/// `warm`: VM id -> host id of the PABFD answer for this round, the MIP's starting point.
pub(super) fn round(
    cx: &mut Ctx,
    overloaded: &[usize],
    stats: &mut PlanStats,
    warm: &HashMap<String, String>,
) -> Status {
    let pool = &cx.pool;
    let policy = cx.policy;
    let n_hosts = pool.hosts.len();
    let Some(cpu) = pool.cpu else {
        return Status::Feasible;
    };
    let maintenance: Vec<bool> = pool
        .hosts
        .iter()
        .map(|h| h.state != HostState::Active)
        .collect();
    let mut source = vec![""; n_hosts];
    for &h in overloaded {
        source[h] = "overload";
    }
    for h in 0..n_hosts {
        if maintenance[h] {
            source[h] = "maintenance";
        }
    }
    let mut active: Vec<usize> = (0..n_hosts)
        .filter(|&h| source[h].is_empty() && pool.vms_on(h).next().is_some())
        .collect();
    active.sort_by(|&a, &b| {
        pool.cpu_util(a)
            .total_cmp(&pool.cpu_util(b))
            .then(a.cmp(&b))
    });
    let k = ((active.len() as f64 * UNDERLOAD_SHARE).ceil() as usize).min(active.len());
    for &h in &active[..k] {
        source[h] = "underload";
    }
    // Candidates: VMs on source hosts, outside their hold time (maintenance moves them anyway).
    let held = |v: usize| pool.vms[v].moved_ago_s.is_some_and(|s| s < policy.hold_s);
    let candidates: Vec<usize> = (0..pool.vms.len())
        .filter(|&v| {
            let h = pool.vms[v].host;
            !source[h].is_empty() && (maintenance[h] || !held(v))
        })
        .collect();
    if candidates.is_empty() {
        return Status::Optimal;
    }
    let is_candidate: Vec<bool> = {
        let mut c = vec![false; pool.vms.len()];
        for &v in &candidates {
            c[v] = true;
        }
        c
    };
    let rest: Vec<usize> = (0..pool.resources.len()).filter(|&r| r != cpu).collect();
    let mut groups: HashMap<&str, usize> = HashMap::new();
    let mut group_fixed = Vec::new();
    let mut hosts: Vec<RoundHost> = pool
        .hosts
        .iter()
        .map(|h| RoundHost {
            cap: h.cap[cpu],
            fixed: 0.0,
            p0: super::detect::power_at(&h.watts, 0.0),
            p1: super::detect::power_at(&h.watts, 1.0),
            always_on: false,
            rest_cap: rest.iter().map(|&r| h.cap[r]).collect(),
            rest_fixed: vec![0.0; rest.len()],
        })
        .collect();
    for (v, vm) in pool.vms.iter().enumerate() {
        if is_candidate[v] {
            continue;
        }
        let host = &mut hosts[vm.host];
        host.fixed += vm.now[cpu];
        host.always_on = true;
        for (i, &r) in rest.iter().enumerate() {
            host.rest_fixed[i] += vm.now[r];
        }
        if let Some(g) = &vm.group {
            let n = groups.len();
            group_fixed.push((*groups.entry(g.as_str()).or_insert(n), vm.host));
        }
    }
    let mut declined_all: Vec<BTreeMap<String, usize>> = Vec::new();
    let vms: Vec<RoundVm> = candidates
        .iter()
        .map(|&v| {
            let vm = &pool.vms[v];
            let mut declined: BTreeMap<String, usize> = BTreeMap::new();
            let mut targets: Vec<(f64, usize)> = Vec::new();
            for (h, host) in pool.hosts.iter().enumerate() {
                if h == vm.host {
                    continue;
                }
                let code = if maintenance[h] {
                    Some(decline::STATE)
                } else if !host.storage.contains(&vm.storage) {
                    Some(decline::STORAGE)
                } else if rest.iter().any(|&r| vm.now[r] > host.cap[r] + 1e-9)
                    || vm.now[cpu] > host.cap[cpu]
                {
                    Some(decline::CAPACITY)
                } else {
                    None
                };
                match code {
                    Some(c) => *declined.entry(c.to_string()).or_default() += 1,
                    None => {
                        let u = pool.cpu_util(h);
                        let add = vm.now[cpu] / host.cap[cpu].max(1e-12);
                        // Hosts that stay on anyway come first: their idle power is paid.
                        let stays_on = source[h].is_empty() && pool.vms_on(h).next().is_some();
                        let rank = if stays_on { 0.0 } else { 1e6 };
                        targets.push((rank + pool.power(h, u + add) - pool.power(h, u), h));
                    }
                }
            }
            targets.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            // PABFD's choice stays among the targets, so its answer is a valid starting point.
            let start = warm
                .get(&vm.id)
                .and_then(|id| pool.hosts.iter().position(|h| &h.id == id));
            if let Some(s) = start {
                if let Some(i) = targets.iter().position(|t| t.1 == s) {
                    let t = targets.remove(i);
                    targets.insert(0, t);
                }
            }
            targets.truncate(TARGETS);
            declined_all.push(declined);
            let n = groups.len();
            let targets: Vec<usize> = targets.into_iter().map(|t| t.1).collect();
            let start = start.filter(|s| targets.contains(s));
            RoundVm {
                cpu: vm.now[cpu],
                stay: (!maintenance[vm.host]).then_some(vm.host),
                targets,
                move_cost: policy.weights.2.max(0.0) * pool.migration_time(v),
                group: vm
                    .group
                    .as_ref()
                    .map(|g| *groups.entry(g.as_str()).or_insert(n)),
                rest: rest.iter().map(|&r| vm.now[r]).collect(),
                start,
            }
        })
        .collect();
    let theta = if policy.detection == crate::format::state::Detection::Thr {
        policy.parameter
    } else {
        0.8
    };
    let input = RoundInput {
        hosts,
        vms,
        group_fixed,
        theta,
        budget: policy.budget,
        penalty: 10_000.0,
    };
    let opts = MipOptions {
        time_limit_s: ROUND_TIME_S,
        mip_gap: 0.01,
        threads: 1,
        write_model: None,
        relax: false,
        cancel: None,
    };
    let (status, ends) = match solve(&input, &opts) {
        Ok((r, ends)) => {
            let s = match r.status {
                MipStatus::Optimal => Status::Optimal,
                MipStatus::TimeLimit => Status::TimeLimit,
                _ => Status::Feasible,
            };
            (s, ends)
        }
        Err(e) => {
            tracing::warn!(error = %e, "round MIP failed: no moves this round");
            (Status::Feasible, vec![None; candidates.len()])
        }
    };
    let mut emptied: Vec<usize> = Vec::new();
    for (i, &v) in candidates.iter().enumerate() {
        let Some(to) = ends[i] else { continue };
        let from = cx.pool.vms[v].host;
        if to == from {
            continue;
        }
        let reason = source[from];
        let vm_id = cx.pool.vms[v].id.clone();
        let from_id = cx.pool.hosts[from].id.clone();
        let to_id = cx.pool.hosts[to].id.clone();
        let considered = &input.vms[i].targets;
        let mut candidates_out = Vec::new();
        for &h in std::iter::once(&to)
            .chain(considered.iter().filter(|&&h| h != to))
            .take(policy.listed.max(1))
        {
            let host_id = cx.pool.hosts[h].id.clone();
            converse(&mut cx.messages, &vm_id, &from_id, &host_id, true);
            candidates_out.push(Candidate {
                host: host_id,
                accepted: true,
                code: None,
                reason: None,
            });
        }
        confirm(&mut cx.messages, &vm_id, &from_id, &to_id);
        let before = cx.pool.cpu_util(to);
        let add = cx.pool.vms[v].now[cpu] / cx.pool.hosts[to].cap[cpu].max(1e-12);
        let power = cx.pool.power(to, before + add) - cx.pool.power(to, before);
        let cost = cx.pool.migration_time(v);
        cx.migrations.push(Migration {
            vm: vm_id,
            from: from_id,
            to: to_id,
            live: true,
            reason: reason.to_string(),
            score: Score {
                total: power + input.vms[i].move_cost,
                power,
                balance: before + add,
                cost,
            },
            candidates: candidates_out,
            asked: n_hosts - 1,
            declined: declined_all[i].clone(),
            history_sent: HistorySent {
                samples: cx.pool.vms[v].samples,
            },
        });
        cx.pool.move_vm(v, to);
        cx.moved[v] = true;
        emptied.push(from);
    }
    emptied.sort();
    emptied.dedup();
    stats.emptied_hosts = emptied
        .into_iter()
        .filter(|&h| source[h] == "underload" && cx.pool.vms_on(h).next().is_none())
        .map(|h| cx.pool.hosts[h].id.clone())
        .collect();
    status
}

//! Objective values and unplaced reasons of an assignment, as defined in models/.
//!
//! The MIPs optimise these quantities; this module computes them for any assignment (greedy or
//! MIP) so that answers are compared on one scale.

use crate::domain::{Assignment, Domain, HostIx, IxVec, Load, RequestIx, StorageIx, EPS};

use vmplace_wire::Objective;

/// Whether a request counts as placed: storage chosen, and host too when `need_host`.
pub fn is_placed(a: &Assignment, r: RequestIx, need_host: bool) -> bool {
    a.storage[r].is_some() && (!need_host || a.host[r].is_some())
}

/// First, lexicographic objective: total priority of placed requests.
pub fn placed_weight(d: &Domain, a: &Assignment, need_host: bool) -> f64 {
    d.requests
        .ids()
        .filter(|&r| is_placed(a, r, need_host))
        .map(|r| d.requests[r].priority)
        .sum()
}

/// Phase 1's look-ahead to phase 2's objective under host policy `pack`: idle hosts that the
/// witness host assignment opens, over all hosts (0 under `balance`).
pub fn lookahead_opening(d: &Domain, witness: &Assignment) -> f64 {
    if d.settings.host_policy != Objective::Pack {
        return 0.0;
    }
    let mut opened: IxVec<HostIx, bool> = IxVec::filled(false, d.hosts.len());
    for h in witness.host.iter().flatten() {
        opened[h] = !d.hosts[h].initially_active();
    }
    opened.iter().filter(|&&b| b).count() as f64 / d.hosts.len().max(1) as f64
}

/// The highest storage utilisation before the batch (0 for a system of no capacity): a floor
/// of `storage_balance` for every answer.
pub fn initial_storage_utilisation(d: &Domain) -> f64 {
    d.storage
        .iter()
        .map(|s| {
            if s.capacity > EPS {
                s.used / s.capacity
            } else {
                0.0
            }
        })
        .fold(0.0, f64::max)
}

/// Storage utilisation after the assignment.
pub fn storage_utilisation(d: &Domain, a: &Assignment) -> IxVec<StorageIx, f64> {
    let mut used = d.storage.map(|s| s.used);
    for (r, s) in a.storage.enumerate() {
        if let Some(s) = s {
            used[s] += d.requests[r].disk;
        }
    }
    used.iter()
        .zip(&d.storage)
        .map(|(u, s)| {
            if s.capacity > EPS {
                u / s.capacity
            } else {
                0.0
            }
        })
        .collect()
}

/// Normalised live-migration reach of request `r` on storage `s`: connected hosts that could take
/// it before the batch, over all hosts. Used by the flexibility term.
pub fn reach(d: &Domain, r: RequestIx, s: StorageIx) -> f64 {
    d.static_domain(r, s) as f64 / d.hosts.len().max(1) as f64
}

/// Second objective of the storage phase (lower is better): policy term plus the
/// flexibility penalty `w * sum over placed requests of (1 - reach) / requests`.
pub fn storage_cost(d: &Domain, a: &Assignment) -> f64 {
    let util = storage_utilisation(d, a);
    let policy = match d.settings.storage_policy {
        Objective::Balance => util.iter().copied().fold(0.0, f64::max),
        Objective::Pack => {
            let mut in_use = d.storage.map(|s| s.used > EPS);
            for s in a.storage.iter().flatten() {
                in_use[s] = true;
            }
            in_use.iter().filter(|&&b| b).count() as f64 / d.storage.len().max(1) as f64
        }
    };
    let n = d.requests.len().max(1) as f64;
    let lost: f64 = a
        .storage
        .enumerate()
        .filter_map(|(r, s)| s.map(|s| 1.0 - reach(d, r, s)))
        .sum();
    policy + d.settings.flexibility_weight * lost / n
}

/// Host utilisation after the assignment: per host, per resource (0 where capacity is 0).
pub fn host_utilisation(d: &Domain, a: &Assignment) -> IxVec<HostIx, Vec<f64>> {
    let mut used = d.hosts.map(|h| h.used.clone());
    for (r, h) in a.host.enumerate() {
        if let Some(h) = h {
            for (u, x) in used[h].iter_mut().zip(&d.requests[r].demand) {
                *u += x;
            }
        }
    }
    used.iter()
        .zip(&d.hosts)
        .map(|(u, h)| {
            u.iter()
                .zip(&h.capacity)
                .take(d.axes.len())
                .map(|(u, c)| if *c > EPS { u / c } else { 0.0 })
                .collect()
        })
        .collect()
}

/// Whether each host runs something after the assignment.
pub fn active_hosts(d: &Domain, a: &Assignment) -> IxVec<HostIx, bool> {
    let mut active = d.hosts.map(|h| h.initially_active());
    for h in a.host.iter().flatten() {
        active[h] = true;
    }
    active
}

/// Second objective of the host phase (lower is better): active hosts (`pack`) or the highest
/// utilisation of any host in any resource (`balance`), plus the soft group rules' penalties.
pub fn host_cost(d: &Domain, a: &Assignment) -> f64 {
    let policy = match d.settings.host_policy {
        Objective::Pack => active_hosts(d, a).iter().filter(|&&b| b).count() as f64,
        Objective::Balance => host_utilisation(d, a)
            .iter()
            .flatten()
            .copied()
            .fold(0.0, f64::max),
    };
    if d.group_rules.iter().all(|g| g.hard) {
        return policy;
    }
    policy
        + soft_violations(d, a)
            .iter()
            .map(|(g, n)| d.group_rules[*g].weight * *n as f64)
            .sum::<f64>()
}

/// (placed weight, host cost) of an answer with hosts: the lexicographic score of phase 2, the
/// baselines, packing, the joint model and the neighbourhood search alike.
pub fn host_score(d: &Domain, a: &Assignment) -> (f64, f64) {
    (placed_weight(d, a, true), host_cost(d, a))
}

/// Whether `a` breaks no hard group rule more than `than` does (each rule's violation count,
/// [`super::groups::GroupRule::violations`]): the guard a search applies to its candidates.
pub fn hard_rules_kept(d: &Domain, a: &Assignment, than: &Assignment) -> bool {
    if d.group_rules.iter().all(|g| !g.hard) {
        return true;
    }
    let (now, before) = (final_load(d, a), final_load(d, than));
    d.group_rules.iter().enumerate().all(|(i, g)| {
        !g.hard || g.violations(&now.rule_counts[i]) <= g.violations(&before.rule_counts[i])
    })
}

/// Violations of each soft group rule after the assignment, as (rule, count) for the soft rules.
pub fn soft_violations(d: &Domain, a: &Assignment) -> Vec<(usize, u32)> {
    let load = final_load(d, a);
    d.group_rules
        .iter()
        .enumerate()
        .filter(|(_, g)| !g.hard)
        .map(|(i, g)| (i, g.violations(&load.rule_counts[i])))
        .collect()
}

/// Load after the assignment.
pub fn final_load(d: &Domain, a: &Assignment) -> Load {
    let mut load = Load::initial(d);
    for r in d.requests.ids() {
        if let Some(s) = a.storage[r] {
            load.take_storage(d, r, s);
        }
        if let Some(h) = a.host[r] {
            load.take_host(d, r, h);
        }
    }
    load
}

/// Live-migration domain of a placed request: other hosts connected to its storage that could
/// take it after this placement.
pub fn migration_domain(
    d: &Domain,
    load: &Load,
    r: RequestIx,
    s: StorageIx,
    host: Option<HostIx>,
) -> usize {
    d.storage[s]
        .hosts
        .iter()
        .filter(|&&h| Some(h) != host && load.host_accepts(d, r, h))
        .count()
}

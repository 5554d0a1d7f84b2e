//! Objective values and unplaced reasons of an assignment, as defined in models/.
//!
//! The MIPs optimise these quantities; this module computes them for any assignment (greedy or
//! MIP) so that answers are compared on one scale.

use crate::domain::{fits, Assignment, Domain, HostIx, Load, RequestIx, StorageIx, EPS};
use crate::format::Policy;

/// Unplaced reason codes (stable, listed in README).
pub mod reason {
    /// No storage system has room for the disk image.
    pub const NO_STORAGE_CAPACITY: &str = "NO_STORAGE_CAPACITY";
    /// No host in the pool has room for the VM.
    pub const DEMAND_EXCEEDS_HOSTS: &str = "DEMAND_EXCEEDS_HOSTS";
    /// No storage with room is connected to a host with room.
    pub const NO_CONNECTED_HOST_CAPACITY: &str = "NO_CONNECTED_HOST_CAPACITY";
    /// Hosts with room exist but each already runs a member of the VM's anti-affinity group.
    pub const ANTI_AFFINITY: &str = "ANTI_AFFINITY";
    /// Capacity existed but went to other requests of the batch (higher priority, or more of them).
    pub const CAPACITY_TAKEN: &str = "CAPACITY_TAKEN";
    /// Phase 1 left it out because phase 2 could not host it on the chosen storage.
    pub const LOOKAHEAD_NO_HOST: &str = "LOOKAHEAD_NO_HOST";
    /// Every code, for documentation and the checker.
    pub const ALL: [&str; 6] = [
        NO_STORAGE_CAPACITY,
        DEMAND_EXCEEDS_HOSTS,
        NO_CONNECTED_HOST_CAPACITY,
        ANTI_AFFINITY,
        CAPACITY_TAKEN,
        LOOKAHEAD_NO_HOST,
    ];
}

/// Whether a request counts as placed: storage chosen, and host too when `need_host`.
pub fn is_placed(a: &Assignment, r: RequestIx, need_host: bool) -> bool {
    a.storage[r.0].is_some() && (!need_host || a.host[r.0].is_some())
}

/// First, lexicographic objective: total priority of placed requests.
pub fn placed_weight(d: &Domain, a: &Assignment, need_host: bool) -> f64 {
    (0..d.requests.len())
        .filter(|&i| is_placed(a, RequestIx(i), need_host))
        .map(|i| d.requests[i].priority)
        .sum()
}

/// Phase 1's look-ahead to phase 2's objective under host policy `pack`: idle hosts that the
/// witness host assignment opens, over all hosts (0 under `balance`).
pub fn lookahead_opening(d: &Domain, witness: &Assignment) -> f64 {
    if d.settings.host_policy != Policy::Pack {
        return 0.0;
    }
    let mut opened = vec![false; d.hosts.len()];
    for h in witness.host.iter().flatten() {
        opened[h.0] = !d.hosts[h.0].initially_active();
    }
    opened.iter().filter(|&&b| b).count() as f64 / d.hosts.len().max(1) as f64
}

/// Storage utilisation after the assignment.
pub fn storage_utilisation(d: &Domain, a: &Assignment) -> Vec<f64> {
    let mut used: Vec<f64> = d.storage.iter().map(|s| s.used).collect();
    for (i, s) in a.storage.iter().enumerate() {
        if let Some(s) = s {
            used[s.0] += d.requests[i].disk;
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
        Policy::Balance => util.iter().copied().fold(0.0, f64::max),
        Policy::Pack => {
            let mut in_use: Vec<bool> = d.storage.iter().map(|s| s.used > EPS).collect();
            for s in a.storage.iter().flatten() {
                in_use[s.0] = true;
            }
            in_use.iter().filter(|&&b| b).count() as f64 / d.storage.len().max(1) as f64
        }
    };
    let n = d.requests.len().max(1) as f64;
    let lost: f64 = a
        .storage
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.map(|s| 1.0 - reach(d, RequestIx(i), s)))
        .sum();
    policy + d.settings.flexibility_weight * lost / n
}

/// Host utilisation after the assignment: per host, per resource (0 where capacity is 0).
pub fn host_utilisation(d: &Domain, a: &Assignment) -> Vec<Vec<f64>> {
    let mut used: Vec<Vec<f64>> = d.hosts.iter().map(|h| h.used.clone()).collect();
    for (i, h) in a.host.iter().enumerate() {
        if let Some(h) = h {
            for (u, x) in used[h.0].iter_mut().zip(&d.requests[i].demand) {
                *u += x;
            }
        }
    }
    used.iter()
        .zip(&d.hosts)
        .map(|(u, h)| {
            u.iter()
                .zip(&h.capacity)
                .map(|(u, c)| if *c > EPS { u / c } else { 0.0 })
                .collect()
        })
        .collect()
}

/// Whether each host runs something after the assignment.
pub fn active_hosts(d: &Domain, a: &Assignment) -> Vec<bool> {
    let mut active: Vec<bool> = d.hosts.iter().map(|h| h.initially_active()).collect();
    for h in a.host.iter().flatten() {
        active[h.0] = true;
    }
    active
}

/// Second objective of the host phase (lower is better): active hosts (`pack`) or the highest
/// utilisation of any host in any resource (`balance`).
pub fn host_cost(d: &Domain, a: &Assignment) -> f64 {
    match d.settings.host_policy {
        Policy::Pack => active_hosts(d, a).iter().filter(|&&b| b).count() as f64,
        Policy::Balance => host_utilisation(d, a)
            .iter()
            .flatten()
            .copied()
            .fold(0.0, f64::max),
    }
}

/// Load after the assignment.
pub fn final_load(d: &Domain, a: &Assignment) -> Load {
    let mut load = Load::initial(d);
    for i in 0..d.requests.len() {
        if let Some(s) = a.storage[i] {
            load.take_storage(d, RequestIx(i), s);
        }
        if let Some(h) = a.host[i] {
            load.take_host(d, RequestIx(i), h);
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
    d.storage[s.0]
        .hosts
        .iter()
        .filter(|&&h| Some(h) != host && load.host_accepts(d, r, h))
        .count()
}

/// Why request `r` is not placed, naming the binding constraint.
pub fn explain(d: &Domain, a: &Assignment, r: RequestIx) -> (&'static str, String) {
    let vm = &d.requests[r.0];
    let initial = Load::initial(d);
    let mut others = a.clone();
    others.storage[r.0] = None;
    others.host[r.0] = None;
    let after = final_load(d, &others);
    let storages: Vec<StorageIx> = match (a.storage[r.0], vm.storage) {
        (Some(s), _) | (None, Some(s)) => vec![s],
        (None, None) => (0..d.storage.len()).map(StorageIx).collect(),
    };
    let storage_named = match storages.as_slice() {
        [s] => format!(" (storage `{}`)", d.storage[s.0].id),
        _ => String::new(),
    };
    let chosen = a.storage[r.0].is_some() || vm.storage.is_some();
    let disk_ok = |load: &Load, s: StorageIx| chosen || load.storage_free[s.0] + EPS >= vm.disk;
    if !storages.iter().any(|&s| disk_ok(&initial, s)) {
        return (
            reason::NO_STORAGE_CAPACITY,
            format!(
                "storage_capacity: no storage system has {} GiB free",
                vm.disk
            ),
        );
    }
    if !initial.host_free.iter().any(|f| fits(&vm.demand, f)) {
        return (
            reason::DEMAND_EXCEEDS_HOSTS,
            "host_capacity: no host in the pool has room for the VM's demand".to_string(),
        );
    }
    let connected_room = |load: &Load, s: StorageIx| {
        d.storage[s.0]
            .hosts
            .iter()
            .any(|h| fits(&vm.demand, &load.host_free[h.0]))
    };
    if !storages
        .iter()
        .any(|&s| disk_ok(&initial, s) && connected_room(&initial, s))
    {
        return (
            reason::NO_CONNECTED_HOST_CAPACITY,
            format!(
                "host_connectivity: no host with room is connected to the storage{storage_named}"
            ),
        );
    }
    let room_now = storages
        .iter()
        .any(|&s| disk_ok(&after, s) && connected_room(&after, s));
    if room_now && vm.group.is_some() {
        return (
            reason::ANTI_AFFINITY,
            format!(
                "anti_affinity: every connected host with room already runs a member of group `{}`",
                d.groups[vm.group.unwrap_or(0)]
            ),
        );
    }
    let binding = if !storages.iter().any(|&s| disk_ok(&after, s)) {
        "storage_capacity"
    } else {
        "host_capacity"
    };
    (
        reason::CAPACITY_TAKEN,
        format!("{binding}: the capacity that could take it went to other requests of this batch"),
    )
}

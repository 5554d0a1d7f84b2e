//! The greedy baseline: how today's schedulers place one request at a time.
//!
//! * Storage (Cinder): capacity filter, then the capacity weigher (most free GiB).
//! * Host (Nova): filter (connected to the VM's storage, room in every dimension, anti-affinity),
//!   then weigh: the RAM weigher (most free memory) for `balance`, first-fit decreasing for `pack`.
//!
//! `lookahead` is the variant vmplace uses to warm-start its MIPs: it only picks storage that has a
//! connected host with room, so its storage choice always comes with a host assignment.

use crate::domain::evaluate::final_load;
use crate::domain::{Assignment, Domain, HostIx, Load, RequestIx, StorageIx, NOISE};
use vmplace_wire::Objective;

/// Order in which first-fit decreasing considers requests: priority, then size.
pub fn decreasing_order(d: &Domain, include: impl Fn(RequestIx) -> bool) -> Vec<RequestIx> {
    sized_order(d, include, false)
}

/// Priority, then increasing size: on a pool short of some resource everywhere, the most VMs of
/// one priority are placed by taking the smallest first.
pub fn increasing_order(d: &Domain, include: impl Fn(RequestIx) -> bool) -> Vec<RequestIx> {
    sized_order(d, include, true)
}

/// Priority (highest first), then size in shares of the largest host (smallest first when
/// `smallest_first`), then index.
fn sized_order(
    d: &Domain,
    include: impl Fn(RequestIx) -> bool,
    smallest_first: bool,
) -> Vec<RequestIx> {
    let scale: Vec<f64> = (0..d.axes.len())
        .map(|k| {
            d.hosts
                .iter()
                .map(|h| h.capacity[k])
                .fold(0.0, f64::max)
                .max(NOISE)
        })
        .collect();
    let size = |r: RequestIx| -> f64 {
        d.requests[r]
            .demand
            .iter()
            .zip(&scale)
            .map(|(x, s)| x / s)
            .sum()
    };
    let mut order: Vec<RequestIx> = d.requests.ids().filter(|&r| include(r)).collect();
    order.sort_by(|&a, &b| {
        let (pa, pb) = (d.requests[a].priority, d.requests[b].priority);
        let by_size = if smallest_first {
            size(a).total_cmp(&size(b))
        } else {
            size(b).total_cmp(&size(a))
        };
        pb.total_cmp(&pa).then(by_size).then(a.cmp(&b))
    });
    order
}

/// Nova-style host choice for one request among hosts connected to `s`: among the hosts that
/// also keep its soft group rules if there are any, else among all that accept it.
pub fn choose_host(
    d: &Domain,
    load: &Load,
    r: RequestIx,
    s: StorageIx,
    policy: Objective,
) -> Option<HostIx> {
    let soft = d.requests[r].rules.iter().any(|&g| !d.group_rules[g].hard);
    if soft {
        let keeps = |h: HostIx| load.host_keeps_soft_rules(d, r, h);
        if let Some(h) = weigh(d, load, r, s, policy, &keeps) {
            return Some(h);
        }
    }
    weigh(d, load, r, s, policy, &|_| true)
}

/// Filter then weigh: the hosts connected to `s` that accept `r` and pass `also`.
fn weigh(
    d: &Domain,
    load: &Load,
    r: RequestIx,
    s: StorageIx,
    policy: Objective,
    also: &dyn Fn(HostIx) -> bool,
) -> Option<HostIx> {
    let mut candidates = d.storage[s]
        .hosts
        .iter()
        .copied()
        .filter(|&h| load.host_accepts(d, r, h) && also(h));
    match policy {
        // First fit: the first active host with room, else the first idle one (the same as the
        // minimum of (idle, index), without scanning past the first active host).
        Objective::Pack => {
            let mut first_idle = None;
            for h in candidates.by_ref() {
                if load_active(d, load, h) {
                    return Some(h);
                }
                first_idle = first_idle.or(Some(h));
            }
            first_idle
        }
        Objective::Balance => {
            let ram = super::heuristics::ram_dimension(d);
            let weight = |h: HostIx| -> f64 {
                match ram {
                    Some(k) => load.host_free[h][k],
                    None => load.host_free[h].iter().sum(),
                }
            };
            // Most free RAM wins; ties go to the lower index (deterministic).
            candidates.fold(None, |best: Option<HostIx>, h| match best {
                Some(b) if weight(b) >= weight(h) => Some(b),
                _ => Some(h),
            })
        }
    }
}

fn load_active(d: &Domain, load: &Load, h: HostIx) -> bool {
    let host = &d.hosts[h];
    host.initially_active() || host.took_some(&load.host_free[h])
}

/// Cinder-style storage phase: in input order, the storage with the most free GiB that fits.
pub fn storage_phase(d: &Domain, fixed: &Assignment) -> Assignment {
    let mut load = Load::initial(d);
    let mut out = fixed.clone();
    for i in d.requests.ids() {
        let r = i;
        if let Some(s) = out.storage[i] {
            load.take_storage(d, r, s);
            continue;
        }
        let disk = d.requests[i].disk;
        let best = d
            .storage
            .ids()
            .filter(|&s| load.storage_free[s] + NOISE >= disk && d.storage_allows(r, s))
            .fold(None, |best: Option<StorageIx>, s| match best {
                Some(b) if load.storage_free[b] >= load.storage_free[s] => Some(b),
                _ => Some(s),
            });
        if let Some(s) = best {
            load.take_storage(d, r, s);
            out.storage[i] = Some(s);
        }
    }
    out
}

/// Nova-style host phase for every request with a storage and no host yet.
pub fn host_phase(d: &Domain, storage: &Assignment, policy: Objective) -> Assignment {
    host_phase_until(d, storage, policy, &|| false)
}

/// [`host_phase`], stopping when `stop` says so.
pub fn host_phase_until(
    d: &Domain,
    storage: &Assignment,
    policy: Objective,
    stop: &dyn Fn() -> bool,
) -> Assignment {
    let mut out = storage.clone();
    let mut load = Load::initial(d);
    for i in d.requests.ids() {
        if let Some(h) = out.host[i] {
            load.take_host(d, i, h);
        }
    }
    let order: Vec<RequestIx> = match policy {
        Objective::Pack => {
            decreasing_order(d, |r| out.storage[r].is_some() && out.host[r].is_none())
        }
        Objective::Balance => d
            .requests
            .ids()
            .filter(|r| out.storage[r].is_some() && out.host[r].is_none())
            .collect(),
    };
    for r in order {
        if stop() {
            break;
        }
        let Some(s) = out.storage[r] else { continue };
        if let Some(h) = choose_host(d, &load, r, s, policy) {
            load.take_host(d, r, h);
            out.host[r] = Some(h);
        }
    }
    out
}

/// Both phases the way today's schedulers chain them: storage blind to hosts, then hosts. A
/// request whose storage has no connected host with room ends with a storage but no host. Hosts
/// stop being chosen when `stop` says so.
pub fn place(
    d: &Domain,
    fixed: &Assignment,
    host_policy: Objective,
    stop: &dyn Fn() -> bool,
) -> Assignment {
    host_phase_until(d, &storage_phase(d, fixed), host_policy, stop)
}

/// Storage and host chosen together, one request at a time in decreasing size: storage must have
/// room for the disk and a connected host with room for the VM. Storage is weighed by the storage
/// policy (balance: lowest utilisation after; pack: fullest that fits), which does not depend on
/// the host, so the storage systems are tried best first and the first with a host wins. Stops
/// placing when `stop` says so (the deadline or a cancelled call).
pub fn lookahead(
    d: &Domain,
    fixed: &Assignment,
    storage_policy: Objective,
    host_policy: Objective,
    stop: &dyn Fn() -> bool,
) -> Assignment {
    let (mut load, mut out) = (final_load(d, fixed), fixed.clone());
    let nh = d.hosts.len().max(1) as f64;
    for r in decreasing_order(d, |r| out.host[r].is_none()) {
        if stop() {
            break;
        }
        let vm = &d.requests[r];
        let mut candidates: Vec<(f64, StorageIx)> = match out.storage[r] {
            Some(s) => vec![(0.0, s)],
            None => d
                .storage
                .ids()
                .filter(|&s| load.storage_free[s] + NOISE >= vm.disk && d.storage_allows(r, s))
                .map(|s| {
                    let cap = d.storage[s].capacity.max(NOISE);
                    let util_after = 1.0 - (load.storage_free[s] - vm.disk) / cap;
                    let reach = d.storage[s].hosts.len() as f64 / nh;
                    // Lower is better. Reach breaks near-ties towards large live-migration
                    // domains.
                    let score = match storage_policy {
                        Objective::Balance => util_after - 0.05 * reach,
                        Objective::Pack => -util_after - 0.05 * reach,
                    };
                    (score, s)
                })
                .collect(),
        };
        candidates.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        for (_, s) in candidates {
            if let Some(h) = choose_host(d, &load, r, s, host_policy) {
                if out.storage[r].is_none() {
                    load.take_storage(d, r, s);
                }
                load.take_host(d, r, h);
                out.storage[r] = Some(s);
                out.host[r] = Some(h);
                break;
            }
        }
    }
    out
}

/// What a scheduler with retries amounts to (the strongest simple heuristic): requests in input
/// order; for each, the storage systems with room for its disk by most free GiB, and the first
/// of them that has a connected host with room (chosen by Nova's weigher) takes it. A request
/// with a storage given tries that one only.
pub fn with_retries(
    d: &Domain,
    fixed: &Assignment,
    host_policy: Objective,
    stop: &dyn Fn() -> bool,
) -> Assignment {
    let (mut load, mut out) = (final_load(d, fixed), fixed.clone());
    let mut by_free: Vec<StorageIx> = d.storage.ids().collect();
    for i in d.requests.ids() {
        if out.host[i].is_some() {
            continue;
        }
        if stop() {
            break;
        }
        let r = i;
        let disk = d.requests[i].disk;
        let fixed_storage = out.storage[i];
        let candidates: &[StorageIx] = match &fixed_storage {
            Some(s) => std::slice::from_ref(s),
            None => {
                by_free.sort_by(|a, b| {
                    load.storage_free[b]
                        .total_cmp(&load.storage_free[a])
                        .then(a.cmp(b))
                });
                &by_free
            }
        };
        for &s in candidates {
            if fixed_storage.is_none() && load.storage_free[s] + NOISE < disk {
                // Sorted by free space: no later storage has room either.
                break;
            }
            if fixed_storage.is_none() && !d.storage_allows(r, s) {
                continue;
            }
            if let Some(h) = choose_host(d, &load, r, s, host_policy) {
                if fixed_storage.is_none() {
                    load.take_storage(d, r, s);
                }
                load.take_host(d, r, h);
                out.storage[i] = Some(s);
                out.host[i] = Some(h);
                break;
            }
        }
    }
    out
}

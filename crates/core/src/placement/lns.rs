//! Large neighbourhood search for the host phase past `LNS_COLUMNS`.

use super::deadline::mip_options;
use super::host_phase::{host_columns, LNS_NEIGHBOURHOOD_COLUMNS};
use crate::budget::Budget;
use crate::domain::{evaluate, Assignment, Domain, HostIx, IxVec, RequestIx, StorageIx};

/// How much larger than `LNS_NEIGHBOURHOOD_COLUMNS` neighbourhoods may grow.
const LNS_GROWTH: usize = 16;
use super::lexicographic::better;
use crate::model::host;
use crate::model::storage::Stage;
use crate::model::MipOptions;
use crate::model::{MipError, ModelSize};
use vmplace_wire::Objective;

/// Where a neighbourhood starts.
#[derive(Debug, Clone)]
enum Seed {
    /// These storage systems, grown by their neighbours: their requests and hosts.
    Storage(Vec<StorageIx>),
    /// This host and the hosts best placed to take its VMs: the VMs they run, on them only.
    /// Unlike storage neighbourhoods, these stay small when one storage system reaches every
    /// host (a pool-wide system, or bin packing on one shared storage).
    Hosts(HostIx),
}

/// Neighbourhood seeds for the LNS, best first: per host worth changing, the storage systems of
/// the VMs it runs, then the host with its best partners. `pack`: newly opened hosts, least
/// loaded first (the easiest to empty); `balance`: hosts by decreasing utilisation. Then every
/// storage system on its own.
fn lns_seeds(d: &Domain, cur: &Assignment) -> Vec<Seed> {
    let util = evaluate::host_utilisation(d, cur);
    let mut on_host: IxVec<HostIx, Vec<StorageIx>> = IxVec::filled(Vec::new(), d.hosts.len());
    for (i, h) in cur.host.enumerate() {
        if let (Some(h), Some(s)) = (h, cur.storage[i]) {
            if !on_host[h].contains(&s) {
                on_host[h].push(s);
            }
        }
    }
    let peak = |h: HostIx| util[h].iter().copied().fold(0.0, f64::max);
    let mut hosts: Vec<HostIx> = d.hosts.ids().filter(|&h| !on_host[h].is_empty()).collect();
    match d.settings.host_policy {
        Objective::Pack => {
            hosts.retain(|&h| !d.hosts[h].initially_active());
            hosts.sort_by(|&a, &b| peak(a).total_cmp(&peak(b)).then(a.cmp(&b)));
        }
        Objective::Balance => hosts.sort_by(|&a, &b| peak(b).total_cmp(&peak(a)).then(a.cmp(&b))),
    }
    let mut seeds: Vec<Seed> = hosts
        .into_iter()
        .flat_map(|h| [Seed::Storage(on_host[h].clone()), Seed::Hosts(h)])
        .collect();
    seeds.extend(d.storage.ids().map(|s| Seed::Storage(vec![s])));
    seeds
}

/// A host neighbourhood: `seed` and the other hosts in use with the most free capacity (where its
/// VMs could go), as many as keep the model within `limit` columns (at most one
/// column per freed VM and host). Returns the freed requests and the allowed hosts.
fn host_set(
    d: &Domain,
    cur: &Assignment,
    seed: HostIx,
    limit: usize,
) -> (Vec<RequestIx>, IxVec<HostIx, bool>) {
    let mut on_host: IxVec<HostIx, Vec<RequestIx>> = IxVec::filled(Vec::new(), d.hosts.len());
    for (i, h) in cur.host.enumerate() {
        if let Some(h) = h {
            on_host[h].push(i);
        }
    }
    let load = evaluate::final_load(d, cur);
    let room = |h: HostIx| -> f64 {
        let host = &d.hosts[h];
        load.host_free[h]
            .iter()
            .zip(&host.capacity)
            .map(|(f, c)| if *c > 0.0 { f / c } else { 0.0 })
            .fold(f64::INFINITY, f64::min)
    };
    let mut partners: Vec<HostIx> = d
        .hosts
        .ids()
        .filter(|&h| h != seed && !on_host[h].is_empty())
        .collect();
    partners.sort_by(|&a, &b| room(b).total_cmp(&room(a)).then(a.cmp(&b)));
    let mut allowed = IxVec::filled(false, d.hosts.len());
    allowed[seed] = true;
    let mut freed = on_host[seed].clone();
    for (hosts, h) in (1..).zip(partners) {
        let more = freed.len() + on_host[h].len();
        if more * (hosts + 1) > limit {
            break;
        }
        allowed[h] = true;
        freed.extend(&on_host[h]);
    }
    freed.sort_unstable();
    (freed, allowed)
}

/// Whether the seed's own storage systems already make a model over twice `limit` columns.
fn seed_too_large(d: &Domain, base: &Assignment, seed: &[StorageIx], limit: usize) -> bool {
    let mut within = IxVec::filled(false, d.storage.len());
    for &s in seed {
        within[s] = true;
    }
    host_columns(d, base, Some(&within)) > 2 * limit
}

/// The hosts of the storage systems in `within`.
fn hosts_of(d: &Domain, within: &IxVec<StorageIx, bool>) -> IxVec<HostIx, bool> {
    let mut allowed = IxVec::filled(false, d.hosts.len());
    for (s, w) in within.enumerate() {
        if *w {
            for h in &d.storage[s].hosts {
                allowed[h] = true;
            }
        }
    }
    allowed
}

/// Storage systems that share a host are neighbours.
fn storage_neighbours(d: &Domain) -> IxVec<StorageIx, Vec<StorageIx>> {
    let mut neighbours: IxVec<StorageIx, Vec<StorageIx>> =
        IxVec::filled(Vec::new(), d.storage.len());
    for h in &d.hosts {
        for a in &h.storage {
            for b in &h.storage {
                if a != b && !neighbours[a].contains(b) {
                    neighbours[a].push(*b);
                }
            }
        }
    }
    neighbours
}

/// The storage systems of one neighbourhood: the seed's, grown by neighbouring storage systems
/// until the model is big enough.
fn grow(
    d: &Domain,
    base: &Assignment,
    seed: &[StorageIx],
    neighbours: &IxVec<StorageIx, Vec<StorageIx>>,
    limit: usize,
) -> IxVec<StorageIx, bool> {
    let mut within = IxVec::filled(false, d.storage.len());
    for &s in seed {
        within[s] = true;
    }
    let mut frontier = seed.to_vec();
    'grow: while let Some(s) = frontier.pop() {
        for &n in &neighbours[s] {
            if within[n] {
                continue;
            }
            within[n] = true;
            if host_columns(d, base, Some(&within)) > limit {
                within[n] = false;
                break 'grow;
            }
            frontier.insert(0, n);
        }
    }
    within
}

/// Re-solves the host MIP over the requests `freed` on the `allowed` hosts, everything else fixed
/// as in `cur`. Returns the new complete assignment, if the MIP gave one, and the neighbourhood
/// model's size.
fn solve_neighbourhood(
    d: &Domain,
    base: &Assignment,
    cur: &Assignment,
    allowed: &IxVec<HostIx, bool>,
    freed: &[RequestIx],
    deadline: &Budget,
) -> Result<(Option<Assignment>, ModelSize), MipError> {
    let mut fixed = cur.clone();
    let mut sub = Assignment::empty(d.requests.len());
    for &i in freed {
        fixed.host[i] = None;
        fixed.storage[i] = None;
        sub.storage[i] = base.storage[i];
    }
    let load = evaluate::final_load(d, &fixed);
    let active = evaluate::active_hosts(d, &fixed);
    let mut warm = sub.clone();
    for &i in freed {
        warm.host[i] = cur.host[i];
    }
    let input = host::HostInput {
        d,
        storage: &sub,
        warm: &warm,
        load: &load,
        active: &active,
        allowed: Some(allowed),
    };
    let secs = deadline.remaining().min(2.0);
    let weight_of = |a: &Assignment| -> f64 {
        freed
            .iter()
            .filter(|&&i| a.host[i].is_some())
            .map(|&i| d.requests[i].priority)
            .sum()
    };
    let placed_now = weight_of(cur);
    let mut best_sub: Option<Assignment> = None;
    if freed.iter().any(|&i| cur.host[i].is_none()) {
        let (r, a) = host::solve(
            &input,
            Stage::Placement,
            &MipOptions {
                presolve: false,
                light_heuristics: false,
                ..mip_options(d, secs * 0.5, None, deadline)
            },
        )?;
        if !r.values.is_empty() {
            best_sub = Some(a);
        }
    }
    let min_weight = best_sub
        .as_ref()
        .map(weight_of)
        .unwrap_or(placed_now)
        .max(placed_now);
    let warm2 = best_sub.clone().unwrap_or(warm.clone());
    let input = host::HostInput {
        warm: &warm2,
        ..input
    };
    let (r, a) = host::solve(
        &input,
        Stage::Policy { min_weight },
        &MipOptions {
            presolve: false,
            light_heuristics: false,
            ..mip_options(d, deadline.remaining().min(2.0), None, deadline)
        },
    )?;
    let candidate_sub = if r.values.is_empty() {
        best_sub
    } else {
        Some(a)
    };
    let next = candidate_sub.map(|a| {
        let mut next = fixed;
        for &i in freed {
            next.storage[i] = base.storage[i];
            next.host[i] = a.host[i];
        }
        next
    });
    Ok((next, r.size))
}

/// Large neighbourhood search for the host phase: repeatedly frees the requests of a few
/// storage systems that share hosts, re-solves the host MIP over those requests and hosts with
/// everything else fixed, and keeps the result when it is better. Deterministic: neighbourhoods
/// come in a fixed order. Returns the answer, the neighbourhoods solved and the last model size.
pub(crate) fn host_lns(
    d: &Domain,
    base: &Assignment,
    start: Assignment,
    deadline: &Budget,
) -> Result<(Assignment, usize, ModelSize), MipError> {
    let score = |a: &Assignment| evaluate::host_score(d, a);
    let mut cur = start;
    let mut iterations = 0;
    let mut size = ModelSize::default();
    let neighbours = storage_neighbours(d);
    let mut stale = 0;
    let mut seed = 0;
    let mut seeds = lns_seeds(d, &cur);
    // Neighbourhoods grow (x2, up to x16) each time a whole round of seeds improves nothing: a
    // local optimum of the small ones is no proof, and the time left goes to larger ones.
    let mut limit = LNS_NEIGHBOURHOOD_COLUMNS;
    while deadline.remaining() > 0.3 {
        if stale >= seeds.len().max(1) {
            if limit >= LNS_NEIGHBOURHOOD_COLUMNS * LNS_GROWTH {
                break;
            }
            limit *= 2;
            stale = 0;
            tracing::debug!(limit, "lns neighbourhoods grow");
        }
        // Seed: the storage systems of the VMs on one host that the policy wants changed
        // (least-loaded newly opened host for `pack`, most utilised for `balance`).
        let Some(start_set) = seeds.get(seed % seeds.len().max(1)).cloned() else {
            break;
        };
        seed += 1;
        let (freed, allowed) = match &start_set {
            // A storage system that reaches the whole pool (bin packing on one shared system)
            // is a neighbourhood of the whole model: host sets cover it instead.
            Seed::Storage(storage) if seed_too_large(d, base, storage, limit) => {
                stale += 1;
                continue;
            }
            Seed::Storage(storage) => {
                let within = grow(d, base, storage, &neighbours, limit);
                let freed: Vec<RequestIx> = d
                    .requests
                    .ids()
                    .filter(|&i| base.storage[i].is_some_and(|s| within[s]))
                    .collect();
                (freed, hosts_of(d, &within))
            }
            Seed::Hosts(h) => host_set(d, &cur, *h, limit),
        };
        if freed.is_empty() {
            stale += 1;
            continue;
        }
        let (next, sub_size) = solve_neighbourhood(d, base, &cur, &allowed, &freed, deadline)?;
        size = sub_size;
        iterations += 1;
        if let Some(next) = next {
            tracing::debug!(iterations, before = ?score(&cur), after = ?score(&next), freed = freed.len(), cols = size.variables, "lns neighbourhood");
            // A neighbourhood's spread rows see only its own domains' members; the whole pool's
            // skew is checked here (a sweep pool of 10,000 requests left two spread groups with a
            // skew of 2 over max_skew 1).
            if better(score(&next), score(&cur)) && evaluate::hard_rules_kept(d, &next, &cur) {
                cur = next;
                stale = 0;
                seeds = lns_seeds(d, &cur);
                seed = 0;
                continue;
            }
        }
        stale += 1;
    }
    // Keep storage for requests without a host: the phase reports them as unplaced.
    for i in d.requests.ids() {
        if cur.storage[i].is_none() {
            cur.storage[i] = base.storage[i];
        }
    }
    Ok((cur, iterations, size))
}

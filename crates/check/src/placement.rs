//! Placement answers: every request exactly once, known reason codes, and every capacity,
//! connectivity and anti-affinity rule after the placements.

use super::codes::{wire_name, Rule, UNPLACED_CODES};
use super::{v, Collector, Expect, Violation};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use vmplace_wire::{Problem, Solution};

use super::tolerance::{exceeds, Sum, CAPACITY_TOL};

fn request_index(problem: &Problem) -> HashMap<&str, usize> {
    problem
        .requests
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id.as_str(), i))
        .collect()
}

/// Host id to its index in the problem.
pub(super) fn host_index(problem: &Problem) -> HashMap<&str, usize> {
    problem
        .hosts
        .iter()
        .enumerate()
        .map(|(i, h)| (h.id.as_str(), i))
        .collect()
}

/// Every request exactly once, in placements or unplaced, and every reason code known.
pub(super) fn requests_once(problem: &Problem, solution: &Solution) -> Collector {
    let mut out = Collector::default();
    let requests = request_index(problem);
    // Every request exactly once, in placements or unplaced.
    let mut seen: HashSet<&str> = HashSet::new();
    let ids = solution
        .placements
        .iter()
        .enumerate()
        .map(|(i, p)| (format!("/placements/{i}/request"), p.request.as_str()))
        .chain(
            solution
                .unplaced
                .iter()
                .enumerate()
                .map(|(i, u)| (format!("/unplaced/{i}/request"), u.request.as_str())),
        );
    for (path, id) in ids {
        if !requests.contains_key(id) {
            out.push(v(
                Rule::UnknownRequest,
                path,
                format!("request `{id}` is not in the problem"),
            ));
        } else if !seen.insert(id) {
            out.push(v(
                Rule::DuplicateRequest,
                path,
                format!("request `{id}` appears twice"),
            ));
        }
    }
    for r in &problem.requests {
        if !seen.contains(r.id.as_str()) {
            out.push(v(
                Rule::MissingRequest,
                "/placements",
                format!("request `{}` is neither placed nor unplaced", r.id),
            ));
        }
    }
    for (i, u) in solution.unplaced.iter().enumerate() {
        if !UNPLACED_CODES.contains(&wire_name(&u.code).as_str()) {
            out.push(v(
                Rule::UnknownReasonCode,
                format!("/unplaced/{i}/code"),
                format!("unknown code `{}`", wire_name(&u.code)),
            ));
        }
    }

    out
}

/// Storage and host capacities, connectivity, fixed storage, hosts present as the phase
/// requires, and anti-affinity.
pub(super) fn capacities(problem: &Problem, solution: &Solution, expect: Expect) -> Collector {
    let mut out = Collector::default();
    let requests = request_index(problem);
    let storage: HashMap<&str, (f64, f64, &BTreeSet<String>)> = problem
        .storage
        .iter()
        .map(|s| {
            let limit = super::storage_limit(s);
            (s.id.as_str(), (limit, s.used_gib, &s.traits))
        })
        .collect();
    let hosts = host_index(problem);
    let mut disk: BTreeMap<&str, Sum> = BTreeMap::new();
    // What the answer adds to each host, per resource.
    let mut load: Vec<BTreeMap<&str, Sum>> = vec![BTreeMap::new(); problem.hosts.len()];
    let mut groups: HashSet<(&str, &str)> = HashSet::new();
    for (i, p) in solution.placements.iter().enumerate() {
        let Some(&ri) = requests.get(p.request.as_str()) else {
            continue;
        };
        let req = &problem.requests[ri];
        if !storage.contains_key(p.storage.as_str()) {
            out.push(v(
                Rule::UnknownStorage,
                format!("/placements/{i}/storage"),
                format!("storage `{}` does not exist", p.storage),
            ));
            continue;
        }
        if let Some(fixed) = &req.storage {
            if fixed != &p.storage {
                out.push(v(
                    Rule::FixedStorageChanged,
                    format!("/placements/{i}/storage"),
                    format!(
                        "request `{}` was given storage `{fixed}`, placed on `{}`",
                        req.id, p.storage
                    ),
                ));
            }
        }
        if let Some(t) = storage.get(p.storage.as_str()).and_then(|(_, _, traits)| {
            broken_trait(
                &req.storage_required_traits,
                &req.storage_forbidden_traits,
                traits,
            )
        }) {
            out.push(v(
                Rule::StorageTraits,
                format!("/placements/{i}/storage"),
                format!("storage `{}` {t} (request `{}`)", p.storage, req.id),
            ));
        }
        // A request given its storage has its image written there: `used_gib` counts it.
        if req.storage.is_none() {
            disk.entry(p.storage.as_str())
                .or_default()
                .add(req.disk_gib);
        }
        match (&p.host, expect) {
            (Some(_), Expect::StorageOnly) => {
                out.push(v(
                    Rule::UnexpectedHost,
                    format!("/placements/{i}/host"),
                    "a storage-phase answer names no host",
                ));
            }
            (None, Expect::WithHosts) => {
                out.push(v(
                    Rule::MissingHost,
                    format!("/placements/{i}/host"),
                    format!("request `{}` has no host", req.id),
                ));
            }
            _ => {}
        }
        let Some(hid) = &p.host else { continue };
        let Some(&hi) = hosts.get(hid.as_str()) else {
            out.push(v(
                Rule::UnknownHost,
                format!("/placements/{i}/host"),
                format!("host `{hid}` does not exist"),
            ));
            continue;
        };
        let host = &problem.hosts[hi];
        if let Some(t) = broken_trait(&req.required_traits, &req.forbidden_traits, &host.traits) {
            out.push(v(
                Rule::HostTraits,
                format!("/placements/{i}/host"),
                format!("host `{hid}` {t} (request `{}`)", req.id),
            ));
        }
        if !host.storage.iter().any(|s| s == &p.storage) {
            out.push(v(
                Rule::NotConnected,
                format!("/placements/{i}/host"),
                format!("host `{hid}` is not connected to storage `{}`", p.storage),
            ));
        }
        for (k, x) in &req.demand {
            load[hi].entry(k.as_str()).or_default().add(*x);
        }
        if let Some(g) = &req.anti_affinity {
            if !groups.insert((g.as_str(), hid.as_str())) {
                out.push(v(
                    Rule::AntiAffinity,
                    format!("/placements/{i}/host"),
                    format!("host `{hid}` runs two members of group `{g}`"),
                ));
            }
        }
    }
    for (sid, add) in &disk {
        if let Some(&(cap, used, _)) = storage.get(sid) {
            let add = add.value();
            if exceeds(used + add, cap) {
                out.push(v(
                    Rule::StorageCapacity,
                    "/placements",
                    format!(
                        "storage `{sid}`: {used} + {add} GiB exceeds {cap} GiB by {} GiB",
                        used + add - cap
                    ),
                ));
            }
        }
    }
    for violation in host_capacities(problem, &load) {
        out.push(violation);
    }
    out
}

/// Every host resource the answer adds to beyond its usable capacity.
fn host_capacities(problem: &Problem, load: &[BTreeMap<&str, Sum>]) -> Vec<Violation> {
    let mut out = Vec::new();
    for (host, added) in problem.hosts.iter().zip(load) {
        for (k, added) in added {
            let cap = super::limit(&host.capacity, &host.reserved, &host.allocation_ratio, k);
            let before = host.used.as_ref().and_then(|u| u.get(*k)).copied();
            let (added, total) = (added.value(), before.unwrap_or(0.0) + added.value());
            if added > CAPACITY_TOL && exceeds(total, cap) {
                out.push(v(
                    Rule::HostCapacity,
                    "/placements",
                    format!(
                        "host `{}`: `{k}` {total} exceeds capacity {cap} by {}",
                        host.id,
                        total - cap
                    ),
                ));
            }
        }
    }
    out
}

/// The first trait rule `has` breaks, as "lacks `T`" or "has `T`": every required trait must be
/// in `has`, no forbidden one.
pub(super) fn broken_trait(
    required: &BTreeSet<String>,
    forbidden: &BTreeSet<String>,
    has: &BTreeSet<String>,
) -> Option<String> {
    required
        .iter()
        .find(|t| !has.contains(*t))
        .map(|t| format!("lacks required trait `{t}`"))
        .or_else(|| {
            forbidden
                .iter()
                .find(|t| has.contains(*t))
                .map(|t| format!("has forbidden trait `{t}`"))
        })
}

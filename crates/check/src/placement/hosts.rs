//! Where each placement goes: storage and hosts that exist, fixed storage kept, hosts present as
//! the phase requires, connectivity, traits and anti-affinity, and every storage system and host
//! within its usable capacity after the placements. A placement of an unknown request is
//! reported once (`UNKNOWN_REQUEST`), one on unknown storage once (`UNKNOWN_STORAGE`), one on an
//! unknown host once (`UNKNOWN_HOST`): the rules after each skip it.

use super::Answer;
use crate::codes::Rule;
use crate::tolerance::{exceeds, CAPACITY_TOL};
use crate::{broken_trait, v, Collector, Expect};
use std::collections::HashSet;

/// `UNKNOWN_STORAGE`: a placement on a storage system the problem does not have.
pub(super) fn unknown_storage(cx: &Answer, out: &mut Collector) {
    for p in cx.placed.iter().filter(|p| p.storage.is_none()) {
        let i = p.i;
        out.push(v(
            Rule::UnknownStorage,
            format!("/placements/{i}/storage"),
            format!(
                "storage `{}` does not exist",
                cx.solution.placements[i].storage
            ),
        ));
    }
}

/// `UNKNOWN_HOST`: a placement on a host the problem does not have.
pub(super) fn unknown_host(cx: &Answer, out: &mut Collector) {
    for (placement, p, _) in cx.stored() {
        if let (Some(hid), None) = (&placement.host, p.host) {
            out.push(v(
                Rule::UnknownHost,
                format!("/placements/{}/host", p.i),
                format!("host `{hid}` does not exist"),
            ));
        }
    }
}

/// `FIXED_STORAGE_CHANGED`: a request given its storage placed elsewhere.
pub(super) fn fixed_storage_changed(cx: &Answer, out: &mut Collector) {
    for (placement, p, req) in cx.stored() {
        let Some(fixed) = &req.storage else { continue };
        if fixed != &placement.storage {
            out.push(v(
                Rule::FixedStorageChanged,
                format!("/placements/{}/storage", p.i),
                format!(
                    "request `{}` was given storage `{fixed}`, placed on `{}`",
                    req.id, placement.storage
                ),
            ));
        }
    }
}

/// `UNEXPECTED_HOST`: a host in a storage-phase answer.
pub(super) fn unexpected_host(cx: &Answer, out: &mut Collector) {
    if cx.expect != Expect::StorageOnly {
        return;
    }
    for (placement, p, _) in cx.stored() {
        if placement.host.is_some() {
            out.push(v(
                Rule::UnexpectedHost,
                format!("/placements/{}/host", p.i),
                "a storage-phase answer names no host",
            ));
        }
    }
}

/// `MISSING_HOST`: no host in an answer that must name one.
pub(super) fn missing_host(cx: &Answer, out: &mut Collector) {
    if cx.expect != Expect::WithHosts {
        return;
    }
    for (placement, p, req) in cx.stored() {
        if placement.host.is_none() {
            out.push(v(
                Rule::MissingHost,
                format!("/placements/{}/host", p.i),
                format!("request `{}` has no host", req.id),
            ));
        }
    }
}

/// `NOT_CONNECTED`: a host that does not reach the placement's storage.
pub(super) fn not_connected(cx: &Answer, out: &mut Collector) {
    for (i, placement, _, host) in cx.hosted() {
        if !host.storage.iter().any(|s| s == &placement.storage) {
            out.push(v(
                Rule::NotConnected,
                format!("/placements/{i}/host"),
                format!(
                    "host `{}` is not connected to storage `{}`",
                    host.id, placement.storage
                ),
            ));
        }
    }
}

/// `HOST_TRAITS`: a host that lacks a trait its request requires or has one it forbids.
pub(super) fn host_traits(cx: &Answer, out: &mut Collector) {
    for (i, _, req, host) in cx.hosted() {
        if let Some(t) = broken_trait(&req.required_traits, &req.forbidden_traits, &host.traits) {
            out.push(v(
                Rule::HostTraits,
                format!("/placements/{i}/host"),
                format!("host `{}` {t} (request `{}`)", host.id, req.id),
            ));
        }
    }
}

/// `STORAGE_TRAITS`: a storage system that lacks a storage trait its request requires or has one
/// it forbids.
pub(super) fn storage_traits(cx: &Answer, out: &mut Collector) {
    for (placement, p, req) in cx.stored() {
        let Some(s) = p.storage.map(|s| &cx.problem.storage[s]) else {
            continue;
        };
        let (required, forbidden) = (&req.storage_required_traits, &req.storage_forbidden_traits);
        if let Some(t) = broken_trait(required, forbidden, &s.traits) {
            out.push(v(
                Rule::StorageTraits,
                format!("/placements/{}/storage", p.i),
                format!("storage `{}` {t} (request `{}`)", placement.storage, req.id),
            ));
        }
    }
}

/// `ANTI_AFFINITY`: a host given a second member of a request's `anti_affinity` group.
pub(super) fn anti_affinity(cx: &Answer, out: &mut Collector) {
    let mut groups: HashSet<(&str, &str)> = HashSet::new();
    for (i, _, req, host) in cx.hosted() {
        let Some(g) = &req.anti_affinity else {
            continue;
        };
        if !groups.insert((g.as_str(), host.id.as_str())) {
            out.push(v(
                Rule::AntiAffinity,
                format!("/placements/{i}/host"),
                format!("host `{}` runs two members of group `{g}`", host.id),
            ));
        }
    }
}

/// `STORAGE_CAPACITY`: a storage system the answer fills beyond its usable space.
pub(super) fn storage_capacity(cx: &Answer, out: &mut Collector) {
    for (sid, add) in &cx.disk {
        let Some(&s) = cx.storage.get(sid) else {
            continue;
        };
        let s = &cx.problem.storage[s];
        let (cap, used, add) = (crate::storage_limit(s), s.used_gib, add.value());
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

/// `HOST_CAPACITY`: a host resource the answer adds to beyond its usable capacity.
pub(super) fn host_capacity(cx: &Answer, out: &mut Collector) {
    for (host, added) in cx.problem.hosts.iter().zip(&cx.load) {
        for (k, added) in added {
            let cap = crate::limit(&host.capacity, &host.reserved, &host.allocation_ratio, k);
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
}

//! The rules of a placement problem that its schema cannot express, one function per family.

use super::{
    allocation, check_groups, check_resources, check_traits, check_unique_ids, pointer_token, Phase,
};
use std::collections::{BTreeSet, HashSet};
use vmplace_wire::errors::{ErrorCode, InputError};
use vmplace_wire::Problem;

/// The rules a schema cannot express. Runs on a deserialized document.
pub(super) fn check_problem(p: &Problem, phase: Phase) -> Vec<InputError> {
    let mut errors = Vec::new();
    check_not_empty(p, &mut errors);
    let storage_ids = check_problem_ids(p, &mut errors);
    allocation::check_storage_allocation(&p.storage, &mut errors);
    let mut known_resources: BTreeSet<&str> = BTreeSet::new();
    for (i, h) in p.hosts.iter().enumerate() {
        check_host_capacity(i, h, &mut errors);
        known_resources.extend(h.capacity.keys().map(String::as_str));
        check_host_used(i, h, &mut errors);
        check_host_links(i, h, &storage_ids, &mut errors);
    }
    check_groups(p, &mut errors);
    for (i, r) in p.requests.iter().enumerate() {
        check_request_demand(p, i, &known_resources, &mut errors);
        check_traits(p, i, &mut errors);
        check_request_storage(i, r, &storage_ids, phase, &mut errors);
    }
    errors
}

/// `storage`, `hosts` and `requests` each have at least one item.
fn check_not_empty(p: &Problem, errors: &mut Vec<InputError>) {
    for (name, len) in [
        ("storage", p.storage.len()),
        ("hosts", p.hosts.len()),
        ("requests", p.requests.len()),
    ] {
        if len == 0 {
            errors.push(InputError::new(
                ErrorCode::EmptyArray,
                format!("/{name}"),
                format!("`{name}` is empty"),
            ));
        }
    }
}

/// Ids unique within `storage`, `hosts` and `requests`; returns the storage ids.
fn check_problem_ids<'a>(p: &'a Problem, errors: &mut Vec<InputError>) -> HashSet<&'a str> {
    let storage_ids = check_unique_ids("storage", p.storage.iter().map(|s| s.id.as_str()), errors);
    check_unique_ids("hosts", p.hosts.iter().map(|h| h.id.as_str()), errors);
    check_unique_ids("requests", p.requests.iter().map(|r| r.id.as_str()), errors);
    storage_ids
}

/// A host's capacity amounts, then its reservation and allocation ratios.
fn check_host_capacity(i: usize, h: &vmplace_wire::Host, errors: &mut Vec<InputError>) {
    check_resources(&format!("/hosts/{i}/capacity"), &h.capacity, errors);
    allocation::check_host_allocation(
        &format!("/hosts/{i}"),
        &h.id,
        &h.capacity,
        &h.reserved,
        &h.allocation_ratio,
        errors,
    );
}

/// A host's `used` amounts: in range, and within what the host can offer.
fn check_host_used(i: usize, h: &vmplace_wire::Host, errors: &mut Vec<InputError>) {
    let Some(used) = &h.used else {
        return;
    };
    let usable = crate::resources::usable(&h.capacity, &h.reserved, &h.allocation_ratio);
    check_resources(&format!("/hosts/{i}/used"), used, errors);
    for (name, &u) in used {
        match usable.get(name) {
            None if u > 0.0 => errors.push(InputError::new(
                ErrorCode::UsedWithoutCapacity,
                format!("/hosts/{i}/used/{}", pointer_token(name)),
                format!(
                    "host `{}` uses {u} of `{name}` but has no such capacity",
                    h.id
                ),
            )),
            Some(&c) if u > c => errors.push(InputError::new(
                ErrorCode::UsedExceedsCapacity,
                format!("/hosts/{i}/used/{}", pointer_token(name)),
                format!("host `{}` uses {u} of `{name}` but has {c} usable", h.id),
            )),
            _ => {}
        }
    }
}

/// A host's storage links: each to a known storage system, none twice.
fn check_host_links(
    i: usize,
    h: &vmplace_wire::Host,
    storage_ids: &HashSet<&str>,
    errors: &mut Vec<InputError>,
) {
    let mut linked = HashSet::new();
    for (j, sid) in h.storage.iter().enumerate() {
        if !storage_ids.contains(sid.as_str()) {
            errors.push(InputError::new(
                ErrorCode::UnknownHostStorage,
                format!("/hosts/{i}/storage/{j}"),
                format!("host `{}` links to unknown storage `{sid}`", h.id),
            ));
        }
        if !linked.insert(sid.as_str()) {
            errors.push(InputError::new(
                ErrorCode::DuplicateLink,
                format!("/hosts/{i}/storage/{j}"),
                format!("host `{}` lists storage `{sid}` twice", h.id),
            ));
        }
    }
}

/// A request's demand: amounts in range, and every resource it needs offered by some host.
fn check_request_demand(
    p: &Problem,
    i: usize,
    known_resources: &BTreeSet<&str>,
    errors: &mut Vec<InputError>,
) {
    let r = &p.requests[i];
    check_resources(&format!("/requests/{i}/demand"), &r.demand, errors);
    for (name, &d) in &r.demand {
        if d > 0.0 && !known_resources.contains(name.as_str()) && !p.hosts.is_empty() {
            errors.push(InputError::new(
                ErrorCode::UnknownResource,
                format!("/requests/{i}/demand/{}", pointer_token(name)),
                format!("request `{}` demands `{name}`, which no host has", r.id),
            ));
        }
    }
}

/// A request's storage: a known system, and present when the host phase needs it.
fn check_request_storage(
    i: usize,
    r: &vmplace_wire::Request,
    storage_ids: &HashSet<&str>,
    phase: Phase,
    errors: &mut Vec<InputError>,
) {
    match &r.storage {
        Some(sid) if !storage_ids.contains(sid.as_str()) => errors.push(InputError::new(
            ErrorCode::UnknownRequestStorage,
            format!("/requests/{i}/storage"),
            format!("request `{}` names unknown storage `{sid}`", r.id),
        )),
        None if phase == Phase::Host => errors.push(InputError::new(
            ErrorCode::MissingStorageChoice,
            format!("/requests/{i}/storage"),
            format!("request `{}` has no storage; the host phase needs it", r.id),
        )),
        _ => {}
    }
}

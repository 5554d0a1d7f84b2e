//! Validation of state documents: the schema stage, then references and ranges.

use super::{finish, parse_json, pointer_token, schema_errors, typed, Valid};
use std::collections::{HashMap, HashSet};
use vmplace_wire::errors::ErrorCode;
use vmplace_wire::state::{State, StateHost, StateVm};
use vmplace_wire::{DocKind, InputError};

/// Reads and validates a state document, every error at once.
pub fn read_state(text: &str) -> Result<Valid<State>, Vec<InputError>> {
    let kind = DocKind::State;
    let value = parse_json(text).map_err(|e| finish(e, kind))?;
    let mut errors = schema_errors::<State>(&value);
    match typed::<State>(value) {
        Ok(s) => {
            errors.extend(check_state(&s));
            if errors.is_empty() {
                return Ok(Valid(s));
            }
        }
        Err(_) if !errors.is_empty() => {}
        Err(e) => errors.push(e),
    }
    Err(finish(errors, kind))
}

/// Runs the rules a schema cannot express on a state built in code (the simulator's rounds); a
/// state read from text goes through [`read_state`].
pub fn validate_state(state: State) -> Result<Valid<State>, Vec<InputError>> {
    let errors = check_state(&state);
    if errors.is_empty() {
        return Ok(Valid(state));
    }
    Err(finish(errors, DocKind::State))
}

/// The rules a state document's schema cannot express, one function per family.
fn check_state(s: &State) -> Vec<InputError> {
    let mut errors = Vec::new();
    check_state_ids(s, &mut errors);
    let storage: HashSet<&str> = s.storage.iter().map(|x| x.id.as_str()).collect();
    let hosts: HashMap<&str, usize> = s
        .hosts
        .iter()
        .enumerate()
        .map(|(i, h)| (h.id.as_str(), i))
        .collect();
    super::allocation::check_storage_allocation(&s.storage, &mut errors);
    for (i, h) in s.hosts.iter().enumerate() {
        check_host_capacity(i, h, &mut errors);
        check_host_storage(i, h, &storage, &mut errors);
        check_host_power(i, h, &mut errors);
    }
    for (i, v) in s.vms.iter().enumerate() {
        let host = hosts.get(v.host.as_str()).map(|&h| &s.hosts[h]);
        check_vm_location(i, v, host, &storage, &mut errors);
        check_vm_demand(i, v, host, &mut errors);
        check_vm_usage(i, v, &mut errors);
    }
    check_groups(s, &mut errors);
    super::reassign::check_reassign(s, &mut errors);
    errors
}

/// Ids unique within `storage`, `hosts` and `vms`.
fn check_state_ids(s: &State, errors: &mut Vec<InputError>) {
    let dup = |array: &str, ids: Vec<&str>, errors: &mut Vec<InputError>| {
        let mut seen = HashSet::new();
        for (i, id) in ids.into_iter().enumerate() {
            if !seen.insert(id) {
                errors.push(InputError::new(
                    ErrorCode::DuplicateId,
                    format!("/{array}/{i}/id"),
                    format!("id `{id}` appears more than once"),
                ));
            }
        }
    };
    dup(
        "storage",
        s.storage.iter().map(|x| x.id.as_str()).collect(),
        errors,
    );
    dup(
        "hosts",
        s.hosts.iter().map(|x| x.id.as_str()).collect(),
        errors,
    );
    dup("vms", s.vms.iter().map(|x| x.id.as_str()).collect(), errors);
}

/// A host's reservation and allocation ratios, then its capacity amounts.
fn check_host_capacity(i: usize, h: &StateHost, errors: &mut Vec<InputError>) {
    super::allocation::check_host_allocation(
        &format!("/hosts/{i}"),
        &h.id,
        &h.capacity,
        &h.reserved,
        &h.allocation_ratio,
        errors,
    );
    for (k, &c) in &h.capacity {
        if c < 0.0 {
            errors.push(InputError::new(
                ErrorCode::OutOfRange,
                format!("/hosts/{i}/capacity/{}", pointer_token(k)),
                format!("`{k}` is {c}"),
            ));
        }
    }
}

/// Every storage system a host links to is known.
fn check_host_storage(
    i: usize,
    h: &StateHost,
    storage: &HashSet<&str>,
    errors: &mut Vec<InputError>,
) {
    for (j, sid) in h.storage.iter().enumerate() {
        if !storage.contains(sid.as_str()) {
            errors.push(InputError::new(
                ErrorCode::UnknownHostStorage,
                format!("/hosts/{i}/storage/{j}"),
                format!("unknown storage `{sid}`"),
            ));
        }
    }
}

/// A host's power model, if any: 11 non-negative watts.
fn check_host_power(i: usize, h: &StateHost, errors: &mut Vec<InputError>) {
    if let Some(p) = &h.power {
        if p.watts.len() != 11 || p.watts.iter().any(|w| *w < 0.0) {
            errors.push(InputError::new(
                ErrorCode::BadPowerModel,
                format!("/hosts/{i}/power/watts"),
                format!(
                    "{} entries; 11 non-negative watts are needed",
                    p.watts.len()
                ),
            ));
        }
    }
}

/// A VM's host and storage are known, and the host reaches the storage.
fn check_vm_location(
    i: usize,
    v: &StateVm,
    host: Option<&StateHost>,
    storage: &HashSet<&str>,
    errors: &mut Vec<InputError>,
) {
    if host.is_none() {
        errors.push(InputError::new(
            ErrorCode::UnknownVmHost,
            format!("/vms/{i}/host"),
            format!("unknown host `{}`", v.host),
        ));
    }
    if !storage.contains(v.storage.as_str()) {
        errors.push(InputError::new(
            ErrorCode::UnknownVmStorage,
            format!("/vms/{i}/storage"),
            format!("unknown storage `{}`", v.storage),
        ));
    } else if let Some(h) = host {
        if !h.storage.contains(&v.storage) {
            errors.push(InputError::new(
                ErrorCode::VmNotConnected,
                format!("/vms/{i}/storage"),
                format!("host `{}` does not reach storage `{}`", v.host, v.storage),
            ));
        }
    }
}

/// A VM's demand: amounts not negative, and every resource it needs offered by its host.
fn check_vm_demand(i: usize, v: &StateVm, host: Option<&StateHost>, errors: &mut Vec<InputError>) {
    for (k, &d) in &v.demand {
        if d < 0.0 {
            errors.push(InputError::new(
                ErrorCode::OutOfRange,
                format!("/vms/{i}/demand/{}", pointer_token(k)),
                format!("`{k}` is {d}"),
            ));
        }
        if let Some(h) = host {
            if d > 0.0 && !h.capacity.contains_key(k) {
                errors.push(InputError::new(
                    ErrorCode::UnknownResource,
                    format!("/vms/{i}/demand/{}", pointer_token(k)),
                    format!("host `{}` has no `{k}`", v.host),
                ));
            }
        }
    }
}

/// A VM's usage samples: of a resource it demands, each a fraction in [0, 1].
fn check_vm_usage(i: usize, v: &StateVm, errors: &mut Vec<InputError>) {
    for (k, samples) in &v.usage {
        if !v.demand.contains_key(k) {
            errors.push(InputError::new(
                ErrorCode::UnknownResource,
                format!("/vms/{i}/usage/{}", pointer_token(k)),
                format!("usage of `{k}`, which the VM does not demand"),
            ));
        }
        if let Some(j) = samples.iter().position(|x| !(0.0..=1.0).contains(x)) {
            errors.push(InputError::new(
                ErrorCode::BadUsage,
                format!("/vms/{i}/usage/{}/{j}", pointer_token(k)),
                format!("sample {} is not in [0, 1]", samples[j]),
            ));
        }
    }
}

/// `groups[]` as in placement, and every group a VM names defined.
fn check_groups(s: &State, errors: &mut Vec<InputError>) {
    let has_label = |key: &str| s.hosts.iter().any(|h| h.labels.contains_key(key));
    let ids = super::check_group_defs(&s.groups, has_label, errors);
    for (i, v) in s.vms.iter().enumerate() {
        for (j, g) in v.groups.iter().enumerate() {
            let (path, who) = (format!("/vms/{i}/groups/{j}"), format!("VM `{}` is", v.id));
            super::check_group_ref(&ids, g, path, &who, errors);
        }
    }
}

/// How host `h` fails VM `vm`'s traits, as the planner's admission refuses it: the first required
/// trait it lacks, or the first forbidden one it has.
fn unmet_trait(vm: &StateVm, h: &StateHost) -> Option<String> {
    let lacks = vm.required_traits.iter().find(|t| !h.traits.contains(*t));
    let has = vm.forbidden_traits.iter().find(|t| h.traits.contains(*t));
    match (lacks, has) {
        (Some(t), _) => Some(format!(
            "host `{}` lacks trait `{t}`, which VM `{}` requires",
            h.id, vm.id
        )),
        (None, Some(t)) => Some(format!(
            "host `{}` has trait `{t}`, which VM `{}` forbids",
            h.id, vm.id
        )),
        (None, None) => None,
    }
}

/// The moves of a plan handed in to be sequenced (`migrate --sequence`): each names a VM of the
/// state, once, from the host it is on, to an active host that reaches its storage and has the
/// traits it requires and none it forbids (as admission asks). Every error at once. The plan's
/// own `steps` and `via` are ignored: vmplace orders the moves itself.
pub fn check_moves(state: &State, plan: &vmplace_wire::state::Plan) -> Vec<InputError> {
    let vms: HashMap<&str, usize> = state
        .vms
        .iter()
        .enumerate()
        .map(|(i, v)| (v.id.as_str(), i))
        .collect();
    let hosts: HashMap<&str, usize> = state
        .hosts
        .iter()
        .enumerate()
        .map(|(i, h)| (h.id.as_str(), i))
        .collect();
    let mut seen = HashSet::new();
    let mut errors = Vec::new();
    for (i, m) in plan.migrations.iter().enumerate() {
        let at = |field: &str| format!("/migrations/{i}/{field}");
        let Some(&vi) = vms.get(m.vm.as_str()) else {
            errors.push(InputError::new(
                ErrorCode::UnknownMoveVm,
                at("vm"),
                format!("VM `{}` is not in the state", m.vm),
            ));
            continue;
        };
        let vm = &state.vms[vi];
        if !seen.insert(m.vm.as_str()) {
            errors.push(InputError::new(
                ErrorCode::MoveRepeated,
                at("vm"),
                format!("VM `{}` moves more than once", m.vm),
            ));
        }
        if m.from != vm.host {
            errors.push(InputError::new(
                ErrorCode::MoveWrongSource,
                at("from"),
                format!("VM `{}` runs on `{}`, not `{}`", m.vm, vm.host, m.from),
            ));
        }
        let target = hosts.get(m.to.as_str()).map(|&h| &state.hosts[h]);
        let cause = match target {
            None => Some(format!("host `{}` is not in the state", m.to)),
            Some(h) if h.state != vmplace_wire::state::HostState::Active => {
                Some(format!("host `{}` is in maintenance or off", m.to))
            }
            Some(h) if !h.storage.contains(&vm.storage) => Some(format!(
                "host `{}` does not reach storage `{}`",
                m.to, vm.storage
            )),
            Some(h) => unmet_trait(vm, h),
        };
        if let Some(cause) = cause {
            errors.push(InputError::new(ErrorCode::BadMoveTarget, at("to"), cause));
        }
    }
    finish(errors, DocKind::Plan)
}

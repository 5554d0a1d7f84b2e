//! The reassignment fields of a state document (`resources`, `balance`, `move_costs`,
//! `min_domains`, `dependencies`, `hosts[].safety_capacity`, `vms[].move_cost`,
//! `policy.reassign`): references, whole amounts, and what the engine does not model. Without
//! `policy.reassign` the fields are refused (no other planner reads them).

use super::pointer_token;
use std::collections::{BTreeSet, HashSet};
use vmplace_wire::errors::ErrorCode;
use vmplace_wire::problem::GroupPolicy;
use vmplace_wire::state::{HostState, State, StateHost};
use vmplace_wire::InputError;

/// Largest amount the engine takes (the challenge's 32-bit range).
const WHOLE_MAX: f64 = vmplace_wire::reassign::WHOLE_MAX;

/// Every error of the reassignment fields, appended to `errors`.
pub(super) fn check_reassign(s: &State, errors: &mut Vec<InputError>) {
    let on = s.policy.as_ref().is_some_and(|p| p.reassign.is_some());
    if !on {
        refuse_without_policy(s, errors);
        return;
    }
    let names: HashSet<&str> = s
        .hosts
        .iter()
        .flat_map(|h| h.capacity.keys().map(String::as_str))
        .collect();
    let mut seen = HashSet::new();
    for (i, r) in s.resources.iter().enumerate() {
        if !names.contains(r.name.as_str()) {
            let cause = format!("resource `{}` is in no host's `capacity`", r.name);
            errors.push(reference(format!("/resources/{i}/name"), cause));
        }
        if !seen.insert(r.name.as_str()) {
            errors.push(InputError::new(
                ErrorCode::DuplicateId,
                format!("/resources/{i}/name"),
                format!("resource `{}` is listed more than once", r.name),
            ));
        }
    }
    for (i, b) in s.balance.iter().enumerate() {
        for (field, name) in [("resource_a", &b.resource_a), ("resource_b", &b.resource_b)] {
            if !names.contains(name.as_str()) {
                let cause = format!("resource `{name}` is in no host's `capacity`");
                errors.push(reference(format!("/balance/{i}/{field}"), cause));
            }
        }
    }
    check_amounts(s, errors);
    check_move_costs(s, errors);
    check_group_rules(s, errors);
    check_unsupported(s, errors);
}

fn reference(path: String, cause: String) -> InputError {
    InputError::new(ErrorCode::ReassignReference, path, cause)
}

fn unsupported(path: String, cause: String) -> InputError {
    InputError::new(ErrorCode::ReassignUnsupported, path, cause)
}

/// The reassignment fields given without `policy.reassign`.
fn refuse_without_policy(s: &State, errors: &mut Vec<InputError>) {
    let top = [
        ("resources", !s.resources.is_empty()),
        ("balance", !s.balance.is_empty()),
        ("move_costs", s.move_costs.is_some()),
        ("min_domains", s.min_domains.is_some()),
        ("dependencies", s.dependencies.is_some()),
    ];
    let hosts = s
        .hosts
        .iter()
        .enumerate()
        .filter(|(_, h)| !h.safety_capacity.is_empty())
        .map(|(i, _)| format!("hosts/{i}/safety_capacity"));
    let vms = s
        .vms
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.move_cost.map(|_| format!("vms/{i}/move_cost")));
    let given = top
        .into_iter()
        .filter(|(_, g)| *g)
        .map(|(f, _)| f.to_string())
        .chain(hosts)
        .chain(vms);
    for field in given {
        errors.push(unsupported(
            format!("/{field}"),
            format!("`{field}` is read only under `policy.reassign`, which is not given"),
        ));
    }
}

/// Usable capacities, safety capacities and demands are whole numbers the engine can count.
fn check_amounts(s: &State, errors: &mut Vec<InputError>) {
    // Negative amounts are the schema's and the state's own errors (`E1104`).
    let whole = |x: f64| x < 0.0 || (x.fract() == 0.0 && x <= WHOLE_MAX);
    let bad = |path: String, what: String, x: f64| {
        InputError::new(
            ErrorCode::ReassignValue,
            path,
            format!("{what} is {x}, not a whole number in 0..=2147483647"),
        )
    };
    for (i, h) in s.hosts.iter().enumerate() {
        let usable = crate::resources::usable(&h.capacity, &h.reserved, &h.allocation_ratio);
        for (k, &c) in &usable {
            if !whole(c) {
                let what = format!("host `{}`'s usable `{k}`", h.id);
                errors.push(bad(
                    format!("/hosts/{i}/capacity/{}", pointer_token(k)),
                    what,
                    c,
                ));
            }
        }
        for (k, &c) in &h.safety_capacity {
            let path = format!("/hosts/{i}/safety_capacity/{}", pointer_token(k));
            if !h.capacity.contains_key(k) {
                let cause = format!("host `{}` has no `{k}` in its `capacity`", h.id);
                errors.push(reference(path.clone(), cause));
            } else if !whole(c) {
                errors.push(bad(path, format!("the safety capacity of `{k}`"), c));
            }
        }
    }
    for (i, v) in s.vms.iter().enumerate() {
        for (k, &d) in &v.demand {
            if !whole(d) {
                let what = format!("VM `{}`'s demand of `{k}`", v.id);
                errors.push(bad(
                    format!("/vms/{i}/demand/{}", pointer_token(k)),
                    what,
                    d,
                ));
            }
        }
    }
}

/// A host's domain of a scope: its id for `"host"`, else its value of that label.
pub fn domain_of<'a>(h: &'a StateHost, scope: &str) -> Option<&'a str> {
    if scope == "host" {
        Some(h.id.as_str())
    } else {
        h.labels.get(scope).map(String::as_str)
    }
}

/// The domains of a scope (`"host"` or a label every host has), or the error's cause.
fn scope_domains<'a>(s: &'a State, scope: &str) -> Result<BTreeSet<&'a str>, String> {
    let mut out = BTreeSet::new();
    for h in &s.hosts {
        match domain_of(h, scope) {
            Some(d) => out.insert(d),
            None => return Err(format!("host `{}` has no label `{scope}`", h.id)),
        };
    }
    Ok(out)
}

/// `move_costs`: its scope, and every key a host id or a value of the scope's label.
fn check_move_costs(s: &State, errors: &mut Vec<InputError>) {
    let Some(mc) = &s.move_costs else {
        return;
    };
    let domains = match scope_domains(s, &mc.scope) {
        Ok(d) => d,
        Err(cause) => return errors.push(reference("/move_costs/scope".into(), cause)),
    };
    for (from, row) in &mc.costs {
        let path = format!("/move_costs/costs/{}", pointer_token(from));
        if !domains.contains(from.as_str()) {
            let cause = format!("`{from}` is no host's `{}`", mc.scope);
            errors.push(reference(path.clone(), cause));
        }
        for to in row.keys().filter(|to| !domains.contains(to.as_str())) {
            let cause = format!("`{to}` is no host's `{}`", mc.scope);
            errors.push(reference(format!("{path}/{}", pointer_token(to)), cause));
        }
    }
}

/// `min_domains` and `dependencies`: known groups, scopes every host has, and no more domains
/// asked than the scope has.
fn check_group_rules(s: &State, errors: &mut Vec<InputError>) {
    let groups: HashSet<&str> = s.groups.iter().map(|g| g.id.as_str()).collect();
    let group_ref = |path: String, g: &str, errors: &mut Vec<InputError>| {
        if !groups.contains(g) {
            errors.push(reference(path, format!("group `{g}` is not in `groups`")));
        }
    };
    let mut scope_ok = |path: String, scope: &str| match scope_domains(s, scope) {
        Ok(d) => Some(d.len()),
        Err(cause) => {
            errors.push(reference(path, cause));
            None
        }
    };
    let mut found = Vec::new();
    if let Some(md) = &s.min_domains {
        let n = scope_ok("/min_domains/scope".into(), &md.scope);
        for (g, &k) in &md.groups {
            let path = format!("/min_domains/groups/{}", pointer_token(g));
            if let Some(n) = n.filter(|&n| k as usize > n) {
                found.push(InputError::new(
                    ErrorCode::ReassignValue,
                    path.clone(),
                    format!(
                        "{k} domains asked for group `{g}`, scope `{}` has {n}",
                        md.scope
                    ),
                ));
            }
            group_ref(path, g, &mut found);
        }
    }
    if let Some(d) = &s.dependencies {
        scope_ok("/dependencies/scope".into(), &d.scope);
        for (i, r) in d.rules.iter().enumerate() {
            group_ref(
                format!("/dependencies/rules/{i}/group"),
                &r.group,
                &mut found,
            );
            group_ref(format!("/dependencies/rules/{i}/on"), &r.on, &mut found);
        }
    }
    errors.extend(found);
}

/// What the engine does not model: hosts not active, usage histories, traits, the legacy
/// `anti_affinity`, a VM in several groups, groups other than hard anti-affinity over hosts
/// (the conflict rule), and a host that does not reach a VM's storage.
fn check_unsupported(s: &State, errors: &mut Vec<InputError>) {
    let stores: BTreeSet<&str> = s.vms.iter().map(|v| v.storage.as_str()).collect();
    for (i, h) in s.hosts.iter().enumerate() {
        if h.state != HostState::Active {
            let cause = format!(
                "host `{}` is not active; the engine plans active pools",
                h.id
            );
            errors.push(unsupported(format!("/hosts/{i}/state"), cause));
        }
        if let Some(st) = stores.iter().find(|st| !h.storage.iter().any(|x| x == *st)) {
            let cause = format!("host `{}` does not reach storage `{st}`; under `policy.reassign` every host reaches every VM's storage", h.id);
            errors.push(unsupported(format!("/hosts/{i}/storage"), cause));
        }
    }
    for (i, v) in s.vms.iter().enumerate() {
        let fields = [
            ("usage", !v.usage.is_empty()),
            ("required_traits", !v.required_traits.is_empty()),
            ("forbidden_traits", !v.forbidden_traits.is_empty()),
            ("anti_affinity", v.anti_affinity.is_some()),
        ];
        for (f, _) in fields.into_iter().filter(|(_, given)| *given) {
            let cause = format!(
                "VM `{}`: `{f}` is not modelled by the reassignment engine",
                v.id
            );
            errors.push(unsupported(format!("/vms/{i}/{f}"), cause));
        }
        if v.groups.len() > 1 {
            let cause = format!(
                "VM `{}` is in {} groups; at most one under `policy.reassign`",
                v.id,
                v.groups.len()
            );
            errors.push(unsupported(format!("/vms/{i}/groups/1"), cause));
        }
    }
    for (i, g) in s.groups.iter().enumerate() {
        let conflict = g.policy == GroupPolicy::AntiAffinity
            && g.scope == "host"
            && g.max_per_domain.unwrap_or(1) == 1
            && g.hard.unwrap_or(true);
        if !conflict {
            let cause = format!("group `{}`: under `policy.reassign` a group is a hard anti-affinity over hosts, one member per host", g.id);
            errors.push(unsupported(format!("/groups/{i}"), cause));
        }
    }
}

//! A failure scenario of `vmplace capacity --fail`, replayed on the state document: the witness
//! restarts only VMs of the failed hosts, each once, on a surviving active host that reaches its
//! storage, within every capacity (running VMs count with their whole demand) and apart from the
//! other members of its anti-affinity group, and no hard group rule (`groups[]`) more broken than
//! the survivors have it; every VM of the failed hosts is either restarted or listed; and the
//! counts, bound, gap and status agree.

use super::codes::Rule;
use super::tolerance::exceeds;
use super::{v, Collector, Findings};
use std::collections::{BTreeMap, HashMap, HashSet};
use vmplace_wire::capacity::Scenario;
use vmplace_wire::state::{HostState, State, StateHost, StateVm};

/// Checks one scenario against the state it was computed on.
pub fn check_scenario(state: &State, sc: &Scenario) -> Findings {
    let failed: HashSet<&str> = sc.hosts.iter().map(String::as_str).collect();
    let mut out = Collector::default();
    for (i, h) in sc.hosts.iter().enumerate() {
        if !state.hosts.iter().any(|x| &x.id == h) {
            out.push(v(
                Rule::UnknownHost,
                format!("/hosts/{i}"),
                format!("`{h}` is not a host"),
            ));
        }
    }
    coverage(state, sc, &failed, &mut out);
    let (mut used, mut members) = survivors(state, &failed);
    for (i, r) in sc.witness.iter().enumerate() {
        let at = format!("/witness/{i}");
        let Some(vm) = state.vms.iter().find(|x| x.id == r.vm) else {
            continue; // coverage reported it
        };
        let Some(host) = state.hosts.iter().find(|h| h.id == r.host) else {
            out.push(v(
                Rule::UnknownHost,
                at,
                format!("`{}` is not a host", r.host),
            ));
            continue;
        };
        if failed.contains(host.id.as_str()) || host.state != HostState::Active {
            out.push(v(
                Rule::FailedHost,
                &at,
                format!(
                    "`{}` restarts on `{}`, which failed or is not active",
                    vm.id, host.id
                ),
            ));
        }
        if let Some(t) =
            crate::broken_trait(&vm.required_traits, &vm.forbidden_traits, &host.traits)
        {
            out.push(v(
                Rule::HostTraits,
                &at,
                format!("`{}` {t} (VM `{}`)", host.id, vm.id),
            ));
        }
        if !host.storage.contains(&vm.storage) {
            out.push(v(
                Rule::NotConnected,
                &at,
                format!("`{}` does not reach storage `{}`", host.id, vm.storage),
            ));
        }
        let load = used.entry(host.id.as_str()).or_default();
        for (k, d) in &vm.demand {
            *load.entry(k.as_str()).or_default() += d;
        }
        if let Some(g) = vm.anti_affinity.as_deref() {
            let n = members.entry((host.id.as_str(), g)).or_default();
            *n += 1;
            if *n > 1 {
                out.push(v(
                    Rule::AntiAffinity,
                    &at,
                    format!("`{}` joins another member of `{g}` on `{}`", vm.id, host.id),
                ));
            }
        }
    }
    for h in &state.hosts {
        for (k, u) in used.get(h.id.as_str()).into_iter().flatten() {
            let cap = super::limit(&h.capacity, &h.reserved, &h.allocation_ratio, k);
            let restarted_here = sc.witness.iter().any(|r| r.host == h.id);
            if restarted_here && exceeds(*u, cap) {
                out.push(v(
                    Rule::HostCapacity,
                    "/witness",
                    format!("`{}` would use {u} of {cap} {k}", h.id),
                ));
            }
        }
    }
    group_rules(state, sc, &failed, &mut out);
    counts(sc, &mut out);
    out.finish()
}

/// The hard rules of `groups[]` after the restarts, against the survivors: no domain above
/// `max_per_domain` (or what the survivors hold), affinity and spread no more broken (spread over
/// the domains with a surviving active host).
fn group_rules(state: &State, sc: &Scenario, failed: &HashSet<&str>, out: &mut Collector) {
    fn alive<'s>(vm: &'s StateVm, failed: &HashSet<&str>) -> Option<&'s str> {
        (!failed.contains(vm.host.as_str())).then_some(vm.host.as_str())
    }
    let room = |h: &StateHost| h.state == HostState::Active && !failed.contains(h.id.as_str());
    let rules = super::plan_groups::PlanRules::at(state, |vm| alive(vm, failed), room);
    if rules.is_empty() {
        return;
    }
    let after: HashMap<&str, &str> = state
        .vms
        .iter()
        .filter_map(|vm| Some((vm.id.as_str(), alive(vm, failed)?)))
        .chain(sc.witness.iter().map(|r| (r.vm.as_str(), r.host.as_str())))
        .collect();
    let at = |vm: &str| after.get(vm).copied();
    rules.check_anti_affinity(|vm| at(vm).into_iter().collect(), "/witness", out);
    rules.check_settled(at, "/witness", out);
}

/// The witness and the unrestartable list together are the VMs of the failed hosts, once each.
fn coverage(state: &State, sc: &Scenario, failed: &HashSet<&str>, out: &mut Collector) {
    let on_failed: HashSet<&str> = state
        .vms
        .iter()
        .filter(|x| failed.contains(x.host.as_str()))
        .map(|x| x.id.as_str())
        .collect();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let listed = sc.witness.iter().map(|r| ("witness", r.vm.as_str())).chain(
        sc.unrestartable
            .iter()
            .map(|u| ("unrestartable", u.vm.as_str())),
    );
    for (i, (list, id)) in listed.enumerate() {
        if !on_failed.contains(id) {
            out.push(v(
                Rule::UnknownVm,
                format!("/{list}"),
                format!("`{id}` (entry {i}) did not run on a failed host"),
            ));
        }
        *seen.entry(id).or_default() += 1;
    }
    for id in &on_failed {
        let n = seen.get(id).copied().unwrap_or(0);
        if n != 1 {
            out.push(v(
                Rule::RestartCoverage,
                "/witness",
                format!("`{id}` ran on a failed host and is listed {n} times"),
            ));
        }
    }
    if sc.vms != on_failed.len() {
        out.push(v(
            Rule::RestartCoverage,
            "/vms",
            format!(
                "{} VMs ran on the failed hosts, not {}",
                on_failed.len(),
                sc.vms
            ),
        ));
    }
}

/// What the survivors use, and their anti-affinity members, before the restarts.
type Load<'a> = BTreeMap<&'a str, BTreeMap<&'a str, f64>>;
fn survivors<'a>(
    state: &'a State,
    failed: &HashSet<&str>,
) -> (Load<'a>, HashMap<(&'a str, &'a str), usize>) {
    let mut used: Load = BTreeMap::new();
    let mut members = HashMap::new();
    for vm in state
        .vms
        .iter()
        .filter(|x| !failed.contains(x.host.as_str()))
    {
        let load = used.entry(vm.host.as_str()).or_default();
        for (k, d) in &vm.demand {
            *load.entry(k.as_str()).or_default() += d;
        }
        if let Some(g) = vm.anti_affinity.as_deref() {
            *members.entry((vm.host.as_str(), g)).or_default() += 1;
        }
    }
    (used, members)
}

/// `restarted`, `restartable`, `bound`, `gap` and `status` agree with the lists.
fn counts(sc: &Scenario, out: &mut Collector) {
    if sc.restarted != sc.witness.len() || sc.restartable != sc.unrestartable.is_empty() {
        out.push(v(
            Rule::BadStats,
            "/restarted",
            "restarted and restartable must match the witness and the unrestartable list",
        ));
    }
    if sc.bound < sc.restarted || sc.bound > sc.vms {
        out.push(v(
            Rule::BadBound,
            "/bound",
            format!(
                "a bound of {} outside [{}, {}]",
                sc.bound, sc.restarted, sc.vms
            ),
        ));
    }
    let gap = if sc.bound > 0 {
        (sc.bound - sc.restarted.min(sc.bound)) as f64 / sc.bound as f64
    } else {
        0.0
    };
    if (sc.gap - gap).abs() > 1e-9 {
        out.push(v(
            Rule::BadGap,
            "/gap",
            format!("gap {} is not {gap}", sc.gap),
        ));
    }
    let proven = sc.status == vmplace_wire::Status::Optimal;
    if proven && sc.bound != sc.restarted {
        out.push(v(
            Rule::BadStatus,
            "/status",
            "optimal, but the bound says more VMs could restart",
        ));
    }
}

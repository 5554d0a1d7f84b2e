//! A failure scenario of `vmplace capacity --fail`, replayed on the state document: the witness
//! restarts only VMs of the failed hosts, each once, on a surviving active host that reaches its
//! storage, within every capacity (running VMs count with their whole demand) and apart from the
//! other members of its anti-affinity group, and no hard group rule (`groups[]`) more broken than
//! the survivors have it; every VM of the failed hosts is either restarted or listed; and the
//! counts, bound, gap and status agree.

use super::codes::Rule;
use super::tolerance::exceeds;
use super::{broken_trait, v, Collector, Findings};
use std::collections::{BTreeMap, HashMap, HashSet};
use vmplace_wire::capacity::Scenario;
use vmplace_wire::state::{HostState, State, StateHost, StateVm};

/// A rule of failure scenarios: its code, and the function that checks it over the context.
type RuleCheck = (Rule, fn(&Failed, &mut Collector));

/// Every failure-scenario rule, in the README's order ([`Rule::FAILURE`]).
const RULES: [RuleCheck; 13] = [
    (Rule::UnknownHost, unknown_host),
    (Rule::UnknownVm, unknown_vm),
    (Rule::RestartCoverage, restart_coverage),
    (Rule::FailedHost, failed_host),
    (Rule::NotConnected, not_connected),
    (Rule::HostTraits, host_traits),
    (Rule::HostCapacity, host_capacity),
    (Rule::AntiAffinity, anti_affinity),
    (Rule::GroupRule, group_rule),
    (Rule::BadStats, bad_stats),
    (Rule::BadBound, bad_bound),
    (Rule::BadGap, bad_gap),
    (Rule::BadStatus, bad_status),
];

/// Checks one scenario against the state it was computed on.
pub fn check_scenario(state: &State, sc: &Scenario) -> Findings {
    let cx = Failed::new(state, sc);
    let mut out = Collector::default();
    for (_, rule) in RULES {
        rule(&cx, &mut out);
    }
    out.finish()
}

/// A restart of the witness naming a VM of the state.
struct Restart<'a> {
    /// Its index in `witness`.
    i: usize,
    vm: &'a StateVm,
    /// Its host, None if the state has no such host.
    host: Option<&'a StateHost>,
}

/// A scenario as every rule reads it, built once.
struct Failed<'a> {
    state: &'a State,
    sc: &'a Scenario,
    /// The failed hosts.
    failed: HashSet<&'a str>,
    /// The VMs that ran on them.
    on_failed: HashSet<&'a str>,
    /// The witness's restarts of known VMs, in order.
    restarts: Vec<Restart<'a>>,
    /// What each host uses after the restarts (the survivors and every restart on a known host),
    /// per resource.
    used: Load<'a>,
    /// The survivors' anti-affinity members per host and group.
    members: HashMap<(&'a str, &'a str), usize>,
}

impl<'a> Failed<'a> {
    fn new(state: &'a State, sc: &'a Scenario) -> Failed<'a> {
        let failed: HashSet<&str> = sc.hosts.iter().map(String::as_str).collect();
        // The first of a repeated id, as a search from the start finds it.
        let mut vms: HashMap<&str, &StateVm> = HashMap::new();
        for vm in &state.vms {
            vms.entry(vm.id.as_str()).or_insert(vm);
        }
        let mut hosts: HashMap<&str, &StateHost> = HashMap::new();
        for h in &state.hosts {
            hosts.entry(h.id.as_str()).or_insert(h);
        }
        let restarts: Vec<Restart> = sc
            .witness
            .iter()
            .enumerate()
            .filter_map(|(i, r)| {
                Some(Restart {
                    i,
                    vm: vms.get(r.vm.as_str())?,
                    host: hosts.get(r.host.as_str()).copied(),
                })
            })
            .collect();
        let on_failed = state
            .vms
            .iter()
            .filter(|x| failed.contains(x.host.as_str()));
        let on_failed = on_failed.map(|x| x.id.as_str()).collect();
        let (mut used, members) = survivors(state, &failed);
        for r in &restarts {
            let Some(host) = r.host else { continue };
            let load = used.entry(host.id.as_str()).or_default();
            for (k, d) in &r.vm.demand {
                *load.entry(k.as_str()).or_default() += d;
            }
        }
        Failed {
            state,
            sc,
            failed,
            on_failed,
            restarts,
            used,
            members,
        }
    }

    /// The restarts of known VMs on known hosts, each with its host.
    fn placed(&self) -> impl Iterator<Item = (String, &'a StateVm, &'a StateHost)> + '_ {
        let restarts = self.restarts.iter();
        restarts.filter_map(|r| Some((format!("/witness/{}", r.i), r.vm, r.host?)))
    }

    /// The witness and the unrestartable list, in that order: each entry's list and VM id.
    fn listed(&self) -> impl Iterator<Item = (&'static str, &'a str)> {
        let witness = self.sc.witness.iter().map(|r| ("witness", r.vm.as_str()));
        let unrestartable = self.sc.unrestartable.iter();
        witness.chain(unrestartable.map(|u| ("unrestartable", u.vm.as_str())))
    }
}

/// `UNKNOWN_HOST`: a failed host, or a restart's host, that the state does not have.
fn unknown_host(cx: &Failed, out: &mut Collector) {
    for (i, h) in cx.sc.hosts.iter().enumerate() {
        if !cx.state.hosts.iter().any(|x| &x.id == h) {
            out.push(v(
                Rule::UnknownHost,
                format!("/hosts/{i}"),
                format!("`{h}` is not a host"),
            ));
        }
    }
    for r in cx.restarts.iter().filter(|r| r.host.is_none()) {
        out.push(v(
            Rule::UnknownHost,
            format!("/witness/{}", r.i),
            format!("`{}` is not a host", cx.sc.witness[r.i].host),
        ));
    }
}

/// `UNKNOWN_VM`: a VM restarted or listed as unrestartable that did not run on a failed host.
fn unknown_vm(cx: &Failed, out: &mut Collector) {
    for (i, (list, id)) in cx.listed().enumerate() {
        if !cx.on_failed.contains(id) {
            out.push(v(
                Rule::UnknownVm,
                format!("/{list}"),
                format!("`{id}` (entry {i}) did not run on a failed host"),
            ));
        }
    }
}

/// `RESTART_COVERAGE`: the witness and the unrestartable list together are not the VMs of the
/// failed hosts, once each, or `vms` does not count them.
fn restart_coverage(cx: &Failed, out: &mut Collector) {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (_, id) in cx.listed() {
        *seen.entry(id).or_default() += 1;
    }
    for id in &cx.on_failed {
        let n = seen.get(id).copied().unwrap_or(0);
        if n != 1 {
            out.push(v(
                Rule::RestartCoverage,
                "/witness",
                format!("`{id}` ran on a failed host and is listed {n} times"),
            ));
        }
    }
    if cx.sc.vms != cx.on_failed.len() {
        out.push(v(
            Rule::RestartCoverage,
            "/vms",
            format!(
                "{} VMs ran on the failed hosts, not {}",
                cx.on_failed.len(),
                cx.sc.vms
            ),
        ));
    }
}

/// `FAILED_HOST`: a restart on a failed or inactive host.
fn failed_host(cx: &Failed, out: &mut Collector) {
    for (at, vm, host) in cx.placed() {
        if cx.failed.contains(host.id.as_str()) || host.state != HostState::Active {
            out.push(v(
                Rule::FailedHost,
                &at,
                format!(
                    "`{}` restarts on `{}`, which failed or is not active",
                    vm.id, host.id
                ),
            ));
        }
    }
}

/// `NOT_CONNECTED`: a restart on a host that does not reach the VM's storage.
fn not_connected(cx: &Failed, out: &mut Collector) {
    for (at, vm, host) in cx.placed() {
        if !host.storage.contains(&vm.storage) {
            out.push(v(
                Rule::NotConnected,
                &at,
                format!("`{}` does not reach storage `{}`", host.id, vm.storage),
            ));
        }
    }
}

/// `HOST_TRAITS`: a restart on a host that lacks a trait the VM requires or has one it forbids.
fn host_traits(cx: &Failed, out: &mut Collector) {
    for (at, vm, host) in cx.placed() {
        if let Some(t) = broken_trait(&vm.required_traits, &vm.forbidden_traits, &host.traits) {
            out.push(v(
                Rule::HostTraits,
                &at,
                format!("`{}` {t} (VM `{}`)", host.id, vm.id),
            ));
        }
    }
}

/// `HOST_CAPACITY`: a host a restart names beyond its usable capacity (running VMs count with
/// their whole demand).
fn host_capacity(cx: &Failed, out: &mut Collector) {
    let restarted: HashSet<&str> = cx.sc.witness.iter().map(|r| r.host.as_str()).collect();
    for h in &cx.state.hosts {
        for (k, u) in cx.used.get(h.id.as_str()).into_iter().flatten() {
            let cap = super::limit(&h.capacity, &h.reserved, &h.allocation_ratio, k);
            if restarted.contains(h.id.as_str()) && exceeds(*u, cap) {
                out.push(v(
                    Rule::HostCapacity,
                    "/witness",
                    format!("`{}` would use {u} of {cap} {k}", h.id),
                ));
            }
        }
    }
}

/// `ANTI_AFFINITY`: a restart that joins another member of its group on a host.
fn anti_affinity(cx: &Failed, out: &mut Collector) {
    let mut members = cx.members.clone();
    for (at, vm, host) in cx.placed() {
        let Some(g) = vm.anti_affinity.as_deref() else {
            continue;
        };
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

/// The hard rules of `groups[]` after the restarts, against the survivors: no domain above
/// `max_per_domain` (or what the survivors hold), affinity and spread no more broken (spread over
/// the domains with a surviving active host): `GROUP_RULE`.
fn group_rule(cx: &Failed, out: &mut Collector) {
    let (state, sc, failed) = (cx.state, cx.sc, &cx.failed);
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

/// `BAD_STATS`: `restarted` and `restartable` disagree with the witness and the unrestartable
/// list.
fn bad_stats(cx: &Failed, out: &mut Collector) {
    let sc = cx.sc;
    if sc.restarted != sc.witness.len() || sc.restartable != sc.unrestartable.is_empty() {
        out.push(v(
            Rule::BadStats,
            "/restarted",
            "restarted and restartable must match the witness and the unrestartable list",
        ));
    }
}

/// `BAD_BOUND`: a bound below the restarts or above the VMs to restart.
fn bad_bound(cx: &Failed, out: &mut Collector) {
    let sc = cx.sc;
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
}

/// `BAD_GAP`: a gap that is not what the bound leaves unrestarted.
fn bad_gap(cx: &Failed, out: &mut Collector) {
    let sc = cx.sc;
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
}

/// `BAD_STATUS`: `optimal` while the bound says more VMs could restart.
fn bad_status(cx: &Failed, out: &mut Collector) {
    let sc = cx.sc;
    let proven = sc.status == vmplace_wire::Status::Optimal;
    if proven && sc.bound != sc.restarted {
        out.push(v(
            Rule::BadStatus,
            "/status",
            "optimal, but the bound says more VMs could restart",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rules_are_listed_in_the_readmes_order() {
        assert_eq!(RULES.map(|(rule, _)| rule), Rule::FAILURE);
    }
}

//! Migration plans: every VM moves at most once from the host it is on, to an active host that
//! reaches its storage and accepted it; capacities, anti-affinity and the hard group rules hold
//! after all moves; under `policy.reassign`, the reassignment rules and cost
//! (`plan_reassign`).

use super::codes::{wire_name, Rule, DECLINE_CODES};
use super::tolerance::{exceeds, Sum};
use super::{v, Collector, Findings};
use std::collections::{BTreeMap, HashMap, HashSet};
use vmplace_wire::state::{HostState, Plan, State};

/// Checks a migration plan against the state it was made for: every VM moves at most once from
/// the host it is on; targets exist, are active, reach the VM's storage (live move), accepted
/// the VM and stay within capacity after all moves; anti-affinity holds on every target.
pub fn check_plan(state: &State, plan: &Plan) -> Findings {
    let vms: HashMap<&str, usize> = state
        .vms
        .iter()
        .enumerate()
        .map(|(i, v)| (v.id.as_str(), i))
        .collect();
    let mut out = Collector::default();
    let (placement, targets) = moves(state, plan, &vms, &mut out);
    capacity_after(state, &placement, &targets, &mut out);
    anti_affinity_after(state, plan, &vms, &placement, &mut out);
    let rules = super::plan_groups::PlanRules::new(state);
    if !rules.is_empty() {
        let end: HashMap<&str, &str> = state
            .vms
            .iter()
            .zip(&placement)
            .map(|(vm, h)| (vm.id.as_str(), h.as_str()))
            .collect();
        let at = |vm: &str| end.get(vm).copied();
        rules.check_anti_affinity(|vm| at(vm).into_iter().collect(), "/migrations", &mut out);
        rules.check_settled(at, "/migrations", &mut out);
        rules.check_soft(at, &plan.stats.soft_violations, &mut out);
    }
    super::steps::check_steps(state, plan, &mut out);
    super::plan_reassign::check_reassign(state, plan, &mut out);
    out.finish()
}

/// Each move on its own: known VM, moved once, from its host, to a known active host that
/// reaches its storage and accepted it, with known decline codes. Returns every VM's host after
/// the plan and the hosts that received a VM.
fn moves(
    state: &State,
    plan: &Plan,
    vms: &HashMap<&str, usize>,
    out: &mut Collector,
) -> (Vec<String>, HashSet<usize>) {
    let hosts: HashMap<&str, usize> = state
        .hosts
        .iter()
        .enumerate()
        .map(|(i, h)| (h.id.as_str(), i))
        .collect();
    let mut placement: Vec<String> = state.vms.iter().map(|v| v.host.clone()).collect();
    let mut moved: HashSet<&str> = HashSet::new();
    let mut targets: HashSet<usize> = HashSet::new();
    for (i, m) in plan.migrations.iter().enumerate() {
        let path = format!("/migrations/{i}");
        let Some(&vi) = vms.get(m.vm.as_str()) else {
            out.push(v(
                Rule::UnknownVm,
                format!("{path}/vm"),
                format!("VM `{}` is not in the state", m.vm),
            ));
            continue;
        };
        let vm = &state.vms[vi];
        if !moved.insert(m.vm.as_str()) {
            out.push(v(
                Rule::MovedTwice,
                format!("{path}/vm"),
                format!("VM `{}` moves more than once", m.vm),
            ));
        }
        if m.from != vm.host {
            out.push(v(
                Rule::WrongSource,
                format!("{path}/from"),
                format!("VM `{}` runs on `{}`, not `{}`", m.vm, vm.host, m.from),
            ));
        }
        let Some(&hi) = hosts.get(m.to.as_str()) else {
            out.push(v(
                Rule::UnknownHost,
                format!("{path}/to"),
                format!("host `{}` does not exist", m.to),
            ));
            continue;
        };
        let host = &state.hosts[hi];
        if host.state != HostState::Active {
            out.push(v(
                Rule::TargetNotActive,
                format!("{path}/to"),
                format!("host `{}` is in maintenance or off", m.to),
            ));
        }
        if !host.storage.contains(&vm.storage) {
            out.push(v(
                Rule::NotLive,
                format!("{path}/to"),
                format!("host `{}` does not reach storage `{}`", m.to, vm.storage),
            ));
        }
        let traits = |h: &vmplace_wire::state::StateHost| {
            super::placement::broken_trait(&vm.required_traits, &vm.forbidden_traits, &h.traits)
        };
        if let Some(t) = traits(host) {
            out.push(v(
                Rule::HostTraits,
                format!("{path}/to"),
                format!("host `{}` {t} (VM `{}`)", m.to, m.vm),
            ));
        }
        if let Some(p) = &m.via {
            pivot(state, &hosts, p, &vm.storage, &format!("{path}/via"), out);
            if let Some(t) = hosts.get(p.as_str()).and_then(|&i| traits(&state.hosts[i])) {
                out.push(v(
                    Rule::HostTraits,
                    format!("{path}/via"),
                    format!("pivot `{p}` {t} (VM `{}`)", m.vm),
                ));
            }
        }
        if !m.candidates.iter().any(|c| c.host == m.to && c.accepted) {
            out.push(v(
                Rule::NotAccepted,
                format!("{path}/to"),
                format!("host `{}` is not among the hosts that accepted", m.to),
            ));
        }
        for (j, c) in m.candidates.iter().enumerate() {
            if let Some(code) = &c.code {
                if !DECLINE_CODES.contains(&wire_name(code).as_str()) {
                    out.push(v(
                        Rule::UnknownDeclineCode,
                        format!("{path}/candidates/{j}/code"),
                        format!("unknown code `{}`", wire_name(code)),
                    ));
                }
            }
        }
        placement[vi] = m.to.clone();
        targets.insert(hi);
    }
    (placement, targets)
}

/// A pivot host exists, is active and reaches the VM's storage.
fn pivot(
    state: &State,
    hosts: &HashMap<&str, usize>,
    p: &str,
    storage: &str,
    path: &str,
    out: &mut Collector,
) {
    let Some(&hi) = hosts.get(p) else {
        out.push(v(
            Rule::UnknownHost,
            path,
            format!("host `{p}` does not exist"),
        ));
        return;
    };
    let host = &state.hosts[hi];
    if host.state != HostState::Active {
        out.push(v(
            Rule::TargetNotActive,
            path,
            format!("pivot `{p}` is in maintenance or off"),
        ));
    }
    if !host.storage.iter().any(|s| s == storage) {
        out.push(v(
            Rule::NotLive,
            path,
            format!("pivot `{p}` does not reach storage `{storage}`"),
        ));
    }
}

/// Capacity on every host that received a VM, after all moves.
fn capacity_after(
    state: &State,
    placement: &[String],
    targets: &HashSet<usize>,
    out: &mut Collector,
) {
    // A resource with a usage history counts by its latest sample, one without by its demand.
    for &hi in targets {
        let host = &state.hosts[hi];
        let mut used: BTreeMap<String, Sum> = BTreeMap::new();
        for (vi, vm) in state.vms.iter().enumerate() {
            if placement[vi] != host.id {
                continue;
            }
            for (k, d) in &vm.demand {
                let now = vm
                    .usage
                    .get(k)
                    .and_then(|u| u.last())
                    .copied()
                    .unwrap_or(1.0);
                used.entry(k.clone()).or_default().add(d * now);
            }
        }
        for (k, u) in used {
            let (u, cap) = (
                u.value(),
                super::limit(&host.capacity, &host.reserved, &host.allocation_ratio, &k),
            );
            if exceeds(u, cap) {
                out.push(v(
                    Rule::HostCapacity,
                    "/migrations",
                    format!("host `{}`: `{k}` {u} exceeds capacity {cap}", host.id),
                ));
            }
        }
    }
}

/// Anti-affinity: no moved VM ends next to another member of its group (a conflict the state
/// already had is not the plan's doing).
fn anti_affinity_after(
    state: &State,
    plan: &Plan,
    vms: &HashMap<&str, usize>,
    placement: &[String],
    out: &mut Collector,
) {
    for (i, m) in plan.migrations.iter().enumerate() {
        let Some(&vi) = vms.get(m.vm.as_str()) else {
            continue;
        };
        let Some(g) = &state.vms[vi].anti_affinity else {
            continue;
        };
        let clash = state.vms.iter().enumerate().any(|(o, other)| {
            o != vi && placement[o] == placement[vi] && other.anti_affinity.as_ref() == Some(g)
        });
        if clash {
            out.push(v(
                Rule::AntiAffinity,
                format!("/migrations/{i}/to"),
                format!("`{}` lands next to another member of group `{g}`", m.vm),
            ));
        }
    }
}

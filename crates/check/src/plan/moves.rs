//! Each move on its own: known VM, moved once, from its host, to a known active host (and pivot)
//! that reaches its storage, has its traits and accepted it, with known decline codes; then the
//! pool after all moves: capacities on the hosts that received a VM, anti-affinity, the group
//! rules. A migration of an unknown VM is reported once (`UNKNOWN_VM`), one to an unknown host
//! once (`UNKNOWN_HOST`): the rules about its target skip it.

use super::Planned;
use crate::codes::{wire_name, Rule, DECLINE_CODES};
use crate::tolerance::{exceeds, Sum};
use crate::{broken_trait, v, Collector};
use std::collections::{BTreeMap, HashSet};
use vmplace_wire::state::{HostState, StateHost};

/// `UNKNOWN_VM`: a migration of a VM the state does not have.
pub(super) fn unknown_vm(cx: &Planned, out: &mut Collector) {
    for (i, m) in cx.plan.migrations.iter().enumerate() {
        if !cx.vms.contains_key(m.vm.as_str()) {
            out.push(v(
                Rule::UnknownVm,
                format!("/migrations/{i}/vm"),
                format!("VM `{}` is not in the state", m.vm),
            ));
        }
    }
}

/// `MOVED_TWICE`: a VM moved by more than one migration.
pub(super) fn moved_twice(cx: &Planned, out: &mut Collector) {
    let mut moved: HashSet<&str> = HashSet::new();
    for mv in &cx.moves {
        let m = &cx.plan.migrations[mv.i];
        if !moved.insert(m.vm.as_str()) {
            out.push(v(
                Rule::MovedTwice,
                format!("/migrations/{}/vm", mv.i),
                format!("VM `{}` moves more than once", m.vm),
            ));
        }
    }
}

/// `WRONG_SOURCE`: a migration from a host the VM does not run on.
pub(super) fn wrong_source(cx: &Planned, out: &mut Collector) {
    for mv in &cx.moves {
        let (m, vm) = (&cx.plan.migrations[mv.i], &cx.state.vms[mv.vm]);
        if m.from != vm.host {
            out.push(v(
                Rule::WrongSource,
                format!("/migrations/{}/from", mv.i),
                format!("VM `{}` runs on `{}`, not `{}`", m.vm, vm.host, m.from),
            ));
        }
    }
}

/// A migration's pivot (`via`) as the state has it: its name, and the host if it exists.
fn pivot<'a>(cx: &Planned<'a>, p: &'a str) -> (&'a str, Option<&'a StateHost>) {
    (p, cx.hosts.get(p).map(|&h| &cx.state.hosts[h]))
}

/// `UNKNOWN_HOST`: a target or a pivot the state does not have.
pub(super) fn unknown_host(cx: &Planned, out: &mut Collector) {
    for mv in cx.moves.iter().filter(|mv| mv.to.is_none()) {
        let to = &cx.plan.migrations[mv.i].to;
        out.push(v(
            Rule::UnknownHost,
            format!("/migrations/{}/to", mv.i),
            format!("host `{to}` does not exist"),
        ));
    }
    for (i, m, _, _) in cx.landed() {
        if let Some((p, None)) = m.via.as_deref().map(|p| pivot(cx, p)) {
            out.push(v(
                Rule::UnknownHost,
                format!("/migrations/{i}/via"),
                format!("host `{p}` does not exist"),
            ));
        }
    }
}

/// `TARGET_NOT_ACTIVE`: a target or a pivot in maintenance or off.
pub(super) fn target_not_active(cx: &Planned, out: &mut Collector) {
    for (i, m, _, host) in cx.landed() {
        if host.state != HostState::Active {
            out.push(v(
                Rule::TargetNotActive,
                format!("/migrations/{i}/to"),
                format!("host `{}` is in maintenance or off", m.to),
            ));
        }
        if let Some((p, Some(pivot))) = m.via.as_deref().map(|p| pivot(cx, p)) {
            if pivot.state != HostState::Active {
                out.push(v(
                    Rule::TargetNotActive,
                    format!("/migrations/{i}/via"),
                    format!("pivot `{p}` is in maintenance or off"),
                ));
            }
        }
    }
}

/// `NOT_LIVE`: a target or a pivot that does not reach the VM's storage.
pub(super) fn not_live(cx: &Planned, out: &mut Collector) {
    for (i, m, vm, host) in cx.landed() {
        if !host.storage.contains(&vm.storage) {
            out.push(v(
                Rule::NotLive,
                format!("/migrations/{i}/to"),
                format!("host `{}` does not reach storage `{}`", m.to, vm.storage),
            ));
        }
        if let Some((p, Some(pivot))) = m.via.as_deref().map(|p| pivot(cx, p)) {
            if !pivot.storage.iter().any(|s| s == &vm.storage) {
                out.push(v(
                    Rule::NotLive,
                    format!("/migrations/{i}/via"),
                    format!("pivot `{p}` does not reach storage `{}`", vm.storage),
                ));
            }
        }
    }
}

/// `NOT_ACCEPTED`: a target that is not among the candidates that accepted the VM.
pub(super) fn not_accepted(cx: &Planned, out: &mut Collector) {
    for (i, m, _, _) in cx.landed() {
        if !m.candidates.iter().any(|c| c.host == m.to && c.accepted) {
            out.push(v(
                Rule::NotAccepted,
                format!("/migrations/{i}/to"),
                format!("host `{}` is not among the hosts that accepted", m.to),
            ));
        }
    }
}

/// `UNKNOWN_DECLINE_CODE`: a candidate's decline code is not one the README lists.
pub(super) fn unknown_decline_code(cx: &Planned, out: &mut Collector) {
    for (i, m, _, _) in cx.landed() {
        for (j, c) in m.candidates.iter().enumerate() {
            let Some(code) = &c.code else { continue };
            if !DECLINE_CODES.contains(&wire_name(code).as_str()) {
                out.push(v(
                    Rule::UnknownDeclineCode,
                    format!("/migrations/{i}/candidates/{j}/code"),
                    format!("unknown code `{}`", wire_name(code)),
                ));
            }
        }
    }
}

/// `HOST_TRAITS`: a target or a pivot that lacks a trait the VM requires or has one it forbids.
pub(super) fn host_traits(cx: &Planned, out: &mut Collector) {
    for (i, m, vm, host) in cx.landed() {
        let traits =
            |h: &StateHost| broken_trait(&vm.required_traits, &vm.forbidden_traits, &h.traits);
        if let Some(t) = traits(host) {
            out.push(v(
                Rule::HostTraits,
                format!("/migrations/{i}/to"),
                format!("host `{}` {t} (VM `{}`)", m.to, m.vm),
            ));
        }
        if let Some((p, Some(pivot))) = m.via.as_deref().map(|p| pivot(cx, p)) {
            if let Some(t) = traits(pivot) {
                out.push(v(
                    Rule::HostTraits,
                    format!("/migrations/{i}/via"),
                    format!("pivot `{p}` {t} (VM `{}`)", m.vm),
                ));
            }
        }
    }
}

/// `HOST_CAPACITY`: a host that received a VM beyond its usable capacity after all moves. A
/// resource with a usage history counts by its latest sample, one without by its demand.
pub(super) fn host_capacity(cx: &Planned, out: &mut Collector) {
    for &hi in &cx.targets {
        let host = &cx.state.hosts[hi];
        let mut used: BTreeMap<String, Sum> = BTreeMap::new();
        for (vi, vm) in cx.state.vms.iter().enumerate() {
            if cx.end[vi] != host.id {
                continue;
            }
            for (k, d) in &vm.demand {
                let now = vm.usage.get(k).and_then(|u| u.last()).copied();
                used.entry(k.clone())
                    .or_default()
                    .add(d * now.unwrap_or(1.0));
            }
        }
        for (k, u) in used {
            let (u, cap) = (
                u.value(),
                crate::limit(&host.capacity, &host.reserved, &host.allocation_ratio, &k),
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

/// `ANTI_AFFINITY`: a moved VM that ends next to another member of its group (a conflict the
/// state already had is not the plan's doing), or a host given two members while a wave runs.
pub(super) fn anti_affinity(cx: &Planned, out: &mut Collector) {
    let vms = &cx.state.vms;
    for mv in &cx.moves {
        let Some(g) = &vms[mv.vm].anti_affinity else {
            continue;
        };
        let clash = vms.iter().enumerate().any(|(o, other)| {
            o != mv.vm && cx.end[o] == cx.end[mv.vm] && other.anti_affinity.as_ref() == Some(g)
        });
        if clash {
            out.push(v(
                Rule::AntiAffinity,
                format!("/migrations/{}/to", mv.i),
                format!(
                    "`{}` lands next to another member of group `{g}`",
                    cx.plan.migrations[mv.i].vm
                ),
            ));
        }
    }
    super::steps::wave_anti_affinity(cx, out);
}

/// `GROUP_RULE`: a hard group rule more broken after the plan, or while a wave runs, than the
/// state had it.
pub(super) fn group_rule(cx: &Planned, out: &mut Collector) {
    if cx.rules.is_empty() {
        return;
    }
    let at = |vm: &str| cx.at_end(vm);
    cx.rules
        .check_anti_affinity(|vm| at(vm).into_iter().collect(), "/migrations", out);
    cx.rules.check_settled(at, "/migrations", out);
    super::steps::wave_group_rules(cx, out);
}

/// `BAD_STATS`: the soft rules' violations after the plan are not what `stats.soft_violations`
/// says, or the reassignment cost not what `stats.reassign_cost` does.
pub(super) fn bad_stats(cx: &Planned, out: &mut Collector) {
    if !cx.rules.is_empty() {
        let at = |vm: &str| cx.at_end(vm);
        cx.rules.check_soft(at, &cx.plan.stats.soft_violations, out);
    }
    super::reassign::reassign_cost(cx, out);
}

//! The admission rule of a candidate host: accept, or decline with a code and a reason.

use super::{detect, RoundPolicy};
use crate::domain::groups::Policy;
use crate::domain::migration::{HostId, Pool, VmId, PARKED};
use crate::format::state::{DeclineCode, HostState};

/// The admission rule of host `h` for VM `v`: None = accept, or (code, reason).
pub(super) fn admission(
    pool: &Pool,
    v: VmId,
    h: HostId,
    excluded: &[bool],
    p: &RoundPolicy,
) -> Option<(DeclineCode, String)> {
    let host = &pool.hosts[h];
    let vm = &pool.vms[v];
    if excluded[h.0] {
        return Some((
            DeclineCode::AdmissionSource,
            "the host is a source of this round".into(),
        ));
    }
    if host.state != HostState::Active {
        return Some((
            DeclineCode::AdmissionState,
            format!("the host is {:?}", host.state).to_lowercase(),
        ));
    }
    if !host.storage.contains(&vm.storage) {
        return Some((
            DeclineCode::AdmissionStorage,
            format!(
                "not connected to storage `{}`: no live migration",
                vm.storage
            ),
        ));
    }
    if !pool.traits_allow(v, h) {
        return Some((
            DeclineCode::AdmissionTraits,
            "lacks a trait the VM requires, or has one it forbids".into(),
        ));
    }
    if let Some(g) = &vm.group {
        if pool
            .vms_on(h)
            .any(|o| pool.vms[o].group.as_ref() == Some(g))
        {
            return Some((
                DeclineCode::AdmissionAntiAffinity,
                format!("runs a member of group `{g}`"),
            ));
        }
    }
    if let Some(decline) = group_admission(pool, v, h) {
        return Some(decline);
    }
    let used = pool.used(h);
    for (k, r) in pool.resources.iter().enumerate() {
        if used[k] + vm.now[k] > host.cap[k] + 1e-9 {
            return Some((
                DeclineCode::AdmissionCapacity,
                format!("`{r}`: {} + {} > {}", used[k], vm.now[k], host.cap[k]),
            ));
        }
    }
    if pool.vms_on(h).next().is_some() {
        // Would the detector flag the host with the VM on it? (CloudSim skips this for empty hosts.)
        let k = pool.cpu?;
        let util = (used[k] + vm.now[k]) / host.cap[k].max(1e-12);
        let mut hist = pool.host_history(h);
        let vh = &vm.cpu_history;
        if hist.len() < vh.len() {
            let pad = vh.len() - hist.len();
            hist.splice(0..0, std::iter::repeat_n(0.0, pad));
        }
        let offset = hist.len() - vh.len();
        for (i, x) in vh.iter().enumerate() {
            hist[offset + i] += x * vm.demand[k] / host.cap[k].max(1e-12);
        }
        let max_migration = pool
            .vms_on(h)
            .map(|o| pool.migration_time(o))
            .fold(pool.migration_time(v), f64::max);
        if detect::overloaded(p, util, &hist, max_migration) {
            return Some((
                DeclineCode::AdmissionHeadroom,
                format!(
                    "would be overloaded after the move ({:.0} % CPU)",
                    util * 100.0
                ),
            ));
        }
    }
    None
}

/// The hard group rules (`groups[]`) of VM `v` on host `h` (models/migration.md, "Group rules"):
/// a move inside a domain changes no count. Into another domain, anti-affinity counts the members
/// there now and those that leave it this round (they hold their place until their wave ends);
/// affinity and spread let one member per group change domain in a round, and only if the group
/// ends no more broken than it is (so every wave leaves it so too).
pub(crate) fn group_admission(pool: &Pool, v: VmId, h: HostId) -> Option<(DeclineCode, String)> {
    let vm = &pool.vms[v];
    for &r in &vm.rules {
        let rule = &pool.rules[r];
        let (to, from) = (pool.domain(r, h), pool.domain(r, vm.host));
        if !rule.hard || (to.is_some() && to == from) {
            continue;
        }
        let code = match rule.policy {
            Policy::AntiAffinity { .. } => DeclineCode::AdmissionAntiAffinity,
            Policy::Affinity => DeclineCode::AdmissionAffinity,
            Policy::Spread { .. } => DeclineCode::AdmissionSpread,
        };
        let (g, scope) = (&rule.id, &rule.scope);
        let Some(to) = to else {
            return Some((code, format!("outside scope `{scope}` of group `{g}`")));
        };
        let name = &rule.domain_names[to];
        if let Policy::AntiAffinity { max } = rule.policy {
            let there = |o: VmId| {
                let o = &pool.vms[o];
                pool.domain(r, o.host) == Some(to) || pool.domain(r, o.origin) == Some(to)
            };
            let n = pool.members[r]
                .iter()
                .filter(|&&o| o != v && there(o))
                .count();
            if n >= max as usize {
                let why = format!(
                    "group `{g}` has {n} member(s) in {scope} `{name}` this round (at most {max})"
                );
                return Some((code, why));
            }
            continue;
        }
        let crossing = pool.members[r].iter().find(|&&o| {
            let o = &pool.vms[o];
            o.host != PARKED && pool.domain(r, o.host) != pool.domain(r, o.origin)
        });
        if let Some(&o) = crossing.filter(|&&o| o != v) {
            let why = format!(
                "`{}` of group `{g}` already changes {scope} this round",
                pool.vms[o].id
            );
            return Some((code, why));
        }
        let mut counts = pool.rule_counts(r, Some(v));
        let mut before = counts.clone();
        if let Some(f) = from {
            before[f] += 1;
        }
        counts[to] += 1;
        if rule.violations(&counts) > rule.violations(&before) {
            let why = format!("group `{g}` would break its rule further in {scope} `{name}`");
            return Some((code, why));
        }
    }
    None
}

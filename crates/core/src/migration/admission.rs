//! The admission rule of a candidate host: accept, or decline with a code and a reason.

use super::{detect, RoundPolicy};
use crate::domain::groups::{Counts, MemberCounts, Policy};
use crate::domain::migration::{HostIx, IxVec, Pool, VmIx};
use crate::domain::{NOISE, TINY};
use vmplace_wire::state::{DeclineCode, HostState};

/// The admission rule of host `h` for VM `v` (`groups`: [`GroupCounts::new`] of `v`): None =
/// accept, or (code, reason).
pub(super) fn admission(
    pool: &Pool,
    (v, groups): (VmIx, &GroupCounts),
    h: HostIx,
    excluded: &IxVec<HostIx, bool>,
    p: &RoundPolicy,
) -> Option<(DeclineCode, String)> {
    let host = &pool.hosts[h];
    let vm = &pool.vms[v];
    if excluded[h] {
        return Some((
            DeclineCode::AdmissionSource,
            "the host is a source of this round".into(),
        ));
    }
    if host.state != HostState::Active {
        return Some((
            DeclineCode::AdmissionState,
            format!(
                "the host is {}",
                vmplace_wire::spelling::wire_name(&host.state)
            ),
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
    if let Some(decline) = group_admission(pool, groups, v, h) {
        return Some(decline);
    }
    let used = pool.used(h);
    for (k, r) in pool.axes.names().iter().enumerate() {
        if used[k] + vm.now[k] > host.cap[k] + NOISE {
            return Some((
                DeclineCode::AdmissionCapacity,
                format!("`{r}`: {} + {} > {}", used[k], vm.now[k], host.cap[k]),
            ));
        }
    }
    if pool.vms_on(h).next().is_some() {
        // Would the detector flag the host with the VM on it? (CloudSim skips this for empty hosts.)
        let k = pool.axes.cpu?;
        let util = (used[k] + vm.now[k]) / host.cap[k].max(TINY);
        let mut hist = pool.host_history(h);
        let vh = &vm.cpu_history;
        if hist.len() < vh.len() {
            let pad = vh.len() - hist.len();
            hist.splice(0..0, std::iter::repeat_n(0.0, pad));
        }
        let offset = hist.len() - vh.len();
        for (i, x) in vh.iter().enumerate() {
            hist[offset + i] += x * vm.demand[k] / host.cap[k].max(TINY);
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

/// The members of a VM's rules per domain, the VM left out: where they run now, and where they
/// run now or started the round (`held`: anti-affinity keeps a leaving member's place). Computed
/// once per VM and used for every host it is offered (`group_admission`).
pub(crate) struct GroupCounts {
    /// Per rule of the VM (in `PoolVm::rules` order), members per domain now.
    now: Vec<Counts>,
    /// Per rule of the VM, members per domain now or at the start of the round.
    held: Vec<Counts>,
}

impl GroupCounts {
    /// Sparse: each costs the rule's members, not its domains (8,000 one-member rules over 8,000
    /// racks were two dense vectors of 8,000 per VM; issue 27, H2).
    pub(crate) fn new(pool: &Pool, v: VmIx) -> GroupCounts {
        let rules = &pool.vms[v].rules;
        let mut held = Vec::with_capacity(rules.len());
        for &r in rules {
            let mut n = Counts::default();
            for &o in pool.members[r].iter().filter(|&&o| o != v) {
                let (now, start) = (
                    pool.domain(r, pool.vms[o].host),
                    pool.domain(r, pool.vms[o].origin),
                );
                for d in [now, start.filter(|_| start != now)].into_iter().flatten() {
                    n.add(d, 1);
                }
            }
            held.push(n);
        }
        let now = rules
            .iter()
            .map(|&r| pool.rule_counts(r, Some(v)))
            .collect();
        GroupCounts { now, held }
    }
}

/// The hard group rules (`groups[]`) of VM `v` on host `h` (models/migration.md, "Group rules"),
/// `counts` being [`GroupCounts::new`] of `v`: a move inside a domain changes no count. Into
/// another domain, anti-affinity counts the members there now and those that leave it this round
/// (they hold their place until their wave ends); affinity and spread admit a move that leaves
/// the group no more broken than it is with the round's earlier moves, so the round's end is no
/// more broken than its start (the sequencer then orders the moves so that every wave is too).
pub(crate) fn group_admission(
    pool: &Pool,
    counts: &GroupCounts,
    v: VmIx,
    h: HostIx,
) -> Option<(DeclineCode, String)> {
    let vm = &pool.vms[v];
    for (i, &r) in vm.rules.iter().enumerate() {
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
            let n = counts.held[i].at(to);
            if n >= max {
                let why = format!(
                    "group `{g}` has {n} member(s) in {scope} `{name}` this round (at most {max})"
                );
                return Some((code, why));
            }
            continue;
        }
        let mut after = counts.now[i].clone();
        let mut before = after.clone();
        if let Some(f) = from {
            before.add(f, 1);
        }
        after.add(to, 1);
        if rule.violations(&after) > rule.violations(&before) {
            let why = format!("group `{g}` would break its rule further in {scope} `{name}`");
            return Some((code, why));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    //! `group_admission` on hand-made pools, with the round's earlier moves applied by hand.
    use super::*;
    use serde_json::json;

    /// Hosts `id@rack`, VMs `id@host` all in group `g` of `policy` (JSON) by rack.
    fn pool(hosts: &[&str], vms: &[&str], group: serde_json::Value) -> Pool {
        let hosts: Vec<_> = hosts
            .iter()
            .map(|h| {
                let (id, rack) = h.split_once('@').unwrap();
                json!({"id": id, "capacity": {"cpu": 100}, "storage": ["s"],
                       "labels": {"rack": rack}})
            })
            .collect();
        let vms: Vec<_> = vms
            .iter()
            .map(|v| {
                let (id, host) = v.split_once('@').unwrap();
                json!({"id": id, "host": host, "storage": "s", "demand": {"cpu": 1},
                       "groups": ["g"]})
            })
            .collect();
        let doc = json!({"storage": [{"id": "s", "capacity_gib": 10}], "hosts": hosts,
                         "vms": vms, "groups": [group]});
        let state = crate::validation::read_state(&doc.to_string()).expect("valid");
        Pool::from_state(&state)
    }

    fn at(p: &Pool, id: &str) -> HostIx {
        HostIx(p.hosts.iter().position(|h| h.id == id).unwrap())
    }

    fn vm(p: &Pool, id: &str) -> VmIx {
        VmIx(p.vms.iter().position(|v| v.id == id).unwrap())
    }

    fn code(p: &Pool, v: &str, h: &str) -> Option<DeclineCode> {
        let v = vm(p, v);
        group_admission(p, &GroupCounts::new(p, v), v, at(p, h)).map(|(c, _)| c)
    }

    #[test]
    fn anti_affinity_counts_a_member_that_left_the_rack_this_round() {
        let g = json!({"id": "g", "policy": "anti-affinity", "scope": "rack"});
        let mut p = pool(&["a1@A", "b1@B", "b2@B", "c1@C"], &["m1@a1", "m2@b1"], g);
        assert_eq!(
            code(&p, "m1", "b2"),
            Some(DeclineCode::AdmissionAntiAffinity)
        );
        assert_eq!(code(&p, "m1", "c1"), None);
        // m2 leaves B for C this round: B still counts it, C counts it too.
        let (m2, c1) = (vm(&p, "m2"), at(&p, "c1"));
        p.move_vm(m2, c1);
        assert_eq!(
            code(&p, "m1", "b2"),
            Some(DeclineCode::AdmissionAntiAffinity)
        );
        assert_eq!(
            code(&p, "m1", "c1"),
            Some(DeclineCode::AdmissionAntiAffinity)
        );
        // Inside its own rack a member always moves.
        assert_eq!(code(&p, "m2", "c1"), None);
    }

    #[test]
    fn a_soft_rule_declines_nothing() {
        let g = json!({"id": "g", "policy": "anti-affinity", "scope": "rack", "hard": false});
        let p = pool(&["a1@A", "b1@B", "b2@B"], &["m1@a1", "m2@b1"], g);
        assert_eq!(code(&p, "m1", "b2"), None);
    }

    #[test]
    fn spread_weighs_a_move_against_the_rounds_earlier_moves() {
        let g = json!({"id": "g", "policy": "spread", "scope": "rack", "max_skew": 1});
        let mut p = pool(&["a1@A", "a2@A", "b1@B", "c1@C"], &["m1@a1", "m2@a1"], g);
        // A 2, B 0, C 0 (skew 2, already broken): a move to B or C mends it.
        assert_eq!(code(&p, "m1", "b1"), None);
        assert_eq!(code(&p, "m2", "c1"), None);
        let (m1, b1) = (vm(&p, "m1"), at(&p, "b1"));
        p.move_vm(m1, b1);
        // After m1's move (1, 1, 0): m2 to C keeps the skew at 1, to B would make it 2.
        assert_eq!(code(&p, "m2", "c1"), None);
        assert_eq!(code(&p, "m2", "b1"), Some(DeclineCode::AdmissionSpread));
        assert_eq!(code(&p, "m2", "a2"), None);
    }

    #[test]
    fn spread_admits_a_move_that_leaves_the_skew_as_it_was() {
        // A 2 (v, w), B 1, C 0: skew 2 (one over). v to B: A 1, B 2, C 0, still one over:
        // admitted; v to C mends it; x from B to A makes it worse.
        let g = json!({"id": "g", "policy": "spread", "scope": "rack", "max_skew": 1});
        let p = pool(&["a1@A", "b1@B", "c1@C"], &["v@a1", "w@a1", "x@b1"], g);
        assert_eq!(code(&p, "v", "b1"), None);
        assert_eq!(code(&p, "v", "c1"), None);
        assert_eq!(code(&p, "x", "a1"), Some(DeclineCode::AdmissionSpread));
    }

    #[test]
    fn affinity_declines_a_move_that_splits_the_group() {
        let g = json!({"id": "g", "policy": "affinity", "scope": "rack"});
        let p = pool(&["a1@A", "a2@A", "b1@B"], &["m1@a1", "m2@a1"], g);
        assert_eq!(code(&p, "m1", "b1"), Some(DeclineCode::AdmissionAffinity));
        assert_eq!(code(&p, "m1", "a2"), None);
        let lone = pool(
            &["a1@A", "b1@B"],
            &["m1@a1"],
            json!({"id": "g", "policy": "affinity", "scope": "rack"}),
        );
        assert_eq!(code(&lone, "m1", "b1"), None);
    }
}

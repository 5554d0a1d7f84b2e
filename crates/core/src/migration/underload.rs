//! Underload evacuation (PABFD): the least-utilised host is emptied when all its VMs fit on
//! other active hosts; otherwise its moves are cancelled. Repeated until no host qualifies.

use super::pabfd::place;
use super::Ctx;
use crate::domain::migration::{HostIx, IxVec, VmIx};
use vmplace_wire::state::{HostState, MigrationReason, PlanStats};

/// The next host to try: the least utilised active host not tried yet. vmplace ranks by
/// utilisation after the round's moves so far and leaves alone a host that just received a VM;
/// CloudSim ranks by the start of the round and does not.
fn next_candidate(cx: &Ctx, tried: &IxVec<HostIx, bool>) -> Option<HostIx> {
    let policy = cx.policy;
    cx.pool
        .host_ids()
        .filter(|&h| !tried[h] && cx.pool.hosts[h].state == HostState::Active)
        .map(|h| {
            let u = if policy.cloudsim {
                cx.pool.start_util[h]
            } else {
                cx.pool.cpu_util(h)
            };
            (h, u)
        })
        .filter(|&(h, u)| {
            u > 0.0 && u < 1.0 && (policy.cloudsim || cx.pool.vms_on(h).all(|v| !cx.moved[v]))
        })
        .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)))
        .map(|(h, _)| h)
}

/// Empties the least-utilised hosts whose VMs all fit elsewhere.
pub(super) fn evacuate(cx: &mut Ctx, sources: &IxVec<HostIx, bool>, stats: &mut PlanStats) {
    let mut tried = sources.clone();
    // Evacuating onto a switched-off (empty) host saves nothing: those are no targets here.
    let mut closed: IxVec<HostIx, bool> = cx
        .pool
        .host_ids()
        .map(|h| sources[h] || cx.pool.vms_on(h).next().is_none())
        .collect();
    if cx.policy.cloudsim {
        // CloudSim takes hosts that were off at the start of the round as off.
        for h in cx.pool.host_ids() {
            closed[h] |= cx.pool.start_util[h] == 0.0;
        }
    }
    while let Some(h) = next_candidate(cx, &tried) {
        tried[h] = true;
        closed[h] = true;
        let vms: Vec<VmIx> = cx.pool.vms_on(h).collect();
        if vms.is_empty() || cx.migrations.len() + vms.len() > cx.policy.budget {
            continue;
        }
        let snapshot = (cx.migrations.len(), cx.messages.len());
        let moved_before: Vec<VmIx> = vms.iter().copied().filter(|&v| cx.moved[v]).collect();
        let mut order = vms.clone();
        order.sort_by(|a, b| cx.pool.by_cpu_desc(*a, *b));
        let ok = order
            .into_iter()
            .all(|v| place(cx, v, &closed, MigrationReason::Underload));
        if ok {
            stats.emptied_hosts.push(cx.pool.hosts[h].id.clone());
            for m in &cx.migrations[snapshot.0..] {
                if let Some(t) = cx.pool.hosts.iter().position(|x| x.id == m.to) {
                    tried[HostIx(t)] = true;
                }
            }
            reroute(cx, &moved_before, stats);
        } else {
            // Not all VMs can leave: cancel this host's moves.
            for m in cx.migrations.drain(snapshot.0..).collect::<Vec<_>>() {
                if let Some(v) = cx.pool.vms.iter().position(|x| x.id == m.vm) {
                    let v = VmIx(v);
                    cx.pool.move_vm(v, h);

                    cx.moved[v] = moved_before.contains(&v);
                }
            }
            cx.messages.truncate(snapshot.1);
        }
    }
}

/// A VM that came to an emptied host earlier in the round goes straight to its new target: one
/// move in the plan, two in CloudSim's count.
fn reroute(cx: &mut Ctx, moved_before: &[VmIx], stats: &mut PlanStats) {
    for &v in moved_before {
        let id = &cx.pool.vms[v].id;
        let Some(last) = cx.migrations.iter().rposition(|m| &m.vm == id) else {
            continue;
        };
        let second = cx.migrations.remove(last);
        if let Some(first) = cx.migrations.iter_mut().find(|m| &m.vm == id) {
            first.rerouted_from = Some(std::mem::replace(&mut first.to, second.to));
            first.score = second.score;
            first.candidates = second.candidates;
            stats.rerouted += 1;
        }
    }
}

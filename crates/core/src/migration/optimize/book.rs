//! Books the chosen plan: migrations with their scores, candidates and messages.

use super::super::protocol::{confirm, converse};
use super::super::Ctx;
use super::Role;
use crate::domain::migration::{HostIx, IxVec, VmIx};
use crate::domain::TINY;
use crate::migration::detect;
use crate::model::migration::RoundInput;
use std::collections::BTreeMap;
use vmplace_wire::state::{Candidate, DeclineCode, HistorySent, Migration, PlanStats, Score};

/// Books the moves of `ends` (each candidate's host after the round) into the plan.
pub(super) fn book(
    cx: &mut Ctx,
    candidates: &[VmIx],
    role: &IxVec<HostIx, Role>,
    input: &RoundInput,
    declined_all: &[BTreeMap<DeclineCode, usize>],
    ends: &[Option<HostIx>],
    stats: &mut PlanStats,
) {
    let n_hosts = cx.pool.hosts.len();
    let Some(cpu) = cx.pool.axes.cpu else { return };
    let mut emptied: Vec<HostIx> = Vec::new();
    for (i, &v) in candidates.iter().enumerate() {
        // The round model counts hosts by position.
        let Some(to) = ends[i] else {
            continue;
        };
        let from = cx.pool.vms[v].host;
        // Only candidates move, and a candidate's host has a role with a reason.
        let Some(reason) = role[from].reason() else {
            continue;
        };
        if to == from {
            continue;
        }
        let vm_id = cx.pool.vms[v].id.clone();
        let from_id = cx.pool.hosts[from].id.clone();
        let to_id = cx.pool.hosts[to].id.clone();
        let mut candidates_out = Vec::new();
        for h in std::iter::once(to)
            .chain(input.vms[i].targets.iter().copied().filter(|&h| h != to))
            .take(cx.policy.listed.max(1))
        {
            let host_id = cx.pool.hosts[h].id.clone();
            converse(&mut cx.messages, &vm_id, &from_id, &host_id, true);
            candidates_out.push(Candidate {
                host: host_id,
                accepted: true,
                code: None,
                reason: None,
            });
        }
        confirm(&mut cx.messages, &vm_id, &from_id, &to_id);
        let before = cx.pool.cpu_util(to);
        let add = cx.pool.vms[v].now[cpu] / cx.pool.hosts[to].cap[cpu].max(TINY);
        let power = detect::power(&cx.pool, to, before + add) - detect::power(&cx.pool, to, before);
        cx.migrations.push(Migration {
            vm: vm_id,
            from: from_id,
            to: to_id,
            live: true,
            reason,
            score: Score {
                total: power + input.vms[i].move_cost,
                power,
                balance: before + add,
                cost: cx.pool.migration_time(v),
            },
            candidates: candidates_out,
            asked: n_hosts - 1,
            declined: declined_all[i].clone(),
            history_sent: HistorySent {
                samples: cx.pool.vms[v].samples,
            },
            rerouted_from: None,
            via: None,
        });
        cx.pool.move_vm(v, to);

        cx.moved[v] = true;
        emptied.push(from);
    }
    for (i, &v) in candidates.iter().enumerate() {
        if ends[i].is_none() || (role[cx.pool.vms[v].host] == Role::Maintenance) {
            stats.stayed.push(cx.pool.vms[v].id.clone());
        }
    }
    emptied.sort();
    emptied.dedup();
    stats.emptied_hosts = emptied
        .into_iter()
        .filter(|&h| role[h] == Role::Underload && cx.pool.vms_on(h).next().is_none())
        .map(|h| cx.pool.hosts[h].id.clone())
        .collect();
}

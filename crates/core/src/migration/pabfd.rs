//! PABFD's placement of one VM: every other host is asked, the best acceptor by the policy
//! weights is confirmed, and the move is booked.

use super::admission::{admission, GroupCounts};
use super::protocol::{confirm, converse};
use super::Ctx;
use crate::domain::migration::{HostIx, IxVec, VmIx};
use crate::domain::TINY;
use crate::migration::detect;
use std::collections::BTreeMap;
use vmplace_wire::state::{Candidate, DeclineCode, HistorySent, Migration, MigrationReason, Score};

/// One host's answer: host, decline (code, reason) or None, score if it accepted.
type Answer = (HostIx, Option<(DeclineCode, String)>, Option<Score>);

/// The migration policy's score of moving VM `v` to host `h` (lower total is better): the power
/// increase over the host's power now, idle or not (CloudSim takes "now" as the start of the
/// round, before the round's earlier moves), the resulting CPU utilisation and the migration time,
/// weighted by the policy.
fn score(cx: &Ctx, v: VmIx, h: HostIx) -> Score {
    let pool = &cx.pool;
    let host = &pool.hosts[h];
    let before = pool.cpu_util(h);
    let add = pool
        .axes
        .cpu
        .map(|k| pool.vms[v].now[k] / host.cap[k].max(TINY))
        .unwrap_or(0.0);
    let reference = if cx.policy.cloudsim {
        pool.start_util[h]
    } else {
        before
    };
    let power = detect::power(pool, h, before + add) - detect::power(pool, h, reference);
    let cost = pool.migration_time(v);
    let (wp, wb, wc) = cx.policy.weights;
    Score {
        total: wp * power + wb * (before + add) + wc * cost,
        power,
        balance: before + add,
        cost,
    }
}

/// Asks every host about VM `v`, picks the best acceptor by the weights, and books the move.
pub(super) fn place(
    cx: &mut Ctx,
    v: VmIx,
    excluded: &IxVec<HostIx, bool>,
    reason: MigrationReason,
) -> bool {
    let src = cx.pool.vms[v].host;
    let groups = GroupCounts::new(&cx.pool, v);
    // (host, verdict, score) for every host asked.
    let answers: Vec<Answer> = cx
        .pool
        .host_ids()
        .filter(|&h| h != src)
        .map(|h| {
            let verdict = admission(&cx.pool, (v, &groups), h, excluded, cx.policy);
            let score = verdict.is_none().then(|| score(cx, v, h));
            (h, verdict, score)
        })
        .collect();
    let pool = &cx.pool;
    let vm = &pool.vms[v];
    let best = answers
        .iter()
        .filter_map(|(h, _, sc)| sc.as_ref().map(|sc| (*h, sc.total)))
        .fold(None, |best: Option<(HostIx, f64)>, (h, t)| match best {
            Some((_, bt)) if bt <= t => best,
            _ => Some((h, t)),
        });
    let Some((target, _)) = best else {
        return false;
    };
    let mut declined: BTreeMap<DeclineCode, usize> = BTreeMap::new();
    for (_, verdict, _) in &answers {
        if let Some((code, _)) = verdict {
            *declined.entry(*code).or_default() += 1;
        }
    }
    let mut acceptors: Vec<&Answer> = answers.iter().filter(|a| a.2.is_some()).collect();
    acceptors.sort_by(|a, b| {
        let (ta, tb) = (
            a.2.as_ref().map_or(0.0, |s| s.total),
            b.2.as_ref().map_or(0.0, |s| s.total),
        );
        ta.total_cmp(&tb).then(a.0.cmp(&b.0))
    });
    let listed = cx.policy.listed.max(1);
    let shown = acceptors
        .into_iter()
        .take(listed)
        .chain(answers.iter().filter(|a| a.1.is_some()).take(listed));
    let src_id = pool.hosts[src].id.clone();
    let vm_id = vm.id.clone();
    let mut candidates = Vec::new();
    for (h, verdict, _) in shown {
        let host_id = pool.hosts[*h].id.clone();
        let accepted = verdict.is_none();
        converse(&mut cx.messages, &vm_id, &src_id, &host_id, accepted);
        let (code, why) = verdict
            .as_ref()
            .map(|(c, r)| (Some(*c), Some(r.clone())))
            .unwrap_or((None, None));
        candidates.push(Candidate {
            host: host_id,
            accepted,
            code,
            reason: why,
        });
    }
    let score = answers
        .iter()
        .find(|a| a.0 == target)
        .and_then(|a| a.2.clone())
        .unwrap_or(Score {
            total: 0.0,
            power: 0.0,
            balance: 0.0,
            cost: 0.0,
        });
    let to = pool.hosts[target].id.clone();
    let samples = vm.samples;
    let asked = answers.len();
    confirm(&mut cx.messages, &vm_id, &src_id, &to);
    cx.pool.move_vm(v, target);
    cx.moved[v] = true;
    cx.migrations.push(Migration {
        vm: vm_id,
        from: src_id,
        to,
        live: true,
        reason,
        score,
        candidates,
        asked,
        declined,
        history_sent: HistorySent { samples },
        rerouted_from: None,
        via: None,
    });
    true
}

//! The greedy plan on the round model's data: the MIP's warm start, and the plan that stands
//! when the wall clock stops HiGHS.

use super::Role;
use crate::domain::groups::{Counts, MemberCounts};
use crate::domain::migration::{HostIx, IxVec, Pool, VmIx};
use crate::domain::NOISE;
use crate::model::migration::{RoundHost, RoundPolicy, RoundRule};
use std::collections::BTreeMap;

/// What the greedy plan needs.
pub(super) struct Greedy<'a> {
    pub pool: &'a Pool,
    pub hosts: &'a [RoundHost],
    /// Each candidate's anti-affinity group.
    pub group_of: &'a [Option<usize>],
    /// (group, host) of members that are not candidates.
    pub group_fixed: &'a [(usize, HostIx)],
    /// The hard rules of `groups[]`, as the model has them.
    pub rules: &'a [RoundRule],
    /// Most moves.
    pub budget: usize,
    /// Each candidate's use of the resources other than CPU.
    pub rest_use: &'a [Vec<f64>],
    pub role: &'a IxVec<HostIx, Role>,
    pub candidates: &'a [VmIx],
    /// Per candidate, its accepting hosts.
    pub accepting: &'a [Vec<HostIx>],
    pub peak: &'a dyn Fn(VmIx) -> f64,
    pub dynamic: &'a super::DynamicPower<'a>,
    pub move_cost: &'a super::MoveCost<'a>,
    pub theta: f64,
}

/// The pool as the greedy plan fills it: expected CPU, VM count, other resources and
/// anti-affinity groups per host.
struct Packing {
    load: Vec<f64>,
    count: Vec<usize>,
    rest: Vec<Vec<f64>>,
    members: Vec<Vec<usize>>,
    /// Per rule and domain: members arrived from other domains (sparse).
    arrived: Vec<Counts>,
    /// Per rule and domain: members there as booked (sparse).
    counts: Vec<Counts>,
    /// Per candidate: (rule, domain it starts in).
    rules_of: Vec<Vec<(usize, Option<usize>)>>,
    /// Every rule count a shift changed, (rule, domain arrived in, domain left), so that a trial
    /// is undone without copying the rules' counts (issue 27, H2).
    journal: Vec<(usize, usize, Option<usize>)>,
}

/// The host side of a [`Packing`] and where its journal stood, to undo a trial.
struct Saved {
    load: Vec<f64>,
    count: Vec<usize>,
    rest: Vec<Vec<f64>>,
    members: Vec<Vec<usize>>,
    journal: usize,
}

impl Packing {
    fn new(g: &Greedy) -> Packing {
        let n = g.hosts.len();
        let mut p = Packing {
            load: g.hosts.iter().map(|h| h.fixed).collect(),
            count: vec![0; n],
            rest: g.hosts.iter().map(|h| h.rest_fixed.clone()).collect(),
            members: vec![Vec::new(); n],
            arrived: vec![Counts::default(); g.rules.len()],
            counts: g.rules.iter().map(|r| r.counts(|_| None)).collect(),
            rules_of: vec![Vec::new(); g.candidates.len()],
            journal: Vec::new(),
        };
        for (r, rule) in g.rules.iter().enumerate() {
            for &(i, from) in &rule.members {
                p.rules_of[i].push((r, from));
            }
        }
        for vm in &g.pool.vms {
            p.count[vm.host.0] += 1;
        }

        for &(group, h) in g.group_fixed {
            p.members[h.0].push(group);
        }
        for (i, &v) in g.candidates.iter().enumerate() {
            let h = g.pool.vms[v].host.0;
            p.load[h] += (g.peak)(v);
            for (x, u) in p.rest[h].iter_mut().zip(&g.rest_use[i]) {
                *x += u;
            }
            if let Some(group) = g.group_of[i] {
                p.members[h].push(group);
            }
        }
        p
    }

    /// Whether candidate `i` fits on `h` within the safe utilisation, the other resources and
    /// its anti-affinity group.
    fn fits(&self, g: &Greedy, i: usize, h: usize) -> bool {
        self.load[h] + (g.peak)(g.candidates[i]) <= g.theta * g.hosts[h].cap + NOISE
            && self.rest[h]
                .iter()
                .zip(&g.rest_use[i])
                .zip(&g.hosts[h].rest_cap)
                .all(|((used, u), cap)| used + u <= cap + NOISE)
            && g.group_of[i].is_none_or(|group| !self.members[h].contains(&group))
            && self.rules_allow(g, i, h)
    }

    /// Whether the hard group rules let candidate `i` end on `h`, with what is booked: the rows
    /// `migration_group_arrivals`, `migration_group_affinity` and `migration_group_spread`.
    fn rules_allow(&self, g: &Greedy, i: usize, h: usize) -> bool {
        self.rules_of[i].iter().all(|&(r, from)| {
            let rule = &g.rules[r];
            let to = rule.domain_of[HostIx(h)];
            if to == from {
                return true;
            }
            let Some(to) = to else {
                return false;
            };
            if let RoundPolicy::Arrivals(limit) = &rule.policy {
                return self.arrived[r].at(to) < limit.limit(to);
            }
            let mut after = self.counts[r].clone();
            if let Some(f) = from {
                after.remove(f, 1);
            }
            after.add(to, 1);
            rule.holds(&after)
        })
    }

    /// The accepting host where candidate `i` costs least (idle power if it is off, then the
    /// dynamic power), among hosts not `closed` (and already on, if `only_on`).
    fn best(&self, g: &Greedy, i: usize, closed: &[bool], only_on: bool) -> Option<usize> {
        let v = g.candidates[i];
        // The round model counts hosts by position (`HostIx::0`).
        g.accepting[i]
            .iter()
            .map(|h| h.0)
            .filter(|&h| !closed[h] && (!only_on || self.count[h] > 0) && self.fits(g, i, h))
            .map(|h| {
                let idle = if self.count[h] > 0 {
                    0.0
                } else {
                    g.hosts[h].p0
                };
                (idle + (g.dynamic)(v, HostIx(h)), h)
            })
            .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)))
            .map(|x| x.1)
    }

    /// Books candidate `i` from host `h` to `t`.
    fn shift(&mut self, g: &Greedy, i: usize, h: usize, t: usize) {
        let c = (g.peak)(g.candidates[i]);
        self.load[h] -= c;
        self.load[t] += c;
        self.count[h] -= 1;
        self.count[t] += 1;
        for (k, u) in g.rest_use[i].iter().enumerate() {
            self.rest[h][k] -= u;
            self.rest[t][k] += u;
        }
        if let Some(group) = g.group_of[i] {
            if let Some(at) = self.members[h].iter().position(|&x| x == group) {
                self.members[h].swap_remove(at);
            }
            self.members[t].push(group);
        }
        for &(r, from) in &self.rules_of[i] {
            if let Some(dm) = g.rules[r].domain_of[HostIx(t)].filter(|&dm| Some(dm) != from) {
                self.arrived[r].add(dm, 1);
                self.counts[r].add(dm, 1);
                if let Some(f) = from {
                    self.counts[r].remove(f, 1);
                }
                self.journal.push((r, dm, from));
            }
        }
    }

    /// What [`Packing::restore`] needs to undo the shifts after it.
    fn save(&self) -> Saved {
        Saved {
            load: self.load.clone(),
            count: self.count.clone(),
            rest: self.rest.clone(),
            members: self.members.clone(),
            journal: self.journal.len(),
        }
    }

    /// Undoes every shift since `saved`.
    fn restore(&mut self, saved: Saved) {
        (self.load, self.count, self.rest, self.members) =
            (saved.load, saved.count, saved.rest, saved.members);
        while self.journal.len() > saved.journal {
            let Some((r, dm, from)) = self.journal.pop() else {
                break;
            };
            self.arrived[r].remove(dm, 1);
            self.counts[r].remove(dm, 1);
            if let Some(f) = from {
                self.counts[r].add(f, 1);
            }
        }
    }
}

/// A plan on the model's data: VMs leave hosts in maintenance and overloaded hosts (largest first,
/// until the host is under the safe utilisation) for the accepting host whose cost grows least;
/// then the least-utilised candidate hosts are emptied, one at a time, onto hosts that stay on,
/// when the idle power saved outweighs the moves. Respects capacities, anti-affinity and the
/// budget. Returns each candidate's host afterwards. The plan counts hosts by position inside
/// (`HostIx::0`, the position in `g.hosts`), and answers in `HostIx`.
pub(super) fn greedy(g: Greedy) -> Vec<Option<HostIx>> {
    let pool = g.pool;
    let mut pack = Packing::new(&g);
    let mut end: Vec<Option<usize>> = g
        .candidates
        .iter()
        .map(|&v| Some(pool.vms[v].host.0))
        .collect();
    let mut moves_left = g.budget;
    let mut closed: Vec<bool> = g.role.iter().map(|r| *r == Role::Maintenance).collect();

    let mut by_host: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, &v) in g.candidates.iter().enumerate() {
        by_host.entry(pool.vms[v].host.0).or_default().push(i);
    }
    let largest_first = |list: &[usize]| {
        let mut order = list.to_vec();
        order.sort_by(|&a, &b| {
            (g.peak)(g.candidates[b])
                .total_cmp(&(g.peak)(g.candidates[a]))
                .then(a.cmp(&b))
        });
        order
    };
    for (&h, list) in &by_host {
        if !matches!(g.role[HostIx(h)], Role::Overload | Role::Maintenance) {
            continue;
        }
        closed[h] = true;
        for i in largest_first(list) {
            let relieved = g.role[HostIx(h)] == Role::Overload
                && pack.load[h] <= g.theta * g.hosts[h].cap + NOISE;
            if moves_left == 0 || relieved {
                break;
            }
            if let Some(t) = pack.best(&g, i, &closed, false) {
                pack.shift(&g, i, h, t);
                end[i] = Some(t);
                moves_left -= 1;
            }
        }
    }
    // Underload: least loaded first; a host that received VMs is not emptied afterwards.
    let mut under: Vec<usize> = by_host
        .keys()
        .copied()
        .filter(|&h| g.role[HostIx(h)] == Role::Underload)
        .collect();
    under.sort_by(|&a, &b| pack.load[a].total_cmp(&pack.load[b]).then(a.cmp(&b)));
    let mut received = vec![false; g.hosts.len()];
    for h in under {
        let list = &by_host[&h];
        if received[h] || pack.count[h] == 0 || list.len() > moves_left {
            continue;
        }
        closed[h] = true;
        let saved = pack.save();
        let mut gain = g.hosts[h].p0;
        let mut moves = Vec::new();
        for i in largest_first(list) {
            let v = g.candidates[i];
            let Some(t) = pack.best(&g, i, &closed, true) else {
                break;
            };
            gain += (g.dynamic)(v, HostIx(h)) - (g.dynamic)(v, HostIx(t)) - (g.move_cost)(v);
            pack.shift(&g, i, h, t);
            moves.push((i, t));
        }
        if moves.len() == list.len() && gain > 0.0 {
            moves_left -= moves.len();
            for (i, t) in moves {
                end[i] = Some(t);
                received[t] = true;
            }
        } else {
            pack.restore(saved);
            closed[h] = false;
        }
    }
    end.into_iter().map(|h| h.map(HostIx)).collect()
}

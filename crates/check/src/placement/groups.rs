//! Group rules (`groups[]`), recounted from the wire documents: members per domain of each
//! group's scope (running before, plus placed), every hard rule where the answer added members,
//! and the soft rules' violations against `stats.soft_violations`.

use super::Answer;
use crate::codes::Rule;
use crate::tolerance::CAPACITY_TOL;
use crate::{limit, v, Collector};
use std::collections::{BTreeMap, HashMap};
use vmplace_wire::problem::{Group, GroupPolicy, Request};

/// The domain of a host in a scope: the host itself, or its label's value; None without it.
fn domain_of<'a>(g: &Group, host: &'a vmplace_wire::Host) -> Option<&'a str> {
    if g.scope == "host" {
        Some(host.id.as_str())
    } else {
        host.labels.get(&g.scope).map(String::as_str)
    }
}

/// Whether `host` could take `req` before the batch: free usable capacity for its demand (within
/// the absolute capacity tolerance, as a placement is held to), and its host traits.
fn could_take(host: &vmplace_wire::Host, req: &Request) -> bool {
    let used = |k: &str| host.used.as_ref().and_then(|u| u.get(k)).copied();
    let fits = req.demand.iter().all(|(k, x)| {
        let free = limit(&host.capacity, &host.reserved, &host.allocation_ratio, k)
            - used(k).unwrap_or(0.0);
        *x <= free.max(0.0) + CAPACITY_TOL
    });
    fits && crate::broken_trait(&req.required_traits, &req.forbidden_traits, &host.traits).is_none()
}

/// Per group, built once: the hosts running its members, its placed members, its requests. Each
/// group is then counted from its own entries, so that many groups over many domains cost what
/// the members do; only `spread` looks at every domain of its scope (its empty domains with room
/// count). 8,000 anti-affinity groups over 8,000 racks took 55 s (issue 27, H2).
#[derive(Default)]
pub(super) struct Index<'a> {
    /// Per group, `(host, members it runs)`.
    running: HashMap<&'a str, Vec<(usize, u32)>>,
    /// Per group, `(placement, host)` of its members placed on a known host.
    placed: HashMap<&'a str, Vec<(usize, usize)>>,
    /// Per group, its requests.
    members: HashMap<&'a str, Vec<&'a Request>>,
}

impl<'a> Index<'a> {
    /// The indexes of an answer; empty without `groups[]`.
    pub(super) fn new(cx: &Answer<'a>) -> Index<'a> {
        let mut index = Index::default();
        if cx.problem.groups.is_empty() {
            return index;
        }
        for (hi, h) in cx.problem.hosts.iter().enumerate() {
            for (g, &n) in &h.group_members {
                index.running.entry(g.as_str()).or_default().push((hi, n));
            }
        }
        for p in &cx.placed {
            let Some(hi) = p.host else { continue };
            for g in &cx.request(p).groups {
                index.placed.entry(g.as_str()).or_default().push((p.i, hi));
            }
        }
        for r in &cx.problem.requests {
            for g in &r.groups {
                index.members.entry(g.as_str()).or_default().push(r);
            }
        }
        index
    }
}

/// A group's members per domain after the answer, those the answer added, and, for `spread`,
/// which domains have a host with room for one of its requests.
struct Tally<'a> {
    counts: BTreeMap<&'a str, u64>,
    added: BTreeMap<&'a str, u32>,
    room: BTreeMap<&'a str, bool>,
}

fn tally<'a>(cx: &Answer<'a>, g: &Group) -> Tally<'a> {
    let (id, hosts) = (g.id.as_str(), &cx.problem.hosts);
    // Counted in u64: five hosts of 10^9 members each would wrap a u32 to 0 (issue 27, M4).
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    if g.policy == GroupPolicy::Spread {
        for dm in hosts.iter().filter_map(|h| domain_of(g, h)) {
            counts.entry(dm).or_default();
        }
    }
    for &(hi, n) in cx.groups.running.get(id).into_iter().flatten() {
        if let Some(dm) = domain_of(g, &hosts[hi]) {
            *counts.entry(dm).or_default() += u64::from(n);
        }
    }
    let mut added: BTreeMap<&str, u32> = BTreeMap::new();
    for &(_, hi) in cx.groups.placed.get(id).into_iter().flatten() {
        if let Some(dm) = domain_of(g, &hosts[hi]) {
            *counts.entry(dm).or_default() += 1;
            *added.entry(dm).or_default() += 1;
        }
    }
    let mut room: BTreeMap<&str, bool> = BTreeMap::new();
    if g.policy == GroupPolicy::Spread {
        let members = cx.groups.members.get(id).map(Vec::as_slice);
        let members = members.unwrap_or_default();
        for h in hosts {
            if let Some(dm) = domain_of(g, h) {
                let r = room.entry(dm).or_insert(false);
                *r = *r || members.iter().any(|m| could_take(h, m));
            }
        }
    }
    Tally {
        counts,
        added,
        room,
    }
}

/// `GROUP_RULE`: a member placed on a host outside every domain of its group's scope, and a hard
/// group rule broken where the answer added members.
pub(super) fn group_rule(cx: &Answer, out: &mut Collector) {
    for g in &cx.problem.groups {
        for &(i, hi) in cx.groups.placed.get(g.id.as_str()).into_iter().flatten() {
            let host = &cx.problem.hosts[hi];
            if domain_of(g, host).is_none() {
                out.push(v(
                    Rule::GroupRule,
                    format!("/placements/{i}/host"),
                    format!(
                        "host `{}` has no `{}` label, so it takes no member of group `{}`",
                        host.id, g.scope, g.id
                    ),
                ));
            }
        }
        if !g.hard.unwrap_or(true) {
            continue;
        }
        if let Some(why) = judge(g, &tally(cx, g)).hard {
            out.push(v(Rule::GroupRule, "/placements", why));
        }
    }
}

/// The soft rules' violations against `stats.soft_violations` (part of `BAD_STATS`).
pub(super) fn soft_violations(cx: &Answer, out: &mut Collector) {
    for g in cx.problem.groups.iter().filter(|g| !g.hard.unwrap_or(true)) {
        let broken = judge(g, &tally(cx, g));
        let claimed = cx.solution.stats.soft_violations.get(&g.id).copied();
        let claimed = claimed.unwrap_or(0);
        if claimed != broken.violations {
            out.push(v(
                Rule::BadStats,
                format!(
                    "/stats/soft_violations/{}",
                    vmplace_wire::spelling::pointer_token(&g.id)
                ),
                format!(
                    "group `{}` has {} soft violations, the answer says {claimed}",
                    g.id, broken.violations
                ),
            ));
        }
    }
}

/// A group's state after the answer.
struct Judged {
    /// What a hard rule finds broken where the answer added members.
    hard: Option<String>,
    /// The soft count.
    violations: u32,
}

/// A count as the documents state it (`u32`), saturated.
fn saturated(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn judge(g: &Group, tally: &Tally) -> Judged {
    let (id, counts, added, room) = (&g.id, &tally.counts, &tally.added, &tally.room);
    match g.policy {
        GroupPolicy::AntiAffinity => {
            let max = u64::from(g.max_per_domain.unwrap_or(1));
            let over = counts
                .iter()
                .find(|(dm, n)| **n > max && added.contains_key(*dm));
            Judged {
                hard: over.map(|(dm, n)| {
                    format!(
                        "`{}` `{dm}` has {n} members of group `{id}`, more than {max}",
                        g.scope
                    )
                }),
                violations: saturated(counts.values().map(|n| n.saturating_sub(max)).sum()),
            }
        }
        GroupPolicy::Affinity => {
            let used: Vec<&&str> = counts
                .iter()
                .filter(|(_, n)| **n > 0)
                .map(|(d, _)| d)
                .collect();
            Judged {
                hard: (used.len() > 1 && !added.is_empty()).then(|| {
                    format!(
                        "group `{id}` has members in {} `{}` domains",
                        used.len(),
                        g.scope
                    )
                }),
                violations: (used.len() as u32).saturating_sub(1),
            }
        }
        GroupPolicy::Spread => {
            let skew = u64::from(g.max_skew.unwrap_or(1));
            let with_room: Vec<u64> = counts
                .iter()
                .filter(|(dm, _)| room.get(*dm).copied().unwrap_or(false))
                .map(|(_, n)| *n)
                .collect();
            let before: Vec<u64> = counts
                .iter()
                .filter(|(dm, _)| room.get(*dm).copied().unwrap_or(false))
                .map(|(dm, n)| n - u64::from(added.get(dm).copied().unwrap_or(0)))
                .collect();
            let range = |v: &[u64]| {
                v.iter().copied().max().unwrap_or(0) - v.iter().copied().min().unwrap_or(0)
            };
            let (now, was) = (range(&with_room), range(&before));
            // A pool already skewed beyond `max_skew` is not the answer's doing: it may not
            // widen the skew, only narrow it.
            Judged {
                hard: (now > skew.max(was)).then(|| {
                    format!(
                        "group `{id}`'s `{}` counts now range over {now}, above max_skew {skew}{}",
                        g.scope,
                        if was > skew {
                            format!(" and the {was} it had")
                        } else {
                            String::new()
                        }
                    )
                }),
                violations: saturated(now.saturating_sub(skew)),
            }
        }
    }
}

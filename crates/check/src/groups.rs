//! Group rules (`groups[]`), recounted from the wire documents: members per domain of each
//! group's scope (running before, plus placed), every hard rule where the answer added members,
//! and the soft rules' violations against `stats.soft_violations`.

use super::codes::Rule;
use super::tolerance::CAPACITY_TOL;
use super::{limit, v, Collector};
use std::collections::{BTreeMap, HashMap};
use vmplace_wire::problem::{Group, GroupPolicy, Request};
use vmplace_wire::{Problem, Solution};

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
    fits && super::placement::broken_trait(
        &req.required_traits,
        &req.forbidden_traits,
        &host.traits,
    )
    .is_none()
}

/// Every group rule after the answer. Counted per group from indexes built once (the hosts
/// running its members, its placed members, its requests), so that many groups over many domains
/// cost what the members do; only `spread` looks at every domain of its scope (its empty domains
/// with room count). 8,000 anti-affinity groups over 8,000 racks took 55 s (issue 27, H2).
pub(super) fn group_rules(problem: &Problem, solution: &Solution, out: &mut Collector) {
    if problem.groups.is_empty() {
        return;
    }
    let hosts = super::placement::host_index(problem);
    let requests: HashMap<&str, &Request> = problem
        .requests
        .iter()
        .map(|r| (r.id.as_str(), r))
        .collect();
    let mut running: HashMap<&str, Vec<(usize, u32)>> = HashMap::new();
    for (hi, h) in problem.hosts.iter().enumerate() {
        for (g, &n) in &h.group_members {
            running.entry(g.as_str()).or_default().push((hi, n));
        }
    }
    let mut placed: HashMap<&str, Vec<(usize, usize)>> = HashMap::new();
    for (i, p) in solution.placements.iter().enumerate() {
        let (Some(req), Some(hid)) = (requests.get(p.request.as_str()), &p.host) else {
            continue;
        };
        let Some(&hi) = hosts.get(hid.as_str()) else {
            continue;
        };
        for g in &req.groups {
            placed.entry(g.as_str()).or_default().push((i, hi));
        }
    }
    let mut members: HashMap<&str, Vec<&Request>> = HashMap::new();
    for r in &problem.requests {
        for g in &r.groups {
            members.entry(g.as_str()).or_default().push(r);
        }
    }
    for g in &problem.groups {
        let id = g.id.as_str();
        // Counted in u64: five hosts of 10^9 members each would wrap a u32 to 0 (issue 27, M4).
        let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
        if g.policy == GroupPolicy::Spread {
            for h in &problem.hosts {
                if let Some(dm) = domain_of(g, h) {
                    counts.entry(dm).or_default();
                }
            }
        }
        for &(hi, n) in running.get(id).into_iter().flatten() {
            if let Some(dm) = domain_of(g, &problem.hosts[hi]) {
                *counts.entry(dm).or_default() += u64::from(n);
            }
        }
        let mut added: BTreeMap<&str, u32> = BTreeMap::new();
        for &(i, hi) in placed.get(id).into_iter().flatten() {
            match domain_of(g, &problem.hosts[hi]) {
                Some(dm) => {
                    *counts.entry(dm).or_default() += 1;
                    *added.entry(dm).or_default() += 1;
                }
                None => out.push(v(
                    Rule::GroupRule,
                    format!("/placements/{i}/host"),
                    format!(
                        "host `{}` has no `{}` label, so it takes no member of group `{}`",
                        problem.hosts[hi].id, g.scope, g.id
                    ),
                )),
            }
        }
        let mut room: BTreeMap<&str, bool> = BTreeMap::new();
        if g.policy == GroupPolicy::Spread {
            let members = members.get(id).map(Vec::as_slice).unwrap_or_default();
            for h in &problem.hosts {
                if let Some(dm) = domain_of(g, h) {
                    let r = room.entry(dm).or_insert(false);
                    *r = *r || members.iter().any(|m| could_take(h, m));
                }
            }
        }
        let broken = judge(g, &counts, &added, &room);
        if g.hard.unwrap_or(true) {
            if let Some(why) = broken.hard {
                out.push(v(Rule::GroupRule, "/placements", why));
            }
        } else {
            let claimed = solution
                .stats
                .soft_violations
                .get(&g.id)
                .copied()
                .unwrap_or(0);
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

fn judge(
    g: &Group,
    counts: &BTreeMap<&str, u64>,
    added: &BTreeMap<&str, u32>,
    room: &BTreeMap<&str, bool>,
) -> Judged {
    let id = &g.id;
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

//! The rules and cost of a plan made under `policy.reassign` (issue 29), recounted from the state
//! and the plan alone: transient resources (a moved VM still holds its share on the host it
//! started on, after the moves and while the waves of `steps` run), `min_domains`,
//! `dependencies`, and the five parts of `stats.reassign_cost`. Written apart from the converter
//! and the engine (`roadef::convert`, `roadef::state`), in 128-bit integers and ordered maps.

use super::Planned;
use crate::codes::Rule;
use crate::tolerance::exceeds;
use crate::{v, Collector};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use vmplace_wire::reassign::ReassignCost;
use vmplace_wire::state::{Plan, State, StateHost};

/// The pool as the checker sees it: resources, usable capacities, where each VM starts and ends.
pub(super) struct View<'a> {
    state: &'a State,
    names: Vec<String>,
    transient: Vec<bool>,
    /// `cap[h][k]`.
    cap: Vec<Vec<f64>>,
    /// `demand[v][k]`.
    demand: Vec<Vec<f64>>,
    start: Vec<usize>,
    end: Vec<usize>,
}

impl<'a> View<'a> {
    /// The pool of `state` before and after `plan`, with the plan's lookups of hosts and VMs.
    pub(super) fn new(
        state: &'a State,
        plan: &Plan,
        host_ix: &HashMap<&str, usize>,
        vm_ix: &HashMap<&str, usize>,
    ) -> View<'a> {
        let names: BTreeSet<String> = state
            .hosts
            .iter()
            .flat_map(|h| h.capacity.keys().cloned())
            .chain(state.vms.iter().flat_map(|v| v.demand.keys().cloned()))
            .collect();
        let names: Vec<String> = names.into_iter().collect();
        let transient = names
            .iter()
            .map(|n| state.resources.iter().any(|r| &r.name == n && r.transient))
            .collect();
        let cap = state
            .hosts
            .iter()
            .map(|h| {
                let lim =
                    |k: &String| crate::limit(&h.capacity, &h.reserved, &h.allocation_ratio, k);
                names.iter().map(lim).collect()
            })
            .collect();
        let demand = state
            .vms
            .iter()
            .map(|v| {
                names
                    .iter()
                    .map(|k| v.demand.get(k).copied().unwrap_or(0.0))
                    .collect()
            })
            .collect();
        // Unknown hosts and VMs are reported by the plan's own checks; they count as staying.
        let start: Vec<usize> = state
            .vms
            .iter()
            .map(|v| host_ix.get(v.host.as_str()).copied().unwrap_or(0))
            .collect();
        let mut end = start.clone();
        for m in &plan.migrations {
            if let (Some(&vi), Some(&h)) = (vm_ix.get(m.vm.as_str()), host_ix.get(m.to.as_str())) {
                end[vi] = h;
            }
        }
        View {
            state,
            names,
            transient,
            cap,
            demand,
            start,
            end,
        }
    }

    /// Per host and resource: what the VMs there use, plus, for transient resources, what the
    /// VMs that left it still hold.
    fn held(&self, at: &[usize]) -> Vec<Vec<f64>> {
        let mut load = vec![vec![0.0; self.names.len()]; self.state.hosts.len()];
        for (vi, d) in self.demand.iter().enumerate() {
            for (k, x) in d.iter().enumerate() {
                load[at[vi]][k] += x;
                if self.transient[k] && at[vi] != self.start[vi] {
                    load[self.start[vi]][k] += x;
                }
            }
        }
        load
    }
}

fn domain<'h>(h: &'h StateHost, scope: &str) -> Option<&'h str> {
    if scope == "host" {
        Some(&h.id)
    } else {
        h.labels.get(scope).map(String::as_str)
    }
}

/// `TRANSIENT_CAPACITY`: under `policy.reassign`, a host whose transient resources, counting the
/// shares the VMs that left it still hold, exceed their capacity after the plan or while a wave
/// runs.
pub(super) fn transient_capacity(cx: &Planned, out: &mut Collector) {
    let Some(view) = &cx.reassign else { return };
    if view.transient.iter().any(|&t| t) {
        let load = view.held(&view.end);
        transient_over(view, &load, "/migrations", out);
        transient_waves(cx, view, out);
    }
}

/// Part of `BAD_STATS`: under `policy.reassign`, the five parts of `stats.reassign_cost`.
pub(super) fn reassign_cost(cx: &Planned, out: &mut Collector) {
    let Some(view) = &cx.reassign else { return };
    let Some(weights) = cx.state.policy.as_ref().and_then(|p| p.reassign.as_ref()) else {
        return;
    };
    let want = ReassignCost {
        initial_total: cost(view, &view.start, weights).total,
        ..cost(view, &view.end, weights)
    };
    match &cx.plan.stats.reassign_cost {
        Some(c) if *c == want => {}
        got => out.push(v(
            Rule::BadStats,
            "/stats/reassign_cost",
            format!("the reassignment cost is {want:?}, the plan says {got:?}"),
        )),
    }
}

/// Every host whose transient resources exceed their capacity.
fn transient_over(view: &View, load: &[Vec<f64>], path: &str, out: &mut Collector) {
    for (h, row) in load.iter().enumerate() {
        for (k, &u) in row.iter().enumerate() {
            if view.transient[k] && exceeds(u, view.cap[h][k]) {
                out.push(v(
                    Rule::TransientCapacity,
                    path,
                    format!(
                        "host `{}`: transient `{}` {u} (with the shares of the VMs that left it) exceeds capacity {}",
                        view.state.hosts[h].id, view.names[k], view.cap[h][k]
                    ),
                ));
            }
        }
    }
}

/// The waves of `steps` replayed: while a wave runs its VMs count on both hosts, and a VM that
/// left the host it started on keeps its transient share there.
fn transient_waves(cx: &Planned, view: &View, out: &mut Collector) {
    let plan = cx.plan;
    let mut at = view.start.clone();
    let mut hops: HashMap<usize, usize> = HashMap::new();
    let legs: HashMap<usize, Vec<usize>> = plan
        .migrations
        .iter()
        .filter_map(|m| {
            let vi = *cx.vms.get(m.vm.as_str())?;
            let mut legs: Vec<usize> = m
                .via
                .iter()
                .filter_map(|p| cx.hosts.get(p.as_str()).copied())
                .collect();
            legs.push(*cx.hosts.get(m.to.as_str())?);
            Some((vi, legs))
        })
        .collect();
    for (w, wave) in plan.steps.iter().enumerate() {
        let mut load = view.held(&at);
        let mut next = at.clone();
        for id in wave {
            let Some(&vi) = cx.vms.get(id.as_str()) else {
                continue;
            };
            let n = hops.entry(vi).or_default();
            let Some(&to) = legs.get(&vi).and_then(|l| l.get(*n)) else {
                continue;
            };
            *n += 1;
            for (k, x) in view.demand[vi].iter().enumerate() {
                load[to][k] += x;
            }
            next[vi] = to;
        }
        transient_over(view, &load, &format!("/steps/{w}"), out);
        at = next;
    }
}

/// `MIN_DOMAINS`: under `policy.reassign`, each listed group's members in at least that many
/// domains after the plan.
pub(super) fn min_domains(cx: &Planned, out: &mut Collector) {
    let Some(view) = &cx.reassign else { return };
    let Some(md) = &view.state.min_domains else {
        return;
    };
    for (g, &k) in &md.groups {
        let used: BTreeSet<&str> = view
            .state
            .vms
            .iter()
            .enumerate()
            .filter(|(_, vm)| vm.groups.iter().any(|x| x == g))
            .filter_map(|(vi, _)| domain(&view.state.hosts[view.end[vi]], &md.scope))
            .collect();
        if used.len() < k as usize {
            out.push(v(
                Rule::MinDomains,
                "/migrations",
                format!(
                    "group `{g}` runs in {} domains of `{}`, fewer than {k}",
                    used.len(),
                    md.scope
                ),
            ));
        }
    }
}

/// `DEPENDENCY`: under `policy.reassign`, every member of a rule's group in a domain where a
/// member of `on` runs.
pub(super) fn dependency(cx: &Planned, out: &mut Collector) {
    let Some(view) = &cx.reassign else { return };
    let Some(deps) = &view.state.dependencies else {
        return;
    };
    let where_: BTreeMap<&str, BTreeSet<&str>> = {
        let mut m: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for (vi, vm) in view.state.vms.iter().enumerate() {
            if let Some(d) = domain(&view.state.hosts[view.end[vi]], &deps.scope) {
                for g in &vm.groups {
                    m.entry(g.as_str()).or_default().insert(d);
                }
            }
        }
        m
    };
    for (vi, vm) in view.state.vms.iter().enumerate() {
        let host = &view.state.hosts[view.end[vi]];
        for r in deps.rules.iter().filter(|r| vm.groups.contains(&r.group)) {
            let ok = domain(host, &deps.scope)
                .is_some_and(|d| where_.get(r.on.as_str()).is_some_and(|s| s.contains(d)));
            if !ok {
                out.push(v(
                    Rule::Dependency,
                    "/migrations",
                    format!(
                        "VM `{}` (group `{}`) on `{}`, where group `{}` does not run",
                        vm.id, r.group, host.id, r.on
                    ),
                ));
            }
        }
    }
}

/// The five parts of the cost with the VMs at `at`, in 128-bit integers.
fn cost(view: &View, at: &[usize], w: &vmplace_wire::reassign::ReassignPolicy) -> ReassignCost {
    let s = view.state;
    let r = view.names.len();
    let mut used = vec![vec![0i128; r]; s.hosts.len()];
    for (vi, d) in view.demand.iter().enumerate() {
        for k in 0..r {
            used[at[vi]][k] += d[k].round() as i128;
        }
    }
    let k_of: HashMap<&str, usize> = view
        .names
        .iter()
        .enumerate()
        .map(|(k, n)| (n.as_str(), k))
        .collect();
    let cap = |h: usize, k: usize| view.cap[h][k].round() as i128;
    let mut load = 0i128;
    for x in &s.resources {
        let Some(&k) = k_of.get(x.name.as_str()) else {
            continue;
        };
        for (h, host) in s.hosts.iter().enumerate() {
            let safety = host
                .safety_capacity
                .get(&x.name)
                .map_or(cap(h, k), |c| c.round() as i128);
            load += x.load_cost as i128 * (used[h][k] - safety).max(0);
        }
    }
    let mut balance = 0i128;
    for b in &s.balance {
        let (Some(&a), Some(&c)) = (
            k_of.get(b.resource_a.as_str()),
            k_of.get(b.resource_b.as_str()),
        ) else {
            continue;
        };
        for (h, row) in used.iter().enumerate() {
            let free = |k: usize| cap(h, k) - row[k];
            balance += b.weight as i128 * (b.target as i128 * free(a) - free(c)).max(0);
        }
    }
    let (mut vm_move, mut host_move) = (0i128, 0i128);
    let mut per_group: BTreeMap<&str, i128> = BTreeMap::new();
    let mut alone = 0i128;
    for (vi, vm) in s.vms.iter().enumerate() {
        if at[vi] == view.start[vi] {
            continue;
        }
        vm_move += vm.move_cost.unwrap_or(0) as i128;
        host_move += host_cost(s, view.start[vi], at[vi]);
        match vm.groups.first() {
            Some(g) => *per_group.entry(g.as_str()).or_default() += 1,
            None => alone = 1,
        }
    }
    let most = per_group.values().copied().max().unwrap_or(0).max(alone);
    let parts = [
        load,
        balance,
        w.vm_move as i128 * vm_move,
        w.group_move as i128 * most,
        w.host_move as i128 * host_move,
    ];
    let clip = |x: i128| i64::try_from(x).unwrap_or(i64::MAX);
    ReassignCost {
        load: clip(parts[0]),
        balance: clip(parts[1]),
        vm_move: clip(parts[2]),
        group_move: clip(parts[3]),
        host_move: clip(parts[4]),
        total: clip(parts.iter().sum()),
        initial_total: 0,
    }
}

/// `move_costs` of a move from host `a` to host `b`.
fn host_cost(s: &State, a: usize, b: usize) -> i128 {
    let Some(mc) = &s.move_costs else { return 0 };
    let (from, to) = (
        domain(&s.hosts[a], &mc.scope),
        domain(&s.hosts[b], &mc.scope),
    );
    match (from, to) {
        (Some(f), Some(t)) => mc
            .costs
            .get(f)
            .and_then(|row| row.get(t))
            .copied()
            .unwrap_or(0) as i128,
        _ => 0,
    }
}

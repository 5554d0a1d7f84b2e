//! A plan's `steps`, replayed wave by wave from the state: every migration runs in them (twice
//! for a VM with a pivot, `via`), and at every moment no host exceeds a capacity, takes part in
//! more than `policy.max_concurrent_per_host` migrations, or receives a member of an
//! anti-affinity group next to another, and no hard group rule is more broken than before the plan
//! (checker/plan_groups.rs). During a wave a VM counts on its source and its target.

use super::codes::Rule;
use super::tolerance::{exceeds, Sum};
use super::{v, Collector};
use std::collections::{BTreeMap, HashMap, HashSet};
use vmplace_wire::state::{Migration, Plan, State, StateVm};

/// What a VM uses now: each resource by its latest sample, or its whole demand.
fn now(vm: &StateVm) -> BTreeMap<&str, f64> {
    vm.demand
        .iter()
        .map(|(k, d)| {
            let f = vm
                .usage
                .get(k)
                .and_then(|u| u.last())
                .copied()
                .unwrap_or(1.0);
            (k.as_str(), d * f)
        })
        .collect()
}

/// Every migration is in the steps as often as it has hops, and the steps name only migrations.
fn coverage(plan: &Plan, by_vm: &HashMap<&str, &Migration>, out: &mut Collector) {
    if !plan.migrations.is_empty() && plan.steps.is_empty() {
        out.push(v(
            Rule::BadSteps,
            "/steps",
            "the plan moves VMs but has no steps",
        ));
        return;
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (w, wave) in plan.steps.iter().enumerate() {
        for (j, id) in wave.iter().enumerate() {
            if !by_vm.contains_key(id.as_str()) {
                out.push(v(
                    Rule::BadSteps,
                    format!("/steps/{w}/{j}"),
                    format!("`{id}` is not among the plan's migrations"),
                ));
            }
            *seen.entry(id.as_str()).or_default() += 1;
        }
    }
    for (i, m) in plan.migrations.iter().enumerate() {
        let hops = 1 + usize::from(m.via.is_some());
        let n = seen.get(m.vm.as_str()).copied().unwrap_or(0);
        if n != hops {
            out.push(v(
                Rule::BadSteps,
                format!("/migrations/{i}"),
                format!(
                    "`{}` has {hops} hop(s) but appears {n} time(s) in the steps",
                    m.vm
                ),
            ));
        }
    }
}

/// The pool during the replay.
struct Pool<'a> {
    at: HashMap<&'a str, &'a str>,
    used: HashMap<&'a str, BTreeMap<&'a str, f64>>,
    members: HashMap<(&'a str, &'a str), usize>,
}

impl<'a> Pool<'a> {
    fn shift(&mut self, vm: &'a StateVm, host: &'a str, sign: f64) {
        let used = self.used.entry(host).or_default();
        for (k, x) in now(vm) {
            *used.entry(k).or_default() += sign * x;
        }
        if let Some(g) = vm.anti_affinity.as_deref() {
            let n = self.members.entry((host, g)).or_default();
            *n = if sign > 0.0 {
                *n + 1
            } else {
                n.saturating_sub(1)
            };
        }
    }
}

/// Replays the waves and reports every unsafe moment.
pub(super) fn check_steps(state: &State, plan: &Plan, out: &mut Collector) {
    let by_vm: HashMap<&str, &Migration> =
        plan.migrations.iter().map(|m| (m.vm.as_str(), m)).collect();
    coverage(plan, &by_vm, out);
    let vms: HashMap<&str, &StateVm> = state.vms.iter().map(|x| (x.id.as_str(), x)).collect();
    let caps: HashMap<&str, _> = state
        .hosts
        .iter()
        .map(|h| {
            let usable: vmplace_wire::Resources = h
                .capacity
                .keys()
                .map(|k| {
                    let c = super::limit(&h.capacity, &h.reserved, &h.allocation_ratio, k);
                    (k.clone(), c)
                })
                .collect();
            (h.id.as_str(), usable)
        })
        .collect();
    let limit = state
        .policy
        .as_ref()
        .and_then(|p| p.max_concurrent_per_host)
        .unwrap_or(2);
    let mut pool = Pool {
        at: HashMap::new(),
        used: HashMap::new(),
        members: HashMap::new(),
    };
    for vm in &state.vms {
        pool.at.insert(vm.id.as_str(), vm.host.as_str());
        pool.shift(vm, vm.host.as_str(), 1.0);
    }
    let rules = super::plan_groups::PlanRules::new(state);
    let mut hopped: HashSet<&str> = HashSet::new();
    for (w, wave) in plan.steps.iter().enumerate() {
        let path = format!("/steps/{w}");
        let mut part: BTreeMap<&str, usize> = BTreeMap::new();
        let mut incoming: BTreeMap<&str, Vec<&StateVm>> = BTreeMap::new();
        let mut hops: Vec<(&StateVm, &str, &str)> = Vec::new();
        for id in wave {
            let (Some(&m), Some(&vm)) = (by_vm.get(id.as_str()), vms.get(id.as_str())) else {
                continue;
            };
            let to = match &m.via {
                Some(p) if !hopped.contains(id.as_str()) => p.as_str(),
                _ => m.to.as_str(),
            };
            hopped.insert(id.as_str());
            let from = pool.at.get(id.as_str()).copied().unwrap_or("");
            *part.entry(from).or_default() += 1;
            *part.entry(to).or_default() += 1;
            incoming.entry(to).or_default().push(vm);
            hops.push((vm, from, to));
        }
        for (h, n) in &part {
            if *n > limit {
                out.push(v(
                    Rule::Concurrency,
                    path.clone(),
                    format!(
                        "host `{h}` takes part in {n} migrations at once; the limit is {limit}"
                    ),
                ));
            }
        }
        for (h, arriving) in &incoming {
            wave_capacity(&pool, &caps, h, arriving, &path, out);
            wave_anti_affinity(&pool, h, arriving, &path, out);
        }
        if !rules.is_empty() {
            let moving: HashMap<&str, [&str; 2]> = hops
                .iter()
                .map(|(vm, f, t)| (vm.id.as_str(), [*f, *t]))
                .collect();
            let at = |id: &str| match moving.get(id) {
                Some(ends) => ends.to_vec(),
                None => pool.at.get(id).copied().into_iter().collect(),
            };
            rules.check_anti_affinity(at, &path, out);
        }
        for (vm, from, to) in hops {
            pool.shift(vm, from, -1.0);
            pool.shift(vm, to, 1.0);
            pool.at.insert(vm.id.as_str(), to);
        }
        if !rules.is_empty() {
            rules.check_settled(|id| pool.at.get(id).copied(), &path, out);
        }
    }
}

/// Host `h` during the wave: what it holds (including VMs leaving it) plus what arrives.
fn wave_capacity(
    pool: &Pool,
    caps: &HashMap<&str, vmplace_wire::Resources>,
    h: &str,
    arriving: &[&StateVm],
    path: &str,
    out: &mut Collector,
) {
    let Some(cap) = caps.get(h) else { return };
    let mut total: BTreeMap<&str, Sum> = BTreeMap::new();
    for (&k, &x) in pool.used.get(h).into_iter().flatten() {
        total.entry(k).or_default().add(x);
    }
    for vm in arriving {
        for (k, x) in now(vm) {
            total.entry(k).or_default().add(x);
        }
    }
    for (k, u) in total {
        let (u, c) = (u.value(), cap.get(k).copied().unwrap_or(0.0));
        if exceeds(u, c) {
            out.push(v(
                Rule::UnsafeStep,
                path,
                format!("host `{h}`: `{k}` {u} exceeds capacity {c} while the wave runs"),
            ));
        }
    }
}

/// No member of a group arrives at `h` while another member is there or arrives too.
fn wave_anti_affinity(
    pool: &Pool,
    h: &str,
    arriving: &[&StateVm],
    path: &str,
    out: &mut Collector,
) {
    let mut groups: BTreeMap<&str, usize> = BTreeMap::new();
    for vm in arriving {
        if let Some(g) = vm.anti_affinity.as_deref() {
            *groups.entry(g).or_default() += 1;
        }
    }
    for (g, n) in groups {
        let there = pool.members.get(&(h, g)).copied().unwrap_or(0);
        if n + there > 1 {
            out.push(v(
                Rule::AntiAffinity,
                path,
                format!(
                    "host `{h}` holds {} members of group `{g}` while the wave runs",
                    n + there
                ),
            ));
        }
    }
}

//! A plan's `steps`, replayed wave by wave from the state: every migration runs in them (twice
//! for a VM with a pivot, `via`), and at every moment no host exceeds a capacity, takes part in
//! more than `policy.max_concurrent_per_host` migrations, or receives a member of an
//! anti-affinity group next to another, and no hard group rule is more broken than before the plan
//! (`plan_groups`). During a wave a VM counts on its source and its target.

use super::Planned;
use crate::codes::Rule;
use crate::tolerance::{exceeds, Sum};
use crate::{v, Collector};
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

/// One hop of a wave: a VM of a migration, the host it leaves and the one it reaches (its pivot
/// the first time, if it has one).
struct Hop<'a> {
    vm: &'a StateVm,
    from: &'a str,
    to: &'a str,
}

/// The waves of `steps` resolved into hops, built once; each rule replays what it counts.
pub(super) struct Waves<'a> {
    /// Each migration by its VM (the last of a repeated VM).
    by_vm: HashMap<&'a str, &'a Migration>,
    /// The usable capacity of each host, per resource.
    caps: HashMap<&'a str, vmplace_wire::Resources>,
    /// `policy.max_concurrent_per_host`.
    limit: usize,
    /// Per wave, its hops in order (steps naming no migration of a known VM left out).
    hops: Vec<Vec<Hop<'a>>>,
}

impl<'a> Waves<'a> {
    pub(super) fn new(state: &'a State, plan: &'a Plan) -> Waves<'a> {
        let by_vm: HashMap<&str, &Migration> =
            plan.migrations.iter().map(|m| (m.vm.as_str(), m)).collect();
        let vms: HashMap<&str, &StateVm> = state.vms.iter().map(|x| (x.id.as_str(), x)).collect();
        let caps = state
            .hosts
            .iter()
            .map(|h| {
                let usable: vmplace_wire::Resources = h
                    .capacity
                    .keys()
                    .map(|k| {
                        let c = crate::limit(&h.capacity, &h.reserved, &h.allocation_ratio, k);
                        (k.clone(), c)
                    })
                    .collect();
                (h.id.as_str(), usable)
            })
            .collect();
        let limit = state
            .policy
            .as_ref()
            .and_then(|p| p.max_concurrent_per_host);
        let mut at = start(state);
        let mut hopped: HashSet<&str> = HashSet::new();
        let mut hops = Vec::new();
        for wave in &plan.steps {
            let mut wave_hops = Vec::new();
            for id in wave {
                let (Some(&m), Some(&vm)) = (by_vm.get(id.as_str()), vms.get(id.as_str())) else {
                    continue;
                };
                let to = match &m.via {
                    Some(p) if !hopped.contains(id.as_str()) => p.as_str(),
                    _ => m.to.as_str(),
                };
                hopped.insert(id.as_str());
                let from = at.get(id.as_str()).copied().unwrap_or("");
                wave_hops.push(Hop { vm, from, to });
            }
            settle(&mut at, &wave_hops);
            hops.push(wave_hops);
        }
        Waves {
            by_vm,
            caps,
            limit: limit.unwrap_or(2),
            hops,
        }
    }

    /// Each wave with its path.
    fn each(&self) -> impl Iterator<Item = (String, &[Hop<'a>])> {
        let waves = self.hops.iter().enumerate();
        waves.map(|(w, hops)| (format!("/steps/{w}"), hops.as_slice()))
    }
}

/// Every VM's host before the plan.
fn start(state: &State) -> HashMap<&str, &str> {
    let at = state.vms.iter();
    at.map(|vm| (vm.id.as_str(), vm.host.as_str())).collect()
}

/// Every VM of a wave on the host it reaches, once the wave has ended.
fn settle<'a>(at: &mut HashMap<&'a str, &'a str>, hops: &[Hop<'a>]) {
    for hop in hops {
        at.insert(hop.vm.id.as_str(), hop.to);
    }
}

/// The VMs each host receives during a wave, in order.
fn incoming<'a>(hops: &[Hop<'a>]) -> BTreeMap<&'a str, Vec<&'a StateVm>> {
    let mut incoming: BTreeMap<&str, Vec<&StateVm>> = BTreeMap::new();
    for hop in hops {
        incoming.entry(hop.to).or_default().push(hop.vm);
    }
    incoming
}

/// `BAD_STEPS`: every migration is in the steps as often as it has hops, and the steps name only
/// migrations.
pub(super) fn bad_steps(cx: &Planned, out: &mut Collector) {
    let (plan, by_vm) = (cx.plan, &cx.waves.by_vm);
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

/// `CONCURRENCY`: a host that takes part in more migrations of one wave than
/// `policy.max_concurrent_per_host`.
pub(super) fn concurrency(cx: &Planned, out: &mut Collector) {
    let limit = cx.waves.limit;
    for (path, hops) in cx.waves.each() {
        let mut part: BTreeMap<&str, usize> = BTreeMap::new();
        for hop in hops {
            *part.entry(hop.from).or_default() += 1;
            *part.entry(hop.to).or_default() += 1;
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
    }
}

/// What each host uses, per resource, replayed wave by wave.
type Used<'a> = HashMap<&'a str, BTreeMap<&'a str, f64>>;

fn shift<'a>(used: &mut Used<'a>, vm: &'a StateVm, host: &'a str, sign: f64) {
    let used = used.entry(host).or_default();
    for (k, x) in now(vm) {
        *used.entry(k).or_default() += sign * x;
    }
}

/// `UNSAFE_STEP`: a host that exceeds a capacity while a wave runs: what it holds (including the
/// VMs leaving it) plus what arrives.
pub(super) fn unsafe_step(cx: &Planned, out: &mut Collector) {
    let mut used: Used = HashMap::new();
    for vm in &cx.state.vms {
        shift(&mut used, vm, vm.host.as_str(), 1.0);
    }
    for (path, hops) in cx.waves.each() {
        for (h, arriving) in &incoming(hops) {
            let Some(cap) = cx.waves.caps.get(h) else {
                continue;
            };
            let mut total: BTreeMap<&str, Sum> = BTreeMap::new();
            for (&k, &x) in used.get(h).into_iter().flatten() {
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
                        &path,
                        format!("host `{h}`: `{k}` {u} exceeds capacity {c} while the wave runs"),
                    ));
                }
            }
        }
        for hop in hops {
            shift(&mut used, hop.vm, hop.from, -1.0);
            shift(&mut used, hop.vm, hop.to, 1.0);
        }
    }
}

/// Anti-affinity members per host and group, replayed wave by wave.
type Members<'a> = HashMap<(&'a str, &'a str), usize>;

fn count<'a>(members: &mut Members<'a>, vm: &'a StateVm, host: &'a str, sign: f64) {
    if let Some(g) = vm.anti_affinity.as_deref() {
        let n = members.entry((host, g)).or_default();
        *n = if sign > 0.0 {
            *n + 1
        } else {
            n.saturating_sub(1)
        };
    }
}

/// Part of `ANTI_AFFINITY`: no member of a group arrives at a host while another member is there
/// or arrives too.
pub(super) fn wave_anti_affinity(cx: &Planned, out: &mut Collector) {
    let mut members: Members = HashMap::new();
    for vm in &cx.state.vms {
        count(&mut members, vm, vm.host.as_str(), 1.0);
    }
    for (path, hops) in cx.waves.each() {
        for (h, arriving) in &incoming(hops) {
            let mut groups: BTreeMap<&str, usize> = BTreeMap::new();
            for g in arriving.iter().filter_map(|vm| vm.anti_affinity.as_deref()) {
                *groups.entry(g).or_default() += 1;
            }
            for (g, n) in groups {
                let there = members.get(&(*h, g)).copied().unwrap_or(0);
                if n + there > 1 {
                    out.push(v(
                        Rule::AntiAffinity,
                        &path,
                        format!(
                            "host `{h}` holds {} members of group `{g}` while the wave runs",
                            n + there
                        ),
                    ));
                }
            }
        }
        for hop in hops {
            count(&mut members, hop.vm, hop.from, -1.0);
            count(&mut members, hop.vm, hop.to, 1.0);
        }
    }
}

/// Part of `GROUP_RULE`: while a wave runs its VMs count on both hosts (anti-affinity), and
/// once it has ended no hard rule is more broken than before the plan (affinity, spread).
pub(super) fn wave_group_rules(cx: &Planned, out: &mut Collector) {
    let mut at = start(cx.state);
    for (path, hops) in cx.waves.each() {
        let moving: HashMap<&str, [&str; 2]> = hops
            .iter()
            .map(|hop| (hop.vm.id.as_str(), [hop.from, hop.to]))
            .collect();
        let during = |id: &str| match moving.get(id) {
            Some(ends) => ends.to_vec(),
            None => at.get(id).copied().into_iter().collect(),
        };
        cx.rules.check_anti_affinity(during, &path, out);
        settle(&mut at, hops);
        cx.rules.check_settled(|id| at.get(id).copied(), &path, out);
    }
}

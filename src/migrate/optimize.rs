//! vmplace's migration policy: the round MIP (models/migration.md) over candidate moves, started
//! from a greedy plan on the same data so that its answer is never worse than the greedy one.

use super::{confirm, converse, decline, Ctx, Migration, PlanStats};
use crate::format::state::{Candidate, Detection, HistorySent, HostState, Score};
use crate::format::Status;
use crate::model::migration::{cost, solve, RoundHost, RoundInput, RoundVm};
use crate::model::{MipOptions, MipStatus};
use std::collections::{BTreeMap, HashMap};

/// Most candidate VMs in one round model (whole hosts, least efficient first).
const MAX_CANDIDATES: usize = 1200;
/// Targets per VM in the model besides its host and the greedy choice (cheapest first), at most.
const TARGETS: usize = 12;
/// Target columns per round, about: big rounds get fewer targets per VM (at least `MIN_TARGETS`),
/// so that HiGHS ends them by its node limit rather than its time limit.
const COLUMNS: usize = 2500;
/// Targets per VM, at least.
const MIN_TARGETS: usize = 3;
/// Branch-and-bound nodes per round: the work limit that keeps rounds fast and repeatable.
const MAX_NODES: u32 = 200;
/// Overload penalty, W per unit of a host's capacity above the safe utilisation.
const PENALTY: f64 = 10_000.0;

/// Why a host's VMs are candidates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Not a source: its VMs stay.
    Keep,
    Overload,
    Maintenance,
    /// Among the least efficient: emptied if that pays.
    Underload,
}

impl Role {
    fn reason(self) -> &'static str {
        match self {
            Role::Keep => "",
            Role::Overload => "overload",
            Role::Maintenance => "maintenance",
            Role::Underload => "underload",
        }
    }
}

/// Plans the round with the MIP and books its moves; returns the plan status (the gap goes to
/// `stats`).
pub(super) fn round(cx: &mut Ctx, overloaded: &[usize], stats: &mut PlanStats) -> Status {
    let pool = &cx.pool;
    let policy = cx.policy;
    let n_hosts = pool.hosts.len();
    let Some(cpu) = pool.cpu else {
        return Status::Feasible;
    };
    let held = |v: usize| pool.vms[v].moved_ago_s.is_some_and(|s| s < policy.hold_s);
    let mut role = vec![Role::Keep; n_hosts];
    for &h in overloaded {
        role[h] = Role::Overload;
    }
    for (h, host) in pool.hosts.iter().enumerate() {
        if host.state != HostState::Active {
            role[h] = Role::Maintenance;
        }
    }
    // Expected CPU for the next interval, as the round's detector will see it: LR extrapolates
    // each VM's own history (the host's regression is the sum of its VMs') as far as the longest
    // migration in the pool reaches, the others look at what the VM uses now.
    let lr = matches!(policy.detection, Detection::Lr | Detection::Lrr);
    let steps = ((0..pool.vms.len())
        .map(|v| pool.migration_time(v))
        .fold(0.0, f64::max)
        / policy.interval_s)
        .ceil();
    let expected_cpu: Vec<f64> = pool
        .vms
        .iter()
        .map(|vm| {
            let now = vm.now[cpu];
            match super::detect::lr_forecast(&vm.cpu_history, steps) {
                Some(f) if lr => (f * vm.demand[cpu]).max(0.0),
                _ => now,
            }
        })
        .collect();
    let peak = |v: usize| expected_cpu[v];
    // The safe utilisation: where the detector starts to flag a host.
    let theta = match policy.detection {
        Detection::Thr => policy.parameter,
        Detection::Lr | Detection::Lrr => 1.0 / policy.parameter.max(1e-9),
        Detection::Iqr | Detection::Mad => policy.fallback_threshold,
    };
    let movable = |v: usize, r: Role| r == Role::Maintenance || (r != Role::Keep && !held(v));
    let mut room = MAX_CANDIDATES.saturating_sub(
        (0..pool.vms.len())
            .filter(|&v| movable(v, role[pool.vms[v].host]))
            .count(),
    );
    // Consolidation candidates: whole hosts, none with a held VM.
    let mut active: Vec<usize> = (0..n_hosts)
        .filter(|&h| role[h] == Role::Keep && pool.vms_on(h).next().is_some())
        .collect();
    // Worst first: the most idle watts per unit of CPU served.
    let idle_per_use = |h: usize| {
        let used = pool.cpu_util(h) * pool.hosts[h].cap[cpu];
        super::detect::power_at(&pool.hosts[h].watts, 0.0) / used.max(1e-9)
    };
    active.sort_by(|&a, &b| idle_per_use(b).total_cmp(&idle_per_use(a)).then(a.cmp(&b)));
    // Room under the safe utilisation on the hosts that stay, less what the overloaded hosts must
    // shed: a host whose expected load does not fit in what is left cannot be emptied, so it is
    // no candidate. In a spread-out pool nearly every host qualifies, in a packed one few do.
    let expected = |h: usize| pool.vms_on(h).map(peak).sum::<f64>();
    let safe = |h: usize| theta * pool.hosts[h].cap[cpu];
    let mut free: f64 = active
        .iter()
        .map(|&h| (safe(h) - expected(h)).max(0.0))
        .sum::<f64>()
        - overloaded
            .iter()
            .map(|&h| (expected(h) - safe(h)).max(0.0))
            .sum::<f64>();
    for &h in &active {
        let n = pool.vms_on(h).count();
        if n > room {
            break;
        }
        let (load, spare) = (expected(h), (safe(h) - expected(h)).max(0.0));
        if load + spare > free || pool.vms_on(h).any(held) {
            continue;
        }
        role[h] = Role::Underload;
        room -= n;
        free -= load + spare;
    }
    let candidates: Vec<usize> = (0..pool.vms.len())
        .filter(|&v| movable(v, role[pool.vms[v].host]))
        .collect();
    if candidates.is_empty() {
        return Status::Optimal;
    }
    let mut is_candidate = vec![false; pool.vms.len()];
    for &v in &candidates {
        is_candidate[v] = true;
    }
    // Hard capacities on what VMs use now, CPU included (the headroom on expected CPU is soft).
    let rest: Vec<usize> = (0..pool.resources.len()).collect();
    // A host already over a capacity takes no VM, and its own rows are left out.
    let over_now: Vec<bool> = (0..n_hosts)
        .map(|h| {
            let used = pool.used(h);
            rest.iter().any(|&r| used[r] > pool.hosts[h].cap[r] + 1e-9)
        })
        .collect();
    let mut groups: HashMap<&str, usize> = HashMap::new();
    let mut group_fixed = Vec::new();
    let mut hosts: Vec<RoundHost> = pool
        .hosts
        .iter()
        .enumerate()
        .map(|(i, h)| RoundHost {
            cap: h.cap[cpu],
            fixed: 0.0,
            p0: super::detect::power_at(&h.watts, 0.0),
            p1: super::detect::power_at(&h.watts, 1.0),
            always_on: false,
            rest_cap: rest
                .iter()
                .map(|&r| if over_now[i] { f64::INFINITY } else { h.cap[r] })
                .collect(),
            rest_fixed: vec![0.0; rest.len()],
        })
        .collect();
    for (v, vm) in pool.vms.iter().enumerate() {
        if is_candidate[v] {
            continue;
        }
        let host = &mut hosts[vm.host];
        host.fixed += peak(v);
        host.always_on = true;
        for (i, &r) in rest.iter().enumerate() {
            host.rest_fixed[i] += vm.now[r];
        }
        if let Some(g) = &vm.group {
            let n = groups.len();
            group_fixed.push((*groups.entry(g.as_str()).or_insert(n), vm.host));
        }
    }
    let group_of: Vec<Option<usize>> = candidates
        .iter()
        .map(|&v| {
            let n = groups.len();
            pool.vms[v]
                .group
                .as_ref()
                .map(|g| *groups.entry(g.as_str()).or_insert(n))
        })
        .collect();

    let dynamic = |v: usize, h: usize| {
        let host = &hosts[h];
        (host.p1 - host.p0) * pool.vms[v].now[cpu] / host.cap.max(1e-12)
    };
    // Admission apart from headroom (the model and the greedy handle it): every accepting host.
    let mut declined_all: Vec<BTreeMap<String, usize>> = Vec::with_capacity(candidates.len());
    let mut accepting: Vec<Vec<usize>> = Vec::with_capacity(candidates.len());
    for &v in &candidates {
        let vm = &pool.vms[v];
        let mut declined: BTreeMap<String, usize> = BTreeMap::new();
        let mut ok = Vec::new();
        for (h, host) in pool.hosts.iter().enumerate() {
            if h == vm.host {
                continue;
            }
            let code = if role[h] == Role::Maintenance {
                Some(decline::STATE)
            } else if role[h] == Role::Overload {
                Some(decline::SOURCE)
            } else if !host.storage.contains(&vm.storage) {
                Some(decline::STORAGE)
            } else if over_now[h]
                || rest.iter().any(|&r| vm.now[r] > host.cap[r] + 1e-9)
                || peak(v) > host.cap[cpu]
            {
                Some(decline::CAPACITY)
            } else {
                None
            };
            match code {
                Some(c) => *declined.entry(c.to_string()).or_default() += 1,
                None => ok.push(h),
            }
        }
        declined_all.push(declined);
        accepting.push(ok);
    }
    let move_cost = |v: usize| {
        let optional = role[pool.vms[v].host] == Role::Underload;
        policy.weights.2.max(0.0) * pool.migration_time(v)
            + if optional { policy.min_gain_w } else { 0.0 }
    };
    let rest_use: Vec<Vec<f64>> = candidates
        .iter()
        .map(|&v| rest.iter().map(|&r| pool.vms[v].now[r]).collect())
        .collect();
    let greedy = greedy(Greedy {
        pool,
        hosts: &hosts,
        group_of: &group_of,
        group_fixed: &group_fixed,
        budget: policy.budget,
        rest_use: &rest_use,
        role: &role,
        candidates: &candidates,
        accepting: &accepting,
        peak: &peak,
        dynamic: &dynamic,
        move_cost: &move_cost,
        theta,
    });
    let per_vm = (COLUMNS / candidates.len()).clamp(MIN_TARGETS, TARGETS);
    let vms: Vec<RoundVm> = candidates
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let vm = &pool.vms[v];
            let on_now = |h: usize| role[h] == Role::Keep && pool.vms_on(h).next().is_some();
            // Hosts that stay on anyway first (their idle power is paid), then cheapest power.
            let mut ranked: Vec<(f64, usize)> = accepting[i]
                .iter()
                .map(|&h| {
                    let idle = if on_now(h) { 0.0 } else { hosts[h].p0 };
                    (idle + dynamic(v, h), h)
                })
                .collect();
            ranked.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let start = greedy[i];
            let mut targets: Vec<usize> = start.filter(|&h| h != vm.host).into_iter().collect();
            for (_, h) in ranked {
                if targets.len() > per_vm {
                    break;
                }
                if !targets.contains(&h) {
                    targets.push(h);
                }
            }
            RoundVm {
                cpu: vm.now[cpu],
                peak: peak(v),
                stay: (role[vm.host] != Role::Maintenance).then_some(vm.host),
                targets,
                move_cost: move_cost(v),
                group: group_of[i],
                rest: rest.iter().map(|&r| vm.now[r]).collect(),
                start,
            }
        })
        .collect();
    let input = RoundInput {
        hosts,
        vms,
        group_fixed,
        theta,
        budget: policy.budget,
        penalty: PENALTY,
    };
    let opts = MipOptions {
        time_limit_s: policy.time_limit_s,
        mip_gap: 0.02,
        threads: 1,
        write_model: None,
        relax: false,
        cancel: None,
        max_nodes: Some(MAX_NODES),
    };
    let greedy_cost = cost(&input, &greedy);
    let solved = solve(&input, &opts);
    let (status, ends) = match solved {
        // The solver's answer when it ended by proof or by its node limit (both repeatable) and
        // is no worse than the greedy plan it started from. When the wall clock stopped it, the
        // greedy plan stands, so that the same state always gets the same plan.
        Ok((r, ends))
            if r.status != MipStatus::TimeLimit
                && ends.iter().all(|e| e.is_some())
                && cost(&input, &ends) <= greedy_cost + 1e-6 =>
        {
            stats.gap = relative_gap(r.objective, r.bound);
            let s = match r.status {
                MipStatus::Optimal => Status::Optimal,
                MipStatus::TimeLimit => Status::TimeLimit,
                _ => Status::Feasible,
            };
            (s, ends)
        }
        Ok((r, _)) => {
            stats.gap = relative_gap(greedy_cost, r.bound);
            let s = if r.status == MipStatus::TimeLimit {
                Status::TimeLimit
            } else {
                Status::Feasible
            };
            (s, greedy.clone())
        }
        Err(e) => {
            tracing::warn!(error = %e, "round MIP failed: the greedy plan stands");
            (Status::Feasible, greedy.clone())
        }
    };
    book(cx, &candidates, &role, &input, &declined_all, &ends, stats);
    status
}

/// (objective - bound) / |objective|, or None while the solver has no finite bound.
fn relative_gap(objective: f64, bound: f64) -> Option<f64> {
    let gap = if objective.abs() > 1e-9 {
        (objective - bound) / objective.abs()
    } else {
        objective - bound
    };
    gap.is_finite().then_some(gap.max(0.0))
}

/// What the greedy plan needs.
struct Greedy<'a> {
    pool: &'a super::Pool,
    hosts: &'a [RoundHost],
    /// Each candidate's anti-affinity group.
    group_of: &'a [Option<usize>],
    /// (group, host) of members that are not candidates.
    group_fixed: &'a [(usize, usize)],
    /// Most moves.
    budget: usize,
    /// Each candidate's use of the resources other than CPU.
    rest_use: &'a [Vec<f64>],
    role: &'a [Role],
    candidates: &'a [usize],
    accepting: &'a [Vec<usize>],
    peak: &'a dyn Fn(usize) -> f64,
    dynamic: &'a dyn Fn(usize, usize) -> f64,
    move_cost: &'a dyn Fn(usize) -> f64,
    theta: f64,
}

/// The pool as the greedy plan fills it: expected CPU, VM count, other resources and
/// anti-affinity groups per host.
#[derive(Clone)]
struct Packing {
    load: Vec<f64>,
    count: Vec<usize>,
    rest: Vec<Vec<f64>>,
    members: Vec<Vec<usize>>,
}

impl Packing {
    fn new(g: &Greedy) -> Packing {
        let n = g.hosts.len();
        let mut p = Packing {
            load: g.hosts.iter().map(|h| h.fixed).collect(),
            count: vec![0; n],
            rest: g.hosts.iter().map(|h| h.rest_fixed.clone()).collect(),
            members: vec![Vec::new(); n],
        };
        for vm in &g.pool.vms {
            p.count[vm.host] += 1;
        }
        for &(group, h) in g.group_fixed {
            p.members[h].push(group);
        }
        for (i, &v) in g.candidates.iter().enumerate() {
            let h = g.pool.vms[v].host;
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
        self.load[h] + (g.peak)(g.candidates[i]) <= g.theta * g.hosts[h].cap + 1e-9
            && self.rest[h]
                .iter()
                .zip(&g.rest_use[i])
                .zip(&g.hosts[h].rest_cap)
                .all(|((used, u), cap)| used + u <= cap + 1e-9)
            && g.group_of[i].is_none_or(|group| !self.members[h].contains(&group))
    }

    /// The accepting host where candidate `i` costs least (idle power if it is off, then the
    /// dynamic power), among hosts not `closed` (and already on, if `only_on`).
    fn best(&self, g: &Greedy, i: usize, closed: &[bool], only_on: bool) -> Option<usize> {
        let v = g.candidates[i];
        g.accepting[i]
            .iter()
            .copied()
            .filter(|&h| !closed[h] && (!only_on || self.count[h] > 0) && self.fits(g, i, h))
            .map(|h| {
                let idle = if self.count[h] > 0 {
                    0.0
                } else {
                    g.hosts[h].p0
                };
                (idle + (g.dynamic)(v, h), h)
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
    }
}

/// A plan on the model's data: VMs leave hosts in maintenance and overloaded hosts (largest first,
/// until the host is under the safe utilisation) for the accepting host whose cost grows least;
/// then the least-utilised candidate hosts are emptied, one at a time, onto hosts that stay on,
/// when the idle power saved outweighs the moves. Respects capacities, anti-affinity and the
/// budget. Returns each candidate's host afterwards.
fn greedy(g: Greedy) -> Vec<Option<usize>> {
    let pool = g.pool;
    let mut pack = Packing::new(&g);
    let mut end: Vec<Option<usize>> = g
        .candidates
        .iter()
        .map(|&v| Some(pool.vms[v].host))
        .collect();
    let mut moves_left = g.budget;
    let mut closed: Vec<bool> = g.role.iter().map(|r| *r == Role::Maintenance).collect();
    let mut by_host: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, &v) in g.candidates.iter().enumerate() {
        by_host.entry(pool.vms[v].host).or_default().push(i);
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
        if !matches!(g.role[h], Role::Overload | Role::Maintenance) {
            continue;
        }
        closed[h] = true;
        for i in largest_first(list) {
            let relieved =
                g.role[h] == Role::Overload && pack.load[h] <= g.theta * g.hosts[h].cap + 1e-9;
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
        .filter(|&h| g.role[h] == Role::Underload)
        .collect();
    under.sort_by(|&a, &b| pack.load[a].total_cmp(&pack.load[b]).then(a.cmp(&b)));
    let mut received = vec![false; g.hosts.len()];
    for h in under {
        let list = &by_host[&h];
        if received[h] || pack.count[h] == 0 || list.len() > moves_left {
            continue;
        }
        closed[h] = true;
        let saved = pack.clone();
        let mut gain = g.hosts[h].p0;
        let mut moves = Vec::new();
        for i in largest_first(list) {
            let v = g.candidates[i];
            let Some(t) = pack.best(&g, i, &closed, true) else {
                break;
            };
            gain += (g.dynamic)(v, h) - (g.dynamic)(v, t) - (g.move_cost)(v);
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
            pack = saved;
            closed[h] = false;
        }
    }
    end
}

/// Books the moves of `ends` (each candidate's host after the round) into the plan.
fn book(
    cx: &mut Ctx,
    candidates: &[usize],
    role: &[Role],
    input: &RoundInput,
    declined_all: &[BTreeMap<String, usize>],
    ends: &[Option<usize>],
    stats: &mut PlanStats,
) {
    let n_hosts = cx.pool.hosts.len();
    let Some(cpu) = cx.pool.cpu else { return };
    let mut emptied: Vec<usize> = Vec::new();
    for (i, &v) in candidates.iter().enumerate() {
        let Some(to) = ends[i] else { continue };
        let from = cx.pool.vms[v].host;
        if to == from {
            continue;
        }
        let vm_id = cx.pool.vms[v].id.clone();
        let from_id = cx.pool.hosts[from].id.clone();
        let to_id = cx.pool.hosts[to].id.clone();
        let mut candidates_out = Vec::new();
        for &h in std::iter::once(&to)
            .chain(input.vms[i].targets.iter().filter(|&&h| h != to))
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
        let add = cx.pool.vms[v].now[cpu] / cx.pool.hosts[to].cap[cpu].max(1e-12);
        let power = cx.pool.power(to, before + add) - cx.pool.power(to, before);
        cx.migrations.push(Migration {
            vm: vm_id,
            from: from_id,
            to: to_id,
            live: true,
            reason: role[from].reason().to_string(),
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

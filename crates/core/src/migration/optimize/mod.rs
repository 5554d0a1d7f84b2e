//! vmplace's migration policy: the round MIP (models/migration.md) over candidate moves, started
//! from a greedy plan on the same data so that its answer is never worse than the greedy one.
//! [`candidates`] decides which VMs may move and where, [`greedy`] plans them greedily, this
//! file builds the model's input and picks the plan, and [`book`] writes it into the plan.

mod book;
mod candidates;
mod greedy;

use super::Ctx;
use crate::budget::Budget;
use crate::domain::groups::{Counts, Policy};
use crate::domain::migration::{HostIx, IxVec, Pool, VmIx};
use crate::domain::quality::{gap, Goal};
use crate::domain::{Stopped, MIP_TOL, TINY};
use crate::model::migration::{
    cost, room_extremes, solve, Arrivals, RoundHost, RoundInput, RoundPolicy, RoundRule, RoundVm,
};
use crate::model::{MipOptions, MipStatus};
use candidates::{Admissible, Sources};
use std::collections::HashMap;
use std::time::Instant;
use vmplace_wire::state::{MigrationReason, PlanStats};
use vmplace_wire::Status;

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
/// Price of a VM left on a host in maintenance, W-equivalent: above any power saving.
const STUCK: f64 = 1_000_000.0;

/// Dynamic power of VM `v` on host `h`, W.
type DynamicPower<'a> = dyn Fn(VmIx, HostIx) -> f64 + 'a;
/// Price of moving VM `v`, W.
type MoveCost<'a> = dyn Fn(VmIx) -> f64 + 'a;

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
    /// The reason of a move away from a host with this role (none for `Keep`: its VMs stay).
    fn reason(self) -> Option<MigrationReason> {
        match self {
            Role::Keep => None,
            Role::Overload => Some(MigrationReason::Overload),
            Role::Maintenance => Some(MigrationReason::Maintenance),
            Role::Underload => Some(MigrationReason::Underload),
        }
    }
}

/// Plans the round with the MIP and books its moves; returns the plan status (the gap goes to
/// `stats`). The call's deadline and cancel flag are asked while the round's structures are
/// built: past them before the greedy plan, every VM stays; after it, the greedy plan stands.
/// Either way the status is `time_limit`.
pub(super) fn round(cx: &mut Ctx, overloaded: &[HostIx], stats: &mut PlanStats) -> Status {
    let pool = &cx.pool;
    let policy = cx.policy;
    let Some(cpu) = pool.axes.cpu else {
        return Status::Feasible;
    };
    let sources = Sources::new(pool, policy, cpu, overloaded);
    if sources.candidates.is_empty() {
        return Status::Optimal;
    }
    let built = (|| {
        let rules = round_rules(pool, &sources, &cx.stop)?;
        let admissible = Admissible::new(pool, &sources, cpu, &cx.stop)?;
        Ok::<_, Stopped>((rules, admissible))
    })();
    let Ok((rules, admissible)) = built else {
        stay(cx, &sources, stats);
        return Status::TimeLimit;
    };
    let groups = Groups::new(pool, &sources);
    let hosts = round_hosts(pool, &sources, cpu);
    let dynamic = |v: VmIx, h: HostIx| {
        let host: &RoundHost = &hosts[h];
        (host.p1 - host.p0) * pool.vms[v].now[cpu] / host.cap.max(TINY)
    };
    let move_cost = |v: VmIx| {
        let optional = sources.role[pool.vms[v].host] == Role::Underload;
        policy.weights.2.max(0.0) * pool.migration_time(v)
            + if optional { policy.min_gain_w } else { 0.0 }
    };
    let rest_use: Vec<Vec<f64>> = sources
        .candidates
        .iter()
        .map(|&v| pool.vms[v].now.clone())
        .collect();
    let peak = |v: VmIx| sources.expected_cpu[v];
    let greedy = greedy::greedy(greedy::Greedy {
        pool,
        hosts: hosts.as_slice(),
        group_of: &groups.of_candidate,
        group_fixed: &groups.fixed,
        rules: &rules,
        budget: policy.budget,
        rest_use: &rest_use,
        role: &sources.role,
        candidates: &sources.candidates,
        accepting: &admissible.accepting,

        peak: &peak,
        dynamic: &dynamic,
        move_cost: &move_cost,
        theta: sources.theta,
    });
    let vms = round_vms(
        pool,
        &sources,
        &hosts,
        &admissible,
        &greedy,
        &groups,
        (&dynamic, &move_cost),
        cpu,
    );
    let input = RoundInput {
        hosts,
        vms,
        group_fixed: groups.fixed,
        rules,
        theta: sources.theta,
        budget: policy.budget,
        penalty: PENALTY,
        stuck: STUCK,
    };
    let (status, ends) = choose_plan(&input, greedy, policy, &cx.stop, stats);
    let Sources {
        candidates, role, ..
    } = sources;
    book::book(
        cx,
        &candidates,
        &role,
        &input,
        &admissible.declined,
        &ends,
        stats,
    );
    status
}

/// Every VM stays (the call ran out of time before a plan): the VMs of hosts in maintenance are
/// listed as stayed, as [`book::book`] lists them.
fn stay(cx: &Ctx, sources: &Sources, stats: &mut PlanStats) {
    for &v in &sources.candidates {
        if sources.role[cx.pool.vms[v].host] == Role::Maintenance {
            stats.stayed.push(cx.pool.vms[v].id.clone());
        }
    }
}

/// Anti-affinity groups of the round, numbered.
struct Groups {
    /// Each candidate's group.
    of_candidate: Vec<Option<usize>>,
    /// (group, host) of members that are not candidates.
    fixed: Vec<(usize, HostIx)>,
}

impl Groups {
    fn new(pool: &Pool, sources: &Sources) -> Groups {
        let mut ids: HashMap<&str, usize> = HashMap::new();
        let mut fixed = Vec::new();
        for (v, vm) in pool.vms.enumerate() {
            if sources.is_candidate[v] {
                continue;
            }
            if let Some(g) = &vm.group {
                let n = ids.len();
                fixed.push((*ids.entry(g.as_str()).or_insert(n), vm.host));
            }
        }
        let of_candidate = sources
            .candidates
            .iter()
            .map(|&v| {
                let n = ids.len();
                pool.vms[v]
                    .group
                    .as_ref()
                    .map(|g| *ids.entry(g.as_str()).or_insert(n))
            })
            .collect();
        Groups {
            of_candidate,
            fixed,
        }
    }
}

/// The hard rules of `groups[]` that have candidates, as the round model sees them
/// (models/migration.md, "Group rules"): anti-affinity lets `max_per_domain` less the members
/// there at the start (leavers included) arrive in a domain; affinity ends in no more domains,
/// and spread no more skewed, than the round starts with (at least the rule's own limit). Built
/// sparse, from the rules' members (not their domains), asking `stop` between rules.
fn round_rules(pool: &Pool, sources: &Sources, stop: &Budget) -> Result<Vec<RoundRule>, Stopped> {
    let mut members: Vec<Vec<(usize, Option<usize>)>> = vec![Vec::new(); pool.rules.len()];
    for (i, &v) in sources.candidates.iter().enumerate() {
        for &r in &pool.vms[v].rules {
            members[r].push((i, pool.domain(r, pool.vms[v].host)));
        }
    }
    let mut out = Vec::new();
    for (r, (rule, members)) in pool.rules.iter().zip(members).enumerate() {
        if !rule.hard || members.is_empty() {
            continue;
        }
        if stop.passed() {
            return Err(Stopped);
        }
        let start = pool.rule_counts(r, None);
        let mut fixed = Counts::default();
        for &v in &pool.members[r] {
            if !sources.is_candidate[v] {
                if let Some(d) = pool.domain(r, pool.vms[v].host) {
                    fixed.add(d, 1);
                }
            }
        }
        let policy = match rule.policy {
            Policy::AntiAffinity { max } => RoundPolicy::Arrivals(Arrivals { max, start }),
            Policy::Affinity => RoundPolicy::Together((start.len() as u32).max(1)),
            Policy::Spread { skew } => {
                let (least, most) = room_extremes(&start, &rule.room, rule.rooms);
                RoundPolicy::Spread {
                    room: rule.room.clone(),
                    rooms: rule.rooms,
                    skew: skew.max(most - least),
                }
            }
        };
        out.push(RoundRule {
            domain_of: rule.domain_of.clone(),
            members,
            fixed,
            policy,
        });
    }
    Ok(out)
}

/// The hosts of the round model: CPU capacity and power, and what the VMs that stay put there.
/// Hard capacities count what VMs use now, CPU included (the headroom on expected CPU is soft);
/// a host already over a capacity takes no VM, and its own rows are left out.
fn round_hosts(pool: &Pool, sources: &Sources, cpu: usize) -> IxVec<HostIx, RoundHost> {
    let n_res = pool.axes.len();
    let mut hosts: IxVec<HostIx, RoundHost> = pool
        .hosts
        .enumerate()
        .map(|(i, h)| RoundHost {
            cap: h.cap[cpu],
            fixed: 0.0,
            p0: super::detect::power_at(&h.watts, 0.0),
            p1: super::detect::power_at(&h.watts, 1.0),
            always_on: false,
            rest_cap: (0..n_res)
                .map(|r| {
                    if sources.over_now[i] {
                        f64::INFINITY
                    } else {
                        h.cap[r]
                    }
                })
                .collect(),
            rest_fixed: vec![0.0; n_res],
        })
        .collect();
    for (v, vm) in pool.vms.enumerate() {
        if sources.is_candidate[v] {
            continue;
        }
        let host = &mut hosts[vm.host];
        host.fixed += sources.expected_cpu[v];
        host.always_on = true;
        for (r, used) in vm.now.iter().enumerate() {
            host.rest_fixed[r] += used;
        }
    }
    hosts
}

/// The candidate VMs of the round model, each with its targets: the greedy choice, then the
/// accepting hosts that stay on anyway (their idle power is paid), then the cheapest in power.
#[allow(clippy::too_many_arguments)]
fn round_vms(
    pool: &Pool,
    sources: &Sources,
    hosts: &IxVec<HostIx, RoundHost>,
    admissible: &Admissible,
    greedy: &[Option<HostIx>],
    groups: &Groups,
    (dynamic, move_cost): (&DynamicPower, &MoveCost),
    cpu: usize,
) -> Vec<RoundVm> {
    let role = &sources.role;
    let per_vm = (COLUMNS / sources.candidates.len()).clamp(MIN_TARGETS, TARGETS);
    let on_now = |h: HostIx| role[h] == Role::Keep && pool.vms_on(h).next().is_some();
    sources
        .candidates
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let vm = &pool.vms[v];
            let mut ranked: Vec<(f64, HostIx)> = admissible.accepting[i]
                .iter()
                .map(|&h| {
                    let idle = if on_now(h) { 0.0 } else { hosts[h].p0 };
                    (idle + dynamic(v, h), h)
                })
                .collect();
            ranked.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let start = greedy[i];
            let mut targets: Vec<HostIx> = start.filter(|&h| h != vm.host).into_iter().collect();
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
                peak: sources.expected_cpu[v],
                stay: Some(vm.host),
                must_leave: role[vm.host] == Role::Maintenance,
                targets,
                move_cost: move_cost(v),
                group: groups.of_candidate[i],
                rest: vm.now.clone(),
                start,
            }
        })
        .collect()
}

/// Solves the round MIP and picks the plan: the solver's answer when it ended by proof or by its
/// node limit (both repeatable) and is no worse than the greedy plan it started from. When the
/// wall clock stopped it, the greedy plan stands, so that the same state always gets the same
/// plan. Returns the status and each candidate's host after the round.
fn choose_plan(
    input: &RoundInput,
    greedy: Vec<Option<HostIx>>,
    policy: &crate::migration::RoundPolicy,
    stop: &Budget,
    stats: &mut PlanStats,
) -> (Status, Vec<Option<HostIx>>) {
    let left = stop
        .deadline
        .map(|d| d.saturating_duration_since(Instant::now()).as_secs_f64())
        .unwrap_or(policy.time_limit_s);
    if stop.passed() || left <= 0.0 {
        return (Status::TimeLimit, greedy);
    }
    let opts = MipOptions {
        time_limit_s: left.min(policy.time_limit_s),
        mip_gap: 0.02,
        threads: 1,
        write_model: None,
        relax: false,
        budget: stop.clone(),
        max_nodes: Some(MAX_NODES),
        presolve: true,
        light_heuristics: true,
    };
    let greedy_cost = cost(input, &greedy);
    match solve(input, &opts) {
        Ok((r, ends))
            if r.status != MipStatus::TimeLimit
                && ends.iter().all(|e| e.is_some())
                && cost(input, &ends) <= greedy_cost + MIP_TOL =>
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
            (s, greedy)
        }
        Err(e) => {
            tracing::warn!(error = %e, "round MIP failed: the greedy plan stands");
            (Status::Feasible, greedy)
        }
    }
}

/// The round's gap ([`gap`]), or None while the solver has no finite bound.
fn relative_gap(objective: f64, bound: f64) -> Option<f64> {
    Some(gap(objective, bound, Goal::Minimize)).filter(|g| g.is_finite())
}

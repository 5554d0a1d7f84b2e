//! The independent checker for ROADEF/EURO 2012 reassignments: every hard rule and each cost
//! part, recomputed from the files alone (the model, the initial and the new assignment). It
//! reads the parser's types but shares nothing with the search's incremental evaluator
//! (`roadef::state`): sums are recounted from scratch here, in 128-bit integers, with ordered
//! maps, so that a bug there cannot hide itself here.

use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use vmplace_wire::roadef::model::{Assignment, MachineIx, Model, ProcessIx, ServiceIx};

/// Most violations listed; the rest are counted in `omitted`.
pub const MAX_LISTED: usize = 100;

/// A hard rule of the challenge.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RoadefRule {
    /// Usage above a machine's capacity.
    Capacity,
    /// Usage plus the transient share of processes moved away above a machine's capacity.
    TransientCapacity,
    /// Two processes of one service on one machine.
    Conflict,
    /// A service in fewer distinct locations than its spreadMin.
    Spread,
    /// A process in a neighborhood where a service it depends on does not run.
    Dependency,
}

/// One broken rule and the items that break it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RoadefViolation {
    /// The rule.
    pub rule: RoadefRule,
    /// The machine, where the rule is about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub machine: Option<u32>,
    /// The resource (capacity rules).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<u32>,
    /// The service.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<u32>,
    /// The processes involved.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub processes: Vec<u32>,
    /// What is wrong, in words.
    pub message: String,
}

/// The five cost parts, each with its weight applied, and their sum.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, Default)]
pub struct RoadefCosts {
    /// Sum over resources of weight x usage above safety capacity.
    pub load: i64,
    /// Sum over balance objectives of weight x the machines' imbalance.
    pub balance: i64,
    /// Weight x the moved processes' move costs.
    pub process_move: i64,
    /// Weight x the most moved processes of one service.
    pub service_move: i64,
    /// Weight x the machine-to-machine move costs.
    pub machine_move: i64,
    /// The objective.
    pub total: i64,
}

/// The checker's answer.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RoadefCheck {
    /// No hard rule broken.
    pub valid: bool,
    /// The cost of the new assignment.
    pub costs: RoadefCosts,
    /// Processes whose machine changed.
    pub moved_processes: usize,
    /// The first [`MAX_LISTED`] violations.
    pub violations: Vec<RoadefViolation>,
    /// Violations found and not listed.
    pub omitted: usize,
}

/// A rule of the challenge's reassignments: the function that checks it over the context.
type RuleCheck = fn(&Reassigned, &mut Vec<RoadefViolation>);

/// The hard rules, in the order their violations are listed (a list, not sorted: the first
/// [`MAX_LISTED`] are kept in this order).
const RULES: [RuleCheck; 4] = [capacity, conflict, spread, dependency];

/// Checks `new` against `model`, starting from `initial` (both of the model's length: the
/// parser guarantees it).
pub fn check_roadef(model: &Model, initial: &Assignment, new: &Assignment) -> RoadefCheck {
    let cx = Reassigned::new(model, initial, new);
    let mut found = Vec::new();
    for rule in RULES {
        rule(&cx, &mut found);
    }
    let costs = costs(&cx);
    let moved = initial.0.iter().zip(&new.0).filter(|(a, b)| a != b).count();
    let omitted = found.len().saturating_sub(MAX_LISTED);
    found.truncate(MAX_LISTED);
    RoadefCheck {
        valid: found.is_empty(),
        costs,
        moved_processes: moved,
        violations: found,
        omitted,
    }
}

/// A reassignment as every rule reads it, built once.
struct Reassigned<'a> {
    model: &'a Model,
    initial: &'a Assignment,
    new: &'a Assignment,
    /// Per machine and resource: (usage, usage plus the transient share of processes moved
    /// away).
    usage: Vec<Vec<(i128, i128)>>,
    /// The processes of each service.
    members: Vec<Vec<ProcessIx>>,
}

impl<'a> Reassigned<'a> {
    fn new(model: &'a Model, initial: &'a Assignment, new: &'a Assignment) -> Reassigned<'a> {
        Reassigned {
            model,
            initial,
            new,
            usage: usages(model, initial, new),
            members: members(model),
        }
    }

    /// Where a process runs after the reassignment.
    fn machine_of(&self, p: ProcessIx) -> &'a vmplace_wire::roadef::model::Machine {
        &self.model.machines[self.new.0[p.ix()].ix()]
    }
}

/// Per machine and resource: (usage, usage plus the transient share of processes moved away).
fn usages(model: &Model, initial: &Assignment, new: &Assignment) -> Vec<Vec<(i128, i128)>> {
    let mut u = vec![vec![(0i128, 0i128); model.resources.len()]; model.machines.len()];
    for (p, (&m0, &m)) in initial.0.iter().zip(&new.0).enumerate() {
        for (r, res) in model.resources.iter().enumerate() {
            let q = model.requirement[p * model.resources.len() + r] as i128;
            u[m.ix()][r].0 += q;
            u[m.ix()][r].1 += q;
            if res.transient && m0 != m {
                u[m0.ix()][r].1 += q;
            }
        }
    }
    u
}

/// `CAPACITY` and `TRANSIENT_CAPACITY`, machine by machine and resource by resource: a usage
/// above capacity is a capacity violation, else a usage plus the transient share of processes
/// moved away above it a transient one (one violation per machine and resource, listed in that
/// order).
fn capacity(cx: &Reassigned, out: &mut Vec<RoadefViolation>) {
    let (model, initial, new, u) = (cx.model, cx.initial, cx.new, &cx.usage);
    let mut on = vec![Vec::new(); model.machines.len()];
    let mut left = vec![Vec::new(); model.machines.len()];
    for (p, (&m0, &m)) in initial.0.iter().zip(&new.0).enumerate() {
        on[m.ix()].push(p as u32);
        if m0 != m {
            left[m0.ix()].push(p as u32);
        }
    }
    for (m, row) in u.iter().enumerate() {
        for (r, &(plain, held)) in row.iter().enumerate() {
            let cap = model.capacity(MachineIx(m as u32))[r] as i128;
            let (rule, used) = if plain > cap {
                (RoadefRule::Capacity, plain)
            } else if model.resources[r].transient && held > cap {
                (RoadefRule::TransientCapacity, held)
            } else {
                continue;
            };
            let mut processes = on[m].clone();
            if rule == RoadefRule::TransientCapacity {
                processes.extend(&left[m]);
            }
            out.push(RoadefViolation {
                rule,
                machine: Some(m as u32),
                resource: Some(r as u32),
                service: None,
                processes,
                message: format!("machine {m} uses {used} of resource {r}, capacity {cap}"),
            });
        }
    }
}

/// The processes of each service.
fn members(model: &Model) -> Vec<Vec<ProcessIx>> {
    let mut by = vec![Vec::new(); model.services.len()];
    for (p, proc_) in model.processes.iter().enumerate() {
        by[proc_.service.ix()].push(ProcessIx(p as u32));
    }
    by
}

/// `CONFLICT`: two processes of one service on one machine.
fn conflict(cx: &Reassigned, out: &mut Vec<RoadefViolation>) {
    let new = cx.new;
    for (s, procs) in cx.members.iter().enumerate() {
        let mut on: BTreeMap<MachineIx, Vec<u32>> = BTreeMap::new();
        for p in procs {
            on.entry(new.0[p.ix()]).or_default().push(p.0);
        }
        for (m, ps) in on.into_iter().filter(|(_, ps)| ps.len() > 1) {
            out.push(RoadefViolation {
                rule: RoadefRule::Conflict,
                machine: Some(m.0),
                resource: None,
                service: Some(s as u32),
                message: format!("{} processes of service {s} on machine {m}", ps.len()),
                processes: ps,
            });
        }
    }
}

/// `SPREAD`: a service in fewer distinct locations than its spreadMin.
fn spread(cx: &Reassigned, out: &mut Vec<RoadefViolation>) {
    let model = cx.model;
    for (s, procs) in cx.members.iter().enumerate() {
        let locations: BTreeSet<_> = procs.iter().map(|&p| cx.machine_of(p).location).collect();
        let min = model.services[s].spread_min as usize;
        if locations.len() < min {
            out.push(RoadefViolation {
                rule: RoadefRule::Spread,
                machine: None,
                resource: None,
                service: Some(s as u32),
                processes: procs.iter().map(|p| p.0).collect(),
                message: format!(
                    "service {s} runs in {} locations, spreadMin is {min}",
                    locations.len()
                ),
            });
        }
    }
}

/// `DEPENDENCY`: a process in a neighborhood where a service it depends on does not run.
fn dependency(cx: &Reassigned, out: &mut Vec<RoadefViolation>) {
    let (model, by) = (cx.model, &cx.members);
    let neighborhoods = |s: ServiceIx| -> BTreeSet<_> {
        by[s.ix()]
            .iter()
            .map(|&p| cx.machine_of(p).neighborhood)
            .collect()
    };
    for (s, service) in model.services.iter().enumerate() {
        for &d in &service.depends_on {
            let there = neighborhoods(d);
            let lacking: Vec<u32> = by[s]
                .iter()
                .filter(|&&p| !there.contains(&cx.machine_of(p).neighborhood))
                .map(|p| p.0)
                .collect();
            if !lacking.is_empty() {
                out.push(RoadefViolation {
                    rule: RoadefRule::Dependency,
                    machine: None,
                    resource: None,
                    service: Some(s as u32),
                    message: format!(
                        "{} processes of service {s} run in neighborhoods without service {d}, which it depends on",
                        lacking.len()
                    ),
                    processes: lacking,
                });
            }
        }
    }
}

fn clamp(v: i128) -> i64 {
    v.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

/// The five cost parts of the reassignment.
fn costs(cx: &Reassigned) -> RoadefCosts {
    let (model, initial, new, u) = (cx.model, cx.initial, cx.new, &cx.usage);
    let mut load = 0i128;
    let mut balance = 0i128;
    for (m, row) in u.iter().enumerate() {
        let mi = MachineIx(m as u32);
        let (cap, safe) = (model.capacity(mi), model.safety(mi));
        for (r, res) in model.resources.iter().enumerate() {
            load += res.load_weight as i128 * (row[r].0 - safe[r] as i128).max(0);
        }
        for b in &model.balances {
            let free = |r: usize| cap[r] as i128 - row[r].0;
            let gap = b.target as i128 * free(b.first.ix()) - free(b.second.ix());
            balance += b.weight as i128 * gap.max(0);
        }
    }
    let mut process_move = 0i128;
    let mut machine_move = 0i128;
    let mut per_service: BTreeMap<ServiceIx, i128> = BTreeMap::new();
    for (p, (&m0, &m)) in initial.0.iter().zip(&new.0).enumerate() {
        machine_move += model.move_cost(m0, m) as i128;
        if m0 != m {
            process_move += model.processes[p].move_cost as i128;
            *per_service.entry(model.processes[p].service).or_default() += 1;
        }
    }
    let w = model.weights;
    let service_move = per_service.values().copied().max().unwrap_or(0);
    let parts = [
        load,
        balance,
        w.process as i128 * process_move,
        w.service as i128 * service_move,
        w.machine as i128 * machine_move,
    ];
    RoadefCosts {
        load: clamp(parts[0]),
        balance: clamp(parts[1]),
        process_move: clamp(parts[2]),
        service_move: clamp(parts[3]),
        machine_move: clamp(parts[4]),
        total: clamp(parts.iter().sum()),
    }
}

//! Packing by column generation for the host phase under `pack` (models/host.md, "Packing by
//! column generation"): host classes, the loop that generates columns and proves its bound, a
//! dive that rounds the LP one pattern at a time, the integer master over every column, and the
//! patterns turned back into hosts. The knapsack that prices a pattern is in [`pricing`].

mod pricing;

use super::deadline::mip_options;
use crate::budget::Budget;
use crate::domain::{
    bits, evaluate, fits, Assignment, Domain, HostIx, HostNode, IxVec, RequestIx, StorageIx, EPS,
};
use crate::domain::{MIP_TOL, NOISE};
use crate::model::patterns::{LpSolution, MasterInput, Pattern, PatternMaster};
use crate::model::{MipError, MipOptions};
use pricing::{node_budget, price, Item};
use std::collections::HashMap;
use std::time::Instant;

/// Share of the packing budget for the root's column generation, and where the dive stops.
const ROOT_SHARE: f64 = 0.4;
const DIVE_SHARE: f64 = 0.7;
/// Columns at most added to the master per round of column generation.
const ENTERING_PER_ROUND: usize = 400;
/// Patterns at most kept aside for the integer master.
const POOL_COLUMNS: usize = 20_000;
/// Steps a dive may undo.
const DIVE_BACKTRACKS: usize = 40;

/// A flavor of the host phase: identical requests on one storage system.
struct PackFlavor {
    members: Vec<RequestIx>,
    storage: StorageIx,
}

/// Hosts interchangeable under `pack`: the same free capacity, storage links and cost.
struct HostClass {
    hosts: Vec<HostIx>,
    /// Free capacity per dimension (rule dimensions included).
    free: Vec<f64>,
    /// 1 if its hosts were idle, 0 if they already run something.
    cost: f64,
    /// Flavors that may run on it.
    eligible: Vec<usize>,
}

/// What packing found and proved.
pub(crate) struct Packed {
    /// Its best assignment (hosts for the requests of `base`), when it found one.
    pub assignment: Option<Assignment>,
    /// A lower bound on the active hosts of any assignment that hosts every request of `base`
    /// (already-running hosts included), when every class was priced at least once.
    pub host_bound: Option<f64>,
    /// Pricing rounds.
    pub rounds: usize,
    /// Columns generated.
    pub columns: usize,
}

/// The flavors of the requests that `base` gives a storage system.
fn flavors(d: &Domain, base: &Assignment) -> Vec<PackFlavor> {
    let mut index: HashMap<(Vec<u64>, u64, Option<usize>, usize), usize> = HashMap::new();
    let mut out: Vec<PackFlavor> = Vec::new();
    for (i, vm) in d.requests.enumerate() {
        let Some(s) = base.storage[i] else { continue };
        let key = (bits(&vm.demand), vm.priority.to_bits(), vm.group, s.0);
        let f = *index.entry(key).or_insert_with(|| {
            out.push(PackFlavor {
                members: Vec::new(),
                storage: s,
            });
            out.len() - 1
        });
        out[f].members.push(i);
    }
    out
}

/// The host classes of the pool before the batch, with the flavors each may run.
fn classes(d: &Domain, flavors: &[PackFlavor]) -> Vec<HostClass> {
    let mut index: HashMap<ClassKey, usize> = HashMap::new();
    let mut out: Vec<HostClass> = Vec::new();
    for (h, host) in d.hosts.enumerate() {
        let c = *index.entry(class_key(host)).or_insert_with(|| {
            out.push(HostClass {
                hosts: Vec::new(),
                free: host.free(),
                cost: if host.initially_active() { 0.0 } else { 1.0 },
                eligible: Vec::new(),
            });
            out.len() - 1
        });
        out[c].hosts.push(h);
    }
    for class in &mut out {
        let links = &d.hosts[class.hosts[0]].storage;
        class.eligible = (0..flavors.len())
            .filter(|&f| {
                let vm = &d.requests[flavors[f].members[0]];
                links.contains(&flavors[f].storage) && fits(&vm.demand, &class.free)
            })
            .collect();
    }
    out
}

/// Whether the pool is mostly interchangeable hosts: at most one host class (free capacity, storage
/// links, running or idle) per four hosts.
pub(crate) fn symmetric(d: &Domain) -> bool {
    let classes: std::collections::HashSet<ClassKey> = d.hosts.iter().map(class_key).collect();
    classes.len() * 4 <= d.hosts.len()
}

/// What makes hosts interchangeable under `pack`: free capacity, storage links, running or idle.
type ClassKey<'a> = (Vec<u64>, &'a [StorageIx], bool);

fn class_key(host: &HostNode) -> ClassKey<'_> {
    (bits(&host.free()), &host.storage, host.initially_active())
}

/// The problem column generation works on: flavors, classes and the master's data.
struct Packing<'a> {
    d: &'a Domain,
    flavors: Vec<PackFlavor>,
    classes: Vec<HostClass>,
    deadline: &'a Budget,
    start: Instant,
    budget_s: f64,
    rounds: usize,
    /// Patterns that priced out but did not enter the LP, for the integer master.
    pool: Vec<Pattern>,
}

/// One column generation run: the last LP, and the bound when every class was priced.
struct Generated {
    lp: LpSolution,
    bound: Option<f64>,
}

impl Packing<'_> {
    fn spent(&self, share: f64) -> bool {
        self.deadline.passed() || self.start.elapsed().as_secs_f64() >= self.budget_s * share
    }

    /// The pricing items of class `c` under duals `pi`, within `demand` copies per flavor.
    fn items(&self, c: usize, pi: &[f64], demand: &[f64]) -> Vec<Item> {
        let d = self.d;
        let class = &self.classes[c];
        let free = &class.free[..d.axes.len()];
        class
            .eligible
            .iter()
            .filter(|&&f| pi[f] > NOISE && demand[f] > 0.5)
            .map(|&f| {
                let vm = &d.requests[self.flavors[f].members[0]];
                let demand_r = vm.demand[..d.axes.len()].to_vec();
                let mut most = demand[f].round() as u32;
                for (x, c) in demand_r.iter().zip(free) {
                    if *x > EPS {
                        most = most.min(((c + EPS) / x).floor() as u32);
                    }
                }
                if vm.group.is_some() {
                    most = most.min(1);
                }
                Item {
                    flavor: f,
                    value: pi[f],
                    demand: demand_r,
                    most,
                    group: vm.group,
                }
            })
            .collect()
    }

    /// Generates columns into `master` until none prices out, the bound reaches `stop_at`, or
    /// `share` of the budget is spent. The bound is over `master`'s own input.
    fn generate(
        &mut self,
        master: &mut PatternMaster,
        input: &MasterInput,
        share: f64,
        stop_at: f64,
    ) -> Result<Option<Generated>, MipError> {
        let mut out: Option<Generated> = None;
        while !self.spent(share) {
            let secs = (self.budget_s * share - self.start.elapsed().as_secs_f64()).max(0.05);
            let Some(lp) = master.solve_lp(&lp_options(self.d, secs, self.deadline))? else {
                break;
            };
            self.rounds += 1;
            let mut bound = lagrangian_constant(input, &lp.cover);
            // Farley's bound (every class costs 1): the duals scaled by the best pattern's value
            // are feasible for the master without its class rows.
            let mut best_value: f64 = 1.0;
            let mut entering: Vec<(f64, Pattern)> = Vec::new();
            let mut all_priced = true;
            for c in 0..self.classes.len() {
                if input.hosts[c] < 0.5 {
                    continue;
                }
                if self.spent(share) {
                    all_priced = false;
                    break;
                }
                let class_free = &self.classes[c].free[..self.d.axes.len()];
                let priced = price(
                    class_free,
                    self.items(c, &lp.cover, &input.demand),
                    node_budget(self.classes.len()),
                );
                let cost = input.host_cost[c];
                bound += input.hosts[c] * (cost - priced.upper).min(0.0);
                best_value = best_value.max(priced.upper);
                for (value, counts) in priced.patterns {
                    let rc = cost - value - lp.hosts[c];
                    if rc < -MIP_TOL {
                        entering.push((rc, Pattern { class: c, counts }));
                    }
                }
            }
            // The most negative reduced costs enter: thousands of classes each adding their
            // best patterns would swamp the LP.
            entering.sort_by(|a, b| a.0.total_cmp(&b.0));
            let mut added = 0;
            let mut rest = entering.into_iter();
            // The first round takes every pattern (alternatives for each host of the warm start,
            // which the integer master recombines); later rounds the best few hundred.
            let cap = if self.rounds == 1 {
                POOL_COLUMNS
            } else {
                ENTERING_PER_ROUND
            };
            for (_, q) in rest.by_ref().take(cap) {
                added += master.add(q) as usize;
            }
            // The others may still serve the integer master.
            let room = POOL_COLUMNS.saturating_sub(self.pool.len());
            self.pool.extend(rest.take(room).map(|(_, q)| q));
            if input.host_cost.iter().all(|&k| k == 1.0) {
                bound = bound.max(farley(input, &lp.cover, best_value));
            }
            tracing::debug!(
                round = self.rounds,
                lp = lp.objective,
                bound,
                all_priced,
                added,
                columns = master.columns().len(),
                elapsed_s = self.start.elapsed().as_secs_f64(),
                "packing round"
            );
            let bound = all_priced
                .then_some(bound)
                .or(out.as_ref().and_then(|g| g.bound));
            let lp_objective = lp.objective;
            let prev = out.as_ref().and_then(|g| g.bound);
            out = Some(Generated {
                lp,
                bound: match (bound, prev) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    (a, b) => a.or(b),
                },
            });
            let settled = out.as_ref().and_then(|g| g.bound).is_some_and(|b| {
                whole_ceiling(b) >= whole_ceiling(lp_objective) || whole_ceiling(b) >= stop_at
            });
            if added == 0 || settled {
                break;
            }
        }
        Ok(out)
    }

    /// Rounds the LP one step at a time: columns the LP uses at least once are fixed (their whole
    /// uses), or else its most used column once; what is left is solved again with columns
    /// generated for it. When the hosts fixed plus the ceiling of what is left exceed `target` (the
    /// root's bound), the last step is undone and its columns are not tried again at that depth
    /// (at most `DIVE_BACKTRACKS` times). Returns the fixed patterns and their uses.
    fn dive(
        &mut self,
        input: &MasterInput,
        known: &[Pattern],
        target: Option<f64>,
    ) -> Result<Vec<(Pattern, u32)>, MipError> {
        let mut left = input.clone();
        let mut steps: Vec<Vec<(Pattern, u32)>> = Vec::new();
        let mut tabu: Vec<Pattern> = Vec::new();
        let mut backtracks = 0;
        let mut columns: Vec<Pattern> = known.to_vec();
        while left.demand.iter().any(|&n| n > 0.5) && !self.spent(DIVE_SHARE) {
            let mut master = PatternMaster::new(left.clone());
            for q in &columns {
                if let Some(q) = clip(q, &left.demand) {
                    master.add(q);
                }
            }
            let Some(g) = self.generate(&mut master, &left, DIVE_SHARE, f64::NEG_INFINITY)? else {
                break;
            };
            let fixed_cost: f64 = steps
                .iter()
                .flatten()
                .map(|(q, n)| input.host_cost[q.class] * *n as f64)
                .sum();
            let over = target.is_some_and(|t| fixed_cost + whole_ceiling(g.lp.objective) > t);
            if over && backtracks < DIVE_BACKTRACKS {
                if let Some(undone) = steps.pop() {
                    backtracks += 1;
                    for (q, n) in &undone {
                        unfix(&mut left, q, *n, input);
                    }
                    tabu.extend(undone.into_iter().map(|(q, _)| q));
                    continue;
                }
            }
            columns = master.columns().to_vec();
            // The LP's uses are of the columns it had; pricing may have added more since.
            let allowed = |j: usize| !tabu.contains(&columns[j]);
            let mut step: Vec<(usize, u32)> =
                g.lp.uses
                    .iter()
                    .enumerate()
                    .filter(|&(j, _)| allowed(j))
                    .map(|(j, &v)| (j, (v + MIP_TOL).floor() as u32))
                    .filter(|&(_, n)| n > 0)
                    .collect();
            if step.is_empty() {
                let best =
                    g.lp.uses
                        .iter()
                        .enumerate()
                        .filter(|&(j, _)| allowed(j))
                        .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(&a.0)));
                match best {
                    Some((j, &v)) if v > MIP_TOL => step.push((j, 1)),
                    // Only the unplaced columns (or tabu ones) cover what is left.
                    _ => break,
                }
            }
            let mut done: Vec<(Pattern, u32)> = Vec::new();
            for (j, n) in step {
                let n = n.min(left.hosts[columns[j].class].round() as u32);
                let Some(q) = clip(&columns[j], &left.demand) else {
                    continue;
                };
                let n = n.min(uses_to_cover(&q, &left.demand));
                if n == 0 {
                    continue;
                }
                left.hosts[q.class] -= n as f64;
                for &(f, k) in &q.counts {
                    left.demand[f] = (left.demand[f] - (k * n) as f64).max(0.0);
                }
                done.push((q, n));
            }
            if done.is_empty() {
                break;
            }
            tabu.clear();
            steps.push(done);
        }
        Ok(steps.into_iter().flatten().collect())
    }
}

/// Undoes `n` uses of the (clipped) pattern `q` in `left`.
fn unfix(left: &mut MasterInput, q: &Pattern, n: u32, input: &MasterInput) {
    left.hosts[q.class] += n as f64;
    for &(f, k) in &q.counts {
        left.demand[f] = (left.demand[f] + (k * n) as f64).min(input.demand[f]);
    }
}

/// `p` within `demand` copies per flavor; None if nothing is left of it.
fn clip(p: &Pattern, demand: &[f64]) -> Option<Pattern> {
    let counts: Vec<(usize, u32)> = p
        .counts
        .iter()
        .map(|&(f, k)| (f, k.min(demand[f].round().max(0.0) as u32)))
        .filter(|&(_, k)| k > 0)
        .collect();
    (!counts.is_empty()).then_some(Pattern {
        class: p.class,
        counts,
    })
}

/// Uses of `p` after which one of its flavors is covered: more would only leave slots empty.
fn uses_to_cover(p: &Pattern, demand: &[f64]) -> u32 {
    p.counts
        .iter()
        .map(|&(f, k)| (demand[f].round() as u32).div_ceil(k))
        .max()
        .unwrap_or(0)
}

/// The smallest whole number at least `x`, forgiving float noise.
fn whole_ceiling(x: f64) -> f64 {
    (x - MIP_TOL * x.abs().max(1.0)).ceil()
}

/// The patterns of an assignment: per host that runs VMs of the flavors, its counts per flavor.
fn patterns_of(
    a: &Assignment,
    flavor_of: &HashMap<usize, usize>,
    class_of: &IxVec<HostIx, usize>,
) -> Vec<Pattern> {
    let mut on_host: std::collections::BTreeMap<HostIx, std::collections::BTreeMap<usize, u32>> =
        Default::default();
    for (i, h) in a.host.iter().enumerate() {
        if let (Some(h), Some(&f)) = (h, flavor_of.get(&i)) {
            *on_host.entry(*h).or_default().entry(f).or_default() += 1;
        }
    }
    on_host
        .into_iter()
        .map(|(h, counts)| Pattern {
            class: class_of[h],
            counts: counts.into_iter().collect(),
        })
        .collect()
}

/// Packing by column generation, for the host phase under `pack` (every host and request of
/// `base` in play, the pool as before the batch): column generation at the root for the bound,
/// a dive for a good answer, then the integer master over every column, warm-started with the
/// better of `warm` and the dive.
pub(crate) fn pack(
    d: &Domain,
    base: &Assignment,
    warm: &Assignment,
    deadline: &Budget,
    budget_s: f64,
) -> Result<Packed, MipError> {
    let flavors = flavors(d, base);
    let classes = classes(d, &flavors);
    let class_of = class_of(d, &classes);
    let flavor_of = flavor_of(&flavors);
    let idle = d.hosts.iter().filter(|h| !h.initially_active()).count() as f64;
    let active = d.hosts.len() as f64 - idle;
    let input = master_input(d, &flavors, &classes, 1.0 + idle);
    let mut p = Packing {
        d,
        flavors,
        classes,
        deadline,
        start: Instant::now(),
        budget_s,
        rounds: 0,
        pool: Vec::new(),
    };
    let mut master = PatternMaster::new(input.clone());
    let warm_patterns = patterns_of(warm, &flavor_of, &class_of);
    for q in &warm_patterns {
        master.add(q.clone());
    }
    // Opened hosts (beyond those already running) of the warm start.
    let warm_opened = evaluate::host_cost(d, warm) - active;
    let root = p.generate(&mut master, &input, ROOT_SHARE, warm_opened)?;
    let bound = root.as_ref().and_then(|g| g.bound);
    let mut out = Packed {
        assignment: None,
        host_bound: bound.map(|b| active + whole_ceiling(b).max(0.0)),
        rounds: p.rounds,
        columns: master.columns().len(),
    };
    let proven = |opened: f64| bound.is_some_and(|b| opened <= whole_ceiling(b) + NOISE);
    if p.deadline.passed() || proven(warm_opened) {
        return Ok(out);
    }
    let dive = p.dive(&input, master.columns(), bound.map(whole_ceiling))?;
    let dive_opened: f64 = dive
        .iter()
        .map(|(q, n)| input.host_cost[q.class] * *n as f64)
        .sum();
    let dive_covers = covers(&input, &dive);
    tracing::debug!(
        dive_opened,
        dive_covers,
        warm_opened,
        bound = ?bound,
        elapsed_s = p.start.elapsed().as_secs_f64(),
        "packing dive"
    );
    out.rounds = p.rounds;
    if dive_covers {
        let a = realise(base, &p.flavors, &p.classes, &dive);
        tracing::debug!(score = ?evaluate::host_score(d, &a), "packing dive realised");
        out.assignment = Some(a);
    }
    if proven(dive_opened) && dive_covers || p.deadline.passed() {
        out.columns = master.columns().len();
        return Ok(out);
    }
    // The integer master over every column, warm-started with the better answer.
    for (q, _) in &dive {
        master.add(q.clone());
    }
    for q in std::mem::take(&mut p.pool) {
        master.add(q);
    }
    out.columns = master.columns().len();
    let mut start_from: HashMap<Pattern, u32> = HashMap::new();
    if dive_covers && dive_opened < warm_opened {
        for (q, n) in dive {
            *start_from.entry(q).or_default() += n;
        }
    } else {
        for q in warm_patterns {
            *start_from.entry(q).or_default() += 1;
        }
    }
    p.integer_master(&master, &start_from, base, &mut out)?;
    Ok(out)
}

/// The class of each host (index into `classes`).
fn class_of(d: &Domain, classes: &[HostClass]) -> IxVec<HostIx, usize> {
    let mut class_of = IxVec::filled(0, d.hosts.len());
    for (c, class) in classes.iter().enumerate() {
        for h in &class.hosts {
            class_of[h] = c;
        }
    }
    class_of
}

/// The flavor of each request in play (request index to index into `flavors`).
fn flavor_of(flavors: &[PackFlavor]) -> HashMap<usize, usize> {
    let mut flavor_of: HashMap<usize, usize> = HashMap::new();
    for (f, fl) in flavors.iter().enumerate() {
        for r in &fl.members {
            flavor_of.insert(r.0, f);
        }
    }
    flavor_of
}

/// The pattern master's data: each flavor's demand and its cost left unplaced (`big_m` times its
/// priority), each class's hosts and the cost of opening one.
fn master_input(
    d: &Domain,
    flavors: &[PackFlavor],
    classes: &[HostClass],
    big_m: f64,
) -> MasterInput {
    MasterInput {
        demand: flavors.iter().map(|f| f.members.len() as f64).collect(),
        unplaced_cost: flavors
            .iter()
            .map(|f| big_m * d.requests[f.members[0]].priority)
            .collect(),
        hosts: classes.iter().map(|c| c.hosts.len() as f64).collect(),
        host_cost: classes.iter().map(|c| c.cost).collect(),
    }
}

impl Packing<'_> {
    /// The integer master over every column of `master`, warm-started with `start_from` (uses
    /// per pattern), in the time left of the budget; its answer replaces `out`'s when it is
    /// lexicographically better.
    fn integer_master(
        &self,
        master: &PatternMaster,
        start_from: &HashMap<Pattern, u32>,
        base: &Assignment,
        out: &mut Packed,
    ) -> Result<(), MipError> {
        let d = self.d;
        let warm_uses: Vec<u32> = master
            .columns()
            .iter()
            .map(|q| start_from.get(q).copied().unwrap_or(0))
            .collect();
        let secs = (self.budget_s - self.start.elapsed().as_secs_f64())
            .clamp(0.05, self.deadline.remaining());
        let integer =
            master.solve_integer(&warm_uses, &mip_options(d, secs, None, self.deadline))?;
        if !integer.uses.is_empty() {
            let chosen: Vec<(Pattern, u32)> = master
                .columns()
                .iter()
                .cloned()
                .zip(integer.uses.iter().copied())
                .filter(|(_, n)| *n > 0)
                .collect();
            let a = realise(base, &self.flavors, &self.classes, &chosen);
            let better = out.assignment.as_ref().is_none_or(|b| {
                super::lexicographic::better(
                    evaluate::host_score(d, &a),
                    evaluate::host_score(d, b),
                )
            });
            if better {
                out.assignment = Some(a);
            }
        }
        Ok(())
    }
}

/// Whether `chosen` covers every flavor's demand.
fn covers(input: &MasterInput, chosen: &[(Pattern, u32)]) -> bool {
    let mut covered = vec![0.0; input.demand.len()];
    for (q, n) in chosen {
        for &(f, k) in &q.counts {
            covered[f] += (k * n) as f64;
        }
    }
    covered
        .iter()
        .zip(&input.demand)
        .all(|(c, n)| *c >= *n - 0.5)
}

/// `sum_f π_f n_f + sum_f n_f min(0, M p_f - π_f)`: the part of the Lagrangian bound that does
/// not depend on pricing.
fn lagrangian_constant(input: &MasterInput, pi: &[f64]) -> f64 {
    pi.iter()
        .zip(&input.demand)
        .zip(&input.unplaced_cost)
        .map(|((p, n), m)| p * n + n * (m - p).min(0.0))
        .sum()
}

/// Farley's bound when every class costs 1: with `v` the largest value of any pattern, `π / v` is
/// a feasible dual of the master without `pattern_hosts` (each pattern's scaled value is at most
/// its cost, and `π_f / v <= M p_f` while `v >= 1`), so `sum_f π_f n_f / v` bounds its optimum.
fn farley(input: &MasterInput, pi: &[f64], v: f64) -> f64 {
    let scaled: Vec<f64> = pi.iter().map(|p| p / v.max(1.0)).collect();
    let capped = scaled
        .iter()
        .zip(&input.unplaced_cost)
        .map(|(p, m)| p.min(*m));
    capped.zip(&input.demand).map(|(p, n)| p * n).sum()
}

fn lp_options(d: &Domain, secs: f64, deadline: &Budget) -> MipOptions {
    MipOptions {
        relax: true,
        ..mip_options(d, secs, None, deadline)
    }
}

/// Hosts for the requests: each class's hosts take its patterns' uses in turn, and each pattern's
/// slots take members of its flavors in input order (a slot the `>=` cover left over stays
/// empty).
fn realise(
    base: &Assignment,
    flavors: &[PackFlavor],
    classes: &[HostClass],
    chosen: &[(Pattern, u32)],
) -> Assignment {
    let mut a = base.clone();
    a.host = IxVec::filled(None, a.host.len());
    let mut next_host = vec![0usize; classes.len()];
    let mut next_member = vec![0usize; flavors.len()];
    for (p, n) in chosen {
        for _ in 0..*n {
            let Some(&h) = classes[p.class].hosts.get(next_host[p.class]) else {
                break;
            };
            next_host[p.class] += 1;
            for &(f, k) in &p.counts {
                for _ in 0..k {
                    if let Some(r) = flavors[f].members.get(next_member[f]) {
                        a.host[r] = Some(h);
                        next_member[f] += 1;
                    }
                }
            }
        }
    }
    a
}

//! Large neighbourhood search: a few machines of one neighborhood, some of their processes set
//! free, and a small MIP on HiGHS that reassigns the free processes among those machines at the
//! least cost, every hard rule kept (`models/roadef.md`, "Large neighbourhood search"; the
//! functions below are named after its row families). It reaches what single shifts and swaps
//! cannot: a large process that fits nowhere until several small ones make room for it.
//!
//! The machines are drawn from the first one's neighborhood (where the dependency rule cannot
//! bind) or from anywhere (its rows then keep it); spread is a row too. The answer is priced and checked again by [`State`] in integers, and undone unless it
//! is strictly cheaper.

use super::model::*;
use super::state::State;
use crate::budget::Budget;
use crate::domain::NOISE;
use crate::model::{Col, MipBuilder, MipOptions, MipStatus, Sense};
use good_lp::{constraint, variable, Expression};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::time::Instant;

/// Knobs of the LNS.
#[derive(Debug, Clone, Copy)]
pub struct LnsParams {
    /// Seed of the draws.
    pub seed: u64,
    /// Stop when this instant is reached.
    pub deadline: Instant,
    /// Most machines per neighbourhood (at least 2; each draw takes 2 to this many).
    pub machines: usize,
    /// Most free processes per neighbourhood.
    pub free: usize,
    /// Branch-and-bound nodes per MIP (a work limit, the same on every run).
    pub nodes: u32,
    /// Seconds per MIP at most (a backstop).
    pub mip_seconds: f64,
}

/// What the LNS did.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct LnsStats {
    /// MIPs solved.
    pub mips: u64,
    /// Of which gave a cheaper assignment.
    pub improved: u64,
}

/// The machines and the free processes of one neighbourhood.
struct Neighbourhood {
    machines: Vec<MachineIx>,
    free: Vec<ProcessIx>,
}

/// Runs MIP neighbourhoods on `state` until the deadline; every kept answer is cheaper.
pub fn lns(state: &mut State, params: LnsParams) -> LnsStats {
    let model = state.model();
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
    let mut by_neighborhood = vec![Vec::new(); model.neighborhoods];
    for (m, machine) in model.machines.iter().enumerate() {
        by_neighborhood[machine.neighborhood.ix()].push(MachineIx(m as u32));
    }
    let mut stats = LnsStats::default();
    if model.m() < 2 || params.machines < 2 {
        return stats;
    }
    while Instant::now() < params.deadline {
        let Some(n) = draw(state, &by_neighborhood, &params, &mut rng) else {
            continue;
        };
        let remaining = params.deadline.saturating_duration_since(Instant::now());
        let seconds = remaining.as_secs_f64().min(params.mip_seconds);
        if seconds < 0.005 {
            break;
        }
        stats.mips += 1;
        let Some(moves) = solve(state, &n, params.nodes, seconds) else {
            continue;
        };
        if keep_if_cheaper(state, &n, &moves) {
            stats.improved += 1;
        }
    }
    stats
}

/// A neighbourhood: a first machine (by its cost, or any), others (of its neighborhood or any),
/// and up to `free` of their processes.
fn draw(
    state: &State,
    by_neighborhood: &[Vec<MachineIx>],
    params: &LnsParams,
    rng: &mut ChaCha8Rng,
) -> Option<Neighbourhood> {
    let model = state.model();
    let first = if rng.random_bool(0.5) {
        costly_machine(state, rng)
    } else {
        MachineIx(rng.random_range(0..model.m() as u32))
    };
    let local = &by_neighborhood[model.machines[first.ix()].neighborhood.ix()];
    let all = model.m() as u32;
    // Half the time from the first machine's neighborhood (no dependency row can bind), else
    // from anywhere.
    let pool = (local.len() >= 2 && rng.random_bool(0.5)).then_some(local);
    let k = rng.random_range(2..=params.machines.min(pool.map_or(all as usize, Vec::len)));
    // Half the time the roomiest of three (room below safety capacity to take the first's
    // processes), else any.
    let tries = if rng.random_bool(0.5) { 3 } else { 1 };
    let mut machines = vec![first];
    while machines.len() < k {
        let mut pick = || match pool {
            Some(pool) => pool[rng.random_range(0..pool.len())],
            None => MachineIx(rng.random_range(0..all)),
        };
        let m = (0..tries)
            .map(|_| pick())
            .max_by(|&a, &b| room(state, a).total_cmp(&room(state, b)))
            .unwrap_or(first);
        if !machines.contains(&m) {
            machines.push(m);
        }
    }
    // The first machine's processes first (its cost is what the draw is about), then others.
    let mut free: Vec<ProcessIx> = state.processes_on(first).to_vec();
    free.shuffle(rng);
    let mut others: Vec<ProcessIx> = machines[1..]
        .iter()
        .flat_map(|&m| state.processes_on(m).iter().copied())
        .collect();
    others.shuffle(rng);
    free.extend(others);
    free.truncate(params.free);
    free.sort();
    (!free.is_empty()).then_some(Neighbourhood { machines, free })
}

/// The share of machine `m`'s safety capacity still free, summed over resources.
fn room(state: &State, m: MachineIx) -> f64 {
    let safe = state.model().safety(m);
    state
        .usage(m)
        .iter()
        .zip(safe)
        .map(|(&u, &sc)| (sc - u).max(0) as f64 / sc.max(1) as f64)
        .sum()
}

/// A machine drawn with chance proportional to its load and balance cost (any if all are 0).
fn costly_machine(state: &State, rng: &mut ChaCha8Rng) -> MachineIx {
    let m = state.machine_count();
    let total: i64 = (0..m as u32)
        .map(|i| state.machine_cost(MachineIx(i)))
        .sum();
    if total <= 0 {
        return MachineIx(rng.random_range(0..m as u32));
    }
    let mut pick = rng.random_range(0..total);
    for i in 0..m as u32 {
        let c = state.machine_cost(MachineIx(i));
        if pick < c {
            return MachineIx(i);
        }
        pick -= c;
    }
    MachineIx(m as u32 - 1)
}

/// The MIP of one neighbourhood under construction.
struct Mip<'s, 'a> {
    state: &'s State<'a>,
    n: &'s Neighbourhood,
    b: MipBuilder,
    /// `x[i][j]`: free process i on machine j of the neighbourhood.
    x: Vec<Vec<Col>>,
    objective: Expression,
}

/// Solves the neighbourhood's MIP; the free processes' new machines, if HiGHS found any.
fn solve(
    state: &State,
    n: &Neighbourhood,
    nodes: u32,
    seconds: f64,
) -> Option<Vec<(ProcessIx, MachineIx)>> {
    let mut mip = Mip::new(state, n);
    mip.lns_capacity();
    mip.lns_conflict();
    mip.lns_spread();
    mip.lns_dependency();
    mip.lns_load_and_balance();
    mip.lns_moves();
    let opts = MipOptions {
        time_limit_s: seconds,
        mip_gap: NOISE,
        threads: 1,
        write_model: None,
        relax: false,
        budget: Budget::default(),
        max_nodes: Some(nodes),
        presolve: true,
        light_heuristics: false,
    };
    let x = mip.x;
    let r = mip.b.solve(Sense::Min, mip.objective, 0.0, &opts).ok()?;
    if !matches!(
        r.status,
        MipStatus::Optimal | MipStatus::TimeLimit | MipStatus::WorkLimit
    ) {
        return None;
    }
    let moves = n
        .free
        .iter()
        .zip(&x)
        .map(|(&p, row)| {
            let j = (0..row.len())
                .max_by(|&a, &b| r.values[row[a].ix].total_cmp(&r.values[row[b].ix]))
                .unwrap_or(0);
            (p, n.machines[j])
        })
        .collect();
    Some(moves)
}

impl<'s, 'a> Mip<'s, 'a> {
    /// The assignment columns and `lns_assign`: each free process on one machine.
    fn new(state: &'s State<'a>, n: &'s Neighbourhood) -> Self {
        let mut b = MipBuilder::new(false);
        let mut x = Vec::with_capacity(n.free.len());
        for &p in &n.free {
            let now = state.machine_of(p);
            let row: Vec<Col> = n
                .machines
                .iter()
                .map(|&m| b.column(variable().min(0).max(1), true, (m == now) as u8 as f64))
                .collect();
            let one: Expression = row.iter().map(|c| c.var).sum();
            b.row(constraint!(one == 1));
            x.push(row);
        }
        Mip {
            state,
            n,
            b,
            x,
            objective: Expression::from(0.0),
        }
    }

    /// The usage of machine `j` once the free processes are taken off, per resource.
    fn fixed_usage(&self, j: usize) -> Vec<i64> {
        let m = self.n.machines[j];
        let mut row = self.state.usage(m).to_vec();
        for &p in &self.n.free {
            if self.state.machine_of(p) == m {
                let req = self.state.model().requirement(p);
                row.iter_mut().zip(req).for_each(|(u, q)| *u -= q);
            }
        }
        row
    }

    /// Machine `j`'s usage of resource `k` as an expression of the free processes.
    fn usage(&self, j: usize, k: usize, fixed: i64) -> Expression {
        let model = self.state.model();
        let mut e = Expression::from(fixed as f64);
        for (i, &p) in self.n.free.iter().enumerate() {
            e += model.requirement(p)[k] as f64 * self.x[i][j].var;
        }
        e
    }

    /// `lns_capacity` and `lns_transient`: usage within capacity; for a transient resource, with
    /// what moved processes still hold (a free process counts on its initial machine wherever
    /// it goes).
    fn lns_capacity(&mut self) {
        let (model, n) = (self.state.model(), self.n);
        for (j, &m) in n.machines.iter().enumerate() {
            let fixed = self.fixed_usage(j);
            let cap = model.capacity(m);
            for k in 0..model.r() {
                let u = self.usage(j, k, fixed[k]);
                let c = cap[k] as f64;
                self.b.row(constraint!(u <= c));
                if !model.resources[k].transient {
                    continue;
                }
                // Held here by processes other than the free ones, plus the free ones whose
                // initial machine this is (on it or not), plus the others that come here.
                let mut held = fixed[k] + self.state.held(m)[k];
                let mut e = Expression::from(0.0);
                for (i, &p) in self.n.free.iter().enumerate() {
                    let req = model.requirement(p)[k];
                    if self.state.initial_of(p) == m {
                        if self.state.machine_of(p) != m {
                            held -= req; // counted in `held` already; added once below
                        }
                        held += req;
                    } else {
                        e += req as f64 * self.x[i][j].var;
                    }
                }
                let h = held as f64;
                self.b.row(constraint!(e + h <= c));
            }
        }
    }

    /// `lns_conflict`: at most one process of a service per machine, counting the processes
    /// that stay.
    fn lns_conflict(&mut self) {
        let model = self.state.model();
        let mut of_service: BTreeMap<ServiceIx, Vec<usize>> = BTreeMap::new();
        for (i, &p) in self.n.free.iter().enumerate() {
            of_service
                .entry(model.processes[p.ix()].service)
                .or_default()
                .push(i);
        }
        for (j, &m) in self.n.machines.iter().enumerate() {
            for (&s, items) in &of_service {
                let stays = self.state.processes_on(m).iter().any(|&q| {
                    model.processes[q.ix()].service == s && self.n.free.binary_search(&q).is_err()
                }) as i32;
                if items.len() < 2 && stays == 0 {
                    continue;
                }
                let e: Expression = items.iter().map(|&i| self.x[i][j].var).sum();
                let room = (1 - stays) as f64;
                self.b.row(constraint!(e <= room));
            }
        }
    }

    /// `lns_spread`: each service of a free process keeps `spreadMin` locations. A location of
    /// the neighbourhood that only free processes hold counts through `y` (at most the free
    /// processes placed there).
    fn lns_spread(&mut self) {
        let model = self.state.model();
        let mut services: Vec<ServiceIx> = self
            .n
            .free
            .iter()
            .map(|&p| model.processes[p.ix()].service)
            .collect();
        services.sort();
        services.dedup();
        let mut locations: Vec<LocationIx> = self
            .n
            .machines
            .iter()
            .map(|&m| model.machines[m.ix()].location)
            .collect();
        locations.sort();
        locations.dedup();
        for s in services {
            let free_in = |l: LocationIx| {
                self.n
                    .free
                    .iter()
                    .filter(|&&p| {
                        model.processes[p.ix()].service == s
                            && model.machines[self.state.machine_of(p).ix()].location == l
                    })
                    .count() as u32
            };
            let open: Vec<(LocationIx, u32)> = locations
                .iter()
                .map(|&l| (l, self.state.location_count(s, l) - free_in(l)))
                .filter(|&(_, base)| base == 0)
                .map(|(l, _)| (l, self.state.location_count(s, l)))
                .collect();
            let lost = open.iter().filter(|&&(_, now)| now > 0).count() as u32;
            let kept = self.state.locations_used(s) - lost;
            let need = model.services[s.ix()].spread_min;
            if kept >= need {
                continue;
            }
            let mut used = Expression::from(0.0);
            for (l, now) in open {
                let y = self
                    .b
                    .column(variable().min(0).max(1), true, (now > 0) as u8 as f64);
                let mut there = Expression::from(0.0);
                for (i, &p) in self.n.free.iter().enumerate() {
                    if model.processes[p.ix()].service != s {
                        continue;
                    }
                    for (j, &m) in self.n.machines.iter().enumerate() {
                        if model.machines[m.ix()].location == l {
                            there += self.x[i][j].var;
                        }
                    }
                }
                self.b.row(constraint!(y.var <= there));
                used += y.var;
            }
            let short = (need - kept) as f64;
            self.b.row(constraint!(used >= short));
        }
    }

    /// `lns_dependency`: where a service runs, every service it depends on runs too, in each
    /// neighborhood of the neighbourhood's machines, for each dependency with a free process on
    /// either side. Counts that stay (`base`) decide which row is needed.
    fn lns_dependency(&mut self) {
        let model = self.state.model();
        let mut free_services: Vec<ServiceIx> = self
            .n
            .free
            .iter()
            .map(|&p| model.processes[p.ix()].service)
            .collect();
        free_services.sort();
        free_services.dedup();
        let mut pairs: Vec<(ServiceIx, ServiceIx)> = Vec::new();
        for &s in &free_services {
            pairs.extend(model.services[s.ix()].depends_on.iter().map(|&d| (s, d)));
            pairs.extend(self.state.dependents(s).iter().map(|&t| (t, s)));
        }
        pairs.sort();
        pairs.dedup();
        let mut nbs: Vec<NeighborhoodIx> = self
            .n
            .machines
            .iter()
            .map(|&m| model.machines[m.ix()].neighborhood)
            .collect();
        nbs.sort();
        nbs.dedup();
        for nb in nbs {
            for &(s, d) in &pairs {
                self.dependency_rows(s, d, nb);
            }
        }
    }

    /// The columns that put a free process of `s` on a machine of neighborhood `nb`.
    fn free_in(&self, s: ServiceIx, nb: NeighborhoodIx) -> Vec<Col> {
        let model = self.state.model();
        let mut out = Vec::new();
        for (i, &p) in self.n.free.iter().enumerate() {
            if model.processes[p.ix()].service != s {
                continue;
            }
            for (j, &m) in self.n.machines.iter().enumerate() {
                if model.machines[m.ix()].neighborhood == nb {
                    out.push(self.x[i][j]);
                }
            }
        }
        out
    }

    /// Rows for "s in `nb` needs d in `nb`".
    fn dependency_rows(&mut self, s: ServiceIx, d: ServiceIx, nb: NeighborhoodIx) {
        let model = self.state.model();
        let on_nb = |p: ProcessIx| model.machines[self.state.machine_of(p).ix()].neighborhood == nb;
        let base = |x: ServiceIx| {
            let free_here = self
                .n
                .free
                .iter()
                .filter(|&&p| model.processes[p.ix()].service == x && on_nb(p))
                .count() as u32;
            self.state.neighborhood_count(x, nb) - free_here
        };
        if base(d) > 0 {
            return;
        }
        let (of_s, of_d) = (self.free_in(s, nb), self.free_in(d, nb));
        let supply: Expression = of_d.iter().map(|c| c.var).sum();
        if base(s) > 0 {
            self.b.row(constraint!(supply >= 1));
            return;
        }
        for c in of_s {
            self.b.row(constraint!(c.var <= supply.clone()));
        }
    }

    /// `lns_load` and `lns_balance`: per machine, the load above safety capacity and each
    /// balance objective's shortfall, as columns bounded below by their linear parts.
    fn lns_load_and_balance(&mut self) {
        let (model, n) = (self.state.model(), self.n);
        for (j, &m) in n.machines.iter().enumerate() {
            let fixed = self.fixed_usage(j);
            let (cap, safe) = (model.capacity(m), model.safety(m));
            let now = self.state.usage(m);
            for (k, res) in model.resources.iter().enumerate() {
                if res.load_weight == 0 {
                    continue;
                }
                let warm = (now[k] - safe[k]).max(0) as f64;
                let o = self.b.column(variable().min(0), false, warm);
                let u = self.usage(j, k, fixed[k]);
                let sc = safe[k] as f64;
                self.b.row(constraint!(o.var >= u - sc));
                self.objective += res.load_weight as f64 * o.var;
            }
            for bal in &model.balances {
                if bal.weight == 0 {
                    continue;
                }
                let (f, s) = (bal.first.ix(), bal.second.ix());
                let gap = |u: &[i64]| bal.target * (cap[f] - u[f]) - (cap[s] - u[s]);
                let g = self
                    .b
                    .column(variable().min(0), false, gap(now).max(0) as f64);
                let (uf, us) = (self.usage(j, f, fixed[f]), self.usage(j, s, fixed[s]));
                let t = bal.target as f64;
                let (cf, cs) = (cap[f] as f64, cap[s] as f64);
                self.b.row(constraint!(g.var >= t * cf - t * uf - cs + us));
                self.objective += bal.weight as f64 * g.var;
            }
        }
    }

    /// `lns_moves`: the process and machine move costs of the free processes, and the service
    /// move cost as `z` above every service's moved count (the others' largest as a constant).
    fn lns_moves(&mut self) {
        let model = self.state.model();
        let w = model.weights;
        let mut moved: BTreeMap<ServiceIx, (i64, Expression)> = BTreeMap::new();
        for (i, &p) in self.n.free.iter().enumerate() {
            let home = self.state.initial_of(p);
            let s = model.processes[p.ix()].service;
            let entry = moved
                .entry(s)
                .or_insert_with(|| (self.state.moved_in_service(s) as i64, Expression::from(0.0)));
            if self.state.machine_of(p) != home {
                entry.0 -= 1;
            }
            let pmc = (w.process * model.processes[p.ix()].move_cost) as f64;
            match self.n.machines.iter().position(|&m| m == home) {
                Some(j) => {
                    entry.1 += 1.0 - self.x[i][j].var;
                    self.objective += pmc - pmc * self.x[i][j].var;
                }
                None => {
                    entry.1 += 1.0;
                    self.objective += pmc;
                }
            }
            for (j, &m) in self.n.machines.iter().enumerate() {
                let c = (w.machine * model.move_cost(home, m)) as f64;
                if c != 0.0 {
                    self.objective += c * self.x[i][j].var;
                }
            }
        }
        if w.service == 0 {
            return;
        }
        let others = (0..model.services.len() as u32)
            .map(ServiceIx)
            .filter(|s| !moved.contains_key(s))
            .map(|s| self.state.moved_in_service(s))
            .max()
            .unwrap_or(0) as f64;
        let now = (0..model.services.len() as u32)
            .map(|s| self.state.moved_in_service(ServiceIx(s)))
            .max()
            .unwrap_or(0) as f64;
        let z = self.b.column(variable().min(others), false, now);
        for (_, (base, e)) in moved {
            let base = base as f64;
            self.b.row(constraint!(z.var >= e + base));
        }
        self.objective += w.service as f64 * z.var;
    }
}

/// Applies `moves` if they keep every rule and lower the cost; else leaves `state` as it was.
fn keep_if_cheaper(state: &mut State, n: &Neighbourhood, moves: &[(ProcessIx, MachineIx)]) -> bool {
    if moves.iter().all(|&(p, m)| state.machine_of(p) == m) || !conflict_free(state, n, moves) {
        return false;
    }
    let before = state.cost();
    let undo: Vec<(ProcessIx, MachineIx)> = moves
        .iter()
        .map(|&(p, _)| (p, state.machine_of(p)))
        .collect();
    state.apply_all(moves);
    let model = state.model();
    let services: Vec<ServiceIx> = moves
        .iter()
        .map(|&(p, _)| model.processes[p.ix()].service)
        .collect();
    if state.cost() < before && state.rules_hold(&n.machines, &services) {
        return true;
    }
    state.apply_all(&undo);
    false
}

/// No two processes of a service on one machine of the neighbourhood after `moves`.
fn conflict_free(state: &State, n: &Neighbourhood, moves: &[(ProcessIx, MachineIx)]) -> bool {
    let model = state.model();
    let mut seen = std::collections::BTreeSet::new();
    let stay = n.machines.iter().flat_map(|&m| {
        state
            .processes_on(m)
            .iter()
            .filter(|q| n.free.binary_search(q).is_err())
            .map(move |&q| (q, m))
    });
    stay.chain(moves.iter().copied())
        .all(|(p, m)| seen.insert((model.processes[p.ix()].service, m)))
}

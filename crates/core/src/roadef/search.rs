//! Local search over shift and swap moves (those of the [`largest`] processes drawn more
//! often), ejection chains ([`chain`]) and moves back to a process's initial machine, with late
//! acceptance (LAHC, Burke and Bykov): a candidate is taken if it is no worse than the current
//! cost or than the cost `history` iterations ago. Every committed move keeps every hard rule
//! ([`State::delta`] refuses the others), so the current assignment is always feasible. Single
//! thread, seeded: the same seed and the same number of iterations give the same answer.

use super::chain;
use super::model::*;
use super::state::{Move, State};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

/// What the search did.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct SearchStats {
    /// Candidate moves drawn.
    pub candidates: u64,
    /// Candidates that kept every hard rule.
    pub feasible: u64,
    /// Moves made.
    pub accepted: u64,
    /// MIP neighbourhoods solved (`lns`).
    pub mips: u64,
    /// Of which lowered the cost.
    pub mips_improved: u64,
    /// Relocations made by the final descent ([`super::chain::relocate`]).
    pub relocations: u64,
}

/// Knobs of the search.
#[derive(Debug, Clone, Copy)]
pub struct SearchParams {
    /// Seed of the random draws.
    pub seed: u64,
    /// Stop when this instant is reached.
    pub deadline: Instant,
    /// Late acceptance history length.
    pub history: usize,
    /// Chance of a swap (else a shift).
    pub swap_share: f64,
    /// Chance of drawing the moved process from the costlier of two random machines (else
    /// from all processes), and the target from the cheaper of two.
    pub target_share: f64,
    /// Chance of trying every machine for one random process and keeping the best shift.
    pub best_shift_share: f64,
    /// Chance of an ejection chain ([`chain::eject`]) rather than a single move.
    pub chain_share: f64,
    /// Processes of the target machine a chain tries to move away.
    pub chain_tries: usize,
    /// Chance that a move or chain takes a moved process back to its initial machine.
    pub home_share: f64,
    /// Chance of a shift or swap of one of the largest processes ([`largest`]) to or with a
    /// random machine.
    pub large_share: f64,
    /// The share of the processes that counts as largest.
    pub large_size_share: f64,
}

/// A candidate: one move, or a chain (each move checked after the ones before it).
#[derive(Debug, Clone)]
enum Candidate {
    One(Move),
    Chain(Vec<Move>),
}

/// Runs the search from `state`; returns the best assignment seen, its cost and the stats.
pub fn late_acceptance(state: &mut State, params: SearchParams) -> (Assignment, i64, SearchStats) {
    let model_p = state.assignment().0.len();
    let machines = state.machine_count();
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
    let mut stats = SearchStats::default();
    let mut current = state.cost();
    let mut history = vec![current; params.history.max(1)];
    let mut best_cost = current;
    let mut best: Option<Assignment> = None; // None: the best is the current assignment
    if model_p == 0 || machines < 2 {
        return (state.assignment(), current, stats);
    }
    let large = largest(state.model(), params.large_size_share);
    loop {
        if stats.candidates % 64 == 0 && Instant::now() >= params.deadline {
            break;
        }
        stats.candidates += 1;
        let Some((mv, delta)) = candidate(state, &mut rng, &params, &large, model_p, machines)
        else {
            continue;
        };
        let slot = (stats.feasible % history.len() as u64) as usize;
        stats.feasible += 1;
        let candidate = current + delta;
        if delta <= 0 || candidate <= history[slot] {
            if delta > 0 && best.is_none() && current == best_cost {
                best = Some(state.assignment());
            }
            match mv {
                Candidate::One(a) => state.apply(a),
                Candidate::Chain(moves) => moves.into_iter().for_each(|m| state.apply(m)),
            }
            stats.accepted += 1;
            current = candidate;
            if current < best_cost {
                best_cost = current;
                best = None;
            }
        }
        history[slot] = current;
    }
    let answer = best.unwrap_or_else(|| state.assignment());
    (answer, best_cost, stats)
}

/// Draws a candidate and prices it: a move of a large process, a chain, the best shift of a
/// process, or one move.
fn candidate(
    state: &mut State,
    rng: &mut ChaCha8Rng,
    params: &SearchParams,
    large: &[ProcessIx],
    processes: usize,
    machines: usize,
) -> Option<(Candidate, i64)> {
    if !large.is_empty() && rng.random_bool(params.large_share) {
        let p = large[rng.random_range(0..large.len())];
        let to = MachineIx(rng.random_range(0..machines as u32));
        let mv = shift_or_swap(state, rng, params.swap_share, p, to);
        return state.delta(mv).map(|d| (Candidate::One(mv), d));
    }
    if rng.random_bool(params.chain_share) {
        let (p, to) = match home_pick(state, rng, params.home_share) {
            Some(pair) => pair,
            None => {
                let p = pick_process(state, rng, 1.0, processes, machines);
                (p, cheaper_machine(state, rng, machines))
            }
        };
        if rng.random_bool(0.5) {
            let c = chain::eject(state, p, to, params.chain_tries, rng)?;
            return Some((Candidate::Chain(vec![c.first, c.second]), c.delta));
        }
        let (moves, delta) = chain::make_room(state, p, to, params.chain_tries)?;
        return Some((Candidate::Chain(moves), delta));
    }
    if rng.random_bool(params.best_shift_share) {
        let p = pick_process(state, rng, params.target_share, processes, machines);
        return best_shift(state, p).map(|(mv, d)| (Candidate::One(mv), d));
    }
    let mv = draw(state, rng, params, processes, machines);
    state.delta(mv).map(|d| (Candidate::One(mv), d))
}

/// With chance `share`, a moved process and its initial machine (`None` if none moved).
fn home_pick(state: &State, rng: &mut ChaCha8Rng, share: f64) -> Option<(ProcessIx, MachineIx)> {
    let away = state.away();
    if away.is_empty() || !rng.random_bool(share) {
        return None;
    }
    let p = away[rng.random_range(0..away.len())];
    Some((p, state.initial_of(p)))
}

/// The cheaper (by load and balance cost) of two random machines.
fn cheaper_machine(state: &State, rng: &mut ChaCha8Rng, machines: usize) -> MachineIx {
    let a = MachineIx(rng.random_range(0..machines as u32));
    let b = MachineIx(rng.random_range(0..machines as u32));
    if state.machine_cost(a) <= state.machine_cost(b) {
        a
    } else {
        b
    }
}

/// Draws a candidate move: a process (from a costly machine, or any) or a moved one, then a
/// machine (a cheap one, or any, or its initial one) or a second process on it.
fn draw(
    state: &State,
    rng: &mut ChaCha8Rng,
    params: &SearchParams,
    processes: usize,
    machines: usize,
) -> Move {
    let targeted = rng.random_bool(params.target_share);
    let (p, to) = match home_pick(state, rng, params.home_share) {
        Some(pair) => pair,
        None if targeted => (
            pick_process(state, rng, 1.0, processes, machines),
            cheaper_machine(state, rng, machines),
        ),
        None => (
            pick_process(state, rng, 0.0, processes, machines),
            MachineIx(rng.random_range(0..machines as u32)),
        ),
    };
    shift_or_swap(state, rng, params.swap_share, p, to)
}

/// `p` to `to`, or (chance `swap_share`, if `to` has processes) swapped with a random process
/// of `to`.
fn shift_or_swap(
    state: &State,
    rng: &mut ChaCha8Rng,
    swap_share: f64,
    p: ProcessIx,
    to: MachineIx,
) -> Move {
    if rng.random_bool(swap_share) {
        let on = state.processes_on(to);
        if on.is_empty() {
            return Move::Shift(p, to);
        }
        Move::Swap(p, on[rng.random_range(0..on.len())])
    } else {
        Move::Shift(p, to)
    }
}

/// The largest `share` of the processes (at least one if any), largest first: by requirement
/// as a share of the pool's capacity, summed over resources (ties by index).
pub fn largest(model: &Model, share: f64) -> Vec<ProcessIx> {
    let total: Vec<f64> = (0..model.r())
        .map(|k| {
            let cap: f64 = (0..model.m() as u32)
                .map(|m| model.capacity(MachineIx(m))[k] as f64)
                .sum();
            cap.max(1.0)
        })
        .collect();
    let mut all: Vec<ProcessIx> = (0..model.processes.len() as u32).map(ProcessIx).collect();
    let size: Vec<f64> = all
        .iter()
        .map(|&p| {
            let need = model.requirement(p).iter().zip(&total);
            need.map(|(&q, t)| q as f64 / t).sum()
        })
        .collect();
    all.sort_by(|&a, &b| size[b.ix()].total_cmp(&size[a.ix()]).then(a.cmp(&b)));
    all.truncate(((all.len() as f64 * share).ceil() as usize).max(1));
    all
}

/// The best feasible shift of `p` over every machine, with its change of cost.
fn best_shift(state: &mut State, p: ProcessIx) -> Option<(Move, i64)> {
    let mut best: Option<(Move, i64)> = None;
    for m in 0..state.machine_count() as u32 {
        let mv = Move::Shift(p, MachineIx(m));
        if let Some(d) = state.delta(mv) {
            if best.is_none_or(|(_, b)| d < b) {
                best = Some((mv, d));
            }
        }
    }
    best
}

/// A process: with chance `targeted`, one on the costlier of two random machines; else any.
fn pick_process(
    state: &State,
    rng: &mut ChaCha8Rng,
    targeted: f64,
    processes: usize,
    machines: usize,
) -> ProcessIx {
    if rng.random_bool(targeted) {
        let a = MachineIx(rng.random_range(0..machines as u32));
        let b = MachineIx(rng.random_range(0..machines as u32));
        let m = if state.machine_cost(a) >= state.machine_cost(b) {
            a
        } else {
            b
        };
        let on = state.processes_on(m);
        if !on.is_empty() {
            return on[rng.random_range(0..on.len())];
        }
    }
    ProcessIx(rng.random_range(0..processes as u32))
}

#[cfg(test)]
mod tests {
    use super::super::parse::{parse_assignment, parse_model};
    use super::*;
    use std::time::Duration;

    /// Two resources (pool capacity 200 and 20), two machines, three processes of three
    /// services: p0 (50, 0) is a quarter of resource 0, p1 (0, 8) 0.4 of resource 1, p2 (10, 1)
    /// 0.1 in all. Machine 0 has no safety capacity, machine 1 all of it.
    fn model() -> (Model, Assignment) {
        let text = "2\n0 1\n0 1\n2\n0 0 100 10 0 0 0 0\n0 0 100 10 100 10 0 0\n\
                    3\n0 0\n0 0\n0 0\n3\n0 50 0 0\n1 0 8 0\n2 10 1 0\n0\n0 0 0\n";
        let model = parse_model("large", text).unwrap();
        let initial = parse_assignment("initial", "0 0 0", &model).unwrap();
        (model, initial)
    }

    /// Shifts only (a swap moves a second process), hill climbing for 50 ms.
    fn params(large_share: f64, large_size_share: f64) -> SearchParams {
        SearchParams {
            seed: 3,
            deadline: Instant::now() + Duration::from_millis(50),
            history: 1,
            swap_share: 0.0,
            target_share: 0.2,
            best_shift_share: 0.02,
            chain_share: 0.1,
            chain_tries: 4,
            home_share: 0.3,
            large_share,
            large_size_share,
        }
    }

    #[test]
    fn the_largest_are_those_needing_most_of_the_pool_summed_over_resources() {
        let (model, _) = model();
        // p1 needs less in units than p0 but more of its resource's pool.
        assert_eq!(largest(&model, 0.5), vec![ProcessIx(1), ProcessIx(0)]);
        assert_eq!(largest(&model, 1.0).len(), 3);
        // At least one.
        assert_eq!(largest(&model, 0.0), vec![ProcessIx(1)]);
    }

    #[test]
    fn moves_of_the_largest_processes_move_only_those() {
        let (model, initial) = model();
        // Every candidate a shift of p1: only p1 reaches machine 1 (p0 and p2 leave 61 above).
        let mut state = State::new(&model, &initial);
        let (answer, cost, _) = late_acceptance(&mut state, params(1.0, 0.0));
        assert_eq!(answer.0, vec![MachineIx(0), MachineIx(1), MachineIx(0)]);
        assert_eq!(cost, 61);
        // Without them, every process leaves the machine with no safety capacity.
        let mut state = State::new(&model, &initial);
        let (answer, cost, _) = late_acceptance(&mut state, params(0.0, 0.0));
        assert_eq!(answer.0, vec![MachineIx(1); 3]);
        assert_eq!(cost, 0);
    }
}

//! Local search over shift and swap moves, ejection chains ([`chain`]) and moves back to a
//! process's initial machine, with late acceptance (LAHC, Burke and Bykov): a candidate is
//! taken if it is no worse than the current cost or than the cost `history` iterations ago. Every committed move keeps every hard rule ([`State::delta`] refuses the
//! others), so the current assignment is always feasible. Single thread, seeded: the same
//! seed and the same number of iterations give the same answer.

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
    loop {
        if stats.candidates % 64 == 0 && Instant::now() >= params.deadline {
            break;
        }
        stats.candidates += 1;
        let Some((mv, delta)) = candidate(state, &mut rng, &params, model_p, machines) else {
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

/// Draws a candidate and prices it: a chain, the best shift of a process, or one move.
fn candidate(
    state: &mut State,
    rng: &mut ChaCha8Rng,
    params: &SearchParams,
    processes: usize,
    machines: usize,
) -> Option<(Candidate, i64)> {
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
    if rng.random_bool(params.swap_share) {
        let on = state.processes_on(to);
        if on.is_empty() {
            return Move::Shift(p, to);
        }
        Move::Swap(p, on[rng.random_range(0..on.len())])
    } else {
        Move::Shift(p, to)
    }
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

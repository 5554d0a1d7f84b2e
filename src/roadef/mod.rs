//! The ROADEF/EURO 2012 challenge (machine reassignment, proposed by Google), in its own file
//! format: [`parse`] reads the files into the typed [`model`], [`state`] prices and checks
//! moves incrementally, [`search`] improves the initial assignment within a time limit, and
//! [`bound`] gives a lower bound. The independent checker is `checker::roadef`. The problem
//! and the method are written up in `models/roadef.md`.

pub mod bench;
pub mod bound;
pub mod model;
pub mod parse;
pub mod search;
pub mod state;

use model::{Assignment, Model};
use search::{SearchParams, SearchStats};
use std::time::Instant;

/// Share of the time spent hill climbing before late acceptance on large instances (measured at
/// `-t 30`: hill climbing first is what makes b_03 converge, 0.18 G against 0.93 G; on the
/// smaller ones, a2_2 and b_01, it stops late acceptance in a deep local optimum).
const HILL_CLIMBING_SHARE: f64 = 0.3;
/// From this many processes on, hill climb first.
const LARGE: usize = 10_000;
/// Late acceptance history length (feasible candidates).
const HISTORY: usize = 3000;
/// Chance of a swap rather than a shift.
const SWAP_SHARE: f64 = 0.5;
/// Chance of drawing from a costly machine to a cheap one.
const TARGET_SHARE: f64 = 0.2;
/// Chance of the best shift of one process over every machine.
const BEST_SHIFT_SHARE: f64 = 0.02;

/// The search's answer.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The best assignment found (feasible).
    pub assignment: Assignment,
    /// Its cost, as the incremental state counts it.
    pub cost: i64,
    /// What the search did.
    pub stats: SearchStats,
}

/// Improves `initial` (feasible) until `deadline`, deterministically for a seed.
pub fn reassign(model: &Model, initial: &Assignment, seed: u64, deadline: Instant) -> Outcome {
    let mut state = state::State::new(model, initial);
    // Hill climbing first (late acceptance with a history of 1): on large instances the
    // first descent is what the time allows; then late acceptance from its local optimum.
    let now = Instant::now();
    let share = if model.processes.len() >= LARGE {
        HILL_CLIMBING_SHARE
    } else {
        0.0
    };
    let split = now + deadline.saturating_duration_since(now).mul_f64(share);
    let phase = |seed: u64, deadline: Instant, history: usize| SearchParams {
        seed,
        deadline,
        history,
        swap_share: SWAP_SHARE,
        target_share: TARGET_SHARE,
        best_shift_share: BEST_SHIFT_SHARE,
    };
    let (_, _, first) = search::late_acceptance(&mut state, phase(seed, split, 1));
    let (assignment, cost, second) =
        search::late_acceptance(&mut state, phase(seed.wrapping_add(1), deadline, HISTORY));
    let stats = SearchStats {
        candidates: first.candidates + second.candidates,
        feasible: first.feasible + second.feasible,
        accepted: first.accepted + second.accepted,
    };
    Outcome {
        assignment,
        cost,
        stats,
    }
}

//! The ROADEF/EURO 2012 challenge (machine reassignment, proposed by Google), in its own file
//! format: [`parse`] reads the files into the typed [`model`], [`state`] prices and checks
//! moves incrementally, [`search`] improves the initial assignment within a time limit, and
//! [`bound`] gives a lower bound. The independent checker is `checker::roadef`. The problem
//! and the method are written up in `models/roadef.md`.

pub mod bound;
pub mod model;
pub mod parse;
pub mod search;
pub mod state;

use model::{Assignment, Model};
use search::{SearchParams, SearchStats};
use std::time::Instant;

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
    let params = SearchParams {
        seed,
        deadline,
        history: 1000,
        swap_share: 0.5,
        target_share: 0.2,
        best_shift_share: 0.02,
    };
    let (assignment, cost, stats) = search::late_acceptance(&mut state, params);
    Outcome {
        assignment,
        cost,
        stats,
    }
}

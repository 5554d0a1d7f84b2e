//! The ROADEF/EURO 2012 challenge (machine reassignment, proposed by Google), in its own file
//! format: [`parse`] reads the files into the typed [`model`] ([`convert`] maps it to and from
//! the migration state document, the way `vmplace roadef` reads it), [`state`] prices and checks
//! moves incrementally, [`search`] improves the initial assignment within a time limit (with
//! the compound moves of [`chain`], the MIP neighbourhoods of [`lns`] and the perturbations of
//! [`skew`]), and
//! [`bound`] gives a lower bound. The independent checker is `checker::roadef`. The problem
//! and the method are written up in `models/roadef.md`.

pub mod bench;
pub mod bound;
pub mod chain;
pub mod convert;
pub mod lns;
/// The challenge's file format lives with the wire contract; these keep its paths short here.
pub use vmplace_wire::roadef::{model, parse};
pub mod search;
pub mod skew;
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
/// Share of the time hill climbing first on smaller instances.
const SMALL_HILL_CLIMBING_SHARE: f64 = 0.0;
/// Share of the time of each block of MIP neighbourhoods.
const LNS_SHARE: f64 = 0.1;
/// Share of the time of each block of late acceptance between them.
const LATE_SHARE: f64 = 0.25;
/// Share of the time of a block of MIP neighbourhoods after one that gained less than
/// [`LNS_WORTH`] of the cost.
const LNS_SHORT_SHARE: f64 = 0.03;
/// A block of MIP neighbourhoods that gains this share of the cost keeps its full time.
const LNS_WORTH: f64 = 0.001;
/// Most machines in one MIP neighbourhood (measured at `-t 300` against 4 machines and 30
/// free processes, and 8 and 60: section "Neighbourhood size" of `models/roadef.md`).
const LNS_MACHINES: usize = 6;
/// Most free processes in one MIP neighbourhood.
const LNS_FREE: usize = 45;
/// Share of the time of a descent under skewed weights ([`skew`]) at the start of each late
/// acceptance block after the first (measured at `-t 300` against the second start it
/// replaced: section "Skewed descents" of `models/roadef.md`).
const SKEW_SHARE: f64 = 0.04;
/// Branch-and-bound nodes per neighbourhood MIP.
const LNS_NODES: u32 = 100;
/// Seconds per neighbourhood MIP at most.
const LNS_MIP_SECONDS: f64 = 0.5;
/// Shortest late acceptance history (feasible candidates).
const HISTORY: usize = 3000;
/// Late acceptance history per second of the block, at most: about 0.2 % of the feasible
/// candidates a second, short enough for late acceptance to settle within the block (it needs a
/// number of iterations in proportion to its history). Measured at `-t 60` (section "History
/// length" of `models/roadef.md`): 3000 settles too soon on a1_4, a2_3 and a2_5, and three
/// times this rate does not settle at all.
const HISTORY_PER_SECOND: f64 = 2_000.0;
/// From this many processes on, the history shrinks in proportion: each process is drawn less
/// often, so the same history would settle later (b_01, 5,000 processes, lost 1 % with the
/// history of the 1,000-process instances).
const HISTORY_FULL_PROCESSES: f64 = 1_000.0;
/// Longest history (8 MB of costs), whatever the time limit.
const HISTORY_MOST: usize = 1_000_000;
/// Chance of a swap rather than a shift.
const SWAP_SHARE: f64 = 0.5;
/// Chance of drawing from a costly machine to a cheap one.
const TARGET_SHARE: f64 = 0.2;
/// Chance of the best shift of one process over every machine.
const BEST_SHIFT_SHARE: f64 = 0.02;
/// Share of the search's move pricings spent on ejection chains (each prices about
/// `CHAIN_TRIES` x machines shifts, so their chance is this over that).
const CHAIN_EFFORT: f64 = 0.3;
/// Processes of the target machine an ejection chain tries to move away.
const CHAIN_TRIES: usize = 4;
/// Chance of a shift or swap of one of the largest processes (measured at `-t 300`, section
/// "The largest processes more often" of `models/roadef.md`).
const LARGE_SHARE: f64 = 0.2;
/// The share of the processes that counts as largest.
const LARGE_SIZE_SHARE: f64 = 0.1;
/// Share of the time kept for the final relocation descent ([`chain::relocate`]) from the best
/// assignment, then MIP neighbourhoods for what it leaves (section "Relocation descent" of
/// `models/roadef.md`: it gains 0.0 % to 0.8 % on set A's answers, in 1 to 5 s at `-t 300`).
const RELOCATE_SHARE: f64 = 0.03;
/// Processes that may leave a machine to make room in one relocation.
const RELOCATE_MOST: usize = 4;
/// Chance that a move or a chain brings a moved process back to its initial machine (measured
/// at `-t 30`, 0.1 against 0.3: a2_1 509 and 246, a2_2 894 M and 861 M, a2_5 416 M and 415 M).
const HOME_SHARE: f64 = 0.3;

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

/// Improves `initial` (feasible) until `deadline`, deterministically for a seed: hill climbing
/// first (on [`LARGE`] instances), then blocks of late acceptance and MIP neighbourhoods
/// ([`lns::lns`]) in turn, each block starting from the best assignment so far; every late
/// acceptance block after the first starts with a descent under weights skewed towards one
/// resource ([`skewed_descent`]), so it starts above the best, with room to climb down
/// elsewhere. Each late acceptance block's history grows with its seconds, less so on many
/// processes ([`history_length`]). The last [`RELOCATE_SHARE`] of the time is a descent of
/// relocations from the best ([`chain::relocate`], the largest processes first), then MIP
/// neighbourhoods until the deadline.
pub fn reassign(model: &Model, initial: &Assignment, seed: u64, deadline: Instant) -> Outcome {
    let mut state = state::State::new(model, initial);
    let start = Instant::now();
    let total = deadline
        .saturating_duration_since(start)
        .mul_f64(1.0 - RELOCATE_SHARE);
    let at = |share: f64| start + total.mul_f64(share.min(1.0));
    let phase = |seed, deadline, history| search_params(model, seed, deadline, history);
    let climb = if model.processes.len() >= LARGE {
        HILL_CLIMBING_SHARE
    } else {
        SMALL_HILL_CLIMBING_SHARE
    };
    let (mut best, mut best_cost, mut stats) =
        search::late_acceptance(&mut state, phase(seed, at(climb), 1));
    trace_block("hill climbing", start, best_cost, best_cost);
    let (mut lns_share, late_share) = (LNS_SHARE, LATE_SHARE);
    let mut lns_stats = lns::LnsStats::default();
    let mut t = climb;
    let mut round = 0u64;
    while t < 1.0 {
        if round >= 1 {
            skewed_descent(&mut state, initial, round, seed, at(t + SKEW_SHARE));
            trace_block("skewed descent", start, state.cost(), best_cost);
        }
        let seconds = total.mul_f64(late_share).as_secs_f64();
        let length = history_length(seconds, model.processes.len());
        let history = phase(seed.wrapping_add(1 + round), at(t + late_share), length);
        let (a, c, s) = search::late_acceptance(&mut state, history);
        stats.candidates += s.candidates;
        stats.feasible += s.feasible;
        stats.accepted += s.accepted;
        if c < best_cost {
            best_cost = c;
            best = a;
        }
        trace_block("late acceptance", start, c, best_cost);
        t += late_share;
        if t >= 1.0 {
            break;
        }
        // The MIP neighbourhoods start from the best.
        go_to(&mut state, &best);
        let params = lns_params(seed ^ 0x5eed_0000 ^ round, at(t + lns_share));
        let before = state.cost();
        t += lns_share;
        let done = lns::lns(&mut state, params);
        // A block that gained little gives the next one less time.
        lns_share = if (before - state.cost()) as f64 > LNS_WORTH * before as f64 {
            LNS_SHARE
        } else {
            LNS_SHORT_SHARE
        };
        lns_stats.mips += done.mips;
        lns_stats.improved += done.improved;
        if state.cost() < best_cost {
            best_cost = state.cost();
            best = state.assignment();
        }
        trace_block("MIP neighbourhoods", start, state.cost(), best_cost);
        round += 1;
    }
    go_to(&mut state, &best);
    let by_size = search::largest(model, 1.0);
    stats.relocations = chain::relocate(&mut state, &by_size, RELOCATE_MOST, deadline) as u64;
    let done = lns::lns(&mut state, lns_params(seed ^ 0x5eed_0000 ^ round, deadline));
    lns_stats.mips += done.mips;
    lns_stats.improved += done.improved;
    if state.cost() < best_cost {
        best_cost = state.cost();
        best = state.assignment();
    }
    trace_block(
        "relocations and MIP neighbourhoods",
        start,
        state.cost(),
        best_cost,
    );
    stats.mips = lns_stats.mips;
    stats.mips_improved = lns_stats.improved;
    Outcome {
        assignment: best,
        cost: best_cost,
        stats,
    }
}

/// The MIP neighbourhoods' knobs for a block: its seed and deadline.
fn lns_params(seed: u64, deadline: Instant) -> lns::LnsParams {
    lns::LnsParams {
        seed,
        deadline,
        machines: LNS_MACHINES,
        free: LNS_FREE,
        nodes: LNS_NODES,
        mip_seconds: LNS_MIP_SECONDS,
    }
}

/// The local search's knobs for a block: its seed, deadline and history.
fn search_params(model: &Model, seed: u64, deadline: Instant, history: usize) -> SearchParams {
    SearchParams {
        seed,
        deadline,
        history,
        swap_share: SWAP_SHARE,
        target_share: TARGET_SHARE,
        best_shift_share: BEST_SHIFT_SHARE,
        chain_share: (CHAIN_EFFORT / (CHAIN_TRIES * model.m().max(1)) as f64).min(1.0),
        chain_tries: CHAIN_TRIES,
        home_share: HOME_SHARE,
        large_share: LARGE_SHARE,
        large_size_share: LARGE_SIZE_SHARE,
    }
}

/// Logs (debug, on stderr) the end of a block: its best cost and the best so far, so a run
/// with `RUST_LOG=vmplace_core::roadef=debug` shows which block made the answer.
fn trace_block(block: &str, start: Instant, cost: i64, best: i64) {
    let seconds = start.elapsed().as_secs_f64();
    tracing::debug!(block, seconds, cost, best, "block done");
}

/// The late acceptance history of a block of `seconds` on `processes` processes:
/// [`HISTORY_PER_SECOND`] a second, scaled down above [`HISTORY_FULL_PROCESSES`] processes, at
/// least [`HISTORY`] and at most [`HISTORY_MOST`].
fn history_length(seconds: f64, processes: usize) -> usize {
    let per_process = (HISTORY_FULL_PROCESSES / processes.max(1) as f64).min(1.0);
    let scaled = HISTORY_PER_SECOND * seconds * per_process;
    (scaled as usize).clamp(HISTORY, HISTORY_MOST)
}

/// Round `round`'s perturbation: a descent until `deadline` under weights skewed towards the
/// resource furthest above its bound ([`skew::by_gap`]; round 1 the first, round 2 the second,
/// cycling through the first half of those with a gap), from where `state` is, which it leaves
/// at the descent's end. Nothing if no resource has a gap.
fn skewed_descent(
    state: &mut state::State,
    initial: &Assignment,
    round: u64,
    seed: u64,
    deadline: Instant,
) {
    let order = skew::by_gap(state);
    if order.is_empty() {
        return;
    }
    let k = order[(round.saturating_sub(1) as usize) % order.len().div_ceil(2)];
    let model = state.model();
    let from = state.assignment();
    let params = search_params(model, seed ^ 0x5ce3 ^ round, deadline, 1);
    let to = skew::skewed_descent(model, initial, &from, k, params);
    go_to(state, &to);
}

/// Moves every process of `state` to its machine in `to`.
fn go_to(state: &mut state::State, to: &Assignment) {
    let moves: Vec<_> =
        to.0.iter()
            .enumerate()
            .map(|(p, &m)| (model::ProcessIx(p as u32), m))
            .collect();
    state.apply_all(&moves);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_history_grows_with_the_block_per_process_within_a_floor_and_a_ceiling() {
        // A short block on many processes keeps the shortest history.
        assert_eq!(history_length(1.0, 40_000), HISTORY);
        assert_eq!(history_length(0.0, 0), HISTORY);
        // A 15 s block on 1,000 processes (a2_5 at -t 60): 30,000.
        assert_eq!(history_length(15.0, 1_000), 30_000);
        // Five times the time, five times the history; five times the processes, a fifth.
        assert_eq!(history_length(75.0, 1_000), 150_000);
        assert_eq!(history_length(75.0, 5_000), 30_000);
        // Fewer processes do not lengthen it beyond what the block can settle.
        assert_eq!(history_length(15.0, 100), 30_000);
        // A day-long limit does not take unbounded memory.
        assert_eq!(history_length(86_400.0, 1_000), HISTORY_MOST);
        assert_eq!(history_length(f64::INFINITY, 1), HISTORY_MOST);
    }
}

//! The search after the phases of `place` (models/joint.md, "The search after the phases"):
//! ejection on the phases' answer, the joint MIP over the whole pool when it is small, then blocks
//! of ruin and recreate ([`super::ruin`]) and of neighbourhood MIPs ([`super::neighbourhood`]) in
//! turn, each block running while it pays ([`Stall`]), and ejection again at the end.

use super::deadline::Stall;
use super::ejection::Ejections;
use super::lexicographic::better;
use super::neighbourhood::{self, Explorer, PART_COLUMNS};
use super::ruin::Recreated;
use crate::budget::Budget;
use crate::domain::{evaluate, Assignment, Domain, RequestIx, NOISE};
use crate::model::joint;
use crate::model::MipError;
use std::time::Instant;
use vmplace_wire::{PhaseSolver, Status};

/// The least time a block may run without improving. Ruin and recreate keeps it (ten thousand
/// tries a second have seen its neighbourhood by then); the neighbourhoods' doubles after a
/// round of both blocks that improved nothing (a MIP may need a few parts to find the next
/// step), and both come back to it after a round that improved.
const STALL_FLOOR_S: f64 = 0.1;

/// What the search did.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Improved {
    /// Neighbourhoods solved, and those that improved the answer.
    pub searched: neighbourhood::Searched,
    /// What ruin and recreate did.
    pub recreated: Recreated,
    /// Seconds ruin and recreate took.
    pub ruin_s: f64,
    /// What the ejection stage did.
    pub ejected: Ejections,
    /// Seconds the ejection stage took.
    pub ejection_s: f64,
    /// The joint model's third stage: a bound on phase 1's cost over the answers that keep the
    /// proven placed weight and host cost.
    pub storage_bound: Option<f64>,
}

/// What proves an answer for the whole call: the placed-weight bound, the host-cost bound and
/// the bound on phase 1's cost (the last two only from the whole-pool joint MIP).
struct Proved {
    weight: f64,
    cost: f64,
    storage: Option<f64>,
    all: Vec<RequestIx>,
}

impl Proved {
    /// What phase 1 proved.
    fn by_phases(d: &Domain, p1: &super::PhaseOutcome) -> Self {
        Proved {
            weight: p1.stats.placed_weight_bound,
            cost: f64::NEG_INFINITY,
            storage: None,
            all: d.requests.ids().collect(),
        }
    }

    /// Whether `a` meets the placed-weight bound and its host cost is within `mip_gap` of its
    /// bound.
    fn proven(&self, d: &Domain, a: &Assignment) -> bool {
        use super::bounds::host_cost_floor;
        use crate::domain::quality::{gap, Goal};
        let (w, c) = evaluate::host_score(d, a);
        let floor = host_cost_floor(d, &self.all, w).max(self.cost);
        w >= self.weight - NOISE
            && gap(c, floor.min(c), Goal::Minimize) <= d.settings.mip_gap + NOISE
    }

    /// Whether `a` is proven for the whole call, phase 1's cost included.
    fn done(&self, d: &Domain, p1: &super::PhaseOutcome, a: &Assignment) -> bool {
        let bounds = (self.weight, self.storage.unwrap_or(f64::NEG_INFINITY));
        self.proven(d, a)
            && super::storage_phase::restated(d, p1, a, bounds).status == Status::Optimal
    }
}

/// Unless the two phases' answer is proven for the whole call, improves phase 2's answer until
/// it is (phase 1 proven, the placed-weight bound met and the host cost within `mip_gap` of its
/// bound) or the deadline. An improved answer carries the bounds that hold for the whole call.
pub(crate) fn run(
    d: &Domain,
    p1: &super::PhaseOutcome,
    p2: &mut super::PhaseOutcome,
    deadline: &Budget,
) -> Result<Improved, MipError> {
    let placed = evaluate::placed_weight(d, &p2.assignment, true);
    let whole = super::bounds::whole_call(d, &[&p1.stats, &p2.stats], placed);
    if !neighbourhood::applies(d) || whole.status == Status::Optimal {
        return Ok(Improved::default());
    }
    let mut out = Improved::default();
    // Ejection (models/joint.md, "Ejection") on a copy first: the search starts from it when it
    // is better than the phases' answer, and its time, doubled, is kept for ejection at the end.
    let ejecting = Instant::now();
    let mut first = p2.assignment.clone();
    neighbourhood::normalise(d, &mut first);
    let first_ejected = super::ejection::improve(d, &mut first, deadline);
    out.ejection_s = ejecting.elapsed().as_secs_f64();
    tracing::debug!(ejected = ?first_ejected, seconds = out.ejection_s, "ejection on the phases' answer");
    let deadline_all = deadline;
    let deadline = &deadline.within(deadline.remaining() - (2.0 * out.ejection_s + 0.01));
    let from_first = better(
        evaluate::host_score(d, &first),
        evaluate::host_score(d, &p2.assignment),
    );
    let mut best = if from_first {
        first
    } else {
        let mut a = p2.assignment.clone();
        neighbourhood::normalise(d, &mut a);
        a
    };
    let mut proved = Proved::by_phases(d, p1);
    let mut blocks = Blocks {
        explorer: Explorer::new(d),
        floor: STALL_FLOOR_S,
        round: 0,
    };
    if whole_pool_fits(d) {
        // The quick gains first, then the joint MIP from the better answer with what is left.
        let done = |a: &Assignment| proved.done(d, p1, a);
        let idle = (deadline, Until::Idle);
        alternate(d, &mut best, idle, &done, (&mut blocks, &mut out))?;
        whole_pool(d, &mut best, deadline, &mut proved)?;
    }
    let done = |a: &Assignment| proved.done(d, p1, a);
    let to_deadline = (deadline, Until::Budget);
    alternate(d, &mut best, to_deadline, &done, (&mut blocks, &mut out))?;
    let ejecting = Instant::now();
    out.ejected = super::ejection::improve(d, &mut best, deadline_all);
    out.ejection_s += ejecting.elapsed().as_secs_f64();
    tracing::debug!(ejected = ?out.ejected, "ejection after the search");
    // The reserve was twice the first ejection's time; what the second left goes back to the
    // blocks, so that an unproven answer uses the whole limit.
    let to_end = (deadline_all, Until::Budget);
    alternate(d, &mut best, to_end, &done, (&mut blocks, &mut out))?;
    if from_first {
        out.ejected = out.ejected.plus(first_ejected);
    }
    out.storage_bound = proved.storage;
    let not_proven = !proved.proven(d, &best);
    report(d, p2, best, &out, (&proved, not_proven));
    Ok(out)
}

/// Whether the whole pool is one part: its joint model no larger than a part's, and no
/// `groups[]` rules.
fn whole_pool_fits(d: &Domain) -> bool {
    super::joint::fits_joint(d) && joint::columns(d) <= PART_COLUMNS
}

/// The whole pool as one part, warm-started with `best`: on larger pools a joint MIP given the
/// few seconds left seldom gets past its warm start (61 of 100 pools of 1,000 requests on the
/// sweep kept the baseline), where the blocks improve it. Its bounds hold for the whole call;
/// its answer replaces `best` when better.
fn whole_pool(
    d: &Domain,
    best: &mut Assignment,
    deadline: &Budget,
    proved: &mut Proved,
) -> Result<(), MipError> {
    let whole = super::joint::joint_phase(d, best, deadline)?;
    proved.weight = proved.weight.min(whole.stats.placed_weight_bound);
    proved.cost = whole.stats.bound;
    if better(
        evaluate::host_score(d, &whole.assignment),
        evaluate::host_score(d, best),
    ) {
        *best = whole.assignment;
        neighbourhood::normalise(d, best);
    }
    if whole.status == Status::Optimal {
        proved.storage = cheapest_storage(d, best, deadline)?;
    }
    tracing::debug!(score = ?evaluate::host_score(d, best), proven = proved.proven(d, best), "whole pool");
    Ok(())
}

/// How long [`alternate`] goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Until {
    /// Until a round of both blocks improves nothing.
    Idle,
    /// Until the deadline.
    Budget,
}

/// The blocks' memory across the calls of [`alternate`]: the neighbourhoods' explorer and stall
/// floor, and the round (which seeds ruin and recreate).
struct Blocks {
    explorer: Explorer,
    floor: f64,
    round: u64,
}

/// Blocks of ruin and recreate and of neighbourhood MIPs in turn until `done(best)`, the
/// deadline or, under [`Until::Idle`], a round that improved nothing. Each block runs while it
/// pays ([`Stall`]): the time goes to whichever still improves the answer, not by fixed shares.
fn alternate(
    d: &Domain,
    best: &mut Assignment,
    (deadline, until): (&Budget, Until),
    done: &dyn Fn(&Assignment) -> bool,
    (blocks, out): (&mut Blocks, &mut Improved),
) -> Result<(), MipError> {
    while !deadline.passed() && !done(best) {
        let before = evaluate::host_score(d, best);
        let ruining = Instant::now();
        let mut stall = Stall::new(STALL_FLOOR_S);
        let seed = 0x5eed ^ blocks.round;
        let recreated = super::ruin::improve(d, best, (deadline, &mut stall), seed, done);
        out.ruin_s += ruining.elapsed().as_secs_f64();
        out.recreated = out.recreated.plus(recreated);
        if deadline.passed() || done(best) {
            break;
        }
        let mut stall = Stall::new(blocks.floor);
        let explorer = &mut blocks.explorer;
        let searched = neighbourhood::search(d, best, (deadline, &mut stall), done, explorer)?;
        out.searched.neighbourhoods += searched.neighbourhoods;
        out.searched.improved += searched.improved;
        let gained = better(evaluate::host_score(d, best), before);
        let round = blocks.round;
        tracing::debug!(round, ?recreated, ?searched, score = ?evaluate::host_score(d, best), "search round");
        blocks.round += 1;
        if gained {
            blocks.floor = STALL_FLOOR_S;
        } else if until == Until::Idle {
            return Ok(());
        } else {
            blocks.floor *= 2.0;
        }
    }
    Ok(())
}

/// Phase 2's answer and statistics after the search, when it improved the answer or the joint
/// model bounded it.
fn report(
    d: &Domain,
    p2: &mut super::PhaseOutcome,
    best: Assignment,
    out: &Improved,
    (proved, not_proven): (&Proved, bool),
) {
    let improved =
        out.searched.improved > 0 || out.ejected.placed > 0 || out.recreated.improved > 0;
    let solver = if improved {
        PhaseSolver::JointLns
    } else if proved.cost.is_finite() {
        PhaseSolver::Joint
    } else {
        return;
    };
    let mut st = super::baseline::whole_pool_stats(
        d,
        &best,
        solver,
        p2.stats.flavors,
        (proved.weight, proved.cost),
        Some(not_proven),
    );
    st.time_s = p2.stats.time_s;
    st.lns_neighbourhoods = out.searched.neighbourhoods;
    st.ruin_tries = out.recreated.tries;
    st.ruin_improved = out.recreated.improved;
    st.ejection_placed = out.ejected.placed;
    st.ejection_moves = out.ejected.moved;
    st.ejection_dropped = out.ejected.dropped;
    p2.status = st.status;
    p2.stats = st;
    p2.assignment = best;
}

/// The joint model's third stage on a call whose placed weight and host cost it proved: keeps
/// in `answer` the lowest phase-1 cost among the answers with both, and returns its bound.
fn cheapest_storage(
    d: &Domain,
    answer: &mut Assignment,
    deadline: &Budget,
) -> Result<Option<f64>, MipError> {
    let Some(stage) = super::joint::storage_stage(d, answer, deadline)? else {
        return Ok(None);
    };
    let cost = |a: &Assignment| super::storage_phase::full_score(d, a).1;
    if let Some(a) = stage.answer.filter(|a| cost(a) < cost(answer) - NOISE) {
        *answer = a;
    }
    Ok(Some(stage.bound))
}

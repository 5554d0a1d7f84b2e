//! Phase 1: the storage system of every request, with look-ahead certification.

use super::bounds::{phase_stats, record, storage_cost_floor, total_weight, Measured};
use super::certify::certify;
use super::deadline::mip_options;
use super::lexicographic::{better, lexicographic, Lexi};
use super::{exact, fixed_storage, greedy, model_path, Mode, PhaseOutcome, RunConfig};
use crate::budget::{shares, Budget};
use crate::domain::{evaluate, Assignment, Domain, IxVec, NOISE};
use crate::model::storage::{self, Stage, StorageInput};
use crate::model::{MipError, ModelSize};
use std::collections::BTreeSet;
use std::time::Instant;
use vmplace_wire::{Objective, PhaseName, PhaseSolver, SolverKind};

/// Relax-and-round warm start for phase 1: solve the LP relaxation of the policy stage, keep
/// the integer part of every count, let the look-ahead greedy host those and place the rest.
/// Returns a certified assignment (with hosts), or None if the LP gave nothing.
fn lp_rounding(
    d: &Domain,
    fixed: &Assignment,
    warm: &Assignment,
    deadline: &Budget,
) -> Result<Option<Assignment>, MipError> {
    let slack = IxVec::filled(vec![0.0; d.resources.len()], d.storage.len());
    let input = StorageInput {
        d,
        slack: &slack,
        warm,
    };
    if deadline.passed() {
        return Ok(None);
    }
    let min_weight = evaluate::placed_weight(d, warm, true);
    let mut opts = mip_options(
        d,
        deadline.seconds(shares::STORAGE_LP_ROUNDING),
        None,
        deadline,
    );
    opts.relax = true;
    let (r, partial) = storage::solve(&input, Stage::Policy { min_weight }, &opts)?;
    if r.values.is_empty() {
        return Ok(None);
    }
    let mut seed = fixed.clone();
    for i in d.requests.ids() {
        seed.storage[i] = seed.storage[i].or(partial.storage[i]);
    }
    let (sp, hp) = (d.settings.storage_policy, d.settings.host_policy);
    let stop = || deadline.passed();
    let mut a = greedy::lookahead(d, &seed, sp, hp, &stop);
    // A rounded choice that found no host is released and placed again freely.
    let mut retry = fixed.clone();
    for i in d.requests.ids() {
        if a.host[i].is_some() {
            retry.storage[i] = a.storage[i];
            retry.host[i] = a.host[i];
        }
    }
    if retry != a {
        a = greedy::lookahead(d, &retry, sp, hp, &stop);
    }
    for i in d.requests.ids() {
        if a.host[i].is_none() && fixed.storage[i].is_none() {
            a.storage[i] = None;
        }
    }
    Ok(Some(a))
}

/// Phase 1: storage for every request. `baseline` is the best baseline's answer when the caller
/// already has it (the baselines of `place`); the warm start computes greedy with retries
/// otherwise.
pub fn storage_phase(
    d: &Domain,
    cfg: &RunConfig,
    mode: Mode,
    solver: SolverKind,
    budget: &Budget,
    baseline: Option<&Assignment>,
) -> Result<PhaseOutcome, MipError> {
    let start = Instant::now();
    let mut out = if solver == SolverKind::Greedy {
        greedy_storage(d)
    } else {
        mip_storage(d, cfg, mode, start, budget, baseline)?
    };
    out.stats.time_s = start.elapsed().as_secs_f64();
    Ok(out)
}

/// (placed weight, storage cost) of a phase-1 assignment.
fn score(d: &Domain, a: &Assignment) -> (f64, f64) {
    (
        evaluate::placed_weight(d, a, false),
        evaluate::storage_cost(d, a),
    )
}

/// Request flavors of the storage model (identical requests aggregated).
fn storage_flavors(d: &Domain) -> usize {
    storage::flavors(d).len()
}

/// `--solver greedy`: Cinder's capacity weigher, no proof.
fn greedy_storage(d: &Domain) -> PhaseOutcome {
    let a = greedy::storage_phase(d, &fixed_storage(d));
    storage_outcome(d, a, PhaseSolver::Greedy)
}

/// A heuristic's phase-1 answer with its statistics: no proof beyond the trivial bounds. The
/// storage of a request without a host is kept (phase 1 answers carry none).
pub(crate) fn storage_outcome(d: &Domain, mut a: Assignment, solver: PhaseSolver) -> PhaseOutcome {
    let mut st = phase_stats(PhaseName::Storage, solver, storage_flavors(d));
    let (w, c) = score(d, &a);
    let c = c + evaluate::lookahead_opening(d, &greedy::host_phase(d, &a, Objective::Pack));
    let status = record(
        &mut st,
        d,
        Measured {
            weight: w,
            weight_bound: total_weight(d),
            cost: c,
            cost_bound: storage_cost_floor(d),
            time_limited: false,
            is_mip: false,
        },
    );
    a.host = IxVec::filled(None, d.requests.len());
    PhaseOutcome {
        assignment: a,
        witness: None,
        dropped: BTreeSet::new(),
        stats: st,
        status,
    }
}

/// (placed weight, cost with the witness' host opening) of a certified phase-1 answer.
pub(crate) fn full_score(d: &Domain, a: &Assignment) -> (f64, f64) {
    let (weight, cost) = score(d, a);
    (weight, cost + evaluate::lookahead_opening(d, a))
}

/// The best greedy start: the look-ahead greedy answer or the best baseline (`baseline`, or greedy
/// with retries computed here), both certified by construction (they carry hosts).
fn greedy_start(
    d: &Domain,
    fixed: &Assignment,
    baseline: Option<&Assignment>,
    deadline: &Budget,
) -> Assignment {
    let (sp, hp) = (d.settings.storage_policy, d.settings.host_policy);
    let stop = || deadline.passed();
    let warm = greedy::lookahead(d, fixed, sp, hp, &stop);
    // Greedy with retries places more than the look-ahead on some pools: the best greedy starts.
    let baseline = match baseline {
        Some(r) => r.clone(),
        None => greedy::with_retries(d, fixed, hp, &stop),
    };
    if better(full_score(d, &baseline), full_score(d, &warm)) {
        baseline
    } else {
        warm
    }
}

/// Small batches: the exact search proves phase 1's optimum without HiGHS (models/storage.md,
/// "Exact search"), and phase 2 certifies it. None when either fails; the MIP runs then.
fn exact_storage(
    d: &Domain,
    start: &Assignment,
    deadline: &Budget,
) -> Result<Option<PhaseOutcome>, MipError> {
    let stop = || deadline.passed();
    let Some(p) = exact::storage_exact(d, start, &stop) else {
        return Ok(None);
    };
    let (hosts, stranded) = certify(d, &p.assignment, deadline)?;
    if !stranded.is_empty() {
        return Ok(None);
    }
    let mut st = phase_stats(PhaseName::Storage, PhaseSolver::Exact, storage_flavors(d));
    st.lookahead_rounds = 1;
    st.exact_nodes = p.nodes;
    let status = record(
        &mut st,
        d,
        Measured {
            weight: p.weight,
            weight_bound: p.weight,
            cost: p.cost,
            cost_bound: p.bound,
            time_limited: false,
            is_mip: true,
        },
    );
    Ok(Some(PhaseOutcome {
        assignment: p.assignment,
        witness: Some(hosts),
        dropped: BTreeSet::new(),
        stats: st,
        status,
    }))
}

/// The warm start: the best of the greedy start and relax-and-round, all certified by
/// construction (they carry hosts). Returns it with hosts, and its storage part restricted to
/// what it hosts.
fn warm_start(
    d: &Domain,
    fixed: &Assignment,
    mut warm: Assignment,
    deadline: &Budget,
) -> Result<(Assignment, Assignment), MipError> {
    let full = |a: &Assignment| full_score(d, a);
    if let Some(rounded) = lp_rounding(d, fixed, &warm, deadline)? {
        tracing::debug!(greedy = ?full(&warm), rounded = ?full(&rounded), "storage warm starts");
        if better(full(&rounded), full(&warm)) {
            warm = rounded;
        }
    }
    let mut warm_storage = warm.clone();
    for i in d.requests.ids() {
        if warm.host[i].is_none() {
            warm_storage.storage[i] = None;
        }
    }
    Ok((warm, warm_storage))
}

/// What the certification rounds found.
struct Rounds {
    /// A certified answer and its witness host assignment, with the MIP's own cost of it.
    chosen: Option<(Assignment, Assignment, Option<f64>)>,
    /// The last round's answer (not certified when `chosen` is None).
    candidate: Assignment,
    /// The first round's stages (their bounds hold for the untightened look-ahead).
    first: Option<Lexi>,
    rounds: usize,
    time_limited: bool,
    size: ModelSize,
}

/// Solves the storage MIP, certifies its answer by phase 2, and tightens the look-ahead by
/// what phase 2 stranded, at most three times.
fn certified_rounds(
    d: &Domain,
    cfg: &RunConfig,
    mode: Mode,
    (warm, warm_storage): (&Assignment, &Assignment),
    deadline: &Budget,
    mip_deadline: &Budget,
) -> Result<Rounds, MipError> {
    let mut slack = IxVec::filled(vec![0.0; d.resources.len()], d.storage.len());
    let mut out = Rounds {
        chosen: None,
        candidate: warm_storage.clone(),
        first: None,
        rounds: 0,
        time_limited: false,
        size: ModelSize::default(),
    };
    while out.rounds < 3 {
        out.rounds += 1;
        let write = if out.rounds == 1 {
            model_path(cfg, PhaseName::Storage, mode)
        } else {
            None
        };
        let lexi = lexicographic(
            warm_storage,
            total_weight(d),
            storage_cost_floor(d),
            mip_deadline,
            |stage, secs, _w| {
                let input = StorageInput {
                    d,
                    slack: &slack,
                    warm,
                };
                let write = match stage {
                    Stage::Policy { .. } => write.clone(),
                    Stage::Placement => None,
                };
                storage::solve(&input, stage, &mip_options(d, secs, write, mip_deadline))
            },
            |a| score(d, a),
            true,
        )?;
        out.time_limited |= lexi.time_limited;
        out.size = lexi.size;
        out.candidate = lexi.best.clone();
        let stage1 = lexi.stage1.clone();
        let candidate_cost = lexi.best_cost;
        if out.first.is_none() {
            out.first = Some(lexi);
        }
        let (hosts, stranded) = certify(d, &out.candidate, deadline)?;
        if stranded.is_empty() {
            out.chosen = Some((out.candidate.clone(), hosts, candidate_cost));
            break;
        }
        // What phase 2 can host of this round's answer places less than the warm start: the
        // look-ahead is too loose on this pool for tightening to pay within the time, which the
        // stages after the phases use better (models/storage.md, "Certification").
        let hosted = evaluate::placed_weight(d, &hosts, true);
        if hosted < evaluate::placed_weight(d, warm, true) - NOISE {
            tracing::debug!(hosted, "certification rounds stop: below the warm start");
            break;
        }
        // Stage 2 packed the look-ahead too tightly; stage 1's answer places as much and may
        // certify where stage 2's does not.
        if let Some(s1) = stage1 {
            let (hosts1, stranded1) = certify(d, &s1, deadline)?;
            if stranded1.is_empty() {
                out.chosen = Some((s1, hosts1, None));
                break;
            }
        }
        for r in &stranded {
            if let Some(s) = out.candidate.storage[r] {
                for (k, x) in d.requests[r].demand.iter().enumerate() {
                    slack[s][k] += x;
                }
            }
        }
        if deadline.remaining() < 0.1 {
            break;
        }
    }
    Ok(out)
}

/// The storage MIP with its warm starts and certification rounds; never worse than the warm
/// start.
fn mip_storage(
    d: &Domain,
    cfg: &RunConfig,
    mode: Mode,
    start: Instant,
    budget: &Budget,
    baseline: Option<&Assignment>,
) -> Result<PhaseOutcome, MipError> {
    let deadline = budget.clone();
    let mip_deadline = budget.share(shares::STORAGE_MIPS);
    let fixed = fixed_storage(d);
    let start_answer = greedy_start(d, &fixed, baseline, &mip_deadline);
    if let Some(proven) = exact_storage(d, &start_answer, &deadline)? {
        return Ok(proven);
    }
    let (warm, warm_storage) = warm_start(d, &fixed, start_answer, &mip_deadline)?;
    tracing::debug!(
        elapsed_s = start.elapsed().as_secs_f64(),
        "storage warm start done"
    );
    let rounds = certified_rounds(
        d,
        cfg,
        mode,
        (&warm, &warm_storage),
        &deadline,
        &mip_deadline,
    )?;
    tracing::debug!(
        elapsed_s = start.elapsed().as_secs_f64(),
        rounds = rounds.rounds,
        "storage rounds done"
    );
    let mut dropped = BTreeSet::new();
    let (mut a, mut witness, mut chosen_cost) = match rounds.chosen {
        Some(c) => c,
        None => {
            // Drop what phase 2 cannot host rather than strand it.
            let (hosts, stranded) = certify(d, &rounds.candidate, &deadline)?;
            let mut a = rounds.candidate.clone();
            for r in stranded {
                a.storage[r] = None;
                dropped.insert(r);
            }
            (a, hosts, None)
        }
    };
    let mut solver = PhaseSolver::Mip;
    // Phase 1's cost includes the look-ahead's host opening: the MIP's own (fractional) value for
    // its answer, the integer opening of the witness (an upper bound) for any other answer.
    let full = |a: &Assignment, w: &Assignment, mip_cost: Option<f64>| {
        let (weight, cost) = score(d, a);
        (
            weight,
            mip_cost.unwrap_or(cost + evaluate::lookahead_opening(d, w)),
        )
    };
    if better(
        full(&warm_storage, &warm, None),
        full(&a, &witness, chosen_cost),
    ) {
        chosen_cost = None;
        a = warm_storage;
        witness = warm;
        dropped.clear();
        solver = PhaseSolver::MipGreedyFallback;
    }
    let (weight_bound, cost_bound) = match &rounds.first {
        // HiGHS may stop before its root LP: the combinatorial floor still holds.
        Some(l) => (l.weight_bound, l.cost_bound.max(storage_cost_floor(d))),
        None => (total_weight(d), storage_cost_floor(d)),
    };
    let mut st = phase_stats(PhaseName::Storage, solver, storage_flavors(d));
    st.variables = rounds.size.variables;
    st.integer_variables = rounds.size.integer_variables;
    st.constraints = rounds.size.constraints;
    st.lookahead_rounds = rounds.rounds;
    let (w, c) = full(&a, &witness, chosen_cost);
    let status = record(
        &mut st,
        d,
        Measured {
            weight: w,
            weight_bound,
            cost: c,
            cost_bound,
            time_limited: rounds.time_limited,
            is_mip: true,
        },
    );
    Ok(PhaseOutcome {
        assignment: a,
        witness: Some(witness),
        dropped,
        stats: st,
        status,
    })
}

/// Phase 1's statistics restated for the answer the call returns, when a later stage (a baseline,
/// the joint model, the neighbourhood search) changed phase 1's storage choice or bounded the
/// call more tightly: its placed weight and storage cost (with the look-ahead opening of its own
/// hosts) against phase 1's bounds, which hold for any answer to the call, `weight_bound` (the
/// joint model's) where it is lower and `cost_bound` (the joint model's third stage, over the
/// answers that keep the proven weight and host cost; models/joint.md) where it is higher.
pub(crate) fn restated(
    d: &Domain,
    p1: &PhaseOutcome,
    answer: &Assignment,
    (weight_bound, cost_bound): (f64, f64),
) -> vmplace_wire::PhaseStats {
    let mut st = p1.stats.clone();
    let weight_bound = st.placed_weight_bound.min(weight_bound);
    let same = d.requests.ids().all(|i| {
        let placed = answer.host[i].is_some();
        (placed && p1.assignment.storage[i] == answer.storage[i])
            || (!placed && p1.assignment.storage[i].is_none())
    });
    if same && weight_bound >= st.placed_weight_bound && cost_bound <= st.bound {
        return st;
    }
    let (w, c) = if same {
        (st.placed_weight, st.objective)
    } else {
        full_score(d, answer)
    };
    let measured = Measured {
        weight: w,
        weight_bound,
        cost: c,
        cost_bound: st.bound.max(cost_bound),
        time_limited: st.status == vmplace_wire::Status::TimeLimit,
        is_mip: true,
    };
    record(&mut st, d, measured);
    st
}

/// [`restated`], in place.
pub(crate) fn restate(d: &Domain, p1: &mut PhaseOutcome, answer: &Assignment, bounds: (f64, f64)) {
    p1.stats = restated(d, p1, answer, bounds);
    p1.status = p1.stats.status;
}

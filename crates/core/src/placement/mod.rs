//! Placement: the two phases (storage, then host), each solved as lexicographic MIP stages
//! with greedy warm starts, certification, LNS at scale and honest status; then the solution
//! document. Concerns by file: [`deadline`], [`lexicographic`], [`bounds`], [`certify`],
//! [`exact`] (small phase-1 batches proven without HiGHS), [`storage_phase`], [`host_phase`], [`joint`] (both in one MIP), [`packing`] (column generation under `pack`), [`lns`], `improve` (the search after the phases: `ejection`, `ruin` and [`neighbourhood`] over the moves of `working`), [`solution`] (after [`verify`], the exact capacity check every answer passes), [`greedy`], [`baseline`] (the
//! baselines never answered below), [`explain`].

pub mod baseline;
pub mod bounds;
pub mod certify;
pub mod deadline;
pub mod ejection;
pub mod exact;
pub mod explain;
pub mod greedy;
pub mod heuristics;
pub mod host_phase;
mod improve;
pub mod joint;
pub mod lexicographic;
pub mod lns;
pub mod neighbourhood;
pub mod packing;
mod ruin;
pub mod solution;
pub mod storage_from;
pub mod storage_phase;
pub mod verify;
mod working;

use crate::budget::{shares, Budget, Clock};
use crate::domain::{Assignment, Domain, RequestIx, NOISE};
use crate::model::MipError;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Instant;
use vmplace_wire::{PhaseName, PhaseSolver, PhaseStats, Solution, SolverKind, Status};

pub use host_phase::host_phase;
pub use storage_phase::storage_phase;

/// Which phase(s) to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Phase 1 only.
    Storage,
    /// Phase 2 only.
    Host,
    /// Phase 1 then phase 2.
    Place,
}

/// Per-call knobs that are not part of the problem document.
#[derive(Debug, Clone, Default)]
pub struct RunConfig {
    /// Write the MIP models here (phase name inserted before the extension for `place`).
    pub write_model: Option<PathBuf>,
    /// When the call began and the flag that stops it early (the HTTP client went away).
    pub clock: Clock,
}

/// The result of one phase.
#[derive(Debug, Clone)]
pub struct PhaseOutcome {
    /// The assignment (storage, and hosts after phase 2).
    pub assignment: Assignment,
    /// Phase 1 only: a host assignment proving phase 2 can host everything placed.
    pub witness: Option<Assignment>,
    /// Requests phase 1 dropped because phase 2 could not host them.
    pub dropped: BTreeSet<RequestIx>,
    /// Statistics.
    pub stats: PhaseStats,
    /// Status.
    pub status: Status,
}

/// The storage systems the requests arrive with (pre-chosen, or phase 1's for `host`).
pub fn fixed_storage(d: &Domain) -> Assignment {
    let mut a = Assignment::empty(d.requests.len());
    for (i, vm) in d.requests.enumerate() {
        a.storage[i] = vm.storage;
    }
    a
}

/// Where `--write-model` writes a phase's MIP: the path itself for one phase, with the phase's
/// name before the extension for `place`.
pub fn model_path(cfg: &RunConfig, phase: PhaseName, mode: Mode) -> Option<PathBuf> {
    let p = cfg.write_model.as_ref()?;
    if mode != Mode::Place {
        return Some(p.clone());
    }
    let phase = match phase {
        PhaseName::Storage => "storage",
        PhaseName::Host => "host",
    };
    let stem = p.file_stem()?.to_string_lossy().to_string();
    let name = match p.extension() {
        Some(ext) => format!("{stem}.{phase}.{}", ext.to_string_lossy()),
        None => format!("{stem}.{phase}"),
    };
    Some(p.with_file_name(name))
}

/// Runs the requested mode with the document's solver and builds the solution document.
pub fn run(d: &Domain, mode: Mode, cfg: &RunConfig) -> Result<Solution, MipError> {
    run_as(d, d.settings.solver, mode, cfg)
}

/// [`run`] with the solver given apart from the domain's settings (the greedy fallback).
fn run_as(
    d: &Domain,
    solver: SolverKind,
    mode: Mode,
    cfg: &RunConfig,
) -> Result<Solution, MipError> {
    let start = Instant::now();
    // The repair of an answer over a capacity (`verify`) may use the reserve, not more.
    let whole = cfg.clock.budget(d.settings.time_limit_s, start);
    let call = whole.share(shares::PLACEMENT);
    let mut timings = vmplace_wire::Timings::default();
    if let Some(heuristic) = baseline::heuristic_of(solver) {
        let phases = baseline::heuristic_phases(d, mode, heuristic, &call);
        let time_s = start.elapsed().as_secs_f64();
        return Ok(solution::to_solution(
            d,
            phases,
            mode != Mode::Storage,
            time_s,
            &whole,
        ));
    }
    let (phases, need_host) = match mode {
        Mode::Storage => (
            vec![storage_phase(d, cfg, mode, solver, &call, None)?],
            false,
        ),
        Mode::Host => {
            let fixed = fixed_storage(d);
            (
                vec![host_phase(d, &fixed, None, cfg, mode, solver, &call)?],
                true,
            )
        }
        Mode::Place if solver == SolverKind::Joint && joint::fits_joint(d) => {
            let floor = baseline::Baselines::compute(d, &call.share(shares::BASELINES));
            let warm = floor.best(d).clone();
            let mut p = joint::joint_phase(d, &warm, &call)?;
            baseline::keep_if_better(d, &mut p, floor);
            (vec![p], true)
        }
        Mode::Place => (place_phases(d, solver, cfg, &call, &mut timings)?, true),
    };
    let time_s = start.elapsed().as_secs_f64();
    let mut sol = solution::to_solution(d, phases, need_host, time_s, &whole);
    sol.stats.timings.baselines_s = timings.baselines_s;
    sol.stats.timings.neighbourhoods_s = timings.neighbourhoods_s;
    sol.stats.timings.fit_bound_s = timings.fit_bound_s;
    sol.stats.timings.ejection_s = timings.ejection_s;
    sol.stats.timings.ruin_s = timings.ruin_s;
    Ok(sol)
}

/// `place` by the two phases (the default solver, and `--solver joint` past the joint model's
/// size): the baselines, phase 1, phase 2, then the search after the phases with what is left
/// (models/joint.md, "Neighbourhoods").
fn place_phases(
    d: &Domain,
    solver: SolverKind,
    cfg: &RunConfig,
    call: &Budget,
    timings: &mut vmplace_wire::Timings,
) -> Result<Vec<PhaseOutcome>, MipError> {
    let start = Instant::now();
    if solver == SolverKind::Joint {
        tracing::warn!(
            columns = crate::model::joint::columns(d),
            limit = joint::JOINT_COLUMNS,
            "the joint model is too large or the call has group rules; the two phases answer"
        );
    }
    let floor = matches!(solver, SolverKind::Mip | SolverKind::Joint)
        .then(|| baseline::Baselines::compute(d, &call.share(shares::BASELINES)));
    timings.baselines_s = start.elapsed().as_secs_f64();
    let baseline = floor.as_ref().map(|f| f.best(d));
    let searched = neighbourhood::applies(d);
    let (share1, share2) = if searched {
        (shares::PHASE1, shares::PHASE2)
    } else {
        (shares::PHASE1_ALONE, shares::PHASE2_ALONE)
    };
    let mut p1 = storage_phase(d, cfg, Mode::Place, solver, &call.share(share1), baseline)?;
    let mut p2 = host_phase(
        d,
        &p1.assignment,
        p1.witness.as_ref(),
        cfg,
        Mode::Place,
        solver,
        &call.share(share2),
    )?;
    let mut storage_bound = f64::NEG_INFINITY;
    let mut fit_bound = f64::INFINITY;
    if let Some(floor) = floor {
        baseline::keep_if_better(d, &mut p2, floor);
        // Only an answer that phase 1's bound does not prove needs the fit bound.
        if p2.stats.placed_weight < p1.stats.placed_weight_bound - NOISE {
            fit_bound = self::fit_bound(d, &call.share(shares::FIT_BOUND), timings)?;
        }
        let searching = Instant::now();
        let improved = improve::run(d, &p1, &mut p2, call)?;
        timings.neighbourhoods_s = searching.elapsed().as_secs_f64();
        timings.ejection_s = improved.ejection_s;
        timings.ruin_s = improved.ruin_s;
        storage_bound = improved.storage_bound.unwrap_or(storage_bound);
        tracing::debug!(
            neighbourhoods = improved.searched.neighbourhoods,
            improved = improved.searched.improved,
            recreated = ?improved.recreated,
            "search after the phases done"
        );
    }
    let joint_bound = matches!(p2.stats.solver, PhaseSolver::Joint | PhaseSolver::JointLns)
        .then_some(p2.stats.placed_weight_bound)
        .unwrap_or(f64::INFINITY)
        .min(fit_bound);
    storage_phase::restate(d, &mut p1, &p2.assignment, (joint_bound, storage_bound));
    p2.stats.bound_scope = bound_scope(p2.stats.solver);
    // Phase 2 may drop requests; phase 1's output is then only what is hosted.
    p1.assignment = p2.assignment.clone();
    Ok(vec![p1, p2])
}

/// The fit bound (models/fit.md) within `deadline`, or infinity when the LP was not solved to
/// optimality in time.
fn fit_bound(
    d: &Domain,
    deadline: &Budget,
    timings: &mut vmplace_wire::Timings,
) -> Result<f64, MipError> {
    let started = Instant::now();
    let opts = deadline::mip_options(d, deadline.remaining(), None, deadline);
    let bound = crate::model::fit::solve_fit_bound(d, &opts)?;
    timings.fit_bound_s = started.elapsed().as_secs_f64();
    tracing::debug!(?bound, seconds = timings.fit_bound_s, "fit bound");
    Ok(bound.unwrap_or(f64::INFINITY))
}

/// What phase 2's cost bound holds for under `place`: its own MIP's (and the answers derived from
/// it) only for phase 1's storage choice; the joint model's, the search's, the baselines' and
/// `exact`'s (the combinatorial floor, met) for the whole call.
fn bound_scope(solver: PhaseSolver) -> vmplace_wire::BoundScope {
    use vmplace_wire::BoundScope;
    match solver {
        PhaseSolver::Mip
        | PhaseSolver::MipGreedyFallback
        | PhaseSolver::MipLns
        | PhaseSolver::Patterns => BoundScope::Phase1Storage,
        _ => BoundScope::Call,
    }
}

/// Like [`run`], but a HiGHS failure never leaves the caller without an answer: the greedy
/// solver answers instead, and `stats.solver` says so.
pub fn run_or_fallback(d: &Domain, mode: Mode, cfg: &RunConfig) -> Solution {
    match run(d, mode, cfg) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "MIP failed; answering with the greedy solver");
            match run_as(d, SolverKind::Greedy, mode, cfg) {
                Ok(mut s) => {
                    s.stats.mip_error = Some(e.to_string());
                    s
                }
                // The greedy path builds no MIP and cannot fail; keep the types honest anyway.
                Err(e2) => solution::solver_failure(d, &e2.to_string()),
            }
        }
    }
}

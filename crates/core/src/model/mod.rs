//! The MIPs, built with good_lp and solved by HiGHS. The only module that imports either.
//!
//! good_lp builds the model; `try_into_inner` hands us the `highs::Model` so that we can set the
//! warm start, read the dual bound (`mip_dual_bound`) and the gap, and write the model to a file,
//! none of which good_lp exposes.

pub mod fit;
/// The energy floor as a MIP is the oracle the simulator's own floor search (`sim::floor`) is
/// tested against: only the tests call `min_power`.
#[cfg_attr(not(feature = "test-support"), allow(dead_code))]
pub mod floor;
pub mod groups;
mod highs_options;
pub mod host;
pub mod joint;
pub mod migration;
pub mod mix;
pub mod patterns;
pub mod restart;
pub mod storage;

use crate::budget::Budget;
use crate::domain::MIP_TOL;
use good_lp::{
    Constraint, Expression, ProblemVariables, SolverModel, Variable, VariableDefinition,
};
use highs_options::HighsOptions;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Columns of the model whose worst presolve time is [`PRESOLVE_REFERENCE_S`] (see
/// [`presolve_allowed`]).
pub const PRESOLVE_REFERENCE_COLUMNS: f64 = 132_650.0;
/// Worst presolve time measured on a model of [`PRESOLVE_REFERENCE_COLUMNS`] columns, seconds.
pub const PRESOLVE_REFERENCE_S: f64 = 4.0;

/// The version of the HiGHS library linked in, `MAJOR.MINOR.PATCH` (for `--version` and the
/// service's `vmplace_build_info`).
pub fn highs_version() -> String {
    // SAFETY: the three functions read compile-time constants of the linked library.
    let (major, minor, patch) = unsafe {
        (
            highs_sys::Highs_versionMajor(),
            highs_sys::Highs_versionMinor(),
            highs_sys::Highs_versionPatch(),
        )
    };
    format!("{major}.{minor}.{patch}")
}

/// Whether HiGHS may presolve a model of `columns` columns within `limit_s` seconds. HiGHS 1.x
/// looks at the clock only between presolve reductions, and on a large model one reduction (dual
/// fixing) can run for minutes. Measured on storage models: 132,650 columns (10,000 requests)
/// took up to 4 s, 924,642 columns (100,000 requests) 256 s on a 43 s limit, so about quadratic
/// in the columns. Presolve runs only when that worst case, scaled to the model, fits in a
/// quarter of the limit.
pub fn presolve_allowed(wanted: bool, limit_s: f64, columns: usize) -> bool {
    let scale = columns as f64 / PRESOLVE_REFERENCE_COLUMNS;
    wanted && PRESOLVE_REFERENCE_S * scale * scale <= 0.25 * limit_s
}

/// How to run HiGHS.
#[derive(Debug, Clone)]
pub struct MipOptions {
    /// Seconds.
    pub time_limit_s: f64,
    /// Relative gap.
    pub mip_gap: f64,
    /// Threads.
    pub threads: u32,
    /// Write the model (`.lp` or `.mps`, by extension) before solving.
    pub write_model: Option<PathBuf>,
    /// Solve the LP relaxation (every column continuous) instead of the MIP.
    pub relax: bool,
    /// The call's budget: when its cancel flag is set, HiGHS is interrupted (through its
    /// callbacks) and returns its incumbent; the model's build time is counted to it. (The time
    /// limit is `time_limit_s`, the stage's own.)
    pub budget: Budget,
    /// Branch-and-bound nodes at most (HiGHS `mip_max_nodes`): a work limit that, unlike the
    /// time limit, gives the same answer on every run.
    pub max_nodes: Option<u32>,
    /// Run HiGHS' presolve. HiGHS 1.x looks at the clock only between presolve reductions, and
    /// its dual fixing can run for a minute on one host-phase neighbourhood: the LNS, whose
    /// sub-MIPs are small and short, goes without it.
    pub presolve: bool,
    /// Skip HiGHS' feasibility jump and give its primal heuristics 1 % of the effort (default
    /// 5 %): for a model started from a feasible warm start whose answer counts only when a proof
    /// or the node limit ends the search, so that time goes to the bound. On the round MIP of a
    /// simulated day it cut the day's time by 16 to 19 %, with less energy and fewer migrations
    /// (models/migration.md).
    pub light_heuristics: bool,
}

/// Outcome of one HiGHS run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MipStatus {
    /// Optimal within the gap.
    Optimal,
    /// Stopped by the time limit with a feasible point.
    TimeLimit,
    /// Stopped by a work limit (`max_nodes`) with a feasible point.
    WorkLimit,
    /// Proven infeasible.
    Infeasible,
    /// Stopped without any feasible point.
    NoSolution,
}

/// A solved MIP. (Tests read every field; the core, not all.)
#[derive(Debug, Clone)]
#[cfg_attr(not(feature = "test-support"), allow(dead_code))]
pub struct MipResult {
    /// Status.
    pub status: MipStatus,
    /// Objective of the incumbent (with the constant offset).
    pub objective: f64,
    /// Dual bound (with the offset).
    pub bound: f64,
    /// Column values, in creation order.
    pub values: Vec<f64>,
    /// Wall time.
    pub time_s: f64,
    /// Size.
    pub size: ModelSize,
}

/// Model size for stats.
#[derive(Debug, Clone, Copy, Default)]
pub struct ModelSize {
    /// Columns.
    pub variables: usize,
    /// Integer columns.
    pub integer_variables: usize,
    /// Rows.
    pub constraints: usize,
}

/// Failure inside HiGHS (not infeasibility, which is a status).
#[derive(Debug, thiserror::Error)]
pub enum MipError {
    /// HiGHS refused the model or an option.
    #[error("HiGHS error: {0}")]
    Highs(String),
    /// The model file could not be written.
    #[error("cannot write model to {path}: {why}")]
    WriteModel {
        /// Target path.
        path: String,
        /// Cause.
        why: String,
    },
}

/// A column with its creation index (good_lp keeps its own index private).
#[derive(Debug, Clone, Copy)]
pub struct Col {
    /// The good_lp variable, for expressions.
    pub var: Variable,
    /// Index into `MipResult::values`.
    pub ix: usize,
}

/// Optimisation direction.
#[derive(Debug, Clone, Copy)]
pub enum Sense {
    /// Maximise.
    Max,
    /// Minimise.
    Min,
}

/// Collects columns, warm-start values and rows of one MIP.
#[derive(Default)]
pub struct MipBuilder {
    vars: ProblemVariables,
    warm: Vec<f64>,
    constraints: Vec<Constraint>,
    size: ModelSize,
    relax: bool,
    created: Option<Instant>,
    /// Solve the LP by the interior point method (with crossover) instead of simplex.
    ipm: bool,
}

impl MipBuilder {
    /// A new, empty model; with `relax`, integer columns are created continuous (LP relaxation).
    pub fn new(relax: bool) -> Self {
        MipBuilder {
            vars: ProblemVariables::new(),
            relax,
            created: Some(Instant::now()),
            ..Default::default()
        }
    }

    /// Adds a column with its warm-start value.
    pub fn column(&mut self, def: VariableDefinition, integer: bool, warm: f64) -> Col {
        let integer = integer && !self.relax;
        let def = if integer { def.integer() } else { def };
        let var = self.vars.add(def);
        self.warm.push(warm);
        self.size.variables += 1;
        if integer {
            self.size.integer_variables += 1;
        }
        Col {
            var,
            ix: self.warm.len() - 1,
        }
    }

    /// Solves a pure LP by the interior point method (HiGHS' crossover still ends on a basic
    /// optimum); no effect on a model with integer columns.
    pub fn interior_point(&mut self) {
        self.ipm = true;
    }

    /// Adds a row.
    pub fn row(&mut self, c: Constraint) {
        self.constraints.push(c);
        self.size.constraints += 1;
    }

    /// Current size.
    #[cfg_attr(not(feature = "test-support"), allow(dead_code))]
    pub fn size(&self) -> ModelSize {
        self.size
    }

    /// Solves with HiGHS. `offset` is the objective's constant part, which good_lp's HiGHS
    /// backend drops; it is added back to objective and bound.
    pub fn solve(
        self,
        sense: Sense,
        objective: Expression,
        offset: f64,
        opts: &MipOptions,
    ) -> Result<MipResult, MipError> {
        let start = Instant::now();
        let self_created = self.created;
        let size = self.size;
        if size.variables == 0 {
            return Ok(MipResult {
                status: MipStatus::Optimal,
                objective: offset,
                bound: offset,
                values: Vec::new(),
                time_s: 0.0,
                size,
            });
        }
        let unsolved = match sense {
            Sense::Max => self.vars.maximise(objective),
            Sense::Min => self.vars.minimise(objective),
        };
        let mut problem = unsolved.using(good_lp::highs);
        for c in self.constraints {
            problem.add_constraint(c);
        }
        let mut model = problem
            .try_into_inner()
            .map_err(|e| MipError::Highs(e.to_string()))?;
        // HiGHS logs to stdout, which carries only JSON: keep it quiet.
        model.make_quiet();
        let limit = opts.time_limit_s.max(0.01);
        HighsOptions::new(limit)
            .mip_rel_gap(opts.mip_gap)
            .threads(solver_threads(opts.threads))
            .presolve(presolve_allowed(opts.presolve, limit, size.variables))
            .interior_point(self.ipm && size.integer_variables == 0)
            .light_heuristics(opts.light_heuristics)
            .max_nodes(opts.max_nodes)
            .apply(&mut model)?;
        if let Some(path) = &opts.write_model {
            write_model(&mut model, path)?;
        }
        // A rejected warm start is not fatal: HiGHS then searches from scratch.
        let _ = model.try_set_solution(Some(&self.warm), None, None, None);
        let built_s = start.elapsed().as_secs_f64();
        let since_created = self_created.map_or(built_s, |c| c.elapsed().as_secs_f64());
        opts.budget.add_build_time(since_created);
        let Some(solved) = solve_watched(model, opts)? else {
            // HiGHS did not come back in time: no answer from this run (the caller's warm start
            // stands) and no bound.
            let none = match sense {
                Sense::Max => f64::INFINITY,
                Sense::Min => f64::NEG_INFINITY,
            };
            return Ok(MipResult {
                status: MipStatus::NoSolution,
                objective: none,
                bound: none,
                values: Vec::new(),
                time_s: start.elapsed().as_secs_f64(),
                size,
            });
        };
        tracing::debug!(
            variables = size.variables,
            constraints = size.constraints,
            built_s,
            highs_s = start.elapsed().as_secs_f64() - built_s,
            limit_s = limit,
            "HiGHS run"
        );
        Ok(answer(&solved, offset, start, size))
    }
}

/// The answer of a HiGHS run that came back: its status, the incumbent's values (none without
/// a feasible point), objective and dual bound with the constant `offset` added.
fn answer(solved: &highs::SolvedModel, offset: f64, start: Instant, size: ModelSize) -> MipResult {
    use highs::{HighsModelStatus as S, HighsSolutionStatus};
    let feasible = solved.primal_solution_status() == HighsSolutionStatus::Feasible;
    let status = match solved.status() {
        S::Optimal | S::ObjectiveBound | S::ObjectiveTarget if feasible => MipStatus::Optimal,
        S::Infeasible => MipStatus::Infeasible,
        S::ReachedTimeLimit | S::ReachedInterrupt | S::Unknown if feasible => MipStatus::TimeLimit,
        _ if feasible => MipStatus::WorkLimit,
        _ => MipStatus::NoSolution,
    };
    let values = if feasible {
        solved.get_solution().columns().to_vec()
    } else {
        Vec::new()
    };
    let objective = solved.objective_value() + offset;
    let bound = solved
        .double_info_value(c"mip_dual_bound")
        .map(|b| b + offset)
        .unwrap_or(objective);
    MipResult {
        status,
        objective,
        bound,
        values,
        time_s: start.elapsed().as_secs_f64(),
        size,
    }
}

/// Seconds past its own time limit after which a HiGHS run is interrupted through its callbacks.
/// HiGHS looks at its clock only at some points (not inside every presolve reduction, cut round
/// or symmetry search); its callbacks come more often, so the call's limit holds.
pub const WATCH_GRACE_S: f64 = 0.1;

/// What the interrupt callback watches during one HiGHS run: the caller's cancel flag and a
/// wall-clock backstop just past the run's time limit.
pub(crate) struct Watch {
    cancel: Option<Arc<AtomicBool>>,
    until: Instant,
}

impl Watch {
    /// The watch of a run with these options, starting now.
    pub(crate) fn new(opts: &MipOptions) -> Box<Watch> {
        let secs = opts.time_limit_s.max(0.01) + WATCH_GRACE_S;
        Box::new(Watch {
            cancel: opts.budget.cancel.clone(),
            until: Instant::now() + std::time::Duration::from_secs_f64(secs.min(1e9)),
        })
    }

    fn stop(&self) -> bool {
        self.cancel
            .as_ref()
            .is_some_and(|c| c.load(Ordering::Relaxed))
            || Instant::now() >= self.until
    }
}

/// Seconds past its limit a caller waits for a HiGHS run before it goes on without it.
pub const ABANDON_S: f64 = 0.25;

/// A HiGHS model moved to the thread that solves it. HiGHS instances are not tied to a thread;
/// only one thread uses this one at a time (the solving thread, then the caller).
struct Moved<T>(T);
// SAFETY: see above; the wrapped model is never shared, only handed over.
unsafe impl<T> Send for Moved<T> {}

impl<T> Moved<T> {
    /// The value (a method, so that a closure captures the whole wrapper, not its fields).
    fn into_inner(self) -> T {
        self.0
    }
}

/// Solves `model` on a thread of its own, watched by a [`Watch`] of `opts`; returns the solved
/// model, or None when it did not come back within its limit and [`WATCH_GRACE_S`] +
/// [`ABANDON_S`]. HiGHS checks its clock and calls back only at some points (a round of cut
/// separation on a 42,000-column model ran 2.4 s without either), so the caller stops waiting:
/// the run ends at its next check (the watch keeps interrupting it), and its answer is dropped.
pub(crate) fn solve_watched(
    model: highs::Model,
    opts: &MipOptions,
) -> Result<Option<highs::SolvedModel>, MipError> {
    let guard = Watch::new(opts);
    let wait = std::time::Duration::from_secs_f64(
        (opts.time_limit_s.max(0.01) + WATCH_GRACE_S + ABANDON_S).min(1e9),
    );
    let (tx, rx) = std::sync::mpsc::channel();
    let moved = Moved((model, guard));
    let spawned = std::thread::Builder::new()
        .name("highs".into())
        .spawn(move || {
            let (mut model, guard) = moved.into_inner();
            watch(&mut model, &guard);
            let solved = model.try_solve();
            // The watch must outlive the run (HiGHS holds a pointer to it).
            drop(guard);
            let _ = tx.send(Moved(solved));
        });
    if let Err(e) = spawned {
        return Err(MipError::Highs(format!(
            "cannot start a solver thread: {e}"
        )));
    }
    match wait_for_run(&rx, wait, opts.budget.cancel.as_deref()) {
        Some(solved) => solved
            .into_inner()
            .map(Some)
            .map_err(|e| MipError::Highs(format!("{e:?}"))),
        None => {
            tracing::warn!(
                limit_s = opts.time_limit_s,
                "HiGHS did not stop at its limit or cancel; going on without its answer"
            );
            Ok(None)
        }
    }
}

/// Waits for a run's answer for at most `wait`, or [`ABANDON_S`] once `cancel` is raised (HiGHS
/// sees the flag only at its callbacks; a cancelled call does not wait for the run's whole limit).
fn wait_for_run<T>(
    rx: &std::sync::mpsc::Receiver<T>,
    wait: std::time::Duration,
    cancel: Option<&AtomicBool>,
) -> Option<T> {
    use std::time::Duration;
    let start = Instant::now();
    let mut cancelled_at: Option<Instant> = None;
    loop {
        match rx.recv_timeout(Duration::from_millis(20)) {
            Ok(v) => return Some(v),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return None,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
        }
        let now = Instant::now();
        if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
            let since = *cancelled_at.get_or_insert(now);
            if now - since >= Duration::from_secs_f64(ABANDON_S) {
                return None;
            }
        }
        if now - start >= wait {
            return None;
        }
    }
}

/// HiGHS calls this from its simplex, IPM and MIP loops; raising `user_interrupt` makes it stop
/// and return what it has (status `ReachedInterrupt`).
unsafe extern "C" fn interrupt_when_due(
    _kind: std::os::raw::c_int,
    _message: *const std::os::raw::c_char,
    _out: *const highs_sys::HighsCallbackDataOut,
    data_in: *mut highs_sys::HighsCallbackDataIn,
    user: *mut std::os::raw::c_void,
) {
    if user.is_null() || data_in.is_null() {
        return;
    }
    // SAFETY: `user` is the `Watch` that `watch`'s caller keeps alive (boxed) for the whole run;
    // `data_in` is provided by HiGHS for this call.
    let w = unsafe { &*(user as *const Watch) };
    if w.stop() {
        unsafe { (*data_in).user_interrupt = 1 };
    }
}

/// Installs the interrupt callback for one run. The caller keeps `w` alive until the run returns,
/// and calls this again before every later run of the same model.
pub(crate) fn watch(model: &mut highs::Model, w: &Watch) {
    let ptr = model.as_mut_ptr();
    // SAFETY: `ptr` is a live Highs instance; `w` outlives the run (see above).
    unsafe {
        highs_sys::Highs_setCallback(
            ptr,
            Some(interrupt_when_due),
            w as *const Watch as *mut std::os::raw::c_void,
        );
        for kind in [
            highs_sys::kHighsCallbackSimplexInterrupt,
            highs_sys::kHighsCallbackIpmInterrupt,
            highs_sys::kHighsCallbackMipInterrupt,
        ] {
            highs_sys::Highs_startCallback(ptr, kind);
        }
    }
}

fn write_model(model: &mut highs::Model, path: &std::path::Path) -> Result<(), MipError> {
    let err = |why: &str| MipError::WriteModel {
        path: path.display().to_string(),
        why: why.to_string(),
    };
    let text = path.to_str().ok_or_else(|| err("path is not UTF-8"))?;
    let c = std::ffi::CString::new(text).map_err(|_| err("path contains NUL"))?;
    // HiGHS 1.15 crashes (SIGSEGV) when it cannot open the file: ask before it does.
    let folder = path.parent().filter(|f| !f.as_os_str().is_empty());
    if folder.is_some_and(|f| !f.is_dir()) {
        return Err(err("its folder does not exist"));
    }
    // SAFETY: the model pointer is valid for the life of `model`; HiGHS copies the path.
    let status = unsafe { highs_sys::Highs_writeModel(model.as_mut_ptr(), c.as_ptr()) };
    if status == highs_sys::STATUS_ERROR {
        return Err(err(
            "HiGHS could not write it (use a .lp or .mps extension)",
        ));
    }
    Ok(())
}

/// HiGHS threads for a request of `wanted`: at least 1, and never more than the machine's cores
/// (more only adds contention, and thousands of threads exhaust memory).
fn solver_threads(wanted: u32) -> i32 {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (wanted.max(1) as usize).min(cores).min(i32::MAX as usize) as i32
}

/// Spread rows (the round and restart models): a new integer column `m >= 0` (the least count,
/// warm-started at `warm`), and `m <= n_D <= m + skew` for each domain `D` with room. Sparse over
/// domains: each domain with room and columns gives its count `n` (constants included) in
/// `varying`; every other domain with room holds a constant, and of those only the least and the
/// most matter, `constant` (None: there are none): `m <= least` and `most - m <= skew`.
pub(crate) fn spread_rows(
    b: &mut MipBuilder,
    varying: Vec<good_lp::Expression>,
    constant: Option<(u32, u32)>,
    warm: u32,
    skew: u32,
) {
    let m = b.column(good_lp::variable().min(0), true, f64::from(warm));
    for n in varying {
        b.row(good_lp::constraint::geq(n.clone() - m.var, 0.0));
        b.row(good_lp::constraint::leq(n - m.var, f64::from(skew)));
    }
    if let Some((least, most)) = constant {
        b.row(good_lp::constraint::leq(m.var, f64::from(least)));
        b.row(good_lp::constraint::geq(
            m.var,
            f64::from(most) - f64::from(skew),
        ));
    }
}

/// Hands a flavor's members to its columns in order, as many to each as the column's value in
/// `values` (nothing when the run gave no answer); `give` records where each went.
pub(crate) fn hand_out<T: Copy>(
    members: &[crate::domain::RequestIx],
    columns: impl IntoIterator<Item = (T, Col)>,
    values: &[f64],
    relaxed: bool,
    mut give: impl FnMut(crate::domain::RequestIx, T),
) {
    if values.is_empty() {
        return;
    }
    let mut members = members.iter();
    for (at, col) in columns {
        for &r in members.by_ref().take(int_value(values, col, relaxed)) {
            give(r, at);
        }
    }
}

/// An integer column's value: rounded for a MIP answer, rounded down for an LP relaxation.
pub fn int_value(values: &[f64], c: Col, relaxed: bool) -> usize {
    values
        .get(c.ix)
        .map(|v| {
            if relaxed {
                (v + MIP_TOL).floor()
            } else {
                v.round()
            }
        })
        .map(|v| v.max(0.0) as usize)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cancelled_call_stops_waiting_for_a_run_that_does_not_return() {
        // A run that never answers (HiGHS between two callbacks): with the cancel flag raised the
        // caller goes on without it instead of waiting out the run's limit (here 11 days).
        let (_tx, rx) = std::sync::mpsc::channel::<()>();
        let cancel = AtomicBool::new(true);
        let wait = std::time::Duration::from_secs(1_000_000);
        assert!(wait_for_run(&rx, wait, Some(&cancel)).is_none());
    }

    #[test]
    fn a_run_that_answers_is_waited_for() {
        let (tx, rx) = std::sync::mpsc::channel();
        let cancel = AtomicBool::new(false);
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(50));
            let _ = tx.send(7);
        });
        let wait = std::time::Duration::from_secs(1_000_000);
        assert_eq!(wait_for_run(&rx, wait, Some(&cancel)), Some(7));
    }
}

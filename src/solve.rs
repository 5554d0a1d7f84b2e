//! Orchestration: lexicographic stages, the look-ahead certification of phase 1, greedy warm
//! starts and fallbacks, status and gap, and the solution document.

use crate::domain::{Assignment, Domain, Load, RequestIx, EPS};
use crate::evaluate::{self, reason};
use crate::format::{PhaseStats, Placement, Policy, Solution, SolverKind, Stats, Status, Unplaced};
use crate::greedy;
use crate::model::storage::{Stage, StorageInput};
use crate::model::{host, storage, MipError, MipOptions, MipResult, MipStatus};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

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
    /// Set by the caller to stop the solve early (e.g. the HTTP client went away): the running
    /// HiGHS call is interrupted through its callbacks and every later stage gets no time.
    pub cancel: Option<Arc<AtomicBool>>,
}

/// The result of one phase.
#[derive(Debug, Clone)]
pub struct PhaseOutcome {
    /// The assignment (storage, and hosts after phase 2).
    pub assignment: Assignment,
    /// Phase 1 only: a host assignment proving phase 2 can host everything placed.
    pub witness: Option<Assignment>,
    /// Requests phase 1 dropped because phase 2 could not host them.
    pub dropped: BTreeSet<usize>,
    /// Statistics.
    pub stats: PhaseStats,
    /// Status.
    pub status: Status,
}

struct Deadline {
    start: Instant,
    limit: f64,
    cancel: Option<Arc<AtomicBool>>,
}

impl Deadline {
    fn new(start: Instant, limit: f64, cfg: &RunConfig) -> Self {
        Deadline {
            start,
            limit,
            cancel: cfg.cancel.clone(),
        }
    }

    fn remaining(&self) -> f64 {
        if self
            .cancel
            .as_ref()
            .is_some_and(|c| c.load(Ordering::Relaxed))
        {
            return 0.01;
        }
        (self.limit - self.start.elapsed().as_secs_f64()).max(0.05)
    }
}

fn mip_options(
    d: &Domain,
    seconds: f64,
    write: Option<PathBuf>,
    deadline: &Deadline,
) -> MipOptions {
    MipOptions {
        cancel: deadline.cancel.clone(),
        max_nodes: None,
        time_limit_s: seconds,
        mip_gap: d.settings.mip_gap,
        threads: d.settings.threads,
        write_model: write,
        relax: false,
    }
}

/// (placed weight, cost) comparison: more weight first, then lower cost.
fn better(a: (f64, f64), b: (f64, f64)) -> bool {
    a.0 > b.0 + 1e-9 || (a.0 > b.0 - 1e-9 && a.1 < b.1 - 1e-9)
}

fn relative_gap(objective: f64, bound: f64) -> f64 {
    let g = (objective - bound).abs() / objective.abs().max(1e-9);
    if g < 1e-9 {
        0.0
    } else {
        g
    }
}

struct Lexi {
    best: Assignment,
    /// Stage 1's answer, when stage 1 ran and found one.
    stage1: Option<Assignment>,
    /// The MIP's own objective of `best`, when `best` is stage 2's answer.
    best_cost: Option<f64>,
    weight_bound: f64,
    cost_bound: f64,
    time_limited: bool,
    size: crate::model::ModelSize,
    used_mip: bool,
}

/// Runs the two lexicographic stages of one phase. `solve_stage` builds and solves the phase's
/// MIP for a stage; `score` evaluates an assignment as (placed weight, cost).
fn lexicographic(
    warm: &Assignment,
    total_weight: f64,
    trivial_cost_bound: f64,
    deadline: &Deadline,
    mut solve_stage: impl FnMut(Stage, f64, &Assignment) -> Result<(MipResult, Assignment), MipError>,
    score: impl Fn(&Assignment) -> (f64, f64),
    trust_mip_cost: bool,
) -> Result<Lexi, MipError> {
    let mut best = warm.clone();
    let mut out = Lexi {
        best: warm.clone(),
        stage1: None,
        best_cost: None,
        weight_bound: total_weight,
        cost_bound: trivial_cost_bound,
        time_limited: false,
        size: Default::default(),
        used_mip: false,
    };
    let warm_weight = score(warm).0;
    let mut stage2_warm = warm.clone();
    if warm_weight < total_weight - 1e-9 {
        let (r, a) = solve_stage(Stage::Placement, deadline.remaining() * 0.5, warm)?;
        out.size = r.size;
        out.time_limited |= r.status == MipStatus::TimeLimit;
        out.weight_bound = r.bound.min(total_weight).max(warm_weight);
        if !r.values.is_empty() && better(score(&a), score(&best)) {
            best = a.clone();
            out.stage1 = Some(a.clone());
            stage2_warm = a;
        }
        if r.status == MipStatus::Optimal {
            out.weight_bound = score(&best)
                .0
                .max(out.weight_bound.min(score(&best).0 + 1e-9));
        }
    }
    let min_weight = score(&best).0;
    let (r, a) = solve_stage(
        Stage::Policy { min_weight },
        deadline.remaining(),
        &stage2_warm,
    )?;
    out.size = r.size;
    out.time_limited |= r.status == MipStatus::TimeLimit;
    if r.status != MipStatus::NoSolution && r.status != MipStatus::Infeasible {
        out.cost_bound = r.bound;
    }
    // `trust_mip_cost`: the MIP's objective has terms `score` cannot see (phase 1's look-ahead
    // opening); keep its answer unless it places less.
    let keep = if trust_mip_cost {
        score(&a).0 >= score(&best).0 - 1e-9
    } else {
        !better(score(&best), score(&a))
    };
    if !r.values.is_empty() && keep {
        best = a;
        out.used_mip = true;
        out.best_cost = Some(r.objective);
    }
    out.best = best;
    Ok(out)
}

fn phase_stats(phase: &str, solver: &str, d: &Domain, flavors: usize, time_s: f64) -> PhaseStats {
    let _ = d;
    PhaseStats {
        phase: phase.to_string(),
        solver: solver.to_string(),
        flavors,
        time_s,
        ..Default::default()
    }
}

/// What a phase achieved and proved, before it becomes `PhaseStats`.
struct Measured {
    weight: f64,
    weight_bound: f64,
    cost: f64,
    cost_bound: f64,
    time_limited: bool,
    is_mip: bool,
}

fn record(st: &mut PhaseStats, d: &Domain, m: Measured) -> Status {
    let Measured {
        weight,
        weight_bound,
        cost,
        cost_bound,
        time_limited,
        is_mip,
    } = m;
    st.placed_weight = weight;
    st.placed_weight_bound = if weight_bound.is_finite() {
        weight_bound.max(weight)
    } else {
        weight
    };
    st.objective = cost;
    // A non-finite bound (HiGHS stopped before its root LP) proves nothing: fall back to the
    // objective's own trivial floor, never to NaN in the document.
    st.bound = if cost_bound.is_finite() {
        cost_bound.min(cost)
    } else {
        cost.min(0.0)
    };
    let wgap = relative_gap(weight, st.placed_weight_bound);
    st.gap = relative_gap(cost, st.bound).max(wgap);
    let proven = wgap <= 1e-9 && st.gap <= d.settings.mip_gap + 1e-9;
    let status = if is_mip && proven {
        Status::Optimal
    } else if is_mip && time_limited {
        Status::TimeLimit
    } else {
        Status::Feasible
    };
    st.status = serde_json::to_value(status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    status
}

fn total_weight(d: &Domain) -> f64 {
    d.requests.iter().map(|r| r.priority).sum()
}

/// Trivial lower bound of the storage cost: what is already used (the flexibility penalty is
/// at least 0).
fn storage_cost_floor(d: &Domain) -> f64 {
    let util0 = d
        .storage
        .iter()
        .map(|s| {
            if s.capacity > EPS {
                s.used / s.capacity
            } else {
                0.0
            }
        })
        .fold(0.0, f64::max);
    let policy = match d.settings.storage_policy {
        Policy::Balance => util0,
        Policy::Pack => {
            d.storage.iter().filter(|s| s.used > EPS).count().max(1) as f64
                / d.storage.len().max(1) as f64
        }
    };
    policy
}

/// Lower bound of the host cost over every assignment that places at least `weight` of the
/// requests in `candidates` (combinatorial, valid at any scale): the demand of the smallest set of
/// requests that can reach that weight must fit somewhere. `pack`: already-active hosts' free
/// capacity, then the largest idle hosts, per resource. `balance`: the highest
/// (used + demand) / capacity over the pool, per resource (the max is at least the average).
pub fn host_cost_floor(d: &Domain, candidates: &[RequestIx], weight: f64) -> f64 {
    let nr = d.resources.len();
    let mut prios: Vec<f64> = candidates
        .iter()
        .map(|r| d.requests[r.0].priority)
        .collect();
    prios.sort_by(|a, b| b.total_cmp(a));
    let mut n_min = 0;
    let mut acc = 0.0;
    while acc < weight - 1e-9 && n_min < prios.len() {
        acc += prios[n_min];
        n_min += 1;
    }
    let mut demand = vec![0.0; nr];
    for (k, dk) in demand.iter_mut().enumerate() {
        let mut v: Vec<f64> = candidates
            .iter()
            .map(|r| d.requests[r.0].demand[k])
            .collect();
        v.sort_by(f64::total_cmp);
        *dk = v.iter().take(n_min).sum();
    }
    match d.settings.host_policy {
        Policy::Pack => {
            let active = d.hosts.iter().filter(|h| h.initially_active()).count();
            let mut extra = 0;
            for (k, &demand_k) in demand.iter().enumerate() {
                let free_active: f64 = d
                    .hosts
                    .iter()
                    .filter(|h| h.initially_active())
                    .map(|h| h.free()[k])
                    .sum();
                let mut need = demand_k - free_active;
                let mut idle: Vec<f64> = d
                    .hosts
                    .iter()
                    .filter(|h| !h.initially_active())
                    .map(|h| h.capacity[k])
                    .collect();
                idle.sort_by(|a, b| b.total_cmp(a));
                let mut count = 0;
                for c in idle {
                    if need <= 1e-9 {
                        break;
                    }
                    need -= c;
                    count += 1;
                }
                extra = extra.max(count);
            }
            (active + extra) as f64
        }
        Policy::Balance => {
            let mut best: f64 = 0.0;
            for (k, &demand_k) in demand.iter().enumerate() {
                let cap: f64 = d.hosts.iter().map(|h| h.capacity[k]).sum();
                let used: f64 = d.hosts.iter().map(|h| h.used[k]).sum();
                if cap > EPS {
                    best = best.max((used + demand_k) / cap);
                }
            }
            let initial = d
                .hosts
                .iter()
                .flat_map(|h| {
                    h.used
                        .iter()
                        .zip(&h.capacity)
                        .map(|(u, c)| if *c > EPS { u / c } else { 0.0 })
                })
                .fold(0.0, f64::max);
            best.max(initial)
        }
    }
}

fn fixed_storage(d: &Domain) -> Assignment {
    let mut a = Assignment::empty(d.requests.len());
    for (i, vm) in d.requests.iter().enumerate() {
        a.storage[i] = vm.storage;
    }
    a
}

fn model_path(cfg: &RunConfig, phase: &str, mode: Mode) -> Option<PathBuf> {
    let p = cfg.write_model.as_ref()?;
    if mode != Mode::Place {
        return Some(p.clone());
    }
    let stem = p.file_stem()?.to_string_lossy().to_string();
    let name = match p.extension() {
        Some(ext) => format!("{stem}.{phase}.{}", ext.to_string_lossy()),
        None => format!("{stem}.{phase}"),
    };
    Some(p.with_file_name(name))
}

/// Certifies a phase-1 answer: returns a host assignment for all of it, or the requests phase 2
/// could not host (with that partial host assignment).
fn certify(
    d: &Domain,
    a: &Assignment,
    deadline: &Deadline,
) -> Result<(Assignment, Vec<RequestIx>), MipError> {
    let hosted = greedy::host_phase(d, a, Policy::Pack);
    let stranded = |h: &Assignment| -> Vec<RequestIx> {
        (0..d.requests.len())
            .filter(|&i| a.storage[i].is_some() && h.host[i].is_none())
            .map(RequestIx)
            .collect()
    };
    let left = stranded(&hosted);
    if left.is_empty() {
        return Ok((hosted, left));
    }
    let load = Load::initial(d);
    let active: Vec<bool> = d.hosts.iter().map(|h| h.initially_active()).collect();
    let input = host::HostInput {
        d,
        storage: a,
        warm: &hosted,
        load: &load,
        active: &active,
        allowed: None,
    };
    let opts = mip_options(d, deadline.remaining() * 0.8, None, deadline);
    let (r, h) = host::solve(&input, Stage::Placement, &opts)?;
    if !r.values.is_empty() && stranded(&h).len() < left.len() {
        let l = stranded(&h);
        return Ok((h, l));
    }
    Ok((hosted, left))
}

/// Relax-and-round warm start for phase 1: solve the LP relaxation of the policy stage, keep
/// the integer part of every count, let the look-ahead greedy host those and place the rest.
/// Returns a certified assignment (with hosts), or None if the LP gave nothing.
fn lp_rounding(
    d: &Domain,
    fixed: &Assignment,
    warm: &Assignment,
    deadline: &Deadline,
) -> Result<Option<Assignment>, MipError> {
    let slack = vec![vec![0.0; d.resources.len()]; d.storage.len()];
    let input = StorageInput {
        d,
        slack: &slack,
        warm,
    };
    let min_weight = evaluate::placed_weight(d, warm, true);
    let mut opts = mip_options(d, deadline.remaining() * 0.3, None, deadline);
    opts.relax = true;
    let (r, partial) = storage::solve(&input, Stage::Policy { min_weight }, &opts)?;
    if r.values.is_empty() {
        return Ok(None);
    }
    let mut seed = fixed.clone();
    for i in 0..d.requests.len() {
        seed.storage[i] = seed.storage[i].or(partial.storage[i]);
    }
    let (sp, hp) = (d.settings.storage_policy, d.settings.host_policy);
    let mut a = greedy::lookahead(d, &seed, sp, hp);
    // A rounded choice that found no host is released and placed again freely.
    let mut retry = fixed.clone();
    for i in 0..d.requests.len() {
        if a.host[i].is_some() {
            retry.storage[i] = a.storage[i];
            retry.host[i] = a.host[i];
        }
    }
    if retry != a {
        a = greedy::lookahead(d, &retry, sp, hp);
    }
    for i in 0..d.requests.len() {
        if a.host[i].is_none() && fixed.storage[i].is_none() {
            a.storage[i] = None;
        }
    }
    Ok(Some(a))
}

/// Phase 1: storage for every request.
pub fn storage_phase(
    d: &Domain,
    cfg: &RunConfig,
    mode: Mode,
    deadline_s: f64,
) -> Result<PhaseOutcome, MipError> {
    let start = Instant::now();
    let deadline = Deadline::new(start, deadline_s, cfg);
    // The MIP stages get 60 % of the phase; certification (phase 2 feasibility) the rest.
    let mip_deadline = Deadline::new(start, deadline_s * 0.6, cfg);
    let fixed = fixed_storage(d);
    let score = |a: &Assignment| {
        (
            evaluate::placed_weight(d, a, false),
            evaluate::storage_cost(d, a),
        )
    };
    let flavors = crate::domain::flavors_by(
        d,
        |_| true,
        |vm| {
            (
                crate::domain::bits(&vm.demand),
                vm.disk.to_bits(),
                vm.priority.to_bits(),
                vm.group,
                vm.storage,
            )
        },
    )
    .len();
    if d.settings.solver == SolverKind::Greedy {
        let a = greedy::storage_phase(d, &fixed);
        let mut st = phase_stats("storage", "greedy", d, flavors, 0.0);
        let (w, c) = score(&a);
        let c = c + evaluate::lookahead_opening(d, &greedy::host_phase(d, &a, Policy::Pack));
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
        st.time_s = start.elapsed().as_secs_f64();
        return Ok(PhaseOutcome {
            assignment: a,
            witness: None,
            dropped: BTreeSet::new(),
            stats: st,
            status,
        });
    }
    // The look-ahead greedy answer is certified by construction (it carries hosts).
    let warm = greedy::lookahead(d, &fixed, d.settings.storage_policy, d.settings.host_policy);
    let mut warm = warm;
    if let Some(rounded) = lp_rounding(d, &fixed, &warm, &mip_deadline)? {
        let full = |a: &Assignment| {
            let (weight, cost) = score(a);
            (weight, cost + evaluate::lookahead_opening(d, a))
        };
        tracing::debug!(greedy = ?full(&warm), rounded = ?full(&rounded), "storage warm starts");
        if better(full(&rounded), full(&warm)) {
            warm = rounded;
        }
    }
    let mut warm_storage = warm.clone();
    for i in 0..d.requests.len() {
        if warm.host[i].is_none() {
            warm_storage.storage[i] = None;
        }
    }
    let mut slack = vec![vec![0.0; d.resources.len()]; d.storage.len()];
    let mut chosen: Option<(Assignment, Assignment)> = None;
    let mut chosen_cost: Option<f64> = None;
    let mut dropped = BTreeSet::new();
    let mut rounds = 0;
    let mut first: Option<Lexi> = None;
    let mut time_limited = false;
    let mut size = Default::default();
    let mut candidate = warm_storage.clone();
    while rounds < 3 {
        rounds += 1;
        let write = if rounds == 1 {
            model_path(cfg, "storage", mode)
        } else {
            None
        };
        let lexi = lexicographic(
            &warm_storage,
            total_weight(d),
            storage_cost_floor(d),
            &mip_deadline,
            |stage, secs, _w| {
                let input = StorageInput {
                    d,
                    slack: &slack,
                    warm: &warm,
                };
                let write = match stage {
                    Stage::Policy { .. } => write.clone(),
                    Stage::Placement => None,
                };
                storage::solve(&input, stage, &mip_options(d, secs, write, &mip_deadline))
            },
            score,
            true,
        )?;
        time_limited |= lexi.time_limited;
        size = lexi.size;
        candidate = lexi.best.clone();
        let stage1 = lexi.stage1.clone();
        let candidate_cost = lexi.best_cost;
        if first.is_none() {
            first = Some(lexi);
        }
        let (hosts, stranded) = certify(d, &candidate, &deadline)?;
        if stranded.is_empty() {
            chosen = Some((candidate.clone(), hosts));
            chosen_cost = candidate_cost;
            break;
        }
        // Stage 2 packed the look-ahead too tightly; stage 1's answer places as much and may
        // certify where stage 2's does not.
        if let Some(s1) = stage1 {
            let (hosts1, stranded1) = certify(d, &s1, &deadline)?;
            if stranded1.is_empty() {
                chosen = Some((s1, hosts1));
                break;
            }
        }
        for r in &stranded {
            if let Some(s) = candidate.storage[r.0] {
                for (k, x) in d.requests[r.0].demand.iter().enumerate() {
                    slack[s.0][k] += x;
                }
            }
        }
        if deadline.remaining() < 0.1 {
            break;
        }
    }
    let (mut a, witness) = match chosen {
        Some(c) => c,
        None => {
            // Drop what phase 2 cannot host rather than strand it.
            let (hosts, stranded) = certify(d, &candidate, &deadline)?;
            let mut a = candidate.clone();
            for r in stranded {
                a.storage[r.0] = None;
                dropped.insert(r.0);
            }
            (a, hosts)
        }
    };
    let mut witness = witness;
    let mut solver = "mip";
    // Phase 1's cost includes the look-ahead's host opening: the MIP's own (fractional) value for
    // its answer, the integer opening of the witness (an upper bound) for any other answer.
    let full = |a: &Assignment, w: &Assignment, mip_cost: Option<f64>| {
        let (weight, cost) = score(a);
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
        a = warm_storage.clone();
        witness = warm.clone();
        dropped.clear();
        solver = "mip+greedy-fallback";
    }
    let lexi = first.unwrap_or(Lexi {
        best: a.clone(),
        stage1: None,
        best_cost: None,
        weight_bound: total_weight(d),
        cost_bound: storage_cost_floor(d),
        time_limited: false,
        size,
        used_mip: false,
    });
    let mut st = phase_stats("storage", solver, d, flavors, 0.0);
    st.variables = size.variables;
    st.integer_variables = size.integer_variables;
    st.constraints = size.constraints;
    st.lookahead_rounds = rounds;
    let (w, c) = full(&a, &witness, chosen_cost);
    let status = record(
        &mut st,
        d,
        Measured {
            weight: w,
            weight_bound: lexi.weight_bound,
            cost: c,
            cost_bound: lexi.cost_bound,
            time_limited,
            is_mip: true,
        },
    );
    st.time_s = start.elapsed().as_secs_f64();
    Ok(PhaseOutcome {
        assignment: a,
        witness: Some(witness),
        dropped,
        stats: st,
        status,
    })
}

/// Above this many (flavor, host) columns the host phase is solved by large neighbourhood search
/// instead of one MIP: HiGHS' root LP alone outlasts any sensible time limit past ~100k columns.
pub const LNS_COLUMNS: usize = 40_000;
/// Target size of one neighbourhood MIP.
const LNS_NEIGHBOURHOOD_COLUMNS: usize = 5_000;

/// Estimated host-model columns for the requests whose storage is in `within` (all if None).
fn host_columns(d: &Domain, storage: &Assignment, within: Option<&[bool]>) -> usize {
    let mut flavors: std::collections::HashSet<(Vec<u64>, u64, Option<usize>, usize)> =
        Default::default();
    for (i, vm) in d.requests.iter().enumerate() {
        if let Some(s) = storage.storage[i] {
            if within.is_none_or(|w| w[s.0]) {
                flavors.insert((
                    crate::domain::bits(&vm.demand),
                    vm.priority.to_bits(),
                    vm.group,
                    s.0,
                ));
            }
        }
    }
    flavors.iter().map(|f| d.storage[f.3].hosts.len()).sum()
}

/// Phase 2: a host for every request that has a storage.
pub fn host_phase(
    d: &Domain,
    storage_choice: &Assignment,
    warm_hosts: Option<&Assignment>,
    cfg: &RunConfig,
    mode: Mode,
    deadline_s: f64,
) -> Result<PhaseOutcome, MipError> {
    let start = Instant::now();
    let deadline = Deadline::new(start, deadline_s, cfg);
    let mut base = storage_choice.clone();
    base.host = vec![None; d.requests.len()];
    let score = |a: &Assignment| {
        (
            evaluate::placed_weight(d, a, true),
            evaluate::host_cost(d, a),
        )
    };
    let candidates: Vec<RequestIx> = (0..d.requests.len())
        .filter(|&i| base.storage[i].is_some())
        .map(RequestIx)
        .collect();
    let placeable: f64 = candidates.iter().map(|r| d.requests[r.0].priority).sum();
    let columns = host_columns(d, &base, None);
    let greedy_answer = greedy::host_phase(d, &base, d.settings.host_policy);
    let mut st = phase_stats("host", "greedy", d, 0, 0.0);
    if d.settings.solver == SolverKind::Greedy {
        let (w, c) = score(&greedy_answer);
        let floor = host_cost_floor(d, &candidates, w);
        let status = record(
            &mut st,
            d,
            Measured {
                weight: w,
                weight_bound: placeable,
                cost: c,
                cost_bound: floor,
                time_limited: false,
                is_mip: false,
            },
        );
        st.time_s = start.elapsed().as_secs_f64();
        return Ok(PhaseOutcome {
            assignment: greedy_answer,
            witness: None,
            dropped: BTreeSet::new(),
            stats: st,
            status,
        });
    }
    // Warm start: the better of the greedy answer and the given witness.
    let mut warm = greedy_answer.clone();
    if let Some(w) = warm_hosts {
        let mut w = w.clone();
        w.storage = base.storage.clone();
        for i in 0..d.requests.len() {
            if base.storage[i].is_none() {
                w.host[i] = None;
            }
        }
        if better(score(&w), score(&warm)) {
            warm = w;
        }
    }
    let (a, weight_bound, mip_bound, time_limited) = if columns <= LNS_COLUMNS {
        let write = model_path(cfg, "host", mode);
        let load = Load::initial(d);
        let active: Vec<bool> = d.hosts.iter().map(|h| h.initially_active()).collect();
        let lexi = lexicographic(
            &warm,
            placeable,
            f64::NEG_INFINITY,
            &deadline,
            |stage, secs, w| {
                let input = host::HostInput {
                    d,
                    storage: &base,
                    warm: w,
                    load: &load,
                    active: &active,
                    allowed: None,
                };
                let write = match stage {
                    Stage::Policy { .. } => write.clone(),
                    Stage::Placement => None,
                };
                host::solve(&input, stage, &mip_options(d, secs, write, &deadline))
            },
            score,
            false,
        )?;
        st.solver = if lexi.used_mip {
            "mip"
        } else {
            "mip+greedy-fallback"
        }
        .to_string();
        st.variables = lexi.size.variables;
        st.integer_variables = lexi.size.integer_variables;
        st.constraints = lexi.size.constraints;
        (
            lexi.best,
            lexi.weight_bound,
            lexi.cost_bound,
            lexi.time_limited,
        )
    } else {
        let (a, iterations, size) = host_lns(d, &base, warm, &deadline)?;
        st.solver = format!("mip-lns({iterations} neighbourhoods)");
        st.variables = size.variables;
        st.integer_variables = size.integer_variables;
        st.constraints = size.constraints;
        // The neighbourhoods prove nothing globally: the weight bound stays the placeable total
        // and the cost bound is the combinatorial floor added below.
        (a, placeable, f64::NEG_INFINITY, true)
    };
    let mut a = a;
    if better(score(&greedy_answer), score(&a)) {
        a = greedy_answer;
        st.solver = "mip+greedy-fallback".to_string();
    }
    st.flavors = columns;
    let (w, c) = score(&a);
    let floor = host_cost_floor(d, &candidates, w);
    let status = record(
        &mut st,
        d,
        Measured {
            weight: w,
            weight_bound,
            cost: c,
            cost_bound: mip_bound.max(floor),
            time_limited,
            is_mip: true,
        },
    );
    st.time_s = start.elapsed().as_secs_f64();
    Ok(PhaseOutcome {
        assignment: a,
        witness: None,
        dropped: BTreeSet::new(),
        stats: st,
        status,
    })
}

/// Neighbourhood seeds for the LNS, best first: per host worth changing, the storage systems of
/// the VMs it runs. `pack`: newly opened hosts, least loaded first (the easiest to empty);
/// `balance`: hosts by decreasing utilisation. Then every storage system on its own.
fn lns_seeds(d: &Domain, cur: &Assignment) -> Vec<Vec<usize>> {
    let util = evaluate::host_utilisation(d, cur);
    let mut on_host: Vec<Vec<usize>> = vec![Vec::new(); d.hosts.len()];
    for (i, h) in cur.host.iter().enumerate() {
        if let (Some(h), Some(s)) = (h, cur.storage[i]) {
            if !on_host[h.0].contains(&s.0) {
                on_host[h.0].push(s.0);
            }
        }
    }
    let peak = |h: usize| util[h].iter().copied().fold(0.0, f64::max);
    let mut hosts: Vec<usize> = (0..d.hosts.len())
        .filter(|&h| !on_host[h].is_empty())
        .collect();
    match d.settings.host_policy {
        Policy::Pack => {
            hosts.retain(|&h| !d.hosts[h].initially_active());
            hosts.sort_by(|&a, &b| peak(a).total_cmp(&peak(b)).then(a.cmp(&b)));
        }
        Policy::Balance => hosts.sort_by(|&a, &b| peak(b).total_cmp(&peak(a)).then(a.cmp(&b))),
    }
    let mut seeds: Vec<Vec<usize>> = hosts.into_iter().map(|h| on_host[h].clone()).collect();
    seeds.extend((0..d.storage.len()).map(|s| vec![s]));
    seeds
}

/// Large neighbourhood search for the host phase: repeatedly frees the requests of a few
/// storage systems that share hosts, re-solves the host MIP over those requests and hosts with
/// everything else fixed, and keeps the result when it is better. Deterministic: neighbourhoods
/// come in a fixed order.
fn host_lns(
    d: &Domain,
    base: &Assignment,
    start: Assignment,
    deadline: &Deadline,
) -> Result<(Assignment, usize, crate::model::ModelSize), MipError> {
    let score = |a: &Assignment| {
        (
            evaluate::placed_weight(d, a, true),
            evaluate::host_cost(d, a),
        )
    };
    let mut cur = start;
    let mut iterations = 0;
    let mut size = crate::model::ModelSize::default();
    let ns = d.storage.len();
    // Storage systems that share a host are neighbours.
    let mut neighbours: Vec<Vec<usize>> = vec![Vec::new(); ns];
    for h in &d.hosts {
        for a in &h.storage {
            for b in &h.storage {
                if a != b && !neighbours[a.0].contains(&b.0) {
                    neighbours[a.0].push(b.0);
                }
            }
        }
    }
    let mut stale = 0;
    let mut seed = 0;
    let mut seeds = lns_seeds(d, &cur);
    while deadline.remaining() > 0.3 && stale < seeds.len().max(1) {
        // Seed: the storage systems of the VMs on one host that the policy wants changed
        // (least-loaded newly opened host for `pack`, most utilised for `balance`); grow by
        // neighbouring storage systems until the model is big enough.
        let Some(start_set) = seeds.get(seed % seeds.len().max(1)).cloned() else {
            break;
        };
        seed += 1;
        let mut within = vec![false; ns];
        for &s in &start_set {
            within[s] = true;
        }
        let mut frontier = start_set.clone();
        'grow: while let Some(s) = frontier.pop() {
            for &n in &neighbours[s] {
                if within[n] {
                    continue;
                }
                within[n] = true;
                if host_columns(d, base, Some(&within)) > LNS_NEIGHBOURHOOD_COLUMNS {
                    within[n] = false;
                    break 'grow;
                }
                frontier.insert(0, n);
            }
        }
        let freed: Vec<usize> = (0..d.requests.len())
            .filter(|&i| base.storage[i].is_some_and(|s| within[s.0]))
            .collect();
        if freed.is_empty() {
            stale += 1;
            continue;
        }
        let mut fixed = cur.clone();
        let mut sub = Assignment::empty(d.requests.len());
        for &i in &freed {
            fixed.host[i] = None;
            fixed.storage[i] = None;
            sub.storage[i] = base.storage[i];
        }
        let load = evaluate::final_load(d, &fixed);
        let active = evaluate::active_hosts(d, &fixed);
        let mut allowed = vec![false; d.hosts.len()];
        for (s, w) in within.iter().enumerate() {
            if *w {
                for h in &d.storage[s].hosts {
                    allowed[h.0] = true;
                }
            }
        }
        let mut warm = sub.clone();
        for &i in &freed {
            warm.host[i] = cur.host[i];
        }
        let input = host::HostInput {
            d,
            storage: &sub,
            warm: &warm,
            load: &load,
            active: &active,
            allowed: Some(&allowed),
        };
        let secs = deadline.remaining().min(2.0);
        let placed_now: f64 = freed
            .iter()
            .filter(|&&i| cur.host[i].is_some())
            .map(|&i| d.requests[i].priority)
            .sum();
        let mut best_sub: Option<Assignment> = None;
        if freed.iter().any(|&i| cur.host[i].is_none()) {
            let (r, a) = host::solve(
                &input,
                Stage::Placement,
                &mip_options(d, secs * 0.5, None, deadline),
            )?;
            if !r.values.is_empty() {
                best_sub = Some(a);
            }
        }
        let min_weight = best_sub
            .as_ref()
            .map(|a| {
                freed
                    .iter()
                    .filter(|&&i| a.host[i].is_some())
                    .map(|&i| d.requests[i].priority)
                    .sum::<f64>()
            })
            .unwrap_or(placed_now)
            .max(placed_now);
        let warm2 = best_sub.clone().unwrap_or(warm.clone());
        let input = host::HostInput {
            warm: &warm2,
            ..input
        };
        let (r, a) = host::solve(
            &input,
            Stage::Policy { min_weight },
            &mip_options(d, deadline.remaining().min(2.0), None, deadline),
        )?;
        size = r.size;
        iterations += 1;
        let candidate_sub = if r.values.is_empty() {
            best_sub
        } else {
            Some(a)
        };
        if let Some(a) = candidate_sub {
            let mut next = fixed.clone();
            for &i in &freed {
                next.storage[i] = base.storage[i];
                next.host[i] = a.host[i];
            }
            tracing::debug!(iterations, before = ?score(&cur), after = ?score(&next), freed = freed.len(), cols = r.size.variables, "lns neighbourhood");
            if better(score(&next), score(&cur)) {
                cur = next;
                stale = 0;
                seeds = lns_seeds(d, &cur);
                seed = 0;
                continue;
            }
        }
        stale += 1;
    }
    // Keep storage for requests without a host: the phase reports them as unplaced.
    for i in 0..d.requests.len() {
        if cur.storage[i].is_none() {
            cur.storage[i] = base.storage[i];
        }
    }
    Ok((cur, iterations, size))
}

/// Runs the requested mode and builds the solution document.
pub fn run(d: &Domain, mode: Mode, cfg: &RunConfig) -> Result<Solution, MipError> {
    let start = Instant::now();
    // Keep a little of the limit for the baseline comparison and writing the answer.
    let limit = d.settings.time_limit_s * 0.97;
    let (phases, need_host) = match mode {
        Mode::Storage => (vec![storage_phase(d, cfg, mode, limit)?], false),
        Mode::Host => {
            let fixed = fixed_storage(d);
            (vec![host_phase(d, &fixed, None, cfg, mode, limit)?], true)
        }
        Mode::Place => {
            let p1 = storage_phase(d, cfg, mode, limit * 0.5)?;
            let left = (limit - start.elapsed().as_secs_f64()).max(0.1);
            let mut p2 = host_phase(d, &p1.assignment, p1.witness.as_ref(), cfg, mode, left)?;
            if d.settings.solver == SolverKind::Mip {
                // Never worse than today's schedulers: compare with the greedy chain.
                let baseline = greedy::place(d, &fixed_storage(d), d.settings.host_policy);
                let score = |a: &Assignment| {
                    (
                        evaluate::placed_weight(d, a, true),
                        evaluate::host_cost(d, a),
                    )
                };
                if better(score(&baseline), score(&p2.assignment)) {
                    // The phase-2 bound held for phase 1's storage choice only; the baseline chose
                    // differently, so only the global floor is a valid bound.
                    p2.assignment = baseline;
                    let all: Vec<RequestIx> = (0..d.requests.len()).map(RequestIx).collect();
                    let (w, c) = score(&p2.assignment);
                    let floor = host_cost_floor(d, &all, w);
                    p2.stats.solver = "greedy-baseline".to_string();
                    p2.status = record(
                        &mut p2.stats,
                        d,
                        Measured {
                            weight: w,
                            weight_bound: total_weight(d),
                            cost: c,
                            cost_bound: floor,
                            time_limited: true,
                            is_mip: false,
                        },
                    );
                }
            }
            let mut p1 = p1;
            // Phase 2 may drop requests; phase 1's output is then only what is hosted.
            p1.assignment = p2.assignment.clone();
            (vec![p1, p2], true)
        }
    };
    Ok(to_solution(
        d,
        &phases,
        need_host,
        start.elapsed().as_secs_f64(),
    ))
}

fn to_solution(d: &Domain, phases: &[PhaseOutcome], need_host: bool, time_s: f64) -> Solution {
    let last = &phases[phases.len() - 1];
    let a = &last.assignment;
    let dropped: BTreeSet<usize> = phases
        .iter()
        .flat_map(|p| p.dropped.iter().copied())
        .collect();
    let mut placements = Vec::new();
    let mut unplaced = Vec::new();
    // A storage without a host is not a placement: explanations see only hosted requests, plus
    // the explained request's own phase-1 storage (the binding constraint is about that choice).
    let mut partial = a.clone();
    if need_host {
        for j in 0..d.requests.len() {
            if partial.host[j].is_none() {
                partial.storage[j] = None;
            }
        }
    }
    for (i, vm) in d.requests.iter().enumerate() {
        let r = RequestIx(i);
        if evaluate::is_placed(a, r, need_host) {
            placements.push(Placement {
                request: vm.id.clone(),
                storage: a.storage[i]
                    .map(|s| d.storage[s.0].id.clone())
                    .unwrap_or_default(),
                host: if need_host {
                    a.host[i].map(|h| d.hosts[h.0].id.clone())
                } else {
                    None
                },
            });
        } else if dropped.contains(&i) {
            unplaced.push(Unplaced {
                request: vm.id.clone(),
                code: reason::LOOKAHEAD_NO_HOST.to_string(),
                reason:
                    "host_lookahead: phase 2 could not host it on any storage phase 1 could give it"
                        .to_string(),
            });
        } else {
            partial.storage[i] = a.storage[i];
            let (code, reason) = evaluate::explain(d, &partial, r);
            partial.storage[i] = None;
            unplaced.push(Unplaced {
                request: vm.id.clone(),
                code: code.to_string(),
                reason,
            });
        }
    }
    let mut status = phases
        .iter()
        .map(|p| p.status)
        .max_by_key(|s| match s {
            Status::Optimal => 0,
            Status::Feasible => 1,
            Status::TimeLimit => 2,
            Status::Infeasible => 3,
        })
        .unwrap_or(Status::Feasible);
    if placements.is_empty() {
        status = Status::Infeasible;
    }
    // Objective, bound and gap describe the last phase (each phase's are in stats.phases).
    let gap = last.stats.gap;
    let load = evaluate::final_load(d, a);
    let mut final_a = a.clone();
    if need_host {
        for j in 0..d.requests.len() {
            if final_a.host[j].is_none() {
                final_a.storage[j] = None;
            }
        }
    }
    let storage_util = evaluate::storage_utilisation(d, &final_a);
    let host_util = evaluate::host_utilisation(d, &final_a);
    let stats = Stats {
        solver: phases
            .iter()
            .map(|p| p.stats.solver.as_str())
            .collect::<Vec<_>>()
            .join(","),
        solve_time_s: time_s,
        placed: placements.len(),
        requests: d.requests.len(),
        phases: phases.iter().map(|p| p.stats.clone()).collect(),
        storage_utilisation: d
            .storage
            .iter()
            .zip(storage_util)
            .map(|(s, u)| (s.id.clone(), u))
            .collect(),
        host_utilisation: d
            .hosts
            .iter()
            .zip(host_util)
            .map(|(h, u)| (h.id.clone(), d.resources.iter().cloned().zip(u).collect()))
            .collect(),
        active_hosts: evaluate::active_hosts(d, &final_a)
            .iter()
            .filter(|&&b| b)
            .count(),
        migration_domain: (0..d.requests.len())
            .filter(|&i| evaluate::is_placed(a, RequestIx(i), need_host))
            .filter_map(|i| {
                let s = a.storage[i]?;
                Some((
                    d.requests[i].id.clone(),
                    evaluate::migration_domain(d, &load, RequestIx(i), s, a.host[i]),
                ))
            })
            .collect(),
    };
    Solution {
        status,
        objective: last.stats.objective,
        bound: last.stats.bound,
        gap,
        placements,
        unplaced,
        stats,
    }
}

/// Like [`run`], but a HiGHS failure never leaves the caller without an answer: the greedy
/// solver answers instead, and `stats.solver` says so.
pub fn run_or_fallback(d: &Domain, mode: Mode, cfg: &RunConfig) -> Solution {
    match run(d, mode, cfg) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "MIP failed; answering with the greedy solver");
            let mut g = d.clone();
            g.settings.solver = SolverKind::Greedy;
            match run(&g, mode, cfg) {
                Ok(mut s) => {
                    s.stats.solver = format!("greedy (mip failed: {e})");
                    s
                }
                // The greedy path builds no MIP and cannot fail; keep the types honest anyway.
                Err(e2) => unreachable_answer(d, &e2.to_string()),
            }
        }
    }
}

fn unreachable_answer(d: &Domain, why: &str) -> Solution {
    Solution {
        status: Status::Infeasible,
        objective: 0.0,
        bound: 0.0,
        gap: 0.0,
        placements: Vec::new(),
        unplaced: d
            .requests
            .iter()
            .map(|r| Unplaced {
                request: r.id.clone(),
                code: reason::CAPACITY_TAKEN.to_string(),
                reason: format!("solver failure: {why}"),
            })
            .collect(),
        stats: Stats::default(),
    }
}

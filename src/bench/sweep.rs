//! `vmplace bench --sweep`: the engine against the heuristics schedulers run, on randomly drawn
//! pool structures ([`vmplace_generate::sweep`]) instead of a few families. Per pool: vmplace's
//! placed weight against the best baseline and against its own placed-weight bound, and the
//! share of the time limit it used.

use serde::Serialize;
use std::collections::BTreeMap;
use vmplace_check::{check, Expect};
use vmplace_core::domain::{evaluate, Domain, Settings, NOISE};
use vmplace_core::placement::heuristics::{self, Heuristic};
use vmplace_core::placement::{fixed_storage, run_or_fallback, Mode, RunConfig};
use vmplace_core::validation::Valid;
use vmplace_wire::{Problem, SolverKind, Status};

/// One pool of a sweep.
#[derive(Debug, Clone, Serialize)]
pub struct SweepRow {
    /// Pool name (`sweep-SEED-INDEX`).
    pub pool: String,
    /// Requests, hosts and storage systems.
    pub requests: usize,
    /// Hosts.
    pub hosts: usize,
    /// Storage systems.
    pub storage: usize,
    /// vmplace's placed weight (`place`, the default solver).
    pub placed_weight: f64,
    /// vmplace's placed-weight bound.
    pub bound: f64,
    /// vmplace's status.
    pub status: Status,
    /// `stats.solver` of vmplace's answer.
    pub solver: String,
    /// Placed weight of each heuristic (`openstack`, `best-fit`, ...).
    pub baselines: BTreeMap<String, f64>,
    /// The best heuristic's placed weight.
    pub best_baseline: f64,
    /// vmplace over the best heuristic (1 = as good).
    pub vs_baseline: f64,
    /// vmplace over its bound (1 = proven to place all it can).
    pub vs_bound: f64,
    /// Where the best baseline was to the bound, the share of that distance vmplace closed
    /// (1 when there was none).
    pub closed: f64,
    /// vmplace's wall time, seconds.
    pub time_s: f64,
    /// The time limit, seconds.
    pub limit_s: f64,
    /// Checker violations of vmplace's answer (0 = valid).
    pub violations: usize,
}

/// Runs vmplace and every heuristic on one pool.
pub fn bench_pool(name: &str, problem: &Valid<Problem>, base: &Settings) -> SweepRow {
    let mut settings = base.clone();
    settings.solver = SolverKind::Mip;
    let d = Domain::from_problem(problem, settings);
    let fixed = fixed_storage(&d);
    let baselines: BTreeMap<String, f64> = Heuristic::ALL
        .iter()
        .map(|&h| {
            let a = heuristics::place(&d, &fixed, h, &|| false);
            let weight = evaluate::placed_weight(&d, &a, true);
            (h.solver().name().to_string(), weight)
        })
        .collect();
    let best_baseline = baselines.values().copied().fold(0.0, f64::max);
    let s = run_or_fallback(&d, Mode::Place, &RunConfig::default());
    let violations = check(problem, &s, Expect::WithHosts).found();
    let ratio = |a: f64, b: f64| if b > NOISE { a / b } else { 1.0 };
    let distance = s.placed_weight_bound - best_baseline;
    SweepRow {
        pool: name.to_string(),
        requests: problem.requests.len(),
        hosts: problem.hosts.len(),
        storage: problem.storage.len(),
        placed_weight: s.placed_weight,
        bound: s.placed_weight_bound,
        status: s.status,
        solver: s.stats.solver.clone(),
        best_baseline,
        vs_baseline: ratio(s.placed_weight, best_baseline),
        vs_bound: ratio(s.placed_weight, s.placed_weight_bound),
        closed: if distance > NOISE {
            (s.placed_weight - best_baseline) / distance
        } else {
            1.0
        },
        baselines,
        time_s: s.stats.solve_time_s,
        limit_s: base.time_limit_s,
        violations,
    }
}

/// Minimum, median and maximum of a column.
#[derive(Debug, Clone, Copy, Serialize, Default)]
pub struct Spread {
    /// Smallest value.
    pub min: f64,
    /// Median (the lower middle value for an even count).
    pub median: f64,
    /// Largest value.
    pub max: f64,
}

impl Spread {
    /// The spread of `values` (zeros when empty).
    pub fn of(mut values: Vec<f64>) -> Spread {
        if values.is_empty() {
            return Spread::default();
        }
        values.sort_by(f64::total_cmp);
        Spread {
            min: values[0],
            median: values[(values.len() - 1) / 2],
            max: values[values.len() - 1],
        }
    }
}

/// What a sweep found over all its pools.
#[derive(Debug, Clone, Serialize)]
pub struct SweepSummary {
    /// Pools run.
    pub pools: usize,
    /// Pools where vmplace placed less weight than the best heuristic.
    pub below_baseline: usize,
    /// Pools whose answer the checker rejected.
    pub rejected: usize,
    /// vmplace over the best heuristic.
    pub vs_baseline: Spread,
    /// vmplace over its bound.
    pub vs_bound: Spread,
    /// Share of the baseline-to-bound distance closed.
    pub closed: Spread,
    /// Share of the time limit used.
    pub limit_used: Spread,
}

/// The summary of a sweep's rows.
pub fn summarise(rows: &[SweepRow]) -> SweepSummary {
    let col = |f: &dyn Fn(&SweepRow) -> f64| Spread::of(rows.iter().map(f).collect());
    SweepSummary {
        pools: rows.len(),
        below_baseline: rows
            .iter()
            .filter(|r| r.placed_weight < r.best_baseline - NOISE)
            .count(),
        rejected: rows.iter().filter(|r| r.violations > 0).count(),
        vs_baseline: col(&|r| r.vs_baseline),
        vs_bound: col(&|r| r.vs_bound),
        closed: col(&|r| r.closed),
        limit_used: col(&|r| r.time_s / r.limit_s.max(NOISE)),
    }
}

//! The benchmark runner: every instance of a set, MIP and greedy side by side, each answer
//! verified by the independent checker.

use serde::Serialize;
use std::path::{Path, PathBuf};
use vmplace_check::{check, Expect};
use vmplace_core::domain::{Domain, Settings};
use vmplace_core::placement::{run_or_fallback, Mode, RunConfig};
use vmplace_core::validation::Valid;
use vmplace_wire::{Problem, Solution, SolverKind};

pub mod sweep;

/// One solver's result on one instance.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    /// Solution status.
    pub status: String,
    /// Requests placed.
    pub placed: usize,
    /// Objective (host phase cost: active hosts under `pack`).
    pub objective: f64,
    /// Hosts running something after the answer.
    pub hosts: usize,
    /// Placed priority weight.
    pub placed_weight: f64,
    /// Bound.
    pub bound: f64,
    /// Gap.
    pub gap: f64,
    /// Wall time, seconds.
    pub time_s: f64,
    /// Checker violations (0 = valid).
    pub violations: usize,
}

/// One bench row.
#[derive(Debug, Clone, Serialize)]
pub struct BenchRow {
    /// Instance file name.
    pub instance: String,
    /// Requests in the instance.
    pub requests: usize,
    /// MIP result.
    pub mip: RunSummary,
    /// Greedy baseline result.
    pub greedy: RunSummary,
    /// Greedy with retries over storage systems.
    pub greedy_retry: RunSummary,
    /// OpenStack's default with retries (`--solver openstack`).
    pub openstack: RunSummary,
    /// Best fit with retries (`--solver best-fit`).
    pub best_fit: RunSummary,
    /// Balanced fit with retries (`--solver balanced`).
    pub balanced: RunSummary,
    /// Storage and host in one MIP, where its model is within `JOINT_COLUMNS`.
    pub joint: Option<RunSummary>,
}

impl BenchRow {
    /// How much the two phases lose to the joint MIP: (placed weight, hosts) the joint answer
    /// has over the two phases', when it ran; positive weight or negative hosts is a loss.
    pub fn joint_advantage(&self) -> Option<(f64, i64)> {
        let j = self.joint.as_ref()?;
        Some((
            j.placed_weight - self.mip.placed_weight,
            j.hosts as i64 - self.mip.hosts as i64,
        ))
    }
}

fn summarise(problem: &Problem, s: &Solution) -> RunSummary {
    RunSummary {
        status: serde_json::to_value(s.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        placed: s.placements.len(),
        objective: s.objective,
        hosts: s.stats.active_hosts,
        placed_weight: s.placed_weight,
        bound: s.bound,
        gap: s.gap,
        time_s: s.stats.solve_time_s,
        violations: check(problem, s, Expect::WithHosts).found(),
    }
}

/// Instance files of a set (`*.json`, sorted by name).
pub fn instance_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    Ok(files)
}

/// Solves one problem with every solver (`place`): the two phases (MIP), every named baseline
/// (greedy, greedy-retry, openstack, best-fit, balanced), and the joint MIP where its model fits.
pub fn bench_problem(name: &str, problem: &Valid<Problem>, base: &Settings) -> BenchRow {
    let solve = |kind: SolverKind| {
        let mut s = base.clone();
        s.solver = kind;
        let d = Domain::from_problem(problem, s);
        run_or_fallback(&d, Mode::Place, &RunConfig::default())
    };
    let mip = solve(SolverKind::Mip);
    let greedy = solve(SolverKind::Greedy);
    let greedy_retry = solve(SolverKind::GreedyRetry);
    let openstack = solve(SolverKind::Openstack);
    let best_fit = solve(SolverKind::BestFit);
    let balanced = solve(SolverKind::Balanced);
    let joint = {
        let d = Domain::from_problem(problem, base.clone());
        vmplace_core::placement::joint::fits_joint(&d).then(|| solve(SolverKind::Joint))
    };
    BenchRow {
        instance: name.to_string(),
        requests: problem.requests.len(),
        mip: summarise(problem, &mip),
        greedy: summarise(problem, &greedy),
        greedy_retry: summarise(problem, &greedy_retry),
        openstack: summarise(problem, &openstack),
        best_fit: summarise(problem, &best_fit),
        balanced: summarise(problem, &balanced),
        joint: joint.map(|j| summarise(problem, &j)),
    }
}

/// Peak resident memory of this process so far, in MiB (Linux; 0 elsewhere).
pub fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map(|kib| kib / 1024.0)
        .unwrap_or(0.0)
}

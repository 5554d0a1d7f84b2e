//! `vmplace storage|host|place FILE`.

use super::{exit, read_input, report, write_json};
use clap::Args;
use std::path::PathBuf;
use vmplace::domain::{Domain, Settings};
use vmplace::format::{Policy, SolverKind};
use vmplace::solve::{Mode, RunConfig};
use vmplace::validation::{read_problem, Phase};

/// Flags shared by the solving subcommands.
#[derive(Args, Debug, Clone, Default)]
pub struct SolveArgs {
    /// Problem document (`-` for stdin).
    pub file: PathBuf,
    /// Write the solution here instead of stdout.
    #[arg(short = 'o', long)]
    pub output: Option<PathBuf>,
    /// Wall-clock limit in seconds (overrides `options.time_limit_s`).
    #[arg(long)]
    pub time_limit: Option<f64>,
    /// Relative MIP gap (overrides `options.mip_gap`).
    #[arg(long)]
    pub gap: Option<f64>,
    /// Solver threads (overrides `options.threads`).
    #[arg(long)]
    pub threads: Option<u32>,
    /// `mip` or `greedy`.
    #[arg(long, value_enum)]
    pub solver: Option<SolverArg>,
    /// Storage phase objective.
    #[arg(long, value_enum)]
    pub storage_policy: Option<PolicyArg>,
    /// Host phase objective.
    #[arg(long, value_enum)]
    pub host_policy: Option<PolicyArg>,
    /// Write the exact MIP (`.lp` or `.mps`) here; `place` writes NAME.storage.lp and NAME.host.lp.
    #[arg(long)]
    pub write_model: Option<PathBuf>,
}

/// `--solver`.
#[derive(clap::ValueEnum, Debug, Clone, Copy)]
pub enum SolverArg {
    /// MIP on HiGHS.
    Mip,
    /// Greedy baseline.
    Greedy,
}

/// `--storage-policy` / `--host-policy`.
#[derive(clap::ValueEnum, Debug, Clone, Copy)]
pub enum PolicyArg {
    /// Minimise the highest utilisation.
    Balance,
    /// Use as few systems as possible.
    Pack,
}

impl From<PolicyArg> for Policy {
    fn from(p: PolicyArg) -> Self {
        match p {
            PolicyArg::Balance => Policy::Balance,
            PolicyArg::Pack => Policy::Pack,
        }
    }
}

/// Document options, then flags on top.
pub fn settings(problem: &vmplace::format::Problem, a: &SolveArgs) -> Settings {
    let mut s = Settings::default();
    if let Some(o) = &problem.options {
        s.time_limit_s = o.time_limit_s.unwrap_or(s.time_limit_s);
        s.mip_gap = o.mip_gap.unwrap_or(s.mip_gap);
        s.threads = o.threads.unwrap_or(s.threads);
        s.storage_policy = o.storage_policy.unwrap_or(s.storage_policy);
        s.host_policy = o.host_policy.unwrap_or(s.host_policy);
        s.flexibility_weight = o.flexibility_weight.unwrap_or(s.flexibility_weight);
        s.solver = o.solver.unwrap_or(s.solver);
    }
    s.time_limit_s = a.time_limit.unwrap_or(s.time_limit_s);
    s.mip_gap = a.gap.unwrap_or(s.mip_gap);
    s.threads = a.threads.unwrap_or(s.threads);
    if let Some(p) = a.storage_policy {
        s.storage_policy = p.into();
    }
    if let Some(p) = a.host_policy {
        s.host_policy = p.into();
    }
    if let Some(k) = a.solver {
        s.solver = match k {
            SolverArg::Mip => SolverKind::Mip,
            SolverArg::Greedy => SolverKind::Greedy,
        };
    }
    s
}

fn flag_errors(a: &SolveArgs) -> Vec<vmplace::format::InputError> {
    use vmplace::format::errors::ErrorCode;
    use vmplace::format::InputError;
    let mut e = Vec::new();
    if a.time_limit
        .is_some_and(|t| t.is_nan() || t <= 0.0 || t.is_infinite())
    {
        e.push(InputError::new(
            ErrorCode::Usage,
            "",
            "--time-limit must be a positive number of seconds",
        ));
    }
    if a.gap.is_some_and(|g| !(0.0..=1.0).contains(&g)) {
        e.push(InputError::new(
            ErrorCode::Usage,
            "",
            "--gap must be between 0 and 1",
        ));
    }
    if a.threads == Some(0) {
        e.push(InputError::new(
            ErrorCode::Usage,
            "",
            "--threads must be at least 1",
        ));
    }
    e
}

/// Runs one solving subcommand.
pub fn run(a: SolveArgs, mode: Mode) -> i32 {
    let errors = flag_errors(&a);
    if !errors.is_empty() {
        return report(&errors);
    }
    let text = match read_input(&a.file) {
        Ok(t) => t,
        Err(e) => return report(&e),
    };
    let phase = if mode == Mode::Host {
        Phase::Host
    } else {
        Phase::Storage
    };
    let problem = match read_problem(&text, phase) {
        Ok(p) => p,
        Err(e) => return report(&e),
    };
    let domain = Domain::from_problem(&problem, settings(&problem, &a));
    let cfg = RunConfig {
        write_model: a.write_model.clone(),
    };
    let solution = vmplace::solve::run_or_fallback(&domain, mode, &cfg);
    tracing::info!(status = ?solution.status, placed = solution.stats.placed, "solved");
    match write_json(a.output.as_ref(), &solution) {
        Ok(()) => exit::OK,
        Err(e) => report(&e),
    }
}

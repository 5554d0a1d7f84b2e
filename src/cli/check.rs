//! `vmplace check PROBLEM SOLUTION`, `vmplace check STATE PLAN`.

use super::{exit, read_input, report, write_json};
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use vmplace_server::api::{check_texts, CheckReport};
use vmplace_wire::check::CheckPhase;

/// Arguments of `check`.
#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Problem document (or a state document, to check a migration plan; or Ganeti's input).
    pub problem: PathBuf,
    /// Solution document (or the plan; or Ganeti's answer).
    pub solution: PathBuf,
    /// What the solution should be.
    #[arg(long, value_enum, default_value_t = PhaseArg::Any)]
    pub phase: PhaseArg,
    /// ROADEF/EURO 2012: PROBLEM is the model, SOLUTION the initial assignment, and
    /// NEW_ASSIGNMENT the one to check.
    #[arg(long)]
    pub roadef: bool,
    /// With `--roadef`: the new assignment.
    pub new_assignment: Option<PathBuf>,
}

/// `--phase`: `storage` (no hosts), `host` or `place` (hosts everywhere), `any` (infer).
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PhaseArg {
    /// Phase 1: no hosts.
    Storage,
    /// Phase 2: a host for every placement.
    Host,
    /// Both phases.
    Place,
    /// Infer from the solution.
    Any,
}

impl From<PhaseArg> for CheckPhase {
    fn from(p: PhaseArg) -> CheckPhase {
        match p {
            PhaseArg::Storage => CheckPhase::Storage,
            PhaseArg::Host => CheckPhase::Host,
            PhaseArg::Place => CheckPhase::Place,
            PhaseArg::Any => CheckPhase::Any,
        }
    }
}

/// Runs the checker. Error paths are those of `POST /v1/check`: `/problem/...`,
/// `/solution/...` (or `/state/...`, `/plan/...`).
pub fn run(a: CheckArgs) -> i32 {
    if a.roadef {
        return super::roadef::check(&a.problem, &a.solution, a.new_assignment.as_deref());
    }
    if a.new_assignment.is_some() {
        let cause = "a third file is only taken with --roadef";
        return report(&[vmplace_wire::InputError::new(
            vmplace_wire::errors::ErrorCode::Usage,
            "",
            cause,
        )]);
    }
    let first = read_input(&a.problem);
    let second = read_input(&a.solution);
    let (first, second) = match (first, second) {
        (Ok(f), Ok(s)) => (f, s),
        (f, s) => {
            let errors: Vec<_> = f.err().into_iter().chain(s.err()).flatten().collect();
            return report(&errors);
        }
    };
    match check_texts(&first, &second, a.phase.into()) {
        Ok(r) => emit(&r),
        Err(errors) => report(&errors),
    }
}

/// Violations on stderr, the report on stdout; exit 0 if valid, 1 if not.
fn emit(report: &CheckReport) -> i32 {
    for v in &report.violations {
        eprintln!("violation {} at {}: {}", v.rule, v.path, v.message);
    }
    let _ = write_json(None, report);
    if report.valid {
        exit::OK
    } else {
        exit::VIOLATIONS
    }
}

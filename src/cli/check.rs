//! `vmplace check PROBLEM SOLUTION`.

use super::{exit, read_input, report, write_json};
use clap::Args;
use std::path::PathBuf;
use vmplace::format::{Problem, Solution};
use vmplace::service::api::{check_documents, expect_from};
use vmplace::validation::read_document;

/// Arguments of `check`.
#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Problem document.
    pub problem: PathBuf,
    /// Solution document.
    pub solution: PathBuf,
    /// What the solution should be: `storage` (no hosts), `host`/`place` (hosts everywhere), `any`.
    #[arg(long, default_value = "any")]
    pub phase: String,
}

/// Runs the checker.
pub fn run(a: CheckArgs) -> i32 {
    let expect = expect_from(&a.phase);
    let mut errors = Vec::new();
    let first = match read_input(&a.problem) {
        Ok(t) => t,
        Err(e) => return report(&e),
    };
    // A state document (it has `vms`) is checked against a migration plan.
    if serde_json::from_str::<serde_json::Value>(&first).is_ok_and(|v| v.get("vms").is_some()) {
        return check_plan(&first, &a.solution);
    }
    let problem = read_document::<Problem>(&first);
    let solution = read_input(&a.solution).and_then(|t| read_document::<Solution>(&t));
    if let Err(e) = &problem {
        errors.extend(prefixed(e.clone(), "problem:"));
    }
    if let Err(e) = &solution {
        errors.extend(prefixed(e.clone(), "solution:"));
    }
    let (Ok((problem, _)), Ok((solution, _))) = (problem, solution) else {
        return report(&errors);
    };
    let report = check_documents(&problem, &solution, expect);
    emit(&report)
}

fn check_plan(state_text: &str, plan_path: &std::path::Path) -> i32 {
    use vmplace::format::state::{Plan, State};
    let state = read_document::<State>(state_text).map_err(|e| prefixed(e, "state:"));
    let plan = read_input(plan_path)
        .and_then(|t| read_document::<Plan>(&t))
        .map_err(|e| prefixed(e, "plan:"));
    let (state, plan) = match (state, plan) {
        (Ok((s, _)), Ok((p, _))) => (s, p),
        (s, p) => {
            let errors: Vec<_> = s.err().into_iter().chain(p.err()).flatten().collect();
            return report(&errors);
        }
    };
    let report = vmplace::service::api::check_plan_documents(&state, &plan);
    emit(&report)
}

fn prefixed(
    errors: Vec<vmplace::format::InputError>,
    at: &str,
) -> Vec<vmplace::format::InputError> {
    errors
        .into_iter()
        .map(|mut e| {
            e.path = format!("{at}{}", e.path);
            e
        })
        .collect()
}

/// Violations on stderr, the report on stdout; exit 0 if valid, 1 if not.
fn emit(report: &vmplace::service::api::CheckReport) -> i32 {
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

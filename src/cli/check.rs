//! `vmplace check PROBLEM SOLUTION`.

use super::{exit, read_input, report, write_json};
use clap::Args;
use std::path::PathBuf;
use vmplace::api::{check_documents, expect_from};
use vmplace::format::{Problem, Solution};
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
    let problem = read_input(&a.problem).and_then(|t| read_document::<Problem>(&t));
    let solution = read_input(&a.solution).and_then(|t| read_document::<Solution>(&t));
    if let Err(e) = &problem {
        errors.extend(e.iter().cloned().map(|mut e| {
            e.path = format!("problem:{}", e.path);
            e
        }));
    }
    if let Err(e) = &solution {
        errors.extend(e.iter().cloned().map(|mut e| {
            e.path = format!("solution:{}", e.path);
            e
        }));
    }
    let (Ok((problem, _)), Ok((solution, _))) = (problem, solution) else {
        return report(&errors);
    };
    let report = check_documents(&problem, &solution, expect);
    for v in &report.violations {
        eprintln!("violation {} at {}: {}", v.rule, v.path, v.message);
    }
    let _ = write_json(None, &report);
    if report.valid {
        exit::OK
    } else {
        exit::VIOLATIONS
    }
}

//! `vmplace check PROBLEM SOLUTION`.

use super::{exit, read_input, report, write_json};
use clap::Args;
use std::path::PathBuf;
use vmplace::checker::{check, Expect};
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
    let expect = match a.phase.as_str() {
        "storage" => Expect::StorageOnly,
        "host" | "place" => Expect::WithHosts,
        _ => Expect::Any,
    };
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
    let violations = check(&problem, &solution, expect);
    if violations.is_empty() {
        eprintln!(
            "valid: {} placements, {} unplaced",
            solution.placements.len(),
            solution.unplaced.len()
        );
        exit::OK
    } else {
        for v in &violations {
            eprintln!("violation {} at {}: {}", v.rule, v.path, v.message);
        }
        let _ = write_json(None, &serde_json::json!({ "violations": violations }));
        exit::VIOLATIONS
    }
}

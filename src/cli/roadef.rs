//! `vmplace roadef -t SECONDS -p MODEL -i ASSIGNMENT -o NEW_ASSIGNMENT [-s SEED] [-name]`: the
//! ROADEF/EURO 2012 challenge's own command line (single-dash flags, any order), and
//! `vmplace check --roadef MODEL ASSIGNMENT NEW_ASSIGNMENT`, and `vmplace roadef --to-state -p MODEL
//! -i ASSIGNMENT [-o STATE]` (the instance as a migration state document).

use super::{exit, read_input, report, write_bytes, write_json};
use clap::Args;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use vmplace_check::roadef::{check_roadef, RoadefCheck, RoadefCosts};
use vmplace_core::roadef::convert;
use vmplace_core::roadef::model::{Assignment, Model};
use vmplace_core::roadef::parse::{parse_assignment, parse_model};
use vmplace_wire::errors::ErrorCode;
use vmplace_wire::InputError;

/// The team name `-name` prints.
pub const TEAM: &str = "vmplace";

/// Longest time limit accepted, seconds.
const MAX_SECONDS: f64 = 86_400.0;

/// Arguments of `roadef`, in the challenge's form (parsed here, not by clap: `-name` is one
/// flag with a single dash).
#[derive(Args, Debug)]
pub struct RoadefArgs {
    /// -t SECONDS -p MODEL -i ASSIGNMENT -o NEW_ASSIGNMENT [-s SEED] [-name], or --to-state -p
    /// MODEL -i ASSIGNMENT [-o STATE]
    #[arg(allow_hyphen_values = true, trailing_var_arg = true, num_args = 0..)]
    pub args: Vec<String>,
}

/// The challenge's arguments.
#[derive(Debug, Default)]
struct Challenge {
    seconds: Option<f64>,
    model: Option<PathBuf>,
    initial: Option<PathBuf>,
    output: Option<PathBuf>,
    seed: u64,
    name: bool,
    to_state: bool,
}

fn usage(cause: String) -> Vec<InputError> {
    vec![InputError::new(ErrorCode::Usage, "", cause)]
}

fn parse_args(args: &[String]) -> Result<Challenge, Vec<InputError>> {
    let mut c = Challenge::default();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        if flag == "-name" {
            c.name = true;
            continue;
        }
        if flag == "--to-state" {
            c.to_state = true;
            continue;
        }
        let Some(value) = it.next() else {
            return Err(usage(format!("{flag} needs a value")));
        };
        match flag.as_str() {
            "-t" => {
                let t = value.parse::<f64>().ok().filter(|t| *t > 0.0 && *t <= MAX_SECONDS);
                c.seconds = Some(t.ok_or_else(|| {
                    usage(format!("-t takes seconds above 0 and at most {MAX_SECONDS}, got {value:?}"))
                })?);
            }
            "-p" => c.model = Some(value.into()),
            "-i" => c.initial = Some(value.into()),
            "-o" => c.output = Some(value.into()),
            "-s" => {
                c.seed = value
                    .parse::<i64>()
                    .map(|s| s as u64)
                    .map_err(|_| usage(format!("-s takes an integer seed, got {value:?}")))?
            }
            _ => return Err(usage(format!("unknown argument {flag:?}; the form is -t SECONDS -p MODEL -i ASSIGNMENT -o NEW_ASSIGNMENT [-s SEED] [-name]"))),
        }
    }
    Ok(c)
}

/// The report `roadef` writes on stdout.
#[derive(Debug, Serialize)]
struct RoadefReport {
    team: &'static str,
    seed: u64,
    time_limit_s: f64,
    initial_cost: i64,
    final_cost: RoadefCosts,
    lower_bound: i64,
    moved_processes: usize,
    time_s: f64,
    search: vmplace_core::roadef::search::SearchStats,
    /// This process's peak resident memory (Linux's VmHWM), MiB.
    peak_rss_mib: f64,
}

/// Runs `roadef`.
pub fn run(a: RoadefArgs) -> i32 {
    let start = Instant::now();
    let c = match parse_args(&a.args) {
        Ok(c) => c,
        Err(e) => return report(&e),
    };
    if c.name {
        eprintln!("team {TEAM}");
    }
    if c.to_state {
        return write_state(&c);
    }
    let (Some(seconds), Some(model), Some(initial), Some(output)) =
        (c.seconds, &c.model, &c.initial, &c.output)
    else {
        if c.name && a.args.len() == 1 {
            let _ = write_json(None, &TEAM);
            return exit::OK;
        }
        return report(&usage("-t, -p, -i and -o are required".into()));
    };
    let (model, initial) = match read_pair(model, initial).and_then(|(m, a)| through_state(&m, &a))
    {
        Ok(x) => x,
        Err(e) => return report(&e),
    };
    let start_check = check_roadef(&model, &initial, &initial);
    if !start_check.valid {
        return report(&infeasible(
            &c.initial.clone().unwrap_or_default(),
            &start_check,
        ));
    }
    let margin = (seconds * 0.03).clamp(0.1, 2.0);
    let deadline = start + Duration::from_secs_f64((seconds - margin).max(0.0));
    // Before the search, so that its time is inside the limit.
    let lower_bound = vmplace_core::roadef::bound::lower_bound(&model, &initial);
    let outcome = vmplace_core::roadef::reassign(&model, &initial, c.seed, deadline);
    let mut answer = outcome.assignment;
    let mut fin = check_roadef(&model, &initial, &answer);
    if !fin.valid {
        tracing::error!(
            "the search's answer breaks a rule (a bug): writing the initial assignment"
        );
        answer = initial.clone();
        fin = start_check.clone();
    } else if fin.costs.total != outcome.cost {
        tracing::error!(
            search = outcome.cost,
            checker = fin.costs.total,
            "costs disagree (a bug)"
        );
    }
    if let Err(e) = write_bytes(
        Some(output),
        answer.to_text().trim_end().as_bytes().to_vec(),
    ) {
        return report(&e);
    }
    let doc = RoadefReport {
        team: TEAM,
        seed: c.seed,
        time_limit_s: seconds,
        initial_cost: start_check.costs.total,
        final_cost: fin.costs,
        lower_bound,
        moved_processes: fin.moved_processes,
        time_s: start.elapsed().as_secs_f64(),
        search: outcome.stats,
        peak_rss_mib: vmplace::bench::peak_rss_mib(),
    };
    let _ = write_json(None, &doc);
    exit::OK
}

/// `--to-state -p MODEL -i ASSIGNMENT [-o FILE]`: the instance as a state document.
fn write_state(c: &Challenge) -> i32 {
    let (Some(model), Some(initial)) = (&c.model, &c.initial) else {
        return report(&usage(
            "--to-state takes -p MODEL -i ASSIGNMENT [-o STATE]".into(),
        ));
    };
    if c.seconds.is_some() {
        return report(&usage("--to-state converts only: drop -t".into()));
    }
    let errors = super::output_errors(c.output.as_ref());
    if !errors.is_empty() {
        return report(&errors);
    }
    let (m, a) = match read_pair(model, initial) {
        Ok(x) => x,
        Err(e) => return report(&e),
    };
    match write_json(c.output.as_ref(), &convert::to_state(&m, &a)) {
        Ok(()) => exit::OK,
        Err(e) => report(&e),
    }
}

/// The instance as the engine reads it: files -> state document -> validated -> model (the
/// challenge's format goes into the state model, never around it).
fn through_state(m: &Model, a: &Assignment) -> Result<(Model, Assignment), Vec<InputError>> {
    let state = vmplace_core::validation::validate_state(convert::to_state(m, a))?;
    let engine = convert::from_state(&state).unwrap_or_else(|| {
        Err(usage(
            "the converted state lacks policy.reassign (a bug)".into(),
        ))
    })?;
    Ok((engine.model, engine.initial))
}

/// Reads and parses the model and an assignment, every error of both at once where possible.
pub(super) fn read_pair(
    model: &Path,
    initial: &Path,
) -> Result<(Model, Assignment), Vec<InputError>> {
    let model_text = read_input(model);
    let initial_text = read_input(initial);
    let model_text = model_text.map_err(|e| {
        e.into_iter()
            .chain(initial_text.clone().err().into_iter().flatten())
            .collect::<Vec<_>>()
    })?;
    let initial_text = initial_text?;
    let m = parse_model(&model.display().to_string(), &model_text)?;
    let a = parse_assignment(&initial.display().to_string(), &initial_text, &m)?;
    Ok((m, a))
}

/// The initial assignment's violations as `E2006` errors.
pub(super) fn infeasible(file: &Path, check: &RoadefCheck) -> Vec<InputError> {
    check
        .violations
        .iter()
        .map(|v| {
            InputError::new(
                ErrorCode::RoadefInfeasibleInitial,
                file.display().to_string(),
                format!("{:?}: {}", v.rule, v.message),
            )
        })
        .collect()
}

/// `vmplace check --roadef MODEL ASSIGNMENT NEW_ASSIGNMENT`: the report on stdout; exit 0 if
/// every hard rule holds, 1 if not.
pub fn check(model: &Path, initial: &Path, new: Option<&Path>) -> i32 {
    let Some(new) = new else {
        return report(&usage(
            "check --roadef takes MODEL ASSIGNMENT NEW_ASSIGNMENT".into(),
        ));
    };
    let (m, a) = match read_pair(model, initial) {
        Ok(x) => x,
        Err(e) => return report(&e),
    };
    let b =
        read_input(new).and_then(|text| parse_assignment(&new.display().to_string(), &text, &m));
    let b = match b {
        Ok(b) => b,
        Err(e) => return report(&e),
    };
    let result = check_roadef(&m, &a, &b);
    for v in &result.violations {
        eprintln!("violation {:?}: {}", v.rule, v.message);
    }
    let _ = write_json(None, &result);
    if result.valid {
        exit::OK
    } else {
        exit::VIOLATIONS
    }
}

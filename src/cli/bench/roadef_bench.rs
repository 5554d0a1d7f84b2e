//! `vmplace bench --roadef DIR [-t SECONDS] [--seed S] [--reference FILE]`: every instance pair
//! of DIR runs as `vmplace roadef` in a child process (so that its peak memory is its own, and a
//! crash is one row), the independent checker checks its answer, and the rows go to stdout as
//! JSON and to stderr as a table. A bad file is a row with its errors, not an abort.

use super::super::roadef::{infeasible, read_pair};
use super::super::{exit, read_input, report, write_json};
use super::BenchArgs;
use std::path::Path;
use std::process::Command;
use std::time::Instant;
use vmplace_check::roadef::check_roadef;
use vmplace_core::roadef::bench::{instance_pairs, InstancePair, Reference, RoadefBenchRow};
use vmplace_core::roadef::model::{Assignment, Model};
use vmplace_core::roadef::parse::parse_assignment;
use vmplace_wire::{errors::ErrorCode, InputError};

/// The challenge's time limit, the default.
const CHALLENGE_SECONDS: f64 = 300.0;

/// Runs the bench over `dir`.
pub fn run(a: &BenchArgs, dir: &Path) -> i32 {
    let seconds = a.time_limit.unwrap_or(CHALLENGE_SECONDS);
    if seconds.is_nan() || seconds <= 0.0 || seconds > 86_400.0 {
        return report(&[InputError::new(
            ErrorCode::Usage,
            "",
            format!("-t takes seconds above 0 and at most 86400, got {seconds}"),
        )]);
    }
    let reference = match &a.reference {
        None => Reference::default(),
        Some(file) => {
            match read_input(file).and_then(|t| Reference::parse(&file.display().to_string(), &t)) {
                Ok(r) => r,
                Err(e) => return report(&e),
            }
        }
    };
    let pairs = match instance_pairs(dir) {
        Ok(p) if !p.is_empty() => p,
        Ok(_) => return report(&[io_error(format!("no model_*.txt in {}", dir.display()))]),
        Err(e) => return report(&[io_error(format!("cannot list {}: {e}", dir.display()))]),
    };
    let temporary =
        std::env::temp_dir().join(format!("vmplace-roadef-bench-{}", std::process::id()));
    let work = a.answers.clone().unwrap_or_else(|| temporary.clone());
    if let Err(e) = std::fs::create_dir_all(&work) {
        return report(&[io_error(format!("cannot create {}: {e}", work.display()))]);
    }
    if !a.json {
        eprintln!("{}", header());
    }
    let mut rows = Vec::with_capacity(pairs.len());
    for pair in &pairs {
        let mut row = bench_pair(pair, seconds, a.seed, &work);
        if a.answers.is_none() {
            let _ = std::fs::remove_file(work.join(answer_file(&pair.name)));
        }
        row.compare(&reference);
        if !a.json {
            eprintln!("{}", line(&row));
        }
        rows.push(row);
    }
    if a.answers.is_none() {
        let _ = std::fs::remove_dir_all(&temporary);
    }
    let doc = serde_json::json!({
        "time_limit_s": seconds,
        "seed": a.seed,
        "rows": rows,
    });
    match write_json(None, &doc) {
        Ok(()) => exit::OK,
        Err(e) => report(&e),
    }
}

fn io_error(cause: String) -> InputError {
    InputError::new(ErrorCode::Io, "", cause)
}

/// One instance: read and check the pair here, run the solver as a child, check its answer.
fn bench_pair(pair: &InstancePair, seconds: f64, seed: u64, work: &Path) -> RoadefBenchRow {
    let mut row = RoadefBenchRow {
        instance: pair.name.clone(),
        ..Default::default()
    };
    let Some(initial_path) = &pair.assignment else {
        row.errors = vec![io_error(format!(
            "{} has no assignment_{}.txt beside it",
            pair.model.display(),
            pair.name
        ))];
        return row;
    };
    let (model, initial) = match read_pair(&pair.model, initial_path) {
        Ok(x) => x,
        Err(e) => {
            row.errors = e;
            return row;
        }
    };
    let start = check_roadef(&model, &initial, &initial);
    row.initial_cost = Some(start.costs.total);
    row.lower_bound = Some(vmplace_core::roadef::bound::lower_bound(&model, &initial));
    if !start.valid {
        row.errors = infeasible(initial_path, &start);
        return row;
    }
    let output = work.join(answer_file(&pair.name));
    let began = Instant::now();
    let run = Command::new(std::env::current_exe().unwrap_or_else(|_| "vmplace".into()))
        .arg("roadef")
        .args(["-t", &seconds.to_string(), "-s", &seed.to_string()])
        .arg("-p")
        .arg(&pair.model)
        .arg("-i")
        .arg(initial_path)
        .arg("-o")
        .arg(&output)
        .output();
    row.time_s = began.elapsed().as_secs_f64();
    let report = match run {
        Ok(out) => child_report(&out),
        Err(e) => Err(vec![io_error(format!("cannot run vmplace roadef: {e}"))]),
    };
    match report.and_then(|r| answer(&model, &output).map(|new| (r, new))) {
        Ok((r, new)) => {
            row.peak_rss_mib = r.get("peak_rss_mib").and_then(|v| v.as_f64());
            let check = check_roadef(&model, &initial, &new);
            row.final_cost = Some(check.costs.total);
            row.valid = check.valid;
            row.moved_processes = Some(check.moved_processes);
        }
        Err(e) => row.errors = e,
    }
    row
}

/// Where a run writes its answer.
fn answer_file(name: &str) -> String {
    format!("new_assignment_{name}.txt")
}

/// The child's JSON report, or its errors.
fn child_report(out: &std::process::Output) -> Result<serde_json::Value, Vec<InputError>> {
    let doc: Option<serde_json::Value> = serde_json::from_slice(&out.stdout).ok();
    if out.status.success() {
        if let Some(doc) = doc {
            return Ok(doc);
        }
    }
    let errors = doc
        .and_then(|d| serde_json::from_value::<Vec<InputError>>(d.get("errors")?.clone()).ok())
        .filter(|e| !e.is_empty());
    Err(errors.unwrap_or_else(|| {
        let tail = String::from_utf8_lossy(&out.stderr);
        let tail = tail.lines().last().unwrap_or("").to_string();
        vec![io_error(format!(
            "vmplace roadef failed ({}): {tail}",
            out.status
        ))]
    }))
}

/// The child's new assignment, parsed.
fn answer(model: &Model, file: &Path) -> Result<Assignment, Vec<InputError>> {
    read_input(file).and_then(|t| parse_assignment(&file.display().to_string(), &t, model))
}

fn header() -> String {
    format!(
        "{:<12} {:>16} {:>16} {:>16} {:>16} {:>8} {:>7} {:>7} {:<5}",
        "instance", "initial", "final", "bound", "best known", "ratio", "time_s", "MiB", "valid"
    )
}

fn line(row: &RoadefBenchRow) -> String {
    let num = |x: Option<i64>| x.map_or("-".to_string(), |v| v.to_string());
    if let Some(e) = row.errors.first() {
        return format!(
            "{:<12} error {} at {}: {}",
            row.instance, e.code, e.path, e.cause
        );
    }
    format!(
        "{:<12} {:>16} {:>16} {:>16} {:>16} {:>8} {:>7.2} {:>7.1} {:<5}",
        row.instance,
        num(row.initial_cost),
        num(row.final_cost),
        num(row.lower_bound),
        num(row.best_known),
        row.ratio.map_or("-".to_string(), |r| format!("{r:.4}")),
        row.time_s,
        row.peak_rss_mib.unwrap_or(0.0),
        if row.valid { "yes" } else { "NO" }
    )
}

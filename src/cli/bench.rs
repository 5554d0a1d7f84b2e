//! `vmplace bench DIR`: JSON rows on stdout, a human table on stderr.

use super::{exit, report, write_json};
use clap::Args;
use std::path::PathBuf;
use vmplace::bench::{bench_problem, instance_files, peak_rss_mib, BenchRow};
use vmplace::format::{errors::ErrorCode, InputError};
use vmplace::service::api::Overrides;
use vmplace::validation::{read_problem, Phase};

/// Arguments of `bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Directory of instance files (`*.json`).
    pub dir: PathBuf,
    /// Time limit per instance and solver, seconds (default: each instance's own option, or 10).
    #[arg(long)]
    pub time_limit: Option<f64>,
    /// Solver threads.
    #[arg(long)]
    pub threads: Option<u32>,
    /// Print only the JSON document (no table on stderr).
    #[arg(long)]
    pub json: bool,
    /// Draw the share of requests each solver places, per instance, as SVG.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
}

/// Runs the bench.
pub fn run(a: BenchArgs) -> i32 {
    let files = match instance_files(&a.dir) {
        Ok(f) if !f.is_empty() => f,
        Ok(_) => {
            return report(&[InputError::new(
                ErrorCode::Io,
                "",
                format!("no *.json instance in {}", a.dir.display()),
            )])
        }
        Err(e) => {
            return report(&[InputError::new(
                ErrorCode::Io,
                "",
                format!("cannot list {}: {e}", a.dir.display()),
            )])
        }
    };
    let mut rows: Vec<BenchRow> = Vec::new();
    let mut errors = Vec::new();
    let progress = super::progress::Progress::new(files.len(), "instances");
    if !a.json {
        progress.line(&format!(
            "{:<34} {:>6} | {:>6} {:>6} {:>9} {:>7} {:>7} {:<10} | {:>6} {:>6} {:>7} | {:>6} {:>6} {:>7} | {:>6} {:>6} {:>9} {:>7}",
            "instance", "reqs", "placed", "hosts", "bound", "gap", "time_s", "status",
            "placed", "hosts", "time_s", "placed", "hosts", "time_s", "placed", "hosts", "bound", "time_s"
        ));
        progress.line(&format!(
            "{:<41} | {:^59} | {:^22} | {:^22} | {:^32}",
            "", "MIP (two phases)", "greedy", "greedy-retry", "joint"
        ));
    }
    for f in files {
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let text = match std::fs::read_to_string(&f) {
            Ok(t) => t,
            Err(e) => {
                errors.push(InputError::new(ErrorCode::Io, "", format!("{name}: {e}")));
                continue;
            }
        };
        let problem = match read_problem(&text, Phase::Storage) {
            Ok(p) => p,
            Err(es) => {
                errors.extend(es.into_iter().map(|mut e| {
                    e.path = format!("{name}:{}", e.path);
                    e
                }));
                continue;
            }
        };
        let overrides = Overrides {
            time_limit_s: a.time_limit,
            threads: a.threads,
            ..Default::default()
        };
        let s = vmplace::service::api::settings(&problem, &overrides);
        let row = bench_problem(&name, &problem, &s);
        if !a.json {
            let violations = [&row.mip, &row.greedy, &row.greedy_retry]
                .into_iter()
                .chain(row.joint.as_ref())
                .map(|r| r.violations)
                .sum::<usize>();
            let joint = row.joint.as_ref().map_or_else(
                || format!("{:>6} {:>6} {:>9} {:>7}", "-", "-", "-", "-"),
                |j| {
                    format!(
                        "{:>6} {:>6} {:>9.3} {:>7.2}",
                        j.placed, j.hosts, j.bound, j.time_s
                    )
                },
            );
            progress.line(&format!(
                "{:<34} {:>6} | {:>6} {:>6} {:>9.3} {:>7.4} {:>7.2} {:<10} | {:>6} {:>6} {:>7.2} | {:>6} {:>6} {:>7.2} | {}{}",
                row.instance,
                row.requests,
                row.mip.placed,
                row.mip.hosts,
                row.mip.bound,
                row.mip.gap,
                row.mip.time_s,
                row.mip.status,
                row.greedy.placed,
                row.greedy.hosts,
                row.greedy.time_s,
                row.greedy_retry.placed,
                row.greedy_retry.hosts,
                row.greedy_retry.time_s,
                joint,
                if violations > 0 { "  CHECKER VIOLATIONS" } else { "" }
            ));
        }
        progress.inc(&name);
        rows.push(row);
    }
    progress.finish();
    if !errors.is_empty() {
        return report(&errors);
    }
    if let Some(path) = &a.plot {
        if let Err(e) = plot(&rows, path) {
            return report(&[InputError::new(ErrorCode::Io, "", e.to_string())]);
        }
    }
    let loss = joint_losses(&rows);
    if !a.json {
        progress.line(&format!(
            "joint ran on {} of {} instances; the two phases lost to it on {} (placed weight {:+.1}, hosts {:+} in all)",
            loss.ran, rows.len(), loss.lost, loss.weight, loss.hosts
        ));
    }
    let doc = serde_json::json!({
        "rows": rows,
        "joint": loss,
        "peak_rss_mib": peak_rss_mib(),
    });
    match write_json(None, &doc) {
        Ok(()) => exit::OK,
        Err(e) => report(&e),
    }
}

/// What the two phases lose to the joint MIP over a set.
#[derive(serde::Serialize, Default)]
struct JointLosses {
    /// Instances where the joint model ran.
    ran: usize,
    /// Of which the joint answer was better (more weight, or as much on fewer hosts).
    lost: usize,
    /// Placed weight the joint answers had over the two phases', summed where they were better.
    weight: f64,
    /// Hosts the joint answers saved, summed where they were better (negative: fewer hosts).
    hosts: i64,
}

fn joint_losses(rows: &[BenchRow]) -> JointLosses {
    let mut out = JointLosses::default();
    for (w, h) in rows.iter().filter_map(BenchRow::joint_advantage) {
        out.ran += 1;
        if w > 1e-9 || (w > -1e-9 && h < 0) {
            out.lost += 1;
            out.weight += w;
            out.hosts += h;
        }
    }
    out
}

/// The share of requests each solver placed, per instance.
fn plot(rows: &[BenchRow], path: &std::path::Path) -> Result<(), vmplace::plot::PlotError> {
    let categories: Vec<String> = rows
        .iter()
        .map(|r| r.instance.trim_end_matches(".json").to_string())
        .collect();
    let share = |f: &dyn Fn(&BenchRow) -> usize| -> Vec<f64> {
        rows.iter()
            .map(|r| 100.0 * f(r) as f64 / r.requests.max(1) as f64)
            .collect()
    };
    let series = vec![
        ("vmplace MIP".to_string(), share(&|r| r.mip.placed)),
        ("greedy".to_string(), share(&|r| r.greedy.placed)),
        (
            "greedy with retries".to_string(),
            share(&|r| r.greedy_retry.placed),
        ),
    ];
    vmplace::plot::compare(
        path,
        "Requests placed per instance",
        &categories,
        "instance",
        "placed (% of requests)",
        &series,
    )
}

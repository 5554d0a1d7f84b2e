//! `vmplace bench DIR`: JSON rows on stdout, a human table on stderr.

mod roadef_bench;

use super::{exit, report, write_json};
use clap::Args;
use std::path::{Path, PathBuf};
use vmplace::bench::{bench_problem, instance_files, peak_rss_mib, BenchRow};
use vmplace_core::domain::settings::Overrides;
use vmplace_core::domain::NOISE;
use vmplace_core::validation::{read_problem, Phase};
use vmplace_wire::{errors::ErrorCode, InputError};

/// Arguments of `bench`.
#[derive(Args, Debug)]
#[command(group = clap::ArgGroup::new("seeded").args(["sweep", "roadef"]))]
pub struct BenchArgs {
    /// Directory of instance files (`*.json`); not with `--sweep` or `--roadef`.
    #[arg(required_unless_present_any = ["sweep", "roadef"])]
    pub dir: Option<PathBuf>,
    /// Instead, a directory of ROADEF/EURO 2012 instances (`model_X.txt` with
    /// `assignment_X.txt`): each runs as `vmplace roadef` in a child process at `-t`, and the
    /// checker checks its answer.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["dir", "sweep"])]
    pub roadef: Option<PathBuf>,
    /// Best known costs for `--roadef`: lines `instance,best_known` (`#` starts a comment).
    #[arg(long, value_name = "FILE", requires = "roadef")]
    pub reference: Option<PathBuf>,
    /// Keep `--roadef`'s answers in this directory, as `new_assignment_X.txt`.
    #[arg(long, value_name = "DIR", requires = "roadef")]
    pub answers: Option<PathBuf>,
    /// Instead of a directory, N pools drawn by `generate --sweep` (random pool structures):
    /// vmplace against the best of the heuristics schedulers run, and against its bound.
    #[arg(long, value_name = "N", conflicts_with = "dir")]
    pub sweep: Option<usize>,
    /// The seed of the sweep, or of every `--roadef` run.
    #[arg(long, default_value_t = 1, requires = "seeded")]
    pub seed: u64,
    /// Requests per pool of the sweep.
    #[arg(long, default_value_t = 1000, requires = "sweep")]
    pub requests: usize,
    /// Time limit per instance and solver, seconds (default: each instance's own option, or
    /// 10; with `--roadef`, 300, the challenge's).
    #[arg(long, short = 't')]
    pub time_limit: Option<f64>,
    /// Solver threads.
    #[arg(long)]
    pub threads: Option<u32>,
    /// Print only the JSON document (no table on stderr).
    #[arg(long)]
    pub json: bool,
    /// Draw, per instance, the share of requests each solver places and the hosts it uses, as
    /// grouped bars in an SVG file.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
}

/// Runs the bench.
pub fn run(a: BenchArgs) -> i32 {
    if let Some(dir) = &a.roadef {
        return roadef_bench::run(&a, dir);
    }
    if a.reference.is_some() || a.answers.is_some() {
        return report(&[InputError::new(
            ErrorCode::Usage,
            "",
            "--reference and --answers go with --roadef DIR",
        )]);
    }
    let dir = match (&a.dir, a.sweep) {
        (_, Some(n)) => return run_sweep(&a, n),
        (Some(dir), None) => dir.clone(),
        (None, None) => {
            return report(&[InputError::new(
                ErrorCode::Usage,
                "",
                "give a directory of instances, or --sweep N",
            )])
        }
    };
    let files = match listed_instances(&dir) {
        Ok(files) => files,
        Err(errors) => return report(&errors),
    };
    let mut progress = super::progress::Progress::new(files.len(), "instances");
    if !a.json {
        progress = progress.silent_off_terminal();
        print_header(&progress);
    }
    let benched = bench_files(&a, files, &progress);
    progress.finish();
    write_bench(&a, benched, &progress)
}

/// The instance files of `dir`, or the error when there are none or it cannot be listed.
fn listed_instances(dir: &Path) -> Result<Vec<PathBuf>, Vec<InputError>> {
    match instance_files(dir) {
        Ok(f) if !f.is_empty() => Ok(f),
        Ok(_) => Err(vec![InputError::new(
            ErrorCode::Io,
            "",
            format!("no *.json instance in {}", dir.display()),
        )]),
        Err(e) => Err(vec![InputError::new(
            ErrorCode::Io,
            "",
            format!("cannot list {}: {e}", dir.display()),
        )]),
    }
}

/// The table's two header lines: the columns, then the solver each group of columns is for.
fn print_header(progress: &super::progress::Progress) {
    progress.line(&format!(
        "{:<34} {:>6} | {:>6} {:>6} {:>9} {:>7} {:>7} {:<10} | {:>6} {:>6} {:>7} | {:>6} {:>6} {:>7} | {:>6} {:>6} {:>6} | {:>6} {:>6} {:>9} {:>7}",
        "instance", "reqs", "placed", "hosts", "bound", "gap", "time_s", "status",
        "placed", "hosts", "time_s", "placed", "hosts", "time_s", "placed", "placed", "placed",
        "placed", "hosts", "bound", "time_s"
    ));
    progress.line(&format!(
        "{:<41} | {:^59} | {:^22} | {:^22} | {:^20} | {:^32}",
        "", "MIP (two phases)", "greedy", "greedy-retry", "openstack best-fit balanced", "joint"
    ));
}

/// What a bench over a folder gives: a row per problem, and the files that are not problems.
struct Benched {
    rows: Vec<BenchRow>,
    skipped: Vec<Skipped>,
}

/// Benches every file in turn, printing its row unless `--json`.
fn bench_files(
    a: &BenchArgs,
    files: Vec<PathBuf>,
    progress: &super::progress::Progress,
) -> Benched {
    let mut rows: Vec<BenchRow> = Vec::new();
    let mut skipped: Vec<Skipped> = Vec::new();
    for f in files {
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let problem = match super::read_input(&f).and_then(|t| read_problem(&t, Phase::Storage)) {
            Ok(p) => p,
            Err(errors) => {
                let skip = Skipped::new(name, errors);
                progress.line(&skip.warning());
                progress.inc(&skip.file);
                skipped.push(skip);
                continue;
            }
        };
        let overrides = Overrides {
            time_limit_s: a.time_limit,
            threads: a.threads,
            ..Default::default()
        };
        let s = vmplace_core::domain::settings::settings(&problem, &overrides);
        let row = bench_problem(&name, &problem, &s);
        if !a.json {
            print_row(progress, &row);
        }
        progress.inc(&name);
        rows.push(row);
    }
    Benched { rows, skipped }
}

/// One instance's line of the table, flagged when the checker found violations.
fn print_row(progress: &super::progress::Progress, row: &BenchRow) {
    let violations = [
        &row.mip,
        &row.greedy,
        &row.greedy_retry,
        &row.openstack,
        &row.best_fit,
        &row.balanced,
    ]
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
        "{:<34} {:>6} | {:>6} {:>6} {:>9.3} {:>7.4} {:>7.2} {:<10} | {:>6} {:>6} {:>7.2} | {:>6} {:>6} {:>7.2} | {:>6} {:>6} {:>6} | {}{}",
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
        row.openstack.placed,
        row.best_fit.placed,
        row.balanced.placed,
        joint,
        if violations > 0 { "  CHECKER VIOLATIONS" } else { "" }
    ));
}

/// The plot if asked, the joint summary line, then the JSON document on stdout; with no row,
/// the skipped files' errors instead.
fn write_bench(a: &BenchArgs, benched: Benched, progress: &super::progress::Progress) -> i32 {
    let Benched { rows, skipped } = benched;
    if rows.is_empty() {
        let errors = skipped.into_iter().flat_map(Skipped::into_errors);
        return report(&errors.collect::<Vec<_>>());
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
        "skipped": skipped,
        "peak_rss_mib": peak_rss_mib(),
    });
    match write_json(None, &doc) {
        Ok(()) => exit::OK,
        Err(e) => report(&e),
    }
}

/// A file of the folder that is not a problem document, left out of the bench.
#[derive(serde::Serialize)]
struct Skipped {
    /// Its name.
    file: String,
    /// Why it is not a problem: the reader's errors.
    errors: Vec<InputError>,
}

impl Skipped {
    fn new(file: String, errors: Vec<InputError>) -> Skipped {
        Skipped { file, errors }
    }

    /// The line on stderr.
    fn warning(&self) -> String {
        let first = self.errors.first().map_or(String::new(), |e| {
            format!(
                ": {} at {}: {}",
                e.code,
                if e.path.is_empty() { "/" } else { &e.path },
                e.cause
            )
        });
        let more = match self.errors.len() {
            0 | 1 => String::new(),
            n => format!(" (and {} more errors)", n - 1),
        };
        format!(
            "warning: skipped {}, not a problem document{first}{more}",
            self.file
        )
    }

    /// Its errors, the file named in their paths.
    fn into_errors(self) -> impl Iterator<Item = InputError> {
        let file = self.file;
        self.errors.into_iter().map(move |mut e| {
            e.path = format!("{file}:{}", e.path);
            e
        })
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
        if w > NOISE || (w > -NOISE && h < 0) {
            out.lost += 1;
            out.weight += w;
            out.hosts += h;
        }
    }
    out
}

/// The share of requests each solver placed, per instance.
/// The bench plot: grouped bars per instance (placed, hosts) for every solver.
fn plot(rows: &[BenchRow], path: &std::path::Path) -> Result<(), vmplace::plot::PlotError> {
    vmplace::plot::bench(rows, path)
}

/// `bench --sweep N`: N pools drawn at random, vmplace against the best heuristic and its bound.
fn run_sweep(a: &BenchArgs, n: usize) -> i32 {
    use vmplace::bench::sweep::{bench_pool, summarise};
    if n == 0 || a.requests == 0 {
        return report(&[InputError::new(
            ErrorCode::Usage,
            "",
            "--sweep and --requests must be at least 1",
        )]);
    }
    let mut progress = super::progress::Progress::new(n, "pools");
    if !a.json {
        progress = progress.silent_off_terminal();
    }
    if !a.json {
        progress.line(&format!(
            "{:<16} {:>6} {:>5} | {:>8} {:>8} {:>8} {:<18} | {:>7} {:>7} {:>6} {:>6}",
            "pool",
            "reqs",
            "hosts",
            "vmplace",
            "bound",
            "best",
            "best heuristic",
            "vs best",
            "vs bnd",
            "closed",
            "used"
        ));
    }
    let mut rows = Vec::with_capacity(n);
    for i in 0..n {
        let (problem, _axes) = vmplace_generate::sweep::sweep_pool(a.seed, i, a.requests);
        let name = format!("sweep-{}-{i}", a.seed);
        let text = match serde_json::to_string(&problem) {
            Ok(t) => t,
            Err(e) => return report(&[InputError::new(ErrorCode::Io, "", e.to_string())]),
        };
        let problem = match read_problem(&text, Phase::Storage) {
            Ok(p) => p,
            Err(es) => return report(&es),
        };
        let overrides = Overrides {
            time_limit_s: a.time_limit,
            threads: a.threads,
            ..Default::default()
        };
        let s = vmplace_core::domain::settings::settings(&problem, &overrides);
        let row = bench_pool(&name, &problem, &s);
        if !a.json {
            let best = row
                .baselines
                .iter()
                .max_by(|x, y| x.1.total_cmp(y.1))
                .map_or("-", |(k, _)| k.as_str());
            progress.line(&format!(
                "{:<16} {:>6} {:>5} | {:>8.0} {:>8.0} {:>8.0} {:<18} | {:>7.4} {:>7.4} {:>6.2} {:>6.2}{}",
                row.pool, row.requests, row.hosts, row.placed_weight, row.bound,
                row.best_baseline, best, row.vs_baseline, row.vs_bound, row.closed,
                row.time_s / row.limit_s.max(NOISE),
                if row.violations > 0 { "  CHECKER VIOLATIONS" } else { "" }
            ));
        }
        progress.inc(&name);
        rows.push(row);
    }
    progress.finish();
    let summary = summarise(&rows);
    if !a.json {
        progress.line(&format!(
            "{} pools: below the best heuristic on {}, rejected {}; vs best min/median/max {:.4}/{:.4}/{:.4}; vs bound {:.4}/{:.4}/{:.4}; limit used {:.2}/{:.2}/{:.2}",
            summary.pools, summary.below_baseline, summary.rejected,
            summary.vs_baseline.min, summary.vs_baseline.median, summary.vs_baseline.max,
            summary.vs_bound.min, summary.vs_bound.median, summary.vs_bound.max,
            summary.limit_used.min, summary.limit_used.median, summary.limit_used.max,
        ));
    }
    let doc = serde_json::json!({
        "rows": rows,
        "summary": summary,
        "peak_rss_mib": peak_rss_mib(),
    });
    match write_json(None, &doc) {
        Ok(()) => exit::OK,
        Err(e) => report(&e),
    }
}

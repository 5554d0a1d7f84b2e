//! `vmplace study --planetlab DIR... --policy A,B,C`: every day with every policy, in parallel.

use super::{exit, write_json};
use clap::Args;
use std::path::{Path, PathBuf};
use vmplace::study::{study, table, Day, StudyReport};
use vmplace_core::sim::{load_planetlab, SimPolicy, Workload};
use vmplace_wire::{errors::ErrorCode, InputError};

/// Arguments of `study`.
#[derive(Args, Debug)]
pub struct StudyArgs {
    /// Days: directories of PlanetLab trace files (one VM per file).
    #[arg(long, num_args = 1.., required = true)]
    pub planetlab: Vec<PathBuf>,
    /// Policies, comma-separated (names as for `simulate`).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "vmplace,lr-mmt-1.2,thr-mmt-0.8"
    )]
    pub policy: Vec<String>,
    /// The policy the ratios are taken to (default: the first).
    #[arg(long)]
    pub reference: Option<String>,
    /// `cloudsim` or `full`, as for `simulate`.
    #[arg(long, value_enum, default_value = "cloudsim")]
    pub workload: Workload,
    /// Hosts (alternating G4 and G5).
    #[arg(long, default_value_t = 800)]
    pub hosts: usize,
    /// Samples per trace (288 = one day).
    #[arg(long, default_value_t = 288)]
    pub samples: usize,
    /// Draw the energy of every policy and the floor, per day, as SVG.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
    /// Write the document here instead of stdout (its folder is checked before the study).
    #[arg(short = 'o', long)]
    pub output: Option<PathBuf>,
}

/// Runs the study.
pub fn run(a: StudyArgs) -> i32 {
    let mut errors = Vec::new();
    let chosen = chosen_policies(&a, &mut errors);
    if a.hosts == 0 || a.samples < 2 {
        errors.push(InputError::new(
            ErrorCode::Usage,
            "",
            "--hosts must be >= 1 and --samples >= 2",
        ));
    }
    let days = load_days(&a, &mut errors);
    errors.extend(super::output_errors(a.output.as_ref()));
    if !errors.is_empty() {
        return super::report(&errors);
    }
    let progress = super::progress::Progress::new(days.len() * chosen.policies.len(), "days");
    let report = study(
        &days,
        &chosen.policies,
        &chosen.reference,
        a.hosts,
        a.workload,
        &|day, policy| progress.inc(&format!("{day} {policy}")),
    );
    progress.finish();
    eprint!("{}", table(&report));
    if let Some(path) = &a.plot {
        if let Err(e) = plot_energy(&a, path, &days, &chosen.names, &report) {
            return super::report(&[InputError::new(ErrorCode::Io, "", e.to_string())]);
        }
    }
    match write_json(a.output.as_ref(), &report) {
        Ok(()) => exit::OK,
        Err(e) => super::report(&e),
    }
}

/// The policies of `--policy` and `--reference`, their names in lower case.
struct Chosen {
    /// Every name given, in order (also those that do not parse).
    names: Vec<String>,
    /// The names that parse, with their policy.
    policies: Vec<(String, SimPolicy)>,
    /// The policy the ratios are taken to.
    reference: String,
}

/// Reads `--policy` and `--reference`, adding an error for each name that is not a policy.
fn chosen_policies(a: &StudyArgs, errors: &mut Vec<InputError>) -> Chosen {
    let mut policies = Vec::new();
    // Policy names are case-insensitive: the lower-case name is the one the document uses.
    let names: Vec<String> = a.policy.iter().map(|n| n.to_ascii_lowercase()).collect();
    for name in &names {
        match name.parse::<SimPolicy>() {
            Ok(p) => policies.push((name.clone(), p)),
            Err(e) => errors.push(InputError::new(
                ErrorCode::Usage,
                "",
                format!("--policy {e}"),
            )),
        }
    }
    let reference = a
        .reference
        .as_ref()
        .map_or_else(|| names[0].clone(), |r| r.to_ascii_lowercase());
    if !names.contains(&reference) {
        errors.push(InputError::new(
            ErrorCode::Usage,
            "",
            format!("--reference {reference} is not one of --policy"),
        ));
    }
    Chosen {
        names,
        policies,
        reference,
    }
}

/// The days of `--planetlab`, adding an error for each folder that has no trace or cannot be read.
fn load_days(a: &StudyArgs, errors: &mut Vec<InputError>) -> Vec<Day> {
    let mut days = Vec::new();
    for dir in &a.planetlab {
        match load_planetlab(dir, a.samples) {
            Ok(traces) if !traces.is_empty() => days.push(Day {
                name: dir.file_name().map_or_else(
                    || dir.display().to_string(),
                    |n| n.to_string_lossy().to_string(),
                ),
                traces,
            }),
            Ok(_) => errors.push(InputError::new(
                ErrorCode::Io,
                "",
                format!("no trace files in {}", dir.display()),
            )),
            Err(e) => errors.extend(e),
        }
    }
    days
}

/// Draws every policy's energy per day, and the floor, as grouped bars in `path`.
fn plot_energy(
    a: &StudyArgs,
    path: &Path,
    days: &[Day],
    names: &[String],
    report: &StudyReport,
) -> Result<(), vmplace::plot::PlotError> {
    let categories: Vec<String> = days.iter().map(|d| d.name.clone()).collect();
    let energy = |policy: &str| -> Vec<f64> {
        categories
            .iter()
            .map(|d| {
                report
                    .rows
                    .iter()
                    .find(|r| &r.day == d && r.policy == policy)
                    .map_or(0.0, |r| r.energy_kwh)
            })
            .collect()
    };
    let mut series: Vec<(String, Vec<f64>)> =
        names.iter().map(|p| (p.clone(), energy(p))).collect();
    let floor: Vec<f64> = categories
        .iter()
        .map(|d| {
            report
                .rows
                .iter()
                .find(|r| &r.day == d)
                .map_or(0.0, |r| r.energy_floor_kwh)
        })
        .collect();
    series.push(("energy floor".into(), floor));
    let workload = serde_json::to_value(a.workload).unwrap_or_default();
    let title = format!(
        "Energy per day, {} hosts ({} workload)",
        a.hosts,
        workload.as_str().unwrap_or("")
    );
    vmplace::plot::compare(path, &title, &categories, "day", "energy (kWh)", &series)
}

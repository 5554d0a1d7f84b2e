//! `vmplace simulate --planetlab DIR [--policy NAME]`.

use super::{exit, write_json};
use clap::Args;
use std::path::PathBuf;
use vmplace_core::sim::{load_planetlab, simulate_with, state_at, SimPolicy, Workload};

/// Arguments of `simulate`.
#[derive(Args, Debug)]
pub struct SimulateArgs {
    /// Directory of PlanetLab trace files (one VM per file, 288 samples).
    #[arg(long)]
    pub planetlab: PathBuf,
    /// `dvfs`, or `<thr|iqr|mad|lr|lrr>-<mmt|mu|mc|rs>-<parameter>`, or `vmplace` (the round MIP,
    /// the default); case-insensitive (`LR-MMT-1.2`).
    #[arg(long, default_value = "vmplace")]
    pub policy: String,
    /// Hosts (alternating HP ProLiant ML110 G4 and G5).
    #[arg(long, default_value_t = 800)]
    pub hosts: usize,
    /// Samples per trace to replay (288 = one day).
    #[arg(long, default_value_t = 288)]
    pub samples: usize,
    /// `cloudsim`: a VM that asks for no CPU leaves for the rest of the day, as in CloudSim 3.0.3
    /// (comparable with its published figures); `full`: every VM runs all day.
    #[arg(long, value_enum, default_value = "cloudsim")]
    pub workload: Workload,
    /// Instead of the report, write the state document the monitor hands the planner at this
    /// step (1 <= STEP < samples), for `vmplace migrate`.
    #[arg(long, value_name = "STEP")]
    pub state_at: Option<usize>,
    /// Write the report here instead of stdout (its folder is checked before simulating).
    #[arg(short = 'o', long)]
    pub output: Option<PathBuf>,
    /// Also draw the per-interval series (hosts, migrations, power and the floor's) as SVG.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
}

/// What is wrong with the counts, before any trace is read or any step simulated: `--hosts 1e9`
/// aborted out of memory, and `--state-at 0` was refused only after the whole day (28 s; issue
/// 27, L6).
fn bad_counts(a: &SimulateArgs) -> Option<String> {
    if a.hosts == 0 || a.hosts > 1_000_000 || a.samples < 2 {
        return Some("--hosts must be between 1 and 1,000,000 and --samples >= 2".into());
    }
    match a.state_at {
        Some(step) if step == 0 || step >= a.samples => Some(format!(
            "--state-at {step}: the step must be between 1 and {} (--samples - 1)",
            a.samples - 1
        )),
        _ => None,
    }
}

/// Runs the simulation.
pub fn run(a: SimulateArgs) -> i32 {
    use vmplace_wire::{errors::ErrorCode, InputError};
    let policy: SimPolicy = match a.policy.parse() {
        Ok(p) => p,
        Err(e) => {
            return super::report(&[InputError::new(
                ErrorCode::Usage,
                "",
                format!("--policy {e}"),
            )])
        }
    };
    if let Some(why) = bad_counts(&a) {
        return super::report(&[InputError::new(ErrorCode::Usage, "", why)]);
    }
    let errors = super::output_errors(a.output.as_ref());
    if !errors.is_empty() {
        return super::report(&errors);
    }
    let traces = match load_planetlab(&a.planetlab, a.samples) {
        Ok(t) if !t.is_empty() => t,
        Ok(_) => {
            return super::report(&[InputError::new(
                ErrorCode::Io,
                "",
                format!("no trace files in {}", a.planetlab.display()),
            )])
        }
        Err(errors) => return super::report(&errors),
    };
    if let Some(step) = a.state_at {
        let Some(state) = state_at(&traces, a.hosts, &policy, a.workload, step) else {
            return super::report(&[InputError::new(
                ErrorCode::Usage,
                "",
                format!("--state-at {step}: the step must be in 1..{}", a.samples),
            )]);
        };
        return match write_json(a.output.as_ref(), &state) {
            Ok(()) => exit::OK,
            Err(e) => super::report(&e),
        };
    }
    let progress = super::progress::Progress::new(a.samples - 1, "rounds");
    let name = a.policy.to_ascii_lowercase();
    let report = simulate_with(&traces, a.hosts, &policy, &name, a.workload, &|step| {
        progress.inc(&format!("step {step}"))
    });
    progress.finish();
    if let Some(path) = &a.plot {
        if let Err(e) = vmplace::plot::day(&report, path) {
            return super::report(&[InputError::new(ErrorCode::Io, "", e.to_string())]);
        }
    }
    match write_json(a.output.as_ref(), &report) {
        Ok(()) => exit::OK,
        Err(e) => super::report(&e),
    }
}

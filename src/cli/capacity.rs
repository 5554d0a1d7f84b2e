//! `vmplace capacity POOL --flavor name=m.large,cpu=4,memory_gib=16,disk_gib=80 --fail host:h3`:
//! how many more VMs of each flavor fit, and whether the VMs of failed hosts restart elsewhere.

use super::solve::{Limits, PolicyArg, SolveArgs, SolverArg};
use super::{exit, read_input, report, write_json};
use clap::Args;
use std::path::PathBuf;
use vmplace_core::capacity::{Flavor, Query};
use vmplace_core::placement::RunConfig;
use vmplace_wire::{errors::ErrorCode, Flag, InputError};

/// Arguments of `capacity`.
#[derive(Args, Debug)]
pub struct CapacityArgs {
    /// The pool: a problem document, whose `requests` (placed first, by both phases) may be
    /// empty or absent, or a migration state document (`-` for stdin).
    pub pool: PathBuf,
    /// Write the report here instead of stdout (its folder is checked before counting).
    #[arg(short = 'o', long)]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub limits: Limits,
    /// Solver that places the pool's own `requests` (case-insensitive).
    #[arg(long, value_enum, ignore_case = true)]
    pub solver: Option<SolverArg>,
    /// Storage phase objective when placing the pool's own `requests`.
    #[arg(long, value_enum, ignore_case = true)]
    pub storage_policy: Option<PolicyArg>,
    /// Host phase objective when placing the pool's own `requests`.
    #[arg(long, value_enum, ignore_case = true)]
    pub host_policy: Option<PolicyArg>,
    /// A flavor: `name=NAME,disk_gib=G,RESOURCE=AMOUNT,...` (repeat for several).
    #[arg(long = "flavor", required_unless_present = "fails")]
    pub flavors: Vec<String>,
    /// Hosts that fail: `host:ID`, `label:KEY=VALUE` (together, repeat for several), or each
    /// host (`any-host`) or each value of a label (`any:rack`) in turn.
    #[arg(long = "fail")]
    pub fails: Vec<String>,
    /// How many sets of the flavors fit together, in this ratio (`3:1`: three of the first
    /// flavor and one of the second per set).
    #[arg(long)]
    pub mix: Option<String>,
    /// What fits largest first: the one flavor, then smaller ones, each shrunk on one resource
    /// (as Ganeti's `hspace --tiered`).
    #[arg(long)]
    pub tiered: bool,
}

/// Parses one `--flavor`.
fn flavor(i: usize, text: &str) -> Result<Flavor, InputError> {
    let bad = |why: String| InputError::new(ErrorCode::Usage, Flag::Flavor(i + 1), why);
    let mut f = Flavor {
        name: String::new(),
        demand: Default::default(),
        disk_gib: 0.0,
    };
    for part in text.split(',') {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| bad(format!("`{part}` is not KEY=VALUE")))?;
        if k == "name" {
            f.name = v.to_string();
            continue;
        }
        let x: f64 = v
            .parse()
            .ok()
            .filter(|x: &f64| x.is_finite() && *x >= 0.0)
            .ok_or_else(|| bad(format!("{k}={v}: not an amount >= 0")))?;
        if k == "disk_gib" {
            f.disk_gib = x;
        } else {
            f.demand.insert(k.to_string(), x);
        }
    }
    if f.name.is_empty() {
        return Err(bad("the flavor needs name=NAME".into()));
    }
    Ok(f)
}

/// Parses `--mix 3:1`.
fn ratio(text: &str) -> Result<Vec<usize>, InputError> {
    text.split(':')
        .map(|p| p.trim().parse::<usize>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| {
            InputError::new(
                ErrorCode::BadMix,
                Flag::Mix,
                format!("`{text}` is not whole numbers separated by `:`"),
            )
        })
}

/// Runs the count and the failure check.
pub fn run(a: CapacityArgs) -> i32 {
    let flavors = a.flavors.iter().enumerate().map(|(i, t)| flavor(i, t));
    let fails = a
        .fails
        .iter()
        .enumerate()
        .map(|(i, t)| vmplace_server::api::fail_spec(i, t));
    let mut errors: Vec<InputError> = flavors.clone().filter_map(Result::err).collect();
    errors.extend(super::solve::limit_errors(&a.limits));
    errors.extend(super::output_errors(a.output.as_ref()));
    errors.extend(fails.clone().filter_map(Result::err));
    let mix = a.mix.as_deref().map(ratio).transpose();
    if let Err(e) = &mix {
        errors.push(e.clone());
    }
    if !errors.is_empty() {
        return report(&errors);
    }
    let q = Query {
        flavors: flavors.filter_map(Result::ok).collect(),
        fails: fails.filter_map(Result::ok).collect(),
        mix: mix.ok().flatten(),
        tiered: a.tiered,
    };
    let text = match read_input(&a.pool) {
        Ok(t) => t,
        Err(e) => return report(&e),
    };
    let cfg = RunConfig::default();
    let overrides = SolveArgs {
        limits: a.limits.clone(),
        solver: a.solver,
        storage_policy: a.storage_policy,
        host_policy: a.host_policy,
        ..Default::default()
    }
    .overrides();
    let spinner = super::progress::Spinner::start("counting");
    let counted = vmplace_server::api::capacity_text(&text, &q, &overrides, &cfg);
    spinner.finish();
    match counted {
        Ok(r) => match write_json(a.output.as_ref(), &r) {
            Ok(()) => exit::OK,
            Err(e) => report(&e),
        },
        Err(e) => report(&e),
    }
}

//! `vmplace storage|host|place FILE`.

use super::{encode_error, exit, read_input, report, write_bytes};
use clap::Args;
use std::path::PathBuf;
use vmplace::format::{Objective, SolverKind};
use vmplace::placement::{Mode, RunConfig};
use vmplace::service::api::Overrides;

/// Flags shared by the solving subcommands.
#[derive(Args, Debug, Clone, Default)]
pub struct SolveArgs {
    /// Problem document (`-` for stdin).
    pub file: PathBuf,
    /// Write the solution here instead of stdout.
    #[arg(short = 'o', long)]
    pub output: Option<PathBuf>,
    /// Wall-clock limit in seconds (overrides `options.time_limit_s`).
    #[arg(long)]
    pub time_limit: Option<f64>,
    /// Relative MIP gap (overrides `options.mip_gap`).
    #[arg(long)]
    pub gap: Option<f64>,
    /// Solver threads (overrides `options.threads`).
    #[arg(long)]
    pub threads: Option<u32>,
    /// `mip` (default), `greedy`, `greedy-retry` or `joint`.
    #[arg(long, value_enum)]
    pub solver: Option<SolverArg>,
    /// Storage and host in one MIP (`--solver joint`).
    #[arg(long, conflicts_with = "solver")]
    pub joint: bool,
    /// Storage phase objective.
    #[arg(long, value_enum)]
    pub storage_policy: Option<PolicyArg>,
    /// Host phase objective.
    #[arg(long, value_enum)]
    pub host_policy: Option<PolicyArg>,
    /// Write the exact MIP (`.lp` or `.mps`) here; `place` writes NAME.storage.lp and NAME.host.lp.
    #[arg(long)]
    pub write_model: Option<PathBuf>,
}

/// `--solver`.
#[derive(clap::ValueEnum, Debug, Clone, Copy)]
pub enum SolverArg {
    /// MIP on HiGHS.
    Mip,
    /// Greedy baseline (today's schedulers: storage blind to hosts, then hosts).
    Greedy,
    /// Greedy with retries over storage systems.
    GreedyRetry,
    /// Storage and host in one MIP (`place` only; past its size limit the two phases answer).
    Joint,
    /// OpenStack's default with retries: storage by most free space, host by most free RAM.
    Openstack,
    /// Storage by most free space, host by best fit, with retries.
    BestFit,
    /// Storage by most free space, host by balanced fit, with retries.
    Balanced,
}

/// `--storage-policy` / `--host-policy`.
#[derive(clap::ValueEnum, Debug, Clone, Copy)]
pub enum PolicyArg {
    /// Minimise the highest utilisation.
    Balance,
    /// Use as few systems as possible.
    Pack,
}

impl From<PolicyArg> for Objective {
    fn from(p: PolicyArg) -> Self {
        match p {
            PolicyArg::Balance => Objective::Balance,
            PolicyArg::Pack => Objective::Pack,
        }
    }
}

impl SolveArgs {
    /// The flags that override the document's options.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            time_limit_s: self.time_limit,
            max_time_limit_s: None,
            mip_gap: self.gap,
            threads: self.threads,
            solver: self
                .solver
                .map(|k| match k {
                    SolverArg::Mip => SolverKind::Mip,
                    SolverArg::Greedy => SolverKind::Greedy,
                    SolverArg::GreedyRetry => SolverKind::GreedyRetry,
                    SolverArg::Joint => SolverKind::Joint,
                    SolverArg::Openstack => SolverKind::Openstack,
                    SolverArg::BestFit => SolverKind::BestFit,
                    SolverArg::Balanced => SolverKind::Balanced,
                })
                .or(self.joint.then_some(SolverKind::Joint)),
            storage_policy: self.storage_policy.map(Objective::from),
            host_policy: self.host_policy.map(Objective::from),
        }
    }
}

fn flag_errors(a: &SolveArgs) -> Vec<vmplace::format::InputError> {
    use vmplace::format::errors::ErrorCode;
    use vmplace::format::InputError;
    let mut e = Vec::new();
    if a.time_limit
        .is_some_and(|t| t.is_nan() || t <= 0.0 || t.is_infinite())
    {
        e.push(InputError::new(
            ErrorCode::Usage,
            "",
            "--time-limit must be a positive number of seconds",
        ));
    }
    if a.gap.is_some_and(|g| !(0.0..=1.0).contains(&g)) {
        e.push(InputError::new(
            ErrorCode::Usage,
            "",
            "--gap must be between 0 and 1",
        ));
    }
    // The same range as the document's `options.threads`.
    if a.threads.is_some_and(|t| !(1..=256).contains(&t)) {
        e.push(InputError::new(
            ErrorCode::Usage,
            "",
            "--threads must be between 1 and 256",
        ));
    }
    if let Some(path) = &a.write_model {
        e.extend(model_path_errors(path));
    }
    e
}

/// `--write-model` is checked before solving: HiGHS writes only `.lp` and `.mps` files, and
/// crashes on a folder that does not exist.
fn model_path_errors(path: &std::path::Path) -> Vec<vmplace::format::InputError> {
    use vmplace::format::errors::ErrorCode;
    use vmplace::format::InputError;
    let mut e = Vec::new();
    let ext = path.extension().and_then(|x| x.to_str()).unwrap_or("");
    if ext != "lp" && ext != "mps" {
        e.push(InputError::new(
            ErrorCode::Usage,
            "",
            format!(
                "--write-model {}: the file must end in .lp or .mps",
                path.display()
            ),
        ));
    }
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => std::path::Path::new("."),
    };
    if !folder.is_dir() {
        e.push(InputError::new(
            ErrorCode::Io,
            "",
            format!(
                "--write-model {}: the folder {} does not exist",
                path.display(),
                folder.display()
            ),
        ));
    } else if let Err(cause) = writable(path) {
        // HiGHS writes to a NULL file where it cannot open one (a segfault on `/proc/m.lp`).
        e.push(InputError::new(
            ErrorCode::Io,
            "",
            format!(
                "--write-model {}: cannot write there: {cause}",
                path.display()
            ),
        ));
    }
    e
}

/// Whether `path` can be written: opened for writing (created, then removed again, if it was
/// not there), before HiGHS is asked to write it.
fn writable(path: &std::path::Path) -> std::io::Result<()> {
    let existed = path.exists();
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)?;
    if !existed {
        std::fs::remove_file(path)?;
    }
    Ok(())
}

/// Runs one solving subcommand.
pub fn run(a: SolveArgs, mode: Mode) -> i32 {
    let errors = flag_errors(&a);
    if !errors.is_empty() {
        return report(&errors);
    }
    let text = match read_input(&a.file) {
        Ok(t) => t,
        Err(e) => return report(&e),
    };
    let cfg = RunConfig {
        write_model: a.write_model.clone(),
        cancel: None,
        started: None,
    };
    let mut solution = match vmplace::service::api::solve_text(&text, mode, &a.overrides(), &cfg) {
        Ok(s) => s,
        Err(e) => return report(&e),
    };
    tracing::info!(status = ?solution.status, placed = solution.stats.placed, "solved");
    let written = vmplace::service::api::encode_solution(&mut solution, true)
        .map_err(encode_error)
        .and_then(|text| write_bytes(a.output.as_ref(), text));
    match written {
        Ok(()) => exit::OK,
        Err(e) => report(&e),
    }
}

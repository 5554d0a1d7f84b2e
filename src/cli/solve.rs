//! `vmplace storage|host|place FILE`.

use super::{encode_error, exit, read_input, report, write_bytes};
use clap::Args;
use std::path::PathBuf;
use vmplace_core::domain::settings::Overrides;
use vmplace_core::placement::{Mode, RunConfig};
use vmplace_wire::{Objective, SolverKind};

/// The document in and the answer out, of `storage`, `host` and `place`.
#[derive(Args, Debug, Clone, Default)]
pub struct ProblemIo {
    /// Problem document (`-` for stdin).
    #[arg(value_name = "PROBLEM")]
    pub file: PathBuf,
    /// Write the solution here instead of stdout (its folder is checked before solving).
    #[arg(short = 'o', long)]
    pub output: Option<PathBuf>,
}

/// The solver's limits, shared by every subcommand that solves placements.
#[derive(Args, Debug, Clone, Default)]
pub struct Limits {
    /// Wall-clock limit in seconds (wins over the document's `options.time_limit_s`; default 10).
    #[arg(long)]
    pub time_limit: Option<f64>,
    /// Relative MIP gap (wins over `options.mip_gap`).
    #[arg(long)]
    pub gap: Option<f64>,
    /// Solver threads (wins over `options.threads`).
    #[arg(long)]
    pub threads: Option<u32>,
}

/// `vmplace storage`: phase 1.
#[derive(Args, Debug, Clone)]
pub struct StorageArgs {
    #[command(flatten)]
    io: ProblemIo,
    #[command(flatten)]
    limits: Limits,
    /// Solver (case-insensitive; `joint` answers as `mip` here).
    #[arg(long, value_enum, ignore_case = true)]
    solver: Option<SolverArg>,
    /// Storage phase objective (wins over `options.storage_policy`).
    #[arg(long, value_enum, ignore_case = true)]
    storage_policy: Option<PolicyArg>,
    /// Host phase objective, which phase 1 looks ahead to (wins over `options.host_policy`).
    #[arg(long, value_enum, ignore_case = true)]
    host_policy: Option<PolicyArg>,
    /// Write the storage phase's exact MIP (`.lp` or `.mps`) here.
    #[arg(long)]
    write_model: Option<PathBuf>,
}

/// `vmplace host`: phase 2.
#[derive(Args, Debug, Clone)]
pub struct HostArgs {
    #[command(flatten)]
    io: ProblemIo,
    /// Phase 1's answer to PROBLEM (what `vmplace storage PROBLEM` wrote). Each request it placed
    /// gets its storage, and its image is counted in that storage's `used_gib`: PROBLEM is phase
    /// 1's own input, and the images are written between the phases. Requests phase 1 left
    /// unplaced are not placed, and the answer lists them in `unplaced` with phase 1's reason.
    /// Without this flag every request must carry `storage`, with its image already counted.
    #[arg(long, value_name = "STORAGE_ANSWER")]
    storage_from: Option<PathBuf>,
    #[command(flatten)]
    limits: Limits,
    /// Solver (case-insensitive; `joint` answers as `mip` here).
    #[arg(long, value_enum, ignore_case = true)]
    solver: Option<SolverArg>,
    /// Host phase objective (wins over `options.host_policy`).
    #[arg(long, value_enum, ignore_case = true)]
    host_policy: Option<PolicyArg>,
    /// Write the host phase's exact MIP (`.lp` or `.mps`) here.
    #[arg(long)]
    write_model: Option<PathBuf>,
}

/// `vmplace place`: both phases.
#[derive(Args, Debug, Clone)]
pub struct PlaceArgs {
    #[command(flatten)]
    io: ProblemIo,
    #[command(flatten)]
    limits: Limits,
    /// Solver (case-insensitive).
    #[arg(long, value_enum, ignore_case = true)]
    solver: Option<SolverArg>,
    /// Storage and host in one MIP (the same as `--solver joint`).
    #[arg(long, conflicts_with = "solver")]
    joint: bool,
    /// Storage phase objective (wins over `options.storage_policy`).
    #[arg(long, value_enum, ignore_case = true)]
    storage_policy: Option<PolicyArg>,
    /// Host phase objective (wins over `options.host_policy`).
    #[arg(long, value_enum, ignore_case = true)]
    host_policy: Option<PolicyArg>,
    /// Write the exact MIPs (`.lp` or `.mps`): `m.lp` gives `m.storage.lp` and `m.host.lp`.
    #[arg(long)]
    write_model: Option<PathBuf>,
}

/// What a solving subcommand was asked, whichever it is.
#[derive(Debug, Clone, Default)]
pub struct SolveArgs {
    /// The documents.
    pub io: ProblemIo,
    /// The limits.
    pub limits: Limits,
    /// `--solver`.
    pub solver: Option<SolverArg>,
    /// `--joint`.
    pub joint: bool,
    /// `--storage-policy`.
    pub storage_policy: Option<PolicyArg>,
    /// `--host-policy`.
    pub host_policy: Option<PolicyArg>,
    /// `--write-model`.
    pub write_model: Option<PathBuf>,
    /// `host --storage-from`.
    pub storage_from: Option<PathBuf>,
}

impl From<StorageArgs> for SolveArgs {
    fn from(a: StorageArgs) -> Self {
        SolveArgs {
            io: a.io,
            limits: a.limits,
            solver: a.solver,
            storage_policy: a.storage_policy,
            host_policy: a.host_policy,
            write_model: a.write_model,
            ..Default::default()
        }
    }
}

impl From<HostArgs> for SolveArgs {
    fn from(a: HostArgs) -> Self {
        SolveArgs {
            io: a.io,
            limits: a.limits,
            solver: a.solver,
            host_policy: a.host_policy,
            write_model: a.write_model,
            storage_from: a.storage_from,
            ..Default::default()
        }
    }
}

impl From<PlaceArgs> for SolveArgs {
    fn from(a: PlaceArgs) -> Self {
        SolveArgs {
            io: a.io,
            limits: a.limits,
            solver: a.solver,
            joint: a.joint,
            storage_policy: a.storage_policy,
            host_policy: a.host_policy,
            write_model: a.write_model,
            storage_from: None,
        }
    }
}

/// `--solver`.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
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
    /// Spread the load: minimise the highest utilisation.
    Balance,
    /// Use as few storage systems (or, for hosts, as few hosts) as possible.
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
            time_limit_s: self.limits.time_limit,
            max_time_limit_s: None,
            mip_gap: self.limits.gap,
            threads: self.limits.threads,
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

fn flag_errors(a: &SolveArgs) -> Vec<vmplace_wire::InputError> {
    let mut e = limit_errors(&a.limits);
    if let Some(path) = &a.write_model {
        e.extend(model_path_errors(path));
    }
    e.extend(super::output_errors(a.io.output.as_ref()));
    e
}

/// What is wrong with `--time-limit`, `--gap` and `--threads`.
pub fn limit_errors(a: &Limits) -> Vec<vmplace_wire::InputError> {
    use vmplace_wire::errors::ErrorCode;
    use vmplace_wire::InputError;
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
    e
}

/// `--write-model` is checked before solving: HiGHS writes only `.lp` and `.mps` files, and
/// crashes on a folder that does not exist.
fn model_path_errors(path: &std::path::Path) -> Vec<vmplace_wire::InputError> {
    use vmplace_wire::errors::ErrorCode;
    use vmplace_wire::InputError;
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
pub fn writable(path: &std::path::Path) -> std::io::Result<()> {
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
    let text = match read_input(&a.io.file) {
        Ok(t) => t,
        Err(e) => return report(&e),
    };
    let answer = match a.storage_from.as_ref().map(|p| read_input(p)).transpose() {
        Ok(t) => t,
        Err(e) => return report(&e),
    };
    let cfg = RunConfig {
        write_model: a.write_model.clone(),
        ..RunConfig::default()
    };
    let spinner = super::progress::Spinner::start(match mode {
        Mode::Storage => "storage phase",
        Mode::Host => "host phase",
        Mode::Place => "placing",
    });
    let solved = match &answer {
        Some(answer) => vmplace_core::placement::storage_from::solve_host_from_texts(
            &text,
            answer,
            &a.overrides(),
            &cfg,
        ),
        None => vmplace_server::api::solve_text(&text, mode, &a.overrides(), &cfg),
    };
    spinner.finish();
    let mut solution = match solved {
        Ok(s) => s,
        Err(e) => return report(&e),
    };
    tracing::info!(status = ?solution.status, placed = solution.stats.placed, "solved");
    let written = vmplace_server::api::encode_solution(&mut solution, true)
        .map_err(encode_error)
        .and_then(|text| write_bytes(a.io.output.as_ref(), text));
    match written {
        Ok(()) => exit::OK,
        Err(e) => report(&e),
    }
}

//! `vmplace iallocator FILE`: vmplace as a Ganeti IAllocator. Ganeti reads the answer on
//! stdout; a document vmplace cannot read is a general failure (exit 2), with the protocol's
//! failure answer still on stdout.

use super::solve::{Limits, PolicyArg, SolveArgs, SolverArg};
use super::{exit, read_input, report, write_json};
use clap::Args;
use std::path::PathBuf;
use vmplace_core::placement::RunConfig;

/// Arguments of `iallocator`.
#[derive(Args, Debug)]
pub struct IallocatorArgs {
    /// Ganeti's IAllocator request (`-` for stdin); with `--from-problem`, a vmplace problem.
    pub file: PathBuf,
    /// Write the answer here instead of stdout (Ganeti reads stdout).
    #[arg(short = 'o', long)]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub limits: Limits,
    /// Solver (case-insensitive).
    #[arg(long, value_enum, ignore_case = true)]
    pub solver: Option<SolverArg>,
    /// Host objective: `pack` fills nodes, `balance` spreads the load.
    #[arg(long, value_enum, ignore_case = true)]
    pub host_policy: Option<PolicyArg>,
    /// FILE is a vmplace problem: print it as a Ganeti `multi-allocate` document instead (to
    /// run hail and vmplace on the same cluster).
    #[arg(long)]
    pub from_problem: bool,
}

/// Runs the allocator (or the converter).
pub fn run(a: IallocatorArgs) -> i32 {
    let mut errors = super::solve::limit_errors(&a.limits);
    errors.extend(super::output_errors(a.output.as_ref()));
    if !errors.is_empty() {
        return fail(&errors);
    }
    let text = match read_input(&a.file) {
        Ok(t) => t,
        Err(e) => return fail(&e),
    };
    if a.from_problem {
        return match vmplace_core::validation::read_problem(
            &text,
            vmplace_core::validation::Phase::Storage,
        ) {
            Ok(p) => match write_json(a.output.as_ref(), &vmplace_ganeti::export::to_ganeti(&p)) {
                Ok(()) => exit::OK,
                Err(e) => report(&e),
            },
            Err(e) => report(&e),
        };
    }
    let cfg = RunConfig::default();
    let overrides = SolveArgs {
        limits: a.limits.clone(),
        solver: a.solver,
        host_policy: a.host_policy,
        ..Default::default()
    }
    .overrides();
    match vmplace_server::api::iallocator_text(&text, &overrides, &cfg) {
        Ok((response, _)) => match write_json(a.output.as_ref(), &response) {
            Ok(()) => exit::OK,
            Err(e) => report(&e),
        },
        Err(e) => fail(&e),
    }
}

/// The protocol's failure answer on stdout, the errors on stderr, exit 2.
pub fn fail(errors: &[vmplace_wire::InputError]) -> i32 {
    super::summarize(errors);
    let _ = write_json(None, &vmplace_ganeti::bad_input(errors));
    exit::BAD_INPUT
}

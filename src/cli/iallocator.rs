//! `vmplace iallocator FILE`: vmplace as a Ganeti IAllocator. Ganeti reads the answer on
//! stdout; a document vmplace cannot read is a general failure (exit 2), with the protocol's
//! failure answer still on stdout.

use super::solve::SolveArgs;
use super::{exit, read_input, report, write_json};
use clap::Args;
use vmplace::placement::RunConfig;

/// Arguments of `iallocator`.
#[derive(Args, Debug)]
pub struct IallocatorArgs {
    /// The input document, and the solver flags of `vmplace place` (`--host-policy pack`...).
    #[command(flatten)]
    pub solve: SolveArgs,
    /// FILE is a vmplace problem: print it as a Ganeti `multi-allocate` document instead (to
    /// run hail and vmplace on the same cluster).
    #[arg(long)]
    pub from_problem: bool,
}

/// Runs the allocator (or the converter).
pub fn run(a: IallocatorArgs) -> i32 {
    let text = match read_input(&a.solve.file) {
        Ok(t) => t,
        Err(e) => return fail(&e),
    };
    if a.from_problem {
        return match vmplace::validation::read_problem(&text, vmplace::validation::Phase::Storage) {
            Ok(p) => match write_json(
                a.solve.output.as_ref(),
                &vmplace::ganeti::export::to_ganeti(&p),
            ) {
                Ok(()) => exit::OK,
                Err(e) => report(&e),
            },
            Err(e) => report(&e),
        };
    }
    let cfg = RunConfig::default();
    match vmplace::service::api::iallocator_text(&text, &a.solve.overrides(), &cfg) {
        Ok((response, _)) => match write_json(a.solve.output.as_ref(), &response) {
            Ok(()) => exit::OK,
            Err(e) => report(&e),
        },
        Err(e) => fail(&e),
    }
}

/// The protocol's failure answer on stdout, the errors on stderr, exit 2.
pub fn fail(errors: &[vmplace::format::InputError]) -> i32 {
    super::summarize(errors);
    let _ = write_json(None, &vmplace::ganeti::bad_input(errors));
    exit::BAD_INPUT
}

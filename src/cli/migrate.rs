//! `vmplace migrate STATE`: one monitoring round's migration plan.

use super::{exit, read_input, report, write_json};
use clap::Args;
use std::path::PathBuf;

/// Arguments of `migrate`.
#[derive(Args, Debug)]
pub struct MigrateArgs {
    /// State document (`-` for stdin).
    pub file: PathBuf,
    /// Write the plan here instead of stdout.
    #[arg(short = 'o', long)]
    pub output: Option<PathBuf>,
}

/// Plans one round.
pub fn run(a: MigrateArgs) -> i32 {
    let text = match read_input(&a.file) {
        Ok(t) => t,
        Err(e) => return report(&e),
    };
    let plan = match vmplace::service::api::migrate_text(&text) {
        Ok(p) => p,
        Err(e) => return report(&e),
    };
    match write_json(a.output.as_ref(), &plan) {
        Ok(()) => exit::OK,
        Err(e) => report(&e),
    }
}

//! `vmplace migrate STATE`: one monitoring round's migration plan.

use super::{exit, read_input, report, write_json};
use clap::Args;
use std::path::PathBuf;

/// Arguments of `migrate`.
#[derive(Args, Debug)]
pub struct MigrateArgs {
    /// State document (`-` for stdin).
    pub file: PathBuf,
    /// Instead of planning, order this plan's moves (made for STATE, by vmplace or elsewhere)
    /// into safe waves: `steps`, pivots in `via` (at most one per move), and the moves no safe
    /// order runs in `stats.dropped` (`NO_SAFE_ORDER`).
    #[arg(long, value_name = "PLAN")]
    pub sequence: Option<PathBuf>,
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
    let planned = match &a.sequence {
        Some(path) => {
            read_input(path).and_then(|plan| vmplace::service::api::sequence_texts(&text, &plan))
        }
        None => vmplace::service::api::migrate_text(&text),
    };
    let plan = match planned {
        Ok(p) => p,
        Err(e) => return report(&e),
    };
    match write_json(a.output.as_ref(), &plan) {
        Ok(()) => exit::OK,
        Err(e) => report(&e),
    }
}

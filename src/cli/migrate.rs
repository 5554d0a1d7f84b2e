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
    /// Write the plan here instead of stdout (its folder is checked before planning).
    #[arg(short = 'o', long)]
    pub output: Option<PathBuf>,
    /// Wall-clock limit of the round in seconds, from the call's start (wins over the state's
    /// `policy.time_limit_s`; not with `--sequence`).
    #[arg(long, conflicts_with = "sequence")]
    pub time_limit: Option<f64>,
}

/// Plans one round.
pub fn run(a: MigrateArgs) -> i32 {
    let limits = super::solve::Limits {
        time_limit: a.time_limit,
        ..Default::default()
    };
    let mut errors = super::solve::limit_errors(&limits);
    errors.extend(super::output_errors(a.output.as_ref()));
    if !errors.is_empty() {
        return report(&errors);
    }
    let text = match read_input(&a.file) {
        Ok(t) => t,
        Err(e) => return report(&e),
    };
    let planned = match &a.sequence {
        Some(path) => {
            read_input(path).and_then(|plan| vmplace_server::api::sequence_texts(&text, &plan))
        }
        None => plan(&text, a.time_limit),
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

/// Plans one round, with the time limit of the flag when there is one.
fn plan(
    text: &str,
    time_limit: Option<f64>,
) -> Result<vmplace_wire::state::Plan, Vec<vmplace_wire::InputError>> {
    let started = std::time::Instant::now();
    let state = vmplace_core::validation::read_state(text)?;
    let mut policy = vmplace_core::migration::RoundPolicy::from_state(&state);
    policy.clock.started = Some(started);
    if let Some(t) = time_limit {
        policy.time_limit_s = t;
    }
    let spinner = super::progress::Spinner::start("planning");
    let plan = vmplace_core::migration::plan_checked(&state, &policy);
    spinner.finish();
    plan
}

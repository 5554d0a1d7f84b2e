//! A call's settings: the document's `options`, then what was given outside it (CLI flags,
//! server limits) on top, then the server's cap on the time limit. Below every transport, so
//! that the CLI, the HTTP service and the adapters resolve them alike.

use super::Settings;
use vmplace_wire::{Objective, Problem, SolverKind, TimeLimitCap};

/// Settings given outside the document (CLI flags, server limits); they win over `options`.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// Time limit, seconds.
    pub time_limit_s: Option<f64>,
    /// Upper bound on the time limit (the server's maximum), applied last.
    pub max_time_limit_s: Option<f64>,
    /// Relative MIP gap.
    pub mip_gap: Option<f64>,
    /// Threads.
    pub threads: Option<u32>,
    /// Solver.
    pub solver: Option<SolverKind>,
    /// Storage policy.
    pub storage_policy: Option<Objective>,
    /// Host policy.
    pub host_policy: Option<Objective>,
}

/// Document options, then overrides on top, then the cap.
pub fn settings(problem: &Problem, o: &Overrides) -> Settings {
    settings_capped(problem, o).0
}

/// [`settings`], and the cap on the time limit when `o.max_time_limit_s` lowered it (the answer
/// says so in `stats.time_limit_capped`).
pub fn settings_capped(problem: &Problem, o: &Overrides) -> (Settings, Option<TimeLimitCap>) {
    let mut s = Settings::default();
    if let Some(opt) = &problem.options {
        s.time_limit_s = opt.time_limit_s.unwrap_or(s.time_limit_s);
        s.mip_gap = opt.mip_gap.unwrap_or(s.mip_gap);
        s.threads = opt.threads.unwrap_or(s.threads);
        s.storage_policy = opt.storage_policy.unwrap_or(s.storage_policy);
        s.host_policy = opt.host_policy.unwrap_or(s.host_policy);
        s.flexibility_weight = opt.flexibility_weight.unwrap_or(s.flexibility_weight);
        s.solver = opt.solver.unwrap_or(s.solver);
    }
    let (limit_s, cap) =
        TimeLimitCap::apply(o.time_limit_s.unwrap_or(s.time_limit_s), o.max_time_limit_s);
    s.time_limit_s = limit_s;
    s.mip_gap = o.mip_gap.unwrap_or(s.mip_gap);
    s.threads = o.threads.unwrap_or(s.threads);
    s.solver = o.solver.unwrap_or(s.solver);
    s.storage_policy = o.storage_policy.unwrap_or(s.storage_policy);
    s.host_policy = o.host_policy.unwrap_or(s.host_policy);
    (s, cap)
}

//! The solution document: what vmplace answers.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Honest statement of solution quality.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Proven optimal (within the requested gap).
    Optimal,
    /// A valid answer without an optimality proof (e.g. the greedy solver).
    Feasible,
    /// The time limit was reached; the answer is the best found, see `gap`.
    TimeLimit,
    /// Nothing could be placed.
    Infeasible,
}

/// The answer to a placement problem.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Solution {
    /// Quality of the answer.
    pub status: Status,
    /// Objective of the last phase (lower is better), as defined in models/.
    pub objective: f64,
    /// Proven lower bound on that objective (equal to `objective` when optimal).
    pub bound: f64,
    /// Relative gap `(objective - bound) / max(|objective|, 1e-9)`, 0 when optimal.
    pub gap: f64,
    /// One entry per placed request.
    pub placements: Vec<Placement>,
    /// One entry per request that could not be placed, with the reason.
    pub unplaced: Vec<Unplaced>,
    /// Solve statistics and utilisation.
    #[serde(default)]
    pub stats: Stats,
}

/// Where one request goes.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Placement {
    /// Request id.
    pub request: String,
    /// Storage system for the disk image.
    pub storage: String,
    /// Host that runs the VM; absent after phase 1 alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

/// A request that was not placed.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Unplaced {
    /// Request id.
    pub request: String,
    /// Machine-readable reason code (see README).
    pub code: String,
    /// Human explanation naming the binding constraint.
    pub reason: String,
}

/// Statistics of one solve.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Default)]
pub struct Stats {
    /// Solver that produced the answer (`mip`, `greedy`, `mip+greedy-fallback`...).
    #[serde(default)]
    pub solver: String,
    /// Wall-clock time of the whole call, in seconds.
    #[serde(default)]
    pub solve_time_s: f64,
    /// Requests placed.
    #[serde(default)]
    pub placed: usize,
    /// Requests in the problem.
    #[serde(default)]
    pub requests: usize,
    /// One entry per phase that ran.
    #[serde(default)]
    pub phases: Vec<PhaseStats>,
    /// Storage utilisation after placement: id -> used / capacity.
    #[serde(default)]
    pub storage_utilisation: BTreeMap<String, f64>,
    /// Host utilisation after placement: id -> resource -> used / capacity.
    #[serde(default)]
    pub host_utilisation: BTreeMap<String, BTreeMap<String, f64>>,
    /// Hosts running at least one VM after placement.
    #[serde(default)]
    pub active_hosts: usize,
    /// Live-migration domain of each placed request: how many other hosts connected to its
    /// storage could take it after this placement.
    #[serde(default)]
    pub migration_domain: BTreeMap<String, usize>,
}

/// Statistics of one phase (storage or host).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Default)]
pub struct PhaseStats {
    /// `storage`, `host` or `joint`.
    pub phase: String,
    /// Solver that produced this phase's answer.
    pub solver: String,
    /// Status of this phase.
    pub status: String,
    /// Placed priority weight (first, lexicographic objective).
    pub placed_weight: f64,
    /// Best bound on the placed priority weight.
    pub placed_weight_bound: f64,
    /// Policy objective of this phase (second objective, lower is better).
    pub objective: f64,
    /// Bound on the policy objective.
    pub bound: f64,
    /// Relative gap of the policy objective.
    pub gap: f64,
    /// Time spent in this phase, in seconds.
    pub time_s: f64,
    /// Request flavors (identical requests aggregated).
    pub flavors: usize,
    /// MIP columns (0 for greedy).
    pub variables: usize,
    /// Of which integer.
    pub integer_variables: usize,
    /// MIP rows.
    pub constraints: usize,
    /// Look-ahead rounds (storage phase): how often phase 2 was run to certify phase 1.
    #[serde(default)]
    pub lookahead_rounds: usize,
}

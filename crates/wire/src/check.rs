//! The body of `POST /v1/check` (and what `vmplace check` reads from its two files).

use serde::{Deserialize, Serialize};

/// What a checked solution should be (`--phase`, `"phase"`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum CheckPhase {
    /// Phase 1: no hosts.
    Storage,
    /// Phase 2: a host for every placement.
    Host,
    /// Both phases: a host for every placement.
    Place,
    /// Infer from the solution: hosts are checked where present.
    #[default]
    Any,
}

/// The body of `POST /v1/check`: both documents and the phase.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckRequest {
    /// The problem document.
    pub problem: serde_json::Value,
    /// The solution document.
    pub solution: serde_json::Value,
    /// What the solution should be; `any` (the default) infers it.
    #[serde(default)]
    pub phase: CheckPhase,
}

/// The body of `POST /v1/check` for a migration plan.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanCheckRequest {
    /// The state document.
    pub state: serde_json::Value,
    /// The plan.
    pub plan: serde_json::Value,
}

/// The body of `POST /v1/check` for a Ganeti IAllocator answer.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IallocatorCheckRequest {
    /// Ganeti's input document.
    pub iallocator: serde_json::Value,
    /// The allocator's answer.
    pub answer: serde_json::Value,
}

/// The body of `POST /v1/capacity`: a pool (a problem or a migration state document), the
/// flavors to count and the failures to check.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CapacityRequest {
    /// A problem document (its `requests` may be empty or absent; they are placed first), or a
    /// migration state document (its `vms` run where it says).
    pub problem: serde_json::Value,
    /// The flavors to count (`flavors`, `fail` or both).
    #[serde(default)]
    pub flavors: Vec<CapacityFlavor>,
    /// Failures to check, as `vmplace capacity --fail` spells them: `host:ID`,
    /// `label:KEY=VALUE`, `any-host`, `any:KEY`.
    #[serde(default)]
    pub fail: Vec<String>,
    /// VMs of each flavor per set (`--mix 3:1` is `[3, 1]`), one per flavor.
    #[serde(default)]
    pub mix: Option<Vec<usize>>,
    /// Tiers of the one flavor, largest first (`--tiered`).
    #[serde(default)]
    pub tiered: bool,
}

/// One flavor of `POST /v1/capacity` (the `--flavor` of `vmplace capacity`).
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CapacityFlavor {
    /// Name.
    #[schemars(length(min = 1))]
    pub name: String,
    /// Demand per host resource.
    pub demand: std::collections::BTreeMap<String, f64>,
    /// Disk image, GiB.
    #[schemars(range(min = 0))]
    pub disk_gib: f64,
}

//! The solution document: what vmplace answers.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Honest statement of solution quality. Ordered from best to worst, so that the worst status of
/// several phases is their `max`.
#[derive(
    Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq, PartialOrd, Ord, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Proven optimal (within the requested gap).
    Optimal,
    /// A valid answer without an optimality proof (e.g. the greedy solver).
    #[default]
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
    /// Quality of the whole answer: `optimal` only when no answer could place more priority
    /// weight and every phase's policy cost is proven within `mip_gap`.
    pub status: Status,
    /// Priority weight of the placed requests: the first objective of every call.
    pub placed_weight: f64,
    /// Proven upper bound on the priority weight any answer to this call could place.
    pub placed_weight_bound: f64,
    /// Policy cost of the last phase (lower is better), as defined in models/.
    pub objective: f64,
    /// Proven lower bound on that cost (equal to `objective` when optimal).
    pub bound: f64,
    /// Gap of the whole answer: the larger of the placed-weight gap
    /// `(placed_weight_bound - placed_weight) / placed_weight_bound` and every phase's gap
    /// (`stats.phases[].gap`); 0 when optimal.
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
    pub code: ReasonCode,
    /// Human explanation naming the binding constraint.
    pub reason: String,
}

/// Why a request is not placed: the binding constraint (stable codes, listed in README).
#[derive(
    Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq, PartialOrd, Ord,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReasonCode {
    /// No storage system has room for the disk image (`storage_capacity`).
    NoStorageCapacity,
    /// No host in the pool has room for the VM (`host_capacity`).
    DemandExceedsHosts,
    /// No host with room is connected to the (chosen) storage (`host_connectivity`).
    NoConnectedHostCapacity,
    /// Connected hosts with room all run a member of the VM's group (`anti_affinity`).
    AntiAffinity,
    /// Capacity existed but went to other requests of the batch.
    CapacityTaken,
    /// No host has the traits the request requires and lacks those it forbids (`host_traits`).
    NoHostWithTraits,
    /// No storage system has the storage traits the request requires and lacks those it
    /// forbids (`storage_traits`).
    NoStorageWithTraits,
    /// Phase 1 left it out because phase 2 could not host it (`host_lookahead`).
    LookaheadNoHost,
    /// The solver failed and no answer could be computed for it; the reason says why.
    SolverFailure,
    /// It fits in the capacity the placed requests leave, but the search stopped (time limit,
    /// or the client went away) before it placed it.
    StoppedEarly,
    /// Hosts with room are all outside the one domain its affinity group must share
    /// (`group_affinity`).
    Affinity,
    /// Hosts with room are all in domains where one more member would skew its spread group
    /// beyond `max_skew` (`group_spread`).
    Spread,
}

impl ReasonCode {
    /// Every code, in the order of the README's table.
    pub const ALL: [ReasonCode; 12] = [
        ReasonCode::NoStorageCapacity,
        ReasonCode::DemandExceedsHosts,
        ReasonCode::NoConnectedHostCapacity,
        ReasonCode::AntiAffinity,
        ReasonCode::CapacityTaken,
        ReasonCode::NoHostWithTraits,
        ReasonCode::NoStorageWithTraits,
        ReasonCode::LookaheadNoHost,
        ReasonCode::SolverFailure,
        ReasonCode::StoppedEarly,
        ReasonCode::Affinity,
        ReasonCode::Spread,
    ];
}

/// A placement phase.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum PhaseName {
    /// Phase 1: storage systems for the disk images.
    #[default]
    Storage,
    /// Phase 2: hosts.
    Host,
}

/// What produced a phase's answer.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq, Default)]
pub enum PhaseSolver {
    /// The phase's MIP (HiGHS).
    #[default]
    #[serde(rename = "mip")]
    Mip,
    /// The greedy solver (`--solver greedy`, or after a MIP failure).
    #[serde(rename = "greedy")]
    Greedy,
    /// The MIP ran, but its warm start (a greedy answer) was at least as good and stands.
    #[serde(rename = "mip+greedy-fallback")]
    MipGreedyFallback,
    /// Large neighbourhood search over host-phase MIPs (`lns_neighbourhoods` of them).
    #[serde(rename = "mip-lns")]
    MipLns,
    /// The greedy chain of today's schedulers beat the two phases and stands.
    #[serde(rename = "greedy-baseline")]
    GreedyBaseline,
    /// Greedy with retries over storage systems (`--solver greedy-retry`, or as the baseline
    /// that beat the two phases).
    #[serde(rename = "greedy-retry")]
    GreedyRetry,
    /// Exact branch and bound on the phase's MIP model, for small batches (no HiGHS run; the
    /// same constraints, objective and proof).
    #[serde(rename = "exact")]
    Exact,
    /// Packing by column generation (host phase under `pack`, models/host.md): the integer
    /// master over the patterns generated stands.
    #[serde(rename = "patterns")]
    Patterns,
    /// Storage and host in one MIP (`--solver joint`); its stats stand for the whole call.
    #[serde(rename = "joint")]
    Joint,
    /// OpenStack's default with retries (`--solver openstack`): storage by most free space,
    /// host by most free RAM.
    #[serde(rename = "openstack")]
    Openstack,
    /// Storage by most free space, host by best fit, with retries (`--solver best-fit`).
    #[serde(rename = "best-fit")]
    BestFit,
    /// Storage by most free space, host by balanced fit, with retries (`--solver balanced`).
    #[serde(rename = "balanced")]
    Balanced,
    /// Storage by most free RAM on its hosts, host by most free RAM, with retries.
    #[serde(rename = "openstack+host-ram")]
    OpenstackHostRam,
    /// Storage by most free RAM on its hosts, host by best fit, with retries.
    #[serde(rename = "best-fit+host-ram")]
    BestFitHostRam,
    /// Storage by most free RAM on its hosts, host by balanced fit, with retries.
    #[serde(rename = "balanced+host-ram")]
    BalancedHostRam,
    /// One of the heuristics with the requests in decreasing size (vmplace's own warm starts).
    #[serde(rename = "decreasing")]
    Decreasing,
    /// Best fit or balanced fit with the requests in increasing size (vmplace's own warm starts
    /// for pools short of some resource, where the most VMs are the smallest).
    #[serde(rename = "increasing")]
    Increasing,
    /// Neighbourhoods of the pool re-solved as joint (storage, host) MIPs after the phases, until
    /// the answer is proven or the time is up (`neighbourhoods` of them).
    #[serde(rename = "joint-lns")]
    JointLns,
}

impl PhaseSolver {
    /// The wire name.
    pub fn name(self) -> &'static str {
        match self {
            PhaseSolver::Mip => "mip",
            PhaseSolver::Greedy => "greedy",
            PhaseSolver::MipGreedyFallback => "mip+greedy-fallback",
            PhaseSolver::MipLns => "mip-lns",
            PhaseSolver::GreedyBaseline => "greedy-baseline",
            PhaseSolver::GreedyRetry => "greedy-retry",
            PhaseSolver::Exact => "exact",
            PhaseSolver::Patterns => "patterns",
            PhaseSolver::Joint => "joint",
            PhaseSolver::Openstack => "openstack",
            PhaseSolver::BestFit => "best-fit",
            PhaseSolver::Balanced => "balanced",
            PhaseSolver::OpenstackHostRam => "openstack+host-ram",
            PhaseSolver::BestFitHostRam => "best-fit+host-ram",
            PhaseSolver::BalancedHostRam => "balanced+host-ram",
            PhaseSolver::JointLns => "joint-lns",
            PhaseSolver::Increasing => "increasing",
            PhaseSolver::Decreasing => "decreasing",
        }
    }
}

/// Statistics of one solve.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Default)]
pub struct Stats {
    /// Summary of `phases[].solver`, comma-separated (`mip,mip`, `greedy`...).
    #[serde(default)]
    pub solver: String,
    /// Set when the MIP failed and the greedy solver answered instead: HiGHS' error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mip_error: Option<String>,
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
    /// Violations of each soft group rule (`groups[]` with `hard: false`), by group id: members
    /// over `max_per_domain` (anti-affinity), domains used beyond one (affinity), skew beyond
    /// `max_skew` over the domains with room (spread). Empty without soft rules. A storage-phase
    /// answer puts no member on a host: it counts the pool as it stands.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub soft_violations: BTreeMap<String, u32>,
    /// Where the call's time went, stage by stage.
    #[serde(default)]
    pub timings: Timings,
    /// Set when the service's `--max-time-limit` lowered the time limit the request asked for:
    /// the solve ran under `applied_s`, not `requested_s`. Absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_limit_capped: Option<TimeLimitCap>,
}

/// A time limit the service lowered (`vmplace serve --max-time-limit`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TimeLimitCap {
    /// The limit the request asked for (its `options.time_limit_s`, or the default), seconds.
    pub requested_s: f64,
    /// The limit the call ran under, the server's cap, seconds.
    pub applied_s: f64,
}

impl TimeLimitCap {
    /// The limit to apply for `requested` under the cap `max`, and the cap when it lowered it.
    pub fn apply(requested: f64, max: Option<f64>) -> (f64, Option<TimeLimitCap>) {
        match max {
            Some(max) if max < requested => (
                max,
                Some(TimeLimitCap {
                    requested_s: requested,
                    applied_s: max,
                }),
            ),
            _ => (requested, None),
        }
    }
}

/// Seconds spent in each stage of one call. `solve_s` is the solvers' own time: the whole of
/// [`Stats::solve_time_s`] less building the MIPs (`model_s`) and explaining (`explain_s`).
/// `write_s` is the time to encode this document, written over a placeholder after the one
/// encoding (padded with spaces, which JSON allows).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Default)]
pub struct Timings {
    /// Reading the JSON text into a document tree.
    #[serde(default)]
    pub parse_s: f64,
    /// Schema and rule checks, and the typed document.
    #[serde(default)]
    pub validate_s: f64,
    /// Building the solver's view of the problem (indices, flavors, connectivity).
    #[serde(default)]
    pub domain_s: f64,
    /// Building MIP rows and columns and handing them to HiGHS.
    #[serde(default)]
    pub model_s: f64,
    /// Solving: greedy stages, exact search and HiGHS.
    #[serde(default)]
    pub solve_s: f64,
    /// Explaining the unplaced requests and the answer's statistics.
    #[serde(default)]
    pub explain_s: f64,
    /// `place`: computing the baselines (the heuristics schedulers run), part of `solve_s`.
    #[serde(default)]
    pub baselines_s: f64,
    /// `place`: the neighbourhood search after the phases, part of `solve_s`.
    #[serde(default)]
    pub neighbourhoods_s: f64,
    /// `place`: placing unplaced requests by moving VMs out of their way (models/joint.md,
    /// "Ejection"), part of `neighbourhoods_s`.
    #[serde(default)]
    pub ejection_s: f64,
    /// `place`: ruin and recreate (models/joint.md, "Ruin and recreate"), part of
    /// `neighbourhoods_s`.
    #[serde(default)]
    pub ruin_s: f64,
    /// `place`: the fit bound's LP (models/fit.md), part of `solve_s`.
    #[serde(default)]
    pub fit_bound_s: f64,
    /// Encoding the answer.
    #[serde(default)]
    pub write_s: f64,
}

/// What a phase's cost bound holds for (`stats.phases[].bound_scope`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq, Default)]
pub enum BoundScope {
    /// Any answer to the call.
    #[default]
    #[serde(rename = "call")]
    Call,
    /// Answers that keep phase 1's storage choice.
    #[serde(rename = "phase-1-storage")]
    Phase1Storage,
}

/// Statistics of one phase (storage or host).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Default)]
pub struct PhaseStats {
    /// The phase.
    pub phase: PhaseName,
    /// Solver that produced this phase's answer.
    pub solver: PhaseSolver,
    /// Neighbourhood MIPs solved, when `solver` is `mip-lns`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub lns_neighbourhoods: usize,
    /// Ruin-and-recreate tries of the search after the phases, when `solver` is `joint-lns`
    /// (models/joint.md, "Ruin and recreate").
    #[serde(default, skip_serializing_if = "is_zero")]
    pub ruin_tries: usize,
    /// Those tries kept because they placed more weight.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub ruin_improved: usize,
    /// Requests the search after the phases placed by moving some of the batch's VMs out of their
    /// way, when `solver` is `joint-lns` (models/joint.md, "Ejection").
    #[serde(default, skip_serializing_if = "is_zero")]
    pub ejection_placed: usize,
    /// The batch's VMs those placements moved to other hosts (each keeps its storage system).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub ejection_moves: usize,
    /// The batch's VMs those placements gave up for requests of more weight in all (one large VM
    /// out, two smaller in).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub ejection_dropped: usize,
    /// Search nodes visited, when `solver` is `exact`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub exact_nodes: usize,
    /// Host phase under `pack`: rounds of column generation (each an LP of the pattern master
    /// and a pricing search per host class).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub pattern_rounds: usize,
    /// Host phase under `pack`: patterns (what one host runs) generated.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub pattern_columns: usize,
    /// What the phase's `bound` (its policy cost's) holds for: `call`, any answer to the call;
    /// `phase-1-storage`, only answers that keep phase 1's storage choice (phase 2's MIP under
    /// `place`: phase 1's storage policy may then have decided the host count).
    #[serde(default)]
    pub bound_scope: BoundScope,
    /// Status of this phase.
    pub status: Status,
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
    /// Host phase: (flavor, connected host) column candidates before the capacity filter, the
    /// size that decides between one MIP and LNS.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub columns_estimate: usize,
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

fn is_zero(n: &usize) -> bool {
    *n == 0
}

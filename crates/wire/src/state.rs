//! The migration contract: a monitoring state in, a migration plan out.

use super::problem::{Resources, Storage, Traits};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A running pool as the monitor sees it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct State {
    /// Storage systems (as in placement).
    #[schemars(length(min = 1))]
    pub storage: Vec<Storage>,
    /// Hosts; `used` is not given here, it follows from the VMs on each host.
    #[schemars(length(min = 1))]
    pub hosts: Vec<StateHost>,
    /// Running VMs.
    pub vms: Vec<StateVm>,
    /// Group rules over the running VMs (as in placement); members are the VMs that list the
    /// group in `vms[].groups`, counted where they run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<super::problem::Group>,
    /// Policies; every part has a default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<MigrationPolicy>,
    /// Reassignment: resources that are transient or cost per unit above `safety_capacity`
    /// (needs `policy.reassign`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<super::reassign::ResourceRule>,
    /// Reassignment: balance targets between two resources (needs `policy.reassign`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub balance: Vec<super::reassign::BalanceTarget>,
    /// Reassignment: the host-to-host move cost (needs `policy.reassign`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub move_costs: Option<super::reassign::MoveCosts>,
    /// Reassignment: groups spread over at least a number of domains (needs `policy.reassign`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_domains: Option<super::reassign::MinDomains>,
    /// Reassignment: groups that depend on another group within a label's domain (needs
    /// `policy.reassign`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dependencies: Option<super::reassign::Dependencies>,
}

/// Operational state of a host.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum HostState {
    /// Runs VMs and accepts new ones.
    #[default]
    Active,
    /// Being drained: accepts nothing; its VMs should leave.
    Maintenance,
    /// Powered off by the operator: accepts nothing.
    Off,
}

/// Power draw of a host as a function of CPU utilisation.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PowerModel {
    /// Watts at 0 %, 10 %, ..., 100 % CPU utilisation (SPECpower style), linear in between.
    #[schemars(schema_with = "super::limits::watts")]
    pub watts: Vec<f64>,
}

/// A host of the state document.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StateHost {
    /// Unique id.
    #[schemars(length(min = 1))]
    pub id: String,
    /// Capacity per resource (`cpu` in MIPS or cores, as long as VMs use the same unit).
    #[schemars(schema_with = "super::limits::resources")]
    pub capacity: Resources,
    /// Connected storage systems (live migration needs the VM's storage here).
    pub storage: Vec<String>,
    /// `active` (default), `maintenance` or `off`.
    #[serde(default)]
    pub state: HostState,
    /// Power model (default: 0 W idle to 100 W at full CPU, linear).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power: Option<PowerModel>,
    /// Network bandwidth for migrations, Mbit/s (default 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.001, max = super::limits::BANDWIDTH_MAX))]
    pub bandwidth_mbps: Option<f64>,
    /// Topology labels, any keys: `{"zone": "az1", "rack": "r12"}`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Overcommit per resource (Nova's allocation ratios, default 1): the usable capacity of r is
    /// `(capacity_r - reserved_r) * allocation_ratio_r`, and `used` counts against it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(schema_with = "super::limits::ratios")]
    pub allocation_ratio: Resources,
    /// Capacity held back per resource (Nova's reserved host memory, default 0).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(schema_with = "super::limits::resources")]
    pub reserved: Resources,
    /// Qualities of the host, matched by `vms[].required_traits` and `forbidden_traits`.
    #[serde(default, skip_serializing_if = "Traits::is_empty")]
    pub traits: Traits,
    /// Reassignment: usage above this costs `resources[].load_cost` per unit (default: the
    /// capacity, so nothing costs; needs `policy.reassign`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(schema_with = "super::limits::resources")]
    pub safety_capacity: Resources,
}

/// A running VM.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StateVm {
    /// Unique id.
    #[schemars(length(min = 1))]
    pub id: String,
    /// Host it runs on.
    pub host: String,
    /// Storage system of its disk.
    pub storage: String,
    /// Reserved resources (`memory_gib` sets the migration time).
    #[schemars(schema_with = "super::limits::resources")]
    pub demand: Resources,
    /// Usage history per resource as fractions of `demand`, oldest first. A resource with a
    /// history counts by its latest sample; one without counts by its full demand.
    #[serde(default)]
    pub usage: BTreeMap<String, Vec<f64>>,
    /// Anti-affinity group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anti_affinity: Option<String>,
    /// Ids of the `groups` it belongs to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// A host it moves to must have every one of these traits.
    #[serde(default, skip_serializing_if = "Traits::is_empty")]
    pub required_traits: Traits,
    /// A host it moves to must have none of these traits.
    #[serde(default, skip_serializing_if = "Traits::is_empty")]
    pub forbidden_traits: Traits,
    /// Seconds since this VM last moved (absent: long ago).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = super::limits::SECONDS_MAX))]
    pub moved_ago_s: Option<f64>,
    /// Reassignment: the cost of moving this VM, times `policy.reassign.vm_move` (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = super::reassign::WHOLE_MAX))]
    pub move_cost: Option<u32>,
}

/// Overload detection method (Beloglazov & Buyya 2012).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Detection {
    /// Static threshold on current utilisation (parameter: the threshold, default 0.8).
    #[default]
    Thr,
    /// Inter-quartile range of the history: threshold 1 - s * IQR (default s = 1.5).
    Iqr,
    /// Median absolute deviation: threshold 1 - s * MAD (default s = 2.5).
    Mad,
    /// Local regression on the last 10 samples, predicted utilisation * s >= 1 (default 1.2).
    Lr,
    /// Robust local regression (default 1.2).
    Lrr,
}

/// Which VM leaves an overloaded host first.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Selection {
    /// Minimum migration time: least memory (over the host's bandwidth).
    #[default]
    Mmt,
    /// Minimum utilisation (CloudSim's MU): the least CPU-utilised VM.
    Mu,
    /// Random, seeded by `seed`.
    Rs,
    /// Maximum correlation: the VM whose CPU history the other VMs' histories explain best
    /// (largest R² of a multiple linear regression); minimum migration time while the history
    /// is too short for the regression.
    Mc,
}

/// The migration policy of a round.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct MigrationPolicy {
    /// Overload detection (default `thr`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detection: Option<Detection>,
    /// Its parameter (defaults per method: thr 0.8, iqr 1.5, mad 2.5, lr/lrr 1.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = super::limits::WEIGHT_MAX))]
    pub parameter: Option<f64>,
    /// VM selection (default `mmt`; `optimize` chooses itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selection: Option<Selection>,
    /// Target placement (default `optimize`, vmplace's round MIP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<Planner>,
    /// Empty the least-utilised host when all its VMs fit elsewhere (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub underload: Option<bool>,
    /// Migration-policy weights over accepting hosts (default: power only = PABFD; the optimizer
    /// adds 0.1 W per second of migration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<Weights>,
    /// At most this many migrations in the round (default unlimited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = super::limits::COUNT_MAX))]
    pub budget: Option<usize>,
    /// A VM that moved less than this many seconds ago stays (default 7,200 under `optimize`, 0
    /// under `pabfd`); maintenance moves it anyway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = super::limits::SECONDS_MAX))]
    pub hold_s: Option<f64>,
    /// Monitoring interval in seconds, for LR's look-ahead (default 300).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.001, max = super::limits::SECONDS_MAX))]
    pub interval_s: Option<f64>,
    /// Seed for `rs` (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = super::limits::SEED_MAX))]
    pub seed: Option<u64>,
    /// Candidates listed per migration: the best this many acceptors and the first this many
    /// decliners, with their messages (default 10); every answer is counted in `asked`/`declined`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = super::limits::LISTED_MAX))]
    pub candidates_listed: Option<usize>,
    /// Seconds the round may take under placement `optimize` (default 0.5), counted from the
    /// call's start: the round MIP gets what is left. Past it, the greedy plan the MIP started
    /// from stands (the same on every run), with status `time_limit` and its gap; past it before
    /// the greedy plan is made (a very large round), every VM stays, with status `time_limit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = super::limits::SECONDS_MAX))]
    pub time_limit_s: Option<f64>,
    /// Reproduce another tool's published behaviour instead of vmplace's (default none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emulate: Option<Emulate>,
    /// A move must lower the pool's power by at least this many watts, or lower the overload risk
    /// of its source (the round MIP only; default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = super::limits::WEIGHT_MAX))]
    pub min_gain_w: Option<f64>,
    /// At most this many migrations at once on one host, as source or target (default 2; vSphere
    /// allows 4 per host on 1 GbE and 8 on 10 GbE). Sets how many waves the plan's `steps` need.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = super::limits::COUNT_MAX))]
    pub max_concurrent_per_host: Option<usize>,
    /// Plan the round by cost with the reassignment engine (`roadef::reassign`, the same as
    /// `vmplace roadef`) instead of by overload: its presence is the switch, and it carries the
    /// move costs' weights. `time_limit_s` (default 0.5) and `seed` apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reassign: Option<super::reassign::ReassignPolicy>,
}

/// Behaviour reproduced for comparison with published results.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Emulate {
    /// CloudSim 3.0.3's power examples: PABFD compares a target's power after the move with its
    /// power measured at the start of the round (not after the round's earlier moves), and
    /// underloaded hosts are ranked by their utilisation at the start of the round, so that a
    /// host that just received a VM from an overloaded host may still be emptied.
    Cloudsim,
}

/// How the moved VMs find their targets.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Planner {
    /// One VM at a time, the best accepting host by the weights (PABFD with the default weights),
    /// then underload evacuation, as in CloudSim.
    Pabfd,
    /// vmplace's round MIP (models/migration.md): all moves of the round together, and which VMs
    /// move among those on overloaded, maintenance and least-utilised hosts.
    #[default]
    Optimize,
}

/// Weights of the migration policy's score (lower total wins).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Weights {
    /// Per watt of power increase on the target.
    #[serde(default)]
    #[schemars(range(min = 0, max = super::limits::WEIGHT_MAX))]
    pub power: f64,
    /// Per unit of the target's resulting CPU utilisation.
    #[serde(default)]
    #[schemars(range(min = 0, max = super::limits::WEIGHT_MAX))]
    pub balance: f64,
    /// Per second of migration time.
    #[serde(default)]
    #[schemars(range(min = 0, max = super::limits::WEIGHT_MAX))]
    pub cost: f64,
}

/// The answer: which VMs move where, and the conversation that decided it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// `feasible` for the heuristic policies (no optimality claim).
    pub status: super::Status,
    /// Moves, in the order of `steps`.
    pub migrations: Vec<Migration>,
    /// How to run the moves: ordered waves, each the VM ids that migrate together. During a wave
    /// a VM counts on both its source and its target; no host exceeds a capacity or
    /// `policy.max_concurrent_per_host` at any moment. A VM with `via` appears twice: first it goes
    /// to `via`, later to `to`.
    #[serde(default)]
    pub steps: Vec<Vec<String>>,
    /// The protocol: request, accept/decline, confirm, migrate.
    pub messages: Vec<Message>,
    /// Per host after all moves: resource -> used / capacity, and power.
    pub hosts_after: BTreeMap<String, HostAfter>,
    /// Round statistics.
    pub stats: PlanStats,
}

/// One move.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Migration {
    /// VM id.
    pub vm: String,
    /// Source host.
    pub from: String,
    /// Target host.
    pub to: String,
    /// Live (shared storage): always true, vmplace plans only live moves.
    pub live: bool,
    /// Why the VM moves.
    pub reason: MigrationReason,
    /// The chosen target's score.
    pub score: Score,
    /// Hosts asked, best acceptors first, then decliners (see `policy.candidates_listed`).
    pub candidates: Vec<Candidate>,
    /// How many hosts were asked.
    pub asked: usize,
    /// How many declined, by code.
    pub declined: BTreeMap<DeclineCode, usize>,
    /// Usage history handed to the target.
    pub history_sent: HistorySent,
    /// Under `emulate: cloudsim`, the target first chosen in this round before the VM was sent
    /// on (CloudSim migrates the VM there too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rerouted_from: Option<String>,
    /// A pivot host: the VM goes there first and on to `to` in a later wave, because no order of
    /// direct moves had room (two full hosts swapping VMs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
}

/// Why a VM moves.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum MigrationReason {
    /// Its host is overloaded (by the round's detector).
    Overload,
    /// Its host is emptied so that it can be switched off.
    Underload,
    /// Its host is in maintenance or off.
    Maintenance,
    /// The move lowers the reassignment cost (`policy.reassign`).
    Reassign,
}

impl MigrationReason {
    /// The wire name.
    pub fn name(self) -> &'static str {
        match self {
            MigrationReason::Overload => "overload",
            MigrationReason::Underload => "underload",
            MigrationReason::Maintenance => "maintenance",
            MigrationReason::Reassign => "reassign",
        }
    }
}

/// Why a candidate host declines a VM (stable codes, listed in README). Declared in the codes'
/// alphabetical order, so that maps keyed by code keep the order they had as strings.
#[derive(
    Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq, PartialOrd, Ord, Hash,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeclineCode {
    /// A hard affinity group of the VM would then run in more domains than it does with the
    /// round's earlier moves, or the host is outside the group's scope.
    AdmissionAffinity,
    /// A member of the VM's anti-affinity group runs there (`anti_affinity`), or a hard
    /// anti-affinity group of the VM has `max_per_domain` members in the host's domain (counting
    /// members that leave it this round), or the host is outside the group's scope.
    AdmissionAntiAffinity,
    /// A resource would exceed capacity.
    AdmissionCapacity,
    /// The host would be overloaded after the move (by the round's detector).
    AdmissionHeadroom,
    /// The host is a source of this round (overloaded, in maintenance, or being emptied).
    AdmissionSource,
    /// A hard spread group of the VM would then be more skewed than it is with the round's
    /// earlier moves, or the host is outside the group's scope.
    AdmissionSpread,
    /// The host is in maintenance or off.
    AdmissionState,
    /// The host does not reach the VM's storage: the move could not be live.
    AdmissionStorage,
    /// The host lacks a trait the VM requires, or has one it forbids.
    AdmissionTraits,
}

impl DeclineCode {
    /// Every code, in the order of the README.
    pub const ALL: [DeclineCode; 9] = [
        DeclineCode::AdmissionSource,
        DeclineCode::AdmissionState,
        DeclineCode::AdmissionStorage,
        DeclineCode::AdmissionTraits,
        DeclineCode::AdmissionCapacity,
        DeclineCode::AdmissionHeadroom,
        DeclineCode::AdmissionAntiAffinity,
        DeclineCode::AdmissionAffinity,
        DeclineCode::AdmissionSpread,
    ];
}

/// The kind of a protocol message.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    /// The source asks a candidate to take the VM.
    Request,
    /// The candidate accepts.
    Accept,
    /// The candidate declines (its code is in the migration's `candidates`).
    Decline,
    /// The source confirms the chosen target.
    Confirm,
    /// The VM migrates, with its history.
    Migrate,
}

/// Score of a target (lower total is better).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct Score {
    /// Weighted sum.
    pub total: f64,
    /// Power increase, W.
    pub power: f64,
    /// Target CPU utilisation after the move.
    pub balance: f64,
    /// Migration time, s.
    pub cost: f64,
}

/// A host's answer to a migration request.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct Candidate {
    /// Host id.
    pub host: String,
    /// Whether it accepted.
    pub accepted: bool,
    /// Decline code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<DeclineCode>,
    /// Decline reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// What the target received.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct HistorySent {
    /// Samples of usage history.
    pub samples: usize,
}

/// One protocol message.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct Message {
    /// What the message says.
    pub kind: MessageKind,
    /// VM id.
    pub vm: String,
    /// Sender.
    pub from: String,
    /// Receiver.
    pub to: String,
}

/// A host after the round.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct HostAfter {
    /// resource -> used / capacity.
    pub utilisation: BTreeMap<String, f64>,
    /// VMs on it.
    pub vms: usize,
    /// Power at the resulting CPU utilisation (0 when empty: switched off).
    pub power_w: f64,
}

/// Statistics of a round.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Default)]
pub struct PlanStats {
    /// Hosts found overloaded.
    pub overloaded_hosts: Vec<String>,
    /// Hosts emptied for underload.
    pub emptied_hosts: Vec<String>,
    /// VMs selected to move but left in place (no host accepted, budget, hold time).
    pub stayed: Vec<String>,
    /// Power before and after, W.
    pub power_before_w: f64,
    /// Power after, W.
    pub power_after_w: f64,
    /// Active hosts before and after.
    pub active_hosts_before: usize,
    /// Active hosts after.
    pub active_hosts_after: usize,
    /// Wall time, s.
    pub time_s: f64,
    /// Relative gap of the round MIP's answer (placement `optimize`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gap: Option<f64>,
    /// Moves re-planned within the round to another target (only under `emulate: cloudsim`,
    /// which counts each as a second migration).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rerouted: usize,
    /// Waves in `steps`.
    #[serde(default)]
    pub waves: usize,
    /// The fewest waves any plan of these moves needs: the busiest host's migrations over
    /// `max_concurrent_per_host`, rounded up.
    #[serde(default)]
    pub wave_floor: usize,
    /// Seconds to run the waves one after another, each as long as its longest migration (memory
    /// over half the source's bandwidth).
    #[serde(default)]
    pub makespan_s: f64,
    /// Moves the planner chose but no safe order could run, left out of the plan.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dropped: Vec<DroppedMove>,
    /// Set when the service's `--max-time-limit` lowered the round's `policy.time_limit_s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_limit_capped: Option<super::TimeLimitCap>,
    /// Violations of each soft group rule (`groups[]` with `hard: false`) after the plan, by
    /// group id (counted as in placement; the planners do not price them). Empty without soft
    /// rules.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub soft_violations: BTreeMap<String, u32>,
    /// Under `policy.reassign`: the cost where the plan leaves the VMs, in five parts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reassign_cost: Option<super::reassign::ReassignCost>,
}

/// A move left out of a plan because it could not be sequenced.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct DroppedMove {
    /// VM id.
    pub vm: String,
    /// Its host, where it stays.
    pub from: String,
    /// The target it was planned for.
    pub to: String,
    /// Why.
    pub code: DropCode,
    /// The cause, for a reader.
    pub reason: String,
}

/// Why a planned move was dropped.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DropCode {
    /// No order of the moves ever had room for the VM on its target within its group rules,
    /// directly or through one pivot host (a move takes at most one); the VM stays on its source.
    NoSafeOrder,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

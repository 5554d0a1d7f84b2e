//! The answer of `vmplace capacity` and `POST /v1/capacity` (models/capacity.md): each flavor's
//! count, and with `--fail`, each failure scenario's restarts.

use super::Status;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What limits a flavor's count.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct Binding {
    /// `host_capacity`, `storage_capacity` or `connectivity`.
    pub kind: String,
    /// The host resource, for `host_capacity`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
}

/// The count of one flavor.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FlavorFit {
    /// Flavor name.
    pub name: String,
    /// The most VMs of it that fit (exact: a max flow).
    pub fit: usize,
    /// Proven upper bound on the count (equal to `fit`: the max flow is exact).
    pub bound: usize,
    /// `(bound - fit) / bound`, 0 when proven.
    pub gap: f64,
    /// `optimal` when the count is proven (`fit == bound`), else the solve's status.
    pub status: Status,
    /// What binds.
    pub binding: Binding,
    /// Per host resource, how many the free capacity alone would hold (connected hosts only).
    pub by_resource: BTreeMap<String, usize>,
    /// How many the free storage alone would hold (storage with a connected host that fits one);
    /// absent for a flavor without a disk image, which storage does not limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by_storage: Option<usize>,
    /// Hosts left with room for one more by their own capacity but no connected storage with
    /// room for its image.
    pub stranded_hosts: usize,
    /// Storage systems left with room for one more image but no connected host with room (none
    /// for a flavor without an image).
    pub stranded_storage: usize,
}

/// The answer of `vmplace capacity`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CapacityReport {
    /// Requests of the problem placed first (the counts are what fits after them).
    pub requests_placed: usize,
    /// One entry per flavor, in the order given.
    pub flavors: Vec<FlavorFit>,
    /// With `--fail`: whether the VMs of the failed hosts restart elsewhere.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failures: Option<FailureReport>,
    /// With `--mix`: how many sets of the mix fit together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mix: Option<MixFit>,
    /// With `--tiered`: the tiers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tiered: Option<Tiered>,
    /// Set when the service's `--max-time-limit` lowered the call's time limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_limit_capped: Option<super::TimeLimitCap>,
}

/// A VM of a failure that restarts.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Restarted {
    /// VM (request) id.
    pub vm: String,
    /// Its new host.
    pub host: String,
}

/// A VM of a failure that cannot restart, and why.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Unrestartable {
    /// VM (request) id.
    pub vm: String,
    /// Why.
    pub code: RestartCode,
    /// The cause, for a reader.
    pub reason: String,
}

/// One failure scenario.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Scenario {
    /// The failure, as the `--fail` flags spell it.
    pub fail: String,
    /// The hosts that fail.
    pub hosts: Vec<String>,
    /// VMs that ran on them.
    pub vms: usize,
    /// VMs restarted in the witness.
    pub restarted: usize,
    /// Whether every VM restarts.
    pub restartable: bool,
    /// `optimal` when the count is proven, `time_limit` when the search stopped first.
    pub status: Status,
    /// Proven upper bound on the VMs that can restart.
    pub bound: usize,
    /// `(bound - restarted) / bound`.
    pub gap: f64,
    /// What decided it.
    pub decided_by: DecidedBy,
    /// Free capacity per resource left on the surviving active hosts after the restarts.
    pub headroom: BTreeMap<String, f64>,
    /// The smallest share, over resources, of the survivors' capacity left free.
    pub headroom_share: f64,
    /// Where each restarted VM goes.
    pub witness: Vec<Restarted>,
    /// The VMs that cannot restart.
    pub unrestartable: Vec<Unrestartable>,
}

/// A scenario that is not tolerated, in brief.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NotTolerated {
    /// The failure.
    pub fail: String,
    /// VMs that cannot restart.
    pub unrestartable: usize,
    /// Proven upper bound on the VMs that can restart.
    pub bound: usize,
    /// `optimal` when the count is proven.
    pub status: Status,
}

/// The answer to `--fail`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FailureReport {
    /// Scenarios asked for (`tolerated`, `not_tolerated` and `unchecked` add up to it).
    pub scenarios: usize,
    /// Scenarios in which every VM restarts.
    pub tolerated: usize,
    /// Scenarios decided by the witness, by the bound, by the MIP (and stopped).
    pub decided: BTreeMap<DecidedBy, usize>,
    /// The others, most unrestartable VMs first.
    pub not_tolerated: Vec<NotTolerated>,
    /// The worst scenario (most VMs that cannot restart, then least headroom), in full.
    pub worst: Option<Scenario>,
    /// Scenarios not reached before the time limit (or the client left): neither tolerated nor
    /// not tolerated.
    #[serde(default)]
    pub unchecked: usize,
    /// Wall time, s.
    pub time_s: f64,
}

/// Why a VM of a failure cannot restart.
#[derive(
    Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, schemars::JsonSchema,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RestartCode {
    /// No surviving active host reaches its storage.
    NoConnectedHost,
    /// No surviving host that reaches its storage has the traits it requires and lacks those it
    /// forbids.
    NoHostWithTraits,
    /// Every surviving host that reaches its storage runs a member of its anti-affinity group,
    /// or is in a domain that already holds `max_per_domain` members of a hard anti-affinity
    /// group of it (or outside that group's scope).
    AntiAffinity,
    /// No surviving host that reaches its storage is in a domain where the surviving members of
    /// its hard affinity group run (or in that group's scope).
    Affinity,
    /// No surviving host that reaches its storage is in the scope of its hard spread group.
    Spread,
    /// No surviving host that reaches its storage has room for it (alone, or with the others:
    /// proven).
    NoRoom,
    /// The search stopped before it found room for it or proved there is none.
    StoppedEarly,
}

/// What decided a failure scenario.
#[derive(
    Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum DecidedBy {
    /// Best fit restarted every VM.
    Witness,
    /// Best fit restarted every VM that has an eligible host at all.
    Bound,
    /// The restart MIP.
    Mip,
    /// The time was up before the MIP could run: the witness stands, unproven.
    Stopped,
}

/// How many sets of a mix of flavors fit together (`--mix 3:1`).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MixFit {
    /// VMs of each flavor per set, in the flavors' order.
    pub ratio: Vec<usize>,
    /// Whole sets that fit.
    pub sets: usize,
    /// Proven upper bound on the sets.
    pub bound: usize,
    /// `(bound - sets) / bound`.
    pub gap: f64,
    /// `optimal` when proven.
    pub status: Status,
    /// VMs of each flavor placed: `sets * ratio`.
    pub vms: BTreeMap<String, usize>,
    /// The resource the sets use most of (`host_capacity` with its resource, `storage_capacity`),
    /// or `connectivity` when none is used to 90 % or more.
    pub binding: Binding,
    /// Share of the free capacity the sets use, per host resource and `disk_gib` (hosts and
    /// storage that could take at least one VM of a flavor).
    pub utilisation: BTreeMap<String, f64>,
}

/// One tier of `--tiered`: a flavor, shrunk from the one before on one resource, and how many of
/// it fit after the tiers before.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Tier {
    /// The flavor's name, with `@N` for the N-th tier.
    pub name: String,
    /// Demand per host resource.
    pub demand: BTreeMap<String, f64>,
    /// Disk image, GiB.
    pub disk_gib: f64,
    /// VMs of it that fit (exact, after the tiers before).
    pub fit: usize,
    /// What binds it.
    pub binding: Binding,
}

/// The answer to `--tiered`: largest first, each tier shrunk on the resource that lets one more
/// VM fit with the least shrinking (as Ganeti's `hspace --tiered`).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Tiered {
    /// The tiers, in order.
    pub tiers: Vec<Tier>,
    /// VMs over all tiers.
    pub total: usize,
    /// Why it stopped.
    pub stopped: String,
}

//! The placement problem document: what a scheduler sends.
//!
//! These types are the wire contract. They carry no behaviour beyond serde and schema derivation;
//! `vmplace_core::domain` turns a validated document into the solver's typed model.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Free-form resource vector: resource name -> amount (e.g. `{"cpu": 4, "memory_gib": 16}`).
pub type Resources = BTreeMap<String, f64>;

/// A batch of VM requests and a snapshot of the pool they go into.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Problem {
    /// Storage systems that can hold VM disk images.
    #[schemars(length(min = 1))]
    pub storage: Vec<Storage>,
    /// Hypervisor hosts, with the storage systems each one is connected to.
    #[schemars(length(min = 1))]
    pub hosts: Vec<Host>,
    /// The VMs to place in this batch.
    #[schemars(length(min = 1))]
    pub requests: Vec<Request>,
    /// Placement rules over groups of requests (server groups, topology spread), referenced by
    /// `requests[].groups`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<Group>,
    /// Solver options; every field has a default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Options>,
}

/// A placement rule over the requests that list its id in `groups` (Nova's server groups,
/// Kubernetes' pod anti-affinity and topology spread, DRS rules), over domains of a scope: each
/// host (`"host"`), or the hosts that share a value of a label (`"rack"`, `"zone"`...). A host
/// without the scope's label belongs to no domain and takes no member.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Group {
    /// Unique id, referenced by `requests[].groups` and `hosts[].group_members`.
    #[schemars(length(min = 1))]
    pub id: String,
    /// The rule.
    pub policy: GroupPolicy,
    /// `"host"` (default), or a label key of `hosts[].labels`.
    #[serde(default = "host_scope")]
    #[schemars(length(min = 1))]
    pub scope: String,
    /// `anti-affinity` only: members at most per domain (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = super::limits::COUNT_MAX))]
    pub max_per_domain: Option<u32>,
    /// `spread` only: the largest difference between the member counts of two domains that have
    /// room for a member (Kubernetes' maxSkew, default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = super::limits::COUNT_MAX))]
    pub max_skew: Option<u32>,
    /// Hard (default) or soft: a soft rule may be broken, at `weight` per violation in the
    /// policy objective, and the answer counts its violations in `stats.soft_violations`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hard: Option<bool>,
    /// Price of one violation of a soft rule, in the host policy's units (default 1: one host
    /// under `pack`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = super::limits::WEIGHT_MAX))]
    pub weight: Option<f64>,
}

fn host_scope() -> String {
    "host".to_string()
}

/// What a group's rule asks.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub enum GroupPolicy {
    /// At most `max_per_domain` members in one domain.
    #[serde(rename = "anti-affinity")]
    AntiAffinity,
    /// Every member in one domain.
    #[serde(rename = "affinity")]
    Affinity,
    /// Member counts of any two domains with room differ by at most `max_skew`.
    #[serde(rename = "spread")]
    Spread,
}

/// A storage system (a Ceph pool, a NetApp volume, an NFS export...).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Storage {
    /// Unique id, referenced by `hosts[].storage` and `requests[].storage`.
    #[schemars(length(min = 1))]
    pub id: String,
    /// Total capacity in GiB.
    #[schemars(range(min = 0, max = super::limits::AMOUNT_MAX))]
    pub capacity_gib: f64,
    /// Capacity already in use, in GiB (default 0).
    #[serde(default)]
    #[schemars(range(min = 0, max = super::limits::AMOUNT_MAX))]
    pub used_gib: f64,
    /// Thin provisioning (Cinder's over-subscription ratio, default 1): the usable space is
    /// `(capacity_gib - reserved_gib) * allocation_ratio`, and `used_gib` counts against it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::limits::optional_ratio")]
    pub allocation_ratio: Option<f64>,
    /// Space held back, GiB (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::limits::optional_amount")]
    pub reserved_gib: Option<f64>,
    /// Qualities of the storage system (`["SSD", "REPLICATED"]`), matched by
    /// `requests[].storage_required_traits` and `storage_forbidden_traits`.
    #[serde(default, skip_serializing_if = "Traits::is_empty")]
    pub traits: Traits,
}

/// A set of trait names (Placement's traits: `"HW_GPU"`, `"SSD"`, any string).
pub type Traits = std::collections::BTreeSet<String>;

/// A hypervisor host.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Host {
    /// Unique id.
    #[schemars(length(min = 1))]
    pub id: String,
    /// Capacity per resource (any number of dimensions; a resource the host does not list is 0).
    #[schemars(schema_with = "super::limits::resources")]
    pub capacity: Resources,
    /// Amount already in use per resource (missing means zero).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::limits::optional_resources")]
    pub used: Option<Resources>,
    /// Ids of the storage systems this host is connected to; a VM can run here only if its disk
    /// is on one of them.
    pub storage: Vec<String>,
    /// Topology labels, any keys: `{"zone": "az1", "rack": "r12"}` (`capacity --fail label:...`).
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
    /// Qualities of the host (`["HW_GPU", "AVX512"]`), matched by `requests[].required_traits`
    /// and `forbidden_traits`.
    #[serde(default, skip_serializing_if = "Traits::is_empty")]
    pub traits: Traits,
    /// Members of `groups` already running here, per group id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub group_members: BTreeMap<String, u32>,
}

/// One VM to place.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// Unique id.
    #[schemars(length(min = 1))]
    pub id: String,
    /// Resources the VM needs on its host (same keys as host capacities).
    #[schemars(schema_with = "super::limits::resources")]
    pub demand: Resources,
    /// Size of the VM's disk image in GiB.
    #[schemars(range(min = 0, max = super::limits::AMOUNT_MAX))]
    pub disk_gib: f64,
    /// Storage system already chosen (phase 1 done); required by `vmplace host`. The image is
    /// then written there and counted in that storage's `used_gib`, in every mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<String>,
    /// Relative importance when not everything fits (default 1): placing a request of priority 2
    /// is worth placing two of priority 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.001, max = super::limits::PRIORITY_MAX))]
    pub priority: Option<f64>,
    /// Anti-affinity group: no two requests of the same group run on one host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub anti_affinity: Option<String>,
    /// The VM's host must have every one of these traits.
    #[serde(default, skip_serializing_if = "Traits::is_empty")]
    pub required_traits: Traits,
    /// The VM's host must have none of these traits.
    #[serde(default, skip_serializing_if = "Traits::is_empty")]
    pub forbidden_traits: Traits,
    /// The storage system of the VM's disk must have every one of these traits.
    #[serde(default, skip_serializing_if = "Traits::is_empty")]
    pub storage_required_traits: Traits,
    /// The storage system of the VM's disk must have none of these traits.
    #[serde(default, skip_serializing_if = "Traits::is_empty")]
    pub storage_forbidden_traits: Traits,
    /// Ids of the `groups` whose rules the VM follows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
}

impl Request {
    /// A request with only its id, demand and image size (no storage, priority, traits or
    /// groups): what the generators build and then refine.
    pub fn plain(id: String, demand: Resources, disk_gib: f64) -> Request {
        Request {
            id,
            demand,
            disk_gib,
            storage: None,
            priority: None,
            anti_affinity: None,
            required_traits: Default::default(),
            forbidden_traits: Default::default(),
            storage_required_traits: Default::default(),
            storage_forbidden_traits: Default::default(),
            groups: Vec::new(),
        }
    }
}

/// Objective policy of a phase.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Objective {
    /// Spread load: minimise the highest utilisation.
    #[default]
    Balance,
    /// Consolidate: use as few storage systems / hosts as possible.
    Pack,
}

/// Which solver computes the answer.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum SolverKind {
    /// Mixed-integer program on HiGHS, warm-started with the greedy answer.
    #[default]
    Mip,
    /// Today's schedulers: one request at a time, filter then weigh.
    Greedy,
    /// A scheduler with retries: requests in input order, each trying the storage systems by
    /// most free space until one has a connected host with room.
    #[serde(rename = "greedy-retry")]
    GreedyRetry,
    /// Storage and host chosen together in one MIP (`place` only, up to a model size; larger
    /// calls are solved by the two phases): the reference for what the two phases lose.
    Joint,
    /// OpenStack's default, with retries over storage systems: storage by most free space
    /// (Cinder's CapacityWeigher), host by most free RAM (Nova's RAMWeigher).
    #[serde(rename = "openstack")]
    Openstack,
    /// Storage by most free space, host by best fit (least capacity left), with retries.
    #[serde(rename = "best-fit")]
    BestFit,
    /// Storage by most free space, host by balanced fit (largest smallest share left), with
    /// retries.
    #[serde(rename = "balanced")]
    Balanced,
}

/// Solver options. CLI flags override them.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// Wall-clock limit for the whole call, in seconds (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.001, max = super::limits::SECONDS_MAX))]
    pub time_limit_s: Option<f64>,
    /// Relative MIP gap at which the solver may stop (default 0.001).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 1))]
    pub mip_gap: Option<f64>,
    /// Solver threads (default 1, which keeps answers reproducible).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 256))]
    pub threads: Option<u32>,
    /// Storage phase objective (default `balance`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_policy: Option<Objective>,
    /// Host phase objective (default `pack`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_policy: Option<Objective>,
    /// Weight of the live-migration-domain term in the storage phase (default 0.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 100))]
    pub flexibility_weight: Option<f64>,
    /// `mip` (default), `greedy`, `greedy-retry` or `joint`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub solver: Option<SolverKind>,
}

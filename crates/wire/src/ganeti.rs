//! Ganeti's IAllocator protocol, version 2 (Ganeti's `doc/iallocator.rst`): the input document
//! Ganeti writes for an allocator and the answer it reads back.
//!
//! Only the fields vmplace uses are typed; every other field is accepted and ignored, because
//! Ganeti adds fields from release to release and an allocator must not reject them. Amounts are
//! Ganeti's: memory and disk in MiB, CPUs as counts.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The document Ganeti hands to an allocator.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[schemars(rename = "IallocatorInput")]
pub struct Input {
    /// Protocol version (2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    /// Cluster tags; `htools:iextags:PREFIX` makes instance tags starting with PREFIX exclusive.
    #[serde(default)]
    pub cluster_tags: Vec<String>,
    /// Node groups by UUID.
    pub nodegroups: BTreeMap<String, NodeGroup>,
    /// Nodes by name.
    pub nodes: BTreeMap<String, Node>,
    /// Existing instances by name.
    pub instances: BTreeMap<String, Instance>,
    /// What to compute.
    pub request: Request,
}

/// A node group: vmplace's storage domain for shared disk templates.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[schemars(rename = "GanetiNodeGroup")]
pub struct NodeGroup {
    /// Group name (the answer names groups by it).
    pub name: String,
    /// `preferred`, `last_resort` or `unallocable`.
    pub alloc_policy: AllocPolicy,
    /// Network UUIDs the group is connected to.
    #[serde(default)]
    pub networks: Vec<String>,
    /// The group's instance policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipolicy: Option<IPolicy>,
}

/// A group's allocation policy (gnt-group(8)).
#[derive(
    Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq, PartialOrd, Ord,
)]
#[serde(rename_all = "snake_case")]
#[schemars(rename = "GanetiAllocPolicy")]
pub enum AllocPolicy {
    /// Used first.
    Preferred,
    /// Used only when no preferred group fits.
    LastResort,
    /// Never used for new instances.
    Unallocable,
}

/// An instance policy: allowed disk templates, instance specs and ratios.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Default)]
#[schemars(rename = "GanetiIPolicy")]
pub struct IPolicy {
    /// Disk templates allowed in the group (absent: all).
    #[serde(
        default,
        rename = "disk-templates",
        skip_serializing_if = "Option::is_none"
    )]
    pub disk_templates: Option<Vec<String>>,
    /// Allowed spec ranges: an instance must fit one pair.
    #[serde(default)]
    pub minmax: Vec<MinMax>,
    /// Virtual CPUs per physical CPU (default 1).
    #[serde(
        default,
        rename = "vcpu-ratio",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(range(min = 0))]
    pub vcpu_ratio: Option<f64>,
    /// Spindles usable per physical spindle without exclusive storage (default 1).
    #[serde(
        default,
        rename = "spindle-ratio",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(range(min = 0))]
    pub spindle_ratio: Option<f64>,
}

/// One allowed range of instance specs.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[schemars(rename = "GanetiMinMax")]
pub struct MinMax {
    /// Lower ends.
    pub min: Spec,
    /// Upper ends.
    pub max: Spec,
}

/// Instance specs of an instance policy (a missing entry does not restrict).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Default)]
#[schemars(rename = "GanetiSpec")]
pub struct Spec {
    /// Virtual CPUs.
    #[serde(default, rename = "cpu-count", skip_serializing_if = "Option::is_none")]
    pub cpu_count: Option<f64>,
    /// Number of disks.
    #[serde(
        default,
        rename = "disk-count",
        skip_serializing_if = "Option::is_none"
    )]
    pub disk_count: Option<f64>,
    /// Size of each disk, MiB.
    #[serde(default, rename = "disk-size", skip_serializing_if = "Option::is_none")]
    pub disk_size: Option<f64>,
    /// Memory, MiB.
    #[serde(
        default,
        rename = "memory-size",
        skip_serializing_if = "Option::is_none"
    )]
    pub memory_size: Option<f64>,
    /// Number of NICs.
    #[serde(default, rename = "nic-count", skip_serializing_if = "Option::is_none")]
    pub nic_count: Option<f64>,
    /// Spindles used.
    #[serde(
        default,
        rename = "spindle-use",
        skip_serializing_if = "Option::is_none"
    )]
    pub spindle_use: Option<f64>,
}

/// A node. Offline, drained and non-`vm_capable` nodes carry no run-time data.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Default)]
#[schemars(rename = "GanetiNode")]
pub struct Node {
    /// UUID of its group.
    pub group: String,
    /// Offline: not a target.
    #[serde(default)]
    pub offline: bool,
    /// Drained: not a target.
    #[serde(default)]
    pub drained: bool,
    /// Can run instances (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vm_capable: Option<bool>,
    /// Node parameters (`exclusive_storage`, `spindle_count`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ndparams: Option<NdParams>,
    /// Node tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// Memory, MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub total_memory: Option<f64>,
    /// Memory held back for the node itself, MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub reserved_memory: Option<f64>,
    /// Free memory, MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub free_memory: Option<f64>,
    /// Local disk, MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub total_disk: Option<f64>,
    /// Free local disk, MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub free_disk: Option<f64>,
    /// Physical CPUs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub total_cpus: Option<f64>,
    /// CPUs held back for the node itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub reserved_cpus: Option<f64>,
    /// Spindles (with exclusive storage).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub total_spindles: Option<f64>,
    /// Free spindles (with exclusive storage).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub free_spindles: Option<f64>,
}

/// Node parameters vmplace reads.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Default)]
#[schemars(rename = "GanetiNdParams")]
pub struct NdParams {
    /// One disk per spindle: spindles are counted from `total_spindles`/`free_spindles`.
    #[serde(default)]
    pub exclusive_storage: bool,
    /// Spindles of the node without exclusive storage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub spindle_count: Option<f64>,
}

/// One disk of an instance.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[schemars(rename = "GanetiDisk")]
pub struct Disk {
    /// Size, MiB.
    #[schemars(range(min = 0))]
    pub size: f64,
    /// Spindles it occupies (exclusive storage).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub spindles: Option<f64>,
}

/// One network interface: only its network matters here.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Default)]
#[schemars(rename = "GanetiNic")]
pub struct Nic {
    /// Network UUID the NIC is connected to (null: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
}

/// An instance's resources, as both existing instances and allocation requests give them.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[schemars(rename = "GanetiInstanceSpec")]
pub struct InstanceSpec {
    /// Memory, MiB.
    #[schemars(range(min = 0))]
    pub memory: f64,
    /// Virtual CPUs.
    #[schemars(range(min = 0))]
    pub vcpus: f64,
    /// Disk template (`plain`, `drbd`, `rbd`, `ext`, ...).
    pub disk_template: String,
    /// Disks.
    #[serde(default)]
    pub disks: Vec<Disk>,
    /// Disk space the instance uses on its node(s), MiB (Ganeti computes it from the template).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub disk_space_total: Option<f64>,
    /// Spindles used (without exclusive storage).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub spindle_use: Option<f64>,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Network interfaces.
    #[serde(default)]
    pub nics: Vec<Nic>,
}

/// An existing instance.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[schemars(rename = "GanetiInstance")]
pub struct Instance {
    /// Resources and template.
    #[serde(flatten)]
    pub spec: InstanceSpec,
    /// Nodes it is on, primary first.
    #[schemars(length(min = 1))]
    pub nodes: Vec<String>,
}

/// A new instance to allocate.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[schemars(rename = "GanetiNewInstance")]
pub struct NewInstance {
    /// Instance name.
    pub name: String,
    /// How many nodes the answer must list (1, or 2 for `drbd`).
    pub required_nodes: u32,
    /// Resources and template.
    #[serde(flatten)]
    pub spec: InstanceSpec,
    /// Only these nodes may be chosen.
    #[serde(
        default,
        rename = "restrict-to-nodes",
        skip_serializing_if = "Option::is_none"
    )]
    pub restrict_to_nodes: Option<Vec<String>>,
}

/// Which instances a node evacuation moves.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
#[schemars(rename = "GanetiEvacMode")]
pub enum EvacMode {
    /// Primaries leave their node.
    PrimaryOnly,
    /// Secondaries leave their node (DRBD only).
    SecondaryOnly,
    /// Both.
    All,
}

/// The operation requested.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(tag = "type", rename_all = "kebab-case")]
#[schemars(rename = "IallocatorRequest")]
pub enum Request {
    /// Place one new instance.
    Allocate(NewInstance),
    /// Place several new instances.
    MultiAllocate {
        /// The new instances.
        instances: Vec<NewInstance>,
    },
    /// Move one instance off the given node(s), within its group.
    Relocate {
        /// Instance name.
        name: String,
        /// Nodes to leave.
        relocate_from: Vec<String>,
        /// How many nodes the answer lists.
        required_nodes: u32,
    },
    /// Move instances off their nodes.
    NodeEvacuate {
        /// Instances to move.
        instances: Vec<String>,
        /// Which of their nodes to leave.
        evac_mode: EvacMode,
    },
    /// Move instances to other groups.
    ChangeGroup {
        /// Instances to move.
        instances: Vec<String>,
        /// Group UUIDs to consider (empty: every other group).
        target_groups: Vec<String>,
    },
    /// Find a secondary node for an instance converted to DRBD.
    AllocateSecondary {
        /// Instance name.
        name: String,
    },
}

impl Request {
    /// The protocol's name of the request type.
    pub fn kind(&self) -> &'static str {
        match self {
            Request::Allocate(_) => "allocate",
            Request::MultiAllocate { .. } => "multi-allocate",
            Request::Relocate { .. } => "relocate",
            Request::NodeEvacuate { .. } => "node-evacuate",
            Request::ChangeGroup { .. } => "change-group",
            Request::AllocateSecondary { .. } => "allocate-secondary",
        }
    }

    /// Every request type vmplace reads.
    pub const KINDS: [&'static str; 6] = [
        "allocate",
        "multi-allocate",
        "relocate",
        "node-evacuate",
        "change-group",
        "allocate-secondary",
    ];
}

/// The allocator's answer.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[schemars(rename = "IallocatorAnswer")]
pub struct Response {
    /// Whether the request succeeded.
    pub success: bool,
    /// What was done, or why it failed (shown to the operator).
    pub info: String,
    /// Nodes for `allocate`/`relocate`; `[allocated, failed]` for `multi-allocate`;
    /// `[moved, failed, jobs]` for `node-evacuate`/`change-group`; `[]` on failure.
    pub result: serde_json::Value,
}

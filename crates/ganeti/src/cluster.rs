//! The cluster as vmplace sees it: Ganeti's nodes with capacities and loads in vmplace's
//! resources, and which nodes each instance may go to (models/ganeti.md, "Mapping").

use std::collections::{BTreeMap, BTreeSet};
use vmplace_wire::ganeti::{AllocPolicy, IPolicy, Input, InstanceSpec, Node, NodeGroup};

/// vmplace resource names of a Ganeti node.
pub const CPU: &str = "cpu";
/// Memory, MiB.
pub const MEMORY: &str = "memory_mib";
/// Spindles.
pub const SPINDLES: &str = "spindles";

/// MiB per GiB: Ganeti counts disk in MiB, vmplace's storage in GiB.
pub const MIB_PER_GIB: f64 = 1024.0;

/// Where a disk template keeps the disks, which decides what a move needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Template {
    /// Disks outside the node (`sharedfile`, `rbd`, `ext`, `gluster`, `blockdev`, `diskless`):
    /// the group is the storage domain and any node of it can run the instance.
    Shared,
    /// Disks on the node (`plain`, `file`): the node is its own storage system.
    Local,
    /// Mirrored over two nodes (`drbd`): not supported (models/ganeti.md, "DRBD").
    Drbd,
}

impl Template {
    /// The template of a Ganeti name, or `None` for an unknown one.
    pub fn of(name: &str) -> Option<Template> {
        match name {
            "sharedfile" | "rbd" | "ext" | "gluster" | "blockdev" | "diskless" => {
                Some(Template::Shared)
            }
            "plain" | "file" => Some(Template::Local),
            "drbd" => Some(Template::Drbd),
            _ => None,
        }
    }
}

/// A node by its place in [`Cluster::nodes`] (the document's nodes in name order), so that the
/// mapping compares integers where Ganeti's document has names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub u32);

/// A node group by its place in [`Cluster::groups`] (UUID order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupId(pub u32);

impl NodeId {
    /// The index into [`Cluster::nodes`].
    pub fn ix(self) -> usize {
        self.0 as usize
    }
}

impl GroupId {
    /// The index into [`Cluster::groups`].
    pub fn ix(self) -> usize {
        self.0 as usize
    }
}

/// A node group of the document with its UUID.
#[derive(Debug, Clone, Copy)]
pub struct GroupView<'a> {
    /// UUID.
    pub uuid: &'a str,
    /// The group as the document gives it.
    pub group: &'a NodeGroup,
}

/// A node with its capacity and load in vmplace's resources.
#[derive(Debug, Clone)]
pub struct NodeView {
    /// Ganeti name (vmplace host id).
    pub name: String,
    /// Group UUID.
    pub group: String,
    /// Its group, `None` when the document does not list it.
    pub group_id: Option<GroupId>,
    /// Online, not drained and `vm_capable`: may receive instances.
    pub target: bool,
    /// Exclusive storage: spindles are counted per disk.
    pub exclusive: bool,
    /// Capacity per resource.
    pub capacity: BTreeMap<String, f64>,
    /// Used per resource.
    pub used: BTreeMap<String, f64>,
    /// Local disk, GiB.
    pub disk_gib: f64,
    /// Local disk used, GiB.
    pub disk_used_gib: f64,
    /// Exclusion tags of the primary instances on it.
    pub excl_tags: BTreeSet<String>,
}

/// The cluster of an input document.
#[derive(Debug, Clone)]
pub struct Cluster<'a> {
    /// The document.
    pub input: &'a Input,
    /// Nodes in name order ([`NodeId`]).
    pub nodes: Vec<NodeView>,
    /// Groups in UUID order ([`GroupId`]).
    pub groups: Vec<GroupView<'a>>,
    /// Prefixes of exclusion tags (`htools:iextags:PREFIX` cluster tags).
    pub excl_prefixes: Vec<String>,
    node_ids: BTreeMap<&'a str, NodeId>,
    group_ids: BTreeMap<&'a str, GroupId>,
}

/// The exclusion tags of an instance: its tags that start with an exclusion prefix.
pub fn exclusion_tags(prefixes: &[String], tags: &[String]) -> BTreeSet<String> {
    tags.iter()
        .filter(|t| prefixes.iter().any(|p| t.starts_with(p.as_str())))
        .cloned()
        .collect()
}

/// The spindles an instance uses: its disks' spindles on exclusive storage, else `spindle_use`.
pub fn spindles_of(spec: &InstanceSpec, exclusive: bool) -> f64 {
    if exclusive {
        spec.disks.iter().map(|d| d.spindles.unwrap_or(1.0)).sum()
    } else {
        spec.spindle_use.unwrap_or(1.0)
    }
}

/// Disk an instance uses on its node, GiB.
pub fn disk_gib_of(spec: &InstanceSpec) -> f64 {
    let mib = spec
        .disk_space_total
        .unwrap_or_else(|| spec.disks.iter().map(|d| d.size).sum());
    mib / MIB_PER_GIB
}

/// A node's view: its capacity and load as the document states them, before its instances.
fn node_view(input: &Input, name: &str, n: &Node, group_id: Option<GroupId>) -> NodeView {
    let default = IPolicy::default();
    let ipolicy = input
        .nodegroups
        .get(&n.group)
        .and_then(|g| g.ipolicy.as_ref())
        .unwrap_or(&default);
    let live = !n.offline && n.vm_capable.unwrap_or(true);
    let exclusive = n.ndparams.as_ref().is_some_and(|p| p.exclusive_storage);
    let mem_cap = (n.total_memory.unwrap_or(0.0) - n.reserved_memory.unwrap_or(0.0)).max(0.0);
    let mem_used = (mem_cap - n.free_memory.unwrap_or(0.0)).clamp(0.0, mem_cap);
    let cpu_cap = (n.total_cpus.unwrap_or(0.0) * ipolicy.vcpu_ratio.unwrap_or(1.0)).floor();
    let (sp_cap, sp_used) = if exclusive {
        let total = n.total_spindles.unwrap_or(0.0);
        (total, total - n.free_spindles.unwrap_or(0.0))
    } else {
        let count = n.ndparams.as_ref().and_then(|p| p.spindle_count);
        let ratio = ipolicy.spindle_ratio.unwrap_or(1.0);
        (count.unwrap_or(1.0) * ratio, 0.0)
    };
    let disk = n.total_disk.unwrap_or(0.0) / MIB_PER_GIB;
    let disk_free = n.free_disk.unwrap_or(0.0) / MIB_PER_GIB;
    NodeView {
        name: name.to_string(),
        group: n.group.clone(),
        group_id,
        target: live && !n.drained,
        exclusive,
        capacity: [(CPU, cpu_cap), (MEMORY, mem_cap), (SPINDLES, sp_cap)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        used: [
            (CPU.to_string(), n.reserved_cpus.unwrap_or(0.0)),
            (MEMORY.to_string(), mem_used),
            (SPINDLES.to_string(), sp_used.max(0.0)),
        ]
        .into_iter()
        .collect(),
        disk_gib: disk,
        disk_used_gib: (disk - disk_free).clamp(0.0, disk),
        excl_tags: BTreeSet::new(),
    }
}

/// An index that fits the id types (documents with more than 2^32 nodes are not read).
fn id_of(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

impl<'a> Cluster<'a> {
    /// Reads the nodes of a validated document (every node's group exists).
    pub fn new(input: &'a Input) -> Cluster<'a> {
        let excl_prefixes: Vec<String> = input
            .cluster_tags
            .iter()
            .filter_map(|t| t.strip_prefix("htools:iextags:"))
            .map(str::to_string)
            .collect();
        let groups: Vec<GroupView<'a>> = input
            .nodegroups
            .iter()
            .map(|(uuid, group)| GroupView { uuid, group })
            .collect();
        let group_ids: BTreeMap<&'a str, GroupId> = groups
            .iter()
            .enumerate()
            .map(|(i, g)| (g.uuid, GroupId(id_of(i))))
            .collect();
        let mut nodes: Vec<NodeView> = input
            .nodes
            .iter()
            .map(|(name, n)| node_view(input, name, n, group_ids.get(n.group.as_str()).copied()))
            .collect();
        let node_ids: BTreeMap<&'a str, NodeId> = input
            .nodes
            .keys()
            .enumerate()
            .map(|(i, name)| (name.as_str(), NodeId(id_of(i))))
            .collect();
        for inst in input.instances.values() {
            let Some(primary) = inst
                .nodes
                .first()
                .and_then(|p| node_ids.get(p.as_str()))
                .and_then(|id| nodes.get_mut(id.ix()))
            else {
                continue;
            };
            *primary.used.entry(CPU.to_string()).or_default() += inst.spec.vcpus;
            if !primary.exclusive {
                *primary.used.entry(SPINDLES.to_string()).or_default() +=
                    spindles_of(&inst.spec, false);
            }
            primary
                .excl_tags
                .extend(exclusion_tags(&excl_prefixes, &inst.spec.tags));
        }
        // vmplace takes `used <= capacity`; an over-committed node simply has no room left.
        for n in nodes.iter_mut() {
            for (k, u) in n.used.iter_mut() {
                *u = u.min(n.capacity.get(k).copied().unwrap_or(0.0));
            }
        }
        Cluster {
            input,
            nodes,
            groups,
            excl_prefixes,
            node_ids,
            group_ids,
        }
    }

    /// The id of the node of that name.
    pub fn node_id(&self, name: &str) -> Option<NodeId> {
        self.node_ids.get(name).copied()
    }

    /// The node of that id.
    pub fn node(&self, id: NodeId) -> &NodeView {
        &self.nodes[id.ix()]
    }

    /// The node of that name.
    pub fn node_named(&self, name: &str) -> Option<&NodeView> {
        self.node_id(name).map(|id| self.node(id))
    }

    /// Every node with its id.
    pub fn node_ids(&self) -> impl Iterator<Item = (NodeId, &NodeView)> {
        self.nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (NodeId(id_of(i)), n))
    }

    /// The id of the group of that UUID.
    pub fn group_id(&self, uuid: &str) -> Option<GroupId> {
        self.group_ids.get(uuid).copied()
    }

    /// Every group's id.
    pub fn group_id_list(&self) -> impl Iterator<Item = GroupId> {
        (0..self.groups.len()).map(|i| GroupId(id_of(i)))
    }

    /// The group of that UUID.
    pub fn group(&self, uuid: &str) -> Option<&NodeGroup> {
        self.input.nodegroups.get(uuid)
    }

    /// The group's allocation policy (`unallocable` for an unknown one).
    pub fn alloc_policy(&self, uuid: &str) -> AllocPolicy {
        self.group(uuid)
            .map_or(AllocPolicy::Unallocable, |g| g.alloc_policy)
    }

    /// The group's name, or its UUID when it has none.
    pub fn group_name(&self, uuid: &str) -> String {
        self.group(uuid)
            .map_or_else(|| uuid.to_string(), |g| g.name.clone())
    }
}

/// Why a group cannot take an instance under its instance policy, networks or templates.
/// `exclusive` says whether the group's nodes count spindles per disk.
pub fn group_rejects(group: &NodeGroup, spec: &InstanceSpec, exclusive: bool) -> Option<String> {
    let default = IPolicy::default();
    let policy = group.ipolicy.as_ref().unwrap_or(&default);
    if let Some(allowed) = &policy.disk_templates {
        if !allowed.iter().any(|t| t == &spec.disk_template) {
            return Some(format!(
                "group {} does not allow disk template {}",
                group.name, spec.disk_template
            ));
        }
    }
    for nic in &spec.nics {
        if let Some(net) = &nic.network {
            if !group.networks.contains(net) {
                return Some(format!(
                    "group {} is not connected to network {net}",
                    group.name
                ));
            }
        }
    }
    if !policy.minmax.is_empty()
        && !policy
            .minmax
            .iter()
            .any(|mm| spec_within(mm, spec, exclusive))
    {
        return Some(format!(
            "the instance's specs are outside every min/max range of group {}'s instance policy",
            group.name
        ));
    }
    None
}

/// Whether the instance's specs lie in one min/max pair, as htools compares them: memory, every
/// disk's size, CPUs, spindles, and the disk count (not for `diskless`). NICs are not counted.
fn spec_within(mm: &vmplace_wire::ganeti::MinMax, spec: &InstanceSpec, exclusive: bool) -> bool {
    let within = |v: f64, lo: Option<f64>, hi: Option<f64>| {
        lo.is_none_or(|lo| v >= lo) && hi.is_none_or(|hi| v <= hi)
    };
    let (lo, hi) = (&mm.min, &mm.max);
    let disks_counted = spec.disk_template != "diskless";
    within(spec.vcpus, lo.cpu_count, hi.cpu_count)
        && within(spec.memory, lo.memory_size, hi.memory_size)
        && (!disks_counted || within(spec.disks.len() as f64, lo.disk_count, hi.disk_count))
        && within(spindles_of(spec, exclusive), lo.spindle_use, hi.spindle_use)
        && spec
            .disks
            .iter()
            .all(|d| within(d.size, lo.disk_size, hi.disk_size))
}

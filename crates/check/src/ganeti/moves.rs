//! IAllocator answers, checked from Ganeti's input document alone: every chosen node exists, is
//! online, undrained and `vm_capable`, is in a group that may take the instance, and has room for
//! it after every other instance of the same answer (memory, CPUs at the group's `vcpu-ratio`,
//! local disk for `plain`/`file`, spindles), and no node gets two instances sharing an exclusion
//! tag. A move (relocation, evacuation, group change) must be one Ganeti can make (only mirrored
//! disks move; a group change never ends in a group it evacuates), must name the new group by
//! its name, and its jobs must do exactly the moves listed. It reads Ganeti's semantics from the
//! document itself, not from vmplace's mapping.

use super::tolerance::exceeds;
use super::{v, Collector, Findings, Rule};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use vmplace_wire::ganeti::{
    AllocPolicy, EvacMode, Input, Instance, InstanceSpec, Request, Response,
};

/// A node's load while the answer's instances are added.
#[derive(Default, Clone)]
struct Load {
    memory: f64,
    cpus: f64,
    disk: f64,
    spindles: f64,
    tags: BTreeSet<String>,
}

/// Checks an answer against its input. A failed answer (`success: false`) must have an empty
/// `result`; it places nothing, so nothing else can be wrong with it.
pub fn check_iallocator(input: &Input, answer: &Response) -> Findings {
    let mut out = Collector::default();
    if !answer.success {
        if answer.result != Value::Array(vec![]) {
            out.push(v(
                Rule::BadResult,
                "/result",
                "a failed answer's result must be []",
            ));
        }
        return out.finish();
    }
    let mut ck = Checker::new(input);
    match &input.request {
        Request::Allocate(new) => match node_list(&answer.result) {
            Some(nodes) if nodes.len() == 1 => {
                ck.add("/result/0", &new.spec, &nodes[0], None, &mut out)
            }
            _ => out.push(v(Rule::BadResult, "/result", "expected a list of one node")),
        },
        Request::MultiAllocate { instances } => {
            let specs: BTreeMap<&str, &InstanceSpec> = instances
                .iter()
                .map(|i| (i.name.as_str(), &i.spec))
                .collect();
            let Some([done, failed]) = answer.result.as_array().map(Vec::as_slice) else {
                out.push(v(
                    Rule::BadResult,
                    "/result",
                    "expected [allocated, failed]",
                ));
                return out.finish();
            };
            let mut seen = BTreeSet::new();
            for (i, entry) in done.as_array().into_iter().flatten().enumerate() {
                let at = format!("/result/0/{i}");
                let name = entry.get(0).and_then(Value::as_str).unwrap_or_default();
                let nodes = entry.get(1).and_then(node_list).unwrap_or_default();
                match (specs.get(name), nodes.as_slice()) {
                    (Some(spec), [node]) if seen.insert(name) => {
                        ck.add(&at, spec, node, None, &mut out)
                    }
                    _ => out.push(v(
                        Rule::BadResult,
                        at,
                        format!("`{name}` is not a requested instance with one node, once"),
                    )),
                }
            }
            for (i, entry) in failed.as_array().into_iter().flatten().enumerate() {
                let name = entry.get(0).and_then(Value::as_str).unwrap_or_default();
                if !specs.contains_key(name) || !seen.insert(name) {
                    out.push(v(
                        Rule::BadResult,
                        format!("/result/1/{i}"),
                        format!("`{name}` is not a requested instance, or is listed twice"),
                    ));
                }
            }
            if seen.len() != specs.len() {
                out.push(v(
                    Rule::BadResult,
                    "/result",
                    "every instance is allocated or failed",
                ));
            }
        }
        Request::Relocate {
            name,
            relocate_from,
            ..
        } => match (input.instances.get(name), node_list(&answer.result)) {
            (Some(inst), Some(nodes)) if nodes.len() == 1 => {
                if relocate_from.contains(&nodes[0]) {
                    out.push(v(Rule::BadResult, "/result/0", "the node it was to leave"));
                }
                if let Some(why) = unmirrored(&inst.spec.disk_template) {
                    out.push(v(Rule::NotMovable, "/result/0", why));
                }
                let group = ck.group_of(&inst.nodes[0]);
                ck.add("/result/0", &inst.spec, &nodes[0], Some(&group), &mut out);
            }
            _ => out.push(v(Rule::BadResult, "/result", "expected a list of one node")),
        },
        Request::NodeEvacuate { instances, .. } | Request::ChangeGroup { instances, .. } => {
            ck.moves(input, instances, answer, &mut out)
        }
        Request::AllocateSecondary { .. } => {
            if answer.result.as_str().is_none() {
                out.push(v(Rule::BadResult, "/result", "expected a node name"));
            }
        }
    }
    out.finish()
}

/// `a`, `b`: names as a message lists them.
fn quoted<'a>(names: impl Iterator<Item = &'a String>) -> String {
    names
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn node_list(v: &Value) -> Option<Vec<String>> {
    v.as_array()?
        .iter()
        .map(|n| n.as_str().map(str::to_string))
        .collect()
}

struct Checker<'a> {
    input: &'a Input,
    load: BTreeMap<&'a str, Load>,
    excl: Vec<String>,
}

impl<'a> Checker<'a> {
    fn new(input: &'a Input) -> Self {
        let excl: Vec<String> = input
            .cluster_tags
            .iter()
            .filter_map(|t| t.strip_prefix("htools:iextags:").map(str::to_string))
            .collect();
        let mut ck = Checker {
            input,
            load: BTreeMap::new(),
            excl,
        };
        for (name, n) in &input.nodes {
            let mut l = Load {
                memory: n.total_memory.unwrap_or(0.0)
                    - n.reserved_memory.unwrap_or(0.0)
                    - n.free_memory.unwrap_or(0.0),
                cpus: n.reserved_cpus.unwrap_or(0.0),
                disk: n.total_disk.unwrap_or(0.0) - n.free_disk.unwrap_or(0.0),
                ..Load::default()
            };
            if ck.exclusive(name) {
                l.spindles = n.total_spindles.unwrap_or(0.0) - n.free_spindles.unwrap_or(0.0);
            }
            ck.load.insert(name.as_str(), l);
        }
        for inst in input.instances.values() {
            let Some(p) = inst.nodes.first() else {
                continue;
            };
            let exclusive = ck.exclusive(p);
            let tags = ck.tags(&inst.spec);
            if let Some(l) = ck.load.get_mut(p.as_str()) {
                l.cpus += inst.spec.vcpus;
                if !exclusive {
                    l.spindles += inst.spec.spindle_use.unwrap_or(1.0);
                }
                l.tags.extend(tags);
            }
        }
        ck
    }

    fn exclusive(&self, node: &str) -> bool {
        self.input
            .nodes
            .get(node)
            .and_then(|n| n.ndparams.as_ref())
            .is_some_and(|p| p.exclusive_storage)
    }

    fn tags(&self, spec: &InstanceSpec) -> BTreeSet<String> {
        spec.tags
            .iter()
            .filter(|t| self.excl.iter().any(|p| t.starts_with(p.as_str())))
            .cloned()
            .collect()
    }

    fn group_of(&self, node: &str) -> String {
        self.input
            .nodes
            .get(node)
            .map(|n| n.group.clone())
            .unwrap_or_default()
    }

    /// Adds an instance to a node, reporting what it breaks. `group`: the group it must be in.
    fn add(
        &mut self,
        at: &str,
        spec: &InstanceSpec,
        node: &str,
        group: Option<&str>,
        out: &mut Collector,
    ) {
        let Some(n) = self.input.nodes.get(node) else {
            out.push(v(
                Rule::UnknownHost,
                at,
                format!("node `{node}` does not exist"),
            ));
            return;
        };
        if n.offline || n.drained || n.vm_capable == Some(false) {
            out.push(v(
                Rule::TargetNotActive,
                at,
                format!("node {node} is offline, drained or not vm_capable"),
            ));
        }
        let g = self.input.nodegroups.get(&n.group);
        let policy = g.and_then(|g| g.ipolicy.clone()).unwrap_or_default();
        if g.is_none_or(|g| g.alloc_policy == AllocPolicy::Unallocable)
            || group.is_some_and(|want| want != n.group)
        {
            out.push(v(
                Rule::GroupNotAllowed,
                at,
                format!("node {node}'s group {} may not take this instance", n.group),
            ));
        }
        if let Some(allowed) = &policy.disk_templates {
            if !allowed.contains(&spec.disk_template) {
                out.push(v(
                    Rule::GroupNotAllowed,
                    at,
                    format!("group {} does not allow {}", n.group, spec.disk_template),
                ));
            }
        }
        let exclusive = self.exclusive(node);
        let tags = self.tags(spec);
        let Some(l) = self.load.get_mut(node) else {
            return;
        };
        l.memory += spec.memory;
        l.cpus += spec.vcpus;
        l.spindles += if exclusive {
            spec.disks.iter().map(|d| d.spindles.unwrap_or(1.0)).sum()
        } else {
            spec.spindle_use.unwrap_or(1.0)
        };
        if matches!(spec.disk_template.as_str(), "plain" | "file") {
            l.disk += spec
                .disk_space_total
                .unwrap_or_else(|| spec.disks.iter().map(|d| d.size).sum());
        }
        let mem_cap = n.total_memory.unwrap_or(0.0) - n.reserved_memory.unwrap_or(0.0);
        let cpu_cap = (n.total_cpus.unwrap_or(0.0) * policy.vcpu_ratio.unwrap_or(1.0)).floor();
        let sp_cap = if exclusive {
            n.total_spindles.unwrap_or(0.0)
        } else {
            n.ndparams
                .as_ref()
                .and_then(|p| p.spindle_count)
                .unwrap_or(1.0)
                * policy.spindle_ratio.unwrap_or(1.0)
        };
        for (what, used, cap) in [
            ("memory", l.memory, mem_cap),
            ("CPUs", l.cpus, cpu_cap),
            ("local disk", l.disk, n.total_disk.unwrap_or(0.0)),
            ("spindles", l.spindles, sp_cap),
        ] {
            if exceeds(used, cap) {
                out.push(v(
                    Rule::HostCapacity,
                    at,
                    format!("node {node}: {what} {used} over {cap}"),
                ));
            }
        }
        if !l.tags.is_disjoint(&tags) {
            out.push(v(
                Rule::AntiAffinity,
                at,
                format!(
                    "node {node} already runs an instance tagged {}",
                    quoted(l.tags.intersection(&tags))
                ),
            ));
        }
        l.tags.extend(tags);
    }

    /// `[moved, failed, jobs]`: every instance once, moved ones to a node with room, and the jobs
    /// doing exactly those moves.
    fn moves(&mut self, input: &Input, names: &[String], answer: &Response, out: &mut Collector) {
        let Some([moved, failed, jobs]) = answer.result.as_array().map(Vec::as_slice) else {
            out.push(v(
                Rule::BadResult,
                "/result",
                "expected [moved, failed, jobs]",
            ));
            return;
        };
        let request = MoveRequest::of(input, names);
        let mut seen = BTreeSet::new();
        let mut chosen: BTreeMap<String, String> = BTreeMap::new();
        for (i, entry) in moved.as_array().into_iter().flatten().enumerate() {
            let at = format!("/result/0/{i}");
            let name = entry.get(0).and_then(Value::as_str).unwrap_or_default();
            let nodes = entry.get(2).and_then(node_list).unwrap_or_default();
            let (Some(inst), [node], true) = (
                input
                    .instances
                    .get(name)
                    .filter(|_| names.iter().any(|n| n == name)),
                nodes.as_slice(),
                seen.insert(name.to_string()),
            ) else {
                out.push(v(
                    Rule::BadResult,
                    at,
                    format!("`{name}`: not a listed instance with one node, once"),
                ));
                continue;
            };
            self.moved_to(&request, &at, inst, node, entry.get(1), out);
            chosen.insert(name.to_string(), node.clone());
        }
        for (i, entry) in failed.as_array().into_iter().flatten().enumerate() {
            let name = entry.get(0).and_then(Value::as_str).unwrap_or_default();
            if !names.iter().any(|n| n == name) || !seen.insert(name.to_string()) {
                out.push(v(
                    Rule::BadResult,
                    format!("/result/1/{i}"),
                    format!("`{name}` listed twice or not asked"),
                ));
            }
        }
        if seen.len() != names.iter().collect::<BTreeSet<_>>().len() {
            out.push(v(
                Rule::BadResult,
                "/result",
                "every instance is moved or failed",
            ));
        }
        check_jobs(jobs, &chosen, out);
    }

    /// One moved instance: a template Ganeti moves so, a node of an allowed group named by its
    /// group's name, and room there.
    fn moved_to(
        &mut self,
        request: &MoveRequest<'_>,
        at: &str,
        inst: &Instance,
        node: &str,
        group_name: Option<&Value>,
        out: &mut Collector,
    ) {
        if let Some(why) = request.immovable(&inst.spec.disk_template) {
            out.push(v(Rule::NotMovable, at, why));
        }
        let own = self.group_of(&inst.nodes[0]);
        let group = self.group_of(node);
        let must_be_in = match request.kind {
            MoveKind::Evacuate(_) => {
                if request.leaving_nodes.contains(node) {
                    out.push(v(Rule::BadResult, at, format!("{node} is being evacuated")));
                }
                Some(own)
            }
            MoveKind::ChangeGroup => {
                if !request.may_take(&group) {
                    out.push(v(
                        Rule::GroupNotAllowed,
                        at,
                        format!("{node} is not in a target group"),
                    ));
                }
                None
            }
        };
        if let Some(g) = self.input.nodegroups.get(&group) {
            match group_name.and_then(Value::as_str) {
                Some(name) if name == g.name => {}
                Some(name) => out.push(v(
                    Rule::WrongGroupName,
                    format!("{at}/1"),
                    format!("{node} is in group `{}`, not `{name}`", g.name),
                )),
                None => out.push(v(
                    Rule::BadResult,
                    format!("{at}/1"),
                    "expected the name of the new group",
                )),
            }
        }
        self.add(at, &inst.spec, node, must_be_in.as_deref(), out);
    }
}

/// How Ganeti moves an instance's disks, after its disk template (htools' mirror type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mirror {
    /// On one node (`plain`, `file`): the instance cannot leave it.
    None,
    /// Mirrored by Ganeti over two nodes (`drbd`).
    Internal,
    /// Outside the nodes, or no disks: any node of the group reaches them.
    External,
}

/// The mirror type of a Ganeti disk template, `None` for one Ganeti does not have.
fn mirror(template: &str) -> Option<Mirror> {
    match template {
        "plain" | "file" => Some(Mirror::None),
        "drbd" => Some(Mirror::Internal),
        "diskless" | "sharedfile" | "blockdev" | "rbd" | "ext" | "gluster" => {
            Some(Mirror::External)
        }
        _ => None,
    }
}

/// Why Ganeti moves no instance of this template to another node (relocation, evacuation or
/// group change): only mirrored disks move.
fn unmirrored(template: &str) -> Option<String> {
    match mirror(template) {
        None => Some(format!("Ganeti has no disk template `{template}`")),
        Some(Mirror::None) => Some(format!(
            "instances of template {template} keep their disks on their node: Ganeti cannot \
             move them to another node"
        )),
        Some(Mirror::Internal | Mirror::External) => None,
    }
}

/// What kind of move a `[moved, failed, jobs]` answer is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MoveKind {
    /// `node-evacuate`, with its mode.
    Evacuate(EvacMode),
    /// `change-group`.
    ChangeGroup,
}

/// The request behind a `[moved, failed, jobs]` answer, as Ganeti reads it.
struct MoveRequest<'a> {
    kind: MoveKind,
    /// The primary nodes of the listed instances (an evacuation leaves them all).
    leaving_nodes: BTreeSet<&'a str>,
    /// Their groups (a group change leaves them all: Ganeti never targets them).
    leaving_groups: BTreeSet<&'a str>,
    /// `change-group`'s named targets (`None`: every group).
    targets: Option<BTreeSet<&'a str>>,
}

impl<'a> MoveRequest<'a> {
    fn of(input: &'a Input, names: &[String]) -> Self {
        let leaving_nodes: BTreeSet<&str> = names
            .iter()
            .filter_map(|n| input.instances.get(n)?.nodes.first().map(String::as_str))
            .collect();
        let leaving_groups = leaving_nodes
            .iter()
            .filter_map(|n| input.nodes.get(*n).map(|n| n.group.as_str()))
            .collect();
        let (kind, targets) = match &input.request {
            Request::NodeEvacuate { evac_mode, .. } => (MoveKind::Evacuate(*evac_mode), None),
            Request::ChangeGroup { target_groups, .. } => (
                MoveKind::ChangeGroup,
                (!target_groups.is_empty())
                    .then(|| target_groups.iter().map(String::as_str).collect()),
            ),
            _ => (MoveKind::ChangeGroup, None),
        };
        MoveRequest {
            kind,
            leaving_nodes,
            leaving_groups,
            targets,
        }
    }

    /// Whether a group change may end in `group`.
    fn may_take(&self, group: &str) -> bool {
        !self.leaving_groups.contains(group)
            && self.targets.as_ref().is_none_or(|t| t.contains(group))
    }

    /// Why Ganeti cannot move an instance of this template in this request.
    fn immovable(&self, template: &str) -> Option<String> {
        if let Some(why) = unmirrored(template) {
            return Some(why);
        }
        let secondary_only = self.kind == MoveKind::Evacuate(EvacMode::SecondaryOnly);
        (secondary_only && mirror(template) == Some(Mirror::External)).then(|| {
            format!(
                "a secondary-only evacuation moves no instance of template {template}: it has \
                 no secondary node"
            )
        })
    }
}

/// The opcodes that move an instance whose disks every node of its group reaches to a chosen
/// node.
const MOVE_OPCODES: [&str; 2] = ["OP_INSTANCE_MIGRATE", "OP_INSTANCE_FAILOVER"];

/// The jobs Ganeti runs must do the moves the answer lists, and nothing else: each moved
/// instance named by exactly one opcode, to its listed node.
fn check_jobs(jobs: &Value, chosen: &BTreeMap<String, String>, out: &mut Collector) {
    let Some(jobs) = jobs.as_array() else {
        out.push(v(Rule::BadJobs, "/result/2", "expected a list of jobs"));
        return;
    };
    let mut done: BTreeMap<&str, usize> = BTreeMap::new();
    for (j, job) in jobs.iter().enumerate() {
        let ops = job.as_array().filter(|ops| !ops.is_empty());
        let Some(ops) = ops else {
            out.push(v(
                Rule::BadJobs,
                format!("/result/2/{j}"),
                "a job is a non-empty list of opcodes",
            ));
            continue;
        };
        for (k, op) in ops.iter().enumerate() {
            let at = format!("/result/2/{j}/{k}");
            match opcode_move(op, chosen) {
                Ok(name) => *done.entry(name).or_default() += 1,
                Err(why) => out.push(v(Rule::BadJobs, at, why)),
            }
        }
    }
    for name in chosen.keys() {
        let times = done.get(name.as_str()).copied().unwrap_or(0);
        if times != 1 {
            out.push(v(
                Rule::BadJobs,
                "/result/2",
                format!("moved instance {name} is moved by {times} opcodes, not one"),
            ));
        }
    }
}

/// The moved instance an opcode moves to its listed node, or what is wrong with it.
fn opcode_move<'c>(op: &Value, chosen: &'c BTreeMap<String, String>) -> Result<&'c str, String> {
    let id = op.get("OP_ID").and_then(Value::as_str).unwrap_or_default();
    if !MOVE_OPCODES.contains(&id) {
        return Err(format!(
            "opcode `{id}` does not move an instance to a chosen node"
        ));
    }
    let name = op
        .get("instance_name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let Some((name, node)) = chosen.get_key_value(name) else {
        return Err(format!("`{name}` is not a moved instance of the answer"));
    };
    let target = op.get("target_node").and_then(Value::as_str);
    if target != Some(node.as_str()) {
        return Err(format!(
            "{id} sends {name} to {}, the answer moves it to {node}",
            target.unwrap_or("no target_node")
        ));
    }
    if op.get("iallocator").is_some_and(|a| !a.is_null()) {
        return Err(format!(
            "{id} of {name} names an iallocator as well as its target"
        ));
    }
    if op.get("cleanup").and_then(Value::as_bool) == Some(true) {
        return Err(format!("{id} of {name} only cleans up a failed migration"));
    }
    Ok(name)
}

//! What a move may do and what its jobs must do: only mirrored disks move (htools' mirror
//! type of a disk template), a group change never ends in a group it evacuates, and the jobs of
//! `[moved, failed, jobs]` carry out exactly the moves listed.

use crate::{v, Collector, Rule};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use vmplace_wire::ganeti::{EvacMode, Input, Request};

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
pub(super) fn unmirrored(template: &str) -> Option<String> {
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
pub(super) enum MoveKind {
    /// `node-evacuate`, with its mode.
    Evacuate(EvacMode),
    /// `change-group`.
    ChangeGroup,
}

/// The request behind a `[moved, failed, jobs]` answer, as Ganeti reads it.
pub(super) struct MoveRequest<'a> {
    pub(super) kind: MoveKind,
    /// The primary nodes of the listed instances (an evacuation leaves them all).
    pub(super) leaving_nodes: BTreeSet<&'a str>,
    /// Their groups (a group change leaves them all: Ganeti never targets them).
    leaving_groups: BTreeSet<&'a str>,
    /// `change-group`'s named targets (`None`: every group).
    targets: Option<BTreeSet<&'a str>>,
}

impl<'a> MoveRequest<'a> {
    pub(super) fn of(input: &'a Input, names: &[String]) -> Self {
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

    /// Whether the moved instances stay in their groups (an evacuation).
    pub(super) fn stays_in_group(&self) -> bool {
        matches!(self.kind, MoveKind::Evacuate(_))
    }

    /// Whether a group change may end in `group`.
    pub(super) fn may_take(&self, group: &str) -> bool {
        !self.leaving_groups.contains(group)
            && self.targets.as_ref().is_none_or(|t| t.contains(group))
    }

    /// Why Ganeti cannot move an instance of this template in this request.
    pub(super) fn immovable(&self, template: &str) -> Option<String> {
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
pub(super) fn check_jobs(jobs: &Value, chosen: &BTreeMap<String, String>, out: &mut Collector) {
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

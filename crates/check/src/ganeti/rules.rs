//! One function per rule of IAllocator answers, over the instances the answer puts on nodes. An
//! instance on an unknown node is reported once (`UNKNOWN_HOST`): the rules about its node skip
//! it. Capacities and exclusion tags are replayed in the answer's order, each instance counted
//! after every one before it.

use super::moves::{check_jobs, unmirrored, MoveKind};
use super::{quoted, Add, Answered, How};
use crate::tolerance::exceeds;
use crate::{v, Collector, Rule};
use serde_json::Value;
use vmplace_wire::ganeti::{AllocPolicy, IPolicy, Node};

/// The instances on known nodes, each with its node.
fn on_nodes<'c, 'a>(cx: &'c Answered<'a>) -> impl Iterator<Item = (&'c Add<'a>, &'a Node)> + 'c {
    let nodes = &cx.input.nodes;
    cx.adds
        .iter()
        .filter_map(|add| Some((add, nodes.get(add.node.as_str())?)))
}

/// The moves of `[moved, failed, jobs]`, each with the group name the answer gives it.
fn moved<'c, 'a>(cx: &'c Answered<'a>) -> impl Iterator<Item = (&'c Add<'a>, Option<&'a Value>)> {
    cx.adds.iter().filter_map(|add| match add.how {
        How::Moved { group_name } => Some((add, group_name)),
        _ => None,
    })
}

/// A node's group's instance policy (the default without one).
fn policy(cx: &Answered, n: &Node) -> IPolicy {
    let g = cx.input.nodegroups.get(&n.group);
    g.and_then(|g| g.ipolicy.clone()).unwrap_or_default()
}

/// `BAD_RESULT`: a `result` without the protocol's shape, a relocation to the node it was to
/// leave, an evacuation to a node being evacuated, a move without its new group's name.
pub(super) fn bad_result(cx: &Answered, out: &mut Collector) {
    for (at, why) in &cx.shape {
        out.push(v(Rule::BadResult, at, why));
    }
    for add in &cx.adds {
        if let How::Relocate { from } = add.how {
            if from.contains(&add.node) {
                out.push(v(Rule::BadResult, &add.at, "the node it was to leave"));
            }
        }
    }
    let evacuating = cx.moves.as_ref().filter(|r| r.stays_in_group());
    for (add, group_name) in moved(cx) {
        let node = &add.node;
        if evacuating.is_some_and(|r| r.leaving_nodes.contains(node.as_str())) {
            out.push(v(
                Rule::BadResult,
                &add.at,
                format!("{node} is being evacuated"),
            ));
        }
        let known_group = cx.input.nodegroups.contains_key(&cx.group_of(node));
        if known_group && group_name.and_then(Value::as_str).is_none() {
            out.push(v(
                Rule::BadResult,
                format!("{}/1", add.at),
                "expected the name of the new group",
            ));
        }
    }
}

/// `UNKNOWN_HOST`: an instance on a node the input does not have.
pub(super) fn unknown_host(cx: &Answered, out: &mut Collector) {
    for add in &cx.adds {
        if !cx.input.nodes.contains_key(&add.node) {
            out.push(v(
                Rule::UnknownHost,
                &add.at,
                format!("node `{}` does not exist", add.node),
            ));
        }
    }
}

/// `TARGET_NOT_ACTIVE`: an instance on a node that is offline, drained or not `vm_capable`.
pub(super) fn target_not_active(cx: &Answered, out: &mut Collector) {
    for (add, n) in on_nodes(cx) {
        if n.offline || n.drained || n.vm_capable == Some(false) {
            out.push(v(
                Rule::TargetNotActive,
                &add.at,
                format!("node {} is offline, drained or not vm_capable", add.node),
            ));
        }
    }
}

/// `GROUP_NOT_ALLOWED`: a group change to a group outside its targets, an instance in an
/// unallocable group or outside the group it must stay in, or in one whose instance policy
/// refuses its disk template.
pub(super) fn group_not_allowed(cx: &Answered, out: &mut Collector) {
    let changing = cx
        .moves
        .as_ref()
        .filter(|r| r.kind == MoveKind::ChangeGroup);
    for (add, _) in moved(cx) {
        if changing.is_some_and(|r| !r.may_take(&cx.group_of(&add.node))) {
            out.push(v(
                Rule::GroupNotAllowed,
                &add.at,
                format!("{} is not in a target group", add.node),
            ));
        }
    }
    for (add, n) in on_nodes(cx) {
        let (node, g) = (&add.node, cx.input.nodegroups.get(&n.group));
        if g.is_none_or(|g| g.alloc_policy == AllocPolicy::Unallocable)
            || add.must_be_in.as_ref().is_some_and(|want| *want != n.group)
        {
            out.push(v(
                Rule::GroupNotAllowed,
                &add.at,
                format!("node {node}'s group {} may not take this instance", n.group),
            ));
        }
        if let Some(allowed) = &policy(cx, n).disk_templates {
            if !allowed.contains(&add.spec.disk_template) {
                out.push(v(
                    Rule::GroupNotAllowed,
                    &add.at,
                    format!(
                        "group {} does not allow {}",
                        n.group, add.spec.disk_template
                    ),
                ));
            }
        }
    }
}

/// `NOT_MOVABLE`: a relocation, evacuation or group change of an instance Ganeti cannot move
/// that way.
pub(super) fn not_movable(cx: &Answered, out: &mut Collector) {
    for add in &cx.adds {
        let template = &add.spec.disk_template;
        let why = match (&add.how, &cx.moves) {
            (How::Relocate { .. }, _) => unmirrored(template),
            (How::Moved { .. }, Some(request)) => request.immovable(template),
            _ => None,
        };
        if let Some(why) = why {
            out.push(v(Rule::NotMovable, &add.at, why));
        }
    }
}

/// `WRONG_GROUP_NAME`: a moved instance's group is not the name of its new node's group.
pub(super) fn wrong_group_name(cx: &Answered, out: &mut Collector) {
    for (add, group_name) in moved(cx) {
        let Some(g) = cx.input.nodegroups.get(&cx.group_of(&add.node)) else {
            continue;
        };
        match group_name.and_then(Value::as_str) {
            Some(name) if name != g.name => out.push(v(
                Rule::WrongGroupName,
                format!("{}/1", add.at),
                format!("{} is in group `{}`, not `{name}`", add.node, g.name),
            )),
            _ => {}
        }
    }
}

/// `BAD_JOBS`: the jobs of `[moved, failed, jobs]` do not carry out exactly the moves listed.
pub(super) fn bad_jobs(cx: &Answered, out: &mut Collector) {
    if let Some((jobs, chosen)) = &cx.jobs {
        check_jobs(jobs, chosen, out);
    }
}

/// `HOST_CAPACITY`: a node without room for an instance after every one before it (memory, CPUs
/// at the group's `vcpu-ratio`, local disk for `plain`/`file`, spindles).
pub(super) fn host_capacity(cx: &Answered, out: &mut Collector) {
    let mut load = cx.load.clone();
    for (add, n) in on_nodes(cx) {
        let (spec, node) = (add.spec, &add.node);
        let exclusive = cx.exclusive(node);
        let Some(l) = load.get_mut(node.as_str()) else {
            continue;
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
        let policy = policy(cx, n);
        let mem_cap = n.total_memory.unwrap_or(0.0) - n.reserved_memory.unwrap_or(0.0);
        let cpu_cap = (n.total_cpus.unwrap_or(0.0) * policy.vcpu_ratio.unwrap_or(1.0)).floor();
        let sp_cap = if exclusive {
            n.total_spindles.unwrap_or(0.0)
        } else {
            let count = n.ndparams.as_ref().and_then(|p| p.spindle_count);
            count.unwrap_or(1.0) * policy.spindle_ratio.unwrap_or(1.0)
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
                    &add.at,
                    format!("node {node}: {what} {used} over {cap}"),
                ));
            }
        }
    }
}

/// `ANTI_AFFINITY`: a node given an instance sharing an exclusion tag with one it runs or was
/// given before.
pub(super) fn anti_affinity(cx: &Answered, out: &mut Collector) {
    let mut load = cx.load.clone();
    for (add, _) in on_nodes(cx) {
        let tags = cx.tags(add.spec);
        let Some(l) = load.get_mut(add.node.as_str()) else {
            continue;
        };
        if !l.tags.is_disjoint(&tags) {
            out.push(v(
                Rule::AntiAffinity,
                &add.at,
                format!(
                    "node {} already runs an instance tagged {}",
                    add.node,
                    quoted(l.tags.intersection(&tags))
                ),
            ));
        }
        l.tags.extend(tags);
    }
}

//! vmplace as a Ganeti IAllocator (`vmplace iallocator FILE`): Ganeti's input document in,
//! `{"success", "info", "result"}` out (models/ganeti.md). Concerns by file: [`cluster`] (nodes,
//! groups and templates in vmplace's terms), [`place`] (tiers, classes and the vmplace solves),
//! [`clock`] (the call's time limit and cancel flag), [`export`] (a vmplace problem as a Ganeti
//! document, for side-by-side runs with hail).

#![warn(missing_docs)]

pub mod clock;
pub mod cluster;
pub mod export;
pub mod place;

use cluster::{Cluster, GroupId, NodeId, Template};
use place::{Outcome, Placer, Solve, Want};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use vmplace_core::domain::settings::Overrides;
use vmplace_core::placement::RunConfig;
use vmplace_wire::ganeti::{EvacMode, Input, NewInstance, Request, Response};
use vmplace_wire::InputError;

/// The answer to a validated document, and every vmplace solve behind it.
pub fn answer(input: &Input, overrides: &Overrides, cfg: &RunConfig) -> (Response, Vec<Solve>) {
    let cluster = Cluster::new(input);
    let mut placer = Placer::new(&cluster, overrides.clone(), cfg.clone());
    let response = match &input.request {
        Request::Allocate(new) => allocate(&mut placer, new),
        Request::MultiAllocate { instances } => multi_allocate(&mut placer, instances),
        Request::Relocate {
            name,
            relocate_from,
            required_nodes,
        } => relocate(&mut placer, &cluster, name, relocate_from, *required_nodes),
        Request::NodeEvacuate {
            instances,
            evac_mode,
        } => evacuate(&mut placer, &cluster, instances, Move::Evacuate(*evac_mode)),
        Request::ChangeGroup {
            instances,
            target_groups,
        } => evacuate(
            &mut placer,
            &cluster,
            instances,
            Move::ChangeGroup(target_groups),
        ),
        Request::AllocateSecondary { name } => failure(format!(
            "allocate-secondary of {name}: it gives an instance a DRBD secondary, and vmplace \
             does not support drbd; keep hail for DRBD instances"
        )),
    };
    (response, placer.solves)
}

/// The protocol's answer to a document vmplace cannot read: every error, with its code and
/// JSON path, in `info`.
pub fn bad_input(errors: &[InputError]) -> Response {
    let listed: Vec<String> = errors
        .iter()
        .map(|e| {
            let at = if e.path.is_empty() { "/" } else { &e.path };
            format!("vmplace {} at {at}: {} ({})", e.code, e.cause, e.action)
        })
        .collect();
    failure(format!("Invalid input: {}", listed.join("; ")))
}

fn failure(info: String) -> Response {
    Response {
        success: false,
        info: format!("Request failed: {info}"),
        result: json!([]),
    }
}

/// vmplace's statement of quality for `info`.
fn quality(placer: &Placer<'_, '_>) -> String {
    let (status, gap) = placer.quality();
    let status = vmplace_wire::spelling::wire_name(&status);
    format!("vmplace status {status}, gap {gap:.4}")
}

fn want<'s>(cluster: &Cluster<'_>, new: &'s NewInstance) -> Want<'s> {
    Want {
        name: new.name.clone(),
        spec: &new.spec,
        avoid: BTreeSet::new(),
        only: new
            .restrict_to_nodes
            .as_ref()
            .map(|n| n.iter().filter_map(|n| cluster.node_id(n)).collect()),
        groups: None,
        keep_storage: false,
    }
}

/// Why the answer could not list `required_nodes` nodes: every template vmplace places uses
/// one node (DRBD's two are refused with their own reason).
fn node_count_mismatch(template: &str, required: u32) -> Option<String> {
    let one_node = matches!(
        Template::of(template),
        Some(Template::Shared | Template::Local)
    );
    (one_node && required != 1)
        .then(|| format!("required_nodes is {required}, but disk template {template} uses 1 node"))
}

fn allocate(placer: &mut Placer<'_, '_>, new: &NewInstance) -> Response {
    if let Some(reason) = node_count_mismatch(&new.spec.disk_template, new.required_nodes) {
        return failure(reason);
    }
    match placer.place(&[want(placer.cluster(), new)]).remove(0) {
        Outcome::Placed { node, group } => Response {
            success: true,
            info: format!(
                "Request successful: {} on {node} (group {group}); {}",
                new.name,
                quality(placer)
            ),
            result: json!([node]),
        },
        Outcome::Failed(reason) => failure(format!("{}: {reason}", new.name)),
    }
}

fn multi_allocate(placer: &mut Placer<'_, '_>, instances: &[NewInstance]) -> Response {
    let mut wants = Vec::new();
    let mut failed: Vec<Value> = Vec::new();
    for new in instances {
        match node_count_mismatch(&new.spec.disk_template, new.required_nodes) {
            Some(reason) => failed.push(json!([new.name, reason])),
            None => wants.push(want(placer.cluster(), new)),
        }
    }
    let outcomes = placer.place(&wants);
    let mut allocated: Vec<Value> = Vec::new();
    for (w, o) in wants.iter().zip(outcomes) {
        match o {
            Outcome::Placed { node, .. } => allocated.push(json!([w.name, [node]])),
            Outcome::Failed(reason) => failed.push(json!([w.name, reason])),
        }
    }
    Response {
        success: true,
        info: format!(
            "Request successful: {} instances failed to allocate and {} were allocated \
             successfully; {}",
            failed.len(),
            allocated.len(),
            quality(placer)
        ),
        result: json!([allocated, failed]),
    }
}

fn relocate(
    placer: &mut Placer<'_, '_>,
    cluster: &Cluster<'_>,
    name: &str,
    from: &[String],
    required: u32,
) -> Response {
    let Some(inst) = cluster.input.instances.get(name) else {
        return failure(format!("instance {name} does not exist"));
    };
    if let Some(reason) = node_count_mismatch(&inst.spec.disk_template, required) {
        return failure(reason);
    }
    let mut moves = moves_of(
        cluster,
        &[name.to_string()],
        &Move::Evacuate(EvacMode::PrimaryOnly),
    );
    let w = match moves.remove(0) {
        Err(reason) => return failure(format!("{name}: {reason}")),
        Ok(w) => w,
    };
    if from.first() != inst.nodes.first() || from.len() != 1 {
        return failure(format!(
            "relocate_from must be the primary node of {name} ({}), as for any instance whose \
             disks are not mirrored by Ganeti",
            inst.nodes.first().map_or("none", String::as_str)
        ));
    }
    match placer.place(&[w]).remove(0) {
        Outcome::Placed { node, .. } => Response {
            success: true,
            info: format!("Request successful: {name} to {node}; {}", quality(placer)),
            result: json!([node]),
        },
        Outcome::Failed(reason) => failure(format!("{name}: {reason}")),
    }
}

/// What moves the instances of a `node-evacuate` or `change-group`.
enum Move<'r> {
    Evacuate(EvacMode),
    ChangeGroup(&'r [String]),
}

/// The placement request of each instance to move, or why it cannot move.
fn moves_of<'c>(
    cluster: &'c Cluster<'_>,
    names: &[String],
    how: &Move<'_>,
) -> Vec<Result<Want<'c>, String>> {
    let primaries: BTreeSet<NodeId> = names
        .iter()
        .filter_map(|n| cluster.node_id(cluster.input.instances.get(n)?.nodes.first()?))
        .collect();
    // Every node an evacuated instance leaves is closed to all of them (as Ganeti evacuates
    // whole nodes); a group change leaves every group an instance of the request is in.
    let leaving_groups: BTreeSet<GroupId> = primaries
        .iter()
        .filter_map(|&n| cluster.node(n).group_id)
        .collect();
    names
        .iter()
        .map(|name| move_of(cluster, name, how, &primaries, &leaving_groups))
        .collect()
}

/// Why an instance of this template cannot move at all (Ganeti moves only mirrored disks).
fn immovable(template: &str) -> Option<String> {
    match Template::of(template) {
        Some(Template::Drbd) => Some(
            "disk template drbd is not supported by vmplace; keep hail for DRBD instances"
                .to_string(),
        ),
        Some(Template::Local) => Some(format!(
            "instances of type {template} cannot be relocated: their disks are on the node"
        )),
        None => Some(format!("unknown disk template {template}")),
        Some(Template::Shared) => None,
    }
}

/// The placement request of one instance to move.
fn move_of<'c>(
    cluster: &'c Cluster<'_>,
    name: &str,
    how: &Move<'_>,
    primaries: &BTreeSet<NodeId>,
    leaving_groups: &BTreeSet<GroupId>,
) -> Result<Want<'c>, String> {
    let inst = cluster
        .input
        .instances
        .get(name)
        .ok_or_else(|| format!("instance {name} does not exist"))?;
    let template = &inst.spec.disk_template;
    if let Some(reason) = immovable(template) {
        return Err(reason);
    }
    let own_group = inst
        .nodes
        .first()
        .and_then(|p| cluster.node_named(p))
        .and_then(|n| n.group_id);
    let (avoid, groups, keep_storage) = match how {
        Move::Evacuate(EvacMode::SecondaryOnly) => {
            return Err(format!(
                "instances with disk template {template} have no secondary node"
            ))
        }
        Move::Evacuate(_) => (primaries.clone(), own_group.into_iter().collect(), true),
        Move::ChangeGroup(targets) => {
            let groups = change_group_targets(cluster, targets, leaving_groups)?;
            let own_nodes = inst.nodes.iter().filter_map(|n| cluster.node_id(n));
            (own_nodes.collect(), groups, false)
        }
    };
    Ok(Want {
        name: name.to_string(),
        spec: &inst.spec,
        avoid,
        only: None,
        groups: Some(groups),
        keep_storage,
    })
}

/// The groups a `change-group` may move to: the targets (every group when none is named), less
/// every group an instance of the request is in, as Ganeti computes them.
fn change_group_targets(
    cluster: &Cluster<'_>,
    targets: &[String],
    leaving: &BTreeSet<GroupId>,
) -> Result<BTreeSet<GroupId>, String> {
    let named: BTreeSet<GroupId> = if targets.is_empty() {
        cluster.group_id_list().collect()
    } else {
        targets.iter().filter_map(|g| cluster.group_id(g)).collect()
    };
    let groups: BTreeSet<GroupId> = named.difference(leaving).copied().collect();
    if groups.is_empty() {
        let left: Vec<&str> = leaving
            .iter()
            .map(|g| cluster.groups[g.ix()].group.name.as_str())
            .collect();
        return Err(format!(
            "no target group is left once the groups the instances leave ({}) are excluded",
            left.join(", ")
        ));
    }
    Ok(groups)
}

fn evacuate(
    placer: &mut Placer<'_, '_>,
    cluster: &Cluster<'_>,
    names: &[String],
    how: Move<'_>,
) -> Response {
    let mut wants = Vec::new();
    let mut failed: Vec<Value> = Vec::new();
    for (name, m) in names.iter().zip(moves_of(cluster, names, &how)) {
        match m {
            Ok(w) => wants.push(w),
            Err(reason) => failed.push(json!([name, reason])),
        }
    }
    let mut moved: Vec<Value> = Vec::new();
    let mut jobs: Vec<Value> = Vec::new();
    for (w, o) in wants.iter().zip(placer.place(&wants)) {
        match o {
            Outcome::Placed { node, group } => {
                moved.push(json!([w.name, cluster.group_name(&group), [node]]));
                jobs.push(json!([migrate_opcode(&w.name, &node)]));
            }
            Outcome::Failed(reason) => failed.push(json!([w.name, reason])),
        }
    }
    Response {
        success: true,
        info: format!(
            "Request successful: {} instances failed to move and {} were moved successfully; {}",
            failed.len(),
            moved.len(),
            quality(placer)
        ),
        result: json!([moved, failed, jobs]),
    }
}

/// The opcode that moves an instance whose disks every node of the target reaches: a live
/// migration to the chosen node, falling back to a failover (as htools writes it).
fn migrate_opcode(instance: &str, node: &str) -> Value {
    json!({
        "OP_ID": "OP_INSTANCE_MIGRATE",
        "instance_name": instance,
        "target_node": node,
        "allow_runtime_changes": false,
        "ignore_ipolicy": false,
        "cleanup": false,
        "allow_failover": true,
        "ignore_hvversions": true,
    })
}

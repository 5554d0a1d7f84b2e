//! An answer's `result` read into the instances it puts on nodes, by request kind; what is wrong
//! with its shape is kept for `BAD_RESULT`.

use super::moves::MoveRequest;
use super::{Add, Answered, How};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use vmplace_wire::ganeti::{InstanceSpec, NewInstance, Request, Response};

/// Reads `answer` into the context: its placements, its jobs, and what is wrong with its shape.
pub(super) fn read<'a>(cx: &mut Answered<'a>, answer: &'a Response) {
    let result = &answer.result;
    if !answer.success {
        if *result != Value::Array(vec![]) {
            bad(cx, "/result", "a failed answer's result must be []");
        }
        return;
    }
    match &cx.input.request {
        Request::Allocate(new) => match node_list(result) {
            Some(nodes) if nodes.len() == 1 => cx.adds.push(Add {
                at: "/result/0".to_string(),
                spec: &new.spec,
                node: nodes[0].clone(),
                must_be_in: None,
                how: How::New,
            }),
            _ => bad(cx, "/result", "expected a list of one node"),
        },
        Request::MultiAllocate { instances } => multi_allocate(cx, instances, result),
        Request::Relocate {
            name,
            relocate_from,
            ..
        } => match (cx.input.instances.get(name), node_list(result)) {
            (Some(inst), Some(nodes)) if nodes.len() == 1 => cx.adds.push(Add {
                at: "/result/0".to_string(),
                spec: &inst.spec,
                node: nodes[0].clone(),
                must_be_in: Some(cx.group_of(&inst.nodes[0])),
                how: How::Relocate {
                    from: relocate_from,
                },
            }),
            _ => bad(cx, "/result", "expected a list of one node"),
        },
        Request::NodeEvacuate { instances, .. } | Request::ChangeGroup { instances, .. } => {
            moved(cx, instances, result)
        }
        Request::AllocateSecondary { .. } => {
            if result.as_str().is_none() {
                bad(cx, "/result", "expected a node name");
            }
        }
    }
}

/// A `BAD_RESULT` of the shape.
fn bad(cx: &mut Answered, at: impl Into<String>, why: impl Into<String>) {
    cx.shape.push((at.into(), why.into()));
}

fn node_list(v: &Value) -> Option<Vec<String>> {
    v.as_array()?
        .iter()
        .map(|n| n.as_str().map(str::to_string))
        .collect()
}

/// `[allocated, failed]`: every requested instance once, each allocated one on one node.
fn multi_allocate<'a>(cx: &mut Answered<'a>, instances: &'a [NewInstance], result: &'a Value) {
    let specs: BTreeMap<&str, &InstanceSpec> = instances
        .iter()
        .map(|i| (i.name.as_str(), &i.spec))
        .collect();
    let Some([done, failed]) = result.as_array().map(Vec::as_slice) else {
        bad(cx, "/result", "expected [allocated, failed]");
        return;
    };
    let mut seen = BTreeSet::new();
    for (i, entry) in done.as_array().into_iter().flatten().enumerate() {
        let at = format!("/result/0/{i}");
        let name = entry.get(0).and_then(Value::as_str).unwrap_or_default();
        let nodes = entry.get(1).and_then(node_list).unwrap_or_default();
        match (specs.get(name), nodes.as_slice()) {
            (Some(spec), [node]) if seen.insert(name) => cx.adds.push(Add {
                at,
                spec,
                node: node.clone(),
                must_be_in: None,
                how: How::New,
            }),
            _ => bad(
                cx,
                at,
                format!("`{name}` is not a requested instance with one node, once"),
            ),
        }
    }
    for (i, entry) in failed.as_array().into_iter().flatten().enumerate() {
        let name = entry.get(0).and_then(Value::as_str).unwrap_or_default();
        if !specs.contains_key(name) || !seen.insert(name) {
            bad(
                cx,
                format!("/result/1/{i}"),
                format!("`{name}` is not a requested instance, or is listed twice"),
            );
        }
    }
    if seen.len() != specs.len() {
        bad(cx, "/result", "every instance is allocated or failed");
    }
}

/// `[moved, failed, jobs]`: every instance once, moved ones to one node each, and the jobs
/// kept for `BAD_JOBS` with each moved instance's node.
fn moved<'a>(cx: &mut Answered<'a>, names: &'a [String], result: &'a Value) {
    let input = cx.input;
    let Some([moved, failed, jobs]) = result.as_array().map(Vec::as_slice) else {
        bad(cx, "/result", "expected [moved, failed, jobs]");
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
            bad(
                cx,
                at,
                format!("`{name}`: not a listed instance with one node, once"),
            );
            continue;
        };
        let own = cx.group_of(&inst.nodes[0]);
        cx.adds.push(Add {
            at,
            spec: &inst.spec,
            node: node.clone(),
            must_be_in: request.stays_in_group().then_some(own),
            how: How::Moved {
                group_name: entry.get(1),
            },
        });
        chosen.insert(name.to_string(), node.clone());
    }
    for (i, entry) in failed.as_array().into_iter().flatten().enumerate() {
        let name = entry.get(0).and_then(Value::as_str).unwrap_or_default();
        if !names.iter().any(|n| n == name) || !seen.insert(name.to_string()) {
            bad(
                cx,
                format!("/result/1/{i}"),
                format!("`{name}` listed twice or not asked"),
            );
        }
    }
    if seen.len() != names.iter().collect::<BTreeSet<_>>().len() {
        bad(cx, "/result", "every instance is moved or failed");
    }
    cx.moves = Some(request);
    cx.jobs = Some((jobs, chosen));
}

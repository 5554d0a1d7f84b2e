//! Validation of Ganeti IAllocator documents: the schema stage, then references (groups, nodes,
//! instances), every error at once.

use super::{finish, parse_json, pointer_token, schema_errors, typed, Valid};
use serde_json::Value;
use std::collections::BTreeSet;
use vmplace_wire::errors::ErrorCode;
use vmplace_wire::ganeti::{Input, NewInstance, Request};
use vmplace_wire::{DocKind, InputError};

/// Reads and validates an IAllocator input document.
pub fn read_iallocator(text: &str) -> Result<Valid<Input>, Vec<InputError>> {
    let kind = DocKind::Iallocator;
    let value = parse(text).map_err(|e| finish(e, kind))?;
    let mut errors = schema_errors::<Input>(&value);
    // An unknown request type fails every branch of the request's schema: say it once, plainly.
    if let Some(t) = value.pointer("/request/type").and_then(Value::as_str) {
        if !Request::KINDS.contains(&t) {
            errors.retain(|e| !e.path.starts_with("/request"));
            errors.push(InputError::new(
                ErrorCode::InvalidValue,
                "/request/type",
                format!(
                    "unknown request type `{t}`; vmplace answers {}",
                    Request::KINDS.join(", ")
                ),
            ));
        }
    }
    if errors.iter().any(|e| e.path == "/request") {
        if let Some(detail) = new_instance_errors(&value) {
            errors.retain(|e| e.path != "/request");
            errors.extend(detail);
        }
    }
    if errors.is_empty() {
        match typed::<Input>(value) {
            Ok(input) => {
                errors.extend(check_references(&input));
                if errors.is_empty() {
                    return Ok(Valid(input));
                }
            }
            Err(e) => errors.push(e),
        }
    }
    Err(finish(errors, kind))
}

/// The errors of the new instances of an `allocate` or `multi-allocate`, each at its own path:
/// the request's schema is one branch per type, and a wrong field fails them all at `/request`.
fn new_instance_errors(value: &Value) -> Option<Vec<InputError>> {
    let request = value.get("request")?;
    let at = |prefix: String, errors: Vec<InputError>| {
        errors.into_iter().map(move |mut e| {
            e.path = format!("{prefix}{}", e.path);
            e
        })
    };
    match request.get("type")?.as_str()? {
        "allocate" => Some(at("/request".into(), schema_errors::<NewInstance>(request)).collect()),
        "multi-allocate" => Some(
            request
                .get("instances")?
                .as_array()?
                .iter()
                .enumerate()
                .flat_map(|(i, r)| {
                    at(
                        format!("/request/instances/{i}"),
                        schema_errors::<NewInstance>(r),
                    )
                })
                .collect(),
        ),
        _ => None,
    }
}

/// Parses the text. A repeated key is read as Ganeti's own readers read it, the last value
/// winning, with a warning: Ganeti's test inputs repeat keys (`hail-alloc-drbd.json`).
fn parse(text: &str) -> Result<Value, Vec<InputError>> {
    match parse_json(text) {
        Err(errors) if errors.iter().all(|e| e.code == ErrorCode::DuplicateKey) => {
            for e in &errors {
                tracing::warn!(path = %e.path, "repeated key in a Ganeti document: the last value is used");
            }
            serde_json::from_str(text)
                .map_err(|e| vec![InputError::new(ErrorCode::MalformedJson, "", e.to_string())])
        }
        other => other,
    }
}

/// What the Ganeti document names, checked against what it defines: nodes' groups, instances'
/// nodes, then the request's nodes, instances and groups.
fn check_references(d: &Input) -> Vec<InputError> {
    let mut errors = Vec::new();
    check_node_groups(d, &mut errors);
    check_instance_nodes(d, &mut errors);
    check_request_references(d, &mut errors);
    errors
}

/// Every node's group is in `nodegroups`.
fn check_node_groups(d: &Input, errors: &mut Vec<InputError>) {
    for (name, node) in &d.nodes {
        if !d.nodegroups.contains_key(&node.group) {
            errors.push(InputError::new(
                ErrorCode::UnknownGroup,
                format!("/nodes/{}/group", pointer_token(name)),
                format!(
                    "node {name} is in group `{}`, which is not in `nodegroups`",
                    node.group
                ),
            ));
        }
    }
}

/// Every node an instance is on is in `nodes`.
fn check_instance_nodes(d: &Input, errors: &mut Vec<InputError>) {
    for (name, inst) in &d.instances {
        for (i, n) in inst.nodes.iter().enumerate() {
            if !d.nodes.contains_key(n) {
                errors.push(InputError::new(
                    ErrorCode::UnknownNode,
                    format!("/instances/{}/nodes/{i}", pointer_token(name)),
                    format!("instance {name} is on node `{n}`, which is not in `nodes`"),
                ));
            }
        }
    }
}

/// Every node, instance and group the request names exists, and no instance is named twice.
fn check_request_references(d: &Input, errors: &mut Vec<InputError>) {
    match &d.request {
        Request::Allocate(new) => {
            for (i, n) in new.restrict_to_nodes.iter().flatten().enumerate() {
                known_node(d, format!("/request/restrict-to-nodes/{i}"), n, errors);
            }
        }
        Request::MultiAllocate { instances } => check_multi_allocate(d, instances, errors),
        Request::Relocate {
            name,
            relocate_from,
            ..
        } => {
            known_instance(d, "/request/name".to_string(), name, errors);
            for (i, n) in relocate_from.iter().enumerate() {
                known_node(d, format!("/request/relocate_from/{i}"), n, errors);
            }
        }
        Request::NodeEvacuate { instances, .. } => {
            for (i, n) in instances.iter().enumerate() {
                known_instance(d, format!("/request/instances/{i}"), n, errors);
            }
            listed_once(instances, errors);
        }
        Request::ChangeGroup {
            instances,
            target_groups,
        } => {
            for (i, n) in instances.iter().enumerate() {
                known_instance(d, format!("/request/instances/{i}"), n, errors);
            }
            listed_once(instances, errors);
            for (i, g) in target_groups.iter().enumerate() {
                if !d.nodegroups.contains_key(g) {
                    errors.push(InputError::new(
                        ErrorCode::UnknownGroup,
                        format!("/request/target_groups/{i}"),
                        format!("group `{g}` is not in `nodegroups`"),
                    ));
                }
            }
        }
        Request::AllocateSecondary { name } => {
            known_instance(d, "/request/name".to_string(), name, errors)
        }
    }
}

/// A multi-allocation: each new instance named once, each node it is restricted to known.
fn check_multi_allocate(d: &Input, instances: &[NewInstance], errors: &mut Vec<InputError>) {
    let mut seen = BTreeSet::new();
    for (i, new) in instances.iter().enumerate() {
        if !seen.insert(new.name.as_str()) {
            errors.push(InputError::new(
                ErrorCode::DuplicateId,
                format!("/request/instances/{i}/name"),
                format!("instance `{}` is requested twice", new.name),
            ));
        }
        for (j, n) in new.restrict_to_nodes.iter().flatten().enumerate() {
            known_node(
                d,
                format!("/request/instances/{i}/restrict-to-nodes/{j}"),
                n,
                errors,
            );
        }
    }
}

/// Node `n`, named at `at`, is in `nodes`.
fn known_node(d: &Input, at: String, n: &str, errors: &mut Vec<InputError>) {
    if !d.nodes.contains_key(n) {
        errors.push(InputError::new(
            ErrorCode::UnknownNode,
            at,
            format!("node `{n}` is not in `nodes`"),
        ));
    }
}

/// Instance `n`, named at `at`, is in `instances`.
fn known_instance(d: &Input, at: String, n: &str, errors: &mut Vec<InputError>) {
    if !d.instances.contains_key(n) {
        errors.push(InputError::new(
            ErrorCode::UnknownInstance,
            at,
            format!("instance `{n}` is not in `instances`"),
        ));
    }
}

/// No instance listed twice: one that was answered `success: true` with an internal E1201 for
/// each (issue 27, L3).
fn listed_once(instances: &[String], errors: &mut Vec<InputError>) {
    let mut seen = BTreeSet::new();
    for (i, n) in instances.iter().enumerate() {
        if !seen.insert(n.as_str()) {
            errors.push(InputError::new(
                ErrorCode::DuplicateId,
                format!("/request/instances/{i}"),
                format!("instance `{n}` is listed twice"),
            ));
        }
    }
}

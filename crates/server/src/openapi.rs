//! The OpenAPI 3.1 description of the HTTP API (`GET /v1/openapi.json`), generated from the same
//! Rust types as the JSON Schemas: schemars writes every document type into
//! `components/schemas`, and the paths below reference them. OpenAPI 3.1's schema dialect is
//! JSON Schema 2020-12, schemars' own, so the schemas are the ones `vmplace schema` prints.

use schemars::generate::SchemaSettings;
use serde_json::{json, Map, Value};
use vmplace_wire::check::{CheckRequest, IallocatorCheckRequest, PlanCheckRequest};
use vmplace_wire::ganeti;
use vmplace_wire::state::{Plan, State};
use vmplace_wire::{ErrorDocument, Problem, Solution};

/// One endpoint of the service.
pub struct Endpoint {
    /// `get` or `post`.
    pub method: &'static str,
    /// The path, with `{doc}` for a parameter.
    pub path: &'static str,
    /// The operation's `operationId`: unique, what generated clients name the call.
    pub operation_id: &'static str,
    /// The operation's tag, one of [`TAGS`].
    pub tag: &'static str,
}

const fn endpoint(
    method: &'static str,
    path: &'static str,
    operation_id: &'static str,
    tag: &'static str,
) -> Endpoint {
    Endpoint {
        method,
        path,
        operation_id,
        tag,
    }
}

/// The tags that group the operations, with their descriptions.
pub const TAGS: [(&str, &str); 5] = [
    (
        "placement",
        "Place requests: phase 1 (storage), phase 2 (hosts) or both",
    ),
    ("checking", "The independent checker"),
    ("migration", "Migration rounds and Ganeti's IAllocator"),
    (
        "capacity",
        "How many more VMs fit, and whether failures restart",
    ),
    ("operations", "Schemas, this document, probes and metrics"),
];

/// Every endpoint the OpenAPI document describes (the router serves exactly these).
pub const ENDPOINTS: [Endpoint; 13] = [
    endpoint("post", "/v1/storage", "placeStorage", "placement"),
    endpoint("post", "/v1/host", "placeHosts", "placement"),
    endpoint("post", "/v1/place", "place", "placement"),
    endpoint(
        "post",
        "/v1/host-from-storage",
        "placeHostsFromStorage",
        "placement",
    ),
    endpoint("post", "/v1/check", "check", "checking"),
    endpoint("post", "/v1/migrate", "migrate", "migration"),
    endpoint("post", "/v1/iallocator", "iallocator", "migration"),
    endpoint("post", "/v1/capacity", "capacity", "capacity"),
    endpoint("get", "/v1/schema/{doc}", "getSchema", "operations"),
    endpoint("get", "/v1/openapi.json", "getOpenApi", "operations"),
    endpoint("get", "/healthz", "healthz", "operations"),
    endpoint("get", "/readyz", "readyz", "operations"),
    endpoint("get", "/metrics", "metrics", "operations"),
];

/// A shipped document, as a JSON value (the examples are the files the README's commands use).
fn shipped(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

/// One example request body per `post` operation, with a summary; each is answered 200 (a test
/// posts every one).
pub fn example(path: &str) -> Option<(&'static str, Value)> {
    let small = || shipped(include_str!("../../../instances/examples/small.json"));
    let host_phase = || shipped(include_str!("../../../instances/examples/host-phase.json"));
    Some(match path {
        "/v1/storage" | "/v1/place" => ("four hosts, three storage systems, six requests", small()),
        "/v1/host" => ("phase 2: every request names its storage", host_phase()),
        "/v1/host-from-storage" => (
            "phase 2 on phase 1's answer for the same problem",
            json!({"problem": small(), "storage_from": shipped(include_str!(
                "../../../instances/answers/small.storage.json"))}),
        ),
        "/v1/check" => (
            "a phase-2 problem and a valid answer",
            json!({"problem": host_phase(), "phase": "host", "solution": {
                "status": "feasible", "placed_weight": 3, "placed_weight_bound": 3,
                "objective": 3, "bound": 3, "gap": 0,
                "placements": [
                    {"request": "web-1", "storage": "ceph-a", "host": "h1"},
                    {"request": "web-2", "storage": "ceph-a", "host": "h2"},
                    {"request": "db-1", "storage": "ceph-b", "host": "h3"}],
                "unplaced": [],
                "stats": {"placed": 3, "requests": 3, "active_hosts": 3}}}),
        ),
        "/v1/migrate" => (
            "a small pool with one overloaded host",
            shipped(include_str!(
                "../../../instances/migration/small-state.json"
            )),
        ),
        "/v1/iallocator" => (
            "allocate one rbd instance on a two-node group",
            json!({"version": 2, "cluster_name": "example",
                "nodegroups": {"g1": {"name": "default", "alloc_policy": "preferred"}},
                "nodes": {
                    "node1": {"group": "g1", "total_memory": 32768, "free_memory": 30000,
                              "total_cpus": 8, "total_disk": 512000, "free_disk": 400000,
                              "offline": false, "drained": false, "vm_capable": true},
                    "node2": {"group": "g1", "total_memory": 32768, "free_memory": 16000,
                              "total_cpus": 8, "total_disk": 512000, "free_disk": 400000,
                              "offline": false, "drained": false, "vm_capable": true}},
                "instances": {},
                "request": {"type": "allocate", "name": "web-1", "memory": 4096, "vcpus": 2,
                            "disk_template": "rbd", "disks": [{"size": 20480, "mode": "rw"}],
                            "disk_space_total": 20480, "required_nodes": 1, "tags": [],
                            "nics": [], "os": "debian", "hypervisor": "kvm", "spindle_use": 1}}),
        ),
        "/v1/capacity" => (
            "how many 1-CPU, 2 GiB VMs still fit, and whether any one host may fail",
            json!({"problem": small(), "fail": ["any-host"],
                   "flavors": [{"name": "m1.small", "demand": {"cpu": 1, "memory_gib": 2},
                                "disk_gib": 10}]}),
        ),
        _ => return None,
    })
}

fn json_body(schema: &Value) -> Value {
    json!({"content": {"application/json": {"schema": schema}}})
}

/// Error answers every document endpoint may give.
fn errors(errors: &Value) -> Map<String, Value> {
    [
        (
            "400",
            "the document is invalid: every error, with code, path, cause and action",
        ),
        ("413", "the body exceeds the server's --body-limit (E0003)"),
        ("415", "the body is not application/json (E0004)"),
        (
            "408",
            "the body did not arrive within --body-timeout (E0009)",
        ),
        (
            "503",
            "every worker is busy and the queue is full (E0005); see Retry-After",
        ),
        ("500", "the solver failed unexpectedly (E0006)"),
    ]
    .into_iter()
    .map(|(code, text)| {
        let mut r = json_body(errors);
        r["description"] = json!(text);
        (code.to_string(), r)
    })
    .collect()
}

/// A document operation: its body, its answer, its error answers and its example.
fn document_op(
    path: &str,
    summary: &str,
    body: &Value,
    answer: &Value,
    errors_ref: &Value,
) -> Value {
    let mut responses = errors(errors_ref);
    let mut ok = json_body(answer);
    ok["description"] = json!("the answer document");
    responses.insert("200".into(), ok);
    let mut request = json_body(body);
    request["required"] = json!(true);
    if let Some((what, value)) = example(path) {
        request["content"]["application/json"]["examples"] =
            json!({"example": {"summary": what, "value": value}});
    }
    json!({"summary": summary, "requestBody": request, "responses": responses})
}

/// Adds each operation's `operationId` and tag from [`ENDPOINTS`].
fn name_operations(paths: &mut Value) {
    for e in &ENDPOINTS {
        if let Some(op) = paths.pointer_mut(&format!("/{}/{}", e.path.replace('/', "~1"), e.method))
        {
            op["operationId"] = json!(e.operation_id);
            op["tags"] = json!([e.tag]);
        }
    }
}

/// The OpenAPI document.
pub fn document() -> Value {
    let s = schemas();
    let mut paths = document_paths(&s);
    paths.extend(operations_paths(&s.errors));
    let mut doc = json!({
        "openapi": "3.1.0",
        "info": {
            "title": "vmplace",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Storage-aware VM placement and migration planning as mixed-integer \
                            programs (HiGHS). The documents are those of the CLI (README.md).",
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"}
        },
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "tags": TAGS.map(|(name, description)| json!({"name": name, "description": description})),
        "paths": paths,
        "components": {"schemas": s.components}
    });
    name_operations(&mut doc["paths"]);
    doc
}

/// The references to the documents' schemas, and the schemas themselves (`components/schemas`).
struct Schemas {
    problem: Value,
    solution: Value,
    errors: Value,
    state: Value,
    plan: Value,
    /// What `/v1/check` takes: one of its three request documents.
    check: Value,
    report: Value,
    ia_input: Value,
    ia_answer: Value,
    capacity: Value,
    capacity_report: Value,
    components: Map<String, Value>,
}

/// Every document type's schema, written once into the components.
fn schemas() -> Schemas {
    let mut settings = SchemaSettings::draft2020_12();
    settings.definitions_path = "/components/schemas".into();
    settings.meta_schema = None;
    let mut g = settings.into_generator();
    let r = |v: schemars::Schema| serde_json::to_value(v).unwrap_or(Value::Null);
    let problem = r(g.subschema_for::<Problem>());
    let solution = r(g.subschema_for::<Solution>());
    let errors = r(g.subschema_for::<ErrorDocument>());
    let state = r(g.subschema_for::<State>());
    let plan = r(g.subschema_for::<Plan>());
    let check = r(g.subschema_for::<CheckRequest>());
    let plan_check = r(g.subschema_for::<PlanCheckRequest>());
    let ia_check = r(g.subschema_for::<IallocatorCheckRequest>());
    let report = r(g.subschema_for::<super::api::CheckReport>());
    let ia_input = r(g.subschema_for::<ganeti::Input>());
    let ia_answer = r(g.subschema_for::<ganeti::Response>());
    let capacity = r(g.subschema_for::<vmplace_wire::check::CapacityRequest>());
    let capacity_report = r(g.subschema_for::<vmplace_core::capacity::CapacityReport>());
    Schemas {
        problem,
        solution,
        errors,
        state,
        plan,
        check: json!({"oneOf": [check, plan_check, ia_check]}),
        report,
        ia_input,
        ia_answer,
        capacity,
        capacity_report,
        components: g.take_definitions(true),
    }
}

/// The JSON object of `value`, or an empty one.
fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// The paths that take a document and answer one (or an error document).
fn document_paths(s: &Schemas) -> Map<String, Value> {
    let solve = |path: &str, phase: &str| {
        document_op(
            path,
            &format!("Placement, {phase}: a problem document in, a solution out"),
            &s.problem,
            &s.solution,
            &s.errors,
        )
    };
    object(json!({
        "/v1/storage": {"post": solve("/v1/storage", "phase 1 (storage systems)")},
        "/v1/host": {"post": solve("/v1/host", "phase 2 (hosts; every request carries storage)")},
        "/v1/place": {"post": solve("/v1/place", "both phases")},
        "/v1/host-from-storage": {"post": document_op("/v1/host-from-storage",
            "Placement, phase 2 on phase 1's answer: the problem `/v1/storage` answered and \
             that answer in, a solution out (images counted, what phase 1 left unplaced \
             reported)",
            &json!({"type": "object", "required": ["problem", "storage_from"],
                    "properties": {"problem": s.problem, "storage_from": s.solution}}),
            &s.solution, &s.errors)},
        "/v1/check": {"post": document_op("/v1/check",
            "Independent checker: a problem and a solution, a state and a plan, or a Ganeti \
             input and answer",
            &s.check, &s.report, &s.errors)},
        "/v1/migrate": {"post": document_op("/v1/migrate",
            "One migration round: a state document in, a plan out", &s.state, &s.plan, &s.errors)},
        "/v1/iallocator": {"post": document_op("/v1/iallocator",
            "Ganeti IAllocator v2: Ganeti's input document in, the protocol's answer out",
            &s.ia_input, &s.ia_answer, &s.errors)},
        "/v1/capacity": {"post": document_op("/v1/capacity",
            "How many more VMs of each flavor fit: a pool and flavors in, exact counts out",
            &s.capacity, &s.capacity_report, &s.errors)}
    }))
}

/// The operations' paths: schemas, this document, probes and metrics.
fn operations_paths(errors_ref: &Value) -> Map<String, Value> {
    let doc_names: Vec<&str> = vmplace_wire::DocKind::ALL
        .iter()
        .map(|k| k.name())
        .collect();
    let not_found = {
        let mut r = json_body(errors_ref);
        r["description"] = json!("no such document (E0007)");
        r
    };
    object(json!({
        "/v1/schema/{doc}": {"get": {
            "summary": "The JSON Schema of a document",
            "parameters": [{"name": "doc", "in": "path", "required": true, "example": "problem",
                            "schema": {"type": "string", "enum": doc_names}}],
            "responses": {
                "200": {"description": "the schema",
                        "content": {"application/json": {"schema": {"type": "object"}}}},
                "404": not_found
            }}},
        "/v1/openapi.json": {"get": {"summary": "This document", "responses": {
            "200": {"description": "OpenAPI 3.1",
                    "content": {"application/json": {"schema": {"type": "object"}}}}}}},
        "/healthz": {"get": {"summary": "Liveness", "responses": {
            "200": {"description": "the service runs", "content": {"application/json": {
                "schema": {"type": "object", "properties": {"status": {"const": "ok"}},
                           "required": ["status"]}}}}}}},
        "/readyz": {"get": {
            "summary": "Readiness: 200 while serving, 503 once a shutdown signal arrived \
                        (the server drains the solves in flight, then exits)",
            "responses": {
                "200": {"description": "ready for requests", "content": {"application/json": {
                    "schema": {"type": "object", "properties": {"status": {"const": "ready"}},
                               "required": ["status"]}}}},
                "503": {"description": "draining: send no more requests here",
                        "content": {"application/json": {"schema": {"type": "object",
                            "properties": {"status": {"const": "draining"}},
                            "required": ["status"]}}}}}}},
        "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {
            "200": {"description": "Prometheus text format",
                    "content": {"text/plain": {"schema": {"type": "string"}}}}}}}
    }))
}

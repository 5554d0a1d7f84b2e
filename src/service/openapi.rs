//! The OpenAPI 3.1 description of the HTTP API (`GET /v1/openapi.json`), generated from the same
//! Rust types as the JSON Schemas: schemars writes every document type into
//! `components/schemas`, and the paths below reference them. OpenAPI 3.1's schema dialect is
//! JSON Schema 2020-12, schemars' own, so the schemas are the ones `vmplace schema` prints.

use crate::format::check::{CheckRequest, IallocatorCheckRequest, PlanCheckRequest};
use crate::format::ganeti;
use crate::format::state::{Plan, State};
use crate::format::{ErrorDocument, Problem, Solution};
use schemars::generate::SchemaSettings;
use serde_json::{json, Map, Value};

/// One endpoint of the service.
pub struct Endpoint {
    /// `get` or `post`.
    pub method: &'static str,
    /// The path, with `{doc}` for a parameter.
    pub path: &'static str,
}

/// Every endpoint the OpenAPI document describes (the router serves exactly these).
pub const ENDPOINTS: [Endpoint; 11] = [
    Endpoint {
        method: "post",
        path: "/v1/storage",
    },
    Endpoint {
        method: "post",
        path: "/v1/host",
    },
    Endpoint {
        method: "post",
        path: "/v1/place",
    },
    Endpoint {
        method: "post",
        path: "/v1/check",
    },
    Endpoint {
        method: "post",
        path: "/v1/migrate",
    },
    Endpoint {
        method: "post",
        path: "/v1/iallocator",
    },
    Endpoint {
        method: "post",
        path: "/v1/capacity",
    },
    Endpoint {
        method: "get",
        path: "/v1/schema/{doc}",
    },
    Endpoint {
        method: "get",
        path: "/v1/openapi.json",
    },
    Endpoint {
        method: "get",
        path: "/healthz",
    },
    Endpoint {
        method: "get",
        path: "/metrics",
    },
];

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

fn document_op(summary: &str, body: &Value, answer: &Value, errors_ref: &Value) -> Value {
    let mut responses = errors(errors_ref);
    let mut ok = json_body(answer);
    ok["description"] = json!("the answer document");
    responses.insert("200".into(), ok);
    let mut request = json_body(body);
    request["required"] = json!(true);
    json!({"summary": summary, "requestBody": request, "responses": responses})
}

/// The OpenAPI document.
pub fn document() -> Value {
    let mut settings = SchemaSettings::draft2020_12();
    settings.definitions_path = "/components/schemas".into();
    settings.meta_schema = None;
    let mut g = settings.into_generator();
    let r = |v: schemars::Schema| serde_json::to_value(v).unwrap_or(Value::Null);
    let problem = r(g.subschema_for::<Problem>());
    let solution = r(g.subschema_for::<Solution>());
    let errors_ref = r(g.subschema_for::<ErrorDocument>());
    let state = r(g.subschema_for::<State>());
    let plan = r(g.subschema_for::<Plan>());
    let check = r(g.subschema_for::<CheckRequest>());
    let plan_check = r(g.subschema_for::<PlanCheckRequest>());
    let ia_check = r(g.subschema_for::<IallocatorCheckRequest>());
    let report = r(g.subschema_for::<super::api::CheckReport>());
    let ia_input = r(g.subschema_for::<ganeti::Input>());
    let ia_answer = r(g.subschema_for::<ganeti::Response>());
    let capacity = r(g.subschema_for::<crate::format::check::CapacityRequest>());
    let capacity_report = r(g.subschema_for::<crate::capacity::CapacityReport>());
    let schemas = g.take_definitions(true);
    let solve = |phase: &str| {
        document_op(
            &format!("Placement, {phase}: a problem document in, a solution out"),
            &problem,
            &solution,
            &errors_ref,
        )
    };
    let check_body = json!({"oneOf": [check, plan_check, ia_check]});
    let doc_names: Vec<&str> = crate::format::DocKind::ALL
        .iter()
        .map(|k| k.name())
        .collect();
    let not_found = {
        let mut r = json_body(&errors_ref);
        r["description"] = json!("no such document (E0007)");
        r
    };
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "vmplace",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Storage-aware VM placement and migration planning as mixed-integer \
                            programs (HiGHS). The documents are those of the CLI (README.md).",
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"}
        },
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "paths": {
            "/v1/storage": {"post": solve("phase 1 (storage systems)")},
            "/v1/host": {"post": solve("phase 2 (hosts; every request carries storage)")},
            "/v1/place": {"post": solve("both phases")},
            "/v1/check": {"post": document_op(
                "Independent checker: a problem and a solution, a state and a plan, or a Ganeti \
                 input and answer",
                &check_body, &report, &errors_ref)},
            "/v1/migrate": {"post": document_op(
                "One migration round: a state document in, a plan out", &state, &plan, &errors_ref)},
            "/v1/iallocator": {"post": document_op(
                "Ganeti IAllocator v2: Ganeti's input document in, the protocol's answer out",
                &ia_input, &ia_answer, &errors_ref)},
            "/v1/capacity": {"post": document_op(
                "How many more VMs of each flavor fit: a pool and flavors in, exact counts out",
                &capacity, &capacity_report, &errors_ref)},
            "/v1/schema/{doc}": {"get": {
                "summary": "The JSON Schema of a document",
                "parameters": [{"name": "doc", "in": "path", "required": true,
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
            "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {
                "200": {"description": "Prometheus text format",
                        "content": {"text/plain": {"schema": {"type": "string"}}}}}}}
        },
        "components": {"schemas": schemas}
    })
}

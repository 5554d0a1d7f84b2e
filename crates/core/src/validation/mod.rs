//! Reading and validating input documents.
//!
//! Three stages, each collecting every error it finds: JSON syntax, the JSON Schema generated from
//! the wire types (types, required and unknown fields, ranges), then the rules a schema cannot
//! express (ids, references, capacities). No model is built from a document with errors.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashSet;
use vmplace_wire::errors::{ErrorCode, InputError};
use vmplace_wire::{DocKind, Problem};

mod allocation;
pub mod dropper;
pub mod ganeti;
pub mod json;
mod problem;
pub mod reassign;
pub mod state;

pub use json::parse_json;

pub use state::{check_moves, read_state, validate_state};

/// A document that passed every validation stage. Only this module makes one, so that the
/// library's entry points ([`crate::domain::Domain::from_problem`], [`crate::migration::plan`])
/// never see an unknown id or an inconsistent figure.
#[derive(Debug, Clone, PartialEq)]
pub struct Valid<T>(T);

impl<T> Valid<T> {
    /// The document.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Valid<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// What the document will be used for: the host phase needs every request's storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Storage phase, or both phases.
    Storage,
    /// Host phase only: `requests[].storage` is required.
    Host,
}

/// A document's bytes as text: JSON is UTF-8 (RFC 8259), so anything else is `E1001`. The one
/// converter of the CLI's files and the server's bodies.
pub fn utf8_text(bytes: Vec<u8>) -> Result<String, InputError> {
    String::from_utf8(bytes).map_err(|e| {
        InputError::new(
            ErrorCode::MalformedJson,
            "",
            format!("the document is not UTF-8 text: {e}"),
        )
    })
}

pub(crate) use vmplace_wire::spelling::pointer_token;

/// A document type with a JSON Schema, compiled once per process: compiling it took longer
/// than validating a small document.
pub trait Schema: schemars::JsonSchema {
    /// The compiled schema, or why it does not compile.
    fn validator() -> &'static Result<jsonschema::Validator, String>;
}

/// The compiled schema of `T`.
fn compile<T: schemars::JsonSchema>() -> Result<jsonschema::Validator, String> {
    let schema = serde_json::to_value(schemars::schema_for!(T)).unwrap_or(Value::Null);
    jsonschema::validator_for(&schema).map_err(|e| e.to_string())
}

macro_rules! schema_of {
    ($($t:ty),* $(,)?) => {$(
        impl Schema for $t {
            fn validator() -> &'static Result<jsonschema::Validator, String> {
                static COMPILED: std::sync::OnceLock<Result<jsonschema::Validator, String>> =
                    std::sync::OnceLock::new();
                COMPILED.get_or_init(compile::<$t>)
            }
        }
    )*};
}

schema_of!(
    Problem,
    vmplace_wire::Solution,
    vmplace_wire::state::State,
    vmplace_wire::state::Plan,
    vmplace_wire::check::CheckRequest,
    vmplace_wire::check::PlanCheckRequest,
    vmplace_wire::ErrorDocument,
    vmplace_wire::ganeti::Input,
    vmplace_wire::ganeti::NewInstance,
    vmplace_wire::ganeti::Response,
    vmplace_wire::check::IallocatorCheckRequest,
    vmplace_wire::check::CapacityRequest,
);

/// Validates a JSON value against the schema generated from `T`, collecting every violation.
pub fn schema_errors<T: Schema>(value: &Value) -> Vec<InputError> {
    let validator = match T::validator() {
        Ok(v) => v,
        Err(e) => {
            // A schema generated from our own types always compiles; report rather than panic.
            return vec![InputError::new(
                ErrorCode::InvalidValue,
                "",
                format!("internal: schema does not compile: {e}"),
            )];
        }
    };
    let mut out = Vec::new();
    for err in validator.iter_errors(value) {
        map_schema_error(&err, &mut out);
    }
    out
}

/// Maps one schema violation to input errors. An `anyOf` (how optional fields are described) is
/// unwrapped into the branch that failed for a real reason rather than "is not null".
fn map_schema_error(err: &jsonschema::ValidationError<'_>, out: &mut Vec<InputError>) {
    use jsonschema::error::ValidationErrorKind as K;
    let path = err.instance_path().as_str().to_string();
    match err.kind() {
        K::AnyOf { context } => {
            let only_type = |branch: &Vec<jsonschema::ValidationError<'_>>| {
                branch.iter().all(|e| {
                    matches!(e.kind(), K::Type { .. }) && e.instance_path().as_str() == path
                })
            };
            let real: Vec<_> = context
                .iter()
                .filter(|b| !b.is_empty() && !only_type(b))
                .collect();
            if real.len() == 1 {
                for e in real[0] {
                    map_schema_error(e, out);
                }
            } else {
                out.push(InputError::new(ErrorCode::WrongType, path, err.to_string()));
            }
        }
        K::OneOfNotValid { context } => match allowed_values(context, &path) {
            Some(allowed) => out.push(InputError::new(
                ErrorCode::InvalidValue,
                path,
                format!("{} is not one of {allowed}", err.instance()),
            )),
            None => out.push(InputError::new(
                ErrorCode::InvalidValue,
                path,
                err.to_string(),
            )),
        },
        K::Enum { options } => {
            let allowed = options
                .as_array()
                .map_or_else(String::new, |o| list(o.iter()));
            out.push(InputError::new(
                ErrorCode::InvalidValue,
                path,
                format!("{} is not one of {allowed}", err.instance()),
            ))
        }
        K::AdditionalProperties { unexpected } => {
            for name in unexpected {
                out.push(InputError::new(
                    ErrorCode::UnknownField,
                    format!("{path}/{}", pointer_token(name)),
                    format!("unknown field `{name}`"),
                ));
            }
        }
        K::Required { property } => {
            let name = property.as_str().unwrap_or_default();
            out.push(InputError::new(
                ErrorCode::MissingField,
                format!("{path}/{}", pointer_token(name)),
                format!("missing required field `{name}`"),
            ));
        }
        K::Type { .. } => out.push(InputError::new(ErrorCode::WrongType, path, err.to_string())),
        K::MinItems { .. } => {
            let cause = format!("`{}` is empty", path.trim_start_matches('/'));
            out.push(InputError::new(ErrorCode::EmptyArray, path, cause))
        }
        K::Minimum { .. }
        | K::Maximum { .. }
        | K::ExclusiveMinimum { .. }
        | K::ExclusiveMaximum { .. } => out.push(InputError::new(
            ErrorCode::OutOfRange,
            path,
            err.to_string(),
        )),
        _ => out.push(InputError::new(
            ErrorCode::InvalidValue,
            path,
            err.to_string(),
        )),
    }
}

/// The values an enum allows, when each branch of its `oneOf` is one constant (how schemars
/// describes an enum whose variants have doc comments): "`balance`, `pack`". `None` for any
/// other `oneOf`.
fn allowed_values(branches: &[Vec<jsonschema::ValidationError<'_>>], path: &str) -> Option<String> {
    use jsonschema::error::ValidationErrorKind as K;
    let constants: Option<Vec<&Value>> = branches
        .iter()
        .map(|branch| {
            branch.iter().find_map(|e| match e.kind() {
                K::Constant { expected_value } if e.instance_path().as_str() == path => {
                    Some(&**expected_value)
                }
                _ => None,
            })
        })
        .collect();
    constants
        .filter(|c| !c.is_empty())
        .map(|c| list(c.into_iter()))
}

/// Values as a list for a message: "`balance`, `pack`" (strings without their quotes).
fn list<'v>(values: impl Iterator<Item = &'v Value>) -> String {
    values
        .map(|v| match v.as_str() {
            Some(s) => format!("`{s}`"),
            None => format!("`{v}`"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Deserializes a value that passed the schema stage into its typed form. What the schema cannot
/// say (a number beyond `u64`, say) is reported at the JSON pointer where serde stopped.
pub(crate) fn typed<T: DeserializeOwned>(value: Value) -> Result<T, InputError> {
    // Most documents are well-typed: read them from the tree without tracking the path (twice
    // as fast as tracking it, measured on a 2,000-host pool), and track it only to report.
    if let Ok(t) = T::deserialize(&value) {
        return Ok(t);
    }
    serde_path_to_error::deserialize::<_, T>(value).map_err(|e| {
        let pointer: String = e
            .path()
            .iter()
            .filter_map(|segment| match segment {
                serde_path_to_error::Segment::Seq { index } => Some(format!("/{index}")),
                serde_path_to_error::Segment::Map { key } => {
                    Some(format!("/{}", pointer_token(key)))
                }
                _ => None,
            })
            .collect();
        InputError::new(ErrorCode::WrongType, pointer, e.into_inner().to_string())
    })
}

/// The last step of every reader: errors sorted by path, each once, with the action text for
/// the document they are in.
pub fn finish(mut errors: Vec<InputError>, kind: DocKind) -> Vec<InputError> {
    errors.sort();
    // The schema and a rule may both catch one field (a negative capacity): report it once.
    errors.dedup_by(|a, b| a.code == b.code && a.path == b.path);
    errors.into_iter().map(|e| e.in_document(kind)).collect()
}

/// Parses and validates a document of type `T` with the schema stage only.
pub fn read_document<T: DeserializeOwned + Schema>(
    text: &str,
    kind: DocKind,
) -> Result<T, Vec<InputError>> {
    let value = parse_json(text).map_err(|e| finish(e, kind))?;
    let errors = schema_errors::<T>(&value);
    if !errors.is_empty() {
        return Err(finish(errors, kind));
    }
    typed::<T>(value).map_err(|e| finish(vec![e], kind))
}

/// Reads a problem document and runs every check for the given phase.
pub fn read_problem(text: &str, phase: Phase) -> Result<Valid<Problem>, Vec<InputError>> {
    let value = parse_json(text).map_err(|e| finish(e, DocKind::Problem))?;
    validate_problem(value, phase)
}

/// The checks of [`read_problem`] on a parsed document (timed apart from parsing).
pub fn validate_problem(value: Value, phase: Phase) -> Result<Valid<Problem>, Vec<InputError>> {
    validate_problem_but(value, phase, |_| false)
}

/// A pool to count on (`vmplace capacity`): a problem document whose `requests` may be empty or
/// absent (then none), with every other check of [`validate_problem`] for both phases. The
/// errors of an ordinary problem without requests (`E1102`, `E1206` at `/requests`) are the
/// only ones it does not report; the schema is the problem's.
pub fn validate_pool(mut value: Value) -> Result<Valid<Problem>, Vec<InputError>> {
    if let Some(doc) = value.as_object_mut() {
        doc.entry("requests")
            .or_insert_with(|| Value::Array(Vec::new()));
    }
    validate_problem_but(value, Phase::Storage, |e| {
        e.code == ErrorCode::EmptyArray && e.path == "/requests"
    })
}

/// [`validate_problem`], with the errors `allowed` says a caller accepts left out.
fn validate_problem_but(
    value: Value,
    phase: Phase,
    allowed: impl Fn(&InputError) -> bool,
) -> Result<Valid<Problem>, Vec<InputError>> {
    let kind = DocKind::Problem;
    // The schema and the typed reading both only read the tree: on a 2,000-host pool they take
    // milliseconds each, so they run side by side (a scheduler waiting inline leaves the other
    // core idle).
    let (schema, quick) = std::thread::scope(|scope| {
        let schema = scope.spawn(|| schema_errors::<Problem>(&value));
        let quick = Problem::deserialize(&value).ok();
        (schema.join(), quick)
    });
    let mut errors = schema.unwrap_or_else(|_| {
        vec![InputError::new(
            ErrorCode::InvalidValue,
            "",
            "internal: the schema check failed",
        )]
    });
    errors.retain(|e| !allowed(e));
    let typed_problem = match quick {
        Some(p) => {
            let size = p.hosts.len() + p.requests.len();
            dropper::free_later(value, size);
            Ok(p)
        }
        None => typed::<Problem>(value),
    };
    // The typed rules still run when the schema stage found something, as long as the document
    // deserializes, so that one pass reports as much as possible.
    match typed_problem {
        Ok(problem) => {
            errors.extend(problem::check_problem(&problem, phase));
            errors.retain(|e| !allowed(e));
            if errors.is_empty() {
                return Ok(Valid(problem));
            }
        }
        Err(_) if !errors.is_empty() => {}
        Err(e) => errors.push(e),
    }
    Err(finish(errors, kind))
}

/// The rules of [`validate_problem`] on a problem built in code (a capacity query's pool,
/// Ganeti's classes in vmplace's terms), the twin of [`validate_state`]: no JSON tree and no
/// schema stage, whose checks the types already make or
/// [`check_problem`](problem::check_problem) makes again.
pub fn validate_built(problem: Problem, phase: Phase) -> Result<Valid<Problem>, Vec<InputError>> {
    let errors = problem::check_problem(&problem, phase);
    if errors.is_empty() {
        return Ok(Valid(problem));
    }
    Err(finish(errors, DocKind::Problem))
}

fn check_unique_ids<'a>(
    array: &str,
    ids: impl Iterator<Item = &'a str>,
    errors: &mut Vec<InputError>,
) -> HashSet<&'a str> {
    let mut seen = HashSet::new();
    for (i, id) in ids.enumerate() {
        if !seen.insert(id) {
            errors.push(InputError::new(
                ErrorCode::DuplicateId,
                format!("/{array}/{i}/id"),
                format!("id `{id}` appears more than once in `{array}`"),
            ));
        }
    }
    seen
}

fn check_resources(path: &str, resources: &vmplace_wire::Resources, errors: &mut Vec<InputError>) {
    for (name, &v) in resources {
        if !v.is_finite() || v < 0.0 {
            errors.push(InputError::new(
                ErrorCode::OutOfRange,
                format!("{path}/{}", pointer_token(name)),
                format!("`{name}` is {v}; amounts must be finite and >= 0"),
            ));
        }
    }
}

/// `groups[]` of a placement problem: the definitions, and every group a request or host names.
fn check_groups(p: &Problem, errors: &mut Vec<InputError>) {
    let ids = check_group_defs(
        &p.groups,
        |key| p.hosts.iter().any(|h| h.labels.contains_key(key)),
        errors,
    );
    for (i, r) in p.requests.iter().enumerate() {
        for (j, g) in r.groups.iter().enumerate() {
            let (path, who) = (
                format!("/requests/{i}/groups/{j}"),
                format!("request `{}` is", r.id),
            );
            check_group_ref(&ids, g, path, &who, errors);
        }
    }
    for (i, h) in p.hosts.iter().enumerate() {
        for g in h.group_members.keys() {
            let path = format!("/hosts/{i}/group_members/{}", pointer_token(g));
            check_group_ref(
                &ids,
                g,
                path,
                &format!("host `{}` runs members", h.id),
                errors,
            );
        }
    }
}

/// `groups[]` (placement and state alike): unique ids, a scope some host can be in
/// (`has_label`), fields that apply to the policy. Returns the ids.
pub(crate) fn check_group_defs<'a>(
    groups: &'a [vmplace_wire::problem::Group],
    has_label: impl Fn(&str) -> bool,
    errors: &mut Vec<InputError>,
) -> HashSet<&'a str> {
    use vmplace_wire::problem::GroupPolicy;
    let ids = check_unique_ids("groups", groups.iter().map(|g| g.id.as_str()), errors);
    for (i, g) in groups.iter().enumerate() {
        if g.scope != "host" && !has_label(&g.scope) {
            errors.push(InputError::new(
                ErrorCode::UnknownScope,
                format!("/groups/{i}/scope"),
                format!(
                    "group `{}` is scoped by label `{}`, which no host has",
                    g.id, g.scope
                ),
            ));
        }
        let misplaced = [
            (
                "max_per_domain",
                g.max_per_domain.is_some(),
                GroupPolicy::AntiAffinity,
            ),
            ("max_skew", g.max_skew.is_some(), GroupPolicy::Spread),
        ];
        for (field, given, owner) in misplaced {
            if given && g.policy != owner {
                errors.push(InputError::new(
                    ErrorCode::GroupFieldMismatch,
                    format!("/groups/{i}/{field}"),
                    format!(
                        "group `{}` has `{field}`, which its policy does not use",
                        g.id
                    ),
                ));
            }
        }
    }
    ids
}

/// Group `g`, named at `path` by `who` ("request `r1` is"), is one of `ids`.
pub(crate) fn check_group_ref(
    ids: &HashSet<&str>,
    g: &str,
    path: String,
    who: &str,
    errors: &mut Vec<InputError>,
) {
    if !ids.contains(g) {
        errors.push(InputError::new(
            ErrorCode::UnknownPlacementGroup,
            path,
            format!("{who} in group `{g}`, which `groups` does not define"),
        ));
    }
}

/// A request's trait lists: no trait both required and forbidden, and a storage it names has its
/// storage traits.
fn check_traits(p: &Problem, i: usize, errors: &mut Vec<InputError>) {
    let r = &p.requests[i];
    for (required, forbidden, field) in [
        (&r.required_traits, &r.forbidden_traits, "forbidden_traits"),
        (
            &r.storage_required_traits,
            &r.storage_forbidden_traits,
            "storage_forbidden_traits",
        ),
    ] {
        for (j, t) in forbidden.iter().enumerate() {
            if required.contains(t) {
                errors.push(InputError::new(
                    ErrorCode::ContradictoryTraits,
                    format!("/requests/{i}/{field}/{j}"),
                    format!("request `{}` both requires and forbids trait `{t}`", r.id),
                ));
            }
        }
    }
    if r.storage_required_traits.is_empty() && r.storage_forbidden_traits.is_empty() {
        return;
    }
    let Some(s) = r
        .storage
        .as_ref()
        .and_then(|sid| p.storage.iter().find(|s| &s.id == sid))
    else {
        return;
    };
    let lacks = r
        .storage_required_traits
        .iter()
        .find(|t| !s.traits.contains(*t));
    let has = r
        .storage_forbidden_traits
        .iter()
        .find(|t| s.traits.contains(*t));
    if let Some(t) = lacks.or(has) {
        errors.push(InputError::new(
            ErrorCode::StorageTraitsUnmet,
            format!("/requests/{i}/storage"),
            format!(
                "request `{}` names storage `{}`, which its storage traits exclude (`{t}`)",
                r.id, s.id
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointer_tokens_are_escaped() {
        assert_eq!(pointer_token("a/b~c"), "a~1b~0c");
    }

    /// A problem built in code is held to the rules of one read from text, without a JSON
    /// round trip: the same codes at the same paths.
    #[test]
    fn a_built_problem_meets_the_rules_of_a_read_one() {
        let text = r#"{"storage": [{"id": "s", "capacity_gib": 100}],
                       "hosts": [{"id": "h", "capacity": {"cpu": 4}, "storage": ["s"]}],
                       "requests": [{"id": "r", "demand": {"cpu": 1}, "disk_gib": 1}]}"#;
        let good = read_problem(text, Phase::Storage)
            .expect("valid")
            .into_inner();
        assert!(validate_built(good.clone(), Phase::Storage).is_ok());
        let mut bad = good;
        bad.hosts[0].storage = vec!["nowhere".into()];
        bad.requests[0].demand.insert("cpu".into(), -1.0);
        let built = validate_built(bad.clone(), Phase::Storage).expect_err("invalid");
        let read = read_problem(&serde_json::to_string(&bad).expect("json"), Phase::Storage)
            .expect_err("invalid");
        let codes = |e: &[InputError]| {
            e.iter()
                .map(|e| (e.code, e.path.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(codes(&built), codes(&read));
        assert_eq!(built.len(), 2, "{built:?}");
    }
}

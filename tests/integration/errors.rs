//! One test per error code, all-errors-at-once, the book's error index, and no panic on garbage.

use proptest::prelude::*;
use serde_json::{json, Value};
use vmplace_core::validation::{read_problem, Phase};
use vmplace_wire::errors::ErrorCode;
use vmplace_wire::InputError;

fn valid() -> Value {
    json!({
        "storage": [{"id": "s1", "capacity_gib": 100, "used_gib": 10}],
        "hosts": [{"id": "h1", "capacity": {"cpu": 8, "memory_gib": 32}, "used": {"cpu": 1}, "storage": ["s1"]}],
        "requests": [{"id": "r1", "demand": {"cpu": 1, "memory_gib": 2}, "disk_gib": 10}]
    })
}

fn errors_of(doc: &Value, phase: Phase) -> Vec<InputError> {
    read_problem(&doc.to_string(), phase).expect_err("document should be rejected")
}

fn assert_has(errors: &[InputError], code: ErrorCode, path: &str) {
    assert!(
        errors.iter().any(|e| e.code == code.code()
            && e.path == path
            && !e.cause.is_empty()
            && !e.action.is_empty()),
        "expected {} at {path}, got {errors:#?}",
        code.code()
    );
}

fn with(mut doc: Value, pointer: &str, value: Value) -> Value {
    *doc.pointer_mut(pointer).expect("pointer exists") = value;
    doc
}

#[test]
fn valid_document_is_accepted() {
    read_problem(&valid().to_string(), Phase::Storage).expect("valid");
}

#[test]
fn e1001_malformed_json() {
    let e = read_problem("{\"storage\": [", Phase::Storage).unwrap_err();
    assert_eq!(e[0].code, "E1001");
    assert!(e[0].cause.contains("line 1"));
    let nan = read_problem(
        "{\"storage\": [{\"id\": \"s\", \"capacity_gib\": NaN}]}",
        Phase::Storage,
    )
    .unwrap_err();
    assert_eq!(nan[0].code, "E1001");
}

#[test]
fn e1101_wrong_type() {
    let doc = with(valid(), "/storage/0/capacity_gib", json!("lots"));
    assert_has(
        &errors_of(&doc, Phase::Storage),
        ErrorCode::WrongType,
        "/storage/0/capacity_gib",
    );
}

#[test]
fn e1102_missing_field() {
    let mut doc = valid();
    doc["requests"][0]
        .as_object_mut()
        .unwrap()
        .remove("disk_gib");
    assert_has(
        &errors_of(&doc, Phase::Storage),
        ErrorCode::MissingField,
        "/requests/0/disk_gib",
    );
}

#[test]
fn e1103_unknown_field() {
    let mut doc = valid();
    doc["hosts"][0]["capacty"] = json!(1);
    assert_has(
        &errors_of(&doc, Phase::Storage),
        ErrorCode::UnknownField,
        "/hosts/0/capacty",
    );
}

#[test]
fn e1104_negative_numbers() {
    let doc = with(valid(), "/storage/0/used_gib", json!(-5));
    assert_has(
        &errors_of(&doc, Phase::Storage),
        ErrorCode::OutOfRange,
        "/storage/0/used_gib",
    );
    let doc = with(valid(), "/requests/0/demand/cpu", json!(-1));
    assert_has(
        &errors_of(&doc, Phase::Storage),
        ErrorCode::OutOfRange,
        "/requests/0/demand/cpu",
    );
}

#[test]
fn e1105_invalid_value() {
    let mut doc = valid();
    doc["options"] = json!({"host_policy": "fastest"});
    assert_has(
        &errors_of(&doc, Phase::Storage),
        ErrorCode::InvalidValue,
        "/options/host_policy",
    );
    let doc = with(valid(), "/hosts/0/id", json!(""));
    assert_has(
        &errors_of(&doc, Phase::Storage),
        ErrorCode::InvalidValue,
        "/hosts/0/id",
    );
}

#[test]
fn e1201_duplicate_id() {
    let mut doc = valid();
    let h = doc["hosts"][0].clone();
    doc["hosts"].as_array_mut().unwrap().push(h);
    assert_has(
        &errors_of(&doc, Phase::Storage),
        ErrorCode::DuplicateId,
        "/hosts/1/id",
    );
}

#[test]
fn e1203_host_links_unknown_storage() {
    let doc = with(valid(), "/hosts/0/storage", json!(["s1", "nope"]));
    assert_has(
        &errors_of(&doc, Phase::Storage),
        ErrorCode::UnknownHostStorage,
        "/hosts/0/storage/1",
    );
}

#[test]
fn e1204_request_names_unknown_storage() {
    let mut doc = valid();
    doc["requests"][0]["storage"] = json!("nope");
    assert_has(
        &errors_of(&doc, Phase::Storage),
        ErrorCode::UnknownRequestStorage,
        "/requests/0/storage",
    );
}

#[test]
fn e1205_resource_no_host_has() {
    let mut doc = valid();
    doc["requests"][0]["demand"]["gpu"] = json!(1);
    assert_has(
        &errors_of(&doc, Phase::Storage),
        ErrorCode::UnknownResource,
        "/requests/0/demand/gpu",
    );
}

#[test]
fn e1206_empty_arrays() {
    let doc = with(valid(), "/requests", json!([]));
    assert_has(
        &errors_of(&doc, Phase::Storage),
        ErrorCode::EmptyArray,
        "/requests",
    );
}

#[test]
fn e1207_used_exceeds_capacity() {
    let doc = with(valid(), "/storage/0/used_gib", json!(500));
    assert_has(
        &errors_of(&doc, Phase::Storage),
        ErrorCode::UsedExceedsCapacity,
        "/storage/0/used_gib",
    );
    let doc = with(valid(), "/hosts/0/used/cpu", json!(9));
    assert_has(
        &errors_of(&doc, Phase::Storage),
        ErrorCode::UsedExceedsCapacity,
        "/hosts/0/used/cpu",
    );
}

#[test]
fn e1208_host_phase_needs_storage() {
    assert_has(
        &errors_of(&valid(), Phase::Host),
        ErrorCode::MissingStorageChoice,
        "/requests/0/storage",
    );
}

#[test]
fn e1209_duplicate_link() {
    let doc = with(valid(), "/hosts/0/storage", json!(["s1", "s1"]));
    assert_has(
        &errors_of(&doc, Phase::Storage),
        ErrorCode::DuplicateLink,
        "/hosts/0/storage/1",
    );
}

#[test]
fn e1210_used_without_capacity() {
    let doc = with(valid(), "/hosts/0/used", json!({"gpu": 1}));
    assert_has(
        &errors_of(&doc, Phase::Storage),
        ErrorCode::UsedWithoutCapacity,
        "/hosts/0/used/gpu",
    );
}

#[test]
fn all_errors_of_a_document_are_reported_at_once() {
    let mut doc = valid();
    doc["hosts"][0]["storage"] = json!(["ghost"]);
    doc["requests"][0]["demand"]["gpu"] = json!(2);
    doc["storage"][0]["used_gib"] = json!(1000);
    doc["requests"][0]["colour"] = json!("red");
    doc["hosts"][0]["capacity"]["cpu"] = json!("eight");
    let errors = errors_of(&doc, Phase::Storage);
    for (code, path) in [
        (ErrorCode::UnknownField, "/requests/0/colour"),
        (ErrorCode::WrongType, "/hosts/0/capacity/cpu"),
    ] {
        assert_has(&errors, code, path);
    }
    // Schema errors prevent typed deserialisation; fix them and the semantic ones all show.
    doc["requests"][0].as_object_mut().unwrap().remove("colour");
    doc["hosts"][0]["capacity"]["cpu"] = json!(8);
    let errors = errors_of(&doc, Phase::Storage);
    assert_has(&errors, ErrorCode::UnknownHostStorage, "/hosts/0/storage/0");
    assert_has(
        &errors,
        ErrorCode::UnknownResource,
        "/requests/0/demand/gpu",
    );
    assert_has(
        &errors,
        ErrorCode::UsedExceedsCapacity,
        "/storage/0/used_gib",
    );
}

/// The book's error index, where every code the program writes is listed.
fn error_index() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/src/reference/errors.md"
    ))
    .unwrap()
}

#[test]
fn the_error_index_lists_every_error_and_reason_code() {
    let index = error_index();
    for code in ErrorCode::ALL {
        assert!(
            index.contains(&format!("`{}`", code.code())),
            "the error index (docs/src/reference/errors.md) misses {}",
            code.code()
        );
    }
    for code in vmplace_wire::ReasonCode::ALL {
        let name = serde_json::to_value(code).unwrap();
        let name = name.as_str().unwrap();
        assert!(
            index.contains(&format!("`{name}`")),
            "the error index (docs/src/reference/errors.md) misses {name}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn garbage_never_panics(text in ".{0,200}") {
        let _ = read_problem(&text, Phase::Storage);
    }

    #[test]
    fn mutated_documents_never_panic(path in 0usize..9, value in prop_oneof![
        Just(json!(null)), Just(json!(-1)), Just(json!("x")), Just(json!([])), Just(json!({})),
        Just(json!(1e308)), Just(json!(true))
    ]) {
        let pointers = ["/storage", "/storage/0/id", "/storage/0/capacity_gib", "/hosts/0/capacity",
            "/hosts/0/storage", "/hosts/0/used", "/requests/0/demand", "/requests/0/disk_gib", "/requests"];
        let mut doc = valid();
        *doc.pointer_mut(pointers[path]).unwrap() = value;
        if let Err(errors) = read_problem(&doc.to_string(), Phase::Storage) {
            prop_assert!(!errors.is_empty());
            prop_assert!(errors.iter().all(|e| e.code.code().starts_with('E')));
        }
    }
}

#[test]
fn the_error_index_lists_the_checkers_own_codes_and_rules() {
    use vmplace_check::codes::{Rule, DECLINE_CODES, UNPLACED_CODES};
    let index = error_index();
    let rules: Vec<String> = Rule::PLACEMENT
        .iter()
        .chain(Rule::PLAN.iter())
        .chain(Rule::IALLOCATOR.iter())
        .chain(Rule::FAILURE.iter())
        .map(|r| r.name())
        .collect();
    for name in UNPLACED_CODES
        .iter()
        .chain(&DECLINE_CODES)
        .map(|s| s.to_string())
        .chain(rules)
    {
        assert!(
            index.contains(&format!("`{name}`")),
            "the error index (docs/src/reference/errors.md) misses {name}"
        );
    }
    // And the checker knows every code the solver can write.
    for code in vmplace_wire::ReasonCode::ALL {
        let name = serde_json::to_value(code).unwrap();
        assert!(UNPLACED_CODES.contains(&name.as_str().unwrap()), "{name}");
    }
    for code in vmplace_wire::state::DeclineCode::ALL {
        let name = serde_json::to_value(code).unwrap();
        assert!(DECLINE_CODES.contains(&name.as_str().unwrap()), "{name}");
    }
}

#[test]
fn overcommit_and_reservations_are_checked_with_every_error_at_once() {
    let mut doc = valid();
    doc["hosts"][0]["allocation_ratio"] = json!({"cpu": 0, "gpu": 2});
    doc["hosts"][0]["reserved"] = json!({"memory_gib": 40, "disk": 1});
    doc["storage"][0]["reserved_gib"] = json!(200);
    doc["storage"][0]["allocation_ratio"] = json!(-1);
    let errors = errors_of(&doc, Phase::Storage);
    assert_has(
        &errors,
        ErrorCode::OutOfRange,
        "/hosts/0/allocation_ratio/cpu",
    );
    assert_has(
        &errors,
        ErrorCode::OutOfRange,
        "/storage/0/allocation_ratio",
    );
    // The schema stage reports first; the rules of the pool are checked on a document it accepts.
    let mut doc = valid();
    doc["hosts"][0]["allocation_ratio"] = json!({"gpu": 2});
    doc["hosts"][0]["reserved"] = json!({"memory_gib": 40, "disk": 1});
    doc["storage"][0]["reserved_gib"] = json!(200);
    let errors = errors_of(&doc, Phase::Storage);
    assert_has(
        &errors,
        ErrorCode::UsedWithoutCapacity,
        "/hosts/0/allocation_ratio/gpu",
    );
    assert_has(
        &errors,
        ErrorCode::UsedWithoutCapacity,
        "/hosts/0/reserved/disk",
    );
    assert_has(
        &errors,
        ErrorCode::ReservedExceedsCapacity,
        "/hosts/0/reserved/memory_gib",
    );
    assert_has(
        &errors,
        ErrorCode::ReservedExceedsCapacity,
        "/storage/0/reserved_gib",
    );
    // `used` counts against the usable capacity: 7 of (8 - 2) CPUs is too much, 10 of 8 * 1.5
    // is not.
    let mut doc = valid();
    doc["hosts"][0]["used"] = json!({"cpu": 7});
    doc["hosts"][0]["reserved"] = json!({"cpu": 2});
    assert_has(
        &errors_of(&doc, Phase::Storage),
        ErrorCode::UsedExceedsCapacity,
        "/hosts/0/used/cpu",
    );
    let mut doc = valid();
    doc["hosts"][0]["used"] = json!({"cpu": 10});
    doc["hosts"][0]["allocation_ratio"] = json!({"cpu": 1.5});
    read_problem(&doc.to_string(), Phase::Storage).expect("10 of 12 usable CPUs");
}

#[test]
fn contradictory_traits_and_a_named_storage_without_its_traits_are_all_reported() {
    let mut doc = valid();
    doc["requests"][0]["required_traits"] = json!(["HW_GPU"]);
    doc["requests"][0]["forbidden_traits"] = json!(["HW_GPU"]);
    doc["requests"][0]["storage_required_traits"] = json!(["SSD"]);
    doc["requests"][0]["storage"] = json!("s1");
    let errors = errors_of(&doc, Phase::Storage);
    assert_has(
        &errors,
        ErrorCode::ContradictoryTraits,
        "/requests/0/forbidden_traits/0",
    );
    assert_has(
        &errors,
        ErrorCode::StorageTraitsUnmet,
        "/requests/0/storage",
    );
    // With the trait on the storage, and no contradiction, the document is accepted.
    doc["storage"][0]["traits"] = json!(["SSD"]);
    doc["requests"][0]["forbidden_traits"] = json!(["SPOT"]);
    read_problem(&doc.to_string(), Phase::Storage).expect("valid");
}

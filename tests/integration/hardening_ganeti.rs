//! Issue 27 (hardening III), the Ganeti adapter: forged IAllocator answers the checker must
//! reject (M7). The reproducers are in tests/data/hardening3/.

use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Command;
use vmplace::checker::check_iallocator;
use vmplace::format::ganeti::{Input, Response};
use vmplace::placement::RunConfig;
use vmplace::service::api::{iallocator_text, Overrides};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/hardening3")
        .join(name)
}

fn read(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(data(name)).expect("file")).expect("json")
}

/// The rules `vmplace check INPUT ANSWER` reports, as a user runs it (sorted, once each).
fn check_rules(input: &str, answer: &str) -> Vec<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_vmplace"))
        .args(["check"])
        .arg(data(&format!("iacheck/{input}.input.json")))
        .arg(data(&format!("iacheck/{answer}.answer.json")))
        .output()
        .expect("vmplace runs");
    let report: Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    let mut rules: Vec<String> = report["violations"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v["rule"].as_str().map(str::to_string))
        .collect();
    rules.sort();
    rules.dedup();
    assert_eq!(
        report["valid"],
        json!(rules.is_empty()),
        "{input} + {answer}: {report}"
    );
    rules
}

/// vmplace's answer to a document, checked by the IAllocator checker; the number of solves
/// behind it.
fn answer_checked(doc: &Value, o: &Overrides, cfg: &RunConfig) -> (Response, usize) {
    let (response, solves) = iallocator_text(&doc.to_string(), o, cfg).expect("valid input");
    let input: Input = serde_json::from_value(doc.clone()).expect("typed input");
    let v = check_iallocator(&input, &response);
    assert!(v.is_empty(), "answer invalid: {v:?}\n{response:?}");
    (response, solves.len())
}

fn answer(doc: &Value) -> Response {
    answer_checked(doc, &Overrides::default(), &RunConfig::default()).0
}

#[test]
fn a_job_moving_an_instance_elsewhere_than_its_listed_node_is_bad_jobs() {
    // The answer lists i0 on n1; its migrate job sends it to n3 (offline). Ganeti runs the job.
    assert_eq!(
        check_rules("evac-other-group", "evac-job-mismatch"),
        ["BAD_JOBS"]
    );
}

#[test]
fn moving_an_instance_with_local_disks_is_not_movable() {
    // i1 is `plain`: Ganeti neither evacuates nor relocates it.
    assert_eq!(
        check_rules("evac-plain", "evac-plain-jobs"),
        ["NOT_MOVABLE"]
    );
    assert_eq!(check_rules("reloc-plain", "reloc-plain"), ["NOT_MOVABLE"]);
}

#[test]
fn a_moved_instance_named_with_another_groups_name_is_wrong_group_name() {
    assert_eq!(
        check_rules("evac-wrong-groupname", "evac-wrong-groupname-jobs"),
        ["WRONG_GROUP_NAME"]
    );
    assert_eq!(
        check_rules("cg-wrong-name", "cg-wrong-name-jobs"),
        ["WRONG_GROUP_NAME"]
    );
}

#[test]
fn the_other_forged_answers_stay_rejected() {
    for (input, answer) in [
        ("alloc-empty-result", "alloc-empty-result"),
        ("alloc-offline", "alloc-offline"),
        ("alloc-overmem", "alloc-overmem"),
        ("alloc-two-nodes", "alloc-two-nodes"),
        ("alloc-unknown", "alloc-unknown"),
        ("cg-own-group", "cg-own-group"),
        ("cg-wrong-name", "cg-wrong-name"),
        ("evac-other-group", "evac-other-group"),
        ("evac-plain", "evac-plain"),
        ("evac-same-node", "evac-same-node"),
        ("evac-wrong-groupname", "evac-wrong-groupname"),
        ("multi-dup", "multi-dup"),
        ("multi-failed-and-placed", "multi-failed-and-placed"),
        ("multi-omit", "multi-omit"),
        ("multi-same-node-overmem", "multi-same-node-overmem"),
        ("reloc-other-group", "reloc-other-group"),
        ("reloc-same", "reloc-same"),
    ] {
        assert!(
            !check_rules(input, answer).is_empty(),
            "{input} + {answer} accepted"
        );
    }
    // A failure claimed without placing anything is a valid (if unhelpful) answer.
    assert!(check_rules("alloc-fail-claim", "alloc-fail-claim").is_empty());
}

/// The input document of a reproducer pair.
fn input(name: &str) -> Value {
    read(&format!("iacheck/{name}.input.json"))
}

#[test]
fn vmplace_moves_no_local_disk_instance_and_its_jobs_do_its_moves() {
    let r = answer(&input("evac-plain"));
    assert_eq!(r.result[0], json!([]), "{:?}", r.result);
    assert_eq!(r.result[1][0][0], "i1");
    let r = answer(&input("reloc-plain"));
    assert!(!r.success, "{}", r.info);
    // A shared-storage instance moves, named with its new group, by one job to its node.
    for doc in ["evac-other-group", "evac-wrong-groupname", "cg-wrong-name"] {
        let r = answer(&input(doc));
        let moved = &r.result[0][0];
        assert_eq!(moved[0], "i0", "{doc}: {:?}", r.result);
        let job = &r.result[2][0][0];
        assert_eq!(
            (&job["instance_name"], &job["target_node"]),
            (&moved[0], &moved[2][0]),
            "{doc}"
        );
    }
    let r = answer(&input("cg-wrong-name"));
    assert_eq!(r.result[0][0][1], "g1");
}

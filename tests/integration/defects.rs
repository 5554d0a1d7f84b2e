//! One regression test per defect found on reading the code (issue 8), named after what it
//! protects.

use crate::common::*;
use serde_json::{json, Value};
use std::process::Command;
use vmplace_core::placement::Mode;
use vmplace_server::api::check_request;
use vmplace_wire::{PhaseName, PhaseSolver};

fn vmplace(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_vmplace"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("binary runs")
}

#[test]
fn host_phase_stats_count_flavors_not_columns() {
    // Three identical requests on one storage system reached by two hosts: one flavor, two
    // (flavor, host) columns.
    let doc = json!({
        "storage": [storage("s1", 100.0)],
        "hosts": [host("h1", 8.0, 32.0, &["s1"]), host("h2", 8.0, 32.0, &["s1"])],
        "requests": [
            {"id": "a", "demand": {"cpu": 2, "memory_gib": 4}, "disk_gib": 1, "storage": "s1"},
            {"id": "b", "demand": {"cpu": 2, "memory_gib": 4}, "disk_gib": 1, "storage": "s1"},
            {"id": "c", "demand": {"cpu": 2, "memory_gib": 4}, "disk_gib": 1, "storage": "s1"}
        ]
    });
    let s = solve(&doc, Mode::Host);
    let host = &s.stats.phases[0];
    assert_eq!(host.phase, PhaseName::Host);
    // One VM per host meets the floor of two hosts: proven without HiGHS.
    assert!(matches!(host.solver, PhaseSolver::Mip | PhaseSolver::Exact));
    assert_eq!(host.flavors, 1);
    assert_eq!(host.columns_estimate, 2);
}

fn paths(errors: &Value) -> Vec<String> {
    let mut p: Vec<String> = errors["errors"]
        .as_array()
        .expect("an error document")
        .iter()
        .map(|e| e["path"].as_str().unwrap().to_string())
        .collect();
    p.sort();
    p
}

#[test]
fn check_reports_the_same_error_paths_from_the_cli_and_over_http() {
    let problem = json!({"storage": "none", "hosts": [], "requests": []});
    let solution = json!({"status": "optimal", "objective": "x", "bound": 0, "gap": 0,
                          "placements": [], "unplaced": []});
    let dir = tempfile::tempdir().unwrap();
    let (p, s) = (dir.path().join("p.json"), dir.path().join("s.json"));
    std::fs::write(&p, problem.to_string()).unwrap();
    std::fs::write(&s, solution.to_string()).unwrap();
    let o = vmplace(&["check", p.to_str().unwrap(), s.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let cli: Value = serde_json::from_slice(&o.stdout).unwrap();
    let body = json!({"problem": problem, "solution": solution}).to_string();
    let http = check_request(&body).expect_err("both documents are bad");
    let http = serde_json::to_value(vmplace_wire::ErrorDocument::new(http)).unwrap();
    assert_eq!(paths(&cli), paths(&http));
    assert!(paths(&cli).iter().any(|p| p.starts_with("/problem/")));
    assert!(paths(&cli).iter().any(|p| p.starts_with("/solution/")));
}

#[test]
fn a_mistyped_check_phase_is_an_error_not_any() {
    let o = vmplace(&[
        "check",
        "instances/examples/small.json",
        "instances/examples/small.json",
        "--phase",
        "hsot",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let doc: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["errors"][0]["code"], "E0001");
    let small: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/instances/examples/small.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let body = json!({"problem": small, "solution": {}, "phase": "hsot"}).to_string();
    let errors = check_request(&body).expect_err("an unknown phase");
    assert!(errors.iter().any(|e| e.path == "/phase"), "{errors:?}");
}

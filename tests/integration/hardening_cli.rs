//! Issue 27 (hardening III), the command line's part: `simulate`'s arguments checked before any
//! work, trace files by their real names, flavors the capacity count refuses rather than counting
//! to a cap, messages in user-facing text, and a checker that keeps at most `MAX_VIOLATIONS`.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use vmplace_check::{check, check_plan, Expect, Rule, Violation};
use vmplace_core::domain::settings::Overrides;
use vmplace_core::placement::{Mode, RunConfig};
use vmplace_server::api::{
    capacity_request, check_plan_documents, check_texts, migrate_text, solve_text, MAX_VIOLATIONS,
};
use vmplace_wire::check::CheckPhase;
use vmplace_wire::state::{Plan, State};
use vmplace_wire::{Problem, Solution};

fn vmplace(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vmplace"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("binary runs")
}

fn stdout_json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&o.stdout)
        )
    })
}

/// The errors of a run refused with exit code 2, as (code, path, cause).
fn refused(o: &Output) -> Vec<(String, String, String)> {
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let doc = stdout_json(o);
    doc["errors"]
        .as_array()
        .expect("an error document")
        .iter()
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or_default().to_string();
            (s("code"), s("path"), s("cause"))
        })
        .collect()
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/hardening3")
        .join(name)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).expect("readable")
}

// ---- L6: simulate ---------------------------------------------------------------------------

#[test]
fn a_state_step_out_of_range_is_refused_before_any_trace_is_read() {
    // `--state-at 0` was refused only after the whole day had been simulated (28 s): the traces
    // were read first, so a directory that does not exist said E1501 instead.
    for (step, samples) in [("0", "288"), ("288", "288"), ("13", "13")] {
        let o = vmplace(&[
            "simulate",
            "--planetlab",
            "/nonexistent/traces",
            "--samples",
            samples,
            "--state-at",
            step,
        ]);
        let errors = refused(&o);
        assert_eq!(errors.len(), 1, "{errors:?}");
        let (code, _, cause) = &errors[0];
        assert_eq!(code, "E0001", "--state-at {step}: {cause}");
        assert!(cause.contains("--state-at"), "{cause}");
    }
    // The shipped day: the same refusal, and no state document.
    let o = vmplace(&[
        "simulate",
        "--planetlab",
        "instances/planetlab/20110303",
        "--state-at",
        "0",
    ]);
    assert_eq!(refused(&o)[0].0, "E0001");
}

#[cfg(unix)]
fn non_utf8(dir: &Path, stem: &[u8], text: &str) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    let path = dir.join(std::ffi::OsStr::from_bytes(stem));
    std::fs::write(&path, text).expect("the file system takes any bytes but / and NUL");
    path
}

#[cfg(unix)]
#[test]
fn a_trace_whose_name_is_not_utf8_is_read_by_its_real_name() {
    // The name was read back through its lossy spelling and opened as such: "No such file".
    let dir = tempfile::tempdir().unwrap();
    non_utf8(dir.path(), b"vm-\xff", "10\n20\n30\n");
    let traces = vmplace_core::sim::load_planetlab(dir.path(), 3).expect("read");
    assert_eq!(traces.len(), 1);
    assert_eq!(traces[0].name, "vm-\u{fffd}");
    assert_eq!(traces[0].samples, [0.1, 0.2, 0.3]);
    let o = vmplace(&[
        "simulate",
        "--planetlab",
        dir.path().to_str().unwrap(),
        "--samples",
        "3",
        "--hosts",
        "2",
        "--policy",
        "dvfs",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert_eq!(stdout_json(&o)["vms"], 1);
}

#[cfg(unix)]
#[test]
fn a_bad_line_in_a_trace_named_in_non_utf8_is_reported_at_its_line() {
    // What is wrong is the content: the error says so, naming the file lossily.
    let dir = tempfile::tempdir().unwrap();
    non_utf8(dir.path(), b"vm-\xfe", "10\nabc\n30\n");
    let errors = vmplace_core::sim::load_planetlab(dir.path(), 3).expect_err("a bad line");
    let got: Vec<(&str, &str)> = errors
        .iter()
        .map(|e| (e.code.code(), e.path.as_str()))
        .collect();
    assert_eq!(
        got,
        [("E1502", "vm-\u{fffd}:2"), ("E1504", "vm-\u{fffd}")],
        "{errors:#?}"
    );
}

// ---- L7: capacity ---------------------------------------------------------------------------

#[test]
fn a_flavor_of_almost_nothing_is_refused_at_its_path_over_http() {
    // The reproducer: a flavor of 1e-300 CPU and 1e-300 GiB answered `fit: 4000000000`, four
    // storage systems at a cap of 10^9 each, with a `storage_capacity` binding.
    let text = std::fs::read_to_string(data("http-cap-tiny.json")).unwrap();
    let errors =
        capacity_request(&text, &Overrides::default(), &RunConfig::default()).expect_err("refused");
    assert!(!errors.is_empty());
    assert!(
        errors
            .iter()
            .all(|e| e.code == "E1805" && e.path == "/flavors/0"),
        "{errors:#?}"
    );
    assert!(
        errors.iter().any(|e| e.cause.contains("1e-300")),
        "{errors:#?}"
    );
}

/// The reproducer's pool (no requests, racks `r0`..`r2`) in a file.
fn tiny_pool(dir: &Path) -> String {
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(data("http-cap-tiny.json")).unwrap())
            .unwrap();
    let path = dir.join("pool.json");
    std::fs::write(&path, doc["problem"].to_string()).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn a_flavor_that_asks_for_no_host_resource_or_too_little_is_refused_by_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let pool = tiny_pool(dir.path());
    for flavor in [
        "name=t,cpu=1e-300,disk_gib=1e-300",
        "name=t,cpu=0.0005,memory_gib=1",
        "name=t,disk_gib=5",
        "name=t,cpu=0,memory_gib=0",
        "name=t,cpu=1,disk_gib=0.0001",
    ] {
        let o = vmplace(&[
            "capacity",
            &pool,
            "--flavor",
            "name=ok,cpu=1",
            "--flavor",
            flavor,
        ]);
        let errors = refused(&o);
        assert!(
            errors
                .iter()
                .all(|(code, path, _)| code == "E1805" && path == "--flavor 2"),
            "{flavor}: {errors:?}"
        );
    }
}

#[test]
fn a_huge_pool_is_counted_exactly_not_to_a_cap() {
    // Counts were capped at 10^9 per host and storage system: 10^12 GiB of storage holding 10^12
    // images of 1 GiB counted 10^9, and called that cap `storage_capacity`.
    let dir = tempfile::tempdir().unwrap();
    let host = |id: &str, storage: Value| json!({"id": id, "capacity": {"cpu": 1e12, "memory_gib": 1e12}, "storage": storage});
    let pool = json!({
        "storage": [{"id": "s1", "capacity_gib": 1e12}, {"id": "s2", "capacity_gib": 0}],
        "hosts": [host("h1", json!(["s1"])), host("h2", json!(["s1", "s2"]))]
    });
    let path = dir.path().join("pool.json");
    std::fs::write(&path, pool.to_string()).unwrap();
    let o = vmplace(&[
        "capacity",
        path.to_str().unwrap(),
        "--flavor",
        "name=a,cpu=1,memory_gib=1,disk_gib=1",
        "--flavor",
        "name=b,cpu=1,memory_gib=1",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let r = stdout_json(&o);
    let a = &r["flavors"][0];
    assert_eq!(a["fit"], 1_000_000_000_000u64);
    assert_eq!(a["by_storage"], 1_000_000_000_000u64);
    assert_eq!(a["binding"]["kind"], "storage_capacity");
    // Without an image, storage does not limit: no `by_storage` (it said 2 x 10^9), no storage
    // stranded, and the hosts bind.
    let b = &r["flavors"][1];
    assert_eq!(b["fit"], 2_000_000_000_000u64);
    assert!(b.get("by_storage").is_none(), "{b}");
    assert_eq!(b["stranded_storage"], 0);
    assert_eq!(b["binding"]["kind"], "host_capacity");
}

#[test]
fn a_flavor_more_of_which_fit_than_json_carries_exactly_is_refused() {
    // Ten hosts of 10^12 CPUs hold 10^16 VMs of a millicore, above 2^53: the count was 10^10,
    // ten hosts at the cap, with a `host_capacity` binding.
    let dir = tempfile::tempdir().unwrap();
    let hosts: Vec<Value> = (0..10)
        .map(|i| json!({"id": format!("h{i}"), "capacity": {"cpu": 1e12}, "storage": ["s"]}))
        .collect();
    let pool = json!({"storage": [{"id": "s", "capacity_gib": 100}], "hosts": hosts});
    let path = dir.path().join("pool.json");
    std::fs::write(&path, pool.to_string()).unwrap();
    let o = vmplace(&[
        "capacity",
        path.to_str().unwrap(),
        "--flavor",
        "name=milli,cpu=0.001",
    ]);
    let errors = refused(&o);
    assert_eq!(errors.len(), 1, "{errors:?}");
    let (code, at, cause) = &errors[0];
    assert_eq!((code.as_str(), at.as_str()), ("E1805", "--flavor 1"));
    assert!(cause.contains("`cpu`"), "{cause}");
}

// ---- L7: messages in user-facing text -------------------------------------------------------

#[test]
fn an_unknown_failure_is_named_as_the_flag_spells_it() {
    // E1801 said `Label("rack", "r1=r2") names no host of the pool`.
    let dir = tempfile::tempdir().unwrap();
    let pool = tiny_pool(dir.path());
    let o = vmplace(&[
        "capacity",
        &pool,
        "--fail",
        "label:rack=r1=r2",
        "--fail",
        "host:nowhere",
    ]);
    let errors = refused(&o);
    let causes: Vec<&str> = errors.iter().map(|(_, _, c)| c.as_str()).collect();
    assert_eq!(
        causes,
        [
            "`label:rack=r1=r2` names no host of the pool",
            "`host:nowhere` names no host of the pool"
        ]
    );
    assert!(errors.iter().all(|(code, _, _)| code == "E1801"));
}

#[test]
fn an_exclusion_tag_violation_names_the_tags_in_plain_text() {
    // The checker said `... with one of the tags {"service:bar", "service:foo"}`.
    let input = read("tests/data/ganeti/hail-alloc-plain-tags.json");
    let answer = json!({"success": true, "info": "", "result": ["node1"]}).to_string();
    let report = check_texts(&input, &answer, CheckPhase::Any).expect("documents read");
    let tags: Vec<&Violation> = report
        .violations
        .iter()
        .filter(|v| v.rule == Rule::AntiAffinity)
        .collect();
    assert_eq!(tags.len(), 1, "{report:#?}");
    assert_eq!(
        tags[0].message,
        "node node1 already runs an instance tagged `service:foo`"
    );
}

// ---- M6: the checker keeps at most MAX_VIOLATIONS --------------------------------------------

/// A plan naming an unknown VM `n` times in one wave, for the shipped small state.
fn ghost_plan(n: usize) -> (State, Plan) {
    let text = read("instances/migration/small-state.json");
    let state: State = serde_json::from_str(&text).unwrap();
    let mut plan = migrate_text(&text).expect("a plan");
    plan.migrations.clear();
    plan.steps = vec![vec!["ghost".to_string(); n]];
    (state, plan)
}

#[test]
fn a_plan_check_keeps_the_first_violations_in_order_and_counts_the_rest() {
    // The whole list was built (200,000 here, 1.5 million in the finding) and then cut.
    let n = 200_000;
    let (state, plan) = ghost_plan(n);
    let listed: Vec<Violation> = check_plan(&state, &plan).into_iter().collect();
    assert_eq!(listed.len(), MAX_VIOLATIONS);
    // What sorting all of them and keeping the first would list, not the first found.
    let mut paths: Vec<String> = (0..n).map(|j| format!("/steps/0/{j}")).collect();
    paths.sort();
    paths.truncate(MAX_VIOLATIONS);
    assert!(listed.iter().all(|v| v.rule == Rule::BadSteps));
    assert_eq!(
        listed.iter().map(|v| v.path.clone()).collect::<Vec<_>>(),
        paths
    );
    let report = check_plan_documents(&state, &plan);
    assert_eq!(report.violations, listed);
    assert_eq!(report.omitted, n - MAX_VIOLATIONS);
    assert!(!report.valid);
}

#[test]
fn a_placement_check_keeps_at_most_max_violations() {
    let text = read("instances/examples/small.json");
    let problem: Problem = serde_json::from_str(&text).unwrap();
    let mut solution: Solution = solve_text(
        &text,
        Mode::Place,
        &Overrides::default(),
        &RunConfig::default(),
    )
    .expect("solved");
    assert!(check(&problem, &solution, Expect::WithHosts).is_empty());
    let mut ghost = solution.placements[0].clone();
    ghost.request = "ghost".into();
    solution.placements.extend(vec![ghost; 50_000]);
    let listed: Vec<Violation> = check(&problem, &solution, Expect::WithHosts)
        .into_iter()
        .collect();
    assert_eq!(listed.len(), MAX_VIOLATIONS);
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(listed, sorted);
    assert!(listed.iter().any(|v| v.rule == Rule::UnknownRequest));
}

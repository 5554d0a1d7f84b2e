//! Issue 27 (hardening III), the Ganeti adapter: forged IAllocator answers the checker must
//! reject (M7), `change-group` never ending in a group it evacuates (L2), and the call's time
//! limit and cancel flag (M1). The reproducers are in tests/data/hardening3/.

use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use vmplace_check::check_iallocator;
use vmplace_core::budget::Clock;
use vmplace_core::domain::settings::Overrides;
use vmplace_core::placement::RunConfig;
use vmplace_server::api::iallocator_text;
use vmplace_wire::ganeti::{Input, Response};

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

/// Two groups of two nodes; rbd instance `a` on u0's n0 and `b` on u1's m0; u2 has one node.
fn three_groups(request: Value) -> Value {
    let group = |name: &str| json!({"name": name, "alloc_policy": "preferred", "networks": []});
    let node = |g: &str| {
        json!({"group": g, "total_memory": 8192, "reserved_memory": 0, "free_memory": 8192,
               "total_disk": 102400, "free_disk": 102400, "total_cpus": 16, "reserved_cpus": 0,
               "ndparams": {"exclusive_storage": false, "spindle_count": 64}})
    };
    let inst = |n: &str| {
        json!({"memory": 1024, "vcpus": 1, "disk_template": "rbd", "disks": [{"size": 1024}],
               "disk_space_total": 1024, "spindle_use": 1, "tags": [], "nics": [],
               "nodes": [n]})
    };
    json!({"version": 2, "cluster_tags": [],
           "nodegroups": {"u0": group("g0"), "u1": group("g1"), "u2": group("g2")},
           "nodes": {"n0": node("u0"), "n1": node("u0"), "m0": node("u1"), "m1": node("u1"),
                     "k0": node("u2")},
           "instances": {"a": inst("n0"), "b": inst("m0")},
           "request": request})
}

#[test]
fn change_group_never_ends_in_a_group_it_evacuates() {
    // The reproducer: every node is in the instances' own group u0; target u1 has none.
    let r = answer(&read("ia-changegroup-own-group.json"));
    assert_eq!(r.result[0], json!([]), "{:?}", r.result);
    assert_eq!(r.result[1].as_array().map(Vec::len), Some(6));
    // Own group among the targets: the instance goes to the other target.
    let r = answer(&three_groups(
        json!({"type": "change-group", "instances": ["a"],
                                          "target_groups": ["u0", "u1"]}),
    ));
    assert_eq!(r.result[0][0][1], "g1", "{:?}", r.result);
    // Two instances from u0 and u1: neither group may take either, as Ganeti computes it.
    let r = answer(&three_groups(
        json!({"type": "change-group", "instances": ["a", "b"],
                                          "target_groups": []}),
    ));
    let moved = r.result[0].as_array().cloned().unwrap_or_default();
    assert_eq!(moved.len(), 2, "{:?}", r.result);
    assert!(moved.iter().all(|m| m[1] == "g2" && m[2] == json!(["k0"])));
    // Only evacuated groups named: each instance fails, saying why.
    let r = answer(&three_groups(
        json!({"type": "change-group", "instances": ["a", "b"],
                                          "target_groups": ["u0", "u1"]}),
    ));
    assert_eq!(r.result[0], json!([]));
    assert!(r.result[1][0][1]
        .as_str()
        .is_some_and(|m| m.contains("no target group is left")));
}

/// A `multi-allocate` of `n` small rbd instances on the three groups.
fn many_new(n: usize) -> Value {
    let new: Vec<Value> = (0..n)
        .map(|i| {
            json!({"name": format!("new{i}"), "required_nodes": 1, "memory": 256, "vcpus": 1,
                   "disk_template": "rbd", "disks": [{"size": 1024}], "disk_space_total": 1024,
                   "spindle_use": 1, "tags": [], "nics": []})
        })
        .collect();
    three_groups(json!({"type": "multi-allocate", "instances": new}))
}

/// Every instance of a `multi-allocate` answer failed with `STOPPED_EARLY` and `why`.
fn all_stopped(r: &Response, n: usize, why: &str) {
    assert!(r.success, "{}", r.info);
    assert_eq!(r.result[0], json!([]), "{:?}", r.result);
    let failed = r.result[1].as_array().cloned().unwrap_or_default();
    assert_eq!(failed.len(), n);
    for f in failed {
        let reason = f[1].as_str().unwrap_or_default();
        assert!(
            reason.starts_with("STOPPED_EARLY") && reason.contains(why),
            "{reason}"
        );
    }
}

#[test]
fn a_cancelled_iallocator_call_starts_no_solve_and_says_stopped_early() {
    let cfg = RunConfig {
        clock: Clock {
            started: None,
            cancel: Some(Arc::new(AtomicBool::new(true))),
        },
        ..RunConfig::default()
    };
    let (r, solves) = answer_checked(&many_new(40), &Overrides::default(), &cfg);
    assert_eq!(solves, 0);
    all_stopped(&r, 40, "cancelled");
    let mut evac = three_groups(json!({"type": "node-evacuate", "instances": ["a"],
                                         "evac_mode": "all"}));
    let (r, solves) = answer_checked(&evac, &Overrides::default(), &cfg);
    assert_eq!((solves, &r.result[0]), (0, &json!([])));
    // Uncancelled, the same documents are answered.
    evac["request"]["instances"] = json!(["a", "b"]);
    let (r, _) = answer_checked(&evac, &Overrides::default(), &RunConfig::default());
    assert_eq!(r.result[0].as_array().map(Vec::len), Some(2));
}

#[test]
fn an_iallocator_call_out_of_time_solves_nothing_more() {
    let out_of_time = |o: Overrides| {
        let (r, solves) = answer_checked(&many_new(40), &o, &RunConfig::default());
        assert_eq!(solves, 0);
        all_stopped(&r, 40, "time limit");
    };
    out_of_time(Overrides {
        time_limit_s: Some(0.0),
        ..Overrides::default()
    });
    // The HTTP service's cap holds as well when the caller gives no limit.
    out_of_time(Overrides {
        max_time_limit_s: Some(0.0),
        ..Overrides::default()
    });
    let doc = three_groups(json!({"type": "allocate", "name": "x", "required_nodes": 1,
                                   "memory": 256, "vcpus": 1, "disk_template": "rbd",
                                   "disks": [{"size": 1024}], "disk_space_total": 1024,
                                   "spindle_use": 1, "tags": [], "nics": []}));
    let o = Overrides {
        time_limit_s: Some(0.0),
        ..Overrides::default()
    };
    let (r, _) = answer_checked(&doc, &o, &RunConfig::default());
    assert!(!r.success && r.info.contains("STOPPED_EARLY"), "{}", r.info);
    // With time, all 40 are placed.
    let (r, solves) = answer_checked(&many_new(40), &Overrides::default(), &RunConfig::default());
    assert!(solves > 0);
    assert_eq!(r.result[0].as_array().map(Vec::len), Some(40));
}

/// A random cluster of up to three groups whose request moves instances: `change-group` with
/// random targets (the own group among them or not), `node-evacuate` in every mode, `relocate`;
/// instances of every template.
fn random_moves(seed: u64) -> Value {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let groups: Vec<String> = (0..rng.random_range(1..4))
        .map(|g| format!("u{g}"))
        .collect();
    let mut nodegroups = serde_json::Map::new();
    for g in &groups {
        let policy = ["preferred", "preferred", "last_resort"][rng.random_range(0..3)];
        nodegroups.insert(
            g.clone(),
            json!({"name": format!("name-{g}"), "alloc_policy": policy}),
        );
    }
    let mut nodes = serde_json::Map::new();
    let mut instances = serde_json::Map::new();
    let templates = [
        "rbd",
        "ext",
        "diskless",
        "sharedfile",
        "plain",
        "file",
        "drbd",
    ];
    for n in 0..rng.random_range(2..8) {
        let g = &groups[rng.random_range(0..groups.len())];
        nodes.insert(
            format!("n{n}"),
            json!({"group": g, "offline": rng.random_bool(0.1), "drained": rng.random_bool(0.1),
                   "total_memory": 8192, "reserved_memory": 0,
                   "free_memory": rng.random_range(0..8192), "total_disk": 102400,
                   "free_disk": 51200, "total_cpus": 8, "reserved_cpus": 0,
                   "ndparams": {"exclusive_storage": false, "spindle_count": 16}}),
        );
        for i in 0..rng.random_range(0..3) {
            instances.insert(
                format!("i{n}-{i}"),
                json!({"memory": rng.random_range(128..3072), "vcpus": 1,
                       "disk_template": templates[rng.random_range(0..templates.len())],
                       "disks": [{"size": 1024}], "disk_space_total": 1024, "spindle_use": 1,
                       "tags": [], "nics": [], "nodes": [format!("n{n}")]}),
            );
        }
    }
    if instances.is_empty() {
        instances.insert(
            "only".to_string(),
            json!({"memory": 512, "vcpus": 1, "disk_template": "rbd", "disks": [{"size": 1024}],
                   "disk_space_total": 1024, "spindle_use": 1, "tags": [], "nics": [],
                   "nodes": ["n0"]}),
        );
    }
    let names: Vec<String> = instances.keys().cloned().collect();
    let some: Vec<String> = names
        .iter()
        .filter(|_| rng.random_bool(0.5))
        .cloned()
        .collect();
    let some = if some.is_empty() { names.clone() } else { some };
    let request = match rng.random_range(0..3) {
        0 => {
            let targets: Vec<&String> = groups.iter().filter(|_| rng.random_bool(0.6)).collect();
            json!({"type": "change-group", "instances": some, "target_groups": targets})
        }
        1 => {
            let mode = ["primary-only", "secondary-only", "all"][rng.random_range(0..3)];
            json!({"type": "node-evacuate", "instances": some, "evac_mode": mode})
        }
        _ => {
            let name = &some[0];
            let from = &instances[name]["nodes"];
            json!({"type": "relocate", "name": name, "relocate_from": from, "required_nodes": 1})
        }
    };
    json!({"version": 2, "cluster_tags": [], "nodegroups": nodegroups, "nodes": nodes,
           "instances": instances, "request": request})
}

#[test]
fn moves_on_random_clusters_are_ones_ganeti_makes_and_pass_the_checker() {
    let mut moved = 0;
    for seed in 0..200 {
        let doc = random_moves(seed);
        // `answer` asserts the IAllocator checker accepts the answer (NOT_MOVABLE,
        // WRONG_GROUP_NAME, BAD_JOBS, GROUP_NOT_ALLOWED included).
        let r = answer(&doc);
        let kind = doc["request"]["type"].as_str().unwrap_or_default();
        if r.success && kind != "relocate" {
            moved += r.result[0].as_array().map_or(0, Vec::len);
        } else if r.success {
            moved += 1;
        }
    }
    assert!(moved > 40, "only {moved} instances moved");
}

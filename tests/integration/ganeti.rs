//! vmplace as a Ganeti IAllocator: Ganeti's own hail inputs, and hand-made clusters where one
//! rule of the mapping decides the answer. Every vmplace solve behind an answer goes through the
//! placement checker, and every answer through the independent IAllocator checker.

use serde_json::{json, Value};
use std::path::PathBuf;
use vmplace_check::{check, check_iallocator, Expect};
use vmplace_core::domain::settings::Overrides;
use vmplace_core::placement::RunConfig;
use vmplace_server::api::iallocator_text;
use vmplace_wire::ganeti::{Input, Response};
use vmplace_wire::InputError;

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/ganeti")
        .join(name)
}

/// Answers a document and checks the answer and every solve behind it.
fn answer_with(doc: &Value, o: Overrides) -> Result<Response, Vec<InputError>> {
    let (response, solves) = iallocator_text(&doc.to_string(), &o, &RunConfig::default())?;
    for s in &solves {
        let v = check(&s.problem, &s.solution, Expect::WithHosts);
        assert!(v.is_empty(), "vmplace solve invalid: {v:?}");
    }
    let input: Input = serde_json::from_value(doc.clone()).expect("typed input");
    let v = check_iallocator(&input, &response);
    assert!(v.is_empty(), "answer invalid: {v:?}\n{response:?}");
    Ok(response)
}

fn answer(doc: &Value) -> Response {
    answer_with(doc, Overrides::default()).expect("valid input")
}

fn read(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(data(name)).expect("file")).expect("json")
}

fn nodes(r: &Response) -> Vec<String> {
    serde_json::from_value(r.result.clone()).unwrap_or_default()
}

fn group(name: &str, policy: &str) -> Value {
    json!({"name": name, "alloc_policy": policy, "networks": [], "tags": [],
           "ipolicy": {"disk-templates": ["rbd", "ext", "plain", "file", "drbd"], "minmax": [],
                       "vcpu-ratio": 2.0, "spindle-ratio": 32.0}})
}

fn node(group: &str, free_mem: f64, cpus: f64) -> Value {
    json!({"group": group, "offline": false, "drained": false, "vm_capable": true,
           "ndparams": {"exclusive_storage": false, "spindle_count": 1}, "tags": [],
           "total_memory": 8192, "reserved_memory": 0, "free_memory": free_mem,
           "total_disk": 102400, "free_disk": 102400, "total_cpus": cpus, "reserved_cpus": 0})
}

fn new(name: &str, memory: f64, vcpus: f64, tags: &[&str]) -> Value {
    json!({"name": name, "required_nodes": 1, "memory": memory, "vcpus": vcpus,
           "disk_template": "rbd", "disks": [{"size": 1024}], "disk_space_total": 1024,
           "spindle_use": 1, "tags": tags, "nics": []})
}

fn cluster(groups: Value, nodes: Value, instances: Value, request: Value) -> Value {
    json!({"version": 2, "cluster_tags": ["htools:iextags:svc"], "nodegroups": groups,
           "nodes": nodes, "instances": instances, "request": request})
}

fn allocate(mut instance: Value) -> Value {
    instance["type"] = json!("allocate");
    instance
}

#[test]
fn every_shipped_hail_input_gets_a_checked_answer() {
    let mut read_ok = 0;
    for entry in std::fs::read_dir(data("")).expect("dir") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let doc: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
        if answer_with(&doc, Overrides::default()).is_ok() {
            read_ok += 1;
        }
    }
    // Only hail-alloc-drbd-restricted.json is refused: it restricts to nodes it does not list
    // (Ganeti's test adds them from a text backend).
    assert_eq!(read_ok, 14);
}

#[test]
fn a_full_node_is_never_chosen() {
    let r = answer(&read("hail-alloc-dedicated-1.json"));
    assert!(r.success, "{}", r.info);
    assert_ne!(nodes(&r), ["node4-full"]);
}

#[test]
fn the_instance_policy_picks_the_group() {
    // group1's policy allows at most 2 spindles, the instance uses 3: only group2 may take it.
    let r = answer(&read("hail-alloc-spindles.json"));
    assert!(r.success, "{}", r.info);
    assert!(
        ["node3", "node4"].contains(&nodes(&r)[0].as_str()),
        "{:?}",
        r.result
    );
    let r = answer(&read("hail-alloc-invalid-twodisks.json"));
    assert!(
        !r.success && r.info.contains("instance policy"),
        "{}",
        r.info
    );
}

#[test]
fn networks_and_templates_restrict_groups() {
    let doc = read("hail-alloc-invalid-network.json");
    let r = answer(&doc);
    assert!(!r.success && r.info.contains("network"), "{}", r.info);
    // Without the networks, only Group 2 allows the `file` template.
    let mut open = doc.clone();
    for nic in open["request"]["nics"].as_array_mut().expect("nics") {
        nic.as_object_mut().expect("nic").remove("network");
    }
    let r = answer(&open);
    assert_eq!(nodes(&r), ["node2_1"], "{}", r.info);
}

#[test]
fn exclusion_tags_shared_with_running_instances_block_a_node() {
    let r = answer(&read("hail-alloc-plain-tags.json"));
    assert!(!r.success && r.info.contains("exclusion tag"), "{}", r.info);
}

#[test]
fn drbd_is_refused_per_instance_with_the_advice_to_keep_hail() {
    let r = answer(&read("hail-alloc-drbd.json"));
    assert!(
        !r.success && r.info.contains("drbd") && r.info.contains("hail"),
        "{}",
        r.info
    );
    let r = answer(&read("hail-node-evac.json"));
    assert!(r.success);
    assert_eq!(r.result[1][0][0], "instance2");
    assert!(r.result[1][0][1]
        .as_str()
        .is_some_and(|m| m.contains("drbd")));
}

#[test]
fn cpu_capacity_is_total_cpus_times_the_vcpu_ratio() {
    // 2 CPUs at vcpu-ratio 2 hold 4 VCPUs; a 3-VCPU instance fits only there, not on the
    // 1-CPU node with more memory.
    let doc = cluster(
        json!({"g": group("g", "preferred")}),
        json!({"small": node("g", 8192.0, 1.0), "big": node("g", 2048.0, 2.0)}),
        json!({}),
        allocate(new("i1", 1024.0, 3.0, &[])),
    );
    assert_eq!(nodes(&answer(&doc)), ["big"]);
}

#[test]
fn last_resort_groups_take_only_what_preferred_groups_cannot() {
    let groups = json!({"a": group("A", "preferred"), "b": group("B", "last_resort")});
    let doc = |free_a: f64| {
        cluster(
            groups.clone(),
            json!({"a1": node("a", free_a, 4.0), "b1": node("b", 8192.0, 4.0)}),
            json!({}),
            allocate(new("i1", 2048.0, 1.0, &[])),
        )
    };
    assert_eq!(nodes(&answer(&doc(4096.0))), ["a1"]);
    assert_eq!(nodes(&answer(&doc(1024.0))), ["b1"]);
}

#[test]
fn unallocable_groups_and_offline_or_drained_nodes_are_never_targets() {
    let mut off = node("a", 8192.0, 4.0);
    off["offline"] = json!(true);
    let mut drained = node("a", 8192.0, 4.0);
    drained["drained"] = json!(true);
    let doc = cluster(
        json!({"a": group("A", "preferred"), "u": group("U", "unallocable")}),
        json!({"off": off, "drained": drained, "u1": node("u", 8192.0, 4.0),
               "ok": node("a", 2048.0, 4.0)}),
        json!({}),
        allocate(new("i1", 2048.0, 1.0, &[])),
    );
    assert_eq!(nodes(&answer(&doc)), ["ok"]);
}

#[test]
fn multi_allocate_places_the_others_when_one_fits_nowhere() {
    let doc = cluster(
        json!({"g": group("g", "preferred")}),
        json!({"n1": node("g", 4096.0, 4.0), "n2": node("g", 4096.0, 4.0)}),
        json!({}),
        json!({"type": "multi-allocate", "instances": [
            new("a", 2048.0, 1.0, &[]), new("huge", 6000.0, 1.0, &[]), new("b", 2048.0, 1.0, &[])
        ]}),
    );
    let r = answer(&doc);
    assert!(r.success);
    let allocated: Vec<&str> = r.result[0]
        .as_array()
        .expect("allocated")
        .iter()
        .filter_map(|e| e[0].as_str())
        .collect();
    assert_eq!(allocated, ["a", "b"]);
    assert_eq!(r.result[1][0][0], "huge");
    assert!(r.result[1][0][1]
        .as_str()
        .is_some_and(|m| m.contains("DEMAND_EXCEEDS_HOSTS")));
}

#[test]
fn new_instances_sharing_an_exclusion_tag_go_to_different_nodes() {
    let doc = cluster(
        json!({"g": group("g", "preferred")}),
        json!({"n1": node("g", 8192.0, 8.0), "n2": node("g", 8192.0, 8.0)}),
        json!({}),
        json!({"type": "multi-allocate", "instances": [
            new("w1", 512.0, 1.0, &["svc:web"]), new("w2", 512.0, 1.0, &["svc:web"]),
            new("w3", 512.0, 1.0, &["svc:web"])
        ]}),
    );
    let r = answer(&doc);
    let nodes: Vec<&str> = r.result[0]
        .as_array()
        .expect("allocated")
        .iter()
        .filter_map(|e| e[1][0].as_str())
        .collect();
    assert_eq!(nodes.len(), 2, "{:?}", r.result);
    assert_ne!(nodes[0], nodes[1]);
    assert!(r.result[1][0][1]
        .as_str()
        .is_some_and(|m| m.contains("ANTI_AFFINITY")));
}

/// A cluster of shared-storage (rbd) instances: i1 and i2 on n1, i3 on n3.
fn rbd_cluster(request: Value) -> Value {
    let inst = |n: &str, mem: f64| {
        let mut v = new("x", mem, 1.0, &[]);
        v.as_object_mut().expect("obj").remove("name");
        v["nodes"] = json!([n]);
        v
    };
    cluster(
        json!({"g": group("g", "preferred"), "h": group("h", "preferred")}),
        json!({"n1": node("g", 2048.0, 8.0), "n2": node("g", 4096.0, 8.0),
               "n3": node("g", 1024.0, 8.0), "m1": node("h", 8192.0, 8.0)}),
        json!({"i1": inst("n1", 2048.0), "i2": inst("n1", 1024.0), "i3": inst("n3", 3072.0)}),
        request,
    )
}

#[test]
fn relocate_moves_a_shared_storage_instance_within_its_group() {
    // n2 is the only other node of group g with 2 GiB free; m1 is in another group.
    let r = answer(&rbd_cluster(json!({"type": "relocate", "name": "i1",
                                       "relocate_from": ["n1"], "required_nodes": 1})));
    assert_eq!(nodes(&r), ["n2"], "{}", r.info);
}

#[test]
fn node_evacuation_moves_every_listed_instance_together() {
    // n2 has 4 GiB: i1 (2 GiB) and i2 (1 GiB) both fit there, nowhere else in group g.
    let r = answer(&rbd_cluster(
        json!({"type": "node-evacuate", "instances": ["i1", "i2"],
                                       "evac_mode": "primary-only"}),
    ));
    assert!(r.success);
    assert_eq!(
        r.result[0].as_array().map(Vec::len),
        Some(2),
        "{:?}",
        r.result
    );
    assert_eq!(r.result[2][0][0]["OP_ID"], "OP_INSTANCE_MIGRATE");
    let r = answer(&rbd_cluster(
        json!({"type": "node-evacuate", "instances": ["i1"],
                                       "evac_mode": "secondary-only"}),
    ));
    assert!(r.result[1][0][1]
        .as_str()
        .is_some_and(|m| m.contains("no secondary")));
}

#[test]
fn change_group_moves_instances_to_a_target_group() {
    let r = answer(&rbd_cluster(
        json!({"type": "change-group", "instances": ["i3"],
                                       "target_groups": []}),
    ));
    assert_eq!(r.result[0][0][1], "h", "{:?}", r.result);
    assert_eq!(r.result[0][0][2], json!(["m1"]));
}

#[test]
fn bad_documents_get_every_error_with_code_and_path() {
    let mut doc = rbd_cluster(allocate(new("i9", -5.0, 1.0, &[])));
    doc["nodes"]["n2"]["group"] = json!("nowhere");
    doc["instances"]["i3"]["nodes"] = json!(["gone"]);
    let errors = answer_with(&doc, Overrides::default()).expect_err("invalid");
    let codes: Vec<(&str, &str)> = errors
        .iter()
        .map(|e| (e.code.code(), e.path.as_str()))
        .collect();
    assert!(codes.contains(&("E1104", "/request/memory")), "{codes:?}");
    let mut doc = rbd_cluster(allocate(new("i9", 512.0, 1.0, &[])));
    doc["nodes"]["n2"]["group"] = json!("nowhere");
    doc["instances"]["i3"]["nodes"] = json!(["gone"]);
    let errors = answer_with(&doc, Overrides::default()).expect_err("invalid");
    let codes: Vec<(&str, &str)> = errors
        .iter()
        .map(|e| (e.code.code(), e.path.as_str()))
        .collect();
    assert_eq!(
        codes,
        [
            ("E1601", "/nodes/n2/group"),
            ("E1602", "/instances/i3/nodes/0")
        ]
    );
    let mut doc = rbd_cluster(json!({"type": "rebalance"}));
    doc.as_object_mut().expect("obj").remove("nodes");
    let errors = answer_with(&doc, Overrides::default()).expect_err("invalid");
    let codes: Vec<(&str, &str)> = errors
        .iter()
        .map(|e| (e.code.code(), e.path.as_str()))
        .collect();
    assert_eq!(codes, [("E1102", "/nodes"), ("E1105", "/request/type")]);
}

#[test]
fn a_vmplace_problem_exported_to_ganeti_gets_a_checked_answer() {
    let problem = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("instances/medium/h60-s6-vm300-tight-aa.json"),
    )
    .expect("instance");
    let p =
        vmplace_core::validation::read_problem(&problem, vmplace_core::validation::Phase::Storage)
            .expect("valid");
    let doc = vmplace_ganeti::export::to_ganeti(&p);
    let r = answer_with(
        &doc,
        Overrides {
            time_limit_s: Some(5.0),
            ..Overrides::default()
        },
    )
    .expect("valid export");
    assert!(r.success);
    assert!(r.result[0].as_array().is_some_and(|a| !a.is_empty()));
}

#[test]
fn the_cli_writes_the_protocol_answer_and_fails_only_on_unreadable_input() {
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_vmplace"))
            .args(args)
            .output()
            .expect("run");
        let answer: Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
        (out.status.code(), answer)
    };
    let path = data("hail-alloc-plain-tags.json");
    let (code, a) = run(&["iallocator", path.to_str().expect("utf-8")]);
    assert_eq!((code, &a["success"]), (Some(0), &json!(false)));
    let dir = tempfile::tempdir().expect("tmp");
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"request\": 0}").expect("write");
    let (code, a) = run(&["iallocator", bad.to_str().expect("utf-8")]);
    assert_eq!(code, Some(2));
    assert_eq!(a["result"], json!([]));
    assert!(a["info"]
        .as_str()
        .is_some_and(|i| i.contains("E1102") && i.contains("/nodes")));
}

#[test]
fn the_checker_catches_a_full_node_a_drained_node_and_a_shared_exclusion_tag() {
    use vmplace_server::api::check_texts;
    use vmplace_wire::check::CheckPhase;
    let rules = |doc: &Value, result: Value| {
        let answer = json!({"success": true, "info": "", "result": result});
        let report = check_texts(&doc.to_string(), &answer.to_string(), CheckPhase::Any)
            .expect("documents read");
        let mut rules: Vec<String> = report.violations.iter().map(|v| v.rule.name()).collect();
        rules.dedup();
        rules
    };
    let mut doc = read("hail-alloc-dedicated-1.json");
    assert_eq!(rules(&doc, json!(["node4-full"])), ["HOST_CAPACITY"]);
    assert!(rules(&doc, json!(["node3-half"])).is_empty());
    doc["nodes"]["node3-half"]["drained"] = json!(true);
    assert_eq!(rules(&doc, json!(["node3-half"])), ["TARGET_NOT_ACTIVE"]);
    assert_eq!(rules(&doc, json!(["nowhere"])), ["UNKNOWN_HOST"]);
    assert_eq!(rules(&doc, json!(["a", "b"])), ["BAD_RESULT"]);
    let tags = read("hail-alloc-plain-tags.json");
    assert_eq!(rules(&tags, json!(["node1"])), ["ANTI_AFFINITY"]);
}

/// A random cluster: groups of every allocation policy, nodes online, offline or drained, running
/// instances with exclusion tags, and a request of every kind vmplace answers.
fn random_cluster(seed: u64) -> Value {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let policies = ["preferred", "preferred", "last_resort", "unallocable"];
    let mut groups = serde_json::Map::new();
    for g in 0..rng.random_range(1..4) {
        groups.insert(
            format!("g{g}"),
            group(&format!("G{g}"), policies[rng.random_range(0..4)]),
        );
    }
    let mut nodes = serde_json::Map::new();
    let mut instances = serde_json::Map::new();
    for n in 0..rng.random_range(1..8) {
        let g = format!("g{}", rng.random_range(0..groups.len()));
        let mut v = node(
            &g,
            rng.random_range(0.0..8192.0f64).round(),
            rng.random_range(1..8) as f64,
        );
        v["offline"] = json!(rng.random_bool(0.1));
        v["drained"] = json!(rng.random_bool(0.1));
        v["free_disk"] = json!(rng.random_range(0.0..102400.0f64).round());
        nodes.insert(format!("n{n}"), v);
        for i in 0..rng.random_range(0..3) {
            let tags = if rng.random_bool(0.5) {
                vec!["svc:web"]
            } else {
                vec![]
            };
            let template = ["rbd", "plain", "ext"][rng.random_range(0..3)];
            let mut inst = new("x", 256.0, 1.0, &tags);
            inst.as_object_mut().expect("obj").remove("name");
            inst["disk_template"] = json!(template);
            inst["nodes"] = json!([format!("n{n}")]);
            instances.insert(format!("i{n}-{i}"), inst);
        }
    }
    let mut wanted = Vec::new();
    for k in 0..rng.random_range(1..6) {
        let tags = if rng.random_bool(0.4) {
            vec!["svc:web"]
        } else {
            vec![]
        };
        let mut w = new(
            &format!("new{k}"),
            rng.random_range(128.0..4096.0f64).round(),
            rng.random_range(1..4) as f64,
            &tags,
        );
        w["disk_template"] = json!(["rbd", "plain", "ext", "drbd"][rng.random_range(0..4)]);
        w["disk_space_total"] = json!(rng.random_range(512.0..40960.0f64).round());
        wanted.push(w);
    }
    let names: Vec<String> = instances.keys().cloned().collect();
    let request = match (rng.random_range(0..4), names.is_empty()) {
        (0, _) | (_, true) => json!({"type": "multi-allocate", "instances": wanted}),
        (1, _) => allocate(wanted.remove(0)),
        (2, _) => json!({"type": "node-evacuate", "evac_mode": "all",
                         "instances": [names[rng.random_range(0..names.len())]]}),
        _ => json!({"type": "change-group", "target_groups": [],
                    "instances": [names[rng.random_range(0..names.len())]]}),
    };
    cluster(json!(groups), json!(nodes), json!(instances), request)
}

#[test]
fn answers_on_random_clusters_pass_both_checkers() {
    // `answer` checks every vmplace solve with the placement checker and the answer with the
    // IAllocator checker: capacities, online nodes, allowed groups, exclusion tags.
    let mut placed = 0;
    for seed in 0..60 {
        let doc = random_cluster(seed);
        let r = answer(&doc);
        if r.success && r.result.as_array().is_some_and(|a| !a.is_empty()) {
            placed += 1;
        }
    }
    assert!(placed > 20, "only {placed} of 60 answers placed something");
}

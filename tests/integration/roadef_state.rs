//! The challenge as a capability of the product (issue 29, item 2): the reassignment fields of
//! the state document, `vmplace roadef --to-state`, and `vmplace migrate` under
//! `policy.reassign`. Each rule decides a hand-made case (the same state with and without the
//! rule gives different plans), every plan goes through the independent checker, and bad fields
//! get coded errors at their JSON paths.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use vmplace_core::roadef::parse::{parse_assignment, parse_model};
use vmplace_wire::state::Plan;

/// A state planned by cost: hosts `(id, cpu, safety cpu, labels)`, VMs `(id, host, cpu)` on the
/// storage every host reaches, and the rest of the document in `extra` (merged at the top;
/// `policy.reassign` defaults to `{}`).
fn state(hosts: &[(&str, f64, f64, Value)], vms: &[(&str, &str, f64)], extra: Value) -> Value {
    let hosts: Vec<Value> = hosts
        .iter()
        .map(|(id, cap, safety, labels)| {
            json!({"id": id, "capacity": {"cpu": cap}, "safety_capacity": {"cpu": safety},
                   "storage": ["s"], "labels": labels})
        })
        .collect();
    let vms: Vec<Value> = vms
        .iter()
        .map(|(id, host, cpu)| json!({"id": id, "host": host, "storage": "s", "demand": {"cpu": cpu}}))
        .collect();
    let mut doc = json!({
        "storage": [{"id": "s", "capacity_gib": 0}],
        "hosts": hosts,
        "vms": vms,
        "resources": [{"name": "cpu", "load_cost": 10}],
        "policy": {"reassign": {}, "time_limit_s": 0.3},
    });
    if let (Some(d), Value::Object(e)) = (doc.as_object_mut(), extra) {
        for (k, v) in e {
            d.insert(k, v);
        }
    }
    doc
}

/// Plans the state as `vmplace migrate` does and checks the plan with the independent checker.
fn plan(doc: &Value) -> Plan {
    let text = doc.to_string();
    let plan = vmplace_server::api::migrate_text(&text).unwrap_or_else(|e| panic!("{e:#?}"));
    let state = vmplace_core::validation::read_state(&text).unwrap();
    let found = vmplace_check::check_plan(&state, &plan);
    assert!(found.is_empty(), "{:#?}", found.violations);
    plan
}

/// Where the plan sends `vm` (None: it stays).
fn target(p: &Plan, vm: &str) -> Option<String> {
    p.migrations
        .iter()
        .find(|m| m.vm == vm)
        .map(|m| m.to.clone())
}

fn total(p: &Plan) -> i64 {
    p.stats.reassign_cost.as_ref().expect("reassign_cost").total
}

fn errors(doc: &Value) -> Vec<(String, String)> {
    let e = vmplace_core::validation::read_state(&doc.to_string())
        .map(|_| ())
        .expect_err("should be refused");
    e.into_iter()
        .map(|e| (e.code.to_string(), e.path))
        .collect()
}

fn has(errs: &[(String, String)], code: &str, path: &str) -> bool {
    errs.iter().any(|(c, p)| c == code && p == path)
}

#[test]
fn load_above_the_safety_capacity_moves_a_vm_to_a_host_with_room() {
    let doc = state(
        &[("h1", 10.0, 4.0, json!({})), ("h2", 10.0, 10.0, json!({}))],
        &[("v1", "h1", 6.0)],
        json!({}),
    );
    let p = plan(&doc);
    assert_eq!(target(&p, "v1").as_deref(), Some("h2"));
    let cost = p.stats.reassign_cost.clone().unwrap();
    assert_eq!((cost.initial_total, cost.total, cost.load), (20, 0, 0));
    assert_eq!(p.steps, vec![vec!["v1".to_string()]]);
}

/// a (8) on h1 must leave for h3 (capacity 8) so that b (9) can leave costly h2 for h1: with a
/// transient cpu, a keeps its 8 on h1 and b cannot come.
fn chain(transient: bool) -> Value {
    state(
        &[
            ("h1", 10.0, 10.0, json!({})),
            ("h2", 10.0, 0.0, json!({})),
            ("h3", 8.0, 8.0, json!({})),
        ],
        &[("a", "h1", 8.0), ("b", "h2", 9.0)],
        json!({"resources": [{"name": "cpu", "load_cost": 10, "transient": transient}]}),
    )
}

#[test]
fn a_transient_resource_keeps_a_move_off_the_host_a_vm_left() {
    let free = plan(&chain(false));
    assert_eq!(target(&free, "b").as_deref(), Some("h1"));
    assert_eq!(target(&free, "a").as_deref(), Some("h3"));
    assert_eq!(total(&free), 0);
    // a leaves in the first wave, b arrives in the second.
    assert_eq!(
        free.steps,
        vec![vec!["a".to_string()], vec!["b".to_string()]]
    );
    let held = plan(&chain(true));
    assert_eq!(target(&held, "b"), None, "{:?}", held.migrations);
    assert_eq!(total(&held), 90);
}

/// g1 and g2 (group g, one per host) on h1 (rack r1) and h3 (rack r2, costly); h2 in rack r1 is
/// free and cheap.
fn racks(extra: Value) -> Value {
    let mut doc = state(
        &[
            ("h1", 10.0, 10.0, json!({"rack": "r1"})),
            ("h2", 10.0, 10.0, json!({"rack": "r1"})),
            ("h3", 10.0, 0.0, json!({"rack": "r2"})),
        ],
        &[("g1", "h1", 5.0), ("g2", "h3", 5.0)],
        extra,
    );
    doc["groups"] = json!([{"id": "g", "policy": "anti-affinity"}]);
    for v in doc["vms"].as_array_mut().unwrap() {
        v["groups"] = json!(["g"]);
    }
    doc
}

#[test]
fn min_domains_keeps_a_member_in_a_second_rack() {
    let free = plan(&racks(json!({})));
    assert_eq!(target(&free, "g2").as_deref(), Some("h2"));
    let spread = plan(&racks(
        json!({"min_domains": {"scope": "rack", "groups": {"g": 2}}}),
    ));
    assert_eq!(target(&spread, "g2"), None, "{:?}", spread.migrations);
    assert_eq!(total(&spread), 50);
}

#[test]
fn a_dependency_keeps_a_vm_where_the_group_it_needs_runs() {
    // d (group a) on costly h3 in rack r2, where db (group b, too large for rack r1's hosts)
    // runs on full h4; h1 and h2 in rack r1 are free and cheap.
    let mut doc = state(
        &[
            ("h1", 8.0, 8.0, json!({"rack": "r1"})),
            ("h2", 8.0, 8.0, json!({"rack": "r1"})),
            ("h3", 10.0, 0.0, json!({"rack": "r2"})),
            ("h4", 10.0, 10.0, json!({"rack": "r2"})),
        ],
        &[("d", "h3", 5.0), ("db", "h4", 10.0)],
        json!({"groups": [{"id": "a", "policy": "anti-affinity"}, {"id": "b", "policy": "anti-affinity"}]}),
    );
    doc["vms"][0]["groups"] = json!(["a"]);
    doc["vms"][1]["groups"] = json!(["b"]);
    let free = plan(&doc);
    assert!(matches!(target(&free, "d").as_deref(), Some("h1" | "h2")));
    doc["dependencies"] = json!({"scope": "rack", "rules": [{"group": "a", "on": "b"}]});
    let bound = plan(&doc);
    assert_eq!(target(&bound, "d"), None, "{:?}", bound.migrations);
    assert_eq!(total(&bound), 50);
}

#[test]
fn a_vm_move_cost_keeps_a_vm_home_when_moving_costs_more_than_it_saves() {
    // Moving saves 10 (one unit above safety, load cost 10).
    let doc = |move_cost: u32| {
        let mut d = state(
            &[("h1", 10.0, 5.0, json!({})), ("h2", 10.0, 10.0, json!({}))],
            &[("v", "h1", 6.0)],
            json!({}),
        );
        d["vms"][0]["move_cost"] = json!(move_cost);
        d["policy"]["reassign"] = json!({"vm_move": 1});
        d
    };
    assert_eq!(target(&plan(&doc(9)), "v").as_deref(), Some("h2"));
    let home = plan(&doc(11));
    assert_eq!(target(&home, "v"), None);
    assert_eq!(total(&home), 10);
}

#[test]
fn host_to_host_costs_by_label_pick_the_cheaper_target() {
    // v leaves costly h1 (rack r1) for h2 (rack r2) or h3 (rack r1), both free.
    let doc = |costs: Value| {
        let mut d = state(
            &[
                ("h1", 10.0, 0.0, json!({"rack": "r1"})),
                ("h2", 10.0, 10.0, json!({"rack": "r2"})),
                ("h3", 10.0, 10.0, json!({"rack": "r1"})),
            ],
            &[("v", "h1", 5.0)],
            json!({"move_costs": {"scope": "rack", "costs": costs}}),
        );
        d["policy"]["reassign"] = json!({"host_move": 1});
        d
    };
    let p = plan(&doc(json!({"r1": {"r2": 7}})));
    assert_eq!(target(&p, "v").as_deref(), Some("h3"));
    let p = plan(&doc(json!({"r1": {"r1": 7}})));
    assert_eq!(target(&p, "v").as_deref(), Some("h2"));
    assert_eq!(p.stats.reassign_cost.clone().unwrap().host_move, 0);
}

#[test]
fn bad_reassignment_fields_get_coded_errors_at_their_paths() {
    let mut doc = racks(json!({
        "resources": [{"name": "gpu"}],
        "balance": [{"resource_a": "cpu", "resource_b": "ram", "target": 1, "weight": 1}],
        "min_domains": {"scope": "rack", "groups": {"g": 3, "nope": 1}},
        "dependencies": {"scope": "zone", "rules": [{"group": "g", "on": "ghost"}]},
        "move_costs": {"scope": "rack", "costs": {"r1": {"r9": 1}}},
    }));
    doc["vms"][0]["demand"]["cpu"] = json!(2.5);
    let e = errors(&doc);
    for (code, path) in [
        ("E1901", "/resources/0/name"),
        ("E1901", "/balance/0/resource_b"),
        ("E1902", "/min_domains/groups/g"),
        ("E1901", "/min_domains/groups/nope"),
        ("E1901", "/dependencies/scope"),
        ("E1901", "/dependencies/rules/0/on"),
        ("E1901", "/move_costs/costs/r1/r9"),
        ("E1902", "/vms/0/demand/cpu"),
    ] {
        assert!(has(&e, code, path), "{code} at {path} missing: {e:?}");
    }
    let mut neg = racks(json!({}));
    neg["vms"][0]["move_cost"] = json!(-1);
    assert!(
        has(&errors(&neg), "E1104", "/vms/0/move_cost"),
        "{:?}",
        errors(&neg)
    );
}

#[test]
fn reassignment_fields_without_policy_reassign_are_refused() {
    let mut doc = racks(json!({"min_domains": {"scope": "rack", "groups": {"g": 2}}}));
    doc["policy"] = json!({});
    let e = errors(&doc);
    assert!(has(&e, "E1903", "/min_domains"), "{e:?}");
    assert!(has(&e, "E1903", "/hosts/0/safety_capacity"), "{e:?}");
}

#[test]
fn a_start_that_breaks_a_rule_is_refused_with_the_vm_at_fault() {
    let mut doc = racks(json!({"min_domains": {"scope": "rack", "groups": {"g": 2}}}));
    doc["vms"][1]["host"] = json!("h2"); // both members in rack r1
    let e = vmplace_server::api::migrate_text(&doc.to_string()).unwrap_err();
    assert!(e.iter().all(|e| e.code == "E2006"), "{e:#?}");
    assert!(!e.is_empty());
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/roadef")
        .join(name)
}

fn vmplace(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vmplace"))
        .args(args)
        .current_dir(data(""))
        .output()
        .unwrap()
}

#[test]
fn to_state_reads_back_as_the_same_instance() {
    let o = vmplace(&[
        "roadef",
        "--to-state",
        "-p",
        "model_tiny.txt",
        "-i",
        "assignment_tiny.txt",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8(o.stdout).unwrap();
    let state = vmplace_core::validation::read_state(&text).unwrap_or_else(|e| panic!("{e:#?}"));
    let m = parse_model(
        "m",
        &std::fs::read_to_string(data("model_tiny.txt")).unwrap(),
    )
    .unwrap();
    let a = std::fs::read_to_string(data("assignment_tiny.txt")).unwrap();
    let a = parse_assignment("a", &a, &m).unwrap();
    let engine = vmplace_core::roadef::convert::from_state(&state)
        .unwrap()
        .unwrap();
    assert_eq!((engine.model, engine.initial), (m, a));
}

#[test]
fn migrate_on_a_converted_instance_passes_both_checkers_with_the_same_cost() {
    let dir = tempfile::tempdir().unwrap();
    let at = |f: &str| dir.path().join(f).to_str().unwrap().to_string();
    let (st, pl, new) = (at("state.json"), at("plan.json"), at("new.txt"));
    let model = [
        "-p",
        "model_tiny.txt",
        "-i",
        "assignment_tiny.txt",
        "-o",
        &st,
    ];
    let o = vmplace(&[&["roadef", "--to-state"][..], &model[..]].concat());
    assert!(o.status.success() && o.stdout.is_empty());
    let o = vmplace(&["migrate", &st, "--time-limit", "1", "-o", &pl]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    let o = vmplace(&["check", &st, &pl]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    // The plan's end as a challenge assignment, checked by the challenge's checker.
    let plan: Plan = serde_json::from_str(&std::fs::read_to_string(&pl).unwrap()).unwrap();
    let mut machines: Vec<String> = "0 2 0 1".split(' ').map(String::from).collect();
    for m in &plan.migrations {
        let p: usize = m.vm[1..].parse().unwrap();
        machines[p] = m.to[1..].to_string();
    }
    std::fs::write(&new, machines.join(" ")).unwrap();
    let o = vmplace(&[
        "check",
        "--roadef",
        "model_tiny.txt",
        "assignment_tiny.txt",
        &new,
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    let cost = plan.stats.reassign_cost.clone().unwrap();
    assert_eq!(report["costs"]["total"], json!(cost.total));
    assert_eq!(cost.initial_total, 25);
    assert!(cost.total <= 25, "{cost:?}");
}

/// The checker's rules broken by `plan` on the state `doc`.
fn broken(doc: &Value, plan: &Plan) -> Vec<String> {
    let state = vmplace_core::validation::read_state(&doc.to_string()).unwrap();
    let found = vmplace_check::check_plan(&state, plan);
    found.violations.iter().map(|v| v.rule.name()).collect()
}

#[test]
fn the_checker_catches_a_plan_that_ignores_a_reassignment_rule() {
    // Each plan made without the rule, checked against the state with it.
    let spread = racks(json!({"min_domains": {"scope": "rack", "groups": {"g": 2}}}));
    assert_eq!(broken(&spread, &plan(&racks(json!({})))), ["MIN_DOMAINS"]);
    let held = plan(&chain(false));
    assert_eq!(
        broken(&chain(true), &held),
        ["TRANSIENT_CAPACITY", "TRANSIENT_CAPACITY"],
        "after the plan and while b's wave runs"
    );
    let mut wrong = plan(&racks(json!({})));
    wrong.stats.reassign_cost.as_mut().unwrap().total += 1;
    assert_eq!(broken(&racks(json!({})), &wrong), ["BAD_STATS"]);
}

#[test]
fn the_checker_catches_a_broken_dependency() {
    let mut doc = state(
        &[
            ("h1", 8.0, 8.0, json!({"rack": "r1"})),
            ("h3", 10.0, 0.0, json!({"rack": "r2"})),
            ("h4", 10.0, 10.0, json!({"rack": "r2"})),
        ],
        &[("d", "h3", 5.0), ("db", "h4", 10.0)],
        json!({"groups": [{"id": "a", "policy": "anti-affinity"}, {"id": "b", "policy": "anti-affinity"}]}),
    );
    doc["vms"][0]["groups"] = json!(["a"]);
    doc["vms"][1]["groups"] = json!(["b"]);
    let free = plan(&doc);
    assert_eq!(target(&free, "d").as_deref(), Some("h1"));
    doc["dependencies"] = json!({"scope": "rack", "rules": [{"group": "a", "on": "b"}]});
    assert_eq!(broken(&doc, &free), ["DEPENDENCY"]);
}

#[test]
fn a_plan_ordered_anew_gets_the_cost_of_where_its_waves_leave_the_vms() {
    // `migrate --sequence` on a plan without its cost: b's move alone, a stays (b cannot come
    // to h1 while a is there, and no other host has room for b or a).
    let doc = chain(false);
    let mut p = plan(&doc);
    p.migrations.retain(|m| m.vm == "b");
    p.stats.reassign_cost = None;
    let text = serde_json::to_string(&p).unwrap();
    let again = vmplace_server::api::sequence_texts(&doc.to_string(), &text).unwrap();
    assert_eq!(again.stats.dropped.len(), 1, "{:?}", again.stats.dropped);
    assert!(
        broken(&doc, &again).is_empty(),
        "{:?}",
        broken(&doc, &again)
    );
    assert_eq!(total(&again), 90);
}

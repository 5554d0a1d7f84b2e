//! `vmplace capacity --fail`: whether the VMs of failed hosts restart on the surviving hosts that
//! reach their storage. Each test builds a small state document where one thing decides the
//! answer (connectivity, room, anti-affinity, a label, the MIP against best fit), and every
//! scenario returned in full passes the independent checker (`checker::check_scenario`).

use serde_json::{json, Value};
use vmplace_check::check_scenario;
use vmplace_core::capacity::{CapacityReport, FailSpec, Query, Scenario};
use vmplace_core::domain::settings::Overrides;
use vmplace_core::placement::RunConfig;
use vmplace_server::api::capacity_text;
use vmplace_wire::capacity::{DecidedBy, RestartCode};
use vmplace_wire::state::State;

fn host(id: &str, cpu: f64, storage: &[&str], rack: &str) -> Value {
    json!({"id": id, "capacity": {"cpu": cpu, "memory_gib": 64}, "storage": storage,
           "labels": {"rack": rack}})
}

fn vm(id: &str, host: &str, cpu: f64, storage: &str) -> Value {
    json!({"id": id, "host": host, "storage": storage, "demand": {"cpu": cpu, "memory_gib": 4}})
}

fn grouped(id: &str, host: &str, group: &str) -> Value {
    json!({"id": id, "host": host, "storage": "s1", "demand": {"cpu": 1, "memory_gib": 1},
           "anti_affinity": group})
}

fn state(hosts: Vec<Value>, vms: Vec<Value>) -> Value {
    json!({"storage": [{"id": "s1", "capacity_gib": 1000}, {"id": "s2", "capacity_gib": 1000}],
           "hosts": hosts, "vms": vms})
}

fn ask(doc: &Value, fails: &[&str]) -> Result<CapacityReport, Vec<vmplace_wire::InputError>> {
    let q = Query {
        flavors: Vec::new(),
        fails: fails
            .iter()
            .map(|f| FailSpec::parse(f).expect("spec"))
            .collect(),
        ..Query::default()
    };
    capacity_text(
        &doc.to_string(),
        &q,
        &Overrides::default(),
        &RunConfig::default(),
    )
}

/// The worst scenario, checked by the independent checker against the state.
fn worst(doc: &Value, fails: &[&str]) -> (CapacityReport, Scenario) {
    let r = ask(doc, fails).unwrap_or_else(|e| panic!("{e:#?}"));
    let f = r.failures.as_ref().expect("failures");
    let w = f.worst.clone().expect("a scenario");
    let s: State = serde_json::from_value(doc.clone()).unwrap();
    let violations = check_scenario(&s, &w);
    assert!(violations.is_empty(), "{violations:#?}\n{w:#?}");
    (r, w)
}

fn code_of(sc: &Scenario, vm: &str) -> Option<&'static str> {
    sc.unrestartable
        .iter()
        .find(|u| u.vm == vm)
        .map(|u| match u.code {
            RestartCode::NoConnectedHost => "NO_CONNECTED_HOST",
            RestartCode::NoHostWithTraits => "NO_HOST_WITH_TRAITS",
            RestartCode::AntiAffinity => "ANTI_AFFINITY",
            RestartCode::Affinity => "AFFINITY",
            RestartCode::Spread => "SPREAD",
            RestartCode::NoRoom => "NO_ROOM",
            RestartCode::StoppedEarly => "STOPPED_EARLY",
        })
}

#[test]
fn a_failed_hosts_vms_restart_only_on_survivors_that_reach_their_storage() {
    // h3 has the most room but reaches only s2; the VMs' images are on s1.
    let doc = state(
        vec![
            host("h1", 8.0, &["s1"], "r1"),
            host("h2", 8.0, &["s1"], "r1"),
            host("h3", 64.0, &["s2"], "r2"),
        ],
        vec![
            vm("a", "h1", 3.0, "s1"),
            vm("b", "h1", 3.0, "s1"),
            vm("c", "h2", 1.0, "s1"),
        ],
    );
    let (_, w) = worst(&doc, &["host:h1"]);
    assert!(w.restartable, "{w:#?}");
    assert_eq!((w.vms, w.restarted, w.bound), (2, 2, 2));
    assert!(w.witness.iter().all(|r| r.host == "h2"));
    assert_eq!(w.decided_by, DecidedBy::Witness);
    // cpu left on the survivors: h2 8 - 1 - 6 = 1, h3 64.
    assert!((w.headroom["cpu"] - 65.0).abs() < 1e-9, "{:?}", w.headroom);
    // Without h2's room, they cannot restart: no host that reaches s1 has room.
    let doc = state(
        vec![
            host("h1", 8.0, &["s1"], "r1"),
            host("h2", 2.0, &["s1"], "r1"),
            host("h3", 64.0, &["s2"], "r2"),
        ],
        vec![vm("a", "h1", 3.0, "s1"), vm("b", "h1", 3.0, "s1")],
    );
    let (_, w) = worst(&doc, &["host:h1"]);
    assert!(!w.restartable);
    assert_eq!(code_of(&w, "a"), Some("NO_ROOM"));
}

#[test]
fn vms_that_cannot_restart_are_listed_with_the_rule_that_binds() {
    // a: its storage s2 is reached only by the failed host; b: a surviving member of its group
    // is on the one host that reaches s1; c: too large for any survivor; d: restarts.
    let doc = state(
        vec![
            host("h1", 64.0, &["s1", "s2"], "r1"),
            host("h2", 4.0, &["s1"], "r1"),
        ],
        vec![
            vm("a", "h1", 1.0, "s2"),
            grouped("b", "h1", "web"),
            grouped("b2", "h2", "web"),
            vm("c", "h1", 16.0, "s1"),
            vm("d", "h1", 1.0, "s1"),
        ],
    );
    let (r, w) = worst(&doc, &["host:h1"]);
    assert_eq!(code_of(&w, "a"), Some("NO_CONNECTED_HOST"));
    assert_eq!(code_of(&w, "b"), Some("ANTI_AFFINITY"));
    assert_eq!(code_of(&w, "c"), Some("NO_ROOM"));
    assert_eq!(code_of(&w, "d"), None);
    assert_eq!((w.restarted, w.bound, w.gap), (1, 1, 0.0));
    assert_eq!(w.status, vmplace_wire::Status::Optimal);
    let f = r.failures.unwrap();
    assert_eq!((f.scenarios, f.tolerated), (1, 0));
    assert_eq!(f.not_tolerated[0].unrestartable, 3);
}

#[test]
fn restarted_members_of_a_group_go_to_different_hosts() {
    let doc = state(
        vec![
            host("h1", 64.0, &["s1"], "r1"),
            host("h2", 64.0, &["s1"], "r1"),
            host("h3", 64.0, &["s1"], "r1"),
        ],
        vec![
            grouped("a", "h1", "db"),
            grouped("b", "h1", "db"),
            grouped("c", "h1", "db"),
        ],
    );
    let (_, w) = worst(&doc, &["host:h1"]);
    // Two survivors, three members: two restart, one cannot.
    assert_eq!((w.restarted, w.bound), (2, 2));
    assert_ne!(w.witness[0].host, w.witness[1].host);
    assert_eq!(w.unrestartable.len(), 1);
}

#[test]
fn a_label_failure_takes_down_every_host_with_that_value() {
    let doc = state(
        vec![
            host("h1", 8.0, &["s1"], "r1"),
            host("h2", 8.0, &["s1"], "r1"),
            host("h3", 8.0, &["s1"], "r2"),
            host("h4", 8.0, &["s1"], "r2"),
        ],
        vec![
            vm("a", "h1", 6.0, "s1"),
            vm("b", "h2", 6.0, "s1"),
            vm("c", "h3", 1.0, "s1"),
        ],
    );
    let (_, w) = worst(&doc, &["label:rack=r1"]);
    assert_eq!(w.hosts, vec!["h1", "h2"]);
    assert!(w.restartable, "{w:#?}");
    assert!(w.witness.iter().all(|r| r.host == "h3" || r.host == "h4"));
    // A label and a host fail together: r1 and h4 leave only h3, with room for one.
    let (_, w) = worst(&doc, &["label:rack=r1", "host:h4"]);
    assert_eq!(w.hosts, vec!["h1", "h2", "h4"]);
    assert_eq!((w.vms, w.restarted), (2, 1));
}

#[test]
fn any_host_and_any_label_try_every_single_failure_and_report_the_worst() {
    // h1's VM (6 CPUs) fits nowhere else once h1 is gone; h2's and h3's VMs fit on h1.
    let doc = state(
        vec![
            host("h1", 8.0, &["s1"], "r1"),
            host("h2", 8.0, &["s1"], "r2"),
            host("h3", 8.0, &["s1"], "r2"),
        ],
        vec![
            vm("big", "h1", 6.0, "s1"),
            vm("x", "h2", 3.0, "s1"),
            vm("y", "h3", 3.0, "s1"),
        ],
    );
    let (r, w) = worst(&doc, &["any-host"]);
    let f = r.failures.unwrap();
    assert_eq!((f.scenarios, f.tolerated), (3, 2));
    assert_eq!(w.fail, "host:h1");
    assert_eq!(code_of(&w, "big"), Some("NO_ROOM"));
    // Rack r2 (h2 and h3) fails: h1 has 2 CPUs free, and neither x nor y fits.
    let (r, w) = worst(&doc, &["any:rack"]);
    let f = r.failures.unwrap();
    assert_eq!(f.scenarios, 2);
    assert_eq!(w.fail, "label:rack=r2");
    assert_eq!((w.vms, w.restarted), (2, 0));
}

#[test]
fn the_mip_restarts_what_best_fit_leaves_out() {
    // Survivors with 6 and 4 CPUs free; VMs of 3, 3, 2, 2. Best fit decreasing puts the first 3
    // on the host it fills most (4 free) and strands a 2; the MIP puts 3 + 3 and 2 + 2.
    let doc = state(
        vec![
            host("h1", 10.0, &["s1"], "r1"),
            host("h2", 6.0, &["s1"], "r1"),
            host("h3", 4.0, &["s1"], "r1"),
        ],
        vec![
            vm("a", "h1", 3.0, "s1"),
            vm("b", "h1", 3.0, "s1"),
            vm("c", "h1", 2.0, "s1"),
            vm("d", "h1", 2.0, "s1"),
        ],
    );
    let (_, w) = worst(&doc, &["host:h1"]);
    assert!(w.restartable, "{w:#?}");
    assert_eq!(w.decided_by, DecidedBy::Mip);
    assert_eq!(w.status, vmplace_wire::Status::Optimal);
}

#[test]
fn placed_requests_of_a_problem_run_where_the_phases_put_them() {
    // h2 has 5 CPUs free, so the request (6) goes to h1; when h1 fails it has nowhere to go.
    let mut busy = host("h2", 8.0, &["s1"], "r2");
    busy["used"] = json!({"cpu": 3});
    let doc = json!({
        "storage": [{"id": "s1", "capacity_gib": 1000}],
        "hosts": [host("h1", 8.0, &["s1"], "r1"), busy],
        "requests": [{"id": "r", "demand": {"cpu": 6, "memory_gib": 4}, "disk_gib": 10}]
    });
    let r = ask(&doc, &["any-host"]).unwrap();
    assert_eq!(r.requests_placed, 1);
    let f = r.failures.unwrap();
    assert_eq!((f.scenarios, f.tolerated), (2, 1));
    let w = f.worst.unwrap();
    assert_eq!((w.fail.as_str(), w.vms), ("host:h1", 1));
    assert_eq!(code_of(&w, "r"), Some("NO_ROOM"));
}

#[test]
fn failures_naming_nothing_or_badly_spelled_are_errors_at_their_flag() {
    let doc = state(vec![host("h1", 8.0, &["s1"], "r1")], vec![]);
    let errors = ask(&doc, &["host:nope", "label:rack=r9", "any:zone"]).expect_err("unknown");
    for at in ["--fail 1", "--fail 2", "--fail 3"] {
        assert!(
            errors.iter().any(|e| e.code == "E1801" && e.path == at),
            "{at}: {errors:#?}"
        );
    }
    let errors = ask(&doc, &["any-host", "any:rack"]).expect_err("two any");
    assert!(
        errors
            .iter()
            .any(|e| e.code == "E1802" && e.path == "--fail 2"),
        "{errors:#?}"
    );
    for bad in ["rack=r1", "label:rack", "host:", "any:"] {
        assert!(FailSpec::parse(bad).is_err(), "{bad}");
    }
    assert_eq!(FailSpec::parse("any-host"), Ok(FailSpec::AnyHost));
    assert_eq!(
        FailSpec::parse("label:rack=r1"),
        Ok(FailSpec::Label("rack".into(), "r1".into()))
    );
}

#[test]
fn the_cli_checks_failures_without_a_flavor() {
    let dir = std::env::temp_dir().join(format!("vmplace-fail-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("state.json");
    let doc = state(
        vec![
            host("h1", 8.0, &["s1"], "r1"),
            host("h2", 8.0, &["s1"], "r1"),
        ],
        vec![vm("a", "h1", 3.0, "s1")],
    );
    std::fs::write(&path, doc.to_string()).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vmplace"))
        .args(["capacity", path.to_str().unwrap(), "--fail", "any-host"])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["failures"]["scenarios"], 2);
    assert_eq!(v["failures"]["tolerated"], 2);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn scenarios_not_reached_within_the_time_limit_are_counted_as_unchecked() {
    let doc = state(
        vec![
            host("h1", 8.0, &["s1"], "r1"),
            host("h2", 8.0, &["s1"], "r1"),
            host("h3", 8.0, &["s1"], "r2"),
        ],
        vec![vm("a", "h1", 3.0, "s1")],
    );
    let q = Query {
        fails: vec![FailSpec::AnyHost],
        ..Query::default()
    };
    let o = Overrides {
        time_limit_s: Some(0.0),
        ..Overrides::default()
    };
    let r = capacity_text(&doc.to_string(), &q, &o, &RunConfig::default()).unwrap();
    let f = r.failures.unwrap();
    assert_eq!((f.scenarios, f.unchecked, f.tolerated), (3, 3, 0));
    assert!(f.worst.is_none() && f.not_tolerated.is_empty());
    // With time, all three are checked.
    let f = ask(&doc, &["any-host"]).unwrap().failures.unwrap();
    assert_eq!((f.scenarios, f.unchecked, f.tolerated), (3, 0, 3));
}

#[test]
fn a_vm_restarts_only_on_a_survivor_with_its_traits() {
    // h2 has the room, h3 the GPU; the GPU VM restarts on h3, the plain one anywhere. With h3
    // gone too, the GPU VM has no host with its traits.
    let mut gpu = host("h3", 8.0, &["s1"], "r2");
    gpu["traits"] = json!(["HW_GPU"]);
    let mut ml = vm("ml", "h1", 2.0, "s1");
    ml["required_traits"] = json!(["HW_GPU"]);
    let doc = state(
        vec![
            host("h1", 8.0, &["s1"], "r1"),
            host("h2", 32.0, &["s1"], "r1"),
            gpu,
        ],
        vec![ml, vm("web", "h1", 2.0, "s1")],
    );
    let (_, w) = worst(&doc, &["host:h1"]);
    assert!(w.restartable, "{w:#?}");
    let on = |v: &str| {
        w.witness
            .iter()
            .find(|r| r.vm == v)
            .map(|r| r.host.as_str())
    };
    assert_eq!(on("ml"), Some("h3"));
    let (_, w) = worst(&doc, &["host:h1", "host:h3"]);
    assert!(!w.restartable);
    assert_eq!(code_of(&w, "ml"), Some("NO_HOST_WITH_TRAITS"));
    assert_eq!(on_host(&w, "web"), Some("h2"));
}

fn on_host<'a>(w: &'a Scenario, vm: &str) -> Option<&'a str> {
    w.witness
        .iter()
        .find(|r| r.vm == vm)
        .map(|r| r.host.as_str())
}

// ------------------------------------------------------------ group rules (`groups[]`, #12)

fn member(id: &str, host: &str, group: &str) -> Value {
    json!({"id": id, "host": host, "storage": "s1", "demand": {"cpu": 1, "memory_gib": 1},
           "groups": [group]})
}

/// Racks r1 (h1, h2), r2 (h3, h4), r3 (h5): h1 fails.
fn racks_with(vms: Vec<Value>, group: Value) -> Value {
    let mut doc = state(
        vec![
            host("h1", 64.0, &["s1"], "r1"),
            host("h2", 64.0, &["s1"], "r1"),
            host("h3", 64.0, &["s1"], "r2"),
            host("h4", 64.0, &["s1"], "r2"),
            host("h5", 64.0, &["s1"], "r3"),
        ],
        vms,
    );
    doc["groups"] = json!([group]);
    doc
}

fn rack_of(host: &str) -> &'static str {
    match host {
        "h1" | "h2" => "r1",
        "h3" | "h4" => "r2",
        _ => "r3",
    }
}

#[test]
fn anti_affinity_over_racks_restarts_members_only_in_racks_with_a_place() {
    // `web` (one per rack): a and b ran on h1; c runs in r2. Only r3 has a place, and r1 (h2) once
    // a and b have left it: two restart, in r1 and r3.
    let doc = racks_with(
        vec![
            member("a", "h1", "web"),
            member("b", "h1", "web"),
            member("c", "h3", "web"),
        ],
        json!({"id": "web", "policy": "anti-affinity", "scope": "rack"}),
    );
    let (_, w) = worst(&doc, &["host:h1"]);
    let mut racks: Vec<&str> = w.witness.iter().map(|r| rack_of(&r.host)).collect();
    racks.sort();
    assert_eq!(racks, vec!["r1", "r3"], "{w:#?}");
    assert_eq!((w.restarted, w.bound), (2, 2));
    // Best fit, holding the rule as it books, finds it alone.
    assert_eq!(w.decided_by, DecidedBy::Witness);
    // A third member on h5 leaves one place (r1): one restarts; the rule is named.
    let doc = racks_with(
        vec![
            member("a", "h1", "web"),
            member("b", "h1", "web"),
            member("c", "h3", "web"),
            member("d", "h5", "web"),
        ],
        json!({"id": "web", "policy": "anti-affinity", "scope": "rack"}),
    );
    let (_, w) = worst(&doc, &["host:h1"]);
    assert_eq!(w.restarted, 1);
    assert_eq!(w.unrestartable[0].code, RestartCode::NoRoom, "{w:#?}");
    // With r1 failing whole, no rack has a place: the rule binds from the start.
    let (_, w) = worst(&doc, &["label:rack=r1"]);
    assert_eq!(w.restarted, 0);
    assert_eq!(code_of(&w, "a"), Some("ANTI_AFFINITY"));
}

#[test]
fn affinity_restarts_members_where_the_others_run_or_all_in_one_rack() {
    // `db` runs in r1 (a on h1, b on h2); h1 fails: a restarts on h2, never in r2 or r3.
    let db = json!({"id": "db", "policy": "affinity", "scope": "rack"});
    let doc = racks_with(
        vec![member("a", "h1", "db"), member("b", "h2", "db")],
        db.clone(),
    );
    let (_, w) = worst(&doc, &["host:h1"]);
    assert_eq!(on_host(&w, "a"), Some("h2"));
    // The whole of r1 fails: a and b restart together, in one rack.
    let (_, w) = worst(&doc, &["label:rack=r1"]);
    assert_eq!(w.restarted, 2);
    assert_eq!(rack_of(&w.witness[0].host), rack_of(&w.witness[1].host));
    assert_eq!(w.decided_by, DecidedBy::Witness);
    // h2 has no room left: a cannot join b, and says why.
    let mut full = doc.clone();
    full["vms"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": "big", "host": "h2", "storage": "s1",
        "demand": {"cpu": 63, "memory_gib": 1}}));
    let (_, w) = worst(&full, &["host:h1"]);
    assert_eq!(w.restarted, 0);
    assert_eq!(code_of(&w, "a"), Some("NO_ROOM"));
}

#[test]
fn spread_restarts_members_toward_the_emptiest_racks() {
    // `api` (max skew 1 over racks): r1 ran a, b on h1 and c on h2; r2 runs d, r3 none. h1 fails:
    // counts r1 1, r2 1, r3 0, so a and b restart one in r3 and the other anywhere but past
    // the skew.
    let api = json!({"id": "api", "policy": "spread", "scope": "rack", "max_skew": 1});
    let doc = racks_with(
        vec![
            member("a", "h1", "api"),
            member("b", "h1", "api"),
            member("c", "h2", "api"),
            member("d", "h3", "api"),
        ],
        api,
    );
    let (_, w) = worst(&doc, &["host:h1"]);
    assert_eq!(w.restarted, 2);
    assert_eq!(w.decided_by, DecidedBy::Witness);
    let mut counts = std::collections::BTreeMap::from([("r1", 1), ("r2", 1), ("r3", 0)]);
    for r in &w.witness {
        *counts.get_mut(rack_of(&r.host)).unwrap() += 1;
    }
    let (most, least) = (
        counts.values().max().unwrap(),
        counts.values().min().unwrap(),
    );
    assert!(most - least <= 1, "{counts:?}");
    assert_eq!(counts["r3"], 1);
}

#[test]
fn the_scenario_checker_recounts_group_rules() {
    let doc = racks_with(
        vec![
            member("a", "h1", "web"),
            member("b", "h1", "web"),
            member("c", "h3", "web"),
        ],
        json!({"id": "web", "policy": "anti-affinity", "scope": "rack"}),
    );
    let (_, mut w) = worst(&doc, &["host:h1"]);
    // Both into r3 (h5): two members in one rack.
    for r in &mut w.witness {
        r.host = "h5".into();
    }
    let s: State = serde_json::from_value(doc).unwrap();
    let v = check_scenario(&s, &w);
    assert!(
        v.iter().any(|x| x.rule == vmplace_check::Rule::GroupRule),
        "{v:#?}"
    );
}

#[test]
fn running_members_a_problem_counts_in_group_members_hold_their_rack_after_a_failure() {
    // `web` (one per rack): h2 (r1) runs a member the problem only counts. The request goes to
    // r2 (h3); when h3 fails, r1 is full and r3 does not exist: it cannot restart.
    let mut counted = host("h2", 8.0, &["s1"], "r1");
    counted["group_members"] = json!({"web": 1});
    let doc = json!({
        "storage": [{"id": "s1", "capacity_gib": 1000}],
        "hosts": [host("h1", 8.0, &["s1"], "r1"), counted, host("h3", 8.0, &["s1"], "r2")],
        "requests": [{"id": "a", "demand": {"cpu": 1, "memory_gib": 1}, "disk_gib": 1,
                      "groups": ["web"]}],
        "groups": [{"id": "web", "policy": "anti-affinity", "scope": "rack"}]
    });
    let r = ask(&doc, &["host:h3"]).unwrap();
    assert_eq!(r.requests_placed, 1);
    let w = r.failures.unwrap().worst.unwrap();
    assert_eq!(w.vms, 1, "{w:#?}");
    assert_eq!(code_of(&w, "a"), Some("ANTI_AFFINITY"));
}

#[test]
fn a_soft_group_does_not_hold_restarts() {
    let doc = racks_with(
        vec![
            member("a", "h1", "web"),
            member("b", "h1", "web"),
            member("c", "h3", "web"),
            member("d", "h5", "web"),
        ],
        json!({"id": "web", "policy": "anti-affinity", "scope": "rack", "hard": false}),
    );
    let (_, w) = worst(&doc, &["label:rack=r1"]);
    assert_eq!(w.restarted, 2);
}

#[test]
fn spread_restarts_hold_the_skew_where_best_fit_would_stack_them() {
    // r3's host fails with x and y of `api` (skew 1); r1 and r2 run one member each. h1 (r1) has
    // the least room (best fit's choice for both), but 3 against 1 is past the skew: one each.
    let mut doc = state(
        vec![
            host("h1", 3.0, &["s1"], "r1"),
            host("h2", 64.0, &["s1"], "r2"),
            host("h3", 64.0, &["s1"], "r3"),
        ],
        vec![
            member("m1", "h1", "api"),
            member("m2", "h2", "api"),
            member("x", "h3", "api"),
            member("y", "h3", "api"),
        ],
    );
    doc["groups"] = json!([{"id": "api", "policy": "spread", "scope": "rack", "max_skew": 1}]);
    let (_, w) = worst(&doc, &["host:h3"]);
    assert_eq!(w.restarted, 2);
    let mut hosts: Vec<&str> = w.witness.iter().map(|r| r.host.as_str()).collect();
    hosts.sort();
    assert_eq!(hosts, vec!["h1", "h2"]);
    assert_eq!(w.decided_by, DecidedBy::Witness);
}

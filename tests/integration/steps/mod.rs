//! Safe steps: plans run as ordered waves in which a VM counts on both hosts, no host exceeds a
//! capacity or the concurrency limit, pivots break swaps, and what cannot be ordered is dropped
//! with a code. Each test hands the sequencer a plan (`sequence_texts`, the path of
//! `migrate --sequence`) on a hand-made state where one rule decides the waves, and runs the
//! independent checker on the answer.

mod groups;

use serde_json::{json, Value};
use vmplace_check::{check_plan, Rule};
use vmplace_server::api::sequence_texts;
use vmplace_wire::state::{DropCode, Plan, State};

fn host(id: &str, cpu: f64) -> Value {
    json!({"id": id, "capacity": {"cpu": cpu, "memory_gib": 64}, "storage": ["s"]})
}

fn vm(id: &str, host: &str, cpu: f64) -> Value {
    json!({"id": id, "host": host, "storage": "s", "demand": {"cpu": cpu, "memory_gib": 4}})
}

fn state(hosts: Vec<Value>, vms: Vec<Value>, limit: usize) -> Value {
    json!({"storage": [{"id": "s", "capacity_gib": 1000}], "hosts": hosts, "vms": vms,
           "policy": {"max_concurrent_per_host": limit}})
}

fn migration(vm: &str, from: &str, to: &str) -> Value {
    json!({"vm": vm, "from": from, "to": to, "live": true, "reason": "overload",
           "score": {"total": 0, "power": 0, "balance": 0, "cost": 0},
           "candidates": [{"host": to, "accepted": true}], "asked": 1, "declined": {},
           "history_sent": {"samples": 0}})
}

fn plan_of(moves: &[(&str, &str, &str)]) -> Value {
    json!({"status": "feasible",
           "migrations": moves.iter().map(|(v, f, t)| migration(v, f, t)).collect::<Vec<_>>(),
           "messages": [], "hosts_after": {},
           "stats": {"overloaded_hosts": [], "emptied_hosts": [], "stayed": [], "power_before_w": 0,
                     "power_after_w": 0, "active_hosts_before": 0, "active_hosts_after": 0,
                     "time_s": 0}})
}

/// Sequences the moves and asserts the checker accepts the result.
fn sequenced(state: &Value, moves: &[(&str, &str, &str)]) -> Plan {
    let p = sequence_texts(&state.to_string(), &plan_of(moves).to_string())
        .unwrap_or_else(|e| panic!("{e:#?}"));
    let s: State = serde_json::from_value(state.clone()).unwrap();
    let violations = check_plan(&s, &p);
    assert!(violations.is_empty(), "{violations:#?}");
    p
}

fn wave_of(p: &Plan, vm: &str) -> Vec<usize> {
    (0..p.steps.len())
        .filter(|&w| p.steps[w].iter().any(|x| x == vm))
        .collect()
}

#[test]
fn a_target_takes_a_vm_only_once_the_vm_leaving_it_has_left() {
    // h2 is full with b until b has gone to h3; during a wave b still counts on h2.
    let s = state(
        vec![host("h1", 10.0), host("h2", 10.0), host("h3", 10.0)],
        vec![vm("a", "h1", 6.0), vm("b", "h2", 6.0)],
        8,
    );
    let p = sequenced(&s, &[("a", "h1", "h2"), ("b", "h2", "h3")]);
    assert_eq!(p.steps, vec![vec!["b".to_string()], vec!["a".to_string()]]);
    assert_eq!((p.stats.waves, p.stats.wave_floor), (2, 1));
    assert_eq!(p.migrations[0].vm, "b", "migrations follow the waves");
}

#[test]
fn two_full_hosts_swap_through_a_pivot_with_room() {
    let s = state(
        vec![host("h1", 10.0), host("h2", 10.0), host("h3", 10.0)],
        vec![vm("a", "h1", 10.0), vm("b", "h2", 10.0)],
        2,
    );
    let p = sequenced(&s, &[("a", "h1", "h2"), ("b", "h2", "h1")]);
    assert!(p.stats.dropped.is_empty());
    let a = p.migrations.iter().find(|m| m.vm == "a").unwrap();
    assert_eq!(a.via.as_deref(), Some("h3"));
    assert_eq!(a.to, "h2");
    assert_eq!(wave_of(&p, "a"), vec![0, 2]);
    assert_eq!(wave_of(&p, "b"), vec![1]);
    assert_eq!(p.hosts_after["h3"].vms, 0);
}

#[test]
fn the_pivot_is_the_host_with_most_room_left() {
    let s = state(
        vec![
            host("h1", 10.0),
            host("h2", 10.0),
            host("h3", 12.0),
            host("h4", 30.0),
        ],
        vec![vm("a", "h1", 10.0), vm("b", "h2", 10.0)],
        2,
    );
    let p = sequenced(&s, &[("a", "h1", "h2"), ("b", "h2", "h1")]);
    let pivots: Vec<_> = p.migrations.iter().filter_map(|m| m.via.clone()).collect();
    assert_eq!(pivots, vec!["h4".to_string()]);
}

#[test]
fn a_swap_with_no_pivot_is_dropped_with_its_code_and_the_vms_stay() {
    // h3 has room on CPU but does not reach the storage.
    let mut h3 = host("h3", 50.0);
    h3["storage"] = json!(["t"]);
    let mut s = state(
        vec![host("h1", 10.0), host("h2", 10.0), h3],
        vec![vm("a", "h1", 10.0), vm("b", "h2", 10.0)],
        2,
    );
    s["storage"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": "t", "capacity_gib": 10}));
    let p = sequenced(&s, &[("a", "h1", "h2"), ("b", "h2", "h1")]);
    assert!(p.migrations.is_empty() && p.steps.is_empty());
    let dropped: Vec<_> = p.stats.dropped.iter().map(|d| d.vm.as_str()).collect();
    assert_eq!(dropped.len(), 2, "{dropped:?}");
    assert!(p
        .stats
        .dropped
        .iter()
        .all(|d| d.code == DropCode::NoSafeOrder));
    assert_eq!((p.hosts_after["h1"].vms, p.hosts_after["h2"].vms), (1, 1));
    assert!(p.stats.stayed.contains(&"a".to_string()));
}

#[test]
fn no_host_runs_more_migrations_at_once_than_the_limit() {
    let hosts: Vec<Value> = (0..6).map(|i| host(&format!("h{i}"), 10.0)).collect();
    let vms: Vec<Value> = (1..6).map(|i| vm(&format!("v{i}"), "h0", 1.0)).collect();
    let moves: Vec<(String, String)> = (1..6).map(|i| (format!("v{i}"), format!("h{i}"))).collect();
    let moves: Vec<(&str, &str, &str)> = moves
        .iter()
        .map(|(v, t)| (v.as_str(), "h0", t.as_str()))
        .collect();
    for (limit, waves) in [(1, 5), (2, 3), (5, 1)] {
        let p = sequenced(&state(hosts.clone(), vms.clone(), limit), &moves);
        assert_eq!(
            (p.stats.waves, p.stats.wave_floor),
            (waves, waves),
            "limit {limit}"
        );
        assert!(p.steps.iter().all(|w| w.len() <= limit));
    }
}

#[test]
fn the_busiest_host_goes_first_and_the_waves_meet_the_floor() {
    // h0 sends to t1, t2, t3, which send on to u1, u2, u3 (listed first). In plan order the
    // t-moves would take the first wave and h0's three moves three more; busiest first needs 3.
    let names = ["h0", "t1", "t2", "t3", "u1", "u2", "u3"];
    let hosts: Vec<Value> = names.iter().map(|h| host(h, 10.0)).collect();
    let vms = vec![
        vm("x1", "t1", 1.0),
        vm("x2", "t2", 1.0),
        vm("x3", "t3", 1.0),
        vm("a1", "h0", 1.0),
        vm("a2", "h0", 1.0),
        vm("a3", "h0", 1.0),
    ];
    let moves = [
        ("x1", "t1", "u1"),
        ("x2", "t2", "u2"),
        ("x3", "t3", "u3"),
        ("a1", "h0", "t1"),
        ("a2", "h0", "t2"),
        ("a3", "h0", "t3"),
    ];
    let p = sequenced(&state(hosts, vms, 1), &moves);
    assert_eq!((p.stats.waves, p.stats.wave_floor), (3, 3));
}

#[test]
fn the_makespan_adds_each_waves_longest_migration() {
    // 4 GiB over half of 1000 Mbit/s: 65.536 s; two waves on h0 (limit 1).
    let mut big = vm("big", "h0", 1.0);
    big["demand"]["memory_gib"] = json!(8);
    let s = state(
        vec![host("h0", 10.0), host("h1", 10.0), host("h2", 10.0)],
        vec![vm("small", "h0", 1.0), big],
        1,
    );
    let p = sequenced(&s, &[("small", "h0", "h1"), ("big", "h0", "h2")]);
    let expect = (4.0 + 8.0) * 8.0 * 1024.0 / 500.0;
    assert!(
        (p.stats.makespan_s - expect).abs() < 1e-6,
        "{}",
        p.stats.makespan_s
    );
}

#[test]
fn a_group_member_arrives_only_after_the_other_has_left() {
    let mut a = vm("a", "h1", 1.0);
    a["anti_affinity"] = json!("g");
    let mut b = vm("b", "h2", 1.0);
    b["anti_affinity"] = json!("g");
    let s = state(
        vec![host("h1", 10.0), host("h2", 10.0), host("h3", 10.0)],
        vec![a, b],
        8,
    );
    let p = sequenced(&s, &[("a", "h1", "h2"), ("b", "h2", "h3")]);
    assert_eq!(p.steps, vec![vec!["b".to_string()], vec!["a".to_string()]]);
}

#[test]
fn the_checker_replays_the_waves() {
    let s = state(
        vec![host("h1", 10.0), host("h2", 10.0), host("h3", 10.0)],
        vec![vm("a", "h1", 6.0), vm("b", "h2", 6.0), vm("c", "h2", 1.0)],
        1,
    );
    let mut p = sequenced(&s, &[("a", "h1", "h2"), ("b", "h2", "h3")]);
    let st: State = serde_json::from_value(s.clone()).unwrap();
    let rules =
        |p: &Plan| -> Vec<Rule> { check_plan(&st, p).into_iter().map(|v| v.rule).collect() };
    // Both in one wave: h2 holds a and b at once, and takes part in two migrations.
    let good = p.clone();
    p.steps = vec![vec!["a".into(), "b".into()]];
    let r = rules(&p);
    assert!(
        r.contains(&Rule::UnsafeStep) && r.contains(&Rule::Concurrency),
        "{r:?}"
    );
    // No steps, a VM twice, a VM that does not move.
    for steps in [
        vec![],
        vec![vec!["b".into()], vec!["a".into()], vec!["a".into()]],
        vec![vec!["b".into()], vec!["a".into(), "c".into()]],
    ] {
        let mut q = good.clone();
        q.steps = steps;
        assert!(rules(&q).contains(&Rule::BadSteps), "{:?}", q.steps);
    }
    // A pivot that does not exist.
    let mut q = good.clone();
    q.migrations[0].via = Some("nowhere".into());
    assert!(rules(&q).contains(&Rule::UnknownHost));
}

#[test]
fn a_plan_to_sequence_with_bad_moves_gets_every_error_with_its_path() {
    let mut h3 = host("h3", 10.0);
    h3["state"] = json!("maintenance");
    let s = state(
        vec![host("h1", 10.0), host("h2", 10.0), h3],
        vec![vm("a", "h1", 1.0), vm("b", "h2", 1.0)],
        2,
    );
    let plan = plan_of(&[
        ("ghost", "h1", "h2"),
        ("a", "h2", "h2"),
        ("b", "h2", "h3"),
        ("b", "h2", "h1"),
        ("a", "h1", "h9"),
    ]);
    let errors = sequence_texts(&s.to_string(), &plan.to_string()).unwrap_err();
    let got: Vec<(&str, &str)> = errors
        .iter()
        .map(|e| (e.code.code(), e.path.as_str()))
        .collect();
    for want in [
        ("E1701", "/plan/migrations/0/vm"),
        ("E1702", "/plan/migrations/1/from"),
        ("E1703", "/plan/migrations/2/to"),
        ("E1704", "/plan/migrations/3/vm"),
        ("E1703", "/plan/migrations/4/to"),
    ] {
        assert!(got.contains(&want), "{want:?} not in {got:?}");
    }
}

#[test]
fn the_first_planetlab_round_runs_in_as_few_waves_as_its_busiest_host_allows() {
    // The shipped 40-host day state; vmplace's own plan, resequenced with one migration per host.
    let text =
        std::fs::read_to_string("instances/migration/planetlab-20110303-h40-vm100.json").unwrap();
    let state = vmplace_core::validation::read_state(&text).unwrap();
    let p = vmplace_core::migration::plan(&state);
    assert!(p.migrations.len() > 5, "{}", p.migrations.len());
    assert!(check_plan(&state, &p).is_empty());
    assert!(p.stats.waves >= p.stats.wave_floor && p.stats.wave_floor >= 1);
    assert!(
        p.stats.waves <= p.stats.wave_floor + 1,
        "{} waves, floor {}",
        p.stats.waves,
        p.stats.wave_floor
    );
    assert!(p.stats.makespan_s > 0.0);
}

#[test]
fn an_overcommitted_target_counts_its_usable_capacity_at_every_step() {
    // h2 has 10 CPUs at 2:1 with 2 reserved, (10 - 2) * 2 = 16 usable, and runs b (10): a (6)
    // fits beside it. At 1:1 (8 usable) it does not, and the move is dropped.
    let mut h2 = host("h2", 10.0);
    h2["allocation_ratio"] = json!({"cpu": 2.0});
    h2["reserved"] = json!({"cpu": 2});
    let s = state(
        vec![host("h1", 10.0), h2],
        vec![vm("a", "h1", 6.0), vm("b", "h2", 10.0)],
        2,
    );
    let p = sequenced(&s, &[("a", "h1", "h2")]);
    assert_eq!(p.steps, vec![vec!["a".to_string()]]);
    let mut tight = s.clone();
    tight["hosts"][1]["allocation_ratio"] = json!({"cpu": 1.0});
    let p = sequenced(&tight, &[("a", "h1", "h2")]);
    assert!(p.migrations.is_empty(), "{p:#?}");
    assert_eq!(p.stats.dropped.len(), 1);
}

#[test]
fn two_arrivals_that_fit_one_at_a_time_go_in_different_waves() {
    // h2 (10 CPUs) keeps c (5) until c has left; a and b (3 each) arrive. c + a + b = 11 at once
    // is too much even with the limit at 3, so one of them waits.
    let s = state(
        vec![
            host("h1", 10.0),
            host("h2", 10.0),
            host("h3", 10.0),
            host("h4", 10.0),
        ],
        vec![vm("a", "h1", 3.0), vm("b", "h4", 3.0), vm("c", "h2", 5.0)],
        3,
    );
    let p = sequenced(
        &s,
        &[("c", "h2", "h3"), ("a", "h1", "h2"), ("b", "h4", "h2")],
    );
    assert_eq!(p.steps.len(), 2, "{:?}", p.steps);
    assert_ne!(wave_of(&p, "a"), wave_of(&p, "b"));
}

#[test]
fn the_busiest_host_moves_in_the_first_wave() {
    // h1 takes part in four migrations, the most; with one migration per host at a time, its
    // first (m2, to h3) opens the plan, although m1 (h2 to h3) comes first in the plan.
    let hosts = (1..=5).map(|i| host(&format!("h{i}"), 100.0)).collect();
    let vms = vec![
        vm("m1", "h2", 1.0),
        vm("m2", "h1", 1.0),
        vm("m3", "h1", 1.0),
        vm("m4", "h1", 1.0),
        vm("m5", "h1", 1.0),
    ];
    let s = state(hosts, vms, 1);
    let p = sequenced(
        &s,
        &[
            ("m1", "h2", "h3"),
            ("m2", "h1", "h3"),
            ("m3", "h1", "h2"),
            ("m4", "h1", "h3"),
            ("m5", "h1", "h4"),
        ],
    );
    assert_eq!(wave_of(&p, "m2"), vec![0], "{:?}", p.steps);
    assert_eq!((p.steps.len(), p.stats.wave_floor), (4, 4));
}

#[test]
fn the_pivot_is_the_host_with_the_largest_share_of_room_not_the_most_cpus() {
    // h3 has 30 CPUs left after a (of 100: 30 %), h4 10 (of 20: 50 %).
    let s = state(
        vec![
            host("h1", 10.0),
            host("h2", 10.0),
            host("h3", 100.0),
            host("h4", 20.0),
        ],
        vec![
            vm("a", "h1", 10.0),
            vm("b", "h2", 10.0),
            vm("c", "h3", 60.0),
        ],
        2,
    );
    let p = sequenced(&s, &[("a", "h1", "h2"), ("b", "h2", "h1")]);
    let pivots: Vec<_> = p.migrations.iter().filter_map(|m| m.via.clone()).collect();
    assert_eq!(pivots, vec!["h4".to_string()]);
}

#[test]
fn a_pivot_holds_no_member_of_the_vms_group() {
    // h3 has the most room but runs g, a member of a's group: the pivot is h4.
    let mut a = vm("a", "h1", 10.0);
    a["anti_affinity"] = json!("grp");
    let mut g = vm("g", "h3", 1.0);
    g["anti_affinity"] = json!("grp");
    let s = state(
        vec![
            host("h1", 10.0),
            host("h2", 10.0),
            host("h3", 50.0),
            host("h4", 20.0),
        ],
        vec![a, vm("b", "h2", 10.0), g],
        2,
    );
    let p = sequenced(&s, &[("a", "h1", "h2"), ("b", "h2", "h1")]);
    let pivots: Vec<_> = p.migrations.iter().filter_map(|m| m.via.clone()).collect();
    assert_eq!(pivots, vec!["h4".to_string()]);
}

#[test]
fn the_checker_sees_group_members_meet_during_a_wave() {
    // Final states are fine in both plans; the waves are not.
    let member = |id: &str, host: &str| {
        let mut v = vm(id, host, 1.0);
        v["anti_affinity"] = json!("grp");
        v
    };
    let s = state(
        vec![
            host("h1", 10.0),
            host("h2", 10.0),
            host("h3", 10.0),
            host("h4", 10.0),
        ],
        vec![member("a", "h1"), member("b", "h2")],
        8,
    );
    let st: State = serde_json::from_value(s.clone()).unwrap();
    let rules =
        |p: &Plan| -> Vec<Rule> { check_plan(&st, p).into_iter().map(|v| v.rule).collect() };
    // a arrives at h2 in the wave in which b leaves it: b still counts there.
    let mut p = sequenced(&s, &[("a", "h1", "h2"), ("b", "h2", "h3")]);
    assert!(rules(&p).is_empty());
    p.steps = vec![vec!["a".into(), "b".into()]];
    assert!(rules(&p).contains(&Rule::AntiAffinity), "{:?}", rules(&p));
    // a arrives at h3 in wave 1, b in wave 2 while a is still there, a leaves in wave 3.
    let mut p = sequenced(&s, &[("a", "h1", "h4")]);
    p.migrations[0].to = "h4".into();
    p.migrations[0].via = Some("h3".into());
    let b: vmplace_wire::state::Migration =
        serde_json::from_value(migration("b", "h2", "h3")).unwrap();
    p.migrations.push(b);
    p.steps = vec![vec!["a".into()], vec!["b".into()], vec!["a".into()]];
    assert!(rules(&p).contains(&Rule::AntiAffinity), "{:?}", rules(&p));
    // The same with b arriving after a has left is fine.
    p.steps = vec![vec!["a".into()], vec!["a".into()], vec!["b".into()]];
    assert!(rules(&p).is_empty(), "{:?}", rules(&p));
}

#[test]
fn the_checker_allows_rounding_noise_relative_to_large_capacities() {
    // 10^6 MIPS filled exactly in decimal (400,000.1 + 599,999.9), which f64 rounds a little
    // either way: not an overflow. Half a MIPS over is one, at any scale: the tolerance is
    // absolute, 10^-6 of the unit plus the rounding (issue 27, M3; it was 10^-6 x (1 + capacity),
    // one MIPS here).
    let rules = |a: f64| -> Vec<Rule> {
        let s = state(
            vec![host("h1", 1e6), host("h2", 1e6)],
            vec![vm("a", "h1", a), vm("b", "h2", 599_999.9)],
            2,
        );
        let st: State = serde_json::from_value(s).unwrap();
        let mut p: Plan = serde_json::from_value(plan_of(&[("a", "h1", "h2")])).unwrap();
        p.steps = vec![vec!["a".into()]];
        check_plan(&st, &p).into_iter().map(|v| v.rule).collect()
    };
    let r = rules(400_000.1);
    assert!(
        !r.contains(&Rule::UnsafeStep) && !r.contains(&Rule::HostCapacity),
        "{r:?}"
    );
    let r = rules(400_000.6);
    assert!(
        r.contains(&Rule::UnsafeStep) && r.contains(&Rule::HostCapacity),
        "{r:?}"
    );
}

#[test]
fn the_floor_counts_a_busy_target_too() {
    // Four VMs from four hosts to h5, one migration per host at a time: h5 sets a floor of 4.
    let hosts = (1..=5).map(|i| host(&format!("h{i}"), 100.0)).collect();
    let vms = (1..=4)
        .map(|i| vm(&format!("v{i}"), &format!("h{i}"), 1.0))
        .collect();
    let s = state(hosts, vms, 1);
    let p = sequenced(
        &s,
        &[
            ("v1", "h1", "h5"),
            ("v2", "h2", "h5"),
            ("v3", "h3", "h5"),
            ("v4", "h4", "h5"),
        ],
    );
    assert_eq!((p.steps.len(), p.stats.wave_floor), (4, 4));
}

#[test]
fn a_dropped_move_leaves_no_migrate_message_and_its_host_not_emptied() {
    // The swap of the no-pivot test, with the plan's messages and emptied hosts filled in: after
    // the drop, neither a nor b migrates, h1 still runs a VM, and c's move stands (h4 and h5 are
    // too small to be pivots).
    let mut h3 = host("h3", 50.0);
    h3["storage"] = json!(["t"]);
    let hosts = vec![
        host("h1", 10.0),
        host("h2", 10.0),
        h3,
        host("h4", 5.0),
        host("h5", 5.0),
    ];
    let vms = vec![vm("a", "h1", 10.0), vm("b", "h2", 10.0), vm("c", "h4", 1.0)];
    let mut s = state(hosts, vms, 2);
    s["storage"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": "t", "capacity_gib": 10}));
    let mut plan = plan_of(&[("a", "h1", "h2"), ("b", "h2", "h1"), ("c", "h4", "h5")]);
    let msg = |kind: &str, vm: &str, from: &str, to: &str| json!({"kind": kind, "vm": vm, "from": from, "to": to});
    plan["messages"] = json!([
        msg("migrate", "a", "h1", "h2"),
        msg("migrate", "b", "h2", "h1"),
        msg("migrate", "c", "h4", "h5")
    ]);
    plan["stats"]["emptied_hosts"] = json!(["h1", "h4"]);
    let p = sequence_texts(&s.to_string(), &plan.to_string()).unwrap_or_else(|e| panic!("{e:#?}"));
    assert_eq!(p.stats.dropped.len(), 2);
    let migrating: Vec<&str> = p.messages.iter().map(|m| m.vm.as_str()).collect();
    assert_eq!(migrating, vec!["c"]);
    assert_eq!(p.stats.emptied_hosts, vec!["h4".to_string()]);
}

#[test]
fn the_busiest_target_moves_in_the_first_wave() {
    // The mirror of the busiest source: h1 receives four migrations; its first (m2, from h3)
    // opens the plan, although m1 (h3 to h2) comes first in the plan.
    let hosts = (1..=5).map(|i| host(&format!("h{i}"), 100.0)).collect();
    let vms = vec![
        vm("m1", "h3", 1.0),
        vm("m2", "h3", 1.0),
        vm("m3", "h2", 1.0),
        vm("m4", "h3", 1.0),
        vm("m5", "h4", 1.0),
    ];
    let s = state(hosts, vms, 1);
    let p = sequenced(
        &s,
        &[
            ("m1", "h3", "h2"),
            ("m2", "h3", "h1"),
            ("m3", "h2", "h1"),
            ("m4", "h3", "h1"),
            ("m5", "h4", "h1"),
        ],
    );
    assert_eq!(wave_of(&p, "m2"), vec![0], "{:?}", p.steps);
}

//! Issue 27 (hardening III), capacities at the top of the documented range: no answer exceeds a
//! capacity by HiGHS' tolerance (M3: the storage and joint MIPs put 14 GiB too many on a 1e8 GiB
//! system, marked `feasible` or `optimal`, and `vmplace check` agreed), the checker holds
//! capacities to an absolute tolerance, and a storage-phase answer counts the soft violations the
//! pool already had (L1). Reproducers in tests/data/hardening3/.

use serde_json::{json, Value};
use std::collections::BTreeMap;
use vmplace_check::{check, Expect, Rule};
use vmplace_core::domain::settings::Overrides;
use vmplace_core::placement::{Mode, RunConfig};
use vmplace_server::api::solve_text;
use vmplace_wire::{Problem, Solution, SolverKind};

const DATA: &str = "tests/data/hardening3";

/// A 1e8 GiB storage system, two hosts of 1e8 CPU, four VMs of 25,000,002.5 CPU (1 GiB each) and
/// four images of 25,000,002.5 GiB (1 CPU each): all eight overfill the system by 14 GiB.
const PROBE: &str = "tolprobe2-100000000-1e-07.json";

fn text(name: &str) -> String {
    let path = format!("{}/{DATA}/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn problem(text: &str) -> Problem {
    serde_json::from_str(text).unwrap()
}

fn solve(text: &str, mode: Mode, solver: SolverKind) -> Solution {
    let o = Overrides {
        solver: Some(solver),
        ..Default::default()
    };
    solve_text(text, mode, &o, &RunConfig::default()).expect("a valid problem")
}

/// What each storage system (GiB) and each host's resource holds after the answer, summed in
/// f64: every amount of these documents is a multiple of 0.5, so the sums are exact.
fn in_use(p: &Problem, s: &Solution) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for x in &s.placements {
        let r = p.requests.iter().find(|r| r.id == x.request).unwrap();
        *out.entry(format!("storage {}", x.storage)).or_default() += r.disk_gib;
        if let Some(h) = &x.host {
            for (k, v) in &r.demand {
                *out.entry(format!("host {h} {k}")).or_default() += v;
            }
        }
    }
    out
}

#[test]
fn no_solver_fills_a_1e8_gib_system_or_host_past_its_capacity() {
    let text = text(PROBE);
    let p = problem(&text);
    let runs = [
        (Mode::Storage, Expect::StorageOnly, SolverKind::Mip),
        (Mode::Storage, Expect::StorageOnly, SolverKind::Greedy),
        (Mode::Place, Expect::WithHosts, SolverKind::Mip),
        (Mode::Place, Expect::WithHosts, SolverKind::Joint),
        (Mode::Place, Expect::WithHosts, SolverKind::Greedy),
        (Mode::Place, Expect::WithHosts, SolverKind::BestFit),
    ];
    for (mode, expect, solver) in runs {
        let s = solve(&text, mode, solver);
        for (what, used) in in_use(&p, &s) {
            assert!(
                used <= 1e8,
                "{mode:?} {solver:?}: {what} holds {used} of 1e8"
            );
        }
        assert!(s.placements.len() <= 7, "{mode:?} {solver:?}");
        let v = check(&p, &s, expect);
        assert!(v.is_empty(), "{mode:?} {solver:?}: {v:#?}");
    }
}

#[test]
fn an_overfilled_mip_answer_is_repaired_to_the_most_that_fits_not_marked_optimal() {
    // Seven of the eight fit (three of the four large images); the MIPs placed all eight.
    let text = text(PROBE);
    for (mode, solver) in [
        (Mode::Storage, SolverKind::Mip),
        (Mode::Place, SolverKind::Mip),
        (Mode::Place, SolverKind::Joint),
    ] {
        let s = solve(&text, mode, solver);
        assert_eq!(
            s.placements.len(),
            7,
            "{mode:?} {solver:?}: {:?}",
            s.unplaced
        );
        let left = &s.unplaced[0];
        assert!(
            left.request.starts_with('d'),
            "{mode:?} {solver:?}: {left:?}"
        );
        assert!(
            left.reason.starts_with("storage_capacity"),
            "{mode:?} {solver:?}: {left:?}"
        );
        assert!(s.placed_weight_bound >= s.placed_weight);
    }
}

/// The answer vmplace gave before the fix: all eight on `s1`, the four large VMs on `h1`.
fn overfilled_answer(p: &Problem) -> Solution {
    let placements = p
        .requests
        .iter()
        .map(|r| {
            let host = if r.id.starts_with('r') { "h1" } else { "h0" };
            json!({"request": r.id, "storage": "s1", "host": host})
        })
        .collect::<Vec<Value>>();
    serde_json::from_value(json!({
        "status": "feasible", "placed_weight": 8.0, "placed_weight_bound": 8.0,
        "objective": 1.0, "bound": 0.0, "gap": 1.0,
        "placements": placements, "unplaced": [],
        "stats": {"solver": "mip", "solve_time_s": 0.1, "placed": 8, "requests": 8, "phases": []}
    }))
    .unwrap()
}

#[test]
fn the_checker_rejects_14_gib_over_1e8_and_10_cpu_over_a_1e8_host() {
    let p = problem(&text(PROBE));
    let v = check(&p, &overfilled_answer(&p), Expect::WithHosts);
    let mut rules: Vec<Rule> = v.iter().map(|x| x.rule).collect();
    rules.sort_by_key(|r| r.name());
    let mut expected = vec![Rule::StorageCapacity, Rule::HostCapacity];
    expected.sort_by_key(|r| r.name());
    assert_eq!(rules, expected, "{v:#?}");
    let message = |rule: Rule| {
        let found = v
            .iter()
            .find(|x| x.rule == rule)
            .expect("the rule is reported");
        found.message.clone()
    };
    let storage = message(Rule::StorageCapacity);
    assert!(storage.contains("by 14 GiB"), "{storage}");
    let host = message(Rule::HostCapacity);
    assert!(host.contains("by 10"), "{host}");
}

/// One storage system of `capacity` GiB holding images of `disks` GiB, and a host for them.
fn filled(capacity: f64, disks: &[f64]) -> (Problem, Solution) {
    let requests: Vec<Value> = (0..disks.len())
        .map(|i| json!({"id": format!("r{i}"), "demand": {"cpu": 1}, "disk_gib": disks[i]}))
        .collect();
    let p: Problem = serde_json::from_value(json!({
        "storage": [{"id": "s", "capacity_gib": capacity}],
        "hosts": [{"id": "h", "capacity": {"cpu": 1000}, "storage": ["s"]}],
        "requests": requests
    }))
    .unwrap();
    let placements: Vec<Value> = (0..disks.len())
        .map(|i| json!({"request": format!("r{i}"), "storage": "s"}))
        .collect();
    let s: Solution = serde_json::from_value(json!({
        "status": "feasible", "placed_weight": disks.len() as f64,
        "placed_weight_bound": disks.len() as f64, "objective": 1.0, "bound": 0.0, "gap": 0.0,
        "placements": placements, "unplaced": [],
        "stats": {"solver": "mip", "solve_time_s": 0.1, "placed": disks.len(),
                  "requests": disks.len(), "phases": []}
    }))
    .unwrap();
    (p, s)
}

fn storage_rules(capacity: f64, disks: &[f64]) -> Vec<Rule> {
    let (p, s) = filled(capacity, disks);
    check(&p, &s, Expect::StorageOnly)
        .into_iter()
        .map(|v| v.rule)
        .collect()
}

#[test]
fn the_checkers_capacity_tolerance_is_a_millionth_of_a_unit_at_any_scale() {
    // Full to the last GiB of 1e12 is within; one GiB more is not (the relative tolerance let
    // 1e6 GiB more through).
    assert!(storage_rules(1e12, &[5e11, 5e11]).is_empty());
    assert_eq!(
        storage_rules(1e12, &[5e11, 5e11 + 1.0]),
        vec![Rule::StorageCapacity]
    );
    // At 10 GiB, 1e-6 GiB over is within and 1e-5 is not.
    assert!(storage_rules(10.0, &[5.0, 5.000_000_5]).is_empty());
    assert_eq!(
        storage_rules(10.0, &[5.0, 5.000_01]),
        vec![Rule::StorageCapacity]
    );
    // Ten images of 1e11 + 0.1 GiB fill 1e12 + 1 GiB exactly in decimal, a little above it in
    // f64: within.
    assert!(storage_rules(1e12 + 1.0, &[1e11 + 0.1; 10]).is_empty());
}

#[test]
fn a_storage_answer_counts_the_soft_violations_the_pool_already_had() {
    // `g` (spread, soft, max_skew 1) runs three members on `h1` and none on `h2`: skew 3, two
    // violations before the call. A storage answer puts no member on a host, so still two.
    let text = text("storage-soft-preskew.json");
    let p = problem(&text);
    for solver in [SolverKind::Mip, SolverKind::Greedy] {
        let s = solve(&text, Mode::Storage, solver);
        assert_eq!(s.placements.len(), 1, "{solver:?}");
        assert_eq!(
            s.stats.soft_violations.get("g"),
            Some(&2),
            "{solver:?}: {:?}",
            s.stats.soft_violations
        );
        let v = check(&p, &s, Expect::StorageOnly);
        assert!(v.is_empty(), "{solver:?}: {v:#?}");
    }
}

//! Issue 26: the heuristics schedulers run today as named solvers, vmplace never below the best
//! of them on randomly drawn pools, the whole limit used unless the answer is proven, and bounds
//! from the joint model where it answers after the phases.

use crate::common::*;
use serde_json::{json, Value};
use vmplace_core::domain::{evaluate, Domain, Settings};
use vmplace_core::placement::heuristics::{self, Heuristic};
use vmplace_core::placement::{fixed_storage, Mode};
use vmplace_generate::sweep::sweep_pool;
use vmplace_wire::{SolverKind, Status};

fn with_solver(solver: SolverKind) -> Knobs {
    Knobs {
        solver,
        time_limit_s: 2.0,
        ..Default::default()
    }
}

/// Two storage systems (`big` has more free space) and three hosts whose free CPU and memory are
/// far from proportional; `big` reaches only `full`.
fn weighers_pool(requests: Value) -> Value {
    json!({
        "storage": [storage("big", 1000.0), storage("small", 500.0)],
        "hosts": [
            {"id": "full", "capacity": {"cpu": 8, "memory_gib": 8}, "used": {"cpu": 8, "memory_gib": 8},
             "storage": ["big"]},
            {"id": "ram", "capacity": {"cpu": 10, "memory_gib": 64}, "storage": ["small"]},
            {"id": "cpu", "capacity": {"cpu": 40, "memory_gib": 24}, "storage": ["small"]},
            {"id": "snug", "capacity": {"cpu": 4, "memory_gib": 20}, "storage": ["small"]}
        ],
        "requests": requests
    })
}

#[test]
fn openstack_retries_the_next_storage_and_takes_the_host_with_most_free_ram() {
    // Cinder's weigher prefers `big` (most free space), whose only host is full: with retries the
    // request goes to `small`, and Nova's RAM weigher picks `ram` (64 GiB free).
    let doc = weighers_pool(json!([req("r", 2.0, 8.0, 50.0)]));
    let s = solve_with(&doc, Mode::Place, &with_solver(SolverKind::Openstack));
    assert_eq!(storage_of(&s, "r").as_deref(), Some("small"));
    assert_eq!(host_of(&s, "r").as_deref(), Some("ram"));
    assert_eq!(s.stats.solver, "openstack,openstack");
}

#[test]
fn best_fit_takes_the_host_with_least_left_and_balanced_the_most_even() {
    let doc = weighers_pool(json!([req("r", 2.0, 8.0, 50.0)]));
    // Left after the VM, as shares of each host: ram (0.8, 0.875), cpu (0.95, 0.667),
    // snug (0.5, 0.6). Best fit: the smallest sum, snug. Balanced: the largest smallest share,
    // ram (0.8 against 0.667 and 0.5).
    let best_fit = solve_with(&doc, Mode::Place, &with_solver(SolverKind::BestFit));
    assert_eq!(host_of(&best_fit, "r").as_deref(), Some("snug"));
    let balanced = solve_with(&doc, Mode::Place, &with_solver(SolverKind::Balanced));
    assert_eq!(host_of(&balanced, "r").as_deref(), Some("ram"));
}

#[test]
fn heuristics_take_requests_in_input_order() {
    // One host with room for either VM but not both: the first request wins, as in a
    // scheduler, even though the second is larger.
    let doc = json!({
        "storage": [storage("s", 1000.0)],
        "hosts": [host("h", 4.0, 8.0, &["s"])],
        "requests": [req("small", 1.0, 2.0, 10.0), req("large", 4.0, 8.0, 10.0)]
    });
    for solver in [
        SolverKind::Openstack,
        SolverKind::BestFit,
        SolverKind::Balanced,
    ] {
        let s = solve_with(&doc, Mode::Place, &with_solver(solver));
        assert_eq!(host_of(&s, "small").as_deref(), Some("h"), "{solver:?}");
        assert_eq!(host_of(&s, "large"), None, "{solver:?}");
    }
}

#[test]
fn storage_by_host_ram_prefers_the_system_whose_hosts_have_most_memory_free() {
    let doc = json!({
        "storage": [storage("roomy", 1000.0), storage("ramful", 200.0)],
        "hosts": [host("a", 8.0, 16.0, &["roomy"]), host("b", 8.0, 128.0, &["ramful"])],
        "requests": [req("r", 1.0, 4.0, 20.0)]
    });
    let problem = parse(&doc, Mode::Place);
    let d = Domain::from_problem(&problem, Settings::default());
    let storage_of = |h: Heuristic| {
        let a = heuristics::place(&d, &fixed_storage(&d), h, &|| false);
        a.storage[vmplace_core::domain::RequestIx(0)].map(|s| d.storage[s].id.clone())
    };
    assert_eq!(storage_of(Heuristic::OPENSTACK).as_deref(), Some("roomy"));
    let by_ram = Heuristic::ALL
        .into_iter()
        .find(|h| h.solver().name() == "openstack+host-ram")
        .unwrap();
    assert_eq!(storage_of(by_ram).as_deref(), Some("ramful"));
}

/// The best placed weight of the heuristics schedulers run, on a document.
fn best_heuristic(doc: &Value) -> f64 {
    let problem = parse(doc, Mode::Place);
    let d = Domain::from_problem(&problem, Settings::default());
    Heuristic::ALL
        .into_iter()
        .map(|h| {
            let a = heuristics::place(&d, &fixed_storage(&d), h, &|| false);
            evaluate::placed_weight(&d, &a, true)
        })
        .fold(0.0, f64::max)
}

#[test]
fn never_below_the_best_heuristic_on_a_sweep_of_random_pools() {
    for i in 0..8 {
        let (problem, _) = sweep_pool(26, i, 120);
        let doc = serde_json::to_value(&problem).unwrap();
        let best = best_heuristic(&doc);
        let k = Knobs {
            time_limit_s: 1.0,
            ..Default::default()
        };
        // solve_with runs the independent checker on the answer.
        let s = solve_with(&doc, Mode::Place, &k);
        assert!(
            s.placed_weight >= best - 1e-9,
            "pool {i}: vmplace placed {} and the best heuristic {best}",
            s.placed_weight
        );
        assert!(s.placed_weight_bound >= s.placed_weight - 1e-9);
    }
}

#[test]
fn an_answer_that_is_not_proven_comes_at_the_time_limit() {
    // Calls with `groups[]` rules are left out: no stage follows their phases yet (the
    // neighbourhoods cannot model rules that count members across the pool), so they may still
    // return early without proof (issue 26, named in the closing note).
    let pools = (0..8)
        .map(|i| sweep_pool(27, i, 150).0)
        .filter(|p| p.groups.is_empty())
        .take(4);
    for (i, problem) in pools.enumerate() {
        let doc = serde_json::to_value(&problem).unwrap();
        let k = Knobs {
            time_limit_s: 1.0,
            ..Default::default()
        };
        let s = solve_with(&doc, Mode::Place, &k);
        if s.status != Status::Optimal {
            // "keeps improving until the limit": a lower bound on time, not a speed claim.
            assert!(
                s.stats.solve_time_s >= 0.9,
                "pool {i}: {:?} after {} s of 1 s",
                s.status,
                s.stats.solve_time_s
            );
        }
        assert!(s.stats.timings.baselines_s > 0.0);
    }
}

#[test]
fn the_joint_model_bounds_the_call_where_phase_1_relaxes_per_host_fit() {
    // Three VMs of 2.5 CPUs, two hosts of 4: phase 1 sums CPU over the hosts (7.5 <= 8) and
    // bounds the call at 3; no host takes two, and the joint model proves 2.
    let doc = json!({
        "storage": [storage("s", 1000.0)],
        "hosts": [host("h1", 4.0, 4.0, &["s"]), host("h2", 4.0, 4.0, &["s"])],
        "requests": [req("a", 2.5, 1.0, 10.0), req("b", 2.5, 1.0, 10.0), req("c", 2.5, 1.0, 10.0)]
    });
    let s = solve(&doc, Mode::Place);
    assert_eq!(s.placed_weight, 2.0);
    assert_eq!(s.placed_weight_bound, 2.0);
    assert_eq!(s.status, Status::Optimal);
    assert_eq!(s.gap, 0.0);
}

#[test]
fn storage_pack_costs_no_host_the_joint_model_proves_unneeded() {
    // The quick-start example: under `--storage-policy pack` phase 1's look-ahead strands a
    // request in each round; the joint model after the phases finds the 4 hosts it proves.
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("instances/examples/small.json");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let k = Knobs {
        storage_policy: vmplace_wire::Objective::Pack,
        time_limit_s: 2.0,
        ..Default::default()
    };
    let s = solve_with(&doc, Mode::Place, &k);
    assert_eq!(s.placed_weight, s.placed_weight_bound);
    assert_eq!(s.stats.active_hosts, 4);
    let host = s.stats.phases.last().unwrap();
    assert_eq!(host.status, Status::Optimal);
    assert_eq!(host.bound, 4.0);
}

#[test]
fn the_answer_says_when_phase_2s_bound_holds_only_for_phase_1s_storage() {
    use vmplace_wire::BoundScope;
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("instances/examples/small.json");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    // Phase 2's own MIP proves its host count for phase 1's storage choice only.
    let s = solve(&doc, Mode::Place);
    let phase2 = s.stats.phases.last().unwrap();
    assert_eq!(phase2.solver.name(), "mip");
    assert_eq!(phase2.bound_scope, BoundScope::Phase1Storage);
    assert_eq!(s.stats.phases[0].bound_scope, BoundScope::Call);
    // The joint model's bound holds for any answer to the call.
    let doc = json!({
        "storage": [storage("s", 1000.0)],
        "hosts": [host("h1", 4.0, 4.0, &["s"]), host("h2", 4.0, 4.0, &["s"])],
        "requests": [req("a", 2.5, 1.0, 10.0), req("b", 2.5, 1.0, 10.0), req("c", 2.5, 1.0, 10.0)]
    });
    let s = solve(&doc, Mode::Place);
    let phase2 = s.stats.phases.last().unwrap();
    assert_eq!(phase2.solver.name(), "joint");
    assert_eq!(phase2.bound_scope, BoundScope::Call);
}

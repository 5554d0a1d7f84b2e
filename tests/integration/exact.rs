//! Issue 11, small requests in milliseconds: the exact search of small phase-1 batches proves
//! the storage MIP's own optimum, and small answers say where their time went.

use crate::common::*;
use serde_json::Value;
use vmplace_core::domain::{Assignment, Domain, Settings};
use vmplace_core::model::storage::{self, Stage, StorageInput};
use vmplace_core::model::MipStatus;
use vmplace_core::placement::exact::storage_exact;
use vmplace_core::placement::Mode;
use vmplace_generate::{generate, GenParams, Topology};
use vmplace_wire::{Objective, PhaseSolver, Status};

fn pool(hosts: usize, storage: usize, requests: usize, seed: u64, racks: bool) -> Value {
    serde_json::to_value(generate(&GenParams {
        hosts,
        storage,
        requests,
        tightness: 0.9,
        density: 0.4,
        anti_affinity: 0.3,
        seed,
        topology: if racks {
            Topology::Racks
        } else {
            Topology::default()
        },
        ..Default::default()
    }))
    .unwrap()
}

/// The storage MIP's lexicographic optimum (weight, then cost), with no warm start.
fn mip_optimum(d: &Domain) -> (f64, f64) {
    let slack = vec![vec![0.0; d.resources.len()]; d.storage.len()];
    let warm = Assignment::empty(d.requests.len());
    let input = StorageInput {
        d,
        slack: &slack.clone().into(),
        warm: &warm,
    };
    let opts = exact_mip_options();
    let (w, _) = storage::solve(&input, Stage::Placement, &opts).unwrap();
    assert_eq!(w.status, MipStatus::Optimal);
    let policy = Stage::Policy {
        min_weight: w.objective,
    };
    let (c, _) = storage::solve(&input, policy, &opts).unwrap();
    assert_eq!(c.status, MipStatus::Optimal);
    (w.objective, c.objective)
}

#[test]
fn the_exact_search_proves_the_storage_mips_optimum_on_small_pools() {
    // Both policies, both topologies, anti-affinity groups and a tight pool: wherever the search
    // proves an answer, it is the MIP's optimum (mip_gap 0 on both sides).
    let mut proven = 0;
    let mut tried = 0;
    for seed in 1..=24u64 {
        let racks = seed % 2 == 0;
        let doc = if racks {
            pool(40, 4, 1 + (seed as usize % 8), seed, true)
        } else {
            pool(12, 4, 1 + (seed as usize % 8), seed, false)
        };
        for (sp, hp) in [
            (Objective::Balance, Objective::Balance),
            (Objective::Pack, Objective::Balance),
            (Objective::Balance, Objective::Pack),
        ] {
            let settings = Settings {
                storage_policy: sp,
                host_policy: hp,
                mip_gap: 0.0,
                ..Settings::default()
            };
            let d = Domain::from_problem(&parse(&doc, Mode::Storage), settings);
            let none = Assignment::empty(d.requests.len());
            tried += 1;
            let Some(p) = storage_exact(&d, &none, &|| false) else {
                continue;
            };
            proven += 1;
            let (w, c) = mip_optimum(&d);
            assert!((p.weight - w).abs() < 1e-6, "seed {seed}: {p:?} vs {w}");
            assert!(
                (p.cost - c).abs() < 1e-6,
                "seed {seed} {sp:?}/{hp:?}: {p:?} vs {c}"
            );
            assert!((p.bound - p.cost).abs() < 1e-9);
        }
    }
    // Under host policy `pack` the search proves only answers that open no idle host; it still
    // has to prove most of these.
    assert!(proven * 3 >= tried * 2, "proved {proven} of {tried}");
}

#[test]
fn a_small_batch_is_answered_optimal_without_highs() {
    let doc: Value = serde_json::from_str(
        &std::fs::read_to_string(format!(
            "{}/instances/service/h20-s4-vm10.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
    )
    .unwrap();
    let s = solve(&doc, Mode::Place);
    assert_eq!(s.status, Status::Optimal);
    assert_eq!(s.stats.phases[0].solver, PhaseSolver::Exact);
    assert!(s.stats.phases[0].exact_nodes > 0);
    assert_eq!(s.stats.phases[0].gap, 0.0);
    // No MIP was built for this answer: the timings say so.
    assert_eq!(s.stats.timings.model_s, 0.0);
    assert!(s.stats.timings.solve_s > 0.0);
}

#[test]
fn the_search_gives_up_rather_than_guess_past_its_budget() {
    // 64 requests on many storage systems: far past the node budget. The search must say so
    // (None) and the MIP answers instead, still proven.
    let doc = pool(40, 10, 64, 3, false);
    let d = Domain::from_problem(&parse(&doc, Mode::Storage), Settings::default());
    let none = Assignment::empty(d.requests.len());
    assert!(storage_exact(&d, &none, &|| false).is_none());
    let stopped = storage_exact(&d, &none, &|| true);
    assert!(stopped.is_none());
}

/// The MIP build time an answer reports is its own call's: one after another on one thread,
/// or side by side on two, each call reports at most its own solve time, and a call that builds
/// no MIP reports none however many were built before it on the same thread.
#[test]
fn the_build_time_is_the_calls_own() {
    let read = |name: &str| -> Value {
        let path = format!("{}/instances/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    };
    let (mip, exact) = (
        read("medium/h50-s5-vm200-loose.json"),
        read("service/h20-s4-vm10.json"),
    );
    let first = solve(&mip, Mode::Place);
    assert!(
        first.stats.timings.model_s > 0.0,
        "{:?}",
        first.stats.timings
    );
    assert!(first.stats.timings.model_s <= first.stats.solve_time_s);
    // Same thread, right after: the MIP call's build time is not carried over.
    assert_eq!(solve(&exact, Mode::Place).stats.timings.model_s, 0.0);
    let side = std::thread::spawn(move || solve(&mip, Mode::Place));
    assert_eq!(solve(&exact, Mode::Place).stats.timings.model_s, 0.0);
    let other = side.join().unwrap();
    assert!(other.stats.timings.model_s <= other.stats.solve_time_s);
}

/// A MIP that fails (here: its model cannot be written, its folder does not exist) leaves the
/// call to the greedy solver, whose answer is valid and says why.
#[test]
fn a_failed_mip_falls_back_to_greedy_and_says_so() {
    use vmplace_core::domain::settings::{settings, Overrides};
    use vmplace_core::placement::{run_or_fallback, RunConfig};
    let path = format!(
        "{}/instances/examples/small.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let problem = parse(&doc, Mode::Place);
    let domain = Domain::from_problem(&problem, settings(&problem, &Overrides::default()));
    let cfg = RunConfig {
        write_model: Some("/nonexistent/folder/model.lp".into()),
        ..RunConfig::default()
    };
    let s = run_or_fallback(&domain, Mode::Place, &cfg);
    let why = s.stats.mip_error.clone().unwrap_or_default();
    assert!(why.contains("folder does not exist"), "{:?}", s.stats);
    assert!(
        s.stats.solver.starts_with("greedy") && s.stats.placed > 0,
        "{:?}",
        s.stats
    );
    let report = vmplace_check::check(&problem, &s, vmplace_check::Expect::WithHosts);
    assert!(report.violations.is_empty(), "{:?}", report.violations);
}

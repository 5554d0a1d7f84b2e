//! Generated instances always yield checker-valid answers, from both solvers, in every mode.

use crate::common::*;
use proptest::prelude::*;
use vmplace_core::placement::Mode;
use vmplace_generate::{generate, GenParams};
use vmplace_wire::{Objective, SolverKind};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn generated_instances_yield_valid_answers(
        hosts in 2usize..25, storage in 1usize..6, requests in 1usize..60,
        density in 0.0f64..1.0, tightness in 0.5f64..1.4, heterogeneity in 0.0f64..1.0,
        anti_affinity in 0.0f64..0.5, seed in 0u64..1000, pack in any::<bool>(), greedy in any::<bool>(),
        overcommit in prop_oneof![Just(0.0), 0.0f64..1.0],
        traits in prop_oneof![Just(0.0), 0.0f64..1.0],
        groups in prop_oneof![Just(0usize), 1usize..12],
        racks in any::<bool>(),
    ) {
        let topology = if racks { vmplace_generate::Topology::Racks } else { vmplace_generate::Topology::Uniform };
        let p = GenParams { hosts, storage, requests, density, tightness, heterogeneity, anti_affinity, seed, overcommit, traits, groups, topology };
        let doc = serde_json::to_value(generate(&p)).unwrap();
        let policy = if pack { Objective::Pack } else { Objective::Balance };
        let k = Knobs {
            solver: if greedy { SolverKind::Greedy } else { SolverKind::Mip },
            storage_policy: policy,
            host_policy: policy,
            time_limit_s: 2.0,
            ..Default::default()
        };
        // solve_with asserts the checker accepts each answer.
        let placed = solve_with(&doc, Mode::Place, &k);
        let stored = solve_with(&doc, Mode::Storage, &k);
        prop_assert_eq!(placed.placements.len() + placed.unplaced.len(), requests);
        prop_assert_eq!(stored.placements.len() + stored.unplaced.len(), requests);
    }
}

#[test]
fn generator_is_deterministic_and_follows_the_size_mix() {
    let p = GenParams {
        requests: 4000,
        ..Default::default()
    };
    let a = generate(&p);
    assert_eq!(a, generate(&p));
    let one_core = a.requests.iter().filter(|r| r.demand["cpu"] == 1.0).count() as f64 / 4000.0;
    assert!((one_core - 0.498).abs() < 0.03, "1-core share {one_core}");
    let mid_mem = a
        .requests
        .iter()
        .filter(|r| r.demand["memory_gib"] > 4.0 && r.demand["memory_gib"] <= 8.0)
        .count() as f64
        / 4000.0;
    assert!((mid_mem - 0.373).abs() < 0.03, "4-8 GB share {mid_mem}");
}

//! Shipped instances solved by both solvers, every answer verified by the checker; the MIP's own
//! answer beats the greedy chain on the tight sets.

use crate::common::*;
use vmplace_core::placement::Mode;
use vmplace_wire::ReasonCode;
use vmplace_wire::{PhaseSolver, SolverKind, Status};

fn load(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Both phases by the MIP and by the greedy chain, each answer checked.
fn mip_and_greedy(
    doc: &serde_json::Value,
    time_limit_s: f64,
) -> (vmplace_wire::Solution, vmplace_wire::Solution) {
    let k = Knobs {
        time_limit_s,
        ..Default::default()
    };
    let mip = solve_with(doc, Mode::Place, &k);
    let greedy = solve_with(
        doc,
        Mode::Place,
        &Knobs {
            solver: SolverKind::Greedy,
            ..k
        },
    );
    (mip, greedy)
}

/// (placed, host cost): more placed first, then lower cost.
fn strictly_better(mip: &vmplace_wire::Solution, greedy: &vmplace_wire::Solution) -> bool {
    mip.placements.len() > greedy.placements.len()
        || (mip.placements.len() == greedy.placements.len()
            && mip.objective < greedy.objective - 1e-6)
}

#[test]
fn examples_are_solved_to_optimality_with_known_values() {
    // Hand-checked: small.json places 5 of 6 (huge-1 exceeds every host) on 4 active hosts
    // (h1 and h4 were active before; web needs three distinct hosts).
    let s = solve(&load(&instances("examples")[1]), Mode::Place);
    assert_eq!(s.status, Status::Optimal);
    assert_eq!(s.placements.len(), 5);
    assert_eq!(
        unplaced_code(&s, "huge-1"),
        Some(ReasonCode::DemandExceedsHosts)
    );
    assert!((s.objective - 4.0).abs() < 1e-9);
    // host-phase.json: db-1 must go to h3 so that web-1 and web-2 both fit; greedy FFD puts it on
    // the active h1 and strands a web VM.
    let doc = load(&instances("examples")[0]);
    let m = solve(&doc, Mode::Host);
    assert_eq!(m.placements.len(), 3);
    assert_eq!(host_of(&m, "db-1").as_deref(), Some("h3"));
    let g = solve_with(
        &doc,
        Mode::Host,
        &Knobs {
            solver: SolverKind::Greedy,
            ..Default::default()
        },
    );
    assert_eq!(g.placements.len(), 2);
}

/// The answer's own figures are consistent on every shipped instance: checked by the checker (in
/// `solve_with`), a bound that does not exceed the objective, and a placed-weight bound that no
/// feasible answer, the greedy one included, exceeds.
#[test]
fn shipped_instances_have_checked_answers_and_consistent_bounds() {
    for set in ["examples", "medium", "rules"] {
        for path in instances(set) {
            let doc = load(&path);
            let (mip, greedy) = mip_and_greedy(&doc, 4.0);
            let name = path.display();
            assert!(
                mip.bound <= mip.objective + 1e-6,
                "{name}: bound above objective"
            );
            let greedy_weight = greedy.stats.phases[1].placed_weight;
            for phase in &mip.stats.phases {
                assert!(
                    phase.placed_weight <= phase.placed_weight_bound + 1e-6
                        && greedy_weight <= mip.stats.phases[0].placed_weight_bound + 1e-6,
                    "{name}: a placed weight above its proven bound"
                );
            }
        }
    }
}

/// On the tight sets the MIP itself, not the greedy chain it is compared with, gives the answer,
/// and that answer beats the greedy chain: more placed, or fewer active hosts.
#[test]
fn mip_beats_the_greedy_chain_on_tight_instances() {
    for path in instances("tight") {
        let doc = load(&path);
        let (mip, greedy) = mip_and_greedy(&doc, 8.0);
        let name = path.display();
        assert_ne!(
            mip.stats.phases[1].solver,
            PhaseSolver::GreedyBaseline,
            "{name}: the greedy chain stood"
        );
        assert!(
            strictly_better(&mip, &greedy),
            "{name}: mip {} placed / {} hosts vs greedy {} / {}",
            mip.placements.len(),
            mip.objective,
            greedy.placements.len(),
            greedy.objective
        );
    }
}

//! A perturbation by the objective: a descent under load cost weights skewed towards one
//! resource, the one whose load cost is furthest above its share of the aggregate bound (the
//! others' weights divided by [`SKEW_DIVISOR`]). It moves processes that the true objective
//! holds in place (a move that frees that resource but fills another is worse under the true
//! weights, better under the skewed ones), and the late acceptance block that follows, under
//! the true weights, starts from there with its history at that worse cost: room to climb back
//! down elsewhere. The reweighting of the challenge's winning team (S41), written here for the
//! late acceptance blocks (`models/roadef.md`, "Skewed descents").

use super::model::{Assignment, MachineIx, Model};
use super::search::{self, SearchParams};
use super::state::State;

/// The other resources' load cost weights are divided by this (at least 1 if above 0).
pub const SKEW_DIVISOR: i64 = 10;

/// Per resource, the load cost of `state` above the aggregate bound's part for it (weighted):
/// `w(r) (sum_m max(0, U(m,r) - SC(m,r)) - max(0, sum_m U(m,r) - sum_m SC(m,r)))`.
pub fn load_gap(state: &State) -> Vec<i64> {
    let model = state.model();
    (0..model.r())
        .map(|k| {
            let (mut over, mut used, mut safe) = (0i64, 0i64, 0i64);
            for m in 0..model.m() as u32 {
                let (u, sc) = (state.usage(MachineIx(m))[k], model.safety(MachineIx(m))[k]);
                over += (u - sc).max(0);
                used += u;
                safe += sc;
            }
            model.resources[k].load_weight * (over - (used - safe).max(0))
        })
        .collect()
}

/// The resources in decreasing order of [`load_gap`] (ties by index), those with a gap only.
pub fn by_gap(state: &State) -> Vec<usize> {
    let gap = load_gap(state);
    let mut order: Vec<usize> = (0..gap.len()).filter(|&k| gap[k] > 0).collect();
    order.sort_by_key(|&k| (std::cmp::Reverse(gap[k]), k));
    order
}

/// `model` with every resource's load cost weight but `resource`'s divided by [`SKEW_DIVISOR`].
pub fn skewed(model: &Model, resource: usize) -> Model {
    let mut m = model.clone();
    for (k, r) in m.resources.iter_mut().enumerate() {
        if k != resource && r.load_weight > 0 {
            r.load_weight = (r.load_weight / SKEW_DIVISOR).max(1);
        }
    }
    m
}

/// Hill climbing (late acceptance with a history of 1) from `from` under the weights skewed
/// towards `resource`, with `params`' seed and deadline; the assignment it ends with (feasible:
/// the rules do not depend on the weights).
pub fn skewed_descent(
    model: &Model,
    initial: &Assignment,
    from: &Assignment,
    resource: usize,
    params: SearchParams,
) -> Assignment {
    let skewed = skewed(model, resource);
    let mut state = State::new(&skewed, initial);
    super::go_to(&mut state, from);
    let climb = SearchParams {
        history: 1,
        ..params
    };
    search::late_acceptance(&mut state, climb);
    state.assignment()
}

#[cfg(test)]
mod tests {
    use super::super::model::ProcessIx;
    use super::super::parse::{parse_assignment, parse_model};
    use super::*;
    use std::time::{Duration, Instant};

    /// One process (8, 4) on machine 0 (safety 5 and 10): 3 above in resource 0, cost 30. On
    /// machine 1 (safety 10 and 0) it would cost 4 of resource 1, 40: the true weights keep it
    /// where it is.
    fn model() -> (Model, Assignment) {
        let text = "2\n0 10\n0 10\n2\n0 0 100 100 5 10 0 0\n0 0 100 100 10 0 0 0\n1\n0 0\n\
                    1\n0 8 4 0\n0\n0 0 0\n";
        let model = parse_model("skew", text).unwrap();
        let initial = parse_assignment("initial", "0", &model).unwrap();
        (model, initial)
    }

    #[test]
    fn the_gap_is_the_load_above_safety_beyond_what_the_totals_force() {
        let (model, initial) = model();
        let state = State::new(&model, &initial);
        assert_eq!(state.cost(), 30);
        // Resource 0: 3 above on machine 0 while the totals (8 of 15) force none.
        assert_eq!(load_gap(&state), vec![30, 0]);
        assert_eq!(by_gap(&state), vec![0]);
        // Above the whole pool's safety capacity the excess is forced, not a gap.
        let text = "1\n0 10\n2\n0 0 100 5 0 0\n0 0 100 5 0 0\n2\n0 0\n0 0\n\
                    2\n0 8 0\n1 8 0\n0\n0 0 0\n";
        let model = parse_model("forced", text).unwrap();
        let even = parse_assignment("even", "0 1", &model).unwrap();
        let state = State::new(&model, &even);
        assert_eq!(state.cost(), 60);
        assert_eq!(load_gap(&state), vec![0]);
        assert!(by_gap(&state).is_empty());
        let piled = parse_assignment("piled", "0 0", &model).unwrap();
        // 11 above on machine 0, 6 forced by the totals (16 of 10): a gap of 5.
        assert_eq!(load_gap(&State::new(&model, &piled)), vec![50]);
    }

    #[test]
    fn skewing_divides_the_other_resources_weights_only() {
        let (mut model, _) = model();
        model.resources.push(model.resources[0].clone());
        model.resources[2].load_weight = 0;
        model.resources[1].load_weight = 3;
        let s = skewed(&model, 0);
        let weights: Vec<i64> = s.resources.iter().map(|r| r.load_weight).collect();
        // The chosen keeps 10; 3 / 10 rounds to 0 but stays a cost (1); 0 stays 0.
        assert_eq!(weights, vec![10, 1, 0]);
        let s = skewed(&model, 1);
        assert_eq!(s.resources[0].load_weight, 10 / SKEW_DIVISOR);
        assert_eq!(s.resources[1].load_weight, 3);
    }

    #[test]
    fn a_skewed_descent_makes_the_move_the_true_weights_refuse() {
        let (model, initial) = model();
        let params = || SearchParams {
            seed: 5,
            deadline: Instant::now() + Duration::from_millis(100),
            history: 1,
            swap_share: 0.5,
            target_share: 0.2,
            best_shift_share: 0.02,
            chain_share: 0.0,
            chain_tries: 4,
            home_share: 0.3,
            large_share: 0.2,
            large_size_share: 0.1,
        };
        // Under the true weights hill climbing keeps it on machine 0.
        let mut state = State::new(&model, &initial);
        search::late_acceptance(&mut state, params());
        assert_eq!(state.machine_of(ProcessIx(0)), MachineIx(0));
        // Towards resource 0 (resource 1 weighs 1), machine 1 costs 4 against 30.
        let to = skewed_descent(&model, &initial, &initial, 0, params());
        assert_eq!(to.0, vec![MachineIx(1)]);
        // Towards resource 1 it stays.
        let to = skewed_descent(&model, &initial, &initial, 1, params());
        assert_eq!(to.0, vec![MachineIx(0)]);
    }
}

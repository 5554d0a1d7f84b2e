//! A lower bound from aggregate capacities: the sum over machines of `max(0, x_m)` is at least
//! `max(0, sum of x_m)`, so the load cost is at least the total requirement above the total
//! safety capacity, and each balance cost at least `target * total free(first) - total
//! free(second)` (usage summed over machines is the processes' total whatever the assignment).
//! The move costs are at least 0.

use super::model::Model;

/// The bound (weighted, like the objective).
pub fn aggregate_lower_bound(model: &Model) -> i64 {
    let r = model.r();
    let column = |v: &[i64], k: usize| -> i128 {
        v.iter().skip(k).step_by(r.max(1)).map(|&x| x as i128).sum()
    };
    let demand: Vec<i128> = (0..r).map(|k| column(&model.requirement, k)).collect();
    let free = |k: usize| column(&model.capacity, k) - demand[k];
    let load: i128 = model
        .resources
        .iter()
        .enumerate()
        .map(|(k, res)| res.load_weight as i128 * (demand[k] - column(&model.safety, k)).max(0))
        .sum();
    let balance: i128 = model
        .balances
        .iter()
        .map(|b| {
            b.weight as i128 * (b.target as i128 * free(b.first.ix()) - free(b.second.ix())).max(0)
        })
        .sum();
    (load + balance).min(i64::MAX as i128) as i64
}

//! Lower bounds. [`aggregate_lower_bound`]: the sum over machines of `max(0, x_m)` is at least
//! `max(0, sum of x_m)`, so the load cost is at least the total requirement above the total
//! safety capacity, and each balance cost at least `target * total free(first) - total
//! free(second)` (usage summed over machines is the processes' total whatever the assignment).
//! The move costs are at least 0.
//!
//! [`lower_bound`] adds the processes that cannot leave their initial machine: a process moved
//! to `m` still counts, on each transient resource, beside everything that started on `m`
//! (whether it stayed or not), so where that sum exceeds `m`'s capacity the move is never
//! feasible. The load those *pinned* processes put on their machine is paid there whatever the
//! others do (section "Lower bound" of `models/roadef.md`).

use super::model::{Assignment, MachineIx, Model, ProcessIx};

/// The aggregate bound (weighted, like the objective): the published lower bounds of the
/// challenge are this one.
pub fn aggregate_lower_bound(model: &Model) -> i64 {
    let pinned = vec![0; model.m() * model.r()];
    bound_with_pinned(model, &pinned)
}

/// The aggregate bound strengthened by the pinned processes of `initial` (at least
/// [`aggregate_lower_bound`]).
pub fn lower_bound(model: &Model, initial: &Assignment) -> i64 {
    bound_with_pinned(model, &pinned_usage(model, initial))
}

/// Per machine and resource, the requirement of the processes that no other machine can take
/// (flat, machines by resources).
fn pinned_usage(model: &Model, initial: &Assignment) -> Vec<i64> {
    let r = model.r();
    let mut held = vec![0i64; model.m() * r];
    let add = |to: &mut [i64], m: MachineIx, p: ProcessIx| {
        let row = &mut to[m.ix() * r..(m.ix() + 1) * r];
        for (h, q) in row.iter_mut().zip(model.requirement(p)) {
            *h = h.saturating_add(*q);
        }
    };
    for (p, &m) in initial.0.iter().enumerate() {
        add(&mut held, m, ProcessIx(p as u32));
    }
    // Moved to `m`, `p` counts beside what started there on each transient resource.
    let can_go = |p: ProcessIx, m: MachineIx| {
        let held = &held[m.ix() * r..(m.ix() + 1) * r];
        let fits = |(k, (&q, &cap)): (usize, (&i64, &i64))| {
            let before = if model.resources[k].transient {
                held[k]
            } else {
                0
            };
            before.saturating_add(q) <= cap
        };
        model
            .requirement(p)
            .iter()
            .zip(model.capacity(m))
            .enumerate()
            .all(fits)
    };
    let mut pinned = vec![0i64; model.m() * r];
    for (p, &home) in initial.0.iter().enumerate() {
        let p = ProcessIx(p as u32);
        let mut elsewhere = (0..model.m() as u32).map(MachineIx).filter(|&m| m != home);
        if !elsewhere.any(|m| can_go(p, m)) {
            add(&mut pinned, home, p);
        }
    }
    pinned
}

/// The bound when `pinned` (machines by resources) is on each machine whatever the assignment:
/// per resource, what the pinned load puts above each machine's safety capacity, plus the rest
/// of the requirement above the room the pinned load leaves under it.
fn bound_with_pinned(model: &Model, pinned: &[i64]) -> i64 {
    let r = model.r();
    let column = |v: &[i64], k: usize| -> i128 {
        v.iter().skip(k).step_by(r.max(1)).map(|&x| x as i128).sum()
    };
    let demand: Vec<i128> = (0..r).map(|k| column(&model.requirement, k)).collect();
    let free = |k: usize| column(&model.capacity, k) - demand[k];
    let load_part = |k: usize| -> i128 {
        let (mut above, mut room) = (0i128, 0i128);
        for m in 0..model.m() {
            let gap = model.safety[m * r + k] as i128 - pinned[m * r + k] as i128;
            above += (-gap).max(0);
            room += gap.max(0);
        }
        let rest = demand[k] - column(pinned, k);
        above + (rest - room).max(0)
    };
    let load: i128 = model
        .resources
        .iter()
        .enumerate()
        .map(|(k, res)| res.load_weight as i128 * load_part(k))
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

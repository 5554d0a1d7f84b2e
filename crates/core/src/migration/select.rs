//! VM selection on an overloaded host: MMT, MU, MC and RS.

use super::RoundPolicy;
use crate::domain::migration::{HostIx, Pool, VmIx};
use crate::domain::TINY;
use rand::seq::IndexedRandom;
use vmplace_wire::state::Selection;

/// The VM selection policy's next VM on host `h` (None if none may move).
pub(super) fn select(
    pool: &Pool,
    h: HostIx,
    p: &RoundPolicy,
    rng: &mut rand_chacha::ChaCha8Rng,
) -> Option<VmIx> {
    let movable: Vec<VmIx> = pool
        .vms_on(h)
        .filter(|&v| pool.vms[v].moved_ago_s.is_none_or(|s| s >= p.hold_s))
        .collect();
    match p.selection {
        // Ties go to the VM listed first on the host: the one that has been there longest when
        // the state lists VMs in arrival order (as CloudSim keeps its lists).
        Selection::Mmt => movable
            .iter()
            .copied()
            .min_by(|&a, &b| pool.migration_time(a).total_cmp(&pool.migration_time(b))),
        Selection::Mu => {
            let util = |v: VmIx| {
                pool.axes
                    .cpu
                    .map(|k| pool.vms[v].now[k] / pool.vms[v].demand[k].max(TINY))
                    .unwrap_or(0.0)
            };
            movable
                .iter()
                .copied()
                .min_by(|&a, &b| util(a).total_cmp(&util(b)).then(a.cmp(&b)))
        }
        Selection::Rs => movable.choose(rng).copied(),
        Selection::Mc => max_correlation(pool, &movable).or_else(|| {
            select(
                pool,
                h,
                &RoundPolicy {
                    selection: Selection::Mmt,
                    ..p.clone()
                },
                rng,
            )
        }),
    }
}

/// The VM among `vms` whose CPU history the others' histories explain best: the largest R² of
/// an ordinary least-squares regression (with intercept) on the others, over the samples all of
/// them have. None when there are fewer samples than coefficients or fewer than two VMs.
fn max_correlation(pool: &Pool, vms: &[VmIx]) -> Option<VmIx> {
    let n = vms.len();
    let m = vms.iter().map(|&v| pool.vms[v].cpu_history.len()).min()?;
    if n < 2 || m <= n {
        return None;
    }
    let series = |v: VmIx| {
        let h = &pool.vms[v].cpu_history;
        &h[h.len() - m..]
    };
    let mut best: Option<(f64, VmIx)> = None;
    for (i, &v) in vms.iter().enumerate() {
        let y = nalgebra::DVector::from_column_slice(series(v));
        let x = nalgebra::DMatrix::from_fn(m, n, |row, col| match col {
            0 => 1.0,
            c => series(vms[if c <= i { c - 1 } else { c }])[row],
        });
        let beta = x.clone().svd(true, true).solve(&y, TINY).ok()?;
        let residual = &y - &x * beta;
        let mean = y.mean();
        let total: f64 = y.iter().map(|a| (a - mean) * (a - mean)).sum();
        let r2 = if total > 0.0 {
            1.0 - residual.norm_squared() / total
        } else {
            0.0
        };
        if best.is_none_or(|(b, _)| r2 > b) {
            best = Some((r2, v));
        }
    }
    best.map(|b| b.1)
}

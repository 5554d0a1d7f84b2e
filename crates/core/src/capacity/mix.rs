//! `--mix 3:1`: the most whole sets of the flavors, in that ratio, that fit together
//! (models/capacity.md, "A mix"), by the mix MIP (`model::mix`).

use super::{free, links, Flavor};
use crate::domain::quality::{gap, Goal};
use crate::domain::Axes;
use crate::model::mix::{mix, MixFlavor, MixInput};
use crate::model::{MipOptions, MipStatus};
use std::collections::BTreeMap;
use vmplace_wire::capacity::{Binding, FlavorFit, MixFit};
use vmplace_wire::{Problem, Status};

/// Counts the sets; `fits` are the flavors' own counts (each bounds the sets by its share).
pub(super) fn count_mix(
    pool: &Problem,
    flavors: &[Flavor],
    ratio: &[usize],
    fits: &[FlavorFit],
    opts: &MipOptions,
) -> MixFit {
    let axes = Axes::of(pool.hosts.iter().map(|h| &h.capacity));
    let host_free: Vec<Vec<f64>> = pool
        .hosts
        .iter()
        .map(|h| axes.dense(&free(&h.capacity, h.used.as_ref())))
        .collect();
    let storage_free: Vec<f64> = pool
        .storage
        .iter()
        .map(|s| (s.capacity_gib - s.used_gib).max(0.0))
        .collect();
    let links = links(pool);
    let dense: Vec<MixFlavor> = flavors
        .iter()
        .zip(ratio)
        .map(|(f, &share)| MixFlavor {
            demand: axes.dense(&f.demand),
            disk_gib: f.disk_gib,
            share,
        })
        .collect();
    // Each flavor alone fits `fit` VMs: the sets are at most fit / share.
    let max_sets = fits
        .iter()
        .zip(ratio)
        .filter(|(_, &share)| share > 0)
        .map(|(f, &share)| f.fit / share)
        .min()
        .unwrap_or(0);
    let input = MixInput {
        host_free: &host_free,
        storage_free: &storage_free,
        links: &links,
        flavors: &dense,
        max_sets,
    };
    let (sets, bound, status, placed) = match mix(&input, opts) {
        Ok(m) => {
            let status = match m.status {
                _ if m.sets == m.bound => Status::Optimal,
                MipStatus::Optimal => Status::Feasible,
                _ => Status::TimeLimit,
            };
            (m.sets, m.bound, status, m.placed)
        }
        Err(e) => {
            tracing::warn!(error = %e, "mix MIP failed");
            (0, max_sets, Status::Feasible, Vec::new())
        }
    };
    let utilisation = utilisation(
        axes.names(),
        &dense,
        &host_free,
        &storage_free,
        &links,
        &placed,
    );
    MixFit {
        ratio: ratio.to_vec(),
        sets,
        bound,
        gap: gap(sets as f64, bound as f64, Goal::Maximize),
        status,
        vms: flavors
            .iter()
            .zip(ratio)
            .map(|(f, &share)| (f.name.clone(), share * sets))
            .collect(),
        binding: binding(&utilisation),
        utilisation,
    }
}

/// Share of the usable free capacity the placed VMs take, per resource and `disk_gib`: hosts that
/// hold one VM of some flavor, storage systems that hold one image and reach such a host.
fn utilisation(
    resources: &[String],
    flavors: &[MixFlavor],
    host_free: &[Vec<f64>],
    storage_free: &[f64],
    links: &[Vec<usize>],
    placed: &[(usize, usize, usize, usize)],
) -> BTreeMap<String, f64> {
    let fits = |f: &MixFlavor, free: &[f64]| f.demand.iter().zip(free).all(|(d, x)| d <= x);
    let usable: Vec<bool> = host_free
        .iter()
        .map(|free| flavors.iter().any(|f| f.share > 0 && fits(f, free)))
        .collect();
    let mut reach = vec![false; storage_free.len()];
    for h in (0..links.len()).filter(|&h| usable[h]) {
        for &s in &links[h] {
            reach[s] = true;
        }
    }
    let mut out = BTreeMap::new();
    for (r, name) in resources.iter().enumerate() {
        let avail: f64 = (0..host_free.len())
            .filter(|&h| usable[h])
            .map(|h| host_free[h][r])
            .sum();
        let used: f64 = placed
            .iter()
            .map(|&(f, _, _, n)| flavors[f].demand[r] * n as f64)
            .sum();
        out.insert(name.clone(), if avail > 0.0 { used / avail } else { 0.0 });
    }
    let avail: f64 = (0..storage_free.len())
        .filter(|&s| reach[s])
        .map(|s| storage_free[s])
        .sum();
    let used: f64 = placed
        .iter()
        .map(|&(f, _, _, n)| flavors[f].disk_gib * n as f64)
        .sum();
    out.insert(
        "disk_gib".into(),
        if avail > 0.0 { used / avail } else { 0.0 },
    );
    out
}

/// The resource used most, when it is used to 90 % or more; else the free capacity sits where
/// the VMs cannot reach it.
fn binding(utilisation: &BTreeMap<String, f64>) -> Binding {
    let top = utilisation
        .iter()
        .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(a.0)));
    match top {
        Some((k, &u)) if u >= 0.9 && k == "disk_gib" => Binding {
            kind: "storage_capacity".into(),
            resource: None,
        },
        Some((k, &u)) if u >= 0.9 => Binding {
            kind: "host_capacity".into(),
            resource: Some(k.clone()),
        },
        _ => Binding {
            kind: "connectivity".into(),
            resource: None,
        },
    }
}

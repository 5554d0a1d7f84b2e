//! `--tiered`: what fits largest first (models/capacity.md, "Tiers"), as Ganeti's
//! `hspace --tiered`. Each tier is the exact count of its flavor after the tiers before; then the
//! flavor shrinks on the one resource (or its disk) that lets one more VM fit with the least
//! shrinking, to the largest amount that does (in whole units when the first flavor's amount is
//! whole).

use super::{count_booked, free, too_many, Flavor, MAX_COUNT};
use crate::domain::{MIP_TOL, NOISE};
use std::collections::BTreeMap;
use vmplace_wire::capacity::{Tier, Tiered};
use vmplace_wire::{Problem, Resources};

/// Tiers stop when the flavor would shrink on some resource below this share of its first size.
pub const FLOOR: f64 = 0.125;
/// And after this many tiers.
pub const MAX_TIERS: usize = 64;

/// The tiers of `first` on `pool`, until `stop` says the time is up or the client went away
/// (12,000 hosts and storage systems took 50 s under a 1 s limit; issue 27, H3).
pub(super) fn tiers(pool: &Problem, first: &Flavor, stop: &dyn Fn() -> bool) -> Tiered {
    let mut pool = pool.clone();
    let mut cur = first.clone();
    let mut tiers = Vec::new();
    let stopped = loop {
        if tiers.len() == MAX_TIERS {
            break format!("{MAX_TIERS} tiers");
        }
        if stop() {
            break "the time limit (or the client went away) before the next tier".to_string();
        }
        if let Some(at) = too_many(&pool, &cur) {
            break format!("{at} alone would hold more than {MAX_COUNT} of the next tier");
        }
        let (fit, on_hosts, on_storage) = count_booked(&pool, &cur);
        if fit.fit > 0 {
            tiers.push(Tier {
                name: format!("{}@{}", first.name, tiers.len() + 1),
                demand: cur.demand.clone(),
                disk_gib: cur.disk_gib,
                fit: fit.fit,
                binding: fit.binding,
            });
            book(&mut pool, &cur, &on_hosts, &on_storage);
        }
        match shrink(&pool, &cur, first) {
            Some(next) => cur = next,
            None => {
                break format!(
                    "no resource can shrink to let one more fit without going below {} % of the \
                     first flavor",
                    FLOOR * 100.0
                )
            }
        }
    };
    Tiered {
        total: tiers.iter().map(|t| t.fit).sum(),
        tiers,
        stopped,
    }
}

/// Books `n` VMs of `f` per host and `m` images per storage system.
fn book(pool: &mut Problem, f: &Flavor, on_hosts: &[usize], on_storage: &[usize]) {
    for (h, &n) in pool.hosts.iter_mut().zip(on_hosts) {
        if n > 0 {
            let used = h.used.get_or_insert_with(Resources::new);
            for (k, d) in &f.demand {
                *used.entry(k.clone()).or_default() += d * n as f64;
            }
        }
    }
    for (s, &m) in pool.storage.iter_mut().zip(on_storage) {
        s.used_gib += f.disk_gib * m as f64;
    }
}

/// The next flavor: for each resource (and the disk), the largest amount below the current one
/// with which one more VM fits, the others unchanged; the one that shrinks least wins.
fn shrink(pool: &Problem, cur: &Flavor, first: &Flavor) -> Option<Flavor> {
    let host_free: Vec<Resources> = pool
        .hosts
        .iter()
        .map(|h| free(&h.capacity, h.used.as_ref()))
        .collect();
    let room: BTreeMap<&str, f64> = pool
        .storage
        .iter()
        .map(|s| (s.id.as_str(), (s.capacity_gib - s.used_gib).max(0.0)))
        .collect();
    let fits_except = |free: &Resources, skip: Option<&str>| {
        cur.demand
            .iter()
            .filter(|(k, _)| Some(k.as_str()) != skip)
            .all(|(k, d)| *d <= free.get(k).copied().unwrap_or(0.0) + NOISE)
    };
    let mut best: Option<(f64, Flavor)> = None;
    let mut consider = |ratio: f64, next: Flavor| {
        if best.as_ref().is_none_or(|(r, _)| ratio > *r) {
            best = Some((ratio, next));
        }
    };
    for (k, &d) in cur.demand.iter().filter(|(_, d)| **d > 0.0) {
        // Hosts that reach storage with room for the image and fit every other resource.
        let v = pool
            .hosts
            .iter()
            .zip(&host_free)
            .filter(|(h, free)| {
                fits_except(free, Some(k))
                    && h.storage.iter().any(|s| {
                        room.get(s.as_str()).copied().unwrap_or(0.0) + NOISE >= cur.disk_gib
                    })
            })
            .map(|(_, free)| free.get(k).copied().unwrap_or(0.0))
            .fold(0.0, f64::max);
        let v = round_down(v, first.demand[k]);
        if v < d && v >= FLOOR * first.demand[k] && v > 0.0 {
            let mut next = cur.clone();
            next.demand.insert(k.clone(), v);
            consider(v / d, next);
        }
    }
    if cur.disk_gib > 0.0 {
        // Storage that reaches a host with room for the VM.
        let v = pool
            .storage
            .iter()
            .filter(|s| {
                pool.hosts
                    .iter()
                    .zip(&host_free)
                    .any(|(h, free)| h.storage.contains(&s.id) && fits_except(free, None))
            })
            .map(|s| room[s.id.as_str()])
            .fold(0.0, f64::max);
        let v = round_down(v, first.disk_gib);
        if v < cur.disk_gib && v >= FLOOR * first.disk_gib && v > 0.0 {
            let mut next = cur.clone();
            next.disk_gib = v;
            consider(v / cur.disk_gib, next);
        }
    }
    best.map(|(_, f)| f)
}

/// Down to whole units when the first flavor asked for a whole number of them (CPUs, GiB), else
/// to thousandths, so that tiers read well and still fit.
fn round_down(v: f64, first: f64) -> f64 {
    let grain = if first.fract() == 0.0 { 1.0 } else { 0.001 };
    (v / grain + MIP_TOL).floor() * grain
}

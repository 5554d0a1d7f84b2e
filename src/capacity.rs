//! "How many more fit": for each flavor, the most VMs of it that the pool still takes, as a
//! placement of that many copies solved by the two phases (models/capacity.md). The count is the
//! placed weight, its bound the phases' proven placed-weight bound.

use crate::domain::Domain;
use crate::format::{Host, InputError, Problem, Request, Resources, Solution, Status};
use crate::placement::{run_or_fallback, Mode, RunConfig};
use crate::service::api::{settings, Overrides};
use crate::validation::{validate_problem, Phase};
use serde::Serialize;
use std::collections::BTreeMap;

/// A flavor to count: its demand per resource and its disk image.
#[derive(Debug, Clone, PartialEq)]
pub struct Flavor {
    /// Name.
    pub name: String,
    /// Demand per host resource.
    pub demand: Resources,
    /// Disk image, GiB.
    pub disk_gib: f64,
}

/// What limits a flavor's count.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Binding {
    /// `host_capacity`, `storage_capacity` or `connectivity`.
    pub kind: String,
    /// The host resource, for `host_capacity`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
}

/// The count of one flavor.
#[derive(Debug, Clone, Serialize)]
pub struct FlavorFit {
    /// Flavor name.
    pub name: String,
    /// VMs of it placed: a valid placement of this many exists (`witness` solve).
    pub fit: usize,
    /// Proven upper bound on the count.
    pub bound: usize,
    /// `(bound - fit) / bound`, 0 when proven.
    pub gap: f64,
    /// `optimal` when the count is proven (`fit == bound`), else the solve's status.
    pub status: Status,
    /// What binds.
    pub binding: Binding,
    /// Per host resource, how many the free capacity alone would hold (connected hosts only).
    pub by_resource: BTreeMap<String, usize>,
    /// How many the free storage alone would hold (storage with a connected host that fits one).
    pub by_storage: usize,
    /// Hosts left with room for one more by their own capacity but no connected storage with
    /// room for its image.
    pub stranded_hosts: usize,
    /// Storage systems left with room for one more image but no connected host with room.
    pub stranded_storage: usize,
}

/// The answer of `vmplace capacity`.
#[derive(Debug, Clone, Serialize)]
pub struct CapacityReport {
    /// Requests of the problem placed first (the counts are what fits after them).
    pub requests_placed: usize,
    /// One entry per flavor, in the order given.
    pub flavors: Vec<FlavorFit>,
}

fn free(capacity: &Resources, used: Option<&Resources>) -> Resources {
    capacity
        .iter()
        .map(|(k, c)| {
            (
                k.clone(),
                (c - used.and_then(|u| u.get(k)).unwrap_or(&0.0)).max(0.0),
            )
        })
        .collect()
}

fn copies(free: &Resources, demand: &Resources) -> usize {
    demand
        .iter()
        .filter(|(_, d)| **d > 0.0)
        .map(|(k, d)| (free.get(k).copied().unwrap_or(0.0) / d + 1e-9).floor() as usize)
        .min()
        .unwrap_or(usize::MAX / 4)
}

/// The pool after a solution: each placed request's demand on its host, its disk on its storage.
fn after(problem: &Problem, solution: &Solution) -> Problem {
    let mut p = problem.clone();
    let req: BTreeMap<&str, &Request> = problem
        .requests
        .iter()
        .map(|r| (r.id.as_str(), r))
        .collect();
    for pl in &solution.placements {
        let Some(r) = req.get(pl.request.as_str()) else {
            continue;
        };
        if let Some(h) = p.hosts.iter_mut().find(|h| Some(&h.id) == pl.host.as_ref()) {
            let used = h.used.get_or_insert_with(Resources::new);
            for (k, d) in &r.demand {
                *used.entry(k.clone()).or_default() += d;
            }
        }
        if r.storage.is_none() {
            if let Some(s) = p.storage.iter_mut().find(|s| s.id == pl.storage) {
                s.used_gib += r.disk_gib;
            }
        }
    }
    p.requests.clear();
    p
}

/// Solves a problem document built in code; its errors are the caller's input errors.
fn solve(p: &Problem, o: &Overrides, cfg: &RunConfig) -> Result<Solution, Vec<InputError>> {
    let value = serde_json::to_value(p).unwrap_or(serde_json::Value::Null);
    let valid = validate_problem(value, Phase::Storage)?;
    let domain = Domain::from_problem(&valid, settings(p, o));
    Ok(run_or_fallback(&domain, Mode::Place, cfg))
}

/// Counts each flavor on the pool left after the problem's own requests.
pub fn capacity(
    problem: &Problem,
    flavors: &[Flavor],
    o: &Overrides,
    cfg: &RunConfig,
) -> Result<CapacityReport, Vec<InputError>> {
    let (pool, requests_placed) = if problem.requests.is_empty() {
        (problem.clone(), 0)
    } else {
        let s = solve(problem, o, cfg)?;
        (after(problem, &s), s.placements.len())
    };
    let mut out = Vec::new();
    for (i, f) in flavors.iter().enumerate() {
        out.push(count(&pool, f, o, cfg).map_err(|errors| {
            errors
                .into_iter()
                .map(|mut e| {
                    // The copies are the flavor: point at the flag, not at a generated request.
                    e.path = format!("--flavor {} ({})", i + 1, f.name);
                    e
                })
                .collect::<Vec<_>>()
        })?);
    }
    Ok(CapacityReport {
        requests_placed,
        flavors: out,
    })
}

fn count(
    pool: &Problem,
    f: &Flavor,
    o: &Overrides,
    cfg: &RunConfig,
) -> Result<FlavorFit, Vec<InputError>> {
    let host_free: Vec<Resources> = pool
        .hosts
        .iter()
        .map(|h| free(&h.capacity, h.used.as_ref()))
        .collect();
    let storage_free: BTreeMap<&str, f64> = pool
        .storage
        .iter()
        .map(|s| (s.id.as_str(), (s.capacity_gib - s.used_gib).max(0.0)))
        .collect();
    let image_fits = |s: &str| storage_free.get(s).is_some_and(|&x| x + 1e-9 >= f.disk_gib);
    let reachable = |h: &Host| h.storage.iter().any(|s| image_fits(s));
    let mut by_resource: BTreeMap<String, usize> = BTreeMap::new();
    for k in f.demand.keys().filter(|k| f.demand[*k] > 0.0) {
        let one: Resources = [(k.clone(), f.demand[k])].into_iter().collect();
        let n = pool
            .hosts
            .iter()
            .zip(&host_free)
            .filter(|(h, free)| reachable(h) && copies(free, &f.demand) > 0)
            .map(|(_, free)| copies(free, &one))
            .sum();
        by_resource.insert(k.clone(), n);
    }
    let by_storage: usize = pool
        .storage
        .iter()
        .filter(|s| {
            pool.hosts
                .iter()
                .zip(&host_free)
                .any(|(h, free)| h.storage.contains(&s.id) && copies(free, &f.demand) > 0)
        })
        .map(|s| {
            let room = storage_free[s.id.as_str()];
            if f.disk_gib > 0.0 {
                (room / f.disk_gib + 1e-9).floor() as usize
            } else {
                usize::MAX / 4
            }
        })
        .sum();
    let hosts_alone: usize = pool
        .hosts
        .iter()
        .zip(&host_free)
        .filter(|(h, _)| reachable(h))
        .map(|(_, free)| copies(free, &f.demand))
        .sum();
    let n = hosts_alone.min(by_storage);
    let mut p = pool.clone();
    p.requests = (0..n)
        .map(|i| Request {
            id: format!("{}-{}", f.name, i + 1),
            demand: f.demand.clone(),
            disk_gib: f.disk_gib,
            storage: None,
            priority: None,
            anti_affinity: None,
        })
        .collect();
    let (fit, bound, status, stranded_hosts, stranded_storage) = if n == 0 {
        (0, 0, Status::Optimal, 0, 0)
    } else {
        let s = solve(&p, o, cfg)?;
        let left = after(&p, &s);
        let (sh, ss) = stranded(&left, f);
        let bound = ((s.placed_weight_bound + 1e-6).floor() as usize).clamp(s.placements.len(), n);
        // The count is proven when it meets its bound, whatever the policy costs' gaps.
        let fit = s.placements.len();
        let status = if fit == bound {
            Status::Optimal
        } else {
            s.status.max(Status::Feasible)
        };
        (fit, bound, status, sh, ss)
    };
    let binding = if fit == n && n == by_storage && by_storage <= hosts_alone {
        Binding {
            kind: "storage_capacity".into(),
            resource: None,
        }
    } else if fit == n {
        let resource = by_resource
            .iter()
            .min_by_key(|(_, v)| **v)
            .map(|(k, _)| k.clone());
        Binding {
            kind: "host_capacity".into(),
            resource,
        }
    } else {
        Binding {
            kind: "connectivity".into(),
            resource: None,
        }
    };
    Ok(FlavorFit {
        name: f.name.clone(),
        fit,
        bound,
        gap: if bound > 0 {
            (bound - fit) as f64 / bound as f64
        } else {
            0.0
        },
        status,
        binding,
        by_resource,
        by_storage,
        stranded_hosts,
        stranded_storage,
    })
}

/// Hosts with room for one more VM of the flavor but no connected storage with room for its
/// image, and storage with room for an image but no connected host with room.
fn stranded(pool: &Problem, f: &Flavor) -> (usize, usize) {
    let room: BTreeMap<&str, bool> = pool
        .storage
        .iter()
        .map(|s| {
            (
                s.id.as_str(),
                s.capacity_gib - s.used_gib + 1e-9 >= f.disk_gib,
            )
        })
        .collect();
    let host_room: Vec<bool> = pool
        .hosts
        .iter()
        .map(|h| copies(&free(&h.capacity, h.used.as_ref()), &f.demand) > 0)
        .collect();
    let hosts = pool
        .hosts
        .iter()
        .zip(&host_room)
        .filter(|(h, r)| {
            **r && !h
                .storage
                .iter()
                .any(|s| room.get(s.as_str()) == Some(&true))
        })
        .count();
    let storage = pool
        .storage
        .iter()
        .filter(|s| room[s.id.as_str()])
        .filter(|s| {
            !pool
                .hosts
                .iter()
                .zip(&host_room)
                .any(|(h, r)| *r && h.storage.contains(&s.id))
        })
        .count();
    (hosts, storage)
}

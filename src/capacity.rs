//! "How many more fit": for each flavor, the most VMs of it that the pool still takes, after the
//! problem's own requests are placed by the two phases (models/capacity.md). One flavor alone is
//! a transportation problem from storage systems to connected hosts, so its count is an exact max
//! flow.

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
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct Binding {
    /// `host_capacity`, `storage_capacity` or `connectivity`.
    pub kind: String,
    /// The host resource, for `host_capacity`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
}

/// The count of one flavor.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct FlavorFit {
    /// Flavor name.
    pub name: String,
    /// The most VMs of it that fit (exact: a max flow).
    pub fit: usize,
    /// Proven upper bound on the count (equal to `fit`: the max flow is exact).
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
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
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

/// At most this many copies per host or storage system (a flavor that asks for nothing of a
/// resource would otherwise be unbounded).
const MAX_COPIES: usize = 1_000_000_000;

fn copies(free: &Resources, demand: &Resources) -> usize {
    demand
        .iter()
        .filter(|(_, d)| **d > 0.0)
        .map(|(k, d)| (free.get(k).copied().unwrap_or(0.0) / d + 1e-9).floor() as usize)
        .min()
        .unwrap_or(MAX_COPIES)
        .min(MAX_COPIES)
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
    // A flavor that asks for a resource no host has could only ever count 0: say so instead.
    let known: std::collections::BTreeSet<&String> =
        pool.hosts.iter().flat_map(|h| h.capacity.keys()).collect();
    let errors: Vec<InputError> = flavors
        .iter()
        .enumerate()
        .flat_map(|(i, f)| {
            f.demand
                .keys()
                .filter(|k| !known.contains(k))
                .map(move |k| {
                    InputError::new(
                        crate::format::errors::ErrorCode::UnknownResource,
                        format!("--flavor {}", i + 1),
                        format!("flavor {} asks for `{k}`, which no host has", f.name),
                    )
                })
        })
        .collect();
    if !errors.is_empty() {
        return Err(errors);
    }
    let out = flavors.iter().map(|f| count(&pool, f)).collect();
    Ok(CapacityReport {
        requests_placed,
        flavors: out,
    })
}

fn count(pool: &Problem, f: &Flavor) -> FlavorFit {
    let host_free: Vec<Resources> = pool
        .hosts
        .iter()
        .map(|h| free(&h.capacity, h.used.as_ref()))
        .collect();
    // What each host holds by its own capacity, and each storage system by its free space.
    let take: Vec<usize> = host_free
        .iter()
        .map(|free| copies(free, &f.demand))
        .collect();
    let images: BTreeMap<&str, usize> = pool
        .storage
        .iter()
        .map(|s| {
            let room = (s.capacity_gib - s.used_gib).max(0.0);
            let n = if f.disk_gib > 0.0 {
                ((room / f.disk_gib + 1e-9).floor() as usize).min(MAX_COPIES)
            } else {
                MAX_COPIES
            };
            (s.id.as_str(), n)
        })
        .collect();
    let reachable = |h: &Host| h.storage.iter().any(|s| images.get(s.as_str()) > Some(&0));
    let reach: Vec<bool> = pool.hosts.iter().map(reachable).collect();
    let mut by_resource: BTreeMap<String, usize> = BTreeMap::new();
    for k in f.demand.keys().filter(|k| f.demand[*k] > 0.0) {
        let one: Resources = [(k.clone(), f.demand[k])].into_iter().collect();
        let n = (0..pool.hosts.len())
            .filter(|&h| reach[h] && take[h] > 0)
            .map(|h| copies(&host_free[h], &one))
            .sum();
        by_resource.insert(k.clone(), n);
    }
    let by_storage: usize = pool
        .storage
        .iter()
        .filter(|s| {
            (0..pool.hosts.len()).any(|h| take[h] > 0 && pool.hosts[h].storage.contains(&s.id))
        })
        .map(|s| images[s.id.as_str()])
        .sum();
    let hosts_alone: usize = (0..pool.hosts.len())
        .filter(|&h| reach[h])
        .map(|h| take[h])
        .sum();
    // One flavor alone is a transportation problem: images from storage systems to connected
    // hosts, so the most that fit is a max flow, exact and integral.
    let supply: Vec<usize> = pool
        .storage
        .iter()
        .map(|s| images[s.id.as_str()].min(hosts_alone))
        .collect();
    let index: BTreeMap<&str, usize> = pool
        .storage
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i))
        .collect();
    let links: Vec<Vec<usize>> = pool
        .hosts
        .iter()
        .map(|h| {
            h.storage
                .iter()
                .filter_map(|s| index.get(s.as_str()).copied())
                .collect()
        })
        .collect();
    let flow = Transport::new(&supply, &take, &links).max_flow();
    let fit = flow.total;
    let binding = if fit == by_storage && by_storage <= hosts_alone {
        Binding {
            kind: "storage_capacity".into(),
            resource: None,
        }
    } else if fit == hosts_alone {
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
    // At a max flow no host with room is connected to storage with room: what is left is
    // stranded.
    let stranded_hosts = (0..take.len()).filter(|&h| flow.host_left[h] > 0).count();
    let stranded_storage = (0..supply.len())
        .filter(|&s| flow.storage_left[s] > 0)
        .count();
    FlavorFit {
        name: f.name.clone(),
        fit,
        bound: fit,
        gap: 0.0,
        status: Status::Optimal,
        binding,
        by_resource,
        by_storage,
        stranded_hosts,
        stranded_storage,
    }
}

/// The result of a max flow from storage systems to hosts.
struct Flow {
    total: usize,
    storage_left: Vec<usize>,
    host_left: Vec<usize>,
}

/// A bipartite transportation network: source -> storage (supply) -> connected hosts -> sink
/// (what each host takes). Dinic's algorithm on integer capacities.
struct Transport {
    /// Edges as (to, capacity left); the reverse of edge e is e ^ 1.
    edges: Vec<(usize, usize)>,
    adj: Vec<Vec<usize>>,
    storage: usize,
    hosts: usize,
}

impl Transport {
    const SOURCE: usize = 0;
    const SINK: usize = 1;

    fn new(supply: &[usize], take: &[usize], links: &[Vec<usize>]) -> Transport {
        let (storage, hosts) = (supply.len(), take.len());
        let mut t = Transport {
            edges: Vec::new(),
            adj: vec![Vec::new(); 2 + storage + hosts],
            storage,
            hosts,
        };
        for (s, &cap) in supply.iter().enumerate() {
            t.edge(Self::SOURCE, 2 + s, cap);
        }
        for (h, &cap) in take.iter().enumerate() {
            t.edge(2 + storage + h, Self::SINK, cap);
            for &s in &links[h] {
                t.edge(2 + s, 2 + storage + h, usize::MAX / 4);
            }
        }
        t
    }

    fn edge(&mut self, from: usize, to: usize, cap: usize) {
        self.adj[from].push(self.edges.len());
        self.edges.push((to, cap));
        self.adj[to].push(self.edges.len());
        self.edges.push((from, 0));
    }

    fn max_flow(mut self) -> Flow {
        let mut total = 0;
        loop {
            // Levels by breadth-first search over edges with capacity left.
            let mut level = vec![usize::MAX; self.adj.len()];
            level[Self::SOURCE] = 0;
            let mut queue = std::collections::VecDeque::from([Self::SOURCE]);
            while let Some(u) = queue.pop_front() {
                for &e in &self.adj[u] {
                    let (v, cap) = self.edges[e];
                    if cap > 0 && level[v] == usize::MAX {
                        level[v] = level[u] + 1;
                        queue.push_back(v);
                    }
                }
            }
            if level[Self::SINK] == usize::MAX {
                break;
            }
            let mut next = vec![0usize; self.adj.len()];
            loop {
                let pushed = self.push(Self::SOURCE, usize::MAX, &level, &mut next);
                if pushed == 0 {
                    break;
                }
                total += pushed;
            }
        }
        let storage_left = (0..self.storage)
            .map(|s| self.edges[self.adj[Self::SOURCE][s]].1)
            .collect();
        let host_left = (0..self.hosts)
            .map(|h| {
                let node = 2 + self.storage + h;
                self.edges[self.adj[node][0]].1
            })
            .collect();
        Flow {
            total,
            storage_left,
            host_left,
        }
    }

    /// Pushes flow along shortest augmenting paths (iteratively, so deep graphs cannot overflow
    /// the stack: paths here have three edges).
    fn push(&mut self, u: usize, limit: usize, level: &[usize], next: &mut [usize]) -> usize {
        if u == Self::SINK {
            return limit;
        }
        while next[u] < self.adj[u].len() {
            let e = self.adj[u][next[u]];
            let (v, cap) = self.edges[e];
            if cap > 0 && level[v] == level[u] + 1 {
                let got = self.push(v, limit.min(cap), level, next);
                if got > 0 {
                    self.edges[e].1 -= got;
                    self.edges[e ^ 1].1 += got;
                    return got;
                }
            }
            next[u] += 1;
        }
        0
    }
}

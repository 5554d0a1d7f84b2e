//! The validated domain: typed indices, dense resource vectors, connectivity lists.
//!
//! `Domain::from_problem` is the only bridge from the wire format; it expects a document that
//! passed `crate::validation` and never panics on one.

use crate::format::{Objective, Problem, SolverKind};
use crate::validation::Valid;
use std::collections::{BTreeSet, HashMap};

/// Numerical tolerance for capacity comparisons.
pub const EPS: f64 = 1e-6;

macro_rules! index_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub usize);
    };
}
index_type!(
    /// Index into `Domain::storage`.
    StorageIx
);
index_type!(
    /// Index into `Domain::hosts`.
    HostIx
);
index_type!(
    /// Index into `Domain::requests`.
    RequestIx
);

/// A storage system.
#[derive(Debug, Clone)]
pub struct StorageSys {
    /// Wire id.
    pub id: String,
    /// Capacity in GiB.
    pub capacity: f64,
    /// Used before this batch, GiB.
    pub used: f64,
    /// Hosts connected to it.
    pub hosts: Vec<HostIx>,
}

impl StorageSys {
    /// Free GiB before this batch.
    pub fn free(&self) -> f64 {
        (self.capacity - self.used).max(0.0)
    }
}

/// A host with dense resource vectors (indexed like `Domain::resources`).
#[derive(Debug, Clone)]
pub struct HostNode {
    /// Wire id.
    pub id: String,
    /// Capacity per resource.
    pub capacity: Vec<f64>,
    /// Used before this batch.
    pub used: Vec<f64>,
    /// Connected storage systems.
    pub storage: Vec<StorageIx>,
}

impl HostNode {
    /// Free capacity per resource before this batch.
    pub fn free(&self) -> Vec<f64> {
        self.capacity
            .iter()
            .zip(&self.used)
            .map(|(c, u)| (c - u).max(0.0))
            .collect()
    }
    /// Whether the host has less free capacity of some resource than `free` says now (it took
    /// a VM of this batch), without allocating.
    pub fn took_some(&self, free: &[f64]) -> bool {
        free.iter()
            .zip(self.capacity.iter().zip(&self.used))
            .any(|(now, (c, u))| now + 1e-9 < (c - u).max(0.0))
    }
    /// Whether the host runs anything before this batch.
    pub fn initially_active(&self) -> bool {
        self.used.iter().any(|&u| u > EPS)
    }
}

/// One VM request.
#[derive(Debug, Clone)]
pub struct Vm {
    /// Wire id.
    pub id: String,
    /// Demand per resource.
    pub demand: Vec<f64>,
    /// Disk image size, GiB.
    pub disk: f64,
    /// Storage already chosen.
    pub storage: Option<StorageIx>,
    /// Priority weight (> 0).
    pub priority: f64,
    /// Anti-affinity group index.
    pub group: Option<usize>,
}

/// Resolved solver settings (document options overridden by CLI flags).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Wall-clock limit for the whole call.
    pub time_limit_s: f64,
    /// Relative MIP gap.
    pub mip_gap: f64,
    /// HiGHS threads.
    pub threads: u32,
    /// Storage phase objective.
    pub storage_policy: Objective,
    /// Host phase objective.
    pub host_policy: Objective,
    /// Weight of the migration-flexibility term.
    pub flexibility_weight: f64,
    /// MIP or greedy.
    pub solver: SolverKind,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            time_limit_s: 10.0,
            mip_gap: 0.001,
            threads: 1,
            storage_policy: Objective::Balance,
            host_policy: Objective::Pack,
            flexibility_weight: 0.5,
            solver: SolverKind::Mip,
        }
    }
}

/// The validated problem.
#[derive(Debug, Clone)]
pub struct Domain {
    /// Resource names, sorted; index = dimension.
    pub resources: Vec<String>,
    /// Storage systems.
    pub storage: Vec<StorageSys>,
    /// Hosts.
    pub hosts: Vec<HostNode>,
    /// Requests, in input order.
    pub requests: Vec<Vm>,
    /// Anti-affinity group names.
    pub groups: Vec<String>,
    /// Settings.
    pub settings: Settings,
    /// [`Domain::static_domain`] of every distinct demand on every storage, computed once: the
    /// greedy solvers and the flexibility term ask for it per request.
    reach: StaticReach,
}

/// Connected hosts that fit each distinct demand before the batch, per storage system.
#[derive(Debug, Clone, Default)]
struct StaticReach {
    /// Demand class of each request.
    class: Vec<usize>,
    /// Per class, per storage: the count.
    count: Vec<Vec<usize>>,
}

impl StaticReach {
    fn new(storage: &[StorageSys], hosts: &[HostNode], requests: &[Vm]) -> Self {
        let mut classes: std::collections::HashMap<Vec<u64>, usize> = Default::default();
        let mut demands: Vec<&[f64]> = Vec::new();
        let class = requests
            .iter()
            .map(|r| {
                *classes.entry(bits(&r.demand)).or_insert_with(|| {
                    demands.push(&r.demand);
                    demands.len() - 1
                })
            })
            .collect();
        let free: Vec<Vec<f64>> = hosts.iter().map(HostNode::free).collect();
        let count = demands
            .iter()
            .map(|d| {
                storage
                    .iter()
                    .map(|s| s.hosts.iter().filter(|h| fits(d, &free[h.0])).count())
                    .collect()
            })
            .collect();
        StaticReach { class, count }
    }
}

/// Whether `demand` fits into `free` in every dimension.
pub fn fits(demand: &[f64], free: &[f64]) -> bool {
    demand.iter().zip(free).all(|(d, f)| *d <= *f + EPS)
}

impl Domain {
    /// Builds the domain from a validated problem and settings.
    pub fn from_problem(problem: &Valid<Problem>, settings: Settings) -> Domain {
        let p: &Problem = problem;
        let resources: Vec<String> = p
            .hosts
            .iter()
            .flat_map(|h| h.capacity.keys())
            .chain(p.requests.iter().flat_map(|r| r.demand.keys()))
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let dense = |m: Option<&crate::format::Resources>| -> Vec<f64> {
            resources
                .iter()
                .map(|r| m.and_then(|m| m.get(r)).copied().unwrap_or(0.0))
                .collect()
        };
        let storage_index: HashMap<&str, StorageIx> = p
            .storage
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.as_str(), StorageIx(i)))
            .collect();
        let mut storage: Vec<StorageSys> = p
            .storage
            .iter()
            .map(|s| StorageSys {
                id: s.id.clone(),
                capacity: super::usable_gib(s),
                used: s.used_gib,
                hosts: Vec::new(),
            })
            .collect();
        let hosts: Vec<HostNode> = p
            .hosts
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let mut links: Vec<StorageIx> = h
                    .storage
                    .iter()
                    .filter_map(|s| storage_index.get(s.as_str()).copied())
                    .collect();
                links.sort();
                links.dedup();
                for s in &links {
                    storage[s.0].hosts.push(HostIx(i));
                }
                HostNode {
                    id: h.id.clone(),
                    capacity: dense(Some(&super::usable(
                        &h.capacity,
                        &h.reserved,
                        &h.allocation_ratio,
                    ))),
                    used: dense(h.used.as_ref()),
                    storage: links,
                }
            })
            .collect();
        let mut groups: Vec<String> = Vec::new();
        let mut group_index: HashMap<String, usize> = HashMap::new();
        let requests: Vec<Vm> = p
            .requests
            .iter()
            .map(|r| {
                let group = r.anti_affinity.as_ref().map(|g| {
                    *group_index.entry(g.clone()).or_insert_with(|| {
                        groups.push(g.clone());
                        groups.len() - 1
                    })
                });
                Vm {
                    id: r.id.clone(),
                    demand: dense(Some(&r.demand)),
                    // A request that names its storage has its image there already (phase 1
                    // done): the storage's `used` counts it, so it adds nothing more.
                    disk: if r.storage.is_some() { 0.0 } else { r.disk_gib },
                    storage: r
                        .storage
                        .as_ref()
                        .and_then(|s| storage_index.get(s.as_str()).copied()),
                    priority: r.priority.unwrap_or(1.0),
                    group,
                }
            })
            .collect();
        let reach = StaticReach::new(&storage, &hosts, &requests);
        Domain {
            resources,
            storage,
            hosts,
            requests,
            groups,
            settings,
            reach,
        }
    }

    /// Hosts connected to `s` whose free capacity before the batch fits request `r`.
    pub fn static_domain(&self, r: RequestIx, s: StorageIx) -> usize {
        self.reach.count[self.reach.class[r.0]][s.0]
    }
}

/// Identical requests aggregated: the MIPs count how many of a flavor go where.
#[derive(Debug, Clone)]
pub struct Flavor {
    /// Members, in input order.
    pub members: Vec<RequestIx>,
}

/// Groups requests by a key; flavors come out in order of their first member.
pub fn flavors_by<K: std::hash::Hash + Eq>(
    d: &Domain,
    include: impl Fn(RequestIx) -> bool,
    key: impl Fn(&Vm) -> K,
) -> Vec<Flavor> {
    let mut index: HashMap<K, usize> = HashMap::new();
    let mut out: Vec<Flavor> = Vec::new();
    for (i, vm) in d.requests.iter().enumerate() {
        if !include(RequestIx(i)) {
            continue;
        }
        let k = key(vm);
        let f = *index.entry(k).or_insert_with(|| {
            out.push(Flavor {
                members: Vec::new(),
            });
            out.len() - 1
        });
        out[f].members.push(RequestIx(i));
    }
    out
}

/// Bit pattern of a float vector, usable as a hash key.
pub fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// A (partial) assignment: storage and host per request.
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    /// Storage per request.
    pub storage: Vec<Option<StorageIx>>,
    /// Host per request.
    pub host: Vec<Option<HostIx>>,
}

impl Assignment {
    /// Nothing assigned.
    pub fn empty(n: usize) -> Self {
        Assignment {
            storage: vec![None; n],
            host: vec![None; n],
        }
    }
}

/// Remaining capacities while an assignment is built or evaluated.
#[derive(Debug, Clone)]
pub struct Load {
    /// Free GiB per storage.
    pub storage_free: Vec<f64>,
    /// Free resources per host.
    pub host_free: Vec<Vec<f64>>,
    /// Groups present per host.
    pub host_groups: Vec<Vec<usize>>,
}

impl Load {
    /// The pool before this batch.
    pub fn initial(d: &Domain) -> Self {
        Load {
            storage_free: d.storage.iter().map(StorageSys::free).collect(),
            host_free: d.hosts.iter().map(HostNode::free).collect(),
            host_groups: vec![Vec::new(); d.hosts.len()],
        }
    }
    /// Whether request `r` can go to host `h` (capacity and anti-affinity).
    pub fn host_accepts(&self, d: &Domain, r: RequestIx, h: HostIx) -> bool {
        let vm = &d.requests[r.0];
        fits(&vm.demand, &self.host_free[h.0])
            && vm.group.is_none_or(|g| !self.host_groups[h.0].contains(&g))
    }
    /// Books request `r` on storage `s`.
    pub fn take_storage(&mut self, d: &Domain, r: RequestIx, s: StorageIx) {
        self.storage_free[s.0] -= d.requests[r.0].disk;
    }
    /// Books request `r` on host `h`.
    pub fn take_host(&mut self, d: &Domain, r: RequestIx, h: HostIx) {
        let vm = &d.requests[r.0];
        for (f, x) in self.host_free[h.0].iter_mut().zip(&vm.demand) {
            *f -= x;
        }
        if let Some(g) = vm.group {
            self.host_groups[h.0].push(g);
        }
    }
}

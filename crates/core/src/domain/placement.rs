//! The validated domain: typed indices, dense resource vectors, connectivity lists.
//!
//! `Domain::from_problem` is the only bridge from the wire format; it expects a document that
//! passed `crate::validation` and never panics on one (it lives in `placement/build.rs`).

use std::collections::HashMap;
use vmplace_wire::{Objective, SolverKind};

mod build;

pub use super::tolerance::{EPS, MIP_TOL, NOISE, TINY};

pub use super::axes::Axes;
pub use super::index::{HostIx, Idx, IxVec, RequestIx, StorageIx};

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
            .any(|(now, (c, u))| now + NOISE < (c - u).max(0.0))
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
    /// Index into `Domain::storage_rules` when the request has storage traits.
    pub storage_rule: Option<usize>,
    /// Indices into `Domain::group_rules`: the `groups` the request belongs to.
    pub rules: Vec<usize>,
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
    /// Dimension names: the measured resources, sorted, then one rule dimension per host trait
    /// rule of the batch (see [`Domain::axes`]).
    pub resources: Vec<String>,
    /// The measured resources (cpu, memory...), `resources[..axes.len()]`, with their roles.
    /// Each later dimension is a host trait rule, `trait:T` (the host has T) or `no-trait:T` (it
    /// lacks T): a host that satisfies it offers as many units as the batch has requests, one
    /// that does not offers none, and a request with the rule needs one unit. Every capacity
    /// check then enforces the traits; utilisation and the capacity rows of the models count
    /// measured resources only.
    pub axes: Axes,
    /// Per storage rule (a distinct pair of required and forbidden storage traits), whether each
    /// storage system satisfies it.
    pub storage_rules: Vec<IxVec<StorageIx, bool>>,
    /// Storage systems.
    pub storage: IxVec<StorageIx, StorageSys>,
    /// Hosts.
    pub hosts: IxVec<HostIx, HostNode>,
    /// Requests, in input order.
    pub requests: IxVec<RequestIx, Vm>,
    /// Anti-affinity group names (`requests[].anti_affinity`).
    pub groups: Vec<String>,
    /// The rules of `groups[]` (anti-affinity, affinity, spread over a scope).
    pub group_rules: Vec<super::groups::GroupRule>,
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
    class: IxVec<RequestIx, usize>,
    /// Per class, per storage: the count.
    count: Vec<IxVec<StorageIx, usize>>,
}

impl StaticReach {
    /// A storage system the request's storage traits exclude reaches no host.
    fn new(
        storage: &IxVec<StorageIx, StorageSys>,
        hosts: &IxVec<HostIx, HostNode>,
        requests: &IxVec<RequestIx, Vm>,
        storage_rules: &[IxVec<StorageIx, bool>],
    ) -> Self {
        let mut classes: std::collections::HashMap<(Vec<u64>, Option<usize>), usize> =
            Default::default();
        let mut demands: Vec<(&[f64], Option<usize>)> = Vec::new();
        let class = requests
            .iter()
            .map(|r| {
                *classes
                    .entry((bits(&r.demand), r.storage_rule))
                    .or_insert_with(|| {
                        demands.push((&r.demand, r.storage_rule));
                        demands.len() - 1
                    })
            })
            .collect();
        let free = hosts.map(HostNode::free);
        let count = demands
            .iter()
            .map(|(d, rule)| {
                storage
                    .enumerate()
                    .map(|(s, sys)| {
                        if rule.is_some_and(|k| !storage_rules[k][s]) {
                            return 0;
                        }
                        sys.hosts.iter().filter(|&&h| fits(d, &free[h])).count()
                    })
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
    /// A part of the pool as a problem of its own (the neighbourhood search re-solves parts):
    /// the part's hosts with `host_used`, its storage systems with `storage_used` and only the
    /// links between them, and its requests. Indices are the part's, in the order `part` lists
    /// them. Group rules (`groups[]`) are not carried: callers re-solve parts of calls without
    /// them. A pinned request's storage must be in the part.
    pub fn part(&self, part: &Part) -> Domain {
        let index_of = |s: StorageIx| part.storage.iter().position(|&x| x == s).map(StorageIx);
        let mut storage: IxVec<StorageIx, StorageSys> = part
            .storage
            .iter()
            .zip(&part.storage_used)
            .map(|(&s, &used)| StorageSys {
                id: self.storage[s].id.clone(),
                capacity: self.storage[s].capacity,
                used,
                hosts: Vec::new(),
            })
            .collect();
        let hosts: IxVec<HostIx, HostNode> = part
            .hosts
            .iter()
            .zip(&part.host_used)
            .enumerate()
            .map(|(i, (&h, used))| {
                let links: Vec<StorageIx> = self.hosts[h]
                    .storage
                    .iter()
                    .filter_map(|&s| index_of(s))
                    .collect();
                for s in &links {
                    storage[s].hosts.push(HostIx(i));
                }
                HostNode {
                    id: self.hosts[h].id.clone(),
                    capacity: self.hosts[h].capacity.clone(),
                    used: used.clone(),
                    storage: links,
                }
            })
            .collect();
        let requests: IxVec<RequestIx, Vm> = part
            .requests
            .iter()
            .map(|&r| {
                let vm = &self.requests[r];
                debug_assert!(vm.storage.is_none_or(|s| index_of(s).is_some()));
                Vm {
                    storage: vm.storage.and_then(index_of),
                    rules: Vec::new(),
                    ..vm.clone()
                }
            })
            .collect();
        let storage_rules: Vec<IxVec<StorageIx, bool>> = self
            .storage_rules
            .iter()
            .map(|rule| part.storage.iter().map(|s| rule[s]).collect())
            .collect();
        let reach = StaticReach::new(&storage, &hosts, &requests, &storage_rules);
        Domain {
            resources: self.resources.clone(),
            axes: self.axes.clone(),
            storage_rules,
            storage,
            hosts,
            requests,
            groups: self.groups.clone(),
            group_rules: Vec::new(),
            settings: self.settings.clone(),
            reach,
        }
    }

    /// Hosts connected to `s` whose free capacity before the batch fits request `r` (0 when
    /// the request's storage traits exclude `s`).
    pub fn static_domain(&self, r: RequestIx, s: StorageIx) -> usize {
        self.reach.count[self.reach.class[r]][s]
    }

    /// Whether request `r`'s storage traits allow storage system `s`.
    pub fn storage_allows(&self, r: RequestIx, s: StorageIx) -> bool {
        self.requests[r]
            .storage_rule
            .is_none_or(|k| self.storage_rules[k][s])
    }

    /// Whether host `h` satisfies request `r`'s host traits (its rule dimensions).
    pub fn traits_allow(&self, r: RequestIx, h: HostIx) -> bool {
        let (vm, host) = (&self.requests[r], &self.hosts[h]);
        (self.axes.len()..self.resources.len()).all(|k| vm.demand[k] <= host.capacity[k])
    }
}

/// The domain build stopped ([`crate::budget::Budget`]) before it was complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped;

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
    for (i, vm) in d.requests.enumerate() {
        if !include(i) {
            continue;
        }
        let k = key(vm);
        let f = *index.entry(k).or_insert_with(|| {
            out.push(Flavor {
                members: Vec::new(),
            });
            out.len() - 1
        });
        out[f].members.push(i);
    }
    out
}

/// Bit pattern of a float vector, usable as a hash key.
pub fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// A part of the pool, for [`Domain::part`].
#[derive(Debug, Clone, Default)]
pub struct Part {
    /// The part's hosts: the pool's host of each of the part's.
    pub hosts: IxVec<HostIx, HostIx>,
    /// Per host of the part: what it runs that the part does not re-place.
    pub host_used: Vec<Vec<f64>>,
    /// The part's storage systems.
    pub storage: IxVec<StorageIx, StorageIx>,
    /// Per storage system of the part: GiB used by what the part does not re-place.
    pub storage_used: Vec<f64>,
    /// The requests the part places.
    pub requests: IxVec<RequestIx, RequestIx>,
}

/// A (partial) assignment: storage and host per request.
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    /// Storage per request.
    pub storage: IxVec<RequestIx, Option<StorageIx>>,
    /// Host per request.
    pub host: IxVec<RequestIx, Option<HostIx>>,
}

impl Assignment {
    /// Nothing assigned.
    pub fn empty(n: usize) -> Self {
        Assignment {
            storage: IxVec::filled(None, n),
            host: IxVec::filled(None, n),
        }
    }
}

/// Remaining capacities while an assignment is built or evaluated.
#[derive(Debug, Clone)]
pub struct Load {
    /// Free GiB per storage.
    pub storage_free: IxVec<StorageIx, f64>,
    /// Free resources per host.
    pub host_free: IxVec<HostIx, Vec<f64>>,
    /// Groups present per host.
    pub host_groups: IxVec<HostIx, Vec<usize>>,
    /// Per group rule, members per domain (running before the batch, then booked), sparse.
    pub rule_counts: Vec<super::groups::Counts>,
}

impl Load {
    /// The pool before this batch.
    pub fn initial(d: &Domain) -> Self {
        Load {
            storage_free: d.storage.iter().map(StorageSys::free).collect(),
            host_free: d.hosts.iter().map(HostNode::free).collect(),
            host_groups: IxVec::filled(Vec::new(), d.hosts.len()),
            rule_counts: d.group_rules.iter().map(|g| g.present.clone()).collect(),
        }
    }
    /// Whether request `r` can go to host `h` (capacity, anti-affinity, group rules). A host
    /// outside a rule's scope (without its label) takes no member of it, hard or soft; a soft
    /// rule's counts only steer ([`Load::host_keeps_soft_rules`]).
    pub fn host_accepts(&self, d: &Domain, r: RequestIx, h: HostIx) -> bool {
        let vm = &d.requests[r];
        fits(&vm.demand, &self.host_free[h])
            && vm.group.is_none_or(|g| !self.host_groups[h].contains(&g))
            && vm.rules.iter().all(|&g| {
                let rule = &d.group_rules[g];
                rule.domain_of[h].is_some() && (!rule.hard || rule.admits(&self.rule_counts[g], h))
            })
    }

    /// Whether `h` also keeps request `r`'s soft group rules (the greedy choices prefer it).
    pub fn host_keeps_soft_rules(&self, d: &Domain, r: RequestIx, h: HostIx) -> bool {
        d.requests[r].rules.iter().all(|&g| {
            let rule = &d.group_rules[g];
            rule.hard || rule.admits(&self.rule_counts[g], h)
        })
    }
    /// Books request `r` on storage `s`.
    pub fn take_storage(&mut self, d: &Domain, r: RequestIx, s: StorageIx) {
        self.storage_free[s] -= d.requests[r].disk;
    }
    /// Books request `r` on host `h`.
    pub fn take_host(&mut self, d: &Domain, r: RequestIx, h: HostIx) {
        let vm = &d.requests[r];
        for (f, x) in self.host_free[h].iter_mut().zip(&vm.demand) {
            *f -= x;
        }
        if let Some(g) = vm.group {
            self.host_groups[h].push(g);
        }
        for &g in &vm.rules {
            if let Some(dm) = d.group_rules[g].domain_of[h] {
                self.rule_counts[g].add(dm, 1);
            }
        }
    }
}

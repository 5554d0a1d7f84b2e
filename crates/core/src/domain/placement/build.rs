//! The only bridge from the wire format: [`Domain::from_problem`] and [`Domain::within`] build the
//! domain from a validated problem.

use super::{
    bits, fits, Axes, Domain, HostIx, HostNode, IxVec, RequestIx, Settings, StaticReach, Stopped,
    StorageIx, StorageSys, Vm,
};
use crate::budget::Budget;
use crate::validation::Valid;
use std::collections::{BTreeSet, HashMap};
use vmplace_wire::Problem;

impl Domain {
    /// Builds the domain from a validated problem and settings.
    pub fn from_problem(problem: &Valid<Problem>, settings: Settings) -> Domain {
        match Domain::within(problem, settings, &Budget::default()) {
            Ok(d) => d,
            Err(Stopped) => unreachable!("a build without a deadline or cancel flag never stops"),
        }
    }

    /// Builds the domain, asking `stop` while it builds the group rules (the part that grows with
    /// groups x hosts): `Err(Stopped)` when the call's time ran out or its client went away.
    pub fn within(
        problem: &Valid<Problem>,
        settings: Settings,
        stop: &Budget,
    ) -> Result<Domain, Stopped> {
        let p: &Problem = problem;
        let dims = Dimensions::of_batch(p);
        let (storage_rules, storage_rule_of) = storage_rules(p);
        let storage_index: HashMap<&str, StorageIx> = p
            .storage
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.as_str(), StorageIx(i)))
            .collect();
        let mut storage = storage_systems(p);
        let hosts = host_nodes(p, &dims, &storage_index, &mut storage);
        let kept = kept_groups(p);
        let Requests { requests, groups } =
            requests(p, &dims, &storage_index, &storage_rule_of, &kept);
        let group_rules = group_rules(p, &kept, &hosts, &requests, stop)?;
        let reach = StaticReach::new(&storage, &hosts, &requests, &storage_rules);
        Ok(Domain {
            resources: dims.names(),
            axes: dims.measured.clone(),
            storage_rules,
            storage,
            hosts,
            requests,

            groups,
            group_rules,
            settings,
            reach,
        })
    }
}

/// The dimensions of the batch's vectors: the measured resources, sorted, then one per host
/// trait rule (see [`Domain::measured`]).
struct Dimensions {
    /// The measured resources, sorted.
    measured: Axes,
    /// The host trait rules of the batch.
    rules: Vec<HostRule>,
    /// What a host that satisfies a rule offers of its dimension: the batch's request count.
    offer: f64,
}

impl Dimensions {
    /// The dimensions of `p`: every resource a host or request names, and its trait rules.
    fn of_batch(p: &Problem) -> Self {
        let measured = Axes::of(
            p.hosts
                .iter()
                .map(|h| &h.capacity)
                .chain(p.requests.iter().map(|r| &r.demand)),
        );
        Dimensions {
            measured,
            rules: HostRule::of_batch(p),
            offer: p.requests.len() as f64,
        }
    }

    /// Every dimension's name: the measured resources', then the rules'.
    fn names(&self) -> Vec<String> {
        let mut names = self.measured.names().to_vec();
        names.extend(self.rules.iter().map(HostRule::name));
        names
    }

    /// The measured part of a vector: `m`'s amounts, 0 for a resource it does not name.
    fn dense(&self, m: Option<&vmplace_wire::Resources>) -> Vec<f64> {
        m.map_or_else(
            || vec![0.0; self.measured.len()],
            |m| self.measured.dense(m),
        )
    }

    /// `v` extended by the rule dimensions: `amount` for each rule `unit` holds, else 0.
    fn with_rules(
        &self,
        mut v: Vec<f64>,
        unit: &dyn Fn(&HostRule) -> bool,
        amount: f64,
    ) -> Vec<f64> {
        v.extend(
            self.rules
                .iter()
                .map(|k| if unit(k) { amount } else { 0.0 }),
        );
        v
    }
}

/// The storage systems of `p`, without their hosts yet.
fn storage_systems(p: &Problem) -> IxVec<StorageIx, StorageSys> {
    p.storage
        .iter()
        .map(|s| StorageSys {
            id: s.id.clone(),
            capacity: crate::resources::usable_gib(s),
            used: s.used_gib,
            hosts: Vec::new(),
        })
        .collect()
}

/// The hosts of `p`, each with its links (sorted, unique); every link is also recorded on its
/// storage system's `hosts`.
fn host_nodes(
    p: &Problem,
    dims: &Dimensions,
    storage_index: &HashMap<&str, StorageIx>,
    storage: &mut IxVec<StorageIx, StorageSys>,
) -> IxVec<HostIx, HostNode> {
    p.hosts
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
                storage[s].hosts.push(HostIx(i));
            }
            let usable = crate::resources::usable(&h.capacity, &h.reserved, &h.allocation_ratio);
            HostNode {
                id: h.id.clone(),
                capacity: dims.with_rules(
                    dims.dense(Some(&usable)),
                    &|k| k.satisfied_by(&h.traits),
                    dims.offer,
                ),
                used: dims.with_rules(dims.dense(h.used.as_ref()), &|_| false, 0.0),
                storage: links,
            }
        })
        .collect()
}

/// The requests of a batch and the anti-affinity group names they use.
struct Requests {
    /// The requests, in input order.
    requests: IxVec<RequestIx, Vm>,
    /// Anti-affinity group names, in order of first use.
    groups: Vec<String>,
}

/// The requests of `p`; `kept` are the groups of `groups[]` with rules ([`kept_groups`]).
fn requests(
    p: &Problem,
    dims: &Dimensions,
    storage_index: &HashMap<&str, StorageIx>,
    storage_rule_of: &[Option<usize>],
    kept: &[usize],
) -> Requests {
    let kept_index: HashMap<&str, usize> = kept
        .iter()
        .enumerate()
        .map(|(k, &g)| (p.groups[g].id.as_str(), k))
        .collect();
    let mut groups: Vec<String> = Vec::new();
    let mut group_index: HashMap<String, usize> = HashMap::new();
    let requests: Vec<Vm> = p
        .requests
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let group = r.anti_affinity.as_ref().map(|g| {
                *group_index.entry(g.clone()).or_insert_with(|| {
                    groups.push(g.clone());
                    groups.len() - 1
                })
            });
            Vm {
                id: r.id.clone(),
                demand: dims.with_rules(dims.dense(Some(&r.demand)), &|k| k.held_by(r), 1.0),
                // A request that names its storage has its image there already (phase 1
                // done): the storage's `used` counts it, so it adds nothing more.
                disk: if r.storage.is_some() { 0.0 } else { r.disk_gib },
                storage: r
                    .storage
                    .as_ref()
                    .and_then(|s| storage_index.get(s.as_str()).copied()),
                priority: r.priority.unwrap_or(1.0),
                group,
                storage_rule: storage_rule_of[i],
                rules: r
                    .groups
                    .iter()
                    .filter_map(|g| kept_index.get(g.as_str()).copied())
                    .collect(),
            }
        })
        .collect();
    Requests {
        requests: requests.into(),
        groups,
    }
}

/// The groups of `groups[]` the domain builds rules for: every soft group (its violations are
/// reported) and every hard one with a member in the batch. A hard group without one constrains
/// nothing here, and 8,000 of them over 8,000 hosts took 4 GB and 23 s to build (issue 27, H2).
fn kept_groups(p: &Problem) -> Vec<usize> {
    let members: std::collections::HashSet<&str> = p
        .requests
        .iter()
        .flat_map(|r| r.groups.iter().map(String::as_str))
        .collect();
    (0..p.groups.len())
        .filter(|&g| p.groups[g].hard == Some(false) || members.contains(p.groups[g].id.as_str()))
        .collect()
}

/// The rules of the `kept` groups of `groups[]`, each with its domains; a domain has room when one
/// of its hosts fits some member before the batch. Sparse (issue 27, H2): a scope's domains are
/// built once, a rule's present members come from the hosts' `group_members` that name it, and
/// the room of a scope's domains once per distinct set of member demands. `stop` is asked
/// between rules.
fn group_rules(
    p: &Problem,
    kept: &[usize],
    hosts: &IxVec<HostIx, HostNode>,
    requests: &IxVec<RequestIx, Vm>,
    stop: &Budget,
) -> Result<Vec<crate::domain::groups::GroupRule>, Stopped> {
    use crate::domain::groups::{Counts, GroupRule, Scopes};
    let mut demands: Vec<Vec<&[f64]>> = vec![Vec::new(); kept.len()];
    for vm in requests {
        for &g in &vm.rules {
            demands[g].push(vm.demand.as_slice());
        }
    }
    let index: HashMap<&str, usize> = kept
        .iter()
        .enumerate()
        .map(|(k, &g)| (p.groups[g].id.as_str(), k))
        .collect();
    let mut scopes = Scopes::default();
    let mut present: Vec<Counts> = vec![Counts::default(); kept.len()];
    for (h, host) in p.hosts.iter().enumerate() {
        for (id, &n) in &host.group_members {
            let Some(&k) = index.get(id.as_str()) else {
                continue;
            };
            let scope = &p.groups[kept[k]].scope;
            let ids = p.hosts.iter().map(|x| (x.id.as_str(), &x.labels));
            if let Some(dm) = scopes.of(scope, ids).of[HostIx(h)] {
                present[k].add(dm, n);
            }
        }
        if h % 4096 == 4095 && stop.passed() {
            return Err(Stopped);
        }
    }
    let free = hosts.map(HostNode::free);
    // Per (scope, the members' distinct demands): the room of the scope's domains.
    type Demands = Vec<Vec<u64>>;
    let mut rooms: HashMap<(&str, Demands), std::sync::Arc<Vec<bool>>> = HashMap::new();
    let mut out = Vec::with_capacity(kept.len());
    for ((&g, mut demands), present) in kept.iter().zip(demands).zip(present) {
        if stop.passed() {
            return Err(Stopped);
        }
        let group = &p.groups[g];
        demands.sort_by_key(|a| bits(a));
        demands.dedup();
        let ids = p.hosts.iter().map(|x| (x.id.as_str(), &x.labels));
        let domains = scopes.of(&group.scope, ids);
        let key = (
            group.scope.as_str(),
            demands.iter().map(|d| bits(d)).collect(),
        );
        let room = rooms.entry(key).or_insert_with(|| {
            let mut room = vec![false; domains.names.len()];
            for (h, dm) in domains.of.enumerate() {
                if let Some(dm) = *dm {
                    room[dm] = room[dm] || demands.iter().any(|d| fits(d, &free[h]));
                }
            }
            std::sync::Arc::new(room)
        });
        out.push(GroupRule::from_parts(group, domains, present, room.clone()));
    }
    Ok(out)
}

/// A host trait rule of the batch: the dimension `trait:T` or `no-trait:T`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum HostRule {
    /// The host must have the trait.
    Has(String),
    /// The host must not have it.
    Lacks(String),
}

impl HostRule {
    /// Every rule some request of the batch has, sorted (required traits first).
    fn of_batch(p: &Problem) -> Vec<HostRule> {
        let mut rules: BTreeSet<HostRule> = BTreeSet::new();
        for r in &p.requests {
            rules.extend(r.required_traits.iter().cloned().map(HostRule::Has));
            rules.extend(r.forbidden_traits.iter().cloned().map(HostRule::Lacks));
        }
        rules.into_iter().collect()
    }
    fn name(&self) -> String {
        match self {
            HostRule::Has(t) => format!("trait:{t}"),
            HostRule::Lacks(t) => format!("no-trait:{t}"),
        }
    }
    fn satisfied_by(&self, traits: &vmplace_wire::problem::Traits) -> bool {
        match self {
            HostRule::Has(t) => traits.contains(t),
            HostRule::Lacks(t) => !traits.contains(t),
        }
    }
    fn held_by(&self, r: &vmplace_wire::Request) -> bool {
        match self {
            HostRule::Has(t) => r.required_traits.contains(t),
            HostRule::Lacks(t) => r.forbidden_traits.contains(t),
        }
    }
}

/// The distinct storage rules of the batch (which storage systems each allows) and each
/// request's rule, if it has storage traits.
fn storage_rules(p: &Problem) -> (Vec<IxVec<StorageIx, bool>>, Vec<Option<usize>>) {
    let mut index: HashMap<
        (
            &vmplace_wire::problem::Traits,
            &vmplace_wire::problem::Traits,
        ),
        usize,
    > = HashMap::new();
    let mut rules: Vec<IxVec<StorageIx, bool>> = Vec::new();
    let of = p
        .requests
        .iter()
        .map(|r| {
            let (req, forb) = (&r.storage_required_traits, &r.storage_forbidden_traits);
            if req.is_empty() && forb.is_empty() {
                return None;
            }
            Some(*index.entry((req, forb)).or_insert_with(|| {
                rules.push(
                    p.storage
                        .iter()
                        .map(|s| crate::resources::traits_met(req, forb, &s.traits))
                        .collect(),
                );
                rules.len() - 1
            }))
        })
        .collect();
    (rules, of)
}

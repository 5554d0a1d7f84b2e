//! The one converter between the challenge and the migration state document (issue 29, item
//! 2): [`to_state`] writes an instance as a [`State`] (`vmplace roadef --to-state`), and
//! [`from_state`] turns a validated state that carries `policy.reassign` into the engine's
//! indexed [`Model`] and initial [`Assignment`]. `vmplace roadef` reads its files through both,
//! so the challenge's format goes into the state model, never around it.
//!
//! The mapping: machine -> host `m{i}` (labels `neighborhood` and `location`), process -> VM
//! `p{i}`, service -> group `s{i}` (anti-affinity over hosts: the conflict rule; `min_domains`
//! over `location`: spreadMin; `dependencies` within `neighborhood`), resource `r{k}` ->
//! `resources[]` (transient, load cost) and host `safety_capacity`, machine move costs ->
//! `move_costs` over hosts, process move cost -> `vms[].move_cost`, the three weights ->
//! `policy.reassign`. Every VM's disk is on one storage system, `shared`, that every host reaches.

use super::model::*;
use crate::validation::reassign::domain_of;
use crate::validation::Valid;
use std::collections::{BTreeMap, HashMap};
use vmplace_wire::errors::ErrorCode;
use vmplace_wire::problem::{Group, GroupPolicy, Resources, Storage};
use vmplace_wire::reassign::{
    BalanceTarget, Dependencies, Dependency, MinDomains, MoveCosts, ReassignPolicy, ResourceRule,
};
use vmplace_wire::state::{HostState, MigrationPolicy, State, StateHost, StateVm};
use vmplace_wire::InputError;

/// The storage system every converted VM's disk is on.
pub const SHARED_STORAGE: &str = "shared";
/// The label of a machine's location (the spread rule's domain).
pub const LOCATION: &str = "location";
/// The label of a machine's neighborhood (the dependency rule's domain).
pub const NEIGHBORHOOD: &str = "neighborhood";

/// The engine's view of a state: the model and where every VM starts. Machines are the state's
/// hosts and processes its VMs, in the state's order; services are its groups in order, then one
/// service of its own for each VM in no group.
#[derive(Debug, Clone)]
pub struct Engine {
    /// The instance.
    pub model: Model,
    /// Each VM's host.
    pub initial: Assignment,
}

fn resource_id(k: usize) -> String {
    format!("r{k}")
}

/// An instance and its initial assignment as a state document (with `policy.reassign`).
pub fn to_state(model: &Model, initial: &Assignment) -> State {
    let r = model.r();
    let row = |v: &[i64], skip_zero: bool| -> Resources {
        (0..r)
            .filter(|&k| !skip_zero || v[k] != 0)
            .map(|k| (resource_id(k), v[k] as f64))
            .collect()
    };
    let hosts = (0..model.m())
        .map(|i| {
            let m = MachineIx(i as u32);
            let mut h = plain_host(format!("m{i}"), row(model.capacity(m), false));
            h.safety_capacity = row(model.safety(m), false);
            h.labels = [
                (
                    NEIGHBORHOOD.to_string(),
                    model.machines[i].neighborhood.to_string(),
                ),
                (LOCATION.to_string(), model.machines[i].location.to_string()),
            ]
            .into_iter()
            .collect();
            h
        })
        .collect();
    let vms = model
        .processes
        .iter()
        .enumerate()
        .map(|(i, p)| StateVm {
            id: format!("p{i}"),
            host: format!("m{}", initial.0.get(i).map_or(0, |m| m.0)),
            storage: SHARED_STORAGE.into(),
            demand: row(model.requirement(ProcessIx(i as u32)), true),
            usage: BTreeMap::new(),
            anti_affinity: None,
            groups: vec![format!("s{}", p.service)],
            required_traits: Default::default(),
            forbidden_traits: Default::default(),
            moved_ago_s: None,
            move_cost: (p.move_cost != 0).then_some(p.move_cost as u32),
        })
        .collect();
    let (groups, min_domains, dependencies) = services_to_groups(model);
    State {
        storage: vec![Storage {
            id: SHARED_STORAGE.into(),
            capacity_gib: 0.0,
            used_gib: 0.0,
            allocation_ratio: None,
            reserved_gib: None,
            traits: Default::default(),
        }],
        hosts,
        vms,
        groups,
        policy: Some(MigrationPolicy {
            reassign: Some(ReassignPolicy {
                vm_move: model.weights.process as u32,
                group_move: model.weights.service as u32,
                host_move: model.weights.machine as u32,
            }),
            ..Default::default()
        }),
        resources: resource_rules(model),
        balance: model
            .balances
            .iter()
            .map(|b| BalanceTarget {
                resource_a: resource_id(b.first.ix()),
                resource_b: resource_id(b.second.ix()),
                target: b.target as u32,
                weight: b.weight as u32,
            })
            .collect(),
        move_costs: host_move_costs(model),
        min_domains: Some(min_domains),
        dependencies: Some(dependencies),
    }
}

/// A host with only its id and capacity, on the shared storage.
fn plain_host(id: String, capacity: Resources) -> StateHost {
    StateHost {
        id,
        capacity,
        storage: vec![SHARED_STORAGE.into()],
        state: HostState::Active,
        power: None,
        bandwidth_mbps: None,
        labels: BTreeMap::new(),
        allocation_ratio: BTreeMap::new(),
        reserved: BTreeMap::new(),
        traits: Default::default(),
        safety_capacity: BTreeMap::new(),
    }
}

fn resource_rules(model: &Model) -> Vec<ResourceRule> {
    model
        .resources
        .iter()
        .enumerate()
        .map(|(k, x)| ResourceRule {
            name: resource_id(k),
            transient: x.transient,
            load_cost: x.load_weight as u32,
        })
        .collect()
}

/// The machine move costs over hosts, zeros left out (None when all are zero).
fn host_move_costs(model: &Model) -> Option<MoveCosts> {
    let m = model.m();
    let mut costs: BTreeMap<String, BTreeMap<String, u32>> = BTreeMap::new();
    for a in 0..m {
        for b in 0..m {
            let c = model.move_cost(MachineIx(a as u32), MachineIx(b as u32));
            if c != 0 {
                costs
                    .entry(format!("m{a}"))
                    .or_default()
                    .insert(format!("m{b}"), c as u32);
            }
        }
    }
    (!costs.is_empty()).then(|| MoveCosts {
        scope: "host".into(),
        costs,
    })
}

type GroupRules = (Vec<Group>, MinDomains, Dependencies);

/// Each service as an anti-affinity group over hosts, with its spreadMin and dependencies.
fn services_to_groups(model: &Model) -> GroupRules {
    let mut groups = Vec::with_capacity(model.services.len());
    let mut spread = MinDomains {
        scope: LOCATION.into(),
        groups: BTreeMap::new(),
    };
    let mut deps = Dependencies {
        scope: NEIGHBORHOOD.into(),
        rules: Vec::new(),
    };
    for (i, s) in model.services.iter().enumerate() {
        let id = format!("s{i}");
        groups.push(Group {
            id: id.clone(),
            policy: GroupPolicy::AntiAffinity,
            scope: "host".into(),
            max_per_domain: None,
            max_skew: None,
            hard: None,
            weight: None,
        });
        if s.spread_min > 0 {
            spread.groups.insert(id.clone(), s.spread_min);
        }
        for d in &s.depends_on {
            deps.rules.push(Dependency {
                group: id.clone(),
                on: format!("s{d}"),
            });
        }
    }
    (groups, spread, deps)
}

/// The engine's model of a validated state with `policy.reassign` (None without it). Errors:
/// costs that could overflow 64-bit sums (`E1902`); validation has checked the rest.
pub fn from_state(state: &Valid<State>) -> Option<Result<Engine, Vec<InputError>>> {
    let s: &State = state;
    let weights = s.policy.as_ref()?.reassign.clone()?;
    let names = resource_names(s);
    let rules: HashMap<&str, &ResourceRule> =
        s.resources.iter().map(|x| (x.name.as_str(), x)).collect();
    let resources = names
        .iter()
        .map(|n| Resource {
            transient: rules.get(n.as_str()).is_some_and(|x| x.transient),
            load_weight: rules.get(n.as_str()).map_or(0, |x| x.load_cost as i64),
        })
        .collect();
    let (machines, neighborhoods, locations) = machines(s);
    let (capacity, safety) = capacities(s, &names);
    let (services, service_of) = services(s);
    let mut requirement = Vec::with_capacity(s.vms.len() * names.len());
    let mut processes = Vec::with_capacity(s.vms.len());
    for (i, v) in s.vms.iter().enumerate() {
        requirement.extend(names.iter().map(|n| whole(v.demand.get(n).copied())));
        processes.push(Process {
            service: service_of[i],
            move_cost: v.move_cost.unwrap_or(0) as i64,
        });
    }
    let ix: HashMap<&str, u32> = names
        .iter()
        .enumerate()
        .map(|(k, n)| (n.as_str(), k as u32))
        .collect();
    let res = |n: &str| ResourceIx(ix.get(n).copied().unwrap_or(0));
    let model = Model {
        resources,
        machines,
        capacity,
        safety,
        machine_move_cost: move_cost_matrix(s),
        services,
        processes,
        requirement,
        balances: s
            .balance
            .iter()
            .map(|b| Balance {
                first: res(&b.resource_a),
                second: res(&b.resource_b),
                target: b.target as i64,
                weight: b.weight as i64,
            })
            .collect(),
        weights: MoveWeights {
            process: weights.vm_move as i64,
            service: weights.group_move as i64,
            machine: weights.host_move as i64,
        },
        neighborhoods,
        locations,
    };
    let host_ix: HashMap<&str, u32> = s
        .hosts
        .iter()
        .enumerate()
        .map(|(i, h)| (h.id.as_str(), i as u32))
        .collect();
    let initial = Assignment(
        s.vms
            .iter()
            .map(|v| MachineIx(host_ix.get(v.host.as_str()).copied().unwrap_or(0)))
            .collect(),
    );
    let bound = super::parse::check_cost_bound("", &model).map_err(|e| {
        e.into_iter()
            .map(|e| InputError::new(ErrorCode::ReassignValue, "", e.cause))
            .collect()
    });
    Some(bound.map(|()| Engine { model, initial }))
}

/// A whole amount as the engine counts it (validation has checked that it is one).
fn whole(x: Option<f64>) -> i64 {
    x.unwrap_or(0.0).round() as i64
}

/// The resources in the engine's order: `resources[]` first, then the others by name.
pub fn resource_names(s: &State) -> Vec<String> {
    let mut names: Vec<String> = s.resources.iter().map(|x| x.name.clone()).collect();
    let mut rest: Vec<String> = s
        .hosts
        .iter()
        .flat_map(|h| h.capacity.keys().chain(h.safety_capacity.keys()))
        .chain(s.vms.iter().flat_map(|v| v.demand.keys()))
        .filter(|n| !names.contains(n))
        .cloned()
        .collect();
    rest.sort();
    rest.dedup();
    names.extend(rest);
    names
}

/// Indices of a scope's domains over the hosts, in the order of their values (shorter first,
/// then by text, which keeps numbers in their order), and each host's; all hosts in domain 0
/// without a scope.
fn domains(s: &State, scope: Option<&str>) -> (Vec<u32>, usize) {
    let Some(scope) = scope else {
        return (vec![0; s.hosts.len()], 1);
    };
    let mut values: Vec<&str> = s.hosts.iter().filter_map(|h| domain_of(h, scope)).collect();
    values.sort_by(|a, b| (a.len(), a).cmp(&(b.len(), b)));
    values.dedup();
    let ix: HashMap<&str, u32> = values
        .iter()
        .enumerate()
        .map(|(i, v)| (*v, i as u32))
        .collect();
    let of = s
        .hosts
        .iter()
        .map(|h| {
            domain_of(h, scope)
                .and_then(|v| ix.get(v).copied())
                .unwrap_or(0)
        })
        .collect();
    (of, values.len().max(1))
}

/// The scope of the spread rule (locations) and of the dependency rule (neighborhoods).
pub fn scopes(s: &State) -> (Option<&str>, Option<&str>) {
    (
        s.min_domains.as_ref().map(|x| x.scope.as_str()),
        s.dependencies.as_ref().map(|x| x.scope.as_str()),
    )
}

fn machines(s: &State) -> (Vec<Machine>, usize, usize) {
    let (location, neighborhood) = scopes(s);
    let (loc, locations) = domains(s, location);
    let (nb, neighborhoods) = domains(s, neighborhood);
    let machines = loc
        .iter()
        .zip(&nb)
        .map(|(&l, &n)| Machine {
            neighborhood: NeighborhoodIx(n),
            location: LocationIx(l),
        })
        .collect();
    (machines, neighborhoods, locations)
}

/// Usable capacity (`(capacity - reserved) * allocation_ratio`) and safety capacity (default:
/// the usable capacity) per host and resource.
fn capacities(s: &State, names: &[String]) -> (Vec<i64>, Vec<i64>) {
    let (mut capacity, mut safety) = (Vec::new(), Vec::new());
    for h in &s.hosts {
        let usable = crate::resources::usable(&h.capacity, &h.reserved, &h.allocation_ratio);
        for n in names {
            let c = whole(usable.get(n).copied());
            capacity.push(c);
            safety.push(h.safety_capacity.get(n).map_or(c, |&x| whole(Some(x))));
        }
    }
    (capacity, safety)
}

/// Services: the groups in order, then one for each VM in no group; and each VM's service.
fn services(s: &State) -> (Vec<Service>, Vec<ServiceIx>) {
    let gix: HashMap<&str, u32> = s
        .groups
        .iter()
        .enumerate()
        .map(|(i, g)| (g.id.as_str(), i as u32))
        .collect();
    let mut services: Vec<Service> = s
        .groups
        .iter()
        .map(|_| Service {
            spread_min: 0,
            depends_on: Vec::new(),
        })
        .collect();
    for (group, &n) in s.min_domains.iter().flat_map(|x| &x.groups) {
        if let Some(&g) = gix.get(group.as_str()) {
            services[g as usize].spread_min = n;
        }
    }
    for d in s.dependencies.iter().flat_map(|x| &x.rules) {
        if let (Some(&g), Some(&on)) = (gix.get(d.group.as_str()), gix.get(d.on.as_str())) {
            services[g as usize].depends_on.push(ServiceIx(on));
        }
    }
    let mut service_of = Vec::with_capacity(s.vms.len());
    for v in &s.vms {
        let g = v.groups.first().and_then(|g| gix.get(g.as_str()).copied());
        service_of.push(ServiceIx(g.unwrap_or_else(|| {
            services.push(Service {
                spread_min: 0,
                depends_on: Vec::new(),
            });
            services.len() as u32 - 1
        })));
    }
    (services, service_of)
}

/// `move_cost[from * M + to]` from `move_costs`: by host ids, or by the hosts' label values (a VM
/// that stays then pays nothing).
fn move_cost_matrix(s: &State) -> Vec<i64> {
    let m = s.hosts.len();
    let mut out = vec![0i64; m * m];
    let Some(mc) = &s.move_costs else {
        return out;
    };
    let by_host = mc.scope == "host";
    for (a, ha) in s.hosts.iter().enumerate() {
        let Some(row) = domain_of(ha, &mc.scope).and_then(|d| mc.costs.get(d)) else {
            continue;
        };
        for (b, hb) in s.hosts.iter().enumerate() {
            if a == b && !by_host {
                continue;
            }
            if let Some(&c) = domain_of(hb, &mc.scope).and_then(|d| row.get(d)) {
                out[a * m + b] = c as i64;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roadef::parse::{parse_assignment, parse_model};

    /// Two resources (the first transient), four machines in two neighborhoods and three
    /// locations, three services (the third depends on the first, spreadMin 2), five processes,
    /// a balance objective and the three weights.
    pub const MODEL: &str = "2\n1 10\n0 1\n4\n0 0 10 10 8 8 0 1 2 3\n0 1 10 10 8 8 1 0 1 2\n1 2 10 10 8 8 2 1 0 1\n1 2 10 10 8 8 3 2 1 0\n3\n0 0\n2 0\n1 1 0\n5\n0 3 2 4\n0 2 2 0\n1 4 1 1\n1 1 1 2\n2 2 2 3\n1\n0 1 2\n5\n1 10 100\n";
    pub const INITIAL: &str = "0 1 0 2 3\n";

    fn valid(s: State) -> Valid<State> {
        crate::validation::validate_state(s).expect("a converted state is valid")
    }

    #[test]
    fn the_state_gives_back_the_same_model() {
        let m = parse_model("m", MODEL).expect("model");
        let a = parse_assignment("a", INITIAL, &m).expect("assignment");
        let e = from_state(&valid(to_state(&m, &a)))
            .expect("reassign")
            .expect("engine");
        assert_eq!(e.model, m);
        assert_eq!(e.initial, a);
    }
}

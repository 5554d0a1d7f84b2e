//! The pool a failure check runs on ([`Fleet`]: hosts, running VMs, hard group rules) and the
//! failure scenarios a `--fail` asks for ([`FailSpec`]).

use crate::domain::groups::{GroupRule, Scopes};
use crate::domain::{Axes, HostIx, IxVec, VmIx};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use vmplace_wire::problem::Group;
use vmplace_wire::problem::Traits;
use vmplace_wire::state::{HostState, State};
use vmplace_wire::{errors::ErrorCode, InputError, Placement, Problem};

/// One `--fail`: hosts that fail together, or a kind of failure to try one at a time.
#[derive(Debug, Clone, PartialEq)]
pub enum FailSpec {
    /// `host:ID`.
    Host(String),
    /// `label:KEY=VALUE`: every host with that label value.
    Label(String, String),
    /// `any-host`: every single host in turn.
    AnyHost,
    /// `any:KEY`: every value of the label in turn (`any:rack`).
    AnyLabel(String),
}

/// As `--fail` spells it: `host:h3`, `label:rack=r12`, `any-host`, `any:rack`.
impl std::fmt::Display for FailSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FailSpec::Host(id) => write!(f, "host:{id}"),
            FailSpec::Label(k, v) => write!(f, "label:{k}={v}"),
            FailSpec::AnyHost => f.write_str("any-host"),
            FailSpec::AnyLabel(k) => write!(f, "any:{k}"),
        }
    }
}

impl FailSpec {
    /// Parses `host:ID`, `label:KEY=VALUE`, `any-host` or `any:KEY`.
    pub fn parse(text: &str) -> Result<FailSpec, String> {
        if text == "any-host" {
            return Ok(FailSpec::AnyHost);
        }
        match text.split_once(':') {
            Some(("host", id)) if !id.is_empty() => Ok(FailSpec::Host(id.into())),
            Some(("any", key)) if !key.is_empty() => Ok(FailSpec::AnyLabel(key.into())),
            Some(("label", kv)) => match kv.split_once('=') {
                Some((k, v)) if !k.is_empty() && !v.is_empty() => {
                    Ok(FailSpec::Label(k.into(), v.into()))
                }
                _ => Err(format!("`{text}`: give label:KEY=VALUE")),
            },
            _ => Err(format!(
                "`{text}` is not host:ID, label:KEY=VALUE, any-host or any:KEY"
            )),
        }
    }
}

/// A host of the pool, with what runs on it (vectors over [`Fleet::axes`]).
#[derive(Debug, Clone)]
pub struct FleetHost {
    pub(super) id: String,
    pub(super) capacity: Vec<f64>,
    pub(super) used: Vec<f64>,
    pub(super) storage: Vec<String>,
    pub(super) labels: BTreeMap<String, String>,
    pub(super) traits: Traits,
    pub(super) active: bool,
    /// Members of each group running here that are not listed as VMs (`group_members`).
    pub(super) group_members: BTreeMap<String, u32>,
}

/// A running VM: it restarts elsewhere if its host fails.
#[derive(Debug, Clone)]
pub struct Running {
    pub(super) id: String,
    pub(super) host: HostIx,
    pub(super) storage: String,
    /// Over [`Fleet::axes`].
    pub(super) demand: Vec<f64>,
    pub(super) group: Option<String>,
    /// Indices into `Fleet::rules`: the groups it belongs to.
    pub(super) rules: Vec<usize>,
    pub(super) required_traits: Traits,
    pub(super) forbidden_traits: Traits,
}

impl Running {
    pub(super) fn allowed_on(&self, h: &FleetHost) -> bool {
        crate::resources::traits_met(&self.required_traits, &self.forbidden_traits, &h.traits)
    }
}

/// The pool with its running VMs.
#[derive(Debug, Clone)]
pub struct Fleet {
    /// The resources of every vector.
    pub(super) axes: Axes,
    pub(super) hosts: IxVec<HostIx, FleetHost>,
    pub(super) vms: IxVec<VmIx, Running>,
    /// The hard rules of `groups[]` over the hosts.
    pub(super) rules: Vec<GroupRule>,
    /// Per rule: its listed VMs.
    pub(super) members: Vec<Vec<VmIx>>,
    /// Per rule: the hosts whose `group_members` count its members there, with the count.
    pub(super) hosted: Vec<Vec<(HostIx, u32)>>,
}

impl Fleet {
    /// From a problem after its requests were placed: `pool` is the problem with their demand in
    /// `used`, and the placed requests run where the solution put them.
    pub fn from_placed(problem: &Problem, pool: &Problem, placements: &[Placement]) -> Fleet {
        // The hosts' resources: a demand of one no host has is not counted (nor was it before).
        let axes = Axes::of(pool.hosts.iter().map(|h| &h.capacity));
        let hosts: IxVec<HostIx, FleetHost> = pool
            .hosts
            .iter()
            .map(|h| FleetHost {
                id: h.id.clone(),
                capacity: axes.dense(&h.capacity),
                used: h
                    .used
                    .as_ref()
                    .map_or_else(|| vec![0.0; axes.len()], |u| axes.dense(u)),
                storage: h.storage.clone(),
                labels: h.labels.clone(),
                traits: h.traits.clone(),
                active: true,
                group_members: h.group_members.clone(),
            })
            .collect();
        let ix: HashMap<&str, HostIx> =
            hosts.enumerate().map(|(i, h)| (h.id.as_str(), i)).collect();
        let req: HashMap<&str, &vmplace_wire::Request> = problem
            .requests
            .iter()
            .map(|r| (r.id.as_str(), r))
            .collect();
        let mut vms: IxVec<VmIx, Running> = placements
            .iter()
            .filter_map(|p| {
                let r = req.get(p.request.as_str())?;
                Some(Running {
                    id: p.request.clone(),
                    host: *ix.get(p.host.as_deref()?)?,
                    storage: p.storage.clone(),
                    demand: axes.dense(&r.demand),
                    group: r.anti_affinity.clone(),
                    rules: rule_ix(&problem.groups, &r.groups),
                    required_traits: r.required_traits.clone(),
                    forbidden_traits: r.forbidden_traits.clone(),
                })
            })
            .collect();
        let rules = member_rules(&problem.groups, &mut vms, &hosts);
        Fleet::indexed(axes, hosts, vms, rules)
    }

    /// From a migration state document: VMs reserve their whole demand; hosts in maintenance or
    /// off take no restarts.
    pub fn from_state(state: &State) -> Fleet {
        let axes = Axes::of(state.hosts.iter().map(|h| &h.capacity));
        let mut hosts: IxVec<HostIx, FleetHost> = state
            .hosts
            .iter()
            .map(|h| FleetHost {
                id: h.id.clone(),
                capacity: axes.dense(&crate::resources::usable(
                    &h.capacity,
                    &h.reserved,
                    &h.allocation_ratio,
                )),
                used: vec![0.0; axes.len()],
                storage: h.storage.clone(),
                labels: h.labels.clone(),
                traits: h.traits.clone(),
                active: h.state == HostState::Active,
                group_members: BTreeMap::new(),
            })
            .collect();
        let ix: HashMap<String, HostIx> =
            hosts.enumerate().map(|(i, h)| (h.id.clone(), i)).collect();
        let mut vms: IxVec<VmIx, Running> = IxVec::new();
        for v in &state.vms {
            let Some(&h) = ix.get(&v.host) else { continue };
            let demand = axes.dense(&v.demand);
            for (u, d) in hosts[h].used.iter_mut().zip(&demand) {
                *u += d;
            }
            vms.push(Running {
                id: v.id.clone(),
                host: h,
                storage: v.storage.clone(),
                demand,
                group: v.anti_affinity.clone(),
                rules: rule_ix(&state.groups, &v.groups),
                required_traits: v.required_traits.clone(),
                forbidden_traits: v.forbidden_traits.clone(),
            });
        }
        let rules = member_rules(&state.groups, &mut vms, &hosts);
        Fleet::indexed(axes, hosts, vms, rules)
    }

    /// The fleet, with each rule's members listed once (a scenario counts the survivors of its
    /// rules from these, not from every VM and host per rule).
    fn indexed(
        axes: Axes,
        hosts: IxVec<HostIx, FleetHost>,
        vms: IxVec<VmIx, Running>,
        rules: Vec<GroupRule>,
    ) -> Fleet {
        let mut members = vec![Vec::new(); rules.len()];
        for (v, vm) in vms.enumerate() {
            for &r in &vm.rules {
                members[r].push(v);
            }
        }
        let ix: HashMap<&str, usize> = rules
            .iter()
            .enumerate()
            .map(|(r, g)| (g.id.as_str(), r))
            .collect();
        let mut hosted = vec![Vec::new(); rules.len()];
        for (h, host) in hosts.enumerate() {
            for (g, &n) in &host.group_members {
                if let Some(&r) = ix.get(g.as_str()) {
                    hosted[r].push((h, n));
                }
            }
        }
        Fleet {
            axes,
            hosts,
            vms,
            rules,
            members,
            hosted,
        }
    }

    /// The failure sets the specs ask for: the fixed hosts (`host:`, `label:`) together, once, or
    /// with each choice of the one `any-` spec in turn. Errors name the `--fail` at fault.
    pub fn scenarios(
        &self,
        specs: &[FailSpec],
    ) -> Result<Vec<(String, Vec<HostIx>)>, Vec<InputError>> {
        let mut errors = Vec::new();
        let mut fixed: BTreeSet<HostIx> = BTreeSet::new();
        let mut names: Vec<String> = Vec::new();
        let mut each: Option<Vec<(String, Vec<HostIx>)>> = None;
        for (i, spec) in specs.iter().enumerate() {
            let at = vmplace_wire::Flag::Fail(i + 1);
            let hosts: Vec<HostIx> = match spec {
                FailSpec::Host(id) => self
                    .hosts
                    .enumerate()
                    .find(|(_, h)| &h.id == id)
                    .map(|(i, _)| i)
                    .into_iter()
                    .collect(),
                FailSpec::Label(k, v) => self.with_label(k, v),
                FailSpec::AnyHost | FailSpec::AnyLabel(_) => {
                    if each.is_some() {
                        errors.push(InputError::new(
                            ErrorCode::BadFailure,
                            at,
                            "only one any-host or any:KEY per call",
                        ));
                        continue;
                    }
                    let choices = self.each(spec);
                    if choices.is_empty() {
                        errors.push(InputError::new(
                            ErrorCode::UnknownFailure,
                            at,
                            "no host has that label",
                        ));
                    }
                    each = Some(choices);
                    continue;
                }
            };
            if hosts.is_empty() {
                errors.push(InputError::new(
                    ErrorCode::UnknownFailure,
                    at,
                    format!("`{spec}` names no host of the pool"),
                ));
            }
            names.push(spec.to_string());
            fixed.extend(hosts);
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let base = names.join(" + ");
        Ok(match each {
            None => vec![(base, fixed.into_iter().collect())],
            Some(choices) => choices
                .into_iter()
                .map(|(name, hosts)| {
                    let name = if base.is_empty() {
                        name
                    } else {
                        format!("{base} + {name}")
                    };
                    let mut set = fixed.clone();
                    set.extend(hosts);
                    (name, set.into_iter().collect())
                })
                .collect(),
        })
    }

    fn with_label(&self, k: &str, v: &str) -> Vec<HostIx> {
        self.hosts
            .ids()
            .filter(|&h| self.hosts[h].labels.get(k).map(String::as_str) == Some(v))
            .collect()
    }

    /// The choices of an `any-` spec: each host, or each value of the label.
    fn each(&self, spec: &FailSpec) -> Vec<(String, Vec<HostIx>)> {
        match spec {
            FailSpec::AnyLabel(k) => {
                // One pass over the hosts (8,000 racks were 8,000 passes).
                let mut values: BTreeMap<&String, Vec<HostIx>> = BTreeMap::new();
                for (h, host) in self.hosts.enumerate() {
                    if let Some(v) = host.labels.get(k) {
                        values.entry(v).or_default().push(h);
                    }
                }
                values
                    .into_iter()
                    .map(|(v, hosts)| (format!("label:{k}={v}"), hosts))
                    .collect()
            }
            _ => self
                .hosts
                .enumerate()
                .map(|(h, host)| (format!("host:{}", host.id), vec![h]))
                .collect(),
        }
    }
}

/// The rules of the `groups` some VM is a member of, over the fleet's hosts (soft ones too; only
/// hard ones are held); `vms[].rules` are renumbered to index them. A group without members
/// constrains no restart, and 8,000 of them over 8,000 racks took 2.6 GB and 8.6 s to build as
/// dense group x host rules (issue 27, H2).
fn member_rules(
    groups: &[Group],
    vms: &mut IxVec<VmIx, Running>,
    hosts: &IxVec<HostIx, FleetHost>,
) -> Vec<GroupRule> {
    let mut index: Vec<Option<usize>> = vec![None; groups.len()];
    let mut kept = Vec::new();
    for vm in vms.iter_mut() {
        for g in vm.rules.iter_mut() {
            *g = *index[*g].get_or_insert_with(|| {
                kept.push(*g);
                kept.len() - 1
            });
        }
    }
    let mut scopes = Scopes::default();
    kept.iter()
        .map(|&g| {
            let hosts = || hosts.iter().map(|h| (h.id.as_str(), &h.labels, false));
            GroupRule::over(&groups[g], hosts, &mut scopes)
        })
        .collect()
}

/// Positions in `groups` of the ids a VM lists.
fn rule_ix(groups: &[Group], ids: &[String]) -> Vec<usize> {
    ids.iter()
        .filter_map(|id| groups.iter().position(|g| &g.id == id))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fifty racks, fifty member-less anti-affinity groups, one group with two members.
    fn state() -> State {
        let hosts: Vec<serde_json::Value> = (0..50)
            .map(|i| {
                serde_json::json!({"id": format!("h{i}"), "capacity": {"cpu": 8, "memory_gib": 32},
                                   "storage": ["s"], "labels": {"rack": format!("r{i}")}})
            })
            .collect();
        let mut groups: Vec<serde_json::Value> = (0..50)
            .map(|i| serde_json::json!({"id": format!("idle{i}"), "policy": "anti-affinity", "scope": "rack"}))
            .collect();
        groups.push(serde_json::json!({"id": "used", "policy": "anti-affinity", "scope": "rack"}));
        let vms: Vec<serde_json::Value> = (0..2)
            .map(|i| {
                serde_json::json!({"id": format!("m{i}"), "host": format!("h{i}"), "storage": "s",
                                   "demand": {"cpu": 1, "memory_gib": 1}, "groups": ["used"]})
            })
            .collect();
        let doc = serde_json::json!({"storage": [{"id": "s", "capacity_gib": 100}],
                                     "hosts": hosts, "vms": vms, "groups": groups});
        let valid = crate::validation::read_state(&doc.to_string()).expect("a valid state");
        (*valid).clone()
    }

    #[test]
    fn failure_scenarios_build_rules_only_for_groups_with_members() {
        // Issue 27, H2: member-less groups were built as dense group x host rules.
        let fleet = Fleet::from_state(&state());
        let ids: Vec<&str> = fleet.rules.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["used"]);
        for vm in &fleet.vms {
            assert_eq!(vm.rules, [0], "{} keeps its rule", vm.id);
        }
    }
}

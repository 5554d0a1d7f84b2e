//! Placing Ganeti instances with vmplace's two phases: which nodes each instance may use, the
//! allocation tiers (`preferred` groups, then `last_resort`), one vmplace problem per class of
//! instances with the same eligible nodes, and the load carried from one solve to the next
//! (models/ganeti.md, "Classes and tiers").

use super::cluster::{
    disk_gib_of, exclusion_tags, group_rejects, spindles_of, Cluster, Template, CPU, MEMORY,
    SPINDLES,
};
use crate::domain::Domain;
use crate::format::ganeti::{AllocPolicy, InstanceSpec};
use crate::format::{Host, Problem, Request, Resources, Solution, Status, Storage};
use crate::placement::{run_or_fallback, Mode, RunConfig};
use crate::service::api::{settings, Overrides};
use crate::validation::{validate_problem, Phase};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

/// One instance to place.
#[derive(Debug, Clone)]
pub struct Want<'s> {
    /// Instance name (vmplace request id).
    pub name: String,
    /// Its resources and template.
    pub spec: &'s InstanceSpec,
    /// Nodes it must not use (its current nodes, the nodes being evacuated).
    pub avoid: BTreeSet<String>,
    /// Only these nodes (`restrict-to-nodes`).
    pub only: Option<BTreeSet<String>>,
    /// Only these groups (a relocation stays in its group; `change-group` names targets).
    pub groups: Option<BTreeSet<String>>,
    /// The disks stay where they are (a shared-storage move within the group): phase 2 only.
    pub keep_storage: bool,
}

/// What became of one instance.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// It goes to this node of this group (UUID).
    Placed {
        /// Node name.
        node: String,
        /// Group UUID.
        group: String,
    },
    /// It cannot be placed, and why.
    Failed(String),
}

/// One vmplace solve of this call, kept so that tests can check every answer independently.
#[derive(Debug, Clone)]
pub struct Solve {
    /// The problem document.
    pub problem: Problem,
    /// vmplace's answer to it.
    pub solution: Solution,
}

/// The placer: the cluster's load as this call's placements change it.
pub struct Placer<'c, 'a> {
    cluster: &'c Cluster<'a>,
    used: BTreeMap<String, Resources>,
    disk_used: BTreeMap<String, f64>,
    excl: BTreeMap<String, BTreeSet<String>>,
    overrides: Overrides,
    cfg: RunConfig,
    deadline_s: f64,
    start: Instant,
    /// Every solve, in order.
    pub solves: Vec<Solve>,
}

/// Nodes an instance may use in one tier, and why the others are out.
struct Eligible {
    nodes: BTreeSet<String>,
    why_not: BTreeSet<String>,
}

impl<'c, 'a> Placer<'c, 'a> {
    /// A placer on the cluster as the document describes it. The time limit covers every solve
    /// of the call.
    pub fn new(cluster: &'c Cluster<'a>, overrides: Overrides, cfg: RunConfig) -> Self {
        let deadline_s = overrides.time_limit_s.unwrap_or(10.0);
        Placer {
            used: cluster
                .nodes
                .iter()
                .map(|(n, v)| (n.clone(), v.used.clone()))
                .collect(),
            disk_used: cluster
                .nodes
                .iter()
                .map(|(n, v)| (n.clone(), v.disk_used_gib))
                .collect(),
            excl: cluster
                .nodes
                .iter()
                .map(|(n, v)| (n.clone(), v.excl_tags.clone()))
                .collect(),
            cluster,
            overrides,
            cfg,
            deadline_s,
            start: Instant::now(),
            solves: Vec::new(),
        }
    }

    /// Places the instances together: every tier, every class of the same eligible nodes.
    pub fn place(&mut self, wants: &[Want<'_>]) -> Vec<Outcome> {
        let mut out: Vec<Option<Outcome>> = vec![None; wants.len()];
        let mut why: Vec<BTreeSet<String>> = vec![BTreeSet::new(); wants.len()];
        for (i, w) in wants.iter().enumerate() {
            if let Some(reason) = unsupported(w) {
                out[i] = Some(Outcome::Failed(reason));
            }
        }
        for tier in [AllocPolicy::Preferred, AllocPolicy::LastResort] {
            // Each instance is solved at most once per tier; what a tier leaves tries the next.
            let mut tried = vec![false; wants.len()];
            loop {
                // The classes as the load stands now: a solve may add exclusion tags to nodes.
                let mut classes: BTreeMap<(Template, BTreeSet<String>, bool), Vec<usize>> =
                    BTreeMap::new();
                for i in (0..wants.len()).filter(|&i| out[i].is_none() && !tried[i]) {
                    let e = self.eligible(&wants[i], tier);
                    why[i].extend(e.why_not);
                    if e.nodes.is_empty() {
                        continue;
                    }
                    let t = Template::of(&wants[i].spec.disk_template).unwrap_or(Template::Shared);
                    classes
                        .entry((t, e.nodes, wants[i].keep_storage))
                        .or_default()
                        .push(i);
                }
                let Some(((template, nodes, keep), members)) = classes.into_iter().next() else {
                    break;
                };
                let placed = self.solve_class(wants, &members, template, &nodes, keep, &mut why);
                for (&i, node) in members.iter().zip(placed) {
                    tried[i] = true;
                    if let Some(node) = node {
                        let group = self.cluster.nodes[&node].group.clone();
                        self.book(&wants[i], &node);
                        out[i] = Some(Outcome::Placed { node, group });
                    }
                }
            }
        }
        out.into_iter()
            .enumerate()
            .map(|(i, o)| {
                o.unwrap_or_else(|| {
                    let reasons: Vec<String> = why[i].iter().cloned().collect();
                    let text = if self.cluster.nodes.is_empty() {
                        "the document lists no nodes".to_string()
                    } else if reasons.is_empty() {
                        "no online, undrained, vm_capable node of an allowed group is left"
                            .to_string()
                    } else {
                        reasons.join("; ")
                    };
                    Outcome::Failed(text)
                })
            })
            .collect()
    }

    /// The worst status of the solves so far, and the largest gap.
    pub fn quality(&self) -> (Status, f64) {
        self.solves
            .iter()
            .fold((Status::Optimal, 0.0), |(s, g), x| {
                (s.max(x.solution.status), f64::max(g, x.solution.gap))
            })
    }

    fn eligible(&self, w: &Want<'_>, tier: AllocPolicy) -> Eligible {
        let tags = exclusion_tags(&self.cluster.excl_prefixes, &w.spec.tags);
        let mut e = Eligible {
            nodes: BTreeSet::new(),
            why_not: BTreeSet::new(),
        };
        let mut clash = 0;
        for (name, node) in &self.cluster.nodes {
            let Some(group) = self.cluster.group(&node.group) else {
                continue;
            };
            if group.alloc_policy == AllocPolicy::Unallocable {
                e.why_not
                    .insert(format!("group {} is unallocable", group.name));
                continue;
            }
            if group.alloc_policy != tier
                || w.groups.as_ref().is_some_and(|g| !g.contains(&node.group))
                || !node.target
                || w.avoid.contains(name)
                || w.only.as_ref().is_some_and(|o| !o.contains(name))
            {
                continue;
            }
            if let Some(reason) = group_rejects(group, w.spec, node.exclusive) {
                e.why_not.insert(reason);
                continue;
            }
            if !tags.is_disjoint(&self.excl[name]) {
                clash += 1;
                continue;
            }
            e.nodes.insert(name.clone());
        }
        if clash > 0 {
            let t: Vec<&str> = tags.iter().map(String::as_str).collect();
            e.why_not.insert(format!(
                "{clash} node(s) already run an instance with exclusion tag(s) {}",
                t.join(", ")
            ));
        }
        e
    }

    /// Solves one class with vmplace; the node of each member, `None` where it was not placed
    /// (its reason goes to `why`).
    fn solve_class(
        &mut self,
        wants: &[Want<'_>],
        members: &[usize],
        template: Template,
        nodes: &BTreeSet<String>,
        keep: bool,
        why: &mut [BTreeSet<String>],
    ) -> Vec<Option<String>> {
        let problem = self.problem(wants, members, template, nodes, keep);
        let remaining = (self.deadline_s - self.start.elapsed().as_secs_f64()).max(0.05);
        let mut overrides = self.overrides.clone();
        overrides.time_limit_s = Some(remaining);
        let value = serde_json::to_value(&problem).unwrap_or(serde_json::Value::Null);
        let valid = match validate_problem(value, Phase::Storage) {
            Ok(v) => v,
            Err(errors) => {
                // The mapping builds documents vmplace accepts; say so if one does not.
                let text = errors
                    .iter()
                    .map(|e| format!("{} at {}: {}", e.code, e.path, e.cause))
                    .collect::<Vec<_>>()
                    .join("; ");
                for &i in members {
                    why[i].insert(format!("internal: the mapped problem is invalid: {text}"));
                }
                return vec![None; members.len()];
            }
        };
        let domain = Domain::from_problem(&valid, settings(&problem, &overrides));
        let solution = run_or_fallback(&domain, Mode::Place, &self.cfg);
        let host_of: BTreeMap<&str, &str> = solution
            .placements
            .iter()
            .filter_map(|p| Some((p.request.as_str(), p.host.as_deref()?)))
            .collect();
        for u in &solution.unplaced {
            if let Some(&i) = members.iter().find(|&&i| wants[i].name == u.request) {
                let code = crate::checker::codes::wire_name(&u.code);
                why[i].insert(format!("{code}: {}", u.reason));
            }
        }
        let placed = members
            .iter()
            .map(|&i| host_of.get(wants[i].name.as_str()).map(|h| h.to_string()))
            .collect();
        self.solves.push(Solve { problem, solution });
        placed
    }

    /// The vmplace problem of one class (models/ganeti.md, "Mapping").
    fn problem(
        &self,
        wants: &[Want<'_>],
        members: &[usize],
        template: Template,
        nodes: &BTreeSet<String>,
        keep: bool,
    ) -> Problem {
        let storage_of = |node: &str| match template {
            Template::Local => format!("disk:{node}"),
            _ => format!("group:{}", self.cluster.nodes[node].group),
        };
        let total_disk: f64 = members.iter().map(|&i| disk_gib_of(wants[i].spec)).sum();
        let mut storage: BTreeMap<String, Storage> = BTreeMap::new();
        let mut hosts = Vec::new();
        for name in nodes {
            let node = &self.cluster.nodes[name];
            let sid = storage_of(name);
            storage
                .entry(sid.clone())
                .or_insert_with(|| match template {
                    Template::Local => Storage {
                        id: sid.clone(),
                        capacity_gib: node.disk_gib,
                        used_gib: self.disk_used[name].min(node.disk_gib),
                        allocation_ratio: None,
                        reserved_gib: None,
                        traits: Default::default(),
                    },
                    // Ganeti does not report shared storage's capacity: it never binds.
                    _ => Storage {
                        id: sid.clone(),
                        capacity_gib: total_disk + 1.0,
                        used_gib: 0.0,
                        allocation_ratio: None,
                        reserved_gib: None,
                        traits: Default::default(),
                    },
                });
            hosts.push(Host {
                id: name.clone(),
                capacity: node.capacity.clone(),
                used: Some(self.used[name].clone()),
                storage: vec![sid],
                labels: Default::default(),
                allocation_ratio: Default::default(),
                reserved: Default::default(),
                traits: Default::default(),
                group_members: Default::default(),
            });
        }
        let exclusive: Vec<bool> = nodes
            .iter()
            .map(|n| self.cluster.nodes[n].exclusive)
            .collect();
        let requests = members
            .iter()
            .map(|&i| {
                let w = &wants[i];
                let spindles = exclusive
                    .iter()
                    .map(|&x| spindles_of(w.spec, x))
                    .fold(0.0, f64::max);
                let tags = exclusion_tags(&self.cluster.excl_prefixes, &w.spec.tags);
                Request {
                    id: w.name.clone(),
                    demand: [
                        (CPU.to_string(), w.spec.vcpus),
                        (MEMORY.to_string(), w.spec.memory),
                        (SPINDLES.to_string(), spindles),
                    ]
                    .into_iter()
                    .collect(),
                    disk_gib: disk_gib_of(w.spec),
                    storage: keep
                        .then(|| nodes.iter().next().map(|n| storage_of(n)))
                        .flatten(),
                    priority: None,
                    anti_affinity: (!tags.is_empty())
                        .then(|| tags.into_iter().collect::<Vec<_>>().join(",")),
                    required_traits: Default::default(),
                    forbidden_traits: Default::default(),
                    storage_required_traits: Default::default(),
                    storage_forbidden_traits: Default::default(),
                    groups: Vec::new(),
                }
            })
            .collect();
        Problem {
            storage: storage.into_values().collect(),
            hosts,
            requests,
            options: None,
            groups: Vec::new(),
        }
    }

    /// Counts a placed instance on its node.
    fn book(&mut self, w: &Want<'_>, node: &str) {
        let view = &self.cluster.nodes[node];
        let used = self.used.entry(node.to_string()).or_default();
        *used.entry(CPU.to_string()).or_default() += w.spec.vcpus;
        *used.entry(MEMORY.to_string()).or_default() += w.spec.memory;
        *used.entry(SPINDLES.to_string()).or_default() += spindles_of(w.spec, view.exclusive);
        if Template::of(&w.spec.disk_template) == Some(Template::Local) {
            *self.disk_used.entry(node.to_string()).or_default() += disk_gib_of(w.spec);
        }
        self.excl
            .entry(node.to_string())
            .or_default()
            .extend(exclusion_tags(&self.cluster.excl_prefixes, &w.spec.tags));
    }
}

/// Why vmplace does not place an instance at all: DRBD and unknown templates.
pub fn unsupported(w: &Want<'_>) -> Option<String> {
    match Template::of(&w.spec.disk_template) {
        Some(Template::Drbd) => Some(
            "disk template drbd is not supported by vmplace (it needs a secondary node with \
             memory reserved for failover); keep hail for DRBD instances"
                .to_string(),
        ),
        None => Some(format!("unknown disk template {}", w.spec.disk_template)),
        Some(_) => None,
    }
}

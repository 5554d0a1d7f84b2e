//! IAllocator answers, checked from Ganeti's input document alone: every chosen node exists, is
//! online, undrained and `vm_capable`, is in a group that may take the instance, and has room for
//! it after every other instance of the same answer (memory, CPUs at the group's `vcpu-ratio`,
//! local disk for `plain`/`file`, spindles), and no node gets two instances sharing an exclusion
//! tag. It reads Ganeti's semantics from the document itself, not from vmplace's mapping.

use super::{v, Rule, Violation, TOL};
use crate::format::ganeti::{AllocPolicy, Input, InstanceSpec, Request, Response};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// A node's load while the answer's instances are added.
#[derive(Default, Clone)]
struct Load {
    memory: f64,
    cpus: f64,
    disk: f64,
    spindles: f64,
    tags: BTreeSet<String>,
}

/// Checks an answer against its input. A failed answer (`success: false`) must have an empty
/// `result`; it places nothing, so nothing else can be wrong with it.
pub fn check_iallocator(input: &Input, answer: &Response) -> Vec<Violation> {
    let mut out = Vec::new();
    if !answer.success {
        if answer.result != Value::Array(vec![]) {
            out.push(v(
                Rule::BadResult,
                "/result",
                "a failed answer's result must be []",
            ));
        }
        return out;
    }
    let mut ck = Checker::new(input);
    match &input.request {
        Request::Allocate(new) => match node_list(&answer.result) {
            Some(nodes) if nodes.len() == 1 => {
                ck.add("/result/0", &new.spec, &nodes[0], None, &mut out)
            }
            _ => out.push(v(Rule::BadResult, "/result", "expected a list of one node")),
        },
        Request::MultiAllocate { instances } => {
            let specs: BTreeMap<&str, &InstanceSpec> = instances
                .iter()
                .map(|i| (i.name.as_str(), &i.spec))
                .collect();
            let Some([done, failed]) = answer.result.as_array().map(Vec::as_slice) else {
                out.push(v(
                    Rule::BadResult,
                    "/result",
                    "expected [allocated, failed]",
                ));
                return out;
            };
            let mut seen = BTreeSet::new();
            for (i, entry) in done.as_array().into_iter().flatten().enumerate() {
                let at = format!("/result/0/{i}");
                let name = entry.get(0).and_then(Value::as_str).unwrap_or_default();
                let nodes = entry.get(1).and_then(node_list).unwrap_or_default();
                match (specs.get(name), nodes.as_slice()) {
                    (Some(spec), [node]) if seen.insert(name) => {
                        ck.add(&at, spec, node, None, &mut out)
                    }
                    _ => out.push(v(
                        Rule::BadResult,
                        at,
                        format!("`{name}` is not a requested instance with one node, once"),
                    )),
                }
            }
            for (i, entry) in failed.as_array().into_iter().flatten().enumerate() {
                let name = entry.get(0).and_then(Value::as_str).unwrap_or_default();
                if !specs.contains_key(name) || !seen.insert(name) {
                    out.push(v(
                        Rule::BadResult,
                        format!("/result/1/{i}"),
                        format!("`{name}` is not a requested instance, or is listed twice"),
                    ));
                }
            }
            if seen.len() != specs.len() {
                out.push(v(
                    Rule::BadResult,
                    "/result",
                    "every instance is allocated or failed",
                ));
            }
        }
        Request::Relocate {
            name,
            relocate_from,
            ..
        } => match (input.instances.get(name), node_list(&answer.result)) {
            (Some(inst), Some(nodes)) if nodes.len() == 1 => {
                if relocate_from.contains(&nodes[0]) {
                    out.push(v(Rule::BadResult, "/result/0", "the node it was to leave"));
                }
                let group = ck.group_of(&inst.nodes[0]);
                ck.add("/result/0", &inst.spec, &nodes[0], Some(&group), &mut out);
            }
            _ => out.push(v(Rule::BadResult, "/result", "expected a list of one node")),
        },
        Request::NodeEvacuate { instances, .. } | Request::ChangeGroup { instances, .. } => {
            ck.moves(input, instances, answer, &mut out)
        }
        Request::AllocateSecondary { .. } => {
            if answer.result.as_str().is_none() {
                out.push(v(Rule::BadResult, "/result", "expected a node name"));
            }
        }
    }
    out.sort();
    out
}

fn node_list(v: &Value) -> Option<Vec<String>> {
    v.as_array()?
        .iter()
        .map(|n| n.as_str().map(str::to_string))
        .collect()
}

struct Checker<'a> {
    input: &'a Input,
    load: BTreeMap<&'a str, Load>,
    excl: Vec<String>,
}

impl<'a> Checker<'a> {
    fn new(input: &'a Input) -> Self {
        let excl: Vec<String> = input
            .cluster_tags
            .iter()
            .filter_map(|t| t.strip_prefix("htools:iextags:").map(str::to_string))
            .collect();
        let mut ck = Checker {
            input,
            load: BTreeMap::new(),
            excl,
        };
        for (name, n) in &input.nodes {
            let mut l = Load {
                memory: n.total_memory.unwrap_or(0.0)
                    - n.reserved_memory.unwrap_or(0.0)
                    - n.free_memory.unwrap_or(0.0),
                cpus: n.reserved_cpus.unwrap_or(0.0),
                disk: n.total_disk.unwrap_or(0.0) - n.free_disk.unwrap_or(0.0),
                ..Load::default()
            };
            if ck.exclusive(name) {
                l.spindles = n.total_spindles.unwrap_or(0.0) - n.free_spindles.unwrap_or(0.0);
            }
            ck.load.insert(name.as_str(), l);
        }
        for inst in input.instances.values() {
            let Some(p) = inst.nodes.first() else {
                continue;
            };
            let exclusive = ck.exclusive(p);
            let tags = ck.tags(&inst.spec);
            if let Some(l) = ck.load.get_mut(p.as_str()) {
                l.cpus += inst.spec.vcpus;
                if !exclusive {
                    l.spindles += inst.spec.spindle_use.unwrap_or(1.0);
                }
                l.tags.extend(tags);
            }
        }
        ck
    }

    fn exclusive(&self, node: &str) -> bool {
        self.input
            .nodes
            .get(node)
            .and_then(|n| n.ndparams.as_ref())
            .is_some_and(|p| p.exclusive_storage)
    }

    fn tags(&self, spec: &InstanceSpec) -> BTreeSet<String> {
        spec.tags
            .iter()
            .filter(|t| self.excl.iter().any(|p| t.starts_with(p.as_str())))
            .cloned()
            .collect()
    }

    fn group_of(&self, node: &str) -> String {
        self.input
            .nodes
            .get(node)
            .map(|n| n.group.clone())
            .unwrap_or_default()
    }

    /// Adds an instance to a node, reporting what it breaks. `group`: the group it must be in.
    fn add(
        &mut self,
        at: &str,
        spec: &InstanceSpec,
        node: &str,
        group: Option<&str>,
        out: &mut Vec<Violation>,
    ) {
        let Some(n) = self.input.nodes.get(node) else {
            out.push(v(
                Rule::UnknownHost,
                at,
                format!("node `{node}` does not exist"),
            ));
            return;
        };
        if n.offline || n.drained || n.vm_capable == Some(false) {
            out.push(v(
                Rule::TargetNotActive,
                at,
                format!("node {node} is offline, drained or not vm_capable"),
            ));
        }
        let g = self.input.nodegroups.get(&n.group);
        let policy = g.and_then(|g| g.ipolicy.clone()).unwrap_or_default();
        if g.is_none_or(|g| g.alloc_policy == AllocPolicy::Unallocable)
            || group.is_some_and(|want| want != n.group)
        {
            out.push(v(
                Rule::GroupNotAllowed,
                at,
                format!("node {node}'s group {} may not take this instance", n.group),
            ));
        }
        if let Some(allowed) = &policy.disk_templates {
            if !allowed.contains(&spec.disk_template) {
                out.push(v(
                    Rule::GroupNotAllowed,
                    at,
                    format!("group {} does not allow {}", n.group, spec.disk_template),
                ));
            }
        }
        let exclusive = self.exclusive(node);
        let tags = self.tags(spec);
        let Some(l) = self.load.get_mut(node) else {
            return;
        };
        l.memory += spec.memory;
        l.cpus += spec.vcpus;
        l.spindles += if exclusive {
            spec.disks.iter().map(|d| d.spindles.unwrap_or(1.0)).sum()
        } else {
            spec.spindle_use.unwrap_or(1.0)
        };
        if matches!(spec.disk_template.as_str(), "plain" | "file") {
            l.disk += spec
                .disk_space_total
                .unwrap_or_else(|| spec.disks.iter().map(|d| d.size).sum());
        }
        let mem_cap = n.total_memory.unwrap_or(0.0) - n.reserved_memory.unwrap_or(0.0);
        let cpu_cap = (n.total_cpus.unwrap_or(0.0) * policy.vcpu_ratio.unwrap_or(1.0)).floor();
        let sp_cap = if exclusive {
            n.total_spindles.unwrap_or(0.0)
        } else {
            n.ndparams
                .as_ref()
                .and_then(|p| p.spindle_count)
                .unwrap_or(1.0)
                * policy.spindle_ratio.unwrap_or(1.0)
        };
        for (what, used, cap) in [
            ("memory", l.memory, mem_cap),
            ("CPUs", l.cpus, cpu_cap),
            ("local disk", l.disk, n.total_disk.unwrap_or(0.0)),
            ("spindles", l.spindles, sp_cap),
        ] {
            if used > cap + TOL * (1.0 + cap.abs()) {
                out.push(v(
                    Rule::HostCapacity,
                    at,
                    format!("node {node}: {what} {used} over {cap}"),
                ));
            }
        }
        if !l.tags.is_disjoint(&tags) {
            out.push(v(
                Rule::AntiAffinity,
                at,
                format!("node {node} already runs an instance with one of the tags {tags:?}"),
            ));
        }
        l.tags.extend(tags);
    }

    /// `[moved, failed, jobs]`: every instance once, moved ones to a node with room.
    fn moves(
        &mut self,
        input: &Input,
        names: &[String],
        answer: &Response,
        out: &mut Vec<Violation>,
    ) {
        let Some([moved, failed, jobs]) = answer.result.as_array().map(Vec::as_slice) else {
            out.push(v(
                Rule::BadResult,
                "/result",
                "expected [moved, failed, jobs]",
            ));
            return;
        };
        let targets: Option<BTreeSet<&String>> = match &input.request {
            Request::ChangeGroup { target_groups, .. } if !target_groups.is_empty() => {
                Some(target_groups.iter().collect())
            }
            _ => None,
        };
        let leaving: BTreeSet<&str> = names
            .iter()
            .filter_map(|n| input.instances.get(n)?.nodes.first().map(String::as_str))
            .collect();
        let mut seen = BTreeSet::new();
        let moved = moved.as_array().cloned().unwrap_or_default();
        for (i, entry) in moved.iter().enumerate() {
            let at = format!("/result/0/{i}");
            let name = entry.get(0).and_then(Value::as_str).unwrap_or_default();
            let nodes = entry.get(2).and_then(node_list).unwrap_or_default();
            let (Some(inst), [node], true) = (
                input
                    .instances
                    .get(name)
                    .filter(|_| names.iter().any(|n| n == name)),
                nodes.as_slice(),
                seen.insert(name.to_string()),
            ) else {
                out.push(v(
                    Rule::BadResult,
                    at,
                    format!("`{name}`: not a listed instance with one node, once"),
                ));
                continue;
            };
            let own = self.group_of(&inst.nodes[0]);
            let group = match &input.request {
                Request::NodeEvacuate { .. } => {
                    if leaving.contains(node.as_str()) {
                        out.push(v(
                            Rule::BadResult,
                            &at,
                            format!("{node} is being evacuated"),
                        ));
                    }
                    Some(own.clone())
                }
                _ => {
                    let g = self.group_of(node);
                    if g == own || targets.as_ref().is_some_and(|t| !t.contains(&g)) {
                        out.push(v(
                            Rule::GroupNotAllowed,
                            &at,
                            format!("{node} is not in a target group"),
                        ));
                    }
                    None
                }
            };
            self.add(&at, &inst.spec, node, group.as_deref(), out);
        }
        for (i, entry) in failed.as_array().into_iter().flatten().enumerate() {
            let name = entry.get(0).and_then(Value::as_str).unwrap_or_default();
            if !names.iter().any(|n| n == name) || !seen.insert(name.to_string()) {
                out.push(v(
                    Rule::BadResult,
                    format!("/result/1/{i}"),
                    format!("`{name}` listed twice or not asked"),
                ));
            }
        }
        if seen.len() != names.iter().collect::<BTreeSet<_>>().len() {
            out.push(v(
                Rule::BadResult,
                "/result",
                "every instance is moved or failed",
            ));
        }
        if jobs.as_array().map_or(0, Vec::len) != moved.len() {
            out.push(v(
                Rule::BadResult,
                "/result/2",
                "one job per moved instance",
            ));
        }
    }
}

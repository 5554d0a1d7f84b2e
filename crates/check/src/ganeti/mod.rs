//! IAllocator answers, checked from Ganeti's input document alone: every chosen node exists, is
//! online, undrained and `vm_capable`, is in a group that may take the instance, and has room for
//! it after every other instance of the same answer (memory, CPUs at the group's `vcpu-ratio`,
//! local disk for `plain`/`file`, spindles), and no node gets two instances sharing an exclusion
//! tag. A move (relocation, evacuation, group change) must be one Ganeti can make (only mirrored
//! disks move; a group change never ends in a group it evacuates), must name the new group by
//! its name, and its jobs must do exactly the moves listed. It reads Ganeti's semantics from the
//! document itself, not from vmplace's mapping.
//!
//! The context, [`Answered`], is built once: the answer's `result` read into the instances it
//! puts on nodes ([`read`]), and each node's load before the answer. Then one function per rule,
//! named after its code, in the README's order ([`RULES`], in [`rules`]); what moves may do and
//! what their jobs must do is in [`moves`].

mod moves;
mod read;
mod rules;

use super::{Collector, Findings, Rule};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use vmplace_wire::ganeti::{Input, InstanceSpec, Response};

/// A rule of IAllocator answers: its code, and the function that checks it over the context.
type RuleCheck = (Rule, fn(&Answered, &mut Collector));

/// Every IAllocator rule, in the README's order ([`Rule::IALLOCATOR`]).
const RULES: [RuleCheck; 9] = [
    (Rule::BadResult, rules::bad_result),
    (Rule::UnknownHost, rules::unknown_host),
    (Rule::TargetNotActive, rules::target_not_active),
    (Rule::GroupNotAllowed, rules::group_not_allowed),
    (Rule::NotMovable, rules::not_movable),
    (Rule::WrongGroupName, rules::wrong_group_name),
    (Rule::BadJobs, rules::bad_jobs),
    (Rule::HostCapacity, rules::host_capacity),
    (Rule::AntiAffinity, rules::anti_affinity),
];

/// Checks an answer against its input. A failed answer (`success: false`) must have an empty
/// `result`; it places nothing, so nothing else can be wrong with it.
pub fn check_iallocator(input: &Input, answer: &Response) -> Findings {
    let cx = Answered::new(input, answer);
    let mut out = Collector::default();
    for (_, rule) in RULES {
        rule(&cx, &mut out);
    }
    out.finish()
}

/// A node's load while the answer's instances are added.
#[derive(Default, Clone)]
struct Load {
    memory: f64,
    cpus: f64,
    disk: f64,
    spindles: f64,
    tags: BTreeSet<String>,
}

/// An instance the answer puts on a node, in the answer's order.
struct Add<'a> {
    /// Where the answer names it.
    at: String,
    spec: &'a InstanceSpec,
    node: String,
    /// The group it must end in (a relocation or an evacuation stays in its group).
    must_be_in: Option<String>,
    how: How<'a>,
}

/// What kind of placement an [`Add`] is.
enum How<'a> {
    /// A new instance (`allocate`, `multi-allocate`).
    New,
    /// A relocation, away from these nodes.
    Relocate { from: &'a [String] },
    /// A move of `[moved, failed, jobs]`, with the group name the answer gives it.
    Moved { group_name: Option<&'a Value> },
}

/// An answer as every rule reads it, built once.
struct Answered<'a> {
    input: &'a Input,
    /// What is wrong with the shape of `result`, found while reading it: `(path, message)`.
    shape: Vec<(String, String)>,
    /// The instances the answer puts on nodes, in order.
    adds: Vec<Add<'a>>,
    /// For `[moved, failed, jobs]`: the request, and the jobs with each moved instance's node.
    moves: Option<moves::MoveRequest<'a>>,
    jobs: Option<(&'a Value, BTreeMap<String, String>)>,
    /// Each node's load before the answer.
    load: BTreeMap<&'a str, Load>,
    /// The cluster's exclusion tag prefixes (`htools:iextags:`).
    excl: Vec<String>,
}

impl<'a> Answered<'a> {
    fn new(input: &'a Input, answer: &'a Response) -> Answered<'a> {
        let excl: Vec<String> = input
            .cluster_tags
            .iter()
            .filter_map(|t| t.strip_prefix("htools:iextags:").map(str::to_string))
            .collect();
        let mut cx = Answered {
            input,
            shape: Vec::new(),
            adds: Vec::new(),
            moves: None,
            jobs: None,
            load: BTreeMap::new(),
            excl,
        };
        cx.load = cx.load_before();
        read::read(&mut cx, answer);
        cx
    }

    /// Each node's load before the answer: what Ganeti reports used, and the instances it runs.
    fn load_before(&self) -> BTreeMap<&'a str, Load> {
        let mut load = BTreeMap::new();
        let input = self.input;
        for (name, n) in &input.nodes {
            let mut l = Load {
                memory: n.total_memory.unwrap_or(0.0)
                    - n.reserved_memory.unwrap_or(0.0)
                    - n.free_memory.unwrap_or(0.0),
                cpus: n.reserved_cpus.unwrap_or(0.0),
                disk: n.total_disk.unwrap_or(0.0) - n.free_disk.unwrap_or(0.0),
                ..Load::default()
            };
            if self.exclusive(name) {
                l.spindles = n.total_spindles.unwrap_or(0.0) - n.free_spindles.unwrap_or(0.0);
            }
            load.insert(name.as_str(), l);
        }
        for inst in input.instances.values() {
            let Some(p) = inst.nodes.first() else {
                continue;
            };
            let exclusive = self.exclusive(p);
            let tags = self.tags(&inst.spec);
            if let Some(l) = load.get_mut(p.as_str()) {
                l.cpus += inst.spec.vcpus;
                if !exclusive {
                    l.spindles += inst.spec.spindle_use.unwrap_or(1.0);
                }
                l.tags.extend(tags);
            }
        }
        load
    }

    fn exclusive(&self, node: &str) -> bool {
        self.input
            .nodes
            .get(node)
            .and_then(|n| n.ndparams.as_ref())
            .is_some_and(|p| p.exclusive_storage)
    }

    /// An instance's exclusion tags.
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
}

/// `a`, `b`: names as a message lists them.
fn quoted<'a>(names: impl Iterator<Item = &'a String>) -> String {
    names
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rules_are_listed_in_the_readmes_order() {
        assert_eq!(RULES.map(|(rule, _)| rule), Rule::IALLOCATOR);
    }
}

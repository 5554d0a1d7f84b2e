//! The independent checker: re-verifies an answer from the wire documents alone. It deliberately
//! shares no code with validation, domain, greedy or the models, so a bug there cannot hide
//! itself here. Each kind of document is checked as vrp's checker does: a context built once
//! from the documents (lookups by id, what the answer adds to each host and storage), then one
//! function per rule, named after the rule's code, called from a list in the rules' order. By
//! kind: `placement` (placement answers: requests, hosts and storage, the group rules, honest
//! status), `plan` (migration plans: moves, steps, reassignment), `ganeti` (IAllocator
//! answers, from Ganeti's input document alone), `failures` (a failure scenario's restarts,
//! from the state document), [`roadef`] (the challenge's reassignments); its own lists of codes
//! are in [`codes`].

#![warn(missing_docs)]

pub mod codes;
mod failures;
mod ganeti;
mod placement;
mod plan;
mod plan_groups;
pub mod roadef;
mod tolerance;

use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, BinaryHeap, HashMap};
use vmplace_wire::{Problem, Solution};

pub use codes::Rule;
pub use failures::check_scenario;
pub use ganeti::check_iallocator;
pub use plan::check_plan;

/// One broken rule.
#[derive(
    Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, schemars::JsonSchema,
)]
pub struct Violation {
    /// Stable rule name, e.g. `HOST_CAPACITY`.
    pub rule: Rule,
    /// JSON pointer into the solution (or problem) where it shows.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// A resource's usable capacity, `(capacity - reserved) * allocation_ratio` (README, "The
/// documents"), written here apart from the solver's.
fn limit(
    capacity: &vmplace_wire::Resources,
    reserved: &vmplace_wire::Resources,
    ratio: &vmplace_wire::Resources,
    k: &str,
) -> f64 {
    let c = capacity.get(k).copied().unwrap_or(0.0);
    let held = reserved.get(k).copied().unwrap_or(0.0);
    (c - held).max(0.0) * ratio.get(k).copied().unwrap_or(1.0)
}

/// A storage system's usable space, GiB, by the same formula.
fn storage_limit(s: &vmplace_wire::Storage) -> f64 {
    (s.capacity_gib - s.reserved_gib.unwrap_or(0.0)).max(0.0) * s.allocation_ratio.unwrap_or(1.0)
}

/// Id to index over `items`, the last of a repeated id winning.
fn index_by<'a, T>(items: &'a [T], id: impl Fn(&'a T) -> &'a str) -> HashMap<&'a str, usize> {
    items.iter().enumerate().map(|(i, x)| (id(x), i)).collect()
}

/// The first trait rule `has` breaks, as "lacks `T`" or "has `T`": every required trait must be
/// in `has`, no forbidden one.
fn broken_trait(
    required: &BTreeSet<String>,
    forbidden: &BTreeSet<String>,
    has: &BTreeSet<String>,
) -> Option<String> {
    required
        .iter()
        .find(|t| !has.contains(*t))
        .map(|t| format!("lacks required trait `{t}`"))
        .or_else(|| {
            forbidden
                .iter()
                .find(|t| has.contains(*t))
                .map(|t| format!("has forbidden trait `{t}`"))
        })
}

/// Most violations a check lists; the rest are only counted (a plan naming an unknown VM 1.5
/// million times gave a 197 MB answer, issue 27 M6).
pub const MAX_VIOLATIONS: usize = 100;

/// What a check found: the first [`MAX_VIOLATIONS`] violations in order, and how many more.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Findings {
    /// The first violations, in order (rule, path, message).
    pub violations: Vec<Violation>,
    /// Violations found past the first [`MAX_VIOLATIONS`].
    pub omitted: usize,
}

impl Findings {
    /// No violation at all.
    pub fn is_empty(&self) -> bool {
        self.violations.is_empty()
    }

    /// The violations listed.
    pub fn iter(&self) -> std::slice::Iter<'_, Violation> {
        self.violations.iter()
    }

    /// Every violation found, listed or omitted.
    pub fn found(&self) -> usize {
        self.violations.len() + self.omitted
    }
}

impl IntoIterator for Findings {
    type Item = Violation;
    type IntoIter = std::vec::IntoIter<Violation>;
    fn into_iter(self) -> Self::IntoIter {
        self.violations.into_iter()
    }
}

/// Collects a check's violations and keeps only the [`MAX_VIOLATIONS`] first in order, counting
/// the others, so that a check's memory does not grow with what it finds. It lists what sorting
/// every violation and keeping the first would.
#[derive(Debug, Default)]
struct Collector {
    /// The smallest violations so far, largest on top.
    kept: BinaryHeap<Violation>,
    /// Violations pushed out of `kept` or never let in.
    omitted: usize,
}

impl Collector {
    fn push(&mut self, violation: Violation) {
        if self.kept.len() < MAX_VIOLATIONS {
            self.kept.push(violation);
            return;
        }
        self.omitted += 1;
        if let Some(mut largest) = self.kept.peek_mut() {
            if violation < *largest {
                *largest = violation;
            }
        }
    }

    fn finish(self) -> Findings {
        Findings {
            violations: self.kept.into_sorted_vec(),
            omitted: self.omitted,
        }
    }
}

fn v(rule: Rule, path: impl Into<String>, message: impl Into<String>) -> Violation {
    Violation {
        rule,
        path: path.into(),
        message: message.into(),
    }
}

/// What the solution claims to be: phase 1 answers carry no hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Infer: hosts are checked where present.
    Any,
    /// Phase 1: no hosts.
    StorageOnly,
    /// Phase 2 or both: every placement has a host.
    WithHosts,
}

/// The phase a check request names.
impl From<vmplace_wire::check::CheckPhase> for Expect {
    fn from(p: vmplace_wire::check::CheckPhase) -> Expect {
        match p {
            vmplace_wire::check::CheckPhase::Storage => Expect::StorageOnly,
            vmplace_wire::check::CheckPhase::Host | vmplace_wire::check::CheckPhase::Place => {
                Expect::WithHosts
            }
            vmplace_wire::check::CheckPhase::Any => Expect::Any,
        }
    }
}

/// Checks every hard rule. No violation means the solution is valid for the problem.
pub fn check(problem: &Problem, solution: &Solution, expect: Expect) -> Findings {
    placement::check(problem, solution, expect)
}

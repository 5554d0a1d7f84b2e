//! Placement answers. The context, [`Answer`], is built once from the problem and the solution:
//! lookups by id, each placement's request, storage and host, what the answer adds to each
//! storage system and host, and the group indexes. Then one function per rule, named after its
//! code, in the README's order ([`RULES`]): [`requests`] (every request once, known reason
//! codes), [`hosts`] (storage, hosts, connectivity, traits, anti-affinity, capacities),
//! [`groups`] (the group rules, recounted per domain), [`status`] (honest status, bound, gap and
//! statistics).

mod groups;
mod hosts;
mod requests;
mod status;

use super::codes::Rule;
use super::tolerance::Sum;
use super::{index_by, Collector, Expect, Findings};
use std::collections::{BTreeMap, HashMap};
use vmplace_wire::solution::Placement;
use vmplace_wire::{Host, Problem, Request, Solution};

/// A rule of placement answers: its code, and the function that checks it over the context.
type RuleCheck = (Rule, fn(&Answer, &mut Collector));

/// Every placement rule, in the README's order ([`Rule::PLACEMENT`]).
const RULES: [RuleCheck; 21] = [
    (Rule::UnknownRequest, requests::unknown_request),
    (Rule::DuplicateRequest, requests::duplicate_request),
    (Rule::MissingRequest, requests::missing_request),
    (Rule::UnknownReasonCode, requests::unknown_reason_code),
    (Rule::UnknownStorage, hosts::unknown_storage),
    (Rule::UnknownHost, hosts::unknown_host),
    (Rule::FixedStorageChanged, hosts::fixed_storage_changed),
    (Rule::UnexpectedHost, hosts::unexpected_host),
    (Rule::MissingHost, hosts::missing_host),
    (Rule::NotConnected, hosts::not_connected),
    (Rule::HostTraits, hosts::host_traits),
    (Rule::StorageTraits, hosts::storage_traits),
    (Rule::AntiAffinity, hosts::anti_affinity),
    (Rule::GroupRule, groups::group_rule),
    (Rule::StorageCapacity, hosts::storage_capacity),
    (Rule::HostCapacity, hosts::host_capacity),
    (Rule::BadGap, status::bad_gap),
    (Rule::BadBound, status::bad_bound),
    (Rule::BadStatus, status::bad_status),
    (Rule::BadStats, status::bad_stats),
    (Rule::BadPlacedWeight, status::bad_placed_weight),
];

/// Checks every rule of a placement answer.
pub(super) fn check(problem: &Problem, solution: &Solution, expect: Expect) -> Findings {
    let cx = Answer::new(problem, solution, expect);
    let mut out = Collector::default();
    for (_, rule) in RULES {
        rule(&cx, &mut out);
    }
    out.finish()
}

/// A placement of a known request.
struct Placed {
    /// Its index in `placements`.
    i: usize,
    /// Its request's index in the problem.
    req: usize,
    /// Its storage system's index, None if the problem has no such system.
    storage: Option<usize>,
    /// Its host's index, None if it names none or one the problem does not have.
    host: Option<usize>,
}

/// A placement answer as every rule reads it, built once.
struct Answer<'a> {
    problem: &'a Problem,
    solution: &'a Solution,
    expect: Expect,
    /// Request id to its index in the problem (the last of a repeated id).
    requests: HashMap<&'a str, usize>,
    /// Storage id to its index (likewise).
    storage: HashMap<&'a str, usize>,
    /// The placements of known requests, in order.
    placed: Vec<Placed>,
    /// What the answer adds to each storage system, GiB: the requests not given their storage
    /// (a request given its storage has its image written there, and `used_gib` counts it).
    disk: BTreeMap<&'a str, Sum>,
    /// What the answer adds to each host, per resource.
    load: Vec<BTreeMap<&'a str, Sum>>,
    /// The group indexes (empty without `groups[]`).
    groups: groups::Index<'a>,
    /// What the placements weigh (priority, 1 by default), and what every request does.
    placed_weight: f64,
    total_weight: f64,
}

/// Per storage system and per host, what the placements on known storage add, in their order.
type Usage<'a> = (BTreeMap<&'a str, Sum>, Vec<BTreeMap<&'a str, Sum>>);

fn usage<'a>(problem: &'a Problem, solution: &'a Solution, placed: &[Placed]) -> Usage<'a> {
    let mut disk: BTreeMap<&str, Sum> = BTreeMap::new();
    let mut load: Vec<BTreeMap<&str, Sum>> = vec![BTreeMap::new(); problem.hosts.len()];
    for p in placed.iter().filter(|p| p.storage.is_some()) {
        let req = &problem.requests[p.req];
        if req.storage.is_none() {
            let sid = solution.placements[p.i].storage.as_str();
            disk.entry(sid).or_default().add(req.disk_gib);
        }
        if let Some(hi) = p.host {
            for (k, x) in &req.demand {
                load[hi].entry(k.as_str()).or_default().add(*x);
            }
        }
    }
    (disk, load)
}

impl<'a> Answer<'a> {
    fn new(problem: &'a Problem, solution: &'a Solution, expect: Expect) -> Answer<'a> {
        let requests = index_by(&problem.requests, |r| r.id.as_str());
        let hosts = index_by(&problem.hosts, |h| h.id.as_str());
        let storage = index_by(&problem.storage, |s| s.id.as_str());
        let placed: Vec<Placed> = solution
            .placements
            .iter()
            .enumerate()
            .filter_map(|(i, p)| {
                Some(Placed {
                    i,
                    req: *requests.get(p.request.as_str())?,
                    storage: storage.get(p.storage.as_str()).copied(),
                    host: p.host.as_ref().and_then(|h| hosts.get(h.as_str()).copied()),
                })
            })
            .collect();
        let (disk, load) = usage(problem, solution, &placed);
        let mut cx = Answer {
            problem,
            solution,
            expect,
            requests,
            storage,
            placed,
            disk,
            load,
            groups: groups::Index::default(),
            placed_weight: 0.0,
            total_weight: 0.0,
        };
        cx.groups = groups::Index::new(&cx);
        (cx.placed_weight, cx.total_weight) = status::weights(problem, solution);
        cx
    }

    /// The request of a placement.
    fn request(&self, p: &Placed) -> &'a Request {
        &self.problem.requests[p.req]
    }

    /// The placements of known requests on known storage: each with its placement and request.
    fn stored(&self) -> impl Iterator<Item = (&'a Placement, &Placed, &'a Request)> + '_ {
        self.placed
            .iter()
            .filter(|p| p.storage.is_some())
            .map(|p| (&self.solution.placements[p.i], p, self.request(p)))
    }

    /// The placements on known storage and a known host: each with its index, placement,
    /// request and host.
    fn hosted(&self) -> impl Iterator<Item = (usize, &'a Placement, &'a Request, &'a Host)> + '_ {
        self.stored().filter_map(|(placement, p, req)| {
            Some((p.i, placement, req, &self.problem.hosts[p.host?]))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rules_are_listed_in_the_readmes_order() {
        assert_eq!(RULES.map(|(rule, _)| rule), Rule::PLACEMENT);
    }
}

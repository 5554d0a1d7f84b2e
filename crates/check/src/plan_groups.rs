//! Group rules (`groups[]`) of a migration plan or a failure scenario, recounted from the
//! documents: no hard rule is more broken after the plan, or while any wave runs, than the state
//! had it; no restart leaves one more broken than the survivors have it.
//! Anti-affinity counts a moving member in both of its domains while its wave runs, and a domain
//! may hold `max_per_domain` members (or as many as it held before the plan); affinity and spread
//! are counted once each wave has ended, against the violations the state had.

use super::codes::{wire_name, Rule};
use super::{v, Collector};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::rc::Rc;
use vmplace_wire::problem::{Group, GroupPolicy};
use vmplace_wire::state::{HostState, State, StateHost, StateVm};

/// One rule over the state's hosts.
struct View<'a> {
    group: &'a Group,
    hard: bool,
    /// Domain of each host that is in one (shared by the rules of one scope: 8,000 rules over
    /// 8,000 racks were 8,000 maps of 8,000 hosts; issue 27, H2).
    domain: Rc<HashMap<&'a str, &'a str>>,
    /// Domains with an active host: spread compares these (shared likewise).
    room: Rc<BTreeSet<&'a str>>,
    /// Its members' VM ids.
    members: Vec<&'a str>,
}

impl View<'_> {
    fn violations(&self, counts: &BTreeMap<&str, u32>) -> u32 {
        match self.group.policy {
            GroupPolicy::AntiAffinity => {
                let max = self.group.max_per_domain.unwrap_or(1);
                counts.values().map(|n| n.saturating_sub(max)).sum()
            }
            GroupPolicy::Affinity => {
                (counts.values().filter(|&&n| n > 0).count() as u32).saturating_sub(1)
            }
            GroupPolicy::Spread => {
                // Over the domains with room; one without a member counts 0.
                let skew = self.group.max_skew.unwrap_or(1);
                let with_room: Vec<u32> = counts
                    .iter()
                    .filter(|(d, &n)| n > 0 && self.room.contains(*d))
                    .map(|(_, &n)| n)
                    .collect();
                let most = with_room.iter().copied().max().unwrap_or(0);
                let least = if with_room.len() < self.room.len() {
                    0
                } else {
                    with_room.iter().copied().min().unwrap_or(0)
                };
                (most - least).saturating_sub(skew)
            }
        }
    }
}

/// A scope's domain per host and its domains with room, shared by the views of the scope.
type ScopeView<'a> = (Rc<HashMap<&'a str, &'a str>>, Rc<BTreeSet<&'a str>>);

/// The domains of `scope` over the state's hosts, and those with a host `room` accepts.
fn scope_view<'a>(
    state: &'a State,
    scope: &str,
    room: &impl Fn(&StateHost) -> bool,
) -> ScopeView<'a> {
    let domain: HashMap<&str, &str> = state
        .hosts
        .iter()
        .filter_map(|h| {
            let d = if scope == "host" {
                Some(h.id.as_str())
            } else {
                h.labels.get(scope).map(String::as_str)
            };
            Some((h.id.as_str(), d?))
        })
        .collect();
    let room = state
        .hosts
        .iter()
        .filter(|h| room(h))
        .filter_map(|h| domain.get(h.id.as_str()).copied())
        .collect();
    (Rc::new(domain), Rc::new(room))
}

/// The hard rules of a state and their counts before the plan.
pub(super) struct PlanRules<'a> {
    views: Vec<View<'a>>,
    start: Vec<BTreeMap<&'a str, u32>>,
    broken: Vec<u32>,
}

impl<'a> PlanRules<'a> {
    /// The rules of a plan's state: members where the state runs them, spread over the domains
    /// with an active host.
    pub(super) fn new(state: &'a State) -> PlanRules<'a> {
        PlanRules::at(
            state,
            |vm| Some(vm.host.as_str()),
            |h| h.state == HostState::Active,
        )
    }

    /// The rules with each member at `start` (None: not running), spread over the domains with a
    /// host `room` accepts.
    pub(super) fn at(
        state: &'a State,
        start: impl Fn(&'a StateVm) -> Option<&'a str>,
        room: impl Fn(&StateHost) -> bool,
    ) -> PlanRules<'a> {
        let mut members: HashMap<&str, Vec<&str>> = HashMap::new();
        for vm in &state.vms {
            for g in &vm.groups {
                members.entry(g.as_str()).or_default().push(vm.id.as_str());
            }
        }
        let mut scopes: HashMap<&str, ScopeView> = HashMap::new();
        let views: Vec<View> = state
            .groups
            .iter()
            .map(|g| {
                let (domain, room) = scopes
                    .entry(g.scope.as_str())
                    .or_insert_with(|| scope_view(state, &g.scope, &room))
                    .clone();
                let mut members = members.get(g.id.as_str()).cloned().unwrap_or_default();
                members.dedup();
                View {
                    group: g,
                    hard: g.hard.unwrap_or(true),
                    domain,
                    room,
                    members,
                }
            })
            .collect();
        let at: HashMap<&str, &str> = state
            .vms
            .iter()
            .filter_map(|vm| Some((vm.id.as_str(), start(vm)?)))
            .collect();
        let mut out = PlanRules {
            views,
            start: Vec::new(),
            broken: Vec::new(),
        };
        out.start = (0..out.views.len())
            .map(|r| out.counts(r, |vm| at.get(vm).copied().into_iter().collect()))
            .collect();
        out.broken = out
            .views
            .iter()
            .zip(&out.start)
            .map(|(view, c)| view.violations(c))
            .collect();
        out
    }

    /// Whether the state has group rules at all.
    pub(super) fn is_empty(&self) -> bool {
        self.views.is_empty()
    }

    /// Members of rule `r` per domain, each counted on the hosts `at` gives it.
    fn counts<'h>(&self, r: usize, at: impl Fn(&str) -> Vec<&'h str>) -> BTreeMap<&'a str, u32> {
        let view = &self.views[r];
        let mut counts: BTreeMap<&str, u32> = BTreeMap::new();
        for vm in &view.members {
            let mut domains: Vec<&str> = at(vm)
                .into_iter()
                .filter_map(|h| view.domain.get(h).copied())
                .collect();
            domains.sort();
            domains.dedup();
            for d in domains {
                *counts.entry(d).or_default() += 1;
            }
        }
        counts
    }

    /// Anti-affinity with every member on the hosts `at` gives it (both ends of a move while its
    /// wave runs): no domain above `max_per_domain` and above what it held before the plan.
    pub(super) fn check_anti_affinity<'h>(
        &self,
        at: impl Fn(&str) -> Vec<&'h str>,
        path: &str,
        out: &mut Collector,
    ) {
        for (r, view) in self.views.iter().enumerate() {
            if !view.hard || view.group.policy != GroupPolicy::AntiAffinity {
                continue;
            }
            let max = view.group.max_per_domain.unwrap_or(1);
            for (d, n) in self.counts(r, &at) {
                let before = self.start[r].get(d).copied().unwrap_or(0);
                if n > max.max(before) {
                    out.push(v(
                        Rule::GroupRule,
                        path,
                        format!(
                            "{} `{d}` holds {n} members of anti-affinity group `{}` (at most {max}, {before} before)",
                            view.group.scope, view.group.id
                        ),
                    ));
                }
            }
        }
    }

    /// Affinity and spread with every member on the host `at` gives it: no more violations than
    /// before the plan.
    pub(super) fn check_settled<'h>(
        &self,
        at: impl Fn(&str) -> Option<&'h str>,
        path: &str,
        out: &mut Collector,
    ) {
        for (r, view) in self.views.iter().enumerate() {
            if !view.hard || view.group.policy == GroupPolicy::AntiAffinity {
                continue;
            }
            let n = view.violations(&self.counts(r, |vm| at(vm).into_iter().collect()));
            if n > self.broken[r] {
                out.push(v(
                    Rule::GroupRule,
                    path,
                    format!(
                        "group `{}` breaks its {} rule {n} time(s) over scope `{}`; {} time(s) before",
                        view.group.id, wire_name(&view.group.policy), view.group.scope, self.broken[r]
                    ),
                ));
            }
        }
    }

    /// The soft rules' violations with every member on the host `at` gives it, against what the
    /// plan claims (`stats.soft_violations`).
    pub(super) fn check_soft<'h>(
        &self,
        at: impl Fn(&str) -> Option<&'h str>,
        claimed: &BTreeMap<String, u32>,
        out: &mut Collector,
    ) {
        for (r, view) in self.views.iter().enumerate() {
            if view.hard {
                continue;
            }
            let n = view.violations(&self.counts(r, |vm| at(vm).into_iter().collect()));
            let said = claimed.get(&view.group.id).copied().unwrap_or(0);
            if n != said {
                out.push(v(
                    Rule::BadStats,
                    format!(
                        "/stats/soft_violations/{}",
                        vmplace_wire::spelling::pointer_token(&view.group.id)
                    ),
                    format!(
                        "group `{}` has {n} soft violations after the plan, the plan says {said}",
                        view.group.id
                    ),
                ));
            }
        }
    }
}

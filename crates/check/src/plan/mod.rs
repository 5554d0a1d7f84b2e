//! Migration plans. The context, [`Planned`], is built once from the state and the plan: lookups
//! by id, each migration's VM and target, every VM's host after the plan, the group rules of the
//! state, the waves of `steps` resolved into hops, and under `policy.reassign` the pool as
//! `reassign` counts it. Then one function per rule, named after its code, in the README's order
//! ([`RULES`]): [`moves`] (every VM moves at most once from the host it is on, to an active host
//! that reaches its storage and accepted it; capacities, anti-affinity and the hard group rules
//! after all moves), [`steps`] (the waves replayed), [`reassign`] (the rules and cost of
//! `policy.reassign`).

mod moves;
mod reassign;
mod steps;

use crate::codes::Rule;
use crate::plan_groups::PlanRules;
use crate::{index_by, Collector, Findings};
use std::collections::{BTreeSet, HashMap};
use vmplace_wire::state::{Migration, Plan, State, StateHost, StateVm};

/// A rule of migration plans: its code, and the function that checks it over the context.
type RuleCheck = (Rule, fn(&Planned, &mut Collector));

/// Every plan rule, in the README's order ([`Rule::PLAN`]).
const RULES: [RuleCheck; 19] = [
    (Rule::UnknownVm, moves::unknown_vm),
    (Rule::MovedTwice, moves::moved_twice),
    (Rule::WrongSource, moves::wrong_source),
    (Rule::UnknownHost, moves::unknown_host),
    (Rule::TargetNotActive, moves::target_not_active),
    (Rule::NotLive, moves::not_live),
    (Rule::NotAccepted, moves::not_accepted),
    (Rule::UnknownDeclineCode, moves::unknown_decline_code),
    (Rule::HostTraits, moves::host_traits),
    (Rule::HostCapacity, moves::host_capacity),
    (Rule::AntiAffinity, moves::anti_affinity),
    (Rule::GroupRule, moves::group_rule),
    (Rule::BadStats, moves::bad_stats),
    (Rule::BadSteps, steps::bad_steps),
    (Rule::UnsafeStep, steps::unsafe_step),
    (Rule::Concurrency, steps::concurrency),
    (Rule::TransientCapacity, reassign::transient_capacity),
    (Rule::MinDomains, reassign::min_domains),
    (Rule::Dependency, reassign::dependency),
];

/// Checks a migration plan against the state it was made for: every VM moves at most once from
/// the host it is on; targets exist, are active, reach the VM's storage (live move), accepted
/// the VM and stay within capacity after all moves; anti-affinity holds on every target.
pub fn check_plan(state: &State, plan: &Plan) -> Findings {
    let cx = Planned::new(state, plan);
    let mut out = Collector::default();
    for (_, rule) in RULES {
        rule(&cx, &mut out);
    }
    out.finish()
}

/// A migration of a known VM.
struct Move {
    /// Its index in `migrations`.
    i: usize,
    /// The VM's index in the state.
    vm: usize,
    /// Its target's index, None if the state has no such host.
    to: Option<usize>,
}

/// A plan as every rule reads it, built once.
struct Planned<'a> {
    state: &'a State,
    plan: &'a Plan,
    /// VM id to its index in the state (the last of a repeated id).
    vms: HashMap<&'a str, usize>,
    /// Host id to its index (likewise).
    hosts: HashMap<&'a str, usize>,
    /// The migrations of known VMs, in order.
    moves: Vec<Move>,
    /// Every VM's host after the plan (moves to unknown hosts left out).
    end: Vec<&'a str>,
    /// The hosts that receive a VM.
    targets: BTreeSet<usize>,
    /// The state's group rules and their counts before the plan.
    rules: PlanRules<'a>,
    /// VM id to its host after the plan (only with group rules).
    end_of: HashMap<&'a str, &'a str>,
    /// The waves of `steps`, resolved.
    waves: steps::Waves<'a>,
    /// The pool as `policy.reassign` counts it; None without it.
    reassign: Option<reassign::View<'a>>,
}

impl<'a> Planned<'a> {
    fn new(state: &'a State, plan: &'a Plan) -> Planned<'a> {
        let vms = index_by(&state.vms, |v| v.id.as_str());
        let hosts = index_by(&state.hosts, |h| h.id.as_str());
        let moves: Vec<Move> = plan
            .migrations
            .iter()
            .enumerate()
            .filter_map(|(i, m)| {
                Some(Move {
                    i,
                    vm: *vms.get(m.vm.as_str())?,
                    to: hosts.get(m.to.as_str()).copied(),
                })
            })
            .collect();
        let mut end: Vec<&str> = state.vms.iter().map(|v| v.host.as_str()).collect();
        let mut targets = BTreeSet::new();
        for mv in &moves {
            if let Some(hi) = mv.to {
                end[mv.vm] = plan.migrations[mv.i].to.as_str();
                targets.insert(hi);
            }
        }
        let rules = PlanRules::new(state);
        let end_of = if rules.is_empty() {
            HashMap::new()
        } else {
            state
                .vms
                .iter()
                .map(|vm| vm.id.as_str())
                .zip(end.iter().copied())
                .collect()
        };
        let reassign = state.policy.as_ref().and_then(|p| p.reassign.as_ref());
        let reassign = reassign.map(|_| reassign::View::new(state, plan, &hosts, &vms));
        Planned {
            state,
            plan,
            waves: steps::Waves::new(state, plan),
            vms,
            hosts,
            moves,
            end,
            targets,
            rules,
            end_of,
            reassign,
        }
    }

    /// The migrations of known VMs to known hosts: each with its index, migration, VM and target.
    fn landed(
        &self,
    ) -> impl Iterator<Item = (usize, &'a Migration, &'a StateVm, &'a StateHost)> + '_ {
        self.moves.iter().filter_map(|mv| {
            let m = &self.plan.migrations[mv.i];
            Some((mv.i, m, &self.state.vms[mv.vm], &self.state.hosts[mv.to?]))
        })
    }

    /// A VM's host after the plan.
    fn at_end(&self, vm: &str) -> Option<&'a str> {
        self.end_of.get(vm).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rules_are_listed_in_the_readmes_order() {
        assert_eq!(RULES.map(|(rule, _)| rule), Rule::PLAN);
    }
}

//! The storage model's look-ahead of hard group rules (**`group_lookahead`**, models/storage.md).

use super::Model;
use crate::domain::groups::{GroupRule, MemberCounts, Policy};
use crate::domain::{fits, HostIx, IxVec, StorageIx};
use crate::model::Col;
use good_lp::{constraint, variable, Expression};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::rc::Rc;

/// Most domains an affinity rule's look-ahead models one by one (a binary per domain); past it,
/// the relaxed rows of `affinity_relaxed`.
const AFFINITY_DOMAINS_MODELLED: usize = 256;

/// One column of a hard group rule's look-ahead: a flavor's column on a storage system.
#[derive(Debug, Clone, Copy)]
struct RuleTerm {
    /// The flavor.
    flavor: usize,
    /// The storage system.
    storage: StorageIx,
    /// The flavor's column on it.
    col: Col,
}

/// The domains a storage system's hosts offer, shared by the rules and demands that reach the
/// same ones.
type Reach = Rc<BTreeSet<usize>>;

/// Per storage system (index), the domains it reaches.
type Reached = BTreeMap<usize, Reach>;

/// The domains offered per (scope, demand bits, storage system), computed once.
type Offered = HashMap<(usize, Vec<u64>, usize), Reach>;

impl Model<'_> {
    /// **`group_lookahead`** (hard `groups[]` rules; models/storage.md): anti-affinity: members
    /// on `s` at most the places left in the domains of the hosts of `s` that fit some member,
    /// `sum_{f in G} y_fs <= sum_{D} (max_per_domain - present_D)^+`. Affinity: the storage
    /// systems used must reach one common domain: `z_GD` binary per domain (fixed to the one with
    /// members, if any), `sum_D z_GD <= 1`, `y_fs <= n_f sum_{D reached by s} z_GD`. Spread: members
    /// on `s` at most what the domains it reaches can take in any valid end state,
    /// `sum_{f in G} y_fs <= sum_D (floor((P + N) / |R|) + max_skew - present_D)^+` (`N` the
    /// group's requests, `P` its members running in the `R` domains with room).
    pub(super) fn group_lookahead(&mut self) {
        let d = self.input.d;
        let mut terms_of = self.rule_terms();
        let free = d.hosts.map(|h| h.free());
        let mut offered: Offered = Default::default();
        for (g, rule) in d.group_rules.iter().enumerate() {
            let terms = std::mem::take(&mut terms_of[g]);
            if terms.is_empty() {
                continue;
            }
            let reached = self.reached_domains(rule, &terms, &free, &mut offered);
            match rule.policy {
                Policy::AntiAffinity { max } => {
                    self.anti_affinity_lookahead(rule, max, &terms, &reached)
                }
                Policy::Affinity => self.affinity_lookahead(rule, &terms, &reached),
                Policy::Spread { skew } => self.spread_lookahead(g, rule, skew, &terms, &reached),
            }
        }
    }

    /// Per hard rule, its flavors' storage columns.
    fn rule_terms(&self) -> Vec<Vec<RuleTerm>> {
        let d = self.input.d;
        let mut terms_of: Vec<Vec<RuleTerm>> = vec![Vec::new(); d.group_rules.len()];
        for (f, ys) in self.y.iter().enumerate() {
            for &g in &d.requests[self.flavors[f].members[0]].rules {
                if d.group_rules[g].hard {
                    terms_of[g].extend(ys.iter().map(|&(storage, col)| RuleTerm {
                        flavor: f,
                        storage,
                        col,
                    }));
                }
            }
        }
        terms_of
    }

    /// Per storage system of a rule's terms, the domains of its hosts that fit some member. The
    /// domains a storage system's hosts in a scope offer a demand are computed once per (scope,
    /// demand, storage) in `offered`: 8,000 rules by rack over 8,000 racks share one set (issue
    /// 27, H2).
    fn reached_domains(
        &self,
        rule: &GroupRule,
        terms: &[RuleTerm],
        free: &IxVec<HostIx, Vec<f64>>,
        offered: &mut Offered,
    ) -> Reached {
        let d = self.input.d;
        let scope = std::sync::Arc::as_ptr(&rule.domain_of) as usize;
        let mut reached: Reached = Default::default();
        for t in terms {
            let s = t.storage;
            let demand = &d.requests[self.flavors[t.flavor].members[0]].demand;
            let key = (scope, crate::domain::bits(demand), s.0);
            let set = offered
                .entry(key)
                .or_insert_with(|| {
                    let hosts = d.storage[s].hosts.iter();
                    Rc::new(
                        hosts
                            .filter(|&&h| fits(demand, &free[h]))
                            .filter_map(|&h| rule.domain_of[h])
                            .collect(),
                    )
                })
                .clone();
            match reached.get_mut(&s.0) {
                None => {
                    reached.insert(s.0, set);
                }
                Some(had) if !Rc::ptr_eq(had, &set) => {
                    Rc::make_mut(had).extend(set.iter().copied());
                }
                Some(_) => {}
            }
        }
        reached
    }

    /// The anti-affinity look-ahead of one rule: members on `s` at most the free places (`max`
    /// each, less their members) in the domains `s` reaches.
    fn anti_affinity_lookahead(
        &mut self,
        rule: &GroupRule,
        max: u32,
        terms: &[RuleTerm],
        reached: &Reached,
    ) {
        for (&s, domains) in reached {
            // Free places in the domains reached: max each, less their members.
            let taken: u64 = rule
                .present
                .occupied()
                .filter(|(dm, _)| domains.contains(dm))
                .map(|(_, n)| u64::from(n.min(max)))
                .sum();
            let places = domains.len() as u64 * u64::from(max) - taken;
            let on_s = terms.iter().filter(|t| t.storage.0 == s);
            let members: u64 = on_s
                .clone()
                .map(|t| self.flavors[t.flavor].members.len() as u64)
                .sum();
            if places >= members {
                continue; // the row could not bind
            }
            let e: Expression = on_s.map(|t| t.col.var).sum();
            self.b.row(constraint::leq(e, places as f64));
        }
    }

    /// The affinity look-ahead of one rule: a binary per domain reached (the one with members,
    /// if any), at most one chosen, and a storage system used only when it reaches the chosen
    /// one; relaxed past [`AFFINITY_DOMAINS_MODELLED`] domains.
    fn affinity_lookahead(&mut self, rule: &GroupRule, terms: &[RuleTerm], reached: &Reached) {
        let with_members: Vec<usize> = rule.present.occupied().map(|(dm, _)| dm).collect();
        let all: BTreeSet<usize> = reached.values().flat_map(|s| s.iter().copied()).collect();
        if all.len() > AFFINITY_DOMAINS_MODELLED {
            self.affinity_relaxed(terms, reached, &with_members);
            return;
        }
        // The warm start's domain: where its first hosted member runs.
        let warm_domain = terms.iter().find_map(|t| {
            self.flavors[t.flavor]
                .members
                .iter()
                .find_map(|r| self.input.warm.host[r].and_then(|h| rule.domain_of[h]))
        });
        let mut z: BTreeMap<usize, Col> = Default::default();
        for dm in all {
            // With members somewhere already, only that domain may be chosen.
            let allowed = with_members.is_empty() || with_members == [dm];
            let warm = (warm_domain == Some(dm)) as u8 as f64;
            let bound = variable().min(0).max(allowed as u8 as f64);
            z.insert(dm, self.b.column(bound, true, warm));
        }
        let chosen: Expression = z.values().map(|c| c.var).sum();
        self.b.row(constraint::leq(chosen, 1.0));
        for t in terms {
            let n = self.flavors[t.flavor].members.len() as f64;
            let mut e = Expression::from(t.col.var);
            for dm in reached[&t.storage.0].iter() {
                e.add_mul(-n, z[dm].var);
            }
            self.b.row(constraint::leq(e, 0.0));
        }
    }

    /// The spread look-ahead of rule `g`: members on `s` at most what the domains it reaches
    /// can take in any valid end state.
    fn spread_lookahead(
        &mut self,
        g: usize,
        rule: &GroupRule,
        skew: u32,
        terms: &[RuleTerm],
        reached: &Reached,
    ) {
        let d = self.input.d;
        // In any valid end state a domain holds at most the least count plus the
        // skew, and the least count is at most the average over the domains with
        // room: new members in D <= floor((P + N) / |R|) + skew - present_D.
        // Every member of the batch, those whose storage is chosen already too.
        let n = d.requests.iter().filter(|r| r.rules.contains(&g)).count();
        let rooms: Vec<usize> = (0..rule.room.len()).filter(|&dm| rule.room[dm]).collect();
        if rooms.is_empty() {
            return;
        }
        let present: u32 = rooms.iter().map(|&dm| rule.present.at(dm)).sum();
        let avg = (present as usize + n) / rooms.len();
        for (&s, domains) in reached {
            let places: usize = domains
                .iter()
                .map(|&dm| (avg + skew as usize).saturating_sub(rule.present.at(dm) as usize))
                .sum();
            if places < n {
                let e: Expression = terms
                    .iter()
                    .filter(|t| t.storage.0 == s)
                    .map(|t| t.col.var)
                    .sum();
                self.b.row(constraint::leq(e, places as f64));
            }
        }
    }

    /// The affinity look-ahead of a rule whose storage systems reach more than
    /// [`AFFINITY_DOMAINS_MODELLED`] domains, relaxed: with members running already, only the
    /// storage systems reaching their domain; else no row. One binary per domain and rule was
    /// 4,000 rules x 8,000 zones = 32 million columns, 75 s and 8.6 GB before any deadline check
    /// (issue 27, H2).
    fn affinity_relaxed(&mut self, terms: &[RuleTerm], reached: &Reached, with_members: &[usize]) {
        if with_members.is_empty() {
            return;
        }
        // Members in two domains already: no domain takes another (as in the full rows).
        for t in terms {
            if with_members.len() > 1 || !reached[&t.storage.0].contains(&with_members[0]) {
                self.b
                    .row(constraint::leq(Expression::from(t.col.var), 0.0));
            }
        }
    }
}

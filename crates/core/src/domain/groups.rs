//! Group rules (`groups[]`): anti-affinity, affinity and spread over the domains of a scope, hard
//! or soft. The domain converter builds them once; [`super::Load`] counts members per domain, and
//! [`GroupRule::admits`] is the one test every solver's capacity check calls.
//!
//! The older `requests[].anti_affinity` (at most one member per host, hard) keeps its own path
//! (`Vm::group`), which every solver and the checker already enforce.

use super::{HostIx, IxVec};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use vmplace_wire::problem::{Group, GroupPolicy};

/// The domains of one scope over a list of hosts: built once per scope, shared by every rule of
/// that scope (8,000 anti-affinity groups by rack over 8,000 racks were 8,000 copies of the same
/// host-to-rack map and its names: 4 GB; issue 27, H2).
#[derive(Debug)]
pub struct ScopeDomains {
    /// Domain of each host; None for a host without the scope's label.
    pub of: Arc<IxVec<HostIx, Option<usize>>>,
    /// Domain names (host ids, or label values).
    pub names: Arc<Vec<String>>,
}

/// The scopes' domains built so far, for one list of hosts.
#[derive(Debug, Default)]
pub struct Scopes {
    built: HashMap<String, ScopeDomains>,
    /// Per scope: whether each domain has a host with room, and how many do ([`GroupRule::over`]'s
    /// rules).
    rooms: HashMap<String, (Arc<Vec<bool>>, usize)>,
}

impl Scopes {
    /// The domains of `scope` over `hosts` (built on first use).
    pub fn of<'h>(
        &mut self,
        scope: &str,
        hosts: impl IntoIterator<Item = (&'h str, &'h BTreeMap<String, String>)>,
    ) -> &ScopeDomains {
        if !self.built.contains_key(scope) {
            let built = ScopeDomains::build(scope, hosts);
            self.built.insert(scope.to_string(), built);
        }
        &self.built[scope]
    }
}

impl ScopeDomains {
    fn build<'h>(
        scope: &str,
        hosts: impl IntoIterator<Item = (&'h str, &'h BTreeMap<String, String>)>,
    ) -> ScopeDomains {
        let mut index: HashMap<&str, usize> = HashMap::new();
        let mut names: Vec<String> = Vec::new();
        let of = hosts
            .into_iter()
            .map(|(id, labels)| {
                let key = if scope == "host" {
                    Some(id)
                } else {
                    labels.get(scope).map(String::as_str)
                };
                key.map(|k| {
                    *index.entry(k).or_insert_with(|| {
                        names.push(k.to_string());
                        names.len() - 1
                    })
                })
            })
            .collect();
        ScopeDomains {
            of: Arc::new(of),
            names: Arc::new(names),
        }
    }
}

/// Members of one rule per domain, read by the rule's tests ([`GroupRule::admits`],
/// [`GroupRule::violations`]): a dense vector (a migration round's counts) or [`Counts`].
pub trait MemberCounts {
    /// Members in domain `dm`.
    fn at(&self, dm: usize) -> u32;
    /// The domains with members, as (domain, members), in domain order.
    fn occupied(&self) -> impl Iterator<Item = (usize, u32)> + '_;
}

impl MemberCounts for [u32] {
    fn at(&self, dm: usize) -> u32 {
        self[dm]
    }
    fn occupied(&self) -> impl Iterator<Item = (usize, u32)> + '_ {
        self.iter().copied().enumerate().filter(|(_, n)| *n > 0)
    }
}

impl MemberCounts for Vec<u32> {
    fn at(&self, dm: usize) -> u32 {
        self[dm]
    }
    fn occupied(&self) -> impl Iterator<Item = (usize, u32)> + '_ {
        self.as_slice().occupied()
    }
}

/// Members of one rule per domain, sparse: only the domains with members are stored, so a
/// placement's rules and every copy of its [`super::Load`] take memory in proportion to the
/// members, not to groups x domains (8,000 anti-affinity groups by rack over 8,000 racks, one
/// member each, were 8,000 dense count vectors per load: issue 27, H2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts(BTreeMap<usize, u32>);

impl Counts {
    /// Adds `n` members in domain `dm` (saturating: a domain past `u32::MAX` members is full for
    /// any rule; issue 27, M4).
    pub fn add(&mut self, dm: usize, n: u32) {
        if n > 0 {
            let c = self.0.entry(dm).or_insert(0);
            *c = c.saturating_add(n);
        }
    }
    /// Takes `n` members out of domain `dm` (none below zero); a domain left empty is no longer
    /// stored.
    pub fn remove(&mut self, dm: usize, n: u32) {
        if let Some(c) = self.0.get_mut(&dm) {
            *c = c.saturating_sub(n);
            if *c == 0 {
                self.0.remove(&dm);
            }
        }
    }
    /// The domains with members.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// Whether no domain has a member.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// The counts as a dense vector over `domains` domains.
    pub fn dense(&self, domains: usize) -> Vec<u32> {
        let mut v = vec![0; domains];
        for (&dm, &n) in &self.0 {
            v[dm] = n;
        }
        v
    }
}

impl From<Vec<u32>> for Counts {
    /// Dense counts (index = domain), stored sparse.
    fn from(dense: Vec<u32>) -> Counts {
        let mut c = Counts::default();
        for (dm, n) in dense.into_iter().enumerate() {
            c.add(dm, n);
        }
        c
    }
}

impl MemberCounts for Counts {
    fn at(&self, dm: usize) -> u32 {
        self.0.get(&dm).copied().unwrap_or(0)
    }
    fn occupied(&self) -> impl Iterator<Item = (usize, u32)> + '_ {
        self.0.iter().map(|(&dm, &n)| (dm, n))
    }
}

/// What a rule asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// At most `max` members per domain.
    AntiAffinity {
        /// Members at most per domain.
        max: u32,
    },
    /// Every member in one domain.
    Affinity,
    /// Member counts of any two domains with room differ by at most `skew`.
    Spread {
        /// The largest difference allowed.
        skew: u32,
    },
}

/// One group's rule over the domains of its scope.
#[derive(Debug, Clone)]
pub struct GroupRule {
    /// Wire id.
    pub id: String,
    /// The rule.
    pub policy: Policy,
    /// Hard rules are constraints; soft ones are priced at `weight` per violation.
    pub hard: bool,
    /// Price of one violation of a soft rule (policy objective units).
    pub weight: f64,
    /// The scope: `host` or a label key.
    pub scope: String,
    /// Domain of each host; None for a host without the scope's label (it takes no member).
    /// Shared by the rules of one scope ([`Scopes`]).
    pub domain_of: Arc<IxVec<HostIx, Option<usize>>>,
    /// Domain names (host ids, or label values), shared likewise.
    pub domain_names: Arc<Vec<String>>,
    /// Members running per domain before the batch (`hosts[].group_members`), sparse.
    pub present: Counts,
    /// Per domain: whether some host of it could take some member before the batch (fits its free
    /// capacity). `spread` compares these domains only. Shared by the rules of one scope whose
    /// members ask the same.
    pub room: Arc<Vec<bool>>,
    /// The domains with room.
    pub rooms: usize,
}

impl GroupRule {
    /// The rule of `g` over a scope's `domains`, with its `present` members and its domains'
    /// `room`.
    pub fn from_parts(
        g: &Group,
        domains: &ScopeDomains,
        present: Counts,
        room: Arc<Vec<bool>>,
    ) -> GroupRule {
        let rooms = room.iter().filter(|r| **r).count();
        GroupRule::with_rooms(g, domains, present, (room, rooms))
    }

    /// [`GroupRule::from_parts`] with the domains with room already counted.
    fn with_rooms(
        g: &Group,
        domains: &ScopeDomains,
        present: Counts,
        (room, rooms): (Arc<Vec<bool>>, usize),
    ) -> GroupRule {
        let policy = match g.policy {
            GroupPolicy::AntiAffinity => Policy::AntiAffinity {
                max: g.max_per_domain.unwrap_or(1),
            },
            GroupPolicy::Affinity => Policy::Affinity,
            GroupPolicy::Spread => Policy::Spread {
                skew: g.max_skew.unwrap_or(1),
            },
        };
        GroupRule {
            id: g.id.clone(),
            policy,
            hard: g.hard.unwrap_or(true),
            weight: g.weight.unwrap_or(1.0),
            scope: g.scope.clone(),
            domain_of: domains.of.clone(),
            domain_names: domains.names.clone(),
            present,
            rooms,
            room,
        }
    }

    /// Builds the rule of `g` over `hosts` (a migration round's or a failure scenario's), in their
    /// order, with no member counted present: each host as (id, labels, whether it could take a
    /// member). The scope's domains and which of them have room come from `scopes`, built once
    /// per scope and shared by its rules, so that 8,000 rules over 8,000 racks cost one domain
    /// map and one room vector, not 8,000 (issue 27, H2).
    pub fn over<'h, I>(g: &Group, hosts: impl Fn() -> I, scopes: &mut Scopes) -> GroupRule
    where
        I: Iterator<Item = (&'h str, &'h BTreeMap<String, String>, bool)>,
    {
        let domains = scopes.of(&g.scope, hosts().map(|(id, labels, _)| (id, labels)));
        let (of, names) = (domains.of.clone(), domains.names.clone());
        let room = scopes
            .rooms
            .entry(g.scope.clone())
            .or_insert_with(|| {
                let mut room = vec![false; names.len()];
                for ((_, _, ok), dm) in hosts().zip(of.iter()) {
                    if let Some(dm) = *dm {
                        room[dm] |= ok;
                    }
                }
                let rooms = room.iter().filter(|r| **r).count();
                (Arc::new(room), rooms)
            })
            .clone();
        let domains = ScopeDomains { of, names };
        GroupRule::with_rooms(g, &domains, Counts::default(), room)
    }

    /// Whether one more member may go to host `h`, with `counts` members per domain now.
    pub fn admits<C: MemberCounts + ?Sized>(&self, counts: &C, h: HostIx) -> bool {
        let Some(dm) = self.domain_of[h] else {
            return false;
        };
        match self.policy {
            Policy::AntiAffinity { max } => counts.at(dm) < max,
            Policy::Affinity => counts.occupied().all(|(other, _)| other == dm),
            // counts[dm] + 1 - least <= skew.
            Policy::Spread { skew } => counts.at(dm) < self.least(counts).saturating_add(skew),
        }
    }

    /// Whether a model may give `h` a member at all (its variable domain): `h` is in a domain,
    /// and for a hard rule, anti-affinity has a free place there, affinity has no member
    /// elsewhere, spread has room there. What the members of this solve do is left to the rows.
    pub fn may_host<C: MemberCounts + ?Sized>(&self, counts: &C, h: HostIx) -> bool {
        let Some(dm) = self.domain_of[h] else {
            return false;
        };
        if !self.hard {
            return true;
        }
        match self.policy {
            Policy::AntiAffinity { max } => counts.at(dm) < max,
            Policy::Affinity => self.admits(counts, h),
            Policy::Spread { .. } => self.room[dm],
        }
    }

    /// The smallest member count over the domains with room (`u32::MAX` if none has room): 0
    /// when some domain with room has no member.
    fn least<C: MemberCounts + ?Sized>(&self, counts: &C) -> u32 {
        if self.rooms == 0 {
            return u32::MAX;
        }
        let mut with_members = 0;
        let mut least = u32::MAX;
        for (_, n) in counts.occupied().filter(|(dm, _)| self.room[*dm]) {
            with_members += 1;
            least = least.min(n);
        }
        if with_members < self.rooms {
            0
        } else {
            least
        }
    }

    /// Violations with `counts` members per domain: members over `max` per domain
    /// (anti-affinity), domains with members beyond the first (affinity), the skew beyond
    /// `max_skew` over the domains with room (spread).
    pub fn violations<C: MemberCounts + ?Sized>(&self, counts: &C) -> u32 {
        match self.policy {
            Policy::AntiAffinity { max } => counts
                .occupied()
                .map(|(_, n)| n.saturating_sub(max))
                .fold(0u32, u32::saturating_add),
            Policy::Affinity => (counts.occupied().count() as u32).saturating_sub(1),
            Policy::Spread { skew } => {
                if self.rooms == 0 {
                    return 0;
                }
                let most = counts
                    .occupied()
                    .filter(|(dm, _)| self.room[*dm])
                    .map(|(_, n)| n)
                    .max()
                    .unwrap_or(0);
                (most - self.least(counts)).saturating_sub(skew)
            }
        }
    }
}

//! Group rules (`groups[]`): anti-affinity, affinity and spread over the domains of a scope, hard
//! or soft. The domain converter builds them once; [`super::Load`] counts members per domain, and
//! [`GroupRule::admits`] is the one test every solver's capacity check calls.
//!
//! The older `requests[].anti_affinity` (at most one member per host, hard) keeps its own path
//! (`Vm::group`), which every solver and the checker already enforce.

use super::HostIx;
use crate::format::problem::{Group, GroupPolicy};
use crate::format::Problem;
use std::collections::HashMap;
use std::sync::Arc;

/// The domains of one scope over a list of hosts: built once per scope, shared by every rule of
/// that scope (8,000 anti-affinity groups by rack over 8,000 racks were 8,000 copies of the same
/// host-to-rack map and its names: 4 GB; issue 27, H2).
#[derive(Debug)]
pub struct ScopeDomains {
    /// Domain of each host; None for a host without the scope's label.
    pub of: Arc<Vec<Option<usize>>>,
    /// Domain names (host ids, or label values).
    pub names: Arc<Vec<String>>,
}

/// The scopes' domains built so far, for one list of hosts.
#[derive(Debug, Default)]
pub struct Scopes {
    built: HashMap<String, ScopeDomains>,
}

impl Scopes {
    /// The domains of `scope` over `hosts` (built on first use).
    fn of(&mut self, scope: &str, hosts: &[DomainHost]) -> &ScopeDomains {
        self.built
            .entry(scope.to_string())
            .or_insert_with(|| ScopeDomains::build(scope, hosts))
    }
}

impl ScopeDomains {
    fn build(scope: &str, hosts: &[DomainHost]) -> ScopeDomains {
        let mut index: HashMap<&str, usize> = HashMap::new();
        let mut names: Vec<String> = Vec::new();
        let of = hosts
            .iter()
            .map(|host| {
                let key = if scope == "host" {
                    Some(host.id)
                } else {
                    host.labels.get(scope).map(String::as_str)
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

/// A host as a rule sees it.
pub struct DomainHost<'h> {
    /// Its id (the domain of the `host` scope).
    pub id: &'h str,
    /// Its labels (the domains of a label scope).
    pub labels: &'h std::collections::BTreeMap<String, String>,
    /// Members of the group running there that the rule counts as present.
    pub members: u32,
    /// Whether it could take a member (spread compares the domains that have such a host).
    pub room: bool,
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
    pub domain_of: Arc<Vec<Option<usize>>>,
    /// Domain names (host ids, or label values), shared likewise.
    pub domain_names: Arc<Vec<String>>,
    /// Members running per domain before the batch (`hosts[].group_members`).
    pub present: Vec<u32>,
    /// Per domain: whether some host of it could take some member before the batch (fits its free
    /// capacity). `spread` compares these domains only.
    pub room: Vec<bool>,
}

impl GroupRule {
    /// Builds the rule of `g` over the hosts of `p`; `room_of_host` says whether a host could take
    /// some member before the batch.
    pub(super) fn new(
        g: &Group,
        p: &Problem,
        room_of_host: impl Fn(usize) -> bool,
        scopes: &mut Scopes,
    ) -> GroupRule {
        let hosts = p.hosts.iter().enumerate().map(|(h, host)| DomainHost {
            id: &host.id,
            labels: &host.labels,
            members: host.group_members.get(&g.id).copied().unwrap_or(0),
            room: room_of_host(h),
        });
        GroupRule::over(g, hosts, scopes)
    }

    /// Builds the rule of `g` over `hosts` (placement's or a migration round's), in their order.
    /// The scope's domains come from `scopes`, built once per scope and shared by its rules.
    pub fn over<'h>(
        g: &Group,
        hosts: impl IntoIterator<Item = DomainHost<'h>>,
        scopes: &mut Scopes,
    ) -> GroupRule {
        let hosts: Vec<DomainHost> = hosts.into_iter().collect();
        let domains = scopes.of(&g.scope, &hosts);
        let mut present = vec![0u32; domains.names.len()];
        let mut room = vec![false; domains.names.len()];
        for (host, dm) in hosts.iter().zip(domains.of.iter()) {
            if let Some(dm) = *dm {
                // Saturating: a domain past u32::MAX members is full for any rule (the sum wrapped
                // to 0 and every solver placed a member there; issue 27, M4).
                present[dm] = present[dm].saturating_add(host.members);
                room[dm] |= host.room;
            }
        }
        let (domain_of, domain_names) = (domains.of.clone(), domains.names.clone());
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
            domain_of,
            domain_names,
            present,
            room,
        }
    }

    /// Whether one more member may go to host `h`, with `counts` members per domain now.
    pub fn admits(&self, counts: &[u32], h: HostIx) -> bool {
        let Some(dm) = self.domain_of[h.0] else {
            return false;
        };
        match self.policy {
            Policy::AntiAffinity { max } => counts[dm] < max,
            Policy::Affinity => counts
                .iter()
                .enumerate()
                .all(|(other, &n)| other == dm || n == 0),
            // counts[dm] + 1 - least <= skew.
            Policy::Spread { skew } => counts[dm] < self.least(counts).saturating_add(skew),
        }
    }

    /// Whether a model may give `h` a member at all (its variable domain): `h` is in a domain,
    /// and for a hard rule, anti-affinity has a free place there, affinity has no member
    /// elsewhere, spread has room there. What the members of this solve do is left to the rows.
    pub fn may_host(&self, counts: &[u32], h: HostIx) -> bool {
        let Some(dm) = self.domain_of[h.0] else {
            return false;
        };
        if !self.hard {
            return true;
        }
        match self.policy {
            Policy::AntiAffinity { max } => counts[dm] < max,
            Policy::Affinity => self.admits(counts, h),
            Policy::Spread { .. } => self.room[dm],
        }
    }

    /// The smallest member count over the domains with room (`u32::MAX` if none has room).
    fn least(&self, counts: &[u32]) -> u32 {
        counts
            .iter()
            .zip(&self.room)
            .filter(|(_, r)| **r)
            .map(|(n, _)| *n)
            .min()
            .unwrap_or(u32::MAX)
    }

    /// Violations with `counts` members per domain: members over `max` per domain
    /// (anti-affinity), domains with members beyond the first (affinity), the skew beyond
    /// `max_skew` over the domains with room (spread).
    pub fn violations(&self, counts: &[u32]) -> u32 {
        match self.policy {
            Policy::AntiAffinity { max } => counts.iter().map(|n| n.saturating_sub(max)).sum(),
            Policy::Affinity => {
                (counts.iter().filter(|&&n| n > 0).count() as u32).saturating_sub(1)
            }
            Policy::Spread { skew } => {
                let with_room = counts.iter().zip(&self.room).filter(|(_, r)| **r);
                let most = with_room.clone().map(|(n, _)| *n).max().unwrap_or(0);
                let least = with_room.map(|(n, _)| *n).min().unwrap_or(0);
                (most - least).saturating_sub(skew)
            }
        }
    }
}

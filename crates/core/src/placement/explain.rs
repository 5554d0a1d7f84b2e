//! Why a request is not placed: the binding constraint, as a reason code and a sentence that
//! names the constraint family of models/.

use crate::domain::evaluate::final_load;
use crate::domain::{
    bits, fits, Assignment, Domain, HostIx, IxVec, Load, RequestIx, StorageIx, EPS,
};
use std::collections::HashMap;
use vmplace_wire::ReasonCode;

/// Explains the unplaced requests of one answer. The pool before the batch and after the placed
/// requests is computed once, and requests that are alike (demand, disk, group, the storage they
/// were given or chose) share one explanation, so that explaining is near-linear in the batch.
pub struct Explainer<'a> {
    d: &'a Domain,
    stopped: bool,
    initial: Load,
    after: Load,
    seen: HashMap<Alike, (ReasonCode, String)>,
}

/// What makes two unplaced requests alike: demand, disk, groups, and the storage they have.
type Alike = (
    Vec<u64>,
    u64,
    Option<usize>,
    Option<StorageIx>,
    Option<usize>,
    Vec<usize>,
);

impl<'a> Explainer<'a> {
    /// For the answer `placed`, which holds only the placed requests. `stopped`: the search
    /// was stopped (time limit or cancel), so a request that fits what is left was not reached.
    pub fn new(d: &'a Domain, placed: &Assignment, stopped: bool) -> Self {
        Explainer {
            d,
            stopped,
            initial: Load::initial(d),
            after: final_load(d, placed),
            seen: HashMap::new(),
        }
    }

    /// Whether a hard group rule of `r` turns away every host with room that any storage it may
    /// use reaches (phase 1 drops such a member with the rule, not the look-ahead, binding).
    pub fn bound_by_group_rule(&self, r: RequestIx) -> bool {
        let vm = &self.d.requests[r];
        if vm.rules.is_empty() {
            return false;
        }
        let storages: Vec<StorageIx> = match vm.storage {
            Some(s) => vec![s],
            None => (0..self.d.storage.len())
                .map(StorageIx)
                .filter(|&s| self.d.storage_allows(r, s))
                .collect(),
        };
        group_rule_blocking(self.d, &self.after, r, &storages).is_some()
    }

    /// Why `r`, not placed, is not: `storage` is the storage phase 1 chose for it, if any.
    pub fn explain(&mut self, r: RequestIx, storage: Option<StorageIx>) -> (ReasonCode, String) {
        let vm = &self.d.requests[r];
        let key = (
            bits(&vm.demand),
            vm.disk.to_bits(),
            vm.group,
            storage.or(vm.storage),
            vm.storage_rule,
            vm.rules.clone(),
        );
        if let Some(known) = self.seen.get(&key) {
            return known.clone();
        }
        let answer = explain(self.d, &self.initial, &self.after, r, storage, self.stopped);
        self.seen.insert(key, answer.clone());
        answer
    }
}

/// Why request `r` is not placed, naming the binding constraint: `initial` is the pool before the
/// batch, `after` the pool after the placed requests (not `r`).
fn explain(
    d: &Domain,
    initial: &Load,
    after: &Load,
    r: RequestIx,
    chosen_storage: Option<StorageIx>,
    stopped: bool,
) -> (ReasonCode, String) {
    let vm = &d.requests[r];
    let storages: Vec<StorageIx> = match (chosen_storage, vm.storage) {
        (Some(s), _) | (None, Some(s)) => vec![s],
        (None, None) => d
            .storage
            .ids()
            .filter(|&s| d.storage_allows(r, s))
            .collect(),
    };
    if storages.is_empty() {
        return (
            ReasonCode::NoStorageWithTraits,
            "storage_traits: no storage system has the storage traits the request requires \
             and lacks the ones it forbids"
                .to_string(),
        );
    }
    let candidates = Candidates {
        d,
        r,
        storages,
        chosen: chosen_storage.is_some() || vm.storage.is_some(),
    };
    if let Some(why) = candidates.blocked_before_batch(initial) {
        return why;
    }
    candidates.blocked_by_batch(after, stopped)
}

/// The storage systems a request not placed could use (the one chosen for it, if any), for
/// [`explain`].
struct Candidates<'a> {
    d: &'a Domain,
    r: RequestIx,
    /// Its storage systems (never empty).
    storages: Vec<StorageIx>,
    /// Whether its storage is chosen already (phase 1 or the request): its disk is booked.
    chosen: bool,
}

impl Candidates<'_> {
    /// Whether `s` has room for the request's disk in `load`.
    fn disk_ok(&self, load: &Load, s: StorageIx) -> bool {
        self.chosen || load.storage_free[s] + EPS >= self.d.requests[self.r].disk
    }

    /// Whether a host connected to `s` has room for the request in `load`.
    fn connected_room(&self, load: &Load, s: StorageIx) -> bool {
        let demand = &self.d.requests[self.r].demand;
        self.d.storage[s]
            .hosts
            .iter()
            .any(|h| fits(demand, &load.host_free[h]))
    }

    /// The constraint that excludes the request from the pool before the batch, if one does:
    /// storage capacity, host traits, host capacity, connectivity.
    fn blocked_before_batch(&self, initial: &Load) -> Option<(ReasonCode, String)> {
        let (d, r) = (self.d, self.r);
        let vm = &d.requests[r];
        if !self.storages.iter().any(|&s| self.disk_ok(initial, s)) {
            return Some((
                ReasonCode::NoStorageCapacity,
                format!(
                    "storage_capacity: no storage system has {} GiB free",
                    vm.disk
                ),
            ));
        }
        if !d.hosts.ids().any(|h| d.traits_allow(r, h)) {
            return Some((
                ReasonCode::NoHostWithTraits,
                format!("host_traits: {}", unmet_rules(d, r)),
            ));
        }
        if !initial.host_free.iter().any(|f| fits(&vm.demand, f)) {
            let m = d.axes.len();
            if initial
                .host_free
                .iter()
                .any(|f| fits(&vm.demand[..m], &f[..m]))
            {
                return Some((
                    ReasonCode::NoHostWithTraits,
                    "host_traits: hosts have room for it, but none of those with its traits".into(),
                ));
            }
            return Some((
                ReasonCode::DemandExceedsHosts,
                format!(
                    "host_capacity: {}",
                    exceeded(d, &vm.demand, &initial.host_free)
                ),
            ));
        }
        if !self
            .storages
            .iter()
            .any(|&s| self.disk_ok(initial, s) && self.connected_room(initial, s))
        {
            let storage_named = match self.storages.as_slice() {
                [s] => format!(" (storage `{}`)", d.storage[s].id),
                _ => String::new(),
            };
            return Some((
                ReasonCode::NoConnectedHostCapacity,
                format!(
                    "host_connectivity: no host with room is connected to the storage{storage_named}"
                ),
            ));
        }
        None
    }

    /// Why the request, which fits the pool before the batch, is not placed: anti-affinity or a
    /// group rule where there is room left, the search stopped, or the batch took the capacity.
    fn blocked_by_batch(&self, after: &Load, stopped: bool) -> (ReasonCode, String) {
        let (d, r) = (self.d, self.r);
        let vm = &d.requests[r];
        let room_now = self
            .storages
            .iter()
            .any(|&s| self.disk_ok(after, s) && self.connected_room(after, s));
        if room_now && vm.group.is_some() {
            return (
                ReasonCode::AntiAffinity,
                format!(
                    "anti_affinity: every connected host with room already runs a member of group `{}`",
                    d.groups[vm.group.unwrap_or(0)]
                ),
            );
        }
        if room_now {
            if let Some(blocked) = group_rule_blocking(d, after, r, &self.storages) {
                return blocked;
            }
        }
        if room_now && stopped {
            return (
                ReasonCode::StoppedEarly,
                "search: it fits in the capacity left, but the search stopped before placing it"
                    .to_string(),
            );
        }
        let binding = if !self.storages.iter().any(|&s| self.disk_ok(after, s)) {
            "storage_capacity"
        } else {
            "host_capacity"
        };
        (
            ReasonCode::CapacityTaken,
            format!(
                "{binding}: the capacity that could take it went to other requests of this batch"
            ),
        )
    }
}

/// What of a demand no host has free: each resource the VM needs more of than any host has
/// free, with both amounts; or, when each fits somewhere alone, that no host has them together.
fn exceeded(d: &Domain, demand: &[f64], free: &IxVec<HostIx, Vec<f64>>) -> String {
    let most = |k: usize| free.iter().map(|f| f[k]).fold(0.0_f64, f64::max);
    let over: Vec<String> = (0..d.axes.len())
        .filter(|&k| demand[k] > most(k) + EPS)
        .map(|k| {
            format!(
                "{} {} (the most any host has free: {})",
                amount(demand[k]),
                d.resources[k],
                amount(most(k))
            )
        })
        .collect();
    if over.is_empty() {
        let all: Vec<String> = (0..d.axes.len())
            .filter(|&k| demand[k] > 0.0)
            .map(|k| format!("{} {}", amount(demand[k]), d.resources[k]))
            .collect();
        return format!(
            "no host has {} free at once (each fits some host alone)",
            all.join(" and ")
        );
    }
    format!("the VM needs {}", over.join(" and "))
}

/// An amount for a sentence: at most three decimals, without trailing zeros.
fn amount(x: f64) -> String {
    let text = format!("{x:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The first hard group rule of `r` that turns away every connected host with room now, with its
/// reason.
fn group_rule_blocking(
    d: &Domain,
    after: &Load,
    r: RequestIx,
    storages: &[StorageIx],
) -> Option<(ReasonCode, String)> {
    use crate::domain::groups::Policy;
    let vm = &d.requests[r];
    let room: Vec<HostIx> = storages
        .iter()
        .flat_map(|s| d.storage[s].hosts.iter().copied())
        .filter(|h| fits(&vm.demand, &after.host_free[h]))
        .collect();
    vm.rules.iter().find_map(|&g| {
        let rule = &d.group_rules[g];
        if !rule.hard || room.iter().any(|&h| rule.admits(&after.rule_counts[g], h)) {
            return None;
        }
        let scope = &rule.scope;
        Some(match rule.policy {
            Policy::AntiAffinity { max } => (
                ReasonCode::AntiAffinity,
                format!(
                    "group_anti_affinity: every connected host with room is in a `{scope}` that                      already has {max} member(s) of group `{}`",
                    rule.id
                ),
            ),
            Policy::Affinity => (
                ReasonCode::Affinity,
                format!(
                    "group_affinity: no connected host with room is in the `{scope}` where group                      `{}` runs",
                    rule.id
                ),
            ),
            Policy::Spread { skew } => (
                ReasonCode::Spread,
                format!(
                    "group_spread: one more member of group `{}` in any `{scope}` with a connected                      host with room would skew it beyond {skew}",
                    rule.id
                ),
            ),
        })
    })
}

/// The host trait rules of `r` that no host meets (`trait:T`, `no-trait:T`), or, when each is met
/// by some host, that no host meets them all.
fn unmet_rules(d: &Domain, r: RequestIx) -> String {
    let vm = &d.requests[r];
    let unmet: Vec<String> = (d.axes.len()..d.resources.len())
        .filter(|&k| vm.demand[k] > 0.0 && d.hosts.iter().all(|h| h.capacity[k] < vm.demand[k]))
        .map(|k| format!("`{}`", d.resources[k]))
        .collect();
    if unmet.is_empty() {
        "each of its trait rules is met by some host, but no host meets them all".to_string()
    } else {
        format!("no host meets {}", unmet.join(", "))
    }
}

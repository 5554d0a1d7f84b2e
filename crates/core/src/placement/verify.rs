//! The last word on capacity (issue 27, M3): every answer, whatever solver made it, has the sum on
//! each storage system and on each host resource recounted exactly ([`ExactSum`], in request
//! order, as the checker adds them) and compared with [`exceeds`] before it becomes the solution
//! document. HiGHS holds its rows to a tolerance that grows with the numbers: with capacities of
//! 1e8 the storage and joint MIPs put 14 GiB too many on a storage system. A request that overfills
//! is unplaced (the explanation then names the capacity), and with hosts each is offered every
//! exact spot left before the answer is restated.

use super::bounds::{host_cost_floor, integral_host_bound, record, storage_cost_floor, Measured};
use super::{greedy, PhaseOutcome};
use crate::domain::evaluate::{self, is_placed};
use crate::domain::tolerance::{exceeds, ExactSum};
use crate::domain::{Assignment, Domain, HostIx, IxVec, Load, RequestIx, StorageIx};
use std::collections::BTreeSet;
use vmplace_wire::{Objective, Status};

/// One capacity of the pool: a storage system's space, or one resource of a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bin {
    /// A storage system (GiB).
    Storage(StorageIx),
    /// A host and the index of a resource (`Domain::resources`).
    Host(HostIx, usize),
}

/// The placed requests of each storage system and host, in request order.
struct Book {
    storage: IxVec<StorageIx, Vec<RequestIx>>,
    hosts: IxVec<HostIx, Vec<RequestIx>>,
}

impl Book {
    fn of(d: &Domain, a: &Assignment, need_host: bool) -> Book {
        let mut book = Book {
            storage: IxVec::filled(Vec::new(), d.storage.len()),
            hosts: IxVec::filled(Vec::new(), d.hosts.len()),
        };
        for i in d.requests.ids() {
            let r = i;
            let Some(s) = a.storage[i].filter(|_| is_placed(a, r, need_host)) else {
                continue;
            };
            book.storage[s].push(r);
            if let Some(h) = a.host[i].filter(|_| need_host) {
                book.hosts[h].push(r);
            }
        }
        book
    }

    fn members(&self, bin: Bin) -> &[RequestIx] {
        match bin {
            Bin::Storage(s) => &self.storage[s],
            Bin::Host(h, _) => &self.hosts[h],
        }
    }

    /// What the bin holds after the answer: its use before the batch plus its members.
    fn total(&self, d: &Domain, bin: Bin) -> f64 {
        let mut sum = ExactSum::default();
        for &r in self.members(bin) {
            sum.add(size(d, r, bin));
        }
        let used = match bin {
            Bin::Storage(s) => d.storage[s].used,
            Bin::Host(h, k) => d.hosts[h].used[k],
        };
        used + sum.value()
    }

    /// By how much the bin exceeds its capacity, when beyond the tolerance.
    fn excess(&self, d: &Domain, bin: Bin) -> Option<f64> {
        let cap = match bin {
            Bin::Storage(s) => d.storage[s].capacity,
            Bin::Host(h, k) => d.hosts[h].capacity[k],
        };
        let total = self.total(d, bin);
        exceeds(total, cap).then_some(total - cap)
    }

    /// Every bin beyond its capacity.
    fn overfull(&self, d: &Domain) -> Vec<Bin> {
        let storage = d.storage.ids().map(Bin::Storage);
        let hosts = d
            .hosts
            .ids()
            .filter(|&h| !self.hosts[h].is_empty())
            .flat_map(|h| (0..d.resources.len()).map(move |k| Bin::Host(h, k)));
        storage
            .chain(hosts)
            .filter(|&b| self.excess(d, b).is_some())
            .collect()
    }

    /// Whether every resource of host `h` is within capacity.
    fn host_holds(&self, d: &Domain, h: HostIx) -> bool {
        (0..d.resources.len()).all(|k| self.excess(d, Bin::Host(h, k)).is_none())
    }

    fn add(&mut self, r: RequestIx, s: Option<StorageIx>, h: Option<HostIx>) {
        let put = |v: &mut Vec<RequestIx>| {
            if let Err(at) = v.binary_search(&r) {
                v.insert(at, r);
            }
        };
        if let Some(s) = s {
            put(&mut self.storage[s]);
        }
        if let Some(h) = h {
            put(&mut self.hosts[h]);
        }
    }

    fn remove(&mut self, r: RequestIx, s: Option<StorageIx>, h: Option<HostIx>) {
        if let Some(s) = s {
            self.storage[s].retain(|&x| x != r);
        }
        if let Some(h) = h {
            self.hosts[h].retain(|&x| x != r);
        }
    }
}

/// What request `r` takes of the bin.
fn size(d: &Domain, r: RequestIx, bin: Bin) -> f64 {
    let vm = &d.requests[r];
    match bin {
        Bin::Storage(_) => vm.disk,
        Bin::Host(_, k) => vm.demand[k],
    }
}

/// Re-verifies the answer of the last phase exactly and repairs it in place when some capacity
/// is exceeded: the offending requests unplaced, offered every exact spot left (with hosts) until
/// `stop` says the call is over, and the phases' statistics restated for the answer the call
/// returns (`time_limit` when `stop` cut the offers short).
pub(crate) fn enforce(
    d: &Domain,
    phases: &mut [PhaseOutcome],
    need_host: bool,
    stop: &dyn Fn() -> bool,
) {
    let Some(last) = phases.last() else { return };
    let mut book = Book::of(d, &last.assignment, need_host);
    let over = book.overfull(d);
    if over.is_empty() {
        return;
    }
    let mut a = last.assignment.clone();
    let unplaced = unplace_until_within(d, &mut a, &mut book, &over);
    let (again, cut) = if need_host {
        place_again(d, &mut a, &mut book, &unplaced, stop)
    } else {
        (0, false)
    };
    tracing::warn!(
        capacities = over.len(),
        unplaced = unplaced.len(),
        placed_again = again,
        stopped = cut,
        "the answer exceeded a capacity beyond the tolerance (the MIP's own tolerance at this \
         scale); repaired"
    );
    restate(d, phases, &a, need_host, cut);
}

/// Unplaces requests of each overfull bin until it is within capacity; returns them. A request
/// that overfills a storage system loses its storage (the explanation then looks for space); one
/// that overfills a host keeps the storage it was given.
fn unplace_until_within(
    d: &Domain,
    a: &mut Assignment,
    book: &mut Book,
    over: &[Bin],
) -> Vec<RequestIx> {
    let mut out = Vec::new();
    for &bin in over {
        while let Some(excess) = book.excess(d, bin) {
            let Some(r) = victim(d, book.members(bin), bin, excess) else {
                break;
            };
            book.remove(r, a.storage[r], a.host[r]);
            a.host[r] = None;
            if matches!(bin, Bin::Storage(_)) {
                a.storage[r] = None;
            }
            out.push(r);
        }
    }
    out
}

/// The member to unplace from a bin over by `excess`: the least priority among those whose
/// removal alone brings it back (the smallest of them, the latest of equals), else the largest.
fn victim(d: &Domain, members: &[RequestIx], bin: Bin, excess: f64) -> Option<RequestIx> {
    let sized = || {
        members
            .iter()
            .map(move |&r| (r, size(d, r, bin)))
            .filter(|&(_, x)| x > 0.0)
    };
    let priority = |r: RequestIx| d.requests[r].priority;
    let enough = sized().filter(|&(_, x)| x >= excess).min_by(|a, b| {
        priority(a.0)
            .total_cmp(&priority(b.0))
            .then(a.1.total_cmp(&b.1))
            .then(b.0.cmp(&a.0))
    });
    enough
        .or_else(|| {
            sized().max_by(|a, b| {
                a.1.total_cmp(&b.1)
                    .then(priority(b.0).total_cmp(&priority(a.0)))
                    .then(a.0.cmp(&b.0))
            })
        })
        .map(|(r, _)| r)
}

/// Offers each unplaced request (highest priority first) the first exact spot left: its given
/// or former storage first, then every storage system it allows, and there a host
/// ([`host_spot`]), until `stop` says the call is over. Returns how many it placed again, and
/// whether `stop` left some request unoffered.
fn place_again(
    d: &Domain,
    a: &mut Assignment,
    book: &mut Book,
    unplaced: &[RequestIx],
    stop: &dyn Fn() -> bool,
) -> (usize, bool) {
    let mut placed_only = a.clone();
    for i in d.requests.ids() {
        if !is_placed(a, i, true) {
            placed_only.storage[i] = None;
        }
    }
    let mut load = evaluate::final_load(d, &placed_only);
    let mut order = unplaced.to_vec();
    order.sort_by(|x, y| {
        let p = |r: &RequestIx| d.requests[r].priority;
        p(y).total_cmp(&p(x)).then(x.cmp(y))
    });
    let mut again = 0;
    for r in order {
        if stop() {
            return (again, true);
        }
        if let Some((s, h)) = spot(d, &load, book, a, r) {
            a.storage[r] = Some(s);
            a.host[r] = Some(h);
            load.take_storage(d, r, s);
            load.take_host(d, r, h);
            again += 1;
        }
    }
    (again, false)
}

/// The first (storage, host) where `r` fits exactly, booked in `book`.
fn spot(
    d: &Domain,
    load: &Load,
    book: &mut Book,
    a: &Assignment,
    r: RequestIx,
) -> Option<(StorageIx, HostIx)> {
    let mut storages: Vec<StorageIx> = match d.requests[r].storage {
        Some(s) => vec![s],
        None => a.storage[r]
            .into_iter()
            .chain(d.storage.ids())
            .filter(|&s| d.storage_allows(r, s))
            .collect(),
    };
    let mut seen = BTreeSet::new();
    storages.retain(|s| seen.insert(*s));
    for s in storages {
        book.add(r, Some(s), None);
        if book.excess(d, Bin::Storage(s)).is_none() {
            if let Some(h) = host_spot(d, load, book, r, s) {
                return Some((s, h));
            }
        }
        book.remove(r, Some(s), None);
    }
    None
}

/// The first host connected to `s` that accepts `r` (anti-affinity, group rules) and holds it
/// exactly, booked in `book`: one keeping its soft rules and already active first.
fn host_spot(
    d: &Domain,
    load: &Load,
    book: &mut Book,
    r: RequestIx,
    s: StorageIx,
) -> Option<HostIx> {
    let mut hosts: Vec<HostIx> = d.storage[s]
        .hosts
        .iter()
        .copied()
        .filter(|&h| load.host_accepts(d, r, h))
        .collect();
    let active =
        |h: HostIx| d.hosts[h].initially_active() || d.hosts[h].took_some(&load.host_free[h]);
    hosts.sort_by_key(|&h| (!load.host_keeps_soft_rules(d, r, h), !active(h), h));
    for h in hosts {
        book.add(r, None, Some(h));
        if book.host_holds(d, h) {
            return Some(h);
        }
        book.remove(r, None, Some(h));
    }
    None
}

/// The phases' statistics for the repaired answer `a`: placed weight and cost against the
/// phases' own weight bounds (upper bounds still) and the combinatorial cost floors (the MIP's
/// cost bound held for the weight it claimed). A phase that proved nothing stays `feasible`; the
/// last is `time_limit` when the repair was `cut` short by the call's end.
fn restate(d: &Domain, phases: &mut [PhaseOutcome], a: &Assignment, need_host: bool, cut: bool) {
    let n = phases.len();
    for (i, p) in phases.iter_mut().enumerate() {
        let (weight, cost, cost_bound) = if need_host && i + 1 == n {
            let (w, c) = evaluate::host_score(d, a);
            let all: Vec<RequestIx> = d.requests.ids().collect();
            (w, c, integral_host_bound(d, host_cost_floor(d, &all, w)))
        } else {
            let (w, c) = storage_score(d, a, need_host);
            (w, c, storage_cost_floor(d))
        };
        let timed = p.status == Status::TimeLimit || (cut && i + 1 == n);
        let measured = Measured {
            weight,
            weight_bound: p.stats.placed_weight_bound,
            cost,
            cost_bound,
            time_limited: timed,
            is_mip: timed || p.status == Status::Optimal,
        };
        p.status = record(&mut p.stats, d, measured);
        p.assignment = a.clone();
    }
}

/// (placed weight, storage cost with the look-ahead's host opening) of a phase-1 answer, as
/// `storage_phase` scores one: its own hosts are the witness when it has them, else greedy's.
fn storage_score(d: &Domain, a: &Assignment, need_host: bool) -> (f64, f64) {
    let (stored, witness) = if need_host {
        // A request without a host is not placed, and its image is not written.
        let mut hosted = a.clone();
        for (s, h) in hosted.storage.iter_mut().zip(&a.host) {
            if h.is_none() {
                *s = None;
            }
        }
        (hosted.clone(), hosted)
    } else {
        (a.clone(), greedy::host_phase(d, a, Objective::Pack))
    };
    (
        evaluate::placed_weight(d, &stored, false),
        evaluate::storage_cost(d, &stored) + evaluate::lookahead_opening(d, &witness),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Settings;
    use crate::placement::bounds::phase_stats;
    use crate::placement::solution::to_solution;
    use crate::validation::{read_problem, Phase};
    use vmplace_wire::{PhaseName, PhaseSolver, ReasonCode};

    /// Four VMs of 25,000,002.5 CPU on storage `s` given, and `hosts` hosts of 1e8 CPU.
    fn four_large(hosts: usize) -> Domain {
        let hosts: Vec<String> = (0..hosts)
            .map(|h| format!(r#"{{"id": "h{h}", "capacity": {{"cpu": 1e8}}, "storage": ["s"]}}"#))
            .collect();
        let requests: Vec<String> = (0..4)
            .map(|i| {
                format!(
                    r#"{{"id": "r{i}", "demand": {{"cpu": 25000002.5}}, "disk_gib": 1,
                         "storage": "s"}}"#
                )
            })
            .collect();
        let doc = format!(
            r#"{{"storage": [{{"id": "s", "capacity_gib": 10, "used_gib": 4}}],
                 "hosts": [{}], "requests": [{}]}}"#,
            hosts.join(","),
            requests.join(",")
        );
        let p = read_problem(&doc, Phase::Host).unwrap();
        Domain::from_problem(&p, Settings::default())
    }

    /// A host phase that put every request on `h0` and called it optimal.
    fn all_on_first_host(d: &Domain) -> PhaseOutcome {
        let mut a = crate::placement::fixed_storage(d);
        a.host = IxVec::filled(Some(HostIx(0)), d.requests.len());
        let mut stats = phase_stats(PhaseName::Host, PhaseSolver::Mip, 1);
        (stats.placed_weight, stats.placed_weight_bound) = (4.0, 4.0);
        stats.status = Status::Optimal;
        PhaseOutcome {
            assignment: a,
            witness: None,
            dropped: BTreeSet::new(),
            stats,
            status: Status::Optimal,
        }
    }

    #[test]
    fn a_host_overfilled_by_10_cpu_of_1e8_loses_a_vm_and_the_optimal_status() {
        let d = four_large(1);
        let s = to_solution(
            &d,
            vec![all_on_first_host(&d)],
            true,
            0.0,
            &crate::budget::Budget::default(),
        );
        assert_eq!(s.placements.len(), 3);
        assert_eq!(s.unplaced[0].request, "r3");
        assert_eq!(s.unplaced[0].code, ReasonCode::CapacityTaken);
        assert!(s.unplaced[0].reason.starts_with("host_capacity"));
        assert_eq!(s.status, Status::Feasible);
        assert_eq!((s.placed_weight, s.placed_weight_bound), (3.0, 4.0));
    }

    #[test]
    fn a_vm_that_overfilled_its_host_goes_where_it_fits_exactly() {
        let d = four_large(2);
        let s = to_solution(
            &d,
            vec![all_on_first_host(&d)],
            true,
            0.0,
            &crate::budget::Budget::default(),
        );
        assert_eq!(s.placements.len(), 4, "{:?}", s.unplaced);
        let on = |h: &str| {
            s.placements
                .iter()
                .filter(|p| p.host.as_deref() == Some(h))
                .count()
        };
        assert_eq!((on("h0"), on("h1")), (3, 1));
    }

    #[test]
    fn a_repair_past_the_calls_end_offers_no_spot_and_says_time_limit() {
        // The VM that overfilled h0 would fit on h1, but the call is over: it stays out as
        // STOPPED_EARLY, and the answer claims no more than it has.
        let d = four_large(2);
        let s = to_solution(
            &d,
            vec![all_on_first_host(&d)],
            true,
            0.0,
            &crate::budget::Budget::until(Some(std::time::Instant::now()), None),
        );
        assert_eq!(s.placements.len(), 3);
        assert_eq!(s.unplaced[0].code, ReasonCode::StoppedEarly);
        assert_eq!(s.status, Status::TimeLimit);
        assert_eq!((s.placed_weight, s.placed_weight_bound), (3.0, 4.0));
        assert!(s.gap > 0.0 && s.bound <= s.objective);
        assert!(s.stats.phases.iter().all(|p| p.status != Status::Optimal));
    }

    #[test]
    fn an_answer_within_capacity_passes_unchanged() {
        let d = four_large(2);
        let mut p = all_on_first_host(&d);
        p.assignment.host[RequestIx(3)] = Some(HostIx(1));
        let before = p.assignment.clone();
        let mut phases = vec![p];
        enforce(&d, &mut phases, true, &|| false);
        assert_eq!(phases[0].assignment, before);
        assert_eq!(phases[0].status, Status::Optimal);
    }
}

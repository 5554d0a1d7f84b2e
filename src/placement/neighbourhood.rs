//! After the two phases: parts of the pool re-solved as joint (storage, host) MIPs until the answer
//! is proven or the call's time is up (models/joint.md, "Neighbourhoods"). The answer keeps the
//! two-phase contract: every VM's host is connected to its image's storage system.
//!
//! A neighbourhood is a few hosts, every storage system they reach, the batch's VMs on those
//! hosts and some unplaced requests that could go there. Everything else stays where it is: its
//! images count as used space on the neighbourhood's storage systems. The part is a problem of
//! its own ([`Domain::part`]), solved by the joint model's lexicographic stages with the current
//! answer as warm start, so a neighbourhood never makes the answer worse; it is kept when it
//! places more weight, or as much for a lower host cost.

use super::deadline::Deadline;
use super::lexicographic::{better, lexicographic};
use crate::domain::{evaluate, fits, Assignment, Domain, HostIx, Part, RequestIx, StorageIx};
use crate::format::Objective;
use crate::model::joint::{self, JointInput};
use crate::model::{MipError, MipOptions};
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Largest joint model a neighbourhood may build, in (flavor, storage, host) columns.
const PART_COLUMNS: usize = 20_000;
/// Hosts in the first neighbourhood; the size then follows how the solves go.
const FIRST_HOSTS: usize = 8;

/// What the search did.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Searched {
    /// Neighbourhoods solved.
    pub neighbourhoods: usize,
    /// Neighbourhoods that improved the answer.
    pub improved: usize,
    /// What the ejection stage did, before the neighbourhoods.
    pub ejected: super::ejection::Ejections,
    /// Seconds the ejection stage took.
    pub ejection_s: f64,
    /// The joint model's third stage: a bound on phase 1's cost over the answers that keep the
    /// proven placed weight and host cost.
    pub storage_bound: Option<f64>,
}

/// Whether a neighbourhood may move some request. Members of `groups[]` rules never move: the
/// rules count members across the whole pool, which a part does not see; moving the other
/// requests cannot break a rule.
pub(crate) fn applies(d: &Domain) -> bool {
    !d.hosts.is_empty() && (0..d.requests.len()).any(|i| movable(d, RequestIx(i)))
}

/// Whether a neighbourhood may re-place request `r`: not a member of a `groups[]` rule.
pub(super) fn movable(d: &Domain, r: RequestIx) -> bool {
    d.requests[r.0].rules.is_empty()
}

/// Improves `best` (a complete answer with hosts) until `done(best)` or the deadline.
pub(crate) fn search(
    d: &Domain,
    best: &mut Assignment,
    deadline: &Deadline,
    done: &dyn Fn(&Assignment) -> bool,
) -> Result<Searched, MipError> {
    let mut out = Searched::default();
    normalise(d, best);
    let placeable: Vec<bool> = (0..d.requests.len())
        .map(|i| placeable(d, RequestIx(i)))
        .collect();
    let mut rng = ChaCha8Rng::seed_from_u64(0x5eed);
    let mut size = FIRST_HOSTS;
    // Parts tried around each request without improving: requests no part helps (too large for
    // any host with room, say) are tried less and less often.
    let mut tries = vec![0u32; d.requests.len()];
    // The answer changes only when a part improves it: `done` (a bound, a floor and the storage
    // cost over every request) is asked then, not every round.
    let mut finished = done(best);
    let mut score = evaluate::host_score(d, best);
    while !deadline.passed() && !finished {
        let Some((part, seed)) = pick(d, best, (&placeable, &tries), size, &mut rng) else {
            break;
        };
        let sub = d.part(&part);
        if joint::columns(&sub) > PART_COLUMNS {
            size = (size * 2 / 3).max(2);
            continue;
        }
        let (mut candidate, time_limited) = solve_part(d, &sub, &part, best, deadline)?;
        out.neighbourhoods += 1;
        size = if time_limited {
            (size * 2 / 3).max(2)
        } else {
            (size + 1 + size / 4).min(d.hosts.len())
        };
        let mut candidate_score = evaluate::host_score(d, &candidate);
        if better(candidate_score, score)
            && super::ejection::fill(d, &mut candidate, &part.hosts) > 0
        {
            candidate_score = evaluate::host_score(d, &candidate);
        }
        if better(candidate_score, score) {
            *best = candidate;
            score = candidate_score;
            finished = done(best);
            out.improved += 1;
            tracing::trace!(?score, size, "neighbourhood improved");
        } else if let Some(r) = seed {
            tries[r.0] += 1;
        }
    }
    Ok(out)
}

/// A request without a host keeps no storage (only a pinned one).
fn normalise(d: &Domain, a: &mut Assignment) {
    for (i, vm) in d.requests.iter().enumerate() {
        if a.host[i].is_none() {
            a.storage[i] = vm.storage;
        }
    }
}

/// Whether some storage system the request may use has room for its image and a connected host
/// with room for it before the batch.
fn placeable(d: &Domain, r: RequestIx) -> bool {
    let vm = &d.requests[r.0];
    movable(d, r) && storage_options(d, r).any(|s| d.storage[s.0].free() + 1e-6 >= vm.disk)
}

/// The storage systems a request may use that reach a host fitting it before the batch.
pub(super) fn storage_options(d: &Domain, r: RequestIx) -> impl Iterator<Item = StorageIx> + '_ {
    let pinned = d.requests[r.0].storage;
    (0..d.storage.len())
        .map(StorageIx)
        .filter(move |&s| pinned.is_none_or(|p| p == s))
        .filter(move |&s| d.storage_allows(r, s) && d.static_domain(r, s) > 0)
}

/// The next neighbourhood and the request it was built around: around an unplaced request when
/// there is one (four times in five; of four drawn at random, the one tried least), else around a
/// host the policy would rather change.
fn pick(
    d: &Domain,
    cur: &Assignment,
    (placeable, tries): (&[bool], &[u32]),
    size: usize,
    rng: &mut ChaCha8Rng,
) -> Option<(Part, Option<RequestIx>)> {
    let unplaced: Vec<RequestIx> = (0..d.requests.len())
        .filter(|&i| cur.host[i].is_none() && placeable[i])
        .map(RequestIx)
        .collect();
    let seed = (0..4)
        .filter_map(|_| unplaced.choose(rng).copied())
        .min_by_key(|r| tries[r.0])
        .filter(|_| rng.random_bool(0.8));
    let hosts = match seed {
        Some(r) => around_request(d, cur, r, size, rng),
        None => around_host(d, cur, size, rng),
    };
    (!hosts.is_empty()).then(|| (part_of(d, cur, hosts, &unplaced, size, rng), seed))
}

/// Hosts that could take request `r`: those of a random storage system it may use, the ones
/// with the most room for it first (with a little noise), `size` of them.
fn around_request(
    d: &Domain,
    cur: &Assignment,
    r: RequestIx,
    size: usize,
    rng: &mut ChaCha8Rng,
) -> Vec<HostIx> {
    let options: Vec<StorageIx> = storage_options(d, r).collect();
    let Some(&s) = options.choose(rng) else {
        return Vec::new();
    };
    let vm = &d.requests[r.0];
    let load = evaluate::final_load(d, cur);
    let mut hosts: Vec<(f64, HostIx)> = d.storage[s.0]
        .hosts
        .iter()
        .filter(|h| fits(&vm.demand, &d.hosts[h.0].free()))
        .map(|&h| {
            let host = &d.hosts[h.0];
            let room = (0..d.measured)
                .filter(|&k| vm.demand[k] > 0.0)
                .map(|k| load.host_free[h.0][k] / host.capacity[k].max(1e-9))
                .fold(f64::INFINITY, f64::min);
            (room + rng.random_range(0.0..0.2), h)
        })
        .collect();
    hosts.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    hosts.into_iter().take(size).map(|(_, h)| h).collect()
}

/// A host the policy would rather change (`pack`: a host this batch opened; `balance`: the most
/// utilised), and random hosts that share a storage system with it, `size` in all.
fn around_host(d: &Domain, cur: &Assignment, size: usize, rng: &mut ChaCha8Rng) -> Vec<HostIx> {
    let active = evaluate::active_hosts(d, cur);
    let seed = match d.settings.host_policy {
        Objective::Pack => {
            let opened: Vec<usize> = (0..d.hosts.len())
                .filter(|&h| active[h] && !d.hosts[h].initially_active())
                .collect();
            opened.choose(rng).copied()
        }
        Objective::Balance => {
            let util = evaluate::host_utilisation(d, cur);
            let peak = |h: usize| util[h].iter().copied().fold(0.0, f64::max);
            let mut hosts: Vec<usize> = (0..d.hosts.len()).collect();
            hosts.shuffle(rng);
            hosts
                .into_iter()
                .max_by(|&a, &b| peak(a).total_cmp(&peak(b)))
        }
    }
    .or_else(|| (0..d.hosts.len()).collect::<Vec<_>>().choose(rng).copied());
    let Some(seed) = seed.map(HostIx) else {
        return Vec::new();
    };
    let mut near: Vec<HostIx> = d.hosts[seed.0]
        .storage
        .iter()
        .flat_map(|s| d.storage[s.0].hosts.iter().copied())
        .filter(|&h| h != seed)
        .collect();
    near.sort_unstable();
    near.dedup();
    near.shuffle(rng);
    std::iter::once(seed)
        .chain(near)
        .take(size.max(1))
        .collect()
}

/// The part around `hosts`: every storage system they reach, the batch's VMs on them (but group
/// members, whose demand and images stay where they are), and up to `2 * size + 4` unplaced
/// requests that may use one of those storage systems.
fn part_of(
    d: &Domain,
    cur: &Assignment,
    mut hosts: Vec<HostIx>,
    unplaced: &[RequestIx],
    size: usize,
    rng: &mut ChaCha8Rng,
) -> Part {
    hosts.sort_unstable();
    let mut in_hosts = vec![false; d.hosts.len()];
    let mut in_storage = vec![false; d.storage.len()];
    for h in &hosts {
        in_hosts[h.0] = true;
        for s in &d.hosts[h.0].storage {
            in_storage[s.0] = true;
        }
    }
    let storage: Vec<StorageIx> = (0..d.storage.len())
        .filter(|&s| in_storage[s])
        .map(StorageIx)
        .collect();
    let mut requests: Vec<RequestIx> = (0..d.requests.len())
        .filter(|&i| cur.host[i].is_some_and(|h| in_hosts[h.0]))
        .map(RequestIx)
        .filter(|&r| movable(d, r))
        .collect();
    let mut waiting: Vec<RequestIx> = unplaced
        .iter()
        .copied()
        .filter(|&r| storage_options(d, r).any(|s| in_storage[s.0]))
        .collect();
    waiting.shuffle(rng);
    requests.extend(waiting.into_iter().take(2 * size + 4));
    let mut storage_used: Vec<f64> = storage.iter().map(|s| d.storage[s.0].used).collect();
    let position = |s: StorageIx| storage.binary_search(&s).ok();
    let mut host_used: Vec<Vec<f64>> = hosts.iter().map(|h| d.hosts[h.0].used.clone()).collect();
    for (i, vm) in d.requests.iter().enumerate() {
        let Some(h) = cur.host[i] else { continue };
        let stays = !in_hosts[h.0] || !movable(d, RequestIx(i));
        if let Some(k) = cur.storage[i].filter(|_| stays).and_then(position) {
            storage_used[k] += vm.disk;
        }
        let pinned_here = in_hosts[h.0] && !movable(d, RequestIx(i));
        if let Some(k) = hosts.binary_search(&h).ok().filter(|_| pinned_here) {
            for (u, x) in host_used[k].iter_mut().zip(&vm.demand) {
                *u += x;
            }
        }
    }
    Part {
        host_used,
        hosts,
        storage,
        storage_used,
        requests,
    }
}

/// Solves the part's joint MIP warm-started with the current answer; returns the whole answer
/// with the part's result in it, and whether the solve ran out of time.
fn solve_part(
    d: &Domain,
    sub: &Domain,
    part: &Part,
    cur: &Assignment,
    deadline: &Deadline,
) -> Result<(Assignment, bool), MipError> {
    let warm = restrict(part, cur);
    let local = deadline.within(part_seconds(deadline));
    let lexi = lexicographic(
        &warm,
        super::bounds::total_weight(sub),
        f64::NEG_INFINITY,
        &local,
        |stage, secs, w| {
            let input = JointInput { d: sub, warm: w };
            let opts = MipOptions {
                presolve: false,
                ..super::deadline::mip_options(sub, secs, None, &local)
            };
            joint::solve(&input, stage, &opts)
        },
        |a| evaluate::host_score(sub, a),
        false,
    )?;
    let mut out = cur.clone();
    for (k, &r) in part.requests.iter().enumerate() {
        out.host[r.0] = lexi.best.host[k].map(|h| part.hosts[h.0]);
        out.storage[r.0] = match out.host[r.0] {
            Some(_) => lexi.best.storage[k].map(|s| part.storage[s.0]),
            None => d.requests[r.0].storage,
        };
    }
    Ok((out, lexi.time_limited))
}

/// Seconds one neighbourhood may take: a quarter of what is left, between 0.2 and 3 s.
fn part_seconds(deadline: &Deadline) -> f64 {
    (deadline.remaining() / 4.0).clamp(0.2, 3.0)
}

/// The current answer in the part's indices.
fn restrict(part: &Part, cur: &Assignment) -> Assignment {
    let mut warm = Assignment::empty(part.requests.len());
    for (k, &r) in part.requests.iter().enumerate() {
        let host = cur.host[r.0].and_then(|h| part.hosts.binary_search(&h).ok());
        let storage = cur.storage[r.0].and_then(|s| part.storage.binary_search(&s).ok());
        warm.storage[k] = storage.map(StorageIx);
        if storage.is_some() {
            warm.host[k] = host.map(HostIx);
        }
    }
    warm
}

/// The search after the phases of `place`: unless the two phases' answer is proven for the whole
/// call, improves phase 2's answer until it is (phase 1 proven, the placed-weight bound met and
/// the host cost within `mip_gap` of its bound) or the deadline. Pools within the joint model's
/// size are first solved by the joint MIP over the whole pool, warm-started with the answer: its
/// bounds hold for the whole call. Then neighbourhoods. An improved answer carries the bounds
/// that hold for the whole call.
pub(crate) fn improve(
    d: &Domain,
    p1: &super::PhaseOutcome,
    p2: &mut super::PhaseOutcome,
    deadline: &Deadline,
) -> Result<Searched, MipError> {
    use super::bounds::{host_cost_floor, relative_gap, whole_call};
    use crate::format::{PhaseSolver, Status};
    let placed = evaluate::placed_weight(d, &p2.assignment, true);
    if !applies(d) || whole_call(d, &[&p1.stats, &p2.stats], placed).status == Status::Optimal {
        return Ok(Searched::default());
    }
    // Ejection (models/joint.md, "Ejection") on a copy first: the search starts from it when it
    // is better than what the joint MIP left, and its time is what the search leaves free for
    // ejection at the end.
    let ejecting = std::time::Instant::now();
    let mut first = p2.assignment.clone();
    normalise(d, &mut first);
    let first_ejected = super::ejection::improve(d, &mut first, deadline);
    let mut ejection_s = ejecting.elapsed().as_secs_f64();
    tracing::debug!(ejected = ?first_ejected, seconds = ejection_s, "ejection on the phases' answer");
    let deadline_all = deadline;
    let deadline = &deadline.within(deadline.remaining() - (2.0 * ejection_s + 0.01));
    let mut weight_bound = p1.stats.placed_weight_bound;
    let mut cost_bound = f64::NEG_INFINITY;
    let mut storage_bound = None;
    // The whole pool as one part when it is no larger than a part: on larger pools a joint MIP
    // given the few seconds left seldom gets past its warm start (61 of 100 pools of 1,000
    // requests on the sweep kept the baseline), where neighbourhoods improve it.
    if super::joint::fits_joint(d) && joint::columns(d) <= PART_COLUMNS {
        let joint = super::joint::joint_phase(d, &p2.assignment, deadline)?;
        weight_bound = weight_bound.min(joint.stats.placed_weight_bound);
        cost_bound = joint.stats.bound;
        let kept = better(
            evaluate::host_score(d, &p2.assignment),
            evaluate::host_score(d, &joint.assignment),
        );
        if !kept {
            p2.assignment = joint.assignment;
        }
        if joint.status == Status::Optimal {
            storage_bound = cheapest_storage(d, &mut p2.assignment, deadline)?;
        }
    }
    let all: Vec<RequestIx> = (0..d.requests.len()).map(RequestIx).collect();
    let proven = |a: &Assignment| {
        let (w, c) = evaluate::host_score(d, a);
        let floor = host_cost_floor(d, &all, w).max(cost_bound);
        w >= weight_bound - 1e-9 && relative_gap(c, floor.min(c)) <= d.settings.mip_gap + 1e-9
    };
    let bounds = (weight_bound, storage_bound.unwrap_or(f64::NEG_INFINITY));
    let done = |a: &Assignment| {
        proven(a) && super::storage_phase::restated(d, p1, a, bounds).status == Status::Optimal
    };
    let mut best = p2.assignment.clone();
    // The search never makes its start worse: it starts from the better answer.
    let from_first = better(
        evaluate::host_score(d, &first),
        evaluate::host_score(d, &best),
    );
    if from_first {
        best = first;
    }
    tracing::debug!(score = ?evaluate::host_score(d, &best), "neighbourhood search starts");
    let mut searched = search(d, &mut best, deadline, &done)?;
    let ejecting = std::time::Instant::now();
    let mut ejected = super::ejection::improve(d, &mut best, deadline_all);
    ejection_s += ejecting.elapsed().as_secs_f64();
    tracing::debug!(?ejected, "ejection after the neighbourhoods");
    if from_first {
        ejected = ejected.plus(first_ejected);
    }
    searched.storage_bound = storage_bound;
    searched.ejected = ejected;
    searched.ejection_s = ejection_s;
    let time_s = p2.stats.time_s;
    let flavors = p2.stats.flavors;
    let solver = if searched.improved > 0 || ejected.placed > 0 {
        PhaseSolver::JointLns
    } else if cost_bound.is_finite() {
        PhaseSolver::Joint
    } else {
        return Ok(searched);
    };
    let mut st = super::baseline::whole_pool_stats(
        d,
        &best,
        solver,
        flavors,
        (weight_bound, cost_bound),
        Some(!proven(&best)),
    );
    st.time_s = time_s;
    st.lns_neighbourhoods = searched.neighbourhoods;
    st.ejection_placed = ejected.placed;
    st.ejection_moves = ejected.moved;
    st.ejection_dropped = ejected.dropped;
    p2.status = st.status;
    p2.stats = st;
    p2.assignment = best;
    Ok(searched)
}

/// The joint model's third stage on a call whose placed weight and host cost it proved: keeps
/// in `answer` the lowest phase-1 cost among the answers with both, and returns its bound.
fn cheapest_storage(
    d: &Domain,
    answer: &mut Assignment,
    deadline: &Deadline,
) -> Result<Option<f64>, MipError> {
    let Some(stage) = super::joint::storage_stage(d, answer, deadline)? else {
        return Ok(None);
    };
    let cost = |a: &Assignment| super::storage_phase::full_score(d, a).1;
    if let Some(a) = stage.answer.filter(|a| cost(a) < cost(answer) - 1e-9) {
        *answer = a;
    }
    Ok(Some(stage.bound))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Settings;
    use crate::placement::RunConfig;
    use std::time::Instant;

    /// A randomly drawn pool of eighty requests (`generate --sweep`).
    fn pool() -> Domain {
        let (problem, _) = crate::generate::sweep::sweep_pool(3, 1, 80);
        let text = serde_json::to_string(&problem).unwrap();
        let valid = crate::validation::read_problem(&text, crate::validation::Phase::Storage)
            .expect("a sweep pool is valid");
        Domain::from_problem(&valid, Settings::default())
    }

    #[test]
    fn neighbourhoods_place_what_an_empty_answer_leaves_and_keep_every_rule() {
        let d = pool();
        let heuristic = super::super::heuristics::place(
            &d,
            &Assignment::empty(d.requests.len()),
            super::super::heuristics::Heuristic::OPENSTACK,
            &|| false,
        );
        // What the heuristic places of the requests a part may move (not group members).
        let movable_weight = |a: &Assignment| -> f64 {
            (0..d.requests.len())
                .filter(|&i| a.host[i].is_some() && movable(&d, RequestIx(i)))
                .map(|i| d.requests[i].priority)
                .sum()
        };
        let target = movable_weight(&heuristic);
        assert!(target > 0.0);
        let mut best = Assignment::empty(d.requests.len());
        let deadline = Deadline::new(Instant::now(), 3.0, &RunConfig::default());
        let done = |a: &Assignment| movable_weight(a) >= target;
        let searched = search(&d, &mut best, &deadline, &done).unwrap();
        assert!(searched.improved > 0);
        assert!(movable_weight(&best) >= target);
        // Group members, unplaced in the start, stay unplaced: no part moves them.
        for (i, vm) in d.requests.iter().enumerate() {
            assert!(vm.rules.is_empty() || best.host[i].is_none());
        }
        // Capacities hold, and every VM's host reaches its image's storage system.
        let load = evaluate::final_load(&d, &best);
        assert!(load.storage_free.iter().all(|&f| f >= -1e-6));
        assert!(load.host_free.iter().flatten().all(|&f| f >= -1e-6));
        for (i, h) in best.host.iter().enumerate() {
            if let Some(h) = h {
                let s = best.storage[i].expect("a hosted VM has its storage");
                assert!(d.hosts[h.0].storage.contains(&s));
            }
        }
    }

    #[test]
    fn a_part_counts_what_stays_outside_as_used() {
        let d = pool();
        let a = super::super::heuristics::place(
            &d,
            &Assignment::empty(d.requests.len()),
            super::super::heuristics::Heuristic::BEST_FIT,
            &|| false,
        );
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let first = (0..d.hosts.len())
            .find(|&h| a.host.contains(&Some(HostIx(h))))
            .map(HostIx)
            .unwrap();
        let part = part_of(&d, &a, vec![first], &[], 1, &mut rng);
        let sub = d.part(&part);
        // The part re-places exactly the VMs on its host.
        let on_first = a.host.iter().filter(|&&h| h == Some(first)).count();
        assert_eq!(sub.requests.len(), on_first);
        assert_eq!(sub.hosts[0].used, d.hosts[first.0].used);
        // Its storage systems hold, as used, the images of VMs on other hosts.
        for (k, s) in part.storage.iter().enumerate() {
            let elsewhere: f64 = (0..d.requests.len())
                .filter(|&i| a.storage[i] == Some(*s) && a.host[i] != Some(first))
                .filter(|&i| a.host[i].is_some())
                .map(|i| d.requests[i].disk)
                .sum();
            assert!((sub.storage[k].used - d.storage[s.0].used - elsewhere).abs() < 1e-6);
        }
    }

    #[test]
    fn a_part_leaves_group_members_where_they_are() {
        let mut d = pool();
        let a = super::super::heuristics::place(
            &d,
            &Assignment::empty(d.requests.len()),
            super::super::heuristics::Heuristic::BEST_FIT,
            &|| false,
        );
        // A host running two VMs or more; one of them becomes a member of a `groups[]` rule.
        let host = (0..d.hosts.len())
            .map(HostIx)
            .find(|&h| a.host.iter().filter(|&&x| x == Some(h)).count() >= 2)
            .unwrap();
        let member = a.host.iter().position(|&x| x == Some(host)).unwrap();
        d.requests[member].rules = vec![0];
        let unplaced = (0..d.requests.len()).find(|&i| a.host[i].is_none());
        if let Some(u) = unplaced {
            d.requests[u].rules = vec![0];
            assert!(
                !placeable(&d, RequestIx(u)),
                "an unplaced member is never drawn"
            );
        }
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let part = part_of(&d, &a, vec![host], &[], 1, &mut rng);
        assert!(!part.requests.contains(&RequestIx(member)));
        let others = a.host.iter().filter(|&&x| x == Some(host)).count() - 1;
        assert_eq!(part.requests.len(), others);
        // Its demand stays on the host and its image on its storage system, as used.
        let vm = &d.requests[member];
        for (k, used) in part.host_used[0].iter().enumerate() {
            assert!((used - d.hosts[host.0].used[k] - vm.demand[k]).abs() < 1e-9);
        }
        let s = a.storage[member].unwrap();
        let k = part.storage.binary_search(&s).unwrap();
        let images: f64 = (0..d.requests.len())
            .filter(|&i| a.storage[i] == Some(s) && a.host[i].is_some())
            .filter(|&i| a.host[i] != Some(host) || i == member)
            .map(|i| d.requests[i].disk)
            .sum();
        assert!((part.storage_used[k] - d.storage[s.0].used - images).abs() < 1e-6);
        assert!(applies(&d));
    }
}

//! A block of the search after the two phases (`improve`): parts of the pool re-solved as joint
//! (storage, host) MIPs while they pay (models/joint.md, "Neighbourhoods"). The answer keeps the
//! two-phase contract: every VM's host is connected to its image's storage system.
//!
//! A neighbourhood is a few hosts, every storage system they reach, the batch's VMs on those
//! hosts and some unplaced requests that could go there. Everything else stays where it is: its
//! images count as used space on the neighbourhood's storage systems. The part is a problem of
//! its own ([`Domain::part`]), solved by the joint model's lexicographic stages with the current
//! answer as warm start, so a neighbourhood never makes the answer worse; it is kept when it
//! places more weight, or as much for a lower host cost.

use super::deadline::Stall;
use super::lexicographic::{better, lexicographic};
use crate::budget::Budget;
use crate::domain::{
    evaluate, fits, Assignment, Domain, HostIx, IxVec, Part, RequestIx, StorageIx,
};
use crate::domain::{EPS, NOISE};
use crate::model::joint::{self, JointInput};
use crate::model::{MipError, MipOptions};
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use vmplace_wire::Objective;

/// Largest joint model a neighbourhood may build, in (flavor, storage, host) columns.
pub(super) const PART_COLUMNS: usize = 20_000;
/// Hosts in the first neighbourhood; the size then follows how the solves go.
const FIRST_HOSTS: usize = 8;

/// What a block of neighbourhoods did.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Searched {
    /// Neighbourhoods solved.
    pub neighbourhoods: usize,
    /// Neighbourhoods that improved the answer.
    pub improved: usize,
}

/// Whether a neighbourhood may move some request. Members of `groups[]` rules never move: the
/// rules count members across the whole pool, which a part does not see; moving the other
/// requests cannot break a rule.
pub(crate) fn applies(d: &Domain) -> bool {
    !d.hosts.is_empty() && d.requests.ids().any(|i| movable(d, i))
}

/// Whether a neighbourhood may re-place request `r`: not a member of a `groups[]` rule.
pub(super) fn movable(d: &Domain, r: RequestIx) -> bool {
    d.requests[r].rules.is_empty()
}

/// The neighbourhood search's memory across its blocks (the search alternates with ruin and
/// recreate): its random stream, the size of the next neighbourhood and, per request, the parts
/// tried around it without improving (requests no part helps, too large for any host with room
/// say, are tried less and less often).
pub(crate) struct Explorer {
    rng: ChaCha8Rng,
    size: usize,
    tries: IxVec<RequestIx, u32>,
    placeable: IxVec<RequestIx, bool>,
}

impl Explorer {
    pub(crate) fn new(d: &Domain) -> Self {
        Explorer {
            rng: ChaCha8Rng::seed_from_u64(0x5eed),
            size: FIRST_HOSTS,
            tries: IxVec::filled(0, d.requests.len()),
            placeable: d.requests.ids().map(|i| placeable(d, i)).collect(),
        }
    }
}

/// Improves `best` (a complete answer with hosts) by neighbourhoods until `done(best)`, the
/// deadline, or `stall` says the block has stopped paying.
pub(crate) fn search(
    d: &Domain,
    best: &mut Assignment,
    (deadline, stall): (&Budget, &mut Stall),
    done: &dyn Fn(&Assignment) -> bool,
    ex: &mut Explorer,
) -> Result<Searched, MipError> {
    let mut out = Searched::default();
    normalise(d, best);
    // The answer changes only when a part improves it: `done` (a bound, a floor and the storage
    // cost over every request) is asked then, not every round.
    let mut finished = done(best);
    let mut score = evaluate::host_score(d, best);
    while !deadline.passed() && !finished && !stall.over() {
        let picked = pick(d, best, (&ex.placeable, &ex.tries), ex.size, &mut ex.rng);
        let Some((part, seed)) = picked else {
            break;
        };
        let sub = d.part(&part);
        if joint::columns(&sub) > PART_COLUMNS {
            ex.size = (ex.size * 2 / 3).max(2);
            continue;
        }
        let (mut candidate, time_limited) = solve_part(d, &sub, &part, best, deadline)?;
        out.neighbourhoods += 1;
        ex.size = if time_limited {
            (ex.size * 2 / 3).max(2)
        } else {
            (ex.size + 1 + ex.size / 4).min(d.hosts.len())
        };
        let mut candidate_score = evaluate::host_score(d, &candidate);
        if better(candidate_score, score)
            && super::ejection::fill(d, &mut candidate, part.hosts.as_slice()) > 0
        {
            candidate_score = evaluate::host_score(d, &candidate);
        }
        if better(candidate_score, score) {
            *best = candidate;
            score = candidate_score;
            finished = done(best);
            out.improved += 1;
            stall.gained();
            tracing::trace!(?score, size = ex.size, "neighbourhood improved");
        } else if let Some(r) = seed {
            ex.tries[r] += 1;
        }
    }
    Ok(out)
}

/// A request without a host keeps no storage (only a pinned one).
pub(super) fn normalise(d: &Domain, a: &mut Assignment) {
    for (i, vm) in d.requests.enumerate() {
        if a.host[i].is_none() {
            a.storage[i] = vm.storage;
        }
    }
}

/// Whether some storage system the request may use has room for its image and a connected host
/// with room for it before the batch.
fn placeable(d: &Domain, r: RequestIx) -> bool {
    let vm = &d.requests[r];
    movable(d, r) && storage_options(d, r).any(|s| d.storage[s].free() + EPS >= vm.disk)
}

/// The storage systems a request may use that reach a host fitting it before the batch.
pub(super) fn storage_options(d: &Domain, r: RequestIx) -> impl Iterator<Item = StorageIx> + '_ {
    d.storage.ids().filter(move |&s| may_use(d, r, s))
}

/// Whether request `r` may put its image on storage system `s`: its pinned system if any, its
/// storage traits, and some host connected to `s` that could take it before the batch.
pub(super) fn may_use(d: &Domain, r: RequestIx, s: StorageIx) -> bool {
    d.requests[r].storage.is_none_or(|p| p == s)
        && d.storage_allows(r, s)
        && d.static_domain(r, s) > 0
}

/// The next neighbourhood and the request it was built around: around an unplaced request when
/// there is one (four times in five; of four drawn at random, the one tried least), else around a
/// host the policy would rather change.
fn pick(
    d: &Domain,
    cur: &Assignment,
    (placeable, tries): (&IxVec<RequestIx, bool>, &IxVec<RequestIx, u32>),
    size: usize,
    rng: &mut ChaCha8Rng,
) -> Option<(Part, Option<RequestIx>)> {
    let unplaced: Vec<RequestIx> = d
        .requests
        .ids()
        .filter(|&i| cur.host[i].is_none() && placeable[i])
        .collect();
    let seed = (0..4)
        .filter_map(|_| unplaced.choose(rng).copied())
        .min_by_key(|r| tries[r])
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
    let vm = &d.requests[r];
    let load = evaluate::final_load(d, cur);
    let mut hosts: Vec<(f64, HostIx)> = d.storage[s]
        .hosts
        .iter()
        .filter(|&&h| fits(&vm.demand, &d.hosts[h].free()))
        .map(|&h| {
            let host = &d.hosts[h];
            let room = (0..d.axes.len())
                .filter(|&k| vm.demand[k] > 0.0)
                .map(|k| load.host_free[h][k] / host.capacity[k].max(NOISE))
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
            let opened: Vec<HostIx> = d
                .hosts
                .ids()
                .filter(|&h| active[h] && !d.hosts[h].initially_active())
                .collect();
            opened.choose(rng).copied()
        }
        Objective::Balance => {
            let util = evaluate::host_utilisation(d, cur);
            let peak = |h: HostIx| util[h].iter().copied().fold(0.0, f64::max);
            let mut hosts: Vec<HostIx> = d.hosts.ids().collect();
            hosts.shuffle(rng);
            hosts
                .into_iter()
                .max_by(|&a, &b| peak(a).total_cmp(&peak(b)))
        }
    }
    .or_else(|| d.hosts.ids().collect::<Vec<_>>().choose(rng).copied());
    let Some(seed) = seed else {
        return Vec::new();
    };
    let mut near: Vec<HostIx> = d.hosts[seed]
        .storage
        .iter()
        .flat_map(|s| d.storage[s].hosts.iter().copied())
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
    let mut in_hosts = IxVec::filled(false, d.hosts.len());
    let mut in_storage = IxVec::filled(false, d.storage.len());
    for h in &hosts {
        in_hosts[h] = true;
        for s in &d.hosts[h].storage {
            in_storage[s] = true;
        }
    }
    let storage: Vec<StorageIx> = d.storage.ids().filter(|&s| in_storage[s]).collect();
    let mut requests: Vec<RequestIx> = d
        .requests
        .ids()
        .filter(|&i| cur.host[i].is_some_and(|h| in_hosts[h]))
        .filter(|&r| movable(d, r))
        .collect();
    let mut waiting: Vec<RequestIx> = unplaced
        .iter()
        .copied()
        .filter(|&r| storage_options(d, r).any(|s| in_storage[s]))
        .collect();
    waiting.shuffle(rng);
    requests.extend(waiting.into_iter().take(2 * size + 4));
    let mut storage_used: Vec<f64> = storage.iter().map(|s| d.storage[s].used).collect();
    let position = |s: StorageIx| storage.binary_search(&s).ok();
    let mut host_used: Vec<Vec<f64>> = hosts.iter().map(|h| d.hosts[h].used.clone()).collect();
    for (i, vm) in d.requests.enumerate() {
        let Some(h) = cur.host[i] else { continue };
        let stays = !in_hosts[h] || !movable(d, i);
        if let Some(k) = cur.storage[i].filter(|_| stays).and_then(position) {
            storage_used[k] += vm.disk;
        }
        let pinned_here = in_hosts[h] && !movable(d, i);
        if let Some(k) = hosts.binary_search(&h).ok().filter(|_| pinned_here) {
            for (u, x) in host_used[k].iter_mut().zip(&vm.demand) {
                *u += x;
            }
        }
    }
    Part {
        host_used,
        hosts: hosts.into(),
        storage: storage.into(),
        storage_used,
        requests: requests.into(),
    }
}

/// Solves the part's joint MIP warm-started with the current answer; returns the whole answer
/// with the part's result in it, and whether the solve ran out of time.
fn solve_part(
    d: &Domain,
    sub: &Domain,
    part: &Part,
    cur: &Assignment,
    deadline: &Budget,
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
    for (k, &r) in part.requests.enumerate() {
        out.host[r] = lexi.best.host[k].map(|h| part.hosts[h]);
        out.storage[r] = match out.host[r] {
            Some(_) => lexi.best.storage[k].map(|s| part.storage[s]),
            None => d.requests[r].storage,
        };
    }
    Ok((out, lexi.time_limited))
}

/// Seconds one neighbourhood may take: a quarter of what is left, between 0.2 and 3 s.
fn part_seconds(deadline: &Budget) -> f64 {
    (deadline.remaining() / 4.0).clamp(0.2, 3.0)
}

/// The current answer in the part's indices.
fn restrict(part: &Part, cur: &Assignment) -> Assignment {
    let mut warm = Assignment::empty(part.requests.len());
    for (k, &r) in part.requests.enumerate() {
        let host = cur.host[r].and_then(|h| part.hosts.as_slice().binary_search(&h).ok());
        let storage = cur.storage[r].and_then(|s| part.storage.as_slice().binary_search(&s).ok());
        warm.storage[k] = storage.map(StorageIx);
        if storage.is_some() {
            warm.host[k] = host.map(HostIx);
        }
    }
    warm
}

//! Ruin and recreate after the phases (models/joint.md, "Ruin and recreate"; Schrimpf et al.,
//! 2000, the method of reinterpretcat/vrp): take every VM of the batch off a few related hosts,
//! then insert them again together with the requests still waiting, one at a time on the host
//! among the ruined ones that fits it best; a VM that no longer fits there goes wherever it fits.
//! The result is kept when the placed weight grows, or stays the same at no higher host cost
//! (sideways moves let the search drift across plateaus); else every step is undone.
//!
//! Each try costs tens of microseconds, so thousands run where one neighbourhood MIP would. The
//! hosts are related through a storage system they share, so a VM can change both its host and
//! its image's storage system; every VM keeps a host connected to its image's system.

use super::deadline::Stall;
use super::neighbourhood::storage_options;
use super::working::Working;
use crate::budget::Budget;
use crate::domain::{evaluate, Assignment, Domain, HostIx, RequestIx, StorageIx, EPS, NOISE, TINY};
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Fewest hosts ruined in one try.
const HOSTS_MIN: usize = 2;
/// Most hosts ruined in one try.
const HOSTS_MAX: usize = 8;
/// Share of the tries that ruin images of one storage system rather than hosts.
const STORAGE_RUINS: f64 = 0.3;
/// Tries between two looks at the clock.
const TRIES_PER_CHECK: usize = 16;

/// What the stage did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Recreated {
    /// Ruins tried.
    pub tries: usize,
    /// Tries kept because they placed more weight, or as much at a lower host cost.
    pub improved: usize,
}

impl Recreated {
    /// Both blocks' counts.
    pub(crate) fn plus(self, other: Recreated) -> Recreated {
        Recreated {
            tries: self.tries + other.tries,
            improved: self.improved + other.improved,
        }
    }
}

/// The order in which a try inserts its requests (the highest priority first in each).
#[derive(Debug, Clone, Copy)]
enum Order {
    /// The largest first (first fit decreasing).
    Largest,
    /// The smallest first (the most requests on a pool short of everything).
    Smallest,
    /// At random.
    Random,
}

/// One step of a try, to undo it.
enum Step {
    /// A VM taken off host `h` and storage system `s`.
    Removed(RequestIx, HostIx, StorageIx),
    /// A request placed.
    Placed(RequestIx, HostIx, StorageIx),
}

/// Ruins and recreates parts of `best` (a complete answer with hosts) until the deadline, until
/// `stall` says the block has stopped paying, or until `done` holds after an improvement. `best`
/// never gets worse by (placed weight, host cost); at equal score, a try is kept when the free
/// room ends up no less concentrated ([`potential`]), which steers the drift toward room a large
/// request can use.
pub(crate) fn improve(
    d: &Domain,
    best: &mut Assignment,
    (deadline, stall): (&Budget, &mut Stall),
    seed: u64,
    done: &dyn Fn(&Assignment) -> bool,
) -> Recreated {
    let mut out = Recreated::default();
    if d.hosts.is_empty() || d.storage.is_empty() {
        return out;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut st = Working::new(d, best);
    let mut score = evaluate::host_score(d, st.a);
    let mut concentration = potential(&st);
    let mut waiting = st.waiting();
    loop {
        if out.tries % TRIES_PER_CHECK == 0 && (deadline.passed() || stall.over()) {
            return out;
        }
        out.tries += 1;
        let steps = ruin_and_recreate(&mut st, &waiting, &mut rng);
        let weight = score.0 + weight_change(d, &steps);
        let cost = if weight > score.0 - NOISE {
            evaluate::host_cost(d, st.a)
        } else {
            f64::INFINITY
        };
        // More weight, or as much at a lower host cost (fewer hosts under `pack`).
        let improved = weight > score.0 + NOISE || cost < score.1 - NOISE;
        let after = if !improved && cost <= score.1 + NOISE {
            potential(&st)
        } else {
            concentration
        };
        if !improved && (cost > score.1 + NOISE || after < concentration - TINY) {
            undo(&mut st, steps);
            continue;
        }
        score = (weight, cost);
        concentration = if improved { potential(&st) } else { after };
        // A VM the try left out waits now (at equal weight, a request took its place).
        if improved || left_out(&st, &steps) {
            waiting = st.waiting();
        }
        if improved {
            out.improved += 1;
            stall.gained();
            if done(st.a) {
                return out;
            }
        }
    }
}

/// Whether a VM the try removed is left without a host.
fn left_out(st: &Working, steps: &[Step]) -> bool {
    steps
        .iter()
        .any(|s| matches!(s, Step::Removed(v, ..) if st.a.host[v].is_none()))
}

/// One try: ruins a few related hosts, or some images of one storage system
/// ([`STORAGE_RUINS`] of the time), then recreates in an order drawn at random.
fn ruin_and_recreate(st: &mut Working, waiting: &[RequestIx], rng: &mut ChaCha8Rng) -> Vec<Step> {
    let (hosts, mut steps) = if rng.random_bool(STORAGE_RUINS) {
        ruin_storage(st, rng)
    } else {
        let hosts = ruined_hosts(st, waiting, rng);
        let steps = ruin(st, &hosts);
        (hosts, steps)
    };
    let order = *[Order::Largest, Order::Smallest, Order::Random]
        .choose(rng)
        .expect("three orders");
    recreate(st, &hosts, waiting, order, rng, &mut steps);
    steps
}

/// The hosts a try ruins: around a waiting request half of the time (a host connected to a
/// storage system it may use), else around any host; then hosts that share a storage system with
/// the hosts drawn so far.
fn ruined_hosts(st: &Working, waiting: &[RequestIx], rng: &mut ChaCha8Rng) -> Vec<HostIx> {
    let d = st.d;
    let first = waiting
        .choose(rng)
        .filter(|_| rng.random_bool(0.5))
        .and_then(|&r| {
            let options: Vec<StorageIx> = storage_options(d, r).collect();
            let s = *options.choose(rng)?;
            d.storage[s].hosts.choose(rng).copied()
        })
        .unwrap_or_else(|| HostIx(rng.random_range(0..d.hosts.len())));
    let want = rng.random_range(HOSTS_MIN..=HOSTS_MAX).min(d.hosts.len());
    let mut hosts = vec![first];
    for _ in 0..want * 3 {
        if hosts.len() >= want {
            break;
        }
        let from = *hosts.choose(rng).expect("one host at least");
        let Some(&s) = d.hosts[from].storage.choose(rng) else {
            continue;
        };
        if let Some(&h) = d.storage[s].hosts.choose(rng) {
            if !hosts.contains(&h) {
                hosts.push(h);
            }
        }
    }
    hosts
}

/// Takes every movable VM of the batch off `hosts`.
fn ruin(st: &mut Working, hosts: &[HostIx]) -> Vec<Step> {
    let mut steps = Vec::new();
    for &h in hosts {
        for v in st.on_host[h].clone() {
            let s = st.a.storage[v].expect("a VM with a host has a storage system");
            st.unplace(v, h, s);
            steps.push(Step::Removed(v, h, s));
        }
    }
    steps
}

/// Takes some of the batch's VMs off one storage system (their images and their hosts), and
/// returns the hosts to recreate on: theirs and a few more connected to that system.
fn ruin_storage(st: &mut Working, rng: &mut ChaCha8Rng) -> (Vec<HostIx>, Vec<Step>) {
    use rand::seq::SliceRandom;
    let d = st.d;
    let s = StorageIx(rng.random_range(0..d.storage.len()));
    let mut on: Vec<(RequestIx, HostIx)> = d.storage[s]
        .hosts
        .iter()
        .flat_map(|&h| st.on_host[h].iter().map(move |&v| (v, h)))
        .filter(|&(v, _)| st.a.storage[v] == Some(s))
        .collect();
    on.shuffle(rng);
    on.truncate(rng.random_range(HOSTS_MIN..=2 * HOSTS_MAX));
    let mut hosts: Vec<HostIx> = on.iter().map(|&(_, h)| h).collect();
    for _ in 0..HOSTS_MIN {
        if let Some(&h) = d.storage[s].hosts.choose(rng) {
            hosts.push(h);
        }
    }
    hosts.sort_unstable();
    hosts.dedup();
    let mut steps = Vec::new();
    for (v, h) in on {
        st.unplace(v, h, s);
        steps.push(Step::Removed(v, h, s));
    }
    (hosts, steps)
}

/// Inserts the VMs the ruin removed and the waiting requests, in `order`: each on the ruined host
/// that fits it best; a removed VM that fits none of them goes to any host that takes it.
fn recreate(
    st: &mut Working,
    hosts: &[HostIx],
    waiting: &[RequestIx],
    order: Order,
    rng: &mut ChaCha8Rng,
    steps: &mut Vec<Step>,
) {
    let removed: Vec<RequestIx> = steps
        .iter()
        .filter_map(|s| match s {
            Step::Removed(v, ..) => Some(*v),
            Step::Placed(..) => None,
        })
        .collect();
    let mut todo: Vec<RequestIx> = removed.iter().chain(waiting).copied().collect();
    sort(st, &mut todo, order, rng);
    for r in todo {
        if st.a.host[r].is_some() {
            continue;
        }
        if let Some((h, s)) = best_fit(st, r, hosts.iter().copied()) {
            st.place(r, h, s);
            steps.push(Step::Placed(r, h, s));
        }
    }
    for r in removed {
        if st.a.host[r].is_some() {
            continue;
        }
        if let Some((h, s)) = anywhere(st, r) {
            st.place(r, h, s);
            steps.push(Step::Placed(r, h, s));
        }
    }
}

/// Sorts `todo` by priority (highest first), then by `order`.
fn sort(st: &Working, todo: &mut [RequestIx], order: Order, rng: &mut ChaCha8Rng) {
    use rand::seq::SliceRandom;
    let d = st.d;
    let key: Vec<(f64, f64)> = match order {
        Order::Largest => todo.iter().map(|&r| (0.0, -st.size(r))).collect(),
        Order::Smallest => todo.iter().map(|&r| (0.0, st.size(r))).collect(),
        Order::Random => {
            todo.shuffle(rng);
            todo.iter().map(|_| (0.0, 0.0)).collect()
        }
    };
    let mut keyed: Vec<((f64, f64), RequestIx)> =
        key.into_iter().zip(todo.iter().copied()).collect();
    keyed.sort_by(|(x, r), (y, q)| {
        let (pr, pq) = (d.requests[r].priority, d.requests[q].priority);
        pq.total_cmp(&pr).then(x.1.total_cmp(&y.1))
    });
    for (slot, (_, r)) in todo.iter_mut().zip(keyed) {
        *slot = r;
    }
}

/// Among `hosts`, the one that takes `r` (with a storage system for its image) and is left with
/// the least room, in shares of its capacity.
fn best_fit(
    st: &Working,
    r: RequestIx,
    hosts: impl Iterator<Item = HostIx>,
) -> Option<(HostIx, StorageIx)> {
    let (d, vm) = (st.d, &st.d.requests[r]);
    hosts
        .filter_map(|h| st.storage_on(r, h).map(|s| (h, s)))
        .map(|(h, s)| {
            let left: f64 = (0..d.axes.len())
                .map(|k| {
                    (st.load.host_free[h][k] - vm.demand[k]) / d.hosts[h].capacity[k].max(NOISE)
                })
                .sum();
            (left, h, s)
        })
        .min_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)))
        .map(|(_, h, s)| (h, s))
}

/// Any host of the pool that takes `r` with a storage system it may use: a host that runs
/// something first, then the best fit.
fn anywhere(st: &Working, r: RequestIx) -> Option<(HostIx, StorageIx)> {
    let d = st.d;
    let disk = d.requests[r].disk;
    let mut hosts: Vec<HostIx> = storage_options(d, r)
        .filter(|&s| st.load.storage_free[s] + EPS >= disk)
        .flat_map(|s| d.storage[s].hosts.iter().copied())
        .collect();
    hosts.sort_unstable();
    hosts.dedup();
    let active = hosts.iter().copied().filter(|&h| st.active(h));
    best_fit(st, r, active).or_else(|| best_fit(st, r, hosts.iter().copied()))
}

/// The placed weight a try gains (negative when it loses).
fn weight_change(d: &Domain, steps: &[Step]) -> f64 {
    steps
        .iter()
        .map(|s| match s {
            Step::Removed(v, ..) => -d.requests[v].priority,
            Step::Placed(r, ..) => d.requests[r].priority,
        })
        .sum()
}

/// Undoes a try's steps, the last first.
fn undo(st: &mut Working, steps: Vec<Step>) {
    for step in steps.into_iter().rev() {
        match step {
            Step::Placed(r, h, s) => st.unplace(r, h, s),
            Step::Removed(v, h, s) => st.place(v, h, s),
        }
    }
}

/// How concentrated the free room is: per host, the square of its least free share over the
/// measured resources, summed (room spread thin over many hosts takes no large request).
fn potential(st: &Working) -> f64 {
    let d = st.d;
    d.hosts
        .iter()
        .zip(&st.load.host_free)
        .map(|(h, free)| {
            let least = (0..d.axes.len())
                .map(|k| free[k] / h.capacity[k].max(NOISE))
                .fold(f64::INFINITY, f64::min);
            least * least
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::super::working::assert_valid;
    use super::*;
    use crate::domain::Settings;
    use std::time::Instant;

    /// Storage `s` (1,000 GiB) and `t` (`t_gib`); host `a` (8 CPU, 32 GiB) reaches `s` only, host
    /// `b` (4 CPU, 16 GiB) reaches `t` only; VM `v` (4 CPU, 8 GiB, 10 GiB image) runs on `a`
    /// with its image on `s`, and request `r` (8 CPU, 20 GiB) fits `a` alone; then `extra`.
    fn pool(t_gib: u32, v: &str, extra: &str) -> (Domain, Assignment) {
        build(t_gib, v, "", extra)
    }

    /// [`pool`] with `t` at 100 GiB and `r_fields` added to `r`.
    fn pool_with_r(r_fields: &str, extra: &str) -> (Domain, Assignment) {
        build(100, "", r_fields, extra)
    }

    fn build(t_gib: u32, v: &str, r: &str, extra: &str) -> (Domain, Assignment) {
        let text = format!(
            r#"{{"storage": [{{"id": "s", "capacity_gib": 1000}}, {{"id": "t", "capacity_gib": {t_gib}}}],
            "hosts": [
              {{"id": "a", "capacity": {{"cpu": 8, "memory_gib": 32}}, "storage": ["s"]}},
              {{"id": "b", "capacity": {{"cpu": 4, "memory_gib": 16}}, "storage": ["t"]}}],
            "requests": [
              {{"id": "v", "demand": {{"cpu": 4, "memory_gib": 8}}, "disk_gib": 10 {v}}},
              {{"id": "r", "demand": {{"cpu": 8, "memory_gib": 20}}, "disk_gib": 10 {r}}} {extra}]}}"#
        );
        let valid = crate::validation::read_problem(&text, crate::validation::Phase::Storage)
            .expect("the test pool is valid");
        let d = Domain::from_problem(&valid, Settings::default());
        let mut a = Assignment::empty(d.requests.len());
        a.host[RequestIx(0)] = Some(HostIx(0));
        a.storage[RequestIx(0)] = Some(StorageIx(0));
        (d, a)
    }

    fn run(d: &Domain, a: &mut Assignment) -> Recreated {
        let deadline = Budget::new(Instant::now(), 5.0, None);
        let mut stall = Stall::new(0.05);
        improve(d, a, (&deadline, &mut stall), 7, &|_| false)
    }

    #[test]
    fn a_vm_moves_with_its_image_to_make_room_for_a_request() {
        // Ejection cannot do this: `b` does not reach `s`, where `v`'s image is.
        let (d, mut a) = pool(100, "", "");
        let done = run(&d, &mut a);
        assert!(done.improved >= 1, "{done:?}");
        assert_eq!(a.host, vec![Some(HostIx(1)), Some(HostIx(0))]);
        assert_eq!(a.storage, vec![Some(StorageIx(1)), Some(StorageIx(0))]);
        assert_valid(&d, &a);
    }

    #[test]
    fn a_vm_moves_only_with_a_storage_system_that_has_room_for_its_image() {
        // `t` (5 GiB) cannot take `v`'s 10 GiB image: `v` stays, `r` waits.
        let (d, mut a) = pool(5, "", "");
        let before = a.clone();
        assert_eq!(run(&d, &mut a).improved, 0);
        assert_eq!(a, before);
    }

    #[test]
    fn a_pinned_image_never_moves() {
        let (d, mut a) = pool(100, r#", "storage": "s""#, "");
        let before = a.clone();
        assert_eq!(run(&d, &mut a).improved, 0);
        assert_eq!(a, before);
    }

    #[test]
    fn a_vm_never_joins_a_member_of_its_anti_affinity_group() {
        // `w`, of `v`'s group, runs on `b`: `v` cannot leave `a` for it.
        let extra = r#", {"id": "w", "demand": {"cpu": 1, "memory_gib": 1}, "disk_gib": 1,
                       "anti_affinity": "g"}"#;
        let (d, mut a) = pool(100, r#", "anti_affinity": "g""#, extra);
        a.host[RequestIx(2)] = Some(HostIx(1));
        a.storage[RequestIx(2)] = Some(StorageIx(1));
        let before = a.clone();
        run(&d, &mut a);
        assert_eq!(
            a.host[RequestIx(1)],
            None,
            "`r` only fits `a` once `v` has left it"
        );
        assert_ne!(a.host[RequestIx(0)], a.host[RequestIx(2)]);
        assert_eq!(evaluate::placed_weight(&d, &a, true), 2.0);
        assert_valid(&d, &a);
        assert_ne!(before.host[RequestIx(0)], before.host[RequestIx(2)]);
    }

    #[test]
    fn a_vm_gives_way_to_a_request_of_more_weight_never_less() {
        // `x` (2 CPU) runs on `b`, so `v` (4 CPU) fits nowhere but `a`, where `r` needs all.
        let x = r#", {"id": "x", "demand": {"cpu": 2, "memory_gib": 4}, "disk_gib": 10}"#;
        for (r_priority, r_placed) in [(5.0, true), (1.0, false)] {
            let text = format!(r#", "priority": {r_priority}"#);
            let (d, mut a) = pool_with_r(&text, x);
            a.host[RequestIx(2)] = Some(HostIx(1));
            a.storage[RequestIx(2)] = Some(StorageIx(1));
            let before = evaluate::host_score(&d, &a);
            run(&d, &mut a);
            let after = evaluate::host_score(&d, &a);
            assert!(after.0 >= before.0, "{after:?} < {before:?}");
            assert_eq!(
                a.host[RequestIx(1)].is_some(),
                r_placed,
                "priority {r_priority}"
            );
            assert_eq!(
                a.host[RequestIx(0)].is_some(),
                !r_placed,
                "priority {r_priority}"
            );
            assert_valid(&d, &a);
        }
    }

    #[test]
    fn free_room_on_one_host_counts_more_than_the_same_room_spread() {
        let x = r#", {"id": "x", "demand": {"cpu": 2, "memory_gib": 4}, "disk_gib": 10}"#;
        let (d, mut a) = pool(100, "", x);
        // `v` on `a`, `x` on `b`: each host half free.
        a.host[RequestIx(2)] = Some(HostIx(1));
        a.storage[RequestIx(2)] = Some(StorageIx(1));
        let spread = potential(&Working::new(&d, &mut a.clone()));
        // Both on `a`: `b` all free.
        a.host[RequestIx(2)] = Some(HostIx(0));
        a.storage[RequestIx(2)] = Some(StorageIx(0));
        let together = potential(&Working::new(&d, &mut a));
        assert!(together > spread, "{together} <= {spread}");
    }
}

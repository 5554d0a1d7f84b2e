//! After the phases: unplaced requests placed by moving some of the batch's VMs out of their way
//! (models/joint.md, "Ejection"). A request that fits no host may fit one once a few of the
//! batch's VMs there move to other hosts with room, each on a host connected to the storage
//! system its image is already on. The request then takes the freed host, with a storage system
//! connected to it that has room for its image. When nothing can move out of the way, one large VM
//! of the batch may give way to smaller requests of more weight in all (`swap_in`). Every move
//! keeps every rule, and the answer only ever gains placed weight.
//!
//! One try costs microseconds where a neighbourhood MIP costs a second, so every unplaced request
//! is tried in each pass. On pools where free CPU and free memory are far from proportional, the
//! requests left over are those that need both on one host, and the room is spread over many
//! hosts in pieces: a neighbourhood of a few hosts seldom holds both a host to free and the hosts
//! that would take what leaves it.

use super::neighbourhood::storage_options;
use super::working::Working;
use crate::budget::Budget;
use crate::domain::{bits, Assignment, Domain, HostIx, IxVec, RequestIx, StorageIx, EPS, NOISE};

/// Hosts tried per unplaced request, those that lack the least first.
const HOSTS_TRIED: usize = 24;
/// VMs tried per host as the one a swap gives up (`swap_in`), the largest first.
const SWAPS_TRIED: usize = 3;

/// What the stage did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ejections {
    /// Requests placed.
    pub placed: usize,
    /// VMs of the batch moved to make room for them.
    pub moved: usize,
    /// VMs of the batch given up for requests of more weight in all (`swap_in`).
    pub dropped: usize,
}

impl Ejections {
    /// Both runs' counts.
    pub(crate) fn plus(self, other: Ejections) -> Ejections {
        Ejections {
            placed: self.placed + other.placed,
            moved: self.moved + other.moved,
            dropped: self.dropped + other.dropped,
        }
    }
}

/// Places what it can of `best`'s unplaced requests (those outside `groups[]` rules) until a
/// pass places nothing or the deadline; `best` must be a complete answer with hosts.
pub(crate) fn improve(d: &Domain, best: &mut Assignment, deadline: &Budget) -> Ejections {
    let mut st = Working::new(d, best);
    let mut done = Ejections::default();
    loop {
        let before = done;
        let waiting = st.waiting();
        for &r in &waiting {
            if deadline.passed() {
                return done;
            }
            if st.a.host[r].is_some() {
                continue;
            }
            if let Some(moved) = st.insert(r) {
                done.placed += 1;
                done.moved += moved;
            } else if let Some(swap) = st.swap_in(r, &waiting) {
                done.placed += swap.placed;
                done.moved += swap.moved;
                done.dropped += swap.dropped;
            }
        }
        if done == before {
            return done;
        }
    }
}

/// Places what fits without moving anything of `a`'s unplaced requests (outside `groups[]`
/// rules) on `hosts`: after a neighbourhood re-packed them, they may have room for requests the
/// neighbourhood did not include. Returns the requests placed.
pub(crate) fn fill(d: &Domain, a: &mut Assignment, hosts: &[HostIx]) -> usize {
    let mut st = Working::new(d, a);
    let mut placed = 0;
    for r in st.waiting() {
        let spot = hosts
            .iter()
            .find_map(|&h| st.storage_on(r, h).map(|s| (h, s)));
        if let Some((h, s)) = spot {
            st.place(r, h, s);
            placed += 1;
        }
    }
    placed
}

impl Working<'_> {
    /// Places `r`, on a host with room or on one freed by moving VMs away; returns the VMs moved.
    fn insert(&mut self, r: RequestIx) -> Option<usize> {
        for (_, h, s) in self.hosts_for(r) {
            if let Some(moved) = self.free_host(r, h) {
                self.place(r, h, s);
                self.no_room.clear();
                return Some(moved);
            }
        }
        None
    }

    /// Places `r` on a host in place of one VM `v` of the batch there, and then what fits of the
    /// other waiting requests (smallest first) in what `v` leaves, or `v` on another host: kept
    /// only when the weight placed grows (one large VM out, two smaller in). `v`, the largest that
    /// makes room, is tried first on each host, then the next two.
    fn swap_in(&mut self, r: RequestIx, waiting: &[RequestIx]) -> Option<Ejections> {
        for (_, h, s) in self.hosts_for(r) {
            let lack = self.lack(r, h);
            let mut out: Vec<RequestIx> = self.on_host[h]
                .iter()
                .copied()
                .filter(|&v| covers(&self.d.requests[v].demand, &lack))
                .collect();
            out.sort_by(|&x, &y| self.size(y).total_cmp(&self.size(x)).then(x.cmp(&y)));
            for v in out.into_iter().take(SWAPS_TRIED) {
                if let Some(done) = self.try_swap(r, (h, s), v, waiting) {
                    self.no_room.clear();
                    return Some(done);
                }
            }
        }
        None
    }

    /// [`Self::swap_in`] with `v` out of host `h` and `r` in on storage `s`: commits when the
    /// weight placed grows, else undoes every step.
    fn try_swap(
        &mut self,
        r: RequestIx,
        (h, s): (HostIx, StorageIx),
        v: RequestIx,
        waiting: &[RequestIx],
    ) -> Option<Ejections> {
        let d = self.d;
        let v_storage = self.a.storage[v]?;
        self.unplace(v, h, v_storage);
        if !self.load.host_accepts(d, r, h) {
            self.place(v, h, v_storage);
            return None;
        }
        self.place(r, h, s);
        let mut gain = d.requests[r].priority - d.requests[v].priority;
        let mut extra: Vec<RequestIx> = Vec::new();
        for &x in waiting.iter().filter(|&&x| x != r && x != v) {
            if gain > NOISE || extra.len() >= SWAPS_TRIED * 8 {
                break;
            }
            if self.a.host[x].is_none() {
                if let Some(sx) = self.storage_on(x, h) {
                    self.place(x, h, sx);
                    extra.push(x);
                    gain += d.requests[x].priority;
                }
            }
        }
        let mut moved = 0;
        if gain <= NOISE {
            if let Some(to) = self.target(v, h) {
                self.place(v, to, v_storage);
                gain += d.requests[v].priority;
                moved = 1;
            }
        }
        if gain > NOISE {
            return Some(Ejections {
                placed: 1 + extra.len(),
                moved,
                dropped: 1 - moved,
            });
        }
        for x in extra.into_iter().rev() {
            let sx = self.a.storage[x].expect("placed above with a storage system");
            self.unplace(x, h, sx);
        }
        self.unplace(r, h, s);
        self.place(v, h, v_storage);
        None
    }

    /// Hosts `r` could use with some storage system that has room for its image, with the one
    /// storage system (the most free) it would take there: the `HOSTS_TRIED` that lack the least,
    /// and only those where moving the batch's VMs away would make room.
    fn hosts_for(&self, r: RequestIx) -> Vec<(f64, HostIx, StorageIx)> {
        let (d, vm) = (self.d, &self.d.requests[r]);
        let mut best: IxVec<HostIx, Option<StorageIx>> = IxVec::filled(None, d.hosts.len());
        for s in storage_options(d, r) {
            if self.load.storage_free[s] + EPS < vm.disk {
                continue;
            }
            for &h in &d.storage[s].hosts {
                let more =
                    best[h].is_none_or(|b| self.load.storage_free[s] > self.load.storage_free[b]);
                if more {
                    best[h] = Some(s);
                }
            }
        }
        let mut hosts: Vec<(f64, HostIx, StorageIx)> = best
            .iter()
            .enumerate()
            .filter_map(|(h, s)| s.map(|s| (HostIx(h), s)))
            .filter(|&(h, _)| self.could_free(r, h))
            .map(|(h, s)| (self.shortfall(r, h), h, s))
            .collect();
        hosts.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
        hosts.truncate(HOSTS_TRIED);
        hosts
    }

    /// Whether `h` would take `r` once every movable VM of the batch left it.
    fn could_free(&self, r: RequestIx, h: HostIx) -> bool {
        let (d, vm) = (self.d, &self.d.requests[r]);
        let group_clear = vm
            .group
            .is_none_or(|g| !self.load.host_groups[h].contains(&g));
        group_clear
            && (0..vm.demand.len()).all(|k| {
                let movable: f64 = self.on_host[h]
                    .iter()
                    .map(|v| d.requests[v].demand[k])
                    .sum();
                vm.demand[k] <= self.load.host_free[h][k] + movable + crate::domain::EPS
            })
    }

    /// What `h` lacks for `r`, in shares of its capacity (0 when it has room).
    fn shortfall(&self, r: RequestIx, h: HostIx) -> f64 {
        let (vm, host) = (&self.d.requests[r], &self.d.hosts[h]);
        (0..vm.demand.len())
            .map(|k| {
                (vm.demand[k] - self.load.host_free[h][k]).max(0.0) / host.capacity[k].max(NOISE)
            })
            .sum()
    }

    /// Makes room for `r` on `h` by moving VMs of the batch to other hosts: one VM whose move is
    /// enough, the smallest first; else VMs in decreasing share of what `h` lacks. Returns the
    /// VMs moved, or None with every tentative move undone.
    fn free_host(&mut self, r: RequestIx, h: HostIx) -> Option<usize> {
        if self.load.host_accepts(self.d, r, h) {
            return Some(0);
        }
        let lack = self.lack(r, h);
        let mut single: Vec<RequestIx> = self.on_host[h]
            .iter()
            .copied()
            .filter(|&v| covers(&self.d.requests[v].demand, &lack))
            .collect();
        single.sort_by(|&x, &y| self.size(x).total_cmp(&self.size(y)).then(x.cmp(&y)));
        for v in single {
            if let Some(to) = self.target(v, h) {
                self.move_vm(v, h, to);
                if self.load.host_accepts(self.d, r, h) {
                    return Some(1);
                }
                self.move_vm(v, to, h);
            }
        }
        self.free_by_several(r, h)
    }

    /// [`Self::free_host`]'s second try: VMs in decreasing share of what `h` lacks, each moved
    /// if some host takes it, until `r` fits.
    fn free_by_several(&mut self, r: RequestIx, h: HostIx) -> Option<usize> {
        let lack = self.lack(r, h);
        let share = |v: RequestIx| -> f64 {
            let demand = &self.d.requests[v].demand;
            lack.iter()
                .enumerate()
                .map(|(k, &l)| demand[k].min(l) / self.d.hosts[h].capacity[k].max(NOISE))
                .sum()
        };
        let mut order: Vec<(f64, RequestIx)> = self.on_host[h]
            .iter()
            .map(|&v| (share(v), v))
            .filter(|&(s, _)| s > 0.0)
            .collect();
        order.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)));
        let mut moves: Vec<(RequestIx, HostIx)> = Vec::new();
        for (_, v) in order {
            if let Some(to) = self.target(v, h) {
                self.move_vm(v, h, to);
                moves.push((v, to));
                if self.load.host_accepts(self.d, r, h) {
                    return Some(moves.len());
                }
            }
        }
        for (v, to) in moves.into_iter().rev() {
            self.move_vm(v, to, h);
        }
        None
    }

    /// Per resource, what `h` lacks for `r` (0 where it has enough).
    fn lack(&self, r: RequestIx, h: HostIx) -> Vec<f64> {
        let vm = &self.d.requests[r];
        (0..vm.demand.len())
            .map(|k| (vm.demand[k] - self.load.host_free[h][k]).max(0.0))
            .collect()
    }

    /// Another host than `from` for VM `v`, connected to its image's storage system: one that
    /// runs something already before one that would be switched on, then the best fit.
    fn target(&mut self, v: RequestIx, from: HostIx) -> Option<HostIx> {
        let (d, vm) = (self.d, &self.d.requests[v]);
        let s = self.a.storage[v]?;
        let shape = (bits(&vm.demand), vm.group, s);
        if self.no_room.contains(&shape) {
            return None;
        }
        let leftover = |h: HostIx| -> f64 {
            (0..d.axes.len())
                .map(|k| {
                    (self.load.host_free[h][k] - vm.demand[k]) / d.hosts[h].capacity[k].max(NOISE)
                })
                .sum()
        };
        let best = d.storage[s]
            .hosts
            .iter()
            .copied()
            .filter(|&h| h != from && self.load.host_accepts(d, v, h))
            .map(|h| (!self.active(h), leftover(h), h))
            .min_by(|x, y| x.0.cmp(&y.0).then(x.1.total_cmp(&y.1)).then(x.2.cmp(&y.2)))
            .map(|(_, _, h)| h);
        if best.is_none() {
            self.no_room.insert(shape);
        }
        best
    }
}

/// Whether `demand` is at least `lack` in every resource.
fn covers(demand: &[f64], lack: &[f64]) -> bool {
    demand.iter().zip(lack).all(|(x, l)| x + NOISE >= *l)
}

#[cfg(test)]
mod tests {
    use super::super::working::assert_valid;
    use super::*;
    use crate::domain::Settings;
    use std::time::Instant;

    /// Storage `s` (1,000 GiB) and `t` (100 GiB); host `a` (8 CPU, 32 GiB) reaches both, host
    /// `b` (`b_cpu` CPU, 16 GiB) reaches `b_storage`; VM `v` (4 CPU, 8 GiB) and request `r`
    /// (8 CPU, 20 GiB: only `a` can take it), then `extra` requests.
    fn pool(b_cpu: u32, b_storage: &str, v: &str, r_disk: u32, extra: &str) -> Domain {
        let text = format!(
            r#"{{"storage": [{{"id": "s", "capacity_gib": 1000}}, {{"id": "t", "capacity_gib": 100}}],
            "hosts": [
              {{"id": "a", "capacity": {{"cpu": 8, "memory_gib": 32}}, "storage": ["s", "t"]}},
              {{"id": "b", "capacity": {{"cpu": {b_cpu}, "memory_gib": 16}}, "storage": ["{b_storage}"]}}],
            "requests": [
              {{"id": "v", "demand": {{"cpu": 4, "memory_gib": 8}}, "disk_gib": 10 {v}}},
              {{"id": "r", "demand": {{"cpu": 8, "memory_gib": 20}}, "disk_gib": {r_disk}}} {extra}]}}"#
        );
        let valid = crate::validation::read_problem(&text, crate::validation::Phase::Storage)
            .expect("the test pool is valid");
        Domain::from_problem(&valid, Settings::default())
    }

    /// `v` on host `a` with its image on `s`; the rest unplaced.
    fn v_on_a(d: &Domain) -> Assignment {
        let mut a = Assignment::empty(d.requests.len());
        a.host[RequestIx(0)] = Some(HostIx(0));
        a.storage[RequestIx(0)] = Some(StorageIx(0));
        a
    }

    fn run(d: &Domain, a: &mut Assignment) -> Ejections {
        let deadline = Budget::new(Instant::now(), 5.0, None);
        improve(d, a, &deadline)
    }

    #[test]
    fn a_request_takes_the_host_a_vm_left_for_a_host_with_room() {
        let d = pool(4, "s", "", 10, "");
        let mut a = v_on_a(&d);
        assert_eq!(
            run(&d, &mut a),
            Ejections {
                placed: 1,
                moved: 1,
                dropped: 0
            }
        );
        assert_eq!(a.host, vec![Some(HostIx(1)), Some(HostIx(0))]);
        assert_eq!(
            a.storage[RequestIx(0)],
            Some(StorageIx(0)),
            "the moved VM keeps its image"
        );
        assert_valid(&d, &a);
    }

    #[test]
    fn a_vm_moves_only_to_a_host_connected_to_its_image() {
        // `b` reaches only `t`, and `v`'s image is on `s`.
        let d = pool(4, "t", "", 10, "");
        let mut a = v_on_a(&d);
        assert_eq!(run(&d, &mut a), Ejections::default());
        assert_eq!(a, v_on_a(&d));
    }

    #[test]
    fn a_vm_moves_only_to_a_host_with_room_for_it() {
        let d = pool(3, "s", "", 10, "");
        let mut a = v_on_a(&d);
        assert_eq!(run(&d, &mut a), Ejections::default());
        assert_eq!(a, v_on_a(&d));
    }

    #[test]
    fn a_vm_never_joins_a_member_of_its_anti_affinity_group() {
        // `w`, of `v`'s group, runs on `b` (8 CPU, so `v` would fit there beside it).
        let extra = r#", {"id": "w", "demand": {"cpu": 1, "memory_gib": 1}, "disk_gib": 1,
                       "anti_affinity": "g"}"#;
        let d = pool(8, "s", r#", "anti_affinity": "g""#, 10, extra);
        let mut a = v_on_a(&d);
        a.host[RequestIx(2)] = Some(HostIx(1));
        a.storage[RequestIx(2)] = Some(StorageIx(0));
        let before = a.clone();
        assert_eq!(run(&d, &mut a), Ejections::default());
        assert_eq!(a, before);
    }

    #[test]
    fn a_request_needs_a_storage_system_with_room_for_its_image() {
        // 1,500 GiB fits neither `s` (1,000) nor `t` (100).
        let d = pool(4, "s", "", 1500, "");
        let mut a = v_on_a(&d);
        assert_eq!(run(&d, &mut a), Ejections::default());
        // 600 GiB fits `s` only: `r` takes it.
        let d = pool(4, "s", "", 600, "");
        let mut a = v_on_a(&d);
        assert_eq!(run(&d, &mut a).placed, 1);
        assert_eq!(a.storage[RequestIx(1)], Some(StorageIx(0)));
        assert_valid(&d, &a);
    }

    #[test]
    fn several_vms_leave_when_one_is_not_enough() {
        // `v` (4 CPU) and `u` (4 CPU) on `a`; `b` (8 CPU) takes both; `r` needs all of `a`.
        let extra = r#", {"id": "u", "demand": {"cpu": 4, "memory_gib": 8}, "disk_gib": 10}"#;
        let d = pool(8, "s", "", 10, extra);
        let mut a = v_on_a(&d);
        a.host[RequestIx(2)] = Some(HostIx(0));
        a.storage[RequestIx(2)] = Some(StorageIx(0));
        assert_eq!(
            run(&d, &mut a),
            Ejections {
                placed: 1,
                moved: 2,
                dropped: 0
            }
        );
        assert_eq!(
            a.host,
            vec![Some(HostIx(1)), Some(HostIx(0)), Some(HostIx(1))]
        );
        assert_valid(&d, &a);
    }

    #[test]
    fn moves_that_do_not_make_room_are_undone() {
        // `b` (4 CPU) takes `v` but not `u` too: `a` cannot be emptied, and nothing moves.
        let extra = r#", {"id": "u", "demand": {"cpu": 4, "memory_gib": 8}, "disk_gib": 10}"#;
        let d = pool(4, "s", "", 10, extra);
        let mut a = v_on_a(&d);
        a.host[RequestIx(2)] = Some(HostIx(0));
        a.storage[RequestIx(2)] = Some(StorageIx(0));
        let before = a.clone();
        assert_eq!(run(&d, &mut a), Ejections::default());
        assert_eq!(a, before);
    }

    #[test]
    fn fill_places_on_the_given_hosts_only_what_fits_there() {
        // `r` (8 CPU, 20 GiB) fits `a` once empty; `v` fits `b`.
        let d = pool(4, "s", "", 10, "");
        let mut a = Assignment::empty(d.requests.len());
        assert_eq!(fill(&d, &mut a, &[HostIx(1)]), 1);
        assert_eq!(a.host, vec![Some(HostIx(1)), None]);
        assert_eq!(fill(&d, &mut a, &[HostIx(0)]), 1);
        assert_eq!(a.host, vec![Some(HostIx(1)), Some(HostIx(0))]);
        assert_valid(&d, &a);
    }

    #[test]
    fn a_large_vm_gives_way_to_two_smaller_requests() {
        // `v` (4 CPU, 8 GiB) fills `b` (4 CPU, 16 GiB); `x` and `y` (2 CPU, 4 GiB each) fit `b`
        // only once `v` leaves, and `v` fits nowhere else: `a` runs `z`, whose priority 5 outweighs
        // any swap.
        let extra = r#", {"id": "x", "demand": {"cpu": 2, "memory_gib": 4}, "disk_gib": 10},
                       {"id": "y", "demand": {"cpu": 2, "memory_gib": 4}, "disk_gib": 10},
                       {"id": "z", "demand": {"cpu": 8, "memory_gib": 32}, "disk_gib": 10,
                        "priority": 5}"#;
        let d = pool(4, "s", "", 10, extra);
        let mut a = Assignment::empty(d.requests.len());
        for (r, h) in [(0, 1), (4, 0)] {
            a.host[RequestIx(r)] = Some(HostIx(h));
            a.storage[RequestIx(r)] = Some(StorageIx(0));
        }
        let done = run(&d, &mut a);
        assert_eq!(
            done,
            Ejections {
                placed: 2,
                moved: 0,
                dropped: 1
            }
        );
        assert_eq!(a.host[RequestIx(0)], None, "v gave way");
        assert_eq!(
            (a.host[RequestIx(2)], a.host[RequestIx(3)]),
            (Some(HostIx(1)), Some(HostIx(1)))
        );
        assert_valid(&d, &a);
    }

    #[test]
    fn a_vm_of_more_weight_never_gives_way() {
        // As above, but `v` has priority 3: the two smaller requests weigh 2.
        let extra = r#", {"id": "x", "demand": {"cpu": 2, "memory_gib": 4}, "disk_gib": 10},
                       {"id": "y", "demand": {"cpu": 2, "memory_gib": 4}, "disk_gib": 10},
                       {"id": "z", "demand": {"cpu": 8, "memory_gib": 32}, "disk_gib": 10,
                        "priority": 5}"#;
        let d = pool(4, "s", r#", "priority": 3"#, 10, extra);
        let mut a = Assignment::empty(d.requests.len());
        for (r, h) in [(0, 1), (4, 0)] {
            a.host[RequestIx(r)] = Some(HostIx(h));
            a.storage[RequestIx(r)] = Some(StorageIx(0));
        }
        let before = a.clone();
        assert_eq!(run(&d, &mut a), Ejections::default());
        assert_eq!(a, before);
    }
}

//! The answer a stage improves, with its load kept up to date: the moves the after-phase stages
//! share ([`super::ejection`], [`super::ruin`]). Every move keeps capacity, anti-affinity and
//! storage connectivity; members of `groups[]` rules are never moved.

use super::neighbourhood::{may_use, movable};
use crate::domain::{
    evaluate, Assignment, Domain, HostIx, IxVec, Load, RequestIx, StorageIx, EPS, NOISE,
};
use std::collections::HashSet;

/// A VM's shape for the relocation cache: its demand, its `anti_affinity` group and its storage.
pub(super) type Shape = (Vec<u64>, Option<usize>, StorageIx);

/// The answer being improved and its load.
pub(super) struct Working<'a> {
    pub(super) d: &'a Domain,
    pub(super) a: &'a mut Assignment,
    pub(super) load: Load,
    /// Per host, the batch's VMs on it that may move (outside `groups[]` rules).
    pub(super) on_host: IxVec<HostIx, Vec<RequestIx>>,
    /// Shapes no host could take since the last placement (a placement may free room).
    pub(super) no_room: HashSet<Shape>,
    /// Per measured resource, the largest host's capacity (the unit of a request's size).
    pub(super) scale: Vec<f64>,
}

impl<'a> Working<'a> {
    pub(super) fn new(d: &'a Domain, a: &'a mut Assignment) -> Self {
        let load = evaluate::final_load(d, a);
        let mut on_host = IxVec::filled(Vec::new(), d.hosts.len());
        for (i, h) in a.host.enumerate() {
            if let Some(h) = h.filter(|_| movable(d, i) && a.storage[i].is_some()) {
                on_host[h].push(i);
            }
        }
        let scale = (0..d.axes.len())
            .map(|k| d.hosts.iter().map(|h| h.capacity[k]).fold(NOISE, f64::max))
            .collect();
        Working {
            d,
            a,
            load,
            on_host,
            no_room: HashSet::new(),
            scale,
        }
    }

    /// The unplaced requests outside `groups[]` rules: highest priority first, then the
    /// smallest (each placed request counts its priority, whatever its size).
    pub(super) fn waiting(&self) -> Vec<RequestIx> {
        let d = self.d;
        super::greedy::increasing_order(d, |r| self.a.host[r].is_none() && movable(d, r))
    }

    /// A storage system connected to `h` that request `x` may use and that has room for its
    /// image (the most free), when `h` also takes `x`.
    pub(super) fn storage_on(&self, x: RequestIx, h: HostIx) -> Option<StorageIx> {
        let (d, vm) = (self.d, &self.d.requests[x]);
        if !self.load.host_accepts(d, x, h) {
            return None;
        }
        d.hosts[h]
            .storage
            .iter()
            .copied()
            .filter(|&s| may_use(d, x, s))
            .filter(|s| self.load.storage_free[s] + EPS >= vm.disk)
            .max_by(|p, q| {
                let (fp, fq) = (self.load.storage_free[p], self.load.storage_free[q]);
                fp.total_cmp(&fq).then(p.cmp(q))
            })
    }

    /// A request's demand in shares of the largest host's capacity, summed.
    pub(super) fn size(&self, r: RequestIx) -> f64 {
        let vm = &self.d.requests[r];
        self.scale
            .iter()
            .enumerate()
            .map(|(k, c)| vm.demand[k] / c)
            .sum()
    }

    /// Whether `h` runs something: before the batch, or a VM of it.
    pub(super) fn active(&self, h: HostIx) -> bool {
        let host = &self.d.hosts[h];
        host.initially_active() || host.took_some(&self.load.host_free[h])
    }

    /// Moves VM `v` (outside `groups[]` rules) from host `from` to host `to`.
    pub(super) fn move_vm(&mut self, v: RequestIx, from: HostIx, to: HostIx) {
        self.release(v, from);
        self.load.take_host(self.d, v, to);
        self.on_host[to].push(v);
        self.a.host[v] = Some(to);
    }

    /// Gives back on host `h` what VM `v` (outside `groups[]` rules) takes there.
    pub(super) fn release(&mut self, v: RequestIx, h: HostIx) {
        let vm = &self.d.requests[v];
        for (f, x) in self.load.host_free[h].iter_mut().zip(&vm.demand) {
            *f += x;
        }
        if let Some(g) = vm.group {
            let groups = &mut self.load.host_groups[h];
            if let Some(k) = groups.iter().position(|&x| x == g) {
                groups.swap_remove(k);
            }
        }
        self.on_host[h].retain(|&x| x != v);
    }

    /// Takes VM `v` (outside `groups[]` rules) off host `h` and its image off storage system `s`:
    /// it waits again, with only a pinned storage system.
    pub(super) fn unplace(&mut self, v: RequestIx, h: HostIx, s: StorageIx) {
        self.release(v, h);
        self.load.storage_free[s] += self.d.requests[v].disk;
        self.a.host[v] = None;
        self.a.storage[v] = self.d.requests[v].storage;
    }

    /// Places `r` on host `h` with its image on storage system `s`.
    pub(super) fn place(&mut self, r: RequestIx, h: HostIx, s: StorageIx) {
        self.load.take_storage(self.d, r, s);
        self.load.take_host(self.d, r, h);
        self.on_host[h].push(r);
        self.a.storage[r] = Some(s);
        self.a.host[r] = Some(h);
    }
}

/// Capacities hold and every VM's host reaches its image's storage system (the tests of the
/// stages that move VMs).
#[cfg(test)]
pub(super) fn assert_valid(d: &Domain, a: &Assignment) {
    let load = evaluate::final_load(d, a);
    assert!(load.storage_free.iter().all(|&f| f >= -1e-6));
    assert!(load.host_free.iter().flatten().all(|&f| f >= -1e-6));
    for (i, h) in a.host.enumerate() {
        if let Some(h) = h {
            assert!(d.hosts[h].storage.contains(&a.storage[i].unwrap()));
        }
    }
}

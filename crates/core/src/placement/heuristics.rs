//! The heuristics schedulers run today, with retries: vmplace's floor and warm start.
//!
//! Each takes the requests in input order. For each request it tries the storage systems with
//! room for its image, in the order of a storage weigher, and the first one with a connected host
//! that accepts the VM (room in every dimension, anti-affinity, hard group rules) takes it; the
//! host is chosen there by a host weigher. Hosts that also keep the request's soft group rules are
//! preferred, as in [`super::greedy::choose_host`].
//!
//! * Storage weighers: [`StorageWeigher::FreeSpace`] (Cinder's CapacityWeigher, the OpenStack
//!   default) and [`StorageWeigher::HostRam`] (the most free memory on the connected hosts).
//! * Host weighers: [`HostWeigher::Ram`] (Nova's RAMWeigher, the OpenStack default),
//!   [`HostWeigher::BestFit`] (the least capacity left, summed over the measured resources as
//!   shares of the host) and [`HostWeigher::Balanced`] (the largest smallest share left over the
//!   resources the request uses).
//!
//! Nothing here is tuned: ties go to the lower index, and the weighers are the published ones.

use crate::domain::evaluate::final_load;
use crate::domain::{Assignment, Domain, HostIx, IxVec, Load, RequestIx, StorageIx, EPS};
use vmplace_wire::PhaseSolver;

/// How a scheduler orders the storage systems it tries for an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageWeigher {
    /// Most free GiB first (Cinder's CapacityWeigher).
    FreeSpace,
    /// Most free memory on the connected hosts first.
    HostRam,
}

/// How a scheduler chooses a host among those that accept a VM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostWeigher {
    /// Most free memory (Nova's RAMWeigher).
    Ram,
    /// Least capacity left after the VM, summed over measured resources as shares of the host.
    BestFit,
    /// Largest smallest share left after the VM, over the resources the VM uses.
    Balanced,
}

/// The order in which a heuristic takes the requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// As they come (what schedulers do).
    Input,
    /// Priority, then decreasing size ([`super::greedy::decreasing_order`]): vmplace's own warm
    /// starts, as first-fit decreasing is to first fit.
    Decreasing,
    /// Priority, then increasing size ([`super::greedy::increasing_order`]): vmplace's own warm
    /// starts for pools short of some resource, where the most VMs are the smallest.
    Increasing,
}

/// One heuristic: a storage weigher and a host weigher, with retries over storage systems.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heuristic {
    /// Order of the storage systems tried.
    pub storage: StorageWeigher,
    /// Host choice on a storage system.
    pub host: HostWeigher,
    /// Order of the requests.
    pub order: Order,
}

impl Heuristic {
    /// Cinder's capacity weigher and Nova's RAM weigher: what OpenStack runs by default.
    pub const OPENSTACK: Heuristic = Heuristic {
        storage: StorageWeigher::FreeSpace,
        host: HostWeigher::Ram,
        order: Order::Input,
    };
    /// Storage by free space, host by best fit.
    pub const BEST_FIT: Heuristic = Heuristic {
        storage: StorageWeigher::FreeSpace,
        host: HostWeigher::BestFit,
        order: Order::Input,
    };
    /// Storage by free space, host by balanced fit.
    pub const BALANCED: Heuristic = Heuristic {
        storage: StorageWeigher::FreeSpace,
        host: HostWeigher::Balanced,
        order: Order::Input,
    };

    /// Every combination of the weighers: the baselines vmplace never answers below.
    /// The OpenStack default first: the baselines run in this order within their share of the
    /// time.
    pub const ALL: [Heuristic; 6] = [
        Heuristic::OPENSTACK,
        Heuristic::BEST_FIT,
        Heuristic::BALANCED,
        Heuristic {
            storage: StorageWeigher::HostRam,
            host: HostWeigher::Ram,
            order: Order::Input,
        },
        Heuristic {
            storage: StorageWeigher::HostRam,
            host: HostWeigher::BestFit,
            order: Order::Input,
        },
        Heuristic {
            storage: StorageWeigher::HostRam,
            host: HostWeigher::Balanced,
            order: Order::Input,
        },
    ];

    /// The same weighers with the requests in decreasing size: vmplace's own warm starts.
    pub fn decreasing(self) -> Heuristic {
        Heuristic {
            order: Order::Decreasing,
            ..self
        }
    }

    /// The same weighers with the requests in increasing size: vmplace's own warm starts.
    pub fn increasing(self) -> Heuristic {
        Heuristic {
            order: Order::Increasing,
            ..self
        }
    }

    /// The solver name an answer of this heuristic carries in `stats.phases[].solver`.
    pub fn solver(self) -> PhaseSolver {
        match self.order {
            Order::Decreasing => return PhaseSolver::Decreasing,
            Order::Increasing => return PhaseSolver::Increasing,
            Order::Input => {}
        }
        match (self.storage, self.host) {
            (StorageWeigher::FreeSpace, HostWeigher::Ram) => PhaseSolver::Openstack,
            (StorageWeigher::FreeSpace, HostWeigher::BestFit) => PhaseSolver::BestFit,
            (StorageWeigher::FreeSpace, HostWeigher::Balanced) => PhaseSolver::Balanced,
            (StorageWeigher::HostRam, HostWeigher::Ram) => PhaseSolver::OpenstackHostRam,
            (StorageWeigher::HostRam, HostWeigher::BestFit) => PhaseSolver::BestFitHostRam,
            (StorageWeigher::HostRam, HostWeigher::Balanced) => PhaseSolver::BalancedHostRam,
        }
    }
}

/// Index of the memory-like resource ([`Role::Memory`]).
pub(crate) fn ram_dimension(d: &Domain) -> Option<usize> {
    d.axes.mem
}

/// Free memory of a host (every measured resource summed when the pool has no memory).
fn ram(d: &Domain, load: &Load, h: HostIx, dim: Option<usize>) -> f64 {
    match dim {
        Some(k) => load.host_free[h][k],
        None => load.host_free[h][..d.axes.len()].iter().sum(),
    }
}

/// The host weigher's score of putting `r` on `h` (higher is better); `dim` is the memory-like
/// resource ([`ram_dimension`]).
fn host_score(
    d: &Domain,
    load: &Load,
    (r, h): (RequestIx, HostIx),
    w: HostWeigher,
    dim: Option<usize>,
) -> f64 {
    let demand = &d.requests[r].demand;
    let cap = &d.hosts[h].capacity;
    let free = &load.host_free[h];
    let left = |k: usize| (free[k] - demand[k]) / cap[k].max(EPS);
    let measured = (0..d.axes.len()).filter(|&k| cap[k] > EPS);
    match w {
        HostWeigher::Ram => ram(d, load, h, dim),
        HostWeigher::BestFit => -measured.map(left).sum::<f64>(),
        HostWeigher::Balanced => measured
            .filter(|&k| demand[k] > EPS)
            .map(left)
            .fold(f64::INFINITY, f64::min),
    }
}

/// The host `w` chooses for `r` on storage `s`: among the hosts that also keep its soft group
/// rules if any does, else among all that accept it. Ties go to the lower index.
pub fn choose_host(
    d: &Domain,
    load: &Load,
    r: RequestIx,
    s: StorageIx,
    w: HostWeigher,
) -> Option<HostIx> {
    let dim = ram_dimension(d);
    let best = |keep_soft: bool| {
        d.storage[s]
            .hosts
            .iter()
            .copied()
            .filter(|&h| load.host_accepts(d, r, h))
            .filter(|&h| !keep_soft || load.host_keeps_soft_rules(d, r, h))
            .map(|h| (host_score(d, load, (r, h), w, dim), h))
            .fold(None, |best: Option<(f64, HostIx)>, (x, h)| match best {
                Some((b, _)) if b >= x => best,
                _ => Some((x, h)),
            })
            .map(|(_, h)| h)
    };
    let soft = d.requests[r].rules.iter().any(|&g| !d.group_rules[g].hard);
    soft.then(|| best(true)).flatten().or_else(|| best(false))
}

/// Free memory per storage system, summed over its connected hosts, kept up to date as VMs land.
struct StorageRam {
    dim: Option<usize>,
    sum: IxVec<StorageIx, f64>,
}

impl StorageRam {
    fn new(d: &Domain, load: &Load) -> Self {
        let dim = ram_dimension(d);
        let sum = d
            .storage
            .iter()
            .map(|s| s.hosts.iter().map(|&h| ram(d, load, h, dim)).sum())
            .collect();
        StorageRam { dim, sum }
    }

    /// Call before `load` books `r` on `h`.
    fn take(&mut self, d: &Domain, r: RequestIx, h: HostIx) {
        let demand = &d.requests[r].demand;
        let x = match self.dim {
            Some(k) => demand[k],
            None => demand[..d.axes.len()].iter().sum(),
        };
        for s in &d.hosts[h].storage {
            self.sum[s] -= x;
        }
    }
}

/// The storage systems `r` may try, best first by the storage weigher.
fn storage_order(
    d: &Domain,
    load: &Load,
    ram: &StorageRam,
    r: RequestIx,
    w: StorageWeigher,
) -> Vec<StorageIx> {
    let disk = d.requests[r].disk;
    let mut order: Vec<StorageIx> = d
        .storage
        .ids()
        .filter(|&s| load.storage_free[s] + EPS >= disk && d.storage_allows(r, s))
        .collect();
    let key = |s: StorageIx| match w {
        StorageWeigher::FreeSpace => load.storage_free[s],
        StorageWeigher::HostRam => ram.sum[s],
    };
    order.sort_by(|&a, &b| key(b).total_cmp(&key(a)).then(a.cmp(&b)));
    order
}

/// The heuristic's answer to the whole call (storage and host per request), on top of `fixed`
/// (requests with a storage given try that one only; requests with a host keep it). Stops
/// placing when `stop` says so.
pub fn place(d: &Domain, fixed: &Assignment, h: Heuristic, stop: &dyn Fn() -> bool) -> Assignment {
    let (mut load, mut out) = (final_load(d, fixed), fixed.clone());
    let mut ram = StorageRam::new(d, &load);
    let order: Vec<RequestIx> = match h.order {
        Order::Input => d.requests.ids().collect(),
        Order::Decreasing => super::greedy::decreasing_order(d, |_| true),
        Order::Increasing => super::greedy::increasing_order(d, |_| true),
    };
    for r in order {
        let i = r;
        if out.host[i].is_some() {
            continue;
        }
        if stop() {
            break;
        }
        let pinned = out.storage[i];
        let order = match pinned {
            Some(s) => vec![s],
            None => storage_order(d, &load, &ram, r, h.storage),
        };
        let found = order
            .into_iter()
            .find_map(|s| choose_host(d, &load, r, s, h.host).map(|host| (s, host)));
        if let Some((s, host)) = found {
            if pinned.is_none() {
                load.take_storage(d, r, s);
            }
            ram.take(d, r, host);
            load.take_host(d, r, host);
            out.storage[i] = Some(s);
            out.host[i] = Some(host);
        }
    }
    out
}

//! The migration domain: the pool of one round as dense vectors, built from a validated state
//! document by its one converter ([`Pool::from_state`]); tentative moves are applied in place.

use super::axes::Axes;
use super::groups::{Counts, GroupRule, Scopes};
use super::tolerance::TINY;
use crate::validation::Valid;
use std::collections::HashMap;
use vmplace_wire::state::{HostState, State};

pub use super::index::{HostIx, IxVec, VmIx};

/// History length kept per VM (CloudSim's `PowerVm.HISTORY_LENGTH`).
pub const HISTORY: usize = 30;

/// The pool during planning: dense vectors, tentative moves applied in place.
pub struct Pool {
    /// The resources of every vector, with the CPU role detectors look at.
    pub axes: Axes,
    /// Hosts, in the state's order.
    pub hosts: IxVec<HostIx, PoolHost>,
    /// VMs, in the state's order.
    pub vms: IxVec<VmIx, PoolVm>,
    /// VMs per host (kept in step with `PoolVm::host` by `move_vm`).
    on: IxVec<HostIx, Vec<VmIx>>,
    /// CPU utilisation of each host at the start of the round (capped at 1, as a monitor
    /// measures it).
    pub start_util: IxVec<HostIx, f64>,
    /// The rules of `groups[]` over the hosts (members counted from the VMs; spread compares the
    /// domains with an active host).
    pub rules: Vec<GroupRule>,
    /// Members of each rule.
    pub members: Vec<Vec<VmIx>>,
    /// Per resource: transient (`resources[].transient`, under `policy.reassign`): a VM that
    /// moves keeps its share on the host it started on for the whole round.
    pub transient: Vec<bool>,
}

/// `PoolVm::host` of a VM taken off its host while selection decides.
pub const PARKED: HostIx = HostIx(usize::MAX);

/// A host of the round.
pub struct PoolHost {
    /// Id.
    pub id: String,
    /// Capacity per resource.
    pub cap: Vec<f64>,
    /// Storage systems it reaches.
    pub storage: Vec<String>,
    /// Active, maintenance or off.
    pub state: HostState,
    /// Power at 0, 10, ..., 100 % CPU, W.
    pub watts: Vec<f64>,
    /// Migration bandwidth, Mbit/s.
    pub bw_mbps: f64,
    /// Its traits.
    pub traits: vmplace_wire::problem::Traits,
}

/// A VM of the round.
pub struct PoolVm {
    /// Id.
    pub id: String,
    /// Its host now (`PARKED` while selection decides).
    pub host: HostIx,
    /// Its storage system.
    pub storage: String,
    /// Demand per resource.
    pub demand: Vec<f64>,
    /// Current use per resource (demand x latest sample, or demand).
    pub now: Vec<f64>,
    /// CPU history as fractions of demand, oldest first, at most `HISTORY`.
    pub cpu_history: Vec<f64>,
    /// Samples of history the state had (handed over with the VM).
    pub samples: usize,
    /// Anti-affinity group.
    pub group: Option<String>,
    /// Indices into `Pool::rules`: the groups it belongs to.
    pub rules: Vec<usize>,
    /// Its host at the start of the round.
    pub origin: HostIx,
    /// Traits a host it moves to must have.
    pub required_traits: vmplace_wire::problem::Traits,
    /// Traits a host it moves to must not have.
    pub forbidden_traits: vmplace_wire::problem::Traits,
    /// Seconds since its last migration.
    pub moved_ago_s: Option<f64>,
}

impl Pool {
    /// Whether host `h` has every trait VM `v` requires and none it forbids.
    pub fn traits_allow(&self, v: VmIx, h: HostIx) -> bool {
        let vm = &self.vms[v];
        crate::resources::traits_met(
            &vm.required_traits,
            &vm.forbidden_traits,
            &self.hosts[h].traits,
        )
    }

    /// Builds the pool from a validated state: every VM's host and storage exist.
    pub fn from_state(state: &Valid<State>) -> Pool {
        let s: &State = state;
        let axes = Axes::of(
            s.hosts
                .iter()
                .map(|h| &h.capacity)
                .chain(s.vms.iter().map(|v| &v.demand)),
        );
        let hosts = pool_hosts(s, &axes);
        let vms = pool_vms(s, &axes);
        let mut on: IxVec<HostIx, Vec<VmIx>> = IxVec::filled(Vec::new(), s.hosts.len());
        for (v, vm) in vms.enumerate() {
            if let Some(list) = on.get_mut(vm.host) {
                list.push(v);
            }
        }
        let rules = group_rules(s);
        let mut members = vec![Vec::new(); rules.len()];
        for (v, vm) in vms.enumerate() {
            for &r in &vm.rules {
                members[r].push(v);
            }
        }
        let transient = axes
            .names()
            .iter()
            .map(|n| s.resources.iter().any(|r| &r.name == n && r.transient))
            .collect();
        let mut pool = Pool {
            transient,
            axes,
            hosts,
            vms,
            on,
            start_util: IxVec::new(),
            rules,
            members,
        };
        pool.start_util = pool.host_ids().map(|h| pool.cpu_util(h).min(1.0)).collect();
        pool
    }

    /// Members of rule `r` per domain where they run now (parked ones apart), `but` left out;
    /// sparse, so that it costs the rule's members, not its domains (issue 27, H2).
    pub fn rule_counts(&self, r: usize, but: Option<VmIx>) -> Counts {
        let rule = &self.rules[r];
        let mut counts = Counts::default();
        for &v in &self.members[r] {
            if Some(v) == but {
                continue;
            }
            if let Some(Some(dm)) = rule.domain_of.get(self.vms[v].host) {
                counts.add(*dm, 1);
            }
        }
        counts
    }

    /// The domain of rule `r` that host `h` is in (None: outside the scope, or `PARKED`).
    pub fn domain(&self, r: usize, h: HostIx) -> Option<usize> {
        self.rules[r].domain_of.get(h).copied().flatten()
    }

    /// Every host, in the state's order.
    pub fn host_ids(&self) -> impl Iterator<Item = HostIx> + use<> {
        self.hosts.ids()
    }

    /// Every VM, in the state's order.
    pub fn vm_ids(&self) -> impl Iterator<Item = VmIx> + use<> {
        self.vms.ids()
    }

    /// The VMs on host `h` now.
    pub fn vms_on(&self, h: HostIx) -> impl Iterator<Item = VmIx> + '_ {
        self.on.get(h).into_iter().flatten().copied()
    }

    /// Order for placement: larger current CPU use first (CloudSim sorts the same way), then id.
    pub fn by_cpu_desc(&self, a: VmIx, b: VmIx) -> std::cmp::Ordering {
        let cpu = |v: VmIx| self.axes.cpu.map(|k| self.vms[v].now[k]).unwrap_or(0.0);
        cpu(b).total_cmp(&cpu(a)).then(a.cmp(&b))
    }

    /// Moves VM `v` to host `to` (or `PARKED`), keeping the per-host index.
    pub fn move_vm(&mut self, v: VmIx, to: HostIx) {
        let from = self.vms[v].host;
        if let Some(list) = self.on.get_mut(from) {
            list.retain(|&x| x != v);
        }
        if let Some(list) = self.on.get_mut(to) {
            list.push(v);
        }
        self.vms[v].host = to;
    }

    /// What the VMs on host `h` use now, per resource.
    pub fn used(&self, h: HostIx) -> Vec<f64> {
        let mut u = vec![0.0; self.axes.len()];
        for v in self.vms_on(h) {
            for (a, b) in u.iter_mut().zip(&self.vms[v].now) {
                *a += b;
            }
        }
        u
    }

    /// Current CPU utilisation of a host (requested over capacity; may exceed 1).
    pub fn cpu_util(&self, h: HostIx) -> f64 {
        match self.axes.cpu {
            Some(k) if self.hosts[h].cap[k] > 0.0 => self.used(h)[k] / self.hosts[h].cap[k],
            _ => 0.0,
        }
    }

    /// Host CPU history from its current VMs, oldest first (CloudSim builds it the same way).
    pub fn host_history(&self, h: HostIx) -> Vec<f64> {
        let Some(k) = self.axes.cpu else {
            return Vec::new();
        };
        let cap = self.hosts[h].cap[k];
        let len = self
            .vms_on(h)
            .map(|v| self.vms[v].cpu_history.len())
            .max()
            .unwrap_or(0);
        let mut out = vec![0.0; len];
        for v in self.vms_on(h) {
            let hist = &self.vms[v].cpu_history;
            let offset = len - hist.len();
            for (i, x) in hist.iter().enumerate() {
                out[offset + i] += x * self.vms[v].demand[k] / cap.max(TINY);
            }
        }
        out
    }

    /// Seconds to migrate VM `v` from its host: memory / (bandwidth / 2), memory in GiB, Mbit/s.
    pub fn migration_time(&self, v: VmIx) -> f64 {
        let gib = self.axes.mem.map(|k| self.vms[v].demand[k]).unwrap_or(0.0);
        let bw = self.hosts[self.vms[v].host].bw_mbps;
        gib * 8.0 * 1024.0 / (bw / 2.0)
    }
}

/// The hosts of the state, with their usable capacity over the axes.
fn pool_hosts(s: &State, axes: &Axes) -> IxVec<HostIx, PoolHost> {
    s.hosts
        .iter()
        .map(|h| PoolHost {
            id: h.id.clone(),
            cap: axes.dense(&crate::resources::usable(
                &h.capacity,
                &h.reserved,
                &h.allocation_ratio,
            )),
            storage: h.storage.clone(),
            state: h.state,
            watts: h
                .power
                .as_ref()
                .map(|p| p.watts.clone())
                .unwrap_or_else(|| (0..=10).map(|i| i as f64 * 10.0).collect()),
            bw_mbps: h.bandwidth_mbps.unwrap_or(1000.0),
            traits: h.traits.clone(),
        })
        .collect()
}

/// The VMs of the state on their hosts, with their use now and the last [`HISTORY`] samples of
/// their CPU history; `rules` index the groups some VM is a member of ([`member_groups`]).
fn pool_vms(s: &State, axes: &Axes) -> IxVec<VmIx, PoolVm> {
    let host_ix: HashMap<&str, usize> = s
        .hosts
        .iter()
        .enumerate()
        .map(|(i, h)| (h.id.as_str(), i))
        .collect();
    // Rule index of each group id, over the groups some VM is a member of.
    let kept: HashMap<&str, usize> = member_groups(s)
        .iter()
        .enumerate()
        .map(|(r, g)| (g.id.as_str(), r))
        .collect();
    s.vms
        .iter()
        .map(|v| {
            let demand = axes.dense(&v.demand);
            let now = axes
                .names()
                .iter()
                .zip(&demand)
                .map(|(r, d)| {
                    d * v
                        .usage
                        .get(r)
                        .and_then(|u| u.last())
                        .copied()
                        .unwrap_or(1.0)
                })
                .collect();
            let cpu = axes.cpu.map(|k| axes.names()[k].as_str());
            let history = cpu
                .and_then(|k| v.usage.get(k))
                .cloned()
                .unwrap_or_default();
            let samples = history.len();
            let keep = history.len().saturating_sub(HISTORY);
            // Validation guarantees the host exists (E1401).
            let host = host_ix
                .get(v.host.as_str())
                .map(|&h| HostIx(h))
                .unwrap_or(PARKED);
            PoolVm {
                id: v.id.clone(),
                host,
                origin: host,
                storage: v.storage.clone(),
                demand,
                now,
                cpu_history: history[keep..].to_vec(),
                samples,
                group: v.anti_affinity.clone(),
                rules: v
                    .groups
                    .iter()
                    .filter_map(|g| kept.get(g.as_str()).copied())
                    .collect(),
                required_traits: v.required_traits.clone(),
                forbidden_traits: v.forbidden_traits.clone(),
                moved_ago_s: v.moved_ago_s,
            }
        })
        .collect()
}

/// The rules of the groups some VM is a member of, over the state's hosts (spread compares the
/// domains with an active host).
fn group_rules(s: &State) -> Vec<GroupRule> {
    let mut scopes = Scopes::default();
    member_groups(s)
        .into_iter()
        .map(|g| {
            let hosts = || {
                s.hosts
                    .iter()
                    .map(|h| (h.id.as_str(), &h.labels, h.state == HostState::Active))
            };
            GroupRule::over(g, hosts, &mut scopes)
        })
        .collect()
}

/// The groups of `groups[]` some VM of the state is a member of, in document order: the pool
/// holds rules for these only. A group without members constrains no move, and 8,000 of them
/// over 8,000 racks took 2.8 GB and 12 s to build as dense group x host rules (issue 27, H2).
fn member_groups(s: &State) -> Vec<&vmplace_wire::problem::Group> {
    let listed: std::collections::HashSet<&str> = s
        .vms
        .iter()
        .flat_map(|v| v.groups.iter().map(String::as_str))
        .collect();
    s.groups
        .iter()
        .filter(|g| listed.contains(g.id.as_str()))
        .collect()
}

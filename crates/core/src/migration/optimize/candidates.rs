//! Which VMs the round model may move, and where: every VM on a maintenance or overloaded host,
//! and whole least-efficient hosts that the others have room for; each to the hosts whose
//! admission rules (headroom apart, which the model prices) accept it.

use super::{Role, MAX_CANDIDATES};
use crate::budget::Budget;
use crate::domain::migration::{HostIx, IxVec, Pool, VmIx};
use crate::domain::{Stopped, NOISE};
use crate::migration::admission::{group_admission, GroupCounts};
use crate::migration::{detect, RoundPolicy};
use std::collections::BTreeMap;
use vmplace_wire::state::{DeclineCode, Detection, HostState};

/// The round's sources and candidates.
pub(super) struct Sources {
    /// Each host's role.
    pub role: IxVec<HostIx, Role>,
    /// Each VM's expected CPU for the next interval, as the round's detector will see it.
    pub expected_cpu: IxVec<VmIx, f64>,
    /// The safe utilisation: where the detector starts to flag a host.
    pub theta: f64,
    /// Candidate VMs, in pool order.
    pub candidates: Vec<VmIx>,
    /// Per VM: is it a candidate.
    pub is_candidate: IxVec<VmIx, bool>,
    /// Per host: already over a capacity now.
    pub over_now: IxVec<HostIx, bool>,
}

impl Sources {
    pub(super) fn new(
        pool: &Pool,
        policy: &RoundPolicy,
        cpu: usize,
        overloaded: &[HostIx],
    ) -> Self {
        let n_hosts = pool.hosts.len();
        let mut role = IxVec::filled(Role::Keep, n_hosts);
        for &h in overloaded {
            role[h] = Role::Overload;
        }
        for (h, host) in pool.hosts.enumerate() {
            if host.state != HostState::Active {
                role[h] = Role::Maintenance;
            }
        }
        let expected_cpu = expected_cpu(pool, policy, cpu);
        let theta = match policy.detection {
            Detection::Thr => policy.parameter,
            Detection::Lr | Detection::Lrr => 1.0 / policy.parameter.max(NOISE),
            Detection::Iqr | Detection::Mad => policy.fallback_threshold,
        };
        let mut sources = Sources {
            role,
            expected_cpu,
            theta,
            candidates: Vec::new(),
            is_candidate: IxVec::filled(false, pool.vms.len()),
            over_now: pool
                .host_ids()
                .map(|h| {
                    let used = pool.used(h);
                    (0..pool.axes.len()).any(|r| used[r] > pool.hosts[h].cap[r] + NOISE)
                })
                .collect(),
        };
        sources.choose_underload(pool, policy, cpu, overloaded);
        sources.candidates = pool
            .vm_ids()
            .filter(|&v| sources.movable(pool, policy, v))
            .collect();
        for &v in &sources.candidates {
            sources.is_candidate[v] = true;
        }
        sources
    }

    fn movable(&self, pool: &Pool, policy: &RoundPolicy, v: VmIx) -> bool {
        let r = self.role[pool.vms[v].host];
        let held = pool.vms[v].moved_ago_s.is_some_and(|s| s < policy.hold_s);
        r == Role::Maintenance || (r != Role::Keep && !held)
    }

    /// Consolidation candidates: whole hosts, none with a held VM, worst first (the most idle
    /// watts per unit of CPU served). Room under the safe utilisation on the hosts that stay,
    /// less what the overloaded hosts must shed: a host whose expected load does not fit in what
    /// is left cannot be emptied, so it is no candidate. In a spread-out pool nearly every host
    /// qualifies, in a packed one few do.
    fn choose_underload(
        &mut self,
        pool: &Pool,
        policy: &RoundPolicy,
        cpu: usize,
        overloaded: &[HostIx],
    ) {
        let held = |v: VmIx| pool.vms[v].moved_ago_s.is_some_and(|s| s < policy.hold_s);
        let mut room = MAX_CANDIDATES.saturating_sub(
            pool.vm_ids()
                .filter(|&v| self.movable(pool, policy, v))
                .count(),
        );
        let mut active: Vec<HostIx> = pool
            .host_ids()
            .filter(|&h| self.role[h] == Role::Keep && pool.vms_on(h).next().is_some())
            .collect();
        let idle_per_use = |h: HostIx| {
            let used = pool.cpu_util(h) * pool.hosts[h].cap[cpu];
            detect::power_at(&pool.hosts[h].watts, 0.0) / used.max(NOISE)
        };
        active.sort_by(|&a, &b| idle_per_use(b).total_cmp(&idle_per_use(a)).then(a.cmp(&b)));
        let expected = |h: HostIx| pool.vms_on(h).map(|v| self.expected_cpu[v]).sum::<f64>();
        let safe = |h: HostIx| self.theta * pool.hosts[h].cap[cpu];
        let mut free: f64 = active
            .iter()
            .map(|&h| (safe(h) - expected(h)).max(0.0))
            .sum::<f64>()
            - overloaded
                .iter()
                .map(|&h| (expected(h) - safe(h)).max(0.0))
                .sum::<f64>();
        let mut underload = Vec::new();
        for &h in &active {
            let n = pool.vms_on(h).count();
            if n > room {
                break;
            }
            let (load, spare) = (expected(h), (safe(h) - expected(h)).max(0.0));
            if load + spare > free || pool.vms_on(h).any(held) {
                continue;
            }
            underload.push(h);
            room -= n;
            free -= load + spare;
        }
        for h in underload {
            self.role[h] = Role::Underload;
        }
    }
}

/// Expected CPU for the next interval, as the round's detector will see it: LR extrapolates each
/// VM's own history (the host's regression is the sum of its VMs') as far as the longest
/// migration in the pool reaches, the others look at what the VM uses now.
fn expected_cpu(pool: &Pool, policy: &RoundPolicy, cpu: usize) -> IxVec<VmIx, f64> {
    let lr = matches!(policy.detection, Detection::Lr | Detection::Lrr);
    let steps = (pool
        .vm_ids()
        .map(|v| pool.migration_time(v))
        .fold(0.0, f64::max)
        / policy.interval_s)
        .ceil();
    pool.vms
        .iter()
        .map(|vm| {
            let now = vm.now[cpu];
            match detect::lr_forecast(&vm.cpu_history, steps) {
                Some(f) if lr => (f * vm.demand[cpu]).max(0.0),
                _ => now,
            }
        })
        .collect()
}

/// Admission apart from headroom (the model and the greedy handle it): per candidate, every
/// accepting host, and the declines by code. Candidates x hosts tests: `stop` is asked between
/// candidates.
pub(super) struct Admissible {
    pub accepting: Vec<Vec<HostIx>>,
    pub declined: Vec<BTreeMap<DeclineCode, usize>>,
}

impl Admissible {
    pub(super) fn new(
        pool: &Pool,
        sources: &Sources,
        cpu: usize,
        stop: &Budget,
    ) -> Result<Self, Stopped> {
        let mut out = Admissible {
            accepting: Vec::with_capacity(sources.candidates.len()),
            declined: Vec::with_capacity(sources.candidates.len()),
        };
        for &v in &sources.candidates {
            if stop.passed() {
                return Err(Stopped);
            }
            let vm = &pool.vms[v];
            let groups = GroupCounts::new(pool, v);
            let mut declined: BTreeMap<DeclineCode, usize> = BTreeMap::new();
            let mut ok = Vec::new();
            for (h, host) in pool.hosts.enumerate() {
                if h == vm.host {
                    continue;
                }
                let code = if sources.role[h] == Role::Maintenance {
                    Some(DeclineCode::AdmissionState)
                } else if sources.role[h] == Role::Overload {
                    Some(DeclineCode::AdmissionSource)
                } else if !host.storage.contains(&vm.storage) {
                    Some(DeclineCode::AdmissionStorage)
                } else if !pool.traits_allow(v, h) {
                    Some(DeclineCode::AdmissionTraits)
                } else if sources.over_now[h]
                    || (0..pool.axes.len()).any(|r| vm.now[r] > host.cap[r] + NOISE)
                    || sources.expected_cpu[v] > host.cap[cpu]
                {
                    Some(DeclineCode::AdmissionCapacity)
                } else {
                    group_admission(pool, &groups, v, h).map(|(code, _)| code)
                };
                match code {
                    Some(c) => *declined.entry(c).or_default() += 1,
                    None => ok.push(h),
                }
            }
            out.declined.push(declined);
            out.accepting.push(ok);
        }
        Ok(out)
    }
}

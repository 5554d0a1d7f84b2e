//! The admission rule of a candidate host: accept, or decline with a code and a reason.

use super::{detect, RoundPolicy};
use crate::domain::migration::{HostId, Pool, VmId};
use crate::format::state::{DeclineCode, HostState};

/// The admission rule of host `h` for VM `v`: None = accept, or (code, reason).
pub(super) fn admission(
    pool: &Pool,
    v: VmId,
    h: HostId,
    excluded: &[bool],
    p: &RoundPolicy,
) -> Option<(DeclineCode, String)> {
    let host = &pool.hosts[h];
    let vm = &pool.vms[v];
    if excluded[h.0] {
        return Some((
            DeclineCode::AdmissionSource,
            "the host is a source of this round".into(),
        ));
    }
    if host.state != HostState::Active {
        return Some((
            DeclineCode::AdmissionState,
            format!("the host is {:?}", host.state).to_lowercase(),
        ));
    }
    if !host.storage.contains(&vm.storage) {
        return Some((
            DeclineCode::AdmissionStorage,
            format!(
                "not connected to storage `{}`: no live migration",
                vm.storage
            ),
        ));
    }
    if !pool.traits_allow(v, h) {
        return Some((
            DeclineCode::AdmissionTraits,
            "lacks a trait the VM requires, or has one it forbids".into(),
        ));
    }
    if let Some(g) = &vm.group {
        if pool
            .vms_on(h)
            .any(|o| pool.vms[o].group.as_ref() == Some(g))
        {
            return Some((
                DeclineCode::AdmissionAntiAffinity,
                format!("runs a member of group `{g}`"),
            ));
        }
    }
    let used = pool.used(h);
    for (k, r) in pool.resources.iter().enumerate() {
        if used[k] + vm.now[k] > host.cap[k] + 1e-9 {
            return Some((
                DeclineCode::AdmissionCapacity,
                format!("`{r}`: {} + {} > {}", used[k], vm.now[k], host.cap[k]),
            ));
        }
    }
    if pool.vms_on(h).next().is_some() {
        // Would the detector flag the host with the VM on it? (CloudSim skips this for empty hosts.)
        let k = pool.cpu?;
        let util = (used[k] + vm.now[k]) / host.cap[k].max(1e-12);
        let mut hist = pool.host_history(h);
        let vh = &vm.cpu_history;
        if hist.len() < vh.len() {
            let pad = vh.len() - hist.len();
            hist.splice(0..0, std::iter::repeat_n(0.0, pad));
        }
        let offset = hist.len() - vh.len();
        for (i, x) in vh.iter().enumerate() {
            hist[offset + i] += x * vm.demand[k] / host.cap[k].max(1e-12);
        }
        let max_migration = pool
            .vms_on(h)
            .map(|o| pool.migration_time(o))
            .fold(pool.migration_time(v), f64::max);
        if detect::overloaded(p, util, &hist, max_migration) {
            return Some((
                DeclineCode::AdmissionHeadroom,
                format!(
                    "would be overloaded after the move ({:.0} % CPU)",
                    util * 100.0
                ),
            ));
        }
    }
    None
}

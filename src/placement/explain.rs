//! Why a request is not placed: the binding constraint, as a reason code and a sentence that
//! names the constraint family of models/.

use crate::domain::evaluate::final_load;
use crate::domain::{fits, Assignment, Domain, Load, RequestIx, StorageIx, EPS};
use crate::format::ReasonCode;

/// Why request `r` is not placed, naming the binding constraint.
pub fn explain(d: &Domain, a: &Assignment, r: RequestIx) -> (ReasonCode, String) {
    let vm = &d.requests[r.0];
    let initial = Load::initial(d);
    let mut others = a.clone();
    others.storage[r.0] = None;
    others.host[r.0] = None;
    let after = final_load(d, &others);
    let storages: Vec<StorageIx> = match (a.storage[r.0], vm.storage) {
        (Some(s), _) | (None, Some(s)) => vec![s],
        (None, None) => (0..d.storage.len()).map(StorageIx).collect(),
    };
    let storage_named = match storages.as_slice() {
        [s] => format!(" (storage `{}`)", d.storage[s.0].id),
        _ => String::new(),
    };
    let chosen = a.storage[r.0].is_some() || vm.storage.is_some();
    let disk_ok = |load: &Load, s: StorageIx| chosen || load.storage_free[s.0] + EPS >= vm.disk;
    if !storages.iter().any(|&s| disk_ok(&initial, s)) {
        return (
            ReasonCode::NoStorageCapacity,
            format!(
                "storage_capacity: no storage system has {} GiB free",
                vm.disk
            ),
        );
    }
    if !initial.host_free.iter().any(|f| fits(&vm.demand, f)) {
        return (
            ReasonCode::DemandExceedsHosts,
            "host_capacity: no host in the pool has room for the VM's demand".to_string(),
        );
    }
    let connected_room = |load: &Load, s: StorageIx| {
        d.storage[s.0]
            .hosts
            .iter()
            .any(|h| fits(&vm.demand, &load.host_free[h.0]))
    };
    if !storages
        .iter()
        .any(|&s| disk_ok(&initial, s) && connected_room(&initial, s))
    {
        return (
            ReasonCode::NoConnectedHostCapacity,
            format!(
                "host_connectivity: no host with room is connected to the storage{storage_named}"
            ),
        );
    }
    let room_now = storages
        .iter()
        .any(|&s| disk_ok(&after, s) && connected_room(&after, s));
    if room_now && vm.group.is_some() {
        return (
            ReasonCode::AntiAffinity,
            format!(
                "anti_affinity: every connected host with room already runs a member of group `{}`",
                d.groups[vm.group.unwrap_or(0)]
            ),
        );
    }
    let binding = if !storages.iter().any(|&s| disk_ok(&after, s)) {
        "storage_capacity"
    } else {
        "host_capacity"
    };
    (
        ReasonCode::CapacityTaken,
        format!("{binding}: the capacity that could take it went to other requests of this batch"),
    )
}

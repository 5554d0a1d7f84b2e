//! One test per constraint family of `crates/core/src/model/`, calling the model directly: no warm start, no
//! certification, no greedy fallback, so that the family's rows alone decide the answer. Each
//! instance has two or three items, and the asserted answer is the one the family forces: with
//! the family's rows removed, the model would answer differently. Names follow models/*.md.

mod groups;
mod host_model;
mod joint_cost;
mod joint_model;
mod migration_round;
mod mixes;
mod packing;
mod restarts;
mod storage_model;
mod usable;

use joint_model::{joint_doc, joint_solve};
use migration_round::{round, round_solve, round_vm, sloped};
use serde_json::{json, Value};
use vmplace_core::domain::groups::Counts;
use vmplace_core::domain::{Assignment, Domain, HostIx, IxVec, Load, Settings, StorageIx};
use vmplace_core::model::host::{self, HostInput};
use vmplace_core::model::joint::{self, JointInput};
use vmplace_core::model::migration::{
    self, Arrivals, RoundHost, RoundInput, RoundPolicy, RoundRule, RoundVm,
};
use vmplace_core::model::mix::{self, MixFlavor, MixInput};
use vmplace_core::model::restart::{self, RestartPolicy, RestartRule, RestartVm};
use vmplace_core::model::storage::{self, Stage, StorageInput};
use vmplace_core::model::{MipOptions, MipResult, MipStatus};
use vmplace_core::placement::exact;
use vmplace_core::validation::{read_problem, Phase, Valid};
use vmplace_wire::{Objective, Problem};

fn opts() -> MipOptions {
    crate::common::exact_mip_options()
}

fn problem(doc: Value) -> Valid<Problem> {
    read_problem(&doc.to_string(), Phase::Storage).unwrap_or_else(|e| panic!("{e:?}"))
}

fn domain(doc: Value, storage_policy: Objective, host_policy: Objective, flex: f64) -> Domain {
    let settings = Settings {
        storage_policy,
        host_policy,
        flexibility_weight: flex,
        ..Settings::default()
    };
    Domain::from_problem(&problem(doc), settings)
}

fn host(id: &str, cpu: f64, storage: &[&str]) -> Value {
    json!({"id": id, "capacity": {"cpu": cpu, "memory_gib": 1000}, "storage": storage})
}

fn busy_host(id: &str, cpu: f64, used: f64, storage: &[&str]) -> Value {
    json!({"id": id, "capacity": {"cpu": cpu, "memory_gib": 1000},
           "used": {"cpu": used, "memory_gib": 1}, "storage": storage})
}

fn req(id: &str, cpu: f64, disk: f64) -> Value {
    json!({"id": id, "demand": {"cpu": cpu, "memory_gib": 1}, "disk_gib": disk})
}

fn grouped(id: &str, cpu: f64, group: &str) -> Value {
    json!({"id": id, "demand": {"cpu": cpu, "memory_gib": 1}, "disk_gib": 1, "anti_affinity": group})
}

fn on(id: &str, cpu: f64, storage: &str) -> Value {
    json!({"id": id, "demand": {"cpu": cpu, "memory_gib": 1}, "disk_gib": 1, "storage": storage})
}

fn storage_sys(id: &str, capacity: f64, used: f64) -> Value {
    json!({"id": id, "capacity_gib": capacity, "used_gib": used})
}

/// Solves the storage model as it is, with no warm start and no certification slack.
fn storage_solve(d: &Domain, stage: Stage) -> (MipResult, Assignment) {
    let slack = vec![vec![0.0; d.resources.len()]; d.storage.len()];
    let warm = Assignment::empty(d.requests.len());
    let input = StorageInput {
        d,
        slack: &slack.clone().into(),
        warm: &warm,
    };
    let (r, a) = storage::solve(&input, stage, &opts()).expect("HiGHS runs");
    assert_eq!(r.status, MipStatus::Optimal, "{r:?}");
    agrees_with_exact_search(d, stage, &r);
    (r, a)
}

/// The exact search of small batches implements the same families: where it proves an answer,
/// its placed weight (stage 1) and cost (stage 2, at the weight it proves) are the MIP's.
fn agrees_with_exact_search(d: &Domain, stage: Stage, r: &MipResult) {
    let none = Assignment::empty(d.requests.len());
    let Some(p) = exact::storage_exact(d, &none, &|| false) else {
        return;
    };
    match stage {
        Stage::Placement => assert!(close(p.weight, r.objective), "{p:?} vs {r:?}"),
        Stage::Policy { min_weight } if close(p.weight, min_weight) => {
            let gap = d.settings.mip_gap * r.objective.abs();
            assert!((p.cost - r.objective).abs() <= gap + 1e-6, "{p:?} vs {r:?}");
            assert!(p.bound <= r.objective + 1e-6, "{p:?} vs {r:?}");
        }
        Stage::Policy { .. } => {}
    }
}

/// Solves the host model with every request on the storage it names.
fn host_solve(d: &Domain, stage: Stage) -> (MipResult, Assignment) {
    host_solve_with(d, stage, None, false)
}

/// The same, on the hosts `allowed` only (a neighbourhood of the LNS), or as an LP relaxation.
fn host_solve_with(
    d: &Domain,
    stage: Stage,
    allowed: Option<&[bool]>,
    relax: bool,
) -> (MipResult, Assignment) {
    let mut storage = Assignment::empty(d.requests.len());
    for (i, vm) in d.requests.iter().enumerate() {
        storage.storage[vmplace_core::domain::RequestIx(i)] = vm.storage;
    }
    let load = Load::initial(d);
    let active = d.hosts.map(|h| h.initially_active());
    let allowed = allowed.map(|a| vmplace_core::domain::IxVec::from(a.to_vec()));
    let warm = Assignment::empty(d.requests.len());
    let input = HostInput {
        d,
        storage: &storage,
        warm: &warm,
        load: &load,
        active: &active,
        allowed: allowed.as_ref(),
    };
    let opts = MipOptions { relax, ..opts() };
    let (r, a) = host::solve(&input, stage, &opts).expect("HiGHS runs");
    assert_eq!(r.status, MipStatus::Optimal, "{r:?}");
    (r, a)
}

fn host_id(d: &Domain, h: Option<HostIx>) -> Option<&str> {
    h.map(|h| d.hosts[h].id.as_str())
}

fn storage_id(d: &Domain, s: Option<StorageIx>) -> Option<&str> {
    s.map(|s| d.storage[s].id.as_str())
}

fn placed(a: &Assignment) -> usize {
    a.storage.iter().filter(|s| s.is_some()).count()
}

fn hosted(a: &Assignment) -> usize {
    a.host.iter().filter(|h| h.is_some()).count()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

//! One test per constraint family of `crates/core/src/model/`, calling the model directly: no warm start, no
//! certification, no greedy fallback, so that the family's rows alone decide the answer. Each
//! instance has two or three items, and the asserted answer is the one the family forces: with
//! the family's rows removed, the model would answer differently. Names follow models/*.md.

use serde_json::{json, Value};
use vmplace_core::domain::groups::Counts;
use vmplace_core::domain::{Assignment, Domain, HostIx, IxVec, Load, Settings, StorageIx};
use vmplace_core::model::host::{self, HostInput};
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

// ---------------------------------------------------------------- host phase (models/host.md)

#[test]
fn host_connectivity_offers_only_hosts_connected_to_the_storage() {
    // h1 has room but reaches only s1; the VM's image is on s2, reached by h2 alone.
    let d = domain(
        json!({"storage": [storage_sys("s1", 100.0, 0.0), storage_sys("s2", 100.0, 0.0)],
               "hosts": [host("h1", 8.0, &["s1"]), host("h2", 8.0, &["s2"])],
               "requests": [on("vm", 4.0, "s2")]}),
        Objective::Balance,
        Objective::Balance,
        0.0,
    );
    let (r, a) = host_solve(&d, Stage::Placement);
    assert!(close(r.objective, 1.0));
    assert_eq!(
        host_id(&d, a.host[vmplace_core::domain::RequestIx(0)]),
        Some("h2")
    );
    // One column: (vm, h2); h1 is not connected. No column for a host without room either.
    assert_eq!(r.size.variables, 1);
    // Rows: h2's capacity in CPU and memory. A request with one candidate host needs no
    // `host_assignment` row: its column's bound says it already.
    assert_eq!(r.size.constraints, 2);
}

#[test]
fn host_connectivity_counts_the_copies_that_fit_exactly() {
    // Two identical 4-CPU VMs and exactly 8 CPUs free: both fit.
    let d = domain(
        json!({"storage": [storage_sys("s1", 100.0, 0.0)],
               "hosts": [host("h1", 8.0, &["s1"])],
               "requests": [on("a", 4.0, "s1"), on("b", 4.0, "s1")]}),
        Objective::Balance,
        Objective::Balance,
        0.0,
    );
    let (r, a) = host_solve(&d, Stage::Placement);
    assert!(close(r.objective, 2.0), "{}", r.objective);
    assert_eq!(hosted(&a), 2);
}

#[test]
fn host_connectivity_prunes_hosts_without_room_and_caps_copies() {
    // h1 is full, h2 fits one of the two identical VMs: one column, bounded by 1.
    let d = domain(
        json!({"storage": [storage_sys("s1", 100.0, 0.0)],
               "hosts": [busy_host("h1", 8.0, 8.0, &["s1"]), host("h2", 6.0, &["s1"])],
               "requests": [on("a", 4.0, "s1"), on("b", 4.0, "s1")]}),
        Objective::Balance,
        Objective::Balance,
        0.0,
    );
    let (r, a) = host_solve(&d, Stage::Placement);
    assert_eq!(r.size.variables, 1, "only (flavor, h2)");
    assert!(close(r.objective, 1.0));
    assert_eq!(hosted(&a), 1);
}

#[test]
fn host_connectivity_offers_only_the_hosts_a_neighbourhood_allows() {
    // Both hosts reach s1 and have room; the neighbourhood allows h2 only.
    let d = domain(
        json!({"storage": [storage_sys("s1", 100.0, 0.0)],
               "hosts": [host("h1", 8.0, &["s1"]), host("h2", 8.0, &["s1"])],
               "requests": [on("vm", 4.0, "s1")]}),
        Objective::Balance,
        Objective::Balance,
        0.0,
    );
    let (r, a) = host_solve_with(&d, Stage::Placement, Some(&[false, true]), false);
    assert_eq!(r.size.variables, 1);
    assert_eq!(
        host_id(&d, a.host[vmplace_core::domain::RequestIx(0)]),
        Some("h2")
    );
}

#[test]
fn host_connectivity_bounds_copies_in_the_relaxation_too() {
    // Two identical 4-CPU VMs, 6 CPUs free: the capacity row alone lets the LP relaxation place
    // 1.5 of them; the column's bound (how many fit whole) keeps it at 1.
    let d = domain(
        json!({"storage": [storage_sys("s1", 100.0, 0.0)],
               "hosts": [host("h1", 6.0, &["s1"])],
               "requests": [on("a", 4.0, "s1"), on("b", 4.0, "s1")]}),
        Objective::Balance,
        Objective::Balance,
        0.0,
    );
    let (r, _) = host_solve_with(&d, Stage::Placement, None, true);
    assert!(close(r.objective, 1.0), "{}", r.objective);
}

#[test]
fn host_connectivity_bounds_a_group_flavor_by_one_per_host() {
    // Two identical members of one group and one host with room for both: one only.
    let d = domain(
        json!({"storage": [storage_sys("s1", 100.0, 0.0)],
               "hosts": [host("h1", 16.0, &["s1"])],
               "requests": [{"id": "a", "demand": {"cpu": 2}, "disk_gib": 1, "storage": "s1", "anti_affinity": "g"},
                            {"id": "b", "demand": {"cpu": 2}, "disk_gib": 1, "storage": "s1", "anti_affinity": "g"}]}),
        Objective::Balance,
        Objective::Balance,
        0.0,
    );
    let (r, _) = host_solve(&d, Stage::Placement);
    assert!(close(r.objective, 1.0), "{}", r.objective);
    // One column, bounded by 1: the CPU row, and no single-term `anti_affinity` row.
    assert_eq!(r.size.constraints, 1);
}

#[test]
fn host_assignment_puts_a_request_on_one_host_at_most() {
    let d = domain(
        json!({"storage": [storage_sys("s1", 100.0, 0.0)],
               "hosts": [host("h1", 8.0, &["s1"]), host("h2", 8.0, &["s1"])],
               "requests": [on("vm", 4.0, "s1")]}),
        Objective::Balance,
        Objective::Balance,
        0.0,
    );
    let (r, a) = host_solve(&d, Stage::Placement);
    assert!(close(r.objective, 1.0), "placed weight {}", r.objective);
    assert_eq!(hosted(&a), 1);
}

#[test]
fn host_capacity_keeps_the_vms_of_a_host_within_its_free_capacity() {
    // 4 + 3 CPUs do not fit 6 free: one of the two, with either objective (under `pack` the row
    // carries the opening column a_h).
    for policy in [Objective::Balance, Objective::Pack] {
        let d = domain(
            json!({"storage": [storage_sys("s1", 100.0, 0.0)],
                   "hosts": [host("h1", 6.0, &["s1"])],
                   "requests": [on("a", 4.0, "s1"), on("b", 3.0, "s1")]}),
            Objective::Balance,
            policy,
            0.0,
        );
        let (r, a) = host_solve(&d, Stage::Placement);
        assert!(close(r.objective, 1.0), "{policy:?}: {}", r.objective);
        assert_eq!(hosted(&a), 1);
    }
}

#[test]
fn host_open_counts_each_idle_host_that_receives_a_vm() {
    // Pack: two VMs that fit one idle host together; the other idle host stays closed.
    let d = domain(
        json!({"storage": [storage_sys("s1", 100.0, 0.0)],
               "hosts": [host("h1", 8.0, &["s1"]), host("h2", 8.0, &["s1"])],
               "requests": [on("a", 4.0, "s1"), on("b", 3.0, "s1")]}),
        Objective::Balance,
        Objective::Pack,
        0.0,
    );
    let (r, a) = host_solve(&d, Stage::Policy { min_weight: 2.0 });
    assert!(close(r.objective, 1.0), "active hosts {}", r.objective);
    assert_eq!(
        a.host[vmplace_core::domain::RequestIx(0)],
        a.host[vmplace_core::domain::RequestIx(1)]
    );
}

#[test]
fn host_open_is_free_on_a_host_that_already_runs_vms() {
    // h1 already runs something: it is active whatever happens, so the VM goes there and the
    // count stays 1; h2 would open a second host.
    let d = domain(
        json!({"storage": [storage_sys("s1", 100.0, 0.0)],
               "hosts": [host("h2", 8.0, &["s1"]), busy_host("h1", 8.0, 2.0, &["s1"])],
               "requests": [on("vm", 4.0, "s1")]}),
        Objective::Balance,
        Objective::Pack,
        0.0,
    );
    let (r, a) = host_solve(&d, Stage::Policy { min_weight: 1.0 });
    assert!(close(r.objective, 1.0), "active hosts {}", r.objective);
    assert_eq!(
        host_id(&d, a.host[vmplace_core::domain::RequestIx(0)]),
        Some("h1")
    );
}

#[test]
fn anti_affinity_keeps_members_of_different_sizes_apart() {
    // Two members of one group with different demands (two flavors) and one host with room for
    // both: one only. With a second host, both.
    for (hosts, want) in [(1, 1.0), (2, 2.0)] {
        let all = [host("h1", 16.0, &["s1"]), host("h2", 16.0, &["s1"])];
        let d = domain(
            json!({"storage": [storage_sys("s1", 100.0, 0.0)],
                   "hosts": all[..hosts].to_vec(),
                   "requests": [{"id": "a", "demand": {"cpu": 2}, "disk_gib": 1, "storage": "s1", "anti_affinity": "g"},
                                {"id": "b", "demand": {"cpu": 3}, "disk_gib": 1, "storage": "s1", "anti_affinity": "g"}]}),
            Objective::Balance,
            Objective::Balance,
            0.0,
        );
        let (r, a) = host_solve(&d, Stage::Placement);
        assert!(close(r.objective, want), "{hosts} hosts: {}", r.objective);
        if hosts == 2 {
            assert_ne!(
                a.host[vmplace_core::domain::RequestIx(0)],
                a.host[vmplace_core::domain::RequestIx(1)]
            );
        }
    }
}

#[test]
fn host_placed_floor_keeps_what_stage_one_placed() {
    // Pack: placing nothing would cost no host; the floor makes the policy stage place the VM.
    let d = domain(
        json!({"storage": [storage_sys("s1", 100.0, 0.0)],
               "hosts": [host("h1", 8.0, &["s1"])],
               "requests": [on("vm", 4.0, "s1")]}),
        Objective::Balance,
        Objective::Pack,
        0.0,
    );
    let (r, a) = host_solve(&d, Stage::Policy { min_weight: 1.0 });
    assert_eq!(hosted(&a), 1);
    assert!(close(r.objective, 1.0));
}

#[test]
fn host_balance_minimises_the_highest_utilisation() {
    // h1 already at 20 % CPU; a 4-CPU VM on h2 gives max utilisation 0.4, on h1 0.6.
    let d = domain(
        json!({"storage": [storage_sys("s1", 100.0, 0.0)],
               "hosts": [busy_host("h1", 10.0, 2.0, &["s1"]), host("h2", 10.0, &["s1"])],
               "requests": [on("vm", 4.0, "s1")]}),
        Objective::Balance,
        Objective::Balance,
        0.0,
    );
    let (r, a) = host_solve(&d, Stage::Policy { min_weight: 1.0 });
    assert_eq!(
        host_id(&d, a.host[vmplace_core::domain::RequestIx(0)]),
        Some("h2")
    );
    assert!(close(r.objective, 0.4), "U = {}", r.objective);
}

#[test]
fn host_balance_counts_hosts_the_batch_cannot_reach() {
    // h1 runs at 90 % and reaches no storage of the batch; the VM goes to h2 (40 %), but the
    // highest utilisation is still h1's.
    let d = domain(
        json!({"storage": [storage_sys("s1", 100.0, 0.0), storage_sys("s2", 100.0, 0.0)],
               "hosts": [busy_host("h1", 10.0, 9.0, &["s2"]), host("h2", 10.0, &["s1"])],
               "requests": [on("vm", 4.0, "s1")]}),
        Objective::Balance,
        Objective::Balance,
        0.0,
    );
    let (r, _) = host_solve(&d, Stage::Policy { min_weight: 1.0 });
    assert!(close(r.objective, 0.9), "U = {}", r.objective);
}

// ---------------------------------------------------------- storage phase (models/storage.md)

#[test]
fn storage_candidates_skip_storage_without_room_or_hosts() {
    // s1 is too small for the image, s2's only host is full, s3 fits: one column, on s3.
    let d = domain(
        json!({"storage": [storage_sys("s1", 10.0, 0.0), storage_sys("s2", 100.0, 0.0), storage_sys("s3", 100.0, 0.0)],
               "hosts": [host("h1", 8.0, &["s1"]), busy_host("h2", 8.0, 8.0, &["s2"]), host("h3", 8.0, &["s3"])],
               "requests": [req("vm", 4.0, 50.0)]}),
        Objective::Balance,
        Objective::Balance,
        0.0,
    );
    let (r, a) = storage_solve(&d, Stage::Placement);
    assert_eq!(
        storage_id(&d, a.storage[vmplace_core::domain::RequestIx(0)]),
        Some("s3")
    );
    assert!(close(r.objective, 1.0));
    // y[vm, s3], plus one look-ahead share column a[s3, h3, r] per resource.
    assert_eq!(r.size.variables, 1 + 2, "{:?}", r.size);
}

#[test]
fn storage_candidates_bound_copies_by_the_disks_that_fit() {
    // Three identical 40 GiB images, 100 GiB free: the column y[f, s1] is at most 2.
    let d = domain(
        json!({"storage": [storage_sys("s1", 100.0, 0.0)],
               "hosts": [host("h1", 64.0, &["s1"])],
               "requests": [req("a", 1.0, 40.0), req("b", 1.0, 40.0), req("c", 1.0, 40.0)]}),
        Objective::Balance,
        Objective::Balance,
        0.0,
    );
    let (r, a) = storage_solve(&d, Stage::Placement);
    assert!(close(r.objective, 2.0), "{}", r.objective);
    assert_eq!(placed(&a), 2);
}

#[test]
fn storage_assignment_puts_a_request_on_one_storage_at_most() {
    let d = domain(
        json!({"storage": [storage_sys("s1", 100.0, 0.0), storage_sys("s2", 100.0, 0.0)],
               "hosts": [host("h1", 8.0, &["s1", "s2"])],
               "requests": [req("vm", 1.0, 10.0)]}),
        Objective::Balance,
        Objective::Balance,
        0.0,
    );
    let (r, a) = storage_solve(&d, Stage::Placement);
    assert!(close(r.objective, 1.0), "placed weight {}", r.objective);
    assert_eq!(placed(&a), 1);
}

#[test]
fn storage_capacity_keeps_disk_images_within_free_space() {
    // 60 + 50 GiB do not fit 100 free: one of the two, whether or not the row carries o_s.
    for policy in [Objective::Balance, Objective::Pack] {
        let d = domain(
            json!({"storage": [storage_sys("s1", 100.0, 0.0)],
                   "hosts": [host("h1", 64.0, &["s1"])],
                   "requests": [req("a", 1.0, 60.0), req("b", 1.0, 50.0)]}),
            policy,
            Objective::Balance,
            0.0,
        );
        let (r, a) = storage_solve(&d, Stage::Placement);
        assert!(close(r.objective, 1.0), "{policy:?}: {}", r.objective);
        assert_eq!(placed(&a), 1);
    }
}

#[test]
fn storage_open_counts_each_empty_storage_that_receives_an_image() {
    // Pack: two images fit one empty storage system; the cost is 1 of 2 systems in use.
    let d = domain(
        json!({"storage": [storage_sys("s1", 100.0, 0.0), storage_sys("s2", 100.0, 0.0)],
               "hosts": [host("h1", 64.0, &["s1", "s2"])],
               "requests": [req("a", 1.0, 30.0), req("b", 2.0, 40.0)]}),
        Objective::Pack,
        Objective::Balance,
        0.0,
    );
    let (r, a) = storage_solve(&d, Stage::Policy { min_weight: 2.0 });
    assert_eq!(
        a.storage[vmplace_core::domain::RequestIx(0)],
        a.storage[vmplace_core::domain::RequestIx(1)]
    );
    assert!(close(r.objective, 0.5), "share in use {}", r.objective);
}

#[test]
fn storage_open_is_free_on_a_storage_already_in_use() {
    // s1 already holds images: it is in use anyway, so the new image goes there (cost 1/2).
    let d = domain(
        json!({"storage": [storage_sys("s2", 100.0, 0.0), storage_sys("s1", 100.0, 10.0)],
               "hosts": [host("h1", 64.0, &["s1", "s2"])],
               "requests": [req("a", 1.0, 30.0)]}),
        Objective::Pack,
        Objective::Balance,
        0.0,
    );
    let (r, a) = storage_solve(&d, Stage::Policy { min_weight: 1.0 });
    assert_eq!(
        storage_id(&d, a.storage[vmplace_core::domain::RequestIx(0)]),
        Some("s1")
    );
    assert!(close(r.objective, 0.5), "share in use {}", r.objective);
}

#[test]
fn host_opening_prefers_storage_whose_hosts_already_run_vms() {
    // Host policy pack: `idle` is a little emptier (U 30/101 against 30/100), but its only host
    // is idle and the look-ahead would open 1/64 of it (cost 1/64 / 2 hosts); `busy`'s host
    // already runs VMs and has room, so the image goes there.
    let d = domain(
        json!({"storage": [storage_sys("idle", 101.0, 0.0), storage_sys("busy", 100.0, 0.0)],
               "hosts": [host("h_idle", 64.0, &["idle"]), busy_host("h_busy", 64.0, 4.0, &["busy"])],
               "requests": [req("a", 1.0, 30.0)]}),
        Objective::Balance,
        Objective::Pack,
        0.0,
    );
    let (r, a) = storage_solve(&d, Stage::Policy { min_weight: 1.0 });
    assert_eq!(
        storage_id(&d, a.storage[vmplace_core::domain::RequestIx(0)]),
        Some("busy")
    );
    assert!(close(r.objective, 0.3), "{}", r.objective);
}

#[test]
fn host_lookahead_places_only_what_connected_hosts_can_run() {
    // Plenty of disk, but the only host reachable from s1 has room for one of the two VMs.
    let d = domain(
        json!({"storage": [storage_sys("s1", 1000.0, 0.0)],
               "hosts": [host("h1", 3.0, &["s1"])],
               "requests": [req("a", 2.0, 10.0), req("b", 2.0, 10.0)]}),
        Objective::Balance,
        Objective::Balance,
        0.0,
    );
    let (r, a) = storage_solve(&d, Stage::Placement);
    assert!(close(r.objective, 1.0), "{}", r.objective);
    assert_eq!(placed(&a), 1);
}

#[test]
fn host_lookahead_withholds_the_certification_slack() {
    // Room for two 2-CPU VMs on h1, but certification withheld 2 CPUs of s1's hosts: one.
    let d = domain(
        json!({"storage": [storage_sys("s1", 1000.0, 0.0)],
               "hosts": [host("h1", 4.0, &["s1"])],
               "requests": [req("a", 2.0, 10.0), req("b", 2.0, 10.0)]}),
        Objective::Balance,
        Objective::Balance,
        0.0,
    );
    let cpu = d.resources.iter().position(|r| r == "cpu").unwrap();
    let mut slack = vec![vec![0.0; d.resources.len()]; 1];
    slack[0][cpu] = 2.0;
    let warm = Assignment::empty(2);
    let input = StorageInput {
        d: &d,
        slack: &slack.clone().into(),
        warm: &warm,
    };
    let (r, _) = storage::solve(&input, Stage::Placement, &opts()).unwrap();
    assert!(close(r.objective, 1.0), "{}", r.objective);
}

#[test]
fn host_share_does_not_count_a_shared_host_twice() {
    // One host with room for one VM reaches s1 and s2; without the share each storage system
    // would count the whole host.
    for host_policy in [Objective::Balance, Objective::Pack] {
        let d = domain(
            json!({"storage": [storage_sys("s1", 100.0, 0.0), storage_sys("s2", 100.0, 0.0)],
                   "hosts": [host("h", 4.0, &["s1", "s2"])],
                   "requests": [req("a", 4.0, 10.0), req("b", 4.0, 20.0)]}),
            Objective::Balance,
            host_policy,
            0.0,
        );
        let (r, _) = storage_solve(&d, Stage::Placement);
        assert!(close(r.objective, 1.0), "{host_policy:?}: {}", r.objective);
    }
}

#[test]
fn host_opening_prefers_storage_whose_hosts_already_run() {
    // Host policy pack: s1's host already runs VMs, s2's host is idle. Both storage systems are
    // in use (storage pack costs the same); the look-ahead opening makes s1 cheaper.
    let d = domain(
        json!({"storage": [storage_sys("s2", 100.0, 10.0), storage_sys("s1", 100.0, 10.0)],
               "hosts": [host("idle", 8.0, &["s2"]), busy_host("busy", 8.0, 2.0, &["s1"])],
               "requests": [req("vm", 2.0, 10.0)]}),
        Objective::Pack,
        Objective::Pack,
        0.0,
    );
    let (r, a) = storage_solve(&d, Stage::Policy { min_weight: 1.0 });
    assert_eq!(
        storage_id(&d, a.storage[vmplace_core::domain::RequestIx(0)]),
        Some("s1")
    );
    assert!(
        close(r.objective, 1.0),
        "both in use, nothing opened: {}",
        r.objective
    );
}

#[test]
fn anti_affinity_spread_needs_a_host_per_member_on_one_storage() {
    // Two identical members of a group; s1 has one host with room for both: one only.
    let d = domain(
        json!({"storage": [storage_sys("s1", 100.0, 0.0)],
               "hosts": [host("h1", 16.0, &["s1"])],
               "requests": [grouped("a", 2.0, "g"), grouped("b", 2.0, "g")]}),
        Objective::Balance,
        Objective::Balance,
        0.0,
    );
    let (r, _) = storage_solve(&d, Stage::Placement);
    assert!(close(r.objective, 1.0), "{}", r.objective);
}

#[test]
fn anti_affinity_spread_counts_hosts_any_member_fits() {
    // A big and a small member of one group: only h1 fits the big one, h1 and h2 fit the small
    // one, so both can run on distinct hosts (big on h1, small on h2). The right-hand side must
    // count the hosts that fit some member, not only the first member's.
    let d = domain(
        json!({"storage": [storage_sys("s1", 100.0, 0.0)],
               "hosts": [host("h1", 8.0, &["s1"]), host("h2", 2.0, &["s1"])],
               "requests": [grouped("big", 8.0, "g"), grouped("small", 2.0, "g")]}),
        Objective::Balance,
        Objective::Balance,
        0.0,
    );
    let (r, _) = storage_solve(&d, Stage::Placement);
    assert!(close(r.objective, 2.0), "{}", r.objective);
}

#[test]
fn anti_affinity_spread_counts_only_hosts_a_member_fits() {
    // Two members of cpu 4 fit only h1; h2 fits the ungrouped request `c` but no member, so it
    // does not count for the group: one member and `c` are placed, not both members.
    let d = domain(
        json!({"storage": [storage_sys("s1", 100.0, 0.0)],
               "hosts": [host("h1", 8.0, &["s1"]), host("h2", 1.0, &["s1"])],
               "requests": [grouped("a", 4.0, "g"), grouped("b", 4.0, "g"), req("c", 1.0, 1.0)]}),
        Objective::Balance,
        Objective::Balance,
        0.0,
    );
    let (r, _) = storage_solve(&d, Stage::Placement);
    assert!(close(r.objective, 2.0), "{}", r.objective);
}

#[test]
fn storage_placed_floor_keeps_what_stage_one_placed() {
    // Balance: placing nothing keeps utilisation lowest; the floor makes the stage place it.
    let d = domain(
        json!({"storage": [storage_sys("s1", 100.0, 0.0)],
               "hosts": [host("h1", 8.0, &["s1"])],
               "requests": [req("vm", 1.0, 20.0)]}),
        Objective::Balance,
        Objective::Balance,
        0.0,
    );
    let (r, a) = storage_solve(&d, Stage::Policy { min_weight: 1.0 });
    assert_eq!(placed(&a), 1);
    assert!(close(r.objective, 0.2), "U = {}", r.objective);
}

#[test]
fn storage_balance_minimises_the_highest_utilisation() {
    // s1 already half full: the image goes to s2, and U stays at s1's 0.5.
    let d = domain(
        json!({"storage": [storage_sys("s1", 100.0, 50.0), storage_sys("s2", 100.0, 0.0)],
               "hosts": [host("h1", 8.0, &["s1", "s2"])],
               "requests": [req("vm", 1.0, 20.0)]}),
        Objective::Balance,
        Objective::Balance,
        0.0,
    );
    let (r, a) = storage_solve(&d, Stage::Policy { min_weight: 1.0 });
    assert_eq!(
        storage_id(&d, a.storage[vmplace_core::domain::RequestIx(0)]),
        Some("s2")
    );
    assert!(close(r.objective, 0.5), "U = {}", r.objective);
}

#[test]
fn storage_balance_counts_storage_the_batch_cannot_use() {
    // s1 is 95 % full and cannot take the 20 GiB image; the image goes to s2 (20 %), but the
    // highest utilisation is still s1's.
    let d = domain(
        json!({"storage": [storage_sys("s1", 100.0, 95.0), storage_sys("s2", 100.0, 0.0)],
               "hosts": [host("h1", 8.0, &["s1", "s2"])],
               "requests": [req("vm", 1.0, 20.0)]}),
        Objective::Balance,
        Objective::Balance,
        0.0,
    );
    let (r, a) = storage_solve(&d, Stage::Policy { min_weight: 1.0 });
    assert_eq!(
        storage_id(&d, a.storage[vmplace_core::domain::RequestIx(0)]),
        Some("s2")
    );
    assert!(close(r.objective, 0.95), "U = {}", r.objective);
}

#[test]
fn storage_balance_counts_every_image_on_a_storage() {
    // Two images of 30 GiB: together on one system U = 0.6, apart U = 0.3.
    let d = domain(
        json!({"storage": [storage_sys("s1", 100.0, 0.0), storage_sys("s2", 100.0, 0.0)],
               "hosts": [host("h1", 8.0, &["s1", "s2"])],
               "requests": [req("a", 1.0, 30.0), req("b", 2.0, 30.0)]}),
        Objective::Balance,
        Objective::Balance,
        0.0,
    );
    let (r, a) = storage_solve(&d, Stage::Policy { min_weight: 2.0 });
    assert_ne!(
        a.storage[vmplace_core::domain::RequestIx(0)],
        a.storage[vmplace_core::domain::RequestIx(1)]
    );
    assert!(close(r.objective, 0.3), "U = {}", r.objective);
}

#[test]
fn flexibility_penalty_prefers_a_larger_live_migration_domain() {
    // Both systems in use (storage pack costs the same); s2 reaches three hosts, s1 one.
    let d = domain(
        json!({"storage": [storage_sys("s1", 100.0, 10.0), storage_sys("s2", 100.0, 10.0)],
               "hosts": [host("h1", 8.0, &["s1", "s2"]), host("h2", 8.0, &["s2"]), host("h3", 8.0, &["s2"])],
               "requests": [req("vm", 2.0, 10.0)]}),
        Objective::Pack,
        Objective::Balance,
        1.0,
    );
    let (_, a) = storage_solve(&d, Stage::Policy { min_weight: 1.0 });
    assert_eq!(
        storage_id(&d, a.storage[vmplace_core::domain::RequestIx(0)]),
        Some("s2")
    );
}

// ------------------------------------------------------ migration round (models/migration.md)

fn round_host(p0: f64, always_on: bool, mem: f64) -> RoundHost {
    RoundHost {
        cap: 100.0,
        fixed: 0.0,
        p0,
        p1: p0 + 100.0,
        always_on,
        rest_cap: vec![mem],
        rest_fixed: vec![0.0],
    }
}

fn round_vm(cpu: f64, stay: Option<usize>, targets: &[usize]) -> RoundVm {
    RoundVm {
        cpu,
        peak: cpu,
        stay: stay.map(HostIx),
        targets: targets.iter().map(|&h| HostIx(h)).collect(),
        move_cost: 0.0,
        group: None,
        rest: vec![1.0],
        start: None,
        must_leave: false,
    }
}

fn round(hosts: Vec<RoundHost>, vms: Vec<RoundVm>) -> RoundInput {
    RoundInput {
        hosts: hosts.into(),
        vms,
        group_fixed: Vec::new(),
        rules: Vec::new(),
        theta: 0.8,
        budget: usize::MAX,
        penalty: 10_000.0,
        stuck: 1e6,
    }
}

fn round_solve(input: &RoundInput) -> (MipResult, Vec<Option<HostIx>>) {
    let (r, ends) = migration::solve(input, &opts()).expect("HiGHS runs");
    assert_eq!(r.status, MipStatus::Optimal, "{r:?}");
    (r, ends)
}

#[test]
fn migration_assignment_sends_a_leaving_vm_to_exactly_one_host() {
    // A VM on a host in maintenance (no stay column) must land somewhere.
    let input = round(
        vec![round_host(50.0, true, 10.0), round_host(70.0, true, 10.0)],
        vec![round_vm(10.0, None, &[0, 1])],
    );
    let (r, ends) = round_solve(&input);
    assert_eq!(ends, vec![Some(HostIx(0))]);
    // Both hosts stay on (offset 120 W) plus the dynamic power of 10 % on host 0.
    assert!(close(r.objective, 120.0 + 10.0), "{}", r.objective);
}

#[test]
fn migration_cost_strands_a_vm_that_must_leave_only_when_no_target_takes_it() {
    // The VM on host 0 (in maintenance) must leave; host 1 has 10 GiB, then 0.5.
    let mut vm = round_vm(10.0, Some(0), &[1]);
    vm.must_leave = true;
    let input = round(
        vec![round_host(50.0, false, 10.0), round_host(70.0, true, 10.0)],
        vec![vm.clone()],
    );
    let (r, ends) = round_solve(&input);
    assert_eq!(ends, vec![Some(HostIx(1))]);
    assert!(close(migration::cost(&input, &ends), r.objective));
    // No room on host 1: it stays, at the price of one stranded VM, and the model still answers.
    let input = round(
        vec![round_host(50.0, false, 10.0), round_host(70.0, true, 0.5)],
        vec![vm],
    );
    let (r, ends) = round_solve(&input);
    assert_eq!(ends, vec![Some(HostIx(0))]);
    assert!(r.objective >= 1e6, "{}", r.objective);
    assert!(close(migration::cost(&input, &ends), r.objective));
}

#[test]
fn migration_capacity_keeps_memory_within_the_target() {
    // The cheaper host 0 has 0.5 GiB of memory left; the VM needs 1.
    let input = round(
        vec![round_host(50.0, true, 0.5), round_host(70.0, true, 10.0)],
        vec![round_vm(10.0, None, &[0, 1])],
    );
    let (_, ends) = round_solve(&input);
    assert_eq!(ends, vec![Some(HostIx(1))]);
}

#[test]
fn migration_capacity_prices_cpu_above_the_safe_utilisation() {
    // Two VMs of 50 % CPU: together on host 0 they would pass theta = 0.8 and pay the penalty,
    // so one goes to host 1 although it costs more power.
    let mut a = round_vm(50.0, None, &[0, 1]);
    a.rest = vec![0.0];
    let b = a.clone();
    let input = round(
        vec![round_host(50.0, false, 10.0), round_host(70.0, false, 10.0)],
        vec![a, b],
    );
    let (r, ends) = round_solve(&input);
    assert_ne!(ends[0], ends[1], "{ends:?}");
    assert!(close(r.objective, 50.0 + 70.0 + 100.0), "{}", r.objective);
}

#[test]
fn migration_host_on_switches_on_a_host_that_receives_even_an_idle_vm() {
    // An idle VM (no CPU) leaving a host: whichever host takes it must be on and pay its idle
    // power, the cheaper one.
    let input = round(
        vec![round_host(50.0, false, 10.0), round_host(70.0, false, 10.0)],
        vec![round_vm(0.0, None, &[0, 1])],
    );
    let (r, ends) = round_solve(&input);
    assert_eq!(ends, vec![Some(HostIx(0))]);
    assert!(close(r.objective, 50.0), "{}", r.objective);
}

#[test]
fn migration_anti_affinity_keeps_group_members_apart() {
    // Two members of group 0 leave; host 0 is cheaper but takes one at most.
    let mut a = round_vm(1.0, None, &[0, 1]);
    a.group = Some(0);
    let b = a.clone();
    let input = round(
        vec![round_host(50.0, true, 10.0), round_host(70.0, true, 10.0)],
        vec![a, b],
    );
    let (_, ends) = round_solve(&input);
    assert_ne!(ends[0], ends[1], "{ends:?}");
}

#[test]
fn migration_anti_affinity_avoids_a_host_where_a_member_stays() {
    // A member of group 0 that is no candidate runs on host 0.
    let mut a = round_vm(1.0, None, &[0, 1]);
    a.group = Some(0);
    let mut input = round(
        vec![round_host(50.0, true, 10.0), round_host(70.0, true, 10.0)],
        vec![a],
    );
    input.group_fixed = vec![(0, HostIx(0))];
    let (_, ends) = round_solve(&input);
    assert_eq!(ends, vec![Some(HostIx(1))]);
}

/// A host that stays on, whose dynamic power is `slope` W at full CPU: cheaper hosts, lower slope.
fn sloped(slope: f64) -> RoundHost {
    RoundHost {
        p1: 50.0 + slope,
        ..round_host(50.0, true, 10.0)
    }
}

#[test]
fn migration_group_arrivals_cap_the_members_entering_a_domain() {
    // Racks: hosts 0, 1 in rack 0 (cheap), hosts 2, 3 in rack 1, host 4 (maintenance) in rack 2.
    // Two members of an anti-affinity group (one per rack) leave host 4.
    let hosts: Vec<RoundHost> = [10.0, 10.0, 60.0, 60.0, 90.0]
        .into_iter()
        .map(sloped)
        .collect();
    let vms = vec![
        round_vm(10.0, None, &[0, 1, 2, 3]),
        round_vm(10.0, None, &[0, 1, 2, 3]),
    ];
    let rack = |h: usize| [0, 0, 1, 1, 2][h];
    let rule = |arrivals: [u32; 3]| RoundRule {
        domain_of: std::sync::Arc::new((0..5).map(|h| Some(rack(h))).collect()),
        members: vec![(0, Some(2)), (1, Some(2))],
        fixed: Counts::default(),
        // max 2, less the members at the start: `arrivals` may arrive per rack.
        policy: RoundPolicy::Arrivals(Arrivals {
            max: 2,
            start: Counts::from(arrivals.iter().map(|a| 2 - a).collect::<Vec<u32>>()),
        }),
    };
    let racks =
        |ends: &[Option<HostIx>]| ends.iter().map(|e| rack(e.unwrap().0)).collect::<Vec<_>>();
    // No rule: both take the cheap rack.
    let (_, ends) = round_solve(&round(hosts.clone(), vms.clone()));
    assert_eq!(racks(&ends), vec![0, 0]);
    // One place per rack: one each.
    let mut input = round(hosts.clone(), vms.clone());
    input.rules = vec![rule([1, 1, 0])];
    let (_, ends) = round_solve(&input);
    let mut got = racks(&ends);
    got.sort();
    assert_eq!(got, vec![0, 1], "{ends:?}");
    // A member already fills rack 0: both go to rack 1.
    input.rules = vec![rule([0, 2, 0])];
    let (_, ends) = round_solve(&input);
    assert_eq!(racks(&ends), vec![1, 1], "{ends:?}");
    // That member is a candidate too (it may stay on host 0 or move to host 1): a move inside
    // its own rack is no arrival.
    input.vms.push(round_vm(10.0, Some(0), &[1]));
    let mut r = rule([0, 2, 0]);
    r.members.push((2, Some(0)));
    input.rules = vec![r];
    let (_, ends) = round_solve(&input);
    assert_eq!(racks(&ends), vec![1, 1, 0], "{ends:?}");
}

#[test]
fn migration_group_spread_keeps_the_racks_within_the_skew() {
    // Two members leave host 0 (rack 0, in maintenance: no room): host 1 (rack 1) is cheap,
    // host 2 (rack 2) dear. Racks 1 and 2 may differ by one member: one each.
    let hosts = vec![sloped(90.0), sloped(10.0), sloped(60.0)];
    let vms = vec![round_vm(10.0, None, &[1, 2]), round_vm(10.0, None, &[1, 2])];
    let (_, ends) = round_solve(&round(hosts.clone(), vms.clone()));
    assert_eq!(ends, vec![Some(HostIx(1)), Some(HostIx(1))]);
    let spread = |fixed: Vec<u32>, skew: u32| RoundRule {
        domain_of: std::sync::Arc::new(vec![Some(0), Some(1), Some(2)].into()),
        members: vec![(0, Some(0)), (1, Some(0))],
        fixed: Counts::from(fixed),
        policy: RoundPolicy::Spread {
            room: std::sync::Arc::new(vec![false, true, true]),
            rooms: 2,
            skew,
        },
    };
    let mut input = round(hosts, vms);
    input.rules = vec![spread(vec![0, 0, 0], 1)];
    let (_, ends) = round_solve(&input);
    let mut got = ends.clone();
    got.sort();
    assert_eq!(got, vec![Some(HostIx(1)), Some(HostIx(2))], "{ends:?}");
    // A member that stays in rack 2 already: both may take rack 1 (2 against 1).
    input.rules = vec![spread(vec![0, 0, 1], 1)];
    let (_, ends) = round_solve(&input);
    assert_eq!(ends, vec![Some(HostIx(1)), Some(HostIx(1))]);
    // Rack 1 holds two that stay: the skew keeps both out of it.
    input.rules = vec![spread(vec![0, 2, 0], 1)];
    let (_, ends) = round_solve(&input);
    assert_eq!(ends, vec![Some(HostIx(2)), Some(HostIx(2))]);
}

#[test]
fn migration_group_affinity_ends_the_members_in_as_few_domains_as_they_started() {
    // a may stay on host 0 (rack 0, dear) or move to host 1 (rack 1, cheap); b stays in rack 0.
    let hosts = vec![sloped(90.0), sloped(10.0)];
    let vms = vec![round_vm(10.0, Some(0), &[1])];
    let (_, ends) = round_solve(&round(hosts.clone(), vms.clone()));
    assert_eq!(ends, vec![Some(HostIx(1))]);
    let together = |fixed: Vec<u32>, most: u32| RoundRule {
        domain_of: std::sync::Arc::new(vec![Some(0), Some(1)].into()),
        members: vec![(0, Some(0))],
        fixed: Counts::from(fixed),
        policy: RoundPolicy::Together(most),
    };
    let mut input = round(hosts, vms);
    input.rules = vec![together(vec![1, 0], 1)];
    let (_, ends) = round_solve(&input);
    assert_eq!(ends, vec![Some(HostIx(0))], "a stays with b");
    // Alone, a may go: the group is still in one rack.
    input.rules = vec![together(vec![0, 0], 1)];
    let (_, ends) = round_solve(&input);
    assert_eq!(ends, vec![Some(HostIx(1))]);
    // Started in two racks (b in rack 0, c in rack 1): a may join c.
    input.rules = vec![together(vec![1, 1], 2)];
    let (_, ends) = round_solve(&input);
    assert_eq!(ends, vec![Some(HostIx(1))]);
}

#[test]
fn migration_budget_caps_the_moves() {
    // Two VMs on two hosts would consolidate onto host 0 (saving host 1's idle power); with a
    // budget of one move, one moves, and with none, neither.
    for (budget, moves) in [(usize::MAX, 1), (1, 1), (0, 0)] {
        let input = RoundInput {
            budget,
            ..round(
                vec![round_host(50.0, false, 10.0), round_host(70.0, false, 10.0)],
                vec![round_vm(10.0, Some(0), &[1]), round_vm(10.0, Some(1), &[0])],
            )
        };
        let (_, ends) = round_solve(&input);
        let moved = ends
            .iter()
            .zip(&input.vms)
            .filter(|(e, vm)| **e != vm.stay)
            .count();
        assert_eq!(moved, moves, "budget {budget}: {ends:?}");
    }
}

#[test]
fn migration_cost_weighs_idle_power_against_move_cost() {
    // Consolidating saves host 1's 70 W idle power; a move cost of 100 W-equivalent outweighs it.
    for (move_cost, stays) in [(0.0, false), (100.0, true)] {
        let mut vm = round_vm(10.0, Some(1), &[0]);
        vm.move_cost = move_cost;
        let input = round(
            vec![round_host(50.0, true, 10.0), round_host(70.0, false, 10.0)],
            vec![vm],
        );
        let (r, ends) = round_solve(&input);
        assert_eq!(
            ends[0] == Some(HostIx(1)),
            stays,
            "move cost {move_cost}: {ends:?}"
        );
        let want = if stays {
            50.0 + 70.0 + 10.0
        } else {
            50.0 + 10.0
        };
        assert!(close(r.objective, want), "{}", r.objective);
        assert!(close(migration::cost(&input, &ends), r.objective));
    }
}

#[test]
fn migration_capacity_counts_what_staying_vms_use() {
    // Host 0 is cheaper, but VMs that stay there use 9.5 of its 10 GiB: the VM (1 GiB) goes to 1.
    let mut cheap = round_host(50.0, true, 10.0);
    cheap.rest_fixed = vec![9.5];
    let input = round(
        vec![cheap, round_host(70.0, true, 10.0)],
        vec![round_vm(10.0, None, &[0, 1])],
    );
    let (_, ends) = round_solve(&input);
    assert_eq!(ends, vec![Some(HostIx(1))]);
}

#[test]
fn migration_capacity_pays_the_overload_when_there_is_no_other_host() {
    // A 90 % VM must leave, and its only target's safe utilisation is 80 %: it goes there and
    // the model pays for the 10 % above (10,000 W per unit of capacity, so 1,000 W).
    let mut vm = round_vm(90.0, None, &[0]);
    vm.rest = vec![0.0];
    let input = round(vec![round_host(50.0, true, 10.0)], vec![vm]);
    let (r, ends) = round_solve(&input);
    assert_eq!(ends, vec![Some(HostIx(0))]);
    assert!(close(r.objective, 50.0 + 90.0 + 1000.0), "{}", r.objective);
}

#[test]
fn migration_capacity_counts_the_expected_cpu_of_vms_that_stay() {
    // Host 0 is cheaper but already expects 50 % from VMs that stay (whether it must stay on or
    // may go off): a 40 % VM would take it past 80 %, so it goes to host 1.
    for always_on in [true, false] {
        let mut busy = round_host(50.0, always_on, 10.0);
        busy.fixed = 50.0;
        let mut vm = round_vm(40.0, None, &[0, 1]);
        vm.rest = vec![0.0];
        let input = round(vec![busy, round_host(60.0, false, 10.0)], vec![vm]);
        let (r, ends) = round_solve(&input);
        assert_eq!(ends, vec![Some(HostIx(1))], "always on: {always_on}");
        // Host 0 stays on for its own VMs (50 W), host 1 runs the VM (60 W + 40 W).
        assert!(close(r.objective, 150.0), "{}", r.objective);
    }
}

#[test]
fn storage_candidates_take_an_image_that_fills_the_free_space_exactly() {
    let d = domain(
        json!({"storage": [storage_sys("s1", 100.0, 60.0)],
               "hosts": [host("h1", 8.0, &["s1"])],
               "requests": [req("vm", 1.0, 40.0)]}),
        Objective::Balance,
        Objective::Balance,
        0.0,
    );
    let (r, _) = storage_solve(&d, Stage::Placement);
    assert!(close(r.objective, 1.0), "{}", r.objective);
}

#[test]
fn storage_candidates_bound_copies_in_the_relaxation_and_count_exact_fits() {
    // Three 40 GiB images, 100 GiB free: the capacity row alone lets the LP place 2.5; the
    // column's bound (whole images that fit) keeps it at 2.
    let three = json!({"storage": [storage_sys("s1", 100.0, 0.0)],
           "hosts": [host("h1", 64.0, &["s1"])],
           "requests": [req("a", 1.0, 40.0), req("b", 1.0, 40.0), req("c", 1.0, 40.0)]});
    let d = domain(three, Objective::Balance, Objective::Balance, 0.0);
    let slack = vec![vec![0.0; d.resources.len()]; 1];
    let warm = Assignment::empty(3);
    let input = StorageInput {
        d: &d,
        slack: &slack.clone().into(),
        warm: &warm,
    };
    let relaxed = MipOptions {
        relax: true,
        ..opts()
    };
    let (r, _) = storage::solve(&input, Stage::Placement, &relaxed).unwrap();
    assert!(close(r.objective, 2.0), "{}", r.objective);
    // Two 50 GiB images fill 100 GiB exactly: both.
    let d = domain(
        json!({"storage": [storage_sys("s1", 100.0, 0.0)],
               "hosts": [host("h1", 64.0, &["s1"])],
               "requests": [req("a", 1.0, 50.0), req("b", 1.0, 50.0)]}),
        Objective::Balance,
        Objective::Balance,
        0.0,
    );
    let (r, _) = storage_solve(&d, Stage::Placement);
    assert!(close(r.objective, 2.0), "{}", r.objective);
}

#[test]
fn storage_model_has_rows_only_where_they_bind() {
    // One CPU-only request, one storage system, one host: y, and one look-ahead share for CPU
    // (memory is not demanded). Rows: the storage's capacity, CPU look-ahead, CPU share; no
    // assignment row for a single column.
    let d = domain(
        json!({"storage": [storage_sys("s1", 100.0, 0.0)],
               "hosts": [host("h1", 8.0, &["s1"])],
               "requests": [{"id": "vm", "demand": {"cpu": 2}, "disk_gib": 10}]}),
        Objective::Balance,
        Objective::Balance,
        0.0,
    );
    let (r, _) = storage_solve(&d, Stage::Placement);
    assert_eq!(
        (r.size.variables, r.size.constraints),
        (2, 3),
        "{:?}",
        r.size
    );
}

#[test]
fn storage_balance_counts_what_a_storage_already_holds() {
    // s1 holds 50 GiB, s2 40 GiB: a 30 GiB image on s2 gives U = 0.7, on s1 0.8.
    let d = domain(
        json!({"storage": [storage_sys("s1", 100.0, 50.0), storage_sys("s2", 100.0, 40.0)],
               "hosts": [host("h1", 8.0, &["s1", "s2"])],
               "requests": [req("vm", 1.0, 30.0)]}),
        Objective::Balance,
        Objective::Balance,
        0.0,
    );
    let (r, a) = storage_solve(&d, Stage::Policy { min_weight: 1.0 });
    assert_eq!(
        storage_id(&d, a.storage[vmplace_core::domain::RequestIx(0)]),
        Some("s2")
    );
    assert!(close(r.objective, 0.7), "U = {}", r.objective);
}

#[test]
fn host_balance_counts_what_a_host_already_runs() {
    // h1 runs 5 of 10 CPUs, h2 4: a 3-CPU VM on h2 gives U = 0.7, on h1 0.8.
    let d = domain(
        json!({"storage": [storage_sys("s1", 100.0, 0.0)],
               "hosts": [busy_host("h1", 10.0, 5.0, &["s1"]), busy_host("h2", 10.0, 4.0, &["s1"])],
               "requests": [{"id": "vm", "demand": {"cpu": 3}, "disk_gib": 1, "storage": "s1"}]}),
        Objective::Balance,
        Objective::Balance,
        0.0,
    );
    let (r, a) = host_solve(&d, Stage::Policy { min_weight: 1.0 });
    assert_eq!(
        host_id(&d, a.host[vmplace_core::domain::RequestIx(0)]),
        Some("h2")
    );
    assert!(close(r.objective, 0.7), "U = {}", r.objective);
}

#[test]
fn presolve_runs_only_when_the_time_limit_leaves_it_room() {
    use vmplace_core::model::presolve_allowed;
    // The 10,000-request storage model (132,650 columns): not on a 0.26 s or 15 s limit, from
    // 16 s on (its worst presolve, 4 s, is a quarter of that).
    assert!(!presolve_allowed(true, 0.26, 132_650));
    assert!(!presolve_allowed(true, 15.9, 132_650));
    assert!(presolve_allowed(true, 16.0, 132_650));
    // Twice the columns need four times the limit.
    assert!(!presolve_allowed(true, 63.9, 265_300));
    assert!(presolve_allowed(true, 64.0, 265_300));
    // The 100,000-request model (924,642 columns) on 43 s: no presolve (it took 256 s).
    assert!(!presolve_allowed(true, 43.0, 924_642));
    // Small models always, unless the caller turns it off (LNS neighbourhoods).
    assert!(presolve_allowed(true, 0.05, 3_463));
    assert!(!presolve_allowed(false, 100.0, 10));
}

/// The energy floor's MIP on one G4-like type (86 W idle, 117 W full, linear).
fn floor_of(count: usize, demand: f64) -> f64 {
    use vmplace_core::model::floor::{min_power, HostType};
    let watts: Vec<f64> = (0..11).map(|i| 86.0 + 3.1 * i as f64).collect();
    let types = [HostType {
        count,
        mips: 3720.0,
        watts,
    }];
    min_power(&types, demand, &opts()).unwrap()
}

#[test]
fn floor_demand_makes_hosts_serve_the_demand() {
    // Without the row nothing need run: 0 W.
    let w = floor_of(4, 2250.0);
    assert!((w - (86.0 + 31.0 * 2250.0 / 3720.0)).abs() < 1e-6, "{w}");
}

#[test]
fn floor_capacity_needs_two_hosts_past_one_hosts_mips() {
    // 5000 MIPS need two 3720-MIPS hosts: two idle powers, not one.
    let w = floor_of(4, 5000.0);
    assert!(
        (w - (2.0 * 86.0 + 31.0 * 5000.0 / 3720.0)).abs() < 1e-6,
        "{w}"
    );
    // Capped at the pool's capacity: one host, full.
    assert!((floor_of(1, 9999.0) - 117.0).abs() < 1e-6);
}

#[test]
fn floor_envelope_charges_the_curve_below_its_table() {
    use vmplace_core::model::floor::{envelope, min_power, HostType};
    // A table above its chord at 50 %: the envelope is the chord, 100 + 50 u.
    let mut watts: Vec<f64> = (0..11).map(|i| 100.0 + 5.0 * i as f64).collect();
    watts[5] = 140.0;
    assert_eq!(envelope(&watts).len(), 1);
    let types = [HostType {
        count: 1,
        mips: 1000.0,
        watts,
    }];
    let w = min_power(&types, 500.0, &opts()).unwrap();
    assert!((w - 125.0).abs() < 1e-6, "{w}");
}

#[test]
fn floor_envelope_is_the_lower_hull_of_the_power_table() {
    use vmplace_core::model::floor::{envelope, hull};
    let near = |a: &[(f64, f64)], b: &[(f64, f64)]| {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(p, q)| (p.0 - q.0).abs() < 1e-9 && (p.1 - q.1).abs() < 1e-9)
    };
    // G5: (0.2, 101) lies on the segment from (0.1, 97) to (0.3, 105) and is dropped; every point
    // after 0.3 lies above the chord to (1, 135).
    let g5 = vmplace_core::sim::G5_WATTS;
    let h = hull(&g5);
    assert!(
        near(&h, &[(0.0, 93.7), (0.1, 97.0), (0.3, 105.0), (1.0, 135.0)]),
        "{h:?}"
    );
    // A convex table is its own hull; a one-point table is that point.
    let convex: Vec<f64> = (0..11).map(|i| 50.0 + (i * i) as f64).collect();
    assert_eq!(hull(&convex).len(), 11);
    assert!(near(&hull(&[70.0]), &[(0.0, 70.0)]));
    // The envelope's lines pass through consecutive hull points.
    let lines = envelope(&g5);
    assert_eq!(lines.len(), 3);
    assert!((lines[0].intercept - 93.7).abs() < 1e-9 && (lines[0].slope - 33.0).abs() < 1e-9);
    assert!((lines[2].slope - 30.0 / 0.7).abs() < 1e-9);
    assert!((lines[1].intercept - (97.0 - 40.0 * 0.1)).abs() < 1e-9);
    assert!((lines[2].intercept - (105.0 - 30.0 / 0.7 * 0.3)).abs() < 1e-9);
    // A point below its chord by rounding noise only (relative to the watts) is no vertex.
    assert_eq!(hull(&[0.0, 0.005 - 5e-10, 0.01]).len(), 2);
    assert_eq!(hull(&[0.0, 500.0 - 2e-8, 1000.0]).len(), 2);
    // One clearly below it is.
    assert_eq!(hull(&[0.0, 0.004, 0.01]).len(), 3);
}

// Restart after failures (model::restart): each family's rows decide the count.

fn restart_vm(demand: f64, eligible: &[usize], group: Option<usize>) -> RestartVm {
    RestartVm {
        demand: vec![demand],
        eligible: eligible.iter().map(|&h| HostIx(h)).collect(),
        group,
    }
}

fn restart_count(free: &[f64], vms: &[RestartVm]) -> vmplace_core::model::restart::Restarts {
    restart_ruled(free, vms, &[])
}

fn restart_ruled(
    free: &[f64],
    vms: &[RestartVm],
    rules: &[RestartRule],
) -> vmplace_core::model::restart::Restarts {
    let free: IxVec<HostIx, Vec<f64>> = free.iter().map(|f| vec![*f]).collect();
    restart::restart(&free, vms, rules, &vec![None; vms.len()], &opts()).expect("solves")
}

/// Four hosts of free 10, in racks 0, 0, 1, 1; three VMs of 1 that may restart anywhere.
fn racked_restart(policy: RestartPolicy) -> (Vec<RestartVm>, Vec<RestartRule>) {
    let vms = (0..3)
        .map(|_| restart_vm(1.0, &[0, 1, 2, 3], None))
        .collect();
    let rule = RestartRule {
        domain_of: std::sync::Arc::new(vec![Some(0), Some(0), Some(1), Some(1)].into()),
        members: vec![0, 1, 2],
        policy,
    };
    (vms, vec![rule])
}

fn racks_of(r: &vmplace_core::model::restart::Restarts) -> Vec<usize> {
    let mut racks: Vec<usize> = r.host_of.iter().flatten().map(|&h| h.0 / 2).collect();
    racks.sort();
    racks
}

#[test]
fn restart_group_arrivals_cap_the_members_restarting_in_a_rack() {
    // Rack 0 has room for one more member, rack 1 for one: two of three restart, one per rack.
    // max 1, no survivor: one place per rack.
    let arrivals = |max: u32, present: Vec<u32>| RestartPolicy::Arrivals {
        max,
        present: Counts::from(present),
    };
    let (vms, rules) = racked_restart(arrivals(1, vec![0, 0]));
    let r = restart_ruled(&[10.0; 4], &vms, &rules);
    assert_eq!(racks_of(&r), vec![0, 1]);
    assert_eq!((r.bound, r.proven), (2, true));
    // Rack 0 full: one restarts, in rack 1... with two places there, two.
    let (vms, rules) = racked_restart(arrivals(2, vec![2, 0]));
    let r = restart_ruled(&[10.0; 4], &vms, &rules);
    assert_eq!(racks_of(&r), vec![1, 1]);
}

#[test]
fn restart_group_together_keeps_the_members_in_one_rack() {
    // Each host has room for one VM only: rack 0 takes two, so one of three stays down.
    let (vms, rules) = racked_restart(RestartPolicy::Together);
    let r = restart_ruled(&[1.0; 4], &vms, &rules);
    let racks = racks_of(&r);
    assert_eq!(racks.len(), 2, "{r:?}");
    assert_eq!(racks[0], racks[1]);
    assert!(r.proven);
    // Without the rule all three restart.
    assert_eq!(
        restart_count(&[1.0; 4], &vms)
            .host_of
            .iter()
            .flatten()
            .count(),
        3
    );
}

#[test]
fn restart_group_spread_keeps_the_racks_within_the_skew() {
    // Rack 0 runs two surviving members, rack 1 none; skew 2. When rack 1's hosts take one VM
    // each, all three restart (3 against 2). When rack 1 takes none, rack 0 may not grow past
    // 0 + 2: none restarts, proven.
    let spread = |present: Vec<u32>| RestartPolicy::Spread {
        present: Counts::from(present),
        room: std::sync::Arc::new(vec![true, true]),
        rooms: 2,
        skew: 2,
    };
    let (vms, rules) = racked_restart(spread(vec![2, 0]));
    let r = restart_ruled(&[10.0, 10.0, 1.0, 1.0], &vms, &rules);
    assert_eq!(racks_of(&r), vec![0, 1, 1]);
    let r = restart_ruled(&[10.0, 10.0, 0.0, 0.0], &vms, &rules);
    assert_eq!(r.host_of.iter().flatten().count(), 0, "{r:?}");
    assert!(r.proven);
    // Balanced survivors: up to the skew in either rack.
    let (vms, rules) = racked_restart(spread(vec![1, 1]));
    let r = restart_ruled(&[10.0, 10.0, 0.0, 0.0], &vms, &rules);
    assert_eq!(racks_of(&r), vec![0, 0]);
}

#[test]
fn restart_once_counts_a_vm_once_even_where_it_fits_everywhere() {
    // v0 asks for nothing and may go to any of three hosts; v1 fits nowhere. One VM restarts,
    // and that is proven: counted once per host, the bound would say two.
    let r = restart_count(
        &[4.0, 4.0, 4.0],
        &[
            restart_vm(0.0, &[0, 1, 2], None),
            restart_vm(5.0, &[0], None),
        ],
    );
    assert_eq!(
        r.host_of,
        vec![Some(r.host_of[0].expect("v0 restarts")), None]
    );
    assert_eq!((r.bound, r.proven), (1, true));
}

#[test]
fn restart_capacity_keeps_each_host_within_its_free_capacity() {
    // Two VMs of 3 on a host with 4 free: one restarts.
    let r = restart_count(
        &[4.0],
        &[restart_vm(3.0, &[0], None), restart_vm(3.0, &[0], None)],
    );
    assert_eq!(r.host_of.iter().flatten().count(), 1);
    assert_eq!((r.bound, r.proven), (1, true));
    // On two hosts, both do, one on each.
    let r = restart_count(
        &[4.0, 4.0],
        &[
            restart_vm(3.0, &[0, 1], None),
            restart_vm(3.0, &[0, 1], None),
        ],
    );
    assert_eq!(r.host_of.iter().flatten().count(), 2);
    assert_ne!(r.host_of[0], r.host_of[1]);
}

#[test]
fn restart_anti_affinity_puts_one_member_per_host() {
    // Both members fit on the one host together, but they are in one group.
    let r = restart_count(
        &[10.0],
        &[
            restart_vm(1.0, &[0], Some(0)),
            restart_vm(1.0, &[0], Some(0)),
        ],
    );
    assert_eq!(r.host_of.iter().flatten().count(), 1);
    assert_eq!((r.bound, r.proven), (1, true));
    // Members of different groups share it.
    let r = restart_count(
        &[10.0],
        &[
            restart_vm(1.0, &[0], Some(0)),
            restart_vm(1.0, &[0], Some(1)),
        ],
    );
    assert_eq!(r.host_of.iter().flatten().count(), 2);
}

// A mix of flavors (model::mix): each family's rows decide the sets.

fn mix_sets(host_free: &[Vec<f64>], storage_free: &[f64], flavors: &[(f64, f64, usize)]) -> usize {
    let links: Vec<Vec<usize>> = host_free
        .iter()
        .map(|_| (0..storage_free.len()).collect())
        .collect();
    let flavors: Vec<MixFlavor> = flavors
        .iter()
        .map(|&(cpu, disk, share)| MixFlavor {
            demand: vec![cpu],
            disk_gib: disk,
            share,
        })
        .collect();
    let input = MixInput {
        host_free,
        storage_free,
        links: &links,
        flavors: &flavors,
        max_sets: 1000,
    };
    let m = mix::mix(&input, &opts()).expect("solves");
    assert_eq!(m.bound, m.sets, "proven");
    m.sets
}

#[test]
fn mix_host_capacity_shares_a_host_among_the_flavors() {
    // 4 CPUs: one of 2 and one of 1 per set, so one set (alone, each flavor would fit 2 and 4).
    assert_eq!(
        mix_sets(&[vec![4.0]], &[1e6], &[(2.0, 1.0, 1), (1.0, 1.0, 1)]),
        1
    );
}

#[test]
fn mix_storage_capacity_shares_the_storage_among_the_flavors() {
    // 100 GiB, images of 30: one set of two (alone, each flavor would fit 3).
    assert_eq!(
        mix_sets(&[vec![1e3]], &[100.0], &[(1.0, 30.0, 1), (1.0, 30.0, 1)]),
        1
    );
}

#[test]
fn mix_ratio_asks_each_flavor_for_its_share_of_every_set() {
    // 6 CPUs, two of 1 and one of 2 per set (4 CPUs): one set; without the ratio, any number.
    assert_eq!(
        mix_sets(&[vec![6.0]], &[1e6], &[(1.0, 1.0, 2), (2.0, 1.0, 1)]),
        1
    );
    // 8 CPUs: two sets.
    assert_eq!(
        mix_sets(&[vec![8.0]], &[1e6], &[(1.0, 1.0, 2), (2.0, 1.0, 1)]),
        2
    );
}

// Overcommit and reservations (issue 12): the usable capacity, (capacity - reserved) * ratio, is
// what the capacity rows of both phases hold to.

#[test]
fn host_capacity_holds_the_overcommitted_capacity() {
    // 4 CPUs at a ratio of 2: both VMs of 4 CPUs fit; at the default ratio of 1 only one does.
    let doc = |ratio: Value| {
        json!({"storage": [storage_sys("s", 100.0, 0.0)],
               "hosts": [{"id": "h", "capacity": {"cpu": 4, "memory_gib": 1000}, "storage": ["s"],
                          "allocation_ratio": ratio}],
               "requests": [on("a", 4.0, "s"), on("b", 4.0, "s")]})
    };
    let d = domain(
        doc(json!({"cpu": 2.0})),
        Objective::Balance,
        Objective::Balance,
        0.0,
    );
    let (_, a) = host_solve(&d, Stage::Placement);
    assert_eq!(hosted(&a), 2);
    let d = domain(doc(json!({})), Objective::Balance, Objective::Balance, 0.0);
    let (_, a) = host_solve(&d, Stage::Placement);
    assert_eq!(hosted(&a), 1);
}

#[test]
fn host_capacity_holds_back_the_reservation_before_the_ratio() {
    // 10 CPUs, 2 reserved, ratio 1.5: (10 - 2) * 1.5 = 12 usable, so 12 fits and 13 does not.
    let doc = |cpu: f64| {
        json!({"storage": [storage_sys("s", 100.0, 0.0)],
               "hosts": [{"id": "h", "capacity": {"cpu": 10, "memory_gib": 1000}, "storage": ["s"],
                          "reserved": {"cpu": 2}, "allocation_ratio": {"cpu": 1.5}}],
               "requests": [on("a", cpu, "s")]})
    };
    for (cpu, fits) in [(12.0, 1), (13.0, 0)] {
        let d = domain(doc(cpu), Objective::Balance, Objective::Balance, 0.0);
        let (_, a) = host_solve(&d, Stage::Placement);
        assert_eq!(hosted(&a), fits, "{cpu} CPUs");
    }
}

#[test]
fn storage_capacity_holds_the_thin_provisioned_space() {
    // 100 GiB at a ratio of 2 hold two images of 100; 100 GiB with 50 reserved hold none of 60.
    let doc = |storage: Value, disk: f64| {
        json!({"storage": [storage],
               "hosts": [host("h", 1000.0, &["s"])],
               "requests": [req("a", 1.0, disk), req("b", 1.0, disk)]})
    };
    let thin = json!({"id": "s", "capacity_gib": 100, "allocation_ratio": 2.0});
    let d = domain(
        doc(thin, 100.0),
        Objective::Balance,
        Objective::Balance,
        0.0,
    );
    let (_, a) = storage_solve(&d, Stage::Placement);
    assert_eq!(placed(&a), 2);
    let held = json!({"id": "s", "capacity_gib": 100, "reserved_gib": 50});
    let d = domain(doc(held, 60.0), Objective::Balance, Objective::Balance, 0.0);
    let (_, a) = storage_solve(&d, Stage::Placement);
    assert_eq!(placed(&a), 0);
}

// Traits (issue 12): a host trait rule is a rule dimension of the domain, so the variable domain
// of `host_connectivity` (and phase 1's `storage_candidates`, through the static reach) holds
// it; storage traits are `storage_traits`, in the same variable domain of phase 1.

fn with_traits(mut v: Value, traits: &[&str]) -> Value {
    v["traits"] = json!(traits);
    v
}

#[test]
fn host_traits_offer_only_hosts_with_every_required_trait() {
    // h1 is roomier, but only h2 has the GPU the VM requires: one column, on h2.
    let mut vm = on("vm", 4.0, "s");
    vm["required_traits"] = json!(["HW_GPU"]);
    let d = domain(
        json!({"storage": [storage_sys("s", 100.0, 0.0)],
               "hosts": [with_traits(host("h1", 64.0, &["s"]), &["AVX512"]),
                         with_traits(host("h2", 8.0, &["s"]), &["HW_GPU", "AVX512"])],
               "requests": [vm]}),
        Objective::Balance,
        Objective::Balance,
        0.0,
    );
    let (r, a) = host_solve(&d, Stage::Placement);
    assert_eq!(
        host_id(&d, a.host[vmplace_core::domain::RequestIx(0)]),
        Some("h2")
    );
    assert_eq!(r.size.variables, 1, "{:?}", r.size);
    // The rule dimension adds no capacity row: h2's CPU and memory only.
    assert_eq!(r.size.constraints, 2, "{:?}", r.size);
}

#[test]
fn host_traits_keep_a_vm_off_hosts_with_a_forbidden_trait() {
    // Two VMs forbid spot hosts: the one regular host takes one of them (8 CPUs), whatever room
    // the spot host has.
    let mut a = on("a", 8.0, "s");
    a["forbidden_traits"] = json!(["SPOT"]);
    let mut b = on("b", 8.0, "s");
    b["forbidden_traits"] = json!(["SPOT"]);
    let d = domain(
        json!({"storage": [storage_sys("s", 100.0, 0.0)],
               "hosts": [host("h1", 8.0, &["s"]), with_traits(host("h2", 64.0, &["s"]), &["SPOT"])],
               "requests": [a, b]}),
        Objective::Balance,
        Objective::Balance,
        0.0,
    );
    let (r, a) = host_solve(&d, Stage::Placement);
    assert_eq!(hosted(&a), 1);
    assert!(close(r.objective, 1.0));
    assert!(a
        .host
        .iter()
        .flatten()
        .all(|&h| host_id(&d, Some(h)) == Some("h1")));
}

#[test]
fn storage_candidates_offer_only_storage_whose_hosts_have_the_traits() {
    // Phase 1 looks ahead through the host traits: s1 has the most room, but none of its hosts
    // has the GPU; s2's host does, so the image goes to s2.
    let mut vm = req("vm", 4.0, 10.0);
    vm["required_traits"] = json!(["HW_GPU"]);
    let d = domain(
        json!({"storage": [storage_sys("s1", 1000.0, 0.0), storage_sys("s2", 100.0, 50.0)],
               "hosts": [host("h1", 64.0, &["s1"]), with_traits(host("h2", 8.0, &["s2"]), &["HW_GPU"])],
               "requests": [vm]}),
        Objective::Balance,
        Objective::Balance,
        0.0,
    );
    let (r, a) = storage_solve(&d, Stage::Placement);
    assert_eq!(
        storage_id(&d, a.storage[vmplace_core::domain::RequestIx(0)]),
        Some("s2")
    );
    assert!(close(r.objective, 1.0));
}

#[test]
fn storage_traits_offer_only_storage_with_the_storage_traits() {
    // Balance would pick the emptier s1; the VM requires SSD storage (s2) and forbids
    // replicated storage (s3), so only s2 is a candidate: one storage column.
    let mut vm = req("vm", 4.0, 10.0);
    vm["storage_required_traits"] = json!(["SSD"]);
    vm["storage_forbidden_traits"] = json!(["REPLICATED"]);
    let d = domain(
        json!({"storage": [storage_sys("s1", 1000.0, 0.0),
                           with_traits(storage_sys("s2", 100.0, 50.0), &["SSD"]),
                           with_traits(storage_sys("s3", 1000.0, 0.0), &["SSD", "REPLICATED"])],
               "hosts": [host("h1", 64.0, &["s1", "s2", "s3"])],
               "requests": [vm]}),
        Objective::Balance,
        Objective::Balance,
        0.0,
    );
    let (r, a) = storage_solve(&d, Stage::Placement);
    assert_eq!(
        storage_id(&d, a.storage[vmplace_core::domain::RequestIx(0)]),
        Some("s2")
    );
    assert!(close(r.objective, 1.0));
    // y[vm, s2] and one look-ahead share column per resource of h1 for s2.
    assert_eq!(r.size.variables, 1 + 2, "{:?}", r.size);
    let (_, a) = storage_solve(&d, Stage::Policy { min_weight: 1.0 });
    assert_eq!(
        storage_id(&d, a.storage[vmplace_core::domain::RequestIx(0)]),
        Some("s2")
    );
}

// ---- Packing by column generation: the pattern master (models/host.md) ----

use vmplace_core::model::patterns::{MasterInput, Pattern, PatternMaster};

fn master(
    demand: &[f64],
    hosts: &[f64],
    cost: &[f64],
    patterns: &[(usize, &[(usize, u32)])],
) -> PatternMaster {
    let mut m = PatternMaster::new(MasterInput {
        demand: demand.to_vec(),
        unplaced_cost: demand.iter().map(|_| 100.0).collect(),
        hosts: hosts.to_vec(),
        host_cost: cost.to_vec(),
    });
    for (class, counts) in patterns {
        m.add(Pattern {
            class: *class,
            counts: counts.to_vec(),
        });
    }
    m
}

#[test]
fn pattern_cover_needs_every_vm_covered() {
    // Three VMs of one flavor, hosts that hold two: the LP uses one and a half hosts, the integer
    // master two. Without the cover rows nothing would be opened.
    let mut m = master(&[3.0], &[5.0], &[1.0], &[(0, &[(0, 2)])]);
    let lp = m.solve_lp(&opts()).unwrap().expect("LP solved");
    assert!(close(lp.objective, 1.5), "{}", lp.objective);
    assert!(lp.cover[0] > 0.4, "the cover row binds: {:?}", lp.cover);
    let int = m.solve_integer(&[0], &opts()).unwrap();
    assert_eq!(int.status, MipStatus::Optimal);
    assert_eq!(int.uses, vec![2]);
    assert!(close(int.objective, 2.0));
}

#[test]
fn pattern_hosts_limits_each_class_to_its_hosts() {
    // One running host (cost 0) holds three VMs, idle hosts (cost 1) hold one: four VMs need the
    // running host once and one idle host. Without the class rows the running host would be
    // used twice at no cost.
    let mut m = master(
        &[4.0],
        &[1.0, 10.0],
        &[0.0, 1.0],
        &[(0, &[(0, 3)]), (1, &[(0, 1)])],
    );
    let lp = m.solve_lp(&opts()).unwrap().expect("LP solved");
    assert!(close(lp.objective, 1.0), "{}", lp.objective);
    assert!(
        lp.hosts[0] < -0.5,
        "the running class's row binds: {:?}",
        lp.hosts
    );
    let int = m.solve_integer(&[0, 0], &opts()).unwrap();
    assert_eq!(int.uses, vec![1, 1]);
    assert!(close(int.objective, 1.0));
}

#[test]
fn pattern_master_leaves_unplaced_what_no_class_can_take() {
    // Four VMs, one host of three: one VM stays unplaced at its cost (100 here).
    let mut m = master(&[4.0], &[1.0], &[1.0], &[(0, &[(0, 3)])]);
    let int = m.solve_integer(&[1], &opts()).unwrap();
    assert_eq!(int.uses, vec![1]);
    assert!(close(int.objective, 101.0), "{}", int.objective);
    let lp = m.solve_lp(&opts()).unwrap().expect("LP solved");
    assert!(close(lp.objective, 101.0), "{}", lp.objective);
}

// ---- The joint model (models/joint.md) ----

use vmplace_core::model::joint::{self, JointInput};

fn joint_solve(d: &Domain, stage: Stage) -> (MipResult, Assignment) {
    let warm = Assignment::empty(d.requests.len());
    joint::solve(&JointInput { d, warm: &warm }, stage, &opts()).unwrap()
}

fn joint_doc(storage: Vec<Value>, hosts: Vec<Value>, requests: Vec<Value>) -> Domain {
    domain(
        json!({"storage": storage, "hosts": hosts, "requests": requests}),
        Objective::Balance,
        Objective::Pack,
        0.0,
    )
}

#[test]
fn joint_domain_pairs_a_storage_with_a_host_it_reaches() {
    // s1 has room but reaches only the full host h1; s2 reaches h2, which has room.
    let d = joint_doc(
        vec![storage_sys("s1", 100.0, 0.0), storage_sys("s2", 100.0, 0.0)],
        vec![busy_host("h1", 4.0, 4.0, &["s1"]), host("h2", 4.0, &["s2"])],
        vec![req("r", 2.0, 10.0)],
    );
    let (r, a) = joint_solve(&d, Stage::Placement);
    assert!(close(r.objective, 1.0));
    assert_eq!(
        storage_id(&d, a.storage[vmplace_core::domain::RequestIx(0)]),
        Some("s2")
    );
    assert_eq!(
        host_id(&d, a.host[vmplace_core::domain::RequestIx(0)]),
        Some("h2")
    );
}

#[test]
fn joint_assignment_places_each_request_once() {
    // Two identical requests, two hosts that each take two: two placed, not four.
    let d = joint_doc(
        vec![storage_sys("s", 100.0, 0.0)],
        vec![host("h1", 4.0, &["s"]), host("h2", 4.0, &["s"])],
        vec![req("a", 2.0, 1.0), req("b", 2.0, 1.0)],
    );
    let (r, a) = joint_solve(&d, Stage::Placement);
    assert!(close(r.objective, 2.0), "{}", r.objective);
    assert_eq!(hosted(&a), 2);
}

#[test]
fn joint_storage_capacity_holds_the_images_to_the_free_space() {
    // Room for two images of 10 GiB, one host with room for all three VMs.
    let d = joint_doc(
        vec![storage_sys("s", 25.0, 0.0)],
        vec![host("h", 16.0, &["s"])],
        vec![
            req("a", 1.0, 10.0),
            req("b", 1.0, 10.0),
            req("c", 1.0, 10.0),
        ],
    );
    let (r, _) = joint_solve(&d, Stage::Placement);
    assert!(close(r.objective, 2.0), "{}", r.objective);
}

#[test]
fn joint_host_capacity_holds_the_vms_to_the_free_capacity() {
    // Three VMs of 2 CPUs from two flavors, one host of 4 CPUs: two placed.
    let d = joint_doc(
        vec![storage_sys("s", 100.0, 0.0)],
        vec![host("h", 4.0, &["s"])],
        vec![req("a", 2.0, 1.0), req("b", 2.0, 2.0), req("c", 2.0, 3.0)],
    );
    let (r, _) = joint_solve(&d, Stage::Placement);
    assert!(close(r.objective, 2.0), "{}", r.objective);
}

#[test]
fn joint_anti_affinity_keeps_group_members_apart() {
    // Two members of one group (different flavors), one host with room for both: one placed.
    let d = joint_doc(
        vec![storage_sys("s", 100.0, 0.0)],
        vec![host("h", 8.0, &["s"])],
        vec![grouped("a", 1.0, "g"), grouped("b", 2.0, "g")],
    );
    let (r, _) = joint_solve(&d, Stage::Placement);
    assert!(close(r.objective, 1.0), "{}", r.objective);
}

#[test]
fn joint_open_and_policy_cost_pack_onto_one_host() {
    // Two small VMs, two idle hosts: `pack` uses one host.
    let d = joint_doc(
        vec![storage_sys("s", 100.0, 0.0)],
        vec![host("h1", 8.0, &["s"]), host("h2", 8.0, &["s"])],
        vec![req("a", 2.0, 1.0), req("b", 3.0, 1.0)],
    );
    let (r, a) = joint_solve(&d, Stage::Policy { min_weight: 2.0 });
    assert!(close(r.objective, 1.0), "{}", r.objective);
    assert_eq!(
        a.host[vmplace_core::domain::RequestIx(0)],
        a.host[vmplace_core::domain::RequestIx(1)]
    );
}

#[test]
fn joint_policy_cost_balances_under_balance() {
    // Two VMs of 4 CPUs on two hosts of 8: balance puts one on each (U = 0.5, not 1.0).
    let mut d = joint_doc(
        vec![storage_sys("s", 100.0, 0.0)],
        vec![host("h1", 8.0, &["s"]), host("h2", 8.0, &["s"])],
        vec![req("a", 4.0, 1.0), req("b", 4.0, 1.0)],
    );
    d.settings.host_policy = Objective::Balance;
    let (r, a) = joint_solve(&d, Stage::Policy { min_weight: 2.0 });
    assert!(close(r.objective, 0.5), "{}", r.objective);
    assert_ne!(
        a.host[vmplace_core::domain::RequestIx(0)],
        a.host[vmplace_core::domain::RequestIx(1)]
    );
}

// ---- Group rules in the host model (models/host.md, "Group rules") ----

fn in_rack(id: &str, cpu: f64, rack: &str) -> Value {
    json!({"id": id, "capacity": {"cpu": cpu, "memory_gib": 1000}, "storage": ["s"],
           "labels": {"rack": rack}})
}

fn member(id: &str, cpu: f64, groups: &[&str]) -> Value {
    json!({"id": id, "demand": {"cpu": cpu, "memory_gib": 1}, "disk_gib": 1, "storage": "s",
           "groups": groups})
}

fn grouped_doc(hosts: Vec<Value>, requests: Vec<Value>, groups: Value) -> Domain {
    domain(
        json!({"storage": [storage_sys("s", 100.0, 0.0)], "hosts": hosts, "requests": requests,
               "groups": groups}),
        Objective::Balance,
        Objective::Pack,
        0.0,
    )
}

fn rack_of<'a>(d: &Domain, a: &Assignment, i: usize, racks: &'a [(&str, &str)]) -> &'a str {
    let h = host_id(d, a.host[vmplace_core::domain::RequestIx(i)]).expect("hosted");
    racks
        .iter()
        .find(|(host, _)| *host == h)
        .map(|(_, r)| *r)
        .unwrap_or("?")
}

#[test]
fn group_anti_affinity_spreads_members_over_racks() {
    // Two members of a rack anti-affinity group (max 1 per rack): `pack` would put both on h1,
    // the rule puts one in each rack.
    let racks = [("h1", "r1"), ("h2", "r1"), ("h3", "r2")];
    let d = grouped_doc(
        racks.iter().map(|(h, r)| in_rack(h, 8.0, r)).collect(),
        vec![member("a", 2.0, &["web"]), member("b", 2.0, &["web"])],
        json!([{"id": "web", "policy": "anti-affinity", "scope": "rack"}]),
    );
    let (r, a) = host_solve(&d, Stage::Policy { min_weight: 2.0 });
    assert!(close(r.objective, 2.0), "{}", r.objective);
    assert_ne!(rack_of(&d, &a, 0, &racks), rack_of(&d, &a, 1, &racks));
}

#[test]
fn group_anti_affinity_counts_members_already_running() {
    // Max 2 per host; h1 runs one member already: of three new members at most one goes there.
    let d = grouped_doc(
        vec![
            json!({"id": "h1", "capacity": {"cpu": 16, "memory_gib": 1000}, "storage": ["s"],
                   "group_members": {"db": 1}}),
            host("h2", 16.0, &["s"]),
        ],
        vec![
            member("a", 1.0, &["db"]),
            member("b", 1.0, &["db"]),
            member("c", 1.0, &["db"]),
        ],
        json!([{"id": "db", "policy": "anti-affinity", "max_per_domain": 2}]),
    );
    let (_, a) = host_solve(&d, Stage::Policy { min_weight: 3.0 });
    let on_h1 = (0..3)
        .filter(|&i| host_id(&d, a.host[vmplace_core::domain::RequestIx(i)]) == Some("h1"))
        .count();
    assert_eq!(hosted(&a), 3);
    assert!(on_h1 <= 1, "{on_h1} new members on h1");
}

#[test]
fn group_affinity_keeps_members_in_one_rack() {
    // Each rack has room for one member only: affinity places one of the two.
    let racks = [("h1", "r1"), ("h2", "r2")];
    let d = grouped_doc(
        racks.iter().map(|(h, r)| in_rack(h, 2.0, r)).collect(),
        vec![member("a", 2.0, &["app"]), member("b", 2.0, &["app"])],
        json!([{"id": "app", "policy": "affinity", "scope": "rack"}]),
    );
    let (r, a) = host_solve(&d, Stage::Placement);
    assert!(close(r.objective, 1.0), "{}", r.objective);
    assert_eq!(hosted(&a), 1);
}

#[test]
fn group_spread_evens_members_over_zones() {
    // Zone a runs one member already; three new ones with max_skew 1 end as 1/2/1 (two hosts,
    // in b and c) or 2/1/1 (three); `pack` alone would use one host.
    let zones = [("h1", "a"), ("h2", "b"), ("h3", "c")];
    let mut hosts: Vec<Value> = zones.iter().map(|(h, z)| in_rack(h, 16.0, z)).collect();
    hosts[0]["group_members"] = json!({"api": 1});
    let d = grouped_doc(
        hosts,
        vec![
            member("a", 1.0, &["api"]),
            member("b", 1.0, &["api"]),
            member("c", 1.0, &["api"]),
        ],
        json!([{"id": "api", "policy": "spread", "scope": "rack", "max_skew": 1}]),
    );
    let (r, a) = host_solve(&d, Stage::Policy { min_weight: 3.0 });
    let mut per_zone = [1, 0, 0];
    for i in 0..3 {
        let z = zones
            .iter()
            .position(|(h, _)| Some(*h) == host_id(&d, a.host[vmplace_core::domain::RequestIx(i)]))
            .unwrap();
        per_zone[z] += 1;
    }
    assert!(close(r.objective, 2.0), "{}", r.objective);
    assert!(
        per_zone.iter().max().unwrap() - per_zone.iter().min().unwrap() <= 1,
        "{per_zone:?}"
    );
}

#[test]
fn a_soft_rule_is_broken_only_when_that_is_cheaper() {
    // Two members of a soft host anti-affinity group on two idle hosts: at weight 0.5 sharing a
    // host (1 host + 0.5) beats two hosts (2); at weight 2 it does not.
    for (weight, cost, same) in [(0.5, 1.5, true), (2.0, 2.0, false)] {
        let d = grouped_doc(
            vec![host("h1", 8.0, &["s"]), host("h2", 8.0, &["s"])],
            vec![member("a", 2.0, &["g"]), member("b", 2.0, &["g"])],
            json!([{"id": "g", "policy": "anti-affinity", "hard": false, "weight": weight}]),
        );
        let (r, a) = host_solve(&d, Stage::Policy { min_weight: 2.0 });
        assert!(close(r.objective, cost), "weight {weight}: {}", r.objective);
        assert_eq!(
            a.host[vmplace_core::domain::RequestIx(0)]
                == a.host[vmplace_core::domain::RequestIx(1)],
            same,
            "weight {weight}"
        );
    }
}

#[test]
fn soft_affinity_and_spread_are_priced_per_violation() {
    // Soft affinity over racks with room for one member each: two members placed, one violation
    // (two racks used) at weight 3 on top of two hosts.
    let d = grouped_doc(
        vec![in_rack("h1", 2.0, "r1"), in_rack("h2", 2.0, "r2")],
        vec![member("a", 2.0, &["app"]), member("b", 2.0, &["app"])],
        json!([{"id": "app", "policy": "affinity", "scope": "rack", "hard": false, "weight": 3}]),
    );
    let (r, _) = host_solve(&d, Stage::Policy { min_weight: 2.0 });
    assert!(close(r.objective, 5.0), "{}", r.objective);
    // Soft spread over two racks, skew 0 (every rack equal): both members in one rack's two
    // hosts costs 2 hosts + 2 x 1 skew; one per rack, 2 hosts and no violation.
    let d = grouped_doc(
        vec![in_rack("h1", 8.0, "r1"), in_rack("h2", 8.0, "r2")],
        vec![member("a", 2.0, &["api"]), member("b", 2.0, &["api"])],
        json!([{"id": "api", "policy": "spread", "scope": "rack", "max_skew": 1, "hard": false, "weight": 0.25}]),
    );
    // Together on one host: 1 host + 0.25 x (2 - 0 - 1) = 1.25; apart: 2 hosts.
    let (r, a) = host_solve(&d, Stage::Policy { min_weight: 2.0 });
    assert!(close(r.objective, 1.25), "{}", r.objective);
    assert_eq!(
        a.host[vmplace_core::domain::RequestIx(0)],
        a.host[vmplace_core::domain::RequestIx(1)]
    );
}

#[test]
fn joint_domain_keeps_a_pinned_image_and_the_storage_traits() {
    // `a` is pinned to s2 (its image is there); `b` needs SSD storage, which only s2 has. Both
    // would rather use s1 (the only storage of the larger host).
    let mut s2 = storage_sys("s2", 100.0, 10.0);
    s2["traits"] = json!(["SSD"]);
    let mut b = req("b", 2.0, 5.0);
    b["storage_required_traits"] = json!(["SSD"]);
    let mut a = req("a", 2.0, 10.0);
    a["storage"] = json!("s2");
    let d = joint_doc(
        vec![storage_sys("s1", 1000.0, 0.0), s2],
        vec![host("big", 64.0, &["s1"]), host("small", 4.0, &["s2"])],
        vec![a, b],
    );
    let (r, x) = joint_solve(&d, Stage::Placement);
    assert!(close(r.objective, 2.0), "{}", r.objective);
    assert_eq!(
        storage_id(&d, x.storage[vmplace_core::domain::RequestIx(0)]),
        Some("s2")
    );
    assert_eq!(
        storage_id(&d, x.storage[vmplace_core::domain::RequestIx(1)]),
        Some("s2")
    );
}

#[test]
fn joint_domain_offers_only_storage_with_room_for_the_image() {
    // An image of exactly the free space of s2 fits there; s1, reaching the same host, is short.
    let d = joint_doc(
        vec![storage_sys("s1", 39.0, 0.0), storage_sys("s2", 40.0, 0.0)],
        vec![host("h", 8.0, &["s1", "s2"])],
        vec![req("a", 2.0, 40.0)],
    );
    let (r, x) = joint_solve(&d, Stage::Placement);
    assert!(close(r.objective, 1.0), "{}", r.objective);
    assert_eq!(
        storage_id(&d, x.storage[vmplace_core::domain::RequestIx(0)]),
        Some("s2")
    );
}

#[test]
fn joint_storage_capacity_counts_every_flavor_on_a_storage() {
    // Images of 10, 11 and 12 GiB (three flavors) and 25 GiB free: two fit, not three.
    let d = joint_doc(
        vec![storage_sys("s", 25.0, 0.0)],
        vec![host("h", 16.0, &["s"])],
        vec![
            req("a", 1.0, 10.0),
            req("b", 1.0, 11.0),
            req("c", 1.0, 12.0),
        ],
    );
    let (r, _) = joint_solve(&d, Stage::Placement);
    assert!(close(r.objective, 2.0), "{}", r.objective);
}

#[test]
fn joint_domain_lets_a_host_take_as_many_copies_as_fit_exactly() {
    // Two identical VMs of 2 CPUs on one host of exactly 4 CPUs, images of exactly the free space.
    let d = joint_doc(
        vec![storage_sys("s", 20.0, 0.0)],
        vec![host("h", 4.0, &["s"])],
        vec![req("a", 2.0, 10.0), req("b", 2.0, 10.0)],
    );
    let (r, _) = joint_solve(&d, Stage::Placement);
    assert!(close(r.objective, 2.0), "{}", r.objective);
}

#[test]
fn joint_open_counts_only_idle_hosts() {
    // A VM fits the running host: `pack` keeps one active host (the running one) and opens none.
    let d = joint_doc(
        vec![storage_sys("s", 100.0, 0.0)],
        vec![
            busy_host("run", 8.0, 2.0, &["s"]),
            host("idle", 8.0, &["s"]),
        ],
        vec![req("a", 2.0, 1.0)],
    );
    let (r, x) = joint_solve(&d, Stage::Policy { min_weight: 1.0 });
    assert!(close(r.objective, 1.0), "{}", r.objective);
    assert_eq!(
        host_id(&d, x.host[vmplace_core::domain::RequestIx(0)]),
        Some("run")
    );
}

#[test]
fn joint_policy_cost_counts_what_a_host_already_uses_under_balance() {
    // Host A uses 2 of 8 CPUs, B none: a VM of 4 goes to B (0.5), not A (0.75).
    let mut d = joint_doc(
        vec![storage_sys("s", 100.0, 0.0)],
        vec![busy_host("A", 8.0, 2.0, &["s"]), host("B", 8.0, &["s"])],
        vec![req("v", 4.0, 1.0)],
    );
    d.settings.host_policy = Objective::Balance;
    let (r, x) = joint_solve(&d, Stage::Policy { min_weight: 1.0 });
    assert!(close(r.objective, 0.5), "{}", r.objective);
    assert_eq!(
        host_id(&d, x.host[vmplace_core::domain::RequestIx(0)]),
        Some("B")
    );
}

#[test]
fn soft_violations_no_column_can_change_are_a_constant_of_the_objective() {
    // h1 is full and already runs three members of anti-affinity group `g` (max 1 per host): two
    // violations no placement can change (weight 3), and one of group `old` (two members there,
    // weight 5), which has no member in this batch at all. On top of the two active hosts (h1,
    // and h2 that the new VMs open): 2 + 2 x 3 + 1 x 5 if soft; a hard group's out-of-reach
    // excess adds nothing.
    for (hard, cost) in [(false, 2.0 + 2.0 * 3.0 + 5.0), (true, 2.0)] {
        let d = grouped_doc(
            vec![
                json!({"id": "h1", "capacity": {"cpu": 4, "memory_gib": 1000},
                       "used": {"cpu": 4}, "storage": ["s"], "group_members": {"g": 3, "old": 2}}),
                host("h2", 8.0, &["s"]),
            ],
            vec![member("a", 2.0, &["g"]), req_on("b", 2.0)],
            json!([{"id": "g", "policy": "anti-affinity", "hard": hard, "weight": 3},
                   {"id": "old", "policy": "anti-affinity", "hard": hard, "weight": 5}]),
        );
        let (r, _) = host_solve(&d, Stage::Policy { min_weight: 2.0 });
        assert!(close(r.objective, cost), "hard {hard}: {}", r.objective);
    }
}

fn req_on(id: &str, cpu: f64) -> Value {
    json!({"id": id, "demand": {"cpu": cpu, "memory_gib": 1}, "disk_gib": 1, "storage": "s"})
}

#[test]
fn group_affinity_follows_the_members_already_running() {
    // A member of `app` runs in rack r1. The new member goes there (h1, idle) under a hard rule,
    // although the running host h2 of rack r2 would cost no new host; soft at weight 3 it goes to
    // h2 as well only if 3 < 1, so it still goes to r1; soft at weight 0.5 it goes to h2 and the
    // violation (two racks) costs 0.5.
    let hosts = || {
        vec![
            json!({"id": "h0", "capacity": {"cpu": 2, "memory_gib": 1000}, "used": {"cpu": 2},
                   "storage": ["s"], "labels": {"rack": "r1"}, "group_members": {"app": 1}}),
            in_rack("h1", 8.0, "r1"),
            json!({"id": "h2", "capacity": {"cpu": 8, "memory_gib": 1000}, "used": {"cpu": 1},
                   "storage": ["s"], "labels": {"rack": "r2"}}),
        ]
    };
    for (hard, weight, host_wanted, cost) in [
        (true, 1.0, "h1", 3.0),
        (false, 3.0, "h1", 3.0),
        (false, 0.5, "h2", 2.5),
    ] {
        let d = grouped_doc(
            hosts(),
            vec![member("a", 2.0, &["app"])],
            json!([{"id": "app", "policy": "affinity", "scope": "rack", "hard": hard,
                    "weight": if hard { Value::Null } else { json!(weight) }}]),
        );
        let (r, a) = host_solve(&d, Stage::Policy { min_weight: 1.0 });
        assert_eq!(
            host_id(&d, a.host[vmplace_core::domain::RequestIx(0)]),
            Some(host_wanted),
            "hard {hard}, weight {weight}"
        );
        assert!(
            close(r.objective, cost),
            "hard {hard}, weight {weight}: {}",
            r.objective
        );
    }
}

#[test]
fn group_spread_lets_a_skewed_pool_narrow_but_not_widen() {
    // Zones hold 4, 1 and 1 members (skew 3 > max_skew 1). The new member may not go to zone a
    // (running host, no new host), which would widen the skew to 4: it opens a host in b or c.
    let zones = [("h1", "a"), ("h2", "b"), ("h3", "c")];
    let mut hosts: Vec<Value> = zones.iter().map(|(h, z)| in_rack(h, 16.0, z)).collect();
    hosts[0]["used"] = json!({"cpu": 1});
    hosts[0]["group_members"] = json!({"api": 4});
    hosts[1]["group_members"] = json!({"api": 1});
    hosts[2]["group_members"] = json!({"api": 1});
    let d = grouped_doc(
        hosts,
        vec![member("n", 1.0, &["api"])],
        json!([{"id": "api", "policy": "spread", "scope": "rack", "max_skew": 1}]),
    );
    let (r, a) = host_solve(&d, Stage::Policy { min_weight: 1.0 });
    assert!(close(r.objective, 2.0), "{}", r.objective);
    assert_ne!(
        host_id(&d, a.host[vmplace_core::domain::RequestIx(0)]),
        Some("h1")
    );
}

// ---- Group rules in phase 1's look-ahead (models/storage.md, `group_lookahead`) ----

fn storage_groups_doc(
    storage: Vec<Value>,
    hosts: Vec<Value>,
    requests: Vec<Value>,
    groups: Value,
) -> Domain {
    domain(
        json!({"storage": storage, "hosts": hosts, "requests": requests, "groups": groups}),
        Objective::Balance,
        Objective::Pack,
        0.0,
    )
}

fn racked(id: &str, storage: &str, rack: &str) -> Value {
    json!({"id": id, "capacity": {"cpu": 16, "memory_gib": 1000}, "storage": [storage],
           "labels": {"rack": rack}})
}

fn unpinned(id: &str, disk: f64, groups: &[&str]) -> Value {
    json!({"id": id, "demand": {"cpu": 1, "memory_gib": 1}, "disk_gib": disk, "groups": groups})
}

#[test]
fn group_lookahead_holds_anti_affinity_members_to_the_places_a_storage_reaches() {
    // s reaches two hosts of rack r1 only; at most one member per rack: one of two placed.
    let d = storage_groups_doc(
        vec![storage_sys("s", 100.0, 0.0)],
        vec![racked("h1", "s", "r1"), racked("h2", "s", "r1")],
        vec![unpinned("a", 1.0, &["web"]), unpinned("b", 1.0, &["web"])],
        json!([{"id": "web", "policy": "anti-affinity", "scope": "rack"}]),
    );
    let (r, a) = storage_solve(&d, Stage::Placement);
    assert!(close(r.objective, 1.0), "{}", r.objective);
    assert_eq!(placed(&a), 1);
}

#[test]
fn group_lookahead_keeps_affinity_members_on_storage_that_reaches_one_rack() {
    // s1 reaches rack r1, s2 rack r2, each with room for one image: affinity places one.
    let d = storage_groups_doc(
        vec![storage_sys("s1", 10.0, 0.0), storage_sys("s2", 10.0, 0.0)],
        vec![racked("h1", "s1", "r1"), racked("h2", "s2", "r2")],
        vec![unpinned("a", 10.0, &["app"]), unpinned("b", 10.0, &["app"])],
        json!([{"id": "app", "policy": "affinity", "scope": "rack"}]),
    );
    let (r, a) = storage_solve(&d, Stage::Placement);
    assert!(close(r.objective, 1.0), "{}", r.objective);
    assert_eq!(placed(&a), 1);
}

#[test]
fn joint_columns_counts_the_model_before_it_is_built() {
    // The size check (`--solver joint` falls back past JOINT_COLUMNS) counts exactly the columns
    // `joint_domain` creates: here s1 x {h1, h2} for both flavors, s2 x {h2} for one (the other's
    // image does not fit s2), h3 full.
    let mut d = joint_doc(
        vec![storage_sys("s1", 100.0, 0.0), storage_sys("s2", 15.0, 0.0)],
        vec![
            host("h1", 8.0, &["s1"]),
            host("h2", 8.0, &["s1", "s2"]),
            busy_host("h3", 8.0, 8.0, &["s1", "s2"]),
        ],
        vec![req("a", 2.0, 10.0), req("b", 2.0, 20.0)],
    );
    d.settings.host_policy = Objective::Balance;
    let (r, _) = joint_solve(&d, Stage::Placement);
    assert_eq!(joint::columns(&d), 5);
    assert_eq!(r.size.variables, 5);
}

#[test]
fn group_lookahead_sends_affinity_members_toward_the_domain_they_run_in() {
    // `app` runs in rack r2, which only s2 reaches, and s2 has no room for the image: the new
    // member cannot be placed (on s1 it would be in rack r1).
    let mut h2 = racked("h2", "s2", "r2");
    h2["group_members"] = json!({"app": 1});
    let d = storage_groups_doc(
        vec![
            storage_sys("s1", 100.0, 0.0),
            storage_sys("s2", 100.0, 95.0),
        ],
        vec![racked("h1", "s1", "r1"), h2],
        vec![unpinned("a", 10.0, &["app"])],
        json!([{"id": "app", "policy": "affinity", "scope": "rack"}]),
    );
    let (r, a) = storage_solve(&d, Stage::Placement);
    assert!(close(r.objective, 0.0), "{}", r.objective);
    assert_eq!(placed(&a), 0);
}

#[test]
fn affinity_relaxed_sends_members_toward_their_domain_past_the_domains_modelled_one_by_one() {
    // As above, but s1 reaches 300 racks (past the 256 the look-ahead models one binary each):
    // the relaxed rows still keep the new member off s1, whose racks are not r0, where `app`
    // runs; r0's storage has no room, so nothing is placed.
    let mut h0 = racked("h0", "s2", "r0");
    h0["group_members"] = json!({"app": 1});
    let mut hosts: Vec<Value> = (1..=300)
        .map(|i| racked(&format!("h{i}"), "s1", &format!("r{i}")))
        .collect();
    hosts.push(h0);
    let d = storage_groups_doc(
        vec![
            storage_sys("s1", 100.0, 0.0),
            storage_sys("s2", 100.0, 95.0),
        ],
        hosts,
        vec![unpinned("a", 10.0, &["app"])],
        json!([{"id": "app", "policy": "affinity", "scope": "rack"}]),
    );
    let (r, a) = storage_solve(&d, Stage::Placement);
    assert!(close(r.objective, 0.0), "{}", r.objective);
    assert_eq!(placed(&a), 0);
}

#[test]
fn group_lookahead_holds_spread_members_to_what_the_racks_a_storage_reaches_can_take() {
    // `api` (spread by rack, skew 1), four new members, racks r1 (s1 only), r2 and r3 (s2 only,
    // room for one image). In any valid end a rack holds at most floor(4 / 3) + 1 = 2: two on s1,
    // one on s2. Without the look-ahead all four would go to s1, and rack r1.
    let d = storage_groups_doc(
        vec![storage_sys("s1", 100.0, 0.0), storage_sys("s2", 10.0, 0.0)],
        vec![
            racked("h1", "s1", "r1"),
            racked("h2", "s2", "r2"),
            racked("h3", "s2", "r3"),
        ],
        (0..4)
            .map(|i| unpinned(&format!("m{i}"), 10.0, &["api"]))
            .collect(),
        json!([{"id": "api", "policy": "spread", "scope": "rack", "max_skew": 1}]),
    );
    let (r, a) = storage_solve(&d, Stage::Placement);
    assert!(close(r.objective, 3.0), "{}", r.objective);
    let on_s1 = a
        .storage
        .iter()
        .filter(|s| s.map(|s| s.0) == Some(0))
        .count();
    assert_eq!(on_s1, 2);
}

#[test]
fn round_rules_count_members_and_say_whether_an_end_holds() {
    // The greedy plan's test (RoundRule::holds) on hand-made counts, and the counts of a plan.
    let rule = |policy: RoundPolicy| RoundRule {
        domain_of: std::sync::Arc::new(vec![Some(0), Some(1), Some(2), None].into()),
        members: vec![(0, Some(0)), (1, Some(1))],
        fixed: Counts::from(vec![1, 0, 0]),
        policy,
    };
    let c = |dense: [u32; 3]| Counts::from(dense.to_vec());
    let together = rule(RoundPolicy::Together(1));
    assert!(together.holds(&c([2, 0, 0])));
    assert!(!together.holds(&c([1, 1, 0])));
    assert!(rule(RoundPolicy::Together(2)).holds(&c([1, 1, 0])));
    let spread = rule(RoundPolicy::Spread {
        room: std::sync::Arc::new(vec![true, true, false]),
        rooms: 2,
        skew: 1,
    });
    assert!(
        spread.holds(&c([2, 1, 5])),
        "rack 2 has no room: not compared"
    );
    assert!(!spread.holds(&c([2, 0, 0])));
    assert!(
        !spread.holds(&c([0, 2, 0])),
        "an empty rack with room counts 0"
    );
    let arrivals = Arrivals {
        max: 0,
        start: Counts::default(),
    };
    assert!(rule(RoundPolicy::Arrivals(arrivals)).holds(&c([9, 9, 9])));
    // Member 0 stays (None), member 1 moves to host 2 (domain 2): 1 + 1, 0, 1.
    assert_eq!(
        together.counts(|i| (i == 1).then_some(HostIx(2))).dense(3),
        vec![2, 0, 1]
    );
    // To a host outside the scope: it counts nowhere.
    assert_eq!(
        together.counts(|i| (i == 1).then_some(HostIx(3))).dense(3),
        vec![2, 0, 0]
    );
}

#[test]
fn migration_group_affinity_counts_a_domain_where_only_members_that_stay_run() {
    // The group runs in three racks: a (rack 0), c (rack 1), and a member that is no candidate
    // in rack 2; it may end in two at most, so a or c joins the other.
    let hosts = vec![sloped(10.0), sloped(10.0)];
    let vms = vec![round_vm(10.0, Some(0), &[1]), round_vm(10.0, Some(1), &[0])];
    let mut input = round(hosts, vms);
    input.rules = vec![RoundRule {
        domain_of: std::sync::Arc::new(vec![Some(0), Some(1)].into()),
        members: vec![(0, Some(0)), (1, Some(1))],
        fixed: Counts::from(vec![0, 0, 1]),
        policy: RoundPolicy::Together(2),
    }];
    let (_, ends) = round_solve(&input);
    assert_eq!(ends[0], ends[1], "{ends:?}");
}

// ---- The joint model's third stage: phase 1's cost once weight and hosts are proven ----

fn joint_stage3(d: &Domain, min_weight: f64, max_host_cost: f64) -> (MipResult, Assignment) {
    let warm = Assignment::empty(d.requests.len());
    let input = JointInput { d, warm: &warm };
    let (r, a) = joint::solve_storage_cost(&input, min_weight, max_host_cost, &opts()).unwrap();
    assert_eq!(r.status, MipStatus::Optimal, "{r:?}");
    (r, a)
}

fn stage3_doc(
    storage: Vec<Value>,
    hosts: Vec<Value>,
    requests: Vec<Value>,
    sp: Objective,
) -> Domain {
    let doc = json!({"storage": storage, "hosts": hosts, "requests": requests});
    domain(doc, sp, Objective::Pack, 0.0)
}

#[test]
fn joint_storage_open_counts_a_system_once_any_image_is_on_it() {
    // Two empty systems reaching one host: both VMs on one system, half of the systems in use.
    let d = stage3_doc(
        vec![storage_sys("s1", 100.0, 0.0), storage_sys("s2", 100.0, 0.0)],
        vec![host("h", 8.0, &["s1", "s2"])],
        vec![req("a", 1.0, 10.0), req("b", 1.0, 10.0)],
        Objective::Pack,
    );
    let (r, a) = joint_stage3(&d, 2.0, 1.0);
    // Storage: 1 of 2 systems; hosts: 1 of 1 opened.
    assert!(close(r.objective, 0.5 + 1.0), "{}", r.objective);
    assert_eq!(
        a.storage[vmplace_core::domain::RequestIx(0)],
        a.storage[vmplace_core::domain::RequestIx(1)]
    );
}

#[test]
fn joint_storage_balance_spreads_the_images_by_utilisation() {
    // Two systems of 100 GiB, two images of 40: one on each, the highest utilisation 0.4.
    let d = stage3_doc(
        vec![storage_sys("s1", 100.0, 0.0), storage_sys("s2", 100.0, 0.0)],
        vec![host("h", 8.0, &["s1", "s2"])],
        vec![req("a", 1.0, 40.0), req("b", 1.0, 40.0)],
        Objective::Balance,
    );
    let (r, a) = joint_stage3(&d, 2.0, 1.0);
    assert!(close(r.objective, 0.4 + 1.0), "{}", r.objective);
    assert_ne!(
        a.storage[vmplace_core::domain::RequestIx(0)],
        a.storage[vmplace_core::domain::RequestIx(1)]
    );
}

/// s1 is in use and reaches the idle h1 (and h3, full); the empty s2 reaches the busy h2.
fn opening_trade() -> Domain {
    stage3_doc(
        vec![storage_sys("s1", 100.0, 5.0), storage_sys("s2", 100.0, 0.0)],
        vec![
            host("h1", 8.0, &["s1"]),
            busy_host("h2", 8.0, 2.0, &["s2"]),
            busy_host("h3", 8.0, 8.0, &["s1"]),
        ],
        vec![req("a", 1.0, 10.0)],
        Objective::Pack,
    )
}

#[test]
fn joint_storage_cost_counts_the_idle_hosts_phase_1_opens() {
    // With room for a host more: s1 and the idle h1 cost 1/2 + 1/3, below s2's 2/2.
    let d = opening_trade();
    let (r, a) = joint_stage3(&d, 1.0, 3.0);
    assert!(close(r.objective, 0.5 + 1.0 / 3.0), "{}", r.objective);
    assert_eq!(
        storage_id(&d, a.storage[vmplace_core::domain::RequestIx(0)]),
        Some("s1")
    );
}

#[test]
fn joint_host_cost_ceiling_keeps_the_proven_host_count() {
    // The two active hosts are the proven host cost: h1 may not open, so the VM goes to s2, h2.
    let d = opening_trade();
    let (r, a) = joint_stage3(&d, 1.0, 2.0);
    assert!(close(r.objective, 1.0), "{}", r.objective);
    assert_eq!(
        host_id(&d, a.host[vmplace_core::domain::RequestIx(0)]),
        Some("h2")
    );
}

#[test]
fn joint_storage_cost_prefers_the_larger_migration_domain() {
    // Both systems in use; s2 reaches two hosts, s1 one: with flexibility weight 1, s2.
    let doc = json!({
        "storage": [storage_sys("s1", 100.0, 5.0), storage_sys("s2", 100.0, 5.0)],
        "hosts": [busy_host("h1", 8.0, 1.0, &["s1", "s2"]), busy_host("h2", 8.0, 1.0, &["s2"])],
        "requests": [req("a", 1.0, 10.0)]
    });
    let d = domain(doc, Objective::Pack, Objective::Pack, 1.0);
    let (r, a) = joint_stage3(&d, 1.0, 2.0);
    assert_eq!(
        storage_id(&d, a.storage[vmplace_core::domain::RequestIx(0)]),
        Some("s2")
    );
    assert!(close(r.objective, 1.0), "{}", r.objective);
}

#[test]
fn stage3_keeps_the_placed_weight_of_stage_one() {
    // Placing nothing would cost least; the floor keeps the one VM placed.
    let d = opening_trade();
    let (_, a) = joint_stage3(&d, 1.0, 3.0);
    assert_eq!(hosted(&a), 1);
}

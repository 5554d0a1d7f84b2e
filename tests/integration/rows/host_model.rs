//! The host model (phase 2, models/host.md).

use super::*;

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

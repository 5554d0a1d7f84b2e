//! The storage model (phase 1, models/storage.md).

use super::*;

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

//! The joint model (models/joint.md).

use super::*;

pub(super) fn joint_solve(d: &Domain, stage: Stage) -> (MipResult, Assignment) {
    let warm = Assignment::empty(d.requests.len());
    joint::solve(&JointInput { d, warm: &warm }, stage, &opts()).unwrap()
}

pub(super) fn joint_doc(storage: Vec<Value>, hosts: Vec<Value>, requests: Vec<Value>) -> Domain {
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

//! The joint model's third stage: phase 1's cost once weight and hosts are proven.

use super::*;

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

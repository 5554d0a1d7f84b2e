//! Overcommit, reservations and traits: the usable capacity and the rule dimensions the rows hold to.

use super::*;

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

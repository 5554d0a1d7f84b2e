//! Every constraint family on a hand-made instance of two or three items where the right answer
//! is obvious. Names follow models/storage.md and models/host.md.

use crate::common::*;
use serde_json::json;
use vmplace_core::placement::Mode;
use vmplace_wire::ReasonCode;
use vmplace_wire::{Objective, SolverKind, Status};

#[test]
fn storage_capacity_limits_disk_images_per_storage() {
    // 100 GiB free, three 40 GiB disks: only two fit.
    let doc = json!({
        "storage": [storage("s1", 100.0)],
        "hosts": [host("h1", 64.0, 256.0, &["s1"])],
        "requests": [req("a", 1.0, 1.0, 40.0), req("b", 1.0, 1.0, 40.0), req("c", 1.0, 1.0, 40.0)]
    });
    let s = solve(&doc, Mode::Storage);
    assert_eq!(s.placements.len(), 2);
    assert_eq!(s.unplaced.len(), 1);
    assert_eq!(s.unplaced[0].code, ReasonCode::CapacityTaken);
    assert!(
        s.unplaced[0].reason.starts_with("storage_capacity"),
        "{}",
        s.unplaced[0].reason
    );
}

#[test]
fn storage_candidates_and_host_lookahead_avoid_storage_without_hosts() {
    // s1 has far more free space, but its only host is full: phase 1 must pick s2.
    let doc = json!({
        "storage": [storage("s1", 10000.0), storage("s2", 200.0)],
        "hosts": [
            {"id": "full", "capacity": {"cpu": 8, "memory_gib": 32}, "used": {"cpu": 8, "memory_gib": 32}, "storage": ["s1"]},
            host("h2", 8.0, 32.0, &["s2"])
        ],
        "requests": [req("vm", 2.0, 8.0, 50.0)]
    });
    let s = solve(&doc, Mode::Storage);
    assert_eq!(storage_of(&s, "vm").as_deref(), Some("s2"));
    // Today's greedy chain (Cinder's capacity weigher) picks s1 and strands the VM in phase 2.
    let g = solve_with(
        &doc,
        Mode::Place,
        &Knobs {
            solver: SolverKind::Greedy,
            ..Default::default()
        },
    );
    assert_eq!(
        unplaced_code(&g, "vm"),
        Some(ReasonCode::NoConnectedHostCapacity)
    );
    let m = solve(&doc, Mode::Place);
    assert_eq!(host_of(&m, "vm").as_deref(), Some("h2"));
}

#[test]
fn host_share_does_not_count_a_shared_host_twice() {
    // One host with room for one VM, shared by two storage systems: phase 1 may only place one.
    let doc = json!({
        "storage": [storage("s1", 100.0), storage("s2", 100.0)],
        "hosts": [host("h", 4.0, 16.0, &["s1", "s2"])],
        "requests": [req("a", 4.0, 16.0, 10.0), req("b", 4.0, 16.0, 10.0)]
    });
    let s = solve(&doc, Mode::Storage);
    assert_eq!(s.placements.len(), 1, "{s:#?}");
    let p = solve(&doc, Mode::Place);
    assert_eq!(p.placements.len(), 1);
}

#[test]
fn lookahead_certification_never_strands_what_phase_one_placed() {
    // Two hosts with 3 free CPUs each; three 2-CPU VMs fit the pooled capacity (6 >= 6) but not
    // the hosts (one VM per host). Phase 1 must place only what phase 2 can host.
    let doc = json!({
        "storage": [storage("s1", 1000.0)],
        "hosts": [host("h1", 3.0, 64.0, &["s1"]), host("h2", 3.0, 64.0, &["s1"])],
        "requests": [req("a", 2.0, 1.0, 10.0), req("b", 2.0, 1.0, 10.0), req("c", 2.0, 1.0, 10.0)]
    });
    let s = solve(&doc, Mode::Storage);
    assert_eq!(s.placements.len(), 2, "{s:#?}");
    // Phase 2 on exactly that answer hosts everything phase 1 placed.
    let mut phase2 = doc.clone();
    let requests: Vec<_> = s
        .placements
        .iter()
        .map(|p| {
            let mut r = req(&p.request, 2.0, 1.0, 10.0);
            r["storage"] = json!(p.storage);
            r
        })
        .collect();
    phase2["requests"] = json!(requests);
    let h = solve(&phase2, Mode::Host);
    assert_eq!(h.placements.len(), 2);
}

#[test]
fn anti_affinity_spread_sends_group_to_storage_with_enough_hosts() {
    // s1 reaches one big host, s2 reaches two: a group of two must use s2 to be fully placed.
    let doc = json!({
        "storage": [storage("s1", 1000.0), storage("s2", 1000.0)],
        "hosts": [host("big", 64.0, 256.0, &["s1"]), host("h2", 4.0, 16.0, &["s2"]), host("h3", 4.0, 16.0, &["s2"])],
        "requests": [
            {"id": "a", "demand": {"cpu": 2, "memory_gib": 4}, "disk_gib": 10, "anti_affinity": "g"},
            {"id": "b", "demand": {"cpu": 2, "memory_gib": 4}, "disk_gib": 10, "anti_affinity": "g"}
        ]
    });
    let s = solve(&doc, Mode::Place);
    assert_eq!(s.placements.len(), 2);
    assert_ne!(host_of(&s, "a"), host_of(&s, "b"));
}

#[test]
fn storage_balance_spreads_and_storage_pack_consolidates() {
    let doc = json!({
        "storage": [storage("s1", 100.0), storage("s2", 100.0)],
        "hosts": [host("h", 16.0, 64.0, &["s1", "s2"])],
        "requests": [req("a", 1.0, 1.0, 30.0), req("b", 1.0, 1.0, 30.0)]
    });
    // Host policy `balance` leaves the host-opening look-ahead out: only the storage policy counts.
    let k = Knobs {
        host_policy: Objective::Balance,
        ..Default::default()
    };
    let balance = solve_with(&doc, Mode::Storage, &k);
    assert_ne!(storage_of(&balance, "a"), storage_of(&balance, "b"));
    assert!(
        (balance.objective - 0.3).abs() < 1e-6,
        "max utilisation 0.3, full reach: {}",
        balance.objective
    );
    assert_eq!(balance.status, Status::Optimal);
    let pack = solve_with(
        &doc,
        Mode::Storage,
        &Knobs {
            storage_policy: Objective::Pack,
            ..k
        },
    );
    assert_eq!(storage_of(&pack, "a"), storage_of(&pack, "b"));
}

#[test]
fn host_opening_lookahead_prefers_storage_whose_hosts_already_run_vms() {
    // Under host `pack`, phase 1 sends the disk where a running host can take the VM rather than
    // where phase 2 would have to open an idle host (storage utilisation is the same either way).
    let doc = json!({
        "storage": [storage("s1", 100.0), storage("s2", 100.0)],
        "hosts": [
            host("idle", 16.0, 64.0, &["s1"]),
            {"id": "busy", "capacity": {"cpu": 16, "memory_gib": 64}, "used": {"cpu": 4, "memory_gib": 16}, "storage": ["s2"]}
        ],
        "requests": [req("vm", 2.0, 8.0, 10.0)]
    });
    let s = solve_with(
        &doc,
        Mode::Place,
        &Knobs {
            flexibility_weight: 0.0,
            ..Default::default()
        },
    );
    assert_eq!(storage_of(&s, "vm").as_deref(), Some("s2"));
    assert_eq!(s.stats.active_hosts, 1);
}

#[test]
fn flexibility_prefers_storage_with_the_larger_migration_domain() {
    // Same free space; s2 reaches three hosts, s1 one.
    let doc = json!({
        "storage": [storage("s1", 100.0), storage("s2", 100.0)],
        "hosts": [host("h1", 8.0, 32.0, &["s1"]), host("h2", 8.0, 32.0, &["s2"]), host("h3", 8.0, 32.0, &["s2"]), host("h4", 8.0, 32.0, &["s2"])],
        "requests": [req("vm", 2.0, 4.0, 10.0)]
    });
    let s = solve(&doc, Mode::Place);
    assert_eq!(storage_of(&s, "vm").as_deref(), Some("s2"));
    assert_eq!(
        s.stats.migration_domain.get("vm"),
        Some(&2),
        "two other hosts on s2 could take it"
    );
}

#[test]
fn host_connectivity_only_hosts_connected_to_the_storage() {
    let mut doc = json!({
        "storage": [storage("s1", 100.0), storage("s2", 100.0)],
        "hosts": [host("empty-but-s1", 64.0, 256.0, &["s1"]), host("small-s2", 4.0, 16.0, &["s2"])],
        "requests": [req("vm", 2.0, 8.0, 10.0)]
    });
    doc["requests"][0]["storage"] = json!("s2");
    let s = solve_with(
        &doc,
        Mode::Host,
        &Knobs {
            host_policy: Objective::Balance,
            ..Default::default()
        },
    );
    assert_eq!(host_of(&s, "vm").as_deref(), Some("small-s2"));
}

#[test]
fn host_capacity_holds_in_every_dimension() {
    // h1 has CPU but no memory left; h2 has both.
    let mut doc = json!({
        "storage": [storage("s1", 100.0)],
        "hosts": [
            {"id": "h1", "capacity": {"cpu": 64, "memory_gib": 16}, "used": {"cpu": 0, "memory_gib": 12}, "storage": ["s1"]},
            host("h2", 8.0, 64.0, &["s1"])
        ],
        "requests": [req("vm", 2.0, 8.0, 10.0)]
    });
    doc["requests"][0]["storage"] = json!("s1");
    let s = solve(&doc, Mode::Host);
    assert_eq!(host_of(&s, "vm").as_deref(), Some("h2"));
}

#[test]
fn host_open_pack_uses_fewest_hosts_and_balance_spreads() {
    let doc = json!({
        "storage": [storage("s1", 100.0)],
        "hosts": [host("h1", 8.0, 32.0, &["s1"]), host("h2", 8.0, 32.0, &["s1"])],
        "requests": [req("a", 2.0, 8.0, 10.0), req("b", 2.0, 8.0, 10.0)]
    });
    let pack = solve(&doc, Mode::Place);
    assert_eq!(host_of(&pack, "a"), host_of(&pack, "b"));
    assert_eq!(pack.stats.active_hosts, 1);
    assert_eq!(pack.status, Status::Optimal);
    assert_eq!(pack.objective, 1.0);
    let balance = solve_with(
        &doc,
        Mode::Place,
        &Knobs {
            host_policy: Objective::Balance,
            ..Default::default()
        },
    );
    assert_ne!(host_of(&balance, "a"), host_of(&balance, "b"));
    assert!(
        (balance.objective - 0.25).abs() < 1e-6,
        "max utilisation 2/8: {}",
        balance.objective
    );
}

#[test]
fn anti_affinity_puts_group_members_on_distinct_hosts() {
    let member = |id: &str| json!({"id": id, "demand": {"cpu": 1, "memory_gib": 1}, "disk_gib": 1, "storage": "s1", "anti_affinity": "g"});
    let doc = json!({
        "storage": [storage("s1", 100.0)],
        "hosts": [host("h1", 64.0, 256.0, &["s1"]), host("h2", 64.0, 256.0, &["s1"])],
        "requests": [member("a"), member("b"), member("c")]
    });
    let s = solve(&doc, Mode::Host);
    assert_eq!(s.placements.len(), 2);
    assert_ne!(host_of(&s, "a").or(host_of(&s, "c")), host_of(&s, "b"));
    assert_eq!(s.unplaced[0].code, ReasonCode::AntiAffinity);
}

#[test]
fn placed_weight_prefers_higher_priority() {
    let mut doc = json!({
        "storage": [storage("s1", 100.0)],
        "hosts": [host("h1", 4.0, 16.0, &["s1"])],
        "requests": [req("low", 4.0, 16.0, 10.0), req("high", 4.0, 16.0, 10.0)]
    });
    doc["requests"][1]["priority"] = json!(3);
    let s = solve(&doc, Mode::Place);
    assert_eq!(host_of(&s, "high").as_deref(), Some("h1"));
    assert_eq!(unplaced_code(&s, "low"), Some(ReasonCode::CapacityTaken));
}

#[test]
fn placed_floor_keeps_stage_one_count_while_optimising_policy() {
    // Packing would prefer to leave the second VM out (fewer hosts); it must not.
    let doc = json!({
        "storage": [storage("s1", 100.0)],
        "hosts": [host("h1", 4.0, 16.0, &["s1"]), host("h2", 4.0, 16.0, &["s1"])],
        "requests": [req("a", 4.0, 16.0, 10.0), req("b", 4.0, 16.0, 10.0)]
    });
    let s = solve(&doc, Mode::Place);
    assert_eq!(s.placements.len(), 2);
    assert_eq!(s.objective, 2.0);
}

#[test]
fn unplaceable_requests_get_reason_codes() {
    let doc = json!({
        "storage": [storage("s1", 100.0)],
        "hosts": [host("h1", 4.0, 16.0, &["s1"])],
        "requests": [req("too-big-disk", 1.0, 1.0, 500.0), req("too-big-vm", 64.0, 1.0, 10.0)]
    });
    let s = solve(&doc, Mode::Place);
    assert_eq!(s.status, Status::Infeasible);
    assert_eq!(
        unplaced_code(&s, "too-big-disk"),
        Some(ReasonCode::NoStorageCapacity)
    );
    assert_eq!(
        unplaced_code(&s, "too-big-vm"),
        Some(ReasonCode::DemandExceedsHosts)
    );
}

#[test]
fn overcommitted_hosts_and_thin_storage_take_more_and_the_checker_agrees() {
    // 4 CPUs at 4:1 and 100 GiB at 2:1: four VMs of 4 CPUs and 50 GiB all fit (16 CPUs, 200 GiB).
    let mut h = host("h1", 4.0, 256.0, &["s1"]);
    h["allocation_ratio"] = json!({"cpu": 4.0});
    h["reserved"] = json!({"memory_gib": 16});
    let mut s = storage("s1", 100.0);
    s["allocation_ratio"] = json!(2.0);
    let reqs: Vec<_> = (0..4)
        .map(|i| req(&format!("r{i}"), 4.0, 60.0, 50.0))
        .collect();
    let doc = json!({"storage": [s], "hosts": [h], "requests": reqs});
    // Memory: (256 - 16) = 240 usable, four of 60 fit exactly.
    let sol = solve(&doc, Mode::Place);
    assert_eq!(sol.placements.len(), 4, "{sol:#?}");
    // The checker holds the answer to the usable capacity: at a ratio of 3 it is over.
    let mut tighter = doc.clone();
    tighter["hosts"][0]["allocation_ratio"] = json!({"cpu": 3.0});
    let p: vmplace_wire::Problem = serde_json::from_value(tighter).unwrap();
    let v = vmplace_check::check(&p, &sol, vmplace_check::Expect::WithHosts);
    assert!(
        v.iter()
            .any(|x| x.rule == vmplace_check::Rule::HostCapacity),
        "{v:#?}"
    );
    // And a fifth VM is left out, by the host (its memory) or the storage (its space).
    let mut more = doc.clone();
    more["requests"]
        .as_array_mut()
        .unwrap()
        .push(req("r4", 1.0, 1.0, 50.0));
    let sol = solve(&more, Mode::Place);
    assert_eq!(sol.placements.len(), 4);
}

//! The fit bound (models/fit.md): one test per constraint family, calling the LP directly on a
//! pool where that family decides the bound, and the bound at work in a whole `place` call.

use crate::common::*;
use serde_json::{json, Value};
use vmplace_core::domain::{Domain, Settings};
use vmplace_core::model::fit::{self, solve_fit_bound};
use vmplace_core::placement::Mode;
use vmplace_core::validation::{read_problem, Phase};
use vmplace_wire::Status;

fn domain(doc: Value) -> Domain {
    let p = read_problem(&doc.to_string(), Phase::Storage).unwrap_or_else(|e| panic!("{e:?}"));
    Domain::from_problem(&p, Settings::default())
}

fn bound(doc: Value) -> f64 {
    solve_fit_bound(&domain(doc), &exact_mip_options())
        .unwrap()
        .expect("the LP is solved to optimality")
}

fn host(id: &str, cpu: f64, mem: f64, storage: &[&str]) -> Value {
    json!({"id": id, "capacity": {"cpu": cpu, "memory_gib": mem}, "storage": storage})
}

fn vm(id: &str, cpu: f64, mem: f64, disk: f64) -> Value {
    json!({"id": id, "demand": {"cpu": cpu, "memory_gib": mem}, "disk_gib": disk})
}

fn near(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-4 * b.max(1.0)
}

#[test]
fn fit_host_capacity_gives_a_host_s_cpu_and_memory_to_a_class_together() {
    // One host of 4 CPUs and 16 GiB; two VMs of (2 CPU, 2 GiB) and two of (1 CPU, 8 GiB). Each
    // class alone fits twice, but together CPU and memory allow 2x + y <= 4, 2x + 8y <= 16: at most
    // 20/7 VMs, fractionally. Splitting the host per resource would allow all four.
    let doc = json!({
        "storage": [{"id": "s", "capacity_gib": 1000}],
        "hosts": [host("h", 4.0, 16.0, &["s"])],
        "requests": [vm("x1", 2.0, 2.0, 1.0), vm("x2", 2.0, 2.0, 1.0),
                     vm("y1", 1.0, 8.0, 1.0), vm("y2", 1.0, 8.0, 1.0)]
    });
    assert!(near(bound(doc), 20.0 / 7.0));
}

#[test]
fn fit_host_capacity_keeps_cpu_rich_and_memory_rich_hosts_apart() {
    // A CPU-rich host (8 CPU, 8 GiB) and a memory-rich one (2 CPU, 32 GiB) each run one VM of
    // (2 CPU, 8 GiB); their sums (10 CPU, 40 GiB) would look like room for five.
    let doc = json!({
        "storage": [{"id": "s", "capacity_gib": 1000}],
        "hosts": [host("cpu-rich", 8.0, 8.0, &["s"]), host("mem-rich", 2.0, 32.0, &["s"])],
        "requests": (0..5).map(|i| vm(&format!("r{i}"), 2.0, 8.0, 1.0)).collect::<Vec<_>>()
    });
    assert!(near(bound(doc), 2.0));
}

#[test]
fn fit_class_supply_runs_a_storage_s_vms_on_its_own_hosts() {
    // `small` (room for 100 images) reaches one host of 2 CPUs; `tiny` (one image) reaches a host
    // of 100 CPUs. Four VMs of 1 CPU: two on `small`'s host, one on `tiny`: 3.
    let doc = json!({
        "storage": [{"id": "small", "capacity_gib": 1000}, {"id": "tiny", "capacity_gib": 10}],
        "hosts": [host("a", 2.0, 100.0, &["small"]), host("b", 100.0, 1000.0, &["tiny"])],
        "requests": (0..4).map(|i| vm(&format!("r{i}"), 1.0, 1.0, 10.0)).collect::<Vec<_>>()
    });
    assert!(near(bound(doc), 3.0));
}

#[test]
fn fit_group_supply_counts_a_host_once_for_all_its_storage_systems() {
    // One host of 2 CPUs reaches `s1` and `s2`; two VMs of 1 CPU have their images on `s1`
    // already and two on `s2`. The host runs two in all, not two per storage system.
    let pinned = |id: &str, s: &str| json!({"id": id, "demand": {"cpu": 1, "memory_gib": 1}, "disk_gib": 1, "storage": s});
    let doc = json!({
        "storage": [{"id": "s1", "capacity_gib": 100}, {"id": "s2", "capacity_gib": 100}],
        "hosts": [host("h", 2.0, 100.0, &["s1", "s2"])],
        "requests": [pinned("a1", "s1"), pinned("a2", "s1"), pinned("b1", "s2"), pinned("b2", "s2")]
    });
    let b = bound(doc);
    assert!(near(b, 2.0), "{b}");
}

#[test]
fn fit_storage_capacity_keeps_images_within_free_space() {
    // 10 GiB free, images of 4 GiB: 2.5 fractionally, not 4.
    let doc = json!({
        "storage": [{"id": "s", "capacity_gib": 10}],
        "hosts": [host("h", 100.0, 1000.0, &["s"])],
        "requests": (0..4).map(|i| vm(&format!("r{i}"), 1.0, 1.0, 4.0)).collect::<Vec<_>>()
    });
    assert!(near(bound(doc), 2.5));
}

#[test]
fn fit_storage_capacity_shares_free_space_among_flavors() {
    // 10 GiB free, one image of 6 and one of 7: each alone fits (its column's bound allows it),
    // both do not. 6 y_a + 7 y_b <= 10 allows 1 + 4/7, not 2.
    let doc = json!({
        "storage": [{"id": "s", "capacity_gib": 10}],
        "hosts": [host("h", 100.0, 1000.0, &["s"])],
        "requests": [vm("a", 1.0, 1.0, 6.0), vm("b", 1.0, 1.0, 7.0)]
    });
    assert!(near(bound(doc), 1.0 + 4.0 / 7.0));
}

#[test]
fn fit_assignment_counts_a_request_once_over_its_storage_systems() {
    let doc = json!({
        "storage": [{"id": "s1", "capacity_gib": 100}, {"id": "s2", "capacity_gib": 100}],
        "hosts": [host("h", 100.0, 1000.0, &["s1", "s2"])],
        "requests": [vm("r", 1.0, 1.0, 1.0)]
    });
    assert!(near(bound(doc), 1.0));
}

#[test]
fn fit_candidates_keep_a_request_on_its_fixed_storage() {
    // `r`'s image is on `near` already, whose only host has 1 CPU free; `r` needs 2. `far`'s host
    // has room, but not for `r`, whose storage is chosen.
    let doc = json!({
        "storage": [{"id": "near", "capacity_gib": 100}, {"id": "far", "capacity_gib": 100}],
        "hosts": [host("small", 1.0, 1000.0, &["near"]), host("big", 100.0, 1000.0, &["far"])],
        "requests": [{"id": "r", "demand": {"cpu": 2, "memory_gib": 1}, "disk_gib": 1,
                      "storage": "near"},
                     vm("free", 1.0, 1.0, 1.0)]
    });
    let b = bound(doc);
    assert!(near(b, 1.0), "{b}");
}

#[test]
fn fit_weight_counts_priorities() {
    // Room for one of two VMs: the bound is the heavier one's priority.
    let doc = json!({
        "storage": [{"id": "s", "capacity_gib": 100}],
        "hosts": [host("h", 1.0, 1000.0, &["s"])],
        "requests": [vm("light", 1.0, 1.0, 1.0),
                     {"id": "heavy", "demand": {"cpu": 1, "memory_gib": 1}, "disk_gib": 1,
                      "priority": 5}]
    });
    assert!(near(bound(doc), 5.0));
}

#[test]
fn a_host_runs_whole_vms_of_one_shape() {
    // 3 CPUs free and VMs of 2: one per host, not 1.5.
    let doc = json!({
        "storage": [{"id": "s", "capacity_gib": 100}],
        "hosts": [host("h", 3.0, 1000.0, &["s"])],
        "requests": [vm("a", 2.0, 1.0, 1.0), vm("b", 2.0, 1.0, 1.0)]
    });
    assert!(near(bound(doc), 1.0));
}

#[test]
fn merged_shapes_never_cut_off_an_answer() {
    // More shapes than the LP keeps apart; every VM fits the host, so the bound must allow all.
    let n = fit::MAX_CLASSES + 6;
    let requests: Vec<Value> = (0..n)
        .map(|i| {
            vm(
                &format!("r{i}"),
                1.0 + i as f64 * 0.1,
                1.0 + (n - i) as f64 * 0.3,
                1.0,
            )
        })
        .collect();
    let cpu: f64 = (0..n).map(|i| 1.0 + i as f64 * 0.1).sum();
    let mem: f64 = (0..n).map(|i| 1.0 + (n - i) as f64 * 0.3).sum();
    let doc = json!({
        "storage": [{"id": "s", "capacity_gib": 1000}],
        "hosts": [host("h", cpu, mem, &["s"])],
        "requests": requests
    });
    let d = domain(doc.clone());
    let classes = fit::classes(&d, &vmplace_core::model::storage::flavors(&d));
    assert_eq!(classes.len(), fit::MAX_CLASSES);
    assert!(bound(doc) >= n as f64 - 1e-6);
}

#[test]
fn a_call_on_hosts_rich_in_one_resource_is_proven_by_the_fit_bound() {
    // Ten CPU-rich hosts and ten memory-rich ones each run one VM of (2 CPU, 8 GiB); 40 VMs ask.
    // Summed per resource the pool has room for 50; the answer places 20 and proves it.
    let mut hosts = Vec::new();
    for i in 0..10 {
        hosts.push(host(&format!("c{i}"), 8.0, 8.0, &["s"]));
        hosts.push(host(&format!("m{i}"), 2.0, 32.0, &["s"]));
    }
    let doc = json!({
        "storage": [{"id": "s", "capacity_gib": 10000}],
        "hosts": hosts,
        "requests": (0..40).map(|i| vm(&format!("r{i}"), 2.0, 8.0, 1.0)).collect::<Vec<_>>()
    });
    let s = solve_with(&doc, Mode::Place, &Knobs::default());
    assert_eq!(s.placed_weight, 20.0);
    assert!(
        s.placed_weight_bound < 20.0 + 1e-3,
        "{}",
        s.placed_weight_bound
    );
    assert_ne!(s.status, Status::TimeLimit);
}

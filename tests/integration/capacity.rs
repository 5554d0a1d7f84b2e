//! `vmplace capacity`: counts that can be computed by hand (identical hosts, one storage system),
//! what binds, the problem's own requests placed first, and bad flavors.

use serde_json::{json, Value};
use vmplace::capacity::{CapacityReport, Flavor};
use vmplace::placement::RunConfig;
use vmplace::service::api::{capacity_text, Overrides};

fn flavor(name: &str, cpu: f64, mem: f64, disk: f64) -> Flavor {
    Flavor {
        name: name.into(),
        demand: [("cpu".to_string(), cpu), ("memory_gib".to_string(), mem)]
            .into_iter()
            .collect(),
        disk_gib: disk,
    }
}

fn count(doc: &Value, flavors: &[Flavor]) -> CapacityReport {
    capacity_text(
        &doc.to_string(),
        flavors,
        &Overrides::default(),
        &RunConfig::default(),
    )
    .expect("valid")
}

fn pool(requests: Value) -> Value {
    let host =
        |id: &str| json!({"id": id, "capacity": {"cpu": 8, "memory_gib": 32}, "storage": ["s"]});
    json!({"storage": [{"id": "s", "capacity_gib": 1000}],
           "hosts": [host("h1"), host("h2"), host("h3"), host("h4")],
           "requests": requests})
}

#[test]
fn identical_hosts_and_one_storage_give_the_hand_count() {
    // Each host holds min(8 / 2, 32 / 8) = 4 VMs of 2 CPUs and 8 GiB: 16; the storage 100 images.
    let r = count(
        &pool(json!([])),
        &[flavor("a", 2.0, 8.0, 10.0), flavor("b", 1.0, 1.0, 100.0)],
    );
    let a = &r.flavors[0];
    assert_eq!((a.fit, a.bound, a.gap), (16, 16, 0.0));
    assert_eq!(a.binding.kind, "host_capacity");
    // 1 CPU and 1 GiB: hosts hold 32, the storage 10 images of 100 GiB.
    let b = &r.flavors[1];
    assert_eq!((b.fit, b.bound), (10, 10));
    assert_eq!(b.binding.kind, "storage_capacity");
}

#[test]
fn the_problems_requests_are_placed_first() {
    let reqs = json!([{"id": "r1", "demand": {"cpu": 8, "memory_gib": 8}, "disk_gib": 10}]);
    let r = count(&pool(reqs), &[flavor("a", 2.0, 8.0, 10.0)]);
    assert_eq!(r.requests_placed, 1);
    assert_eq!(r.flavors[0].fit, 12);
}

#[test]
fn storage_whose_hosts_are_full_strands_its_space() {
    // s-big has room for 50 images but reaches only h-full; h-free reaches s-small (2 images).
    let doc = json!({
        "storage": [{"id": "s-big", "capacity_gib": 500}, {"id": "s-small", "capacity_gib": 20}],
        "hosts": [
            {"id": "h-full", "capacity": {"cpu": 8, "memory_gib": 32}, "used": {"cpu": 8}, "storage": ["s-big"]},
            {"id": "h-free", "capacity": {"cpu": 8, "memory_gib": 32}, "storage": ["s-small"]}
        ]
    });
    let r = count(&doc, &[flavor("a", 1.0, 1.0, 10.0)]);
    let a = &r.flavors[0];
    assert_eq!((a.fit, a.bound), (2, 2));
    assert_eq!(a.binding.kind, "storage_capacity");
    assert_eq!(a.stranded_storage, 1);
    assert_eq!(a.stranded_hosts, 1);
}

#[test]
fn a_flavor_with_an_unknown_resource_is_an_error_naming_the_flag() {
    let mut f = flavor("gpu", 1.0, 1.0, 1.0);
    f.demand.insert("gpus".into(), 1.0);
    let errors = capacity_text(
        &pool(json!([])).to_string(),
        &[f],
        &Overrides::default(),
        &RunConfig::default(),
    )
    .expect_err("unknown resource");
    assert!(
        errors
            .iter()
            .any(|e| e.code == "E1205" && e.path == "--flavor 1"),
        "{errors:?}"
    );
}

#[test]
fn the_cli_counts_and_writes_json_only() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vmplace"))
        .args([
            "capacity",
            "instances/examples/small.json",
            "--flavor",
            "name=m.small,cpu=1,memory_gib=2,disk_gib=10",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run");
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let f = &v["flavors"][0];
    assert_eq!(f["name"], "m.small");
    assert!(f["fit"].as_u64() <= f["bound"].as_u64());
}

//! Scheduler rules of issue 12 end to end: traits (host and storage) and their reason codes,
//! through every solver, each answer held to the independent checker (`common::solve`).

use crate::common::{host, host_of, req, solve_with, storage, storage_of, unplaced_code, Knobs};
use serde_json::{json, Value};
use vmplace::format::{ReasonCode, SolverKind};
use vmplace::placement::Mode;

const SOLVERS: [SolverKind; 3] = [SolverKind::Mip, SolverKind::Greedy, SolverKind::GreedyRetry];

fn knobs(solver: SolverKind) -> Knobs {
    Knobs {
        solver,
        ..Knobs::default()
    }
}

/// A rack pool in miniature: s1 reaches the plain hosts, s2 (SSD) the GPU host, and the pool-wide
/// s3 (SSD, replicated) every host.
fn pool(requests: Vec<Value>) -> Value {
    let mut s2 = storage("s2", 500.0);
    s2["traits"] = json!(["SSD"]);
    let mut s3 = storage("s3", 2000.0);
    s3["traits"] = json!(["SSD", "REPLICATED"]);
    let mut gpu = host("gpu", 16.0, 64.0, &["s2", "s3"]);
    gpu["traits"] = json!(["HW_GPU"]);
    let mut spot = host("spot", 64.0, 256.0, &["s1", "s3"]);
    spot["traits"] = json!(["SPOT"]);
    json!({"storage": [storage("s1", 2000.0), s2, s3],
           "hosts": [host("h1", 32.0, 128.0, &["s1", "s3"]), gpu, spot],
           "requests": requests})
}

fn with(mut r: Value, field: &str, traits: &[&str]) -> Value {
    r[field] = json!(traits);
    r
}

#[test]
fn every_solver_puts_each_vm_where_its_traits_allow() {
    let requests = vec![
        with(req("ml", 8.0, 32.0, 50.0), "required_traits", &["HW_GPU"]),
        with(req("db", 8.0, 32.0, 50.0), "forbidden_traits", &["SPOT"]),
        with(
            req("fast", 2.0, 8.0, 50.0),
            "storage_required_traits",
            &["SSD"],
        ),
        with(
            with(
                req("local", 2.0, 8.0, 50.0),
                "storage_required_traits",
                &["SSD"],
            ),
            "storage_forbidden_traits",
            &["REPLICATED"],
        ),
        req("any", 2.0, 8.0, 50.0),
    ];
    let doc = pool(requests);
    for solver in SOLVERS {
        let sol = solve_with(&doc, Mode::Place, &knobs(solver));
        if solver == SolverKind::Greedy {
            // Cinder's weigher is blind to hosts: `ml`'s image may land where no GPU host is.
            // The checker (in `solve_with`) still holds every placement to the traits.
            continue;
        }
        assert_eq!(sol.placements.len(), 5, "{solver:?}: {sol:#?}");
        assert_eq!(host_of(&sol, "ml").as_deref(), Some("gpu"), "{solver:?}");
        assert_ne!(host_of(&sol, "db").as_deref(), Some("spot"), "{solver:?}");
        assert_ne!(
            storage_of(&sol, "fast").as_deref(),
            Some("s1"),
            "{solver:?}"
        );
        assert_eq!(
            storage_of(&sol, "local").as_deref(),
            Some("s2"),
            "{solver:?}"
        );
    }
}

#[test]
fn a_vm_no_host_or_storage_can_take_gets_the_traits_reason() {
    let requests = vec![
        with(req("fpga", 1.0, 1.0, 1.0), "required_traits", &["FPGA"]),
        with(
            req("nvme", 1.0, 1.0, 1.0),
            "storage_required_traits",
            &["NVME"],
        ),
        // Its traits exist, but not on one host: GPU and spot are different hosts.
        with(
            req("both", 1.0, 1.0, 1.0),
            "required_traits",
            &["HW_GPU", "SPOT"],
        ),
        // Too big for every host as well: the missing trait is named first.
        with(req("huge", 1000.0, 1.0, 1.0), "required_traits", &["FPGA"]),
        // The GPU host exists, but not on the only storage its storage traits allow (s1).
        with(
            with(req("apart", 1.0, 1.0, 1.0), "required_traits", &["HW_GPU"]),
            "storage_forbidden_traits",
            &["SSD"],
        ),
    ];
    let doc = pool(requests);
    for solver in SOLVERS {
        let sol = solve_with(&doc, Mode::Place, &knobs(solver));
        assert!(sol.placements.is_empty(), "{solver:?}: {sol:#?}");
        for (vm, code) in [
            ("fpga", ReasonCode::NoHostWithTraits),
            ("nvme", ReasonCode::NoStorageWithTraits),
            ("huge", ReasonCode::NoHostWithTraits),
            ("apart", ReasonCode::NoConnectedHostCapacity),
            ("both", ReasonCode::NoHostWithTraits),
        ] {
            assert_eq!(unplaced_code(&sol, vm), Some(code), "{solver:?} {vm}");
        }
        // The reason names the rule that no host meets, or says that none meets them all.
        let reason = |vm: &str| {
            sol.unplaced
                .iter()
                .find(|u| u.request == vm)
                .map(|u| u.reason.clone())
                .unwrap_or_default()
        };
        assert!(
            reason("fpga").contains("`trait:FPGA`"),
            "{}",
            reason("fpga")
        );
        assert!(
            reason("both").contains("no host meets them all"),
            "{}",
            reason("both")
        );
    }
}

#[test]
fn the_gpu_host_is_kept_for_the_vms_that_need_it() {
    // The GPU host fits two VMs of 8 CPUs. Two need the GPU; the plain ones go elsewhere. Input
    // order puts the plain ones first: a greedy that ignores who needs the GPU fills it with
    // them, the MIP does not.
    let mut requests: Vec<Value> = (0..4)
        .map(|i| {
            let mut r = req(&format!("plain{i}"), 8.0, 8.0, 10.0);
            r["storage_required_traits"] = json!(["SSD"]);
            r
        })
        .collect();
    for i in 0..2 {
        requests.push(with(
            req(&format!("ml{i}"), 8.0, 8.0, 10.0),
            "required_traits",
            &["HW_GPU"],
        ));
    }
    let doc = pool(requests);
    let sol = solve_with(&doc, Mode::Place, &knobs(SolverKind::Mip));
    assert_eq!(sol.placements.len(), 6, "{sol:#?}");
    assert_eq!(host_of(&sol, "ml0").as_deref(), Some("gpu"));
    assert_eq!(host_of(&sol, "ml1").as_deref(), Some("gpu"));
}

#[test]
fn the_checker_reports_a_host_or_storage_that_breaks_the_traits() {
    let doc = pool(vec![
        with(req("ml", 1.0, 1.0, 1.0), "required_traits", &["HW_GPU"]),
        with(
            req("fast", 1.0, 1.0, 1.0),
            "storage_required_traits",
            &["SSD"],
        ),
    ]);
    // A valid answer, then tampered with: `ml` moved to a host without the GPU, `fast`'s image
    // to storage without SSD.
    let mut answer = solve_with(&doc, Mode::Place, &knobs(SolverKind::Mip));
    let problem: vmplace::format::Problem = serde_json::from_value(doc).unwrap();
    for p in &mut answer.placements {
        match p.request.as_str() {
            "ml" => p.host = Some("h1".into()),
            _ => {
                p.storage = "s1".into();
                p.host = Some("h1".into());
            }
        }
    }
    let at = |id: &str| {
        answer
            .placements
            .iter()
            .position(|p| p.request == id)
            .unwrap()
    };
    let (ml, fast) = (at("ml"), at("fast"));
    let v = vmplace::checker::check(&problem, &answer, vmplace::checker::Expect::WithHosts);
    let has = |rule, path: &str| v.iter().any(|x| x.rule == rule && x.path == path);
    assert!(
        has(
            vmplace::checker::Rule::HostTraits,
            &format!("/placements/{ml}/host")
        ),
        "{v:#?}"
    );
    assert!(
        has(
            vmplace::checker::Rule::StorageTraits,
            &format!("/placements/{fast}/storage")
        ),
        "{v:#?}"
    );
}

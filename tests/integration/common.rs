//! Shared helpers: solve through the same path as the CLI and check every answer independently.
#![allow(dead_code)]

use serde_json::{json, Value};
use vmplace_check::{check, Expect};
use vmplace_core::domain::{Domain, Settings};
use vmplace_core::model::MipOptions;
use vmplace_core::placement::{run_or_fallback, Mode, RunConfig};
use vmplace_core::validation::{read_problem, Phase, Valid};
use vmplace_wire::{Objective, Problem, ReasonCode, Solution, SolverKind};

/// Knobs a test may change.
#[derive(Clone)]
pub struct Knobs {
    pub solver: SolverKind,
    pub storage_policy: Objective,
    pub host_policy: Objective,
    pub flexibility_weight: f64,
    pub time_limit_s: f64,
}

impl Default for Knobs {
    fn default() -> Self {
        Knobs {
            solver: SolverKind::Mip,
            storage_policy: Objective::Balance,
            host_policy: Objective::Pack,
            flexibility_weight: 0.5,
            time_limit_s: 5.0,
        }
    }
}

/// HiGHS options for calling a model directly in tests: proven optimum (`mip_gap` 0), one
/// thread, no warm start or model file.
pub fn exact_mip_options() -> MipOptions {
    MipOptions {
        time_limit_s: 30.0,
        mip_gap: 0.0,
        threads: 1,
        write_model: None,
        relax: false,
        budget: vmplace_core::budget::Budget::default(),
        max_nodes: None,
        presolve: true,
        light_heuristics: false,
    }
}

pub fn parse(doc: &Value, mode: Mode) -> Valid<Problem> {
    let phase = if mode == Mode::Host {
        Phase::Host
    } else {
        Phase::Storage
    };
    read_problem(&doc.to_string(), phase).unwrap_or_else(|e| panic!("invalid test problem: {e:?}"))
}

/// Solves and asserts that the independent checker accepts the answer.
pub fn solve_with(doc: &Value, mode: Mode, k: &Knobs) -> Solution {
    let problem = parse(doc, mode);
    let settings = Settings {
        solver: k.solver,
        storage_policy: k.storage_policy,
        host_policy: k.host_policy,
        flexibility_weight: k.flexibility_weight,
        time_limit_s: k.time_limit_s,
        // The document's `mip_gap`, as the CLI reads it: the checker holds `optimal` to it.
        mip_gap: doc["options"]["mip_gap"]
            .as_f64()
            .unwrap_or(Settings::default().mip_gap),
        ..Settings::default()
    };
    let d = Domain::from_problem(&problem, settings);
    let solution = run_or_fallback(&d, mode, &RunConfig::default());
    let expect = if mode == Mode::Storage {
        Expect::StorageOnly
    } else {
        Expect::WithHosts
    };
    let violations = check(&problem, &solution, expect);
    assert!(
        violations.is_empty(),
        "checker rejected the answer: {violations:#?}\n{solution:#?}"
    );
    solution
}

pub fn solve(doc: &Value, mode: Mode) -> Solution {
    solve_with(doc, mode, &Knobs::default())
}

pub fn storage_of(s: &Solution, request: &str) -> Option<String> {
    s.placements
        .iter()
        .find(|p| p.request == request)
        .map(|p| p.storage.clone())
}

pub fn host_of(s: &Solution, request: &str) -> Option<String> {
    s.placements
        .iter()
        .find(|p| p.request == request)
        .and_then(|p| p.host.clone())
}

pub fn unplaced_code(s: &Solution, request: &str) -> Option<ReasonCode> {
    s.unplaced
        .iter()
        .find(|u| u.request == request)
        .map(|u| u.code)
}

pub fn host(id: &str, cpu: f64, mem: f64, storage: &[&str]) -> Value {
    json!({"id": id, "capacity": {"cpu": cpu, "memory_gib": mem}, "storage": storage})
}

pub fn req(id: &str, cpu: f64, mem: f64, disk: f64) -> Value {
    json!({"id": id, "demand": {"cpu": cpu, "memory_gib": mem}, "disk_gib": disk})
}

pub fn storage(id: &str, capacity: f64) -> Value {
    json!({"id": id, "capacity_gib": capacity})
}

pub fn instances(set: &str) -> Vec<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("instances")
        .join(set);
    vmplace::bench::instance_files(&dir).expect("instance set exists")
}

/// Starts `vmplace serve` as `cmd` describes (its stdout is taken over here) and returns the child
/// with the address it prints on its first stdout line (`{"listening": ...}`).
pub fn spawn_server(mut cmd: std::process::Command) -> (std::process::Child, String) {
    use std::io::{BufRead, BufReader};
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("server starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped stdout"))
        .read_line(&mut line)
        .expect("the server's first line");
    let v: Value = serde_json::from_str(&line).expect("first stdout line is the bound address");
    let addr = v["listening"].as_str().expect("an address").to_string();
    (child, addr)
}

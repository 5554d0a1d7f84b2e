//! Issue 27 (hardening III), `vmplace migrate STATE --sequence PLAN`: the command returns on any
//! plan (H5: moves that never fit bounced between pivot hosts for ever), drops what no order runs
//! with `NO_SAFE_ORDER` and leaves no VM on a pivot (L4), refuses a target the VM's traits rule out
//! (L4), and its output passes `vmplace check`. Reproducers in tests/data/hardening3/.

use proptest::prelude::*;
use serde_json::{json, Value};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use vmplace_wire::state::{DropCode, Plan};
use vmplace_wire::ErrorDocument;

const DATA: &str = "tests/data/hardening3";

/// Seconds a `--sequence` of a few moves may take before the test calls it a hang (it takes
/// milliseconds; the defect never returned).
const DEADLINE_S: u64 = 10;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(DATA).join(name)
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// A thread that reads `r` to its end.
fn drain<R: Read + Send + 'static>(r: Option<R>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut r) = r {
            let _ = r.read_to_end(&mut bytes);
        }
        bytes
    })
}

/// Runs vmplace with `args` under a 2 GB address-space limit; fails the test, after killing it,
/// if it has not returned within [`DEADLINE_S`].
fn vmplace_within(args: &[&str]) -> Output {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(r#"ulimit -v 2000000; exec "$0" "$@""#)
        .arg(env!("CARGO_BIN_EXE_vmplace"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary runs");
    let (out, err) = (drain(child.stdout.take()), drain(child.stderr.take()));
    let deadline = Instant::now() + Duration::from_secs(DEADLINE_S);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "`vmplace {}` still runs after {DEADLINE_S} s",
                args.join(" ")
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

fn text(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

/// `vmplace migrate STATE --sequence PLAN` returns in time and exits 0, and `vmplace check STATE
/// OUT` accepts what it wrote; returns it.
fn sequence_checked(state: &Path, plan: &Path) -> Plan {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sequenced.json");
    let o = vmplace_within(&[
        "migrate",
        text(state),
        "--sequence",
        text(plan),
        "-o",
        text(&out),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let c = vmplace_within(&["check", text(state), text(&out)]);
    assert_eq!(
        c.status.code(),
        Some(0),
        "check refuses the sequenced plan: {}",
        String::from_utf8_lossy(&c.stdout)
    );
    serde_json::from_value(read_json(&out)).unwrap()
}

/// The plan with each move's target as its one accepting candidate: the reproducer's candidates
/// were made for another state, and `check` asks that a target accepted.
fn accepting_targets(mut plan: Value) -> Value {
    for m in plan["migrations"].as_array_mut().unwrap() {
        m["candidates"] = json!([{"host": m["to"].clone(), "accepted": true}]);
    }
    plan
}

fn write(dir: &Path, name: &str, doc: &Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, doc.to_string()).unwrap();
    path
}

/// The one dropped move of `vm`, asserted to be `NO_SAFE_ORDER` from its state host, its VM kept
/// out of the migrations and the steps and listed as stayed.
fn assert_dropped_at_source(p: &Plan, vm: &str, from: &str, to: &str) {
    let d: Vec<_> = p.stats.dropped.iter().filter(|d| d.vm == vm).collect();
    assert_eq!(d.len(), 1, "{:#?}", p.stats.dropped);
    assert_eq!(
        (d[0].code, d[0].from.as_str(), d[0].to.as_str()),
        (DropCode::NoSafeOrder, from, to)
    );
    assert!(
        p.migrations.iter().all(|m| m.vm != vm),
        "{:#?}",
        p.migrations
    );
    assert!(p.steps.iter().flatten().all(|id| id != vm), "{:?}", p.steps);
    assert!(p.stats.stayed.iter().any(|id| id == vm));
}

#[test]
fn two_moves_onto_room_for_one_return_with_one_run_and_the_other_dropped() {
    // A has room for b1 or c1, not both: c1 used to bounce between the pivots B and C for ever.
    let dir = tempfile::tempdir().unwrap();
    let plan = accepting_targets(read_json(&data("seq-hang-min-plan.json")));
    let plan = write(dir.path(), "plan.json", &plan);
    let p = sequence_checked(&data("seq-hang-min-state-c2.json"), &plan);
    let moved: Vec<_> = p.migrations.iter().map(|m| m.vm.as_str()).collect();
    assert_eq!(moved, ["b1"]);
    assert_eq!(p.migrations[0].via, None);
    assert_dropped_at_source(&p, "c1", "C", "A");
    assert_eq!(p.hosts_after["A"].vms, 2);
    assert_eq!(p.hosts_after["C"].vms, 1);
}

#[test]
fn a_move_next_to_a_member_of_its_anti_affinity_group_returns_dropped() {
    // h0 runs v2 of group `la`, and nothing moves v2 away: v7 can never arrive there.
    let p = sequence_checked(&data("seq-hang2-state.json"), &data("seq-hang2-plan.json"));
    assert!(p.migrations.is_empty() && p.steps.is_empty(), "{p:#?}");
    assert_dropped_at_source(&p, "v7", "h3", "h0");
}

#[test]
fn a_move_dropped_after_its_pivot_leaves_no_vm_on_the_pivot_and_passes_check() {
    // v13 (h6 -> h0) used to go to pivot h7 and stop there, which no host had accepted.
    let p = sequence_checked(
        &data("seq-pivotdrop-state.json"),
        &data("seq-pivotdrop-plan.json"),
    );
    assert_dropped_at_source(&p, "v13", "h6", "h0");
    assert_eq!(p.stats.dropped.len(), 1, "{:#?}", p.stats.dropped);
    assert_eq!(p.migrations.len(), 11);
}

/// A state of two hosts, `gpu` with trait GPU and `plain` without, and VM `v` on `plain` with
/// `traits` (its required or forbidden traits).
fn traits_state(traits: Value) -> Value {
    let mut vm = json!({"id": "v", "host": "plain", "storage": "s",
                        "demand": {"cpu": 1, "memory_gib": 1}});
    for (k, t) in traits.as_object().unwrap() {
        vm[k] = t.clone();
    }
    json!({"storage": [{"id": "s", "capacity_gib": 100}],
           "hosts": [
               {"id": "gpu", "capacity": {"cpu": 8, "memory_gib": 8}, "storage": ["s"],
                "traits": ["GPU"]},
               {"id": "plain", "capacity": {"cpu": 8, "memory_gib": 8}, "storage": ["s"]},
               {"id": "other", "capacity": {"cpu": 8, "memory_gib": 8}, "storage": ["s"]}],
           "vms": [vm]})
}

/// A plan of one move of `v` from `from` to `to`, its target accepting.
fn one_move(from: &str, to: &str) -> Value {
    json!({"status": "feasible",
           "migrations": [{"vm": "v", "from": from, "to": to, "live": true, "reason": "overload",
                           "score": {"total": 0, "power": 0, "balance": 0, "cost": 0},
                           "candidates": [{"host": to, "accepted": true}], "asked": 1,
                           "declined": {}, "history_sent": {"samples": 0}}],
           "messages": [], "hosts_after": {},
           "stats": {"overloaded_hosts": [], "emptied_hosts": [], "stayed": [],
                     "power_before_w": 0, "power_after_w": 0, "active_hosts_before": 0,
                     "active_hosts_after": 0, "time_s": 0}})
}

/// `migrate --sequence` of `plan` on `state`: exit 2 and its error document.
fn refused(state: &Value, plan: &Value) -> ErrorDocument {
    let dir = tempfile::tempdir().unwrap();
    let (s, p) = (
        write(dir.path(), "state.json", state),
        write(dir.path(), "plan.json", plan),
    );
    let o = vmplace_within(&["migrate", text(&s), "--sequence", text(&p)]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    serde_json::from_slice(&o.stdout).expect("stdout is the error document")
}

#[test]
fn a_move_to_a_host_its_traits_rule_out_is_refused_at_its_path() {
    let needs = traits_state(json!({"required_traits": ["GPU"]}));
    let doc = refused(&needs, &one_move("plain", "other"));
    let found: Vec<_> = doc
        .errors
        .iter()
        .map(|e| (e.code.code(), e.path.as_str()))
        .collect();
    assert_eq!(found, [("E1703", "/plan/migrations/0/to")]);
    assert!(doc.errors[0].cause.contains("`GPU`"), "{:#?}", doc.errors);
    let shuns = traits_state(json!({"forbidden_traits": ["GPU"]}));
    let doc = refused(&shuns, &one_move("plain", "gpu"));
    let found: Vec<_> = doc
        .errors
        .iter()
        .map(|e| (e.code.code(), e.path.as_str()))
        .collect();
    assert_eq!(found, [("E1703", "/plan/migrations/0/to")]);
    // The same moves where the traits allow them are sequenced, and check accepts them.
    let dir = tempfile::tempdir().unwrap();
    let s = write(dir.path(), "state.json", &needs);
    let p = write(dir.path(), "plan.json", &one_move("plain", "gpu"));
    assert_eq!(sequence_checked(&s, &p).steps, [["v"]]);
}

/// Five hosts of 8 CPUs and 16 GiB in two racks, ten VMs filling them to between 9 and 14 GiB;
/// `a` and `b` share an anti-affinity group, `c` and `d` a hard anti-affinity rule by rack.
fn small_state() -> Value {
    let hosts: Vec<Value> = (0..5)
        .map(|h| {
            json!({"id": format!("h{h}"), "capacity": {"cpu": 8, "memory_gib": 16},
                   "storage": ["s"], "labels": {"rack": format!("r{}", h % 2)}})
        })
        .collect();
    let vms = [
        ("a", 0, 6),
        ("b", 1, 5),
        ("c", 2, 7),
        ("d", 3, 4),
        ("e", 4, 8),
        ("f", 0, 5),
        ("g", 1, 6),
        ("h", 2, 4),
        ("i", 3, 8),
        ("j", 4, 6),
    ];
    let vms: Vec<Value> = vms
        .iter()
        .map(|(id, h, mem)| {
            let mut v = json!({"id": id, "host": format!("h{h}"), "storage": "s",
                               "demand": {"cpu": 1, "memory_gib": mem}});
            match *id {
                "a" | "b" => v["anti_affinity"] = json!("la"),
                "c" | "d" => v["groups"] = json!(["g"]),
                _ => {}
            }
            v
        })
        .collect();
    json!({"storage": [{"id": "s", "capacity_gib": 1000}], "hosts": hosts, "vms": vms,
           "groups": [{"id": "g", "policy": "anti-affinity", "scope": "rack"}],
           "policy": {"max_concurrent_per_host": 1}})
}

/// A plan moving each of `moves`' VMs (index into the state's VMs, first pick wins) to host
/// `h{target}`, skipping moves onto the VM's own host.
fn random_plan(state: &Value, moves: &[(usize, usize)]) -> (Value, Vec<(String, String)>) {
    let vms = state["vms"].as_array().unwrap();
    let mut plan = one_move("x", "x");
    let mut wanted: Vec<(String, String)> = Vec::new();
    let mut list = Vec::new();
    for &(v, t) in moves {
        let (id, from, to) = (
            vms[v]["id"].as_str().unwrap(),
            vms[v]["host"].as_str().unwrap(),
            format!("h{t}"),
        );
        if from == to || wanted.iter().any(|(w, _)| w == id) {
            continue;
        }
        let mut m = one_move(from, &to)["migrations"][0].clone();
        m["vm"] = json!(id);
        list.push(m);
        wanted.push((id.to_string(), to));
    }
    plan["migrations"] = Value::Array(list);
    (plan, wanted)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn random_move_sets_on_a_small_state_return_and_pass_check(
        moves in prop::collection::vec((0usize..10, 0usize..5), 1..10)
    ) {
        let state = small_state();
        let (plan, wanted) = random_plan(&state, &moves);
        let dir = tempfile::tempdir().unwrap();
        let s = write(dir.path(), "state.json", &state);
        let p = write(dir.path(), "plan.json", &plan);
        let out = sequence_checked(&s, &p);
        // Every move either runs to its target or is dropped with NO_SAFE_ORDER, never both.
        for (vm, to) in &wanted {
            let ran = out.migrations.iter().any(|m| &m.vm == vm && &m.to == to);
            let dropped = out.stats.dropped.iter().any(|d| &d.vm == vm && d.code == DropCode::NoSafeOrder);
            prop_assert!(ran != dropped, "{vm}: ran {ran}, dropped {dropped}");
        }
        prop_assert_eq!(out.migrations.len() + out.stats.dropped.len(), wanted.len());
    }
}

//! ROADEF/EURO 2012 machine reassignment (issue 29): the parser's coded errors, the
//! independent checker on hand-made instances (`tests/data/roadef/README.md` explains each)
//! and on the challenge's instances when `../shared` is there, the incremental state against
//! the checker, and the `roadef` and `check --roadef` command lines.

use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};
use vmplace_check::roadef::{check_roadef, RoadefRule};
use vmplace_core::roadef::model::{Assignment, MachineIx, Model, ProcessIx};
use vmplace_core::roadef::parse::{parse_assignment, parse_model};
use vmplace_core::roadef::state::{Move, State};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/roadef")
        .join(name)
}

fn text(name: &str) -> String {
    std::fs::read_to_string(data(name)).unwrap()
}

fn tiny() -> (Model, Assignment) {
    let m = parse_model("model_tiny.txt", &text("model_tiny.txt")).unwrap();
    let a = parse_assignment("assignment_tiny.txt", &text("assignment_tiny.txt"), &m).unwrap();
    (m, a)
}

fn codes(e: &[vmplace_wire::InputError]) -> Vec<(&str, &str)> {
    e.iter().map(|e| (e.code.code(), e.path.as_str())).collect()
}

#[test]
fn the_tiny_model_reads_into_typed_items() {
    let (m, a) = tiny();
    assert_eq!(
        (m.r(), m.m(), m.services.len(), m.processes.len()),
        (2, 4, 2, 4)
    );
    assert!(m.resources[1].transient && !m.resources[0].transient);
    assert_eq!(m.safety(MachineIx(2)), &[5, 9]);
    assert_eq!(m.requirement(ProcessIx(3)), &[7, 2]);
    assert_eq!(m.move_cost(MachineIx(0), MachineIx(3)), 3);
    assert_eq!(m.services[1].depends_on[0].0, 0);
    assert_eq!((m.neighborhoods, m.locations), (2, 3));
    assert_eq!(a.to_text(), "0 2 0 1\n");
}

#[test]
fn e2001_a_short_file_names_where_it_ends() {
    let model = text("model_tiny.txt");
    let cut: String = model.lines().take(19).collect::<Vec<_>>().join("\n");
    let e = parse_model("m.txt", &cut).unwrap_err();
    assert_eq!(codes(&e), [("E2001", "m.txt:19:end")], "{e:#?}");
    assert!(e[0].cause.contains("weight"), "{}", e[0].cause);
    let (m, _) = tiny();
    let e = parse_assignment("a.txt", "0 1\n2", &m).unwrap_err();
    assert_eq!(codes(&e), [("E2001", "a.txt:2:end")]);
}

#[test]
fn e2002_and_e2003_every_bad_value_at_once_with_line_and_token() {
    let model = text("model_tiny.txt")
        .replacen("0 0 10 10 8 8 0 1 2 3", "0 0 ten 10 8 8 0 1 2 3", 1)
        .replacen("1 1 0\n", "1 1 7\n", 1)
        .replacen("0 5 5 1", "0 -5 5 1", 1);
    let e = parse_model("m.txt", &model).unwrap_err();
    assert_eq!(
        codes(&e),
        [
            ("E2002", "m.txt:5:3"),
            ("E2003", "m.txt:11:3"),
            ("E2003", "m.txt:13:2")
        ],
        "{e:#?}"
    );
    let (m, _) = tiny();
    let e = parse_assignment("a.txt", "0 4 x 1", &m).unwrap_err();
    assert_eq!(codes(&e), [("E2003", "a.txt:1:2"), ("E2002", "a.txt:1:3")]);
    assert!(e.iter().all(|e| !e.action.is_empty()));
}

#[test]
fn e2004_a_count_the_file_cannot_hold_allocates_nothing() {
    // 4 billion processes would need tens of GB: refused before anything is allocated.
    let model = text("model_tiny.txt").replacen("\n4\n0 5 5 1", "\n4000000000\n0 5 5 1", 1);
    let e = parse_model("m.txt", &model).unwrap_err();
    assert_eq!(e[0].code, "E2003", "{e:#?}"); // beyond the 32-bit range the files use
    let model = text("model_tiny.txt").replacen("\n4\n0 5 5 1", "\n2000000000\n0 5 5 1", 1);
    let e = parse_model("m.txt", &model).unwrap_err();
    assert_eq!(codes(&e), [("E2004", "m.txt:12:1")], "{e:#?}");
    let e = parse_model("m.txt", "1 0 1 99999 0 0").unwrap_err();
    assert_eq!(e[0].code, "E2004");
}

#[test]
fn e2005_numbers_after_the_end() {
    let e = parse_model("m.txt", &(text("model_tiny.txt") + "7\n")).unwrap_err();
    assert_eq!(codes(&e), [("E2005", "m.txt:21:1")], "{e:#?}");
    let (m, _) = tiny();
    let e = parse_assignment("a.txt", "0 2 0 1 3", &m).unwrap_err();
    assert_eq!(codes(&e), [("E2005", "a.txt:1:5")]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn garbage_never_panics(t in "[0-9 \\n-]{0,120}") {
        if let Err(e) = parse_model("g.txt", &t) {
            prop_assert!(e.iter().all(|e| e.code.code().starts_with("E2")));
        }
    }

    #[test]
    fn a_mutated_model_never_panics(at in 0usize..60, v in prop_oneof![Just("-1"), Just("x"), Just("99999"), Just("0"), Just("3000000000")]) {
        let model = text("model_tiny.txt");
        let mut tokens: Vec<&str> = model.split_whitespace().collect();
        let at = at % tokens.len();
        tokens[at] = v;
        let _ = parse_model("m.txt", &tokens.join(" "));
    }
}

/// The checker's answer for a hand-made new assignment.
fn check_file(name: &str) -> vmplace_check::roadef::RoadefCheck {
    let (m, a) = tiny();
    let b = parse_assignment(name, &text(name), &m).unwrap();
    check_roadef(&m, &a, &b)
}

#[test]
fn each_rule_decides_on_its_own_instance() {
    for (file, rule, machine, service) in [
        ("new_capacity.txt", RoadefRule::Capacity, Some(1), None),
        (
            "new_transient.txt",
            RoadefRule::TransientCapacity,
            Some(0),
            None,
        ),
        ("new_conflict.txt", RoadefRule::Conflict, Some(1), Some(1)),
        ("new_spread.txt", RoadefRule::Spread, None, Some(0)),
        ("new_dependency.txt", RoadefRule::Dependency, None, Some(1)),
    ] {
        let c = check_file(file);
        assert!(!c.valid, "{file}");
        assert_eq!(c.violations.len(), 1, "{file}: {:#?}", c.violations);
        let v = &c.violations[0];
        assert_eq!(
            (v.rule, v.machine, v.service),
            (rule, machine, service),
            "{file}"
        );
    }
    let c = check_file("new_transient.txt");
    assert_eq!(c.violations[0].resource, Some(1));
    assert_eq!(c.violations[0].processes, [1, 2, 0]);
    assert_eq!(
        check_file("new_dependency.txt").violations[0].processes,
        [2]
    );
}

#[test]
fn each_cost_part_decides_on_its_own_instance() {
    let initial = check_file("assignment_tiny.txt");
    assert!(initial.valid);
    assert_eq!(initial.costs.total, 25);
    assert_eq!(initial.moved_processes, 0);
    for (file, parts) in [
        ("new_load.txt", [30, 23, 4, 10, 200, 267]),
        ("new_balance.txt", [0, 23, 2, 10, 200, 235]),
        ("new_moves.txt", [0, 23, 3, 20, 500, 546]),
    ] {
        let c = check_file(file);
        assert!(c.valid, "{file}: {:#?}", c.violations);
        let k = c.costs;
        let got = [
            k.load,
            k.balance,
            k.process_move,
            k.service_move,
            k.machine_move,
            k.total,
        ];
        assert_eq!(got, parts, "{file}");
    }
}

/// The challenge's instances and their official initial costs (../shared/data/roadef/README.md).
const OFFICIAL: [(&str, i64); 14] = [
    ("a1_1", 49_528_750),
    ("a1_2", 1_061_649_570),
    ("a1_3", 583_662_270),
    ("a1_4", 632_499_600),
    ("a1_5", 782_189_690),
    ("a2_1", 391_189_190),
    ("a2_2", 1_876_768_120),
    ("a2_3", 2_272_487_840),
    ("a2_4", 3_223_516_130),
    ("a2_5", 787_355_300),
    ("b_01", 7_644_173_180),
    ("b_03", 6_336_834_660),
    ("b_04", 9_209_576_380),
    ("b_06", 12_749_861_240),
];

fn shared() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/roadef");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "note: {} is absent; skipping the official instances",
            dir.display()
        );
        None
    }
}

fn official(dir: &Path, name: &str) -> (Model, Assignment) {
    let read = |f: String| std::fs::read_to_string(dir.join(&f)).unwrap();
    let m = parse_model(name, &read(format!("model_{name}.txt"))).unwrap();
    let a = parse_assignment(name, &read(format!("assignment_{name}.txt")), &m).unwrap();
    (m, a)
}

#[test]
fn the_checker_agrees_to_the_unit_with_the_official_initial_costs() {
    let Some(dir) = shared() else { return };
    for (name, cost) in OFFICIAL {
        let (m, a) = official(&dir, name);
        let c = check_roadef(&m, &a, &a);
        assert!(c.valid, "{name}: {:#?}", c.violations);
        assert_eq!(c.costs.total, cost, "{name}");
        let aggregate = vmplace_core::roadef::bound::aggregate_lower_bound(&m);
        let bound = vmplace_core::roadef::bound::lower_bound(&m, &a);
        assert!(
            aggregate <= bound && bound <= cost,
            "{name}: bound {bound} outside [{aggregate}, {cost}]"
        );
    }
}

/// Two machines of capacity 10 on one resource (safety 2 and 10), a process of 6 on the first
/// and one of 5 on the second; `transient` says whether the resource is.
fn pinned_pair(transient: bool) -> (Model, Assignment) {
    let t = format!(
        "1\n{} 10\n2\n0 0 10 2 0 1\n0 1 10 10 1 0\n2\n1 0\n1 0\n2\n0 6 1\n1 5 1\n0\n1 10 100\n",
        u8::from(transient)
    );
    let m = parse_model("pinned", &t).unwrap();
    let a = parse_assignment("a", "0 1", &m).unwrap();
    (m, a)
}

#[test]
fn a_process_no_other_machine_can_take_puts_its_load_in_the_bound() {
    use vmplace_core::roadef::bound::{aggregate_lower_bound, lower_bound};
    // Transient: moved to the second machine, the 6 would count beside the 5 that started
    // there (11 > 10), and the 5 beside the 6 on the first: both stay, and the 4 units above
    // the first machine's safety capacity cost 40 whatever the search does.
    let (m, a) = pinned_pair(true);
    assert_eq!(aggregate_lower_bound(&m), 0, "11 units under 12 of safety");
    assert_eq!(lower_bound(&m, &a), 40);
    let c = check_roadef(&m, &a, &a);
    assert_eq!(
        c.costs.total, 40,
        "the bound is the initial cost: proven optimal"
    );
    // Not transient: the 5 may leave the second machine, so nothing is pinned (the first
    // machine's 6 still cannot go: 5 + 6 > 10, but only while the 5 stays).
    let (m, a) = pinned_pair(false);
    assert_eq!(lower_bound(&m, &a), 0);
}

/// Random feasible moves through the incremental state; its cost and feasibility must match
/// the checker's after every few moves.
fn walk(m: &Model, a: &Assignment, seed: u64, steps: usize) {
    let mut st = State::new(m, a);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let (p, k) = (m.processes.len() as u32, m.m() as u32);
    let mut made = 0;
    for i in 0..steps {
        let mv = if rng.random_bool(0.5) {
            Move::Shift(
                ProcessIx(rng.random_range(0..p)),
                MachineIx(rng.random_range(0..k)),
            )
        } else {
            Move::Swap(
                ProcessIx(rng.random_range(0..p)),
                ProcessIx(rng.random_range(0..p)),
            )
        };
        let before = st.cost();
        if let Some(delta) = st.delta(mv) {
            st.apply(mv);
            made += 1;
            assert_eq!(st.cost(), before + delta, "move {i}: {mv:?}");
        }
        if i % 97 == 0 || i + 1 == steps {
            let c = check_roadef(m, a, &st.assignment());
            assert!(c.valid, "after move {i}: {:#?}", c.violations);
            assert_eq!(c.costs.total, st.cost(), "after move {i}");
        }
    }
    assert!(made > 0, "no feasible move in {steps}");
}

/// The tiny model without move costs, so that moving pays.
fn tiny_free() -> (Model, Assignment) {
    let t = text("model_tiny.txt").replace("1 10 100", "0 0 0");
    let m = parse_model("free", &t).unwrap();
    let a = parse_assignment("a", &text("assignment_tiny.txt"), &m).unwrap();
    (m, a)
}

#[test]
fn the_incremental_state_agrees_with_the_checker() {
    let (m, a) = tiny();
    walk(&m, &a, 1, 2000);
    let (m, a) = tiny_free();
    walk(&m, &a, 2, 2000);
    if let Some(dir) = shared() {
        for name in ["a1_2", "a1_4", "a2_3", "b_01"] {
            let (m, a) = official(&dir, name);
            walk(&m, &a, 3, 3000);
        }
    }
}

#[test]
fn the_search_keeps_every_rule_and_improves_when_moving_pays() {
    let (m, a) = tiny_free();
    let deadline = Instant::now() + Duration::from_millis(300);
    let out = vmplace_core::roadef::reassign(&m, &a, 7, deadline);
    let c = check_roadef(&m, &a, &out.assignment);
    assert!(c.valid, "{:#?}", c.violations);
    assert_eq!(c.costs.total, out.cost);
    assert!(out.cost < 25, "no improvement: {}", out.cost);
    assert!(out.cost >= vmplace_core::roadef::bound::aggregate_lower_bound(&m));
}

fn vmplace(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vmplace"))
        .args(args)
        .current_dir(data(""))
        .output()
        .unwrap()
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&o.stdout)
        )
    })
}

#[test]
fn roadef_command_line_writes_a_valid_assignment_and_a_report() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("new.txt");
    let out_s = out.to_str().unwrap();
    let args = [
        "roadef",
        "-t",
        "1",
        "-p",
        "model_tiny.txt",
        "-i",
        "assignment_tiny.txt",
        "-o",
        out_s,
        "-s",
        "5",
    ];
    let start = Instant::now();
    let o = vmplace(&args);
    assert!(
        start.elapsed() < Duration::from_millis(1500),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r = json(&o);
    assert_eq!(r["initial_cost"], 25);
    assert_eq!(r["seed"], 5);
    assert!(r["time_s"].as_f64().unwrap() <= 1.0);
    // Every move costs at least 100 here: the initial assignment is optimal.
    assert_eq!(r["final_cost"]["total"], 25);
    let c = vmplace(&[
        "check",
        "--roadef",
        "model_tiny.txt",
        "assignment_tiny.txt",
        out_s,
    ]);
    assert_eq!(c.status.code(), Some(0));
    assert_eq!(json(&c)["costs"]["total"], r["final_cost"]["total"]);
    // Same seed, same answer (single thread).
    let first = std::fs::read_to_string(&out).unwrap();
    vmplace(&args);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), first);
}

#[test]
fn roadef_name_alone_prints_the_team_and_exits() {
    let o = vmplace(&["roadef", "-name"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(json(&o), "vmplace");
}

#[test]
fn roadef_refuses_an_infeasible_initial_assignment_and_bad_flags() {
    let o = vmplace(&[
        "roadef",
        "-t",
        "1",
        "-p",
        "model_tiny.txt",
        "-i",
        "new_conflict.txt",
        "-o",
        "/dev/null",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let e = json(&o);
    assert_eq!(e["errors"][0]["code"], "E2006");
    assert_eq!(e["errors"][0]["path"], "new_conflict.txt");
    let o = vmplace(&["roadef", "-t", "0", "-p", "model_tiny.txt"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(json(&o)["errors"][0]["code"], "E0001");
    let o = vmplace(&[
        "roadef",
        "-t",
        "1",
        "-p",
        "missing.txt",
        "-i",
        "assignment_tiny.txt",
        "-o",
        "/dev/null",
    ]);
    assert_eq!(json(&o)["errors"][0]["code"], "E0002");
}

#[test]
fn check_roadef_reports_violations_with_exit_1() {
    let o = vmplace(&[
        "check",
        "--roadef",
        "model_tiny.txt",
        "assignment_tiny.txt",
        "new_spread.txt",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let r = json(&o);
    assert_eq!(r["valid"], false);
    assert_eq!(r["violations"][0]["rule"], "SPREAD");
    let o = vmplace(&[
        "check",
        "--roadef",
        "model_tiny.txt",
        "assignment_tiny.txt",
        "new_moves.txt",
    ]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(json(&o)["costs"]["service_move"], 20);
}

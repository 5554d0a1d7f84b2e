//! `vmplace bench --roadef DIR` (issue 29, item 5): one row per instance pair of a folder of
//! hand-made instances, costs that agree with `vmplace check --roadef`, a bad file as a row with
//! its error (not an abort), and the reference file of best known costs (`E2007`). And the
//! search's MIP neighbourhoods (item 4): an instance that no shift or swap can improve.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};
use vmplace_check::roadef::check_roadef;
use vmplace_core::roadef::bench::Reference;
use vmplace_core::roadef::parse::{parse_assignment, parse_model};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn vmplace(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vmplace"))
        .args(args)
        .current_dir(root())
        .output()
        .unwrap()
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {} / {}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

/// Two machines (capacity 10, safety 5, load weight 10), two processes of 4 on machine 0 (load
/// 3 x 10 = 30): moving one to machine 1 costs 1 + 1 + 1 (process, service and machine move
/// costs) and leaves no load, so the optimum is 3.
const SHIFT_MODEL: &str =
    "1\n0 10\n2\n0 0 10 5 0 1\n0 0 10 5 1 0\n2\n0 0\n0 0\n2\n0 4 1\n1 4 1\n0\n1 1 1\n";

fn tiny(name: &str) -> String {
    std::fs::read_to_string(root().join("tests/data/roadef").join(name)).unwrap()
}

/// A folder of pairs: `shift` (improvable), `tiny` (already optimal), `short` (a cut model),
/// `broken` (an initial assignment that breaks the capacity rule) and `lonely` (no
/// assignment).
fn folder(dir: &Path) {
    let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).unwrap();
    write("model_shift.txt", SHIFT_MODEL);
    write("assignment_shift.txt", "0 0\n");
    write("model_tiny.txt", &tiny("model_tiny.txt"));
    write("assignment_tiny.txt", &tiny("assignment_tiny.txt"));
    let cut: String = tiny("model_tiny.txt")
        .lines()
        .take(19)
        .collect::<Vec<_>>()
        .join("\n");
    write("model_short.txt", &cut);
    write("assignment_short.txt", "0 2 0 1\n");
    write("model_broken.txt", &tiny("model_tiny.txt"));
    write("assignment_broken.txt", &tiny("new_capacity.txt"));
    write("model_lonely.txt", SHIFT_MODEL);
    write("notes.txt", "not an instance\n");
}

fn row<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["instance"] == name)
        .unwrap_or_else(|| panic!("no row {name}: {doc:#}"))
}

#[test]
fn bench_roadef_gives_a_row_per_pair_whose_costs_agree_with_check_roadef() {
    let dir = tempfile::tempdir().unwrap();
    let answers = tempfile::tempdir().unwrap();
    folder(dir.path());
    let reference = dir.path().join("best.csv");
    std::fs::write(
        &reference,
        "# made up\ninstance,best_known\nshift,2\ntiny,0\n",
    )
    .unwrap();
    let d = dir.path().to_str().unwrap();
    let out = answers.path().to_str().unwrap();
    let r = reference.to_str().unwrap();
    let o = vmplace(&[
        "bench",
        "--roadef",
        d,
        "-t",
        "1",
        "--seed",
        "4",
        "--reference",
        r,
        "--answers",
        out,
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let doc = json(&o);
    let names: Vec<&str> = doc["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["instance"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["broken", "lonely", "shift", "short", "tiny"]);
    assert_eq!(doc["seed"], 4);
    for name in ["shift", "tiny"] {
        let row = row(&doc, name);
        assert_eq!(row["valid"], true, "{row:#}");
        assert_eq!(row["errors"], serde_json::json!([]));
        let answer = answers.path().join(format!("new_assignment_{name}.txt"));
        let model = dir.path().join(format!("model_{name}.txt"));
        let initial = dir.path().join(format!("assignment_{name}.txt"));
        let paths = [&model, &initial, &answer].map(|p| p.to_str().unwrap().to_string());
        let c = vmplace(&["check", "--roadef", &paths[0], &paths[1], &paths[2]]);
        assert_eq!(c.status.code(), Some(0), "{name}");
        assert_eq!(json(&c)["costs"]["total"], row["final_cost"], "{name}");
        let i = vmplace(&["check", "--roadef", &paths[0], &paths[1], &paths[1]]);
        assert_eq!(json(&i)["costs"]["total"], row["initial_cost"], "{name}");
        let t = row["time_s"].as_f64().unwrap();
        assert!(t > 0.0 && t < 1.5, "{name}: {t} s for -t 1");
        assert!(row["peak_rss_mib"].as_f64().unwrap() > 0.0, "{row:#}");
    }
    let shift = row(&doc, "shift");
    assert_eq!(
        (&shift["initial_cost"], &shift["final_cost"]),
        (&30.into(), &3.into())
    );
    assert_eq!(shift["lower_bound"], 0);
    assert_eq!(shift["best_known"], 2);
    assert_eq!(shift["ratio"], 1.5);
    let tiny = row(&doc, "tiny");
    assert_eq!(tiny["final_cost"], 25);
    assert_eq!(tiny["best_known"], 0);
    assert_eq!(tiny["ratio"], Value::Null, "no ratio to a best known of 0");
    // Bad files: rows with their errors; the others still ran.
    let code = |name: &str| {
        row(&doc, name)["errors"][0]["code"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(code("short"), "E2001");
    assert!(row(&doc, "short")["errors"][0]["path"]
        .as_str()
        .unwrap()
        .ends_with("model_short.txt:19:end"));
    assert_eq!(code("broken"), "E2006");
    assert_eq!(row(&doc, "broken")["valid"], false);
    assert_eq!(code("lonely"), "E0002");
    assert_eq!(row(&doc, "lonely")["final_cost"], Value::Null);
    // The readable table on stderr: a line per instance.
    let table = String::from_utf8_lossy(&o.stderr);
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("shift") && l.contains("1.5000")),
        "{table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("short") && l.contains("E2001")),
        "{table}"
    );
}

#[test]
fn e2007_a_bad_reference_line_names_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    folder(dir.path());
    let reference = dir.path().join("best.csv");
    std::fs::write(&reference, "# costs\nshift,2\ntiny,twenty\nshift,4\n").unwrap();
    let r = reference.to_str().unwrap();
    let o = vmplace(&[
        "bench",
        "--roadef",
        dir.path().to_str().unwrap(),
        "--reference",
        r,
    ]);
    assert_eq!(o.status.code(), Some(2));
    let errors = json(&o)["errors"].as_array().unwrap().clone();
    let at: Vec<(&str, String)> = errors
        .iter()
        .map(|e| {
            let path = e["path"].as_str().unwrap();
            (
                e["code"].as_str().unwrap(),
                path.rsplit('/').next().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        at,
        [
            ("E2007", "best.csv:3".into()),
            ("E2007", "best.csv:4".into())
        ]
    );
    assert!(errors[1]["cause"].as_str().unwrap().contains("twice"));
}

#[test]
fn bench_roadef_refuses_a_folder_without_instances_and_flags_of_other_modes() {
    let dir = tempfile::tempdir().unwrap();
    let o = vmplace(&["bench", "--roadef", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(json(&o)["errors"][0]["code"], "E0002");
    let o = vmplace(&["bench", "instances/examples", "--reference", "x.csv"]);
    assert_eq!(o.status.code(), Some(2), "--reference needs --roadef");
}

#[test]
fn the_shipped_reference_lists_the_public_instances() {
    let file = root().join("instances/roadef/best_known.csv");
    let text = std::fs::read_to_string(&file).unwrap();
    let reference = Reference::parse("best_known.csv", &text).unwrap();
    assert_eq!(reference.best_known("a2_1"), Some(196));
    assert_eq!(reference.best_known("b_06"), Some(9_525_857_752));
    let shared = root().join("../shared/data/roadef");
    let Ok(pairs) = vmplace_core::roadef::bench::instance_pairs(&shared) else {
        eprintln!(
            "note: {} is absent; the shipped reference is not matched to it",
            shared.display()
        );
        return;
    };
    for pair in pairs {
        assert!(
            reference.best_known(&pair.name).is_some(),
            "{} has no best known",
            pair.name
        );
        assert!(pair.assignment.is_some(), "{}", pair.name);
    }
}

/// Two machines of capacity 10 (safety 6 and 10), a process of 8 on the first (load 2 x 10 =
/// 20) and two of 3 on the second. Every shift and every swap breaks a capacity: only moving
/// all three at once (the large one to the second machine, the small ones to the first) lowers
/// the cost, to the three process move costs.
const BLOCKED_MODEL: &str =
    "1\n0 10\n2\n0 0 10 6 0 0\n0 0 10 10 0 0\n3\n0 0\n0 0\n0 0\n3\n0 8 1\n1 3 1\n2 3 1\n0\n1 0 0\n";

#[test]
fn a_mip_neighbourhood_makes_the_move_no_shift_or_swap_can() {
    let model = parse_model("blocked", BLOCKED_MODEL).unwrap();
    let initial = parse_assignment("initial", "0 1 1", &model).unwrap();
    assert_eq!(check_roadef(&model, &initial, &initial).costs.total, 20);
    let deadline = Instant::now() + Duration::from_millis(600);
    let out = vmplace_core::roadef::reassign(&model, &initial, 3, deadline);
    let c = check_roadef(&model, &initial, &out.assignment);
    assert!(c.valid, "{:#?}", c.violations);
    assert_eq!(c.costs.total, out.cost);
    assert_eq!(out.cost, 3, "{:?}", out.assignment);
    assert_eq!(out.stats.accepted, 0, "no shift or swap is feasible here");
    assert!(out.stats.mips_improved >= 1);
    assert!(
        Instant::now() <= deadline + Duration::from_millis(100),
        "the deadline holds"
    );
}

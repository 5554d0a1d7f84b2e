//! Issue 28, items 3 to 5: the two phases glued by `host --storage-from`, logs and progress,
//! and the habits of a well-kept CLI (help, version, completions, errors that name things).

use serde_json::{json, Value};
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const SMALL: &str = "instances/examples/small.json";

/// Runs the binary in the crate's folder, with extra environment variables.
fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vmplace"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("RUST_LOG")
        .env_remove("NO_COLOR")
        .envs(env.iter().copied())
        .output()
        .expect("the binary runs")
}

fn vmplace(args: &[&str]) -> Output {
    run(args, &[])
}

fn json_of(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn write(dir: &Path, name: &str, value: &Value) -> String {
    let path = dir.join(name);
    std::fs::write(&path, value.to_string()).unwrap();
    path.to_str().unwrap().to_string()
}

/// The error of `code` at `path` in an error document, if there is one.
fn error_at<'a>(doc: &'a Value, code: &str, path: &str) -> Option<&'a Value> {
    doc["errors"]
        .as_array()?
        .iter()
        .find(|e| e["code"] == code && e["path"] == path)
}

// ---- Item 3: the two phases glued --------------------------------------------------------

#[test]
fn storage_then_host_with_storage_from_is_a_valid_answer_on_the_chosen_storage() {
    let dir = tempfile::tempdir().unwrap();
    let phase1 = dir.path().join("storage.json");
    let o = vmplace(&["storage", SMALL, "-o", phase1.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let storage: Value = serde_json::from_slice(&std::fs::read(&phase1).unwrap()).unwrap();
    let o = vmplace(&["host", SMALL, "--storage-from", phase1.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let answer = json_of(&o);
    let host_file = write(dir.path(), "host.json", &answer);

    // The checker accepts it against the problem phase 1 solved.
    let checked = vmplace(&["check", SMALL, &host_file, "--phase", "host"]);
    assert_eq!(checked.status.code(), Some(0), "{}", stdout(&checked));
    assert_eq!(json_of(&checked)["valid"], true);

    // Every placement is on the storage phase 1 chose, with a host.
    let chosen = |id: &Value| {
        storage["placements"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["request"] == *id)
            .map(|p| p["storage"].clone())
    };
    let placements = answer["placements"].as_array().unwrap();
    assert!(!placements.is_empty());
    for p in placements {
        assert_eq!(Some(p["storage"].clone()), chosen(&p["request"]), "{p}");
        assert!(p["host"].is_string(), "{p}");
    }
    // What phase 1 left unplaced is unplaced, with phase 1's code and reason.
    for u in storage["unplaced"].as_array().unwrap() {
        let mine = answer["unplaced"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["request"] == u["request"])
            .unwrap_or_else(|| panic!("{} is missing", u["request"]));
        assert_eq!(mine["code"], u["code"]);
        assert!(
            mine["reason"].as_str().unwrap().contains("phase 1"),
            "{mine}"
        );
    }
    assert_eq!(answer["stats"]["requests"], 6);

    // The written images are counted once: utilisation = (used_gib + images there) / capacity.
    let problem: Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(SMALL)).unwrap(),
    )
    .unwrap();
    for s in problem["storage"].as_array().unwrap() {
        let images: f64 = placements
            .iter()
            .filter(|p| p["storage"] == s["id"])
            .map(|p| {
                let r = problem["requests"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|r| r["id"] == p["request"])
                    .unwrap();
                r["disk_gib"].as_f64().unwrap()
            })
            .sum();
        let expected =
            (s["used_gib"].as_f64().unwrap() + images) / s["capacity_gib"].as_f64().unwrap();
        let got = answer["stats"]["storage_utilisation"][s["id"].as_str().unwrap()]
            .as_f64()
            .unwrap();
        assert!(
            (got - expected).abs() < 1e-9,
            "{}: {got} vs {expected}",
            s["id"]
        );
    }
}

#[test]
fn a_storage_answer_that_does_not_fit_the_problem_is_refused_with_paths() {
    let dir = tempfile::tempdir().unwrap();
    let bad = json!({
        "status": "optimal", "placed_weight": 2, "placed_weight_bound": 2, "objective": 0,
        "bound": 0, "gap": 0,
        "placements": [
            {"request": "ghost", "storage": "ceph-a"},
            {"request": "web-1", "storage": "nowhere"},
            {"request": "web-2", "storage": "ceph-a"},
            {"request": "web-2", "storage": "ceph-a"}
        ],
        "unplaced": []
    });
    let file = write(dir.path(), "bad.json", &bad);
    let o = vmplace(&["host", SMALL, "--storage-from", &file]);
    assert_eq!(o.status.code(), Some(2));
    let doc = json_of(&o);
    assert!(
        error_at(&doc, "E1105", "/storage_from/placements/0/request").is_some(),
        "{doc}"
    );
    assert!(
        error_at(&doc, "E1204", "/storage_from/placements/1/storage").is_some(),
        "{doc}"
    );
    assert!(
        error_at(&doc, "E1201", "/storage_from/placements/3/request").is_some(),
        "{doc}"
    );
    // db-1 and the others are neither placed nor unplaced.
    let missing = error_at(&doc, "E1102", "/storage_from/placements").expect("missing");
    assert!(
        missing["cause"].as_str().unwrap().contains('`'),
        "{missing}"
    );
}

#[test]
fn the_library_refuses_storage_no_eligible_host_reaches_and_counts_images_once() {
    use vmplace_core::placement::storage_from::{apply_storage_answer, Mismatch};
    use vmplace_wire::{Problem, Solution};
    let problem: Problem = serde_json::from_value(json!({
        "storage": [
            {"id": "s1", "capacity_gib": 100, "used_gib": 10},
            {"id": "s2", "capacity_gib": 100}
        ],
        "hosts": [
            {"id": "h1", "capacity": {"cpu": 8}, "storage": ["s1"], "traits": ["GPU"]},
            {"id": "h2", "capacity": {"cpu": 8}, "storage": ["s2"]}
        ],
        "requests": [
            {"id": "a", "demand": {"cpu": 1}, "disk_gib": 5},
            {"id": "b", "demand": {"cpu": 1}, "disk_gib": 7, "storage": "s1"},
            {"id": "g", "demand": {"cpu": 1}, "disk_gib": 1, "required_traits": ["GPU"]},
            {"id": "u", "demand": {"cpu": 1}, "disk_gib": 1}
        ]
    }))
    .unwrap();
    let answer = |g_on: &str| -> Solution {
        serde_json::from_value(json!({
            "status": "feasible", "placed_weight": 3, "placed_weight_bound": 4, "objective": 0,
            "bound": 0, "gap": 0.25,
            "placements": [
                {"request": "a", "storage": "s1"},
                {"request": "b", "storage": "s1"},
                {"request": "g", "storage": g_on}
            ],
            "unplaced": [{"request": "u", "code": "NO_STORAGE_CAPACITY", "reason": "full"}]
        }))
        .unwrap()
    };
    // g needs a GPU host, and only h1 (on s1) has one.
    let errors = apply_storage_answer(&problem, &answer("s2")).unwrap_err();
    assert!(
        matches!(&errors[..], [e] if e.path == "/placements/2/storage"
            && e.kind == Mismatch::Unreachable("g".into(), "s2".into())),
        "{errors:?}"
    );
    let e = errors[0].to_input_error();
    assert_eq!(e.path, "/storage_from/placements/2/storage");
    let applied = apply_storage_answer(&problem, &answer("s1")).unwrap();
    // a's and g's images are added; b's was counted by the problem already.
    assert_eq!(applied.problem.storage[0].used_gib, 10.0 + 5.0 + 1.0);
    assert_eq!(applied.problem.storage[1].used_gib, 0.0);
    let ids: Vec<_> = applied
        .problem
        .requests
        .iter()
        .map(|r| r.id.as_str())
        .collect();
    assert_eq!(ids, ["a", "b", "g"]);
    assert!(applied
        .problem
        .requests
        .iter()
        .all(|r| r.storage.as_deref() == Some("s1")));
    assert_eq!(applied.dropped.len(), 1);
    assert_eq!(applied.dropped[0].request, "u");
}

// ---- Item 4: logs and progress ------------------------------------------------------------

#[test]
fn log_format_json_writes_one_json_object_per_line() {
    let o = run(
        &["place", SMALL, "--log-format", "json"],
        &[("RUST_LOG", "info")],
    );
    assert_eq!(o.status.code(), Some(0));
    json_of(&o);
    let lines: Vec<&str> = std::str::from_utf8(&o.stderr)
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty())
        .collect();
    assert!(!lines.is_empty(), "info logs were asked for");
    for line in lines {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(v["level"].is_string(), "{line}");
    }
}

/// Runs a command line under a pseudo-terminal (`script`), returning what the terminal shows.
fn on_a_terminal(args: &str, env: &[(&str, &str)]) -> Option<String> {
    let bin = env!("CARGO_BIN_EXE_vmplace");
    let o = Command::new("script")
        .args(["-qec", &format!("{bin} {args} > /dev/null"), "/dev/null"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("NO_COLOR")
        .envs(env.iter().copied())
        .output()
        .ok()?;
    o.status.success().then(|| stdout(&o))
}

#[test]
fn on_a_terminal_logs_have_colour_unless_no_color_is_set() {
    let colour = |text: &str| {
        text.as_bytes()
            .windows(4)
            .any(|w| w[0] == 0x1b && w[1] == b'[' && w[2].is_ascii_digit() && w[3] == b'm')
    };
    let Some(coloured) = on_a_terminal(&format!("place {SMALL}"), &[("RUST_LOG", "info")]) else {
        eprintln!("no `script` to make a terminal: skipped");
        return;
    };
    assert!(colour(&coloured), "{coloured:?}");
    let plain = on_a_terminal(
        &format!("place {SMALL}"),
        &[("RUST_LOG", "info"), ("NO_COLOR", "1")],
    )
    .unwrap();
    assert!(plain.contains("INFO"), "{plain:?}");
    assert!(!colour(&plain), "{plain:?}");
}

#[test]
fn a_long_place_shows_a_spinner_on_a_terminal_only() {
    let args = "place instances/large/h2000-s100-vm10000-tight.json --time-limit 1.5";
    if !Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("instances/large/h2000-s100-vm10000-tight.json")
        .exists()
    {
        panic!("the large instance moved: update this test");
    }
    let Some(shown) = on_a_terminal(args, &[]) else {
        eprintln!("no `script` to make a terminal: skipped");
        return;
    };
    assert!(shown.contains("placing: elapsed"), "{shown:?}");
    let o = vmplace(&args.split(' ').collect::<Vec<_>>());
    assert_eq!(o.status.code(), Some(0));
    assert!(!stderr(&o).contains("elapsed"), "{}", stderr(&o));
}

#[test]
fn a_simulated_day_off_a_terminal_writes_a_few_progress_lines_not_one_per_round() {
    // 40 VMs of the shipped day, all 288 samples: 287 rounds, which wrote 287 lines.
    let dir = shipped_day(40);
    let start = Instant::now();
    let o = vmplace(&[
        "simulate",
        "--planetlab",
        dir.path().to_str().unwrap(),
        "--hosts",
        "40",
        "--policy",
        "THR-MMT-0.8",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let report = json_of(&o);
    assert_eq!(report["policy"], "thr-mmt-0.8");
    let lines = stderr(&o).lines().count() as u64;
    // At most one line every 5 seconds, and the first after 5.
    let most = start.elapsed().as_secs() / 5 + 1;
    assert!(lines <= most, "{lines} lines in {:?}", start.elapsed());
}

// ---- Item 5: CLI habits -------------------------------------------------------------------

fn help(sub: &str) -> String {
    let o = vmplace(&[sub, "--help"]);
    assert_eq!(o.status.code(), Some(0));
    stdout(&o)
}

#[test]
fn each_subcommand_helps_with_its_own_flags_and_words() {
    let capacity = help("capacity");
    let iallocator = help("iallocator");
    let host = help("host");
    for text in [&capacity, &iallocator] {
        assert!(!text.contains("Problem document"), "{text}");
        assert!(!text.contains("Write the solution"), "{text}");
        assert!(!text.contains("--joint"), "{text}");
        assert!(!text.contains("--write-model"), "{text}");
    }
    assert!(capacity.contains("The pool"), "{capacity}");
    assert!(iallocator.contains("IAllocator request"), "{iallocator}");
    assert!(!iallocator.contains("--storage-policy"), "{iallocator}");
    assert!(!host.contains("--joint"), "{host}");
    assert!(!host.contains("--storage-policy"), "{host}");
    assert!(host.contains("--storage-from"), "{host}");
    assert!(help("place").contains("--joint"));
    assert!(help("migrate").contains("--time-limit"));
    let top = vmplace(&["--help"]);
    assert!(stdout(&top).contains("NO_COLOR"), "{}", stdout(&top));
    assert!(stdout(&top).contains("--log-format"), "{}", stdout(&top));
}

#[test]
fn no_arguments_exit_2_with_the_usage_on_stderr() {
    let o = vmplace(&[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("Usage: vmplace"), "{}", stderr(&o));
    assert!(o.stdout.is_empty(), "{}", stdout(&o));
}

#[test]
fn version_names_the_commit_and_highs() {
    let o = vmplace(&["--version"]);
    assert_eq!(o.status.code(), Some(0));
    let text = stdout(&o);
    assert!(
        text.starts_with(&format!("vmplace {} (commit ", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
    let commit = text
        .split("commit ")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap();
    assert!(
        commit == "unknown" || commit.chars().all(|c| c.is_ascii_hexdigit()),
        "{text}"
    );
    let highs = text
        .split("HiGHS ")
        .nth(1)
        .unwrap()
        .trim()
        .trim_end_matches(')');
    let parts: Vec<u32> = highs.split('.').map(|p| p.parse().unwrap()).collect();
    assert_eq!(parts.len(), 3, "{text}");
    assert!(parts[0] >= 1, "{text}");
}

#[test]
fn completions_and_man_page_go_to_stdout() {
    let o = vmplace(&["completions", "bash"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("_vmplace()"), "{}", stdout(&o));
    assert!(stdout(&o).contains("--storage-from"));
    let o = vmplace(&["completions", "zsh"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("#compdef vmplace"));
    let o = vmplace(&["man"]);
    assert_eq!(o.status.code(), Some(0));
    let man = stdout(&o);
    assert!(man.contains(".TH vmplace"), "{man}");
    assert!(man.contains("capacity"), "{man}");
    let o = vmplace(&["completions", "tcsh"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(json_of(&o)["errors"][0]["cause"]
        .as_str()
        .unwrap()
        .contains("bash"));
}

#[test]
fn an_unknown_argument_is_named_with_the_close_one() {
    let o = vmplace(&["place", SMALL, "--time-limt", "5"]);
    assert_eq!(o.status.code(), Some(2));
    let doc = json_of(&o);
    let e = &doc["errors"][0];
    assert_eq!(e["code"], "E0001");
    assert_eq!(e["path"], "--time-limt");
    let cause = e["cause"].as_str().unwrap();
    assert!(cause.contains("'--time-limt'"), "{cause}");
    assert!(cause.contains("'--time-limit'"), "{cause}");
    // A flag value outside its enum lists the values.
    let o = vmplace(&["place", SMALL, "--host-policy", "fast"]);
    let cause = json_of(&o)["errors"][0]["cause"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        cause.contains("balance") && cause.contains("pack"),
        "{cause}"
    );
}

#[test]
fn a_bad_enum_value_in_a_document_lists_the_allowed_values() {
    let dir = tempfile::tempdir().unwrap();
    let mut problem: Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(SMALL)).unwrap(),
    )
    .unwrap();
    problem["options"]["storage_policy"] = json!("fast");
    problem["options"]["solver"] = json!("quantum");
    let file = write(dir.path(), "p.json", &problem);
    let o = vmplace(&["place", &file]);
    assert_eq!(o.status.code(), Some(2));
    let doc = json_of(&o);
    let e = error_at(&doc, "E1105", "/options/storage_policy").expect("coded as before");
    let cause = e["cause"].as_str().unwrap();
    assert_eq!(cause, "\"fast\" is not one of `balance`, `pack`");
    let e = error_at(&doc, "E1105", "/options/solver").expect("coded as before");
    let cause = e["cause"].as_str().unwrap();
    assert!(
        cause.contains("`greedy-retry`") && !cause.contains("oneOf"),
        "{cause}"
    );
}

#[test]
fn an_output_into_a_missing_folder_is_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("no/such/folder/answer.json");
    let out = out.to_str().unwrap();
    let state = "instances/migration/small-state.json";
    for args in [
        vec![
            "place",
            "instances/large/h2000-s100-vm10000-tight.json",
            "--time-limit",
            "60",
            "-o",
            out,
        ],
        vec!["capacity", SMALL, "--flavor", "name=a,cpu=1", "-o", out],
        vec!["migrate", state, "-o", out],
        vec!["iallocator", "-", "-o", out],
    ] {
        let start = Instant::now();
        let o = vmplace(&args);
        assert!(start.elapsed() < Duration::from_secs(10), "{args:?}");
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let doc = json_of(&o);
        if args[0] == "iallocator" {
            // Ganeti reads the protocol's failure answer, which carries the error.
            let info = doc["info"].as_str().unwrap();
            assert!(info.contains("E0002 at --output") && info.contains("does not exist"));
            continue;
        }
        let e = error_at(&doc, "E0002", "--output").unwrap_or_else(|| panic!("{doc}"));
        assert!(
            e["cause"].as_str().unwrap().contains("does not exist"),
            "{e}"
        );
    }
    assert!(!dir.path().join("no").exists());
}

#[test]
fn bench_skips_files_that_are_not_problems_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join(SMALL),
        dir.path().join("small.json"),
    )
    .unwrap();
    std::fs::write(dir.path().join("notes.json"), r#"{"hello": "world"}"#).unwrap();
    std::fs::write(dir.path().join("broken.json"), "not json").unwrap();
    let o = vmplace(&["bench", dir.path().to_str().unwrap(), "--time-limit", "2"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("warning: skipped notes.json"), "{err}");
    assert!(err.contains("warning: skipped broken.json"), "{err}");
    let doc = json_of(&o);
    assert_eq!(doc["rows"].as_array().unwrap().len(), 1);
    assert_eq!(doc["skipped"].as_array().unwrap().len(), 2);
    // Off a terminal the table has no progress lines between its rows.
    assert!(!err.contains("instances 1/3"), "{err}");
}

#[test]
fn an_all_infeasible_answer_has_no_negative_zero_and_names_what_exceeds_the_hosts() {
    let dir = tempfile::tempdir().unwrap();
    let problem = json!({
        "storage": [{"id": "s", "capacity_gib": 100}],
        "hosts": [
            {"id": "h1", "capacity": {"cpu": 8, "memory_gib": 32}, "used": {"cpu": 2}, "storage": ["s"]},
            {"id": "h2", "capacity": {"cpu": 4, "memory_gib": 64}, "storage": ["s"]}
        ],
        "requests": [{"id": "big", "demand": {"cpu": 16, "memory_gib": 16}, "disk_gib": 10}]
    });
    let file = write(dir.path(), "p.json", &problem);
    for mode in ["place", "storage"] {
        let o = vmplace(&[mode, &file]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let text = stdout(&o);
        assert!(!text.contains("-0.0"), "{text}");
        let doc = json_of(&o);
        assert_eq!(doc["placed_weight"], 0.0);
        if mode == "place" {
            let u = &doc["unplaced"][0];
            assert_eq!(u["code"], "DEMAND_EXCEEDS_HOSTS");
            let reason = u["reason"].as_str().unwrap();
            assert!(
                reason.ends_with("the VM needs 16 cpu (the most any host has free: 6)"),
                "{reason}"
            );
        }
    }
}

#[test]
fn policy_names_are_case_insensitive() {
    let o = vmplace(&[
        "place",
        SMALL,
        "--host-policy",
        "PACK",
        "--solver",
        "Greedy",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let dir = shipped_day(5);
    let planetlab = dir.path().to_str().unwrap();
    let upper = vmplace(&[
        "simulate",
        "--planetlab",
        planetlab,
        "--hosts",
        "4",
        "--samples",
        "12",
        "--policy",
        "LR-MMT-1.2",
    ]);
    let lower = vmplace(&[
        "simulate",
        "--planetlab",
        planetlab,
        "--hosts",
        "4",
        "--samples",
        "12",
        "--policy",
        "lr-mmt-1.2",
    ]);
    assert_eq!(upper.status.code(), Some(0), "{}", stdout(&upper));
    assert_eq!(json_of(&upper)["energy_kwh"], json_of(&lower)["energy_kwh"]);
    assert_eq!(json_of(&upper)["policy"], "lr-mmt-1.2");
}

#[test]
fn migrate_takes_a_time_limit() {
    let state = "instances/migration/small-state.json";
    let o = vmplace(&["migrate", state, "--time-limit", "2"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(json_of(&o)["migrations"].is_array());
    let o = vmplace(&["migrate", state, "--time-limit", "0"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(json_of(&o)["errors"][0]["cause"]
        .as_str()
        .unwrap()
        .contains("--time-limit"));
}

/// A folder with the first `vms` traces of the shipped PlanetLab day.
fn shipped_day(vms: usize) -> tempfile::TempDir {
    let day = Path::new(env!("CARGO_MANIFEST_DIR")).join("instances/planetlab/20110303");
    let dir = tempfile::tempdir().unwrap();
    let mut names: Vec<_> = std::fs::read_dir(&day)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    for f in names.iter().take(vms) {
        std::fs::copy(f, dir.path().join(f.file_name().unwrap())).unwrap();
    }
    dir
}

//! Issue 9: what a hostile or careless user tried, one regression test per finding, named after
//! what it protects, and a property test that mutates valid documents.

use proptest::prelude::*;
use serde_json::{json, Value};
use std::process::{Command, Output};
use vmplace_core::domain::settings::Overrides;
use vmplace_core::placement::{Mode, RunConfig};
use vmplace_core::validation::schema_errors;
use vmplace_server::api::{check_texts, migrate_text, solve_text};
use vmplace_wire::check::CheckPhase;
use vmplace_wire::errors::{ErrorCode, MAX_CAUSE_BYTES, MAX_ERRORS};
use vmplace_wire::state::Plan;
use vmplace_wire::{ErrorDocument, InputError, Solution, SolverKind};

fn vmplace(args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_vmplace"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("binary runs");
    if let Some(text) = stdin {
        let _ = child.stdin.take().unwrap().write_all(text.as_bytes());
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn instance(path: &str) -> Value {
    let text = std::fs::read_to_string(format!("{}/instances/{path}", env!("CARGO_MANIFEST_DIR")))
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The error document on stdout, after asserting exit code 2.
fn rejected(o: &Output) -> ErrorDocument {
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).expect("stdout is the error document")
}

fn codes_at(doc: &ErrorDocument) -> Vec<(String, String)> {
    doc.errors
        .iter()
        .map(|e| (e.code.to_string(), e.path.clone()))
        .collect()
}

/// vmplace's answer to a valid problem text, with the default options.
fn answer(text: &str, mode: Mode) -> Solution {
    solve_text(text, mode, &Overrides::default(), &RunConfig::default()).expect("a valid problem")
}

/// A document vmplace wrote: valid against its published schema, and accepted by its checker.
fn assert_own_answer_is_valid(problem: &str, answer: &Value, phase: CheckPhase) {
    let schema = if answer.get("migrations").is_some() {
        schema_errors::<Plan>(answer)
    } else {
        schema_errors::<Solution>(answer)
    };
    assert!(
        schema.is_empty(),
        "answer fails its schema: {schema:#?}\n{answer:#}"
    );
    let report = check_texts(problem, &answer.to_string(), phase).expect("both documents read");
    assert!(report.valid, "checker: {:#?}", report.violations);
}

// ---- item 3: every number vmplace writes is finite ------------------------------------------

#[test]
fn numbers_past_their_range_are_refused_at_their_path_not_written_as_null() {
    let mut p = instance("examples/small.json");
    p["requests"][0]["disk_gib"] = json!(1e308);
    p["requests"][1]["priority"] = json!(1e308);
    let doc = rejected(&vmplace(&["place", "-"], Some(&p.to_string())));
    assert_eq!(
        codes_at(&doc),
        [
            ("E1104".into(), "/requests/0/disk_gib".into()),
            ("E1104".into(), "/requests/1/priority".into())
        ]
    );
    let mut s = instance("migration/small-state.json");
    s["hosts"][0]["power"] = json!({"watts": vec![1e308; 11]});
    s["policy"] = json!({"weights": {"power": 1e308}});
    let doc = rejected(&vmplace(&["migrate", "-"], Some(&s.to_string())));
    let paths: Vec<_> = doc.errors.iter().map(|e| e.path.as_str()).collect();
    assert!(paths.contains(&"/hosts/0/power/watts/0"), "{paths:?}");
    assert!(paths.contains(&"/policy/weights/power"), "{paths:?}");
    assert!(doc
        .errors
        .iter()
        .all(|e| e.action.contains("vmplace schema state")));
}

#[test]
fn numbers_at_the_top_of_their_range_give_answers_that_pass_schema_and_checker() {
    let mut p = instance("examples/small.json");
    for s in p["storage"].as_array_mut().unwrap() {
        s["capacity_gib"] = json!(1e12);
    }
    p["hosts"][0]["capacity"]["cpu"] = json!(1e12);
    p["requests"][0]["disk_gib"] = json!(1e12);
    p["requests"][1]["priority"] = json!(1e6);
    p["requests"][2]["demand"]["cpu"] = json!(1e12);
    let text = p.to_string();
    for (mode, phase) in [
        (Mode::Place, CheckPhase::Place),
        (Mode::Storage, CheckPhase::Storage),
    ] {
        let s = answer(&text, mode);
        assert_own_answer_is_valid(&text, &serde_json::to_value(&s).unwrap(), phase);
    }
    let mut h = instance("examples/host-phase.json");
    h["requests"][0]["disk_gib"] = json!(1e12);
    let text = h.to_string();
    let s = answer(&text, Mode::Host);
    let answer = serde_json::to_value(&s).unwrap();
    assert_own_answer_is_valid(&text, &answer, CheckPhase::Host);

    let mut st = instance("migration/small-state.json");
    for host in st["hosts"].as_array_mut().unwrap() {
        host["power"] = json!({"watts": vec![1e6; 11]});
        host["bandwidth_mbps"] = json!(0.001);
    }
    st["vms"][0]["demand"]["memory_gib"] = json!(1e12);
    st["policy"] = json!({"weights": {"power": 1e6, "balance": 1e6, "cost": 1e6}});
    let text = st.to_string();
    let plan = migrate_text(&text).unwrap();
    assert_own_answer_is_valid(
        &text,
        &serde_json::to_value(&plan).unwrap(),
        CheckPhase::Any,
    );
}

// ---- item 4: the host phase and the checker agree on full storage ---------------------------

#[test]
fn a_request_given_its_storage_is_counted_once_by_solver_and_checker() {
    // The request names its storage: its image is written there, so `used_gib` (100 of 100)
    // already counts its 40 GiB. Both phases and `place` host it; the checker agrees.
    let doc = json!({
        "storage": [{"id": "s1", "capacity_gib": 100, "used_gib": 100}],
        "hosts": [{"id": "h1", "capacity": {"cpu": 8, "memory_gib": 32}, "storage": ["s1"]}],
        "requests": [{"id": "a", "demand": {"cpu": 2, "memory_gib": 4}, "disk_gib": 40, "storage": "s1"}]
    });
    let text = doc.to_string();
    for (mode, phase) in [
        (Mode::Host, CheckPhase::Host),
        (Mode::Place, CheckPhase::Place),
        (Mode::Storage, CheckPhase::Storage),
    ] {
        let s = answer(&text, mode);
        assert_eq!(s.placements.len(), 1, "{mode:?}");
        assert_eq!(s.stats.storage_utilisation["s1"], 1.0, "{mode:?}: not 1.4");
        let answer = serde_json::to_value(&s).unwrap();
        for phase in [phase, CheckPhase::Any] {
            assert_own_answer_is_valid(&text, &answer, phase);
        }
    }
    // Without `storage`, the same request's image is still to be written: it does not fit, and
    // an answer that puts it there anyway is caught.
    let mut free = doc.clone();
    free["requests"][0]
        .as_object_mut()
        .unwrap()
        .remove("storage");
    let free = free.to_string();
    let s = answer(&free, Mode::Place);
    assert_eq!(s.placements.len(), 0);
    let forced = json!({"status": "feasible", "placed_weight": 1, "placed_weight_bound": 1,
        "objective": 1, "bound": 1, "gap": 0,
        "placements": [{"request": "a", "storage": "s1", "host": "h1"}], "unplaced": [],
        "stats": serde_json::to_value(&s.stats).unwrap()});
    let report = check_texts(&free, &forced.to_string(), CheckPhase::Place).unwrap();
    let rules: Vec<_> = report
        .violations
        .iter()
        .map(|v| format!("{:?}", v.rule))
        .collect();
    assert!(rules.contains(&"StorageCapacity".to_string()), "{rules:?}");
}

// ---- item 6: the smaller ones -----------------------------------------------------------------

#[test]
fn a_budget_beyond_u64_is_reported_at_its_path() {
    let mut s = instance("migration/small-state.json");
    s["policy"] = json!({"budget": 18446744073709551616.0_f64});
    let doc = rejected(&vmplace(&["migrate", "-"], Some(&s.to_string())));
    assert_eq!(codes_at(&doc), [("E1104".into(), "/policy/budget".into())]);
}

#[test]
fn a_huge_bad_document_gives_a_short_capped_error_document() {
    // 200,000 wrong items in `hosts`, each one a long string.
    let long = "x".repeat(1000);
    let hosts: Vec<Value> = (0..200_000).map(|_| json!(long)).collect();
    let doc = json!({"storage": [], "hosts": hosts, "requests": []}).to_string();
    let o = vmplace(&["place", "-"], Some(&doc));
    let errors = rejected(&o);
    assert_eq!(errors.errors.len(), MAX_ERRORS);
    assert!(errors.omitted >= 200_000 - MAX_ERRORS, "{}", errors.omitted);
    assert!(errors
        .errors
        .iter()
        .all(|e| e.cause.len() <= MAX_CAUSE_BYTES + 40));
    assert!(o.stdout.len() < 100_000, "stdout {} bytes", o.stdout.len());
    assert!(o.stderr.len() < 100_000, "stderr {} bytes", o.stderr.len());
}

#[test]
fn the_action_names_the_schema_of_the_document_at_fault() {
    let problem = instance("examples/small.json").to_string();
    let o = vmplace(&["check", "-", "/dev/null"], Some(&problem));
    // An empty solution file is not JSON; a solution missing its fields names its own schema.
    let _ = rejected(&o);
    let dir = tempfile::tempdir().unwrap();
    let solution = dir.path().join("s.json");
    std::fs::write(&solution, "{\"placements\": []}").unwrap();
    let o = vmplace(&["check", "-", solution.to_str().unwrap()], Some(&problem));
    let doc = rejected(&o);
    let missing: Vec<&InputError> = doc.errors.iter().filter(|e| e.code == "E1102").collect();
    assert!(!missing.is_empty());
    assert!(
        missing
            .iter()
            .all(|e| e.path.starts_with("/solution/")
                && e.action.contains("vmplace schema solution")),
        "{missing:#?}"
    );
}

#[test]
fn duplicate_keys_are_refused_not_last_one_wins() {
    let text = std::fs::read_to_string(format!(
        "{}/instances/examples/small.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
    .replacen("\"options\"", "\"requests\": [], \"options\"", 1);
    let doc = rejected(&vmplace(&["place", "-"], Some(&text)));
    assert_eq!(codes_at(&doc), [("E1106".into(), "/requests".into())]);
}

#[test]
fn non_utf8_input_is_malformed_json_from_the_cli_too() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("latin1.json");
    std::fs::write(&file, b"{\"storage\": \"caf\xe9\"}").unwrap();
    let doc = rejected(&vmplace(&["place", file.to_str().unwrap()], None));
    assert_eq!(codes_at(&doc), [("E1001".into(), "".into())]);
}

#[test]
fn simulate_refuses_a_parameter_that_is_not_a_finite_number() {
    for policy in ["thr-mmt-NaN", "thr-mmt-inf", "thr-mmt--1", "lr-mmt-1e9"] {
        let o = vmplace(
            &[
                "simulate",
                "--planetlab",
                "instances/planetlab/20110303",
                "--policy",
                policy,
            ],
            None,
        );
        let doc = rejected(&o);
        assert_eq!(doc.errors[0].code, ErrorCode::Usage.code(), "{policy}");
    }
}

#[test]
fn serve_refuses_time_flags_that_are_zero_or_not_finite() {
    for value in ["0", "NaN", "inf", "-1", "1e12"] {
        for flag in ["--max-time-limit", "--header-timeout", "--shutdown-grace"] {
            let arg = format!("{flag}={value}");
            let o = vmplace(&["serve", "--listen", "127.0.0.1:0", &arg], None);
            let doc = rejected(&o);
            assert!(doc.errors[0].cause.contains(&flag[2..]), "{flag} {value}");
        }
    }
    let o = vmplace(
        &["serve", "--listen", "127.0.0.1:0", "--workers", "0"],
        None,
    );
    assert_eq!(rejected(&o).errors[0].code, "E0001");
}

// ---- the property test: mutated documents -----------------------------------------------------

/// Every JSON pointer of a value, the root excluded.
fn pointers(v: &Value, at: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                out.push(p.clone());
                pointers(x, &p, out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                let p = format!("{at}/{i}");
                out.push(p.clone());
                pointers(x, &p, out);
            }
        }
        _ => {}
    }
}

/// What a careless or hostile user does to one field.
#[derive(Debug, Clone)]
enum Mutation {
    /// Set it to a number: an extreme, a boundary or an ordinary one.
    Number(f64),
    /// Set it to a value of another JSON type.
    Retype(Value),
    /// Remove it.
    Drop,
    /// Repeat its key in its object (the text then has the key twice).
    DuplicateKey,
    /// Give it the text of another id of the document (or an empty one).
    RenameId(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let numbers = prop::sample::select(vec![
        0.0,
        -1.0,
        1e-300,
        0.5,
        1.0,
        3.0,
        1e12,
        1e12 * 1.0001,
        1e308,
        -1e308,
        9_007_199_254_740_993.0,
        18_446_744_073_709_551_616.0,
    ]);
    prop_oneof![
        numbers.prop_map(Mutation::Number),
        prop::sample::select(vec![
            json!("x"),
            json!(null),
            json!([]),
            json!({}),
            json!(true)
        ])
        .prop_map(Mutation::Retype),
        Just(Mutation::Drop),
        Just(Mutation::DuplicateKey),
        (0usize..64).prop_map(Mutation::RenameId),
    ]
}

/// The document's text after the mutation at `pointer`.
fn mutate(doc: &Value, pointer: &str, m: &Mutation) -> String {
    let mut v = doc.clone();
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let ids: Vec<String> = {
        let mut all = Vec::new();
        pointers(doc, "", &mut all);
        all.iter()
            .filter(|p| p.ends_with("/id"))
            .filter_map(|p| doc.pointer(p).and_then(Value::as_str).map(str::to_owned))
            .chain(std::iter::once(String::new()))
            .collect()
    };
    let target = v.pointer_mut(pointer).unwrap();
    match m {
        Mutation::Number(x) => *target = json!(x),
        Mutation::Retype(x) => *target = x.clone(),
        Mutation::RenameId(i) => *target = json!(ids[i % ids.len()]),
        Mutation::Drop => match v.pointer_mut(parent).unwrap() {
            Value::Object(o) => {
                o.remove(&key.replace("~1", "/").replace("~0", "~"));
            }
            Value::Array(a) => {
                a.remove(key.parse::<usize>().unwrap());
            }
            _ => unreachable!(),
        },
        Mutation::DuplicateKey => {
            let Some(Value::Object(o)) = v.pointer(parent).cloned() else {
                return v.to_string();
            };
            let name = key.replace("~1", "/").replace("~0", "~");
            let marker = "\u{1}duplicate-here\u{1}";
            *v.pointer_mut(parent).unwrap() = json!(marker);
            let first = json!({ name.clone(): o[&name].clone() }).to_string();
            let rest = Value::Object(o).to_string();
            let object = format!("{},{}", &first[..first.len() - 1], &rest[1..]);
            return v.to_string().replace(&json!(marker).to_string(), &object);
        }
    }
    v.to_string()
}

/// An error document as vmplace writes it: known codes, JSON pointers, valid against its schema.
fn assert_coded(errors: &[InputError]) {
    assert!(!errors.is_empty(), "a rejection lists its errors");
    for e in errors {
        assert!(
            ErrorCode::from_code(e.code.code()).is_some(),
            "unknown code {e:?}"
        );
        assert!(
            e.path.is_empty() || e.path.starts_with('/'),
            "not a pointer: {e:?}"
        );
        assert!(!e.cause.is_empty() && !e.action.is_empty(), "{e:?}");
    }
    let doc = serde_json::to_value(ErrorDocument::new(errors.to_vec())).unwrap();
    assert!(schema_errors::<ErrorDocument>(&doc).is_empty());
}

/// Runs one mutated document the way `vmplace <mode>` does and checks the four promises: no
/// panic, a rejection (exit 2) with coded errors at pointers, or an answer (exit 0) that passes
/// its schema and `vmplace check`.
fn run_mutated(text: &str, mode: Option<Mode>) {
    let fast = Overrides {
        time_limit_s: Some(1.0),
        ..Default::default()
    };
    let outcome = std::panic::catch_unwind(|| match mode {
        Some(m) => solve_text(text, m, &fast, &RunConfig::default())
            .map(|s| serde_json::to_value(s).unwrap()),
        None => migrate_text(text).map(|p| serde_json::to_value(p).unwrap()),
    });
    let Ok(result) = outcome else {
        panic!("panicked on {text}");
    };
    match result {
        Err(errors) => assert_coded(&errors),
        Ok(answer) => {
            let phase = match mode {
                Some(Mode::Host) => CheckPhase::Host,
                Some(Mode::Storage) => CheckPhase::Storage,
                Some(Mode::Place) => CheckPhase::Place,
                None => CheckPhase::Any,
            };
            assert_own_answer_is_valid(text, &answer, phase);
        }
    }
}

fn documents() -> Vec<(Value, Option<Mode>)> {
    vec![
        (instance("examples/small.json"), Some(Mode::Place)),
        (instance("examples/small.json"), Some(Mode::Storage)),
        (instance("examples/host-phase.json"), Some(Mode::Host)),
        (instance("migration/small-state.json"), None),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(160))]
    #[test]
    fn mutated_documents_are_answered_validly_or_refused_with_coded_errors(
        which in 0usize..4, at in any::<prop::sample::Index>(), m in mutation(), again in any::<bool>(),
        at2 in any::<prop::sample::Index>(), m2 in mutation(),
    ) {
        let (doc, mode) = documents().swap_remove(which);
        let mut all = Vec::new();
        pointers(&doc, "", &mut all);
        let mut text = mutate(&doc, at.get(&all).as_str(), &m);
        // Half the cases mutate twice, when the first mutation left a JSON value to mutate.
        if again && !matches!(m, Mutation::DuplicateKey) {
            if let Ok(v) = serde_json::from_str::<Value>(&text) {
                let mut more = Vec::new();
                pointers(&v, "", &mut more);
                if !more.is_empty() {
                    text = mutate(&v, at2.get(&more).as_str(), &m2);
                }
            }
        }
        run_mutated(&text, mode);
    }
}

// ---- issue 27, H4: a state cannot ask for an unbounded listing ---------------------------------

#[test]
fn a_state_cannot_list_a_billion_candidates_per_migration() {
    // `candidates_listed: 1e9` turned a 944 KB state into a 998 MB plan.
    let mut st = instance("migration/small-state.json");
    st["policy"] = json!({"candidates_listed": 1_000_000_000u64});
    let errors = migrate_text(&st.to_string()).expect_err("refused");
    assert!(
        errors
            .iter()
            .any(|e| e.path == "/policy/candidates_listed" && e.code == "E1104"),
        "{errors:?}"
    );
    st["policy"] = json!({"candidates_listed": 1000});
    assert!(migrate_text(&st.to_string()).is_ok());
}

// ---- issue 27, M5: one scope rule for hard and soft groups ---------------------------------------

#[test]
fn a_host_outside_a_soft_rules_scope_takes_no_member() {
    let dir = format!("{}/tests/data/hardening3", env!("CARGO_MANIFEST_DIR"));
    for name in [
        "nolabel-spread-false",
        "nolabel-anti-affinity-false",
        "nolabel-affinity-false",
    ] {
        let text = std::fs::read_to_string(format!("{dir}/{name}.json")).unwrap();
        for solver in [SolverKind::Mip, SolverKind::Greedy, SolverKind::Openstack] {
            let o = Overrides {
                solver: Some(solver),
                ..Default::default()
            };
            let s = solve_text(&text, Mode::Place, &o, &RunConfig::default()).unwrap();
            // `h2`, the only host with the trait the member needs, has no `zone` label.
            assert!(
                s.placements.iter().all(|p| p.host.as_deref() != Some("h2")),
                "{name} {solver:?}"
            );
            let answer = serde_json::to_value(&s).unwrap();
            assert_own_answer_is_valid(&text, &answer, CheckPhase::Place);
        }
    }
    // Phase 2 alone: its bound covers every placement that keeps the rule.
    let text = std::fs::read_to_string(format!("{dir}/soft-nolabel-host-bound.json")).unwrap();
    let s = answer(&text, Mode::Host);
    assert!(s.placed_weight_bound >= s.placed_weight);
    assert_own_answer_is_valid(&text, &serde_json::to_value(&s).unwrap(), CheckPhase::Host);
}

// ---- issue 27, M4: running-member counts do not wrap -----------------------------------------------

#[test]
fn member_counts_past_u32_do_not_wrap() {
    let path = format!(
        "{}/tests/data/hardening3/gm-overflow-inrange.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(path).unwrap();
    // Zone `b` runs 2^32 members of a `max_per_domain: 1` group: no solver places one more.
    for solver in [SolverKind::Mip, SolverKind::Greedy, SolverKind::Balanced] {
        let o = Overrides {
            solver: Some(solver),
            ..Default::default()
        };
        let s = solve_text(&text, Mode::Place, &o, &RunConfig::default()).unwrap();
        assert!(s.placements.is_empty(), "{solver:?}: {:?}", s.placements);
    }
    // And the checker refuses an answer that does.
    let mut forged = serde_json::to_value(answer(&text, Mode::Place)).unwrap();
    forged["placements"] = json!([{"request": "a", "storage": "s1", "host": "h6"}]);
    forged["unplaced"] = json!([]);
    let report = check_texts(&text, &forged.to_string(), CheckPhase::Place).unwrap();
    assert!(
        report
            .violations
            .iter()
            .any(|v| v.rule == vmplace_check::Rule::GroupRule),
        "{:?}",
        report.violations
    );
}

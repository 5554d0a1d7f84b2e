//! Issue 27 (hardening III), the command line's part: `simulate`'s arguments checked before any
//! work, and trace files by their real names.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn vmplace(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vmplace"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("binary runs")
}

fn stdout_json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&o.stdout)
        )
    })
}

/// The errors of a run refused with exit code 2, as (code, path, cause).
fn refused(o: &Output) -> Vec<(String, String, String)> {
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let doc = stdout_json(o);
    doc["errors"]
        .as_array()
        .expect("an error document")
        .iter()
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or_default().to_string();
            (s("code"), s("path"), s("cause"))
        })
        .collect()
}

// ---- L6: simulate ---------------------------------------------------------------------------

#[test]
fn a_state_step_out_of_range_is_refused_before_any_trace_is_read() {
    // `--state-at 0` was refused only after the whole day had been simulated (28 s): the traces
    // were read first, so a directory that does not exist said E1501 instead.
    for (step, samples) in [("0", "288"), ("288", "288"), ("13", "13")] {
        let o = vmplace(&[
            "simulate",
            "--planetlab",
            "/nonexistent/traces",
            "--samples",
            samples,
            "--state-at",
            step,
        ]);
        let errors = refused(&o);
        assert_eq!(errors.len(), 1, "{errors:?}");
        let (code, _, cause) = &errors[0];
        assert_eq!(code, "E0001", "--state-at {step}: {cause}");
        assert!(cause.contains("--state-at"), "{cause}");
    }
    // The shipped day: the same refusal, and no state document.
    let o = vmplace(&[
        "simulate",
        "--planetlab",
        "instances/planetlab/20110303",
        "--state-at",
        "0",
    ]);
    assert_eq!(refused(&o)[0].0, "E0001");
}

#[cfg(unix)]
fn non_utf8(dir: &Path, stem: &[u8], text: &str) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    let path = dir.join(std::ffi::OsStr::from_bytes(stem));
    std::fs::write(&path, text).expect("the file system takes any bytes but / and NUL");
    path
}

#[cfg(unix)]
#[test]
fn a_trace_whose_name_is_not_utf8_is_read_by_its_real_name() {
    // The name was read back through its lossy spelling and opened as such: "No such file".
    let dir = tempfile::tempdir().unwrap();
    non_utf8(dir.path(), b"vm-\xff", "10\n20\n30\n");
    let traces = vmplace::sim::load_planetlab(dir.path(), 3).expect("read");
    assert_eq!(traces.len(), 1);
    assert_eq!(traces[0].name, "vm-\u{fffd}");
    assert_eq!(traces[0].samples, [0.1, 0.2, 0.3]);
    let o = vmplace(&[
        "simulate",
        "--planetlab",
        dir.path().to_str().unwrap(),
        "--samples",
        "3",
        "--hosts",
        "2",
        "--policy",
        "dvfs",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert_eq!(stdout_json(&o)["vms"], 1);
}

#[cfg(unix)]
#[test]
fn a_bad_line_in_a_trace_named_in_non_utf8_is_reported_at_its_line() {
    // What is wrong is the content: the error says so, naming the file lossily.
    let dir = tempfile::tempdir().unwrap();
    non_utf8(dir.path(), b"vm-\xfe", "10\nabc\n30\n");
    let errors = vmplace::sim::load_planetlab(dir.path(), 3).expect_err("a bad line");
    let got: Vec<(&str, &str)> = errors
        .iter()
        .map(|e| (e.code.as_str(), e.path.as_str()))
        .collect();
    assert_eq!(
        got,
        [("E1502", "vm-\u{fffd}:2"), ("E1504", "vm-\u{fffd}")],
        "{errors:#?}"
    );
}

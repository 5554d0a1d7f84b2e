//! Issue 28, items 6 and 7: the service's habits as an operator meets them (readiness while
//! draining, a described API, a capped limit that says so, counted refusals, build info, request
//! ids, deploy files that run) and plots a reader can read.

mod deploy;
mod plots;

use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// `vmplace serve` on an ephemeral port, its log (stderr) in a file.
struct Svc {
    child: Child,
    addr: String,
    log: tempfile::NamedTempFile,
}

impl Svc {
    fn start(args: &[&str]) -> Svc {
        let log = tempfile::NamedTempFile::new().unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vmplace"));
        cmd.arg("serve")
            .args(args)
            .args(["--listen", "127.0.0.1:0"])
            .env("RUST_LOG", "info")
            .current_dir(ROOT)
            .stderr(log.reopen().unwrap());
        let (child, addr) = crate::common::spawn_server(cmd);
        Svc { child, addr, log }
    }

    fn call(&self, method: &str, path: &str, headers: &[(&str, &[u8])], body: &str) -> Answer {
        call(&self.addr, method, path, headers, body)
    }

    fn get(&self, path: &str) -> Answer {
        self.call("GET", path, &[], "")
    }

    fn post(&self, path: &str, body: &str) -> Answer {
        self.call("POST", path, &[], body)
    }

    fn metrics(&self) -> String {
        self.get("/metrics").body
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap()
    }

    fn terminate(&self) {
        assert!(Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap()
            .success());
    }
}

impl Drop for Svc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One request on its own connection.
fn call(addr: &str, method: &str, path: &str, headers: &[(&str, &[u8])], body: &str) -> Answer {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    )
    .into_bytes();
    for (name, value) in headers {
        request.extend_from_slice(name.as_bytes());
        request.extend_from_slice(b": ");
        request.extend_from_slice(value);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"\r\n");
    request.extend_from_slice(body.as_bytes());
    // A server that refuses the body (413) may close before it is all sent: read its answer.
    let _ = stream.write_all(&request);
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    Answer::parse(&raw)
}

/// An answer: status, headers (names in lower case), body.
struct Answer {
    status: u16,
    headers: BTreeMap<String, String>,
    body: String,
}

impl Answer {
    fn parse(raw: &[u8]) -> Answer {
        let text = String::from_utf8_lossy(raw);
        let (head, body) = text.split_once("\r\n\r\n").expect("a whole answer");
        let mut lines = head.lines();
        let status = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        // `Connection: close` answers are not chunked by hyper when the length is known; a
        // chunked one is decoded here.
        let body = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(body)
        } else {
            body.to_string()
        };
        Answer {
            status,
            headers,
            body,
        }
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        body = &rest[n + 2..];
    }
    out
}

fn file(path: &str) -> String {
    std::fs::read_to_string(format!("{ROOT}/{path}")).unwrap()
}

fn with_time_limit(text: &str, seconds: f64) -> String {
    let mut v: Value = serde_json::from_str(text).unwrap();
    v["options"] = serde_json::json!({"time_limit_s": seconds});
    v.to_string()
}

/// Polls `/metrics` until `want` shows, for at most `wait`.
fn await_metric(s: &Svc, want: &str, wait: Duration) {
    let start = Instant::now();
    loop {
        let m = s.metrics();
        if m.contains(want) {
            return;
        }
        assert!(start.elapsed() < wait, "never saw {want}:\n{m}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn readyz_is_200_while_serving_and_503_while_draining() {
    let mut s = Svc::start(&["--workers", "1", "--shutdown-grace", "30"]);
    let ready = s.get("/readyz");
    assert_eq!(
        (ready.status, ready.json()["status"].clone()),
        (200, "ready".into())
    );
    // A solve that runs its 4 s limit holds the server in its drain.
    let body = with_time_limit(&file("instances/tight/h200-s20-vm1000-tight.json"), 4.0);
    let addr = s.addr.clone();
    let solve = std::thread::spawn(move || call(&addr, "POST", "/v1/place", &[], &body).status);
    await_metric(&s, "vmplace_solves_running 1", Duration::from_secs(30));
    s.terminate();
    let start = Instant::now();
    let draining = loop {
        let r = s.get("/readyz");
        if r.status == 503 {
            break r;
        }
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "readyz never turned 503"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(draining.json()["status"], "draining");
    // Alive all the same, and new work is sent elsewhere.
    assert_eq!(s.get("/healthz").status, 200);
    let refused = s.post("/v1/place", &file("instances/examples/small.json"));
    assert_eq!(refused.status, 503, "{}", refused.body);
    assert_eq!(refused.json()["errors"][0]["code"], "E0005");
    assert!(refused.headers.contains_key("retry-after"));
    // The solve in flight finishes, then the server exits cleanly.
    assert_eq!(solve.join().unwrap(), 200);
    let exited = Instant::now();
    loop {
        if let Some(status) = s.child.try_wait().unwrap() {
            assert!(status.success(), "clean exit: {status}");
            break;
        }
        assert!(
            exited.elapsed() < Duration::from_secs(10),
            "the server did not exit"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A validator for `schema` with the OpenAPI document's components to resolve its references.
fn validator(doc: &Value, schema: &Value) -> jsonschema::Validator {
    let schema = serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "allOf": [schema],
        "components": doc["components"].clone(),
    });
    jsonschema::validator_for(&schema).expect("schema compiles")
}

#[test]
fn openapi_names_tags_and_exemplifies_every_operation() {
    let s = Svc::start(&[]);
    let doc = s.get("/v1/openapi.json").json();
    let tags: Vec<&str> = doc["tags"]
        .as_array()
        .expect("tags")
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    let mut ids = std::collections::BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path}"));
            assert!(ids.insert(id.to_string()), "operationId {id} twice");
            let tag = op["tags"][0].as_str().expect("a tag");
            assert!(tags.contains(&tag), "{path}: tag {tag} not declared");
            if method != "post" {
                continue;
            }
            let media = &op["requestBody"]["content"]["application/json"];
            let example = &media["examples"]["example"];
            assert!(example["summary"].is_string(), "{path}");
            let value = &example["value"];
            let faults: Vec<String> = validator(&doc, &media["schema"])
                .iter_errors(value)
                .map(|e| e.to_string())
                .collect();
            assert!(
                faults.is_empty(),
                "{path}: the example breaks its schema: {faults:?}"
            );
            let answer = s.post(path, &value.to_string());
            assert_eq!(answer.status, 200, "{path}: {}", answer.body);
            if path == "/v1/check" {
                assert_eq!(answer.json()["valid"], true, "{}", answer.body);
            }
        }
    }
    assert_eq!(ids.len(), vmplace_server::openapi::ENDPOINTS.len());
    assert_eq!(
        doc["paths"]["/v1/schema/{doc}"]["get"]["parameters"][0]["example"],
        "problem"
    );
}

#[test]
fn a_capped_time_limit_is_reported_in_the_answer() {
    let s = Svc::start(&["--max-time-limit", "1"]);
    let small = file("instances/examples/small.json");
    let capped = s.post("/v1/place", &with_time_limit(&small, 5.0)).json();
    assert_eq!(
        capped["stats"]["time_limit_capped"],
        serde_json::json!({"requested_s": 5.0, "applied_s": 1.0}),
        "{capped}"
    );
    // The field is part of the published schema: the answer validates against it.
    let schema: Value = serde_json::from_str(&s.get("/v1/schema/solution").body).unwrap();
    let faults: Vec<String> = jsonschema::validator_for(&schema)
        .unwrap()
        .iter_errors(&capped)
        .map(|e| e.to_string())
        .collect();
    assert!(faults.is_empty(), "{faults:?}");
    // Under the cap: nothing to say.
    let within = s.post("/v1/place", &with_time_limit(&small, 0.5)).json();
    assert!(
        within["stats"].get("time_limit_capped").is_none(),
        "{within}"
    );
    // The CLI has no cap.
    let cli = Command::new(env!("CARGO_BIN_EXE_vmplace"))
        .args([
            "place",
            "instances/examples/small.json",
            "--time-limit",
            "5",
        ])
        .current_dir(ROOT)
        .output()
        .unwrap();
    let cli: Value = serde_json::from_slice(&cli.stdout).unwrap();
    assert!(cli["stats"].get("time_limit_capped").is_none());
    // So does a capacity answer (the problem asks for 5 s).
    let body = serde_json::json!({
        "problem": serde_json::from_str::<Value>(&small).unwrap(),
        "flavors": [{"name": "m", "demand": {"cpu": 1, "memory_gib": 2}, "disk_gib": 10}]
    });
    let capacity = s.post("/v1/capacity", &body.to_string());
    assert_eq!(capacity.status, 200, "{}", capacity.body);
    assert_eq!(
        capacity.json()["time_limit_capped"],
        serde_json::json!({"requested_s": 5.0, "applied_s": 1.0})
    );
    // A migration round says so as well.
    let mut state: Value =
        serde_json::from_str(&file("instances/migration/small-state.json")).unwrap();
    state["policy"]["time_limit_s"] = serde_json::json!(30);
    let plan = s.post("/v1/migrate", &state.to_string());
    assert_eq!(plan.status, 200, "{}", plan.body);
    assert_eq!(
        plan.json()["stats"]["time_limit_capped"],
        serde_json::json!({"requested_s": 30.0, "applied_s": 1.0})
    );
}

#[test]
fn cancelled_rejected_and_oversized_requests_are_counted() {
    let s = Svc::start(&[
        "--workers",
        "1",
        "--queue",
        "0",
        "--small-lane",
        "0",
        "--body-limit",
        "200000",
    ]);
    // A client that leaves during its solve: 499.
    let body = with_time_limit(&file("instances/tight/h200-s20-vm1000-tight.json"), 30.0);
    let mut leaving = TcpStream::connect(&s.addr).unwrap();
    write!(leaving, "POST /v1/place HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len()).unwrap();
    await_metric(&s, "vmplace_solves_running 1", Duration::from_secs(30));
    drop(leaving);
    await_metric(&s, "status=\"499\"} 1", Duration::from_secs(15));
    await_metric(&s, "vmplace_solves_running 0", Duration::from_secs(15));
    // A solve holds the one worker; the next request is refused: 503.
    let holding = with_time_limit(&file("instances/tight/h200-s20-vm1000-tight.json"), 3.0);
    let addr = s.addr.clone();
    let held = std::thread::spawn(move || call(&addr, "POST", "/v1/place", &[], &holding).status);
    await_metric(&s, "vmplace_solves_running 1", Duration::from_secs(30));
    assert_eq!(
        s.post("/v1/place", &file("instances/examples/small.json"))
            .status,
        503
    );
    // Too large: 413.
    let huge = format!("{{\"pad\": \"{}\"}}", "x".repeat(210_000));
    assert_eq!(s.post("/v1/place", &huge).status, 413);
    assert_eq!(held.join().unwrap(), 200);
    let m = s.metrics();
    for status in ["499", "503", "413", "200"] {
        assert!(
            m.contains(&format!(
                "vmplace_requests_total{{endpoint=\"/v1/place\",status=\"{status}\"}} 1"
            )),
            "{status}:\n{m}"
        );
    }
    assert!(m.contains("vmplace_solves_cancelled_total 1"));
}

#[test]
fn build_info_names_the_version_the_commit_and_highs() {
    let s = Svc::start(&[]);
    let m = s.metrics();
    let line = m
        .lines()
        .find(|l| l.starts_with("vmplace_build_info{"))
        .unwrap_or_else(|| panic!("no build info:\n{m}"));
    assert!(line.ends_with("} 1"), "{line}");
    assert!(
        line.contains(&format!("version=\"{}\"", env!("CARGO_PKG_VERSION"))),
        "{line}"
    );
    let highs = vmplace_core::model::highs_version();
    let parts: Vec<&str> = highs.split('.').collect();
    assert!(
        parts.len() == 3 && parts.iter().all(|p| p.parse::<u32>().is_ok()) && parts[0] != "0",
        "{highs}"
    );
    assert!(line.contains(&format!("highs=\"{highs}\"")), "{line}");
    let commit = line
        .split("commit=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    assert!(!commit.is_empty(), "{line}");
}

#[test]
fn request_ids_are_echoed_generated_and_logged() {
    let s = Svc::start(&[]);
    let id = |r: &Answer| {
        r.headers
            .get("x-request-id")
            .cloned()
            .expect("an X-Request-Id")
    };
    let echoed = s.call(
        "GET",
        "/healthz",
        &[("X-Request-Id", b"trace-4711.a:b")],
        "",
    );
    assert_eq!(id(&echoed), "trace-4711.a:b");
    // Generated when absent: unique per request.
    let (a, b) = (id(&s.get("/healthz")), id(&s.get("/healthz")));
    assert!(!a.is_empty() && a != b, "{a} {b}");
    // Replaced when unusable: too long, a space, a byte beyond ASCII.
    let long = "x".repeat(vmplace_server::http::MAX_REQUEST_ID + 1);
    for bad in [long.as_bytes(), b"two words", b"caf\xc3\xa9"] {
        let r = s.call("GET", "/healthz", &[("X-Request-Id", bad)], "");
        let got = id(&r);
        assert_ne!(got.as_bytes(), bad);
        assert!(
            got.bytes().all(|c| c.is_ascii_graphic()) && got.len() <= 128,
            "{got}"
        );
    }
    // Every answer carries one, errors too.
    let error = s.call("POST", "/v1/place", &[("X-Request-Id", b"bad-doc-1")], "{");
    assert_eq!((error.status, id(&error)), (400, "bad-doc-1".to_string()));
    // The access log line names it.
    let start = Instant::now();
    loop {
        let log = s.log();
        let line = log.lines().find(|l| l.contains("trace-4711.a:b"));
        if let Some(line) = line {
            assert!(line.contains("/healthz") && line.contains("200"), "{line}");
            assert!(
                log.lines()
                    .any(|l| l.contains("bad-doc-1") && l.contains("400")),
                "{log}"
            );
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "not logged:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

//! `vmplace serve` as a user meets it: the real binary on an ephemeral loopback port, a real HTTP
//! client, every endpoint, bad input, a full queue and a client that goes away.

use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(args: &[&str]) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vmplace"));
        cmd.arg("serve")
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stderr(Stdio::null());
        let (child, addr) = crate::common::spawn_server(cmd);
        Server { child, addr }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn post(&self, path: &str, body: &str) -> (u16, Value, Option<String>) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut r = agent
            .post(&self.url(path))
            .header("content-type", "application/json")
            .send(body)
            .expect("request sent");
        let retry = r
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap_or("").to_string());
        let status = r.status().as_u16();
        let text = r.body_mut().read_to_string().unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::Null),
            retry,
        )
    }

    fn get(&self, path: &str) -> (u16, String) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut r = agent.get(&self.url(path)).call().expect("request sent");
        (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn instance(path: &str) -> String {
    std::fs::read_to_string(format!("{}/instances/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn with_time_limit(text: &str, seconds: f64) -> String {
    let mut v: Value = serde_json::from_str(text).unwrap();
    v["options"] = serde_json::json!({"time_limit_s": seconds});
    v.to_string()
}

fn strip_timing(mut v: Value) -> Value {
    v["stats"]["solve_time_s"] = Value::Null;
    v["stats"]["timings"] = Value::Null;
    if let Some(phases) = v["stats"]["phases"].as_array_mut() {
        for p in phases {
            p["time_s"] = Value::Null;
        }
    }
    v
}

#[test]
fn every_endpoint_answers_like_the_cli() {
    let s = Server::start(&[]);
    let small = instance("examples/small.json");
    let (status, solution, _) = s.post("/v1/place", &small);
    assert_eq!(status, 200);
    let cli = Command::new(env!("CARGO_BIN_EXE_vmplace"))
        .args(["place", "instances/examples/small.json"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let cli: Value = serde_json::from_slice(&cli.stdout).unwrap();
    assert_eq!(
        strip_timing(solution.clone()),
        strip_timing(cli),
        "same document as the CLI, timing aside"
    );

    let (status, storage, _) = s.post("/v1/storage", &small);
    assert_eq!(status, 200);
    assert!(storage["placements"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p.get("host").is_none()));
    let (status, host, _) = s.post("/v1/host", &instance("examples/host-phase.json"));
    assert_eq!(status, 200);
    assert_eq!(host["placements"].as_array().unwrap().len(), 3);

    let body = serde_json::json!({"problem": serde_json::from_str::<Value>(&small).unwrap(), "solution": solution, "phase": "place"});
    let (status, report, _) = s.post("/v1/check", &body.to_string());
    assert_eq!(status, 200);
    assert_eq!(report["valid"], true);

    for doc in ["problem", "solution", "errors"] {
        let (status, text) = s.get(&format!("/v1/schema/{doc}"));
        assert_eq!(status, 200);
        assert!(serde_json::from_str::<Value>(&text).unwrap()["$schema"].is_string());
    }
    assert_eq!(s.get("/v1/schema/nothing").0, 404);
    for doc in ["state", "plan"] {
        assert_eq!(s.get(&format!("/v1/schema/{doc}")).0, 200);
    }
    let state = instance("migration/small-state.json");
    let (status, plan, _) = s.post("/v1/migrate", &state);
    assert_eq!(status, 200);
    let cli = Command::new(env!("CARGO_BIN_EXE_vmplace"))
        .args(["migrate", "instances/migration/small-state.json"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let mut cli: Value = serde_json::from_slice(&cli.stdout).unwrap();
    let mut http = plan.clone();
    cli["stats"]["time_s"] = Value::Null;
    http["stats"]["time_s"] = Value::Null;
    assert_eq!(http, cli, "same plan as the CLI, timing aside");
    let body =
        serde_json::json!({"state": serde_json::from_str::<Value>(&state).unwrap(), "plan": plan});
    let (status, report, _) = s.post("/v1/check", &body.to_string());
    assert_eq!(status, 200);
    assert_eq!(report["valid"], true);
    assert_eq!(s.get("/healthz").0, 200);
    let (status, metrics) = s.get("/metrics");
    assert_eq!(status, 200);
    assert!(
        metrics.contains("vmplace_requests_total{endpoint=\"/v1/place\",status=\"200\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("vmplace_solve_seconds_bucket"));
    assert!(metrics.contains("vmplace_queue_depth 0"));
    assert!(metrics.contains("vmplace_requests_total{endpoint=\"/v1/migrate\",status=\"200\"} 1"));
}

#[test]
fn bad_input_gets_400_413_415_with_the_error_document() {
    let s = Server::start(&["--body-limit", "4096"]);
    let (status, doc, _) = s.post("/v1/place", "{\"storage\": [");
    assert_eq!(status, 400);
    assert_eq!(doc["errors"][0]["code"], "E1001");
    let (status, doc, _) = s.post(
        "/v1/place",
        "{\"storage\": \"many\", \"hosts\": [], \"requests\": []}",
    );
    assert_eq!(status, 400);
    let codes: Vec<&str> = doc["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_str().unwrap())
        .collect();
    assert!(
        codes.contains(&"E1101") && codes.contains(&"E1206"),
        "{codes:?}"
    );
    let (status, doc, _) = s.post("/v1/place", &instance("medium/h50-s5-vm200-loose.json"));
    assert_eq!(status, 413);
    assert_eq!(doc["errors"][0]["code"], "E0003");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut r = agent
        .post(&s.url("/v1/place"))
        .header("content-type", "text/plain")
        .send("{}")
        .unwrap();
    assert_eq!(r.status().as_u16(), 415);
    let doc: Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(doc["errors"][0]["code"], "E0004");
    // The server is still up.
    assert_eq!(s.get("/healthz").0, 200);
}

#[test]
fn a_full_queue_answers_503_with_retry_after() {
    let s = Server::start(&["--workers", "1", "--queue", "1", "--small-lane", "0"]);
    let body = with_time_limit(&instance("medium/h50-s5-vm200-loose.json"), 3.0);
    let addr = s.addr.clone();
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let body = body.clone();
            let addr = addr.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50 * i));
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .build()
                    .into();
                let r = agent
                    .post(&format!("http://{addr}/v1/place"))
                    .header("content-type", "application/json")
                    .send(&body)
                    .unwrap();
                (
                    r.status().as_u16(),
                    r.headers().get("retry-after").is_some(),
                )
            })
        })
        .collect();
    let results: Vec<(u16, bool)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let ok = results.iter().filter(|r| r.0 == 200).count();
    let busy: Vec<_> = results.iter().filter(|r| r.0 == 503).collect();
    assert_eq!(ok, 2, "one running and one queued are served: {results:?}");
    assert_eq!(busy.len(), 2, "{results:?}");
    assert!(busy.iter().all(|r| r.1), "503 carries Retry-After");
}

/// Sends a 30 s `/v1/place` and closes the connection 0.7 s into the solve.
fn leave_during_a_solve(s: &Server) {
    let body = with_time_limit(&instance("tight/h200-s20-vm1000-tight.json"), 30.0);
    let mut stream = TcpStream::connect(&s.addr).unwrap();
    write!(stream, "POST /v1/place HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len()).unwrap();
    std::thread::sleep(Duration::from_millis(700));
    drop(stream);
}

#[test]
fn a_client_that_disconnects_stops_its_solve() {
    let s = Server::start(&["--workers", "1"]);
    leave_during_a_solve(&s);
    let start = Instant::now();
    loop {
        let (_, metrics) = s.get("/metrics");
        if metrics.contains("vmplace_solves_cancelled_total 1")
            && metrics.contains("vmplace_solves_running 0")
        {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the cancelled solve should stop well before its 30 s limit:\n{metrics}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The single worker is free again.
    let (status, _, _) = s.post("/v1/place", &instance("examples/small.json"));
    assert_eq!(status, 200);
}

#[test]
fn requests_whose_client_left_are_counted() {
    // Issue 27, L5: the request is counted (status 499, as nginx logs it) even though its
    // handler was dropped with the connection.
    let s = Server::start(&["--workers", "1"]);
    leave_during_a_solve(&s);
    let start = Instant::now();
    loop {
        let (_, metrics) = s.get("/metrics");
        if metrics.contains("vmplace_requests_total{endpoint=\"/v1/place\",status=\"499\"} 1") {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{metrics}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn unknown_paths_share_one_metric_series() {
    // Issue 27, H1: every distinct path a client sends used to become a permanent series.
    let s = Server::start(&[]);
    for i in 0..40 {
        let path = format!("/no/such/{i}/{}", "x".repeat(2_000));
        let (status, _) = s.get(&path);
        assert_eq!(status, 404);
    }
    let (status, _) = s.get("/v1/schema/problem");
    assert_eq!(status, 200);
    let (_, metrics) = s.get("/metrics");
    assert!(
        metrics.contains("vmplace_requests_total{endpoint=\"unmatched\",status=\"404\"} 40"),
        "{metrics}"
    );
    assert!(metrics.contains("endpoint=\"/v1/schema/{doc}\",status=\"200\"} 1"));
    assert!(!metrics.contains("/no/such"));
    assert!(metrics.len() < 20_000, "{} bytes of metrics", metrics.len());
}

#[test]
fn sigterm_finishes_the_solve_in_flight() {
    let mut s = Server::start(&["--workers", "1"]);
    let body = with_time_limit(&instance("medium/h50-s5-vm200-loose.json"), 2.0);
    let mut stream = TcpStream::connect(&s.addr).unwrap();
    write!(stream, "POST /v1/place HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}", body.len()).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let pid = s.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response:.200}");
    let status = s.child.wait().unwrap();
    assert!(status.success(), "clean exit after SIGTERM");
}

/// Whether the server closed this connection (EOF or reset) within `wait`.
fn closed_within(stream: &mut TcpStream, wait: Duration) -> bool {
    stream.set_read_timeout(Some(wait)).unwrap();
    let mut buf = [0u8; 512];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            // A 408 or similar before the close is fine; keep reading to the close.
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return false,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return false,
            Err(_) => return true,
        }
    }
}

#[test]
fn slow_clients_are_closed_by_the_header_timeout_and_cannot_fill_the_server() {
    let s = Server::start(&["--header-timeout", "1", "--max-connections", "8"]);
    // More half-sent requests than the server takes connections, each sending a header now and
    // then: the first eight are closed by the header timer, the rest then get their turn.
    let mut slow: Vec<TcpStream> = (0..12)
        .map(|_| {
            let mut c = TcpStream::connect(&s.addr).unwrap();
            c.write_all(b"POST /v1/place HTTP/1.1\r\nHost: x\r\n")
                .unwrap();
            c
        })
        .collect();
    std::thread::sleep(Duration::from_millis(400));
    for c in &mut slow {
        let _ = c.write_all(b"X-Slow: 1\r\n");
    }
    let closed = slow
        .iter_mut()
        .map(|c| closed_within(c, Duration::from_secs(5)))
        .filter(|&closed| closed)
        .count();
    assert_eq!(closed, 12, "every slow connection is closed");
    // An idle kept-alive connection is closed by the same timer.
    let mut idle = TcpStream::connect(&s.addr).unwrap();
    assert!(closed_within(&mut idle, Duration::from_secs(4)));
    // Meanwhile and after, a normal client is served.
    assert_eq!(s.get("/healthz").0, 200);
}

#[test]
fn a_body_that_never_arrives_gets_408() {
    let s = Server::start(&["--body-timeout", "1"]);
    let mut c = TcpStream::connect(&s.addr).unwrap();
    c.write_all(b"POST /v1/place HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"st")
        .unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut response = vec![0u8; 4096];
    let n = c.read(&mut response).unwrap();
    let text = String::from_utf8_lossy(&response[..n]);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("E0009"), "{text}");
}

#[test]
fn sigterm_with_a_half_sent_request_exits_within_the_grace_period() {
    let mut s = Server::start(&["--shutdown-grace", "2", "--header-timeout", "30"]);
    let mut half = TcpStream::connect(&s.addr).unwrap();
    half.write_all(b"POST /v1/place HTTP/1.1\r\nHost: x\r\nContent-Le")
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let start = Instant::now();
    assert!(Command::new("kill")
        .args(["-TERM", &s.child.id().to_string()])
        .status()
        .unwrap()
        .success());
    loop {
        if let Some(status) = s.child.try_wait().unwrap() {
            assert!(status.success(), "clean exit: {status}");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(8),
            "the server must exit after its 2 s grace period, whatever the client does"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(half);
}

#[test]
fn wrong_method_and_wrong_media_type_get_error_documents() {
    let s = Server::start(&[]);
    let (status, body) = s.get("/v1/place");
    assert_eq!(status, 405);
    let doc: Value = serde_json::from_str(&body).expect("405 carries an error document");
    assert_eq!(doc["errors"][0]["code"], "E0008");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let r = agent.post(&s.url("/healthz")).send("").unwrap();
    assert_eq!(r.status().as_u16(), 405);
    for (content_type, expected) in [
        ("application/jsonx", 415),
        ("application/json-seq", 415),
        ("Application/JSON; charset=utf-8", 200),
    ] {
        let r = agent
            .post(&s.url("/v1/place"))
            .header("content-type", content_type)
            .send(instance("examples/small.json").as_str())
            .unwrap();
        assert_eq!(r.status().as_u16(), expected, "{content_type}");
    }
    // Not UTF-8: the same code as the CLI's.
    let mut r = agent
        .post(&s.url("/v1/place"))
        .header("content-type", "application/json")
        .send(&[0xff, 0xfe, b'{', b'}'][..])
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let doc: Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(doc["errors"][0]["code"], "E1001");
}

/// A validator for one component of the OpenAPI document, with the document's components to
/// resolve its references.
fn component_validator(doc: &Value, name: &str) -> jsonschema::Validator {
    let schema = serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": format!("#/components/schemas/{name}"),
        "components": doc["components"].clone(),
    });
    jsonschema::validator_for(&schema).expect("component compiles")
}

#[test]
fn openapi_describes_every_endpoint_the_server_serves() {
    let s = Server::start(&[]);
    let (status, text) = s.get("/v1/openapi.json");
    assert_eq!(status, 200);
    let doc: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().expect("paths");
    let listed: std::collections::BTreeSet<(String, String)> = paths
        .iter()
        .flat_map(|(p, ops)| {
            ops.as_object()
                .expect("operations")
                .keys()
                .map(move |m| (m.clone(), p.clone()))
        })
        .collect();
    let served: std::collections::BTreeSet<(String, String)> = vmplace_server::openapi::ENDPOINTS
        .iter()
        .map(|e| (e.method.to_string(), e.path.to_string()))
        .collect();
    assert_eq!(listed, served);
    // Every described operation exists on the server: documents answer 400 to `{}`, GETs 200.
    for (method, path) in &listed {
        if method == "post" {
            let (status, body, _) = s.post(path, "{}");
            assert_eq!(status, 400, "{path}");
            assert!(body["errors"].is_array(), "{path}");
            let op = &paths[path]["post"];
            assert!(op["requestBody"]["content"]["application/json"]["schema"].is_object());
            for code in ["200", "400", "413", "415", "503"] {
                assert!(op["responses"][code].is_object(), "{path} {code}");
            }
        } else {
            let names: Vec<String> = match path.as_str() {
                "/v1/schema/{doc}" => paths[path]["get"]["parameters"][0]["schema"]["enum"]
                    .as_array()
                    .expect("doc names")
                    .iter()
                    .map(|n| format!("/v1/schema/{}", n.as_str().expect("name")))
                    .collect(),
                p => vec![p.to_string()],
            };
            for p in names {
                assert_eq!(s.get(&p).0, 200, "{p}");
            }
        }
    }
    // Every reference resolves inside the document.
    let text = doc.to_string();
    for piece in text.split("\"$ref\":\"").skip(1) {
        let target = piece.split('"').next().expect("ref");
        let name = target
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("external reference {target}"));
        assert!(doc["components"]["schemas"][name].is_object(), "{target}");
    }
}

#[test]
fn openapi_schemas_accept_the_documents_the_server_exchanges_and_reject_bad_ones() {
    let s = Server::start(&[]);
    let doc: Value = serde_json::from_str(&s.get("/v1/openapi.json").1).expect("JSON");
    let small = instance("examples/small.json");
    let (_, solution, _) = s.post("/v1/place", &small);
    let (_, errors, _) = s.post("/v1/place", r#"{"hosts": []}"#);
    let state = instance("migration/small-state.json");
    let (_, plan, _) = s.post("/v1/migrate", &state);
    let ganeti = instance("../tests/data/ganeti/hail-alloc-spindles.json");
    let (status, answer, _) = s.post("/v1/iallocator", &ganeti);
    assert_eq!(status, 200);
    assert_eq!(answer["result"], serde_json::json!(["node4"]));
    let capacity_body = serde_json::json!({
        "problem": serde_json::from_str::<Value>(&small).expect("JSON"),
        "flavors": [{"name": "m", "demand": {"cpu": 1, "memory_gib": 2}, "disk_gib": 10}]
    });
    let (status, capacity, _) = s.post("/v1/capacity", &capacity_body.to_string());
    assert_eq!(status, 200, "{capacity}");
    assert_eq!(capacity["flavors"][0]["name"], "m");
    assert_eq!(
        capacity["flavors"][0]["fit"],
        capacity["flavors"][0]["bound"]
    );
    // Failures on the migration state: every host in turn; a bad spelling is an error at its path.
    let failure_body = serde_json::json!({
        "problem": serde_json::from_str::<Value>(&state).expect("JSON"),
        "fail": ["any-host"]
    });
    let (status, failures, _) = s.post("/v1/capacity", &failure_body.to_string());
    assert_eq!(status, 200, "{failures}");
    assert!(
        failures["failures"]["scenarios"].as_u64() > Some(0),
        "{failures}"
    );
    let (status, bad_fail, _) = s.post(
        "/v1/capacity",
        &serde_json::json!({"problem": failure_body["problem"], "fail": ["any-host", "rack"]})
            .to_string(),
    );
    assert_eq!(status, 400, "{bad_fail}");
    assert_eq!(bad_fail["errors"][0]["path"], "/fail/1", "{bad_fail}");
    let parse = |t: &str| serde_json::from_str::<Value>(t).expect("JSON");
    for (component, value) in [
        ("CapacityRequest", capacity_body.clone()),
        ("CapacityReport", capacity),
        ("CapacityRequest", failure_body.clone()),
        ("CapacityReport", failures),
        ("Problem", parse(&small)),
        ("Solution", solution),
        ("ErrorDocument", errors),
        ("State", parse(&state)),
        ("Plan", plan),
        ("IallocatorInput", parse(&ganeti)),
        ("IallocatorAnswer", answer),
    ] {
        let v = component_validator(&doc, component);
        let faults: Vec<String> = v.iter_errors(&value).map(|e| e.to_string()).collect();
        assert!(faults.is_empty(), "{component}: {faults:?}");
    }
    let mut bad = parse(&small);
    bad["hosts"] = serde_json::json!("none");
    assert!(!component_validator(&doc, "Problem").is_valid(&bad));
}

#[test]
fn migrate_holds_the_services_time_cap() {
    // Issue 27, H4: a state asking `policy.time_limit_s: 1e9` held a worker for 25 s on a server
    // capped at 1 s; the round MIP now gets the cap.
    let s = Server::start(&["--max-time-limit", "1"]);
    let state = std::fs::read_to_string(format!(
        "{}/tests/data/hardening3/state-grp-s1.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let (status, plan, _) = s.post("/v1/migrate", &state);
    assert_eq!(status, 200, "{plan}");
    let took = plan["stats"]["time_s"].as_f64().unwrap();
    assert!(took < 5.0, "the round took {took} s under a 1 s cap");
}

/// A state of `hosts` idle hosts: its `migrate` answer lists every host (about 110 bytes each).
fn state_with_hosts(hosts: usize) -> String {
    let hosts: Vec<Value> = (0..hosts)
        .map(|i| serde_json::json!({"id": format!("h{i}"), "capacity": {"cpu": 1}, "storage": ["s"]}))
        .collect();
    serde_json::json!({"storage": [{"id": "s", "capacity_gib": 1}], "hosts": hosts, "vms": [],
                       "policy": {"detection": "thr", "parameter": 0.8, "selection": "mmt"}})
    .to_string()
}

#[test]
fn a_client_that_never_reads_its_answer_loses_its_connection_after_the_write_timeout() {
    // Issue 27, H4: answers had no write timeout, so clients that never read held their answers
    // (1.25 GB for six) and their connections. One connection allowed: the next client is served
    // only once the server has given up on the first.
    let s = Server::start(&["--max-connections", "1", "--write-timeout", "1"]);
    let body = state_with_hosts(100_000);
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    // A small receive window: the ~11 MB answer cannot all sit in kernel buffers.
    sock.set_recv_buffer_size(4096).unwrap();
    let addr: std::net::SocketAddr = s.addr.parse().unwrap();
    sock.connect(&addr.into()).unwrap();
    let mut silent: TcpStream = sock.into();
    write!(
        silent,
        "POST /v1/migrate HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    // The silent client keeps its socket open and never reads.
    let mut next = TcpStream::connect(&s.addr).unwrap();
    next.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    next.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    let read = next.read_to_string(&mut answer);
    assert!(read.is_ok(), "the next client was never served: {read:?}");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    drop(silent);
}

#[test]
fn a_small_request_is_served_while_long_solves_hold_every_worker() {
    // Issue 27, L7: one FIFO worker pool; two 60 s solves blocked every client for a minute.
    // One worker, held by a long solve: the small request takes the small lane.
    let s = std::sync::Arc::new(Server::start(&["--workers", "1", "--max-time-limit", "15"]));
    let root = env!("CARGO_MANIFEST_DIR");
    let mut long: Value = serde_json::from_str(
        &std::fs::read_to_string(format!(
            "{root}/instances/racks/h2000-s100-vm10000-tight-racks.json"
        ))
        .unwrap(),
    )
    .unwrap();
    long["options"]["time_limit_s"] = serde_json::json!(15);
    let server = s.clone();
    let long_solve = std::thread::spawn(move || server.post("/v1/place", &long.to_string()).0);
    // Until the long solve holds the worker.
    let start = Instant::now();
    while !s.get("/metrics").1.contains("vmplace_solves_running 1") {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the long solve never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let small = std::fs::read_to_string(format!("{root}/instances/examples/small.json")).unwrap();
    let (status, answer, _) = s.post("/v1/place", &small);
    assert_eq!(status, 200, "{answer}");
    // The long solve still holds its worker: the small one did not wait for it.
    assert!(
        s.get("/metrics").1.contains("vmplace_solves_running 1"),
        "the small request waited for the long solve"
    );
    assert_eq!(long_solve.join().unwrap(), 200);
}

//! `vmplace capacity`: counts that can be computed by hand (identical hosts, one storage system),
//! what binds, the problem's own requests placed first, and bad flavors.

use serde_json::{json, Value};
use vmplace_core::capacity::{CapacityReport, Flavor, Query};
use vmplace_core::domain::settings::Overrides;
use vmplace_core::placement::RunConfig;
use vmplace_server::api::capacity_text;

fn flavor(name: &str, cpu: f64, mem: f64, disk: f64) -> Flavor {
    Flavor {
        name: name.into(),
        demand: [("cpu".to_string(), cpu), ("memory_gib".to_string(), mem)]
            .into_iter()
            .collect(),
        disk_gib: disk,
    }
}

fn query(flavors: &[Flavor]) -> Query {
    Query {
        flavors: flavors.to_vec(),
        ..Query::default()
    }
}

fn count(doc: &Value, flavors: &[Flavor]) -> CapacityReport {
    capacity_text(
        &doc.to_string(),
        &query(flavors),
        &Overrides::default(),
        &RunConfig::default(),
    )
    .expect("valid")
}

fn pool(requests: Value) -> Value {
    let host =
        |id: &str| json!({"id": id, "capacity": {"cpu": 8, "memory_gib": 32}, "storage": ["s"]});
    json!({"storage": [{"id": "s", "capacity_gib": 1000}],
           "hosts": [host("h1"), host("h2"), host("h3"), host("h4")],
           "requests": requests})
}

#[test]
fn identical_hosts_and_one_storage_give_the_hand_count() {
    // Each host holds min(8 / 2, 32 / 8) = 4 VMs of 2 CPUs and 8 GiB: 16; the storage 100 images.
    let r = count(
        &pool(json!([])),
        &[flavor("a", 2.0, 8.0, 10.0), flavor("b", 1.0, 1.0, 100.0)],
    );
    let a = &r.flavors[0];
    assert_eq!((a.fit, a.bound, a.gap), (16, 16, 0.0));
    assert_eq!(a.binding.kind, "host_capacity");
    // 1 CPU and 1 GiB: hosts hold 32, the storage 10 images of 100 GiB.
    let b = &r.flavors[1];
    assert_eq!((b.fit, b.bound), (10, 10));
    assert_eq!(b.binding.kind, "storage_capacity");
}

#[test]
fn the_problems_requests_are_placed_first() {
    let reqs = json!([{"id": "r1", "demand": {"cpu": 8, "memory_gib": 8}, "disk_gib": 10}]);
    let r = count(&pool(reqs), &[flavor("a", 2.0, 8.0, 10.0)]);
    assert_eq!(r.requests_placed, 1);
    assert_eq!(r.flavors[0].fit, 12);
}

#[test]
fn storage_whose_hosts_are_full_strands_its_space() {
    // s-big has room for 50 images but reaches only h-full; h-free reaches s-small (2 images).
    let doc = json!({
        "storage": [{"id": "s-big", "capacity_gib": 500}, {"id": "s-small", "capacity_gib": 20}],
        "hosts": [
            {"id": "h-full", "capacity": {"cpu": 8, "memory_gib": 32}, "used": {"cpu": 8}, "storage": ["s-big"]},
            {"id": "h-free", "capacity": {"cpu": 8, "memory_gib": 32}, "storage": ["s-small"]}
        ]
    });
    let r = count(&doc, &[flavor("a", 1.0, 1.0, 10.0)]);
    let a = &r.flavors[0];
    assert_eq!((a.fit, a.bound), (2, 2));
    assert_eq!(a.binding.kind, "storage_capacity");
    assert_eq!(a.stranded_storage, 1);
    assert_eq!(a.stranded_hosts, 1);
}

#[test]
fn a_flavor_with_an_unknown_resource_is_an_error_naming_the_flag() {
    let mut f = flavor("gpu", 1.0, 1.0, 1.0);
    f.demand.insert("gpus".into(), 1.0);
    let errors_of = |flavors: &[Flavor]| {
        capacity_text(
            &pool(json!([])).to_string(),
            &query(flavors),
            &Overrides::default(),
            &RunConfig::default(),
        )
        .expect_err("unknown resource")
    };
    let at = |errors: &[vmplace_wire::InputError], path: &str| {
        errors.iter().any(|e| e.code == "E1205" && e.path == path)
    };
    let errors = errors_of(&[flavor("ok", 1.0, 1.0, 1.0), f.clone()]);
    assert!(at(&errors, "--flavor 2"), "{errors:?}");
    // As the first flavor too, of a pool without requests.
    let errors = errors_of(&[f]);
    assert!(at(&errors, "--flavor 1"), "{errors:?}");
}

#[test]
fn the_cli_counts_and_writes_json_only() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vmplace"))
        .args([
            "capacity",
            "instances/examples/small.json",
            "--flavor",
            "name=m.small,cpu=1,memory_gib=2,disk_gib=10",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run");
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let f = &v["flavors"][0];
    assert_eq!(f["name"], "m.small");
    assert!(f["fit"].as_u64() <= f["bound"].as_u64());
}

#[test]
fn the_max_flow_count_equals_the_placement_phases_optimum() {
    // Independent of the max flow: place count + 3 copies with both phases (every rule, proven
    // optimal on these small pools) and compare what they place. Seeds 3 to 5 overcommit half of
    // the hosts and storage.
    use vmplace_generate::{generate, GenParams, Topology};
    for seed in 0..6 {
        let p = GenParams {
            hosts: 12,
            storage: 4,
            requests: 40,
            seed,
            topology: if seed % 2 == 0 {
                Topology::Racks
            } else {
                Topology::Uniform
            },
            overcommit: if seed >= 3 { 0.5 } else { 0.0 },
            ..Default::default()
        };
        let mut doc = serde_json::to_value(generate(&p)).unwrap();
        doc["requests"] = json!([]);
        let f = flavor("m", 2.0, 7.0, 64.0);
        let fit = count(&doc, std::slice::from_ref(&f)).flavors[0].fit;
        doc["requests"] = (0..fit + 3)
            .map(|i| json!({"id": format!("c{i}"), "demand": f.demand, "disk_gib": f.disk_gib}))
            .collect();
        doc["options"] = json!({"time_limit_s": 20, "mip_gap": 0});
        let s = crate::common::solve(&doc, vmplace_core::placement::Mode::Place);
        assert!(
            fit > 0,
            "seed {seed}: nothing fits, the test decides nothing"
        );
        assert_eq!(s.placements.len(), fit, "seed {seed}");
    }
}

fn ask(doc: &Value, q: &Query) -> Result<CapacityReport, Vec<vmplace_wire::InputError>> {
    capacity_text(
        &doc.to_string(),
        q,
        &Overrides::default(),
        &RunConfig::default(),
    )
}

#[test]
fn a_mix_counts_whole_sets_against_the_shared_capacity() {
    // Per set one a (2 CPUs, 10 GiB) and one b (1 CPU, 100 GiB): the 1,000 GiB hold 9 sets (990
    // GiB), the 32 CPUs of the four hosts 10. So 9, and the storage binds.
    let q = Query {
        mix: Some(vec![1, 1]),
        ..query(&[flavor("a", 2.0, 8.0, 10.0), flavor("b", 1.0, 1.0, 100.0)])
    };
    let m = ask(&pool(json!([])), &q).expect("valid").mix.expect("mix");
    assert_eq!((m.sets, m.bound, m.gap), (9, 9, 0.0));
    assert_eq!(m.vms["a"] + m.vms["b"], 18);
    assert_eq!(m.binding.kind, "storage_capacity");
    // Two b per a: each set is 4 CPUs and 210 GiB: 4 sets (840 GiB) by the storage.
    let q = Query {
        mix: Some(vec![1, 2]),
        ..q
    };
    let m = ask(&pool(json!([])), &q).expect("valid").mix.expect("mix");
    assert_eq!((m.sets, m.vms["b"]), (4, 8));
}

#[test]
fn tiers_shrink_the_flavor_on_the_resource_that_lets_one_more_fit() {
    // One host of 8 CPUs: two of 3 CPUs fit, then the 2 CPUs left take one of 2 CPUs, then
    // nothing is left to shrink into.
    let doc = json!({"storage": [{"id": "s", "capacity_gib": 1000}],
                     "hosts": [{"id": "h", "capacity": {"cpu": 8, "memory_gib": 32}, "storage": ["s"]}]});
    let q = Query {
        tiered: true,
        ..query(&[flavor("m", 3.0, 4.0, 10.0)])
    };
    let t = ask(&doc, &q).expect("valid").tiered.expect("tiers");
    let got: Vec<(f64, usize)> = t.tiers.iter().map(|t| (t.demand["cpu"], t.fit)).collect();
    assert_eq!(got, vec![(3.0, 2), (2.0, 1)]);
    assert_eq!(t.total, 3);
    assert_eq!(t.tiers[1].name, "m@2");
    assert_eq!(t.tiers[1].demand["memory_gib"], 4.0);
}

#[test]
fn a_mix_or_tiers_that_do_not_match_the_flavors_are_errors() {
    let two = [flavor("a", 1.0, 1.0, 1.0), flavor("b", 1.0, 1.0, 1.0)];
    let bad = |q: Query, code: &str, path: &str| {
        let errors = ask(&pool(json!([])), &q).expect_err("bad");
        assert!(
            errors.iter().any(|e| e.code == code && e.path == path),
            "{errors:#?}"
        );
    };
    bad(
        Query {
            mix: Some(vec![1, 2, 3]),
            ..query(&two)
        },
        "E1803",
        "--mix",
    );
    bad(
        Query {
            mix: Some(vec![0, 0]),
            ..query(&two)
        },
        "E1803",
        "--mix",
    );
    bad(
        Query {
            tiered: true,
            ..query(&two)
        },
        "E1804",
        "--tiered",
    );
    // On the command line, a ratio that is not whole numbers.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vmplace"))
        .args([
            "capacity",
            "instances/examples/small.json",
            "--flavor",
            "name=a,cpu=1",
            "--mix",
            "1:x",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["errors"][0]["code"], "E1803");
}

// ---- Where an error is, on the command line and over HTTP -----------------------------------

/// A capacity call that is refused: the pool, the flavors as `--flavor` spells them, the
/// failures, the mix, and the errors expected as (code, CLI path, HTTP path).
struct Refused {
    pool: Value,
    flavors: &'static [&'static str],
    fails: &'static [&'static str],
    mix: Option<&'static [usize]>,
    errors: &'static [(&'static str, &'static str, &'static str)],
}

/// A `--flavor` as the body of `POST /v1/capacity` gives it.
fn flavor_body(spelled: &str) -> Value {
    let mut f = json!({"name": "", "demand": {}, "disk_gib": 0.0});
    for (k, v) in spelled.split(',').filter_map(|p| p.split_once('=')) {
        match k {
            "name" => f["name"] = json!(v),
            "disk_gib" => f["disk_gib"] = json!(v.parse::<f64>().unwrap()),
            _ => f["demand"][k] = json!(v.parse::<f64>().unwrap()),
        }
    }
    f
}

/// (code, path) of every error in an error document.
fn paths(doc: &Value) -> Vec<(String, String)> {
    let errors = doc["errors"].as_array().unwrap_or_else(|| panic!("{doc}"));
    for e in errors {
        let mut keys: Vec<&String> = e.as_object().expect("an error object").keys().collect();
        keys.sort();
        assert_eq!(keys, ["action", "cause", "code", "path"], "{e}");
    }
    let s = |e: &Value, k: &str| e[k].as_str().expect("a string").to_string();
    errors
        .iter()
        .map(|e| (s(e, "code"), s(e, "path")))
        .collect()
}

/// `vmplace capacity` on the case: its error document (it exits with code 2).
fn cli_errors(case: &Refused, dir: &std::path::Path) -> Value {
    let pool = dir.join("pool.json");
    std::fs::write(&pool, case.pool.to_string()).unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_vmplace"));
    cmd.arg("capacity").arg(&pool);
    for f in case.flavors {
        cmd.args(["--flavor", f]);
    }
    for f in case.fails {
        cmd.args(["--fail", f]);
    }
    if let Some(mix) = case.mix {
        let ratio: Vec<String> = mix.iter().map(usize::to_string).collect();
        cmd.args(["--mix", &ratio.join(":")]);
    }
    let out = cmd.output().expect("run");
    assert_eq!(out.status.code(), Some(2), "{:?}", out);
    serde_json::from_slice(&out.stdout).expect("an error document")
}

/// `POST /v1/capacity` with the case, to a server at `addr`: its 400 body.
fn http_errors(case: &Refused, addr: &str) -> Value {
    let mut body = json!({
        "problem": case.pool,
        "flavors": case.flavors.iter().map(|f| flavor_body(f)).collect::<Vec<_>>(),
        "fail": case.fails,
    });
    if let Some(mix) = case.mix {
        body["mix"] = json!(mix);
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut r = agent
        .post(&format!("http://{addr}/v1/capacity"))
        .header("content-type", "application/json")
        .send(&body.to_string())
        .expect("request sent");
    assert_eq!(r.status().as_u16(), 400);
    serde_json::from_str(&r.body_mut().read_to_string().unwrap()).expect("an error document")
}

#[test]
fn errors_name_the_flag_on_the_command_line_and_the_body_field_over_http() {
    const OK: &str = "name=a,cpu=1,memory_gib=1,disk_gib=1";
    let mut bad_link = pool(json!([]));
    bad_link["hosts"][0]["storage"] = json!(["nope"]);
    let mut no_requests = bad_link.clone();
    no_requests.as_object_mut().unwrap().remove("requests");
    let cases = [
        // A flavor that asks for no host resource, as the second.
        Refused {
            pool: pool(json!([])),
            flavors: &[OK, "name=t,disk_gib=5"],
            fails: &[],
            mix: None,
            errors: &[("E1805", "--flavor 2", "/flavors/1")],
        },
        // A failure that cannot be read, and one that names no host.
        Refused {
            pool: pool(json!([])),
            flavors: &[OK],
            fails: &["host:h1", "rack"],
            mix: None,
            errors: &[("E1802", "--fail 2", "/fail/1")],
        },
        Refused {
            pool: pool(json!([])),
            flavors: &[],
            fails: &["host:nope"],
            mix: None,
            errors: &[("E1801", "--fail 1", "/fail/0")],
        },
        // A bad pool without requests, empty or absent: its own errors, none about requests.
        Refused {
            pool: bad_link,
            flavors: &[OK],
            fails: &[],
            mix: None,
            errors: &[("E1203", "/hosts/0/storage/0", "/problem/hosts/0/storage/0")],
        },
        Refused {
            pool: no_requests,
            flavors: &[],
            fails: &["host:h1"],
            mix: None,
            errors: &[("E1203", "/hosts/0/storage/0", "/problem/hosts/0/storage/0")],
        },
        // A good pool without requests, and a first flavor that asks for what no host has.
        Refused {
            pool: pool(json!([])),
            flavors: &["name=g,cpu=1,gpus=1,disk_gib=1"],
            fails: &[],
            mix: None,
            errors: &[("E1205", "--flavor 1", "/flavors/0")],
        },
        Refused {
            pool: pool(json!([])),
            flavors: &[OK],
            fails: &[],
            mix: Some(&[1, 1]),
            errors: &[("E1803", "--mix", "/mix")],
        },
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut serve = std::process::Command::new(env!("CARGO_BIN_EXE_vmplace"));
    serve
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stderr(std::process::Stdio::null());
    let (mut server, addr) = crate::common::spawn_server(serve);
    for case in &cases {
        let cli: Vec<(String, String)> = case
            .errors
            .iter()
            .map(|(code, at, _)| (code.to_string(), at.to_string()))
            .collect();
        let http: Vec<(String, String)> = case
            .errors
            .iter()
            .map(|(code, _, at)| (code.to_string(), at.to_string()))
            .collect();
        assert_eq!(paths(&cli_errors(case, dir.path())), cli);
        assert_eq!(paths(&http_errors(case, &addr)), http);
    }
    let _ = server.kill();
    let _ = server.wait();
}

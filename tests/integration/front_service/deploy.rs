//! The deploy files (the systemd unit, the Kubernetes deployment) run the service with its
//! probes.

use super::*;

/// `[section] key=value` lines of a systemd unit; repeated keys keep every value.
fn unit_sections(text: &str) -> BTreeMap<String, Vec<(String, String)>> {
    let mut sections: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut current = None;
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = Some(name.to_string());
            sections.entry(name.to_string()).or_default();
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("not key=value: {line}"));
        let section = current.clone().expect("a key before any section");
        sections
            .get_mut(&section)
            .unwrap()
            .push((key.trim().to_string(), value.trim().to_string()));
    }
    sections
}

/// The value of a `--flag VALUE` pair.
fn flag<'a>(args: &'a [String], name: &str) -> &'a str {
    let i = args
        .iter()
        .position(|a| a == name)
        .unwrap_or_else(|| panic!("no {name}"));
    &args[i + 1]
}

/// Starts the binary with a deploy file's arguments (on port 0) and checks the probes answer.
fn runs_with(args: &[String], probes: &[&str]) {
    let mut args: Vec<String> = args.to_vec();
    let i = args.iter().position(|a| a == "--listen").unwrap();
    args.drain(i..i + 2);
    assert_eq!(args[0], "serve");
    let rest: Vec<&str> = args[1..].iter().map(String::as_str).collect();
    let s = Svc::start(&rest);
    for p in probes {
        assert_eq!(s.get(p).status, 200, "{p}");
        assert!(
            vmplace_server::openapi::ENDPOINTS
                .iter()
                .any(|e| e.method == "get" && e.path == *p),
            "{p} is not an endpoint"
        );
    }
}

#[test]
fn the_systemd_unit_and_the_kubernetes_deployment_run_the_service_with_its_probes() {
    // systemd.
    let unit = unit_sections(&file("deploy/vmplace.service"));
    let service = &unit["Service"];
    let get = |k: &str| {
        service
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no {k}"))
    };
    let exec: Vec<String> = get("ExecStart")
        .split_whitespace()
        .map(String::from)
        .collect();
    assert!(exec[0].ends_with("/vmplace"), "{exec:?}");
    let args = exec[1..].to_vec();
    let grace: f64 = flag(&args, "--shutdown-grace").parse().unwrap();
    let stop: f64 = get("TimeoutStopSec").parse().unwrap();
    assert!(
        stop > grace,
        "systemd must wait longer than the drain: {stop} <= {grace}"
    );
    assert_eq!(get("KillSignal"), "SIGTERM");
    assert!(unit["Install"].iter().any(|(k, _)| k == "WantedBy"));
    assert!(unit["Unit"].iter().any(|(k, _)| k == "Description"));
    runs_with(&args, &["/healthz", "/readyz", "/metrics"]);

    // Kubernetes.
    use serde::Deserialize;
    let text = file("deploy/kubernetes.yaml");
    let docs: Vec<Value> = serde_norway::Deserializer::from_str(&text)
        .map(|d| Value::deserialize(d).expect("YAML"))
        .collect();
    let deployment = docs
        .iter()
        .find(|d| d["kind"] == "Deployment")
        .expect("a Deployment");
    let pod = &deployment["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    let args: Vec<String> = container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().expect("string args").to_string())
        .collect();
    let port: u64 = flag(&args, "--listen")
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let ports = container["ports"].as_array().unwrap();
    assert!(
        ports.iter().any(|p| p["containerPort"] == port),
        "{ports:?}"
    );
    let port_name = ports.iter().find(|p| p["containerPort"] == port).unwrap()["name"].clone();
    for (probe, path) in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")] {
        let get = &container[probe]["httpGet"];
        assert_eq!(get["path"], path, "{probe}");
        assert!(
            get["port"] == port_name || get["port"] == port,
            "{probe} port"
        );
    }
    let grace: f64 = flag(&args, "--shutdown-grace").parse().unwrap();
    let kill = pod["terminationGracePeriodSeconds"].as_f64().unwrap();
    assert!(
        kill > grace,
        "Kubernetes must wait longer than the drain: {kill} <= {grace}"
    );
    if let Some(svc) = docs.iter().find(|d| d["kind"] == "Service") {
        let target = &svc["spec"]["ports"][0]["targetPort"];
        assert!(*target == port_name || *target == port);
        assert_eq!(
            svc["spec"]["selector"],
            deployment["spec"]["selector"]["matchLabels"]
        );
    }
    runs_with(&args, &["/healthz", "/readyz"]);
}

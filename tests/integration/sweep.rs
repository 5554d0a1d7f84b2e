//! The randomized sweep of pool structures (`generate --sweep`): every pool validates, pools are
//! reproducible, and the structure really varies, as read from the documents themselves.

use std::collections::BTreeSet;
use vmplace_core::validation::{read_problem, Phase};
use vmplace_generate::sweep::{sweep, sweep_pool};
use vmplace_wire::Problem;

fn used(h: &vmplace_wire::Host, k: &str) -> f64 {
    h.used
        .as_ref()
        .and_then(|u| u.get(k))
        .copied()
        .unwrap_or(0.0)
}

/// Demand over free capacity of host resource `k` (`"cpu"`, `"memory_gib"`).
fn host_tightness(p: &Problem, k: &str) -> f64 {
    let demand: f64 = p.requests.iter().map(|r| r.demand[k]).sum();
    let free: f64 = p.hosts.iter().map(|h| h.capacity[k] - used(h, k)).sum();
    demand / free
}

/// Disk demand over free storage space, decoys aside (their space is a trap: the hosts that reach
/// them are full).
fn disk_tightness(p: &Problem) -> f64 {
    let demand: f64 = p.requests.iter().map(|r| r.disk_gib).sum();
    let free: f64 = p
        .storage
        .iter()
        .filter(|s| !s.id.starts_with("decoy-"))
        .map(|s| s.capacity_gib - s.used_gib)
        .sum();
    demand / free
}

/// Standard deviation, over the hosts that run something, of the used CPU share minus the used
/// memory share: 0 when every host is loaded alike in both, large when some hosts are CPU-rich
/// and memory-poor and others the reverse. (The mean difference is near 0, so a coefficient of
/// variation would be unstable; the spread itself is what matters.)
fn used_mix_spread(p: &Problem) -> f64 {
    let d: Vec<f64> = p
        .hosts
        .iter()
        .filter(|h| used(h, "cpu") > 0.0 || used(h, "memory_gib") > 0.0)
        .map(|h| {
            used(h, "cpu") / h.capacity["cpu"] - used(h, "memory_gib") / h.capacity["memory_gib"]
        })
        .collect();
    let n = d.len().max(1) as f64;
    let mean = d.iter().sum::<f64>() / n;
    (d.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt()
}

/// Some host misses some `shared-J` storage system that another host reaches.
fn partial_shared_reach(p: &Problem) -> bool {
    p.storage
        .iter()
        .filter(|s| s.id.starts_with("shared-"))
        .any(|s| p.hosts.iter().any(|h| !h.storage.contains(&s.id)))
}

fn range(xs: impl Iterator<Item = f64>) -> (f64, f64) {
    xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
        (lo.min(x), hi.max(x))
    })
}

#[test]
fn sweep_pools_validate() {
    for (name, p, axes) in sweep(30, 11, 200) {
        let text = serde_json::to_string(&p).unwrap();
        if let Err(e) = read_problem(&text, Phase::Storage) {
            panic!("{name} is invalid: {e:?}\naxes {axes:?}");
        }
        assert_eq!(p.requests.len(), 200, "{name}");
        assert_eq!((axes.hosts, axes.storage), (p.hosts.len(), p.storage.len()));
        assert!(p.hosts.iter().all(|h| !h.storage.is_empty()), "{name}");
        // About requests / 5 hosts (± 30 %), more only when the VM mix needs them.
        assert!(p.hosts.len() >= 30, "{name}: {} hosts", p.hosts.len());
    }
}

#[test]
fn sweep_pool_is_sized_from_the_requests() {
    let (p, axes) = sweep_pool(3, 0, 1000);
    assert!(read_problem(&serde_json::to_string(&p).unwrap(), Phase::Storage).is_ok());
    let hosts = p.hosts.len();
    assert!((150..=400).contains(&hosts), "{hosts} hosts, {axes:?}");
    let storage = p.storage.len();
    assert!(storage <= hosts / 4, "{storage} storage for {hosts} hosts");
}

#[test]
fn sweep_is_deterministic_per_seed_and_index() {
    let doc = |seed, i| serde_json::to_string(&sweep_pool(seed, i, 200).0).unwrap();
    assert_eq!(doc(5, 3), doc(5, 3));
    assert_ne!(doc(5, 3), doc(6, 3));
    assert_ne!(doc(5, 3), doc(5, 4));
    let names: Vec<String> = sweep(3, 9, 50).into_iter().map(|(n, ..)| n).collect();
    assert_eq!(names, ["sweep-9-0", "sweep-9-1", "sweep-9-2"]);
    assert_eq!(sweep(2, 9, 50)[1].1, sweep_pool(9, 1, 50).0);
}

#[test]
fn sweep_axes_vary_in_the_documents() {
    let pools: Vec<Problem> = sweep(50, 21, 200).into_iter().map(|(_, p, _)| p).collect();
    // Per-dimension used jitter: some pools load CPU and memory alike, others very unevenly.
    let (lo, hi) = range(pools.iter().map(used_mix_spread));
    assert!(
        lo < 0.05 && hi > 0.2,
        "used cpu-memory spread in [{lo}, {hi}]"
    );
    // Idle hosts: some pools have none, some have many (as many as the others can carry the
    // pool's used load: about 1 host in 4 at most when the batch is 5 VMs per host).
    let idle = |p: &Problem| {
        let n = p.hosts.iter().filter(|h| used(h, "cpu") == 0.0).count();
        n as f64 / p.hosts.len() as f64
    };
    let (lo, hi) = range(pools.iter().map(idle));
    assert!(lo < 0.05 && hi > 0.15, "idle share in [{lo}, {hi}]");
    // Shared-storage reach: in some pools some host misses a shared system, in some not.
    let partial = pools.iter().filter(|p| partial_shared_reach(p)).count();
    assert!(
        (10..50).contains(&partial),
        "{partial} pools with partial reach"
    );
    // Per-resource tightness, as a user computes it from the document.
    let (lo, hi) = range(pools.iter().map(disk_tightness));
    assert!(lo <= 0.7 && hi >= 1.0, "disk tightness in [{lo}, {hi}]");
    for k in ["cpu", "memory_gib"] {
        let (lo, hi) = range(pools.iter().map(|p| host_tightness(p, k)));
        assert!(lo <= 0.7 && hi >= 0.95, "{k} tightness in [{lo}, {hi}]");
    }
    let disk_tighter = pools
        .iter()
        .filter(|p| disk_tightness(p) > host_tightness(p, "cpu"))
        .count();
    assert!(
        (5..45).contains(&disk_tighter),
        "{disk_tighter} pools tighter on disk"
    );
    // Host generations: from one host size to four or more.
    let sizes = |p: &Problem| {
        let s: BTreeSet<String> = p
            .hosts
            .iter()
            .map(|h| format!("{:?}", h.capacity))
            .collect();
        s.len()
    };
    let (lo, hi) = range(pools.iter().map(|p| sizes(p) as f64));
    assert!(
        lo == 1.0 && hi >= 4.0,
        "host sizes per pool in [{lo}, {hi}]"
    );
    // VM mixes: the share of 1-vCPU VMs varies widely.
    let small = |p: &Problem| {
        let n = p.requests.iter().filter(|r| r.demand["cpu"] == 1.0).count();
        n as f64 / p.requests.len() as f64
    };
    let (lo, hi) = range(pools.iter().map(small));
    assert!(lo < 0.3 && hi > 0.6, "1-vCPU share in [{lo}, {hi}]");
    // Traps and rules appear in some pools, not all.
    let some = |f: &dyn Fn(&Problem) -> bool| {
        let n = pools.iter().filter(|p| f(p)).count();
        n > 0 && n < pools.len()
    };
    assert!(some(&|p| p
        .storage
        .iter()
        .any(|s| s.id.starts_with("decoy-"))));
    assert!(some(&|p| p
        .requests
        .iter()
        .any(|r| r.anti_affinity.is_some())));
    assert!(some(&|p| !p.groups.is_empty()));
    let huge = |p: &Problem| {
        let big = p
            .hosts
            .iter()
            .map(|h| h.capacity["cpu"])
            .fold(0.0, f64::max);
        p.requests
            .iter()
            .any(|r| r.demand["cpu"] >= big / 4.0 && r.demand["cpu"] > 16.0)
    };
    assert!(some(&huge));
}

#[test]
fn generate_sweep_writes_the_pools_and_prints_their_axes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("pools");
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_vmplace"))
            .args(args)
            .output()
            .unwrap()
    };
    let o = run(&[
        "generate",
        "--sweep",
        "3",
        "--seed",
        "4",
        "--requests",
        "60",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rows: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 3);
    for (i, row) in rows.iter().enumerate() {
        let file = row["file"].as_str().unwrap();
        assert!(file.ends_with(&format!("sweep-4-{i}.json")), "{file}");
        let text = std::fs::read_to_string(file).unwrap();
        let p = read_problem(&text, Phase::Storage).unwrap().into_inner();
        assert_eq!(p, sweep_pool(4, i, 60).0);
        assert_eq!(row["axes"]["hosts"], p.hosts.len());
    }
    let o = run(&["generate", "--sweep", "2"]);
    assert_eq!(o.status.code(), Some(2));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(doc["errors"][0]["cause"]
        .as_str()
        .unwrap()
        .contains("--output"));
}

//! The simulator's metrics on tiny hand-computed traces, and trace-file errors with file and line.

use vmplace::sim::{load_planetlab, simulate, SimPolicy, Workload, G5_WATTS};

fn day(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

#[test]
fn dvfs_energy_matches_a_hand_computation() {
    // Two VMs (types 0 and 1: 2500 and 2000 MIPS) at 50 % for three samples. DVFS places first
    // fit; the G4's 1860-MIPS cores are too slow for either, so both go to the G5 host, which
    // then runs at (1250 + 1000) / 5320 = 42.29 %.
    let dir = day(&[("a", "50\n50\n50\n"), ("b", "50\n50\n50\n")]);
    let traces = load_planetlab(dir.path(), 3).unwrap();
    let r = simulate(&traces, 2, &SimPolicy::Dvfs, "dvfs", Workload::Cloudsim);
    let u = 2250.0 / 5320.0;
    let p = G5_WATTS[4] + (G5_WATTS[5] - G5_WATTS[4]) * (u * 10.0 - 4.0);
    let expected_kwh = p * 2.0 * 300.0 / 3.6e6;
    assert!(
        (r.energy_kwh - expected_kwh).abs() < 1e-12,
        "{} vs {expected_kwh}",
        r.energy_kwh
    );
    assert_eq!(r.migrations, 0);
    assert_eq!((r.slatah, r.pdm, r.slav, r.esv), (0.0, 0.0, 0.0, 0.0));
    assert_eq!(r.series.len(), 2);
    assert!(r.series.iter().all(|s| s.active_hosts == 1));
}

#[test]
fn an_overloaded_host_counts_towards_slatah_and_migrations_towards_pdm() {
    // Four VMs (2500, 2000, 1000, 500 MIPS) on G4, G5, G4, G5. At creation each asks for its full
    // MIPS and goes where power grows least from idle: a (2500) to h1 (G4 cores are too slow),
    // b (2000) to h3 (h1 would pass 0.8), c (1000) to h0, d (500) to h2. All run at 100 %: h2
    // is the least utilised (500 / 3720) and its VM fits on h0, so THR's underload step moves it.
    let full = "100\n".repeat(6);
    let dir = day(&[("a", &full), ("b", &full), ("c", &full), ("d", &full)]);
    let traces = load_planetlab(dir.path(), 6).unwrap();
    let thr = simulate(
        &traces,
        4,
        &"thr-mmt-0.8".parse().unwrap(),
        "thr-mmt-0.8",
        Workload::Cloudsim,
    );
    assert!(thr.migrations >= 1);
    assert_eq!(
        thr.migrations_by_reason.get("underload"),
        Some(&thr.migrations)
    );
    assert!(
        thr.slatah > 0.0,
        "the target gives the VM 10 % of what it asks while it migrates in"
    );
    assert_eq!(
        thr.migrations,
        thr.series.iter().map(|s| s.migrations).sum::<usize>()
    );
    assert!(
        thr.pdm > 0.0 && thr.pdm < 0.1,
        "10 % of a few seconds of MIPS: {}",
        thr.pdm
    );
    assert!((0.0..=1.0).contains(&thr.slatah));
    assert!((thr.slav - thr.slatah * thr.pdm).abs() < 1e-15);
    assert!((thr.esv - thr.energy_kwh * thr.slav).abs() < 1e-15);
    // A host asked for more than it has is at 100 %: VMs of 2500 + 2000 + 2000 on one G5.
    let dir = day(&[
        ("a", &full),
        ("b", &full),
        ("c", &full),
        ("d", &"1\n".repeat(6)),
    ]);
    let traces = load_planetlab(dir.path(), 6).unwrap();
    let dvfs = simulate(&traces, 1, &SimPolicy::Dvfs, "dvfs", Workload::Cloudsim);
    assert_eq!(dvfs.slatah, 1.0, "the only host is over capacity all day");
}

#[test]
fn trace_errors_name_file_and_line() {
    let dir = day(&[
        ("ok", "1\n2\n3\n"),
        ("bad", "1\nx\n3\n"),
        ("high", "1\n2\n300\n"),
        ("short", "1\n"),
    ]);
    let errors = load_planetlab(dir.path(), 3).unwrap_err();
    let has = |code: &str, path: &str| errors.iter().any(|e| e.code == code && e.path == path);
    assert!(has("E1502", "bad:2"), "{errors:?}");
    assert!(has("E1503", "high:3"), "{errors:?}");
    assert!(has("E1504", "short"), "{errors:?}");
}

#[test]
fn policy_names_parse_like_cloudsim() {
    assert!("lr-mmt-1.2".parse::<SimPolicy>().is_ok());
    assert!("iqr-rs-1.5".parse::<SimPolicy>().is_ok());
    assert_eq!("dvfs".parse::<SimPolicy>().unwrap(), SimPolicy::Dvfs);
    assert!("lr-mc-1.2".parse::<SimPolicy>().is_ok());
    assert!("lr-xx-1.2".parse::<SimPolicy>().is_err());
    assert!("fast".parse::<SimPolicy>().is_err());
}

#[test]
fn idle_vms_leave_under_the_cloudsim_workload_only() {
    // VM a (2500 MIPS) asks 50 %, 0, 0, 50 %; VM b (2000) 50 % throughout. DVFS puts both on the
    // G5 host (first fit; the G4's cores are too slow). At step 1 a asks for nothing now and next:
    // CloudSim counts it finished, so the last interval runs b alone; the full workload runs a.
    let dir = day(&[("a", "50\n0\n0\n50\n"), ("b", "50\n50\n50\n50\n")]);
    let traces = load_planetlab(dir.path(), 4).unwrap();
    let p = |u: f64| vmplace::migration::detect::power_at(&G5_WATTS, u);
    let (both, b_only, a_back) = (2250.0 / 5320.0, 1000.0 / 5320.0, 2250.0 / 5320.0);
    let cloudsim = simulate(&traces, 2, &SimPolicy::Dvfs, "dvfs", Workload::Cloudsim);
    let full = simulate(&traces, 2, &SimPolicy::Dvfs, "dvfs", Workload::Full);
    let interval = |from: f64, to: f64| (p(from) + p(to)) / 2.0 * 300.0 / 3.6e6;
    let first_two = interval(both, b_only) + interval(b_only, b_only);
    let expected_cloudsim = first_two + interval(b_only, b_only);
    let expected_full = first_two + interval(b_only, a_back);
    assert!((cloudsim.energy_kwh - expected_cloudsim).abs() < 1e-12);
    assert!((full.energy_kwh - expected_full).abs() < 1e-12);
    assert_eq!((cloudsim.vms_left, full.vms_left), (1, 2));
}

//! The simulator's metrics on tiny hand-computed traces, and trace-file errors with file and line.

use vmplace_core::sim::{load_planetlab, simulate, SimPolicy, Workload, G5_WATTS};

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
    let p = |u: f64| vmplace_core::migration::detect::power_at(&G5_WATTS, u);
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

/// Watts on the lower convex envelope of G4's table at `u`: the line from 86 W at 0 % to 117 W at
/// 100 % lies below every point of the table (hand-checked: 31 W per unit, the least slope from
/// the idle point), so it is the envelope.
fn g4_envelope(u: f64) -> f64 {
    86.0 + 31.0 * u
}

#[test]
fn the_energy_floor_matches_a_hand_computation() {
    // Two VMs asking 1250 + 1000 = 2250 MIPS all day, on one G4 (3720 MIPS) and one G5 (5320).
    // One host serves it: on the G4 at 2250 / 3720, 86 + 31 x 0.6048 = 104.75 W; on the G5 at
    // 42.3 %, its envelope (the segment from 105 W at 30 % to 135 W at 100 %) gives 110.27 W; two
    // hosts idle at 179.7 W. The floor is 104.75 W over two intervals of 300 s.
    let dir = day(&[("a", "50\n50\n50\n"), ("b", "50\n50\n50\n")]);
    let traces = load_planetlab(dir.path(), 3).unwrap();
    let r = simulate(&traces, 2, &SimPolicy::Dvfs, "dvfs", Workload::Full);
    let expected_kwh = g4_envelope(2250.0 / 3720.0) * 2.0 * 300.0 / 3.6e6;
    assert!(
        (r.energy_floor_kwh - expected_kwh).abs() < 1e-9,
        "{} vs {expected_kwh}",
        r.energy_floor_kwh
    );
    assert!(r.energy_kwh >= r.energy_floor_kwh);
    assert!((r.floor_ratio - r.energy_kwh / r.energy_floor_kwh).abs() < 1e-12);
    // At 100 % they ask 4500 MIPS, more than a G4 holds: the G5 alone at 84.6 %, on the segment
    // from (30 %, 105 W) to (100 %, 135 W), beats both hosts (at least 179.7 W idle).
    let dir = day(&[("a", "100\n100\n"), ("b", "100\n100\n")]);
    let traces = load_planetlab(dir.path(), 2).unwrap();
    let r = simulate(&traces, 2, &SimPolicy::Dvfs, "dvfs", Workload::Full);
    let g5 = 105.0 + (4500.0 / 5320.0 - 0.3) * 30.0 / 0.7;
    assert!(
        (r.series[0].floor_w - g5).abs() < 1e-9,
        "{}",
        r.series[0].floor_w
    );
}

#[test]
fn the_floor_search_agrees_with_the_floor_mip() {
    use rand::{Rng, SeedableRng};
    use vmplace_core::model::floor::{min_power, HostType};
    use vmplace_core::sim::floor::Floor;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    for _ in 0..40 {
        let types: Vec<HostType> = (0..rng.random_range(1..=2))
            .map(|_| {
                let mut w = rng.random_range(50.0..150.0);
                let watts = (0..11)
                    .map(|_| {
                        w += rng.random_range(0.0..8.0);
                        w
                    })
                    .collect();
                HostType {
                    count: rng.random_range(1..12),
                    mips: rng.random_range(1000.0..6000.0),
                    watts,
                }
            })
            .collect();
        let capacity: f64 = types.iter().map(|t| t.count as f64 * t.mips).sum();
        let demand = rng.random_range(0.0..capacity * 1.1);
        let mip = min_power(&types, demand, &super::common::exact_mip_options()).unwrap();
        let search = Floor::new(&types).min_power(demand);
        assert!(
            (mip - search).abs() <= 1e-6 * (1.0 + mip),
            "{types:?} {demand}: MIP {mip} search {search}"
        );
    }
    // The simulator's own tables, whose envelopes have collinear points.
    let types = [
        HostType {
            count: 3,
            mips: 3720.0,
            watts: vmplace_core::sim::G4_WATTS.to_vec(),
        },
        HostType {
            count: 3,
            mips: 5320.0,
            watts: G5_WATTS.to_vec(),
        },
    ];
    for k in 0..=30 {
        let demand = k as f64 * 1000.0;
        let mip = min_power(&types, demand, &super::common::exact_mip_options()).unwrap();
        let search = Floor::new(&types).min_power(demand);
        assert!(
            (mip - search).abs() <= 1e-6 * (1.0 + mip),
            "{demand}: {mip} vs {search}"
        );
    }
}

/// The texts and the number of drawn lines of an SVG file, which must be well-formed XML.
fn svg_texts(path: &std::path::Path) -> (Vec<String>, usize) {
    let text = std::fs::read_to_string(path).unwrap();
    let doc = roxmltree::Document::parse(&text).expect("well-formed SVG");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let texts = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text().map(|t| t.trim().to_string()))
        .collect();
    let lines = doc
        .descendants()
        .filter(|n| n.has_tag_name("polyline") || n.has_tag_name("path"))
        .count();
    (texts, lines)
}

#[test]
fn a_days_plot_has_every_series_a_title_and_axis_units() {
    let dir = day(&[("a", "50\n80\n20\n60\n"), ("b", "10\n90\n40\n30\n")]);
    let out = tempfile::tempdir().unwrap();
    let svg = out.path().join("day.svg");
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_vmplace"))
        .args(["simulate", "--planetlab"])
        .arg(dir.path())
        .args([
            "--samples",
            "4",
            "--hosts",
            "4",
            "--policy",
            "lr-mmt-1.2",
            "--plot",
        ])
        .arg(&svg)
        .output()
        .unwrap();
    assert!(run.status.success());
    // stdout is the report alone: progress went to stderr.
    let report: serde_json::Value = serde_json::from_slice(&run.stdout).expect("JSON only");
    assert_eq!(report["series"].as_array().map(Vec::len), Some(3));
    let (texts, lines) = svg_texts(&svg);
    for want in [
        "active hosts",
        "overloaded hosts",
        "migrations",
        "power",
        "energy floor",
        "time (h)",
        "power (kW)",
        "hosts (count)",
        "migrations (count)",
    ] {
        assert!(texts.iter().any(|t| t == want), "missing {want}: {texts:?}");
    }
    assert!(texts.iter().any(|t| t.starts_with("lr-mmt-1.2: 2 VMs")));
    assert!(lines >= 5);
}

#[test]
fn a_study_runs_every_day_with_every_policy_and_ratios_to_the_reference() {
    use vmplace::study::{study, Day};
    let days: Vec<Day> = ["d1", "d2"]
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let a = format!("{}\n80\n20\n60\n", 30 + 10 * i);
            let dir = day(&[
                ("a", a.as_str()),
                ("b", "10\n90\n40\n30\n"),
                ("c", "70\n70\n5\n0\n"),
            ]);
            Day {
                name: name.to_string(),
                traces: load_planetlab(dir.path(), 4).unwrap(),
            }
        })
        .collect();
    let policies: Vec<(String, SimPolicy)> = ["dvfs", "thr-mmt-0.8", "lr-mmt-1.2"]
        .iter()
        .map(|p| (p.to_string(), p.parse().unwrap()))
        .collect();
    let r = study(&days, &policies, "dvfs", 6, Workload::Cloudsim, &|_, _| {});
    assert_eq!(r.rows.len(), 6);
    assert_eq!(r.means.len(), 3);
    for row in &r.rows {
        // Each row is the day's own simulation, whatever ran beside it.
        let d = days.iter().find(|d| d.name == row.day).unwrap();
        let p = &policies.iter().find(|p| p.0 == row.policy).unwrap().1;
        let alone = simulate(&d.traces, 6, p, &row.policy, Workload::Cloudsim);
        assert_eq!(
            (row.energy_kwh, row.migrations),
            (alone.energy_kwh, alone.migrations)
        );
        let base = r
            .rows
            .iter()
            .find(|b| b.day == row.day && b.policy == "dvfs")
            .unwrap();
        assert!((row.energy_vs_reference - row.energy_kwh / base.energy_kwh).abs() < 1e-12);
        assert!(row.energy_kwh >= row.energy_floor_kwh * (1.0 - 1e-9) || row.slatah > 0.0);
    }
    let dvfs = &r.means[0];
    assert_eq!(dvfs.energy_vs_reference, 1.0);
}

#[test]
fn the_study_command_writes_json_a_table_and_a_comparison_chart() {
    let d1 = day(&[("a", "50\n80\n20\n"), ("b", "10\n90\n40\n")]);
    let out = tempfile::tempdir().unwrap();
    let svg = out.path().join("study.svg");
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_vmplace"))
        .args(["study", "--planetlab"])
        .arg(d1.path())
        .args([
            "--samples",
            "3",
            "--hosts",
            "4",
            "--policy",
            "dvfs,lr-mmt-1.2",
            "--plot",
        ])
        .arg(&svg)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&run.stdout).expect("JSON only");
    assert_eq!(doc["rows"].as_array().map(Vec::len), Some(2));
    assert_eq!(doc["reference"], "dvfs");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("x floor") && stderr.contains("lr-mmt-1.2"));
    let (texts, _) = svg_texts(&svg);
    for want in ["dvfs", "lr-mmt-1.2", "energy floor", "energy (kWh)", "day"] {
        assert!(texts.iter().any(|t| t == want), "missing {want}: {texts:?}");
    }
}

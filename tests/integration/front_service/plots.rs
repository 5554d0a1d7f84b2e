//! Plots a reader can read: the simulated day's axes and the bench's bars.

use super::*;

/// An SVG's text elements: (x, y, text).
fn svg_texts(path: &std::path::Path) -> (String, Vec<(f64, f64, String)>) {
    let text = std::fs::read_to_string(path).unwrap();
    let doc = roxmltree::Document::parse(&text).expect("well-formed SVG");
    let texts = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| {
            let at = |a: &str| n.attribute(a).and_then(|v| v.parse::<f64>().ok());
            Some((at("x")?, at("y")?, n.text()?.trim().to_string()))
        })
        .collect();
    (text, texts)
}

/// The numeric tick labels left of the plot areas (x below `left`) between `top` and `bottom`.
fn y_ticks(texts: &[(f64, f64, String)], left: f64, (top, bottom): (f64, f64)) -> Vec<String> {
    texts
        .iter()
        .filter(|(x, y, t)| *x < left && *y > top && *y < bottom && t.parse::<f64>().is_ok())
        .map(|t| t.2.clone())
        .collect()
}

/// Whole numbers, all different, evenly spaced: what a count axis shows.
fn assert_whole_ticks(ticks: &[String], what: &str) {
    assert!(ticks.len() >= 2, "{what}: {ticks:?}");
    let mut values: Vec<i64> = ticks
        .iter()
        .map(|t| {
            t.parse()
                .unwrap_or_else(|_| panic!("{what}: tick {t} is not whole"))
        })
        .collect();
    values.sort();
    values.dedup();
    assert_eq!(
        values.len(),
        ticks.len(),
        "{what}: repeated ticks {ticks:?}"
    );
    let step = values[1] - values[0];
    assert!(
        values.windows(2).all(|w| w[1] - w[0] == step),
        "{what}: {values:?}"
    );
}

#[test]
fn the_day_plot_puts_hosts_migrations_and_power_on_their_own_axes() {
    let out = tempfile::tempdir().unwrap();
    let svg = out.path().join("day.svg");
    let run = Command::new(env!("CARGO_BIN_EXE_vmplace"))
        .args(["simulate", "--planetlab", "instances/planetlab/20110303"])
        .args(["--policy", "lr-mmt-1.2", "--plot"])
        .arg(&svg)
        .current_dir(ROOT)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let report: Value = serde_json::from_slice(&run.stdout).unwrap();
    let peak = report["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["migrations"].as_u64().unwrap())
        .max()
        .unwrap();
    let (_, texts) = svg_texts(&svg);
    let label_y = |label: &str| {
        texts
            .iter()
            .find(|t| t.2 == label)
            .unwrap_or_else(|| panic!("no axis {label}: {texts:?}"))
            .1
    };
    // Three panels, one axis each, top to bottom.
    let (hosts, migrations, power) = (
        label_y("hosts (count)"),
        label_y("migrations (count)"),
        label_y("power (kW)"),
    );
    assert!(hosts < migrations && migrations < power);
    let cut = |a: f64, b: f64| (a + b) / 2.0;
    assert_whole_ticks(
        &y_ticks(&texts, 70.0, (0.0, cut(hosts, migrations))),
        "hosts",
    );
    assert_whole_ticks(
        &y_ticks(
            &texts,
            70.0,
            (cut(hosts, migrations), cut(migrations, power)),
        ),
        "migrations",
    );
    let power_ticks = y_ticks(&texts, 70.0, (cut(migrations, power), f64::MAX));
    assert!(power_ticks.len() >= 2, "{power_ticks:?}");
    assert!(
        power_ticks.iter().all(|t| !t.ends_with(".0")),
        "{power_ticks:?}"
    );
    // The first consolidation round does not set the scale: it is clipped and its peak named.
    let top_tick: i64 = y_ticks(
        &texts,
        70.0,
        (cut(hosts, migrations), cut(migrations, power)),
    )
    .iter()
    .map(|t| t.parse::<i64>().unwrap())
    .max()
    .unwrap();
    assert!(
        (top_tick as u64) < peak / 2,
        "axis up to {top_tick} for a peak of {peak}"
    );
    assert!(
        texts
            .iter()
            .any(|t| t.2.contains("migrations above the axis")
                && t.2.contains(&format!("peak {peak} "))),
        "the clipped peak is not labelled: {texts:?}"
    );
}

fn run(placed: usize, hosts: usize) -> vmplace::bench::RunSummary {
    vmplace::bench::RunSummary {
        status: "feasible".into(),
        placed,
        objective: hosts as f64,
        hosts,
        placed_weight: placed as f64,
        bound: 0.0,
        gap: 0.0,
        time_s: 0.1,
        violations: 0,
    }
}

#[test]
fn the_bench_plot_groups_one_bar_per_solver_for_each_instance() {
    let row = |name: &str, k: usize| vmplace::bench::BenchRow {
        instance: format!("{name}.json"),
        requests: 10,
        mip: run(10, 3 + k),
        greedy: run(9, 4 + k),
        greedy_retry: run(10, 5 + k),
        openstack: run(8, 6 + k),
        best_fit: run(10, 4 + k),
        balanced: run(7, 7 + k),
        joint: (k == 0).then(|| run(10, 3)),
    };
    let rows = [row("alpha", 0), row("beta", 1), row("gamma", 2)];
    let out = tempfile::tempdir().unwrap();
    let svg = out.path().join("bench.svg");
    vmplace::plot::bench(&rows, &svg).unwrap();
    let (text, texts) = svg_texts(&svg);
    let has = |want: &str| texts.iter().any(|t| t.2 == want);
    for want in [
        "vmplace MIP",
        "joint MIP",
        "greedy",
        "greedy with retries",
        "OpenStack default",
        "best fit",
        "balanced",
        "placed (% of requests)",
        "hosts (count)",
        "alpha",
        "beta",
        "gamma",
    ] {
        assert!(has(want), "missing {want}");
    }
    // Bars, not lines: per solver colour, one bar per instance in each of the two panels and a
    // legend swatch; the joint MIP ran on one instance only.
    let doc = roxmltree::Document::parse(&text).unwrap();
    let mut bars: BTreeMap<String, usize> = BTreeMap::new();
    for r in doc.descendants().filter(|n| n.has_tag_name("rect")) {
        if let Some(fill) = r.attribute("fill") {
            *bars.entry(fill.to_ascii_uppercase()).or_default() += 1;
        }
    }
    let per_solver: Vec<usize> = [
        "#1F77B4", "#D62728", "#2CA02C", "#FF7F0E", "#9467BD", "#17BECF", "#8C564B",
    ]
    .iter()
    .map(|c| bars.get(*c).copied().unwrap_or(0))
    .collect();
    assert_eq!(per_solver, vec![7, 3, 7, 7, 7, 7, 7], "{bars:?}");
    assert!(!doc.descendants().any(|n| n.has_tag_name("polyline")
        && n.attribute("stroke")
            .is_some_and(|s| s.eq_ignore_ascii_case("#1F77B4"))));
    // The hosts panel counts in whole numbers.
    let hosts_y = texts.iter().find(|t| t.2 == "hosts (count)").unwrap().1;
    let placed_y = texts
        .iter()
        .find(|t| t.2 == "placed (% of requests)")
        .unwrap()
        .1;
    assert!(placed_y < hosts_y);
    assert_whole_ticks(
        &y_ticks(&texts, 75.0, ((placed_y + hosts_y) / 2.0, f64::MAX)),
        "hosts",
    );
}

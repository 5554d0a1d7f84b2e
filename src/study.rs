//! Whole studies: every day with every policy, in parallel on the available cores (rayon), in one
//! document with the floor, ratios to a reference policy and means over the days.

use rayon::prelude::*;
use serde::Serialize;
use vmplace_core::sim::{simulate_with, SimPolicy, SimReport, Trace, Workload};

/// One day of traces.
pub struct Day {
    /// Its name (the directory's).
    pub name: String,
    /// The traces.
    pub traces: Vec<Trace>,
}

/// One day under one policy.
#[derive(Debug, Clone, Serialize)]
pub struct StudyRow {
    /// Day.
    pub day: String,
    /// Policy.
    pub policy: String,
    /// Energy, kWh.
    pub energy_kwh: f64,
    /// The day's energy floor, kWh (models/simulation.md).
    pub energy_floor_kwh: f64,
    /// Energy over the floor.
    pub floor_ratio: f64,
    /// Migrations.
    pub migrations: usize,
    /// SLATAH.
    pub slatah: f64,
    /// PDM.
    pub pdm: f64,
    /// SLAV.
    pub slav: f64,
    /// ESV.
    pub esv: f64,
    /// Energy over the reference policy's on the same day.
    pub energy_vs_reference: f64,
    /// Migrations over the reference policy's.
    pub migrations_vs_reference: f64,
    /// ESV over the reference policy's.
    pub esv_vs_reference: f64,
    /// Wall time of the day's simulation, s.
    pub time_s: f64,
}

/// Means over the days of one policy.
#[derive(Debug, Clone, Serialize)]
pub struct StudyMean {
    /// Policy.
    pub policy: String,
    /// Mean energy, kWh.
    pub energy_kwh: f64,
    /// Mean floor, kWh.
    pub energy_floor_kwh: f64,
    /// Mean of the days' floor ratios.
    pub floor_ratio: f64,
    /// Mean migrations.
    pub migrations: f64,
    /// Mean SLAV.
    pub slav: f64,
    /// Mean ESV.
    pub esv: f64,
    /// Mean of the days' energy ratios to the reference.
    pub energy_vs_reference: f64,
    /// Mean of the days' ESV ratios to the reference.
    pub esv_vs_reference: f64,
    /// Longest day, s.
    pub max_time_s: f64,
}

/// The study document.
#[derive(Debug, Clone, Serialize)]
pub struct StudyReport {
    /// The policy the ratios are taken to.
    pub reference: String,
    /// The workload replayed.
    pub workload: Workload,
    /// Hosts.
    pub hosts: usize,
    /// One row per day and policy, days in the order given, policies in the order given.
    pub rows: Vec<StudyRow>,
    /// One entry per policy.
    pub means: Vec<StudyMean>,
}

/// Runs every (day, policy) pair in parallel; `done(day, policy)` is called as each finishes.
pub fn study(
    days: &[Day],
    policies: &[(String, SimPolicy)],
    reference: &str,
    hosts: usize,
    workload: Workload,
    done: &(dyn Fn(&str, &str) + Sync),
) -> StudyReport {
    let jobs: Vec<(usize, usize)> = (0..days.len())
        .flat_map(|d| (0..policies.len()).map(move |p| (d, p)))
        .collect();
    let reports: Vec<SimReport> = jobs
        .par_iter()
        .map(|&(d, p)| {
            let (name, policy) = &policies[p];
            let r = simulate_with(&days[d].traces, hosts, policy, name, workload, &|_| {});
            done(&days[d].name, name);
            r
        })
        .collect();
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
    let mut rows = Vec::new();
    for (&(d, _), r) in jobs.iter().zip(&reports) {
        let base = jobs
            .iter()
            .zip(&reports)
            .find(|((dd, _), x)| *dd == d && x.policy == reference)
            .map(|(_, x)| x);
        let vs = |f: &dyn Fn(&SimReport) -> f64| base.map_or(0.0, |b| ratio(f(r), f(b)));
        rows.push(StudyRow {
            day: days[d].name.clone(),
            policy: r.policy.clone(),
            energy_kwh: r.energy_kwh,
            energy_floor_kwh: r.energy_floor_kwh,
            floor_ratio: r.floor_ratio,
            migrations: r.migrations,
            slatah: r.slatah,
            pdm: r.pdm,
            slav: r.slav,
            esv: r.esv,
            energy_vs_reference: vs(&|x| x.energy_kwh),
            migrations_vs_reference: vs(&|x| x.migrations as f64),
            esv_vs_reference: vs(&|x| x.esv),
            time_s: r.time_s,
        });
    }
    let means = policies
        .iter()
        .map(|(name, _)| {
            let mine: Vec<&StudyRow> = rows.iter().filter(|r| &r.policy == name).collect();
            let mean = |f: &dyn Fn(&StudyRow) -> f64| {
                mine.iter().map(|r| f(r)).sum::<f64>() / mine.len().max(1) as f64
            };
            StudyMean {
                policy: name.clone(),
                energy_kwh: mean(&|r| r.energy_kwh),
                energy_floor_kwh: mean(&|r| r.energy_floor_kwh),
                floor_ratio: mean(&|r| r.floor_ratio),
                migrations: mean(&|r| r.migrations as f64),
                slav: mean(&|r| r.slav),
                esv: mean(&|r| r.esv),
                energy_vs_reference: mean(&|r| r.energy_vs_reference),
                esv_vs_reference: mean(&|r| r.esv_vs_reference),
                max_time_s: mine.iter().map(|r| r.time_s).fold(0.0, f64::max),
            }
        })
        .collect();
    StudyReport {
        reference: reference.to_string(),
        workload,
        hosts,
        rows,
        means,
    }
}

/// The human table of a study (for stderr).
pub fn table(r: &StudyReport) -> String {
    let mut out = format!(
        "{:<10} {:<14} {:>9} {:>9} {:>7} {:>8} {:>8} {:>8} {:>10} {:>9} {:>7}\n",
        "day",
        "policy",
        "kWh",
        "floor",
        "x floor",
        "migr",
        "SLATAH%",
        "PDM%",
        "ESV",
        "E/ref",
        "time s"
    );
    for row in &r.rows {
        out.push_str(&format!(
            "{:<10} {:<14} {:>9.2} {:>9.2} {:>7.3} {:>8} {:>8.2} {:>8.3} {:>10.5} {:>9.3} {:>7.1}\n",
            row.day,
            row.policy,
            row.energy_kwh,
            row.energy_floor_kwh,
            row.floor_ratio,
            row.migrations,
            row.slatah * 100.0,
            row.pdm * 100.0,
            row.esv,
            row.energy_vs_reference,
            row.time_s
        ));
    }
    for m in &r.means {
        out.push_str(&format!(
            "{:<10} {:<14} {:>9.2} {:>9.2} {:>7.3} {:>8.0} {:>8} {:>8} {:>10.5} {:>9.3} {:>7.1}\n",
            "mean",
            m.policy,
            m.energy_kwh,
            m.energy_floor_kwh,
            m.floor_ratio,
            m.migrations,
            "",
            "",
            m.esv,
            m.energy_vs_reference,
            m.max_time_s
        ));
    }
    out
}

//! SVG charts (plotters' SVG backend, no system libraries): a simulated day's series, and one
//! chart comparing several policies or solvers. Every chart has a title, axis labels with units
//! and a legend.

use crate::sim::SimReport;
use plotters::prelude::*;
use std::path::Path;

/// Why a chart could not be drawn.
#[derive(Debug, thiserror::Error)]
#[error("cannot draw {path}: {why}")]
pub struct PlotError {
    /// The file.
    pub path: String,
    /// The cause.
    pub why: String,
}

const COLORS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(23, 190, 207),
];

fn fail<E: std::fmt::Display>(path: &Path) -> impl Fn(E) -> PlotError + '_ {
    move |e| PlotError {
        path: path.display().to_string(),
        why: e.to_string(),
    }
}

/// One named series of (x, y) points.
pub struct Series {
    /// Legend text.
    pub name: String,
    /// Points.
    pub points: Vec<(f64, f64)>,
}

/// Draws line series on one panel.
fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
) -> Result<(), String> {
    let x_max = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .fold(0.0, f64::max)
        .max(1e-9);
    let y_max = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(0.0, f64::max)
        .max(1.0)
        * 1.08;
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..x_max, 0.0..y_max)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .draw()
        .map_err(|e| e.to_string())?;
    for (i, s) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        chart
            .draw_series(LineSeries::new(
                s.points.iter().copied(),
                color.stroke_width(2),
            ))
            .map_err(|e| e.to_string())?
            .label(s.name.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(|e| e.to_string())
}

/// A simulated day: hosts and migrations per interval above, power and the floor's power below.
pub fn day(report: &SimReport, path: &Path) -> Result<(), PlotError> {
    let hours = |t: f64| t / 3600.0;
    let series = |name: &str, f: &dyn Fn(&crate::sim::IntervalStats) -> f64| Series {
        name: name.to_string(),
        points: report.series.iter().map(|s| (hours(s.t_s), f(s))).collect(),
    };
    let root = SVGBackend::new(path, (1000, 720)).into_drawing_area();
    root.fill(&WHITE).map_err(fail(path))?;
    let (top, bottom) = root.split_vertically(360);
    let title = format!(
        "{}: {} VMs on {} hosts, {:.1} kWh (floor {:.1} kWh, x{:.2})",
        report.policy,
        report.vms,
        report.hosts,
        report.energy_kwh,
        report.energy_floor_kwh,
        report.floor_ratio
    );
    panel(
        &top,
        &title,
        "time (h)",
        "hosts, migrations (count)",
        &[
            series("active hosts", &|s| s.active_hosts as f64),
            series("overloaded hosts", &|s| s.overloaded_hosts as f64),
            series("migrations", &|s| s.migrations as f64),
        ],
    )
    .map_err(fail(path))?;
    panel(
        &bottom,
        "Power per interval",
        "time (h)",
        "power (W)",
        &[
            series("power", &|s| s.power_w),
            series("energy floor", &|s| s.floor_w),
        ],
    )
    .map_err(fail(path))?;
    root.present().map_err(fail(path))
}

/// One chart comparing named series over categories (days, instances): a line per series, the
/// categories along x.
pub fn compare(
    path: &Path,
    title: &str,
    categories: &[String],
    x_label: &str,
    y_label: &str,
    series: &[(String, Vec<f64>)],
) -> Result<(), PlotError> {
    let root = SVGBackend::new(path, (1000, 500)).into_drawing_area();
    root.fill(&WHITE).map_err(fail(path))?;
    let n = categories.len().max(1);
    let y_max = series
        .iter()
        .flat_map(|s| s.1.iter().copied())
        .fold(0.0, f64::max)
        .max(1.0)
        * 1.1;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d(-0.5..(n as f64 - 0.5), 0.0..y_max)
        .map_err(fail(path))?;
    let labels = categories.to_vec();
    chart
        .configure_mesh()
        .x_labels(n)
        .x_label_formatter(&|x| {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 {
                labels.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .x_desc(x_label)
        .y_desc(y_label)
        .draw()
        .map_err(fail(path))?;
    for (k, (name, values)) in series.iter().enumerate() {
        let color = COLORS[k % COLORS.len()];
        let points: Vec<(f64, f64)> = values
            .iter()
            .enumerate()
            .map(|(i, v)| (i as f64, *v))
            .collect();
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
            .map_err(fail(path))?
            .label(name.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
        chart
            .draw_series(
                points
                    .into_iter()
                    .map(|p| Circle::new(p, 4, color.filled())),
            )
            .map_err(fail(path))?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::LowerRight)
        .draw()
        .map_err(fail(path))?;
    root.present().map_err(fail(path))
}

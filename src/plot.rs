//! SVG charts (plotters' SVG backend, no system libraries): a simulated day's series, a bench's
//! solvers side by side per instance, and one chart comparing several policies over days. Every
//! chart has a title, axis labels with units and a legend.
//!
//! Two habits hold throughout. Counts (hosts, migrations) get whole-number ticks: their axis has
//! at most one tick per unit, so every tick falls on an integer. And a few outliers do not
//! flatten a day: a day's panel ends at 1.25 times its 95th percentile when the largest value is
//! more than twice that percentile (the first consolidation round migrates hundreds of VMs and
//! draws 64 kW, the rest of the day tens of VMs and a few kW); the values above are drawn at the
//! top edge, marked with triangles and labelled with their peak. A linear axis with a labelled
//! clip was chosen over a log scale: zero migrations are common (a log axis has no zero), and a
//! reader compares intervals by height.

use crate::bench::{BenchRow, RunSummary};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;
use vmplace_core::sim::{IntervalStats, SimReport};

/// Why a chart could not be drawn.
#[derive(Debug, thiserror::Error)]
#[error("cannot draw {path}: {why}")]
pub struct PlotError {
    /// The file.
    pub path: String,
    /// The cause.
    pub why: String,
}

const COLORS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(23, 190, 207),
    RGBColor(140, 86, 75),
    RGBColor(127, 127, 127),
];

fn color(i: usize) -> RGBColor {
    COLORS[i % COLORS.len()]
}

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

/// A tick label: whole numbers without decimals, others with at most two.
fn tick(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        let text = format!("{v:.2}");
        text.trim_end_matches('0').to_string()
    }
}

/// A panel's y axis.
struct YAxis {
    /// Its top.
    top: f64,
    /// Whether values above `top` were clipped.
    clipped: bool,
    /// Whole-number ticks.
    counts: bool,
}

impl YAxis {
    /// Fits `values`: up to their largest; with `clip`, to 1.25 times the 95th percentile when
    /// the largest is more than twice that (see the module's notes).
    fn fit(values: impl Iterator<Item = f64>, counts: bool, clip: bool) -> YAxis {
        let mut v: Vec<f64> = values.filter(|x| x.is_finite()).collect();
        v.sort_by(f64::total_cmp);
        let max = v.last().copied().unwrap_or(0.0).max(0.0);
        let rank = ((v.len() as f64 * 0.95).ceil() as usize).saturating_sub(1);
        let p95 = v.get(rank).copied().unwrap_or(0.0);
        let (top, clipped) = if clip && p95 > 0.0 && max > 2.0 * p95 {
            (1.25 * p95, true)
        } else {
            (max * 1.08, false)
        };
        let top = if counts {
            top.ceil().max(1.0)
        } else if top > 0.0 {
            top
        } else {
            1.0
        };
        YAxis {
            top,
            clipped,
            counts,
        }
    }

    /// The most ticks: for counts, at most one per unit, so that every tick is a whole number
    /// (plotters picks steps of 1, 2 or 5 times a power of ten within this many).
    fn ticks(&self) -> usize {
        if self.counts {
            (self.top.floor() as usize + 1).clamp(2, 10)
        } else {
            8
        }
    }

    fn label(&self, v: f64) -> String {
        if self.counts {
            format!("{v:.0}")
        } else {
            tick(v)
        }
    }
}

/// How a time panel draws its series.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Draw {
    /// A line per series.
    Lines,
    /// A bar per interval (one series).
    Bars,
}

/// One panel of a day: series over time (hours).
struct TimePanel<'a> {
    caption: &'a str,
    y_label: &'a str,
    series: &'a [Series],
    draw: Draw,
    counts: bool,
    /// The unit a clipped peak is given in (" kW"), empty for counts.
    unit: &'a str,
}

/// The width of an interval of a series, in x units.
fn interval(points: &[(f64, f64)]) -> f64 {
    match points {
        [a, b, ..] => b.0 - a.0,
        [a] => a.0,
        [] => 1.0,
    }
}

/// Draws one panel of a day.
fn time_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    p: &TimePanel<'_>,
) -> Result<(), String> {
    let err = |e: plotters::drawing::DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let x_max = p
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|q| q.0))
        .fold(0.0, f64::max)
        .max(1e-9);
    let y = YAxis::fit(
        p.series.iter().flat_map(|s| s.points.iter().map(|q| q.1)),
        p.counts,
        true,
    );
    let notes: Vec<String> = if y.clipped {
        p.series
            .iter()
            .filter_map(|s| clip_note(s, &y, p.unit))
            .collect()
    } else {
        Vec::new()
    };
    let caption = if notes.is_empty() {
        p.caption.to_string()
    } else {
        format!("{}; triangles: {}", p.caption, notes.join("; "))
    };
    // The legend is a row under the title, never a box over the data.
    let titled = area.titled(&caption, ("sans-serif", 16)).map_err(err)?;
    let (legend, plot) = titled.split_vertically(26);
    let names: Vec<&str> = p.series.iter().map(|s| s.name.as_str()).collect();
    legend_row(&legend, &names)?;
    let mut chart = ChartBuilder::on(&plot)
        .margin(10)
        .margin_top(4)
        .x_label_area_size(36)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..x_max, 0.0..y.top)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("time (h)")
        .y_desc(p.y_label)
        .y_labels(y.ticks())
        .y_label_formatter(&|v| y.label(*v))
        .x_label_formatter(&|v| tick(*v))
        .draw()
        .map_err(err)?;
    for (i, s) in p.series.iter().enumerate() {
        let c = color(i);
        let clamped = s.points.iter().map(|&(x, v)| (x, v.min(y.top)));
        match p.draw {
            Draw::Lines => {
                chart
                    .draw_series(LineSeries::new(clamped, c.stroke_width(2)))
                    .map_err(err)?;
            }
            Draw::Bars => {
                let w = 0.8 * interval(&s.points);
                chart
                    .draw_series(
                        clamped.map(|(x, v)| Rectangle::new([(x - w, 0.0), (x, v)], c.filled())),
                    )
                    .map_err(err)?;
            }
        }
        let above = s.points.iter().filter(|q| q.1 > y.top);
        chart
            .draw_series(above.map(|&(x, _)| TriangleMarker::new((x, y.top), 5, c.filled())))
            .map_err(err)?;
    }
    Ok(())
}

/// What a panel's caption says of a series' values above its axis (drawn as triangles at the
/// top edge): how many, and the peak with its time.
fn clip_note(s: &Series, y: &YAxis, unit: &str) -> Option<String> {
    let above: Vec<(f64, f64)> = s.points.iter().copied().filter(|p| p.1 > y.top).collect();
    let &(t, peak) = above.iter().max_by(|a, b| a.1.total_cmp(&b.1))?;
    let intervals = if above.len() == 1 {
        "interval"
    } else {
        "intervals"
    };
    Some(format!(
        "{} above the axis in {} {intervals}, peak {}{unit} at {} h",
        s.name,
        above.len(),
        y.label((peak * 10.0).round() / 10.0),
        tick((t * 10.0).round() / 10.0)
    ))
}

/// A simulated day in three panels over time: hosts (active, overloaded), migrations per
/// interval (bars), and power with the energy floor's (kW). Counts have whole-number ticks; the
/// first consolidation round is clipped and labelled rather than flattening the day.
pub fn day(report: &SimReport, path: &Path) -> Result<(), PlotError> {
    let hours = |t: f64| t / 3600.0;
    let series = |name: &str, f: &dyn Fn(&IntervalStats) -> f64| Series {
        name: name.to_string(),
        points: report.series.iter().map(|s| (hours(s.t_s), f(s))).collect(),
    };
    let root = SVGBackend::new(path, (1000, 900)).into_drawing_area();
    root.fill(&WHITE).map_err(fail(path))?;
    let title = format!(
        "{}: {} VMs on {} hosts, {:.1} kWh (floor {:.1} kWh, x{:.2})",
        report.policy,
        report.vms,
        report.hosts,
        report.energy_kwh,
        report.energy_floor_kwh,
        report.floor_ratio
    );
    let body = root
        .titled(&title, ("sans-serif", 20))
        .map_err(fail(path))?;
    let panels = body.split_evenly((3, 1));
    let hosts = [
        series("active hosts", &|s| s.active_hosts as f64),
        series("overloaded hosts", &|s| s.overloaded_hosts as f64),
    ];
    let migrations = [series("migrations", &|s| s.migrations as f64)];
    let power = [
        series("power", &|s| s.power_w / 1000.0),
        series("energy floor", &|s| s.floor_w / 1000.0),
    ];
    let specs = [
        TimePanel {
            caption: "Hosts",
            y_label: "hosts (count)",
            series: &hosts,
            draw: Draw::Lines,
            counts: true,
            unit: "",
        },
        TimePanel {
            caption: "Migrations per interval",
            y_label: "migrations (count)",
            series: &migrations,
            draw: Draw::Bars,
            counts: true,
            unit: "",
        },
        TimePanel {
            caption: "Power per interval",
            y_label: "power (kW)",
            series: &power,
            draw: Draw::Lines,
            counts: false,
            unit: " kW",
        },
    ];
    for (area, spec) in panels.iter().zip(&specs) {
        time_panel(area, spec).map_err(fail(path))?;
    }
    root.present().map_err(fail(path))
}

/// Grouped bars: for each category, one bar per series, side by side.
struct Bars<'a> {
    caption: &'a str,
    x_label: &'a str,
    y_label: &'a str,
    categories: &'a [String],
    /// One value per category; NaN where a series has none (no bar).
    series: &'a [(String, Vec<f64>)],
    counts: bool,
}

fn bar_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    b: &Bars<'_>,
) -> Result<(), String> {
    let err = |e: plotters::drawing::DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let n = b.categories.len().max(1);
    let y = YAxis::fit(
        b.series.iter().flat_map(|s| s.1.iter().copied()),
        b.counts,
        false,
    );
    let mut chart = ChartBuilder::on(area)
        .caption(b.caption, ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(-0.5..(n as f64 - 0.5), 0.0..y.top)
        .map_err(err)?;
    let labels = b.categories.to_vec();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n)
        .x_label_formatter(&|x| {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 {
                labels.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_labels(y.ticks())
        .y_label_formatter(&|v| y.label(*v))
        .x_desc(b.x_label)
        .y_desc(b.y_label)
        .draw()
        .map_err(err)?;
    let width = 0.8 / b.series.len().max(1) as f64;
    for (k, (_, values)) in b.series.iter().enumerate() {
        let c = color(k);
        let bars = values
            .iter()
            .enumerate()
            .filter(|(_, v)| v.is_finite())
            .map(|(i, &v)| {
                let x0 = i as f64 - 0.4 + k as f64 * width;
                Rectangle::new([(x0, 0.0), (x0 + 0.9 * width, v)], c.filled())
            });
        chart.draw_series(bars).map_err(err)?;
    }
    Ok(())
}

/// One row of legend entries (a colour swatch and the series' name each), for charts whose
/// panels share their series.
fn legend_row<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    names: &[&str],
) -> Result<(), String> {
    let mut x = 70;
    for (k, name) in names.iter().enumerate() {
        area.draw(&Rectangle::new([(x, 8), (x + 14, 22)], color(k).filled()))
            .map_err(|e| e.to_string())?;
        area.draw(&Text::new(
            name.to_string(),
            (x + 20, 8),
            ("sans-serif", 14),
        ))
        .map_err(|e| e.to_string())?;
        x += 20 + 7 * name.chars().count() as i32 + 24;
    }
    Ok(())
}

/// How a bench row gives one solver's run (`None` where it did not run).
type Pick = fn(&BenchRow) -> Option<&RunSummary>;

/// The solvers a bench runs, in the order drawn, with their legend names; the joint MIP only if
/// it ran on some instance.
fn bench_solvers(rows: &[BenchRow]) -> Vec<(&'static str, Pick)> {
    let all: [(&'static str, Pick); 7] = [
        ("vmplace MIP", |r| Some(&r.mip)),
        ("joint MIP", |r| r.joint.as_ref()),
        ("greedy", |r| Some(&r.greedy)),
        ("greedy with retries", |r| Some(&r.greedy_retry)),
        ("OpenStack default", |r| Some(&r.openstack)),
        ("best fit", |r| Some(&r.best_fit)),
        ("balanced", |r| Some(&r.balanced)),
    ];
    let joint = rows.iter().any(|r| r.joint.is_some());
    all.into_iter()
        .filter(|(name, _)| joint || *name != "joint MIP")
        .collect()
}

/// A bench: for every instance, one bar per solver, in two panels: the requests placed (% of
/// the instance's) and the hosts running VMs (whole-number ticks).
pub fn bench(rows: &[BenchRow], path: &Path) -> Result<(), PlotError> {
    let categories: Vec<String> = rows
        .iter()
        .map(|r| r.instance.trim_end_matches(".json").to_string())
        .collect();
    let solvers = bench_solvers(rows);
    let per_solver = |f: &dyn Fn(&BenchRow, &RunSummary) -> f64| -> Vec<(String, Vec<f64>)> {
        solvers
            .iter()
            .map(|(name, get)| {
                let values = rows
                    .iter()
                    .map(|r| get(r).map_or(f64::NAN, |s| f(r, s)))
                    .collect();
                (name.to_string(), values)
            })
            .collect()
    };
    let placed = per_solver(&|r, s| 100.0 * s.placed as f64 / r.requests.max(1) as f64);
    let hosts = per_solver(&|_, s| s.hosts as f64);
    let root = SVGBackend::new(path, (1000, 760)).into_drawing_area();
    root.fill(&WHITE).map_err(fail(path))?;
    let body = root
        .titled("Solvers per instance", ("sans-serif", 20))
        .map_err(fail(path))?;
    let (legend, panels) = body.split_vertically(32);
    let names: Vec<&str> = solvers.iter().map(|s| s.0).collect();
    legend_row(&legend, &names).map_err(fail(path))?;
    let (top, bottom) = panels.split_vertically(panels.dim_in_pixel().1 / 2);
    bar_panel(
        &top,
        &Bars {
            caption: "Requests placed",
            x_label: "instance",
            y_label: "placed (% of requests)",
            categories: &categories,
            series: &placed,
            counts: false,
        },
    )
    .map_err(fail(path))?;
    bar_panel(
        &bottom,
        &Bars {
            caption: "Hosts running VMs (fewer is better at equal placement)",
            x_label: "instance",
            y_label: "hosts (count)",
            categories: &categories,
            series: &hosts,
            counts: true,
        },
    )
    .map_err(fail(path))?;
    root.present().map_err(fail(path))
}

/// One chart comparing named series over categories (days, instances): grouped bars, one per
/// series in each category, and a legend row above.
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
    let body = root.titled(title, ("sans-serif", 20)).map_err(fail(path))?;
    let (legend, panel) = body.split_vertically(32);
    let names: Vec<&str> = series.iter().map(|s| s.0.as_str()).collect();
    legend_row(&legend, &names).map_err(fail(path))?;
    bar_panel(
        &panel,
        &Bars {
            caption: "",
            x_label,
            y_label,
            categories,
            series,
            counts: false,
        },
    )
    .map_err(fail(path))?;
    root.present().map_err(fail(path))
}

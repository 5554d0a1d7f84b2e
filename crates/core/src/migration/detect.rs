//! Overload detectors and the power model, as defined by Beloglazov & Buyya 2012 and CloudSim 3.

use super::RoundPolicy;
use crate::domain::migration::{HostIx, Pool};
use vmplace_wire::state::Detection;

/// Host `h`'s power at CPU utilisation `util`, W.
pub fn power(pool: &Pool, h: HostIx, util: f64) -> f64 {
    power_at(&pool.hosts[h].watts, util)
}

/// Whether the round's detector flags host `h` of `pool` now.
pub fn host_overloaded(pool: &Pool, h: HostIx, p: &RoundPolicy) -> bool {
    let max_migration = pool
        .vms_on(h)
        .map(|v| pool.migration_time(v))
        .fold(0.0, f64::max);
    overloaded(p, pool.cpu_util(h), &pool.host_history(h), max_migration)
}

/// Watts at `util` (clamped to [0, 1]) from a table at 0, 10, ..., 100 %, linear in between.
pub fn power_at(watts: &[f64], util: f64) -> f64 {
    if watts.is_empty() {
        return 0.0;
    }
    let u = util.clamp(0.0, 1.0) * (watts.len() - 1) as f64;
    let i = (u.floor() as usize).min(watts.len() - 1);
    let j = (i + 1).min(watts.len() - 1);
    watts[i] + (watts[j] - watts[i]) * (u - i as f64)
}

/// Whether a host is overloaded: `util` is its current CPU utilisation, `history` its CPU
/// utilisation history (oldest first), `max_migration_s` the longest migration of its VMs.
pub fn overloaded(p: &RoundPolicy, util: f64, history: &[f64], max_migration_s: f64) -> bool {
    let fallback = util > p.fallback_threshold;
    match p.detection {
        Detection::Thr => util > p.parameter,
        Detection::Iqr => match samples(history, 12) {
            Some(h) => util > 1.0 - p.parameter * iqr(h),
            None => fallback,
        },
        Detection::Mad => match samples(history, 12) {
            Some(h) => util > 1.0 - p.parameter * mad(h),
            None => fallback,
        },
        Detection::Lr | Detection::Lrr => {
            let steps = (max_migration_s / p.interval_s).ceil();
            match lr_forecast(history, steps) {
                Some(predicted) => predicted * p.parameter >= 1.0,
                None => fallback,
            }
        }
    }
}

/// Local regression's forecast: the least-squares line through the last 10 samples, `steps`
/// intervals past the last one. None with fewer than 10 samples. Linear in the history, so a
/// host's forecast is the sum of its VMs' forecasts (the round MIP relies on that).
pub fn lr_forecast(history: &[f64], steps: f64) -> Option<f64> {
    if history.len() < 10 {
        return None;
    }
    let (a, b) = least_squares(&history[history.len() - 10..])?;
    Some(a + b * (10.0 + steps))
}

/// The history from its first non-zero sample, if it has at least `min` samples.
fn samples(history: &[f64], min: usize) -> Option<&[f64]> {
    let first = history.iter().position(|&x| x != 0.0)?;
    let h = &history[first..];
    (h.len() >= min).then_some(h)
}

/// Inter-quartile range with CloudSim's quartile positions (round(0.25 (n + 1)) - 1).
pub fn iqr(data: &[f64]) -> f64 {
    let mut d = data.to_vec();
    d.sort_by(f64::total_cmp);
    let n = d.len() as f64;
    let q1 = ((0.25 * (n + 1.0)).round() as usize)
        .saturating_sub(1)
        .min(d.len() - 1);
    let q3 = ((0.75 * (n + 1.0)).round() as usize)
        .saturating_sub(1)
        .min(d.len() - 1);
    d[q3] - d[q1]
}

fn median(data: &[f64]) -> f64 {
    let mut d = data.to_vec();
    d.sort_by(f64::total_cmp);
    let n = d.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        d[n / 2]
    } else {
        (d[n / 2 - 1] + d[n / 2]) / 2.0
    }
}

/// Median absolute deviation.
pub fn mad(data: &[f64]) -> f64 {
    let m = median(data);
    let dev: Vec<f64> = data.iter().map(|x| (x - m).abs()).collect();
    median(&dev)
}

/// Ordinary least squares of y over x = 1..n: (intercept, slope). CloudSim's "local regression"
/// computes tricube weights but, all of them being positive, its weighted branch never runs, so
/// LR and LRR reduce to this fit.
pub fn least_squares(y: &[f64]) -> Option<(f64, f64)> {
    let n = y.len() as f64;
    if y.len() < 2 {
        return None;
    }
    let mx = (n + 1.0) / 2.0;
    let my = y.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (i, v) in y.iter().enumerate() {
        let x = i as f64 + 1.0;
        sxy += (x - mx) * (v - my);
        sxx += (x - mx) * (x - mx);
    }
    let b = sxy / sxx;
    Some((my - b * mx, b))
}

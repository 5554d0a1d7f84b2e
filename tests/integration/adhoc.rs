use crate::common::*;
use vmplace::domain::{Domain, Settings};
use vmplace::model::fit::solve_fit_bound;
use vmplace::validation::{read_problem, Phase};
#[test]
#[ignore]
fn adhoc_fit_time() {
    for p in [4, 2, 0] {
        let text = std::fs::read_to_string(format!("/work/meas/sw10k/sweep-2026-{p}.json")).unwrap();
        let v = read_problem(&text, Phase::Storage).unwrap();
        let d = Domain::from_problem(&v, Settings::default());
        let mut o = exact_mip_options();
        o.time_limit_s = 120.0;
        let t = std::time::Instant::now();
        let b = solve_fit_bound(&d, &o).unwrap();
        eprintln!("pool {p} bound {b:?} {:.2}s", t.elapsed().as_secs_f64());
    }
}

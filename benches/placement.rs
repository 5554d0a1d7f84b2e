//! Criterion benchmark over the shipped instance files: `place` with the MIP and with the greedy
//! baseline, side by side in one run so the baseline is measured on the same machine state.
//!
//! `cargo bench --bench placement` (all sets but `large`); `VMPLACE_BENCH_SETS=large cargo bench`
//! for the 10,000-request instance (60 s a solve).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::path::Path;
use std::time::Duration;
use vmplace_core::domain::{Domain, Settings};
use vmplace_core::placement::{run_or_fallback, Mode, RunConfig};
use vmplace_core::validation::{read_problem, Phase};
use vmplace_wire::SolverKind;

fn settings(problem: &vmplace_wire::Problem, solver: SolverKind) -> Settings {
    let mut s = Settings::default();
    if let Some(t) = problem.options.as_ref().and_then(|o| o.time_limit_s) {
        s.time_limit_s = t;
    }
    if let Some(g) = problem.options.as_ref().and_then(|o| o.mip_gap) {
        s.mip_gap = g;
    }
    s.solver = solver;
    s
}

fn bench_sets(c: &mut Criterion) {
    let sets =
        std::env::var("VMPLACE_BENCH_SETS").unwrap_or_else(|_| "examples,medium,tight".to_string());
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("instances");
    let mut group = c.benchmark_group("place");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(30));
    for set in sets.split(',') {
        let Ok(files) = vmplace::bench::instance_files(&root.join(set)) else {
            continue;
        };
        for file in files {
            let Ok(text) = std::fs::read_to_string(&file) else {
                continue;
            };
            let Ok(problem) = read_problem(&text, Phase::Storage) else {
                continue;
            };
            let name = file
                .file_stem()
                .map(|s| s.to_string_lossy().to_string())
                .unwrap_or_default();
            for (label, solver) in [("greedy", SolverKind::Greedy), ("mip", SolverKind::Mip)] {
                let d = Domain::from_problem(&problem, settings(&problem, solver));
                group.bench_with_input(BenchmarkId::new(label, &name), &d, |b, d| {
                    b.iter(|| run_or_fallback(d, Mode::Place, &RunConfig::default()))
                });
            }
        }
    }
    group.finish();
}

criterion_group!(benches, bench_sets);
criterion_main!(benches);

//! Criterion benchmark of one migration round on the shipped PlanetLab day (1,052 VMs, 800
//! hosts, every VM running): vmplace's optimizer and PABFD side by side on the same state, from
//! the spread-out first round (step 1) and from a consolidated pool (step 100).
//!
//! `cargo bench --bench migration`

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::path::Path;
use std::time::Duration;
use vmplace_core::sim::{load_planetlab, state_at, SimPolicy, Workload};
use vmplace_wire::state::{MigrationPolicy, Planner};

fn bench_rounds(c: &mut Criterion) {
    let day = Path::new(env!("CARGO_MANIFEST_DIR")).join("instances/planetlab/20110303");
    let traces = load_planetlab(&day, 288).expect("the shipped day loads");
    let lr: SimPolicy = "lr-mmt-1.2".parse().expect("a policy name");
    let mut group = c.benchmark_group("migrate");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    for step in [1, 100] {
        let state = state_at(&traces, 800, &lr, Workload::Full, step).expect("a step of the day");
        for (label, placement) in [("optimize", Planner::Optimize), ("pabfd", Planner::Pabfd)] {
            let mut s = state.clone();
            s.policy = Some(MigrationPolicy {
                detection: Some(vmplace_wire::state::Detection::Lr),
                placement: Some(placement),
                ..Default::default()
            });
            let s = vmplace_core::validation::validate_state(s)
                .expect("the simulator's state is valid");
            group.bench_with_input(BenchmarkId::new(label, step), &s, |b, s| {
                b.iter(|| vmplace_core::migration::plan(s))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench_rounds);
criterion_main!(benches);

//! Criterion benchmark of every stage of a small call, by name, so that a regression in one
//! shows up as that stage: parse, validate, domain, solve (exact search and greedy starts; these
//! instances build no MIP) and write, on the shipped service instances (one request on a
//! 2,000-host pool; 10 requests on 20 hosts). `cargo bench --bench stages`.

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion};
use std::path::Path;
use vmplace_core::domain::settings::{settings, Overrides};
use vmplace_core::domain::Domain;
use vmplace_core::placement::{run_or_fallback, Mode, RunConfig};
use vmplace_core::validation::json::parse_json;
use vmplace_core::validation::{validate_problem, Phase};
use vmplace_server::api::encode_solution;
use vmplace_wire::Problem;

/// The allocator of the `vmplace` binary, so that the stages cost what they cost there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn stages(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("instances/service");
    let mut group = c.benchmark_group("stage");
    for name in ["h2000-s100-vm1-racks", "h20-s4-vm10"] {
        let text = std::fs::read_to_string(root.join(format!("{name}.json"))).expect("instance");
        let value = parse_json(&text).expect("valid JSON");
        let problem = validate_problem(value.clone(), Phase::Storage).expect("valid problem");
        let p: &Problem = &problem;
        let d = Domain::from_problem(&problem, settings(p, &Overrides::default()));
        let solution = run_or_fallback(&d, Mode::Place, &RunConfig::default());
        group.bench_with_input(BenchmarkId::new("parse", name), &text, |b, t| {
            b.iter(|| parse_json(t))
        });
        group.bench_with_input(BenchmarkId::new("validate", name), &value, |b, v| {
            b.iter_batched(
                || v.clone(),
                |v| validate_problem(v, Phase::Storage),
                BatchSize::LargeInput,
            )
        });
        group.bench_with_input(BenchmarkId::new("domain", name), &problem, |b, pr| {
            b.iter(|| Domain::from_problem(pr, settings(pr, &Overrides::default())))
        });
        group.bench_with_input(BenchmarkId::new("solve", name), &d, |b, d| {
            b.iter(|| run_or_fallback(d, Mode::Place, &RunConfig::default()))
        });
        group.bench_with_input(BenchmarkId::new("write", name), &solution, |b, s| {
            b.iter_batched(
                || s.clone(),
                |mut s| encode_solution(&mut s, true),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, stages);
criterion_main!(benches);

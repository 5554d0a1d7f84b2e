//! `vmplace generate`.

use super::{exit, report, write_json};
use clap::Args;
use std::path::PathBuf;
use vmplace_generate::bin_packing::{bin_packing, BinClass};
use vmplace_generate::sweep::sweep_pool;
use vmplace_generate::{generate, GenParams};

/// Arguments of `generate`.
#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// Hosts.
    #[arg(long, default_value_t = 50)]
    pub hosts: usize,
    /// Storage systems.
    #[arg(long, default_value_t = 5)]
    pub storage: usize,
    /// Requests.
    #[arg(long, default_value_t = 200)]
    pub requests: usize,
    /// Fraction of storage systems each host is connected to.
    #[arg(long, default_value_t = 0.3)]
    pub density: f64,
    /// Demand over free capacity (0.9 = tight).
    #[arg(long, default_value_t = 0.7)]
    pub tightness: f64,
    /// Host size variety, 0..1.
    #[arg(long, default_value_t = 0.5)]
    pub heterogeneity: f64,
    /// Fraction of requests in anti-affinity groups of three.
    #[arg(long, default_value_t = 0.0)]
    pub anti_affinity: f64,
    /// Seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Output file (default stdout); with --sweep, the directory of the pools (required).
    #[arg(short = 'o', long)]
    pub output: Option<PathBuf>,
    /// Wire the pool like a real one: racks of 20 hosts of one generation reaching their rack's
    /// one or two storage systems, a few storage systems every host reaches, and one storage
    /// system with room whose hosts are full (`--density` is then not used).
    #[arg(long)]
    pub racks: bool,
    /// Fraction of hosts with CPU overcommit (2:1 or 4:1) and 5 % of memory reserved, and of
    /// storage systems thin-provisioned at 1.5:1.
    #[arg(long, default_value_t = 0.0)]
    pub overcommit: f64,
    /// Fraction of hosts with the trait HW_GPU (whole racks with --racks) and of storage systems
    /// with SSD; a quarter of that share of requests require the GPU, half of the others forbid
    /// it, and half of that share require SSD storage.
    #[arg(long, default_value_t = 0.0)]
    pub traits: f64,
    /// Placement groups over the requests: a third anti-affinity (per rack with --racks, else
    /// per host), a third spread (per zone of five racks, or per host), a third affinity; one in
    /// four soft.
    #[arg(long, default_value_t = 0)]
    pub groups: usize,
    /// A bin-packing instance instead: identical empty hosts on one storage system that holds
    /// every image (Falkenauer's `uniform` and `triplets`, two-resource `vector` and
    /// `vector-triplets`); only --requests and --seed apply.
    #[arg(long, value_enum, value_name = "CLASS")]
    pub bin_packing: Option<BinClass>,
    /// A randomized sweep instead: N pools of --requests requests whose structure (host
    /// generations, storage reach, per-resource tightness, used jitter, VM mixes, traps, rules)
    /// is drawn at random from (--seed, i), written to `sweep-<seed>-<i>.json` in the -o
    /// directory; stdout gets a JSON array of {"file", "axes"}. Only --requests and --seed apply.
    #[arg(long, value_name = "N", conflicts_with = "bin_packing")]
    pub sweep: Option<usize>,
}

/// Largest count `generate` draws (hosts, storage systems, requests, pools): a million requests
/// make a document of about 200 MB.
const GENERATE_MAX: usize = 1_000_000;

/// Generates one instance.
pub fn run(a: GenerateArgs) -> i32 {
    use vmplace_wire::{errors::ErrorCode, InputError};
    let mut errors = Vec::new();
    if a.hosts == 0 || a.storage == 0 || a.requests == 0 {
        errors.push(InputError::new(
            ErrorCode::Usage,
            "",
            "--hosts, --storage and --requests must be at least 1",
        ));
    }
    // `--hosts 1e9` aborted out of memory (issue 27, L6): a generated document is bounded.
    let largest = [a.hosts, a.storage, a.requests, a.sweep.unwrap_or(0)];
    if largest.iter().any(|&n| n > GENERATE_MAX) {
        errors.push(InputError::new(
            ErrorCode::Usage,
            "",
            format!("--hosts, --storage, --requests and --sweep must be at most {GENERATE_MAX}"),
        ));
    }
    if a.tightness.is_nan() || a.tightness <= 0.0 || a.tightness > 10.0 {
        errors.push(InputError::new(
            ErrorCode::Usage,
            "",
            "--tightness must be in (0, 10]",
        ));
    }
    let unit = |x: f64| (0.0..=1.0).contains(&x);
    if !unit(a.density) || !unit(a.anti_affinity) || !unit(a.overcommit) || !unit(a.traits) {
        errors.push(InputError::new(
            ErrorCode::Usage,
            "",
            "--density, --anti-affinity, --overcommit and --traits must be in [0, 1]",
        ));
    }
    if !errors.is_empty() {
        return report(&errors);
    }
    if let Some(n) = a.sweep {
        return sweep(n, a.seed, a.requests, a.output.as_ref());
    }
    if let Some(class) = a.bin_packing {
        let problem = bin_packing(class, a.requests, a.seed);
        return match write_json(a.output.as_ref(), &problem) {
            Ok(()) => exit::OK,
            Err(e) => report(&e),
        };
    }
    let p = GenParams {
        hosts: a.hosts,
        storage: a.storage,
        requests: a.requests,
        density: a.density,
        tightness: a.tightness,
        heterogeneity: a.heterogeneity,
        anti_affinity: a.anti_affinity,
        seed: a.seed,
        topology: if a.racks {
            vmplace_generate::Topology::Racks
        } else {
            vmplace_generate::Topology::Uniform
        },
        overcommit: a.overcommit,
        traits: a.traits,
        groups: a.groups,
    };
    match write_json(a.output.as_ref(), &generate(&p)) {
        Ok(()) => exit::OK,
        Err(e) => report(&e),
    }
}

/// `--sweep N`: writes the pools into `dir` and prints one {"file", "axes"} row per pool.
fn sweep(n: usize, seed: u64, requests: usize, dir: Option<&PathBuf>) -> i32 {
    use vmplace_wire::{errors::ErrorCode, InputError};
    let Some(dir) = dir else {
        return report(&[InputError::new(
            ErrorCode::Usage,
            "",
            "--sweep needs -o/--output DIR, the directory the pools are written to",
        )]);
    };
    if n == 0 {
        return report(&[InputError::new(
            ErrorCode::Usage,
            "",
            "--sweep must be at least 1",
        )]);
    }
    if let Err(e) = std::fs::create_dir_all(dir) {
        let cause = format!("cannot create {}: {e}", dir.display());
        return report(&[InputError::new(ErrorCode::Io, "", cause)]);
    }
    let mut rows = Vec::with_capacity(n);
    for i in 0..n {
        let (problem, axes) = sweep_pool(seed, i, requests);
        let file = dir.join(format!("sweep-{seed}-{i}.json"));
        if let Err(e) = write_json(Some(&file), &problem) {
            return report(&e);
        }
        rows.push(serde_json::json!({ "file": file.display().to_string(), "axes": axes }));
    }
    match write_json(None, &rows) {
        Ok(()) => exit::OK,
        Err(e) => report(&e),
    }
}

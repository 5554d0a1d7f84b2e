//! Bin-packing instances: identical empty hosts on one shared storage system, every request's
//! image already written there, so that the placement is pure (vector) bin packing. The classes
//! follow the literature's benchmark families, regenerated here from their published recipes:
//!
//! * `uniform`: Falkenauer's class U, hosts of 150, sizes uniform in [20, 100].
//! * `triplets`: Falkenauer's class T, hosts of 1000, built three at a time so that the optimum
//!   fills `n / 3` hosts exactly: a first item uniform in [380, 490], a second uniform in
//!   [250, s / 2] where `s` is what is left, and a third that completes the host.
//! * `vector`: two resources (cpu, memory), hosts of (150, 150), each size uniform in [20, 100]
//!   independently (Caprara and Toth's uncorrelated class, rescaled).
//! * `vector-triplets`: two resources, hosts of (1000, 1000), triplets built independently in each
//!   resource as above: every host of the optimum is full in both, so the optimum is `n / 3`.
//!
//! Sizes are whole numbers, so bounds and optima are exact.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use vmplace_wire::{Host, Objective, Options, Problem, Request, Resources, Storage};

/// A bin-packing class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum BinClass {
    /// Falkenauer's U: one resource, hosts of 150, sizes in [20, 100].
    Uniform,
    /// Falkenauer's T: one resource, hosts of 1000, optimum `n / 3` hosts exactly full.
    Triplets,
    /// Two resources, hosts of (150, 150), sizes in [20, 100] each.
    Vector,
    /// Two resources, hosts of (1000, 1000), optimum `n / 3` hosts exactly full in both.
    VectorTriplets,
}

impl BinClass {
    /// Short name for file names.
    pub fn name(self) -> &'static str {
        match self {
            BinClass::Uniform => "u",
            BinClass::Triplets => "t",
            BinClass::Vector => "v",
            BinClass::VectorTriplets => "vt",
        }
    }
    fn capacity(self) -> f64 {
        match self {
            BinClass::Uniform | BinClass::Vector => 150.0,
            BinClass::Triplets | BinClass::VectorTriplets => 1000.0,
        }
    }
    fn dimensions(self) -> usize {
        match self {
            BinClass::Uniform | BinClass::Triplets => 1,
            BinClass::Vector | BinClass::VectorTriplets => 2,
        }
    }
}

/// Falkenauer's triplets in `dims` resources, `n` rounded down to a multiple of three: per host
/// of the optimum, three VMs whose sizes fill it exactly in every resource; then shuffled, each
/// VM keeping its sizes. Per resource, returns the sizes.
fn triplets(n: usize, dims: usize, rng: &mut ChaCha8Rng) -> Vec<Vec<f64>> {
    let mut vms: Vec<Vec<f64>> = Vec::with_capacity(n);
    for _ in 0..n / 3 {
        let mut three: Vec<Vec<f64>> = vec![Vec::new(); 3];
        for _ in 0..dims {
            let a = rng.random_range(380..=490);
            let s = 1000 - a;
            let b = rng.random_range(250..=s / 2);
            for (vm, x) in three.iter_mut().zip([a, b, s - b]) {
                vm.push(x as f64);
            }
        }
        vms.extend(three);
    }
    for i in (1..vms.len()).rev() {
        vms.swap(i, rng.random_range(0..=i));
    }
    (0..dims)
        .map(|r| vms.iter().map(|vm| vm[r]).collect())
        .collect()
}

/// A bin-packing instance of `class` with `n` requests (a multiple of three for the triplet
/// classes), `seed` for the sizes. The pool has 20 % more hosts than the volume bound, plus one.
pub fn bin_packing(class: BinClass, n: usize, seed: u64) -> Problem {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let dims = ["cpu", "memory_gib"];
    let sizes: Vec<Vec<f64>> = match class {
        BinClass::Uniform | BinClass::Vector => (0..class.dimensions())
            .map(|_| (0..n).map(|_| rng.random_range(20..=100) as f64).collect())
            .collect(),
        BinClass::Triplets | BinClass::VectorTriplets => triplets(n, class.dimensions(), &mut rng),
    };
    let n = sizes[0].len();
    let cap = class.capacity();
    let volume = sizes
        .iter()
        .map(|s| s.iter().sum::<f64>() / cap)
        .fold(0.0, f64::max);
    let hosts = (volume * 1.2).ceil() as usize + 1;
    let capacity: Resources = dims[..class.dimensions()]
        .iter()
        .map(|k| (k.to_string(), cap))
        .collect();
    Problem {
        storage: vec![Storage {
            id: "s0".into(),
            capacity_gib: n as f64,
            used_gib: n as f64,
            allocation_ratio: None,
            reserved_gib: None,
            traits: Default::default(),
        }],
        hosts: (0..hosts)
            .map(|h| Host {
                id: format!("h{h}"),
                capacity: capacity.clone(),
                used: None,
                storage: vec!["s0".into()],
                labels: Default::default(),
                allocation_ratio: Default::default(),
                reserved: Default::default(),
                traits: Default::default(),
                group_members: Default::default(),
            })
            .collect(),
        requests: (0..n)
            .map(|i| {
                let demand = dims[..class.dimensions()]
                    .iter()
                    .zip(&sizes)
                    .map(|(k, s)| (k.to_string(), s[i]))
                    .collect();
                Request {
                    storage: Some("s0".into()),
                    ..Request::plain(format!("r{i}"), demand, 1.0)
                }
            })
            .collect(),
        options: Some(Options {
            time_limit_s: Some(10.0),
            host_policy: Some(Objective::Pack),
            ..Default::default()
        }),
        groups: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triplets_fill_hosts_exactly() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let t = triplets(60, 2, &mut rng);
        for r in &t {
            assert_eq!(r.len(), 60);
            assert_eq!(r.iter().sum::<f64>(), 20.0 * 1000.0);
            assert!(r.iter().all(|&x| (250.0..=490.0).contains(&x)));
        }
    }
}

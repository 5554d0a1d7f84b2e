//! Seeded instance generator with VM sizes drawn from published Azure size mixes.
//!
//! vCPU shares (Azure 2017): 1 core 49.8 %, 2 cores 24.8 %, 4 cores 11.3 %, 8 cores 14.0 %.
//! Memory buckets (Azure 2019): 0-2 GB 12.0 %, 2-4 15.7 %, 4-8 37.3 %, 8-32 31.8 %, 32-64 2.8 %;
//! within a bucket vmplace uses Azure-like sizes (1.75, 3.5, 7, 14 or 28, 56 GiB) so that requests
//! repeat and flavors aggregate as they do in real fleets.

#![warn(missing_docs)]

pub mod bin_packing;
pub mod sweep;

use rand::distr::{weighted::WeightedIndex, Distribution};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use vmplace_wire::{Host, Options, Problem, Request, Resources, Storage};

/// Share of hosts that start with nothing running.
const IDLE_HOSTS: f64 = 1.0 / 3.0;

/// Generator parameters.
#[derive(Debug, Clone)]
pub struct GenParams {
    /// Number of hosts.
    pub hosts: usize,
    /// Number of storage systems.
    pub storage: usize,
    /// Number of requests.
    pub requests: usize,
    /// Fraction of storage systems each host is connected to (at least one link).
    pub density: f64,
    /// Demand over free capacity, per resource and for disk (0.9 = tight).
    pub tightness: f64,
    /// 0 = identical hosts, 1 = four host types of very different sizes.
    pub heterogeneity: f64,
    /// Fraction of requests in anti-affinity groups of 3.
    pub anti_affinity: f64,
    /// Seed.
    pub seed: u64,
    /// How hosts reach storage.
    pub topology: Topology,
    /// Fraction of hosts with overcommit and reservations (CPU at 2:1 or 4:1, 5 % of memory
    /// reserved), and of storage systems thin-provisioned at 1.5:1. The demand is not scaled up:
    /// overcommitted pools are looser.
    pub overcommit: f64,
    /// Fraction of hosts with the trait `HW_GPU` (whole racks under `Racks`) and of storage
    /// systems with `SSD`. Requests then ask for them: a quarter of this share require the GPU,
    /// half of the others forbid it (keeping GPU hosts free), and half of this share require SSD
    /// storage. 0 = no traits.
    pub traits: f64,
    /// Placement groups (`groups[]`), drawn from a random stream of their own: a third
    /// anti-affinity (per rack, or per host without racks; at most 1 or 2), a third spread (per
    /// zone of five racks, or per host; skew 1), a third affinity (per rack, or host); one in
    /// four soft. Members are requests outside `anti_affinity` groups, one group each. Racks
    /// then get `zone` labels.
    pub groups: usize,
}

/// How hosts reach storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Topology {
    /// Each host reaches a contiguous range of `density` of the storage systems.
    #[default]
    Uniform,
    /// Like a real pool: racks of [`RACK_HOSTS`] hosts of one generation each, whose hosts reach
    /// the one or two storage systems of their rack, plus a few storage systems every host
    /// reaches (one per 25, at least one). One rack-local system has three times its share of
    /// free space while its racks' hosts are nearly full. `density` is not used.
    Racks,
}

/// Hosts per rack under [`Topology::Racks`].
pub const RACK_HOSTS: usize = 20;

impl Default for GenParams {
    fn default() -> Self {
        GenParams {
            hosts: 50,
            storage: 5,
            requests: 200,
            density: 0.3,
            tightness: 0.7,
            heterogeneity: 0.5,
            anti_affinity: 0.0,
            seed: 1,
            topology: Topology::Uniform,
            overcommit: 0.0,
            traits: 0.0,
            groups: 0,
        }
    }
}

fn res(cpu: f64, mem: f64) -> Resources {
    [("cpu".to_string(), cpu), ("memory_gib".to_string(), mem)]
        .into_iter()
        .collect()
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Generates a problem document.
pub fn generate(p: &GenParams) -> Problem {
    let mut rng = ChaCha8Rng::seed_from_u64(p.seed);
    let demand = requests(p, &mut rng);
    let caps = host_sizes(p, &mut rng);
    let hosts = hosts(p, &caps, &demand.total, &mut rng);
    let storage = storage(p, demand.total[2], &mut rng);
    let mut problem = Problem {
        storage,
        hosts,
        requests: demand.requests,
        options: None,
        groups: Vec::new(),
    };
    refine(&mut problem, p, demand.total[2], &mut rng);
    Problem {
        options: Some(Options {
            time_limit_s: Some(10.0),
            ..Default::default()
        }),
        ..problem
    }
}

/// The requests generated, and what they demand in all: cpu, memory, disk GiB.
struct Demand {
    requests: Vec<Request>,
    total: [f64; 3],
}

/// The requests: sizes drawn from the Azure mixes, the first ones in anti-affinity triples.
fn requests(p: &GenParams, rng: &mut ChaCha8Rng) -> Demand {
    let cpu_sizes = [1.0, 2.0, 4.0, 8.0];
    let cpu_w = WeightedIndex::new([49.8, 24.8, 11.3, 14.0]).expect("static weights");
    let mem_w = WeightedIndex::new([12.0, 15.7, 37.3, 31.8, 2.8]).expect("static weights");
    let disk_sizes = [30.0, 64.0, 128.0, 256.0, 512.0];
    let disk_w = WeightedIndex::new([35.0, 30.0, 20.0, 10.0, 5.0]).expect("static weights");

    let mut requests = Vec::with_capacity(p.requests);
    let mut total = [0.0f64; 3];
    for i in 0..p.requests {
        let cpu = cpu_sizes[cpu_w.sample(rng)];
        let mem = match mem_w.sample(rng) {
            0 => 1.75,
            1 => 3.5,
            2 => 7.0,
            3 => {
                if rng.random_bool(0.5) {
                    14.0
                } else {
                    28.0
                }
            }
            _ => 56.0,
        };
        let disk = disk_sizes[disk_w.sample(rng)];
        total[0] += cpu;
        total[1] += mem;
        total[2] += disk;
        requests.push(Request::plain(format!("r{i}"), res(cpu, mem), disk));
    }
    let grouped = (p.requests as f64 * p.anti_affinity) as usize / 3 * 3;
    for (k, r) in requests.iter_mut().take(grouped).enumerate() {
        r.anti_affinity = Some(format!("g{}", k / 3));
    }
    Demand { requests, total }
}

/// Each host's type, (cpu, memory). Heterogeneity picks how many types are in play.
fn host_sizes(p: &GenParams, rng: &mut ChaCha8Rng) -> Vec<(f64, f64)> {
    let types = [(64.0, 512.0), (32.0, 256.0), (96.0, 768.0), (16.0, 128.0)];
    let ntypes = 1 + (p.heterogeneity.clamp(0.0, 1.0) * 3.0).round() as usize;
    match p.topology {
        Topology::Uniform => (0..p.hosts)
            .map(|_| types[rng.random_range(0..ntypes)])
            .collect(),
        Topology::Racks => {
            // One generation per rack.
            let racks = p.hosts.div_ceil(RACK_HOSTS);
            let gen: Vec<_> = (0..racks)
                .map(|_| types[rng.random_range(0..ntypes)])
                .collect();
            (0..p.hosts).map(|i| gen[i / RACK_HOSTS]).collect()
        }
    }
}

/// The hosts: capacities scaled so that demand / free = tightness, the rest pre-used, and
/// contiguous storage links.
fn hosts(p: &GenParams, caps: &[(f64, f64)], total: &[f64; 3], rng: &mut ChaCha8Rng) -> Vec<Host> {
    let cap_total = [
        caps.iter().map(|c| c.0).sum::<f64>(),
        caps.iter().map(|c| c.1).sum::<f64>(),
    ];
    // Free capacity so that demand / free = tightness; the rest is pre-used, spread at random.
    let want_free = [total[0] / p.tightness, total[1] / p.tightness];
    let scale = [
        (want_free[0] / cap_total[0]).max(1.0),
        (want_free[1] / cap_total[1]).max(1.0),
    ];
    // A third of the hosts start idle (so consolidation has something to decide); the others
    // carry the pre-used load in random shares.
    let used_share: Vec<f64> = (0..p.hosts)
        .map(|_| {
            if rng.random_bool(IDLE_HOSTS) {
                0.0
            } else {
                rng.random_range(0.05..1.0)
            }
        })
        .collect();
    let share_sum: f64 = used_share.iter().sum::<f64>().max(1e-9);
    let mut hosts = Vec::with_capacity(p.hosts);
    for (i, &(c, m)) in caps.iter().enumerate() {
        let cap = [(c * scale[0]).round(), (m * scale[1]).round()];
        let mut used = [0.0; 2];
        for k in 0..2 {
            let pre = (cap_total[k] * scale[k] - want_free[k]).max(0.0);
            used[k] = round2((pre * used_share[i] / share_sum).min(cap[k] * 0.9));
        }
        hosts.push(Host {
            id: format!("h{i}"),
            capacity: res(cap[0], cap[1]),
            used: Some(res(used[0], used[1])),
            storage: storage_links(p, rng),
            labels: Default::default(),
            allocation_ratio: Default::default(),
            reserved: Default::default(),
            traits: Default::default(),
            group_members: Default::default(),
        });
    }
    hosts
}

/// A host's storage links: a contiguous range of systems, like racks cabled to nearby arrays.
fn storage_links(p: &GenParams, rng: &mut ChaCha8Rng) -> Vec<String> {
    let links = ((p.storage as f64 * p.density).round() as usize).clamp(1, p.storage);
    let first = rng.random_range(0..p.storage);
    (0..links)
        .map(|j| format!("s{}", (first + j) % p.storage))
        .collect()
}

/// The storage systems: free space so that disk demand / free = tightness, shared out by random
/// weights, and some already used.
fn storage(p: &GenParams, disk_total: f64, rng: &mut ChaCha8Rng) -> Vec<Storage> {
    let weights: Vec<f64> = (0..p.storage).map(|_| rng.random_range(0.5..1.5)).collect();
    let wsum: f64 = weights.iter().sum();
    (0..p.storage)
        .map(|i| {
            let free = (disk_total / p.tightness * weights[i] / wsum).ceil();
            let used = (free * rng.random_range(0.1..1.0)).round();
            Storage {
                id: format!("s{i}"),
                capacity_gib: free + used,
                used_gib: used,
                allocation_ratio: None,
                reserved_gib: None,
                traits: Default::default(),
            }
        })
        .collect()
}

/// What the options add to the plain instance, in this order: racks' cabling, overcommit,
/// traits, placement groups.
fn refine(problem: &mut Problem, p: &GenParams, disk_total: f64, rng: &mut ChaCha8Rng) {
    if p.topology == Topology::Racks {
        cable_racks(problem, disk_total / p.tightness, rng);
    }
    if p.overcommit > 0.0 {
        overcommit(problem, p.overcommit, p.seed);
    }
    if p.traits > 0.0 {
        traits(problem, p.traits, p.seed, p.topology == Topology::Racks);
    }
    if p.groups > 0 {
        groups(problem, p.groups, p.seed, p.topology == Topology::Racks);
    }
}

/// `count` placement groups over the requests (see [`GenParams::groups`]).
fn groups(p: &mut Problem, count: usize, seed: u64, racks: bool) {
    use vmplace_wire::problem::{Group, GroupPolicy};
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x6772_6f75_7073_0000);
    if racks {
        for h in &mut p.hosts {
            let rack: usize = h
                .labels
                .get("rack")
                .and_then(|r| r[1..].parse().ok())
                .unwrap_or(0);
            h.labels.insert("zone".into(), format!("z{}", rack / 5));
        }
    }
    let mut free: Vec<usize> = (0..p.requests.len())
        .filter(|&i| p.requests[i].anti_affinity.is_none())
        .collect();
    free.shuffle(&mut rng);
    let scope = |s: &str| {
        if racks {
            s.to_string()
        } else {
            "host".to_string()
        }
    };
    for g in 0..count {
        let (policy, size, scope, max_per_domain, max_skew) = match g % 3 {
            0 => (
                GroupPolicy::AntiAffinity,
                rng.random_range(4..=8),
                scope("rack"),
                Some(rng.random_range(1..=2)),
                None,
            ),
            1 => (
                GroupPolicy::Spread,
                rng.random_range(6..=12),
                scope("zone"),
                None,
                Some(1),
            ),
            _ => (
                GroupPolicy::Affinity,
                rng.random_range(2..=4),
                scope("rack"),
                None,
                None,
            ),
        };
        let id = format!("grp{g}");
        for _ in 0..size {
            let Some(i) = free.pop() else { break };
            p.requests[i].groups.push(id.clone());
        }
        let soft = rng.random_bool(0.25);
        p.groups.push(Group {
            id,
            policy,
            scope,
            max_per_domain,
            max_skew,
            hard: soft.then_some(false),
            weight: soft.then_some(0.5),
        });
    }
}

/// Rewires a generated pool as racks (see [`Topology::Racks`]): storage links, then the free
/// space of each system (`free` GiB in all, 35 % on the pool-wide systems), then the decoy: the
/// first rack-local system gets three times its share while its hosts fill to 97 %.
/// Overcommit and reservations on a share of the hosts and storage systems, from a random stream
/// of its own (the rest of the instance is the one the seed gives without them).
fn overcommit(p: &mut Problem, share: f64, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x6f76_6572_636f_6d6d);
    for h in &mut p.hosts {
        if rng.random_bool(share.clamp(0.0, 1.0)) {
            let ratio = if rng.random_bool(0.5) { 2.0 } else { 4.0 };
            h.allocation_ratio.insert("cpu".into(), ratio);
            let mem = h.capacity.get("memory_gib").copied().unwrap_or(0.0);
            let used = h.used.as_ref().and_then(|u| u.get("memory_gib")).copied();
            // Reserve 5 % of the memory, no more than what is not in use.
            let reserve = (mem * 0.05).min(mem - used.unwrap_or(0.0)).max(0.0).floor();
            h.reserved.insert("memory_gib".into(), reserve);
        }
    }
    for s in &mut p.storage {
        if rng.random_bool(share.clamp(0.0, 1.0)) {
            s.allocation_ratio = Some(1.5);
        }
    }
}

/// Traits on a share of the hosts and storage systems, and the requests that ask for them, from a
/// random stream of its own (see [`GenParams::traits`]).
fn traits(p: &mut Problem, share: f64, seed: u64, racks: bool) {
    let share = share.clamp(0.0, 1.0);
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x7472_6169_7473_0000);
    let units = if racks {
        p.hosts.len().div_ceil(RACK_HOSTS)
    } else {
        p.hosts.len()
    };
    let gpu_units = chosen(units, share, &mut rng);
    for (i, h) in p.hosts.iter_mut().enumerate() {
        let unit = if racks { i / RACK_HOSTS } else { i };
        if gpu_units[unit] {
            h.traits.insert("HW_GPU".into());
        }
    }
    let ssd = chosen(p.storage.len(), share, &mut rng);
    for (s, has) in p.storage.iter_mut().zip(ssd) {
        if has {
            s.traits.insert("SSD".into());
        }
    }
    let has_ssd = p.storage.iter().any(|s| s.traits.contains("SSD"));
    for r in &mut p.requests {
        if rng.random_bool(share / 4.0) {
            r.required_traits.insert("HW_GPU".into());
        } else if rng.random_bool(0.5) {
            r.forbidden_traits.insert("HW_GPU".into());
        }
        if has_ssd && rng.random_bool(share / 2.0) {
            r.storage_required_traits.insert("SSD".into());
        }
    }
}

/// `round(share * n)` of `n` items, at least one, picked at random.
fn chosen(n: usize, share: f64, rng: &mut ChaCha8Rng) -> Vec<bool> {
    let k = ((share * n as f64).round() as usize).clamp(1, n);
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(rng);
    let mut out = vec![false; n];
    for &i in &order[..k] {
        out[i] = true;
    }
    out
}

fn cable_racks(p: &mut Problem, free: f64, rng: &mut ChaCha8Rng) {
    let n = p.storage.len();
    let shared = (n / 25).max(1).min(n);
    let local = n - shared;
    let racks = p.hosts.len().div_ceil(RACK_HOSTS);
    let mut reach = vec![0usize; n];
    for (i, h) in p.hosts.iter_mut().enumerate() {
        let rack = i / RACK_HOSTS;
        let mut links: Vec<usize> = (local..n).collect();
        if local > 0 {
            links.push(rack % local);
            if rack % 2 == 1 && local > 1 {
                links.push((rack + 1) % local);
            }
        }
        links.sort_unstable();
        links.dedup();
        for &s in &links {
            reach[s] += 1;
        }
        h.storage = links.iter().map(|s| format!("s{s}")).collect();
        h.labels.insert("rack".into(), format!("r{rack}"));
    }
    let local_reach: usize = reach[..local].iter().sum::<usize>().max(1);
    for (s, st) in p.storage.iter_mut().enumerate() {
        let share = if s >= local {
            0.35 / shared as f64
        } else {
            0.65 * reach[s] as f64 / local_reach as f64
        };
        let decoy = if s == 0 && local > 0 { 3.0 } else { 1.0 };
        let f = (free * share * decoy).ceil();
        let used = (f * rng.random_range(0.1..1.0)).round();
        st.capacity_gib = f + used;
        st.used_gib = used;
    }
    if local > 0 && racks > 1 {
        for h in p
            .hosts
            .iter_mut()
            .filter(|h| h.storage.contains(&"s0".to_string()))
        {
            let used: Resources = h
                .capacity
                .iter()
                .map(|(k, c)| (k.clone(), round2(c * 0.97)))
                .collect();
            h.used = Some(used);
        }
    }
}

/// Self-describing instance name, e.g. `h200-s20-vm1000-tight`.
pub fn instance_name(p: &GenParams) -> String {
    let tag = if p.tightness >= 0.85 {
        "tight"
    } else {
        "loose"
    };
    let racks = if p.topology == Topology::Racks {
        "-racks"
    } else {
        ""
    };
    format!("h{}-s{}-vm{}-{tag}{racks}", p.hosts, p.storage, p.requests)
}

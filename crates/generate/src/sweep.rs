//! Randomized sweep of pool structures: pools unlike the shipped families, so that claims about
//! the solvers are tested off the beaten track.
//!
//! Each pool is drawn from its own random stream (ChaCha8 keyed by the sweep's seed and the pool's
//! index) and varies along every axis below; [`SweepAxes`] records the values drawn.
//!
//! * **Size.** About `requests / 5` hosts and `hosts / 10` storage systems, each ratio jittered by
//!   up to 30 %; whole racks are added when the VM mix needs more capacity. Pools without
//!   rack-local systems have only their 1 to 4 shared ones.
//! * **Host generations.** 1 to 5 host sizes (32..128 CPUs, 2..8 GiB per CPU), racks of 10..40
//!   hosts of one generation each (labels `rack`).
//! * **Storage reach.** 1 to 4 shared systems (`shared-J`), each reached by a host with a
//!   probability drawn in [0.2, 1]; 0 to 2 rack-local systems (`local-J`) per rack; every host
//!   reaches at least one system.
//! * **Tightness.** Demand over free capacity drawn separately for CPU, memory and disk in
//!   [0.6, 1.05]; each storage system's free share jittered by up to 40 %.
//! * **Used load.** A share of hosts idle, drawn in [0, 0.4] (fewer when the others could not
//!   carry the pool's used load below 90 %: with 5 VMs per host, pools are busy); the others use
//!   CPU and memory independently around the pool's used level, with an amplitude drawn in
//!   [0, 0.4] (some hosts CPU-rich and memory-poor, others the reverse).
//! * **VM mixes.** vCPU sizes 1..16 with weights drawn per pool (tilted towards small VMs as in
//!   Azure's fleet), memory per vCPU in a per-pool range within 2..8 GiB, disk images 20..500 GiB
//!   from a per-pool mix.
//! * **Traps.** With probability 0.3, one or two decoy systems (`decoy-J`) with three times a
//!   system's mean free space (on top of what the disk tightness gives the others), reached only
//!   by a few hosts, which are 97 % full (as an extra link; they keep their other links); with
//!   probability 0.3, a few huge VMs of a quarter of the largest host.
//! * **Rules.** With probability 0.2, a share of requests in anti-affinity groups of 2 or 3;
//!   with probability 0.15, a few `groups[]` rules as `generate --groups` draws them.

use super::round2;
use rand::distr::{weighted::WeightedIndex, Distribution};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use vmplace_wire::{Host, Options, Problem, Request, Resources, Storage};

/// vCPU sizes of the VM mixes.
pub const VCPU_SIZES: [f64; 5] = [1.0, 2.0, 4.0, 8.0, 16.0];
/// Prior tilt of the vCPU weights towards small VMs (Azure: half the VMs have one core).
const VCPU_TILT: [f64; 5] = [8.0, 4.0, 2.0, 1.0, 0.5];
/// Disk image sizes of the disk mixes, GiB.
pub const DISK_SIZES: [f64; 6] = [20.0, 40.0, 80.0, 160.0, 320.0, 500.0];
/// Used share of a decoy's hosts, and the most any host uses of a resource.
const FULL: f64 = 0.97;
/// Idle hosts are left only while the others can carry the used load below this share.
const BUSY: f64 = 0.9;
/// Hosts are added until their capacity is this much above the free capacity wanted.
const HEADROOM: f64 = 1.25;

/// Parameters of a sweep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepParams {
    /// Number of pools.
    pub count: usize,
    /// Requests per pool (at least 1).
    pub requests: usize,
    /// Seed of the sweep; pool `i` is drawn from `(seed, i)`.
    pub seed: u64,
}

impl SweepParams {
    /// The pools of the sweep (see [`sweep`]).
    pub fn pools(&self) -> Vec<(String, Problem, SweepAxes)> {
        sweep(self.count, self.seed, self.requests)
    }
}

/// A host generation: its size.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Generation {
    /// CPUs.
    pub cpu: f64,
    /// Memory, GiB.
    pub memory_gib: f64,
}

/// Demand over free capacity, per resource.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Tightness {
    /// CPU.
    pub cpu: f64,
    /// Memory.
    pub memory: f64,
    /// Disk.
    pub disk: f64,
}

/// The values one pool of a sweep was drawn with (see the module documentation).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SweepAxes {
    /// Requests.
    pub requests: usize,
    /// Hosts (about `requests / requests_per_host`, more when the VM mix needs them).
    pub hosts: usize,
    /// Storage systems, decoys included.
    pub storage: usize,
    /// Requests per host drawn (5 ± 30 %).
    pub requests_per_host: f64,
    /// Hosts per storage system drawn (10 ± 30 %).
    pub hosts_per_storage: f64,
    /// Host sizes; each rack is of one of them.
    pub generations: Vec<Generation>,
    /// Hosts per rack (the last rack may be shorter).
    pub rack_hosts: usize,
    /// Racks.
    pub racks: usize,
    /// Amplitude of the per-host, per-resource deviation from the pool's used level.
    pub used_jitter: f64,
    /// Share of hosts idle: drawn in [0, 0.4], then as many as the others can carry the pool's
    /// used load (below 90 %) with; the share reached.
    pub idle_share: f64,
    /// Shared storage systems.
    pub shared_storage: usize,
    /// Per shared system, the probability that a host reaches it.
    pub shared_reach: Vec<f64>,
    /// Rack-local storage systems per rack (0: the pool has only its shared systems).
    pub rack_local: usize,
    /// Demand over free capacity wanted, per resource (disk: over the systems other than the
    /// decoys).
    pub tightness: Tightness,
    /// Amplitude of the deviation of each storage system's free share.
    pub storage_jitter: f64,
    /// Weights of [`VCPU_SIZES`].
    pub vcpu_weights: Vec<f64>,
    /// Range of memory per vCPU, GiB.
    pub memory_per_vcpu: [f64; 2],
    /// Weights of [`DISK_SIZES`].
    pub disk_weights: Vec<f64>,
    /// Decoy storage systems: much free space, reached by a few nearly full hosts.
    pub decoy_storage: usize,
    /// Huge VMs (a quarter of the largest host).
    pub huge_vms: usize,
    /// Share of requests in anti-affinity groups of 2 or 3.
    pub anti_affinity: f64,
    /// `groups[]` rules.
    pub groups: usize,
}

/// `n` pools of `requests` requests each, named `sweep-<seed>-<i>`.
pub fn sweep(n: usize, seed: u64, requests: usize) -> Vec<(String, Problem, SweepAxes)> {
    (0..n)
        .map(|i| {
            let (p, axes) = sweep_pool(seed, i, requests);
            (format!("sweep-{seed}-{i}"), p, axes)
        })
        .collect()
}

/// Pool `index` of the sweep `seed`, with `requests` requests (at least 1), and the values it was
/// drawn with. Deterministic in `(seed, index, requests)`.
pub fn sweep_pool(seed: u64, index: usize, requests: usize) -> (Problem, SweepAxes) {
    let mut rng = pool_rng(seed, index);
    let mut ax = draw_axes(requests.max(1), &mut rng);
    let mut reqs = vm_mix(&ax, &mut rng);
    huge_vms(&mut reqs, &ax, &mut rng);
    let demand = totals(&reqs);
    let mut hosts = build_hosts(&mut ax, demand, &mut rng);
    let reach = cable(&mut hosts, &mut ax, &mut rng);
    let pinned = decoys(&mut hosts, &ax, &mut rng);
    load_hosts(&mut hosts, &pinned, &mut ax, demand, &mut rng);
    let storage = storage_space(&reach, &ax, demand[2], &mut rng);
    ax.hosts = hosts.len();
    ax.storage = storage.len();
    let mut problem = Problem {
        storage,
        hosts,
        requests: reqs,
        groups: Vec::new(),
        options: Some(Options {
            time_limit_s: Some(10.0),
            ..Default::default()
        }),
    };
    rules(&mut problem, &ax, &mut rng);
    (problem, ax)
}

/// The random stream of pool `index` of sweep `seed`.
fn pool_rng(seed: u64, index: usize) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&(index as u64).to_le_bytes());
    key[16..24].copy_from_slice(b"vmsweep\0");
    ChaCha8Rng::from_seed(key)
}

/// Random weights (Dirichlet(1) draws scaled by `tilt`), normalised to sum 1.
fn weights(tilt: &[f64], rng: &mut ChaCha8Rng) -> Vec<f64> {
    let w: Vec<f64> = tilt
        .iter()
        .map(|t| t * (1e-3 - (1.0 - rng.random::<f64>()).ln()))
        .collect();
    let sum: f64 = w.iter().sum();
    w.iter().map(|x| round3(x / sum)).collect()
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Every axis of a pool; `hosts`, `storage` and `racks` are filled in as the pool is built.
fn draw_axes(requests: usize, rng: &mut ChaCha8Rng) -> SweepAxes {
    let generations = (0..rng.random_range(1..=5))
        .map(|_| {
            let cpu = 8.0 * rng.random_range(4..=16) as f64;
            let per_cpu = rng.random_range(2..=8) as f64;
            Generation {
                cpu,
                memory_gib: cpu * per_cpu,
            }
        })
        .collect();
    let shared = rng.random_range(1..=4);
    let mut tight = || round3(rng.random_range(0.6..=1.05));
    let tightness = Tightness {
        cpu: tight(),
        memory: tight(),
        disk: tight(),
    };
    let (a, b) = (rng.random_range(2..=8), rng.random_range(2..=8));
    SweepAxes {
        requests,
        hosts: 0,
        storage: 0,
        requests_per_host: round3(5.0 * rng.random_range(0.7..=1.3)),
        hosts_per_storage: round3(10.0 * rng.random_range(0.7..=1.3)),
        generations,
        rack_hosts: rng.random_range(10..=40),
        racks: 0,
        used_jitter: round3(rng.random_range(0.0..=0.4)),
        idle_share: round3(rng.random_range(0.0..=0.4)),
        shared_storage: shared,
        shared_reach: (0..shared)
            .map(|_| round3(rng.random_range(0.2..=1.0)))
            .collect(),
        rack_local: rng.random_range(0..=2),
        tightness,
        storage_jitter: round3(rng.random_range(0.0..=0.4)),
        vcpu_weights: weights(&VCPU_TILT, rng),
        memory_per_vcpu: [a.min(b) as f64, a.max(b) as f64],
        disk_weights: weights(&[1.0; DISK_SIZES.len()], rng),
        decoy_storage: if rng.random_bool(0.3) {
            rng.random_range(1..=2)
        } else {
            0
        },
        huge_vms: if rng.random_bool(0.3) {
            rng.random_range(2..=5) * (1 + requests / 1000)
        } else {
            0
        },
        anti_affinity: if rng.random_bool(0.2) {
            round3(rng.random_range(0.05..=0.3))
        } else {
            0.0
        },
        groups: if rng.random_bool(0.15) {
            rng.random_range(2..=6) * (1 + requests / 1000)
        } else {
            0
        },
    }
}

fn res(cpu: f64, mem: f64) -> Resources {
    [("cpu".to_string(), cpu), ("memory_gib".to_string(), mem)]
        .into_iter()
        .collect()
}

fn request(i: usize, cpu: f64, mem: f64, disk: f64) -> Request {
    Request::plain(format!("r{i}"), res(cpu, mem), disk)
}

/// The requests, in input order, drawn from the pool's VM mix.
fn vm_mix(ax: &SweepAxes, rng: &mut ChaCha8Rng) -> Vec<Request> {
    let cpu_w = WeightedIndex::new(&ax.vcpu_weights).expect("positive weights");
    let disk_w = WeightedIndex::new(&ax.disk_weights).expect("positive weights");
    let [lo, hi] = ax.memory_per_vcpu.map(|x| x as u32);
    (0..ax.requests)
        .map(|i| {
            let cpu = VCPU_SIZES[cpu_w.sample(rng)];
            let mem = cpu * rng.random_range(lo..=hi) as f64;
            request(i, cpu, mem, DISK_SIZES[disk_w.sample(rng)])
        })
        .collect()
}

/// Turns `ax.huge_vms` random requests into VMs of a quarter of the largest generation.
fn huge_vms(reqs: &mut [Request], ax: &SweepAxes, rng: &mut ChaCha8Rng) {
    let big = ax
        .generations
        .iter()
        .max_by(|a, b| a.cpu.total_cmp(&b.cpu))
        .expect("at least one generation");
    let mut order: Vec<usize> = (0..reqs.len()).collect();
    order.shuffle(rng);
    for &i in order.iter().take(ax.huge_vms) {
        reqs[i].demand = res((big.cpu / 4.0).round(), (big.memory_gib / 4.0).round());
    }
}

/// Total demand: cpu, memory, disk.
fn totals(reqs: &[Request]) -> [f64; 3] {
    let mut t = [0.0; 3];
    for r in reqs {
        t[0] += r.demand["cpu"];
        t[1] += r.demand["memory_gib"];
        t[2] += r.disk_gib;
    }
    t
}

fn capacity(h: &Host, k: usize) -> f64 {
    h.capacity[["cpu", "memory_gib"][k]]
}

/// Racks of one generation each, until there are about `requests / requests_per_host` hosts
/// and enough capacity for the free space the tightness asks (with [`HEADROOM`]).
fn build_hosts(ax: &mut SweepAxes, demand: [f64; 3], rng: &mut ChaCha8Rng) -> Vec<Host> {
    let target = ((ax.requests as f64 / ax.requests_per_host).round() as usize).max(1);
    let t = ax.tightness;
    let need = [demand[0] / t.cpu, demand[1] / t.memory].map(|f| f * HEADROOM);
    let mut hosts: Vec<Host> = Vec::new();
    let mut total = [0.0; 2];
    let mut rack = 0;
    loop {
        let roomy = total[0] >= need[0] && total[1] >= need[1];
        if roomy && hosts.len() >= target {
            break;
        }
        let g = ax.generations[rng.random_range(0..ax.generations.len())];
        let size = if roomy {
            ax.rack_hosts.min(target - hosts.len())
        } else {
            ax.rack_hosts
        };
        for _ in 0..size {
            hosts.push(Host {
                id: format!("h{}", hosts.len()),
                capacity: res(g.cpu, g.memory_gib),
                used: None,
                storage: Vec::new(),
                labels: [("rack".to_string(), format!("r{rack}"))].into(),
                allocation_ratio: Default::default(),
                reserved: Default::default(),
                traits: Default::default(),
                group_members: Default::default(),
            });
        }
        total[0] += g.cpu * size as f64;
        total[1] += g.memory_gib * size as f64;
        rack += 1;
    }
    ax.racks = rack;
    hosts
}

/// Storage links: each host reaches each shared system with its reach probability and the
/// rack-local systems of its rack (dealt round-robin over the racks), at least one system. Returns
/// the storage ids with the number of hosts reaching each.
fn cable(hosts: &mut [Host], ax: &mut SweepAxes, rng: &mut ChaCha8Rng) -> Vec<(String, usize)> {
    let target = ((hosts.len() as f64 / ax.hosts_per_storage).round() as usize).max(1);
    let shared = ax.shared_storage;
    let local = if ax.rack_local > 0 {
        target
            .saturating_sub(shared)
            .clamp(ax.rack_local, ax.racks * ax.rack_local)
    } else {
        0
    };
    let mut reach: Vec<(String, usize)> = (0..shared)
        .map(|j| (format!("shared-{j}"), 0))
        .chain((0..local).map(|j| (format!("local-{j}"), 0)))
        .collect();
    for h in hosts.iter_mut() {
        let rack: usize = h.labels["rack"][1..].parse().expect("rack label");
        let mut links: Vec<usize> = (0..ax.rack_local)
            .map(|k| shared + (rack * ax.rack_local + k) % local)
            .collect();
        links.extend((0..shared).filter(|&j| rng.random_bool(ax.shared_reach[j])));
        if links.is_empty() {
            links.push(rng.random_range(0..shared));
        }
        links.sort_unstable();
        links.dedup();
        for &s in &links {
            reach[s].1 += 1;
        }
        h.storage = links.iter().map(|&s| reach[s].0.clone()).collect();
    }
    reach
}

/// Links each decoy storage system (`decoy-D`) to a few consecutive hosts (3..8, at most a quarter
/// of the pool) as an extra link. Returns which hosts are decoy hosts, to be pinned nearly full.
fn decoys(hosts: &mut [Host], ax: &SweepAxes, rng: &mut ChaCha8Rng) -> Vec<bool> {
    let mut pinned = vec![false; hosts.len()];
    for d in 0..ax.decoy_storage {
        let few = rng.random_range(3..=8).min(hosts.len() / 4).max(1);
        let first = rng.random_range(0..=hosts.len() - few);
        for i in first..first + few {
            hosts[i].storage.push(format!("decoy-{d}"));
            pinned[i] = true;
        }
    }
    pinned
}

/// Used CPU and memory: decoy hosts at [`FULL`], a share idle, the others drawn per resource
/// around the level that leaves `demand / tightness` free.
fn load_hosts(
    hosts: &mut [Host],
    pinned: &[bool],
    ax: &mut SweepAxes,
    demand: [f64; 3],
    rng: &mut ChaCha8Rng,
) {
    let t = [ax.tightness.cpu, ax.tightness.memory];
    let mut rest = [0.0; 2];
    for k in 0..2 {
        let cap: f64 = hosts.iter().map(|h| capacity(h, k)).sum();
        let held: f64 = (0..hosts.len())
            .filter(|&i| pinned[i])
            .map(|i| FULL * capacity(&hosts[i], k))
            .sum();
        rest[k] = (cap - demand[k] / t[k] - held).max(0.0);
    }
    let active = idle_hosts(hosts, pinned, rest, ax, rng);
    let mut used = vec![[0.0; 2]; hosts.len()];
    for k in 0..2 {
        let share = spread_load(hosts, &active, k, rest[k], ax.used_jitter, rng);
        for (u, s) in used.iter_mut().zip(share) {
            u[k] = s;
        }
    }
    for (i, h) in hosts.iter_mut().enumerate() {
        let u = if pinned[i] { [FULL; 2] } else { used[i] };
        h.used = Some(res(
            round2(u[0] * capacity(h, 0)),
            round2(u[1] * capacity(h, 1)),
        ));
    }
}

/// Marks hosts idle, in random order, up to `ax.idle_share` of the pool while the others can
/// still carry `load` below [`BUSY`]; records the share reached. Returns which hosts carry load.
fn idle_hosts(
    hosts: &[Host],
    pinned: &[bool],
    load: [f64; 2],
    ax: &mut SweepAxes,
    rng: &mut ChaCha8Rng,
) -> Vec<bool> {
    let mut active: Vec<bool> = pinned.iter().map(|p| !p).collect();
    let mut room = [0, 1].map(|k| {
        (0..hosts.len())
            .filter(|&i| active[i])
            .map(|i| capacity(&hosts[i], k))
            .sum::<f64>()
    });
    let mut order: Vec<usize> = (0..hosts.len()).filter(|&i| active[i]).collect();
    order.shuffle(rng);
    let want = (ax.idle_share * hosts.len() as f64).round() as usize;
    let mut idle = 0;
    for i in order {
        if idle >= want {
            break;
        }
        let after = [0, 1].map(|k| room[k] - capacity(&hosts[i], k));
        if (0..2).all(|k| after[k] * BUSY >= load[k]) {
            active[i] = false;
            room = after;
            idle += 1;
        }
    }
    ax.idle_share = round3(idle as f64 / hosts.len() as f64);
    active
}

/// Used shares of resource `k`: each active host around the level that sums to `load`, jittered
/// by up to `jitter`, capped at [`FULL`], then rescaled to sum to `load` (water-filling).
fn spread_load(
    hosts: &[Host],
    active: &[bool],
    k: usize,
    load: f64,
    jitter: f64,
    rng: &mut ChaCha8Rng,
) -> Vec<f64> {
    let cap: Vec<f64> = hosts.iter().map(|h| capacity(h, k)).collect();
    let room: f64 = (0..hosts.len())
        .filter(|&i| active[i])
        .map(|i| cap[i])
        .sum();
    let level = if room > 0.0 { load / room } else { 0.0 };
    let mut f: Vec<f64> = active
        .iter()
        .map(|&a| {
            let x = level + jitter * rng.random_range(-1.0..=1.0);
            if a {
                x.clamp(0.0, FULL)
            } else {
                0.0
            }
        })
        .collect();
    for _ in 0..20 {
        let sum: f64 = f.iter().zip(&cap).map(|(x, c)| x * c).sum();
        if sum <= 0.0 || (sum - load).abs() < 1e-6 * load.max(1.0) {
            break;
        }
        let scale = load / sum;
        f.iter_mut().for_each(|x| *x = (*x * scale).min(FULL));
    }
    f
}

/// Storage systems with `disk / tightness` free in all but the decoys, in proportion to the
/// hosts reaching each, jittered; each decoy has three times the mean share on top. Used space is
/// 10..100 % of the free.
fn storage_space(
    reach: &[(String, usize)],
    ax: &SweepAxes,
    disk: f64,
    rng: &mut ChaCha8Rng,
) -> Vec<Storage> {
    let free = disk / ax.tightness.disk;
    let decoy_free = 3.0 * free / reach.len() as f64;
    let w: Vec<f64> = reach
        .iter()
        .map(|(_, r)| {
            let jitter = 1.0 + ax.storage_jitter * rng.random_range(-1.0..=1.0);
            (*r).max(1) as f64 * jitter
        })
        .collect();
    let wsum: f64 = w.iter().sum();
    let ids = reach
        .iter()
        .map(|(id, _)| id.clone())
        .chain((0..ax.decoy_storage).map(|d| format!("decoy-{d}")));
    let shares = w.iter().map(|x| free * x / wsum);
    let shares = shares.chain(std::iter::repeat_n(decoy_free, ax.decoy_storage));
    ids.zip(shares)
        .map(|(id, f)| {
            let f = f.ceil();
            let used = (f * rng.random_range(0.1..1.0)).round();
            Storage {
                id,
                capacity_gib: f + used,
                used_gib: used,
                allocation_ratio: None,
                reserved_gib: None,
                traits: Default::default(),
            }
        })
        .collect()
}

/// Anti-affinity groups of 2 or 3 over a random share of the requests, then `groups[]` rules.
fn rules(p: &mut Problem, ax: &SweepAxes, rng: &mut ChaCha8Rng) {
    let count = (ax.anti_affinity * p.requests.len() as f64).round() as usize;
    let mut order: Vec<usize> = (0..p.requests.len()).collect();
    order.shuffle(rng);
    let mut members = &order[..count];
    let mut g = 0;
    while members.len() >= 2 {
        let size = rng.random_range(2..=3).min(members.len());
        for &i in &members[..size] {
            p.requests[i].anti_affinity = Some(format!("aa{g}"));
        }
        members = &members[size..];
        g += 1;
    }
    if ax.groups > 0 {
        super::groups(p, ax.groups, rng.random(), true);
    }
}

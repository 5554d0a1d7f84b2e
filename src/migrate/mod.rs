//! Migration planning for one monitoring round: overload detection, VM selection, admission by
//! each candidate host, target choice by policy weights, and underload evacuation
//! (Beloglazov & Buyya 2012, as in CloudSim's power examples).

pub mod detect;
mod optimize;
pub mod validate;

use crate::format::state::{
    Candidate, Detection, HistorySent, HostAfter, HostState, Message, Migration, Plan, PlanStats,
    Score, Selection, State,
};
use crate::format::Status;
use rand::seq::IndexedRandom;
use rand::SeedableRng;
use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

/// Decline codes of the admission rule (stable, listed in README).
pub mod decline {
    /// The host is a source of this round (overloaded, in maintenance, or being emptied).
    pub const SOURCE: &str = "ADMISSION_SOURCE";
    /// The host is in maintenance or off.
    pub const STATE: &str = "ADMISSION_STATE";
    /// The host does not reach the VM's storage: the move could not be live.
    pub const STORAGE: &str = "ADMISSION_STORAGE";
    /// A resource would exceed capacity.
    pub const CAPACITY: &str = "ADMISSION_CAPACITY";
    /// The host would be overloaded after the move (by the round's detector).
    pub const HEADROOM: &str = "ADMISSION_HEADROOM";
    /// A member of the VM's anti-affinity group runs there.
    pub const ANTI_AFFINITY: &str = "ADMISSION_ANTI_AFFINITY";
    /// Every code.
    pub const ALL: [&str; 6] = [SOURCE, STATE, STORAGE, CAPACITY, HEADROOM, ANTI_AFFINITY];
}

/// History length kept per VM (CloudSim's `PowerVm.HISTORY_LENGTH`).
pub const HISTORY: usize = 30;

/// Resolved policy.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Detector.
    pub detection: Detection,
    /// Its parameter.
    pub parameter: f64,
    /// Threshold used when the history is too short for the detector.
    pub fallback_threshold: f64,
    /// VM selection.
    pub selection: Selection,
    /// Underload evacuation.
    pub underload: bool,
    /// Score weights (power, balance, cost).
    pub weights: (f64, f64, f64),
    /// Migration budget.
    pub budget: usize,
    /// Hold time, s.
    pub hold_s: f64,
    /// Monitoring interval, s.
    pub interval_s: f64,
    /// Seed.
    pub seed: u64,
    /// Candidates listed per migration.
    pub listed: usize,
    /// Use the round MIP instead of PABFD.
    pub optimize: bool,
    /// Reproduce CloudSim 3.0.3's PABFD (see `Emulate::Cloudsim`).
    pub cloudsim: bool,
    /// Minimum power saving of an optional move, W (round MIP).
    pub min_gain_w: f64,
    /// Time limit of the round MIP, s.
    pub time_limit_s: f64,
}

impl Policy {
    /// Defaults, then the document's choices.
    pub fn from_state(s: &State) -> Policy {
        let p = s.policy.clone().unwrap_or_default();
        let detection = p.detection.unwrap_or_default();
        let default_parameter = match detection {
            Detection::Thr => 0.8,
            Detection::Iqr => 1.5,
            Detection::Mad => 2.5,
            Detection::Lr | Detection::Lrr => 1.2,
        };
        let w = p.weights.clone();
        let optimize = p.placement.unwrap_or_default() == crate::format::state::Placement::Optimize;
        // The round MIP needs a price on moves, or it would shuffle VMs for nothing.
        let default_weights = if optimize {
            (1.0, 0.0, 0.1)
        } else {
            (1.0, 0.0, 0.0)
        };
        Policy {
            detection,
            parameter: p.parameter.unwrap_or(default_parameter),
            fallback_threshold: 0.7,
            selection: p.selection.unwrap_or_default(),
            underload: p.underload.unwrap_or(true),
            weights: w
                .map(|w| (w.power, w.balance, w.cost))
                .unwrap_or(default_weights),
            budget: p.budget.unwrap_or(usize::MAX),
            // The optimizer consolidates hard; a VM it moved stays put for two hours, or it
            // would chase every fluctuation (measured on the PlanetLab days, see README).
            hold_s: p.hold_s.unwrap_or(if optimize { 7200.0 } else { 0.0 }),
            interval_s: p.interval_s.unwrap_or(300.0),
            seed: p.seed.unwrap_or(0),
            listed: p.candidates_listed.unwrap_or(10),
            optimize,
            cloudsim: p.emulate == Some(crate::format::state::Emulate::Cloudsim),
            min_gain_w: p.min_gain_w.unwrap_or(0.0),
            time_limit_s: p.time_limit_s.unwrap_or(0.5),
        }
    }
}

/// The pool during planning: dense vectors, tentative moves applied in place.
pub struct Pool {
    /// Resource names; `cpu` is the one detectors look at.
    pub resources: Vec<String>,
    cpu: Option<usize>,
    mem: Option<usize>,
    hosts: Vec<PHost>,
    vms: Vec<PVm>,
    /// VMs per host (kept in step with `PVm::host` by `move_vm`).
    on: Vec<Vec<usize>>,
    /// CPU utilisation of each host at the start of the round (capped at 1, as a monitor
    /// measures it).
    start_util: Vec<f64>,
}

/// `PVm::host` of a VM taken off its host while selection decides.
const PARKED: usize = usize::MAX;

struct PHost {
    id: String,
    cap: Vec<f64>,
    storage: Vec<String>,
    state: HostState,
    watts: Vec<f64>,
    bw_mbps: f64,
}

struct PVm {
    id: String,
    host: usize,
    storage: String,
    demand: Vec<f64>,
    /// Current use per resource (demand x latest sample, or demand).
    now: Vec<f64>,
    /// CPU history as fractions of demand, oldest first, at most `HISTORY`.
    cpu_history: Vec<f64>,
    samples: usize,
    group: Option<String>,
    moved_ago_s: Option<f64>,
}

impl Pool {
    /// Builds the pool from a validated state.
    pub fn new(s: &State) -> Pool {
        let mut names: Vec<String> = s
            .hosts
            .iter()
            .flat_map(|h| h.capacity.keys().cloned())
            .chain(s.vms.iter().flat_map(|v| v.demand.keys().cloned()))
            .collect();
        names.sort();
        names.dedup();
        let dense = |m: &crate::format::Resources| -> Vec<f64> {
            names
                .iter()
                .map(|r| m.get(r).copied().unwrap_or(0.0))
                .collect()
        };
        let host_ix: HashMap<&str, usize> = s
            .hosts
            .iter()
            .enumerate()
            .map(|(i, h)| (h.id.as_str(), i))
            .collect();
        let hosts = s
            .hosts
            .iter()
            .map(|h| PHost {
                id: h.id.clone(),
                cap: dense(&h.capacity),
                storage: h.storage.clone(),
                state: h.state,
                watts: h
                    .power
                    .as_ref()
                    .map(|p| p.watts.clone())
                    .unwrap_or_else(|| (0..=10).map(|i| i as f64 * 10.0).collect()),
                bw_mbps: h.bandwidth_mbps.unwrap_or(1000.0),
            })
            .collect();
        let vms: Vec<PVm> = s
            .vms
            .iter()
            .map(|v| {
                let demand = dense(&v.demand);
                let now = names
                    .iter()
                    .zip(&demand)
                    .map(|(r, d)| {
                        d * v
                            .usage
                            .get(r)
                            .and_then(|u| u.last())
                            .copied()
                            .unwrap_or(1.0)
                    })
                    .collect();
                let history = v.usage.get("cpu").cloned().unwrap_or_default();
                let samples = history.len();
                let keep = history.len().saturating_sub(HISTORY);
                PVm {
                    id: v.id.clone(),
                    host: host_ix.get(v.host.as_str()).copied().unwrap_or(0),
                    storage: v.storage.clone(),
                    demand,
                    now,
                    cpu_history: history[keep..].to_vec(),
                    samples,
                    group: v.anti_affinity.clone(),
                    moved_ago_s: v.moved_ago_s,
                }
            })
            .collect();
        let cpu = names.iter().position(|r| r == "cpu");
        let mem = names
            .iter()
            .position(|r| r.to_ascii_lowercase().contains("mem"));
        let mut on: Vec<Vec<usize>> = vec![Vec::new(); s.hosts.len()];
        for (v, vm) in vms.iter().enumerate() {
            on[vm.host].push(v);
        }
        let mut pool = Pool {
            resources: names,
            cpu,
            mem,
            hosts,
            vms,
            on,
            start_util: Vec::new(),
        };
        pool.start_util = (0..pool.hosts.len())
            .map(|h| pool.cpu_util(h).min(1.0))
            .collect();
        pool
    }

    fn vms_on(&self, h: usize) -> impl Iterator<Item = usize> + '_ {
        self.on.get(h).into_iter().flatten().copied()
    }

    /// Order for placement: larger current CPU use first (CloudSim sorts the same way), then id.
    fn by_cpu_desc(&self, a: usize, b: usize) -> std::cmp::Ordering {
        let cpu = |v: usize| self.cpu.map(|k| self.vms[v].now[k]).unwrap_or(0.0);
        cpu(b).total_cmp(&cpu(a)).then(a.cmp(&b))
    }

    /// Moves VM `v` to host `to` (or `PARKED`), keeping the per-host index.
    fn move_vm(&mut self, v: usize, to: usize) {
        let from = self.vms[v].host;
        if let Some(list) = self.on.get_mut(from) {
            list.retain(|&x| x != v);
        }
        if let Some(list) = self.on.get_mut(to) {
            list.push(v);
        }
        self.vms[v].host = to;
    }

    fn used(&self, h: usize) -> Vec<f64> {
        let mut u = vec![0.0; self.resources.len()];
        for v in self.vms_on(h) {
            for (a, b) in u.iter_mut().zip(&self.vms[v].now) {
                *a += b;
            }
        }
        u
    }

    /// Current CPU utilisation of a host (requested over capacity; may exceed 1).
    pub fn cpu_util(&self, h: usize) -> f64 {
        match self.cpu {
            Some(k) if self.hosts[h].cap[k] > 0.0 => self.used(h)[k] / self.hosts[h].cap[k],
            _ => 0.0,
        }
    }

    /// Host CPU history from its current VMs, oldest first (CloudSim builds it the same way).
    fn host_history(&self, h: usize) -> Vec<f64> {
        let Some(k) = self.cpu else { return Vec::new() };
        let cap = self.hosts[h].cap[k];
        let len = self
            .vms_on(h)
            .map(|v| self.vms[v].cpu_history.len())
            .max()
            .unwrap_or(0);
        let mut out = vec![0.0; len];
        for v in self.vms_on(h) {
            let hist = &self.vms[v].cpu_history;
            let offset = len - hist.len();
            for (i, x) in hist.iter().enumerate() {
                out[offset + i] += x * self.vms[v].demand[k] / cap.max(1e-12);
            }
        }
        out
    }

    /// Seconds to migrate VM `v` from its host: memory / (bandwidth / 2), memory in GiB, Mbit/s.
    fn migration_time(&self, v: usize) -> f64 {
        let gib = self.mem.map(|k| self.vms[v].demand[k]).unwrap_or(0.0);
        let bw = self.hosts[self.vms[v].host].bw_mbps;
        gib * 8.0 * 1024.0 / (bw / 2.0)
    }

    fn power(&self, h: usize, util: f64) -> f64 {
        detect::power_at(&self.hosts[h].watts, util)
    }

    fn overloaded(&self, h: usize, p: &Policy) -> bool {
        let max_migration = self
            .vms_on(h)
            .map(|v| self.migration_time(v))
            .fold(0.0, f64::max);
        detect::overloaded(p, self.cpu_util(h), &self.host_history(h), max_migration)
    }
}

struct Ctx<'a> {
    pool: Pool,
    policy: &'a Policy,
    migrations: Vec<Migration>,
    messages: Vec<Message>,
    moved: Vec<bool>,
}

/// Power drawn by the hosts that run VMs, and how many they are.
fn power_totals(pool: &Pool) -> (f64, usize) {
    let mut w = 0.0;
    let mut active = 0;
    for h in 0..pool.hosts.len() {
        if pool.vms_on(h).next().is_some() {
            w += pool.power(h, pool.cpu_util(h));
            active += 1;
        }
    }
    (w, active)
}

/// The source asks `host` about `vm`; the host accepts or declines.
fn converse(messages: &mut Vec<Message>, vm: &str, source: &str, host: &str, accepted: bool) {
    let say = |kind: &str, from: &str, to: &str| Message {
        kind: kind.into(),
        vm: vm.into(),
        from: from.into(),
        to: to.into(),
    };
    messages.push(say("request", source, host));
    messages.push(say(
        if accepted { "accept" } else { "decline" },
        host,
        source,
    ));
}

/// The source confirms the chosen target and the VM moves.
fn confirm(messages: &mut Vec<Message>, vm: &str, source: &str, target: &str) {
    for kind in ["confirm", "migrate"] {
        messages.push(Message {
            kind: kind.into(),
            vm: vm.into(),
            from: source.into(),
            to: target.into(),
        });
    }
}

/// Plans one round.
pub fn plan(state: &State) -> Plan {
    plan_with(state, &Policy::from_state(state))
}

/// Plans one round with a resolved policy.
pub fn plan_with(state: &State, policy: &Policy) -> Plan {
    let start = Instant::now();
    let pool = Pool::new(state);
    let n_hosts = pool.hosts.len();
    let (power_before, active_before) = power_totals(&pool);
    let mut cx = Ctx {
        moved: vec![false; pool.vms.len()],
        pool,
        policy,
        migrations: Vec::new(),
        messages: Vec::new(),
    };
    let mut stats = PlanStats {
        power_before_w: power_before,
        active_hosts_before: active_before,
        ..Default::default()
    };

    // Sources: hosts in maintenance (every VM leaves), then overloaded hosts (VMs leave until the
    // detector is satisfied).
    let mut sources = vec![false; n_hosts];
    let mut leaving: Vec<(usize, &'static str)> = Vec::new();
    for (h, source) in sources.iter_mut().enumerate() {
        if cx.pool.hosts[h].state != HostState::Active {
            *source = cx.pool.vms_on(h).next().is_some();
            leaving.extend(
                cx.pool
                    .vms_on(h)
                    .map(|v| (v, "maintenance"))
                    .collect::<Vec<_>>(),
            );
        }
    }
    let overloaded: Vec<usize> = (0..n_hosts)
        .filter(|&h| cx.pool.hosts[h].state == HostState::Active && cx.pool.overloaded(h, policy))
        .collect();
    stats.overloaded_hosts = overloaded
        .iter()
        .map(|&h| cx.pool.hosts[h].id.clone())
        .collect();
    if policy.optimize {
        let status = optimize::round(&mut cx, &overloaded, &mut stats);
        return finish(cx, stats, status, start);
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(policy.seed);
    for &h in &overloaded {
        sources[h] = true;
        // Selection removes VMs tentatively (parked on no host) until the host is fine.
        let parked = PARKED;
        while let Some(v) = select(&cx.pool, h, policy, &mut rng) {
            cx.pool.move_vm(v, parked);
            leaving.push((v, "overload"));
            if !cx.pool.overloaded(h, policy) {
                break;
            }
        }
        let parked_vms: Vec<usize> = leaving
            .iter()
            .filter(|(v, r)| *r == "overload" && cx.pool.vms[*v].host == parked)
            .map(|(v, _)| *v)
            .collect();
        for v in parked_vms {
            cx.pool.move_vm(v, h);
        }
    }
    // Placement: by decreasing CPU use, each to the best accepting host.
    let mut order = leaving.clone();
    order.sort_by(|a, b| cx.pool.by_cpu_desc(a.0, b.0));
    for (v, reason) in order {
        if cx.migrations.len() >= policy.budget || !place(&mut cx, v, &sources, reason) {
            stats.stayed.push(cx.pool.vms[v].id.clone());
        }
    }
    // Underload: empty the least-utilised hosts whose VMs all fit elsewhere.
    if policy.underload {
        let mut tried = sources.clone();
        // Evacuating onto a switched-off (empty) host saves nothing: those are no targets here.
        let mut closed: Vec<bool> = (0..n_hosts)
            .map(|h| sources[h] || cx.pool.vms_on(h).next().is_none())
            .collect();
        if policy.cloudsim {
            // CloudSim takes hosts that were off at the start of the round as off.
            for (h, c) in closed.iter_mut().enumerate() {
                *c |= cx.pool.start_util[h] == 0.0;
            }
        }
        loop {
            // vmplace ranks by utilisation after the round's moves so far and leaves alone a
            // host that just received a VM; CloudSim ranks by the start of the round and does not.
            let candidate = (0..n_hosts)
                .filter(|&h| !tried[h] && cx.pool.hosts[h].state == HostState::Active)
                .map(|h| {
                    let u = if policy.cloudsim {
                        cx.pool.start_util[h]
                    } else {
                        cx.pool.cpu_util(h)
                    };
                    (h, u)
                })
                .filter(|&(h, u)| {
                    u > 0.0
                        && u < 1.0
                        && ((policy.cloudsim) || cx.pool.vms_on(h).all(|v| !cx.moved[v]))
                })
                .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
            let Some((h, _)) = candidate else { break };
            tried[h] = true;
            closed[h] = true;
            let vms: Vec<usize> = cx.pool.vms_on(h).collect();
            if vms.is_empty() || cx.migrations.len() + vms.len() > policy.budget {
                continue;
            }
            let snapshot = (cx.migrations.len(), cx.messages.len());
            let moved_before: Vec<usize> = vms.iter().copied().filter(|&v| cx.moved[v]).collect();
            let mut ok = true;
            let mut order = vms.clone();
            order.sort_by(|a, b| cx.pool.by_cpu_desc(*a, *b));
            for v in order {
                if !place(&mut cx, v, &closed, "underload") {
                    ok = false;
                    break;
                }
            }
            if ok {
                stats.emptied_hosts.push(cx.pool.hosts[h].id.clone());
                for m in &cx.migrations[snapshot.0..] {
                    if let Some(t) = cx.pool.hosts.iter().position(|x| x.id == m.to) {
                        tried[t] = true;
                    }
                }
                // A VM that came here earlier in the round goes straight to its new target: one
                // move in the plan, two in CloudSim's count.
                for &v in &moved_before {
                    let id = &cx.pool.vms[v].id;
                    let Some(last) = cx.migrations.iter().rposition(|m| &m.vm == id) else {
                        continue;
                    };
                    let second = cx.migrations.remove(last);
                    if let Some(first) = cx.migrations.iter_mut().find(|m| &m.vm == id) {
                        first.rerouted_from = Some(std::mem::replace(&mut first.to, second.to));
                        first.score = second.score;
                        first.candidates = second.candidates;
                        stats.rerouted += 1;
                    }
                }
            } else {
                // Not all VMs can leave: cancel this host's moves.
                for m in cx.migrations.drain(snapshot.0..).collect::<Vec<_>>() {
                    if let Some(v) = cx.pool.vms.iter().position(|x| x.id == m.vm) {
                        cx.pool.move_vm(v, h);
                        cx.moved[v] = moved_before.contains(&v);
                    }
                }
                cx.messages.truncate(snapshot.1);
            }
        }
    }
    finish(cx, stats, Status::Feasible, start)
}

/// Power, utilisation and statistics after the round's moves.
fn finish(cx: Ctx, mut stats: PlanStats, status: Status, start: Instant) -> Plan {
    let n_hosts = cx.pool.hosts.len();
    let (power_after, active_after) = power_totals(&cx.pool);
    stats.power_after_w = power_after;
    stats.active_hosts_after = active_after;
    let hosts_after = (0..n_hosts)
        .map(|h| {
            let used = cx.pool.used(h);
            let n = cx.pool.vms_on(h).count();
            let util = cx
                .pool
                .resources
                .iter()
                .zip(used.iter().zip(&cx.pool.hosts[h].cap))
                .map(|(r, (u, c))| (r.clone(), if *c > 0.0 { u / c } else { 0.0 }))
                .collect();
            let power_w = if n > 0 {
                cx.pool.power(h, cx.pool.cpu_util(h))
            } else {
                0.0
            };
            (
                cx.pool.hosts[h].id.clone(),
                HostAfter {
                    utilisation: util,
                    vms: n,
                    power_w,
                },
            )
        })
        .collect::<BTreeMap<_, _>>();
    stats.time_s = start.elapsed().as_secs_f64();
    Plan {
        status,
        migrations: cx.migrations,
        messages: cx.messages,
        hosts_after,
        stats,
    }
}

/// The VM selection policy's next VM on host `h` (None if none may move).
fn select(pool: &Pool, h: usize, p: &Policy, rng: &mut rand_chacha::ChaCha8Rng) -> Option<usize> {
    let movable: Vec<usize> = pool
        .vms_on(h)
        .filter(|&v| pool.vms[v].moved_ago_s.is_none_or(|s| s >= p.hold_s))
        .collect();
    match p.selection {
        // Ties go to the VM listed first on the host: the one that has been there longest when
        // the state lists VMs in arrival order (as CloudSim keeps its lists).
        Selection::Mmt => movable
            .iter()
            .copied()
            .min_by(|&a, &b| pool.migration_time(a).total_cmp(&pool.migration_time(b))),
        Selection::Mu => {
            let util = |v: usize| {
                pool.cpu
                    .map(|k| pool.vms[v].now[k] / pool.vms[v].demand[k].max(1e-12))
                    .unwrap_or(0.0)
            };
            movable
                .iter()
                .copied()
                .min_by(|&a, &b| util(a).total_cmp(&util(b)).then(a.cmp(&b)))
        }
        Selection::Rs => movable.choose(rng).copied(),
        Selection::Mc => max_correlation(pool, &movable).or_else(|| {
            select(
                pool,
                h,
                &Policy {
                    selection: Selection::Mmt,
                    ..p.clone()
                },
                rng,
            )
        }),
    }
}

/// The VM among `vms` whose CPU history the others' histories explain best: the largest R² of
/// an ordinary least-squares regression (with intercept) on the others, over the samples all of
/// them have. None when there are fewer samples than coefficients or fewer than two VMs.
fn max_correlation(pool: &Pool, vms: &[usize]) -> Option<usize> {
    let n = vms.len();
    let m = vms.iter().map(|&v| pool.vms[v].cpu_history.len()).min()?;
    if n < 2 || m <= n {
        return None;
    }
    let series = |v: usize| {
        let h = &pool.vms[v].cpu_history;
        &h[h.len() - m..]
    };
    let mut best: Option<(f64, usize)> = None;
    for (i, &v) in vms.iter().enumerate() {
        let y = nalgebra::DVector::from_column_slice(series(v));
        let x = nalgebra::DMatrix::from_fn(m, n, |row, col| match col {
            0 => 1.0,
            c => series(vms[if c <= i { c - 1 } else { c }])[row],
        });
        let beta = x.clone().svd(true, true).solve(&y, 1e-12).ok()?;
        let residual = &y - &x * beta;
        let mean = y.mean();
        let total: f64 = y.iter().map(|a| (a - mean) * (a - mean)).sum();
        let r2 = if total > 0.0 {
            1.0 - residual.norm_squared() / total
        } else {
            0.0
        };
        if best.is_none_or(|(b, _)| r2 > b) {
            best = Some((r2, v));
        }
    }
    best.map(|b| b.1)
}

/// One host's answer: host, decline (code, reason) or None, score if it accepted.
type Answer = (usize, Option<(&'static str, String)>, Option<Score>);

/// Asks every host about VM `v`, picks the best acceptor by the weights, and books the move.
fn place(cx: &mut Ctx, v: usize, excluded: &[bool], reason: &str) -> bool {
    let pool = &cx.pool;
    let src = pool.vms[v].host;
    let vm = &pool.vms[v];
    // (host, verdict, score) for every host asked.
    let mut answers: Vec<Answer> = Vec::new();
    for h in 0..pool.hosts.len() {
        if h == src {
            continue;
        }
        let verdict = admission(pool, v, h, excluded, cx.policy);
        let score = verdict.is_none().then(|| {
            let host = &pool.hosts[h];
            let before = pool.cpu_util(h);
            let add = pool
                .cpu
                .map(|k| vm.now[k] / host.cap[k].max(1e-12))
                .unwrap_or(0.0);
            // The increase over the host's power now, idle or not; CloudSim takes "now" as the
            // start of the round, before the round's earlier moves.
            let reference = if cx.policy.cloudsim {
                pool.start_util[h]
            } else {
                before
            };
            let power = pool.power(h, before + add) - pool.power(h, reference);
            let cost = pool.migration_time(v);
            let (wp, wb, wc) = cx.policy.weights;
            let total = wp * power + wb * (before + add) + wc * cost;
            Score {
                total,
                power,
                balance: before + add,
                cost,
            }
        });
        answers.push((h, verdict, score));
    }
    let best = answers
        .iter()
        .filter_map(|(h, _, sc)| sc.as_ref().map(|sc| (*h, sc.total)))
        .fold(None, |best: Option<(usize, f64)>, (h, t)| match best {
            Some((_, bt)) if bt <= t => best,
            _ => Some((h, t)),
        });
    let Some((target, _)) = best else {
        return false;
    };
    let mut declined: BTreeMap<String, usize> = BTreeMap::new();
    for (_, verdict, _) in &answers {
        if let Some((code, _)) = verdict {
            *declined.entry(code.to_string()).or_default() += 1;
        }
    }
    let mut acceptors: Vec<&Answer> = answers.iter().filter(|a| a.2.is_some()).collect();
    acceptors.sort_by(|a, b| {
        let (ta, tb) = (
            a.2.as_ref().map_or(0.0, |s| s.total),
            b.2.as_ref().map_or(0.0, |s| s.total),
        );
        ta.total_cmp(&tb).then(a.0.cmp(&b.0))
    });
    let listed = cx.policy.listed.max(1);
    let shown = acceptors
        .into_iter()
        .take(listed)
        .chain(answers.iter().filter(|a| a.1.is_some()).take(listed));
    let src_id = pool.hosts[src].id.clone();
    let vm_id = vm.id.clone();
    let mut candidates = Vec::new();
    for (h, verdict, _) in shown {
        let host_id = pool.hosts[*h].id.clone();
        let accepted = verdict.is_none();
        converse(&mut cx.messages, &vm_id, &src_id, &host_id, accepted);
        let (code, why) = verdict
            .as_ref()
            .map(|(c, r)| (Some(c.to_string()), Some(r.clone())))
            .unwrap_or((None, None));
        candidates.push(Candidate {
            host: host_id,
            accepted,
            code,
            reason: why,
        });
    }
    let score = answers
        .iter()
        .find(|a| a.0 == target)
        .and_then(|a| a.2.clone())
        .unwrap_or(Score {
            total: 0.0,
            power: 0.0,
            balance: 0.0,
            cost: 0.0,
        });
    let to = pool.hosts[target].id.clone();
    let samples = vm.samples;
    let asked = answers.len();
    confirm(&mut cx.messages, &vm_id, &src_id, &to);
    cx.pool.move_vm(v, target);
    cx.moved[v] = true;
    cx.migrations.push(Migration {
        vm: vm_id,
        from: src_id,
        to,
        live: true,
        reason: reason.to_string(),
        score,
        candidates,
        asked,
        declined,
        history_sent: HistorySent { samples },
        rerouted_from: None,
    });
    true
}

/// The admission rule of host `h` for VM `v`: None = accept, or (code, reason).
fn admission(
    pool: &Pool,
    v: usize,
    h: usize,
    excluded: &[bool],
    p: &Policy,
) -> Option<(&'static str, String)> {
    let host = &pool.hosts[h];
    let vm = &pool.vms[v];
    if excluded[h] {
        return Some((decline::SOURCE, "the host is a source of this round".into()));
    }
    if host.state != HostState::Active {
        return Some((
            decline::STATE,
            format!("the host is {:?}", host.state).to_lowercase(),
        ));
    }
    if !host.storage.contains(&vm.storage) {
        return Some((
            decline::STORAGE,
            format!(
                "not connected to storage `{}`: no live migration",
                vm.storage
            ),
        ));
    }
    if let Some(g) = &vm.group {
        if pool
            .vms_on(h)
            .any(|o| pool.vms[o].group.as_ref() == Some(g))
        {
            return Some((
                decline::ANTI_AFFINITY,
                format!("runs a member of group `{g}`"),
            ));
        }
    }
    let used = pool.used(h);
    for (k, r) in pool.resources.iter().enumerate() {
        if used[k] + vm.now[k] > host.cap[k] + 1e-9 {
            return Some((
                decline::CAPACITY,
                format!("`{r}`: {} + {} > {}", used[k], vm.now[k], host.cap[k]),
            ));
        }
    }
    if pool.vms_on(h).next().is_some() {
        // Would the detector flag the host with the VM on it? (CloudSim skips this for empty hosts.)
        let k = pool.cpu?;
        let util = (used[k] + vm.now[k]) / host.cap[k].max(1e-12);
        let mut hist = pool.host_history(h);
        let vh = &vm.cpu_history;
        if hist.len() < vh.len() {
            let pad = vh.len() - hist.len();
            hist.splice(0..0, std::iter::repeat_n(0.0, pad));
        }
        let offset = hist.len() - vh.len();
        for (i, x) in vh.iter().enumerate() {
            hist[offset + i] += x * vm.demand[k] / host.cap[k].max(1e-12);
        }
        let max_migration = pool
            .vms_on(h)
            .map(|o| pool.migration_time(o))
            .fold(pool.migration_time(v), f64::max);
        if detect::overloaded(p, util, &hist, max_migration) {
            return Some((
                decline::HEADROOM,
                format!(
                    "would be overloaded after the move ({:.0} % CPU)",
                    util * 100.0
                ),
            ));
        }
    }
    None
}

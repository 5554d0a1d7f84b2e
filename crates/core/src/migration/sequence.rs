//! Safe steps (models/migration.md, "Safe steps"): the round's moves as ordered waves that can run
//! together. During a wave a VM holds its resources on both its source and its target, so a move
//! joins a wave only if its target has room for it on top of everything there and everything
//! arriving in that wave, and if neither of its hosts already takes part in
//! `max_concurrent_per_host` migrations of the wave. Moves of the busiest hosts go first (list
//! scheduling towards the floor). When no waiting move has room, one goes through a pivot host
//! with room, at most once per move; when none can, every waiting move is dropped and reported
//! (`NO_SAFE_ORDER`). A move dropped after its pivot is scheduled again without one, so that no VM
//! is left on a pivot.

use super::Ctx;
use crate::domain::groups::Policy;
use crate::domain::groups::{Counts, MemberCounts};
use crate::domain::migration::{HostIx, IxVec, Pool, VmIx};
use crate::domain::NOISE;
use std::collections::{BTreeMap, HashMap, HashSet};
use vmplace_wire::state::{DropCode, DroppedMove, HostState, MessageKind, Migration, PlanStats};

/// One hop of a VM: the whole planned move, or a leg of it through a pivot.
#[derive(Debug, Clone, Copy)]
struct Hop {
    vm: VmIx,
    from: HostIx,
    to: HostIx,
    /// The migration (index in the plan) this hop belongs to.
    mig: usize,
}

/// The pool while the waves are replayed: where each VM is and what each host holds.
struct Replay<'a> {
    pool: &'a Pool,
    at: IxVec<VmIx, HostIx>,
    /// Where each VM was before the plan: it keeps its transient share there.
    home: IxVec<VmIx, HostIx>,
    load: IxVec<HostIx, Vec<f64>>,
    members: HashMap<(HostIx, &'a str), usize>,
    /// Per rule of `groups[]` and domain: members there (a leaving member until its wave ends);
    /// sparse, so that it costs the members, not rules x domains (issue 27, H2).
    counts: Vec<Counts>,
    /// Per rule: its violations before the plan, which no wave may exceed.
    broken: Vec<u32>,
    /// `counts` before the plan.
    start: Vec<Counts>,
}

impl<'a> Replay<'a> {
    /// The pool before the plan: every migrated VM back on its source.
    fn before(pool: &'a Pool, sources: &[(VmIx, HostIx)]) -> Replay<'a> {
        let mut at = pool.vms.map(|v| v.host);
        for &(v, from) in sources {
            at[v] = from;
        }
        let mut r = Replay {
            pool,
            load: IxVec::filled(vec![0.0; pool.axes.len()], pool.hosts.len()),
            members: HashMap::new(),
            at: IxVec::new(),
            home: at.clone(),
            counts: vec![Counts::default(); pool.rules.len()],
            broken: Vec::new(),
            start: Vec::new(),
        };
        for (v, &h) in at.enumerate() {
            r.arrive(v, h);
        }

        r.at = at;
        r.start = r.counts.clone();
        r.broken = pool
            .rules
            .iter()
            .zip(&r.counts)
            .map(|(g, c)| g.violations(c))
            .collect();
        r
    }

    fn arrive(&mut self, v: VmIx, h: HostIx) {
        let vm = &self.pool.vms[v];
        let Some(load) = self.load.get_mut(h) else {
            return;
        };
        for (l, x) in load.iter_mut().zip(&vm.now) {
            *l += x;
        }
        if let Some(g) = vm.group.as_deref() {
            *self.members.entry((h, g)).or_default() += 1;
        }
        for &r in &vm.rules {
            if let Some(dm) = self.pool.domain(r, h) {
                self.counts[r].add(dm, 1);
            }
        }
    }

    fn leave(&mut self, v: VmIx, h: HostIx) {
        let vm = &self.pool.vms[v];
        // A transient resource stays held on the VM's host before the plan.
        let home = self.home.get(v) == Some(&h);
        for (k, (l, x)) in self.load[h].iter_mut().zip(&vm.now).enumerate() {
            if !(home && self.pool.transient.get(k).copied().unwrap_or(false)) {
                *l -= x;
            }
        }
        if let Some(g) = vm.group.as_deref() {
            if let Some(n) = self.members.get_mut(&(h, g)) {
                *n = n.saturating_sub(1);
            }
        }
        for &r in &vm.rules {
            if let Some(dm) = self.pool.domain(r, h) {
                self.counts[r].remove(dm, 1);
            }
        }
    }

    /// Whether host `h` has room for VM `v` on top of what it holds and `extra`.
    fn room(&self, h: HostIx, v: VmIx, extra: &[f64]) -> bool {
        let cap = &self.pool.hosts[h].cap;
        let now = &self.pool.vms[v].now;
        (0..cap.len()).all(|k| self.load[h][k] + extra[k] + now[k] <= cap[k] + NOISE)
    }

    /// Members of rule `r` in domain `t` before the plan: a domain that already held more than
    /// anti-affinity allows may hold as many, no more.
    fn broken_count(&self, r: usize, t: usize) -> u32 {
        self.start.get(r).map(|c| c.at(t)).unwrap_or(0)
    }

    fn has_member(&self, h: HostIx, g: &str) -> bool {
        self.members.get(&(h, g)).copied().unwrap_or(0) > 0
    }

    /// The wave's moves done: each VM leaves its source.
    fn apply(&mut self, wave: &[Hop]) {
        for hop in wave {
            self.leave(hop.vm, hop.from);
            self.arrive(hop.vm, hop.to);
            self.at[hop.vm] = hop.to;
        }
    }
}

/// A wave being filled: migrations per host, and what arrives on each host.
struct Wave<'a> {
    hops: Vec<Hop>,
    part: Vec<usize>,
    incoming: HashMap<HostIx, Vec<f64>>,
    groups: HashSet<(HostIx, &'a str)>,
    /// Per (rule, domain): members arriving from other domains in this wave.
    arriving: HashMap<(usize, usize), u32>,
    /// Per (rule, domain): members arriving less members leaving in this wave (ordered, so that
    /// one rule's changes are one range).
    delta: BTreeMap<(usize, usize), i64>,
    limit: usize,
}

impl<'a> Wave<'a> {
    fn new(hosts: usize, limit: usize) -> Wave<'a> {
        Wave {
            hops: Vec::new(),
            part: vec![0; hosts],
            incoming: HashMap::new(),
            groups: HashSet::new(),
            arriving: HashMap::new(),
            delta: BTreeMap::new(),
            limit,
        }
    }

    /// Whether `hop` can run in this wave: both hosts below the concurrency limit, room on the
    /// target for the VM on top of what it holds and what else arrives, and no other member of
    /// the VM's anti-affinity group there or arriving.
    fn admits(&self, st: &Replay<'a>, hop: &Hop) -> bool {
        if self.part[hop.from.0] >= self.limit || self.part[hop.to.0] >= self.limit {
            return false;
        }
        let none = vec![0.0; st.pool.axes.len()];
        let extra = self.incoming.get(&hop.to).unwrap_or(&none);
        if !st.room(hop.to, hop.vm, extra) {
            return false;
        }
        let legacy = match st.pool.vms[hop.vm].group.as_deref() {
            Some(g) => !st.has_member(hop.to, g) && !self.groups.contains(&(hop.to, g)),
            None => true,
        };
        legacy && self.rules_admit(st, hop)
    }

    /// The hard rules of `groups[]` while the wave runs (models/migration.md, "Safe steps"):
    /// anti-affinity counts a moving member in both its domains, so a domain holds at most
    /// `max_per_domain` (or what it held before the plan) with the wave's arrivals; affinity and
    /// spread look at the state once the wave has run, which must be no more broken than before
    /// the plan.
    fn rules_admit(&self, st: &Replay<'a>, hop: &Hop) -> bool {
        let pool = st.pool;
        pool.vms[hop.vm].rules.iter().all(|&r| {
            let rule = &pool.rules[r];
            let (from, to) = (pool.domain(r, hop.from), pool.domain(r, hop.to));
            if !rule.hard || from == to {
                return true;
            }
            match (rule.policy, to) {
                (Policy::AntiAffinity { .. }, None) => true,
                (Policy::AntiAffinity { max }, Some(t)) => {
                    let now = st.counts[r].at(t) + self.arriving.get(&(r, t)).copied().unwrap_or(0);
                    now < max.max(st.broken_count(r, t))
                }
                _ => {
                    let mut after = st.counts[r].clone();
                    for (&(_, d), &change) in self.delta.range((r, 0)..=(r, usize::MAX)) {
                        match u32::try_from(change) {
                            Ok(up) => after.add(d, up),
                            Err(_) => after.remove(d, change.unsigned_abs() as u32),
                        }
                    }
                    if let Some(f) = from {
                        after.remove(f, 1);
                    }
                    if let Some(t) = to {
                        after.add(t, 1);
                    }
                    rule.violations(&after) <= st.broken[r]
                }
            }
        })
    }

    fn add(&mut self, st: &Replay<'a>, hop: Hop) {
        self.part[hop.from.0] += 1;
        self.part[hop.to.0] += 1;
        let vm = &st.pool.vms[hop.vm];
        let extra = self
            .incoming
            .entry(hop.to)
            .or_insert_with(|| vec![0.0; vm.now.len()]);
        for (e, x) in extra.iter_mut().zip(&vm.now) {
            *e += x;
        }
        if let Some(g) = vm.group.as_deref() {
            self.groups.insert((hop.to, g));
        }
        for &r in &vm.rules {
            let (from, to) = (st.pool.domain(r, hop.from), st.pool.domain(r, hop.to));
            if from != to {
                if let Some(f) = from {
                    *self.delta.entry((r, f)).or_default() -= 1;
                }
                if let Some(t) = to {
                    *self.arriving.entry((r, t)).or_default() += 1;
                    *self.delta.entry((r, t)).or_default() += 1;
                }
            }
        }
        self.hops.push(hop);
    }

    /// Adds every waiting hop the wave admits, in order; returns the others.
    fn fill(&mut self, st: &Replay<'a>, waiting: Vec<Hop>) -> Vec<Hop> {
        let mut rest = Vec::new();
        for hop in waiting {
            if self.admits(st, &hop) {
                self.add(st, hop);
            } else {
                rest.push(hop);
            }
        }
        rest
    }
}

/// Waiting hops, busiest hosts first: by the larger of their two hosts' waiting migrations, then
/// in plan order.
fn by_busiest(waiting: &mut [Hop], hosts: usize) {
    let mut count = vec![0usize; hosts];
    for h in waiting.iter() {
        count[h.from.0] += 1;
        count[h.to.0] += 1;
    }
    waiting.sort_by_key(|h| (std::cmp::Reverse(count[h.from.0].max(count[h.to.0])), h.mig));
}

/// A pivot for `hop`: an active host other than its two that reaches the VM's storage, has room
/// for it and holds no member of its group; the one with the most room left on its tightest
/// resource. None for a member of a hard rule of `groups[]`.
fn pivot(st: &Replay, hop: &Hop) -> Option<HostIx> {
    let vm = &st.pool.vms[hop.vm];
    if vm.rules.iter().any(|&r| st.pool.rules[r].hard) {
        // A detour would change the member's domain twice; its rules count the direct move.
        return None;
    }
    let none = vec![0.0; st.pool.axes.len()];
    st.pool
        .host_ids()
        .filter(|&h| h != hop.from && h != hop.to)
        .filter(|&h| st.pool.hosts[h].state == HostState::Active)
        .filter(|&h| st.pool.hosts[h].storage.contains(&vm.storage))
        .filter(|&h| st.pool.traits_allow(hop.vm, h))
        .filter(|&h| st.room(h, hop.vm, &none))
        .filter(|&h| vm.group.as_deref().is_none_or(|g| !st.has_member(h, g)))
        .map(|h| {
            let cap = &st.pool.hosts[h].cap;
            let slack = (0..cap.len())
                .filter(|&k| cap[k] > 0.0)
                .map(|k| (cap[k] - st.load[h][k] - vm.now[k]) / cap[k])
                .fold(f64::INFINITY, f64::min);
            (h, slack)
        })
        .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
        .map(|(h, _)| h)
}

/// The waves of one run, and the hops they leave out.
struct Schedule {
    waves: Vec<Vec<Hop>>,
    dropped: Vec<Hop>,
}

impl Schedule {
    /// Moves dropped after their pivot hop ran: their VM would be stranded on the pivot.
    fn stranded(&self) -> HashSet<usize> {
        let ran: HashSet<usize> = self.waves.iter().flatten().map(|h| h.mig).collect();
        self.dropped
            .iter()
            .map(|h| h.mig)
            .filter(|m| ran.contains(m))
            .collect()
    }
}

/// The first waiting hop that may take a pivot (its move has not had one, nor is barred from
/// one) and has one, with that pivot.
fn detour(st: &Replay, rest: &[Hop], pivoted: &HashSet<usize>) -> Option<(usize, HostIx)> {
    rest.iter()
        .enumerate()
        .filter(|(_, h)| !pivoted.contains(&h.mig))
        .find_map(|(i, h)| Some((i, pivot(st, h)?)))
}

/// The waves that run `waiting` from the replay's state, each move through at most one pivot and
/// none for the moves in `barred`. When a wave admits nothing and no hop may take a pivot, the
/// state can no longer change, so every waiting hop is dropped.
fn waves(
    st: &mut Replay,
    mut waiting: Vec<Hop>,
    limit: usize,
    barred: &HashSet<usize>,
) -> Schedule {
    let hosts = st.pool.hosts.len();
    let mut pivoted = barred.clone();
    let mut out = Vec::new();
    // Every round runs at least one hop, and a move has at most two: a bound, not a budget.
    let rounds = 2 * waiting.len();
    for _ in 0..rounds {
        if waiting.is_empty() {
            break;
        }
        by_busiest(&mut waiting, hosts);
        let mut wave = Wave::new(hosts, limit);
        let mut rest = wave.fill(st, waiting);
        if wave.hops.is_empty() {
            // Every waiting move needs room that only another waiting move frees.
            let Some((i, p)) = detour(st, &rest, &pivoted) else {
                return Schedule {
                    waves: out,
                    dropped: rest,
                };
            };
            let hop = rest.remove(i);
            pivoted.insert(hop.mig);
            wave.add(st, Hop { to: p, ..hop });
            rest.push(Hop { from: p, ..hop });
            rest = wave.fill(st, rest);
        }
        st.apply(&wave.hops);
        out.push(wave.hops);
        waiting = rest;
    }
    Schedule {
        waves: out,
        dropped: waiting,
    }
}

/// Runs after which a move dropped after its pivot bars every pivot (see [`schedule`]).
const RERUNS: usize = 4;

/// The waves for `hops`, with no VM left on a pivot: a move dropped after its pivot hop ran is
/// scheduled again from the start without a pivot, so that it stays on its source. Each run bars
/// at least one more move; after [`RERUNS`] runs no move takes a pivot, and none can be stranded.
/// Returns the schedule and where it leaves every VM.
fn schedule(
    pool: &Pool,
    sources: &[(VmIx, HostIx)],
    hops: &[Hop],
    limit: usize,
) -> (Schedule, IxVec<VmIx, HostIx>) {
    let run = |barred: &HashSet<usize>| {
        let mut st = Replay::before(pool, sources);
        let s = waves(&mut st, hops.to_vec(), limit, barred);
        (s, st.at)
    };
    let mut barred = HashSet::new();
    for _ in 0..RERUNS {
        let (s, at) = run(&barred);
        let stranded = s.stranded();
        if stranded.is_empty() {
            return (s, at);
        }
        barred.extend(stranded);
    }
    run(&hops.iter().map(|h| h.mig).collect())
}

/// Seconds a hop takes: the VM's memory over half its source's bandwidth.
fn hop_seconds(pool: &Pool, hop: &Hop) -> f64 {
    let gib = pool
        .axes
        .mem
        .map(|k| pool.vms[hop.vm].demand[k])
        .unwrap_or(0.0);
    gib * 8.0 * 1024.0 / (pool.hosts[hop.from].bw_mbps / 2.0)
}

/// The fewest waves: the busiest host's hops over the limit, rounded up.
fn wave_floor(waves: &[Vec<Hop>], hosts: usize, limit: usize) -> usize {
    let mut count = vec![0usize; hosts];
    for hop in waves.iter().flatten() {
        count[hop.from.0] += 1;
        count[hop.to.0] += 1;
    }
    count
        .iter()
        .max()
        .copied()
        .unwrap_or(0)
        .div_ceil(limit.max(1))
}

/// Orders the round's moves into safe waves: fills `steps`, `via` and the wave statistics,
/// reorders the migrations by wave, and takes out (into `stats.dropped` and `stats.stayed`) the
/// moves no safe order runs, leaving the pool as the waves leave it.
pub(super) fn sequence(cx: &mut Ctx, stats: &mut PlanStats) -> Vec<Vec<String>> {
    let host_ix: HashMap<&str, HostIx> = cx
        .pool
        .host_ids()
        .map(|h| (cx.pool.hosts[h].id.as_str(), h))
        .collect();
    let vm_ix: HashMap<&str, VmIx> = cx
        .pool
        .vm_ids()
        .map(|v| (cx.pool.vms[v].id.as_str(), v))
        .collect();
    let hops: Vec<Hop> = cx
        .migrations
        .iter()
        .enumerate()
        .filter_map(|(mig, m)| {
            Some(Hop {
                vm: *vm_ix.get(m.vm.as_str())?,
                from: *host_ix.get(m.from.as_str())?,
                to: *host_ix.get(m.to.as_str())?,
                mig,
            })
        })
        .collect();
    let sources: Vec<(VmIx, HostIx)> = hops.iter().map(|h| (h.vm, h.from)).collect();
    let limit = cx.policy.max_concurrent.max(1);
    let (Schedule { waves, dropped }, at) = schedule(&cx.pool, &sources, &hops, limit);
    stats.waves = waves.len();
    stats.wave_floor = wave_floor(&waves, cx.pool.hosts.len(), limit);
    stats.makespan_s = waves
        .iter()
        .map(|w| {
            w.iter()
                .map(|h| hop_seconds(&cx.pool, h))
                .fold(0.0, f64::max)
        })
        .sum();
    let steps = waves
        .iter()
        .map(|w| w.iter().map(|h| cx.pool.vms[h.vm].id.clone()).collect())
        .collect();
    rewrite(cx, stats, &waves, &dropped, &at);
    steps
}

/// The moves no safe order runs, in plan order, into `stats.dropped` and `stats.stayed` (their VMs
/// never leave their source: [`schedule`] strands none on a pivot); their `migrate` messages go.
fn report_dropped(cx: &mut Ctx, stats: &mut PlanStats, dropped: &[Hop]) {
    let mut migs: Vec<usize> = dropped.iter().map(|h| h.mig).collect();
    migs.sort_unstable();
    let mut gone: HashSet<&str> = HashSet::new();
    for &mig in &migs {
        let m = &cx.migrations[mig];
        stats.dropped.push(DroppedMove {
            vm: m.vm.clone(),
            from: m.from.clone(),
            to: m.to.clone(),
            code: DropCode::NoSafeOrder,
            reason: format!(
                "no order of the round's moves, directly or through one pivot host, ever has room for `{}` on `{}` within its group rules",
                m.vm, m.to
            ),
        });
        stats.stayed.push(m.vm.clone());
        gone.insert(m.vm.as_str());
    }
    cx.messages
        .retain(|msg| !(msg.kind == MessageKind::Migrate && gone.contains(msg.vm.as_str())));
}

/// The plan as the waves run it: migrations by the wave of their last hop, pivots in `via`,
/// dropped moves out of the plan, the pool's VMs where the waves leave them.
fn rewrite(
    cx: &mut Ctx,
    stats: &mut PlanStats,
    waves: &[Vec<Hop>],
    dropped: &[Hop],
    at: &IxVec<VmIx, HostIx>,
) {
    report_dropped(cx, stats, dropped);
    let mut last: HashMap<usize, (usize, usize, VmIx)> = HashMap::new();
    let mut first_to: HashMap<usize, HostIx> = HashMap::new();
    for (w, wave) in waves.iter().enumerate() {
        for (i, hop) in wave.iter().enumerate() {
            first_to.entry(hop.mig).or_insert(hop.to);
            last.insert(hop.mig, (w, i, hop.vm));
        }
    }
    let mut kept: Vec<(usize, usize, Migration)> = Vec::new();
    for (mig, mut m) in std::mem::take(&mut cx.migrations).into_iter().enumerate() {
        let Some(&(w, i, v)) = last.get(&mig) else {
            continue;
        };
        if let Some(&p) = first_to.get(&mig).filter(|&&p| p != at[v]) {
            m.via = Some(cx.pool.hosts[p].id.clone());
        }
        kept.push((w, i, m));
    }
    kept.sort_by_key(|(w, i, _)| (*w, *i));
    cx.migrations = kept.into_iter().map(|(_, _, m)| m).collect();
    for v in cx.pool.vm_ids() {
        if cx.pool.vms[v].host != at[v] {
            cx.pool.move_vm(v, at[v]);
        }
    }
    let pool = &cx.pool;
    stats.emptied_hosts.retain(|id| {
        pool.host_ids()
            .any(|h| &pool.hosts[h].id == id && pool.vms_on(h).next().is_none())
    });
}

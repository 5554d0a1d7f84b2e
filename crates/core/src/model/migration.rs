//! The migration-round MIP (models/migration.md). Function names match the constraint families.

use super::{Col, MipBuilder, MipError, MipOptions, MipResult, Sense};
use crate::domain::groups::{Counts, MemberCounts};
use crate::domain::{HostIx, IxVec, NOISE};
use good_lp::{constraint, variable, Expression};
use std::collections::BTreeMap;

/// A host as the round model sees it.
#[derive(Debug, Clone)]
pub struct RoundHost {
    /// CPU capacity.
    pub cap: f64,
    /// Expected CPU use of the VMs that are not candidates (they stay).
    pub fixed: f64,
    /// Idle and full power, W.
    pub p0: f64,
    /// Full power, W.
    pub p1: f64,
    /// Keeps non-candidate VMs, so it stays on whatever the model does.
    pub always_on: bool,
    /// Other resources (memory...): capacity and what non-candidates use.
    pub rest_cap: Vec<f64>,
    /// Used by non-candidates.
    pub rest_fixed: Vec<f64>,
}

/// A candidate VM.
#[derive(Debug, Clone)]
pub struct RoundVm {
    /// Current CPU use (for power).
    pub cpu: f64,
    /// Expected CPU use over the next interval (for headroom).
    pub peak: f64,
    /// Host it is on (`None`: no column there, it must leave).
    pub stay: Option<HostIx>,
    /// It should leave (its host is in maintenance): ending on `stay` costs `RoundInput::stuck`.
    pub must_leave: bool,
    /// Other hosts it may go to.
    pub targets: Vec<HostIx>,
    /// Cost of moving it (W-equivalent).
    pub move_cost: f64,
    /// Anti-affinity group index.
    pub group: Option<usize>,
    /// Use of the other resources.
    pub rest: Vec<f64>,
    /// Warm start: the host a heuristic chose (default: stay).
    pub start: Option<HostIx>,
}

/// A hard group rule (`groups[]`) as the round model sees it (models/migration.md, "Group
/// rules"): moves inside a domain change no count. Its counts are sparse (only the domains that
/// hold members), so that a round with 8,000 one-member rules over 8,000 racks takes memory in
/// proportion to the members, not to rules x domains (issue 27, H2).
#[derive(Debug, Clone)]
pub struct RoundRule {
    /// Domain of each host (None: outside the scope).
    pub domain_of: std::sync::Arc<IxVec<HostIx, Option<usize>>>,
    /// Its candidates: (index into `RoundInput::vms`, the domain it starts in).
    pub members: Vec<(usize, Option<usize>)>,
    /// Members per domain that are no candidates (they stay).
    pub fixed: Counts,
    /// What the rule asks of the round's end.
    pub policy: RoundPolicy,
}

/// What a [`RoundRule`] asks.
#[derive(Debug, Clone)]
pub enum RoundPolicy {
    /// Anti-affinity: per domain, the members that may arrive from other domains.
    Arrivals(Arrivals),
    /// Affinity: the members end in at most this many domains (one, or as many as they ran in).
    Together(u32),
    /// Spread: the member counts of the domains with room end within `skew` of each other.
    Spread {
        /// Domains with an active host (shared by the rules of one scope).
        room: std::sync::Arc<Vec<bool>>,
        /// How many domains have room.
        rooms: usize,
        /// The largest difference allowed (at least the start's own).
        skew: u32,
    },
}

/// Anti-affinity's arrivals: `max_per_domain` less the members there at the start, leavers
/// included.
#[derive(Debug, Clone)]
pub struct Arrivals {
    /// `max_per_domain`.
    pub max: u32,
    /// Members per domain at the start of the round.
    pub start: Counts,
}

impl Arrivals {
    /// Members that may arrive in domain `d` from other domains.
    pub fn limit(&self, d: usize) -> u32 {
        self.max.saturating_sub(self.start.at(d))
    }
}

/// The least and the most members over the `rooms` domains with `room` (0 for a domain with room
/// and no member; (0, 0) when no domain has room).
pub fn room_extremes(counts: &Counts, room: &[bool], rooms: usize) -> (u32, u32) {
    let (mut seen, mut least, mut most) = (0, u32::MAX, 0);
    for (_, n) in counts.occupied().filter(|(d, _)| room[*d]) {
        seen += 1;
        least = least.min(n);
        most = most.max(n);
    }
    if seen < rooms {
        least = 0;
    }
    (least.min(most), most)
}

impl RoundRule {
    /// Members per domain when each candidate `i` is on `at(i)` (None: where it started).
    pub fn counts(&self, at: impl Fn(usize) -> Option<HostIx>) -> Counts {
        let mut counts = self.fixed.clone();
        for &(i, from) in &self.members {
            let d = match at(i) {
                Some(h) => self.domain_of[h],
                None => from,
            };
            if let Some(d) = d {
                counts.add(d, 1);
            }
        }
        counts
    }

    /// Whether member counts `counts` meet the rule at the end of the round (arrivals apart,
    /// which count moves rather than members).
    pub fn holds(&self, counts: &Counts) -> bool {
        match &self.policy {
            RoundPolicy::Arrivals(_) => true,
            RoundPolicy::Together(most) => counts.len() as u32 <= *most,
            RoundPolicy::Spread { room, rooms, skew } => {
                let (least, most) = room_extremes(counts, room, *rooms);
                most - least <= *skew
            }
        }
    }
}

/// The round's data.
#[derive(Debug, Clone)]
pub struct RoundInput {
    /// Hosts.
    pub hosts: IxVec<HostIx, RoundHost>,
    /// Candidates.
    pub vms: Vec<RoundVm>,
    /// (group, host) pairs where a non-candidate member of the group runs.
    pub group_fixed: Vec<(usize, HostIx)>,
    /// Hard rules of `groups[]` with candidates among their members.
    pub rules: Vec<RoundRule>,
    /// Safe utilisation.
    pub theta: f64,
    /// Most moves.
    pub budget: usize,
    /// Penalty per unit of CPU over `theta` (W per MIPS-equivalent share).
    pub penalty: f64,
    /// Price of a VM that should leave and stays (W-equivalent; above any saving, so that the
    /// model strands as few as it can, and still answers when some cannot leave).
    pub stuck: f64,
}

/// Where HiGHS starts: each candidate's host, `a_h` and `s_h`.
struct WarmStart {
    hosts: Vec<Option<HostIx>>,
    on: IxVec<HostIx, f64>,
    over: IxVec<HostIx, f64>,
}

struct Model<'a> {
    input: &'a RoundInput,
    /// x[v] = (host, column).
    x: Vec<Vec<(HostIx, Col)>>,
    on: IxVec<HostIx, Option<Col>>,
    over: IxVec<HostIx, Option<Col>>,
    b: MipBuilder,
}

/// Solves a round; returns the MIP result and each candidate's host after the round (`None` when
/// no feasible answer was found, in which case every VM stays).
pub fn solve(
    input: &RoundInput,
    opts: &MipOptions,
) -> Result<(MipResult, Vec<Option<HostIx>>), MipError> {
    let mut m = Model {
        input,
        x: Vec::new(),
        on: IxVec::filled(None, input.hosts.len()),
        over: IxVec::filled(None, input.hosts.len()),
        b: MipBuilder::new(opts.relax),
    };
    m.columns();
    m.migration_assignment();
    m.migration_capacity();
    m.migration_host_on();
    m.migration_anti_affinity();
    m.migration_group_arrivals();
    m.migration_group_affinity();
    m.migration_group_spread();
    m.migration_budget();
    let (objective, offset) = m.migration_cost();
    let Model { x, b, .. } = m;
    let result = b.solve(Sense::Min, objective, offset, opts)?;
    let mut out = vec![None; input.vms.len()];
    if !result.values.is_empty() {
        for (v, xs) in x.iter().enumerate() {
            out[v] = xs
                .iter()
                .find(|(_, c)| result.values.get(c.ix).is_some_and(|x| *x > 0.5))
                .map(|(h, _)| *h);
        }
    }
    Ok((result, out))
}

impl Model<'_> {
    /// x for each (candidate, allowed host); a_h for hosts that may go off; s_h for every host a
    /// candidate may end on. Their warm start is [`Model::warm_start`]'s.
    fn columns(&mut self) {
        let input = self.input;
        let WarmStart {
            hosts: warm_host,
            on: warm_on,
            over: warm_over,
        } = self.warm_start();
        let mut touched = IxVec::filled(false, input.hosts.len());
        for (v, vm) in input.vms.iter().enumerate() {
            let mut cols = Vec::new();
            for h in vm.stay.into_iter().chain(vm.targets.iter().copied()) {
                if cols.iter().any(|(x, _)| *x == h) {
                    continue;
                }
                let warm = if warm_host[v] == Some(h) { 1.0 } else { 0.0 };
                cols.push((h, self.b.column(variable().min(0).max(1), true, warm)));
                touched[h] = true;
            }
            self.x.push(cols);
        }
        for (h, host) in input.hosts.enumerate() {
            if !touched[h] {
                continue;
            }
            if !host.always_on {
                self.on[h] = Some(self.b.column(variable().min(0).max(1), true, warm_on[h]));
            }
            self.over[h] = Some(self.b.column(variable().min(0), false, warm_over[h]));
        }
    }

    /// The warm start (not part of the model, only where HiGHS starts): each VM on the
    /// heuristic's host, else where it is, else its first target; the hosts on and their excess
    /// over `theta` as that implies.
    fn warm_start(&self) -> WarmStart {
        let input = self.input;
        let mut load: IxVec<HostIx, f64> = input.hosts.map(|h| h.fixed);
        // Only a host the VM has a column for can carry its warm start.
        let hosts: Vec<Option<HostIx>> = input
            .vms
            .iter()
            .map(|vm| {
                vm.start
                    .or(vm.stay)
                    .or(vm.targets.first().copied())
                    .filter(|h| vm.stay == Some(*h) || vm.targets.contains(h))
            })
            .collect();
        for (vm, h) in input.vms.iter().zip(&hosts) {
            if let Some(h) = h {
                load[*h] += vm.peak;
            }
        }
        let on = load
            .iter()
            .map(|&l| if l > 0.0 { 1.0 } else { 0.0 })
            .collect();
        let over = input
            .hosts
            .iter()
            .zip(&load)
            .map(|(host, l)| (l - input.theta * host.cap).max(0.0))
            .collect();
        WarmStart { hosts, on, over }
    }

    /// Every candidate ends on exactly one host.
    fn migration_assignment(&mut self) {
        for xs in &self.x {
            let sum: Expression = xs.iter().map(|(_, c)| c.var).sum();
            self.b.row(constraint::eq(sum, 1.0));
        }
    }

    /// CPU after the round within `theta` of capacity on hosts that are on (soft: `s_h`); other
    /// resources within capacity (hard).
    fn migration_capacity(&mut self) {
        let input = self.input;
        let nr = input.hosts.iter().next().map_or(0, |h| h.rest_cap.len());
        let mut rest: IxVec<HostIx, Vec<Option<Expression>>> =
            IxVec::filled(vec![None; nr], input.hosts.len());
        for (v, xs) in self.x.iter().enumerate() {
            for (h, c) in xs {
                for (k, &u) in input.vms[v].rest.iter().enumerate() {
                    if u > 0.0 {
                        rest[*h][k]
                            .get_or_insert_with(Expression::default)
                            .add_mul(u, c.var);
                    }
                }
            }
        }
        for (h, row) in rest.into_enumerate() {
            for (k, e) in row.into_iter().enumerate() {
                if let Some(e) = e {
                    let host = &input.hosts[h];
                    if !host.rest_cap[k].is_finite() {
                        continue;
                    }
                    self.b
                        .row(constraint::leq(e, host.rest_cap[k] - host.rest_fixed[k]));
                }
            }
        }
        let mut rows: IxVec<HostIx, Expression> =
            IxVec::filled(Expression::default(), input.hosts.len());
        for (v, xs) in self.x.iter().enumerate() {
            for (h, c) in xs {
                rows[*h].add_mul(input.vms[v].peak, c.var);
            }
        }
        for (h, mut e) in rows.into_enumerate() {
            let Some(s) = self.over[h] else { continue };
            let host = &input.hosts[h];
            e -= s.var;
            match self.on[h] {
                Some(a) => {
                    e.add_mul(-input.theta * host.cap, a.var);
                    self.b.row(constraint::leq(e, -host.fixed));
                }
                None => self
                    .b
                    .row(constraint::leq(e, input.theta * host.cap - host.fixed)),
            }
        }
    }

    /// A host that ends the round with a VM is on: `x_vh <= a_h`. Implied by the capacity row
    /// for VMs that use CPU, but it also covers idle VMs and makes the relaxation much tighter.
    fn migration_host_on(&mut self) {
        for xs in &self.x {
            for (h, c) in xs {
                if let Some(a) = self.on[*h] {
                    self.b.row(constraint::leq(c.var - a.var, 0.0));
                }
            }
        }
    }

    /// At most one member of a group per host, none where a staying member runs.
    fn migration_anti_affinity(&mut self) {
        let input = self.input;
        let mut rows: std::collections::BTreeMap<(usize, HostIx), Expression> = Default::default();
        for (v, xs) in self.x.iter().enumerate() {
            if let Some(g) = input.vms[v].group {
                for (h, c) in xs {
                    *rows.entry((g, *h)).or_default() += c.var;
                }
            }
        }
        for ((g, h), e) in rows {
            let taken = input.group_fixed.contains(&(g, h));
            self.b
                .row(constraint::leq(e, if taken { 0.0 } else { 1.0 }));
        }
    }

    /// The columns of `rule`'s members per domain they may end in (only those domains), each
    /// with whether it is an arrival from another domain.
    fn by_domain(&self, rule: &RoundRule) -> BTreeMap<usize, Vec<(Col, bool)>> {
        let mut out: BTreeMap<usize, Vec<(Col, bool)>> = BTreeMap::new();
        for &(v, from) in &rule.members {
            for &(h, c) in &self.x[v] {
                if let Some(d) = rule.domain_of[h] {
                    out.entry(d).or_default().push((c, Some(d) != from));
                }
            }
        }
        out
    }

    /// Anti-affinity: members arriving in domain D from other domains, at most `arrivals[D]`.
    fn migration_group_arrivals(&mut self) {
        for rule in &self.input.rules {
            let RoundPolicy::Arrivals(limit) = &rule.policy else {
                continue;
            };
            for (d, cols) in self.by_domain(rule) {
                let arriving: Vec<Col> = cols.iter().filter(|c| c.1).map(|c| c.0).collect();
                if !arriving.is_empty() {
                    let e: Expression = arriving.iter().map(|c| c.var).sum();
                    self.b.row(constraint::leq(e, f64::from(limit.limit(d))));
                }
            }
        }
    }

    /// Affinity: binary `z_D` per domain, `x_vh <= z_D(h)`, `z_D = 1` where a member stays put
    /// (no candidate), `sum_D z_D <= most`; over the domains with a member or a column only.
    fn migration_group_affinity(&mut self) {
        let input = self.input;
        let warm_hosts = self.warm_start().hosts;
        for rule in &input.rules {
            let RoundPolicy::Together(most) = rule.policy else {
                continue;
            };
            let warm = rule.counts(|i| warm_hosts[i]);
            let mut domains = self.by_domain(rule);
            for (d, _) in rule.fixed.occupied() {
                domains.entry(d).or_default();
            }
            let mut chosen = Expression::default();
            for (d, cols) in domains {
                let low = if rule.fixed.at(d) > 0 { 1 } else { 0 };
                let on = if warm.at(d) > 0 { 1.0 } else { 0.0 };
                let z = self.b.column(variable().min(low).max(1), true, on);
                chosen += z.var;
                for (c, _) in cols {
                    self.b.row(constraint::leq(c.var - z.var, 0.0));
                }
            }
            self.b.row(constraint::leq(chosen, f64::from(most)));
        }
    }

    /// Spread: with `m` the least count, `m <= n_D <= m + skew` for every domain with room,
    /// `n_D` the members that stay plus the candidates that end there. A domain with room and no
    /// column holds a constant: only the least and the most of those get a row.
    fn migration_group_spread(&mut self) {
        let input = self.input;
        let warm_hosts = self.warm_start().hosts;
        for rule in &input.rules {
            let RoundPolicy::Spread { room, rooms, skew } = &rule.policy else {
                continue;
            };
            let by_domain = self.by_domain(rule);
            let varying: Vec<Expression> = by_domain
                .iter()
                .filter(|(d, _)| room[**d])
                .map(|(&d, cols)| {
                    cols.iter().map(|(c, _)| c.var).sum::<Expression>()
                        + f64::from(rule.fixed.at(d))
                })
                .collect();
            let mut constant = Counts::default();
            for (d, n) in rule.fixed.occupied() {
                if !by_domain.contains_key(&d) {
                    constant.add(d, n);
                }
            }
            let constant = (varying.len() < *rooms)
                .then(|| room_extremes(&constant, room, rooms - varying.len()));
            let warm = room_extremes(&rule.counts(|i| warm_hosts[i]), room, *rooms).0;
            super::spread_rows(&mut self.b, varying, constant, warm, *skew);
        }
    }

    /// At most `budget` moves.
    fn migration_budget(&mut self) {
        let input = self.input;
        if input.budget >= input.vms.len() {
            return;
        }
        let mut e = Expression::default();
        for (v, xs) in self.x.iter().enumerate() {
            for (h, c) in xs {
                if input.vms[v].stay != Some(*h) {
                    e += c.var;
                }
            }
        }
        self.b.row(constraint::leq(e, input.budget as f64));
    }

    /// Idle power of hosts left on, linearised dynamic power, move costs, overload penalty.
    fn migration_cost(&mut self) -> (Expression, f64) {
        let input = self.input;
        let mut obj = Expression::default();
        let mut offset = 0.0;
        for (h, host) in input.hosts.enumerate() {
            match self.on[h] {
                Some(a) => obj.add_mul(host.p0, a.var),
                None if host.always_on => offset += host.p0,
                None => {}
            }
            if let Some(s) = self.over[h] {
                obj.add_mul(input.penalty / host.cap.max(NOISE), s.var);
            }
        }
        for (v, xs) in self.x.iter().enumerate() {
            let vm = &input.vms[v];
            for (h, c) in xs {
                let host = &input.hosts[*h];
                let mut coef = (host.p1 - host.p0) * vm.cpu / host.cap.max(NOISE);
                if vm.stay != Some(*h) {
                    coef += vm.move_cost;
                } else if vm.must_leave {
                    coef += input.stuck;
                }
                obj.add_mul(coef, c.var);
            }
        }
        (obj, offset)
    }
}

/// The model's objective (`migration_cost`) of an assignment, each candidate's host after the
/// round, without solving: for comparing a heuristic plan with the solver's answer.
pub fn cost(input: &RoundInput, ends: &[Option<HostIx>]) -> f64 {
    let mut load: IxVec<HostIx, f64> = input.hosts.map(|h| h.fixed);
    let mut on: IxVec<HostIx, bool> = input.hosts.map(|h| h.always_on);
    // The model has overload columns only on hosts a candidate may end on.
    let mut touched = IxVec::filled(false, input.hosts.len());
    for vm in &input.vms {
        for h in vm.stay.iter().chain(&vm.targets) {
            touched[*h] = true;
        }
    }
    let mut total = 0.0;
    for (vm, end) in input.vms.iter().zip(ends) {
        let Some(h) = end.or(vm.stay) else { continue };
        let host = &input.hosts[h];
        load[h] += vm.peak;
        on[h] = true;
        total += (host.p1 - host.p0) * vm.cpu / host.cap.max(NOISE);
        if vm.stay != Some(h) {
            total += vm.move_cost;
        } else if vm.must_leave {
            total += input.stuck;
        }
    }
    for (h, host) in input.hosts.enumerate() {
        if on[h] {
            total += host.p0;
            let over = load[h] - input.theta * host.cap;
            if over > 0.0 && touched[h] {
                total += input.penalty / host.cap.max(NOISE) * over;
            }
        }
    }
    total
}

//! The search's incremental state: usage per machine and resource, the per-machine load and
//! balance cost, and the counters the hard rules need (which services run on each machine, in
//! each location and neighborhood), so that a shift or a swap is checked and priced in
//! O(resources + balance objectives + dependencies) without recounting. It starts from a
//! feasible assignment and only ever commits feasible moves.

use super::model::*;

/// A move: one process to another machine, or two processes exchanging machines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Move {
    /// `p` to machine `to`.
    Shift(ProcessIx, MachineIx),
    /// `p` and `q` exchange machines.
    Swap(ProcessIx, ProcessIx),
}

/// One process's change of machine, with what it touches.
#[derive(Debug, Clone, Copy)]
struct Step {
    p: ProcessIx,
    from: MachineIx,
    to: MachineIx,
}

/// Bits: is a service on a machine (the conflict rule keeps it 0 or 1).
struct BitSet(Vec<u64>);

impl BitSet {
    fn new(n: usize) -> Self {
        BitSet(vec![0; n.div_ceil(64)])
    }
    fn get(&self, i: usize) -> bool {
        self.0[i / 64] >> (i % 64) & 1 == 1
    }
    fn set(&mut self, i: usize, v: bool) {
        if v {
            self.0[i / 64] |= 1 << (i % 64);
        } else {
            self.0[i / 64] &= !(1 << (i % 64));
        }
    }
}

/// The assignment and everything derived from it.
pub struct State<'a> {
    model: &'a Model,
    r: usize,
    initial: Vec<MachineIx>,
    assign: Vec<MachineIx>,
    usage: Vec<i64>,
    /// Transient share of the processes moved away from their initial machine.
    held: Vec<i64>,
    machine_cost: Vec<i64>,
    machine_cost_sum: i64,
    service_on: BitSet,
    location_count: Vec<u32>,
    locations_used: Vec<u32>,
    neighborhood_count: Vec<u32>,
    dependents: Vec<Vec<ServiceIx>>,
    moved_in_service: Vec<u32>,
    /// `moved_histogram[k]`: services with `k` moved processes.
    moved_histogram: Vec<u32>,
    max_moved: u32,
    process_move_sum: i64,
    machine_move_sum: i64,
    scratch_a: Vec<i64>,
    scratch_b: Vec<i64>,
    /// The processes on each machine, and each process's place in its machine's list.
    on: Vec<Vec<ProcessIx>>,
    place: Vec<u32>,
    /// The processes away from their initial machine, and each one's place in that list
    /// (`u32::MAX` for the others).
    away: Vec<ProcessIx>,
    away_place: Vec<u32>,
}

impl<'a> State<'a> {
    /// The state of `initial` (which must be feasible: the caller checks it first).
    pub fn new(model: &'a Model, initial: &Assignment) -> Self {
        let (r, m, s) = (model.r(), model.m(), model.services.len());
        let mut dependents = vec![Vec::new(); s];
        for (i, service) in model.services.iter().enumerate() {
            for d in &service.depends_on {
                dependents[d.ix()].push(ServiceIx(i as u32));
            }
        }
        let mut st = State {
            model,
            r,
            initial: initial.0.clone(),
            assign: initial.0.clone(),
            usage: vec![0; m * r],
            held: vec![0; m * r],
            machine_cost: vec![0; m],
            machine_cost_sum: 0,
            service_on: BitSet::new(s * m),
            location_count: vec![0; s * model.locations],
            locations_used: vec![0; s],
            neighborhood_count: vec![0; s * model.neighborhoods],
            dependents,
            moved_in_service: vec![0; s],
            moved_histogram: vec![0; model.processes.len() + 2],
            max_moved: 0,
            process_move_sum: 0,
            machine_move_sum: 0,
            scratch_a: vec![0; r],
            scratch_b: vec![0; r],
            on: vec![Vec::new(); m],
            place: vec![0; initial.0.len()],
            away: Vec::new(),
            away_place: vec![u32::MAX; initial.0.len()],
        };
        st.moved_histogram[0] = s as u32;
        for (p, &mi) in initial.0.iter().enumerate() {
            let p = ProcessIx(p as u32);
            st.add(p, mi);
            st.place[p.ix()] = st.on[mi.ix()].len() as u32;
            st.on[mi.ix()].push(p);
        }
        for mi in 0..m {
            st.machine_cost[mi] = st.cost_of(MachineIx(mi as u32), None);
        }
        st.machine_cost_sum = st.machine_cost.iter().sum();
        st
    }

    /// The current assignment.
    pub fn assignment(&self) -> Assignment {
        Assignment(self.assign.clone())
    }

    /// Number of machines.
    pub fn machine_count(&self) -> usize {
        self.model.m()
    }

    /// The processes on machine `m`, in no particular order.
    pub fn processes_on(&self, m: MachineIx) -> &[ProcessIx] {
        &self.on[m.ix()]
    }

    /// The load and balance cost of machine `m`.
    pub fn machine_cost(&self, m: MachineIx) -> i64 {
        self.machine_cost[m.ix()]
    }

    /// The machine of `p`.
    pub fn machine_of(&self, p: ProcessIx) -> MachineIx {
        self.assign[p.ix()]
    }

    /// Processes not on their initial machine.
    pub fn moved(&self) -> usize {
        self.away.len()
    }

    /// The processes not on their initial machine, in no particular order.
    pub fn away(&self) -> &[ProcessIx] {
        &self.away
    }

    /// The objective.
    pub fn cost(&self) -> i64 {
        let w = self.model.weights;
        self.machine_cost_sum
            + w.process * self.process_move_sum
            + w.service * self.max_moved as i64
            + w.machine * self.machine_move_sum
    }

    fn service(&self, p: ProcessIx) -> ServiceIx {
        self.model.processes[p.ix()].service
    }

    /// Places `p` on `m` in the rule counters and usage (no cost bookkeeping).
    fn add(&mut self, p: ProcessIx, m: MachineIx) {
        let (model, r) = (self.model, self.r);
        let s = self.service(p).ix();
        let req = model.requirement(p);
        let row = &mut self.usage[m.ix() * r..(m.ix() + 1) * r];
        row.iter_mut().zip(req).for_each(|(u, q)| *u += q);
        self.service_on.set(s * model.m() + m.ix(), true);
        let machine = model.machines[m.ix()];
        let l = s * model.locations + machine.location.ix();
        if self.location_count[l] == 0 {
            self.locations_used[s] += 1;
        }
        self.location_count[l] += 1;
        self.neighborhood_count[s * model.neighborhoods + machine.neighborhood.ix()] += 1;
    }

    fn remove(&mut self, p: ProcessIx, m: MachineIx) {
        let (model, r) = (self.model, self.r);
        let s = self.service(p).ix();
        let req = model.requirement(p);
        let row = &mut self.usage[m.ix() * r..(m.ix() + 1) * r];
        row.iter_mut().zip(req).for_each(|(u, q)| *u -= q);
        self.service_on.set(s * model.m() + m.ix(), false);
        let machine = model.machines[m.ix()];
        let l = s * model.locations + machine.location.ix();
        self.location_count[l] -= 1;
        if self.location_count[l] == 0 {
            self.locations_used[s] -= 1;
        }
        self.neighborhood_count[s * model.neighborhoods + machine.neighborhood.ix()] -= 1;
    }

    /// Load and balance cost of machine `m`, with its usage row replaced by `row` if given.
    fn cost_of(&self, m: MachineIx, row: Option<&[i64]>) -> i64 {
        let model = self.model;
        let usage = row.unwrap_or(&self.usage[m.ix() * self.r..(m.ix() + 1) * self.r]);
        let (cap, safe) = (model.capacity(m), model.safety(m));
        let mut cost = 0;
        for (k, res) in model.resources.iter().enumerate() {
            cost += res.load_weight * (usage[k] - safe[k]).max(0);
        }
        for b in &model.balances {
            let (f, s) = (b.first.ix(), b.second.ix());
            let gap = b.target * (cap[f] - usage[f]) - (cap[s] - usage[s]);
            cost += b.weight * gap.max(0);
        }
        cost
    }

    fn steps(&self, mv: Move) -> ([Step; 2], usize) {
        match mv {
            Move::Shift(p, to) => {
                let s = Step {
                    p,
                    from: self.assign[p.ix()],
                    to,
                };
                ([s, s], 1)
            }
            Move::Swap(p, q) => {
                let (a, b) = (self.assign[p.ix()], self.assign[q.ix()]);
                (
                    [
                        Step { p, from: a, to: b },
                        Step {
                            p: q,
                            from: b,
                            to: a,
                        },
                    ],
                    2,
                )
            }
        }
    }

    /// The change of the objective if `mv` were made, or `None` if it breaks a hard rule (or
    /// does nothing).
    pub fn delta(&mut self, mv: Move) -> Option<i64> {
        let (steps, n) = self.steps(mv);
        let steps = &steps[..n];
        if steps[0].from == steps[0].to {
            return None;
        }
        if n == 2 && self.service(steps[0].p) == self.service(steps[1].p) {
            return None;
        }
        if !self.conflict_ok(steps) || !self.capacity_ok(steps) || !self.spread_ok(steps) {
            return None;
        }
        if !self.dependency_ok(steps) {
            return None;
        }
        Some(self.price(steps))
    }

    fn conflict_ok(&self, steps: &[Step]) -> bool {
        let m = self.model.m();
        steps.iter().all(|st| {
            !self
                .service_on
                .get(self.service(st.p).ix() * m + st.to.ix())
        })
    }

    /// Fills `row` with machine `m`'s usage after `steps`; with `transient`, the transient
    /// usage (usage plus what processes moved away still hold) instead.
    fn row_after(&self, m: MachineIx, steps: &[Step], transient: bool, row: &mut [i64]) {
        let r = self.r;
        let span = m.ix() * r..(m.ix() + 1) * r;
        row.copy_from_slice(&self.usage[span.clone()]);
        if transient {
            row.iter_mut()
                .zip(&self.held[span])
                .for_each(|(u, h)| *u += h);
        }
        for st in steps {
            let req = self.model.requirement(st.p);
            let home = self.initial[st.p.ix()] == m;
            // A transient share stays on the initial machine whatever happens.
            if st.from == m && !(transient && home) {
                row.iter_mut().zip(req).for_each(|(u, q)| *u -= q);
            }
            if st.to == m && !(transient && home) {
                row.iter_mut().zip(req).for_each(|(u, q)| *u += q);
            }
        }
    }

    fn capacity_ok(&mut self, steps: &[Step]) -> bool {
        let mut row = std::mem::take(&mut self.scratch_a);
        let mut ok = true;
        for st in steps {
            let m = st.to;
            let cap = self.model.capacity(m);
            self.row_after(m, steps, false, &mut row);
            ok &= row.iter().zip(cap).all(|(u, c)| u <= c);
            self.row_after(m, steps, true, &mut row);
            ok &= self
                .model
                .resources
                .iter()
                .zip(row.iter().zip(cap))
                .all(|(res, (u, c))| !res.transient || u <= c);
            if !ok {
                break;
            }
        }
        self.scratch_a = row;
        ok
    }

    fn spread_ok(&self, steps: &[Step]) -> bool {
        let model = self.model;
        steps.iter().all(|st| {
            let s = self.service(st.p).ix();
            let la = model.machines[st.from.ix()].location.ix();
            let lb = model.machines[st.to.ix()].location.ix();
            if la == lb {
                return true;
            }
            let base = s * model.locations;
            let lost = (self.location_count[base + la] == 1) as u32;
            let won = (self.location_count[base + lb] == 0) as u32;
            self.locations_used[s] + won - lost >= model.services[s].spread_min
        })
    }

    /// Applies the steps to the neighborhood counters, checks every changed (service,
    /// neighborhood) pair, and restores the counters.
    fn dependency_ok(&mut self, steps: &[Step]) -> bool {
        let model = self.model;
        let nb = |m: MachineIx| model.machines[m.ix()].neighborhood.ix();
        if steps.iter().all(|st| nb(st.from) == nb(st.to)) {
            return true;
        }
        let n = model.neighborhoods;
        for st in steps {
            let s = self.service(st.p).ix();
            self.neighborhood_count[s * n + nb(st.from)] -= 1;
            self.neighborhood_count[s * n + nb(st.to)] += 1;
        }
        let ok = steps.iter().all(|st| {
            let s = self.service(st.p);
            [st.from, st.to].iter().all(|&m| self.pair_ok(s, nb(m)))
        });
        for st in steps {
            let s = self.service(st.p).ix();
            self.neighborhood_count[s * n + nb(st.from)] += 1;
            self.neighborhood_count[s * n + nb(st.to)] -= 1;
        }
        ok
    }

    /// The dependency rule for service `s` in neighborhood `nb`, both ways.
    fn pair_ok(&self, s: ServiceIx, nb: usize) -> bool {
        let n = self.model.neighborhoods;
        let count = |x: ServiceIx| self.neighborhood_count[x.ix() * n + nb];
        if count(s) > 0
            && self.model.services[s.ix()]
                .depends_on
                .iter()
                .any(|&d| count(d) == 0)
        {
            return false;
        }
        count(s) > 0 || self.dependents[s.ix()].iter().all(|&x| count(x) == 0)
    }

    /// The change of the objective (the steps being feasible).
    fn price(&mut self, steps: &[Step]) -> i64 {
        let model = self.model;
        let w = model.weights;
        let (mut ra, mut rb) = (
            std::mem::take(&mut self.scratch_a),
            std::mem::take(&mut self.scratch_b),
        );
        let (a, b) = (steps[0].from, steps[0].to);
        self.row_after(a, steps, false, &mut ra);
        self.row_after(b, steps, false, &mut rb);
        let mut delta = self.cost_of(a, Some(&ra)) - self.machine_cost[a.ix()]
            + self.cost_of(b, Some(&rb))
            - self.machine_cost[b.ix()];
        self.scratch_a = ra;
        self.scratch_b = rb;
        for st in steps {
            let home = self.initial[st.p.ix()];
            let pmc = model.processes[st.p.ix()].move_cost;
            let was = (st.from != home) as i64;
            let will = (st.to != home) as i64;
            delta += w.process * pmc * (will - was);
            delta += w.machine * (model.move_cost(home, st.to) - model.move_cost(home, st.from));
        }
        let before = self.max_moved;
        self.bump_moved(steps, true);
        let after = self.max_moved;
        self.bump_moved(steps, false);
        delta + w.service * (after as i64 - before as i64)
    }

    /// Updates the moved counts per service for the steps (`forward`) or undoes that.
    fn bump_moved(&mut self, steps: &[Step], forward: bool) {
        for st in steps {
            let home = self.initial[st.p.ix()];
            let change = (st.to != home) as i32 - (st.from != home) as i32;
            let change = if forward { change } else { -change };
            if change == 0 {
                continue;
            }
            let s = self.service(st.p).ix();
            let old = self.moved_in_service[s];
            let new = (old as i32 + change) as u32;
            self.moved_histogram[old as usize] -= 1;
            self.moved_histogram[new as usize] += 1;
            self.moved_in_service[s] = new;
            if new > self.max_moved {
                self.max_moved = new;
            }
            while self.max_moved > 0 && self.moved_histogram[self.max_moved as usize] == 0 {
                self.max_moved -= 1;
            }
        }
    }

    /// Moves `st.p` from its machine's list to its new machine's.
    fn relist(&mut self, st: &Step) {
        let at = self.place[st.p.ix()] as usize;
        let from = &mut self.on[st.from.ix()];
        from.swap_remove(at);
        if let Some(&moved) = from.get(at) {
            self.place[moved.ix()] = at as u32;
        }
        self.place[st.p.ix()] = self.on[st.to.ix()].len() as u32;
        self.on[st.to.ix()].push(st.p);
        let home = self.initial[st.p.ix()];
        if st.from == home {
            self.away_place[st.p.ix()] = self.away.len() as u32;
            self.away.push(st.p);
        } else if st.to == home {
            let at = self.away_place[st.p.ix()] as usize;
            self.away.swap_remove(at);
            if let Some(&moved) = self.away.get(at) {
                self.away_place[moved.ix()] = at as u32;
            }
            self.away_place[st.p.ix()] = u32::MAX;
        }
    }

    /// Makes `mv` (which [`State::delta`] accepted).
    pub fn apply(&mut self, mv: Move) {
        let (steps, n) = self.steps(mv);
        self.apply_steps(&steps[..n]);
    }

    /// Moves each process to its machine at once (a large neighbourhood's answer). The caller
    /// guarantees the conflict rule for the result (the per-machine service bits assume it);
    /// capacity and spread can be tested afterwards with [`State::rules_hold`].
    pub fn apply_all(&mut self, moves: &[(ProcessIx, MachineIx)]) {
        let steps: Vec<Step> = moves
            .iter()
            .filter(|(p, to)| self.assign[p.ix()] != *to)
            .map(|&(p, to)| Step {
                p,
                from: self.assign[p.ix()],
                to,
            })
            .collect();
        if !steps.is_empty() {
            self.apply_steps(&steps);
        }
    }

    fn apply_steps(&mut self, steps: &[Step]) {
        self.bump_moved(steps, true);
        let model = self.model;
        let r = self.r;
        for st in steps {
            let home = self.initial[st.p.ix()];
            let pmc = model.processes[st.p.ix()].move_cost;
            self.process_move_sum += pmc * ((st.to != home) as i64 - (st.from != home) as i64);
            self.machine_move_sum += model.move_cost(home, st.to) - model.move_cost(home, st.from);
            self.remove(st.p, st.from);
            let req = model.requirement(st.p);
            for (k, res) in model.resources.iter().enumerate() {
                if res.transient && st.from == home {
                    self.held[st.from.ix() * r + k] += req[k];
                }
                if res.transient && st.to == home {
                    self.held[st.to.ix() * r + k] -= req[k];
                }
            }
        }
        // Add after every removal: a swap's second process frees the bit its first one sets.
        for st in steps {
            self.add(st.p, st.to);
            self.assign[st.p.ix()] = st.to;
            self.relist(st);
        }
        for m in steps.iter().flat_map(|st| [st.from, st.to]) {
            let c = self.cost_of(m, None);
            self.machine_cost_sum += c - self.machine_cost[m.ix()];
            self.machine_cost[m.ix()] = c;
        }
    }

    /// Capacity and transient capacity on `machines`; spread for `services`, and the
    /// dependency rule both ways for them in the neighborhoods of `machines`.
    pub fn rules_hold(&self, machines: &[MachineIx], services: &[ServiceIx]) -> bool {
        let model = self.model;
        let r = self.r;
        let capacity = machines.iter().all(|&m| {
            let span = m.ix() * r..(m.ix() + 1) * r;
            let cap = model.capacity(m);
            (0..r).all(|k| {
                let u = self.usage[span.start + k];
                let t = if model.resources[k].transient {
                    self.held[span.start + k]
                } else {
                    0
                };
                u + t <= cap[k]
            })
        });
        let nbs = || {
            machines
                .iter()
                .map(|m| model.machines[m.ix()].neighborhood.ix())
        };
        capacity
            && services.iter().all(|&s| {
                self.locations_used[s.ix()] >= model.services[s.ix()].spread_min
                    && nbs().all(|nb| self.pair_ok(s, nb))
            })
    }

    /// Processes of service `s` in neighborhood `n`.
    pub fn neighborhood_count(&self, s: ServiceIx, n: NeighborhoodIx) -> u32 {
        self.neighborhood_count[s.ix() * self.model.neighborhoods + n.ix()]
    }

    /// The services that depend on `s`.
    pub fn dependents(&self, s: ServiceIx) -> &[ServiceIx] {
        &self.dependents[s.ix()]
    }

    /// The model.
    pub fn model(&self) -> &'a Model {
        self.model
    }

    /// The initial machine of `p`.
    pub fn initial_of(&self, p: ProcessIx) -> MachineIx {
        self.initial[p.ix()]
    }

    /// Machine `m`'s usage row.
    pub fn usage(&self, m: MachineIx) -> &[i64] {
        &self.usage[m.ix() * self.r..(m.ix() + 1) * self.r]
    }

    /// What processes moved away from `m` still hold there (transient resources; 0 elsewhere).
    pub fn held(&self, m: MachineIx) -> &[i64] {
        &self.held[m.ix() * self.r..(m.ix() + 1) * self.r]
    }

    /// Processes of service `s` in location `l`.
    pub fn location_count(&self, s: ServiceIx, l: LocationIx) -> u32 {
        self.location_count[s.ix() * self.model.locations + l.ix()]
    }

    /// Distinct locations of service `s`.
    pub fn locations_used(&self, s: ServiceIx) -> u32 {
        self.locations_used[s.ix()]
    }

    /// Moved processes of service `s`.
    pub fn moved_in_service(&self, s: ServiceIx) -> u32 {
        self.moved_in_service[s.ix()]
    }
}

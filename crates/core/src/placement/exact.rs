//! Exact search for small phase-1 batches (models/storage.md, "Exact search"): depth-first
//! branch and bound over the requests' storage systems, on the storage MIP's own constraints and
//! objective. On a handful of requests it proves in microseconds what HiGHS' branch and bound
//! took a quarter of a second to close (the min-max `storage_balance` objective has a weak LP
//! bound). It gives up, and the MIP runs, when the search outgrows its node budget, when the
//! deadline passes, or when it cannot prove the look-ahead's host opening zero.

use crate::domain::evaluate::reach;
use crate::domain::{Assignment, Domain, IxVec, RequestIx, StorageIx, EPS, NOISE};
use vmplace_wire::Objective;

mod lookahead;

use lookahead::{
    anti_affinity_spread_caps, host_lookahead_supply, transportation_feasible, Supply,
};

/// Nodes the search may visit before it gives up.
pub const NODE_BUDGET: usize = 200_000;

/// Requests above which the search is not tried (the MIP is the tool past this).
pub const MAX_REQUESTS: usize = 64;

/// A proven phase-1 optimum.
#[derive(Debug, Clone)]
pub struct Proven {
    /// Storage choices (no hosts).
    pub assignment: Assignment,
    /// Placed priority weight (proven maximal).
    pub weight: f64,
    /// Policy cost of the answer (`storage_balance` or the `pack` share, plus the flexibility
    /// penalty; the look-ahead's host opening is zero).
    pub cost: f64,
    /// Proven lower bound on the cost at this weight (equal to `cost` unless `mip_gap` let the
    /// search prune within the gap).
    pub bound: f64,
    /// Nodes visited.
    pub nodes: usize,
}

/// One request flavor of the storage model, with its candidate storage systems.
struct Item {
    members: Vec<RequestIx>,
    demand: Vec<f64>,
    disk: f64,
    priority: f64,
    group: Option<usize>,
    /// (storage, most members it may take, flexibility penalty per member)
    options: Vec<(StorageIx, usize, f64)>,
}

/// The search state: what the partial assignment uses.
struct State {
    storage_free: IxVec<StorageIx, f64>,
    load: IxVec<StorageIx, Vec<f64>>,
    members_on: Vec<IxVec<StorageIx, usize>>,
    /// Per storage: requests the partial assignment puts there.
    images_on: IxVec<StorageIx, usize>,
    group_on: Vec<IxVec<StorageIx, usize>>,
    util_max: f64,
    penalty: f64,
    opened: usize,
    weight: f64,
    choice: Vec<Option<usize>>,
}

struct Search<'a> {
    d: &'a Domain,
    items: Vec<Item>,
    /// Slots in search order: (item, member index).
    slots: Vec<(usize, usize)>,
    supply: Supply,
    /// Per group, per storage: hosts that fit some member (`anti_affinity_spread`).
    group_cap: Vec<IxVec<StorageIx, usize>>,
    /// Per slot: weight of this and every later slot, and the smallest priority among them.
    rest_weight: Vec<f64>,
    rest_min_priority: Vec<f64>,
    /// Per slot: sum of the later slots' smallest penalties.
    rest_penalty: Vec<f64>,
    floor_util: f64,
    initially_used: usize,
    gap: f64,
    best: (f64, f64, Vec<Option<usize>>),
    pruned_bound: f64,
    nodes: usize,
    stop: &'a dyn Fn() -> bool,
    gave_up: bool,
}

/// The proven optimum of phase 1 on `d`, starting from `incumbent` (a certified answer with
/// hosts), or None when the search cannot prove one within its budget.
pub fn storage_exact(
    d: &Domain,
    incumbent: &Assignment,
    stop: &dyn Fn() -> bool,
) -> Option<Proven> {
    // The search has the storage model's rows but for `groups[]` rules (`group_lookahead`):
    // calls with them go to the MIP.
    if d.requests.is_empty() || d.requests.len() > MAX_REQUESTS || !d.group_rules.is_empty() {
        return None;
    }
    let items = storage_candidates(d);
    let mut search = Search::new(d, items, incumbent, stop);
    search.dfs(0, &mut search.start_state());
    tracing::debug!(
        nodes = search.nodes,
        gave_up = search.gave_up,
        "exact search"
    );
    if search.gave_up {
        return None;
    }
    let (weight, cost, choice) = search.best.clone();
    let state = search.replay(&choice);
    if !search.no_host_opening(&state.load) {
        return None;
    }
    let mut assignment = Assignment::empty(d.requests.len());
    for (slot, c) in choice.iter().enumerate() {
        let (i, m) = search.slots[slot];
        let item = &search.items[i];
        assignment.storage[item.members[m]] = c.map(|o| item.options[o].0);
    }
    Some(Proven {
        assignment,
        weight,
        cost,
        bound: search.pruned_bound.min(cost),
        nodes: search.nodes,
    })
}

/// The storage MIP's flavors and `storage_candidates` (variable domain), with the flexibility
/// penalty of each candidate.
fn storage_candidates(d: &Domain) -> Vec<Item> {
    let n = d.requests.len().max(1) as f64;
    let w = d.settings.flexibility_weight;
    crate::model::storage::flavors(d)
        .into_iter()
        .map(|f| {
            let rep = f.members[0];
            let vm = &d.requests[rep];
            let candidates: Vec<StorageIx> = match vm.storage {
                Some(s) => vec![s],
                None => d.storage.ids().collect(),
            };
            let options = candidates
                .into_iter()
                .filter_map(|s| {
                    let free = d.storage[s].free();
                    if vm.disk > free + EPS || d.static_domain(rep, s) == 0 {
                        return None;
                    }
                    let by_disk = if vm.disk > EPS {
                        (free / vm.disk + EPS).floor() as usize
                    } else {
                        f.members.len()
                    };
                    let penalty = w * (1.0 - reach(d, rep, s)) / n;
                    Some((s, by_disk.min(f.members.len()), penalty))
                })
                .collect();
            Item {
                demand: vm.demand.clone(),
                disk: vm.disk,
                priority: vm.priority,
                group: vm.group,
                members: f.members,
                options,
            }
        })
        .collect()
}

impl<'a> Search<'a> {
    fn new(
        d: &'a Domain,
        mut items: Vec<Item>,
        incumbent: &Assignment,
        stop: &'a dyn Fn() -> bool,
    ) -> Search<'a> {
        // Large disks first: the bottleneck and the capacities bind early.
        items.sort_by(|a, b| {
            b.disk
                .total_cmp(&a.disk)
                .then(b.priority.total_cmp(&a.priority))
        });
        let slots: Vec<(usize, usize)> = items
            .iter()
            .enumerate()
            .flat_map(|(i, it)| (0..it.members.len()).map(move |m| (i, m)))
            .collect();
        let supply = host_lookahead_supply(d, &items);
        let group_cap = anti_affinity_spread_caps(d, &items);
        let k = slots.len();
        let (mut rest_weight, mut rest_min_priority, mut rest_penalty) = (
            vec![0.0; k + 1],
            vec![f64::INFINITY; k + 1],
            vec![0.0; k + 1],
        );
        for slot in (0..k).rev() {
            let it = &items[slots[slot].0];
            let min_pen = it.options.iter().map(|o| o.2).fold(f64::INFINITY, f64::min);
            rest_weight[slot] = rest_weight[slot + 1] + it.priority;
            rest_min_priority[slot] = rest_min_priority[slot + 1].min(it.priority);
            rest_penalty[slot] =
                rest_penalty[slot + 1] + if min_pen.is_finite() { min_pen } else { 0.0 };
        }
        let floor_util = crate::domain::evaluate::initial_storage_utilisation(d);
        let initially_used = d.storage.iter().filter(|s| s.used > EPS).count();
        let mut search = Search {
            d,
            items,
            slots,
            supply,
            group_cap,
            rest_weight,
            rest_min_priority,
            rest_penalty,
            floor_util,
            initially_used,
            gap: d.settings.mip_gap.max(0.0),
            best: (-1.0, f64::INFINITY, Vec::new()),
            pruned_bound: f64::INFINITY,
            nodes: 0,
            stop,
            gave_up: false,
        };
        search.seed(incumbent);
        search
    }

    /// Starts from the incumbent's choices where they are candidates of the search.
    fn seed(&mut self, incumbent: &Assignment) {
        let mut choice = vec![None; self.slots.len()];
        for (slot, &(i, m)) in self.slots.iter().enumerate() {
            let r = self.items[i].members[m];
            if incumbent.host[r].is_none() {
                continue;
            }
            choice[slot] = incumbent.storage[r]
                .and_then(|s| self.items[i].options.iter().position(|o| o.0 == s));
        }
        // Members of a flavor in option order, as the search enumerates them.
        let mut slot = 0;
        for it in &self.items {
            let n = it.members.len();
            choice[slot..slot + n].sort_by_key(|c| c.unwrap_or(usize::MAX));
            slot += n;
        }
        let state = self.replay(&choice);
        if self.feasible(&state) && self.lookahead_holds(&state.load, false) {
            self.best = (state.weight, self.cost(&state), choice);
        }
    }

    fn start_state(&self) -> State {
        let d = self.d;
        let nr = d.resources.len();
        State {
            storage_free: d.storage.map(|s| s.free()),
            load: IxVec::filled(vec![0.0; nr], d.storage.len()),
            members_on: vec![IxVec::filled(0, d.storage.len()); self.items.len()],
            images_on: IxVec::filled(0, d.storage.len()),
            group_on: vec![IxVec::filled(0, d.storage.len()); d.groups.len()],
            util_max: self.floor_util,
            penalty: 0.0,
            opened: 0,
            weight: 0.0,
            choice: Vec::with_capacity(self.slots.len()),
        }
    }

    /// The state of a complete choice vector (option indices per slot).
    fn replay(&self, choice: &[Option<usize>]) -> State {
        let mut st = self.start_state();
        for (slot, c) in choice.iter().enumerate() {
            let i = self.slots[slot].0;
            match c {
                Some(o) => {
                    self.take(&mut st, i, *o);
                }
                None => st.choice.push(None),
            }
        }
        st
    }

    fn take(&self, st: &mut State, i: usize, o: usize) -> (f64, usize) {
        let it = &self.items[i];
        let (s, _, pen) = it.options[o];
        let before = (st.util_max, st.opened);
        st.storage_free[s] -= it.disk;
        for (l, x) in st.load[s].iter_mut().zip(&it.demand) {
            *l += x;
        }
        st.members_on[i][s] += 1;
        st.images_on[s] += 1;
        if let Some(g) = it.group {
            st.group_on[g][s] += 1;
        }
        let st_sys = &self.d.storage[s];
        if st_sys.capacity > EPS {
            let util = (st_sys.capacity - st.storage_free[s]) / st_sys.capacity;
            st.util_max = st.util_max.max(util);
        }
        if st_sys.used <= EPS && st.images_on[s] == 1 {
            st.opened += 1;
        }
        st.penalty += pen;
        st.weight += it.priority;
        st.choice.push(Some(o));
        before
    }

    fn undo(&self, st: &mut State, i: usize, o: usize, before: (f64, usize)) {
        let it = &self.items[i];
        let (s, _, pen) = it.options[o];
        st.storage_free[s] += it.disk;
        for (l, x) in st.load[s].iter_mut().zip(&it.demand) {
            *l -= x;
        }
        st.members_on[i][s] -= 1;
        st.images_on[s] -= 1;
        if let Some(g) = it.group {
            st.group_on[g][s] -= 1;
        }
        (st.util_max, st.opened) = before;
        st.penalty -= pen;
        st.weight -= it.priority;
        st.choice.pop();
    }

    /// The policy cost of a state: `storage_balance` (highest utilisation) or the `pack` share,
    /// plus the flexibility penalty.
    fn cost(&self, st: &State) -> f64 {
        let policy = match self.d.settings.storage_policy {
            Objective::Balance => st.util_max,
            Objective::Pack => {
                (self.initially_used + st.opened) as f64 / self.d.storage.len().max(1) as f64
            }
        };
        policy + st.penalty
    }

    /// The constraints a partial assignment can already break: `storage_capacity`, each
    /// flavor's per-storage bound, `anti_affinity_spread`, and the look-ahead's reachable total.
    fn feasible(&self, st: &State) -> bool {
        let d = self.d;
        if st.storage_free.iter().any(|&f| f < -EPS) {
            return false;
        }
        for (i, it) in self.items.iter().enumerate() {
            if it
                .options
                .iter()
                .any(|&(s, ub, _)| st.members_on[i][s] > ub)
            {
                return false;
            }
        }
        for (g, on) in st.group_on.iter().enumerate() {
            if on.iter().zip(&self.group_cap[g]).any(|(n, cap)| n > cap) {
                return false;
            }
        }
        d.storage.ids().all(|s| {
            st.load[s]
                .iter()
                .zip(&self.supply.reachable[s])
                .all(|(l, r)| *l <= r + EPS)
        })
    }

    fn dfs(&mut self, slot: usize, st: &mut State) {
        self.nodes += 1;
        if self.nodes > NODE_BUDGET || (self.nodes.is_multiple_of(1024) && (self.stop)()) {
            self.gave_up = true;
        }
        if self.gave_up {
            return;
        }
        if slot == self.slots.len() {
            self.leaf(st);
            return;
        }
        if self.prune(slot, st) {
            return;
        }
        let (i, m) = self.slots[slot];
        // Members of one flavor take options in non-decreasing order (they are interchangeable).
        let first = if m > 0 {
            st.choice[slot - 1].unwrap_or(usize::MAX)
        } else {
            0
        };
        let n_options = self.items[i].options.len();
        let mut order: Vec<usize> = (first.min(n_options)..n_options).collect();
        // The cheapest option first: good incumbents early.
        order.sort_by(|&a, &b| {
            self.option_key(st, i, a)
                .total_cmp(&self.option_key(st, i, b))
        });
        for o in order {
            let before = self.take(st, i, o);
            if self.feasible_after(st, i, o) {
                self.dfs(slot + 1, st);
            }
            self.undo(st, i, o, before);
            if self.gave_up {
                return;
            }
        }
        // Unplaced: then every later member of this flavor is unplaced too.
        st.choice.push(None);
        self.dfs_unplaced(slot, st);
        st.choice.pop();
    }

    /// The rest of a flavor unplaced once one member is, then the next flavor.
    fn dfs_unplaced(&mut self, slot: usize, st: &mut State) {
        let i = self.slots[slot].0;
        let mut next = slot + 1;
        while next < self.slots.len() && self.slots[next].0 == i {
            st.choice.push(None);
            next += 1;
        }
        self.dfs(next, st);
        for _ in slot + 1..next {
            st.choice.pop();
        }
    }

    fn option_key(&self, st: &State, i: usize, o: usize) -> f64 {
        let it = &self.items[i];
        let (s, _, pen) = it.options[o];
        let sys = &self.d.storage[s];
        let util = if sys.capacity > EPS {
            (sys.capacity - st.storage_free[s] + it.disk) / sys.capacity
        } else {
            0.0
        };
        match self.d.settings.storage_policy {
            Objective::Balance => util.max(st.util_max) + pen,
            Objective::Pack => {
                pen - (sys.used > EPS || st.load[s].iter().any(|&l| l > 0.0)) as u8 as f64
            }
        }
    }

    /// The checks of [`Search::feasible`] that taking option `o` of item `i` can break.
    fn feasible_after(&self, st: &State, i: usize, o: usize) -> bool {
        let it = &self.items[i];
        let (s, ub, _) = it.options[o];
        if st.storage_free[s] < -EPS || st.members_on[i][s] > ub {
            return false;
        }
        if let Some(g) = it.group {
            if st.group_on[g][s] > self.group_cap[g][s] {
                return false;
            }
        }
        st.load[s]
            .iter()
            .zip(&self.supply.reachable[s])
            .all(|(l, r)| *l <= r + EPS)
    }

    /// Whether no completion of this partial assignment can beat the incumbent: first on placed
    /// weight, then, at equal weight, on cost (within `mip_gap`; what that lets go is kept in
    /// `pruned_bound`).
    fn prune(&mut self, slot: usize, st: &State) -> bool {
        let (best_w, best_c, _) = self.best;
        let tol_w = NOISE * best_w.abs().max(1.0);
        let max_w = st.weight + self.rest_weight[slot];
        if max_w < best_w - tol_w {
            return true;
        }
        if max_w > best_w + tol_w {
            return false;
        }
        // Leaving any later request unplaced loses the tie: they must all be placed.
        let all_placed = max_w - self.rest_min_priority[slot] < best_w - tol_w;
        let rest = if all_placed {
            self.rest_penalty[slot]
        } else {
            0.0
        };
        let lower = self.cost(st) + rest;
        let tol_c = NOISE * best_c.abs().max(1.0);
        if lower >= best_c - tol_c {
            return true;
        }
        if lower >= best_c - self.gap * best_c.abs() {
            self.pruned_bound = self.pruned_bound.min(lower);
            return true;
        }
        false
    }

    fn leaf(&mut self, st: &State) {
        if !self.lookahead_holds(&st.load, false) {
            return;
        }
        let cost = self.cost(st);
        let (best_w, best_c, _) = self.best;
        let tol_w = NOISE * best_w.abs().max(1.0);
        if st.weight > best_w + tol_w || (st.weight > best_w - tol_w && cost < best_c) {
            self.best = (st.weight, cost, st.choice.clone());
        }
    }

    /// `host_lookahead` and `host_share`: per resource, the load on each storage system can be
    /// routed to the free capacity of its eligible hosts (a transportation problem; max flow).
    /// With `active_only`, only initially active hosts supply (the look-ahead opens no idle host).
    fn lookahead_holds(&self, load: &IxVec<StorageIx, Vec<f64>>, active_only: bool) -> bool {
        let supply = if active_only {
            &self.supply.active
        } else {
            &self.supply.all
        };
        (0..self.d.axes.len()).all(|r| {
            let demand: Vec<(StorageIx, f64)> = load
                .enumerate()
                .filter(|(_, l)| l[r] > EPS)
                .map(|(s, l)| (s, l[r]))
                .collect();
            transportation_feasible(&demand, &self.supply.serves, supply, r)
        })
    }

    /// Under host policy `pack` the look-ahead's `host_opening` must be zero for the search's
    /// cost to be the MIP's: the load fits the initially active hosts alone.
    fn no_host_opening(&self, load: &IxVec<StorageIx, Vec<f64>>) -> bool {
        self.d.settings.host_policy != Objective::Pack || self.lookahead_holds(load, true)
    }
}

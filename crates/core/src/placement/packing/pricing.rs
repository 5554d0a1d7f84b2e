//! The pricing problem of packing by column generation: the pattern of one host class with the
//! most dual value, a bounded knapsack in the measured dimensions (models/host.md, "Pricing").
//!
//! Two exact methods: dynamic programming over the capacity when every size is a whole number
//! and the capacities are small (Falkenauer's classes, two-resource instances), else depth-first
//! branch and bound with a node budget, after which the best pattern found and the root bound
//! stand.

use crate::domain::{EPS, NOISE, TINY};

/// Nodes one pricing round may visit over all its branch-and-bound searches: each class gets its
/// share (at least `MIN_NODES`), after which it keeps its best pattern and its root bound.
pub(crate) const ROUND_NODES: usize = 2_000_000;
/// Nodes a class's search may always visit.
const MIN_NODES: usize = 2_000;
/// Nodes one search may visit at most.
const MAX_NODES: usize = 50_000;

/// The node budget of one class's search when a round prices `classes` classes.
pub(crate) fn node_budget(classes: usize) -> usize {
    (ROUND_NODES / classes.max(1)).clamp(MIN_NODES, MAX_NODES)
}
/// Capacity states at most for dynamic programming (the product over dimensions of capacity + 1).
const DP_STATES: usize = 250_000;
/// Decisions at most remembered by dynamic programming (states times item chunks), in bits.
const DP_DECISIONS: usize = 200_000_000;

/// One item: a flavor with its dual value.
#[derive(Debug, Clone)]
pub(crate) struct Item {
    /// Flavor index.
    pub flavor: usize,
    /// Dual value of one copy.
    pub value: f64,
    /// Demand per measured dimension.
    pub demand: Vec<f64>,
    /// Copies at most.
    pub most: u32,
    /// Anti-affinity group (one copy at most of all items of a group).
    pub group: Option<usize>,
}

/// Patterns at most returned by one pricing search (the best first).
pub(crate) const PRICED_PATTERNS: usize = 8;

/// The best patterns found and an upper bound on every pattern's value.
#[derive(Debug, Clone)]
pub(crate) struct Priced {
    /// Good patterns, best first (the first has `value`): copies per flavor, flavors ascending,
    /// with each pattern's value.
    pub patterns: Vec<(f64, Vec<(usize, u32)>)>,
    /// Upper bound on the value of any pattern (equal to `value` when the search finished).
    pub upper: f64,
}

/// Prices one class with capacity `free` (measured dimensions).
pub(crate) fn price(free: &[f64], items: Vec<Item>, nodes: usize) -> Priced {
    if items.is_empty() {
        return Priced {
            patterns: Vec::new(),
            upper: 0.0,
        };
    }
    match dp_shape(free, &items) {
        Some(shape) => dp(&shape, &items, nodes),
        None => branch_and_bound(free, items, nodes),
    }
}

/// Counts per flavor from counts per item.
fn by_flavor(items: &[Item], counts: &[u32]) -> Vec<(usize, u32)> {
    let mut m: std::collections::BTreeMap<usize, u32> = Default::default();
    for (it, &n) in items.iter().zip(counts) {
        if n > 0 {
            *m.entry(it.flavor).or_default() += n;
        }
    }
    m.into_iter().collect()
}

/// The dimensions dynamic programming runs over (those some item needs) and their whole
/// capacities, when every such size is a whole number, no item is in a group, and the states fit.
struct DpShape {
    dims: Vec<usize>,
    caps: Vec<usize>,
}

fn dp_shape(free: &[f64], items: &[Item]) -> Option<DpShape> {
    if items.iter().any(|it| it.group.is_some()) {
        return None;
    }
    let whole = |x: f64| (x - x.round()).abs() < NOISE;
    let dims: Vec<usize> = (0..free.len())
        .filter(|&r| items.iter().any(|it| it.demand[r] > EPS))
        .collect();
    if dims.is_empty() || dims.len() > 2 {
        return None;
    }
    let mut states = 1usize;
    let mut caps = Vec::new();
    for &r in &dims {
        let c = (free[r] + NOISE).floor();
        if !items.iter().all(|it| whole(it.demand[r])) || c > DP_STATES as f64 {
            return None;
        }
        caps.push(c as usize);
        states = states.checked_mul(c as usize + 1)?;
    }
    (states <= DP_STATES).then_some(DpShape { dims, caps })
}

/// Bounded knapsack by dynamic programming over the capacity: each item's copies split in
/// chunks of 1, 2, 4, ... copies (0/1 items), the table indexed by the used capacity.
fn dp(shape: &DpShape, items: &[Item], nodes: usize) -> Priced {
    let stride1 = shape.caps[0] + 1;
    let states = shape.caps.iter().map(|c| c + 1).product::<usize>();
    // (item, copies) chunks.
    let mut chunks: Vec<(usize, u32)> = Vec::new();
    for (i, it) in items.iter().enumerate() {
        let mut left = it.most;
        let mut k = 1;
        while left > 0 {
            let take = k.min(left);
            chunks.push((i, take));
            left -= take;
            k *= 2;
        }
    }
    if states.saturating_mul(chunks.len()) > DP_DECISIONS {
        return branch_and_bound_from(shape, items, nodes);
    }
    let mut best = vec![0.0f64; states];
    let mut taken = Bits::new(states * chunks.len());
    for (c, &(i, k)) in chunks.iter().enumerate() {
        let w: Vec<usize> = shape
            .dims
            .iter()
            .map(|&r| (items[i].demand[r] * k as f64).round() as usize)
            .collect();
        let v = items[i].value * k as f64;
        let (w0, w1) = (w[0], w.get(1).copied().unwrap_or(0));
        let c1 = shape.caps.get(1).copied().unwrap_or(0);
        if w0 > shape.caps[0] || w1 > c1 {
            continue;
        }
        // Capacity used (u0, u1), from high to low so that each chunk is taken once.
        for u1 in (w1..=c1).rev() {
            for u0 in (w0..=shape.caps[0]).rev() {
                let s = u1 * stride1 + u0;
                let from = (u1 - w1) * stride1 + (u0 - w0);
                let cand = best[from] + v;
                if cand > best[s] + TINY {
                    best[s] = cand;
                    taken.set(c * states + s);
                }
            }
        }
    }
    // `best[s]` is the best value within capacity `s`: reconstruct the patterns of the states
    // with the highest values, distinct ones only.
    let mut order: Vec<usize> = (0..states).collect();
    order.sort_by(|&a, &b| best[b].total_cmp(&best[a]).then(a.cmp(&b)));
    let mut patterns: Vec<(f64, Vec<(usize, u32)>)> = Vec::new();
    for &top in order.iter().take(PRICED_PATTERNS * 8) {
        if patterns.len() == PRICED_PATTERNS || best[top] <= TINY {
            break;
        }
        let mut s = top;
        let mut counts = vec![0u32; items.len()];
        for c in (0..chunks.len()).rev() {
            if taken.get(c * states + s) {
                let (i, k) = chunks[c];
                counts[i] += k;
                let w0 = (items[i].demand[shape.dims[0]] * k as f64).round() as usize;
                let w1 = shape
                    .dims
                    .get(1)
                    .map_or(0, |&r| (items[i].demand[r] * k as f64).round() as usize);
                s -= w1 * stride1 + w0;
            }
        }
        let p = by_flavor(items, &counts);
        if !patterns.iter().any(|(_, q)| *q == p) {
            patterns.push((best[top], p));
        }
    }
    Priced {
        patterns,
        upper: best[order[0]],
    }
}

/// A fixed-size bit set (the DP's decisions: one bit per state and chunk).
struct Bits(Vec<u64>);

impl Bits {
    fn new(n: usize) -> Self {
        Bits(vec![0; n.div_ceil(64)])
    }
    fn set(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }
    fn get(&self, i: usize) -> bool {
        self.0[i / 64] >> (i % 64) & 1 == 1
    }
}

fn branch_and_bound_from(shape: &DpShape, items: &[Item], nodes: usize) -> Priced {
    let nd = items[0].demand.len();
    let mut free = vec![f64::INFINITY; nd];
    for (&r, &c) in shape.dims.iter().zip(&shape.caps) {
        free[r] = c as f64;
    }
    branch_and_bound(&free, items.to_vec(), nodes)
}

/// Depth-first branch and bound. The bound at a node is the fractional knapsack of the items
/// left under one surrogate constraint (each dimension over the class's free capacity, summed),
/// which relaxes every dimension at once.
fn branch_and_bound(free: &[f64], mut items: Vec<Item>, budget: usize) -> Priced {
    let weights: Vec<f64> = free
        .iter()
        .map(|&f| {
            if f > EPS && f.is_finite() {
                1.0 / f
            } else {
                0.0
            }
        })
        .collect();
    let size = |it: &Item| -> f64 { it.demand.iter().zip(&weights).map(|(x, w)| x * w).sum() };
    items.sort_by(|a, b| {
        let ra = a.value / size(a).max(TINY);
        let rb = b.value / size(b).max(TINY);
        rb.total_cmp(&ra).then(a.flavor.cmp(&b.flavor))
    });
    let sizes: Vec<f64> = items.iter().map(size).collect();
    let mut search = Search {
        items: &items,
        sizes: &sizes,
        rem: free.to_vec(),
        surrogate: weights.iter().filter(|&&w| w > 0.0).count() as f64,
        counts: vec![0; items.len()],
        groups: Vec::new(),
        value: 0.0,
        best: 0.0,
        best_counts: vec![0; items.len()],
        nodes: 0,
        budget,
        found: Vec::new(),
    };
    let upper = search.bound(0);
    search.dfs(0);
    let complete = search.nodes <= budget;
    let mut patterns: Vec<(f64, Vec<(usize, u32)>)> = Vec::new();
    for (v, counts) in search.found.iter().rev() {
        let p = by_flavor(&items, counts);
        if !p.is_empty() && !patterns.iter().any(|(_, q)| *q == p) {
            patterns.push((*v, p));
        }
    }
    Priced {
        patterns,
        upper: if complete { search.best } else { upper },
    }
}

struct Search<'a> {
    items: &'a [Item],
    sizes: &'a [f64],
    rem: Vec<f64>,
    /// Surrogate capacity left: sum over dimensions of rem / free.
    surrogate: f64,
    counts: Vec<u32>,
    groups: Vec<usize>,
    value: f64,
    best: f64,
    best_counts: Vec<u32>,
    nodes: usize,
    budget: usize,
    /// The last incumbents, oldest first (at most `PRICED_PATTERNS`).
    found: Vec<(f64, Vec<u32>)>,
}

impl Search<'_> {
    /// The value so far plus the fractional knapsack of items `i..` in the surrogate capacity.
    fn bound(&self, i: usize) -> f64 {
        let mut cap = self.surrogate;
        let mut v = self.value;
        for (it, &size) in self.items[i..].iter().zip(&self.sizes[i..]) {
            if it.group.is_some_and(|g| self.groups.contains(&g)) {
                continue;
            }
            let n = self.most(it) as f64;
            if size * n <= cap + TINY {
                cap -= size * n;
                v += it.value * n;
            } else {
                v += it.value * cap / size.max(TINY);
                break;
            }
        }
        v
    }

    /// Copies of `it` that fit what is left, alone (one at most of a group, none once the group
    /// has one).
    fn most(&self, it: &Item) -> u32 {
        let mut most = match it.group {
            Some(g) if self.groups.contains(&g) => 0,
            Some(_) => it.most.min(1),
            None => it.most,
        };
        for (d, r) in it.demand.iter().zip(&self.rem) {
            if *d > EPS {
                most = most.min(((r + EPS) / d).floor().max(0.0) as u32);
            }
        }
        most
    }

    fn dfs(&mut self, mut i: usize) {
        self.nodes += 1;
        if self.value > self.best + NOISE {
            self.best = self.value;
            self.best_counts.clone_from(&self.counts);
            if self.found.len() == PRICED_PATTERNS {
                self.found.remove(0);
            }
            self.found.push((self.value, self.counts.clone()));
        }
        // Items that no longer fit are skipped without a node of their own.
        while i < self.items.len() && self.most(&self.items[i]) == 0 {
            i += 1;
        }
        if i == self.items.len() || self.nodes > self.budget {
            return;
        }
        if self.bound(i) <= self.best + NOISE {
            return;
        }
        let most = self.most(&self.items[i]);
        let group = self.items[i].group;
        for k in (0..=most).rev() {
            self.take(i, k as f64);
            self.counts[i] = k;
            if k > 0 {
                if let Some(g) = group {
                    self.groups.push(g);
                }
            }
            self.dfs(i + 1);
            if k > 0 && group.is_some() {
                self.groups.pop();
            }
            self.take(i, -(k as f64));
            self.counts[i] = 0;
            if self.nodes > self.budget {
                return;
            }
        }
    }

    fn take(&mut self, i: usize, k: f64) {
        let it = &self.items[i];
        for (r, d) in self.rem.iter_mut().zip(&it.demand) {
            *r -= d * k;
        }
        self.surrogate -= self.sizes[i] * k;
        self.value += it.value * k;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(flavor: usize, value: f64, demand: Vec<f64>, most: u32) -> Item {
        Item {
            flavor,
            value,
            demand,
            most,
            group: None,
        }
    }

    fn small() -> Vec<Item> {
        // Capacity 10: 4+6 (value 5+7 = 12) beats 3+3+3 (value 3 x 3.5 = 10.5) and 6+3 (10.5).
        vec![
            item(0, 5.0, vec![4.0], 2),
            item(1, 7.0, vec![6.0], 1),
            item(2, 3.5, vec![3.0], 3),
        ]
    }

    #[test]
    fn dynamic_programming_finds_the_best_pattern_of_a_small_knapsack() {
        let free = [10.0];
        assert!(dp_shape(&free, &small()).is_some());
        let p = price(&free, small(), MAX_NODES);
        assert!((p.patterns[0].0 - 12.0).abs() < 1e-9, "{}", p.patterns[0].0);
        assert_eq!(p.patterns[0].1, vec![(0, 1), (1, 1)]);
        assert!((p.upper - p.patterns[0].0).abs() < 1e-9);
    }

    #[test]
    fn branch_and_bound_finds_the_best_pattern_of_a_small_knapsack() {
        // The same knapsack scaled by 1.5: a fractional size, so no dynamic programming.
        let free = [15.0];
        let items: Vec<Item> = small()
            .into_iter()
            .map(|mut it| {
                it.demand[0] *= 1.5;
                it
            })
            .collect();
        assert!(dp_shape(&free, &items).is_none());
        let p = price(&free, items, MAX_NODES);
        assert!((p.patterns[0].0 - 12.0).abs() < 1e-9, "{}", p.patterns[0].0);
        assert_eq!(p.patterns[0].1, vec![(0, 1), (1, 1)]);
    }

    #[test]
    fn pricing_respects_every_dimension_and_the_group() {
        // Two dimensions: item 0 is cheap in cpu, dear in memory.
        let free = [4.0, 4.0];
        let mut items = vec![
            item(0, 3.0, vec![1.0, 3.0], 2),
            item(1, 2.0, vec![2.0, 1.0], 2),
        ];
        // Without the group, dynamic programming: 1 x item 0 + 1 x item 1 = 5 (two of item 0
        // need 6 memory; two of item 1 and none of 0 is 4).
        let p = price(&free, items.clone(), MAX_NODES);
        assert_eq!(p.patterns[0].1, vec![(0, 1), (1, 1)]);
        // A group over both: only one VM.
        items[0].group = Some(0);
        items[1].group = Some(0);
        let p = price(&free, items, MAX_NODES);
        assert_eq!(p.patterns[0].1, vec![(0, 1)]);
        assert!((p.patterns[0].0 - 3.0).abs() < 1e-9);
    }

    #[test]
    fn the_two_methods_agree_on_random_knapsacks() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        for _ in 0..200 {
            let free = [
                rng.random_range(10..60) as f64,
                rng.random_range(10..60) as f64,
            ];
            let items: Vec<Item> = (0..rng.random_range(1..8))
                .map(|f| {
                    item(
                        f,
                        rng.random_range(1..100) as f64 / 10.0,
                        vec![
                            rng.random_range(1..20) as f64,
                            rng.random_range(0..20) as f64,
                        ],
                        rng.random_range(1..4),
                    )
                })
                .collect();
            let best = |p: &Priced| p.patterns.first().map_or(0.0, |x| x.0);
            let a = dp(&dp_shape(&free, &items).unwrap(), &items, MAX_NODES);
            let b = branch_and_bound(&free, items.clone(), MAX_NODES);
            assert!(
                (best(&a) - best(&b)).abs() < 1e-9,
                "{} vs {}",
                best(&a),
                best(&b)
            );
            assert!((a.upper - best(&a)).abs() < 1e-9 && (b.upper - best(&b)).abs() < 1e-9);
        }
    }
}

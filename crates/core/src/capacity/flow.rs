//! Max flow on the bipartite network of one flavor: storage systems to connected hosts.

/// The result of a max flow from storage systems to hosts.
pub(super) struct Flow {
    pub total: usize,
    pub storage_left: Vec<usize>,
    pub host_left: Vec<usize>,
}

/// A bipartite transportation network: source -> storage (supply) -> connected hosts -> sink
/// (what each host takes). Dinic's algorithm on integer capacities.
pub(super) struct Transport {
    /// Edges as (to, capacity left); the reverse of edge e is e ^ 1.
    edges: Vec<(usize, usize)>,
    adj: Vec<Vec<usize>>,
    storage: usize,
    hosts: usize,
}

impl Transport {
    const SOURCE: usize = 0;
    const SINK: usize = 1;

    pub fn new(supply: &[usize], take: &[usize], links: &[Vec<usize>]) -> Transport {
        let (storage, hosts) = (supply.len(), take.len());
        let mut t = Transport {
            edges: Vec::new(),
            adj: vec![Vec::new(); 2 + storage + hosts],
            storage,
            hosts,
        };
        for (s, &cap) in supply.iter().enumerate() {
            t.edge(Self::SOURCE, 2 + s, cap);
        }
        for (h, &cap) in take.iter().enumerate() {
            t.edge(2 + storage + h, Self::SINK, cap);
            for &s in &links[h] {
                t.edge(2 + s, 2 + storage + h, usize::MAX / 4);
            }
        }
        t
    }

    fn edge(&mut self, from: usize, to: usize, cap: usize) {
        self.adj[from].push(self.edges.len());
        self.edges.push((to, cap));
        self.adj[to].push(self.edges.len());
        self.edges.push((from, 0));
    }

    pub fn max_flow(mut self) -> Flow {
        let mut total = 0;
        loop {
            // Levels by breadth-first search over edges with capacity left.
            let mut level = vec![usize::MAX; self.adj.len()];
            level[Self::SOURCE] = 0;
            let mut queue = std::collections::VecDeque::from([Self::SOURCE]);
            while let Some(u) = queue.pop_front() {
                for &e in &self.adj[u] {
                    let (v, cap) = self.edges[e];
                    if cap > 0 && level[v] == usize::MAX {
                        level[v] = level[u] + 1;
                        queue.push_back(v);
                    }
                }
            }
            if level[Self::SINK] == usize::MAX {
                break;
            }
            let mut next = vec![0usize; self.adj.len()];
            loop {
                let pushed = self.push(Self::SOURCE, usize::MAX, &level, &mut next);
                if pushed == 0 {
                    break;
                }
                total += pushed;
            }
        }
        let storage_left = (0..self.storage)
            .map(|s| self.edges[self.adj[Self::SOURCE][s]].1)
            .collect();
        let host_left = (0..self.hosts)
            .map(|h| {
                let node = 2 + self.storage + h;
                self.edges[self.adj[node][0]].1
            })
            .collect();
        Flow {
            total,
            storage_left,
            host_left,
        }
    }

    /// Pushes flow along shortest augmenting paths (iteratively, so deep graphs cannot overflow
    /// the stack: paths here have three edges).
    fn push(&mut self, u: usize, limit: usize, level: &[usize], next: &mut [usize]) -> usize {
        if u == Self::SINK {
            return limit;
        }
        while next[u] < self.adj[u].len() {
            let e = self.adj[u][next[u]];
            let (v, cap) = self.edges[e];
            if cap > 0 && level[v] == level[u] + 1 {
                let got = self.push(v, limit.min(cap), level, next);
                if got > 0 {
                    self.edges[e].1 -= got;
                    self.edges[e ^ 1].1 += got;
                    return got;
                }
            }
            next[u] += 1;
        }
        0
    }
}

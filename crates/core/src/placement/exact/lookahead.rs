//! The exact search's view of the storage model's host look-ahead: the host supply pooled into
//! classes, the anti-affinity caps, and the transportation check the look-ahead rows amount to.

use super::Item;
use crate::domain::{fits, Domain, HostIx, IxVec, StorageIx, EPS};

/// Host capacity as the look-ahead sees it: hosts with the same eligible storage systems pooled
/// (exact for a transportation relaxation), all hosts and the initially active ones apart.
pub(super) struct Supply {
    /// Per class: the storage systems it serves (sorted).
    pub(super) serves: Vec<Vec<StorageIx>>,
    /// Per class, per resource: free capacity of all its hosts.
    pub(super) all: Vec<Vec<f64>>,
    /// Per class, per resource: free capacity of its initially active hosts.
    pub(super) active: Vec<Vec<f64>>,
    /// Per storage, per resource: free capacity of its eligible hosts (a cheap necessary test).
    pub(super) reachable: IxVec<StorageIx, Vec<f64>>,
}

/// Eligible hosts of each storage system (connected, and fitting some flavor that may go there),
/// pooled into classes by the storage systems they serve.
pub(super) fn host_lookahead_supply(d: &Domain, items: &[Item]) -> Supply {
    let nr = d.resources.len();
    let mut serves_of: IxVec<HostIx, Vec<StorageIx>> = IxVec::filled(Vec::new(), d.hosts.len());
    let mut reachable = IxVec::filled(vec![0.0; nr], d.storage.len());
    for (s, sys) in d.storage.enumerate() {
        let demands: Vec<&Vec<f64>> = items
            .iter()
            .filter(|it| it.options.iter().any(|o| o.0 == s))
            .map(|it| &it.demand)
            .collect();
        if demands.is_empty() {
            continue;
        }
        for &h in &sys.hosts {
            let free = d.hosts[h].free();
            if demands.iter().any(|dem| fits(dem, &free)) {
                serves_of[h].push(s);
                for (x, f) in reachable[s].iter_mut().zip(&free) {
                    *x += f;
                }
            }
        }
    }
    let mut index: std::collections::HashMap<Vec<StorageIx>, usize> = Default::default();
    let mut supply = Supply {
        serves: Vec::new(),
        all: Vec::new(),
        active: Vec::new(),
        reachable,
    };
    for (h, serves) in serves_of.into_enumerate() {
        if serves.is_empty() {
            continue;
        }
        let c = *index.entry(serves.clone()).or_insert_with(|| {
            supply.serves.push(serves);
            supply.all.push(vec![0.0; nr]);
            supply.active.push(vec![0.0; nr]);
            supply.serves.len() - 1
        });
        let host = &d.hosts[h];
        for (r, f) in host.free().iter().enumerate() {
            supply.all[c][r] += f;
            if host.initially_active() {
                supply.active[c][r] += f;
            }
        }
    }
    supply
}

/// `anti_affinity_spread`: per group and storage, the connected hosts that fit some member of
/// the group that may go there.
pub(super) fn anti_affinity_spread_caps(
    d: &Domain,
    items: &[Item],
) -> Vec<IxVec<StorageIx, usize>> {
    let mut caps = vec![IxVec::filled(usize::MAX, d.storage.len()); d.groups.len()];
    for (g, row) in caps.iter_mut().enumerate() {
        for s in d.storage.ids() {
            let cap = &mut row[s];
            let demands: Vec<&Vec<f64>> = items
                .iter()
                .filter(|it| it.group == Some(g) && it.options.iter().any(|o| o.0 == s))
                .map(|it| &it.demand)
                .collect();
            if demands.is_empty() {
                continue;
            }
            *cap = d.storage[s]
                .hosts
                .iter()
                .filter(|&&h| {
                    let free = d.hosts[h].free();
                    demands.iter().any(|dem| fits(dem, &free))
                })
                .count();
        }
    }
    caps
}

/// Whether every demand (storage, amount) can be routed to the classes serving its storage
/// within their supply of resource `r`: a max flow by augmenting paths (the graphs are small:
/// the loaded storage systems of a small batch and the host classes serving them).
pub(super) fn transportation_feasible(
    demand: &[(StorageIx, f64)],
    serves: &[Vec<StorageIx>],
    supply: &[Vec<f64>],
    r: usize,
) -> bool {
    if demand.is_empty() {
        return true;
    }
    let classes: Vec<usize> = (0..serves.len())
        .filter(|&c| {
            supply[c][r] > EPS
                && demand
                    .iter()
                    .any(|(s, _)| serves[c].binary_search(s).is_ok())
        })
        .collect();
    let total: f64 = demand.iter().map(|x| x.1).sum();
    let available: f64 = classes.iter().map(|&c| supply[c][r]).sum();
    if total > available + EPS * (1.0 + total) {
        return false;
    }
    // flow[i][j]: from demand i to class j; residual capacities follow from it.
    let (n, m) = (demand.len(), classes.len());
    let mut flow = vec![vec![0.0; m]; n];
    let mut left: Vec<f64> = demand.iter().map(|x| x.1).collect();
    let mut room: Vec<f64> = classes.iter().map(|&c| supply[c][r]).collect();
    let edge = |i: usize, j: usize| serves[classes[j]].binary_search(&demand[i].0).is_ok();
    loop {
        let Some(start) = (0..n).find(|&i| left[i] > EPS) else {
            return true;
        };
        // BFS over demand nodes (0..n) and class nodes (n..n+m); a demand reaches a class by an
        // edge, a class reaches a demand back along positive flow.
        let mut prev = vec![usize::MAX; n + m];
        prev[start] = start;
        let mut queue = std::collections::VecDeque::from([start]);
        let mut end = None;
        while let Some(u) = queue.pop_front() {
            if u < n {
                for j in 0..m {
                    if prev[n + j] == usize::MAX && edge(u, j) {
                        prev[n + j] = u;
                        if room[j] > EPS {
                            end = Some(j);
                            break;
                        }
                        queue.push_back(n + j);
                    }
                }
                if end.is_some() {
                    break;
                }
            } else {
                let j = u - n;
                for i in 0..n {
                    if prev[i] == usize::MAX && flow[i][j] > EPS {
                        prev[i] = u;
                        queue.push_back(i);
                    }
                }
            }
        }
        let Some(j_end) = end else {
            return false;
        };
        // The bottleneck along the path, then push it.
        let mut amount = left[start].min(room[j_end]);
        let mut v = n + j_end;
        while v != start {
            let u = prev[v];
            if u >= n {
                amount = amount.min(flow[v][u - n]);
            }
            v = u;
        }
        let mut v = n + j_end;
        while v != start {
            let u = prev[v];
            if u < n {
                flow[u][v - n] += amount;
            } else {
                flow[v][u - n] -= amount;
            }
            v = u;
        }
        left[start] -= amount;
        room[j_end] -= amount;
    }
}

#[cfg(test)]
mod tests {
    use super::transportation_feasible;

    #[test]
    fn transportation_reroutes_through_shared_classes() {
        // Storage 0 reaches classes 0 and 1, storage 1 only class 1. Filling class 1 from
        // storage 0 first must be undone to serve storage 1.
        let (s0, s1) = (crate::domain::StorageIx(0), crate::domain::StorageIx(1));
        let serves = vec![vec![s0], vec![s0, s1]];
        let supply = vec![vec![5.0], vec![5.0]];
        assert!(transportation_feasible(
            &[(s0, 5.0), (s1, 5.0)],
            &serves,
            &supply,
            0
        ));
        assert!(!transportation_feasible(
            &[(s0, 4.0), (s1, 6.0)],
            &serves,
            &supply,
            0
        ));
        assert!(!transportation_feasible(
            &[(s0, 6.0), (s1, 4.5)],
            &serves,
            &supply,
            0
        ));
    }
}

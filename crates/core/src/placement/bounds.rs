//! What a phase achieved and proved: placed weight and cost against their bounds, the gap and
//! the status, and the combinatorial floors that hold at any scale.

use crate::domain::quality::{gap, Goal};
use crate::domain::{Domain, RequestIx, EPS, MIP_TOL, NOISE};
use vmplace_wire::{Objective, PhaseName, PhaseSolver, PhaseStats, Status};

/// How good the whole call's answer is.
pub(crate) struct Quality {
    pub status: Status,
    pub weight_bound: f64,
    pub gap: f64,
}

/// Status, placed-weight bound and gap of the whole call (README, "How good an answer is").
/// The first phase's bound holds for the call: phase 1's model relaxes both phases together
/// (models/storage.md), and a host-phase call has its storage given; so does the joint model's,
/// when it answered the whole pool after the phases. The gap is the larger of
/// the placed-weight gap and every phase's own gap.
pub(crate) fn whole_call(d: &Domain, phase_stats: &[&PhaseStats], placed: f64) -> Quality {
    // A joint model over the whole pool (or its neighbourhood search) bounds the call too.
    let joint = phase_stats
        .iter()
        .filter(|p| matches!(p.solver, PhaseSolver::Joint | PhaseSolver::JointLns))
        .map(|p| p.placed_weight_bound);
    let weight_bound = phase_stats
        .first()
        .map_or(total_weight(d), |p| p.placed_weight_bound)
        .min(joint.fold(f64::INFINITY, f64::min))
        .min(total_weight(d))
        .max(placed);
    let wgap = gap(placed, weight_bound, Goal::Maximize);
    let gap = phase_stats.iter().map(|p| p.gap).fold(wgap, f64::max);
    let worst = phase_stats
        .iter()
        .map(|p| p.status)
        .max()
        .unwrap_or(Status::Feasible);
    let status = if weight_bound <= EPS {
        Status::Infeasible
    } else if worst == Status::Optimal && wgap > 0.0 {
        Status::Feasible
    } else {
        worst
    };
    Quality {
        status,
        weight_bound,
        gap,
    }
}

/// Fresh statistics of a phase.
pub(crate) fn phase_stats(phase: PhaseName, solver: PhaseSolver, flavors: usize) -> PhaseStats {
    PhaseStats {
        phase,
        solver,
        flavors,
        ..Default::default()
    }
}

/// What a phase achieved and proved, before it becomes `PhaseStats`.
pub(crate) struct Measured {
    pub weight: f64,
    pub weight_bound: f64,
    pub cost: f64,
    pub cost_bound: f64,
    pub time_limited: bool,
    pub is_mip: bool,
}

/// Writes what a phase achieved and proved into its stats; returns its status.
pub(crate) fn record(st: &mut PhaseStats, d: &Domain, m: Measured) -> Status {
    let Measured {
        weight,
        weight_bound,
        cost,
        cost_bound,
        time_limited,
        is_mip,
    } = m;
    st.placed_weight = weight;
    st.placed_weight_bound = if weight_bound.is_finite() {
        weight_bound.max(weight)
    } else {
        weight
    };
    st.objective = cost;
    // A non-finite bound (HiGHS stopped before its root LP) proves nothing: fall back to the
    // objective's own trivial floor, never to NaN in the document.
    st.bound = if cost_bound.is_finite() {
        cost_bound.min(cost)
    } else {
        cost.min(0.0)
    };
    let wgap = gap(weight, st.placed_weight_bound, Goal::Maximize);
    st.gap = gap(cost, st.bound, Goal::Minimize).max(wgap);
    let proven = wgap <= NOISE && st.gap <= d.settings.mip_gap + NOISE;
    let status = if is_mip && proven {
        Status::Optimal
    } else if is_mip && time_limited {
        Status::TimeLimit
    } else {
        Status::Feasible
    };
    st.status = status;
    status
}

/// The host phase's cost bound, rounded up to an integer under `pack`, where the cost is a count
/// of hosts: HiGHS reports a bound such as 167.00000000000017 or 166.4 for an optimum of 167, and
/// no answer can use 166.4 hosts. `balance` costs are not integral and stay as they are.
pub(crate) fn integral_host_bound(d: &Domain, bound: f64) -> f64 {
    // Soft group rules add their weights to the cost, which is then no count of hosts.
    let counts_hosts = d.group_rules.iter().all(|g| g.hard);
    match d.settings.host_policy {
        Objective::Pack if bound.is_finite() && counts_hosts => (bound - MIP_TOL).ceil(),
        _ => bound,
    }
}

/// Total priority weight of the requests.
pub(crate) fn total_weight(d: &Domain) -> f64 {
    d.requests.iter().map(|r| r.priority).sum()
}

/// Trivial lower bound of the storage cost: what is already used (the flexibility penalty is
/// at least 0).
pub(crate) fn storage_cost_floor(d: &Domain) -> f64 {
    let util0 = crate::domain::evaluate::initial_storage_utilisation(d);
    let policy = match d.settings.storage_policy {
        Objective::Balance => util0,
        Objective::Pack => {
            d.storage.iter().filter(|s| s.used > EPS).count().max(1) as f64
                / d.storage.len().max(1) as f64
        }
    };
    policy
}

/// Lower bound of the host cost over every assignment that places at least `weight` of the
/// requests in `candidates` (combinatorial, valid at any scale): the demand of the smallest set of
/// requests that can reach that weight must fit somewhere. `pack`: already-active hosts' free
/// capacity, then the largest idle hosts, per resource. `balance`: the highest
/// (used + demand) / capacity over the pool, per resource (the max is at least the average).
pub fn host_cost_floor(d: &Domain, candidates: &[RequestIx], weight: f64) -> f64 {
    let nr = d.axes.len();
    let mut prios: Vec<f64> = candidates.iter().map(|r| d.requests[r].priority).collect();
    prios.sort_by(|a, b| b.total_cmp(a));
    let mut n_min = 0;
    let mut acc = 0.0;
    while acc < weight - NOISE && n_min < prios.len() {
        acc += prios[n_min];
        n_min += 1;
    }
    let mut demand = vec![0.0; nr];
    for (k, dk) in demand.iter_mut().enumerate() {
        let mut v: Vec<f64> = candidates.iter().map(|r| d.requests[r].demand[k]).collect();
        v.sort_by(f64::total_cmp);
        *dk = v.iter().take(n_min).sum();
    }
    match d.settings.host_policy {
        Objective::Pack => {
            let active = d.hosts.iter().filter(|h| h.initially_active()).count();
            let mut extra = 0;
            for (k, &demand_k) in demand.iter().enumerate() {
                let free_active: f64 = d
                    .hosts
                    .iter()
                    .filter(|h| h.initially_active())
                    .map(|h| h.free()[k])
                    .sum();
                let mut need = demand_k - free_active;
                let mut idle: Vec<f64> = d
                    .hosts
                    .iter()
                    .filter(|h| !h.initially_active())
                    .map(|h| h.capacity[k])
                    .collect();
                idle.sort_by(|a, b| b.total_cmp(a));
                let mut count = 0;
                for c in idle {
                    if need <= NOISE {
                        break;
                    }
                    need -= c;
                    count += 1;
                }
                extra = extra.max(count);
            }
            (active + extra) as f64
        }
        Objective::Balance => {
            let mut best: f64 = 0.0;
            for (k, &demand_k) in demand.iter().enumerate() {
                let cap: f64 = d.hosts.iter().map(|h| h.capacity[k]).sum();
                let used: f64 = d.hosts.iter().map(|h| h.used[k]).sum();
                if cap > EPS {
                    best = best.max((used + demand_k) / cap);
                }
            }
            let initial = d
                .hosts
                .iter()
                .flat_map(|h| {
                    h.used
                        .iter()
                        .zip(&h.capacity)
                        .map(|(u, c)| if *c > EPS { u / c } else { 0.0 })
                })
                .fold(0.0, f64::max);
            best.max(initial)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Settings;
    use crate::validation::{read_problem, Phase};

    fn domain(host_policy: Objective) -> Domain {
        let doc = r#"{"storage": [{"id": "s", "capacity_gib": 10}],
                      "hosts": [{"id": "h", "capacity": {"cpu": 4}, "storage": ["s"]}],
                      "requests": [{"id": "r", "demand": {"cpu": 1}, "disk_gib": 1}]}"#;
        let p = read_problem(doc, Phase::Storage).unwrap();
        Domain::from_problem(
            &p,
            Settings {
                host_policy,
                ..Settings::default()
            },
        )
    }

    #[test]
    fn a_host_count_bound_is_a_whole_number_of_hosts() {
        let d = domain(Objective::Pack);
        assert_eq!(integral_host_bound(&d, 167.000_000_000_000_17), 167.0);
        assert_eq!(integral_host_bound(&d, 166.4), 167.0);
        assert_eq!(integral_host_bound(&d, 166.0), 166.0);
        // Rounded, the bound proves 167 hosts optimal.
        let mut st = PhaseStats::default();
        let status = record(
            &mut st,
            &d,
            Measured {
                weight: 1.0,
                weight_bound: 1.0,
                cost: 167.0,
                cost_bound: integral_host_bound(&d, 166.4),
                time_limited: true,
                is_mip: true,
            },
        );
        assert_eq!((status, st.gap), (Status::Optimal, 0.0));
    }

    #[test]
    fn a_utilisation_bound_is_not_rounded() {
        let d = domain(Objective::Balance);
        assert_eq!(integral_host_bound(&d, 0.4), 0.4);
    }
}

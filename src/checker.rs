//! The independent checker: re-verifies a solution from the wire problem and the wire solution
//! alone. It deliberately shares no code with validation, domain, greedy or the models, so a bug
//! there cannot hide itself here.

use crate::format::{Problem, Solution, Status};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Tolerance for capacity sums (absolute, plus relative to the capacity).
const TOL: f64 = 1e-6;

/// One broken rule.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Violation {
    /// Stable rule name, e.g. `HOST_CAPACITY`.
    pub rule: String,
    /// JSON pointer into the solution (or problem) where it shows.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

fn v(rule: &str, path: impl Into<String>, message: impl Into<String>) -> Violation {
    Violation {
        rule: rule.to_string(),
        path: path.into(),
        message: message.into(),
    }
}

/// Known unplaced codes (kept in sync with README by a test, not by sharing code).
const UNPLACED_CODES: [&str; 6] = [
    "NO_STORAGE_CAPACITY",
    "DEMAND_EXCEEDS_HOSTS",
    "NO_CONNECTED_HOST_CAPACITY",
    "ANTI_AFFINITY",
    "CAPACITY_TAKEN",
    "LOOKAHEAD_NO_HOST",
];

/// What the solution claims to be: phase 1 answers carry no hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Infer: hosts are checked where present.
    Any,
    /// Phase 1: no hosts.
    StorageOnly,
    /// Phase 2 or both: every placement has a host.
    WithHosts,
}

/// Checks every hard rule. An empty list means the solution is valid for the problem.
pub fn check(problem: &Problem, solution: &Solution, expect: Expect) -> Vec<Violation> {
    let mut out = Vec::new();
    let storage: HashMap<&str, (f64, f64)> = problem
        .storage
        .iter()
        .map(|s| (s.id.as_str(), (s.capacity_gib, s.used_gib)))
        .collect();
    let hosts: HashMap<&str, usize> = problem
        .hosts
        .iter()
        .enumerate()
        .map(|(i, h)| (h.id.as_str(), i))
        .collect();
    let requests: HashMap<&str, usize> = problem
        .requests
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id.as_str(), i))
        .collect();

    // Every request exactly once, in placements or unplaced.
    let mut seen: HashSet<&str> = HashSet::new();
    let ids = solution
        .placements
        .iter()
        .enumerate()
        .map(|(i, p)| (format!("/placements/{i}/request"), p.request.as_str()))
        .chain(
            solution
                .unplaced
                .iter()
                .enumerate()
                .map(|(i, u)| (format!("/unplaced/{i}/request"), u.request.as_str())),
        );
    for (path, id) in ids {
        if !requests.contains_key(id) {
            out.push(v(
                "UNKNOWN_REQUEST",
                path,
                format!("request `{id}` is not in the problem"),
            ));
        } else if !seen.insert(id) {
            out.push(v(
                "DUPLICATE_REQUEST",
                path,
                format!("request `{id}` appears twice"),
            ));
        }
    }
    for r in &problem.requests {
        if !seen.contains(r.id.as_str()) {
            out.push(v(
                "MISSING_REQUEST",
                "/placements",
                format!("request `{}` is neither placed nor unplaced", r.id),
            ));
        }
    }
    for (i, u) in solution.unplaced.iter().enumerate() {
        if !UNPLACED_CODES.contains(&u.code.as_str()) {
            out.push(v(
                "UNKNOWN_REASON_CODE",
                format!("/unplaced/{i}/code"),
                format!("unknown code `{}`", u.code),
            ));
        }
    }

    // Capacities, connectivity, anti-affinity.
    let mut disk: BTreeMap<&str, f64> = BTreeMap::new();
    let mut load: Vec<BTreeMap<String, f64>> = problem
        .hosts
        .iter()
        .map(|h| h.used.clone().unwrap_or_default())
        .collect();
    let mut groups: HashSet<(&str, &str)> = HashSet::new();
    for (i, p) in solution.placements.iter().enumerate() {
        let Some(&ri) = requests.get(p.request.as_str()) else {
            continue;
        };
        let req = &problem.requests[ri];
        if !storage.contains_key(p.storage.as_str()) {
            out.push(v(
                "UNKNOWN_STORAGE",
                format!("/placements/{i}/storage"),
                format!("storage `{}` does not exist", p.storage),
            ));
            continue;
        }
        if let Some(fixed) = &req.storage {
            if fixed != &p.storage {
                out.push(v(
                    "FIXED_STORAGE_CHANGED",
                    format!("/placements/{i}/storage"),
                    format!(
                        "request `{}` was given storage `{fixed}`, placed on `{}`",
                        req.id, p.storage
                    ),
                ));
            }
        }
        *disk.entry(p.storage.as_str()).or_default() += req.disk_gib;
        match (&p.host, expect) {
            (Some(_), Expect::StorageOnly) => {
                out.push(v(
                    "UNEXPECTED_HOST",
                    format!("/placements/{i}/host"),
                    "a storage-phase answer names no host",
                ));
            }
            (None, Expect::WithHosts) => {
                out.push(v(
                    "MISSING_HOST",
                    format!("/placements/{i}/host"),
                    format!("request `{}` has no host", req.id),
                ));
            }
            _ => {}
        }
        let Some(hid) = &p.host else { continue };
        let Some(&hi) = hosts.get(hid.as_str()) else {
            out.push(v(
                "UNKNOWN_HOST",
                format!("/placements/{i}/host"),
                format!("host `{hid}` does not exist"),
            ));
            continue;
        };
        let host = &problem.hosts[hi];
        if !host.storage.iter().any(|s| s == &p.storage) {
            out.push(v(
                "NOT_CONNECTED",
                format!("/placements/{i}/host"),
                format!("host `{hid}` is not connected to storage `{}`", p.storage),
            ));
        }
        for (k, x) in &req.demand {
            *load[hi].entry(k.clone()).or_default() += x;
        }
        if let Some(g) = &req.anti_affinity {
            if !groups.insert((g.as_str(), hid.as_str())) {
                out.push(v(
                    "ANTI_AFFINITY",
                    format!("/placements/{i}/host"),
                    format!("host `{hid}` runs two members of group `{g}`"),
                ));
            }
        }
    }
    for (sid, add) in &disk {
        if let Some(&(cap, used)) = storage.get(sid) {
            if used + add > cap + TOL * (1.0 + cap) {
                out.push(v(
                    "STORAGE_CAPACITY",
                    "/placements",
                    format!("storage `{sid}`: {used} + {add} GiB exceeds {cap} GiB"),
                ));
            }
        }
    }
    for (hi, host) in problem.hosts.iter().enumerate() {
        let before = host.used.clone().unwrap_or_default();
        for (k, total) in &load[hi] {
            let cap = host.capacity.get(k).copied().unwrap_or(0.0);
            let added = total - before.get(k).copied().unwrap_or(0.0);
            if added > TOL && *total > cap + TOL * (1.0 + cap) {
                out.push(v(
                    "HOST_CAPACITY",
                    "/placements",
                    format!("host `{}`: `{k}` {total} exceeds capacity {cap}", host.id),
                ));
            }
        }
    }

    // Honest status.
    if solution.gap.is_nan() || solution.gap < 0.0 {
        out.push(v(
            "BAD_GAP",
            "/gap",
            format!("gap {} is negative or not a number", solution.gap),
        ));
    }
    if solution.bound > solution.objective + 1e-6 * (1.0 + solution.objective.abs()) {
        out.push(v(
            "BAD_BOUND",
            "/bound",
            format!(
                "bound {} is above objective {} (objectives are minimised)",
                solution.bound, solution.objective
            ),
        ));
    }
    let gap_limit = problem
        .options
        .as_ref()
        .and_then(|o| o.mip_gap)
        .unwrap_or(0.001);
    if solution.status == Status::Optimal && solution.gap > gap_limit + 1e-6 {
        out.push(v(
            "BAD_STATUS",
            "/status",
            format!(
                "status optimal with gap {} above the requested {gap_limit}",
                solution.gap
            ),
        ));
    }
    if solution.status == Status::Infeasible && !solution.placements.is_empty() {
        out.push(v(
            "BAD_STATUS",
            "/status",
            "status infeasible but requests are placed",
        ));
    }
    if solution.stats.placed != solution.placements.len() {
        out.push(v(
            "BAD_STATS",
            "/stats/placed",
            format!(
                "stats.placed {} but {} placements",
                solution.stats.placed,
                solution.placements.len()
            ),
        ));
    }
    out.sort();
    out
}

/// Known admission decline codes (kept in sync with README by a test, not by sharing code).
const DECLINE_CODES: [&str; 6] = [
    "ADMISSION_SOURCE",
    "ADMISSION_STATE",
    "ADMISSION_STORAGE",
    "ADMISSION_CAPACITY",
    "ADMISSION_HEADROOM",
    "ADMISSION_ANTI_AFFINITY",
];

/// Checks a migration plan against the state it was made for: every VM moves at most once from
/// the host it is on; targets exist, are active, reach the VM's storage (live move), accepted
/// the VM and stay within capacity after all moves; anti-affinity holds on every target.
pub fn check_plan(
    state: &crate::format::state::State,
    plan: &crate::format::state::Plan,
) -> Vec<Violation> {
    use crate::format::state::HostState;
    let mut out = Vec::new();
    let hosts: HashMap<&str, usize> = state
        .hosts
        .iter()
        .enumerate()
        .map(|(i, h)| (h.id.as_str(), i))
        .collect();
    let vms: HashMap<&str, usize> = state
        .vms
        .iter()
        .enumerate()
        .map(|(i, v)| (v.id.as_str(), i))
        .collect();
    let mut placement: Vec<String> = state.vms.iter().map(|v| v.host.clone()).collect();
    let mut moved: HashSet<&str> = HashSet::new();
    let mut targets: HashSet<usize> = HashSet::new();
    for (i, m) in plan.migrations.iter().enumerate() {
        let path = format!("/migrations/{i}");
        let Some(&vi) = vms.get(m.vm.as_str()) else {
            out.push(v(
                "UNKNOWN_VM",
                format!("{path}/vm"),
                format!("VM `{}` is not in the state", m.vm),
            ));
            continue;
        };
        let vm = &state.vms[vi];
        if !moved.insert(m.vm.as_str()) {
            out.push(v(
                "MOVED_TWICE",
                format!("{path}/vm"),
                format!("VM `{}` moves more than once", m.vm),
            ));
        }
        if m.from != vm.host {
            out.push(v(
                "WRONG_SOURCE",
                format!("{path}/from"),
                format!("VM `{}` runs on `{}`, not `{}`", m.vm, vm.host, m.from),
            ));
        }
        let Some(&hi) = hosts.get(m.to.as_str()) else {
            out.push(v(
                "UNKNOWN_HOST",
                format!("{path}/to"),
                format!("host `{}` does not exist", m.to),
            ));
            continue;
        };
        let host = &state.hosts[hi];
        if host.state != HostState::Active {
            out.push(v(
                "TARGET_NOT_ACTIVE",
                format!("{path}/to"),
                format!("host `{}` is in maintenance or off", m.to),
            ));
        }
        if !host.storage.contains(&vm.storage) {
            out.push(v(
                "NOT_LIVE",
                format!("{path}/to"),
                format!("host `{}` does not reach storage `{}`", m.to, vm.storage),
            ));
        }
        if !m.candidates.iter().any(|c| c.host == m.to && c.accepted) {
            out.push(v(
                "NOT_ACCEPTED",
                format!("{path}/to"),
                format!("host `{}` is not among the hosts that accepted", m.to),
            ));
        }
        for (j, c) in m.candidates.iter().enumerate() {
            if let Some(code) = &c.code {
                if !DECLINE_CODES.contains(&code.as_str()) {
                    out.push(v(
                        "UNKNOWN_DECLINE_CODE",
                        format!("{path}/candidates/{j}/code"),
                        format!("unknown code `{code}`"),
                    ));
                }
            }
        }
        placement[vi] = m.to.clone();
        targets.insert(hi);
    }
    // Capacity on every host that received a VM, after all moves. A resource with a usage history
    // counts by its latest sample, one without by its demand.
    for &hi in &targets {
        let host = &state.hosts[hi];
        let mut used: BTreeMap<String, f64> = BTreeMap::new();
        for (vi, vm) in state.vms.iter().enumerate() {
            if placement[vi] != host.id {
                continue;
            }
            for (k, d) in &vm.demand {
                let now = vm
                    .usage
                    .get(k)
                    .and_then(|u| u.last())
                    .copied()
                    .unwrap_or(1.0);
                *used.entry(k.clone()).or_default() += d * now;
            }
        }
        for (k, u) in used {
            let cap = host.capacity.get(&k).copied().unwrap_or(0.0);
            if u > cap + TOL * (1.0 + cap) {
                out.push(v(
                    "HOST_CAPACITY",
                    "/migrations",
                    format!("host `{}`: `{k}` {u} exceeds capacity {cap}", host.id),
                ));
            }
        }
    }
    // Anti-affinity: no moved VM ends next to another member of its group (a conflict the state
    // already had is not the plan's doing).
    for (i, m) in plan.migrations.iter().enumerate() {
        let Some(&vi) = vms.get(m.vm.as_str()) else {
            continue;
        };
        let Some(g) = &state.vms[vi].anti_affinity else {
            continue;
        };
        let clash = state.vms.iter().enumerate().any(|(o, other)| {
            o != vi && placement[o] == placement[vi] && other.anti_affinity.as_ref() == Some(g)
        });
        if clash {
            out.push(v(
                "ANTI_AFFINITY",
                format!("/migrations/{i}/to"),
                format!("`{}` lands next to another member of group `{g}`", m.vm),
            ));
        }
    }
    out.sort();
    out
}

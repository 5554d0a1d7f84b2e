//! One scenario's survivors: their free room, and which of them each restarting VM may use
//! (storage, traits, anti-affinity, room and the hard group rules), or why none.

use super::fleet::{Fleet, Running};
use crate::domain::groups::{Counts, GroupRule, MemberCounts, Policy};
use crate::domain::{HostIx, IxVec, NOISE};
use crate::model::migration::room_extremes;
use crate::model::restart::{RestartPolicy, RestartRule};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use vmplace_wire::capacity::RestartCode;

/// Dense view of one scenario.
pub(super) struct Survivors<'a> {
    pub(super) fleet: &'a Fleet,
    pub(super) failed: IxVec<HostIx, bool>,
    /// Free room of each host over the fleet's axes (none on a failed or inactive host).
    pub(super) free: IxVec<HostIx, Vec<f64>>,
}

impl<'a> Survivors<'a> {
    pub(super) fn new(fleet: &'a Fleet, failed: &[HostIx]) -> Survivors<'a> {
        let mut down = IxVec::filled(false, fleet.hosts.len());
        for &h in failed {
            down[h] = true;
        }
        let free = fleet
            .hosts
            .enumerate()
            .map(|(i, h)| {
                if down[i] || !h.active {
                    vec![0.0; fleet.axes.len()]
                } else {
                    h.capacity
                        .iter()
                        .zip(&h.used)
                        .map(|(c, u)| (c - u).max(0.0))
                        .collect()
                }
            })
            .collect();
        Survivors {
            fleet,
            failed: down,
            free,
        }
    }
}

/// A VM's eligible survivors, or why it has none.
pub(super) type Eligible = Result<Vec<HostIx>, (RestartCode, String)>;

/// Each VM's eligible survivors, or why it has none (None: `over` said stop, asked between VMs).
pub(super) fn eligibility(
    s: &Survivors,
    vms: &[&Running],
    groups: &HashMap<(HostIx, &str), usize>,
    limits: &[Vec<HostLimit>],
    over: &dyn Fn() -> bool,
) -> Option<Vec<Eligible>> {
    let mut out = Vec::with_capacity(vms.len());
    for (i, vm) in vms.iter().enumerate() {
        if over() {
            return None;
        }
        out.push(eligible(s, vm, groups, &limits[i]));
    }
    Some(out)
}

/// One VM's eligible survivors, or why it has none.
fn eligible(
    s: &Survivors,
    vm: &Running,
    groups: &HashMap<(HostIx, &str), usize>,
    limits: &[HostLimit],
) -> Eligible {
    let d = &vm.demand;
    let connected: Vec<HostIx> = s
        .fleet
        .hosts
        .ids()
        .filter(|&h| !s.failed[h] && s.fleet.hosts[h].active)
        .filter(|&h| s.fleet.hosts[h].storage.contains(&vm.storage))
        .collect();
    if connected.is_empty() {
        return Err((
            RestartCode::NoConnectedHost,
            format!("no surviving active host reaches storage `{}`", vm.storage),
        ));
    }
    let matching: Vec<HostIx> = connected
        .into_iter()
        .filter(|&h| vm.allowed_on(&s.fleet.hosts[h]))
        .collect();
    if matching.is_empty() {
        return Err((
            RestartCode::NoHostWithTraits,
            "no surviving host that reaches its storage has its traits".into(),
        ));
    }
    let apart: Vec<HostIx> = matching
        .into_iter()
        .filter(|&h| {
            vm.group
                .as_deref()
                .is_none_or(|g| groups.get(&(h, g)).copied().unwrap_or(0) == 0)
        })
        .collect();
    if apart.is_empty() {
        let g = vm.group.clone().unwrap_or_default();
        return Err((
            RestartCode::AntiAffinity,
            format!("every surviving host that reaches its storage runs a member of `{g}`"),
        ));
    }
    let mut fits = rules_allow(apart, limits)?;
    fits.retain(|&h| (0..d.len()).all(|r| d[r] <= s.free[h][r] + NOISE));
    // Kept per VM: not with the capacity of every surviving host.
    fits.shrink_to_fit();
    if fits.is_empty() {
        return Err((
            RestartCode::NoRoom,
            "no surviving host that reaches its storage has room for it".into(),
        ));
    }
    Ok(fits)
}

/// What one hard group rule allows a restarting VM: the hosts in its scope, and of those only
/// the ones whose domain `domains` lets a member in (shared by the rule's members).
pub(super) struct HostLimit {
    domain_of: Arc<IxVec<HostIx, Option<usize>>>,
    domains: Arc<Domains>,
    /// The code and reason when it allows no host the VM could otherwise use.
    why: (RestartCode, String),
}

/// The domains of a scope a rule lets a member restart in.
enum Domains {
    /// Every domain.
    All,
    /// Every domain but these (anti-affinity: those already full).
    Except(BTreeSet<usize>),
    /// Only these (affinity: those where members survive).
    Only(BTreeSet<usize>),
}

impl HostLimit {
    fn allows(&self, h: HostIx) -> bool {
        self.domain_of[h].is_some_and(|d| match &*self.domains {
            Domains::All => true,
            Domains::Except(full) => !full.contains(&d),
            Domains::Only(open) => open.contains(&d),
        })
    }
}

/// `hosts` less those a rule of `limits` excludes; the first rule that leaves none says why.
fn rules_allow(
    mut hosts: Vec<HostIx>,
    limits: &[HostLimit],
) -> Result<Vec<HostIx>, (RestartCode, String)> {
    for l in limits {
        hosts.retain(|&h| l.allows(h));
        if hosts.is_empty() {
            return Err(l.why.clone());
        }
    }
    Ok(hosts)
}

/// The hard group rules of one scenario and what each allows each restarting VM.
pub(super) struct ScenarioRules {
    /// The rows of each hard rule with restarting members.
    pub(super) rules: Vec<RestartRule>,
    /// Per restarting VM, what each of its hard rules allows it.
    pub(super) limits: Vec<Vec<HostLimit>>,
}

/// The hard group rules of one scenario: the rows of each rule with restarting members, and what
/// each rule allows each restarting VM (models/capacity.md, "Group rules"). Survivors count where
/// they run (listed VMs and `group_members` of surviving hosts); spread compares the domains with
/// a surviving active host. Sparse: each rule costs its members, and the domains with room are
/// found once per scope (thousands of one-member rules over as many racks were dense per rule x
/// host; issue 27, H2). `over` is asked between rules.
pub(super) fn scenario_rules(
    s: &Survivors,
    vms: &[&Running],
    over: &dyn Fn() -> bool,
) -> Option<ScenarioRules> {
    let fleet = s.fleet;
    let mut rules = Vec::new();
    let mut limits: Vec<Vec<HostLimit>> = (0..vms.len()).map(|_| Vec::new()).collect();
    let mut restarting: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, vm) in vms.iter().enumerate() {
        for &r in &vm.rules {
            restarting.entry(r).or_default().push(i);
        }
    }
    let mut rooms: HashMap<&str, (Arc<Vec<bool>>, usize)> = HashMap::new();
    for (r, mut members) in restarting {
        members.dedup();
        let rule = &fleet.rules[r];
        if !rule.hard {
            continue;
        }
        if over() {
            return None;
        }
        let mut present = Counts::default();
        for &(h, n) in &fleet.hosted[r] {
            if let Some(d) = rule.domain_of[h].filter(|_| !s.failed[h]) {
                present.add(d, n);
            }
        }
        for &v in &fleet.members[r] {
            let h = fleet.vms[v].host;
            if let Some(d) = rule.domain_of[h].filter(|_| !s.failed[h]) {
                present.add(d, 1);
            }
        }
        let (room, with_room) = rooms
            .entry(rule.scope.as_str())
            .or_insert_with(|| surviving_room(s, rule))
            .clone();
        let (g, scope) = (&rule.id, &rule.scope);
        // The rows (None: the hosts allowed say it all), the domains allowed, and the reason.
        let (policy, domains, why) = match rule.policy {
            Policy::AntiAffinity { max } => {
                let full: BTreeSet<usize> = present
                    .occupied()
                    .filter(|(_, n)| *n >= max)
                    .map(|(d, _)| d)
                    .collect();
                let why = format!(
                    "every eligible survivor is in a {scope} that holds {max} member(s) of `{g}` already, or outside the scope"
                );
                let rows = RestartPolicy::Arrivals { max, present };
                let domains = Domains::Except(full);
                (Some(rows), domains, (RestartCode::AntiAffinity, why))
            }
            Policy::Affinity if !present.is_empty() => {
                let open = present.occupied().map(|(d, _)| d).collect();
                let why =
                    format!("no eligible survivor is in a {scope} where members of `{g}` run");
                (None, Domains::Only(open), (RestartCode::Affinity, why))
            }
            Policy::Affinity => {
                let why = format!("no eligible survivor is in the scope `{scope}` of `{g}`");
                let rows = Some(RestartPolicy::Together);
                (rows, Domains::All, (RestartCode::Affinity, why))
            }
            Policy::Spread { skew } => {
                let (least, most) = room_extremes(&present, &room, with_room);
                let why = format!("no eligible survivor is in the scope `{scope}` of `{g}`");
                let rows = RestartPolicy::Spread {
                    present,
                    room,
                    rooms: with_room,
                    skew: skew.max(most - least),
                };
                (Some(rows), Domains::All, (RestartCode::Spread, why))
            }
        };
        let domains = Arc::new(domains);
        for &i in &members {
            limits[i].push(HostLimit {
                domain_of: rule.domain_of.clone(),
                domains: domains.clone(),
                why: why.clone(),
            });
        }
        if let Some(policy) = policy {
            rules.push(RestartRule {
                domain_of: rule.domain_of.clone(),
                members,
                policy,
            });
        }
    }
    Some(ScenarioRules { rules, limits })
}

/// The domains of `rule`'s scope with a surviving active host, and how many.
fn surviving_room(s: &Survivors, rule: &GroupRule) -> (Arc<Vec<bool>>, usize) {
    let mut room = vec![false; rule.domain_names.len()];
    for (h, host) in s.fleet.hosts.enumerate() {
        if let Some(d) = rule.domain_of[h].filter(|_| !s.failed[h]) {
            room[d] |= host.active;
        }
    }
    let n = room.iter().filter(|r| **r).count();
    (Arc::new(room), n)
}

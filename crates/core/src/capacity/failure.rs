//! What if hosts fail (models/capacity.md, "What if"): can every VM of the failed hosts restart on
//! the surviving active hosts that reach its storage? Most scenarios are decided by a best-fit
//! witness; where it leaves VMs out, a bound on the VMs with no eligible host may already prove it
//! best, and the restart MIP (`model::restart`) decides the rest.

use crate::domain::groups::{Counts, GroupRule, MemberCounts, Policy, Scopes};
use crate::model::migration::room_extremes;
use crate::model::restart::{restart, RestartPolicy, RestartRule, RestartVm};
use crate::model::{MipOptions, MipStatus};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Instant;
use vmplace_wire::capacity::{
    DecidedBy, FailureReport, NotTolerated, RestartCode, Restarted, Scenario, Unrestartable,
};
use vmplace_wire::problem::Group;
use vmplace_wire::problem::Traits;
use vmplace_wire::state::{HostState, State};
use vmplace_wire::{errors::ErrorCode, InputError, Placement, Problem, Resources, Status};

/// One `--fail`: hosts that fail together, or a kind of failure to try one at a time.
#[derive(Debug, Clone, PartialEq)]
pub enum FailSpec {
    /// `host:ID`.
    Host(String),
    /// `label:KEY=VALUE`: every host with that label value.
    Label(String, String),
    /// `any-host`: every single host in turn.
    AnyHost,
    /// `any:KEY`: every value of the label in turn (`any:rack`).
    AnyLabel(String),
}

/// As `--fail` spells it: `host:h3`, `label:rack=r12`, `any-host`, `any:rack`.
impl std::fmt::Display for FailSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FailSpec::Host(id) => write!(f, "host:{id}"),
            FailSpec::Label(k, v) => write!(f, "label:{k}={v}"),
            FailSpec::AnyHost => f.write_str("any-host"),
            FailSpec::AnyLabel(k) => write!(f, "any:{k}"),
        }
    }
}

impl FailSpec {
    /// Parses `host:ID`, `label:KEY=VALUE`, `any-host` or `any:KEY`.
    pub fn parse(text: &str) -> Result<FailSpec, String> {
        if text == "any-host" {
            return Ok(FailSpec::AnyHost);
        }
        match text.split_once(':') {
            Some(("host", id)) if !id.is_empty() => Ok(FailSpec::Host(id.into())),
            Some(("any", key)) if !key.is_empty() => Ok(FailSpec::AnyLabel(key.into())),
            Some(("label", kv)) => match kv.split_once('=') {
                Some((k, v)) if !k.is_empty() && !v.is_empty() => {
                    Ok(FailSpec::Label(k.into(), v.into()))
                }
                _ => Err(format!("`{text}`: give label:KEY=VALUE")),
            },
            _ => Err(format!(
                "`{text}` is not host:ID, label:KEY=VALUE, any-host or any:KEY"
            )),
        }
    }
}

/// A host of the pool, with what runs on it.
#[derive(Debug, Clone)]
pub struct FleetHost {
    id: String,
    capacity: Resources,
    used: Resources,
    storage: Vec<String>,
    labels: BTreeMap<String, String>,
    traits: Traits,
    active: bool,
    /// Members of each group running here that are not listed as VMs (`group_members`).
    group_members: BTreeMap<String, u32>,
}

/// A running VM: it restarts elsewhere if its host fails.
#[derive(Debug, Clone)]
pub struct Running {
    id: String,
    host: usize,
    storage: String,
    demand: Resources,
    group: Option<String>,
    /// Indices into `Fleet::rules`: the groups it belongs to.
    rules: Vec<usize>,
    required_traits: Traits,
    forbidden_traits: Traits,
}

impl Running {
    fn allowed_on(&self, h: &FleetHost) -> bool {
        crate::resources::traits_met(&self.required_traits, &self.forbidden_traits, &h.traits)
    }
}

/// The pool with its running VMs.
#[derive(Debug, Clone)]
pub struct Fleet {
    hosts: Vec<FleetHost>,
    vms: Vec<Running>,
    /// The hard rules of `groups[]` over the hosts.
    rules: Vec<GroupRule>,
    /// Per rule: its listed VMs (indices into `vms`).
    members: Vec<Vec<usize>>,
    /// Per rule: the hosts whose `group_members` count its members there, with the count.
    hosted: Vec<Vec<(usize, u32)>>,
}

impl Fleet {
    /// From a problem after its requests were placed: `pool` is the problem with their demand in
    /// `used`, and the placed requests run where the solution put them.
    pub fn from_placed(problem: &Problem, pool: &Problem, placements: &[Placement]) -> Fleet {
        let hosts: Vec<FleetHost> = pool
            .hosts
            .iter()
            .map(|h| FleetHost {
                id: h.id.clone(),
                capacity: h.capacity.clone(),
                used: h.used.clone().unwrap_or_default(),
                storage: h.storage.clone(),
                labels: h.labels.clone(),
                traits: h.traits.clone(),
                active: true,
                group_members: h.group_members.clone(),
            })
            .collect();
        let ix: HashMap<&str, usize> = hosts
            .iter()
            .enumerate()
            .map(|(i, h)| (h.id.as_str(), i))
            .collect();
        let req: HashMap<&str, &vmplace_wire::Request> = problem
            .requests
            .iter()
            .map(|r| (r.id.as_str(), r))
            .collect();
        let mut vms: Vec<Running> = placements
            .iter()
            .filter_map(|p| {
                let r = req.get(p.request.as_str())?;
                Some(Running {
                    id: p.request.clone(),
                    host: *ix.get(p.host.as_deref()?)?,
                    storage: p.storage.clone(),
                    demand: r.demand.clone(),
                    group: r.anti_affinity.clone(),
                    rules: rule_ix(&problem.groups, &r.groups),
                    required_traits: r.required_traits.clone(),
                    forbidden_traits: r.forbidden_traits.clone(),
                })
            })
            .collect();
        let rules = member_rules(&problem.groups, &mut vms, &hosts);
        Fleet::indexed(hosts, vms, rules)
    }

    /// From a migration state document: VMs reserve their whole demand; hosts in maintenance or
    /// off take no restarts.
    pub fn from_state(state: &State) -> Fleet {
        let mut hosts: Vec<FleetHost> = state
            .hosts
            .iter()
            .map(|h| FleetHost {
                id: h.id.clone(),
                capacity: crate::resources::usable(&h.capacity, &h.reserved, &h.allocation_ratio),
                used: Resources::new(),
                storage: h.storage.clone(),
                labels: h.labels.clone(),
                traits: h.traits.clone(),
                active: h.state == HostState::Active,
                group_members: BTreeMap::new(),
            })
            .collect();
        let ix: HashMap<String, usize> = hosts
            .iter()
            .enumerate()
            .map(|(i, h)| (h.id.clone(), i))
            .collect();
        let mut vms = Vec::new();
        for v in &state.vms {
            let Some(&h) = ix.get(&v.host) else { continue };
            for (k, d) in &v.demand {
                *hosts[h].used.entry(k.clone()).or_default() += d;
            }
            vms.push(Running {
                id: v.id.clone(),
                host: h,
                storage: v.storage.clone(),
                demand: v.demand.clone(),
                group: v.anti_affinity.clone(),
                rules: rule_ix(&state.groups, &v.groups),
                required_traits: v.required_traits.clone(),
                forbidden_traits: v.forbidden_traits.clone(),
            });
        }
        let rules = member_rules(&state.groups, &mut vms, &hosts);
        Fleet::indexed(hosts, vms, rules)
    }

    /// The fleet, with each rule's members listed once (a scenario counts the survivors of its
    /// rules from these, not from every VM and host per rule).
    fn indexed(hosts: Vec<FleetHost>, vms: Vec<Running>, rules: Vec<GroupRule>) -> Fleet {
        let mut members = vec![Vec::new(); rules.len()];
        for (v, vm) in vms.iter().enumerate() {
            for &r in &vm.rules {
                members[r].push(v);
            }
        }
        let ix: HashMap<&str, usize> = rules
            .iter()
            .enumerate()
            .map(|(r, g)| (g.id.as_str(), r))
            .collect();
        let mut hosted = vec![Vec::new(); rules.len()];
        for (h, host) in hosts.iter().enumerate() {
            for (g, &n) in &host.group_members {
                if let Some(&r) = ix.get(g.as_str()) {
                    hosted[r].push((h, n));
                }
            }
        }
        Fleet {
            hosts,
            vms,
            rules,
            members,
            hosted,
        }
    }

    /// The failure sets the specs ask for: the fixed hosts (`host:`, `label:`) together, once, or
    /// with each choice of the one `any-` spec in turn. Errors name the `--fail` at fault.
    pub fn scenarios(
        &self,
        specs: &[FailSpec],
    ) -> Result<Vec<(String, Vec<usize>)>, Vec<InputError>> {
        let mut errors = Vec::new();
        let mut fixed: BTreeSet<usize> = BTreeSet::new();
        let mut names: Vec<String> = Vec::new();
        let mut each: Option<Vec<(String, Vec<usize>)>> = None;
        for (i, spec) in specs.iter().enumerate() {
            let at = format!("--fail {}", i + 1);
            let hosts: Vec<usize> = match spec {
                FailSpec::Host(id) => self
                    .hosts
                    .iter()
                    .position(|h| &h.id == id)
                    .into_iter()
                    .collect(),
                FailSpec::Label(k, v) => self.with_label(k, v),
                FailSpec::AnyHost | FailSpec::AnyLabel(_) => {
                    if each.is_some() {
                        errors.push(InputError::new(
                            ErrorCode::BadFailure,
                            at,
                            "only one any-host or any:KEY per call",
                        ));
                        continue;
                    }
                    let choices = self.each(spec);
                    if choices.is_empty() {
                        errors.push(InputError::new(
                            ErrorCode::UnknownFailure,
                            at,
                            "no host has that label",
                        ));
                    }
                    each = Some(choices);
                    continue;
                }
            };
            if hosts.is_empty() {
                errors.push(InputError::new(
                    ErrorCode::UnknownFailure,
                    at,
                    format!("`{spec}` names no host of the pool"),
                ));
            }
            names.push(spec.to_string());
            fixed.extend(hosts);
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let base = names.join(" + ");
        Ok(match each {
            None => vec![(base, fixed.into_iter().collect())],
            Some(choices) => choices
                .into_iter()
                .map(|(name, hosts)| {
                    let name = if base.is_empty() {
                        name
                    } else {
                        format!("{base} + {name}")
                    };
                    let mut set = fixed.clone();
                    set.extend(hosts);
                    (name, set.into_iter().collect())
                })
                .collect(),
        })
    }

    fn with_label(&self, k: &str, v: &str) -> Vec<usize> {
        (0..self.hosts.len())
            .filter(|&h| self.hosts[h].labels.get(k).map(String::as_str) == Some(v))
            .collect()
    }

    /// The choices of an `any-` spec: each host, or each value of the label.
    fn each(&self, spec: &FailSpec) -> Vec<(String, Vec<usize>)> {
        match spec {
            FailSpec::AnyLabel(k) => {
                // One pass over the hosts (8,000 racks were 8,000 passes).
                let mut values: BTreeMap<&String, Vec<usize>> = BTreeMap::new();
                for (h, host) in self.hosts.iter().enumerate() {
                    if let Some(v) = host.labels.get(k) {
                        values.entry(v).or_default().push(h);
                    }
                }
                values
                    .into_iter()
                    .map(|(v, hosts)| (format!("label:{k}={v}"), hosts))
                    .collect()
            }
            _ => (0..self.hosts.len())
                .map(|h| (format!("host:{}", self.hosts[h].id), vec![h]))
                .collect(),
        }
    }
}

/// The rules of the `groups` some VM is a member of, over the fleet's hosts (soft ones too; only
/// hard ones are held); `vms[].rules` are renumbered to index them. A group without members
/// constrains no restart, and 8,000 of them over 8,000 racks took 2.6 GB and 8.6 s to build as
/// dense group x host rules (issue 27, H2).
fn member_rules(groups: &[Group], vms: &mut [Running], hosts: &[FleetHost]) -> Vec<GroupRule> {
    let mut index: Vec<Option<usize>> = vec![None; groups.len()];
    let mut kept = Vec::new();
    for vm in vms.iter_mut() {
        for g in vm.rules.iter_mut() {
            *g = *index[*g].get_or_insert_with(|| {
                kept.push(*g);
                kept.len() - 1
            });
        }
    }
    let mut scopes = Scopes::default();
    kept.iter()
        .map(|&g| {
            let hosts = || hosts.iter().map(|h| (h.id.as_str(), &h.labels, false));
            GroupRule::over(&groups[g], hosts, &mut scopes)
        })
        .collect()
}

/// Positions in `groups` of the ids a VM lists.
fn rule_ix(groups: &[Group], ids: &[String]) -> Vec<usize> {
    ids.iter()
        .filter_map(|id| groups.iter().position(|g| &g.id == id))
        .collect()
}

/// Dense view of one scenario.
struct Survivors<'a> {
    fleet: &'a Fleet,
    resources: Vec<String>,
    failed: Vec<bool>,
    free: Vec<Vec<f64>>,
}

impl<'a> Survivors<'a> {
    fn new(fleet: &'a Fleet, resources: &[String], failed: &[usize]) -> Survivors<'a> {
        let mut down = vec![false; fleet.hosts.len()];
        for &h in failed {
            down[h] = true;
        }
        let free = fleet
            .hosts
            .iter()
            .enumerate()
            .map(|(i, h)| {
                resources
                    .iter()
                    .map(|r| {
                        if down[i] || !h.active {
                            0.0
                        } else {
                            let c = h.capacity.get(r).copied().unwrap_or(0.0);
                            (c - h.used.get(r).copied().unwrap_or(0.0)).max(0.0)
                        }
                    })
                    .collect()
            })
            .collect();
        Survivors {
            fleet,
            resources: resources.to_vec(),
            failed: down,
            free,
        }
    }

    fn demand(&self, vm: &Running) -> Vec<f64> {
        self.resources
            .iter()
            .map(|r| vm.demand.get(r).copied().unwrap_or(0.0))
            .collect()
    }
}

const EPS: f64 = 1e-9;

/// A VM's eligible survivors, or why it has none.
type Eligible = Result<Vec<usize>, (RestartCode, String)>;

/// Each VM's eligible survivors, or why it has none (None: `over` said stop, asked between VMs).
fn eligibility(
    s: &Survivors,
    vms: &[&Running],
    groups: &HashMap<(usize, &str), usize>,
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
    groups: &HashMap<(usize, &str), usize>,
    limits: &[HostLimit],
) -> Eligible {
    let d = s.demand(vm);
    let connected: Vec<usize> = (0..s.fleet.hosts.len())
        .filter(|&h| !s.failed[h] && s.fleet.hosts[h].active)
        .filter(|&h| s.fleet.hosts[h].storage.contains(&vm.storage))
        .collect();
    if connected.is_empty() {
        return Err((
            RestartCode::NoConnectedHost,
            format!("no surviving active host reaches storage `{}`", vm.storage),
        ));
    }
    let matching: Vec<usize> = connected
        .into_iter()
        .filter(|&h| vm.allowed_on(&s.fleet.hosts[h]))
        .collect();
    if matching.is_empty() {
        return Err((
            RestartCode::NoHostWithTraits,
            "no surviving host that reaches its storage has its traits".into(),
        ));
    }
    let apart: Vec<usize> = matching
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
    fits.retain(|&h| (0..d.len()).all(|r| d[r] <= s.free[h][r] + EPS));
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
struct HostLimit {
    domain_of: Arc<Vec<Option<usize>>>,
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
    fn allows(&self, h: usize) -> bool {
        self.domain_of[h].is_some_and(|d| match &*self.domains {
            Domains::All => true,
            Domains::Except(full) => !full.contains(&d),
            Domains::Only(open) => open.contains(&d),
        })
    }
}

/// `hosts` less those a rule of `limits` excludes; the first rule that leaves none says why.
fn rules_allow(
    mut hosts: Vec<usize>,
    limits: &[HostLimit],
) -> Result<Vec<usize>, (RestartCode, String)> {
    for l in limits {
        hosts.retain(|&h| l.allows(h));
        if hosts.is_empty() {
            return Err(l.why.clone());
        }
    }
    Ok(hosts)
}

/// The hard group rules of one scenario and what each allows each restarting VM.
type ScenarioRules = (Vec<RestartRule>, Vec<Vec<HostLimit>>);

/// The hard group rules of one scenario: the rows of each rule with restarting members, and what
/// each rule allows each restarting VM (models/capacity.md, "Group rules"). Survivors count where
/// they run (listed VMs and `group_members` of surviving hosts); spread compares the domains with
/// a surviving active host. Sparse: each rule costs its members, and the domains with room are
/// found once per scope (thousands of one-member rules over as many racks were dense per rule x
/// host; issue 27, H2). `over` is asked between rules.
fn scenario_rules(
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
    Some((rules, limits))
}

/// The domains of `rule`'s scope with a surviving active host, and how many.
fn surviving_room(s: &Survivors, rule: &GroupRule) -> (Arc<Vec<bool>>, usize) {
    let mut room = vec![false; rule.domain_names.len()];
    for (h, host) in s.fleet.hosts.iter().enumerate() {
        if let Some(d) = rule.domain_of[h].filter(|_| !s.failed[h]) {
            room[d] |= host.active;
        }
    }
    let n = room.iter().filter(|r| **r).count();
    (Arc::new(room), n)
}

/// Best fit decreasing: largest VMs first (by their largest share of a host), each to the
/// eligible host it leaves with the least room on its tightest resource.
fn best_fit(
    s: &Survivors,
    vms: &[RestartVm],
    rules: &[RestartRule],
    over: &dyn Fn() -> bool,
) -> Option<Vec<Option<usize>>> {
    let mut free = s.free.clone();
    let mut counts: Vec<Counts> = vec![Counts::default(); rules.len()];
    let mut rules_of: Vec<Vec<usize>> = vec![Vec::new(); vms.len()];
    for (r, rule) in rules.iter().enumerate() {
        for &v in &rule.members {
            rules_of[v].push(r);
        }
    }
    let mut taken: HashMap<(usize, usize), bool> = HashMap::new();
    let size = |v: &RestartVm| {
        v.eligible
            .first()
            .map(|&h| {
                (0..v.demand.len())
                    .map(|r| v.demand[r] / s.free[h][r].max(1e-9))
                    .fold(0.0, f64::max)
            })
            .unwrap_or(0.0)
    };
    let mut order: Vec<usize> = (0..vms.len()).collect();
    order.sort_by(|&a, &b| size(&vms[b]).total_cmp(&size(&vms[a])).then(a.cmp(&b)));
    let mut out = vec![None; vms.len()];
    for v in order {
        if over() {
            return None;
        }
        let vm = &vms[v];
        let best = vm
            .eligible
            .iter()
            .copied()
            .filter(|&h| vm.group.is_none_or(|g| !taken.contains_key(&(h, g))))
            .filter(|&h| rules_of[v].iter().all(|&r| rules[r].admits(&counts[r], h)))
            .filter(|&h| (0..vm.demand.len()).all(|r| vm.demand[r] <= free[h][r] + EPS))
            .map(|h| {
                let left = (0..vm.demand.len())
                    .filter(|&r| vm.demand[r] > 0.0)
                    .map(|r| free[h][r] - vm.demand[r])
                    .fold(f64::INFINITY, f64::min);
                (h, left)
            })
            .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        if let Some((h, _)) = best {
            for (f, d) in free[h].iter_mut().zip(&vm.demand) {
                *f -= d;
            }
            if let Some(g) = vm.group {
                taken.insert((h, g), true);
            }
            for &r in &rules_of[v] {
                if let Some(d) = rules[r].domain_of[h] {
                    counts[r].add(d, 1);
                }
            }
            out[v] = Some(h);
        }
    }
    Some(out)
}

/// Checks every scenario (from [`Fleet::scenarios`]): first the witness and the bound of each, then the restart
/// MIP where they disagree, each MIP with an equal share of the time left.
pub fn check(
    fleet: &Fleet,
    scenarios: Vec<(String, Vec<usize>)>,
    opts: &MipOptions,
) -> FailureReport {
    let start = Instant::now();
    let resources = super::resource_names(fleet.hosts.iter().map(|h| &h.capacity));
    let mut groups: HashMap<(usize, &str), usize> = HashMap::new();
    for vm in &fleet.vms {
        if let Some(g) = vm.group.as_deref() {
            *groups.entry((vm.host, g)).or_default() += 1;
        }
    }
    let mut on: Vec<Vec<usize>> = vec![Vec::new(); fleet.hosts.len()];
    for (i, vm) in fleet.vms.iter().enumerate() {
        on[vm.host].push(i);
    }
    let total = scenarios.len();
    let mut done = Vec::with_capacity(total);
    let mut open = Vec::new();
    let over = || super::over(start, opts);
    for (name, failed) in scenarios {
        if over() {
            // The time is up: the scenarios not reached are counted as unchecked.
            break;
        }
        let Some(c) = Case::prepare(fleet, &resources, &groups, &on, (name, failed), &over) else {
            // The time ran out while it was prepared: unchecked, as those not reached.
            break;
        };
        if c.settled() {
            done.push(c.finish(DecidedBy::Witness, Status::Optimal));
        } else {
            open.push(c);
        }
    }
    // Smallest first: what a small MIP leaves of its share goes to the larger ones.
    open.sort_by_key(|c| c.model_vms.iter().map(|v| v.eligible.len()).sum::<usize>());
    let n = open.len();
    for (i, c) in open.into_iter().enumerate() {
        let left = (opts.time_limit_s - start.elapsed().as_secs_f64()).max(0.0);
        let cancelled = opts
            .cancel
            .as_ref()
            .is_some_and(|c| c.load(std::sync::atomic::Ordering::Relaxed));
        let o = MipOptions {
            time_limit_s: if cancelled {
                0.0
            } else {
                left / (n - i) as f64
            },
            ..opts.clone()
        };
        done.push(c.decide(&o));
    }
    // Every scenario prepared is decided (the MIP phase answers each, stopped or not).
    let mut report = summary(done, start);
    report.unchecked = total - report.scenarios;
    report.scenarios = total;
    report
}

/// The report: counts, the scenarios not tolerated, the worst in full.
fn summary(done: Vec<Scenario>, start: Instant) -> FailureReport {
    let mut report = FailureReport {
        scenarios: done.len(),
        tolerated: 0,
        decided: BTreeMap::new(),
        not_tolerated: Vec::new(),
        worst: None,
        unchecked: 0,
        time_s: 0.0,
    };
    for sc in done {
        *report.decided.entry(sc.decided_by).or_default() += 1;
        if sc.restartable {
            report.tolerated += 1;
        } else {
            report.not_tolerated.push(NotTolerated {
                fail: sc.fail.clone(),
                unrestartable: sc.unrestartable.len(),
                bound: sc.bound,
                status: sc.status,
            });
        }
        let worse = report.worst.as_ref().is_none_or(|w| {
            (sc.unrestartable.len(), -sc.headroom_share)
                > (w.unrestartable.len(), -w.headroom_share)
        });
        if worse {
            report.worst = Some(sc);
        }
    }
    report.not_tolerated.sort_by(|a, b| {
        b.unrestartable
            .cmp(&a.unrestartable)
            .then(a.fail.cmp(&b.fail))
    });
    report.time_s = start.elapsed().as_secs_f64();
    report
}

/// One scenario between its witness and its decision.
struct Case<'a> {
    s: Survivors<'a>,
    name: String,
    failed: Vec<usize>,
    vms: Vec<&'a Running>,
    eligible: Vec<Eligible>,
    model_vms: Vec<RestartVm>,
    /// The hard group rules with restarting members.
    rules: Vec<RestartRule>,
    host_of: Vec<Option<usize>>,
}

impl<'a> Case<'a> {
    /// The survivors, each VM's eligible hosts, and the best-fit witness (None: `over` said stop
    /// before they were complete).
    fn prepare(
        fleet: &'a Fleet,
        resources: &[String],
        groups: &HashMap<(usize, &str), usize>,
        on: &[Vec<usize>],
        (name, failed): (String, Vec<usize>),
        over: &dyn Fn() -> bool,
    ) -> Option<Case<'a>> {
        let s = Survivors::new(fleet, resources, &failed);
        // Members on failed hosts do not survive.
        let alive: HashMap<(usize, &str), usize> = groups
            .iter()
            .filter(|((h, _), _)| !s.failed[*h])
            .map(|(k, n)| (*k, *n))
            .collect();
        let vms: Vec<&Running> = failed
            .iter()
            .flat_map(|&h| on[h].iter().map(|&v| &fleet.vms[v]))
            .collect();
        let (rules, limits) = scenario_rules(&s, &vms, over)?;
        let mut eligible = eligibility(&s, &vms, &alive, &limits, over)?;
        let group_ix: BTreeMap<&str, usize> = vms
            .iter()
            .filter_map(|v| v.group.as_deref())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .enumerate()
            .map(|(i, g)| (g, i))
            .collect();
        // The host lists move to the model's VMs (VMs x hosts: not copied); `eligible` keeps
        // whether each VM has one, and why not.
        let model_vms: Vec<RestartVm> = vms
            .iter()
            .zip(&mut eligible)
            .map(|(vm, e)| RestartVm {
                demand: s.demand(vm),
                eligible: e.as_mut().map(std::mem::take).unwrap_or_default(),
                group: vm.group.as_deref().and_then(|g| group_ix.get(g).copied()),
            })
            .collect();
        let host_of = best_fit(&s, &model_vms, &rules, over)?;
        Some(Case {
            s,
            rules,
            name,
            failed,
            vms,
            eligible,
            model_vms,
            host_of,
        })
    }

    /// VMs with an eligible host: no placement restarts more (`eligible` keeps whether, not
    /// which: the hosts are in `model_vms`).
    fn upper(&self) -> usize {
        self.eligible.iter().filter(|e| e.is_ok()).count()
    }

    fn placed(&self) -> usize {
        self.host_of.iter().flatten().count()
    }

    /// Whether the witness is proven best already (it restarts every VM that has a host).
    fn settled(&self) -> bool {
        self.placed() == self.upper()
    }

    /// The restart MIP, warm-started with the witness, where the witness is not proven.
    fn decide(mut self, opts: &MipOptions) -> Scenario {
        if opts.time_limit_s < 0.01 {
            // No time left for the MIP: the witness stands, unproven.
            return self.finish(DecidedBy::Stopped, Status::TimeLimit);
        }
        let (upper, placed) = (self.upper(), self.placed());
        match restart(
            &self.s.free,
            &self.model_vms,
            &self.rules,
            &self.host_of,
            opts,
        ) {
            Ok(r) => {
                if r.host_of.iter().flatten().count() > placed {
                    self.host_of = r.host_of;
                }
                let placed = self.placed();
                let bound = r.bound.clamp(placed, upper);
                let status = if r.proven || bound == placed {
                    Status::Optimal
                } else if r.status == MipStatus::Optimal {
                    // Stopped within the relative gap asked for (`--gap`).
                    Status::Feasible
                } else {
                    Status::TimeLimit
                };
                let mut sc = self.finish(DecidedBy::Mip, status);
                sc.bound = bound;
                sc.gap = gap(bound, sc.restarted);
                sc
            }
            Err(e) => {
                tracing::warn!(error = %e, "restart MIP failed; the witness stands");
                self.finish(DecidedBy::Mip, Status::Feasible)
            }
        }
    }

    /// The answer: witness, reasons, headroom; `bound` is the VMs with an eligible host (the
    /// caller lowers it when a MIP proved less).
    fn finish(&self, decided: DecidedBy, status: Status) -> Scenario {
        let s = &self.s;
        let decided = if decided == DecidedBy::Witness && self.placed() < self.vms.len() {
            DecidedBy::Bound
        } else {
            decided
        };
        let (vms, eligible, host_of, failed) =
            (&self.vms, &self.eligible, &self.host_of, &self.failed);
        let (fail, bound) = (self.name.clone(), self.upper());
        let mut free = s.free.clone();
        let mut witness = Vec::new();
        let mut unrestartable = Vec::new();
        for (i, vm) in vms.iter().enumerate() {
            match (host_of[i], &eligible[i]) {
            (Some(h), _) => {
                let d = s.demand(vm);
                for (f, x) in free[h].iter_mut().zip(&d) {
                    *f -= x;
                }
                witness.push(Restarted {
                    vm: vm.id.clone(),
                    host: s.fleet.hosts[h].id.clone(),
                });
            }
            (None, Err((code, reason))) => unrestartable.push(Unrestartable {
                vm: vm.id.clone(),
                code: *code,
                reason: reason.clone(),
            }),
            (None, Ok(_)) => unrestartable.push(Unrestartable {
                vm: vm.id.clone(),
                code: if status == Status::Optimal {
                    RestartCode::NoRoom
                } else {
                    RestartCode::StoppedEarly
                },
                reason: if status == Status::Optimal {
                    "the survivors that reach its storage have room for it, but not for it with the others within their group rules (proven)".into()
                } else {
                    "the search stopped before it found room for it or proved there is none".into()
                },
            }),
        }
        }
        let mut headroom = BTreeMap::new();
        let mut share = f64::INFINITY;
        for (r, name) in s.resources.iter().enumerate() {
            let total: f64 = (0..s.fleet.hosts.len())
                .filter(|&h| !s.failed[h] && s.fleet.hosts[h].active)
                .map(|h| s.fleet.hosts[h].capacity.get(name).copied().unwrap_or(0.0))
                .sum();
            let left: f64 = free.iter().map(|f| f[r].max(0.0)).sum();
            headroom.insert(name.clone(), left);
            if total > 0.0 {
                share = share.min(left / total);
            }
        }
        let restarted = witness.len();
        Scenario {
            fail,
            hosts: failed
                .iter()
                .map(|&h| s.fleet.hosts[h].id.clone())
                .collect(),
            vms: vms.len(),
            restarted,
            restartable: restarted == vms.len(),
            status,
            bound,
            gap: gap(bound, restarted),
            decided_by: decided,
            headroom,
            headroom_share: if share.is_finite() { share } else { 0.0 },
            witness,
            unrestartable,
        }
    }
}

fn gap(bound: usize, restarted: usize) -> f64 {
    if bound > 0 {
        bound.saturating_sub(restarted) as f64 / bound as f64
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fifty racks, fifty member-less anti-affinity groups, one group with two members.
    fn state() -> State {
        let hosts: Vec<serde_json::Value> = (0..50)
            .map(|i| {
                serde_json::json!({"id": format!("h{i}"), "capacity": {"cpu": 8, "memory_gib": 32},
                                   "storage": ["s"], "labels": {"rack": format!("r{i}")}})
            })
            .collect();
        let mut groups: Vec<serde_json::Value> = (0..50)
            .map(|i| serde_json::json!({"id": format!("idle{i}"), "policy": "anti-affinity", "scope": "rack"}))
            .collect();
        groups.push(serde_json::json!({"id": "used", "policy": "anti-affinity", "scope": "rack"}));
        let vms: Vec<serde_json::Value> = (0..2)
            .map(|i| {
                serde_json::json!({"id": format!("m{i}"), "host": format!("h{i}"), "storage": "s",
                                   "demand": {"cpu": 1, "memory_gib": 1}, "groups": ["used"]})
            })
            .collect();
        let doc = serde_json::json!({"storage": [{"id": "s", "capacity_gib": 100}],
                                     "hosts": hosts, "vms": vms, "groups": groups});
        let valid = crate::validation::read_state(&doc.to_string()).expect("a valid state");
        (*valid).clone()
    }

    #[test]
    fn failure_scenarios_build_rules_only_for_groups_with_members() {
        // Issue 27, H2: member-less groups were built as dense group x host rules.
        let fleet = Fleet::from_state(&state());
        let ids: Vec<&str> = fleet.rules.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["used"]);
        for vm in &fleet.vms {
            assert_eq!(vm.rules, [0], "{} keeps its rule", vm.id);
        }
    }
}

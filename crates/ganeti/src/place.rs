//! Placing Ganeti instances with vmplace's two phases: which nodes each instance may use, the
//! allocation tiers (`preferred` groups, then `last_resort`), one vmplace problem per class of
//! instances with the same eligible nodes, and the load carried from one solve to the next
//! (models/ganeti.md, "Classes and tiers").

use super::clock::{Clock, Stop};
use super::cluster::{
    disk_gib_of, exclusion_tags, group_rejects, spindles_of, Cluster, GroupId, NodeId, Template,
    CPU, MEMORY, SPINDLES,
};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use vmplace_core::domain::settings::{settings, Overrides};
use vmplace_core::domain::Domain;
use vmplace_core::placement::{run_or_fallback, Mode, RunConfig};
use vmplace_core::validation::{validate_built, Phase};
use vmplace_wire::ganeti::{AllocPolicy, InstanceSpec};
use vmplace_wire::{Host, Problem, Request, Resources, Solution, Status, Storage};

/// One instance to place.
#[derive(Debug, Clone)]
pub struct Want<'s> {
    /// Instance name (vmplace request id).
    pub name: String,
    /// Its resources and template.
    pub spec: &'s InstanceSpec,
    /// Nodes it must not use (its current nodes, the nodes being evacuated).
    pub avoid: BTreeSet<NodeId>,
    /// Only these nodes (`restrict-to-nodes`).
    pub only: Option<BTreeSet<NodeId>>,
    /// Only these groups (a relocation stays in its group; `change-group` names targets).
    pub groups: Option<BTreeSet<GroupId>>,
    /// The disks stay where they are (a shared-storage move within the group): phase 2 only.
    pub keep_storage: bool,
}

/// What became of one instance.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// It goes to this node of this group (UUID).
    Placed {
        /// Node name.
        node: String,
        /// Group UUID.
        group: String,
    },
    /// It cannot be placed, and why.
    Failed(String),
}

/// One vmplace solve of this call, kept so that tests can check every answer independently.
#[derive(Debug, Clone)]
pub struct Solve {
    /// The problem document.
    pub problem: Problem,
    /// vmplace's answer to it.
    pub solution: Solution,
}

/// The placer: the cluster's load as this call's placements change it.
pub struct Placer<'c, 'a> {
    cluster: &'c Cluster<'a>,
    used: Vec<Resources>,
    disk_used: Vec<f64>,
    /// Exclusion tag -> the nodes running an instance that carries it.
    holders: BTreeMap<String, BTreeSet<NodeId>>,
    overrides: Overrides,
    cfg: RunConfig,
    clock: Clock,
    /// Every solve, in order.
    pub solves: Vec<Solve>,
}

/// Nodes an instance may use in one tier (in id order), and why the others are out.
#[derive(Default)]
struct Eligible {
    nodes: Vec<NodeId>,
    why_not: BTreeSet<String>,
}

/// Whether a group's nodes (with or without exclusive storage) may take an instance in a tier.
#[derive(Debug, Clone)]
enum Gate {
    /// Never: the group is unallocable.
    Unallocable,
    /// Not in this tier, or not among the instance's groups.
    Closed,
    /// The group's policy, networks or templates refuse it, and why.
    Refuses(String),
    /// Yes.
    Open,
}

/// Instances that may use the same nodes, with the same template kind and "disks stay" flag,
/// are solved together.
type ClassKey = (Template, Arc<[NodeId]>, bool);

/// One tier's classes: the instances waiting for a solve, by what they may use.
struct Classes {
    by_key: BTreeMap<ClassKey, BTreeSet<usize>>,
    key_of: Vec<Option<ClassKey>>,
}

impl Classes {
    fn new(n: usize) -> Self {
        Classes {
            by_key: BTreeMap::new(),
            key_of: vec![None; n],
        }
    }

    /// Moves instance `i` to the class of `key` (`None`: it waits for no solve).
    fn set(&mut self, i: usize, key: Option<ClassKey>) {
        if let Some(old) = self.key_of[i].take() {
            if let Some(members) = self.by_key.get_mut(&old) {
                members.remove(&i);
                if members.is_empty() {
                    self.by_key.remove(&old);
                }
            }
        }
        let Some(key) = key else {
            return;
        };
        // Equal node sets share one allocation.
        let key = match self.by_key.get_key_value(&key) {
            Some((k, _)) => k.clone(),
            None => key,
        };
        self.by_key.entry(key.clone()).or_default().insert(i);
        self.key_of[i] = Some(key);
    }

    /// The first class, taken out.
    fn pop_first(&mut self) -> Option<(ClassKey, Vec<usize>)> {
        let (key, members) = self.by_key.pop_first()?;
        for &i in &members {
            self.key_of[i] = None;
        }
        Some((key, members.into_iter().collect()))
    }

    /// Whether instance `i` waits for a solve.
    fn waits(&self, i: usize) -> bool {
        self.key_of[i].is_some()
    }

    /// Every instance waiting for a solve.
    fn waiting(&self) -> impl Iterator<Item = usize> + '_ {
        self.by_key.values().flatten().copied()
    }
}

/// What became of each instance of one `place` call so far.
struct Progress {
    out: Vec<Option<Outcome>>,
    why: Vec<BTreeSet<String>>,
    /// Why the call stopped early, if it did.
    stopped: Option<Stop>,
    /// The instances it left unsolved.
    cut: Vec<bool>,
}

impl Progress {
    fn new(wants: &[Want<'_>]) -> Self {
        Progress {
            out: wants
                .iter()
                .map(|w| unsupported(w).map(Outcome::Failed))
                .collect(),
            why: vec![BTreeSet::new(); wants.len()],
            stopped: None,
            cut: vec![false; wants.len()],
        }
    }

    /// The call stopped: these instances, where not placed or refused, were left unsolved.
    fn stop(&mut self, stop: Stop, left: impl Iterator<Item = usize>) {
        self.stopped = Some(stop);
        for i in left {
            self.cut[i] |= self.out[i].is_none();
        }
    }

    /// Every instance's outcome; `no_nodes`: the document lists none.
    fn finish(self, no_nodes: bool) -> Vec<Outcome> {
        let stopped = self.stopped.map(Stop::reason);
        let parts = self.out.into_iter().zip(self.why).zip(self.cut);
        parts
            .map(|((o, why), cut)| {
                o.unwrap_or_else(|| {
                    let mut reasons: Vec<String> = Vec::new();
                    reasons.extend(stopped.clone().filter(|_| cut));
                    reasons.extend(why);
                    Outcome::Failed(failure_text(reasons, no_nodes))
                })
            })
            .collect()
    }
}

fn failure_text(reasons: Vec<String>, no_nodes: bool) -> String {
    if no_nodes {
        "the document lists no nodes".to_string()
    } else if reasons.is_empty() {
        "no online, undrained, vm_capable node of an allowed group is left".to_string()
    } else {
        reasons.join("; ")
    }
}

impl<'c, 'a> Placer<'c, 'a> {
    /// A placer on the cluster as the document describes it. The call's time limit (and the
    /// cancel flag of `cfg`) covers every solve of the call; it starts now.
    pub fn new(cluster: &'c Cluster<'a>, overrides: Overrides, cfg: RunConfig) -> Self {
        let mut holders: BTreeMap<String, BTreeSet<NodeId>> = BTreeMap::new();
        for (id, n) in cluster.node_ids() {
            for t in &n.excl_tags {
                holders.entry(t.clone()).or_default().insert(id);
            }
        }
        Placer {
            used: cluster.nodes.iter().map(|v| v.used.clone()).collect(),
            disk_used: cluster.nodes.iter().map(|v| v.disk_used_gib).collect(),
            holders,
            clock: Clock::start(&overrides, &cfg),
            cluster,
            overrides,
            cfg,
            solves: Vec::new(),
        }
    }

    /// Places the instances together: every tier, every class of the same eligible nodes. Once
    /// the call's time is up or it is cancelled, no further class is solved: the instances left
    /// fail with `STOPPED_EARLY`.
    pub fn place(&mut self, wants: &[Want<'_>]) -> Vec<Outcome> {
        let mut p = Progress::new(wants);
        let tags: Vec<BTreeSet<String>> = wants
            .iter()
            .map(|w| exclusion_tags(&self.cluster.excl_prefixes, &w.spec.tags))
            .collect();
        let has_last_resort = self
            .cluster
            .groups
            .iter()
            .any(|g| g.group.alloc_policy == AllocPolicy::LastResort);
        self.tier(wants, &tags, AllocPolicy::Preferred, &mut p);
        if has_last_resort {
            match p.stopped {
                None => self.tier(wants, &tags, AllocPolicy::LastResort, &mut p),
                // Every instance left would have been tried on the last-resort groups.
                Some(stop) => p.stop(stop, 0..wants.len()),
            }
        }
        p.finish(self.cluster.nodes.is_empty())
    }

    /// The cluster it places on.
    pub fn cluster(&self) -> &'c Cluster<'a> {
        self.cluster
    }

    /// The worst status of the solves so far, and the largest gap.
    pub fn quality(&self) -> (Status, f64) {
        self.solves
            .iter()
            .fold((Status::Optimal, 0.0), |(s, g), x| {
                (s.max(x.solution.status), f64::max(g, x.solution.gap))
            })
    }

    /// One tier: each instance not placed yet is solved at most once, in the class of the nodes
    /// it may use; what the tier leaves tries the next.
    fn tier(
        &mut self,
        wants: &[Want<'_>],
        tags: &[BTreeSet<String>],
        tier: AllocPolicy,
        p: &mut Progress,
    ) {
        let mut classes = Classes::new(wants.len());
        let pending: Vec<usize> = (0..wants.len()).filter(|&i| p.out[i].is_none()).collect();
        let mut by_tag: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for &i in &pending {
            for t in &tags[i] {
                by_tag.entry(t.as_str()).or_default().push(i);
            }
        }
        if !self.classify(wants, tags, tier, &pending, &mut classes, p) {
            return;
        }
        while let Some((key, members)) = classes.pop_first() {
            if let Some(stop) = self.clock.over() {
                p.stop(stop, members.iter().copied().chain(classes.waiting()));
                return;
            }
            let booked = self.solve_and_book(wants, tags, &key, &members, p);
            // A placement adds its exclusion tags to its node: the instances sharing one see
            // fewer nodes now, and change class.
            let affected: BTreeSet<usize> = booked
                .iter()
                .filter_map(|t| by_tag.get(t.as_str()))
                .flatten()
                .copied()
                .filter(|&i| classes.waits(i))
                .collect();
            let affected: Vec<usize> = affected.into_iter().collect();
            if !self.classify(wants, tags, tier, &affected, &mut classes, p) {
                return;
            }
        }
    }

    /// Puts each of `which` in the class of the nodes it may use now. False when the call
    /// stopped first (the instances left are marked in `p`).
    fn classify(
        &self,
        wants: &[Want<'_>],
        tags: &[BTreeSet<String>],
        tier: AllocPolicy,
        which: &[usize],
        classes: &mut Classes,
        p: &mut Progress,
    ) -> bool {
        for (k, &i) in which.iter().enumerate() {
            if let Some(stop) = self.clock.over() {
                p.stop(stop, which[k..].iter().copied().chain(classes.waiting()));
                return false;
            }
            let e = self.eligible(&wants[i], &tags[i], tier);
            p.why[i].extend(e.why_not);
            let key = (!e.nodes.is_empty()).then(|| {
                let t = Template::of(&wants[i].spec.disk_template).unwrap_or(Template::Shared);
                (t, Arc::from(e.nodes), wants[i].keep_storage)
            });
            classes.set(i, key);
        }
        true
    }

    /// Solves one class and books what it placed; the exclusion tags booked.
    fn solve_and_book(
        &mut self,
        wants: &[Want<'_>],
        tags: &[BTreeSet<String>],
        key: &ClassKey,
        members: &[usize],
        p: &mut Progress,
    ) -> BTreeSet<String> {
        let (template, nodes, keep) = key;
        let placed = self.solve_class(wants, members, *template, nodes, *keep, &mut p.why);
        let mut booked = BTreeSet::new();
        for (&i, node) in members.iter().zip(placed) {
            let Some(node) = node else {
                continue;
            };
            self.book(&wants[i], &tags[i], node);
            booked.extend(tags[i].iter().cloned());
            let view = self.cluster.node(node);
            p.out[i] = Some(Outcome::Placed {
                node: view.name.clone(),
                group: view.group.clone(),
            });
        }
        booked
    }

    /// Whether group `g`'s nodes (with exclusive storage or not) may take `w` in `tier`.
    fn gate(&self, w: &Want<'_>, g: GroupId, exclusive: bool, tier: AllocPolicy) -> Gate {
        let group = self.cluster.groups[g.ix()].group;
        if group.alloc_policy == AllocPolicy::Unallocable {
            return Gate::Unallocable;
        }
        if group.alloc_policy != tier || w.groups.as_ref().is_some_and(|s| !s.contains(&g)) {
            return Gate::Closed;
        }
        match group_rejects(group, w.spec, exclusive) {
            Some(reason) => Gate::Refuses(reason),
            None => Gate::Open,
        }
    }

    fn eligible(&self, w: &Want<'_>, tags: &BTreeSet<String>, tier: AllocPolicy) -> Eligible {
        let blocked: BTreeSet<NodeId> = tags
            .iter()
            .filter_map(|t| self.holders.get(t))
            .flatten()
            .copied()
            .collect();
        let mut gates: Vec<[Option<Gate>; 2]> = vec![[None, None]; self.cluster.groups.len()];
        // Groups (with the exclusive flag) that refused a node the instance could otherwise use.
        let mut refused: BTreeSet<(GroupId, bool)> = BTreeSet::new();
        let mut e = Eligible::default();
        let mut clash = 0;
        for (id, node) in self.cluster.node_ids() {
            let Some(g) = node.group_id else {
                continue;
            };
            let gate = gates[g.ix()][usize::from(node.exclusive)]
                .get_or_insert_with(|| self.gate(w, g, node.exclusive, tier));
            match gate {
                Gate::Closed => continue,
                Gate::Unallocable => {
                    refused.insert((g, node.exclusive));
                    continue;
                }
                Gate::Refuses(_) | Gate::Open => {}
            }
            if !node.target
                || w.avoid.contains(&id)
                || w.only.as_ref().is_some_and(|o| !o.contains(&id))
            {
                continue;
            }
            if matches!(gate, Gate::Refuses(_)) {
                refused.insert((g, node.exclusive));
            } else if blocked.contains(&id) {
                clash += 1;
            } else {
                e.nodes.push(id);
            }
        }
        for (g, exclusive) in refused {
            match &gates[g.ix()][usize::from(exclusive)] {
                Some(Gate::Unallocable) => {
                    let name = &self.cluster.groups[g.ix()].group.name;
                    e.why_not.insert(format!("group {name} is unallocable"));
                }
                Some(Gate::Refuses(reason)) => {
                    e.why_not.insert(reason.clone());
                }
                _ => {}
            }
        }
        if clash > 0 {
            let t: Vec<&str> = tags.iter().map(String::as_str).collect();
            e.why_not.insert(format!(
                "{clash} node(s) already run an instance with exclusion tag(s) {}",
                t.join(", ")
            ));
        }
        e
    }

    /// Solves one class with vmplace; the node of each member, `None` where it was not placed
    /// (its reason goes to `why`).
    fn solve_class(
        &mut self,
        wants: &[Want<'_>],
        members: &[usize],
        template: Template,
        nodes: &[NodeId],
        keep: bool,
        why: &mut [BTreeSet<String>],
    ) -> Vec<Option<NodeId>> {
        let problem = self.problem(wants, members, template, nodes, keep);
        let valid = match validate_built(problem, Phase::Storage) {
            Ok(v) => v,
            Err(errors) => {
                // The mapping builds documents vmplace accepts; say so if one does not.
                let text = errors
                    .iter()
                    .map(|e| format!("{} at {}: {}", e.code, e.path, e.cause))
                    .collect::<Vec<_>>()
                    .join("; ");
                for &i in members {
                    why[i].insert(format!("internal: the mapped problem is invalid: {text}"));
                }
                return vec![None; members.len()];
            }
        };
        // The solve has what is left of the call once its problem is built and read.
        let mut overrides = self.overrides.clone();
        overrides.time_limit_s = Some(self.clock.remaining());
        let domain = Domain::from_problem(&valid, settings(&valid, &overrides));
        let solution = run_or_fallback(&domain, Mode::Place, &self.cfg);
        let problem = valid.into_inner();
        let placed = self.read_solution(wants, members, &solution, why);
        self.solves.push(Solve { problem, solution });
        placed
    }

    /// The node of each member in a class's solution; the reasons of the others go to `why`.
    fn read_solution(
        &self,
        wants: &[Want<'_>],
        members: &[usize],
        solution: &Solution,
        why: &mut [BTreeSet<String>],
    ) -> Vec<Option<NodeId>> {
        let member_of: BTreeMap<&str, usize> = members
            .iter()
            .map(|&i| (wants[i].name.as_str(), i))
            .collect();
        for u in &solution.unplaced {
            if let Some(&i) = member_of.get(u.request.as_str()) {
                let code = vmplace_wire::spelling::wire_name(&u.code);
                why[i].insert(format!("{code}: {}", u.reason));
            }
        }
        let host_of: BTreeMap<&str, &str> = solution
            .placements
            .iter()
            .filter_map(|p| Some((p.request.as_str(), p.host.as_deref()?)))
            .collect();
        members
            .iter()
            .map(|&i| {
                let host = host_of.get(wants[i].name.as_str())?;
                self.cluster.node_id(host)
            })
            .collect()
    }

    /// The storage system of a node for a template: its group's, or its own local disk.
    fn storage_id(&self, template: Template, node: NodeId) -> String {
        let view = self.cluster.node(node);
        match template {
            Template::Local => format!("disk:{}", view.name),
            _ => format!("group:{}", view.group),
        }
    }

    /// The vmplace problem of one class (models/ganeti.md, "Mapping").
    fn problem(
        &self,
        wants: &[Want<'_>],
        members: &[usize],
        template: Template,
        nodes: &[NodeId],
        keep: bool,
    ) -> Problem {
        let total_disk: f64 = members.iter().map(|&i| disk_gib_of(wants[i].spec)).sum();
        let mut storage: BTreeMap<String, Storage> = BTreeMap::new();
        let mut hosts = Vec::with_capacity(nodes.len());
        for &id in nodes {
            let sid = self.storage_id(template, id);
            storage
                .entry(sid.clone())
                .or_insert_with(|| self.storage(template, id, &sid, total_disk));
            hosts.push(self.host(id, sid));
        }
        let keep_in = keep
            .then(|| nodes.first().map(|&n| self.storage_id(template, n)))
            .flatten();
        // Whether the class's nodes count spindles per disk (true), per instance (false), or both.
        let exclusive: BTreeSet<bool> = nodes
            .iter()
            .map(|&n| self.cluster.node(n).exclusive)
            .collect();
        let requests = members
            .iter()
            .map(|&i| self.request(&wants[i], &exclusive, keep_in.clone()))
            .collect();
        Problem {
            storage: storage.into_values().collect(),
            hosts,
            requests,
            options: None,
            groups: Vec::new(),
        }
    }

    /// A class's storage system `sid`, first met at `node`.
    fn storage(&self, template: Template, node: NodeId, sid: &str, total_disk: f64) -> Storage {
        let view = self.cluster.node(node);
        let (capacity_gib, used_gib) = match template {
            Template::Local => (view.disk_gib, self.disk_used[node.ix()].min(view.disk_gib)),
            // Ganeti does not report shared storage's capacity: it never binds.
            _ => (total_disk + 1.0, 0.0),
        };
        Storage {
            id: sid.to_string(),
            capacity_gib,
            used_gib,
            allocation_ratio: None,
            reserved_gib: None,
            traits: Default::default(),
        }
    }

    /// The node as a vmplace host with this call's load.
    fn host(&self, node: NodeId, storage: String) -> Host {
        let view = self.cluster.node(node);
        Host {
            id: view.name.clone(),
            capacity: view.capacity.clone(),
            used: Some(self.used[node.ix()].clone()),
            storage: vec![storage],
            labels: Default::default(),
            allocation_ratio: Default::default(),
            reserved: Default::default(),
            traits: Default::default(),
            group_members: Default::default(),
        }
    }

    /// The instance as a vmplace request; `exclusive`: the kinds of spindle count of the class's
    /// nodes (it asks for the larger).
    fn request(
        &self,
        w: &Want<'_>,
        exclusive: &BTreeSet<bool>,
        storage: Option<String>,
    ) -> Request {
        let spindles = exclusive
            .iter()
            .map(|&x| spindles_of(w.spec, x))
            .fold(0.0, f64::max);
        let tags = exclusion_tags(&self.cluster.excl_prefixes, &w.spec.tags);
        Request {
            id: w.name.clone(),
            demand: [
                (CPU.to_string(), w.spec.vcpus),
                (MEMORY.to_string(), w.spec.memory),
                (SPINDLES.to_string(), spindles),
            ]
            .into_iter()
            .collect(),
            disk_gib: disk_gib_of(w.spec),
            storage,
            priority: None,
            anti_affinity: (!tags.is_empty())
                .then(|| tags.into_iter().collect::<Vec<_>>().join(",")),
            required_traits: Default::default(),
            forbidden_traits: Default::default(),
            storage_required_traits: Default::default(),
            storage_forbidden_traits: Default::default(),
            groups: Vec::new(),
        }
    }

    /// Counts a placed instance on its node.
    fn book(&mut self, w: &Want<'_>, tags: &BTreeSet<String>, node: NodeId) {
        let view = self.cluster.node(node);
        let used = &mut self.used[node.ix()];
        *used.entry(CPU.to_string()).or_default() += w.spec.vcpus;
        *used.entry(MEMORY.to_string()).or_default() += w.spec.memory;
        *used.entry(SPINDLES.to_string()).or_default() += spindles_of(w.spec, view.exclusive);
        if Template::of(&w.spec.disk_template) == Some(Template::Local) {
            self.disk_used[node.ix()] += disk_gib_of(w.spec);
        }
        for t in tags {
            self.holders.entry(t.clone()).or_default().insert(node);
        }
    }
}

/// Why vmplace does not place an instance at all: DRBD and unknown templates.
pub fn unsupported(w: &Want<'_>) -> Option<String> {
    match Template::of(&w.spec.disk_template) {
        Some(Template::Drbd) => Some(
            "disk template drbd is not supported by vmplace (it needs a secondary node with \
             memory reserved for failover); keep hail for DRBD instances"
                .to_string(),
        ),
        None => Some(format!("unknown disk template {}", w.spec.disk_template)),
        Some(_) => None,
    }
}

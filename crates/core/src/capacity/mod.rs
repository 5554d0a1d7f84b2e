//! "How many more fit": for each flavor, the most VMs of it that the pool still takes, after the
//! problem's own requests are placed by the two phases (models/capacity.md). One flavor alone is
//! a transportation problem from storage systems to connected hosts, so its count is an exact max
//! flow. With `--fail`, it also checks whether the VMs of failed hosts restart elsewhere
//! (`failure`).

mod failure;
mod flow;
mod mix;
mod tiered;

use crate::budget::{shares, Budget};
use crate::domain::settings::{settings, Overrides};
use crate::domain::tolerance::whole_copies;
use crate::domain::Domain;
use crate::model::MipOptions;
use crate::placement::{run_or_fallback, Mode, RunConfig};
use crate::validation::{validate_built, Phase};
pub use failure::{FailSpec, Fleet};
use flow::Transport;
use std::collections::BTreeMap;
pub use vmplace_wire::capacity::{
    Binding, CapacityReport, FailureReport, FlavorFit, NotTolerated, Restarted, Scenario,
    Unrestartable,
};
use vmplace_wire::state::{HostState, State};
use vmplace_wire::{Host, InputError, Problem, Request, Resources, Solution, Status};

/// A flavor to count: its demand per resource and its disk image.
#[derive(Debug, Clone, PartialEq)]
pub struct Flavor {
    /// Name.
    pub name: String,
    /// Demand per host resource.
    pub demand: Resources,
    /// Disk image, GiB.
    pub disk_gib: f64,
}

/// What a call asks: flavors to count, failures to check (either may be empty, not both).
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Flavors to count.
    pub flavors: Vec<Flavor>,
    /// Failures to check.
    pub fails: Vec<FailSpec>,
    /// `--mix`: VMs of each flavor per set, in the flavors' order.
    pub mix: Option<Vec<usize>>,
    /// `--tiered`: tiers of the one flavor, largest first.
    pub tiered: bool,
}

pub(super) fn free(capacity: &Resources, used: Option<&Resources>) -> Resources {
    capacity
        .iter()
        .map(|(k, c)| {
            (
                k.clone(),
                (c - used.and_then(|u| u.get(k)).unwrap_or(&0.0)).max(0.0),
            )
        })
        .collect()
}

/// The storage systems each host reaches, as indices into `pool.storage`.
pub(super) fn links(pool: &Problem) -> Vec<Vec<usize>> {
    let index: BTreeMap<&str, usize> = pool
        .storage
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i))
        .collect();
    pool.hosts
        .iter()
        .map(|h| {
            h.storage
                .iter()
                .filter_map(|s| index.get(s.as_str()).copied())
                .collect()
        })
        .collect()
}

/// The largest count a capacity answer gives (`fit`, `by_resource`, `by_storage`): 2^53 - 1, the
/// largest integer every JSON reader keeps exactly. A flavor of which more would fit is refused
/// ([`too_many`]) rather than counted to a cap: counts were capped at 10^9 per host and storage
/// system, and a flavor of 1e-300 CPU answered `fit: 4000000000` with a made-up
/// `storage_capacity` binding (issue 27, L7).
pub const MAX_COUNT: usize = (1 << 53) - 1;

/// The least positive amount a flavor may ask for, of a host resource or of disk: a thousandth of
/// the unit (a millicore, about a MiB).
pub const MIN_AMOUNT: f64 = 0.001;

/// How many whole copies of `demand` the free capacity holds (the exact rule of
/// [`whole_copies`]: as many as a placement's capacity check accepts); infinite when it asks for
/// nothing.
fn room_for(free: &Resources, demand: &Resources) -> f64 {
    demand
        .iter()
        .filter(|(_, d)| **d > 0.0)
        .map(|(k, d)| whole_copies(free.get(k).copied().unwrap_or(0.0), *d))
        .fold(f64::INFINITY, f64::min)
}

/// Whole copies; a checked flavor ([`too_many`]) keeps them within [`MAX_COUNT`].
fn copies(free: &Resources, demand: &Resources) -> usize {
    room_for(free, demand) as usize
}

/// How many whole images of `disk_gib` a storage system holds ([`whole_copies`]); infinite
/// without an image.
fn images_on(s: &vmplace_wire::Storage, disk_gib: f64) -> f64 {
    if disk_gib > 0.0 {
        whole_copies(s.capacity_gib - s.used_gib, disk_gib)
    } else {
        f64::INFINITY
    }
}

/// What is wrong with the `i`-th flavor (`--flavor i+1`), whatever the pool: each amount is 0 or
/// between [`MIN_AMOUNT`] and `AMOUNT_MAX`, and some host resource's is not 0 (of a flavor that
/// asks for nothing, any number fits).
fn flavor_errors(i: usize, f: &Flavor) -> Vec<InputError> {
    use vmplace_wire::limits::AMOUNT_MAX;
    let bad = |why: String| {
        InputError::new(
            vmplace_wire::errors::ErrorCode::BadFlavor,
            vmplace_wire::Flag::Flavor(i + 1),
            format!("flavor `{}` {why}", f.name),
        )
    };
    let amounts = f.demand.iter().map(|(k, d)| (k.as_str(), *d));
    let mut out: Vec<InputError> = amounts
        .chain([("disk_gib", f.disk_gib)])
        .filter(|(_, x)| *x != 0.0 && !(MIN_AMOUNT..=AMOUNT_MAX).contains(x))
        .map(|(k, x)| {
            bad(format!(
                "asks for {k} = {}: give 0 or an amount between {MIN_AMOUNT} and {AMOUNT_MAX:e}",
                amount(x)
            ))
        })
        .collect();
    if !f.demand.values().any(|d| *d > 0.0) {
        out.push(bad(format!(
            "asks for no host resource, so that any number of it would fit: give at least \
             {MIN_AMOUNT} of one (cpu=1)"
        )));
    }
    out
}

/// An amount as a message quotes it: in powers of ten when it is tiny or huge.
fn amount(x: f64) -> String {
    if x == 0.0 || (MIN_AMOUNT..1e13).contains(&x.abs()) {
        format!("{x}")
    } else {
        format!("{x:e}")
    }
}

/// Every flavor's errors, before any pool is read or any request placed.
pub fn check_flavors(flavors: &[Flavor]) -> Result<(), Vec<InputError>> {
    let errors: Vec<InputError> = flavors
        .iter()
        .enumerate()
        .flat_map(|(i, f)| flavor_errors(i, f))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// What would hold more than [`MAX_COUNT`] of `f` on `pool`: the hosts' free capacity in some
/// resource, or the storage's free space. Every count of the answer is at most one of these.
fn too_many(pool: &Problem, f: &Flavor) -> Option<String> {
    let most = MAX_COUNT as f64;
    let host_free: Vec<Resources> = pool
        .hosts
        .iter()
        .map(|h| free(&h.capacity, h.used.as_ref()))
        .collect();
    for (k, d) in f.demand.iter().filter(|(_, d)| **d > 0.0) {
        let one: Resources = [(k.clone(), *d)].into_iter().collect();
        let n: f64 = host_free.iter().map(|h| room_for(h, &one).floor()).sum();
        if n > most {
            return Some(format!("the hosts' free `{k}`"));
        }
    }
    let images: f64 = pool
        .storage
        .iter()
        .map(|s| images_on(s, f.disk_gib).floor())
        .sum();
    (f.disk_gib > 0.0 && images > most).then(|| "the free storage".to_string())
}

/// Flavors of which the pool would hold more than [`MAX_COUNT`].
fn uncountable(pool: &Problem, flavors: &[Flavor]) -> Vec<InputError> {
    flavors
        .iter()
        .enumerate()
        .filter_map(|(i, f)| {
            let what = too_many(pool, f)?;
            Some(InputError::new(
                vmplace_wire::errors::ErrorCode::BadFlavor,
                vmplace_wire::Flag::Flavor(i + 1),
                format!(
                    "flavor `{}` is so small that {what} alone would hold more than {MAX_COUNT} \
                     of it, more than vmplace counts exactly",
                    f.name
                ),
            ))
        })
        .collect()
}

/// The pool after a solution: each placed request's demand on its host, its disk on its storage.
fn after(problem: &Problem, solution: &Solution) -> Problem {
    let mut p = problem.clone();
    let req: BTreeMap<&str, &Request> = problem
        .requests
        .iter()
        .map(|r| (r.id.as_str(), r))
        .collect();
    for pl in &solution.placements {
        let Some(r) = req.get(pl.request.as_str()) else {
            continue;
        };
        if let Some(h) = p.hosts.iter_mut().find(|h| Some(&h.id) == pl.host.as_ref()) {
            let used = h.used.get_or_insert_with(Resources::new);
            for (k, d) in &r.demand {
                *used.entry(k.clone()).or_default() += d;
            }
        }
        if r.storage.is_none() {
            if let Some(s) = p.storage.iter_mut().find(|s| s.id == pl.storage) {
                s.used_gib += r.disk_gib;
            }
        }
    }
    p.requests.clear();
    p
}

/// The pool with each host's and storage system's usable capacity as its capacity (overcommit and
/// reservations applied), so that the counts read one number per resource.
fn effective(pool: &Problem) -> Problem {
    let mut p = pool.clone();
    for h in &mut p.hosts {
        h.capacity = crate::resources::usable(&h.capacity, &h.reserved, &h.allocation_ratio);
        h.reserved.clear();
        h.allocation_ratio.clear();
    }
    for s in &mut p.storage {
        s.capacity_gib = crate::resources::usable_gib(s);
        s.reserved_gib = None;
        s.allocation_ratio = None;
    }
    p
}

/// Solves a problem document built in code; its errors are the caller's input errors.
fn solve(p: &Problem, o: &Overrides, cfg: &RunConfig) -> Result<Solution, Vec<InputError>> {
    let valid = validate_built(p.clone(), Phase::Storage)?;
    let domain = Domain::from_problem(&valid, settings(p, o));
    Ok(run_or_fallback(&domain, Mode::Place, cfg))
}

/// Counts each flavor on the pool left after the problem's own requests, and checks the failures
/// with those requests running where the two phases put them.
pub fn capacity(
    problem: &Problem,
    q: &Query,
    o: &Overrides,
    cfg: &RunConfig,
) -> Result<CapacityReport, Vec<InputError>> {
    check_flavors(&q.flavors)?;
    let start = std::time::Instant::now();
    let s = settings(problem, o);
    let (pool, placements) = if problem.requests.is_empty() {
        (problem.clone(), Vec::new())
    } else {
        // With failures to check, the placement gets its share of the call, the check the rest.
        let placing_s = if q.fails.is_empty() {
            s.time_limit_s
        } else {
            shares::CAPACITY_PLACEMENT.of(s.time_limit_s)
        };
        let placing = Overrides {
            time_limit_s: Some(placing_s),
            max_time_limit_s: None,
            ..o.clone()
        };
        let solved = solve(problem, &placing, cfg)?;
        (after(problem, &solved), solved.placements)
    };
    let pool = effective(&pool);
    let fleet = Fleet::from_placed(problem, &pool, &placements);
    let call = cfg.clock.budget(s.time_limit_s, start);
    let opts = failure_options(&call, s.mip_gap, s.threads);
    answer(&pool, &fleet, q, placements.len(), &opts)
}

/// The same for a migration state document: its VMs run where it says, and hosts that are not
/// active take neither new VMs nor restarts.
pub fn capacity_of_state(
    state: &State,
    q: &Query,
    o: &Overrides,
    cfg: &RunConfig,
) -> Result<CapacityReport, Vec<InputError>> {
    check_flavors(&q.flavors)?;
    let fleet = Fleet::from_state(state);
    let mut pool = Problem {
        storage: state.storage.clone(),
        hosts: Vec::new(),
        requests: Vec::new(),
        options: None,
        groups: Vec::new(),
    };
    let mut used: BTreeMap<&str, Resources> = BTreeMap::new();
    for v in &state.vms {
        let on = used.entry(v.host.as_str()).or_default();
        for (k, d) in &v.demand {
            *on.entry(k.clone()).or_default() += d;
        }
    }
    for h in state.hosts.iter().filter(|h| h.state == HostState::Active) {
        pool.hosts.push(Host {
            id: h.id.clone(),
            capacity: h.capacity.clone(),
            used: Some(used.remove(h.id.as_str()).unwrap_or_default()),
            storage: h.storage.clone(),
            labels: h.labels.clone(),
            allocation_ratio: h.allocation_ratio.clone(),
            reserved: h.reserved.clone(),
            traits: h.traits.clone(),
            group_members: Default::default(),
        });
    }
    let pool = effective(&pool);
    let s = settings(&pool, o);
    // The call's limit counts from its start (parsing included) when the caller says when.
    let call = cfg.clock.budget(s.time_limit_s, std::time::Instant::now());
    let opts = failure_options(&call, s.mip_gap, s.threads);
    answer(&pool, &fleet, q, 0, &opts)
}

/// The options of a capacity call's checks: what is left of the call, with its cancel flag.
fn failure_options(call: &Budget, mip_gap: f64, threads: u32) -> MipOptions {
    MipOptions {
        time_limit_s: if call.passed() { 0.0 } else { call.remaining() },
        mip_gap,
        threads,
        write_model: None,
        relax: false,
        budget: Budget::until(None, call.cancel.clone()),
        max_nodes: None,
        presolve: true,
        light_heuristics: false,
    }
}

/// Whether a capacity call that started at `start` is over: its time limit has passed, or its
/// client went away.
fn over(start: std::time::Instant, opts: &MipOptions) -> bool {
    start.elapsed().as_secs_f64() >= opts.time_limit_s || opts.budget.cancelled()
}

fn answer(
    pool: &Problem,
    fleet: &Fleet,
    q: &Query,
    requests_placed: usize,
    opts: &MipOptions,
) -> Result<CapacityReport, Vec<InputError>> {
    let start = std::time::Instant::now();
    let mut errors = unknown_resources(pool, &q.flavors);
    errors.extend(uncountable(pool, &q.flavors));
    errors.extend(bad_mix(q));
    let scenarios = match fleet.scenarios(&q.fails) {
        Ok(sc) => sc,
        Err(e) => {
            errors.extend(e);
            Vec::new()
        }
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    let flavors: Vec<FlavorFit> = q.flavors.iter().map(|f| count(pool, f)).collect();
    let mix = q.mix.as_ref().map(|ratio| {
        // With failures to check too, the mix gets its share of the time.
        let o = MipOptions {
            time_limit_s: if q.fails.is_empty() {
                opts.time_limit_s
            } else {
                shares::CAPACITY_MIX.of(opts.time_limit_s)
            },
            ..opts.clone()
        };
        mix::count_mix(pool, &q.flavors, ratio, &flavors, &o)
    });
    let tiered = match (q.tiered, q.flavors.first()) {
        (true, Some(f)) => Some(tiered::tiers(pool, f, &|| over(start, opts))),
        _ => None,
    };
    let failures = if q.fails.is_empty() {
        None
    } else {
        let o = MipOptions {
            time_limit_s: (opts.time_limit_s - start.elapsed().as_secs_f64()).max(0.0),
            ..opts.clone()
        };
        Some(failure::check(fleet, scenarios, &o))
    };
    Ok(CapacityReport {
        requests_placed,
        flavors,
        failures,
        mix,
        tiered,
        time_limit_capped: None,
    })
}

/// A mix must give one whole number per flavor, not all zero; tiers shrink exactly one flavor.
fn bad_mix(q: &Query) -> Vec<InputError> {
    use vmplace_wire::errors::ErrorCode;
    let mut out = Vec::new();
    if let Some(ratio) = &q.mix {
        if ratio.len() != q.flavors.len() || ratio.iter().all(|&r| r == 0) {
            out.push(InputError::new(
                ErrorCode::BadMix,
                vmplace_wire::Flag::Mix,
                format!(
                    "{} parts for {} flavors{}",
                    ratio.len(),
                    q.flavors.len(),
                    if ratio.iter().all(|&r| r == 0) {
                        ", all zero"
                    } else {
                        ""
                    }
                ),
            ));
        }
    }
    if q.tiered && q.flavors.len() != 1 {
        out.push(InputError::new(
            ErrorCode::BadTiered,
            vmplace_wire::Flag::Tiered,
            format!("{} flavors: --tiered shrinks exactly one", q.flavors.len()),
        ));
    }
    out
}

/// A flavor that asks for a resource no host has could only ever count 0: say so instead.
fn unknown_resources(pool: &Problem, flavors: &[Flavor]) -> Vec<InputError> {
    let known: std::collections::BTreeSet<&String> =
        pool.hosts.iter().flat_map(|h| h.capacity.keys()).collect();
    flavors
        .iter()
        .enumerate()
        .flat_map(|(i, f)| {
            f.demand
                .keys()
                .filter(|k| !known.contains(k))
                .map(move |k| {
                    InputError::new(
                        vmplace_wire::errors::ErrorCode::UnknownResource,
                        vmplace_wire::Flag::Flavor(i + 1),
                        format!("flavor {} asks for `{k}`, which no host has", f.name),
                    )
                })
        })
        .collect()
}

fn count(pool: &Problem, f: &Flavor) -> FlavorFit {
    count_booked(pool, f).0
}

/// The count, with the VMs of the max flow per host and the images per storage system.
fn count_booked(pool: &Problem, f: &Flavor) -> (FlavorFit, Vec<usize>, Vec<usize>) {
    let host_free: Vec<Resources> = pool
        .hosts
        .iter()
        .map(|h| free(&h.capacity, h.used.as_ref()))
        .collect();
    // What each host holds by its own capacity, and each storage system by its free space.
    let take: Vec<usize> = host_free
        .iter()
        .map(|free| copies(free, &f.demand))
        .collect();
    // Without an image, storage holds any number (usize::MAX here, never shown: `by_storage` is
    // then absent, the supplies below are the hosts' count and storage never binds).
    let images: BTreeMap<&str, usize> = pool
        .storage
        .iter()
        .map(|s| (s.id.as_str(), images_on(s, f.disk_gib).floor() as usize))
        .collect();
    let reachable = |h: &Host| h.storage.iter().any(|s| images.get(s.as_str()) > Some(&0));
    let reach: Vec<bool> = pool.hosts.iter().map(reachable).collect();
    let mut by_resource: BTreeMap<String, usize> = BTreeMap::new();
    for k in f.demand.keys().filter(|k| f.demand[*k] > 0.0) {
        let one: Resources = [(k.clone(), f.demand[k])].into_iter().collect();
        let n = (0..pool.hosts.len())
            .filter(|&h| reach[h] && take[h] > 0)
            .map(|h| copies(&host_free[h], &one))
            .sum();
        by_resource.insert(k.clone(), n);
    }
    let by_storage: Option<usize> = (f.disk_gib > 0.0).then(|| {
        pool.storage
            .iter()
            .filter(|s| {
                (0..pool.hosts.len()).any(|h| take[h] > 0 && pool.hosts[h].storage.contains(&s.id))
            })
            .map(|s| images[s.id.as_str()])
            .sum()
    });
    let hosts_alone: usize = (0..pool.hosts.len())
        .filter(|&h| reach[h])
        .map(|h| take[h])
        .sum();
    // One flavor alone is a transportation problem: images from storage systems to connected
    // hosts, so the most that fit is a max flow, exact and integral.
    let supply: Vec<usize> = pool
        .storage
        .iter()
        .map(|s| images[s.id.as_str()].min(hosts_alone))
        .collect();
    let flow = Transport::new(&supply, &take, &links(pool)).max_flow();
    let fit = flow.total;
    let binding = if by_storage == Some(fit) && fit <= hosts_alone {
        Binding {
            kind: "storage_capacity".into(),
            resource: None,
        }
    } else if fit == hosts_alone {
        let resource = by_resource
            .iter()
            .min_by_key(|(_, v)| **v)
            .map(|(k, _)| k.clone());
        Binding {
            kind: "host_capacity".into(),
            resource,
        }
    } else {
        Binding {
            kind: "connectivity".into(),
            resource: None,
        }
    };
    // At a max flow no host with room is connected to storage with room: what is left is
    // stranded.
    let stranded_hosts = (0..take.len()).filter(|&h| flow.host_left[h] > 0).count();
    // Without an image, no storage space is left stranded: the flavor uses none.
    let stranded_storage = (0..supply.len())
        .filter(|&s| f.disk_gib > 0.0 && flow.storage_left[s] > 0)
        .count();
    let on_hosts = (0..take.len())
        .map(|h| take[h] - flow.host_left[h])
        .collect();
    let on_storage = (0..supply.len())
        .map(|s| supply[s] - flow.storage_left[s])
        .collect();
    let answer = FlavorFit {
        name: f.name.clone(),
        fit,
        bound: fit,
        gap: 0.0,
        status: Status::Optimal,
        binding,
        by_resource,
        by_storage,
        stranded_hosts,
        stranded_storage,
    };
    (answer, on_hosts, on_storage)
}

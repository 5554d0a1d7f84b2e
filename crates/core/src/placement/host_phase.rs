//! Phase 2: a host for every request that has a storage system, among the hosts connected to it.

use super::bounds::{host_cost_floor, integral_host_bound, phase_stats, record, Measured};
use super::deadline::mip_options;
use super::lexicographic::{better, lexicographic};
use super::lns::host_lns;
use super::{greedy, model_path, packing, Mode, PhaseOutcome, RunConfig};
use crate::budget::{shares, Budget};
use crate::domain::{evaluate, Assignment, Domain, IxVec, Load, RequestIx, StorageIx, NOISE};
use crate::model::host;
use crate::model::storage::Stage;
use crate::model::{MipError, MipOptions, ModelSize};
use std::collections::{BTreeSet, HashSet};
use std::time::Instant;
use vmplace_wire::{Objective, PhaseName, PhaseSolver, PhaseStats, SolverKind};

/// Above this many (flavor, host) columns the host phase is solved by large neighbourhood search
/// instead of one MIP: HiGHS' root LP alone outlasts any sensible time limit past ~100k columns.
pub const LNS_COLUMNS: usize = 40_000;
/// Target size of one neighbourhood MIP.
pub(crate) const LNS_NEIGHBOURHOOD_COLUMNS: usize = 5_000;

/// A request flavor of the host model: requests alike in all of these share its columns.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct HostFlavor {
    /// The demand's bit pattern.
    demand: Vec<u64>,
    /// The priority's bit pattern.
    priority: u64,
    /// The anti-affinity group.
    group: Option<usize>,
    /// The storage system phase 1 chose.
    storage: StorageIx,
}

/// The host model's request flavors among the requests whose storage is in `within` (all if
/// None).
fn host_flavors(
    d: &Domain,
    storage: &Assignment,
    within: Option<&IxVec<StorageIx, bool>>,
) -> HashSet<HostFlavor> {
    let mut flavors = HashSet::new();
    for (i, vm) in d.requests.enumerate() {
        if let Some(s) = storage.storage[i] {
            if within.is_none_or(|w| w[s]) {
                flavors.insert(HostFlavor {
                    demand: crate::domain::bits(&vm.demand),
                    priority: vm.priority.to_bits(),
                    group: vm.group,
                    storage: s,
                });
            }
        }
    }
    flavors
}

/// Estimated host-model columns for the requests whose storage is in `within` (all if None):
/// one per flavor and host connected to the flavor's storage.
pub(crate) fn host_columns(
    d: &Domain,
    storage: &Assignment,
    within: Option<&IxVec<StorageIx, bool>>,
) -> usize {
    columns_of(d, &host_flavors(d, storage, within))
}

fn columns_of(d: &Domain, flavors: &HashSet<HostFlavor>) -> usize {
    flavors
        .iter()
        .map(|f| d.storage[f.storage].hosts.len())
        .sum()
}

/// What the search found and proved, before the greedy comparison.
struct Searched {
    assignment: Assignment,
    weight_bound: f64,
    cost_bound: f64,
    time_limited: bool,
}

/// Phase 2: a host for every request that has a storage.
pub fn host_phase(
    d: &Domain,
    storage_choice: &Assignment,
    warm_hosts: Option<&Assignment>,
    cfg: &RunConfig,
    mode: Mode,
    solver: SolverKind,
    budget: &Budget,
) -> Result<PhaseOutcome, MipError> {
    let start = Instant::now();
    let deadline = budget.clone();
    let mut base = storage_choice.clone();
    base.host = IxVec::filled(None, d.requests.len());
    let candidates: Vec<RequestIx> = d
        .requests
        .ids()
        .filter(|&i| base.storage[i].is_some())
        .collect();
    let placeable: f64 = candidates.iter().map(|r| d.requests[r].priority).sum();
    let all_flavors = host_flavors(d, &base, None);
    let columns = columns_of(d, &all_flavors);
    let flavors = all_flavors.len();
    let greedy_answer = greedy::host_phase(d, &base, d.settings.host_policy);
    let is_mip = solver != SolverKind::Greedy;
    let mut st = phase_stats(PhaseName::Host, PhaseSolver::Greedy, flavors);
    st.columns_estimate = columns;
    let searched = if !is_mip {
        Searched {
            assignment: greedy_answer.clone(),
            weight_bound: placeable,
            cost_bound: f64::NEG_INFINITY,
            time_limited: false,
        }
    } else {
        let ctx = Context {
            d,
            base: &base,
            candidates: &candidates,
            placeable,
            columns,
            cfg,
            mode,
            deadline: &deadline,
        };
        search(&ctx, &greedy_answer, warm_hosts, &mut st)?
    };
    let (w, c) = evaluate::host_score(d, &searched.assignment);
    let floor = host_cost_floor(d, &candidates, w);
    let status = record(
        &mut st,
        d,
        Measured {
            weight: w,
            weight_bound: searched.weight_bound,
            cost: c,
            cost_bound: integral_host_bound(d, searched.cost_bound.max(floor)),
            time_limited: searched.time_limited,
            is_mip,
        },
    );
    st.time_s = start.elapsed().as_secs_f64();
    Ok(PhaseOutcome {
        assignment: searched.assignment,
        witness: None,
        dropped: BTreeSet::new(),
        stats: st,
        status,
    })
}

/// What the host phase's search works on.
struct Context<'a> {
    d: &'a Domain,
    base: &'a Assignment,
    candidates: &'a [RequestIx],
    placeable: f64,
    columns: usize,
    cfg: &'a RunConfig,
    mode: Mode,
    deadline: &'a Budget,
}

/// The host phase's search (MIP solvers): the warm start proven by the floor, else packing by
/// column generation (pools of interchangeable hosts) and its proof, else one MIP or the
/// neighbourhood search; never below the greedy answer.
fn search(
    ctx: &Context,
    greedy_answer: &Assignment,
    warm_hosts: Option<&Assignment>,
    st: &mut PhaseStats,
) -> Result<Searched, MipError> {
    let Context {
        d,
        base,
        candidates,
        placeable,
        columns,
        cfg,
        mode,
        deadline,
    } = *ctx;
    let warm = warm_start(d, base, greedy_answer, warm_hosts);
    let floor_proof = meets_floor(d, &warm, candidates, placeable);
    let (warm, patterns) = match floor_proof {
        Some(_) => (warm, None),
        None => packing_stage(d, base, warm, deadline, st),
    };
    let pattern_bound = patterns.as_ref().and_then(|p| p.host_bound);
    let searched = if let Some(proven) = floor_proof {
        st.solver = PhaseSolver::Exact;
        proven
    } else if let Some(proven) = pattern_bound
        // `--write-model` asks for the host MIP: it is built (and warm-started) even then.
        .filter(|_| cfg.write_model.is_none())
        .and_then(|b| meets(d, &warm, placeable, b))
    {
        st.solver = PhaseSolver::Patterns;
        proven
    } else if columns <= LNS_COLUMNS {
        one_mip(d, base, &warm, placeable, cfg, mode, deadline, st)?
    } else {
        let (a, iterations, size) = host_lns(d, base, warm, deadline)?;
        st.solver = PhaseSolver::MipLns;
        st.lns_neighbourhoods = iterations;
        set_size(st, size);
        // The neighbourhoods prove nothing globally: the weight bound stays the placeable
        // total and the cost bound is the combinatorial floor added below.
        Searched {
            assignment: a,
            weight_bound: placeable,
            cost_bound: f64::NEG_INFINITY,
            time_limited: true,
        }
    };
    // The patterns' bound holds for answers that host every request.
    let hosts_all = hosts_every(
        evaluate::placed_weight(d, &searched.assignment, true),
        placeable,
    );
    let searched = Searched {
        cost_bound: match pattern_bound {
            Some(b) if hosts_all => searched.cost_bound.max(b),
            _ => searched.cost_bound,
        },
        ..searched
    };
    if patterns.as_ref().is_some_and(|p| p.improved) && st.solver == PhaseSolver::MipGreedyFallback
    {
        // The MIP's warm start stands, and it is the patterns' answer.
        st.solver = PhaseSolver::Patterns;
    }
    if better(
        evaluate::host_score(d, greedy_answer),
        evaluate::host_score(d, &searched.assignment),
    ) {
        st.solver = PhaseSolver::MipGreedyFallback;
        Ok(Searched {
            assignment: greedy_answer.clone(),
            ..searched
        })
    } else {
        Ok(searched)
    }
}

/// The warm start, proven optimal without HiGHS when it hosts every request and its cost meets
/// the combinatorial floor (`pack`: it opens no more hosts than the demand needs, typically none
/// for a small batch; `balance`: it raises no host above the pool's highest utilisation).
fn meets_floor(
    d: &Domain,
    warm: &Assignment,
    candidates: &[RequestIx],
    placeable: f64,
) -> Option<Searched> {
    let w = evaluate::placed_weight(d, warm, true);
    if !hosts_every(w, placeable) {
        return None;
    }
    meets(
        d,
        warm,
        placeable,
        integral_host_bound(d, host_cost_floor(d, candidates, w)),
    )
}

/// Whether a placed weight `w` is every request's (`placeable`), within float noise.
fn hosts_every(w: f64, placeable: f64) -> bool {
    w >= placeable - NOISE * placeable.max(1.0)
}

/// `warm`, proven optimal by a bound on the host cost: it hosts every request and costs no more.
fn meets(d: &Domain, warm: &Assignment, placeable: f64, bound: f64) -> Option<Searched> {
    let (w, c) = evaluate::host_score(d, warm);
    (hosts_every(w, placeable) && c <= bound + NOISE * bound.abs().max(1.0)).then(|| Searched {
        assignment: warm.clone(),
        weight_bound: placeable,
        cost_bound: bound,
        time_limited: false,
    })
}

/// What packing by column generation gave the host phase.
struct PatternOutcome {
    host_bound: Option<f64>,
    /// Its assignment beat the warm start and is the new one.
    improved: bool,
}

/// Packing by column generation (`pack` on a pool of interchangeable hosts): up to 90 % of the
/// time left. Returns the better of the warm start and the patterns' answer, and the host-count
/// bound of answers that host every request. A HiGHS failure here only costs the packing's time.
fn packing_stage(
    d: &Domain,
    base: &Assignment,
    warm: Assignment,
    deadline: &Budget,
    st: &mut PhaseStats,
) -> (Assignment, Option<PatternOutcome>) {
    // Pools of interchangeable hosts (bin packing, racks of one generation) are the pattern
    // model's own ground, where the flavor-by-host MIP only adds symmetry. Elsewhere (most hosts
    // a class of their own) the flavor-by-host MIP or its neighbourhoods do as well, and prove
    // small cases sooner: packing is not run there.
    // Patterns know anti-affinity per host only: `groups[]` rules leave packing to the MIP.
    let pack = d.settings.host_policy == Objective::Pack
        && d.group_rules.is_empty()
        && packing::symmetric(d);
    if !pack || deadline.passed() {
        return (warm, None);
    }
    let budget = deadline.seconds(shares::PACKING);
    match packing::pack(d, base, &warm, deadline, budget) {
        Ok(p) => {
            st.pattern_rounds = p.rounds;
            st.pattern_columns = p.columns;
            let improved = p.assignment.as_ref().is_some_and(|a| {
                better(evaluate::host_score(d, a), evaluate::host_score(d, &warm))
            });
            let outcome = PatternOutcome {
                host_bound: p.host_bound,
                improved,
            };
            match p.assignment {
                Some(a) if improved => (a, Some(outcome)),
                _ => (warm, Some(outcome)),
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "packing by column generation failed; the MIP goes on");
            (warm, None)
        }
    }
}

/// Warm start: the better of the greedy answer and phase 1's witness.
fn warm_start(
    d: &Domain,
    base: &Assignment,
    greedy_answer: &Assignment,
    witness: Option<&Assignment>,
) -> Assignment {
    let mut warm = greedy_answer.clone();
    if let Some(w) = witness {
        let mut w = w.clone();
        w.storage = base.storage.clone();
        for i in d.requests.ids() {
            if base.storage[i].is_none() {
                w.host[i] = None;
            }
        }
        if better(evaluate::host_score(d, &w), evaluate::host_score(d, &warm)) {
            warm = w;
        }
    }
    warm
}

fn set_size(st: &mut PhaseStats, size: ModelSize) {
    st.variables = size.variables;
    st.integer_variables = size.integer_variables;
    st.constraints = size.constraints;
}

/// The host MIP over every request at once (lexicographic stages).
#[allow(clippy::too_many_arguments)]
fn one_mip(
    d: &Domain,
    base: &Assignment,
    warm: &Assignment,
    placeable: f64,
    cfg: &RunConfig,
    mode: Mode,
    deadline: &Budget,
    st: &mut PhaseStats,
) -> Result<Searched, MipError> {
    let write = model_path(cfg, PhaseName::Host, mode);
    let load = Load::initial(d);
    let active = d.hosts.map(|h| h.initially_active());

    let lexi = lexicographic(
        warm,
        placeable,
        f64::NEG_INFINITY,
        deadline,
        |stage, secs, w| {
            let input = host::HostInput {
                d,
                storage: base,
                warm: w,
                load: &load,
                active: &active,
                allowed: None,
            };
            let write = match stage {
                Stage::Policy { .. } => write.clone(),
                Stage::Placement => None,
            };
            // No presolve: on pools of identical hosts HiGHS' presolve reduces nothing and
            // spends minutes on the symmetric columns without looking at its clock (13 s on a
            // 30,504-column model of 249 VMs, limit 8 s), as in the neighbourhoods (lns.rs).
            let opts = MipOptions {
                presolve: false,
                ..mip_options(d, secs, write, deadline)
            };
            host::solve(&input, stage, &opts)
        },
        |a| evaluate::host_score(d, a),
        false,
    )?;
    st.solver = if lexi.used_mip {
        PhaseSolver::Mip
    } else {
        PhaseSolver::MipGreedyFallback
    };
    set_size(st, lexi.size);
    Ok(Searched {
        assignment: lexi.best,
        weight_bound: lexi.weight_bound,
        cost_bound: lexi.cost_bound,
        time_limited: lexi.time_limited,
    })
}

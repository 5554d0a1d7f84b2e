//! The HiGHS options of one run, named by setters and set on the model in one place.

use super::MipError;

/// The HiGHS options of one run. Built with named setters, then set on a HiGHS model by
/// [`HighsOptions::apply`], always in the same order. A fixed random seed (0) is always set, so
/// that a node-limited run gives the same answer every time.
#[derive(Debug, Clone)]
pub(super) struct HighsOptions {
    /// HiGHS `time_limit`, seconds.
    time_limit_s: f64,
    /// HiGHS `mip_rel_gap`, when set.
    mip_rel_gap: Option<f64>,
    /// HiGHS `threads`.
    threads: i32,
    /// False sets HiGHS `presolve` to `off`.
    presolve: bool,
    /// True sets HiGHS `solver` to `ipm`.
    interior_point: bool,
    /// True turns HiGHS' feasibility jump off and its primal heuristics' effort down to 1 %.
    light_heuristics: bool,
    /// HiGHS `mip_max_nodes`, when set.
    max_nodes: Option<u32>,
}

impl HighsOptions {
    /// Options with this time limit (seconds), and HiGHS' own gap, one thread, presolve,
    /// simplex, default heuristics and no node limit until a setter says otherwise.
    pub(super) fn new(time_limit_s: f64) -> Self {
        HighsOptions {
            time_limit_s,
            mip_rel_gap: None,
            threads: 1,
            presolve: true,
            interior_point: false,
            light_heuristics: false,
            max_nodes: None,
        }
    }

    /// The relative MIP gap at which HiGHS stops.
    pub(super) fn mip_rel_gap(mut self, gap: f64) -> Self {
        self.mip_rel_gap = Some(gap);
        self
    }

    /// HiGHS' threads.
    pub(super) fn threads(mut self, threads: i32) -> Self {
        self.threads = threads;
        self
    }

    /// Whether HiGHS presolves.
    pub(super) fn presolve(mut self, on: bool) -> Self {
        self.presolve = on;
        self
    }

    /// Whether an LP is solved by the interior point method.
    pub(super) fn interior_point(mut self, on: bool) -> Self {
        self.interior_point = on;
        self
    }

    /// Whether HiGHS' primal heuristics are cut down (see `MipOptions::light_heuristics`).
    pub(super) fn light_heuristics(mut self, on: bool) -> Self {
        self.light_heuristics = on;
        self
    }

    /// Branch-and-bound nodes at most (clamped to HiGHS' `i32`).
    pub(super) fn max_nodes(mut self, nodes: Option<u32>) -> Self {
        self.max_nodes = nodes;
        self
    }

    /// Sets the options on `model`; an option HiGHS rejects is an error naming it.
    pub(super) fn apply(&self, model: &mut highs::Model) -> Result<(), MipError> {
        set(model, "time_limit", self.time_limit_s)?;
        if let Some(gap) = self.mip_rel_gap {
            set(model, "mip_rel_gap", gap)?;
        }
        set(model, "threads", self.threads)?;
        set(model, "random_seed", 0)?;
        if !self.presolve {
            set(model, "presolve", "off")?;
        }
        if self.interior_point {
            set(model, "solver", "ipm")?;
        }
        if self.light_heuristics {
            set(model, "mip_heuristic_run_feasibility_jump", false)?;
            set(model, "mip_heuristic_effort", 0.01)?;
        }
        if let Some(nodes) = self.max_nodes {
            set(model, "mip_max_nodes", nodes.min(i32::MAX as u32) as i32)?;
        }
        Ok(())
    }
}

/// Sets one option; HiGHS' rejection becomes [`MipError::Highs`] naming the option.
fn set<V: highs::HighsOptionValue>(
    model: &mut highs::Model,
    name: &str,
    value: V,
) -> Result<(), MipError> {
    model
        .try_set_option(name, value)
        .map_err(|_| MipError::Highs(format!("option {name} rejected")))
}

//! The pattern master of packing by column generation (models/host.md, "Packing by column
//! generation"). Function names match the constraint families.
//!
//! Columns arrive between LP solves, so this model talks to HiGHS through the `highs` crate
//! directly: the same `highs::Model` is solved, given new columns and solved again from its last
//! basis, which good_lp (build once, solve once) cannot do.

use super::{solve_watched, HighsOptions, MipError, MipOptions, MipStatus, ModelSize};
use highs::{ColProblem, HighsModelStatus, HighsSolutionStatus, Row, Sense};
use std::time::Instant;

/// One pattern: what one host of class `class` runs, as (flavor, count) pairs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Pattern {
    /// Host class.
    pub class: usize,
    /// VMs per flavor, flavors ascending, counts positive.
    pub counts: Vec<(usize, u32)>,
}

/// The master's data: flavors to cover and host classes to draw from.
#[derive(Debug, Clone)]
pub struct MasterInput {
    /// `n_f`: VMs of each flavor.
    pub demand: Vec<f64>,
    /// `M p_f`: the cost of leaving one VM of each flavor unplaced.
    pub unplaced_cost: Vec<f64>,
    /// `m_c`: hosts in each class.
    pub hosts: Vec<f64>,
    /// `k_c`: the cost of a host of each class that runs anything.
    pub host_cost: Vec<f64>,
}

/// Duals and objective of one LP solve of the master.
#[derive(Debug, Clone)]
pub struct LpSolution {
    /// Objective of the restricted master's LP.
    pub objective: f64,
    /// `π_f >= 0`, per flavor (`pattern_cover`).
    pub cover: Vec<f64>,
    /// `μ_c <= 0`, per class (`pattern_hosts`).
    pub hosts: Vec<f64>,
    /// `λ_p` per column, in the order they were added.
    pub uses: Vec<f64>,
}

/// The integer master's answer: how many hosts of its class run each pattern.
#[derive(Debug, Clone)]
#[cfg_attr(not(feature = "test-support"), allow(dead_code))]
pub struct IntegerSolution {
    /// Status.
    pub status: MipStatus,
    /// Objective of the incumbent.
    pub objective: f64,
    /// HiGHS' dual bound.
    pub bound: f64,
    /// `λ_p` per column, in the order they were added.
    pub uses: Vec<u32>,
    /// Size of the model.
    pub size: ModelSize,
}

/// The restricted master problem: the rows, the columns generated so far, and the LP model that
/// keeps its basis between solves.
pub struct PatternMaster {
    input: MasterInput,
    columns: Vec<Pattern>,
    lp: Option<highs::Model>,
    cover_rows: Vec<Row>,
    host_rows: Vec<Row>,
    /// Columns already in `lp` (u_f first, then patterns).
    in_lp: usize,
}

impl PatternMaster {
    /// An empty master over `input`'s flavors and classes.
    pub fn new(input: MasterInput) -> Self {
        PatternMaster {
            input,
            columns: Vec::new(),
            lp: None,
            cover_rows: Vec::new(),
            host_rows: Vec::new(),
            in_lp: 0,
        }
    }

    /// The columns generated so far.
    pub fn columns(&self) -> &[Pattern] {
        &self.columns
    }

    /// Adds a column; returns false (and adds nothing) if it is already there.
    pub fn add(&mut self, p: Pattern) -> bool {
        if self.columns.contains(&p) {
            return false;
        }
        self.columns.push(p);
        true
    }

    /// **`pattern_cover`**: `sum a_fp λ_p + u_f >= n_f` per flavor; **`pattern_hosts`**:
    /// `sum_p λ_p <= m_c` per class. Rows first, then the `u_f` columns.
    fn rows(&self, problem: &mut ColProblem) -> (Vec<Row>, Vec<Row>) {
        let cover = pattern_cover(problem, &self.input);
        let hosts = pattern_hosts(problem, &self.input);
        (cover, hosts)
    }

    /// The unplaced columns `u_f` in `[0, n_f]`, cost `M p_f`, in their cover row.
    fn unplaced_columns(&self, problem: &mut ColProblem, cover: &[Row], integer: bool) {
        for (f, &row) in cover.iter().enumerate() {
            problem.add_column_with_integrality(
                self.input.unplaced_cost[f],
                0.0..=self.input.demand[f],
                [(row, 1.0)],
                integer,
            );
        }
    }

    /// A pattern's entries: one in its class row, its counts in the cover rows.
    fn entries(&self, p: &Pattern, cover: &[Row], hosts: &[Row]) -> Vec<(Row, f64)> {
        let mut e: Vec<(Row, f64)> = p
            .counts
            .iter()
            .map(|&(f, n)| (cover[f], n as f64))
            .collect();
        e.push((hosts[p.class], 1.0));
        e
    }

    /// Solves the LP relaxation of the restricted master, from the last basis when there is
    /// one; returns the objective and the duals, or None when HiGHS stopped before the optimum
    /// (time limit, interrupt).
    pub fn solve_lp(&mut self, opts: &MipOptions) -> Result<Option<LpSolution>, MipError> {
        let mut model = match self.lp.take() {
            Some(m) => m,
            None => {
                let mut problem = ColProblem::default();
                let (cover, hosts) = self.rows(&mut problem);
                self.unplaced_columns(&mut problem, &cover, false);
                self.cover_rows = cover;
                self.host_rows = hosts;
                self.in_lp = 0;
                let mut m = problem.optimise(Sense::Minimise);
                m.make_quiet();
                m
            }
        };
        for p in &self.columns[self.in_lp..] {
            let entries = self.entries(p, &self.cover_rows, &self.host_rows);
            model
                .try_add_column_with_integrality(
                    self.input.host_cost[p.class],
                    0.0..,
                    entries,
                    false,
                )
                .map_err(|e| MipError::Highs(format!("{e:?}")))?;
        }
        self.in_lp = self.columns.len();
        set_options(&mut model, opts, false)?;
        let Some(solved) = solve_watched(model, opts)? else {
            // The model went with the abandoned run: the next solve starts from scratch.
            self.in_lp = 0;
            return Ok(None);
        };
        if solved.status() != HighsModelStatus::Optimal {
            // Out of time (or interrupted): no duals to price with. The model stays usable.
            tracing::debug!(status = ?solved.status(), "pattern master LP not solved");
            self.lp = Some(solved.into());
            return Ok(None);
        }
        let sol = solved.get_solution();
        let duals = sol.dual_rows();
        let nf = self.input.demand.len();
        let out = LpSolution {
            objective: solved.objective_value(),
            // HiGHS' row duals of a minimisation are the objective's change per unit of the row's
            // bound: >= 0 for a binding `>=` row, <= 0 for a binding `<=` row.
            cover: duals[..nf].iter().map(|&y| y.max(0.0)).collect(),
            hosts: duals[nf..].iter().map(|&y| y.min(0.0)).collect(),
            uses: sol.columns()[nf..].to_vec(),
        };
        self.lp = Some(solved.into());
        Ok(Some(out))
    }

    /// Solves the master over the columns generated so far with integer `λ` and `u` (price and
    /// branch), warm-started with `warm` uses per column.
    pub fn solve_integer(
        &self,
        warm: &[u32],
        opts: &MipOptions,
    ) -> Result<IntegerSolution, MipError> {
        let start = Instant::now();
        let mut problem = ColProblem::default();
        let (cover, hosts) = self.rows(&mut problem);
        self.unplaced_columns(&mut problem, &cover, true);
        for p in &self.columns {
            let entries = self.entries(p, &cover, &hosts);
            problem.add_column_with_integrality(
                self.input.host_cost[p.class],
                0.0..=self.input.hosts[p.class],
                entries,
                true,
            );
        }
        let nf = self.input.demand.len();
        let size = ModelSize {
            variables: nf + self.columns.len(),
            integer_variables: nf + self.columns.len(),
            constraints: nf + self.input.hosts.len(),
        };
        let mut model = problem.optimise(Sense::Minimise);
        model.make_quiet();
        set_options(&mut model, opts, true)?;
        // The warm start's own cover: what its patterns leave unplaced.
        let mut covered = vec![0.0; nf];
        for (p, &n) in self.columns.iter().zip(warm) {
            for &(f, k) in &p.counts {
                covered[f] += (k * n) as f64;
            }
        }
        let mut start_values: Vec<f64> = (0..nf)
            .map(|f| (self.input.demand[f] - covered[f]).max(0.0))
            .collect();
        start_values.extend(warm.iter().map(|&n| n as f64));
        let _ = model.try_set_solution(Some(&start_values), None, None, None);
        let Some(solved) = solve_watched(model, opts)? else {
            return Ok(IntegerSolution {
                status: MipStatus::NoSolution,
                objective: f64::INFINITY,
                bound: f64::NEG_INFINITY,
                uses: Vec::new(),
                size,
            });
        };
        let feasible = solved.primal_solution_status() == HighsSolutionStatus::Feasible;
        let status = match solved.status() {
            HighsModelStatus::Optimal if feasible => MipStatus::Optimal,
            HighsModelStatus::Infeasible => MipStatus::Infeasible,
            HighsModelStatus::ReachedTimeLimit | HighsModelStatus::ReachedInterrupt if feasible => {
                MipStatus::TimeLimit
            }
            _ if feasible => MipStatus::WorkLimit,
            _ => MipStatus::NoSolution,
        };
        let uses = if feasible {
            solved.get_solution().columns()[nf..]
                .iter()
                .map(|v| v.round().max(0.0) as u32)
                .collect()
        } else {
            Vec::new()
        };
        let objective = solved.objective_value();
        let bound = solved
            .double_info_value(c"mip_dual_bound")
            .unwrap_or(f64::NEG_INFINITY);
        tracing::debug!(
            columns = self.columns.len(),
            seconds = start.elapsed().as_secs_f64(),
            objective,
            bound,
            "pattern master MIP"
        );
        Ok(IntegerSolution {
            status,
            objective,
            bound,
            uses,
            size,
        })
    }
}

/// **`pattern_cover`**: one row per flavor, `sum_p a_fp λ_p + u_f >= n_f`.
fn pattern_cover(problem: &mut ColProblem, input: &MasterInput) -> Vec<Row> {
    input.demand.iter().map(|&n| problem.add_row(n..)).collect()
}

/// **`pattern_hosts`**: one row per class, `sum_p λ_p <= m_c`.
fn pattern_hosts(problem: &mut ColProblem, input: &MasterInput) -> Vec<Row> {
    input.hosts.iter().map(|&m| problem.add_row(..=m)).collect()
}

fn set_options(model: &mut highs::Model, opts: &MipOptions, mip: bool) -> Result<(), MipError> {
    let options = HighsOptions::new(opts.time_limit_s.max(0.01)).threads(1);
    let options = if mip {
        options.mip_rel_gap(opts.mip_gap)
    } else {
        options
    };
    options.apply(model)
}

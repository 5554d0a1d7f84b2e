//! JSON contract: problem, solution and error documents (serde and schemars only).

pub mod errors;
pub mod problem;
pub mod solution;
pub mod state;

pub use errors::{ErrorDocument, InputError};
pub use problem::{Host, Objective, Options, Problem, Request, Resources, SolverKind, Storage};
pub use solution::{
    PhaseName, PhaseSolver, PhaseStats, Placement, ReasonCode, Solution, Stats, Status, Unplaced,
};

/// Documents that have a published JSON Schema.
#[derive(Debug, Clone, Copy)]
pub enum DocKind {
    /// [`Problem`].
    Problem,
    /// [`Solution`].
    Solution,
    /// [`ErrorDocument`].
    Errors,
}

/// The JSON Schema of a document, generated from the Rust types.
pub fn schema(kind: DocKind) -> serde_json::Value {
    let s = match kind {
        DocKind::Problem => schemars::schema_for!(Problem),
        DocKind::Solution => schemars::schema_for!(Solution),
        DocKind::Errors => schemars::schema_for!(ErrorDocument),
    };
    serde_json::to_value(s).unwrap_or(serde_json::Value::Null)
}

/// The JSON Schema of the migration documents.
pub fn migration_schema(plan: bool) -> serde_json::Value {
    let s = if plan {
        schemars::schema_for!(state::Plan)
    } else {
        schemars::schema_for!(state::State)
    };
    serde_json::to_value(s).unwrap_or(serde_json::Value::Null)
}

//! JSON contract: problem, solution and error documents (serde and schemars only).

#![warn(missing_docs)]

pub mod capacity;
pub mod check;
pub mod errors;
pub mod ganeti;
pub mod limits;
pub mod problem;
pub mod reassign;
pub mod roadef;
pub mod solution;
pub mod spelling;
pub mod state;
pub mod zero;

pub use errors::{ErrorDocument, ErrorSource, Flag, InputError};
pub use problem::{Host, Objective, Options, Problem, Request, Resources, SolverKind, Storage};
pub use solution::{
    BoundScope, PhaseName, PhaseSolver, PhaseStats, Placement, ReasonCode, Solution, Stats, Status,
    TimeLimitCap, Timings, Unplaced,
};

/// Documents that have a published JSON Schema (`vmplace schema <name>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocKind {
    /// [`Problem`].
    Problem,
    /// [`Solution`].
    Solution,
    /// [`ErrorDocument`].
    Errors,
    /// [`state::State`].
    State,
    /// [`state::Plan`].
    Plan,
    /// [`check::CheckRequest`]: the body of `POST /v1/check`.
    Check,
    /// [`ganeti::Input`]: Ganeti's IAllocator input document.
    Iallocator,
    /// [`ganeti::Response`]: the IAllocator answer.
    IallocatorAnswer,
}

impl DocKind {
    /// Every kind, in the order `vmplace schema` lists them.
    pub const ALL: [DocKind; 8] = [
        DocKind::Problem,
        DocKind::Solution,
        DocKind::Errors,
        DocKind::State,
        DocKind::Plan,
        DocKind::Check,
        DocKind::Iallocator,
        DocKind::IallocatorAnswer,
    ];

    /// The name used by `vmplace schema` and `GET /v1/schema/{name}`.
    pub fn name(self) -> &'static str {
        match self {
            DocKind::Problem => "problem",
            DocKind::Solution => "solution",
            DocKind::Errors => "errors",
            DocKind::State => "state",
            DocKind::Plan => "plan",
            DocKind::Check => "check",
            DocKind::Iallocator => "iallocator",
            DocKind::IallocatorAnswer => "iallocator-answer",
        }
    }

    /// The kind of that name.
    pub fn from_name(name: &str) -> Option<DocKind> {
        DocKind::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// The JSON Schema of a document, generated from the Rust types.
pub fn schema(kind: DocKind) -> serde_json::Value {
    let s = match kind {
        DocKind::Problem => schemars::schema_for!(Problem),
        DocKind::Solution => schemars::schema_for!(Solution),
        DocKind::Errors => schemars::schema_for!(ErrorDocument),
        DocKind::State => schemars::schema_for!(state::State),
        DocKind::Plan => schemars::schema_for!(state::Plan),
        DocKind::Check => schemars::schema_for!(check::CheckRequest),
        DocKind::Iallocator => schemars::schema_for!(ganeti::Input),
        DocKind::IallocatorAnswer => schemars::schema_for!(ganeti::Response),
    };
    serde_json::to_value(s).unwrap_or(serde_json::Value::Null)
}

//! `vmplace schema problem|solution|errors`.

use super::{exit, write_json};
use clap::{Args, ValueEnum};

/// Which document.
#[derive(ValueEnum, Debug, Clone, Copy)]
pub enum Doc {
    /// Placement problem.
    Problem,
    /// Placement solution.
    Solution,
    /// Error document.
    Errors,
    /// Migration state document.
    State,
    /// Migration plan.
    Plan,
    /// The body of `POST /v1/check`.
    Check,
    /// Ganeti's IAllocator input document.
    Iallocator,
    /// The IAllocator answer.
    IallocatorAnswer,
}

/// Arguments of `schema`.
#[derive(Args, Debug)]
pub struct SchemaArgs {
    /// Document kind.
    #[arg(value_enum)]
    pub doc: Doc,
}

/// Prints the schema.
pub fn run(a: SchemaArgs) -> i32 {
    let schema = vmplace::format::schema(a.doc.into());
    let _ = write_json(None, &schema);
    exit::OK
}

impl From<Doc> for vmplace::format::DocKind {
    fn from(d: Doc) -> Self {
        match d {
            Doc::Problem => vmplace::format::DocKind::Problem,
            Doc::Solution => vmplace::format::DocKind::Solution,
            Doc::Errors => vmplace::format::DocKind::Errors,
            Doc::State => vmplace::format::DocKind::State,
            Doc::Plan => vmplace::format::DocKind::Plan,
            Doc::Check => vmplace::format::DocKind::Check,
            Doc::Iallocator => vmplace::format::DocKind::Iallocator,
            Doc::IallocatorAnswer => vmplace::format::DocKind::IallocatorAnswer,
        }
    }
}

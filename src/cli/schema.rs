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
    let schema = vmplace_wire::schema(a.doc.into());
    let _ = write_json(None, &schema);
    exit::OK
}

impl From<Doc> for vmplace_wire::DocKind {
    fn from(d: Doc) -> Self {
        match d {
            Doc::Problem => vmplace_wire::DocKind::Problem,
            Doc::Solution => vmplace_wire::DocKind::Solution,
            Doc::Errors => vmplace_wire::DocKind::Errors,
            Doc::State => vmplace_wire::DocKind::State,
            Doc::Plan => vmplace_wire::DocKind::Plan,
            Doc::Check => vmplace_wire::DocKind::Check,
            Doc::Iallocator => vmplace_wire::DocKind::Iallocator,
            Doc::IallocatorAnswer => vmplace_wire::DocKind::IallocatorAnswer,
        }
    }
}

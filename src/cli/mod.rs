//! Command-line interface: one file per subcommand. stdout carries JSON only; logs and
//! progress go to stderr.

mod bench;
mod capacity;
mod check;
mod generate;
mod iallocator;
mod migrate;
mod progress;
mod roadef;
mod schema;
mod serve;
mod simulate;
mod solve;
mod study;

use clap::{Parser, Subcommand};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use vmplace::format::errors::ErrorCode;
use vmplace::format::{ErrorDocument, InputError};

/// Storage-aware VM placement and migration planning as mixed-integer programs (HiGHS).
#[derive(Parser, Debug)]
#[command(name = "vmplace", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Phase 1: choose a storage system for each request's disk image.
    Storage(solve::SolveArgs),
    /// Phase 2: choose a host for each request (every request carries `storage`).
    Host(solve::SolveArgs),
    /// Both phases in one call.
    Place(solve::SolveArgs),
    /// Plan one monitoring round's migrations from a state document.
    Migrate(migrate::MigrateArgs),
    /// Independent checker: exit 0 if SOLUTION (or PLAN) is valid for PROBLEM (or STATE), 1 if not.
    Check(check::CheckArgs),
    /// Print the JSON Schema of a document.
    Schema(schema::SchemaArgs),
    /// Generate a seeded instance.
    Generate(generate::GenerateArgs),
    /// Solve every instance of a directory with the MIP and the greedy baseline.
    Bench(bench::BenchArgs),
    /// Serve the same documents over HTTP.
    Serve(serve::ServeArgs),
    /// Replay a PlanetLab trace day through the monitor, the policies and the migrations.
    Simulate(simulate::SimulateArgs),
    /// Run every day with every policy, in parallel: one document with the floor and ratios.
    Study(study::StudyArgs),
    /// How many more VMs of each flavor fit (after the problem's own requests).
    Capacity(capacity::CapacityArgs),
    /// Answer a Ganeti IAllocator request (Ganeti runs `vmplace iallocator FILE`).
    Iallocator(iallocator::IallocatorArgs),
    /// ROADEF/EURO 2012 machine reassignment, the challenge's command line:
    /// -t SECONDS -p MODEL -i ASSIGNMENT -o NEW_ASSIGNMENT [-s SEED] [-name].
    Roadef(roadef::RoadefArgs),
}

/// Exit codes.
pub mod exit {
    /// A document was written.
    pub const OK: i32 = 0;
    /// `check` found violations.
    pub const VIOLATIONS: i32 = 1;
    /// Bad input or usage.
    pub const BAD_INPUT: i32 = 2;
}

/// Runs the CLI and returns the exit code.
pub fn main() -> i32 {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(
            "warn,highs=error,vmplace::service::http=info,vmplace::progress=info",
        )
    });
    // Colour only on a terminal: a log file or a pipe gets plain text (issue 28).
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .init();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                // Help is what the user asked for: print it as clap does.
                let _ = e.print();
                return exit::OK;
            }
            let _ = e.print();
            let error = InputError::new(ErrorCode::Usage, "", e.kind().to_string());
            // Ganeti reads an allocator's stdout: give it the protocol's failure answer.
            if std::env::args().nth(1).as_deref() == Some("iallocator") {
                return iallocator::fail(&[error]);
            }
            return report(&[error]);
        }
    };
    match cli.command {
        Command::Storage(a) => solve::run(a, vmplace::placement::Mode::Storage),
        Command::Host(a) => solve::run(a, vmplace::placement::Mode::Host),
        Command::Place(a) => solve::run(a, vmplace::placement::Mode::Place),
        Command::Migrate(a) => migrate::run(a),
        Command::Check(a) => check::run(a),
        Command::Schema(a) => schema::run(a),
        Command::Generate(a) => generate::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Serve(a) => serve::run(a),
        Command::Simulate(a) => simulate::run(a),
        Command::Iallocator(a) => iallocator::run(a),
        Command::Study(a) => study::run(a),
        Command::Capacity(a) => capacity::run(a),
        Command::Roadef(a) => roadef::run(a),
    }
}

/// Writes an error document to stdout and a summary to stderr; returns exit code 2.
pub fn report(errors: &[InputError]) -> i32 {
    let doc = ErrorDocument::new(errors.to_vec());
    summarize(&doc.errors);
    if doc.omitted > 0 {
        eprintln!("... and {} more errors", doc.omitted);
    }
    let _ = write_json(None, &doc);
    exit::BAD_INPUT
}

/// One line per error on stderr, for the human beside the JSON.
pub fn summarize(errors: &[InputError]) {
    for e in errors {
        eprintln!(
            "error {} at {}: {} ({})",
            e.code,
            if e.path.is_empty() { "/" } else { &e.path },
            e.cause,
            e.action
        );
    }
}

/// Reads a file, or stdin for `-`. Text that is not UTF-8 is not JSON (RFC 8259): `E1001`, as
/// over HTTP; only a file that cannot be read is `E0002`.
pub fn read_input(path: &Path) -> Result<String, Vec<InputError>> {
    let mut bytes = Vec::new();
    let result = if path == Path::new("-") {
        std::io::stdin().read_to_end(&mut bytes).map(|_| ())
    } else {
        std::fs::read(path).map(|b| bytes = b)
    };
    result.map_err(|e| {
        vec![InputError::new(
            ErrorCode::Io,
            "",
            format!("cannot read {}: {e}", path.display()),
        )]
    })?;
    vmplace::validation::utf8_text(bytes).map_err(|e| vec![e])
}

/// Writes pretty JSON to the file or stdout. A closed stdout (broken pipe) is not an error.
pub fn write_json<T: serde::Serialize>(
    out: Option<&PathBuf>,
    value: &T,
) -> Result<(), Vec<InputError>> {
    let text = serde_json::to_vec_pretty(value).map_err(encode_error)?;
    write_bytes(out, text)
}

/// The error of an answer that cannot be encoded.
pub fn encode_error(e: serde_json::Error) -> Vec<InputError> {
    vec![InputError::new(
        ErrorCode::Io,
        "",
        format!("cannot encode output: {e}"),
    )]
}

/// Writes encoded JSON and a newline to the file or stdout. A closed stdout (broken pipe) is
/// not an error.
pub fn write_bytes(out: Option<&PathBuf>, mut text: Vec<u8>) -> Result<(), Vec<InputError>> {
    let io_err = |e: std::io::Error, what: &str| {
        vec![InputError::new(
            ErrorCode::Io,
            "",
            format!("cannot write {what}: {e}"),
        )]
    };
    text.push(b'\n');
    match out {
        Some(p) => std::fs::write(p, text).map_err(|e| io_err(e, &p.display().to_string())),
        None => {
            let mut stdout = std::io::stdout().lock();
            match stdout.write_all(&text) {
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                r => r.map_err(|e| io_err(e, "stdout")),
            }
        }
    }
}

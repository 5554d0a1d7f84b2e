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

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use vmplace_wire::errors::ErrorCode;
use vmplace_wire::{ErrorDocument, InputError};

/// What `--help` says after the flags.
const ENVIRONMENT: &str = "\
Environment:
  RUST_LOG   what to log on stderr, e.g. RUST_LOG=info or RUST_LOG=vmplace=debug
             (default: warnings, the server's requests, progress)
  NO_COLOR   set to anything but empty: no colour in the logs even on a terminal
             (off a terminal the logs never have colour)

Exit codes: 0 a document was written, 1 `check` found violations, 2 bad input or usage.";

/// Storage-aware VM placement and migration planning as mixed-integer programs (HiGHS).
#[derive(Parser, Debug)]
#[command(name = "vmplace", version, about, after_help = ENVIRONMENT)]
pub struct Cli {
    /// Log lines on stderr as text or as one JSON object per line.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value_t = LogFormat::Text,
        ignore_case = true,
        display_order = 100
    )]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

/// `--log-format`.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum LogFormat {
    /// One line of text per event.
    Text,
    /// One JSON object per event (timestamp, level, target, fields).
    Json,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Phase 1: choose a storage system for each request's disk image.
    Storage(solve::StorageArgs),
    /// Phase 2: choose a host for each request (each carries `storage`, or see --storage-from).
    Host(solve::HostArgs),
    /// Both phases in one call.
    Place(solve::PlaceArgs),
    /// Plan one monitoring round's migrations from a state document.
    Migrate(migrate::MigrateArgs),
    /// Independent checker: exit 0 if SOLUTION (a plan, a Ganeti answer) is valid for PROBLEM (a
    /// state, Ganeti's input), 1 if not.
    Check(check::CheckArgs),
    /// Print the JSON Schema of a document.
    Schema(schema::SchemaArgs),
    /// Generate a seeded instance.
    Generate(generate::GenerateArgs),
    /// Every solver on every instance of a directory, each answer checked; or, with --sweep,
    /// vmplace against the heuristics on random pools.
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
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) to stdout.
    Completions {
        /// The shell.
        #[arg(value_enum, ignore_case = true)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to stdout: `vmplace man > vmplace.1`.
    Man,
    /// ROADEF/EURO 2012 machine reassignment, the challenge's command line:
    /// -t SECONDS -p MODEL -i ASSIGNMENT -o NEW_ASSIGNMENT [-s SEED] [-name]; or
    /// --to-state -p MODEL -i ASSIGNMENT [-o STATE], the instance as a migration state document.
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
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => return parse_failure(e),
    };
    init_logs(cli.log_format);
    match cli.command {
        Command::Storage(a) => solve::run(a.into(), vmplace_core::placement::Mode::Storage),
        Command::Host(a) => solve::run(a.into(), vmplace_core::placement::Mode::Host),
        Command::Place(a) => solve::run(a.into(), vmplace_core::placement::Mode::Place),
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
        Command::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "vmplace", &mut out);
            print_text(out)
        }
        Command::Man => {
            let mut out = Vec::new();
            match clap_mangen::Man::new(Cli::command()).render(&mut out) {
                Ok(()) => print_text(out),
                Err(e) => report(&[InputError::new(ErrorCode::Io, "", e.to_string())]),
            }
        }
        Command::Roadef(a) => roadef::run(a),
    }
}

/// Logs on stderr, in colour only on a terminal and without `NO_COLOR` (issue 28).
fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(
            "warn,highs=error,vmplace_server::http=info,vmplace::progress=info",
        )
    });
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr()) && !no_color;
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => logs.with_ansi(colour).init(),
        LogFormat::Json => logs.json().with_ansi(false).init(),
    }
}

/// What a command line that does not parse gets: help and the version as asked, on stdout
/// (exit 0); no arguments at all, the usage on stderr (exit 2); anything else an error document
/// naming the argument (exit 2).
fn parse_failure(e: clap::Error) -> i32 {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp => {
            let _ = e.print();
            return exit::OK;
        }
        ErrorKind::DisplayVersion => {
            println!("{}", version_text());
            return exit::OK;
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            eprint!("{}", e.render());
            return exit::BAD_INPUT;
        }
        _ => {}
    }
    let _ = e.print();
    let error = usage_error(&e);
    // Ganeti reads an allocator's stdout: give it the protocol's failure answer.
    if std::env::args().nth(1).as_deref() == Some("iallocator") {
        return iallocator::fail(&[error]);
    }
    report(&[error])
}

/// The `E0001` error of a command line clap refused: the path is the argument at fault (as
/// typed), the cause clap's message with its tips (the close argument, the allowed values).
fn usage_error(e: &clap::Error) -> InputError {
    use clap::error::{ContextKind, ContextValue};
    let rendered = e.render().to_string();
    let cause: Vec<&str> = rendered
        .lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with("Usage:"))
        .filter(|l| !l.is_empty())
        .map(|l| l.strip_prefix("error: ").unwrap_or(l))
        .collect();
    let path = match e.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(arg)) => arg.clone(),
        _ => String::new(),
    };
    let cause = if cause.is_empty() {
        e.kind().to_string()
    } else {
        cause.join("; ")
    };
    let mut error = InputError::new(ErrorCode::Usage, path, cause);
    // Point at the help of the command that refused it (`vmplace place --help`).
    if let Some(command) = rendered
        .lines()
        .find_map(|l| l.trim().strip_prefix("Usage: "))
        .map(|usage| {
            let words = usage.split_whitespace();
            let words = words.take_while(|w| !w.starts_with(['[', '<', '-']));
            words.collect::<Vec<_>>().join(" ")
        })
    {
        error.action = format!("see `{command} --help` for the accepted arguments");
    }
    error
}

/// `vmplace --version`: the version, the commit it was built from and HiGHS' version.
pub fn version_text() -> String {
    format!(
        "vmplace {} (commit {}, HiGHS {})",
        env!("CARGO_PKG_VERSION"),
        env!("VMPLACE_GIT_COMMIT"),
        vmplace_core::highs_version(),
    )
}

/// Writes a text (a completion script, a man page) to stdout.
fn print_text(text: Vec<u8>) -> i32 {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(&text) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => report(&[InputError::new(
            ErrorCode::Io,
            "",
            format!("cannot write stdout: {e}"),
        )]),
        _ => exit::OK,
    }
}

/// `-o PATH`, checked before any work: the folder exists and a file can be written there (a
/// missing folder was found only after the whole solve).
pub fn output_errors(out: Option<&PathBuf>) -> Vec<InputError> {
    let Some(path) = out else {
        return Vec::new();
    };
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let cause = if !folder.is_dir() {
        format!("the folder {} does not exist", folder.display())
    } else if path.is_dir() {
        format!("{} is a folder", path.display())
    } else {
        match solve::writable(path) {
            Ok(()) => return Vec::new(),
            Err(e) => format!("cannot write {}: {e}", path.display()),
        }
    };
    let mut e = InputError::new(ErrorCode::Io, "--output", cause);
    e.action = "give -o a file in a folder that exists and that you can write".to_string();
    vec![e]
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
    vmplace_core::validation::utf8_text(bytes).map_err(|e| vec![e])
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
    let text = vmplace_wire::zero::positive_zeros(text);
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

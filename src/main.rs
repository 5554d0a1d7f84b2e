//! `vmplace`: thin entry point. Parse, run, map to an exit code.

mod cli;

fn main() {
    std::process::exit(cli::main());
}

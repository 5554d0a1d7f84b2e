//! The `vmplace` command line's library half: the bench runner, the simulator's studies and the
//! plots. The solver is `vmplace-core`, the documents `vmplace-wire`, the independent checker
//! `vmplace-check`; CONTRIBUTING.md draws the crate graph.

#![warn(missing_docs)]

pub mod bench;
pub mod plot;
pub mod study;

//! vmplace: storage-aware VM placement and migration planning as mixed-integer programs.
//!
//! Layers, one direction: [`format`] (the JSON contract) -> [`validation`] -> [`domain`] (typed,
//! validated; one converter per contract) -> [`model`] (the MIPs, the only user of good_lp and
//! HiGHS), driven by [`placement`] and [`migration`]. [`checker`] re-verifies answers from the
//! wire documents alone. [`service`] serves the documents (CLI and HTTP), [`sim`] replays traces.

#![warn(missing_docs)]

pub mod bench;
pub mod capacity;
pub mod checker;
pub mod domain;
pub mod format;
pub mod ganeti;
pub mod generate;
pub mod migration;
pub mod model;
pub mod placement;
pub mod resources;
pub mod plot;
pub mod roadef;
pub mod service;
pub mod sim;
pub mod validation;

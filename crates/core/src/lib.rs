//! vmplace's solver core: everything between a validated document and an answer, with no
//! transport, no plotting and no terminal.
//!
//! Modules import one way, top to bottom (`tests/integration/layers.rs` fails on a cycle):
//! [`budget`] (a call's time) and [`resources`] (what the wire's resource fields mean) -> [`validation`] (every error
//! collected; `Valid<T>` is the only way in) -> [`domain`] (the typed pool, one converter per
//! contract) -> [`model`] (the MIPs: the only user of good_lp and HiGHS) -> [`placement`] ->
//! [`roadef`] -> [`migration`] -> [`capacity`] -> [`sim`].

#![warn(missing_docs)]

pub mod budget;
pub mod capacity;
pub mod domain;
pub mod migration;
#[cfg(feature = "test-support")]
pub mod model;
#[cfg(not(feature = "test-support"))]
mod model;
pub mod placement;
pub mod resources;
pub mod roadef;
pub mod sim;
pub mod validation;

pub use model::highs_version;

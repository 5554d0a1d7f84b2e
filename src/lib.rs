//! vmplace: storage-aware VM placement and migration planning as mixed-integer programs.
//!
//! Layers, one direction: [`format`] (the JSON contract) -> [`validation`] -> [`domain`] (typed,
//! validated) -> [`model`] (the MIPs, the only user of good_lp/HiGHS), orchestrated by [`solve`].
//! [`checker`] re-verifies answers from the wire documents alone.

#![warn(missing_docs)]

pub mod api;
pub mod bench;
pub mod checker;
pub mod domain;
pub mod evaluate;
pub mod format;
pub mod generate;
pub mod greedy;
pub mod migrate;
pub mod model;
pub mod server;
pub mod sim;
pub mod solve;
pub mod validation;

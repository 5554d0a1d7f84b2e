//! The validated domain: typed indices and dense vectors, built from the wire documents by one
//! converter each ([`placement::Domain::from_problem`], [`migration::Pool::from_state`]).
//! [`evaluate`] computes the objectives of any placement on it, for the models and the
//! placement driver alike.

pub mod evaluate;
pub mod migration;
pub mod placement;

pub use placement::*;

//! The validated domain: typed indices and dense vectors, built from the wire documents by one
//! converter each ([`placement::Domain::from_problem`], [`migration::Pool::from_state`]), over
//! one set of index types ([`index`]) and one converter of named amounts to vectors ([`axes`]).
//! [`evaluate`] computes the objectives of any placement on it, for the models and the
//! placement driver alike; [`tolerance`] says what "within capacity" means for an answer and
//! [`quality`] how far an answer may be from the best.

pub mod axes;
pub mod evaluate;
pub mod groups;
pub mod index;
pub mod migration;
pub mod placement;
pub mod quality;
pub mod settings;
pub mod tolerance;

pub use index::VmIx;
pub use placement::*;

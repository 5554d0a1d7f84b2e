//! The ROADEF/EURO 2012 challenge's own file format (machine reassignment, proposed by Google):
//! [`parse`] reads a model file and an assignment file into the typed [`model`], with coded
//! errors that give the file, the position and the cause. The checker prices assignments on
//! it; the solver's converter maps it to the migration state document.

pub mod model;
pub mod parse;

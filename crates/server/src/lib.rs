//! The service layer: [`api`] has one entry point per document operation, shared by the CLI and
//! the HTTP server ([`http`]), so that both answer the same documents; [`openapi`] describes the
//! server's endpoints.

#![warn(missing_docs)]

pub mod api;
pub mod http;
pub mod memory;
pub mod openapi;

//! The integration tests, as modules of one test binary so that HiGHS is linked once.
//! By concern: constraint families on hand-made instances ([`constraints`]), error codes
//! ([`errors`]), golden instances ([`golden`]), property tests ([`property`]), migration
//! planning ([`migrate`]), the simulator ([`sim`]), the CLI ([`cli`]), the HTTP service
//! ([`server`]) and the README and book ([`docs`]). [`common`] solves through the CLI's path and checks every answer.

mod capacity;
mod cli;
mod common;
mod constraints;
mod defects;
mod docs;
mod engine;
mod errors;
mod exact;
mod failures;
mod fit;
mod front_cli;
mod front_path;
mod front_service;
mod ganeti;
mod golden;
mod hardening;
mod hardening_cli;
mod hardening_ganeti;
mod hardening_members;
mod hardening_rounds;
mod hardening_sequence;
mod hardening_tolerance;
mod heuristics;
mod layers;
mod migrate;
mod property;
mod roadef;
mod roadef_bench;
mod roadef_search;
mod roadef_state;
mod rows;
mod rules;
mod server;
mod sim;
mod steps;
mod sweep;

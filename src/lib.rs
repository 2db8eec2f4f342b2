//! CostGuard: catches runaway cloud and LLM spend and stops it safely.
//! See docs/ARCHITECTURE.md for the map of modules and how they talk.

pub mod bus;
pub mod config;
pub mod db;
pub mod domain;
pub mod ingest;
pub mod ledger;

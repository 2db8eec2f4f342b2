//! CostGuard: catches runaway cloud and LLM spend and stops it safely.
//! See docs/ARCHITECTURE.md for the map of modules and how they talk.

pub mod app;
pub mod approval;
pub mod audit;
pub mod auth;
pub mod budgets;
pub mod build_info;
pub mod bus;
pub mod cli;
pub mod clock;
pub mod clouds;
pub mod cluster;
pub mod config;
pub mod credentials;
pub mod cron;
pub mod dashboard;
pub mod db;
pub mod detect;
pub mod domain;
pub mod eval;
pub mod execute;
pub mod ingest;
pub mod ledger;
pub mod notify;
pub mod optimize;
pub mod providers;
pub mod state;
pub mod telemetry;
pub mod web;
pub mod worker;

//! The integration suite, one binary: every test spawns the app on a random port with its
//! own database, on SQLite and (with TEST_DATABASE_URL) PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests panic on failure by design

mod helpers;
mod peers;

mod actions_api;
mod approvals;
mod architecture;
mod audit_anchor;
mod auth;
mod aws_costs;
mod azure;
mod backup;
mod browser;
mod budgets;
mod cli_remote;
mod cloud_loops;
mod contract;
mod costs_api;
mod crash;
mod dashboard;
mod demo_loop;
mod deploy;
mod detect;
mod ec2;
mod evaluation;
mod execute;
mod focus_import;
mod gcp;
mod import_limits;
mod ingest_cli;
mod llm_keys;
mod llm_minutes;
mod llm_providers;
mod llm_usage;
mod mcp;
mod metrics;
mod migrations;
mod notify;
mod operations;
mod optimize;
mod overload;
mod paging;
mod replicas;
mod rollups;
mod shipped_story;
mod simulator;

//! The integration suite, one binary: every test spawns the app on a random port with its
//! own database, on SQLite and (with TEST_DATABASE_URL) PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests panic on failure by design

mod helpers;
mod peers;

mod actions_api;
mod approvals;
mod auth;
mod aws_costs;
mod azure;
mod browser;
mod cloud_loops;
mod costs_api;
mod crash;
mod dashboard;
mod ec2;
mod demo_loop;
mod detect;
mod evaluation;
mod execute;
mod focus_import;
mod gcp;
mod llm_usage;
mod migrations;
mod operations;
mod optimize;
mod simulator;

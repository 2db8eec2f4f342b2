//! The HTTP edge: JSON REST API v1, health, version, metrics and the OpenAPI document.
//! Handlers follow extract -> authorize -> call a module -> render; they never touch SQL.

pub mod api;
pub mod auth;
pub mod error;
pub mod slack;

use crate::config::ServerSettings;
use crate::db::Db;
use crate::ingest::Ingestor;
use actix_web::web;
use metrics_exporter_prometheus::PrometheusHandle;

/// Shared, read-only state handed to every handler.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub ingestor: Ingestor,
    pub limits: ServerSettings,
    pub metrics: PrometheusHandle,
    pub detect: crate::detect::DetectSettings,
    pub approval: crate::approval::ApprovalSettings,
    pub safety: crate::domain::approval::safety::SafetyRules,
    pub bus: crate::bus::Bus,
    pub dashboard: crate::dashboard::DashboardSettings,
    /// Encrypts provider credentials entered in the dashboard.
    pub cipher: crate::credentials::Cipher,
    pub sources: crate::ingest::schedule::Sources,
    /// Describes how actions would run (mode and plan); the worker holds its own clone.
    pub runner: crate::execute::Runner,
    /// The simulated clouds run (the dashboard offers to re-seed them).
    pub demo: bool,
    /// Verifies and maps Slack button clicks (`slack`).
    pub slack: crate::notify::settings::SlackSettings,
    /// Token prices per provider ("openai", "anthropic"), to price pushed usage sent
    /// without a cost.
    pub llm_prices: std::collections::BTreeMap<String, crate::domain::llm_prices::PriceTable>,
}

/// Registers every route of this module.
pub fn configure(cfg: &mut web::ServiceConfig) {
    api::configure(cfg);
    // Signed by Slack, not by a session or API key.
    cfg.route("/slack/interactivity", web::post().to(slack::interactivity));
    crate::dashboard::configure(cfg);
}

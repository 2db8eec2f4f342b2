//! The HTTP edge: JSON REST API v1, health, version, metrics and the OpenAPI document.
//! Handlers follow extract -> authorize -> call a module -> render; they never touch SQL.

pub mod api;
pub mod auth;
pub mod error;

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
}

/// Registers every route of this module.
pub fn configure(cfg: &mut web::ServiceConfig) {
    api::configure(cfg);
}

//! Liveness, readiness, build information and Prometheus metrics (no key needed).

use crate::db::migrate;
use crate::ingest::runner::cursors;
use crate::web::AppState;
use actix_web::{web, HttpResponse};

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", security(), responses((status = 200, description = "Alive")))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct SourceStatus {
    pub source: String,
    pub last_success_at: Option<chrono::NaiveDateTime>,
    pub last_error: Option<String>,
    pub last_error_at: Option<chrono::NaiveDateTime>,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Readiness {
    /// "ready" or "unavailable".
    pub status: String,
    pub database: String,
    #[schema(value_type = String)]
    pub backend: crate::db::Backend,
    pub migrations_current: bool,
    /// Each ingestion source's last success and last error (informational).
    pub sources: Vec<SourceStatus>,
}

/// Ready when the database answers and every migration is applied.
#[utoipa::path(get, path = "/readyz", tag = "operations", security(), responses((status = 200, body = Readiness), (status = 503, body = Readiness)))]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let backend = state.db.backend();
    let checked = state
        .db
        .run(|conn| {
            let current = migrate::is_current(conn)?;
            let sources = cursors(conn).map_err(crate::db::DbError::from)?;
            Ok::<_, crate::db::DbError>((current, sources))
        })
        .await;
    let (database, current, sources) = match checked {
        Ok((current, rows)) => ("reachable".to_string(), current, rows),
        Err(e) => (format!("unreachable: {e}"), false, vec![]),
    };
    let ready = database == "reachable" && current;
    let body = Readiness {
        status: if ready { "ready" } else { "unavailable" }.into(),
        database,
        backend,
        migrations_current: current,
        sources: sources
            .into_iter()
            .map(|c| SourceStatus {
                source: c.source,
                last_success_at: c.last_success_at,
                last_error: c.last_error,
                last_error_at: c.last_error_at,
            })
            .collect(),
    };
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// Version, the git SHA the binary was built from, and the build time.
#[utoipa::path(get, path = "/version", tag = "operations", security(), responses((status = 200, body = crate::build_info::BuildInfo)))]
pub async fn version() -> HttpResponse {
    HttpResponse::Ok().json(crate::build_info::info())
}

/// Prometheus text exposition.
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let (in_use, idle) = state.db.pool_state();
    metrics::gauge!("costguard_db_pool_connections", "state" => "in_use").set(f64::from(in_use));
    metrics::gauge!("costguard_db_pool_connections", "state" => "idle").set(f64::from(idle));
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(state.metrics.render())
}

//! Liveness, readiness and build information (no key needed).

use crate::db::migrate;
use crate::ingest::runner::cursors;
use crate::state::AppState;
use actix_web::{web, HttpResponse};

/// The process is up.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Health {
    /// Always "ok": an answer at all is the news.
    #[schema(example = "ok")]
    pub status: &'static str,
}

#[utoipa::path(get, path = "/healthz", tag = "operations", security(), responses((status = 200, description = "Alive", body = Health)))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct SourceStatus {
    pub source: String,
    pub last_success_at: Option<chrono::DateTime<chrono::Utc>>,
    pub last_error: Option<String>,
    pub last_error_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Seconds since the last successful run (None: never succeeded).
    pub lag_seconds: Option<i64>,
}

impl SourceStatus {
    pub(super) fn of(c: crate::ingest::runner::CursorRow, now: chrono::NaiveDateTime) -> SourceStatus {
        SourceStatus {
            lag_seconds: c.last_success_at.map(|t| (now - t).num_seconds().max(0)),
            source: c.source,
            last_success_at: c.last_success_at.map(|t| t.and_utc()),
            last_error: c.last_error,
            last_error_at: c.last_error_at.map(|t| t.and_utc()),
        }
    }
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Readiness {
    /// "ready" or "unavailable".
    pub status: String,
    /// "reachable", "busy" (every pooled connection in use; still ready) or "unreachable: ...".
    pub database: String,
    #[schema(value_type = String)]
    pub backend: crate::db::Backend,
    pub migrations_current: bool,
    /// This replica holds the lease and runs ingestion, detection, executors and
    /// notifications (always true with SQLite).
    pub leader: bool,
    /// Each ingestion source's last success and last error (informational).
    pub sources: Vec<SourceStatus>,
}

/// How long readiness waits for a pooled connection.
const PROBE_WAIT_MS: u64 = 300;

/// Ready when the database answers (or is only busy) and every migration is applied.
#[utoipa::path(get, path = "/readyz", tag = "operations", security(), responses((status = 200, body = Readiness), (status = 503, body = Readiness)))]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let backend = state.db.backend();
    // Probes time out after a second by default (Kubernetes): a saturated pool must answer
    // "busy" well inside that.
    let checked = state
        .db
        .waiting_at_most(std::time::Duration::from_millis(PROBE_WAIT_MS))
        .run(|conn| {
            let current = migrate::is_current(conn)?;
            let sources = cursors(conn).map_err(crate::db::DbError::from)?;
            Ok::<_, crate::db::DbError>((current, sources))
        })
        .await;
    let (database, current, sources) = match checked {
        Ok((current, rows)) => ("reachable".to_string(), current, rows),
        // Every connection is serving requests: the replica is working, not broken, and
        // taking it out of its Service would only move (or, alone, drop) the load. Its
        // migrations ran before it started listening.
        Err(crate::db::DbError::Busy(_)) => ("busy".to_string(), true, vec![]),
        Err(e) => (format!("unreachable: {e}"), false, vec![]),
    };
    let ready = matches!(database.as_str(), "reachable" | "busy") && current;
    let body = Readiness {
        status: if ready { "ready" } else { "unavailable" }.into(),
        database,
        backend,
        migrations_current: current,
        leader: state.leader.is_leader(),
        sources: sources.into_iter().map(|c| SourceStatus::of(c, chrono::Utc::now().naive_utc())).collect(),
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

//! The audit log over HTTP: pages of the hash chain, oldest first.

use super::ErrorBody;
use crate::db::DbError;
use crate::domain::role::Role;
use crate::state::AppState;
use crate::web::auth::Caller;
use crate::web::error::ApiError;
use actix_web::{web, HttpResponse};

#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Entries after this sequence number (default 0: from the start).
    #[param(minimum = 0)]
    after: Option<i64>,
    /// At most this many (default 100, at most 1000).
    #[param(schema_with = crate::web::api::schema::limit)]
    limit: Option<i64>,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct AuditPage {
    pub entries: Vec<crate::domain::audit::Entry>,
    /// The `after` for the next page; null when this one is empty.
    pub next_after: Option<i64>,
}

/// Audit entries with their hashes; `next_after` continues the walk.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(PageParams),
    responses((status = 200, body = AuditPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn page(
    caller: Caller,
    state: web::Data<AppState>,
    params: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Viewer)?;
    let after = params.after.unwrap_or(0);
    let limit = super::page_limit(params.limit)?;
    if after < 0 {
        return Err(ApiError::bad_parameter("after", "must be 0 or more"));
    }
    let entries = state.db.run(move |c| crate::audit::page(c, after, limit).map_err(DbError::from)).await?;
    let next_after = entries.last().map(|e| e.record.seq);
    Ok(HttpResponse::Ok().json(AuditPage { entries, next_after }))
}

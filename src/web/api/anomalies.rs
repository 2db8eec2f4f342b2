//! Anomalies over HTTP: list and detail (with series, band and root causes), manual
//! anomalies, and feedback.

use super::ErrorBody;
use crate::detect::chart;
use crate::detect::history::ChartPoint;
use crate::detect::store::{self, AnomalyRow, Feedback, ListFilter, Manual, SeriesRow};
use crate::detect::view::{AnomalyView, EventView};
use crate::domain::detect::decision::Severity;
use crate::domain::detect::root_cause::Contributor;
use crate::domain::role::Role;
use crate::domain::time::parse_utc;
use crate::state::AppState;
use crate::web::auth::{Caller, WithBody};
use crate::web::error::ApiError;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// open or resolved.
    #[param(schema_with = crate::web::api::schema::anomaly_state)]
    state: Option<String>,
    /// low, medium, high or critical.
    #[param(value_type = Option<Severity>)]
    severity: Option<String>,
    provider: Option<String>,
    service: Option<String>,
    /// Started at or after (RFC 3339 or date).
    #[param(schema_with = crate::web::api::schema::date_or_time)]
    from: Option<String>,
    /// Started before (RFC 3339 or date).
    #[param(schema_with = crate::web::api::schema::date_or_time)]
    to: Option<String>,
    /// At most this many, newest first (default 100, at most 1000).
    #[param(schema_with = crate::web::api::schema::limit)]
    limit: Option<i64>,
}

impl ListParams {
    fn filter(&self) -> Result<ListFilter, ApiError> {
        if let Some(s) = &self.state {
            if !matches!(s.as_str(), "open" | "resolved") {
                return Err(ApiError::bad_parameter("state", format!("'{s}' is not open or resolved")));
            }
        }
        if let Some(s) = &self.severity {
            Severity::parse(s).ok_or_else(|| {
                ApiError::bad_parameter("severity", format!("'{s}' is not low, medium, high or critical"))
            })?;
        }
        let time = |name: &str, v: &Option<String>| {
            v.as_deref().map(|t| parse_utc(t).map_err(|e| ApiError::bad_parameter(name, e.0))).transpose()
        };
        let limit = super::page_limit(self.limit)?;
        Ok(ListFilter {
            state: self.state.clone(),
            severity: self.severity.clone(),
            provider: self.provider.clone(),
            service: self.service.clone(),
            from: time("from", &self.from)?,
            to: time("to", &self.to)?,
            limit,
            offset: 0,
        })
    }
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct AnomalySummary {
    #[serde(flatten)]
    pub anomaly: AnomalyView,
    /// actual - expected over the anomaly so far.
    #[schema(value_type = crate::domain::money::Total)]
    pub impact: crate::domain::money::Total,
    /// open, mitigated (an action on it was verified; watching) or resolved.
    pub lifecycle: store::AnomalyState,
}

impl From<AnomalyRow> for AnomalySummary {
    fn from(anomaly: AnomalyRow) -> Self {
        AnomalySummary {
            impact: anomaly.impact(),
            lifecycle: anomaly.lifecycle(),
            anomaly: AnomalyView::from(&anomaly),
        }
    }
}

/// Anomalies, newest first.
#[utoipa::path(get, path = "/api/v1/anomalies", tag = "anomalies", operation_id = "list_anomalies", params(ListParams),
    responses((status = 200, body = Vec<AnomalySummary>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn list(
    caller: Caller,
    state: web::Data<AppState>,
    params: web::Query<ListParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Viewer)?;
    let filter = params.filter()?;
    let rows = state.db.run(move |c| store::list(c, &filter).map_err(crate::db::DbError::from)).await?;
    Ok(HttpResponse::Ok().json(rows.into_iter().map(AnomalySummary::from).collect::<Vec<_>>()))
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct AnomalyDetail {
    #[serde(flatten)]
    pub summary: AnomalySummary,
    /// Up to 10 contributors to the excess across service, SKU, resource, region, unit and tags.
    pub root_causes: Vec<Contributor>,
    /// Opened, updated, mitigated, resolved and feedback, oldest first.
    pub timeline: Vec<EventView>,
    /// The series around the anomaly with the expected value and band (absent for manual ones).
    pub series: Option<Vec<ChartPoint>>,
    /// Other series the same incident raised (e.g. the team tag of a looping job's service).
    pub also_affected: Vec<String>,
    /// What its succeeded actions recovered.
    #[schema(value_type = crate::domain::money::Total)]
    pub recovered: crate::domain::money::Total,
}

/// One anomaly with its series, band, root causes and timeline.
#[utoipa::path(get, path = "/api/v1/anomalies/{id}", tag = "anomalies", operation_id = "get_anomaly", params(("id" = String, Path, description = "The anomaly's id")),
    responses((status = 200, body = AnomalyDetail), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn detail(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<crate::domain::ids::AnomalyId>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Viewer)?;
    let (settings, now) = (state.detect.clone(), state.clock.now());
    let id = id.into_inner();
    let found = state
        .db
        .run(move |c| -> Result<_, crate::db::DbError> {
            let Some(a) = store::get(c, &id)? else { return Ok(None) };
            let timeline = store::events(c, &id)?;
            let series = chart::for_anomaly(c, &settings, &a, now)?;
            let also_affected = store::also_affected(c, &id)?;
            let recovered: i128 = crate::approval::store::list(c, None, Some(&id), 100)?
                .iter()
                .filter_map(|x| x.recovered)
                .map(i128::from)
                .sum();
            Ok(Some((a, timeline, series, also_affected, recovered)))
        })
        .await?;
    let Some((a, timeline, series, also_affected, recovered)) = found else {
        return Err(ApiError::not_found("no anomaly with this id"));
    };
    let (root_causes, recovered) = (a.root_causes(), crate::domain::money::Total::from_units(recovered));
    let summary = a.into();
    let timeline = timeline.iter().map(EventView::from).collect();
    Ok(HttpResponse::Ok().json(AnomalyDetail { root_causes, summary, timeline, series, also_affected, recovered }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAnomaly {
    /// low, medium, high or critical.
    #[schema(value_type = Severity)]
    severity: String,
    #[schema(min_length = 1, max_length = 2000, pattern = r"\S")]
    description: String,
    provider: Option<String>,
    sub_account: Option<String>,
    service: Option<String>,
    /// RFC 3339 or date; default now.
    #[schema(schema_with = crate::web::api::schema::date_or_time_or_null)]
    started_at: Option<String>,
}

/// Records an anomaly someone noticed (approver role).
#[utoipa::path(post, path = "/api/v1/anomalies", tag = "anomalies", operation_id = "create_anomaly", request_body = NewAnomaly,
    responses((status = 201, body = AnomalySummary), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    state: web::Data<AppState>,
    WithBody(caller, body): WithBody<web::Json<NewAnomaly>>,
) -> Result<HttpResponse, ApiError> {
    let invalid = |field: &str, message: String| ApiError::invalid(json!({ "field": field, "message": message }));
    let severity = Severity::parse(&body.severity)
        .ok_or_else(|| invalid("severity", format!("'{}' is not low, medium, high or critical", body.severity)))?;
    let description = body.description.trim().to_string();
    if description.is_empty() || description.len() > 2_000 {
        return Err(invalid("description", "must be 1 to 2000 characters".into()));
    }
    let now = state.clock.now();
    let started_at =
        body.started_at.as_deref().map(parse_utc).transpose().map_err(|e| invalid("started_at", e.0))?.unwrap_or(now);
    let manual = Manual {
        severity,
        description,
        provider: body.provider.clone(),
        sub_account: body.sub_account.clone(),
        service: body.service.clone(),
        started_at,
    };
    let actor = caller.name.clone();
    let row =
        state.db.run(move |c| store::insert_manual(c, &manual, &actor, now).map_err(crate::db::DbError::from)).await?;
    Ok(HttpResponse::Created().json(AnomalySummary::from(row)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedbackBody {
    /// expected (not a problem: closes it, and no new alerts on this series for
    /// `suppress_days`), false_positive (closes it) or confirmed.
    #[schema(schema_with = crate::web::api::schema::feedback_kind)]
    kind: String,
    /// Days to suppress for `expected` (default 7, at most 90).
    #[schema(minimum = 1, maximum = 90)]
    #[serde(default, deserialize_with = "crate::web::api::schema::whole_number")]
    suppress_days: Option<u32>,
    #[schema(max_length = 2000)]
    comment: Option<String>,
}

/// A verdict on an anomaly (approver role): expected (closes it and mutes the series for
/// `suppress_days`), false_positive (closes it; kept for evaluating the detector) or confirmed.
/// Who and when are recorded.
#[utoipa::path(post, path = "/api/v1/anomalies/{id}/feedback", tag = "anomalies", request_body = FeedbackBody, params(("id" = String, Path, description = "The anomaly's id")),
    responses((status = 200, body = AnomalySummary), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn feedback(
    state: web::Data<AppState>,
    id: web::Path<crate::domain::ids::AnomalyId>,
    WithBody(caller, body): WithBody<web::Json<FeedbackBody>>,
) -> Result<HttpResponse, ApiError> {
    let invalid = |field: &str, message: &str| ApiError::invalid(json!({ "field": field, "message": message }));
    let now = state.clock.now();
    let feedback =
        Feedback::parse(&body.kind, body.suppress_days, now).map_err(|(field, message)| invalid(field, message))?;
    if body.comment.as_ref().is_some_and(|c| c.len() > 2_000) {
        return Err(invalid("comment", "at most 2000 characters"));
    }
    let (actor, comment, id) = (caller.name.clone(), body.comment.clone(), id.into_inner());
    let row = state
        .db
        .run(move |c| {
            store::add_feedback(c, &id, feedback, &actor, comment.as_deref(), now).map_err(crate::db::DbError::from)
        })
        .await?;
    match row {
        Some(row) => Ok(HttpResponse::Ok().json(AnomalySummary::from(row))),
        None => Err(ApiError::not_found("no anomaly with this id")),
    }
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveBody {
    #[schema(max_length = 2000)]
    comment: Option<String>,
}

/// Resolves a manual anomaly by hand (approver role). Detected anomalies resolve when their
/// cost is back in the band, or by a closing verdict (409 here).
#[utoipa::path(post, path = "/api/v1/anomalies/{id}/resolve", tag = "anomalies", request_body = ResolveBody, params(("id" = String, Path, description = "The anomaly's id")),
    responses((status = 200, body = AnomalySummary), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn resolve(
    state: web::Data<AppState>,
    id: web::Path<crate::domain::ids::AnomalyId>,
    WithBody(caller, body): WithBody<web::Json<ResolveBody>>,
) -> Result<HttpResponse, ApiError> {
    if body.comment.as_ref().is_some_and(|c| c.len() > 2_000) {
        return Err(ApiError::invalid(json!({ "field": "comment", "message": "at most 2000 characters" })));
    }
    let (actor, comment, id, now) = (caller.name.clone(), body.comment.clone(), id.into_inner(), state.clock.now());
    let result = state
        .db
        .run(move |c| store::resolve_manual(c, &id, &actor, comment.as_deref(), now).map_err(crate::db::DbError::from))
        .await?;
    match result {
        Some(Ok(row)) => Ok(HttpResponse::Ok().json(AnomalySummary::from(row))),
        Some(Err(refusal)) => {
            Err(ApiError::new(actix_web::http::StatusCode::CONFLICT, "conflict", refusal.to_string()))
        }
        None => Err(ApiError::not_found("no anomaly with this id")),
    }
}

/// Every watched series: whether it is still warming up, its newest point and expectation.
#[utoipa::path(get, path = "/api/v1/anomalies/series", tag = "anomalies",
    responses((status = 200, body = Vec<SeriesRow>), (status = 401, body = ErrorBody)))]
pub async fn series(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Viewer)?;
    let rows = state.db.run(|c| store::list_series(c).map_err(crate::db::DbError::from)).await?;
    Ok(HttpResponse::Ok().json(rows))
}

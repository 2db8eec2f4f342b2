//! REST API v1 and its OpenAPI document (generated from these handlers by utoipa).

pub mod actions;
pub mod anomalies;
pub mod audit;
pub mod costs;
pub mod health;
pub mod llm_usage;
pub mod metrics;

use actix_web::web;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

#[derive(OpenApi)]
#[openapi(
    info(title = "CostGuard API", description = "Cost and usage ledger (FinOps FOCUS), anomaly detection and safe remediation. Every /api route needs `Authorization: Bearer <api key>`; roles are viewer < approver < admin. Errors answer `{\"error\": CODE, \"detail\": ...}`."),
    paths(
        costs::post_costs, costs::import_costs, costs::get_costs,
        llm_usage::post_llm_usage, llm_usage::get_llm_usage,
        anomalies::list, anomalies::detail, anomalies::create, anomalies::feedback, anomalies::resolve, anomalies::series,
        actions::list, actions::detail, actions::create, actions::approve, actions::reject, actions::cancel,
        actions::recovered, audit::page,
        health::healthz, health::readyz, health::version,
    ),
    components(schemas(
        costs::WriteResult, costs::CostsResponse, costs::CurrencyTotal, crate::ledger::query::CostBucket,
        llm_usage::LlmUsageResponse, llm_usage::LlmTotal, crate::ledger::query::LlmBucket, llm_usage::LlmUsageItem,
        actions::NewActionBody, actions::CommentBody, crate::domain::approval::safety::Block,
        crate::domain::audit::Entry, crate::domain::audit::Record,
        anomalies::AnomalySummary, anomalies::AnomalyDetail, anomalies::NewAnomaly, anomalies::FeedbackBody, anomalies::ResolveBody,
        crate::detect::view::AnomalyView, crate::detect::view::EventView, crate::detect::store::SeriesRow,
        crate::detect::history::ChartPoint, crate::domain::detect::root_cause::Contributor,
        health::Readiness, health::SourceStatus, crate::build_info::BuildInfo, ErrorBody,
    )),
    modifiers(&BearerAuth),
    security(("api_key" = [])),
)]
pub struct ApiDoc;

/// The error shape every failing request answers with.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable code: bad_request, unauthorized, forbidden, not_found, invalid_input, payload_too_large, unsupported_media_type, internal.
    pub error: String,
    /// What and where: a message, or an object with index/line/column/field/parameter.
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

/// The `limit` of a list endpoint: default 100, at most 1000.
pub fn page_limit(limit: Option<i64>) -> Result<i64, crate::web::error::ApiError> {
    let limit = limit.unwrap_or(100);
    if (1..=1000).contains(&limit) {
        Ok(limit)
    } else {
        Err(crate::web::error::ApiError::bad_parameter("limit", "must be between 1 and 1000"))
    }
}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("api_key", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    // The OpenAPI document lives under /api/v1, so it must be registered before that scope.
    cfg.service(web::redirect("/docs", "/docs/"))
        .service(SwaggerUi::new("/docs/{_:.*}").url("/api/v1/openapi.json", ApiDoc::openapi()));
    cfg.service(
        web::scope("/api/v1")
            .route("/costs", web::post().to(costs::post_costs))
            .route("/costs", web::get().to(costs::get_costs))
            .route("/costs/import", web::post().to(costs::import_costs))
            .route("/llm-usage", web::post().to(llm_usage::post_llm_usage))
            .route("/llm-usage", web::get().to(llm_usage::get_llm_usage))
            .route("/anomalies", web::get().to(anomalies::list))
            .route("/anomalies", web::post().to(anomalies::create))
            .route("/anomalies/series", web::get().to(anomalies::series))
            .route("/anomalies/{id}", web::get().to(anomalies::detail))
            .route("/anomalies/{id}/feedback", web::post().to(anomalies::feedback))
            .route("/anomalies/{id}/resolve", web::post().to(anomalies::resolve))
            .route("/actions", web::get().to(actions::list))
            .route("/actions", web::post().to(actions::create))
            .route("/actions/recovered", web::get().to(actions::recovered))
            .route("/actions/{id}", web::get().to(actions::detail))
            .route("/actions/{id}/approve", web::post().to(actions::approve))
            .route("/actions/{id}/reject", web::post().to(actions::reject))
            .route("/actions/{id}/cancel", web::post().to(actions::cancel))
            .route("/audit", web::get().to(audit::page)),
    )
    .route("/healthz", web::get().to(health::healthz))
    .route("/readyz", web::get().to(health::readyz))
    .route("/version", web::get().to(health::version))
    .route("/metrics", web::get().to(metrics::metrics));
}

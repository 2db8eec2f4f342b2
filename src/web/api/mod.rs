//! REST API v1 and its OpenAPI document (generated from these handlers by utoipa).

pub mod actions;
pub mod anomalies;
pub mod audit;
pub mod budgets;
pub mod costs;
mod errors;
use errors::EveryErrorDocumented;
pub mod health;
pub mod llm_usage;
pub mod metrics;
pub mod schema;

use actix_web::web;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

#[derive(OpenApi)]
#[openapi(
    info(title = "CostGuard API", description = "Cost and usage ledger (FinOps FOCUS), anomaly detection and safe remediation. Every /api route needs `Authorization: Bearer <api key>`; roles are viewer < approver < admin. Errors answer `{\"error\": CODE, \"detail\": ...}`. No URL may hold a NUL character (400); a body's text with one is refused with 422 on PostgreSQL, which cannot store it."),
    paths(
        costs::post_costs, costs::import_costs, costs::get_costs,
        llm_usage::post_llm_usage, llm_usage::get_llm_usage,
        anomalies::list, anomalies::detail, anomalies::create, anomalies::feedback, anomalies::resolve, anomalies::series,
        actions::list, actions::detail, actions::create, actions::approve, actions::reject, actions::cancel,
        actions::recovered, audit::page,
        budgets::list, budgets::detail, budgets::create, budgets::replace, budgets::delete,
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
        health::Readiness, health::SourceStatus, health::Health, crate::build_info::BuildInfo, ErrorBody,
        crate::approval::view::ActionView, crate::approval::view::TransitionView, actions::Detail, actions::Recovered,
        audit::AuditPage, crate::domain::money::Total, crate::domain::approval::Status, crate::domain::approval::Risk,
        crate::domain::optimizer::ActionKind, crate::domain::detect::decision::Severity,
        budgets::BudgetBody, budgets::ScopeBody, crate::budgets::view::BudgetView, crate::domain::budget::scope::Scope,
        crate::budgets::view::CrossedView, crate::budgets::store::ManagedBy, crate::domain::budget::Period,
        crate::domain::budget::Threshold, crate::domain::budget::Basis, crate::domain::budget::scope::TagValue,
        crate::domain::cost_query::Granularity, crate::domain::cost_query::GroupBy, schema::FocusRecord,
    )),
    modifiers(&BearerAuth, &EveryErrorDocumented),
    security(("api_key" = [])),
)]
pub struct ApiDoc;

/// The error shape every failing request answers with.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable code: bad_request, unauthorized, forbidden, not_found, invalid_input, payload_too_large, unsupported_media_type, internal.
    pub error: String,
    /// What and where: a message, or an object with index/line/column/field/parameter.
    #[schema(schema_with = errors::detail_schema)]
    pub detail: serde_json::Value,
}

/// A JSON body that may be left out: none when empty, otherwise it must parse. (The extractor
/// `Option<Json<T>>` would quietly drop a malformed body and go on as if none was sent.)
pub fn optional_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<Option<T>, crate::web::error::ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    // `null` is "no body" too: the document declares the body nullable.
    serde_json::from_slice::<Option<T>>(body).map_err(|e| {
        crate::web::error::ApiError::bad_request(serde_json::json!({
            "message": "the body is not the expected JSON", "line": e.line(), "column": e.column(), "problem": e.to_string()
        }))
    })
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

/// The methods the document declares at a concrete path ("GET, POST"), if it declares the path.
pub fn methods_at(path: &str) -> Option<String> {
    static ROUTES: std::sync::OnceLock<Vec<(Vec<String>, String)>> = std::sync::OnceLock::new();
    let routes = ROUTES.get_or_init(|| {
        ApiDoc::openapi()
            .paths
            .paths
            .iter()
            .map(|(template, item)| {
                let ops = [
                    ("GET", &item.get),
                    ("POST", &item.post),
                    ("PUT", &item.put),
                    ("DELETE", &item.delete),
                    ("PATCH", &item.patch),
                ];
                let allow: Vec<&str> = ops.iter().filter(|(_, op)| op.is_some()).map(|(m, _)| *m).collect();
                (template.split('/').map(str::to_string).collect(), allow.join(", "))
            })
            .collect()
    });
    let segments: Vec<&str> = path.split('/').collect();
    let fits = |template: &[String]| {
        template.len() == segments.len()
            && template.iter().zip(&segments).all(|(t, s)| t == s || (t.starts_with('{') && !s.is_empty()))
    };
    // A literal path ("/actions/recovered") is matched before a template ("/actions/{id}").
    let literal =
        routes.iter().filter(|(t, _)| fits(t)).min_by_key(|(t, _)| t.iter().filter(|s| s.starts_with('{')).count());
    literal.map(|(_, allow)| allow.clone())
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
            .route("/budgets", web::get().to(budgets::list))
            .route("/budgets", web::post().to(budgets::create))
            .route("/budgets/{id}", web::get().to(budgets::detail))
            .route("/budgets/{id}", web::put().to(budgets::replace))
            .route("/budgets/{id}", web::delete().to(budgets::delete))
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

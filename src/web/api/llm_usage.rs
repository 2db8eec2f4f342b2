//! LLM usage over HTTP: applications and gateways push usage; anyone with a key reads it.

use super::costs::{ingest_error, WriteResult};
use super::ErrorBody;
use crate::domain::cost_query::parse_period;
use crate::domain::llm_prices::{estimate, price_for};
use crate::domain::money::{Currency, Total};
use crate::domain::role::Role;
use crate::ingest::Batch;
use crate::ledger::query::{aggregate_llm_usage, LlmBucket, LlmGroupBy, LlmQuery};
use crate::state::AppState;
use crate::web::auth::{Caller, WithBody};
use crate::web::error::ApiError;
use actix_web::{web, HttpResponse};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// One usage record as pushed (documentation of the accepted fields).
#[allow(dead_code)]
#[derive(utoipa::ToSchema)]
pub struct LlmUsageItem {
    /// e.g. openai, anthropic, azure-openai, bedrock (stored lower case).
    provider: String,
    model: String,
    /// The provider's id for the API key; omit when not known.
    api_key_id: Option<String>,
    api_key_name: Option<String>,
    /// Project or workspace id; omit when not known.
    project_id: Option<String>,
    /// RFC 3339; the bucket is [bucket_start, bucket_end), e.g. one minute or one hour.
    #[schema(schema_with = crate::web::api::schema::date_or_time)]
    bucket_start: String,
    #[schema(schema_with = crate::web::api::schema::date_or_time)]
    bucket_end: String,
    input_tokens: Option<i64>,
    cached_input_tokens: Option<i64>,
    output_tokens: Option<i64>,
    requests: Option<i64>,
    /// Exact decimal (string or number). When omitted, OpenAI and Anthropic usage in USD
    /// is priced from the configured price table; other usage keeps no cost.
    cost: Option<String>,
    /// ISO 4217, default USD.
    currency: Option<String>,
}

/// Stores LLM usage records, all or nothing; a record sent again for the same (provider, model, key, project, bucket) replaces the earlier one.
#[utoipa::path(post, path = "/api/v1/llm-usage", tag = "llm", request_body = Vec<LlmUsageItem>,
    responses((status = 200, body = WriteResult), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn post_llm_usage(
    state: web::Data<AppState>,
    WithBody(_caller, body): WithBody<web::Json<Vec<Value>>>,
) -> Result<HttpResponse, ApiError> {
    let mut usage = crate::ingest::json::llm_usage(&body)
        .map_err(|e| ApiError::invalid(json!({ "index": e.index, "field": e.field, "message": e.problem })))?;
    // Usage sent without a cost is priced from the configured table where it can be (prices
    // are in USD); the rest keeps its tokens and no cost.
    for u in usage.iter_mut().filter(|u| u.cost.is_none() && u.currency == Currency::usd()) {
        let price = state.llm_prices.get(&u.provider).and_then(|table| price_for(table, &u.model));
        u.cost = price.and_then(|p| estimate(p, u.input_tokens, u.cached_input_tokens, u.output_tokens));
    }
    let (_, summary) =
        state.ingestor.write("api", Batch { costs: vec![], llm_usage: usage }).await.map_err(ingest_error)?;
    Ok(HttpResponse::Ok().json(WriteResult::from(&summary)))
}

#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LlmParams {
    /// Start, inclusive. Default: 7 days before `to`.
    #[param(schema_with = crate::web::api::schema::date_or_time)]
    from: Option<String>,
    /// End, exclusive. Default: the end of the current hour.
    #[param(schema_with = crate::web::api::schema::date_or_time)]
    to: Option<String>,
    /// hour (default), day or month.
    #[param(schema_with = crate::web::api::schema::granularity)]
    granularity: Option<String>,
    /// provider, model, api_key or project.
    #[param(schema_with = crate::web::api::schema::llm_group_by)]
    group_by: Option<String>,
    provider: Option<String>,
    model: Option<String>,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct LlmTotal {
    pub currency: String,
    pub input_tokens: i64,
    pub cached_input_tokens: i64,
    pub output_tokens: i64,
    pub requests: i64,
    #[schema(value_type = String)]
    pub cost: Total,
    pub records: i64,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct LlmUsageResponse {
    pub from: chrono::DateTime<chrono::Utc>,
    pub to: chrono::DateTime<chrono::Utc>,
    pub rows: Vec<LlmBucket>,
    pub totals: Vec<LlmTotal>,
}

fn parse(params: &LlmParams) -> Result<LlmQuery, ApiError> {
    let bad =
        |parameter: &str, message: String| ApiError::bad_request(json!({ "parameter": parameter, "message": message }));
    let granularity = match params.granularity.as_deref().unwrap_or("hour") {
        "hour" => crate::domain::cost_query::Granularity::Hour,
        "day" => crate::domain::cost_query::Granularity::Day,
        "month" => crate::domain::cost_query::Granularity::Month,
        other => return Err(bad("granularity", format!("'{other}' is not hour, day or month"))),
    };
    let group_by = params
        .group_by
        .as_deref()
        .map(|g| {
            LlmGroupBy::parse(g)
                .ok_or_else(|| bad("group_by", format!("'{g}' is not provider, model, api_key or project")))
        })
        .transpose()?;
    let (from, to) =
        parse_period(params.from.as_deref(), params.to.as_deref(), chrono::Utc::now(), chrono::Duration::days(7))
            .map_err(|e| bad(e.parameter, e.problem))?;
    if granularity == crate::domain::cost_query::Granularity::Hour && to - from > chrono::Duration::days(93) {
        return Err(bad("from", "hourly queries span at most 93 days".into()));
    }
    Ok(LlmQuery {
        from,
        to,
        granularity,
        group_by,
        provider: params.provider.clone().map(|p| p.to_ascii_lowercase()),
        model: params.model.clone(),
    })
}

/// Tokens and cost by period and an optional dimension.
#[utoipa::path(get, path = "/api/v1/llm-usage", tag = "llm", params(LlmParams),
    responses((status = 200, body = LlmUsageResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn get_llm_usage(
    caller: Caller,
    state: web::Data<AppState>,
    params: web::Query<LlmParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Viewer)?;
    let query = parse(&params)?;
    let (from, to) = (query.from, query.to);
    let _admitted = state.heavy.enter().await.ok_or_else(ApiError::too_many_heavy)?;
    let rows = state.db.read_within(state.query_limit, move |conn| aggregate_llm_usage(conn, &query)).await?;
    let mut totals: BTreeMap<String, LlmTotal> = BTreeMap::new();
    for r in &rows {
        let t = totals.entry(r.currency.clone()).or_insert_with(|| LlmTotal {
            currency: r.currency.clone(),
            input_tokens: 0,
            cached_input_tokens: 0,
            output_tokens: 0,
            requests: 0,
            cost: Total::ZERO,
            records: 0,
        });
        t.input_tokens += r.input_tokens;
        t.cached_input_tokens += r.cached_input_tokens;
        t.output_tokens += r.output_tokens;
        t.requests += r.requests;
        t.cost = t.cost.plus(r.cost);
        t.records += r.records;
    }
    Ok(HttpResponse::Ok().json(LlmUsageResponse { from, to, rows, totals: totals.into_values().collect() }))
}

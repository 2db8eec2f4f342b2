//! The cost ledger over HTTP: push FOCUS records (JSON or CSV) and query totals.

use super::ErrorBody;
use crate::domain::cost_query::{CostQuery, CostQueryParams};
use crate::domain::money::Total;
use crate::domain::role::Role;
use crate::ingest::focus_csv::{ImportError, ImportErrorKind, TooLarge};
use crate::ingest::{Batch, IngestError};
use crate::ledger::query::{aggregate_costs, CostBucket};
use crate::ledger::WriteSummary;
use crate::state::AppState;
use crate::web::auth::{Caller, WithBody};
use crate::web::error::ApiError;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::Read;

/// What a write did.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct WriteResult {
    /// Records in the request.
    pub received: u64,
    /// New records.
    pub inserted: u64,
    /// Known records whose content changed (restated).
    pub updated: u64,
    /// Known records sent again unchanged.
    pub unchanged: u64,
}

impl From<&WriteSummary> for WriteResult {
    fn from(s: &WriteSummary) -> Self {
        WriteResult {
            received: s.received,
            inserted: s.inserted,
            updated: s.updated,
            unchanged: s.received - s.changed(),
        }
    }
}

pub(super) fn ingest_error(e: IngestError) -> ApiError {
    match e {
        IngestError::Duplicate { first, second } => ApiError::invalid(
            json!({ "index": second, "message": format!("record {second} repeats the identity of record {first}") }),
        ),
        IngestError::Db(e) => ApiError::internal(e),
    }
}

/// Stores FOCUS records sent as a JSON array, all or nothing.
#[utoipa::path(post, path = "/api/v1/costs", tag = "costs",
    request_body(content = Vec<super::schema::FocusRecord>, description = "FOCUS records with FOCUS column names (BilledCost, EffectiveCost, ChargePeriodStart, ServiceName, ...). Amounts as JSON numbers or strings, kept exact."),
    responses((status = 200, body = WriteResult), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, description = "A record is invalid; detail names its index and field", body = ErrorBody)))]
pub async fn post_costs(
    state: web::Data<AppState>,
    WithBody(_caller, body): WithBody<web::Json<Vec<Value>>>,
) -> Result<HttpResponse, ApiError> {
    let records = crate::ingest::json::cost_records(&body)
        .map_err(|e| ApiError::invalid(json!({ "index": e.index, "field": e.field, "message": e.problem })))?;
    let (summary, _) =
        state.ingestor.write("api", Batch { costs: records, llm_usage: vec![] }).await.map_err(ingest_error)?;
    Ok(HttpResponse::Ok().json(WriteResult::from(&summary)))
}

/// Feeds the request body to the importer's blocking reader, chunk by chunk.
struct ChannelReader {
    chunks: tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>,
    current: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.chunks.blocking_recv() {
                Some(Ok(chunk)) => self.current = chunk,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

fn import_error(e: ImportError) -> ApiError {
    let detail = json!({ "line": e.line, "column": e.column, "message": e.message });
    match e.kind {
        ImportErrorKind::Invalid => ApiError::invalid(detail),
        ImportErrorKind::Malformed => ApiError::bad_request(detail),
        ImportErrorKind::TooLarge => ApiError::too_large(detail),
        ImportErrorKind::Storage => ApiError::internal(e),
    }
}

/// Imports a FOCUS CSV body (`text/csv`; gzip accepted as Content-Encoding or as a .csv.gz body), all or nothing.
#[utoipa::path(post, path = "/api/v1/costs/import", tag = "costs",
    request_body(content = String, content_type = "text/csv", description = "A FOCUS CSV file with a header row. `NULL` and empty cells are absent values."),
    responses((status = 200, body = WriteResult), (status = 400, description = "Unreadable CSV or gzip; detail names the line", body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, description = "Invalid value; detail names line and column", body = ErrorBody)))]
pub async fn import_costs(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    mut payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Approver)?;
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let mime = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if !matches!(mime.as_str(), "text/csv" | "application/gzip" | "application/x-gzip") {
        return Err(ApiError::unsupported_media_type(format!("send Content-Type: text/csv (got '{content_type}')")));
    }
    let limit = state.limits.max_import_bytes;
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    let import = state.ingestor.import_csv(
        "api-import",
        limited(ChannelReader { chunks: rx, current: Bytes::new() }, limit),
        |_| {},
    );
    let forward = async move {
        while let Some(chunk) = payload.next().await {
            let item = chunk.map_err(|e| std::io::Error::other(e.to_string()));
            let failed = item.is_err();
            if tx.send(item).await.is_err() || failed {
                break;
            }
        }
    };
    let (result, ()) = futures_util::join!(import, forward);
    let report = result.map_err(import_error)?;
    Ok(HttpResponse::Ok().json(WriteResult::from(&report.summary)))
}

/// Stops reading with a `TooLarge` error once `limit` bytes have passed.
pub fn limited<R: Read + Send>(inner: R, limit: u64) -> impl Read + Send {
    struct Limited<R> {
        inner: R,
        seen: u64,
        limit: u64,
    }
    impl<R: Read> Read for Limited<R> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.inner.read(buf)?;
            self.seen += n as u64;
            if self.seen > self.limit {
                return Err(std::io::Error::other(TooLarge(self.limit)));
            }
            Ok(n)
        }
    }
    Limited { inner, seen: 0, limit }
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct CurrencyTotal {
    pub currency: String,
    #[schema(value_type = String)]
    pub billed_cost: Total,
    #[schema(value_type = String)]
    pub effective_cost: Total,
    pub records: i64,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct CostsResponse {
    pub from: chrono::DateTime<chrono::Utc>,
    pub to: chrono::DateTime<chrono::Utc>,
    #[schema(value_type = String, example = "day")]
    pub granularity: crate::domain::cost_query::Granularity,
    #[schema(value_type = Option<String>, example = "service")]
    pub group_by: Option<crate::domain::cost_query::GroupBy>,
    /// One row per period, group and currency.
    pub rows: Vec<CostBucket>,
    /// Per currency; always the exact sum of the rows.
    pub totals: Vec<CurrencyTotal>,
}

/// Totals of the ledger by period and an optional dimension; amounts are exact decimal strings.
#[utoipa::path(get, path = "/api/v1/costs", tag = "costs", params(CostQueryParams),
    responses((status = 200, body = CostsResponse), (status = 400, description = "A parameter is invalid; detail names it", body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn get_costs(
    caller: Caller,
    state: web::Data<AppState>,
    params: web::Query<CostQueryParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Viewer)?;
    let query = CostQuery::parse(&params, chrono::Utc::now())
        .map_err(|e| ApiError::bad_request(json!({ "parameter": e.parameter, "message": e.problem })))?;
    let q = query.clone();
    let _admitted = state.heavy.enter().await.ok_or_else(ApiError::too_many_heavy)?;
    let rows = state.db.read_within(state.query_limit, move |conn| aggregate_costs(conn, &q)).await?;
    let mut totals: BTreeMap<String, CurrencyTotal> = BTreeMap::new();
    for row in &rows {
        let t = totals.entry(row.currency.clone()).or_insert_with(|| CurrencyTotal {
            currency: row.currency.clone(),
            billed_cost: Total::ZERO,
            effective_cost: Total::ZERO,
            records: 0,
        });
        t.billed_cost = t.billed_cost.plus(row.billed_cost);
        t.effective_cost = t.effective_cost.plus(row.effective_cost);
        t.records += row.records;
    }
    Ok(HttpResponse::Ok().json(CostsResponse {
        from: query.from,
        to: query.to,
        granularity: query.granularity,
        group_by: query.group_by,
        rows,
        totals: totals.into_values().collect(),
    }))
}

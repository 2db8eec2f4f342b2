//! Errors at the HTTP edge. Every failure answers JSON `{"error": CODE, "detail": ...}`:
//! `error` is a stable machine-readable code, `detail` says what and where (record index,
//! CSV line and column, parameter). Internal failures are logged with their cause chain
//! and answered without internals. Module errors carry no HTTP knowledge; they are mapped
//! here.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde_json::{json, Value};
use std::fmt;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub error: &'static str,
    pub detail: Value,
    /// Seconds after which a client may try again (503).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, error: &'static str, detail: impl Into<Value>) -> Self {
        ApiError { status, error, detail: detail.into(), retry_after: None }
    }
    /// 503 with `Retry-After`: the server is saturated, nothing was done.
    pub fn busy(detail: impl Into<Value>, retry_after_secs: u64) -> Self {
        metrics::counter!("costguard_http_busy_total").increment(1);
        ApiError { retry_after: Some(retry_after_secs), ..Self::new(StatusCode::SERVICE_UNAVAILABLE, "busy", detail) }
    }
    /// 503: a bounded query ran past `database.query_timeout_ms` and the database stopped it.
    pub fn timed_out(limit: std::time::Duration) -> Self {
        let detail = format!(
            "the query ran longer than {} ms and was stopped; ask for a shorter period or a coarser granularity",
            limit.as_millis()
        );
        ApiError { retry_after: Some(1), ..Self::new(StatusCode::SERVICE_UNAVAILABLE, "timeout", detail) }
    }
    pub fn bad_request(detail: impl Into<Value>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", detail)
    }
    /// 400 naming the query parameter at fault.
    pub fn bad_parameter(parameter: &str, message: impl ToString) -> Self {
        Self::bad_request(serde_json::json!({ "parameter": parameter, "message": message.to_string() }))
    }
    pub fn unauthorized(detail: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
    }
    pub fn forbidden(detail: String) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }
    pub fn not_found(detail: impl Into<Value>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", detail)
    }
    pub fn invalid(detail: impl Into<Value>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input", detail)
    }
    pub fn too_large(detail: impl Into<Value>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", detail)
    }
    pub fn unsupported_media_type(detail: impl Into<Value>) -> Self {
        Self::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", detail)
    }
    /// 503 when no admission to an expensive read came free in time.
    pub fn too_many_heavy() -> Self {
        Self::busy("too many expensive queries are running; nothing was done, try again shortly", 1)
    }
    /// Logs the cause and answers 500 without revealing it.
    pub fn internal(cause: impl fmt::Display) -> Self {
        tracing::error!(error = %cause, "request failed");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the server failed; see its log")
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.error, self.detail)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        if self.status == StatusCode::UNAUTHORIZED {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"costguard\""));
        }
        if let Some(secs) = self.retry_after {
            response.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        response.json(json!({ "error": self.error, "detail": self.detail }))
    }
}

impl From<crate::db::DbError> for ApiError {
    fn from(e: crate::db::DbError) -> Self {
        match e {
            crate::db::DbError::Busy(_) => {
                ApiError::busy("the database is busy; nothing was done, try again shortly", 1)
            }
            crate::db::DbError::TimedOut(limit) => ApiError::timed_out(limit),
            // PostgreSQL refuses NUL in text (SQLite stores it): a value sent with one is the
            // caller's mistake, not the server's.
            other if other.to_string().contains("invalid byte sequence for encoding \"UTF8\": 0x00") => {
                ApiError::invalid(
                    json!({ "message": "a text value holds a NUL character (\\u0000), which no value may contain" }),
                )
            }
            other => ApiError::internal(other),
        }
    }
}

/// Maps actix's JSON extractor failures to our shape.
pub fn json_error(err: actix_web::error::JsonPayloadError, _req: &actix_web::HttpRequest) -> actix_web::Error {
    use actix_web::error::JsonPayloadError as E;
    match err {
        E::OverflowKnownLength { length, limit } => ApiError::too_large(format!("the body is {length} bytes; the limit is {limit}")),
        E::Overflow { limit } => ApiError::too_large(format!("the body is larger than the limit of {limit} bytes")),
        E::ContentType => ApiError::unsupported_media_type("send Content-Type: application/json"),
        E::Deserialize(e) => ApiError::bad_request(json!({ "message": "the body is not the expected JSON", "line": e.line(), "column": e.column(), "problem": e.to_string() })),
        other => ApiError::bad_request(other.to_string()),
    }
    .into()
}

/// Maps query-string failures to our shape.
pub fn query_error(err: actix_web::error::QueryPayloadError, _req: &actix_web::HttpRequest) -> actix_web::Error {
    ApiError::bad_request(err.to_string()).into()
}

/// Unknown routes answer JSON too: 405 with `Allow` when the path is one of the API's with
/// another method (the OpenAPI document says which), 404 otherwise.
pub async fn not_found(req: actix_web::HttpRequest) -> HttpResponse {
    if let Some(allow) = crate::web::api::methods_at(req.path()) {
        let detail = format!("{} is not a method of {}; it takes {allow}", req.method(), req.path());
        let mut res = ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", detail).error_response();
        if let Ok(v) = header::HeaderValue::from_str(&allow) {
            res.headers_mut().insert(header::ALLOW, v);
        }
        return res;
    }
    ApiError::not_found(format!("no route for {} {}", req.method(), req.path())).error_response()
}

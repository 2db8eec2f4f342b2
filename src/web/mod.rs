//! The HTTP edge: JSON REST API v1, health, version, metrics and the OpenAPI document.
//! Handlers follow extract -> authorize -> call a module -> render; they never touch SQL.

pub mod api;
pub mod auth;
pub mod error;
pub mod mcp;
pub mod slack;

use actix_web::web;

/// Registers every route of this module.
pub fn configure(cfg: &mut web::ServiceConfig) {
    api::configure(cfg);
    mcp::configure(cfg);
    // Signed by Slack, not by a session or API key.
    cfg.route("/slack/interactivity", web::post().to(slack::interactivity));
}

/// Refuses a URL that holds a NUL character (`%00`) with 400 before any handler runs: no
/// value may contain one, and PostgreSQL refuses NUL in text, which would otherwise surface
/// as a 500 from whichever query the value reached.
pub async fn refuse_nul(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    // Read in place: this runs on every request. (A raw NUL never parses into a URI.)
    let uri = req.uri();
    if uri.path().contains("%00") || uri.query().is_some_and(|q| q.contains("%00")) {
        let error = error::ApiError::bad_request(serde_json::json!({
            "message": "the URL holds a NUL character (%00), which no path or parameter may contain"
        }));
        return Ok(req.into_response(actix_web::ResponseError::error_response(&error)));
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

/// Every request: a request id (the caller's `X-Request-Id` when it is a sane token, else a
/// new one) on the span of everything it logs and on the response; a log line with method,
/// route pattern, status and duration (never the path or query, which can carry tokens); and
/// the HTTP metrics, labelled by route pattern so their label sets stay bounded.
pub fn observe<S>(
    req: actix_web::dev::ServiceRequest,
    srv: &S,
) -> impl std::future::Future<Output = Result<actix_web::dev::ServiceResponse, actix_web::Error>> + use<S>
where
    S: actix_web::dev::Service<
        actix_web::dev::ServiceRequest,
        Response = actix_web::dev::ServiceResponse,
        Error = actix_web::Error,
    >,
{
    use tracing::Instrument;
    let started = std::time::Instant::now();
    let route = req.match_pattern().unwrap_or_else(|| "unmatched".into());
    let method = req.method().to_string();
    let given = req.headers().get("x-request-id").and_then(|v| v.to_str().ok());
    let id = match given {
        Some(id) if !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') => {
            id.to_string()
        }
        _ => uuid::Uuid::new_v4().to_string(),
    };
    let span = tracing::info_span!("request", request_id = %id, method = %method, route = %route);
    let fut = srv.call(req);
    async move {
        let mut res = fut.await?;
        let status = res.status().as_u16();
        let elapsed = started.elapsed();
        if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&id) {
            res.headers_mut().insert(actix_web::http::header::HeaderName::from_static("x-request-id"), value);
        }
        // Scrapes and probes arrive every few seconds; keep them out of the info log.
        if matches!(route.as_str(), "/metrics" | "/healthz" | "/readyz") {
            tracing::debug!(status, ms = elapsed.as_millis() as u64, "served");
        } else {
            tracing::info!(status, ms = elapsed.as_millis() as u64, "served");
        }
        metrics::counter!("costguard_http_requests_total", "route" => route.clone(), "method" => method, "status" => status.to_string()).increment(1);
        metrics::histogram!("costguard_http_request_duration_seconds", "route" => route).record(elapsed.as_secs_f64());
        Ok(res)
    }
    .instrument(span)
}

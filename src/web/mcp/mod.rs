//! Ask CostGuard: a Model Context Protocol server at `/mcp`, over the Streamable HTTP
//! transport (one JSON-RPC message per POST, answered with `application/json`; no server
//! stream, so GET and DELETE answer 405; stateless, no session id). Both eras of the
//! protocol: the stateless 2026-07-28 revision (`server/discover`, the version on every
//! request) and the `initialize` handshake of 2024-11-05 to 2025-11-25. An assistant connects
//! with a CostGuard API key (`Authorization: Bearer`) and acts with that key's role: it can
//! read costs, anomalies, actions and budgets and, with an approver key, file a proposal that
//! people then approve in CostGuard. It can never approve, execute or change settings.
//!
//! rmcp, the official Rust SDK, serves this transport as a tower service for hyper/axum; this
//! server runs on actix, so the transport is here, written from the specification, and the
//! official Python SDK drives it in the tests. Every tool is the REST API's own handler
//! (`tools.rs`), every call is audited with the key's name and rate-limited per key.

mod resources;
pub mod rpc;
mod schema;
mod summary;
mod tools;

use crate::state::AppState;
use crate::web::auth::Caller;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use rpc::{Request, RpcError};
use serde_json::{json, Value};
use std::num::NonZeroU32;
use std::sync::OnceLock;

/// The stateless revision: no handshake, the version in every request's header and `_meta`,
/// `server/discover` to learn what the server speaks.
pub const MODERN_VERSION: &str = "2026-07-28";

/// Versions reached through the `initialize` handshake, newest first. A client asking for
/// another gets the newest, and decides whether it can go on.
pub const HANDSHAKE_VERSIONS: [&str; 4] = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];

/// Every version this server speaks, newest first.
pub const PROTOCOL_VERSIONS: [&str; 5] = [MODERN_VERSION, "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];

/// MCP's code for a protocol version the server does not speak (its data lists those it does).
const UNSUPPORTED_VERSION: i64 = -32022;

/// Calls per key: a burst of this many, refilled at this many a minute (per replica).
const BURST: u32 = 30;
const PER_MINUTE: u32 = 120;

type Limiter = governor::DefaultKeyedRateLimiter<String>;

fn limiter() -> &'static Limiter {
    static LIMITER: OnceLock<Limiter> = OnceLock::new();
    LIMITER.get_or_init(|| {
        let per_minute = NonZeroU32::new(PER_MINUTE).unwrap_or(NonZeroU32::MIN);
        let quota =
            governor::Quota::per_minute(per_minute).allow_burst(NonZeroU32::new(BURST).unwrap_or(NonZeroU32::MIN));
        governor::RateLimiter::keyed(quota)
    })
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/mcp", web::post().to(post)).route("/mcp", web::route().to(no_stream));
}

/// GET would open a server stream, DELETE end a session: this server has neither.
async fn no_stream() -> HttpResponse {
    HttpResponse::MethodNotAllowed().insert_header((header::ALLOW, "POST")).finish()
}

fn json_rpc(status: StatusCode, body: Value) -> HttpResponse {
    HttpResponse::build(status).content_type("application/json").json(body)
}

/// A browser page on another site must not reach a local server (DNS rebinding): an `Origin`
/// is accepted only when it names the host the request came to.
fn foreign_origin(req: &HttpRequest) -> bool {
    let Some(origin) = req.headers().get(header::ORIGIN).and_then(|o| o.to_str().ok()) else { return false };
    let host = req.connection_info().host().to_string();
    origin.split_once("://").map(|(_, rest)| rest) != Some(host.as_str())
}

async fn post(req: HttpRequest, body: web::Bytes, state: web::Data<AppState>) -> HttpResponse {
    if foreign_origin(&req) {
        return json_rpc(
            StatusCode::FORBIDDEN,
            rpc::error(&Value::Null, &RpcError::new(rpc::INVALID_REQUEST, "this Origin may not call the MCP endpoint")),
        );
    }
    // 401 with `WWW-Authenticate: Bearer` without a valid key, as the API answers.
    let caller = match <Caller as actix_web::FromRequest>::extract(&req).await {
        Ok(c) => c,
        Err(e) => return e.error_response(),
    };
    let message = match rpc::parse(&body) {
        Ok(m) => m,
        Err((id, e)) => return json_rpc(StatusCode::BAD_REQUEST, rpc::error(&id, &e)),
    };
    // The version a request states: the header, or on the stateless revision its `_meta`.
    let stated = req
        .headers()
        .get("mcp-protocol-version")
        .and_then(|v| v.to_str().ok())
        .or(message.params["_meta"]["io.modelcontextprotocol/protocolVersion"].as_str())
        .map(str::to_string);
    if let Some(version) = stated.as_deref().filter(|v| !PROTOCOL_VERSIONS.contains(v)) {
        let e = RpcError {
            code: UNSUPPORTED_VERSION,
            message: format!("protocol version {version} is not one of {}", PROTOCOL_VERSIONS.join(", ")),
            data: Some(json!({ "supported": PROTOCOL_VERSIONS, "requested": version })),
        };
        return json_rpc(StatusCode::BAD_REQUEST, rpc::error(message.id.as_ref().unwrap_or(&Value::Null), &e));
    }
    let modern = stated.as_deref() == Some(MODERN_VERSION);
    let Some(id) = message.id.clone() else {
        // A notification (initialized, cancelled): nothing to answer.
        return HttpResponse::Accepted().finish();
    };
    if limiter().check_key(&caller.key_id).is_err() {
        metrics::counter!("costguard_mcp_calls_total", "method" => "rate_limited").increment(1);
        let e = RpcError::new(
            rpc::RATE_LIMITED,
            format!("more than {PER_MINUTE} calls a minute with this key; try again shortly"),
        );
        return HttpResponse::TooManyRequests()
            .insert_header((header::RETRY_AFTER, "1"))
            .content_type("application/json")
            .json(rpc::error(&id, &e));
    }
    let answer = handle(&state, &caller, &message).await;
    metrics::counter!("costguard_mcp_calls_total", "method" => method_label(&message.method)).increment(1);
    match answer {
        Ok(result) if modern => json_rpc(StatusCode::OK, rpc::result(&id, complete(result))),
        Ok(result) => json_rpc(StatusCode::OK, rpc::result(&id, result)),
        Err(e) => json_rpc(StatusCode::OK, rpc::error(&id, &e)),
    }
}

/// The method as a bounded label (an unknown one is "other").
fn method_label(method: &str) -> &'static str {
    crate::telemetry::MCP_METHODS.into_iter().find(|m| *m == method).unwrap_or("other")
}

/// A result on the stateless revision says it is complete (no further input needed) and how
/// long it may be cached: not at all, the figures move with every ingestion.
fn complete(mut result: Value) -> Value {
    if let Some(object) = result.as_object_mut() {
        object.entry("resultType").or_insert(json!("complete"));
        object.entry("ttlMs").or_insert(json!(0));
        object.entry("cacheScope").or_insert(json!("private"));
    }
    result
}

async fn handle(state: &web::Data<AppState>, caller: &Caller, m: &Request) -> Result<Value, RpcError> {
    match m.method.as_str() {
        "server/discover" => Ok(discover()),
        "initialize" => Ok(initialize(&m.params)),
        "ping" => Ok(json!({})),
        "tools/list" => Ok(json!({ "tools": tools::listed() })),
        "tools/call" => call_tool(state, caller, &m.params).await,
        "resources/list" => Ok(json!({ "resources": resources::listed() })),
        "resources/templates/list" => Ok(json!({ "resourceTemplates": resources::templates() })),
        "resources/read" => {
            let uri = m.params["uri"].as_str().ok_or_else(|| RpcError::field("uri", "is required"))?.to_string();
            let read = resources::read(state, caller, &uri).await;
            audit(state, caller, "mcp.resource", &uri, read.as_ref().map_or("error", |_| "ok"), None).await;
            read
        }
        other => Err(RpcError::new(rpc::METHOD_NOT_FOUND, format!("no method {other}"))),
    }
}

/// The handshake version both sides speak: the client's when this server knows it, else the newest.
pub fn negotiate(asked: Option<&str>) -> &'static str {
    HANDSHAKE_VERSIONS.into_iter().find(|v| Some(*v) == asked).unwrap_or(HANDSHAKE_VERSIONS[0])
}

const INSTRUCTIONS: &str = "CostGuard watches cloud and LLM spend. Ask it why spend moved (list_anomalies, get_anomaly: root causes, timeline), what it cost (query_costs), where budgets stand (budget_status), and what is proposed (list_actions). propose_action files a proposal people approve in CostGuard; no tool approves or runs anything.";

fn capabilities() -> Value {
    json!({ "tools": { "listChanged": false }, "resources": { "subscribe": false, "listChanged": false } })
}

fn server_info() -> Value {
    json!({ "name": "costguard", "title": "CostGuard", "version": crate::build_info::info().version })
}

fn initialize(params: &Value) -> Value {
    json!({
        "protocolVersion": negotiate(params["protocolVersion"].as_str()),
        "capabilities": capabilities(),
        "serverInfo": server_info(),
        "instructions": INSTRUCTIONS,
    })
}

/// The stateless revision's introduction: every version this server speaks, what it offers.
fn discover() -> Value {
    json!({
        "supportedVersions": PROTOCOL_VERSIONS,
        "capabilities": capabilities(),
        "instructions": INSTRUCTIONS,
        "_meta": { "io.modelcontextprotocol/serverInfo": server_info() },
    })
}

async fn call_tool(state: &web::Data<AppState>, caller: &Caller, params: &Value) -> Result<Value, RpcError> {
    let name = params["name"].as_str().ok_or_else(|| RpcError::field("name", "is required"))?.to_string();
    let args = params.get("arguments").filter(|a| !a.is_null()).cloned().unwrap_or_else(|| json!({}));
    let outcome = tools::call(state, caller, &name, &args).await;
    let (result, detail) = match &outcome {
        Ok(tools::Outcome::Done(_)) => ("ok", None),
        Ok(tools::Outcome::Refused(why)) => ("refused", Some(why.clone())),
        Err(e) => ("error", Some(e.message.clone())),
    };
    audit(state, caller, "mcp.tool", &name, result, detail.or_else(|| Some(args.to_string()))).await;
    match outcome? {
        tools::Outcome::Done(value) => {
            let text = summary::of(&name, &value);
            // Structured content is an object: a list goes under the tool's noun.
            let structured = if value.is_array() { json!({ "items": value }) } else { value };
            Ok(
                json!({ "content": [{ "type": "text", "text": text }], "structuredContent": structured, "isError": false }),
            )
        }
        tools::Outcome::Refused(why) => Ok(json!({ "content": [{ "type": "text", "text": why }], "isError": true })),
    }
}

/// Every call is in the audit log under the key's name (arguments cut at 1,000 characters).
async fn audit(
    state: &web::Data<AppState>,
    caller: &Caller,
    action: &'static str,
    target: &str,
    result: &str,
    detail: Option<String>,
) {
    let actor = format!("api key {}", caller.name);
    let (target, result) = (target.to_string(), result.to_string());
    let detail: Option<String> = detail.map(|d| d.chars().take(1_000).collect());
    let written = state
        .db
        .run(move |c| {
            crate::db::write_transaction(c, |c| {
                let event = crate::audit::Event {
                    actor: &actor,
                    action,
                    target: &target,
                    result: &result,
                    detail: detail.as_deref(),
                    ..Default::default()
                };
                crate::audit::append(c, &event, chrono::Utc::now()).map(|_| ())
            })
            .map_err(crate::db::DbError::from)
        })
        .await;
    if let Err(e) = written {
        tracing::error!(error = %e, "MCP call not audited");
    }
}

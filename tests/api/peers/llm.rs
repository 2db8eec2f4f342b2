//! Fakes of the two LLM admin APIs, written from their published references (no peer exists):
//! OpenAI's organization Completions Usage API and Anthropic's Messages usage report. Each
//! checks its own auth headers, serves every bucket of the asked range (empty ones too) in
//! pages of `limit` with `has_more` / `next_page`, and can answer 429 with Retry-After.

use super::{fault_response, Fault};
use actix_web::{web, App, HttpRequest, HttpResponse};
use chrono::{DateTime, Duration, DurationRound, TimeZone, Utc};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub const ADMIN_KEY: &str = "sk-admin-test-7f3a";

/// Usage of one (key, project, model) starting at `hour` (an hour or any minute: the fake
/// sums rows into whatever bucket width is asked for).
#[derive(Debug, Clone)]
pub struct Row {
    pub hour: DateTime<Utc>,
    pub key: &'static str,
    pub project: &'static str,
    pub model: &'static str,
    pub input: i64,
    pub cached: i64,
    pub output: i64,
}

/// One billed line: a day's cost of one project and line item, in dollars.
#[derive(Debug, Clone)]
pub struct Billed {
    pub day: DateTime<Utc>,
    pub project: &'static str,
    pub item: &'static str,
    pub dollars: &'static str,
}

/// An API key the admin APIs know.
#[derive(Debug, Clone)]
pub struct Key {
    pub project: &'static str,
    pub name: &'static str,
    pub status: &'static str,
    /// Spends in every minute while active (a runaway agent loop).
    pub live: bool,
}

#[derive(Default)]
struct State {
    rows: Vec<Row>,
    keys: HashMap<&'static str, Key>,
    /// When each key was last set inactive: a live key spent in every minute before that.
    inactive_since: HashMap<String, DateTime<Utc>>,
    key_calls: Vec<String>,
    billed: Vec<Billed>,
    calls: usize,
    faults: HashMap<usize, Fault>,
}

pub struct LlmApi {
    pub url: String,
    state: Arc<Mutex<State>>,
}

fn query(req: &HttpRequest) -> Vec<(String, String)> {
    serde_urlencoded::from_str(req.query_string()).unwrap_or_default()
}

fn param<'a>(q: &'a [(String, String)], name: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// The buckets of [start, end) one page holds, their width, and the next page's token.
fn page(
    q: &[(String, String)],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> (Vec<DateTime<Utc>>, Duration, Option<String>) {
    let step = match param(q, "bucket_width") {
        Some("1m") => Duration::minutes(1),
        Some("1d") => Duration::days(1),
        _ => Duration::hours(1),
    };
    let start = start.duration_trunc(step).unwrap();
    let limit: usize = param(q, "limit").and_then(|l| l.parse().ok()).unwrap_or(24).min(24);
    let offset: usize = param(q, "page").and_then(|p| p.parse().ok()).unwrap_or(0);
    let mut all = Vec::new();
    let mut t = start;
    while t < end {
        all.push(t);
        t += step;
    }
    let next = (offset + limit < all.len()).then(|| (offset + limit).to_string());
    (all.into_iter().skip(offset).take(limit).collect(), step, next)
}

/// The OpenAI usage endpoint that reports a model's usage.
pub fn openai_kind(model: &str) -> &'static str {
    let kinds = [
        ("text-embedding", "embeddings"),
        ("dall-e", "images"),
        ("gpt-image", "images"),
        ("tts", "audio_speeches"),
        ("whisper", "audio_transcriptions"),
    ];
    kinds.iter().find(|(prefix, _)| model.starts_with(prefix)).map_or("completions", |(_, kind)| kind)
}

/// One bucket's usage as the APIs group it: rows starting in [start, start + width) summed
/// per (key, project, model).
fn in_bucket(rows: &[Row], start: DateTime<Utc>, width: Duration) -> Vec<Row> {
    let mut out: Vec<Row> = Vec::new();
    for r in rows.iter().filter(|r| r.hour >= start && r.hour < start + width) {
        match out.iter_mut().find(|o| (o.key, o.project, o.model) == (r.key, r.project, r.model)) {
            Some(o) => (o.input, o.cached, o.output) = (o.input + r.input, o.cached + r.cached, o.output + r.output),
            None => out.push(Row { hour: start, ..r.clone() }),
        }
    }
    out
}

fn fault(state: &Mutex<State>) -> Option<HttpResponse> {
    let mut s = state.lock().unwrap();
    s.calls += 1;
    let n = s.calls;
    s.faults.remove(&n).map(|f| fault_response(&f))
}

async fn openai(req: HttpRequest, state: web::Data<Arc<Mutex<State>>>) -> HttpResponse {
    if let Some(answer) = fault(&state) {
        return answer;
    }
    if req.headers().get("authorization").and_then(|v| v.to_str().ok()) != Some(&format!("Bearer {ADMIN_KEY}")) {
        return HttpResponse::Unauthorized().json(json!({"error": {"message": "Incorrect API key provided", "type": "invalid_request_error", "code": "invalid_api_key"}}));
    }
    let q = query(&req);
    let time =
        |name| param(&q, name).and_then(|v| v.parse::<i64>().ok()).and_then(|v| Utc.timestamp_opt(v, 0).single());
    let (Some(start), end) = (time("start_time"), time("end_time").unwrap_or_else(Utc::now)) else {
        return HttpResponse::BadRequest()
            .json(json!({"error": {"message": "start_time is required", "type": "invalid_request_error"}}));
    };
    let groups: Vec<&str> = q.iter().filter(|(k, _)| k == "group_by").map(|(_, v)| v.as_str()).collect();
    assert!(groups.iter().all(|g| ["project_id", "api_key_id", "model"].contains(g)), "{groups:?}");
    let only: Vec<&str> = q.iter().filter(|(k, _)| k == "api_key_ids").map(|(_, v)| v.as_str()).collect();
    let (hours, width, next) = page(&q, start, end);
    // Each usage endpoint serves its own models: embeddings, images, speech, transcription;
    // completions the rest.
    let kind = req.path().rsplit('/').next().unwrap_or("").to_string();
    let rows: Vec<Row> = state
        .lock()
        .unwrap()
        .rows
        .iter()
        .filter(|r| (only.is_empty() || only.contains(&r.key)) && openai_kind(r.model) == kind)
        .cloned()
        .collect();
    let data: Vec<Value> = hours
        .iter()
        .map(|h| {
            let results: Vec<Value> = in_bucket(&rows, *h, width)
                .iter()
                .map(|r| {
                    let mut result = json!({"object": format!("organization.usage.{kind}.result"), "num_model_requests": r.input / 1000 + 1,
                        "project_id": r.project, "api_key_id": r.key, "model": r.model, "user_id": null});
                    let counts = match kind.as_str() {
                        "completions" => json!({"input_tokens": r.input, "input_cached_tokens": r.cached, "output_tokens": r.output, "batch": null}),
                        "embeddings" => json!({"input_tokens": r.input}),
                        "images" => json!({"images": r.input, "source": "image.generation", "size": "1024x1024"}),
                        "audio_speeches" => json!({"characters": r.input}),
                        _ => json!({"seconds": r.input}),
                    };
                    result.as_object_mut().unwrap().extend(counts.as_object().unwrap().clone());
                    result
                })
                .collect();
            json!({"object": "bucket", "start_time": h.timestamp(), "end_time": (*h + width).timestamp(), "results": results})
        })
        .collect();
    HttpResponse::Ok().json(json!({"object": "page", "data": data, "has_more": next.is_some(), "next_page": next}))
}

async fn anthropic(req: HttpRequest, state: web::Data<Arc<Mutex<State>>>) -> HttpResponse {
    if let Some(answer) = fault(&state) {
        return answer;
    }
    if req.headers().get("x-api-key").and_then(|v| v.to_str().ok()) != Some(ADMIN_KEY) {
        return HttpResponse::Unauthorized()
            .json(json!({"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}}));
    }
    if req.headers().get("anthropic-version").is_none() {
        return HttpResponse::BadRequest().json(json!({"type": "error", "error": {"type": "invalid_request_error", "message": "anthropic-version: header is required"}}));
    }
    let q = query(&req);
    let time = |name| param(&q, name).and_then(|v| DateTime::parse_from_rfc3339(v).ok()).map(|t| t.with_timezone(&Utc));
    let (Some(start), end) = (time("starting_at"), time("ending_at").unwrap_or_else(Utc::now)) else {
        return HttpResponse::BadRequest().json(
            json!({"type": "error", "error": {"type": "invalid_request_error", "message": "starting_at is required"}}),
        );
    };
    let groups: Vec<&str> = q.iter().filter(|(k, _)| k == "group_by[]").map(|(_, v)| v.as_str()).collect();
    assert!(groups.iter().all(|g| ["api_key_id", "workspace_id", "model"].contains(g)), "{groups:?}");
    let only: Vec<&str> = q.iter().filter(|(k, _)| k == "api_key_ids[]").map(|(_, v)| v.as_str()).collect();
    let (hours, width, next) = page(&q, start, end);
    let minutes = width == Duration::minutes(1);
    let (mut rows, keys, inactive_since) = {
        let s = state.lock().unwrap();
        (s.rows.clone(), s.keys.clone(), s.inactive_since.clone())
    };
    // A live key spends in every minute bucket while active, and in those that began before
    // it was set inactive (the one holding that moment included, as on the real API).
    if minutes {
        for h in &hours {
            let spending = |id: &&str, k: &Key| {
                k.live && (k.status == "active" || inactive_since.get(*id).is_some_and(|since| h <= since))
            };
            for (id, key) in keys.iter().filter(|(id, k)| spending(id, k)) {
                rows.push(Row {
                    hour: *h,
                    key: id,
                    project: key.project,
                    model: "claude-sonnet-4-20250514",
                    input: 9_000,
                    cached: 0,
                    output: 3_000,
                });
            }
        }
    }
    let rfc = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let data: Vec<Value> = hours
        .iter()
        .map(|h| {
            let results: Vec<Value> = in_bucket(&rows, *h, width)
                .iter()
                .filter(|r| only.is_empty() || only.contains(&r.key))
                .map(|r| json!({"uncached_input_tokens": r.input - r.cached - cache_writes(r).five_minute - cache_writes(r).one_hour,
                    "cache_read_input_tokens": r.cached,
                    "cache_creation": {"ephemeral_5m_input_tokens": cache_writes(r).five_minute, "ephemeral_1h_input_tokens": cache_writes(r).one_hour},
                    "output_tokens": r.output, "server_tool_use": {"web_search_requests": 0},
                    "api_key_id": r.key, "workspace_id": r.project, "model": r.model, "service_tier": "standard", "context_window": "0-200k"}))
                .collect();
            json!({"starting_at": rfc(*h), "ending_at": rfc(*h + width), "results": results})
        })
        .collect();
    HttpResponse::Ok().json(json!({"data": data, "has_more": next.is_some(), "next_page": next}))
}

/// The part of a row's input that Anthropic's report shows as prompt-cache writes (OpenAI's
/// usage has no such split).
pub fn cache_writes(r: &Row) -> costguard::domain::llm_prices::CacheWrites {
    costguard::domain::llm_prices::CacheWrites { five_minute: r.cached / 2, one_hour: r.cached / 8 }
}

/// Days of [start, end) and the billed lines on them, as the cost APIs' daily buckets.
fn billed_days(state: &Mutex<State>, start: DateTime<Utc>, end: DateTime<Utc>) -> Vec<(DateTime<Utc>, Vec<Billed>)> {
    let billed = state.lock().unwrap().billed.clone();
    let mut days = Vec::new();
    let mut day = start.duration_trunc(Duration::days(1)).unwrap();
    while day < end {
        days.push((day, billed.iter().filter(|b| b.day == day).cloned().collect()));
        day += Duration::days(1);
    }
    days
}

async fn openai_costs(req: HttpRequest, state: web::Data<Arc<Mutex<State>>>) -> HttpResponse {
    if let Some(answer) = fault(&state) {
        return answer;
    }
    if req.headers().get("authorization").and_then(|v| v.to_str().ok()) != Some(&format!("Bearer {ADMIN_KEY}")) {
        return HttpResponse::Unauthorized()
            .json(json!({"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}}));
    }
    let q = query(&req);
    let time =
        |name| param(&q, name).and_then(|v| v.parse::<i64>().ok()).and_then(|v| Utc.timestamp_opt(v, 0).single());
    let (Some(start), end) = (time("start_time"), time("end_time").unwrap_or_else(Utc::now)) else {
        return HttpResponse::BadRequest().finish();
    };
    let data: Vec<Value> = billed_days(&state, start, end)
        .into_iter()
        .map(|(day, lines)| {
            // Dollars as a JSON number, written exactly as given.
            let results: Vec<String> = lines
                .iter()
                .map(|b| format!(r#"{{"object": "organization.costs.result", "amount": {{"value": {}, "currency": "usd"}}, "line_item": "{}", "project_id": "{}"}}"#, b.dollars, b.item, b.project))
                .collect();
            let text = format!(r#"{{"object": "bucket", "start_time": {}, "end_time": {}, "results": [{}]}}"#, day.timestamp(), (day + Duration::days(1)).timestamp(), results.join(", "));
            serde_json::from_str(&text).unwrap()
        })
        .collect();
    HttpResponse::Ok().json(json!({"object": "page", "data": data, "has_more": false, "next_page": null}))
}

async fn anthropic_costs(req: HttpRequest, state: web::Data<Arc<Mutex<State>>>) -> HttpResponse {
    if let Some(answer) = fault(&state) {
        return answer;
    }
    if req.headers().get("x-api-key").and_then(|v| v.to_str().ok()) != Some(ADMIN_KEY) {
        return HttpResponse::Unauthorized()
            .json(json!({"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}}));
    }
    let q = query(&req);
    let time = |name| param(&q, name).and_then(|v| DateTime::parse_from_rfc3339(v).ok()).map(|t| t.with_timezone(&Utc));
    let (Some(start), end) = (time("starting_at"), time("ending_at").unwrap_or_else(Utc::now)) else {
        return HttpResponse::BadRequest().finish();
    };
    let rfc = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let data: Vec<Value> = billed_days(&state, start, end)
        .into_iter()
        .map(|(day, lines)| {
            let results: Vec<Value> = lines
                .iter()
                .map(|b| {
                    // The cost report counts in cents, as a decimal string.
                    let units = costguard::domain::money::Amount::parse(b.dollars).unwrap().units();
                    let cents = costguard::domain::money::format_scaled(i128::from(units) * 100, 11);
                    json!({"currency": "USD", "amount": cents, "workspace_id": b.project, "description": b.item, "cost_type": "tokens"})
                })
                .collect();
            json!({"starting_at": rfc(day), "ending_at": rfc(day + Duration::days(1)), "results": results})
        })
        .collect();
    HttpResponse::Ok().json(json!({"data": data, "has_more": false, "next_page": null}))
}

fn admin_ok(req: &HttpRequest) -> bool {
    let bearer =
        req.headers().get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {ADMIN_KEY}"));
    bearer || req.headers().get("x-api-key").and_then(|v| v.to_str().ok()) == Some(ADMIN_KEY)
}

/// Anthropic: GET or POST (status) /v1/organizations/api_keys/{id}.
async fn anthropic_key(req: HttpRequest, body: web::Bytes, state: web::Data<Arc<Mutex<State>>>) -> HttpResponse {
    if !admin_ok(&req) {
        return HttpResponse::Unauthorized().finish();
    }
    let id = req.match_info().get("id").unwrap_or_default().to_string();
    let mut s = state.lock().unwrap();
    s.key_calls.push(format!("{} {id}", req.method()));
    let Some(key) = s.keys.iter_mut().find(|(k, _)| **k == id).map(|(_, v)| v) else {
        return HttpResponse::NotFound()
            .json(json!({"type": "error", "error": {"type": "not_found_error", "message": "API key not found"}}));
    };
    if req.method() == actix_web::http::Method::POST {
        let update: Value = serde_json::from_slice(&body).unwrap_or_default();
        match update["status"].as_str() {
            Some("active") => key.status = "active",
            Some("inactive") => key.status = "inactive",
            other => return HttpResponse::BadRequest().json(json!({"type": "error", "error": {"type": "invalid_request_error", "message": format!("status {other:?}")}})),
        }
    }
    let answer = json!({"id": id, "type": "api_key", "name": key.name, "workspace_id": key.project, "status": key.status, "partial_key_hint": "sk-ant-api03-R2D...igAA"});
    match key.status {
        "inactive" => {
            s.inactive_since.entry(id).or_insert_with(Utc::now);
        }
        _ => {
            s.inactive_since.remove(&id);
        }
    }
    HttpResponse::Ok().json(answer)
}

/// OpenAI: GET or DELETE /v1/organization/projects/{project}/api_keys/{id}.
async fn openai_key(req: HttpRequest, state: web::Data<Arc<Mutex<State>>>) -> HttpResponse {
    if !admin_ok(&req) {
        return HttpResponse::Unauthorized().finish();
    }
    let (project, id) = (
        req.match_info().get("project").unwrap_or_default().to_string(),
        req.match_info().get("id").unwrap_or_default().to_string(),
    );
    let mut s = state.lock().unwrap();
    s.key_calls.push(format!("{} {id}", req.method()));
    let found = s.keys.iter().find(|(k, v)| **k == id && v.project == project).map(|(k, v)| (*k, v.clone()));
    let Some((key_id, key)) = found else {
        return HttpResponse::NotFound()
            .json(json!({"error": {"message": format!("No such API key: {id}"), "type": "invalid_request_error"}}));
    };
    if req.method() == actix_web::http::Method::DELETE {
        s.keys.remove(key_id);
        return HttpResponse::Ok()
            .json(json!({"object": "organization.project.api_key.deleted", "id": id, "deleted": true}));
    }
    HttpResponse::Ok().json(
        json!({"object": "organization.project.api_key", "id": id, "name": key.name, "redacted_value": "sk-abc...def"}),
    )
}

impl LlmApi {
    pub fn start() -> LlmApi {
        let state = Arc::new(Mutex::new(State::default()));
        let data = web::Data::new(state.clone());
        let url = super::serve(move || {
            App::new()
                .app_data(data.clone())
                .route("/v1/organization/usage/{kind}", web::get().to(openai))
                .route("/v1/organizations/usage_report/messages", web::get().to(anthropic))
                .route("/v1/organization/costs", web::get().to(openai_costs))
                .route("/v1/organizations/cost_report", web::get().to(anthropic_costs))
                .route("/v1/organizations/api_keys/{id}", web::get().to(anthropic_key))
                .route("/v1/organizations/api_keys/{id}", web::post().to(anthropic_key))
                .route("/v1/organization/projects/{project}/api_keys/{id}", web::get().to(openai_key))
                .route("/v1/organization/projects/{project}/api_keys/{id}", web::delete().to(openai_key))
        });
        LlmApi { url, state }
    }

    pub fn set_rows(&self, rows: Vec<Row>) {
        self.state.lock().unwrap().rows = rows;
    }

    pub fn add_key(&self, id: &'static str, key: Key) {
        self.state.lock().unwrap().keys.insert(id, key);
    }

    /// The key's status, or None once deleted.
    pub fn key_status(&self, id: &str) -> Option<&'static str> {
        self.state.lock().unwrap().keys.get(id).map(|k| k.status)
    }

    /// Calls on key endpoints: "POST key_x", "DELETE key_y", ...
    pub fn key_calls(&self) -> Vec<String> {
        self.state.lock().unwrap().key_calls.clone()
    }

    pub fn set_billed(&self, billed: Vec<Billed>) {
        self.state.lock().unwrap().billed = billed;
    }

    pub fn calls(&self) -> usize {
        self.state.lock().unwrap().calls
    }

    pub fn fail_call(&self, n: usize, fault: Fault) {
        self.state.lock().unwrap().faults.insert(n, fault);
    }

    pub fn rate_limited() -> Fault {
        Fault {
            status: 429,
            headers: vec![("retry-after", "1".into()), ("content-type", "application/json".into())],
            body: r#"{"error":{"message":"Rate limit reached","type":"rate_limit_error"}}"#.into(),
        }
    }
}

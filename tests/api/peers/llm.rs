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

/// Usage of one (key, project, model) in one hour.
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

#[derive(Default)]
struct State {
    rows: Vec<Row>,
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

/// The buckets of [start, end) one page holds, and the next page's token.
fn page(q: &[(String, String)], start: DateTime<Utc>, end: DateTime<Utc>) -> (Vec<DateTime<Utc>>, Option<String>) {
    let limit: usize = param(q, "limit").and_then(|l| l.parse().ok()).unwrap_or(24).min(24);
    let offset: usize = param(q, "page").and_then(|p| p.parse().ok()).unwrap_or(0);
    let mut all = Vec::new();
    let mut t = start;
    while t < end {
        all.push(t);
        t += Duration::hours(1);
    }
    let next = (offset + limit < all.len()).then(|| (offset + limit).to_string());
    (all.into_iter().skip(offset).take(limit).collect(), next)
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
    assert_eq!(param(&q, "bucket_width"), Some("1h"), "the fake serves hourly buckets");
    let groups: Vec<&str> = q.iter().filter(|(k, _)| k == "group_by").map(|(_, v)| v.as_str()).collect();
    assert_eq!(groups, ["project_id", "api_key_id", "model"]);
    let (hours, next) = page(&q, start, end);
    let rows = state.lock().unwrap().rows.clone();
    let data: Vec<Value> = hours
        .iter()
        .map(|h| {
            let results: Vec<Value> = rows
                .iter()
                .filter(|r| r.hour == *h)
                .map(|r| json!({"object": "organization.usage.completions.result", "input_tokens": r.input, "input_cached_tokens": r.cached,
                    "output_tokens": r.output, "num_model_requests": r.input / 1000 + 1, "project_id": r.project, "api_key_id": r.key,
                    "model": r.model, "user_id": null, "batch": null}))
                .collect();
            json!({"object": "bucket", "start_time": h.timestamp(), "end_time": (*h + Duration::hours(1)).timestamp(), "results": results})
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
    assert_eq!(groups, ["api_key_id", "workspace_id", "model"]);
    let (hours, next) = page(&q, start, end);
    let rows = state.lock().unwrap().rows.clone();
    let rfc = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let data: Vec<Value> = hours
        .iter()
        .map(|h| {
            let results: Vec<Value> = rows
                .iter()
                .filter(|r| r.hour == *h)
                .map(|r| json!({"uncached_input_tokens": r.input - r.cached, "cache_read_input_tokens": r.cached,
                    "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
                    "output_tokens": r.output, "server_tool_use": {"web_search_requests": 0},
                    "api_key_id": r.key, "workspace_id": r.project, "model": r.model, "service_tier": "standard", "context_window": "0-200k"}))
                .collect();
            json!({"starting_at": rfc(*h), "ending_at": rfc(*h + Duration::hours(1)), "results": results})
        })
        .collect();
    HttpResponse::Ok().json(json!({"data": data, "has_more": next.is_some(), "next_page": next}))
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

impl LlmApi {
    pub fn start() -> LlmApi {
        let state = Arc::new(Mutex::new(State::default()));
        let data = web::Data::new(state.clone());
        let url = super::serve(move || {
            App::new()
                .app_data(data.clone())
                .route("/v1/organization/usage/completions", web::get().to(openai))
                .route("/v1/organizations/usage_report/messages", web::get().to(anthropic))
                .route("/v1/organization/costs", web::get().to(openai_costs))
                .route("/v1/organizations/cost_report", web::get().to(anthropic_costs))
        });
        LlmApi { url, state }
    }

    pub fn set_rows(&self, rows: Vec<Row>) {
        self.state.lock().unwrap().rows = rows;
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

//! A fake of PagerDuty's Events API v2 (`POST /v2/enqueue`), written from PagerDuty's "Send
//! an Alert Event" reference (no peer exists). It checks an event as PagerDuty documents it
//! (routing key of 32 characters, `event_action` one of trigger, acknowledge or resolve,
//! `dedup_key` at most 255 characters and required but for a trigger, a trigger's `payload`
//! with `summary` of at most 1024 characters, `source`, and `severity` one of critical,
//! error, warning or info; `links` with `href`; `custom_details` an object), answers 400
//! `{"status": "invalid event", "message", "errors"}` when it is not, 202
//! `{"status": "success", "message": "Event processed", "dedup_key"}` when it is, and keeps
//! PagerDuty's incident rules: a trigger opens an incident for a key with none open, or adds
//! to the open one's log; acknowledge and resolve act on the open one and are otherwise
//! dropped. It can also take an event and never answer, as a
//! sender cut off by a crash sees it.

use actix_web::{web, App, HttpResponse};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

pub const ROUTING_KEY: &str = "R0123456789abcdef0123456789abcde";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IncidentState {
    Triggered,
    Acknowledged,
    Resolved,
}

#[derive(Debug, Clone)]
pub struct Incident {
    pub dedup_key: String,
    pub state: IncidentState,
    /// Every event PagerDuty took for it, oldest first.
    pub log: Vec<Value>,
}

#[derive(Default)]
struct State {
    events: Vec<Value>,
    rejected: Vec<(Value, Vec<String>)>,
    incidents: Vec<Incident>,
    hang: bool,
}

pub struct PagerDuty {
    pub url: String,
    state: Arc<Mutex<State>>,
}

/// What PagerDuty would refuse in an event, as its `errors` list.
fn problems(e: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    let text = |v: &Value| v.as_str().map(str::to_string);
    match text(&e["routing_key"]) {
        Some(k) if k.len() == 32 => {}
        _ => errors.push("'routing_key' must be a 32 character integration key".into()),
    }
    let action = text(&e["event_action"]).unwrap_or_default();
    if !["trigger", "acknowledge", "resolve"].contains(&action.as_str()) {
        errors.push("'event_action' is invalid (must be one of: trigger, acknowledge, resolve)".into());
    }
    match &e["dedup_key"] {
        Value::Null if action == "trigger" => {}
        Value::String(k) if !k.is_empty() && k.len() <= 255 => {}
        _ => errors.push("'dedup_key' is required for acknowledge and resolve, and at most 255 characters".into()),
    }
    if action == "trigger" {
        let p = &e["payload"];
        match text(&p["summary"]) {
            Some(s) if !s.is_empty() && s.chars().count() <= 1024 => {}
            _ => errors.push("'payload.summary' is required and at most 1024 characters".into()),
        }
        if text(&p["source"]).is_none_or(|s| s.is_empty()) {
            errors.push("'payload.source' is required".into());
        }
        if !["critical", "error", "warning", "info"].contains(&p["severity"].as_str().unwrap_or("")) {
            errors.push("'payload.severity' is invalid (must be one of: critical, error, warning, info)".into());
        }
        if !(p["custom_details"].is_null() || p["custom_details"].is_object()) {
            errors.push("'payload.custom_details' must be an object".into());
        }
        for optional in ["timestamp", "component", "group", "class"] {
            if !(p[optional].is_null() || p[optional].is_string()) {
                errors.push(format!("'payload.{optional}' must be a string"));
            }
        }
        let links = e["links"].as_array().cloned().unwrap_or_default();
        if links.iter().any(|l| l["href"].as_str().is_none()) {
            errors.push("'links' entries need an 'href'".into());
        }
    }
    errors
}

async fn enqueue(body: web::Bytes, state: web::Data<Arc<Mutex<State>>>) -> HttpResponse {
    let Ok(event) = serde_json::from_slice::<Value>(&body) else {
        return HttpResponse::BadRequest().json(
            json!({"status": "invalid event", "message": "Event object is invalid", "errors": ["Invalid JSON"]}),
        );
    };
    let (answer, hang) = take(event, &mut state.lock().unwrap());
    if hang {
        // The event took effect, but the answer never comes (a sender cut off by a crash).
        tokio::time::sleep(std::time::Duration::from_secs(600)).await;
    }
    answer
}

fn take(event: Value, s: &mut State) -> (HttpResponse, bool) {
    let errors = problems(&event);
    if !errors.is_empty() {
        s.rejected.push((event, errors.clone()));
        let answer = HttpResponse::BadRequest()
            .json(json!({"status": "invalid event", "message": "Event object is invalid", "errors": errors}));
        return (answer, false);
    }
    let key = event["dedup_key"].as_str().map(str::to_string).unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let action = event["event_action"].as_str().unwrap_or_default().to_string();
    s.events.push(event.clone());
    let open = s.incidents.iter_mut().find(|i| i.dedup_key == key && i.state != IncidentState::Resolved);
    match (action.as_str(), open) {
        ("trigger", Some(incident)) => incident.log.push(event),
        ("trigger", None) => {
            s.incidents.push(Incident { dedup_key: key.clone(), state: IncidentState::Triggered, log: vec![event] })
        }
        ("acknowledge", Some(incident)) => {
            incident.state = IncidentState::Acknowledged;
            incident.log.push(event);
        }
        ("resolve", Some(incident)) => {
            incident.state = IncidentState::Resolved;
            incident.log.push(event);
        }
        _ => {} // Nothing open under that key: PagerDuty accepts the event and drops it.
    }
    (
        HttpResponse::Accepted().json(json!({"status": "success", "message": "Event processed", "dedup_key": key})),
        s.hang,
    )
}

impl PagerDuty {
    pub fn start() -> PagerDuty {
        let state = Arc::new(Mutex::new(State::default()));
        let data = web::Data::new(state.clone());
        let url = super::serve(move || App::new().app_data(data.clone()).route("/v2/enqueue", web::post().to(enqueue)));
        PagerDuty { url: format!("{url}/v2/enqueue"), state }
    }

    /// Every accepted event, oldest first.
    pub fn events(&self) -> Vec<Value> {
        self.state.lock().unwrap().events.clone()
    }

    /// Events refused as invalid, with PagerDuty's errors.
    pub fn rejected(&self) -> Vec<(Value, Vec<String>)> {
        self.state.lock().unwrap().rejected.clone()
    }

    pub fn incidents(&self) -> Vec<Incident> {
        self.state.lock().unwrap().incidents.clone()
    }

    pub fn hang(&self, hang: bool) {
        self.state.lock().unwrap().hang = hang;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fake_refuses_what_pagerduty_refuses() {
        let good = json!({"routing_key": ROUTING_KEY, "event_action": "trigger",
            "payload": {"summary": "s", "source": "cg", "severity": "error"}});
        assert!(problems(&good).is_empty());
        let bad = json!({"routing_key": "short", "event_action": "escalate", "dedup_key": "k"});
        assert_eq!(problems(&bad).len(), 2);
        let no_key = json!({"routing_key": ROUTING_KEY, "event_action": "resolve"});
        assert!(problems(&no_key)[0].contains("dedup_key"));
        let bad_severity = json!({"routing_key": ROUTING_KEY, "event_action": "trigger",
            "payload": {"summary": "s", "source": "cg", "severity": "high"}});
        assert!(problems(&bad_severity)[0].contains("severity"));
    }
}

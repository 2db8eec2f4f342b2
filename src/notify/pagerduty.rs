//! PagerDuty's Events API v2 (`POST /v2/enqueue`): one incident per anomaly, its
//! `dedup_key` the anomaly id. An anomaly opening or escalating triggers it (the payload
//! carries the figures, the top root cause and links); a proposal waiting for approval, or
//! an action that failed, triggers it again under the same key, which PagerDuty adds to the
//! open alert's log with the approve link; an approval acknowledges it; the anomaly's
//! mitigation (a verified action) or resolution resolves it.
//!
//! The fields and limits are those of PagerDuty's "Send an Alert Event" reference:
//! `summary` at most 1024 characters, `severity` one of critical, error, warning or info,
//! `dedup_key` at most 255 characters.

use crate::domain::detect::decision::Severity;
use crate::domain::notify::Event;
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventAction {
    Trigger,
    Acknowledge,
    Resolve,
}

impl EventAction {
    pub fn as_str(self) -> &'static str {
        match self {
            EventAction::Trigger => "trigger",
            EventAction::Acknowledge => "acknowledge",
            EventAction::Resolve => "resolve",
        }
    }
}

/// Every event that does something to an incident (all but `ActionSucceeded`).
pub const HEARS: [Event; 7] = [
    Event::AnomalyOpened,
    Event::AnomalyEscalated,
    Event::AnomalyMitigated,
    Event::AnomalyResolved,
    Event::ActionPending,
    Event::ActionApproved,
    Event::ActionFailed,
];

/// What an event does to the anomaly's incident; `None`: nothing (a success is followed by
/// the anomaly's mitigation, which resolves it; a budget's threshold has no incident).
pub fn action(event: Event) -> Option<EventAction> {
    match event {
        Event::AnomalyOpened | Event::AnomalyEscalated | Event::ActionPending | Event::ActionFailed => {
            Some(EventAction::Trigger)
        }
        Event::ActionApproved => Some(EventAction::Acknowledge),
        Event::AnomalyMitigated | Event::AnomalyResolved => Some(EventAction::Resolve),
        // A budget is not a page: its alerts go to chat and mail.
        Event::ActionSucceeded | Event::BudgetThresholdCrossed => None,
    }
}

/// CostGuard's severities on PagerDuty's scale.
pub fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "critical",
        Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low => "info",
    }
}

const SUMMARY_MAX: usize = 1024;

/// The incident's key: the anomaly's id, or for an action proposed without an anomaly, the
/// action's own.
fn dedup_key(payload: &Value) -> Option<&str> {
    payload["anomaly"]["id"].as_str().or(payload["action"]["anomaly_id"].as_str()).or(payload["action"]["id"].as_str())
}

/// The event to send for one message, or `None` when the event does nothing to an incident.
/// `text` is the message's plain text; `source` names this CostGuard (its public host).
pub fn event(routing_key: &str, event: Event, text: &str, payload: &Value, source: &str) -> Option<Value> {
    let action = action(event)?;
    let key = dedup_key(payload)?;
    let mut body = json!({"routing_key": routing_key, "event_action": action.as_str(), "dedup_key": key});
    if action != EventAction::Trigger {
        return Some(body);
    }
    let summary: String = text.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(SUMMARY_MAX).collect();
    let level = payload["severity"].as_str().and_then(Severity::parse).unwrap_or(Severity::Medium);
    let anomaly = &payload["anomaly"];
    body["payload"] = json!({
        "summary": summary,
        "source": source,
        "severity": severity(level),
        "timestamp": payload["at"],
        "component": anomaly["service"],
        "group": anomaly["provider"].as_str().or(payload["action"]["provider"].as_str()),
        "class": event.as_str(),
        "custom_details": details(payload),
    });
    body["links"] = Value::Array(links(payload));
    body["client"] = json!("CostGuard");
    if let Some(url) = anomaly["url"].as_str().or(payload["action"]["url"].as_str()) {
        body["client_url"] = json!(url);
    }
    Some(strip_nulls(body))
}

/// What the responder reads on the alert: the series, the money, the main cause and what
/// CostGuard proposes.
fn details(payload: &Value) -> Value {
    let (anomaly, action) = (&payload["anomaly"], &payload["action"]);
    let money = |amount: &Value| amount.as_str().map(|a| format!("{a} {}", anomaly["currency"].as_str().unwrap_or("")));
    let top_cause = anomaly["root_causes"].get(0).map(|c| {
        format!(
            "{} {} (+{})",
            c["dimension"].as_str().unwrap_or(""),
            c["value"].as_str().unwrap_or(""),
            c["delta"].as_str().unwrap_or("")
        )
    });
    let proposed = action["kind"].as_str().map(|kind| format!("{kind} {}", action["target"].as_str().unwrap_or("")));
    json!({
        "series": anomaly["label"],
        "series_key": anomaly["series_key"],
        "provider": anomaly["provider"],
        "severity": anomaly["severity"],
        "actual": money(&anomaly["actual"]),
        "expected": money(&anomaly["expected"]),
        "projected_per_day": money(&anomaly["projected_daily"]),
        "top_root_cause": top_cause,
        "proposed_action": proposed,
        "action_status": action["status"],
        "approvals_left": action["approvals_left"],
        "reason": payload["reason"],
    })
}

fn links(payload: &Value) -> Vec<Value> {
    let mut links = Vec::new();
    if let Some(url) = payload["anomaly"]["url"].as_str() {
        links.push(json!({"href": url, "text": "The anomaly in CostGuard"}));
    }
    if let Some(url) = payload["action"]["url"].as_str() {
        let text = if payload["event"] == "action_pending" {
            "Approve or reject in CostGuard"
        } else {
            "The action in CostGuard"
        };
        links.push(json!({"href": url, "text": text}));
    }
    links
}

/// PagerDuty rejects some fields when null; absent is what "not known" means there.
fn strip_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            Value::Object(map.into_iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k, strip_nulls(v))).collect())
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opened() -> Value {
        json!({"event": "anomaly_opened", "at": "2026-12-05T02:10:00Z", "severity": "high",
            "anomaly": {"id": "an-1", "label": "Google Cloud / BigQuery", "series_key": "service:Google Cloud:BigQuery",
                "provider": "Google Cloud", "service": "BigQuery", "severity": "high", "actual": "412.50",
                "expected": "20.10", "projected_daily": "9417.60", "currency": "USD", "url": "http://cg/anomalies/an-1",
                "root_causes": [{"dimension": "resource", "value": "proj:US.job_7", "delta": "390.00", "share": 0.97}]}})
    }

    #[test]
    fn an_opening_triggers_one_incident_per_anomaly_with_its_figures() {
        let e = event("R0UT1NGKEY", Event::AnomalyOpened, "🚨 HIGH cost anomaly:\nBigQuery", &opened(), "cg").unwrap();
        assert_eq!((e["event_action"].as_str(), e["dedup_key"].as_str()), (Some("trigger"), Some("an-1")));
        let p = &e["payload"];
        assert_eq!(
            (p["summary"].as_str(), p["severity"].as_str()),
            (Some("🚨 HIGH cost anomaly: BigQuery"), Some("error"))
        );
        assert_eq!(p["custom_details"]["projected_per_day"], "9417.60 USD");
        assert_eq!(p["custom_details"]["top_root_cause"], "resource proj:US.job_7 (+390.00)");
        assert!(p["custom_details"].get("proposed_action").is_none(), "no null fields");
        assert_eq!(e["links"][0]["href"], "http://cg/anomalies/an-1");
    }

    #[test]
    fn approval_acknowledges_and_mitigation_resolves_the_same_incident() {
        let approved = json!({"event": "action_approved", "action": {"id": "ac-9", "anomaly_id": "an-1"},
            "anomaly": {"id": "an-1"}});
        let ack = event("K", Event::ActionApproved, "x", &approved, "cg").unwrap();
        assert_eq!(ack, json!({"routing_key": "K", "event_action": "acknowledge", "dedup_key": "an-1"}));
        let resolve = event("K", Event::AnomalyMitigated, "x", &opened(), "cg").unwrap();
        assert_eq!((resolve["event_action"].as_str(), resolve["dedup_key"].as_str()), (Some("resolve"), Some("an-1")));
        assert!(event("K", Event::ActionSucceeded, "x", &approved, "cg").is_none());
        for e in Event::ALL {
            assert_eq!(HEARS.contains(&e), action(e).is_some(), "{e}");
        }
    }

    #[test]
    fn a_proposal_adds_the_approve_link_and_summaries_stay_within_the_limit() {
        let mut pending = opened();
        pending["event"] = json!("action_pending");
        pending["action"] = json!({"id": "ac-9", "kind": "cancel_bigquery_job", "target": "proj:US.job_7",
            "url": "http://cg/actions/ac-9", "approvals_left": 1});
        let e = event("K", Event::ActionPending, &"long ".repeat(400), &pending, "cg").unwrap();
        assert_eq!(e["links"][1], json!({"href": "http://cg/actions/ac-9", "text": "Approve or reject in CostGuard"}));
        assert_eq!(e["payload"]["custom_details"]["proposed_action"], "cancel_bigquery_job proj:US.job_7");
        assert_eq!(e["payload"]["summary"].as_str().unwrap().chars().count(), SUMMARY_MAX);
        assert_eq!(severity(Severity::Low), "info");
    }
}

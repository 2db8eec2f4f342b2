//! Microsoft Teams: a message with one Adaptive Card attachment, the shape that Teams'
//! Workflows "post to a channel when a webhook request is received" and the older incoming
//! webhooks both accept. The card is the message text, the figures as a fact set, and an
//! "Open in CostGuard" button (approving happens there, signed in).

use serde_json::{json, Value};

/// Version 1.4 is what Teams renders on every client.
const CARD_VERSION: &str = "1.4";

/// The webhook body for one message; `text` is the rendered template in card Markdown.
pub fn message(text: &str, payload: &Value) -> Value {
    let mut lines = text.lines();
    let title = lines.next().unwrap_or("");
    let rest = lines.collect::<Vec<_>>().join("\n\n");
    let mut body =
        vec![json!({"type": "TextBlock", "text": title, "weight": "Bolder", "size": "Medium", "wrap": true})];
    if !rest.trim().is_empty() {
        body.push(json!({"type": "TextBlock", "text": rest, "wrap": true}));
    }
    let facts = facts(payload);
    if !facts.is_empty() {
        body.push(json!({"type": "FactSet", "facts": facts}));
    }
    let mut card = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "body": body,
    });
    if let Some(url) = super::subject_link(payload) {
        card["actions"] = json!([{"type": "Action.OpenUrl", "title": "Open in CostGuard", "url": url}]);
    }
    json!({
        "type": "message",
        "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": null, "content": card}],
    })
}

/// The figures people decide on, those the payload has.
fn facts(payload: &Value) -> Vec<Value> {
    let (anomaly, action) = (&payload["anomaly"], &payload["action"]);
    let currency = anomaly["currency"].as_str().unwrap_or("");
    let text = |v: &Value| v.as_str().map(str::to_string).or_else(|| v.as_i64().map(|n| n.to_string()));
    let candidates = [
        ("Severity", text(&payload["severity"])),
        ("Series", text(&anomaly["label"])),
        (
            "Spend",
            text(&anomaly["actual"])
                .map(|a| format!("{a} {currency} against {} expected", anomaly["expected"].as_str().unwrap_or("?"))),
        ),
        ("Projected per day", text(&anomaly["projected_daily"]).map(|p| format!("{p} {currency}"))),
        (
            "Main cause",
            anomaly["root_causes"]
                .get(0)
                .map(|c| format!("{} {}", c["dimension"].as_str().unwrap_or(""), c["value"].as_str().unwrap_or(""))),
        ),
        (
            "Action",
            action["kind"]
                .as_str()
                .map(|k| format!("{} {}", k.replace('_', " "), action["target"].as_str().unwrap_or(""))),
        ),
        ("Risk", text(&action["risk"])),
        ("Approvals needed", text(&action["approvals_left"])),
    ];
    candidates.into_iter().filter_map(|(title, value)| value.map(|v| json!({"title": title, "value": v}))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proposal_is_a_card_with_its_facts_and_a_link() {
        let payload = json!({"severity": "high", "anomaly": {"label": "AWS / EC2", "actual": "90.00", "expected": "10.00",
            "currency": "USD", "url": "http://cg/anomalies/1"},
            "action": {"kind": "stop_ec2_instance", "target": "i-0abc", "risk": "medium", "approvals_left": 1,
                "url": "http://cg/actions/2"}});
        let m = message("✋ **Approval needed**\nSaves about 3 an hour.", &payload);
        assert_eq!(m["type"], "message");
        let attachment = &m["attachments"][0];
        assert_eq!(attachment["contentType"], "application/vnd.microsoft.card.adaptive");
        let card = &attachment["content"];
        assert_eq!((card["type"].as_str(), card["version"].as_str()), (Some("AdaptiveCard"), Some("1.4")));
        assert_eq!(card["body"][0]["text"], "✋ **Approval needed**");
        let facts = card["body"][2]["facts"].as_array().unwrap();
        let titles: Vec<&str> = facts.iter().map(|f| f["title"].as_str().unwrap()).collect();
        assert_eq!(titles, ["Severity", "Series", "Spend", "Action", "Risk", "Approvals needed"]);
        assert_eq!(facts[3]["value"], "stop ec2 instance i-0abc");
        assert_eq!(
            card["actions"][0],
            json!({"type": "Action.OpenUrl", "title": "Open in CostGuard", "url": "http://cg/actions/2"})
        );
    }
}

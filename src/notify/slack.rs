//! Slack: Block Kit messages for incoming webhooks, with Approve and Reject buttons on
//! actions that wait for approval (the clicks come back to `web::slack`), and the message
//! that replaces the original once someone decided.

use crate::domain::notify::Event;
use serde_json::{json, Value};

/// Button action ids; the button's value is the CostGuard action id.
pub const APPROVE: &str = "costguard_approve";
pub const REJECT: &str = "costguard_reject";

/// Slack's mrkdwn treats `&`, `<` and `>` as control characters; user data must not.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// The payload with every string escaped for mrkdwn, to render templates into.
pub fn escaped(payload: &Value) -> Value {
    super::markup::escaped(payload, &escape)
}

/// The incoming-webhook message for one notification; `text` is the rendered template.
pub fn message(event: Event, text: &str, payload: &Value) -> Value {
    let mut blocks = vec![json!({"type": "section", "text": {"type": "mrkdwn", "text": text}})];
    let open = super::subject_link(payload).map(|url| {
        json!({"type": "button", "action_id": "costguard_open", "text": {"type": "plain_text", "text": "Open in CostGuard"}, "url": url})
    });
    match (event, payload["action"]["id"].as_str()) {
        (Event::ActionPending, Some(id)) => {
            // A notify-only item changes nothing: it is acknowledged, not approved.
            let verb = if payload["action"]["kind"] == "notify_only" { "Acknowledge" } else { "Approve" };
            let mut buttons = vec![
                json!({"type": "button", "action_id": APPROVE, "style": "primary", "value": id,
                    "text": {"type": "plain_text", "text": verb},
                    "confirm": {"title": {"type": "plain_text", "text": format!("{verb} this?")},
                        "text": {"type": "mrkdwn", "text": "CostGuard will run it once enough people approved."},
                        "confirm": {"type": "plain_text", "text": verb}, "deny": {"type": "plain_text", "text": "Cancel"}}}),
                json!({"type": "button", "action_id": REJECT, "style": "danger", "value": id,
                    "text": {"type": "plain_text", "text": "Reject"}}),
            ];
            buttons.extend(open);
            blocks.push(json!({"type": "actions", "block_id": "costguard_decision", "elements": buttons}));
        }
        _ => blocks.extend(open.map(|b| json!({"type": "actions", "elements": [b]}))),
    }
    json!({"text": text, "blocks": blocks})
}

/// What replaces an approval message once someone clicked: the original text, the outcome,
/// and no buttons left to click unless more approvals are needed.
pub fn decided(original: &Value, outcome: &str, still_pending: bool) -> Value {
    let text = original["blocks"][0]["text"]["text"].as_str().or(original["text"].as_str()).unwrap_or("").to_string();
    let mut blocks = vec![
        json!({"type": "section", "text": {"type": "mrkdwn", "text": text}}),
        json!({"type": "context", "elements": [{"type": "mrkdwn", "text": escape(outcome)}]}),
    ];
    if still_pending {
        if let Some(buttons) = original["blocks"].as_array().and_then(|b| b.iter().find(|b| b["type"] == "actions")) {
            blocks.push(buttons.clone());
        }
    }
    json!({"replace_original": true, "text": format!("{text}\n{outcome}"), "blocks": blocks})
}

/// Records a verified interactivity request's signature; false when it was already seen
/// within the replay window (a replay: Slack never sends the same signature twice). Rows
/// older than the window are dropped on the way, so the table stays as small as a window of
/// clicks.
pub fn first_sighting(
    conn: &mut crate::db::DbConn,
    signature: &str,
    now_secs: i64,
    window_secs: i64,
) -> diesel::QueryResult<bool> {
    use crate::db::schema::slack_requests_seen as seen;
    use diesel::prelude::*;
    crate::db::write_transaction(conn, |c| {
        diesel::delete(seen::table.filter(seen::seen_at.lt(now_secs - window_secs))).execute(c)?;
        // One statement decides, so two copies arriving at once cannot both pass.
        let row = (seen::signature.eq(signature), seen::seen_at.eq(now_secs));
        let inserted = crate::per_backend!(c, |inner| diesel::insert_into(seen::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(inner))?;
        Ok(inserted == 1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approval_messages_carry_both_buttons_with_the_action_id() {
        let payload = json!({"action": {"id": "a-1", "url": "http://cg/actions/a-1"}});
        let m = message(Event::ActionPending, "*Approval needed*", &payload);
        let buttons = m["blocks"][1]["elements"].as_array().unwrap();
        let ids: Vec<&str> = buttons.iter().map(|b| b["action_id"].as_str().unwrap()).collect();
        assert_eq!(ids, [APPROVE, REJECT, "costguard_open"]);
        assert!(buttons[..2].iter().all(|b| b["value"] == "a-1"));
        let info = message(Event::AnomalyOpened, "x", &json!({"anomaly": {"url": "http://cg/anomalies/1"}}));
        assert_eq!(info["blocks"][1]["elements"][0]["url"], "http://cg/anomalies/1");
        assert_eq!(info["blocks"].as_array().unwrap().len(), 2, "no decision buttons");
    }

    #[test]
    fn user_text_cannot_inject_links_or_mentions() {
        let v = escaped(&json!({"label": "<!channel> & <http://evil|click>", "n": 3}));
        assert_eq!(v["label"], "&lt;!channel&gt; &amp; &lt;http://evil|click&gt;");
        assert_eq!(v["n"], 3);
    }

    #[test]
    fn a_decided_message_keeps_its_text_and_drops_the_buttons_when_done() {
        let original = message(Event::ActionPending, "*Approval needed*", &json!({"action": {"id": "a"}}));
        let done = decided(&original, "Approved by alice", false);
        assert_eq!(done["replace_original"], true);
        assert_eq!(done["blocks"][0]["text"]["text"], "*Approval needed*");
        assert_eq!(done["blocks"].as_array().unwrap().len(), 2);
        let more = decided(&original, "Approved by alice; 1 more needed", true);
        assert_eq!(more["blocks"][2]["type"], "actions");
    }
}

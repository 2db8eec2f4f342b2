//! The generic webhook: the payload as JSON, signed so receivers can trust it.
//!
//! Headers: `X-CostGuard-Event` (e.g. `action_pending`), `X-CostGuard-Delivery` (the message
//! id: the same on every retry, so receivers can drop repeats), `X-CostGuard-Timestamp`
//! (Unix seconds) and `X-CostGuard-Signature: sha256=<hex HMAC-SHA256 of "{timestamp}.{body}">`.

use crate::domain::notify::webhook_signature;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

/// The body: the stored payload plus the message id and its rendered text.
pub fn body(id: &str, text: &str, payload: &Value) -> Value {
    let mut body = payload.clone();
    body["id"] = json!(id);
    body["text"] = json!(text);
    body
}

/// The headers that sign `body` with `secret` at `now`.
pub fn headers(id: &str, event: &str, secret: &[u8], body: &[u8], now: DateTime<Utc>) -> Vec<(&'static str, String)> {
    let timestamp = now.timestamp().to_string();
    vec![
        ("x-costguard-event", event.to_string()),
        ("x-costguard-delivery", id.to_string()),
        ("x-costguard-signature", webhook_signature(secret, &timestamp, body)),
        ("x-costguard-timestamp", timestamp),
    ]
}

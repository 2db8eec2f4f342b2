//! Resources an assistant may read: the open anomalies, and one anomaly by id (a template).
//! Each is the answer of the matching tool, as JSON.

use super::rpc::{RpcError, RESOURCE_NOT_FOUND};
use super::tools::{call, Outcome};
use crate::state::AppState;
use crate::web::auth::Caller;
use actix_web::web;
use serde_json::{json, Value};

const OPEN: &str = "costguard://anomalies/open";
const ANOMALY: &str = "costguard://anomaly/";

pub fn listed() -> Vec<Value> {
    vec![json!({"uri": OPEN, "name": "open-anomalies", "title": "Open anomalies",
        "description": "Every open cost anomaly, worst first, with actual against expected.", "mimeType": "application/json"})]
}

pub fn templates() -> Vec<Value> {
    vec![json!({"uriTemplate": format!("{ANOMALY}{{id}}"), "name": "anomaly", "title": "One anomaly",
        "description": "An anomaly with its band, root causes, timeline and what its actions recovered.", "mimeType": "application/json"})]
}

pub async fn read(state: &web::Data<AppState>, caller: &Caller, uri: &str) -> Result<Value, RpcError> {
    let (tool, args) = match uri.strip_prefix(ANOMALY) {
        Some(id) if !id.is_empty() && !id.contains('/') => ("get_anomaly", json!({ "id": id })),
        _ if uri == OPEN => ("list_anomalies", json!({ "state": "open" })),
        _ => return Err(not_found(uri)),
    };
    match call(state, caller, tool, &args).await? {
        Outcome::Done(value) => {
            Ok(json!({ "contents": [{ "uri": uri, "mimeType": "application/json", "text": value.to_string() }] }))
        }
        Outcome::Refused(_) => Err(not_found(uri)),
    }
}

fn not_found(uri: &str) -> RpcError {
    RpcError { code: RESOURCE_NOT_FOUND, message: format!("no resource {uri}"), data: Some(json!({ "uri": uri })) }
}

//! JSON-RPC 2.0 as MCP uses it: one request (or notification) per POST, an answer with the
//! same id, and the standard error codes. Pure: no I/O.

use serde_json::{json, Value};

pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const METHOD_NOT_FOUND: i64 = -32601;
pub const INVALID_PARAMS: i64 = -32602;
pub const INTERNAL_ERROR: i64 = -32603;
/// MCP's code for a resource that does not exist.
pub const RESOURCE_NOT_FOUND: i64 = -32002;
/// Server-defined: too many calls for this key in the window.
pub const RATE_LIMITED: i64 = -32029;

/// One message from the client.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// None for a notification, which gets no answer.
    pub id: Option<Value>,
    pub method: String,
    pub params: Value,
}

/// A JSON-RPC error: code, message and, for bad arguments, the field at fault.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    pub data: Option<Value>,
}

impl RpcError {
    pub fn new(code: i64, message: impl Into<String>) -> RpcError {
        RpcError { code, message: message.into(), data: None }
    }

    /// Invalid params naming the field: `data` is `{"field": ..., "message": ...}`.
    pub fn field(field: &str, message: impl Into<String>) -> RpcError {
        let message = message.into();
        RpcError {
            code: INVALID_PARAMS,
            message: format!("{field}: {message}"),
            data: Some(json!({ "field": field, "message": message })),
        }
    }
}

/// Reads one message; a batch (JSON array) is refused, as the current protocol has none.
pub fn parse(body: &[u8]) -> Result<Request, (Value, RpcError)> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| (Value::Null, RpcError::new(PARSE_ERROR, format!("the body is not JSON: {e}"))))?;
    let Some(object) = value.as_object() else {
        return Err((
            Value::Null,
            RpcError::new(INVALID_REQUEST, "send one JSON-RPC object (batches are not supported)"),
        ));
    };
    let id = object.get("id").cloned();
    let invalid = |why: &str| Err((id.clone().unwrap_or(Value::Null), RpcError::new(INVALID_REQUEST, why)));
    if object.get("jsonrpc") != Some(&json!("2.0")) {
        return invalid("jsonrpc must be \"2.0\"");
    }
    if id.as_ref().is_some_and(|i| !(i.is_string() || i.is_i64() || i.is_u64())) {
        return invalid("id must be a string or an integer");
    }
    let Some(method) = object.get("method").and_then(Value::as_str) else {
        // A client's answer to a server request: this server sends none.
        return invalid("method is required");
    };
    let params = object.get("params").cloned().unwrap_or_else(|| json!({}));
    if !params.is_object() {
        return invalid("params must be an object");
    }
    Ok(Request { id, method: method.to_string(), params })
}

pub fn result(id: &Value, result: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "result": result })
}

pub fn error(id: &Value, e: &RpcError) -> Value {
    let mut error = json!({ "code": e.code, "message": e.message });
    if let Some(data) = &e.data {
        error["data"] = data.clone();
    }
    json!({ "jsonrpc": "2.0", "id": id, "error": error })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_notifications_and_malformed_messages() {
        let r = parse(br#"{"jsonrpc":"2.0","id":7,"method":"tools/list"}"#).unwrap();
        assert_eq!((r.id, r.method.as_str(), r.params), (Some(json!(7)), "tools/list", json!({})));
        let n = parse(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).unwrap();
        assert_eq!(n.id, None);
        assert_eq!(parse(b"{").unwrap_err().1.code, PARSE_ERROR);
        assert_eq!(parse(b"[]").unwrap_err().1.code, INVALID_REQUEST);
        assert_eq!(parse(br#"{"jsonrpc":"1.0","id":1,"method":"x"}"#).unwrap_err().1.code, INVALID_REQUEST);
        assert_eq!(
            parse(br#"{"jsonrpc":"2.0","id":1,"method":"x","params":[1]}"#).unwrap_err().1.code,
            INVALID_REQUEST
        );
        let e = RpcError::field("granularity", "'week' is not hour, day or month");
        assert_eq!(error(&json!(1), &e)["error"]["data"]["field"], "granularity");
    }
}

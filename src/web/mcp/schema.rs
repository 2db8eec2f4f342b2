//! The tools' input schemas (JSON Schema, as `tools/list` shows them) and the check of a
//! call's arguments against them, naming the field at fault: an unknown field, a missing one,
//! a wrong type or a value off its list. Pure.

use super::rpc::RpcError;
use serde_json::{json, Map, Value};

/// An object schema with these properties (name, JSON type, description, allowed values).
pub fn object(properties: &[(&str, &str, &str, &[&str])], required: &[&str]) -> Value {
    let mut props = Map::new();
    for (name, kind, description, allowed) in properties {
        let mut p = json!({ "type": kind, "description": description });
        if !allowed.is_empty() {
            p["enum"] = json!(allowed);
        }
        props.insert((*name).to_string(), p);
    }
    json!({ "type": "object", "properties": props, "required": required, "additionalProperties": false })
}

/// Checks `args` against an [`object`] schema.
pub fn check(schema: &Value, args: &Value) -> Result<(), RpcError> {
    let Some(args) = args.as_object() else { return Err(RpcError::field("arguments", "must be an object")) };
    let props = schema["properties"].as_object().cloned().unwrap_or_default();
    if let Some(unknown) = args.keys().find(|k| !props.contains_key(*k)) {
        let known: Vec<&str> = props.keys().map(String::as_str).collect();
        return Err(RpcError::field(
            unknown,
            format!("is not an argument of this tool (it takes {})", known.join(", ")),
        ));
    }
    for required in schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str) {
        if args.get(required).is_none_or(Value::is_null) {
            return Err(RpcError::field(required, "is required"));
        }
    }
    for (name, value) in args.iter().filter(|(_, v)| !v.is_null()) {
        let p = &props[name];
        let fits = match p["type"].as_str() {
            Some("string") => value.is_string(),
            Some("integer") => value.is_i64() || value.is_u64(),
            Some("boolean") => value.is_boolean(),
            _ => true,
        };
        if !fits {
            return Err(RpcError::field(name, format!("must be a {}", p["type"].as_str().unwrap_or("value"))));
        }
        if let Some(allowed) = p["enum"].as_array() {
            if !allowed.contains(value) {
                let list: Vec<&str> = allowed.iter().filter_map(Value::as_str).collect();
                return Err(RpcError::field(name, format!("{value} is not one of {}", list.join(", "))));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_checked_naming_the_field() {
        let s = object(
            &[("id", "string", "the id", &[]), ("limit", "integer", "", &[]), ("on", "string", "", &["a", "b"])],
            &["id"],
        );
        assert!(check(&s, &json!({"id": "x", "limit": 5, "on": "a"})).is_ok());
        let field = |args: Value| check(&s, &args).unwrap_err().data.unwrap()["field"].as_str().unwrap().to_string();
        assert_eq!(field(json!({"limit": 5})), "id");
        assert_eq!(field(json!({"id": "x", "colour": 1})), "colour");
        assert_eq!(field(json!({"id": "x", "limit": "5"})), "limit");
        assert_eq!(field(json!({"id": "x", "on": "c"})), "on");
        assert_eq!(field(json!([1])), "arguments");
    }
}

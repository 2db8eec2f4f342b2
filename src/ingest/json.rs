//! JSON intake: FOCUS-named objects and LLM usage objects, validated with their index.
//!
//! Numbers keep their exact text (serde_json's `arbitrary_precision`), so a cost sent as
//! a JSON number such as 0.00001605990 is not rounded through a float.

use crate::domain::focus::{CostRecord, FieldError};
use crate::domain::llm::{LlmFieldError, LlmUsage, LlmUsageInput};
use serde_json::Value;
use std::collections::BTreeMap;

/// Why a JSON record was refused: its index in the array, the field and the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("record {index}: {field}: {problem}")]
pub struct RecordError {
    pub index: usize,
    pub field: String,
    pub problem: String,
}

fn cell(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        // Tags arrive as an object; the FOCUS parser reads its JSON text.
        other => Some(other.to_string()),
    }
}

/// Parses an array of FOCUS objects; the first bad record stops everything.
pub fn cost_records(items: &[Value]) -> Result<Vec<CostRecord>, RecordError> {
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let object = item.as_object().ok_or_else(|| RecordError {
                index,
                field: "-".into(),
                problem: "each record must be a JSON object".into(),
            })?;
            let row: BTreeMap<String, String> =
                object.iter().filter_map(|(k, v)| cell(v).map(|c| (k.clone(), c))).collect();
            CostRecord::parse(&row).map_err(|FieldError { column, problem }| RecordError {
                index,
                field: column.to_string(),
                problem,
            })
        })
        .collect()
}

/// Parses an array of LLM usage objects.
pub fn llm_usage(items: &[Value]) -> Result<Vec<LlmUsage>, RecordError> {
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let bad = |field: &str, problem: &str| RecordError {
                index,
                field: field.to_string(),
                problem: problem.to_string(),
            };
            let object = item.as_object().ok_or_else(|| bad("-", "each record must be a JSON object"))?;
            const KNOWN: &[&str] = &[
                "provider",
                "model",
                "api_key_id",
                "api_key_name",
                "project_id",
                "bucket_start",
                "bucket_end",
                "input_tokens",
                "cached_input_tokens",
                "output_tokens",
                "requests",
                "cost",
                "currency",
            ];
            if let Some(unknown) = object.keys().find(|k| !KNOWN.contains(&k.as_str())) {
                return Err(bad(unknown, "unknown field"));
            }
            let text = |k: &str| object.get(k).and_then(cell);
            let count = |k: &'static str| -> Result<Option<i64>, RecordError> {
                match object.get(k) {
                    None | Some(Value::Null) => Ok(None),
                    Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| bad(k, "must be a whole number")),
                    Some(_) => Err(bad(k, "must be a whole number")),
                }
            };
            let input = LlmUsageInput {
                provider: text("provider"),
                model: text("model"),
                api_key_id: text("api_key_id"),
                api_key_name: text("api_key_name"),
                project_id: text("project_id"),
                bucket_start: text("bucket_start"),
                bucket_end: text("bucket_end"),
                input_tokens: count("input_tokens")?,
                cached_input_tokens: count("cached_input_tokens")?,
                output_tokens: count("output_tokens")?,
                requests: count("requests")?,
                cost: text("cost"),
                currency: text("currency"),
            };
            LlmUsage::parse(input).map_err(|LlmFieldError { field, problem }| RecordError {
                index,
                field: field.to_string(),
                problem,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record() -> Value {
        serde_json::from_str(
            r#"{"BilledCost": 0.00001605990, "EffectiveCost": "1.5", "BillingAccountId": "A", "BillingCurrency": "USD",
                "BillingPeriodStart": "2024-09-01", "BillingPeriodEnd": "2024-10-01", "ChargeCategory": "Usage",
                "ChargePeriodStart": "2024-09-30T22:00:00Z", "ChargePeriodEnd": "2024-09-30T23:00:00Z",
                "ProviderName": "AWS", "ServiceName": "EC2", "Tags": {"team": "data"}, "ChargeClass": null}"#,
        )
        .unwrap()
    }

    #[test]
    fn numbers_stay_exact_and_tags_objects_are_read() {
        let recs = cost_records(&[record()]).unwrap();
        assert_eq!(recs[0].billed_cost.units(), 1_605_990);
        assert_eq!(recs[0].tags.get("team"), Some("data"));
    }

    #[test]
    fn errors_name_the_index_and_field() {
        let mut bad = record();
        bad["BilledCost"] = json!("lots");
        let err = cost_records(&[record(), bad]).unwrap_err();
        assert_eq!((err.index, err.field.as_str()), (1, "BilledCost"));
        let err = llm_usage(&[json!({"provider": "openai", "model": "m", "bucket_start": "2026-01-01", "bucket_end": "2026-01-02", "input_tokens": 1.5})]).unwrap_err();
        assert_eq!(err.field, "input_tokens");
        let err = llm_usage(&[json!({"provider": "openai", "modle": "m"})]).unwrap_err();
        assert_eq!(err.field, "modle");
    }
}

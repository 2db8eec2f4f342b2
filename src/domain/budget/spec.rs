//! A budget's definition, validated on parse from JSON (the API's body, and config.toml's
//! `[[budgets]]` turned into JSON): every refusal names the field at fault, down to
//! `thresholds[1].on`.

use super::scope::{Scope, TagValue};
use super::{Basis, Period, Threshold};
use crate::domain::money::{format_scaled, parse_scaled, Currency, Total, SCALE, UNITS_PER_WHOLE};
use serde_json::{Map, Value};

/// The longest name, and the longest value of a scope's field.
pub const NAME_MAX: usize = 100;
pub const SCOPE_FIELD_MAX: usize = 200;
/// Thresholds a budget may have, and the largest percentage one may name.
pub const THRESHOLDS_MAX: usize = 20;
pub const PERCENT_MAX: u32 = 1_000;
/// The largest amount, in whole currency units (a quadrillion, exact in the ledger's scale).
pub const AMOUNT_MAX_WHOLE: i128 = 1_000_000_000_000_000;

/// What a budget is: its name, amount, currency, period, scope and thresholds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetSpec {
    pub name: String,
    pub amount: Total,
    pub currency: Currency,
    pub period: Period,
    pub scope: Scope,
    pub thresholds: Vec<Threshold>,
}

/// A refusal naming its field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct SpecError {
    pub field: String,
    pub message: String,
}

fn refuse<T>(field: impl Into<String>, message: impl Into<String>) -> Result<T, SpecError> {
    Err(SpecError { field: field.into(), message: message.into() })
}

/// Alerts a budget gets when none are listed: 80 % and 100 % of the forecast, 100 % spent.
pub fn default_thresholds() -> Vec<Threshold> {
    vec![
        Threshold { percent: 80, on: Basis::Forecast },
        Threshold { percent: 100, on: Basis::Forecast },
        Threshold { percent: 100, on: Basis::Actual },
    ]
}

impl BudgetSpec {
    pub fn parse(body: &Value) -> Result<BudgetSpec, SpecError> {
        let object = as_object(body, "body")?;
        only(object, "", &["name", "amount", "currency", "period", "scope", "thresholds"])?;
        let name = text(object, "name", "name", NAME_MAX)?.ok_or(()).or_else(|_| refuse("name", "is required"))?;
        let amount = amount(object.get("amount"))?;
        let currency = match object.get("currency") {
            Some(Value::String(s)) => Currency::parse(s)
                .or_else(|_| refuse("currency", format!("'{s}' is not a three-letter ISO 4217 code")))?,
            Some(_) => return refuse("currency", "must be a string such as \"USD\""),
            None => return refuse("currency", "is required"),
        };
        let period = match object.get("period") {
            None | Some(Value::Null) => Period::Month,
            Some(Value::String(s)) => Period::parse(s)
                .ok_or(())
                .or_else(|_| refuse("period", format!("'{s}' is not month, quarter or year")))?,
            Some(_) => return refuse("period", "must be month, quarter or year"),
        };
        let scope = scope(object.get("scope"))?;
        let thresholds = thresholds(object.get("thresholds"))?;
        Ok(BudgetSpec { name, amount, currency, period, scope, thresholds })
    }

    /// The definition as the API shows it (and `parse` reads back).
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "name": self.name,
            "amount": format_scaled(self.amount.units(), SCALE),
            "currency": self.currency,
            "period": self.period,
            "scope": self.scope,
            "thresholds": self.thresholds,
        })
    }
}

fn as_object<'a>(v: &'a Value, field: &str) -> Result<&'a Map<String, Value>, SpecError> {
    v.as_object().ok_or(()).or_else(|_| refuse(field, "must be a JSON object"))
}

/// Refuses a field the object does not take, naming it under `prefix`.
fn only(object: &Map<String, Value>, prefix: &str, known: &[&str]) -> Result<(), SpecError> {
    match object.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => refuse(format!("{prefix}{k}"), format!("is not a field here (known: {})", known.join(", "))),
        None => Ok(()),
    }
}

/// An optional text field: trimmed, 1 to `max` characters, no control characters.
fn text(object: &Map<String, Value>, key: &str, field: &str, max: usize) -> Result<Option<String>, SpecError> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(raw)) => {
            let s = raw.trim();
            // The raw length, as the document's maxLength counts it, spaces around included.
            if s.is_empty() || raw.chars().count() > max {
                refuse(field, format!("must be 1 to {max} characters"))
            } else if s.chars().any(char::is_control) {
                refuse(field, "must not hold control characters")
            } else {
                Ok(Some(s.to_string()))
            }
        }
        Some(_) => refuse(field, "must be a string"),
    }
}

fn amount(v: Option<&Value>) -> Result<Total, SpecError> {
    let text = match v {
        Some(Value::String(s)) => s.trim(),
        Some(Value::Number(_)) => {
            return refuse("amount", "must be a decimal string such as \"25000.00\", not a number")
        }
        Some(_) => return refuse("amount", "must be a decimal string such as \"25000.00\""),
        None => return refuse("amount", "is required"),
    };
    let plain = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    let decimals = text.split_once('.').map_or(0, |(_, d)| d.len());
    let units = parse_scaled(text, SCALE).filter(|_| plain && decimals <= SCALE as usize);
    match units {
        Some(u) if u > 0 && u <= AMOUNT_MAX_WHOLE * i128::from(UNITS_PER_WHOLE) => Ok(Total::from_units(u)),
        Some(_) => refuse("amount", format!("must be more than 0 and at most {AMOUNT_MAX_WHOLE}")),
        None => refuse("amount", format!("'{text}' is not a plain decimal with at most {SCALE} decimals")),
    }
}

fn scope(v: Option<&Value>) -> Result<Scope, SpecError> {
    let object = match v {
        None | Some(Value::Null) => return Ok(Scope::default()),
        Some(v) => as_object(v, "scope")?,
    };
    only(object, "scope.", &["provider", "sub_account", "service", "tag", "llm_key"])?;
    let field = |key: &str| text(object, key, &format!("scope.{key}"), SCOPE_FIELD_MAX);
    let tag = match object.get("tag") {
        None | Some(Value::Null) => None,
        Some(v) => {
            let t = as_object(v, "scope.tag")?;
            only(t, "scope.tag.", &["key", "value"])?;
            let part = |key: &str| {
                text(t, key, &format!("scope.tag.{key}"), SCOPE_FIELD_MAX)?
                    .ok_or(())
                    .or_else(|_| refuse(format!("scope.tag.{key}"), "is required"))
            };
            Some(TagValue { key: part("key")?, value: part("value")? })
        }
    };
    let scope = Scope {
        provider: field("provider")?,
        sub_account: field("sub_account")?,
        service: field("service")?,
        tag,
        llm_key: field("llm_key")?,
    };
    match scope.conflict() {
        Some((field, why)) => refuse(field, why),
        None => Ok(scope),
    }
}

fn thresholds(v: Option<&Value>) -> Result<Vec<Threshold>, SpecError> {
    let items = match v {
        None | Some(Value::Null) => return Ok(default_thresholds()),
        Some(Value::Array(items)) => items,
        Some(_) => return refuse("thresholds", "must be a list of {\"percent\", \"on\"}"),
    };
    if items.len() > THRESHOLDS_MAX {
        return refuse("thresholds", format!("at most {THRESHOLDS_MAX} thresholds"));
    }
    let mut out: Vec<Threshold> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = |key: &str| format!("thresholds[{i}]{key}");
        let t = as_object(item, &at(""))?;
        only(t, &at("."), &["percent", "on"])?;
        let percent = match t.get("percent").and_then(Value::as_u64) {
            Some(p) if (1..=u64::from(PERCENT_MAX)).contains(&p) => p as u32,
            _ => return refuse(at(".percent"), format!("must be a whole number from 1 to {PERCENT_MAX}")),
        };
        let on = match t.get("on").and_then(Value::as_str) {
            Some("actual") => Basis::Actual,
            Some("forecast") => Basis::Forecast,
            _ => return refuse(at(".on"), "must be actual or forecast"),
        };
        let threshold = Threshold { percent, on };
        if out.contains(&threshold) {
            return refuse(at(""), "is listed twice");
        }
        out.push(threshold);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field_of(body: Value) -> String {
        BudgetSpec::parse(&body).unwrap_err().field
    }

    #[test]
    fn a_full_body_parses_and_shows_back_the_same() {
        let body = json!({"name": " Data team ", "amount": "25000.50", "currency": "usd", "period": "quarter",
            "scope": {"tag": {"key": "team", "value": "data"}},
            "thresholds": [{"percent": 50, "on": "actual"}, {"percent": 100, "on": "forecast"}]});
        let spec = BudgetSpec::parse(&body).unwrap();
        assert_eq!((spec.name.as_str(), spec.currency.as_str(), spec.period), ("Data team", "USD", Period::Quarter));
        assert_eq!(spec.amount, Total::from_units(2_500_050 * i128::from(UNITS_PER_WHOLE) / 100));
        assert_eq!(spec.thresholds[1], Threshold { percent: 100, on: Basis::Forecast });
        assert_eq!(BudgetSpec::parse(&spec.to_json()).unwrap(), spec);
        let minimal = BudgetSpec::parse(&json!({"name": "all", "amount": "10", "currency": "EUR"})).unwrap();
        assert_eq!(
            (minimal.period, minimal.scope.clone(), minimal.thresholds),
            (Period::Month, Scope::default(), default_thresholds())
        );
    }

    #[test]
    fn every_refusal_names_its_field() {
        let ok = json!({"name": "n", "amount": "1", "currency": "USD"});
        let with = |key: &str, v: Value| {
            let mut b = ok.clone();
            b[key] = v;
            field_of(b)
        };
        assert_eq!(field_of(json!([])), "body");
        assert_eq!(with("colour", json!("red")), "colour");
        assert_eq!(field_of(json!({"amount": "1", "currency": "USD"})), "name");
        assert_eq!(with("name", json!("  ")), "name");
        assert_eq!(with("name", json!(format!("\n{}", "x".repeat(NAME_MAX)))), "name", "counted with its spaces");
        assert_eq!(with("amount", json!(100)), "amount");
        assert_eq!(with("amount", json!("-5")), "amount");
        assert_eq!(with("amount", json!("0")), "amount");
        assert_eq!(with("amount", json!("1e3")), "amount");
        assert_eq!(with("amount", json!("0.000000000001")), "amount");
        assert_eq!(with("amount", json!("10000000000000000")), "amount");
        assert_eq!(with("currency", json!("dollars")), "currency");
        assert_eq!(with("period", json!("week")), "period");
        assert_eq!(with("scope", json!({"region": "eu"})), "scope.region");
        assert_eq!(with("scope", json!({"tag": {"key": "team"}})), "scope.tag.value");
        assert_eq!(with("scope", json!({"tag": {"key": "team", "value": "x"}, "service": "s"})), "scope.tag");
        assert_eq!(with("scope", json!({"provider": 3})), "scope.provider");
        assert_eq!(
            with("thresholds", json!([{"percent": 80, "on": "forecast"}, {"percent": 0, "on": "actual"}])),
            "thresholds[1].percent"
        );
        assert_eq!(with("thresholds", json!([{"percent": 80, "on": "budget"}])), "thresholds[0].on");
        assert_eq!(
            with("thresholds", json!([{"percent": 80, "on": "actual"}, {"percent": 80, "on": "actual"}])),
            "thresholds[1]"
        );
        assert_eq!(with("thresholds", json!([{"percent": 80, "on": "actual", "x": 1}])), "thresholds[0].x");
    }
}

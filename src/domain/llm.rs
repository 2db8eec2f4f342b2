//! LLM usage per (provider, model, API key, project) and time bucket.

use super::money::{Amount, Currency};
use super::record_key::RecordKey;
use chrono::{DateTime, Utc};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LlmUsage {
    pub provider: String,
    pub model: String,
    /// "" when the source does not break usage down by key.
    pub api_key_id: String,
    pub api_key_name: Option<String>,
    /// "" when the source has no projects or workspaces.
    pub project_id: String,
    pub bucket_start: DateTime<Utc>,
    pub bucket_end: DateTime<Utc>,
    pub input_tokens: i64,
    pub cached_input_tokens: i64,
    pub output_tokens: i64,
    pub requests: i64,
    /// None when the source reports tokens only; prices fill it in later.
    pub cost: Option<Amount>,
    pub currency: Currency,
}

/// The raw fields as they arrive, before validation.
#[derive(Debug, Clone, Default)]
pub struct LlmUsageInput {
    pub provider: Option<String>,
    pub model: Option<String>,
    pub api_key_id: Option<String>,
    pub api_key_name: Option<String>,
    pub project_id: Option<String>,
    pub bucket_start: Option<String>,
    pub bucket_end: Option<String>,
    pub input_tokens: Option<i64>,
    pub cached_input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub requests: Option<i64>,
    pub cost: Option<String>,
    pub currency: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field {field}: {problem}")]
pub struct LlmFieldError {
    pub field: &'static str,
    pub problem: String,
}

fn err(field: &'static str, problem: impl ToString) -> LlmFieldError {
    LlmFieldError { field, problem: problem.to_string() }
}

fn required(field: &'static str, value: Option<String>) -> Result<String, LlmFieldError> {
    value.map(|v| v.trim().to_string()).filter(|v| !v.is_empty()).ok_or_else(|| err(field, "a value is required"))
}

fn tokens(field: &'static str, value: Option<i64>) -> Result<i64, LlmFieldError> {
    match value.unwrap_or(0) {
        n if n < 0 => Err(err(field, "must not be negative")),
        n => Ok(n),
    }
}

impl LlmUsage {
    pub fn parse(input: LlmUsageInput) -> Result<Self, LlmFieldError> {
        let time = |field, v: Option<String>| super::time::parse_utc(&required(field, v)?).map_err(|e| err(field, e));
        let bucket_start = time("bucket_start", input.bucket_start)?;
        let bucket_end = time("bucket_end", input.bucket_end)?;
        if bucket_end <= bucket_start {
            return Err(err("bucket_end", "must be after bucket_start"));
        }
        Ok(LlmUsage {
            provider: required("provider", input.provider)?.to_ascii_lowercase(),
            model: required("model", input.model)?,
            api_key_id: input.api_key_id.unwrap_or_default().trim().to_string(),
            api_key_name: input.api_key_name.filter(|n| !n.trim().is_empty()),
            project_id: input.project_id.unwrap_or_default().trim().to_string(),
            bucket_start,
            bucket_end,
            input_tokens: tokens("input_tokens", input.input_tokens)?,
            cached_input_tokens: tokens("cached_input_tokens", input.cached_input_tokens)?,
            output_tokens: tokens("output_tokens", input.output_tokens)?,
            requests: tokens("requests", input.requests)?,
            cost: input.cost.map(|c| Amount::parse(&c).map_err(|e| err("cost", e))).transpose()?,
            currency: match input.currency {
                Some(c) => Currency::parse(&c).map_err(|e| err("currency", e))?,
                None => Currency::usd(),
            },
        })
    }

    pub fn key(&self) -> RecordKey {
        RecordKey::of(&[
            "llm-v1",
            &self.provider,
            &self.model,
            &self.api_key_id,
            &self.project_id,
            &self.bucket_start.timestamp().to_string(),
            &self.bucket_end.timestamp().to_string(),
        ])
    }

    pub fn content_hash(&self) -> RecordKey {
        RecordKey::of(&[
            &self.input_tokens.to_string(),
            &self.cached_input_tokens.to_string(),
            &self.output_tokens.to_string(),
            &self.requests.to_string(),
            &self.cost.map(|c| c.units().to_string()).unwrap_or_default(),
            self.currency.as_str(),
            self.api_key_name.as_deref().unwrap_or(""),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> LlmUsageInput {
        LlmUsageInput {
            provider: Some("OpenAI".into()),
            model: Some("gpt-4o".into()),
            api_key_id: Some("key_1".into()),
            bucket_start: Some("2026-11-21T02:00:00Z".into()),
            bucket_end: Some("2026-11-21T02:01:00Z".into()),
            input_tokens: Some(1000),
            output_tokens: Some(200),
            cost: Some("0.0045".into()),
            ..Default::default()
        }
    }

    #[test]
    fn parses_and_defaults() {
        let u = LlmUsage::parse(input()).unwrap();
        assert_eq!(u.provider, "openai");
        assert_eq!(u.currency.as_str(), "USD");
        assert_eq!(u.cached_input_tokens, 0);
        assert_eq!(u.cost.unwrap().to_string(), "0.0045");
    }

    #[test]
    fn rejects_bad_fields() {
        let mut i = input();
        i.output_tokens = Some(-1);
        assert_eq!(LlmUsage::parse(i).unwrap_err().field, "output_tokens");
        let mut i = input();
        i.bucket_end = i.bucket_start.clone();
        assert_eq!(LlmUsage::parse(i).unwrap_err().field, "bucket_end");
        let mut i = input();
        i.model = Some(" ".into());
        assert_eq!(LlmUsage::parse(i).unwrap_err().field, "model");
    }

    #[test]
    fn identity_excludes_counts() {
        let a = LlmUsage::parse(input()).unwrap();
        let mut b = a.clone();
        b.output_tokens += 1;
        assert_eq!(a.key(), b.key());
        assert_ne!(a.content_hash(), b.content_hash());
    }
}

//! OpenAI (`openai.rs`) and Anthropic (`anthropic.rs`), which share their connection
//! (`connection.rs`), billed costs (`costs.rs`) and key executor (`keys.rs`).
//!
//! LLM usage from the providers' admin APIs (OpenAI, Anthropic): token buckets per API key,
//! project or workspace, and model, with the cost estimated from the configured price table
//! (`domain::llm_prices`) so a runaway key shows within minutes. The estimate goes into
//! `llm_usage` (tokens, per key and model: the detective's LLM series) and into the FOCUS
//! ledger (per project, key and model: the spend totals), where each provider's daily billed
//! cost (`costs.rs`) replaces it day by day.

pub mod anthropic;
pub mod anthropic_usage;
pub mod connection;
pub mod costs;
pub mod keys;
pub mod openai;
pub mod openai_usage;

use crate::clouds::retry::Backoff;
use crate::domain::focus::{CostRecord, Usage};
use crate::domain::llm::LlmUsage;
use crate::domain::llm_prices::{estimate_with_writes, price_for, CacheWrites, PriceTable};
use crate::domain::money::Currency;
use crate::ingest::sources::window::{self, Cursor, Window};
use crate::ingest::sources::Pull;
use crate::ingest::Batch;
use crate::ledger::Reread;
use crate::providers::llm::connection::{get_json, ApiError, LlmSettings};
use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

/// One bucket's tokens for one (key, project, model).
pub struct Tokens<'a> {
    pub provider: &'static str,
    pub model: &'a str,
    pub api_key_id: &'a str,
    pub project_id: &'a str,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// All input tokens, cached ones included.
    pub input: i64,
    pub cached: i64,
    pub output: i64,
    pub requests: i64,
    /// Part of `input`: tokens written to the prompt cache, priced above plain input.
    pub cache_writes: CacheWrites,
}

impl Tokens<'_> {
    /// The ledger row, its cost estimated from `prices` (None for a model without a price).
    pub fn usage(&self, prices: &PriceTable) -> LlmUsage {
        let cost = price_for(prices, self.model)
            .and_then(|p| estimate_with_writes(p, self.input, self.cached, self.output, self.cache_writes));
        if cost.is_none() {
            tracing::debug!(
                provider = self.provider,
                model = self.model,
                "no price for this model; usage kept without a cost"
            );
        }
        LlmUsage {
            provider: self.provider.to_string(),
            model: self.model.to_string(),
            api_key_id: self.api_key_id.to_string(),
            api_key_name: None,
            project_id: self.project_id.to_string(),
            bucket_start: self.start,
            bucket_end: self.end,
            input_tokens: self.input,
            cached_input_tokens: self.cached,
            output_tokens: self.output,
            requests: self.requests,
            cost,
            currency: Currency::usd(),
        }
    }
}

/// The FOCUS row of a priced usage bucket: the estimate the billed cost later replaces. The
/// API key is its resource, so root causes and proposals name the key.
pub fn estimate_record(u: &LlmUsage, provider: &'static str, service: &str) -> Option<CostRecord> {
    let cost = u.cost?;
    let usage = Usage {
        provider,
        billing_account_id: provider.to_string(),
        sub_account_id: Some(u.project_id.clone()),
        service_name: service.to_string(),
        currency: u.currency.clone(),
        start: u.bucket_start,
        end: u.bucket_end,
        billed_cost: cost,
        effective_cost: cost,
    };
    Some(CostRecord {
        charge_description: Some(format!("{} (estimated from usage)", u.model)),
        sku_id: Some(u.model.clone()),
        resource_id: (!u.api_key_id.is_empty()).then(|| u.api_key_id.clone()),
        resource_type: Some("API key".into()),
        consumed_quantity: crate::domain::focus::DecimalText::parse(&(u.input_tokens + u.output_tokens).to_string())
            .ok(),
        consumed_unit: Some("Tokens".into()),
        ..CostRecord::usage(usage)
    })
}

/// Every page of a usage report: both APIs answer `data`, `has_more` and `next_page`, and
/// take the token back as `page`.
pub async fn all_pages<P>(
    settings: &LlmSettings<P>,
    url: &str,
    query: Vec<(String, String)>,
    headers: &[(&str, String)],
) -> Result<Vec<Value>, ApiError> {
    let http = reqwest::Client::new();
    let backoff = Backoff::new(settings.max_attempts);
    let mut buckets = Vec::new();
    let mut page: Option<String> = None;
    loop {
        let mut q = query.clone();
        if let Some(token) = page.take() {
            q.push(("page".into(), token));
        }
        let answer = get_json(&http, url, &q, headers, backoff).await?;
        buckets.extend(answer["data"].as_array().cloned().unwrap_or_default());
        match answer["next_page"].as_str().filter(|_| answer["has_more"].as_bool().unwrap_or(false)) {
            Some(next) => page = Some(next.to_string()),
            None => return Ok(buckets),
        }
    }
}

/// Buckets one request may ask for (both APIs cap `limit` per bucket width).
pub fn bucket_limit(width: &str) -> i64 {
    match width {
        "1m" => 1440,
        "1d" => 31,
        _ => 168,
    }
}

pub fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

/// A usage source's pull of window `w`: estimates that `billed` later replaces, the whole
/// window re-read (so buckets withdrawn upstream go here too), and the next run starting
/// `restate_hours` back, since the providers keep filling recent buckets for a while.
pub fn usage_pull<P>(source: &str, batch: Batch, billed: &'static str, w: &Window, settings: &LlmSettings<P>) -> Pull {
    let next = Cursor { from: window::after(w, None, Duration::hours(i64::from(settings.restate_hours))), note: None };
    Pull {
        batch,
        estimates_of: Some(billed),
        reread: Some(Reread { source: source.to_string(), from: w.from, to: w.to }),
        ..Pull::costs(Vec::new(), &next, w.more)
    }
}

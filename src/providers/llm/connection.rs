//! The LLM providers' admin APIs (OpenAI, Anthropic): settings, the admin key (the encrypted
//! store, else an environment variable), and one HTTP client that retries 429 and 5xx with
//! backoff, honouring Retry-After.

use crate::clouds::retry::Backoff;
use crate::clouds::Vault;
use crate::domain::llm_prices::{Price, PriceTable};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Which provider a [`LlmSettings`] is for: its defaults (endpoint, prices).
pub trait Provider {
    fn defaults() -> LlmSettings<Self>
    where
        Self: Sized;
}

#[derive(Debug, Clone, Copy)]
pub struct OpenAi;
#[derive(Debug, Clone, Copy)]
pub struct Anthropic;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default, bound = "P: Provider")]
pub struct LlmSettings<P> {
    /// Pull the usage API on `schedule`.
    pub enabled: bool,
    /// 6-field cron, seconds first: every few minutes, for a minutes-fresh signal.
    pub schedule: String,
    /// When to read the billed daily costs, which replace the estimates day by day.
    pub costs_schedule: String,
    /// Empty: the provider's API. Otherwise a base URL (a local peer).
    pub endpoint_url: String,
    /// "1m", "1h" or "1d" usage buckets.
    pub bucket_width: String,
    /// Days read on the first run.
    pub backfill_days: u32,
    /// Hours re-read every run (late usage lands in recent buckets).
    pub restate_hours: u32,
    /// Attempts per call on 429 (honouring Retry-After) and 5xx.
    pub max_attempts: u32,
    /// Per model (or model prefix): price per million tokens, to estimate cost from usage.
    pub prices: PriceTable,
    #[serde(skip)]
    provider: std::marker::PhantomData<P>,
}

impl<P: Provider> Default for LlmSettings<P> {
    fn default() -> Self {
        P::defaults()
    }
}

fn price(input: &str, cached_input: &str, output: &str) -> Price {
    Price { input: input.into(), cached_input: cached_input.into(), output: output.into() }
}

impl<P> LlmSettings<P> {
    fn with_prices(prices: PriceTable) -> LlmSettings<P> {
        LlmSettings {
            enabled: false,
            schedule: "0 */5 * * * *".into(),
            costs_schedule: "0 40 * * * *".into(),
            endpoint_url: String::new(),
            bucket_width: "1h".into(),
            backfill_days: 7,
            restate_hours: 3,
            max_attempts: 5,
            prices,
            provider: std::marker::PhantomData,
        }
    }
}

impl Provider for OpenAi {
    fn defaults() -> LlmSettings<OpenAi> {
        LlmSettings::with_prices(
            [
                ("gpt-4o".to_string(), price("2.50", "1.25", "10.00")),
                ("gpt-4o-mini".to_string(), price("0.15", "0.075", "0.60")),
                ("gpt-4.1".to_string(), price("2.00", "0.50", "8.00")),
                ("gpt-4.1-mini".to_string(), price("0.40", "0.10", "1.60")),
                ("o3".to_string(), price("2.00", "0.50", "8.00")),
                ("text-embedding-3-small".to_string(), price("0.02", "0.02", "0")),
            ]
            .into(),
        )
    }
}

impl Provider for Anthropic {
    fn defaults() -> LlmSettings<Anthropic> {
        LlmSettings::with_prices(
            [
                ("claude-sonnet-4".to_string(), price("3.00", "0.30", "15.00")),
                ("claude-opus-4".to_string(), price("15.00", "1.50", "75.00")),
                ("claude-3-5-haiku".to_string(), price("0.80", "0.08", "4.00")),
                ("claude-3-7-sonnet".to_string(), price("3.00", "0.30", "15.00")),
            ]
            .into(),
        )
    }
}

impl<P> LlmSettings<P> {
    pub fn validate(&self, section: &'static str) -> Result<(), (&'static str, String)> {
        if !matches!(self.bucket_width.as_str(), "1m" | "1h" | "1d") {
            return Err((section, format!("bucket_width '{}' is not 1m, 1h or 1d", self.bucket_width)));
        }
        if self.enabled {
            crate::cron::validate_cron(&self.schedule).map_err(|e| (section, format!("schedule: {e}")))?;
            crate::cron::validate_cron(&self.costs_schedule).map_err(|e| (section, format!("costs_schedule: {e}")))?;
        }
        crate::domain::llm_prices::validate(&self.prices).map_err(|e| (section, format!("prices.{e}")))?;
        if self.max_attempts == 0 {
            return Err((section, "max_attempts must be at least 1".into()));
        }
        Ok(())
    }

    pub fn bucket(&self) -> chrono::Duration {
        match self.bucket_width.as_str() {
            "1m" => chrono::Duration::minutes(1),
            "1d" => chrono::Duration::days(1),
            _ => chrono::Duration::hours(1),
        }
    }
}

/// The admin key: the encrypted store's `admin_key`, else the environment variable.
pub async fn admin_key(vault: &Vault, provider: &'static str, env: &str) -> anyhow::Result<SecretString> {
    if let Some(key) = vault.field(provider, "admin_key").await? {
        return Ok(key);
    }
    std::env::var(env)
        .ok()
        .filter(|k| !k.trim().is_empty())
        .map(SecretString::from)
        .ok_or_else(|| anyhow::anyhow!("no admin key for {provider}: enter one in Settings → Providers or set {env}"))
}

/// An admin API answer that was not a success.
#[derive(Debug, thiserror::Error)]
#[error("{what} answered {status}: {body}")]
pub struct ApiError {
    pub what: String,
    pub status: u16,
    pub body: String,
    pub retry_after: Option<Duration>,
}

impl ApiError {
    fn transient(&self) -> bool {
        self.status == 0 || self.status == 429 || self.status >= 500
    }
}

/// One call answering JSON; a non-success answer becomes an [`ApiError`] with the server's
/// Retry-After.
async fn send_once(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    query: &[(String, String)],
    headers: &[(&str, String)],
    body: Option<&serde_json::Value>,
) -> Result<serde_json::Value, ApiError> {
    let failed = |status: u16, body: String, retry_after| ApiError { what: url.to_string(), status, body, retry_after };
    let mut request = http.request(method, url).query(query);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.map_err(|e| failed(0, e.to_string(), None))?;
    let status = response.status().as_u16();
    if response.status().is_success() {
        return response.json().await.map_err(|e| failed(status, format!("not JSON: {e}"), None));
    }
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let body: String = response.text().await.unwrap_or_default().chars().take(500).collect();
    Err(failed(status, body, retry_after))
}

/// One call, retrying 429 (after Retry-After when given), 5xx and broken connections. Only
/// for calls that are safe to repeat (reads, and writes that set a state).
pub async fn call_json(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    query: &[(String, String)],
    headers: &[(&str, String)],
    body: Option<&serde_json::Value>,
    backoff: Backoff,
) -> Result<serde_json::Value, ApiError> {
    crate::clouds::retry::retrying_after(
        url,
        backoff,
        ApiError::transient,
        |e: &ApiError| e.retry_after,
        || send_once(http, method.clone(), url, query, headers, body),
    )
    .await
}

/// GETs JSON (see [`call_json`]).
pub async fn get_json(
    http: &reqwest::Client,
    url: &str,
    query: &[(String, String)],
    headers: &[(&str, String)],
    backoff: Backoff,
) -> Result<serde_json::Value, ApiError> {
    call_json(http, reqwest::Method::GET, url, query, headers, None, backoff).await
}

/// The secret as a header value (kept out of logs: reqwest does not log headers).
pub fn header(secret: &SecretString) -> String {
    secret.expose_secret().to_string()
}

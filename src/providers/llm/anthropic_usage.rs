//! Anthropic: the Admin API's Messages usage report (`/v1/organizations/usage_report/messages`),
//! bucketed by minute, hour or day and grouped by API key, workspace and model, with cached
//! (read) and uncached input tokens and output tokens.

use super::{all_pages, bucket_limit, int, Tokens};
use crate::clouds::Vault;
use crate::domain::llm_prices::CacheWrites;
use crate::ingest::sources::window::{self, Cursor};
use crate::ingest::sources::{CostSource, Pull};
use crate::ingest::Batch;
use crate::providers::llm::connection::{admin_key, header, Anthropic, LlmSettings};
use chrono::{DateTime, Duration, Utc};

const API: &str = "https://api.anthropic.com";
pub const VERSION: &str = "2023-06-01";

pub struct AnthropicUsage {
    settings: LlmSettings<Anthropic>,
    vault: Vault,
}

impl AnthropicUsage {
    pub fn new(settings: LlmSettings<Anthropic>, vault: Vault) -> Self {
        AnthropicUsage { settings, vault }
    }

    async fn buckets(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> anyhow::Result<Vec<serde_json::Value>> {
        let key = admin_key(&self.vault, "anthropic", "ANTHROPIC_ADMIN_KEY").await?;
        let base = crate::clouds::endpoint(&self.settings.endpoint_url).unwrap_or_else(|| API.into());
        let rfc = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let mut query = vec![
            ("starting_at".to_string(), rfc(from)),
            ("ending_at".to_string(), rfc(to)),
            ("bucket_width".to_string(), self.settings.bucket_width.clone()),
            ("limit".to_string(), bucket_limit(&self.settings.bucket_width).to_string()),
        ];
        for group in ["api_key_id", "workspace_id", "model"] {
            query.push(("group_by[]".to_string(), group.to_string()));
        }
        let headers = [("x-api-key", header(&key)), ("anthropic-version", VERSION.to_string())];
        Ok(all_pages(&self.settings, &format!("{base}/v1/organizations/usage_report/messages"), query, &headers)
            .await?)
    }
}

fn time(v: &serde_json::Value) -> Option<DateTime<Utc>> {
    crate::domain::time::parse_utc(v.as_str()?).ok()
}

#[async_trait::async_trait]
impl CostSource for AnthropicUsage {
    fn name(&self) -> &str {
        "anthropic"
    }

    async fn pull(&self, cursor: Option<String>, now: DateTime<Utc>) -> anyhow::Result<Pull> {
        let cursor = Cursor::parse(cursor.as_deref())?;
        let step = self.settings.bucket();
        let span = step * i32::try_from(bucket_limit(&self.settings.bucket_width)).unwrap_or(168);
        let w = window::next(cursor.as_ref(), now, Duration::days(i64::from(self.settings.backfill_days)), step, span);
        let (mut usage, mut costs) = (Vec::new(), Vec::new());
        for bucket in self.buckets(w.from, w.to).await? {
            let (Some(start), Some(end)) = (time(&bucket["starting_at"]), time(&bucket["ending_at"])) else { continue };
            for r in bucket["results"].as_array().into_iter().flatten() {
                let cache_writes = CacheWrites {
                    five_minute: int(&r["cache_creation"]["ephemeral_5m_input_tokens"]),
                    one_hour: int(&r["cache_creation"]["ephemeral_1h_input_tokens"]),
                };
                let cached = int(&r["cache_read_input_tokens"]);
                let tokens = Tokens {
                    provider: "anthropic",
                    model: r["model"].as_str().unwrap_or("unknown"),
                    api_key_id: r["api_key_id"].as_str().unwrap_or(""),
                    // Usage outside any workspace belongs to the default workspace.
                    project_id: r["workspace_id"].as_str().unwrap_or("default"),
                    start,
                    end,
                    input: int(&r["uncached_input_tokens"]) + cached + cache_writes.five_minute + cache_writes.one_hour,
                    cached,
                    output: int(&r["output_tokens"]),
                    requests: 0,
                    cache_writes,
                };
                let row = tokens.usage(&self.settings.prices);
                costs.extend(super::estimate_record(&row, "Anthropic", "Anthropic API"));
                usage.push(row);
            }
        }
        Ok(super::usage_pull(self.name(), Batch { costs, llm_usage: usage }, "anthropic-costs", &w, &self.settings))
    }

    async fn test_connection(&self) -> anyhow::Result<String> {
        let now = Utc::now();
        let buckets = self.buckets(now - Duration::hours(1), now).await?;
        Ok(format!("Anthropic's usage report answered ({} bucket(s) in the last hour)", buckets.len()))
    }
}

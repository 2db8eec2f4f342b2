//! OpenAI: the organization Usage API (`/v1/organization/usage/{kind}` for completions,
//! embeddings, images and audio), bucketed by minute, hour or day and grouped by project, API
//! key and model, with an admin key.

use super::{all_pages, bucket_limit, int, Tokens};
use crate::clouds::Vault;
use crate::domain::llm_prices::CacheWrites;
use crate::ingest::sources::window::{self, Cursor};
use crate::ingest::sources::{CostSource, Pull};
use crate::ingest::Batch;
use crate::providers::llm::connection::{admin_key, header, LlmSettings, OpenAi};
use chrono::{DateTime, Duration, TimeZone, Utc};

const API: &str = "https://api.openai.com";
/// The usage endpoints; their buckets share one shape. Embeddings have no cached or output
/// tokens; images, speech and transcription are billed per image, character and second, so
/// they add requests per key and model (no tokens, no estimate) and their cost arrives with
/// the Costs API.
const USAGE_KINDS: [&str; 5] = ["completions", "embeddings", "images", "audio_speeches", "audio_transcriptions"];

pub struct OpenAiUsage {
    settings: LlmSettings<OpenAi>,
    vault: Vault,
}

impl OpenAiUsage {
    pub fn new(settings: LlmSettings<OpenAi>, vault: Vault) -> Self {
        OpenAiUsage { settings, vault }
    }

    async fn buckets(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> anyhow::Result<Vec<serde_json::Value>> {
        let key = admin_key(&self.vault, "openai", "OPENAI_ADMIN_KEY").await?;
        let base = crate::clouds::endpoint(&self.settings.endpoint_url).unwrap_or_else(|| API.into());
        let mut query = vec![
            ("start_time".to_string(), from.timestamp().to_string()),
            ("end_time".to_string(), to.timestamp().to_string()),
            ("bucket_width".to_string(), self.settings.bucket_width.clone()),
            ("limit".to_string(), bucket_limit(&self.settings.bucket_width).to_string()),
        ];
        for group in ["project_id", "api_key_id", "model"] {
            query.push(("group_by".to_string(), group.to_string()));
        }
        let auth = [("authorization", format!("Bearer {}", header(&key)))];
        let mut buckets = Vec::new();
        for kind in USAGE_KINDS {
            let url = format!("{base}/v1/organization/usage/{kind}");
            buckets.extend(all_pages(&self.settings, &url, query.clone(), &auth).await?);
        }
        Ok(buckets)
    }
}

#[async_trait::async_trait]
impl CostSource for OpenAiUsage {
    fn name(&self) -> &str {
        "openai"
    }

    async fn pull(&self, cursor: Option<String>, now: DateTime<Utc>) -> anyhow::Result<Pull> {
        let cursor = Cursor::parse(cursor.as_deref())?;
        let step = self.settings.bucket();
        let span = step * i32::try_from(bucket_limit(&self.settings.bucket_width)).unwrap_or(168);
        let w = window::next(cursor.as_ref(), now, Duration::days(i64::from(self.settings.backfill_days)), step, span);
        let (mut usage, mut costs) = (Vec::new(), Vec::new());
        for bucket in self.buckets(w.from, w.to).await? {
            let time = |field: &str| Utc.timestamp_opt(bucket[field].as_i64().unwrap_or(0), 0).single();
            let (Some(start), Some(end)) = (time("start_time"), time("end_time")) else { continue };
            for r in bucket["results"].as_array().into_iter().flatten() {
                let tokens = Tokens {
                    provider: "openai",
                    model: r["model"].as_str().unwrap_or("unknown"),
                    api_key_id: r["api_key_id"].as_str().unwrap_or(""),
                    project_id: r["project_id"].as_str().unwrap_or(""),
                    start,
                    end,
                    input: int(&r["input_tokens"]),
                    cached: int(&r["input_cached_tokens"]),
                    output: int(&r["output_tokens"]),
                    requests: int(&r["num_model_requests"]),
                    cache_writes: CacheWrites::default(),
                };
                let row = tokens.usage(&self.settings.prices);
                costs.extend(super::estimate_record(&row, "OpenAI", "OpenAI API"));
                usage.push(row);
            }
        }
        Ok(super::usage_pull(self.name(), Batch { costs, llm_usage: usage }, "openai-costs", &w, &self.settings))
    }

    async fn test_connection(&self) -> anyhow::Result<String> {
        let now = Utc::now();
        let buckets = self.buckets(now - Duration::hours(1), now).await?;
        Ok(format!("OpenAI's usage API answered ({} bucket(s) in the last hour)", buckets.len()))
    }
}

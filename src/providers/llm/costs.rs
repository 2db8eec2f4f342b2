//! The billed truth: OpenAI's Costs API (`/v1/organization/costs`, dollars) and Anthropic's
//! cost report (`/v1/organizations/cost_report`, amounts in cents), daily per project or
//! workspace and line item. Each billed day replaces that day's usage estimates in the same
//! transaction, and the usage source skips days already billed.

use super::{all_pages, int};
use crate::clouds::Vault;
use crate::domain::focus::{CostRecord, Usage};
use crate::domain::money::{Amount, Currency};
use crate::ingest::sources::window::{self, Cursor};
use crate::ingest::sources::{CostSource, Pull};
use crate::ledger::Supersede;
use crate::providers::llm::connection::{admin_key, header, Anthropic, LlmSettings, OpenAi};
use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::Value;
use std::collections::BTreeMap;

/// What differs between the two providers' cost APIs.
#[derive(Clone, Copy)]
pub struct Api {
    /// The usage source whose estimates these costs replace.
    pub usage_source: &'static str,
    pub provider: &'static str,
    pub service: &'static str,
    kind: Kind,
}

#[derive(Clone, Copy)]
enum Kind {
    OpenAi,
    Anthropic,
}

pub const OPENAI: Api = Api { usage_source: "openai", provider: "OpenAI", service: "OpenAI API", kind: Kind::OpenAi };
pub const ANTHROPIC: Api =
    Api { usage_source: "anthropic", provider: "Anthropic", service: "Anthropic API", kind: Kind::Anthropic };

pub struct BilledCosts<P> {
    api: Api,
    settings: LlmSettings<P>,
    vault: Vault,
    name: String,
}

impl BilledCosts<OpenAi> {
    pub fn openai(settings: LlmSettings<OpenAi>, vault: Vault) -> Self {
        BilledCosts { api: OPENAI, settings, vault, name: "openai-costs".into() }
    }
}

impl BilledCosts<Anthropic> {
    pub fn anthropic(settings: LlmSettings<Anthropic>, vault: Vault) -> Self {
        BilledCosts { api: ANTHROPIC, settings, vault, name: "anthropic-costs".into() }
    }
}

/// One billed line of one day.
struct Line {
    day: DateTime<Utc>,
    project: String,
    item: String,
    amount: Amount,
    currency: String,
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

impl<P> BilledCosts<P> {
    async fn lines(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> anyhow::Result<Vec<Line>> {
        let rfc = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let q = |pairs: &[(&str, String)]| pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect::<Vec<_>>();
        let (url, query, headers, env) = match self.api.kind {
            Kind::OpenAi => (
                "/v1/organization/costs",
                q(&[
                    ("start_time", from.timestamp().to_string()),
                    ("end_time", to.timestamp().to_string()),
                    ("bucket_width", "1d".into()),
                    ("limit", "31".into()),
                    ("group_by", "project_id".into()),
                    ("group_by", "line_item".into()),
                ]),
                Vec::new(),
                "OPENAI_ADMIN_KEY",
            ),
            Kind::Anthropic => (
                "/v1/organizations/cost_report",
                q(&[
                    ("starting_at", rfc(from)),
                    ("ending_at", rfc(to)),
                    ("bucket_width", "1d".into()),
                    ("limit", "31".into()),
                    ("group_by[]", "workspace_id".into()),
                    ("group_by[]", "description".into()),
                ]),
                vec![("anthropic-version", super::anthropic_usage::VERSION.to_string())],
                "ANTHROPIC_ADMIN_KEY",
            ),
        };
        let key = header(&admin_key(&self.vault, self.api.usage_source, env).await?);
        let mut headers = headers;
        match self.api.kind {
            Kind::OpenAi => headers.push(("authorization", format!("Bearer {key}"))),
            Kind::Anthropic => headers.push(("x-api-key", key)),
        }
        let default_base = match self.api.kind {
            Kind::OpenAi => "https://api.openai.com",
            Kind::Anthropic => "https://api.anthropic.com",
        };
        let base = crate::clouds::endpoint(&self.settings.endpoint_url).unwrap_or_else(|| default_base.into());
        let mut lines = Vec::new();
        for bucket in all_pages(&self.settings, &format!("{base}{url}"), query, &headers).await? {
            let day = match self.api.kind {
                Kind::OpenAi => Utc.timestamp_opt(int(&bucket["start_time"]), 0).single(),
                Kind::Anthropic => crate::domain::time::parse_utc(&text(&bucket["starting_at"])).ok(),
            };
            let Some(day) = day else { continue };
            for r in bucket["results"].as_array().into_iter().flatten() {
                let line = match self.api.kind {
                    Kind::OpenAi => Line {
                        day,
                        project: text(&r["project_id"]),
                        item: text(&r["line_item"]),
                        amount: Amount::parse(&text(&r["amount"]["value"]))
                            .map_err(|e| anyhow::anyhow!("OpenAI cost: {e}"))?,
                        currency: text(&r["amount"]["currency"]).to_uppercase(),
                    },
                    Kind::Anthropic => {
                        // The cost report counts in cents.
                        let cents =
                            Amount::parse(&text(&r["amount"])).map_err(|e| anyhow::anyhow!("Anthropic cost: {e}"))?;
                        let project = text(&r["workspace_id"]);
                        Line {
                            day,
                            project: if project.is_empty() { "default".into() } else { project },
                            item: text(&r["description"]),
                            amount: Amount::from_units(cents.units() / 100),
                            currency: text(&r["currency"]).to_uppercase(),
                        }
                    }
                };
                lines.push(line);
            }
        }
        Ok(lines)
    }
}

#[async_trait::async_trait]
impl<P: Send + Sync> CostSource for BilledCosts<P> {
    fn name(&self) -> &str {
        &self.name
    }

    async fn pull(&self, cursor: Option<String>, now: DateTime<Utc>) -> anyhow::Result<Pull> {
        let cursor = Cursor::parse(cursor.as_deref())?;
        let backfill = Duration::days(i64::from(self.settings.backfill_days));
        let w = window::next(cursor.as_ref(), now, backfill, Duration::days(1), Duration::days(31));
        let mut costs = Vec::new();
        let mut billed: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
        for line in self.lines(w.from, w.to).await? {
            let currency = if line.currency.is_empty() { "USD" } else { line.currency.as_str() };
            let usage = Usage {
                provider: self.api.provider,
                billing_account_id: self.api.provider.to_string(),
                sub_account_id: Some(line.project.clone()),
                service_name: self.api.service.to_string(),
                currency: Currency::parse(currency).map_err(|e| anyhow::anyhow!("{e}"))?,
                start: line.day,
                end: line.day + Duration::days(1),
                billed_cost: line.amount,
                effective_cost: line.amount,
            };
            costs.push(CostRecord { charge_description: Some(line.item), ..CostRecord::usage(usage) });
            let end = billed.entry(line.project).or_insert(line.day);
            *end = (*end).max(line.day);
        }
        let supersedes = billed
            .into_iter()
            .map(|(project, day)| Supersede {
                source: self.api.usage_source.into(),
                provider: self.api.provider.into(),
                sub_account: project,
                service: self.api.service.into(),
                until: day + Duration::days(1),
            })
            .collect();
        // Costs are restated for a couple of days after the fact.
        let next = Cursor { from: window::after(&w, None, Duration::days(2)), note: None };
        Ok(Pull { supersedes, ..Pull::costs(costs, &next, w.more) })
    }

    async fn test_connection(&self) -> anyhow::Result<String> {
        let now = Utc::now();
        let lines = self.lines(now - Duration::days(1), now).await?;
        Ok(format!("{} answered with {} billed line(s) for the last day", self.api.provider, lines.len()))
    }
}

//! Azure Cost Management: the Query API (ActualCost) per configured scope, daily or hourly,
//! grouped by ServiceName and ResourceId (the API allows two groupings; the resource group
//! is read off the resource id), following `nextLink` page by page.

use crate::clouds::Vault;
use crate::domain::focus::{CostRecord, Tags, Usage};
use crate::domain::money::{Amount, Currency};
use crate::ingest::sources::window::{self, Cursor, Window};
use crate::ingest::sources::{CostSource, Pull};
use crate::providers::azure::connection::{Arm, AzureSettings};
use azure_mgmt_costmanagement::models::{QueryDefinition, QueryResult};
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use serde_json::{json, Value};

pub struct AzureCostManagement {
    settings: AzureSettings,
    vault: Vault,
}

impl AzureCostManagement {
    pub fn new(settings: AzureSettings, vault: Vault) -> Self {
        AzureCostManagement { settings, vault }
    }

    fn hourly(&self) -> bool {
        self.settings.granularity == "Hourly"
    }

    fn definition(&self, w: &Window) -> anyhow::Result<QueryDefinition> {
        let f = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        // The API's `to` is inclusive: stop a second before the window's end.
        let body = json!({
            "type": "ActualCost",
            "timeframe": "Custom",
            "timePeriod": {"from": f(w.from), "to": f(w.to - Duration::seconds(1))},
            "dataset": {
                "granularity": self.settings.granularity,
                "aggregation": {"totalCost": {"name": "Cost", "function": "Sum"}},
                "grouping": [
                    {"type": "Dimension", "name": "ServiceName"},
                    {"type": "Dimension", "name": "ResourceId"}
                ]
            }
        });
        Ok(serde_json::from_value(body)?)
    }

    /// Every row of one scope's query, page after page.
    async fn query(&self, arm: &Arm, scope: &str, w: &Window) -> anyhow::Result<Vec<Record>> {
        let definition = self.definition(w)?;
        let first: QueryResult = arm.cost_management()?.query_client().usage(scope, definition.clone()).await?;
        let mut records = Vec::new();
        let mut page = first;
        loop {
            let properties = page.properties.unwrap_or_default();
            let columns: Vec<String> = properties.columns.iter().map(|c| c.name.clone().unwrap_or_default()).collect();
            for row in &properties.rows {
                records.push(Record::read(&columns, row, scope, self.hourly())?);
            }
            match properties.next_link.filter(|l| !l.is_empty()) {
                Some(next) => {
                    let body = serde_json::to_value(&definition)?;
                    page = serde_json::from_value(arm.call(azure_core::Method::Post, &next, Some(&body)).await?)?;
                }
                None => return Ok(records),
            }
        }
    }
}

/// One row of a query answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub start: DateTime<Utc>,
    pub hourly: bool,
    pub cost: Amount,
    pub currency: String,
    pub service: String,
    pub resource_id: String,
    pub scope: String,
}

fn cell<'a>(columns: &[String], row: &'a [Value], name: &str) -> Option<&'a Value> {
    columns.iter().position(|c| c.eq_ignore_ascii_case(name)).and_then(|i| row.get(i))
}

fn text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

impl Record {
    /// Reads a row by column name: Cost (or PreTaxCost), UsageDate (yyyymmdd) or a date-time,
    /// Currency, ServiceName, ResourceId.
    pub fn read(columns: &[String], row: &[Value], scope: &str, hourly: bool) -> anyhow::Result<Record> {
        let cost = cell(columns, row, "Cost").or_else(|| cell(columns, row, "PreTaxCost"));
        let cost = Amount::parse(&text(cost)).map_err(|e| anyhow::anyhow!("Azure cost '{}': {e}", text(cost)))?;
        let date = text(cell(columns, row, "UsageDate").or_else(|| cell(columns, row, "Date")));
        let start = match NaiveDate::parse_from_str(&date, "%Y%m%d") {
            Ok(d) => Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default()),
            Err(_) => crate::domain::time::parse_utc(&date).map_err(|e| anyhow::anyhow!("Azure usage date: {e}"))?,
        };
        Ok(Record {
            start,
            hourly,
            cost,
            currency: text(cell(columns, row, "Currency")),
            service: text(cell(columns, row, "ServiceName")),
            resource_id: text(cell(columns, row, "ResourceId")),
            scope: scope.to_string(),
        })
    }

    /// `/subscriptions/S/resourceGroups/RG/...` → (S, RG), case as ARM wrote it.
    fn subscription_and_group(&self) -> (Option<String>, Option<String>) {
        let parts: Vec<&str> = self.resource_id.split('/').collect();
        let after = |key: &str| {
            parts.iter().position(|p| p.eq_ignore_ascii_case(key)).and_then(|i| parts.get(i + 1)).map(|s| s.to_string())
        };
        let subscription = after("subscriptions").or_else(|| {
            self.scope.strip_prefix("subscriptions/").map(|s| s.split('/').next().unwrap_or(s).to_string())
        });
        (subscription, after("resourceGroups"))
    }

    pub fn to_focus(&self) -> anyhow::Result<CostRecord> {
        let end = self.start + if self.hourly { Duration::hours(1) } else { Duration::days(1) };
        let (subscription, group) = self.subscription_and_group();
        let resource = (!self.resource_id.is_empty()).then(|| self.resource_id.to_lowercase());
        let currency = if self.currency.is_empty() { "USD" } else { self.currency.as_str() };
        let usage = Usage {
            provider: "Microsoft",
            billing_account_id: self.scope.clone(),
            sub_account_id: subscription,
            service_name: if self.service.is_empty() { "Unassigned".into() } else { self.service.clone() },
            currency: Currency::parse(currency).map_err(|e| anyhow::anyhow!("{e}"))?,
            start: self.start,
            end,
            billed_cost: self.cost,
            effective_cost: self.cost,
        };
        Ok(CostRecord {
            resource_name: resource.as_ref().and_then(|r| r.rsplit('/').next().map(str::to_string)),
            resource_id: resource,
            tags: match group {
                Some(g) => Tags::from_pairs([("resource_group", g.as_str())]),
                None => Tags::default(),
            },
            ..CostRecord::usage(usage)
        })
    }
}

#[async_trait::async_trait]
impl CostSource for AzureCostManagement {
    fn name(&self) -> &str {
        "azure"
    }

    async fn pull(&self, cursor: Option<String>, now: DateTime<Utc>) -> anyhow::Result<Pull> {
        let cursor = Cursor::parse(cursor.as_deref())?;
        let step = if self.hourly() { Duration::hours(1) } else { Duration::days(1) };
        let backfill = Duration::days(i64::from(self.settings.backfill_days));
        let w = window::next(cursor.as_ref(), now, backfill, step, Duration::days(31));
        let arm = Arm::connect(&self.settings, &self.vault).await?;
        let mut costs = Vec::new();
        for scope in &self.settings.scopes {
            for record in self.query(&arm, scope.trim().trim_start_matches('/'), &w).await? {
                costs.push(record.to_focus()?);
            }
        }
        let next =
            Cursor { from: window::after(&w, None, Duration::days(i64::from(self.settings.restate_days))), note: None };
        Ok(Pull::costs(costs, &next, w.more))
    }

    async fn test_connection(&self) -> anyhow::Result<String> {
        let arm = Arm::connect(&self.settings, &self.vault).await?;
        let now = Utc::now();
        let w = window::next(None, now, Duration::days(1), Duration::days(1), Duration::days(1));
        let mut rows = 0;
        for scope in &self.settings.scopes {
            rows += self.query(&arm, scope.trim().trim_start_matches('/'), &w).await?.len();
        }
        Ok(format!("Cost Management answered for {} scope(s): {rows} row(s) today", self.settings.scopes.len()))
    }
}

//! The LLM usage page: the last 30 days by provider, model, key and project.

use super::html;
use crate::dashboard::error::PageError;
use crate::dashboard::session::Signed;
use crate::dashboard::views::llm::{BillCheck, LlmPage, UsageRow};
use crate::domain::cost_query::{CostQuery, Granularity, GroupBy};
use crate::domain::money::Total;
use crate::ledger::query::{aggregate_costs, aggregate_llm_usage, LlmBucket, LlmGroupBy, LlmQuery};
use crate::providers::llm::costs;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Duration, Utc};
use std::collections::BTreeMap;

const DAYS: i64 = 30;

/// Daily cost per (provider, currency).
type Trends = BTreeMap<(String, String), Vec<(DateTime<Utc>, Total)>>;

/// Folds daily buckets into one row per group and currency.
fn rows(buckets: Vec<LlmBucket>) -> Vec<UsageRow> {
    let mut by: BTreeMap<(String, String), UsageRow> = BTreeMap::new();
    for b in buckets {
        let group = b.group.unwrap_or_default();
        let row = by.entry((group.clone(), b.currency.clone())).or_insert_with(|| UsageRow {
            group,
            currency: b.currency.clone(),
            input_tokens: 0,
            cached_input_tokens: 0,
            output_tokens: 0,
            requests: 0,
            cost: Total::ZERO,
        });
        row.input_tokens += b.input_tokens;
        row.cached_input_tokens += b.cached_input_tokens;
        row.output_tokens += b.output_tokens;
        row.requests += b.requests;
        row.cost = row.cost.plus(b.cost);
    }
    let mut rows: Vec<UsageRow> = by.into_values().collect();
    rows.sort_by(|a, b| b.cost.units().cmp(&a.cost.units()).then(a.group.cmp(&b.group)));
    rows
}

pub async fn page(user: Signed, state: web::Data<AppState>) -> Result<HttpResponse, PageError> {
    let to = Utc::now() + Duration::days(2);
    let from = Utc::now() - Duration::days(DAYS);
    let query = move |granularity, group_by| LlmQuery {
        from,
        to,
        granularity,
        group_by: Some(group_by),
        provider: None,
        model: None,
    };
    let (tables, daily, billed) = state
        .db
        .run(move |c| {
            let mut tables = Vec::new();
            for (title, by) in [
                ("By provider", LlmGroupBy::Provider),
                ("By model", LlmGroupBy::Model),
                ("By API key", LlmGroupBy::ApiKey),
                ("By project", LlmGroupBy::Project),
            ] {
                tables.push((title, rows(aggregate_llm_usage(c, &query(Granularity::Day, by))?)));
            }
            let daily = aggregate_llm_usage(c, &query(Granularity::Day, LlmGroupBy::Provider))?;
            let mut billed = Vec::new();
            for api in [costs::OPENAI, costs::ANTHROPIC] {
                // Billed rows carry no SKU; estimates carry the model as theirs.
                let q = CostQuery {
                    from,
                    to,
                    granularity: Granularity::Day,
                    group_by: Some(GroupBy::Sku),
                    provider: Some(api.provider.into()),
                    service: Some(api.service.into()),
                };
                let bills = aggregate_costs(c, &q)?.into_iter().filter(|b| b.group.is_none());
                billed.extend(bills.map(|b| ((api.usage_source, b.period_start, b.currency), b.billed_cost)));
            }
            Ok::<_, crate::db::DbError>((tables, daily, billed))
        })
        .await?;
    let billed: BTreeMap<_, Total> = billed.into_iter().collect();
    let mut bills: Vec<BillCheck> = daily
        .iter()
        .filter(|b| matches!(b.group.as_deref(), Some("openai" | "anthropic")))
        .map(|b| {
            let provider = b.group.clone().unwrap_or_default();
            let key = (if provider == "openai" { "openai" } else { "anthropic" }, b.period_start, b.currency.clone());
            BillCheck {
                day: b.period_start,
                provider,
                currency: b.currency.clone(),
                estimated: b.cost,
                billed: billed.get(&key).copied(),
            }
        })
        .collect();
    bills.sort_by(|a, b| b.day.cmp(&a.day).then(a.provider.cmp(&b.provider)));
    let mut trends: Trends = BTreeMap::new();
    for b in daily {
        trends.entry((b.group.unwrap_or_default(), b.currency)).or_default().push((b.period_start, b.cost));
    }
    let trends = trends.into_iter().map(|((p, c), days)| (p, c, days)).collect();
    Ok(html(crate::dashboard::views::llm::render(&user.0, &LlmPage { days: DAYS, bills, tables, trends })))
}

//! AWS Cost Explorer (`GetCostAndUsage`): hourly where the account has it, daily otherwise;
//! UnblendedCost as BilledCost and AmortizedCost as EffectiveCost; grouped by SERVICE and
//! LINKED_ACCOUNT, then refined by a configured tag and (opt-in) by EC2 resource, so each
//! finer row replaces its share of the coarse one and nothing is counted twice. Periods that
//! Cost Explorer still calls `Estimated` are read again until final.

mod mapping;

use crate::clouds::Vault;
use crate::ingest::sources::window::{self, Cursor, Window};
use crate::ingest::sources::{CostSource, Pull};
use crate::providers::aws::connection::{sdk_config, AwsSettings, COST_EXPLORER_REGION};
use aws_sdk_costexplorer::error::ProvideErrorMetadata;
use aws_sdk_costexplorer::types::{
    DateInterval, Dimension, DimensionValues, Expression, Granularity, GroupDefinition, GroupDefinitionType,
    ResultByTime,
};
use aws_sdk_costexplorer::Client;
use chrono::{DateTime, Duration, Utc};
pub use mapping::{Line, EC2_COMPUTE};

/// Cost Explorer keeps hourly data for 14 days.
const HOURLY_HORIZON_DAYS: i64 = 14;

pub struct AwsCostExplorer {
    settings: AwsSettings,
    vault: Vault,
}

impl AwsCostExplorer {
    pub fn new(settings: AwsSettings, vault: Vault) -> Self {
        AwsCostExplorer { settings, vault }
    }

    async fn client(&self) -> anyhow::Result<Client> {
        Ok(Client::new(&sdk_config(&self.settings, &self.vault, COST_EXPLORER_REGION).await?))
    }

    fn window(&self, cursor: Option<&Cursor>, now: DateTime<Utc>, hourly: bool) -> Window {
        let backfill = Duration::days(i64::from(self.settings.backfill_days));
        if hourly {
            let horizon = now - Duration::days(HOURLY_HORIZON_DAYS) + Duration::hours(1);
            let clipped = cursor.map(|c| Cursor { from: c.from.max(horizon), note: c.note.clone() });
            window::next(
                clipped.as_ref(),
                now,
                backfill.min(Duration::days(HOURLY_HORIZON_DAYS - 1)),
                Duration::hours(1),
                Duration::days(7),
            )
        } else {
            window::next(cursor, now, backfill, Duration::days(1), Duration::days(90))
        }
    }

    /// Every line of one window: the coarse pass and its refinements.
    async fn read(&self, client: &Client, w: &Window, granularity: Granularity) -> Result<Vec<Line>, CallError> {
        let coarse = pages(client, w, granularity.clone(), None, [dim("SERVICE"), dim("LINKED_ACCOUNT")]).await?;
        let mut lines = mapping::lines(&coarse, |keys| Some((keys.first()?.clone(), keys.get(1)?.clone(), None)));
        let tag = self.settings.tag_key.trim();
        if !tag.is_empty() {
            let mut accounts: Vec<String> = lines.iter().map(|l| l.account.clone()).collect();
            accounts.sort();
            accounts.dedup();
            let mut fine = Vec::new();
            for account in accounts {
                let filter = only(Dimension::LinkedAccount, &account);
                let tag_group = GroupDefinition::builder().r#type(GroupDefinitionType::Tag).key(tag).build();
                let results = pages(client, w, granularity.clone(), Some(filter), [dim("SERVICE"), tag_group]).await?;
                fine.extend(mapping::lines(&results, |keys| {
                    let value = keys.get(1)?.split_once('$').map_or("", |(_, v)| v);
                    let tags = (!value.is_empty()).then(|| (tag.to_string(), value.to_string()));
                    Some((keys.first()?.clone(), account.clone(), tags.map(mapping::Split::Tag)))
                }));
            }
            lines = mapping::refine(lines, fine);
        }
        if self.settings.resource_level {
            let results = resource_pages(client, w, granularity).await?;
            let fine = mapping::lines(&results, |keys| {
                let resource = keys.get(1)?.clone();
                Some((EC2_COMPUTE.to_string(), keys.first()?.clone(), Some(mapping::Split::Resource(resource))))
            });
            lines = mapping::refine(lines, fine);
        }
        Ok(lines)
    }
}

fn dim(key: &str) -> GroupDefinition {
    GroupDefinition::builder().r#type(GroupDefinitionType::Dimension).key(key).build()
}

fn only(dimension: Dimension, value: &str) -> Expression {
    Expression::builder().dimensions(DimensionValues::builder().key(dimension).values(value).build()).build()
}

fn interval(w: &Window, granularity: &Granularity) -> Result<DateInterval, CallError> {
    let format = |t: DateTime<Utc>| match granularity {
        Granularity::Hourly => t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        _ => t.format("%Y-%m-%d").to_string(),
    };
    DateInterval::builder()
        .start(format(w.from))
        .end(format(w.to))
        .build()
        .map_err(|e| CallError::Other(anyhow::anyhow!("bad interval: {e}")))
}

/// A Cost Explorer failure, with its error code kept so `auto` can fall back to daily.
#[derive(Debug, thiserror::Error)]
enum CallError {
    #[error("Cost Explorer refused ({code}): {message}")]
    Refused { code: String, message: String },
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl CallError {
    fn from_sdk<E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static>(
        e: aws_sdk_costexplorer::error::SdkError<E, aws_sdk_costexplorer::config::http::HttpResponse>,
    ) -> CallError {
        match e.code() {
            Some(code) => CallError::Refused { code: code.to_string(), message: e.message().unwrap_or("").to_string() },
            // No answer from AWS: keep the SDK error as the cause, for `clouds::errors::one_line`.
            None => CallError::Other(anyhow::Error::new(e).context("calling Cost Explorer")),
        }
    }

    /// The account has no hourly data (not enabled, or beyond its reach).
    fn hourly_unavailable(&self) -> bool {
        matches!(self, CallError::Refused { code, .. } if code == "DataUnavailableException" || code == "ValidationException")
    }
}

/// Every page of one query: `page(token)` asks for one page and answers its results and
/// the NextPageToken.
async fn all_pages<F, Fut>(mut page: F) -> Result<Vec<ResultByTime>, CallError>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: std::future::Future<Output = Result<(Vec<ResultByTime>, Option<String>), CallError>>,
{
    let mut results = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let (page_results, next) = page(token.take()).await?;
        results.extend(page_results);
        match next.filter(|t| !t.is_empty()) {
            Some(next) => token = Some(next),
            None => return Ok(results),
        }
    }
}

/// One GetCostAndUsage query, all pages.
async fn pages(
    client: &Client,
    w: &Window,
    granularity: Granularity,
    filter: Option<Expression>,
    groups: [GroupDefinition; 2],
) -> Result<Vec<ResultByTime>, CallError> {
    let interval = interval(w, &granularity)?;
    all_pages(|token| {
        let request = client
            .get_cost_and_usage()
            .time_period(interval.clone())
            .granularity(granularity.clone())
            .metrics("UnblendedCost")
            .metrics("AmortizedCost")
            .set_group_by(Some(groups.to_vec()))
            .set_filter(filter.clone())
            .set_next_page_token(token);
        async move {
            let out = request.send().await.map_err(CallError::from_sdk)?;
            Ok((out.results_by_time().to_vec(), out.next_page_token().map(str::to_string)))
        }
    })
    .await
}

/// EC2 compute per instance (GetCostAndUsageWithResources), all pages.
async fn resource_pages(client: &Client, w: &Window, granularity: Granularity) -> Result<Vec<ResultByTime>, CallError> {
    let interval = interval(w, &granularity)?;
    all_pages(|token| {
        let request = client
            .get_cost_and_usage_with_resources()
            .time_period(interval.clone())
            .granularity(granularity.clone())
            .metrics("UnblendedCost")
            .metrics("AmortizedCost")
            .filter(only(Dimension::Service, EC2_COMPUTE))
            .group_by(dim("LINKED_ACCOUNT"))
            .group_by(dim("RESOURCE_ID"))
            .set_next_page_token(token);
        async move {
            let out = request.send().await.map_err(CallError::from_sdk)?;
            Ok((out.results_by_time().to_vec(), out.next_page_token().map(str::to_string)))
        }
    })
    .await
}

#[async_trait::async_trait]
impl CostSource for AwsCostExplorer {
    fn name(&self) -> &str {
        "aws"
    }

    async fn pull(&self, cursor: Option<String>, now: DateTime<Utc>) -> anyhow::Result<Pull> {
        let cursor = Cursor::parse(cursor.as_deref())?;
        let client = self.client().await?;
        let remembered = cursor.as_ref().and_then(|c| c.note.clone());
        let mut hourly = match self.settings.granularity.as_str() {
            "hourly" => true,
            "daily" => false,
            _ => remembered.as_deref() != Some("DAILY"),
        };
        let mut w = self.window(cursor.as_ref(), now, hourly);
        let lines = match self.read(&client, &w, if hourly { Granularity::Hourly } else { Granularity::Daily }).await {
            Err(e) if hourly && self.settings.granularity == "auto" && e.hourly_unavailable() => {
                tracing::info!(error = %e, "AWS: no hourly Cost Explorer data; reading daily");
                hourly = false;
                w = self.window(cursor.as_ref(), now, false);
                self.read(&client, &w, Granularity::Daily).await?
            }
            other => other?,
        };
        let billing = self.settings.billing_account_id.trim();
        let first_estimated = lines.iter().filter(|l| l.estimated).map(|l| l.start).min();
        let costs = lines.iter().map(|l| l.record(billing)).collect::<anyhow::Result<Vec<_>>>()?;
        let restate = Duration::days(i64::from(self.settings.restate_days));
        let next = Cursor {
            from: window::after(&w, first_estimated, restate),
            note: Some(if hourly { "HOURLY" } else { "DAILY" }.into()),
        };
        Ok(Pull::costs(costs, &next, w.more))
    }

    async fn test_connection(&self) -> anyhow::Result<String> {
        let client = self.client().await?;
        let today = Utc::now();
        let w = Window { from: today - Duration::days(1), to: today, more: false };
        let out = client
            .get_cost_and_usage()
            .time_period(interval(&w, &Granularity::Daily)?)
            .granularity(Granularity::Daily)
            .metrics("UnblendedCost")
            .send()
            .await
            .map_err(CallError::from_sdk)?;
        Ok(format!("Cost Explorer answered ({} period(s) for yesterday)", out.results_by_time().len()))
    }
}

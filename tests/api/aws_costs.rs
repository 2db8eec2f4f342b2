//! AWS Cost Explorer against moto: a backfill then an incremental run hold exactly what the
//! peer answered, estimated hours are read again and restated, a tag pass refines rows
//! without counting twice, and throttling or 5xx mid-run end in the same data as a clean run.

use crate::helpers::Bare;
use crate::peers::aws::Aws;
use chrono::{DateTime, Duration, DurationRound, Utc};
use costguard::ingest::runner::run_once;
use costguard::ingest::sources::window::Cursor;
use costguard::providers::aws::cost_explorer::AwsCostExplorer;
use serde_json::{json, Value};

const ACCOUNTS: [&str; 2] = ["111111111111", "222222222222"];
const SERVICES: [&str; 2] = ["Amazon Simple Storage Service", "Amazon Elastic Compute Cloud - Compute"];

/// Nano-units (1e-11) as Cost Explorer's decimal text.
fn text(units: i64) -> String {
    format!("{}.{:011}", units / 100_000_000_000, units % 100_000_000_000)
}

pub fn metric(units: i64) -> Value {
    json!({"Amount": text(units), "Unit": "USD"})
}

/// A made-up but irregular cost, with 11 decimals like a real export; `version` restates it.
fn cost(hour: usize, service: usize, account: usize, version: i64) -> i64 {
    let h = hour as i64;
    (3 + service as i64 * 5 + account as i64) * 100_000_000_000 + (h * 7_919_333 + 12_345) * version
}

pub fn hours_back(n: usize) -> Vec<DateTime<Utc>> {
    let now = Utc::now().duration_trunc(Duration::hours(1)).unwrap();
    (0..n).rev().map(|i| now - Duration::hours(i as i64)).collect()
}

fn period(hour: DateTime<Utc>) -> Value {
    let f = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    json!({"Start": f(hour), "End": f(hour + Duration::hours(1))})
}

/// One GetCostAndUsage answer per page; `groups(hour index)` gives (keys, unblended units).
pub fn pages(
    hours: &[(usize, DateTime<Utc>)],
    estimated_from: usize,
    per_page: usize,
    groups: impl Fn(usize) -> Vec<(Vec<String>, i64)>,
) -> Vec<Value> {
    let chunks: Vec<_> = hours.chunks(per_page.max(1)).collect();
    chunks
        .iter()
        .enumerate()
        .map(|(p, chunk)| {
            let results: Vec<Value> = chunk
                .iter()
                .map(|(i, hour)| {
                    let groups: Vec<Value> = groups(*i)
                        .into_iter()
                        .map(|(keys, units)| json!({"Keys": keys, "Metrics": {"UnblendedCost": metric(units), "AmortizedCost": metric(units)}}))
                        .collect();
                    json!({"TimePeriod": period(*hour), "Total": {}, "Groups": groups, "Estimated": *i >= estimated_from})
                })
                .collect();
            let mut page = json!({"ResultsByTime": results, "DimensionValueAttributes": []});
            if p + 1 < chunks.len() {
                page["NextPageToken"] = json!(format!("page-{}", p + 2));
            }
            page
        })
        .collect()
}

/// Everything one run asks for: the coarse pass in two pages, then a tag pass per account
/// that puts 70% of each service's cost on team=data and leaves the rest untagged.
fn answers(hours: &[(usize, DateTime<Utc>)], estimated_from: usize, version: i64) -> Vec<Value> {
    let coarse = |i: usize| {
        let mut g = Vec::new();
        for (s, service) in SERVICES.iter().enumerate() {
            for (a, account) in ACCOUNTS.iter().enumerate() {
                g.push((vec![service.to_string(), account.to_string()], cost(i, s, a, version)));
            }
        }
        g
    };
    let mut all = pages(hours, estimated_from, hours.len().div_ceil(2), coarse);
    for (a, _) in ACCOUNTS.iter().enumerate() {
        all.extend(pages(hours, estimated_from, hours.len(), |i| {
            let mut g = Vec::new();
            for (s, service) in SERVICES.iter().enumerate() {
                let total = cost(i, s, a, version);
                g.push((vec![service.to_string(), "team$data".into()], total * 7 / 10));
                g.push((vec![service.to_string(), "team$".into()], total - total * 7 / 10));
            }
            g
        }));
    }
    all
}

fn total(hours: &[(usize, DateTime<Utc>)], version: i64) -> i128 {
    let mut sum = 0i128;
    for (i, _) in hours {
        for s in 0..SERVICES.len() {
            for a in 0..ACCOUNTS.len() {
                sum += i128::from(cost(*i, s, a, version));
            }
        }
    }
    sum
}

async fn cursor(app: &Bare) -> Cursor {
    let rows =
        app.db.run(|c| costguard::ingest::runner::cursors(c).map_err(costguard::db::DbError::from)).await.unwrap();
    let row = rows.into_iter().find(|r| r.source == "aws").unwrap();
    Cursor::parse(Some(&row.cursor)).unwrap().unwrap()
}

pub async fn source(
    app: &Bare,
    aws: &Aws,
    adjust: impl FnOnce(&mut costguard::providers::aws::connection::AwsSettings),
) -> AwsCostExplorer {
    let vault = app.vault("aws", &[("access_key_id", "testing"), ("secret_access_key", "testing")]).await;
    let mut settings = aws.settings();
    adjust(&mut settings);
    AwsCostExplorer::new(settings, vault)
}

async fn backfill_then_incremental_hold_what_cost_explorer_answered(app: Bare) {
    let Some(aws) = Aws::start().await else { return };
    let hours: Vec<_> = hours_back(48).into_iter().enumerate().collect();
    let estimated_from = 45;
    aws.queue_cost_and_usage(answers(&hours, estimated_from, 1)).await;
    let source = source(&app, &aws, |s| {
        s.tag_key = "team".into();
        s.restate_days = 0;
    })
    .await;
    let ingestor = app.ingestor();
    run_once(&ingestor, &source).await.unwrap();
    let (rows, sum) = app.ledger("AWS").await;
    assert_eq!(sum, total(&hours, 1), "the ledger holds exactly what Cost Explorer answered");
    assert_eq!(rows, 48 * 4 * 2, "each service and account splits into team=data and its untagged rest");
    assert_eq!(cursor(&app).await.from, hours[estimated_from].1, "estimated hours are read again next run");
    assert_eq!(aws.calls(), ["GetCostAndUsage"; 4], "two pages of the coarse pass, then one tag pass per account");

    // The next run: the estimated hours come back final and restated.
    let tail = &hours[estimated_from..];
    aws.queue_cost_and_usage(answers(tail, usize::MAX, 2)).await;
    let summary = run_once(&ingestor, &source).await.unwrap();
    assert_eq!(summary.inserted, 0, "a restatement adds no rows");
    let (rows_after, sum_after) = app.ledger("AWS").await;
    assert_eq!(rows_after, rows, "nothing duplicated");
    assert_eq!(sum_after, total(&hours[..estimated_from], 1) + total(tail, 2), "restated hours carry the new cost");
    assert!(cursor(&app).await.from > hours[47].1, "all final: the next run starts after the last hour");
}

async fn throttling_and_5xx_mid_run_end_in_the_same_data(app: Bare) {
    let Some(aws) = Aws::start().await else { return };
    let hours: Vec<_> = hours_back(24).into_iter().enumerate().collect();
    aws.queue_cost_and_usage(answers(&hours, usize::MAX, 1)).await;
    // The second page is throttled twice, and the first tag pass meets a 503.
    aws.fail_call(2, Aws::throttling());
    aws.fail_call(3, Aws::throttling());
    aws.fail_call(5, Aws::server_error());
    let source = source(&app, &aws, |s| s.tag_key = "team".into()).await;
    run_once(&app.ingestor(), &source).await.unwrap();
    let (rows, sum) = app.ledger("AWS").await;
    assert_eq!((rows, sum), (24 * 4 * 2, total(&hours, 1)), "the same data as a clean run");
    assert_eq!(aws.calls().len(), 7, "four calls and three retries");
}

async fn a_provider_that_keeps_failing_records_its_error_and_writes_nothing(app: Bare) {
    let Some(aws) = Aws::start().await else { return };
    let hours: Vec<_> = hours_back(6).into_iter().enumerate().collect();
    aws.queue_cost_and_usage(answers(&hours, usize::MAX, 1)).await;
    for n in 1..=10 {
        aws.fail_call(n, Aws::server_error());
    }
    let source = source(&app, &aws, |s| s.max_attempts = 2).await;
    let said = costguard::ingest::sources::CostSource::test_connection(&source).await;
    assert!(said.unwrap_err().to_string().contains("ServiceUnavailable"), "the dashboard's test says what AWS said");
    assert!(run_once(&app.ingestor(), &source).await.is_err());
    assert_eq!(app.ledger("AWS").await, (0, 0));
    let rows =
        app.db.run(|c| costguard::ingest::runner::cursors(c).map_err(costguard::db::DbError::from)).await.unwrap();
    let row = rows.into_iter().find(|r| r.source == "aws").unwrap();
    assert!(row.last_error.unwrap().contains("ServiceUnavailable"), "the error names what AWS said");
    assert!(row.last_success_at.is_none());
}

async fn an_account_without_hourly_data_is_read_daily(app: Bare) {
    let Some(aws) = Aws::start().await else { return };
    let today = Utc::now().duration_trunc(Duration::days(1)).unwrap();
    let days: Vec<_> = (0..3).rev().map(|d| today - Duration::days(d)).enumerate().collect();
    let daily: Vec<Value> = pages(&days, usize::MAX, days.len(), |i| {
        vec![(vec![SERVICES[0].to_string(), ACCOUNTS[0].to_string()], cost(i, 0, 0, 1))]
    })
    .into_iter()
    .map(|mut page| {
        // Daily periods are dates.
        for r in page["ResultsByTime"].as_array_mut().unwrap() {
            for end in ["Start", "End"] {
                let t = r["TimePeriod"][end].as_str().unwrap()[..10].to_string();
                r["TimePeriod"][end] = json!(t);
            }
            let start = r["TimePeriod"]["Start"].as_str().unwrap().to_string();
            let next = chrono::NaiveDate::parse_from_str(&start, "%Y-%m-%d").unwrap() + Duration::days(1);
            r["TimePeriod"]["End"] = json!(next.to_string());
        }
        page
    })
    .collect();
    aws.queue_cost_and_usage(daily).await;
    // Cost Explorer refuses hourly granularity where the account has not turned it on.
    aws.fail_call(
        1,
        crate::peers::Fault {
            status: 400,
            headers: vec![("x-amzn-errortype", "DataUnavailableException".into())],
            body: r#"{"__type":"DataUnavailableException","message":"Hourly granularity is not enabled for this account"}"#.into(),
        },
    );
    let source = source(&app, &aws, |s| {
        s.granularity = "auto".into();
        s.backfill_days = 3;
    })
    .await;
    run_once(&app.ingestor(), &source).await.unwrap();
    let sum: i128 = days.iter().map(|(i, _)| i128::from(cost(*i, 0, 0, 1))).sum();
    assert_eq!(app.ledger("AWS").await, (3, sum));
    assert_eq!(cursor(&app).await.note.as_deref(), Some("DAILY"), "remembered, so later runs ask daily at once");
}

crate::on_both_bare!(
    an_account_without_hourly_data_is_read_daily,
    backfill_then_incremental_hold_what_cost_explorer_answered,
    throttling_and_5xx_mid_run_end_in_the_same_data,
    a_provider_that_keeps_failing_records_its_error_and_writes_nothing,
);

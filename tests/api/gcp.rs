//! Google Cloud against bqemulator (plus a front for running jobs): the billing export's
//! backfill and incremental runs hold exactly what BigQuery sums, restatements update in
//! place, throttling and 5xx mid-run end in the same data; job metadata flags a looping
//! script within minutes and the export later replaces those estimates without counting
//! twice; the cancel executor stops the script, refuses a protected one, changes nothing in
//! a dry run, and verifies after a crash without cancelling again.

use crate::ec2::{approved, live};
use crate::helpers::Bare;
use crate::peers::bigquery::{BigQuery, ExportRow};
use chrono::{DateTime, Duration, DurationRound, Utc};
use costguard::approval::ApprovalSettings;
use costguard::db::DbError;
use costguard::domain::approval::safety::SafetyRules;
use costguard::execute::Runner;
use costguard::ingest::runner::run_once;
use costguard::providers::gcp::bigquery::BigQueryExecutor;
use costguard::providers::gcp::{BillingExport, JobMetadata};
use std::sync::Arc;

pub const SCRIPT: &str = "loop_script_7d3e";
const TIB: u64 = 1 << 40;

fn hour(back: i64) -> DateTime<Utc> {
    Utc::now().duration_trunc(Duration::hours(1)).unwrap() - Duration::hours(back)
}

/// Three services over `hours` hours; `version` restates the cost.
fn rows(hours: i64, version: u32) -> Vec<ExportRow> {
    let mut out = Vec::new();
    for h in 0..hours {
        for (i, (project, service, sku)) in [
            ("analytics-prod", "BigQuery", "Analysis"),
            ("web-prod", "Compute Engine", "N2 Instance Core"),
            ("web-prod", "Cloud Storage", "Standard Storage"),
        ]
        .into_iter()
        .enumerate()
        {
            let nanos = 1_000_000_000 * (2 + i as i64) + h * 123_456_789 + i64::from(version) * 1_000_001;
            out.push(ExportRow {
                hour: hour(h),
                project,
                service,
                sku,
                resource: "projects/x",
                cost: format!("{}.{:09}", nanos / 1_000_000_000, nanos % 1_000_000_000),
                credit: (i == 1).then(|| "-0.25".to_string()),
            });
        }
    }
    out
}

fn units(rows: &[ExportRow]) -> i128 {
    rows.iter().map(|r| i128::from(r.nanos()) * 100).sum()
}

async fn export_source(app: &Bare, bq: &BigQuery) -> BillingExport {
    BillingExport::new(bq.settings(), app.vault("gcp", &[]).await).with_page_rows(7)
}

async fn export_backfill_then_incremental_hold_what_bigquery_sums(app: Bare) {
    let Some(bq) = BigQuery::start().await else { return };
    let first = rows(30, 1);
    bq.export(&first).await;
    let source = export_source(&app, &bq).await;
    let said = costguard::ingest::sources::CostSource::test_connection(&source).await.unwrap();
    assert!(said.contains("detailed (resource-level) billing export"), "{said}");
    run_once(&app.ingestor(), &source).await.unwrap();
    assert_eq!(app.ledger("Google Cloud").await, (90, units(&first)), "exactly what BigQuery sums");
    assert!(bq.calls().iter().filter(|c| c.contains("/queries/")).count() >= 10, "90 rows at 7 a page");

    // The export restates an hour (a correction row) and a new hour arrives.
    let mut correction = rows(1, 0);
    for r in &mut correction {
        r.hour = hour(2);
        r.cost = "-0.5".into();
        r.credit = None;
    }
    bq.export(&correction).await;
    let summary = run_once(&app.ingestor(), &source).await.unwrap();
    assert_eq!(summary.inserted, 0, "a restated hour updates its rows");
    assert!(summary.updated >= 3);
    assert_eq!(app.ledger("Google Cloud").await, (90, units(&first) + units(&correction)));
}

async fn the_standard_export_reads_the_same_without_resources(app: Bare) {
    let Some(bq) = BigQuery::start().await else { return };
    let data = rows(5, 1);
    bq.export_standard(&data).await;
    let mut settings = bq.settings();
    settings.billing_table =
        settings.billing_table.replace(crate::peers::bigquery::TABLE.2, crate::peers::bigquery::STANDARD_TABLE);
    let source = BillingExport::new(settings, app.vault("gcp", &[]).await);
    let said = costguard::ingest::sources::CostSource::test_connection(&source).await.unwrap();
    assert!(said.contains("standard billing export"), "{said}");
    run_once(&app.ingestor(), &source).await.unwrap();
    assert_eq!(app.ledger("Google Cloud").await, (15, units(&data)));
    let with_resource = app
        .db
        .run(|c| {
            use costguard::db::schema::cost_records as cr;
            use diesel::prelude::*;
            cr::table.filter(cr::resource_id.is_not_null()).count().get_result::<i64>(c).map_err(DbError::from)
        })
        .await
        .unwrap();
    assert_eq!(with_resource, 0);
}

async fn throttling_and_5xx_mid_run_end_in_the_same_data(app: Bare) {
    let Some(bq) = BigQuery::start().await else { return };
    let data = rows(10, 1);
    bq.export(&data).await;
    let seen = bq.calls_seen();
    // tables.get, then the query, then its pages: throttle the query and fail a page.
    bq.fail_call(seen + 2, BigQuery::throttled());
    bq.fail_call(seen + 4, BigQuery::backend_error());
    run_once(&app.ingestor(), &export_source(&app, &bq).await).await.unwrap();
    assert_eq!(app.ledger("Google Cloud").await, (30, units(&data)));
}

async fn jobs_source(app: &Bare, bq: &BigQuery) -> JobMetadata {
    JobMetadata::new(bq.settings(), app.vault("gcp", &[]).await)
}

/// A time inside the current hour and not in the future.
fn this_hour() -> DateTime<Utc> {
    let now = Utc::now();
    let start = now.duration_trunc(Duration::hours(1)).unwrap();
    start + (now - start) / 2
}

async fn job_metadata_flags_a_loop_and_the_export_replaces_the_estimate(app: Bare) {
    let Some(bq) = BigQuery::start().await else { return };
    bq.start_script("analytics-prod", SCRIPT, &[("team", "data")], hour(1));
    for i in 0..3 {
        bq.child("analytics-prod", SCRIPT, &format!("{SCRIPT}_c{i}"), hour(1) + Duration::minutes(10 + i), TIB);
    }
    for i in 3..5 {
        bq.child("analytics-prod", SCRIPT, &format!("{SCRIPT}_c{i}"), this_hour(), TIB);
    }
    run_once(&app.ingestor(), &jobs_source(&app, &bq).await).await.unwrap();
    let price = 625_000_000_000i128; // $6.25 per TiB in ledger units
    assert_eq!(app.ledger("Google Cloud").await, (2, 5 * price), "one line per hour for the script");
    let tags = app
        .db
        .run(|c| {
            costguard::ledger::query::resource_tags(c, "analytics-prod:US.loop_script_7d3e").map_err(DbError::from)
        })
        .await
        .unwrap();
    assert_eq!(
        tags.get("team").map(String::as_str),
        Some("data"),
        "the script's labels, for protection and root causes"
    );

    // The export catches up with the earlier hour: its billed row replaces the estimate.
    let billed = ExportRow {
        hour: hour(1),
        project: "analytics-prod",
        service: "BigQuery",
        sku: "Analysis",
        resource: "projects/analytics-prod",
        cost: "18.75".into(),
        credit: None,
    };
    let expected = units(std::slice::from_ref(&billed)) + 2 * price;
    bq.export(&[billed]).await;
    run_once(&app.ingestor(), &export_source(&app, &bq).await).await.unwrap();
    assert_eq!(
        app.ledger("Google Cloud").await,
        (2, expected),
        "billed for the exported hour, estimated for the current one"
    );

    // The next job poll reads that hour again; its estimate does not come back.
    run_once(&app.ingestor(), &jobs_source(&app, &bq).await).await.unwrap();
    assert_eq!(app.ledger("Google Cloud").await, (2, expected), "an hour the export covers takes no estimate");
}

async fn runner(app: &Bare, bq: &BigQuery, approval: ApprovalSettings) -> Runner {
    let executor = BigQueryExecutor::new(bq.settings(), app.vault("gcp", &[]).await);
    let rules = SafetyRules { protect_tags: vec!["costguard-protect=true".into()], ..SafetyRules::default() };
    Runner::new(app.db.clone(), vec![Arc::new(executor)], rules, approval)
}

fn target() -> String {
    format!("analytics-prod:US.{SCRIPT}")
}

fn cancels(bq: &BigQuery) -> usize {
    bq.calls().iter().filter(|c| c.ends_with("/cancel")).count()
}

async fn a_looping_script_is_cancelled_and_verified(app: Bare) {
    let Some(bq) = BigQuery::start().await else { return };
    bq.start_script("analytics-prod", SCRIPT, &[("team", "data")], hour(1));
    bq.child("analytics-prod", SCRIPT, "child_running", this_hour(), TIB);
    let action = approved(&app, "cancel_bigquery_job", &target(), "{}", &live()).await;
    assert_eq!(runner(&app, &bq, live()).await.process(&action).await.unwrap().as_str(), "succeeded");
    assert_eq!(bq.job_state("analytics-prod", SCRIPT), ("DONE".into(), Some("stopped".into())));
    assert_eq!(cancels(&bq), 1);
}

async fn a_protected_job_is_refused_and_a_dry_run_changes_nothing(app: Bare) {
    let Some(bq) = BigQuery::start().await else { return };
    bq.start_script("analytics-prod", SCRIPT, &[("costguard-protect", "true")], hour(1));
    let action = approved(&app, "cancel_bigquery_job", &target(), "{}", &live()).await;
    assert_eq!(runner(&app, &bq, live()).await.process(&action).await.unwrap().as_str(), "rejected");
    bq.start_script("analytics-prod", "other_loop", &[], hour(1));
    let dry = ApprovalSettings::default();
    let action = approved(&app, "cancel_bigquery_job", "analytics-prod:US.other_loop", "{}", &dry).await;
    assert_eq!(runner(&app, &bq, dry).await.process(&action).await.unwrap().as_str(), "dry_run");
    // A protected project: the safety policy's deny list, checked again at execution.
    let action = approved(&app, "cancel_bigquery_job", "finance-prod:US.other_loop", "{}", &live()).await;
    let executor = BigQueryExecutor::new(bq.settings(), app.vault("gcp", &[]).await);
    let rules = SafetyRules { deny_accounts: vec!["finance-prod".into()], ..SafetyRules::default() };
    let guarded = Runner::new(app.db.clone(), vec![Arc::new(executor)], rules, live());
    assert_eq!(guarded.process(&action).await.unwrap().as_str(), "rejected");
    assert_eq!(bq.job_state("analytics-prod", SCRIPT).0, "RUNNING");
    assert_eq!(bq.job_state("analytics-prod", "other_loop").0, "RUNNING");
    assert_eq!(cancels(&bq), 0);
}

async fn a_cancel_interrupted_by_a_crash_is_verified_not_repeated(app: Bare) {
    let Some(bq) = BigQuery::start().await else { return };
    bq.start_script("analytics-prod", SCRIPT, &[], hour(1));
    let action = approved(&app, "cancel_bigquery_job", &target(), "{}", &live()).await;
    crate::ec2::started(&app, &action, "Google Cloud").await;
    // The cancel reached BigQuery; the process died before recording it.
    reqwest::Client::new()
        .post(format!("{}/projects/analytics-prod/jobs/{SCRIPT}/cancel", bq.url))
        .send()
        .await
        .unwrap();
    let runner = runner(&app, &bq, live()).await;
    assert_eq!(runner.process(&action).await.unwrap().as_str(), "succeeded");
    assert_eq!(cancels(&bq), 1, "verified first, so not cancelled again");
}

crate::on_both_bare!(
    export_backfill_then_incremental_hold_what_bigquery_sums,
    throttling_and_5xx_mid_run_end_in_the_same_data,
    the_standard_export_reads_the_same_without_resources,
    job_metadata_flags_a_loop_and_the_export_replaces_the_estimate,
    a_looping_script_is_cancelled_and_verified,
    a_protected_job_is_refused_and_a_dry_run_changes_nothing,
    a_cancel_interrupted_by_a_crash_is_verified_not_repeated,
);

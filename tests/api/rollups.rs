//! The rollups stay exactly what a rebuild from every row would make, after each kind of
//! ledger write (a bulk import into an empty ledger, pushes, restatements, superseded
//! estimates, re-read windows, a later import), and the queries that read them answer
//! exactly what the rows say, also over ranges that start and end mid-hour.

use crate::helpers::{shared_data, Bare};
use crate::on_both_bare;
use chrono::{DateTime, NaiveDateTime, Utc};
use costguard::db::{write_transaction, DbConn, DbError};
use costguard::domain::cost_query::{CostQuery, Granularity, GroupBy};
use costguard::ledger::query::{aggregate_costs, sum_effective_cost_by_tag};
use costguard::ledger::rollups;
use diesel::prelude::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;

on_both_bare!(
    rollups_equal_a_rebuild_after_every_kind_of_write,
    a_bulk_load_sums_negative_costs_and_odd_tags_exactly,
    queries_over_rollups_equal_sums_of_the_rows
);

fn record(start: &str, service: &str, account: Option<&str>, cost: &str, team: Option<&str>) -> Value {
    let start: DateTime<Utc> = start.parse().unwrap();
    let mut r = json!({
        "BilledCost": cost, "EffectiveCost": cost, "BillingAccountId": "111", "BillingCurrency": "USD",
        "BillingPeriodStart": "2026-11-01", "BillingPeriodEnd": "2026-12-01", "ChargeCategory": "Usage",
        "ChargePeriodStart": start.to_rfc3339(), "ChargePeriodEnd": (start + chrono::Duration::minutes(30)).to_rfc3339(),
        "ProviderName": "AWS", "ServiceName": service, "RegionId": "us-east-1", "ResourceId": format!("i-{service}")
    });
    if let Some(account) = account {
        r["SubAccountId"] = json!(account);
    }
    if let Some(team) = team {
        r["Tags"] = json!({"team": team, "env": "prod"});
    }
    r
}

async fn push(app: &Bare, source: &str, records: &[Value]) {
    let costs = costguard::ingest::json::cost_records(records).unwrap();
    app.ingestor().write(source, costguard::ingest::Batch { costs, llm_usage: vec![] }).await.unwrap();
}

/// Every rollup row, as text, in a fixed order.
fn snapshot(conn: &mut DbConn) -> Vec<String> {
    #[derive(QueryableByName)]
    struct Line {
        #[diesel(sql_type = diesel::sql_types::Text)]
        line: String,
    }
    let mut all = Vec::new();
    for (table, columns) in [
        ("cost_hourly", "hour, provider_name, sub_account_id, service_name, region_id, billing_currency, billed_whole, billed_fraction, effective_whole, effective_fraction, records, updated_at"),
        ("cost_daily", "day, provider_name, sub_account_id, service_name, region_id, billing_currency, billed_whole, billed_fraction, effective_whole, effective_fraction, records, updated_at"),
        ("cost_tag_hourly", "hour, tag_key, tag_value, billing_currency, effective_whole, effective_fraction, updated_at"),
    ] {
        let concat = columns.split(", ").map(|c| format!("COALESCE(CAST({c} AS TEXT), '-')")).collect::<Vec<_>>().join(" || '|' || ");
        let sql = format!("SELECT '{table}|' || {concat} AS line FROM {table}");
        let mut lines: Vec<String> = costguard::per_backend!(conn, |c| diesel::sql_query(&sql).load::<Line>(c))
            .unwrap()
            .into_iter()
            .map(|l| l.line)
            .collect();
        lines.sort();
        all.extend(lines);
    }
    all
}

/// Asserts the maintained rollups equal a rebuild from the rows, and returns how many there are.
async fn assert_current(app: &Bare, after: &str) -> usize {
    let (kept, rebuilt) = app
        .db
        .run(|c| {
            let kept = snapshot(c);
            // Rebuild inside a transaction that is rolled back, so the kept rollups stay.
            let mut rebuilt = Vec::new();
            let rolled_back = c.transaction::<(), _, _>(|c| {
                rollups::rebuild_all(c)?;
                rebuilt = snapshot(c);
                Err(diesel::result::Error::RollbackTransaction)
            });
            assert!(matches!(rolled_back, Err(diesel::result::Error::RollbackTransaction)));
            Ok::<_, DbError>((kept, rebuilt))
        })
        .await
        .unwrap();
    assert!(!kept.is_empty(), "after {after}: no rollups");
    assert_eq!(kept, rebuilt, "after {after}: the rollups differ from a rebuild");
    kept.len()
}

async fn rollups_equal_a_rebuild_after_every_kind_of_write(app: Bare) {
    let Some(sample) = shared_data("focus/focus_sample.csv") else { return };
    let file = std::fs::File::open(sample).unwrap();
    app.ingestor().import_csv("focus-file", file, |_| {}).await.unwrap();
    assert_current(&app, "a bulk import into an empty ledger").await;

    let day = |d: u32, h: u32, m: u32| format!("2026-11-{d:02}T{h:02}:{m:02}:00Z");
    let first: Vec<Value> = (0..48)
        .map(|i| {
            let (d, h) = (20 + i / 24, i % 24);
            record(
                &day(d, h, if i % 3 == 0 { 30 } else { 0 }),
                ["EC2", "S3"][(i % 2) as usize],
                (i % 4 != 0).then_some("222"),
                &format!("{}.00000000007", i + 1),
                (i % 5 != 0).then_some(["data", "web"][(i % 2) as usize]),
            )
        })
        .collect();
    push(&app, "push", &first).await;
    assert_current(&app, "a push").await;

    // Restated: the same records with new costs, and a new one.
    let mut restated: Vec<Value> = first[10..20].to_vec();
    restated.iter_mut().for_each(|r| r["BilledCost"] = json!("0.5"));
    restated.iter_mut().for_each(|r| r["EffectiveCost"] = json!("0.25"));
    restated.push(record(&day(22, 3, 0), "Lambda", None, "9", Some("data")));
    push(&app, "push", &restated).await;
    assert_current(&app, "a restatement").await;

    // Estimates superseded by a bill, and a re-read window that no longer holds some rows.
    let estimates: Vec<Value> = (0..6).map(|h| record(&day(23, h, 0), "EC2", Some("222"), "1", None)).collect();
    push(&app, "estimates", &estimates).await;
    let until: DateTime<Utc> = day(23, 3, 0).parse().unwrap();
    let supersede = costguard::ledger::Supersede {
        source: "estimates".into(),
        provider: "AWS".into(),
        sub_account: "222".into(),
        service: "EC2".into(),
        until,
    };
    let reread = costguard::ledger::Reread {
        source: "push".into(),
        from: day(20, 0, 0).parse().unwrap(),
        to: day(21, 0, 0).parse().unwrap(),
    };
    app.db
        .run(move |c| {
            write_transaction(c, |c| {
                let mut summary = costguard::ledger::delete_superseded(c, &supersede)?;
                summary.merge(costguard::ledger::delete_unreported(c, &reread, &[], &[])?);
                assert!(summary.updated >= 3 + 24, "deleted {}", summary.updated);
                rollups::refresh(c, &summary.touched)?;
                Ok::<_, diesel::result::Error>(())
            })
            .map_err(DbError::from)
        })
        .await
        .unwrap();
    assert_current(&app, "deletions").await;

    // A second import into a ledger that is no longer empty.
    let text = "BilledCost,EffectiveCost,BillingAccountId,BillingCurrency,BillingPeriodStart,BillingPeriodEnd,ChargeCategory,ChargePeriodStart,ChargePeriodEnd,ProviderName,ServiceName,Tags\n\
                1.5,1.25,111,USD,2026-11-01,2026-12-01,Usage,2026-11-21T05:00:00Z,2026-11-21T06:00:00Z,GCP,BigQuery,\"{\"\"team\"\":\"\"data\"\"}\"\n";
    app.ingestor().import_csv("second-file", std::io::Cursor::new(text.as_bytes().to_vec()), |_| {}).await.unwrap();
    assert_current(&app, "an import into a non-empty ledger").await;
}

/// A bulk load into an empty ledger stores the rollups its parser summed (not a rebuild):
/// negative and fractional costs split as the SQL splits them, rows without sub-account or
/// region, several currencies, and tag values that are numbers, booleans and nulls (which
/// only the database prints, so the tag rollup falls back to a rebuild) must all come out
/// exactly as a rebuild from the rows.
async fn a_bulk_load_sums_negative_costs_and_odd_tags_exactly(app: Bare) {
    let mut text = String::from(
        "BilledCost,EffectiveCost,BillingAccountId,BillingCurrency,BillingPeriodStart,BillingPeriodEnd,ChargeCategory,ChargePeriodStart,ChargePeriodEnd,ProviderName,ServiceName,SubAccountId,RegionId,ResourceId,Tags\n",
    );
    for i in 0..300 {
        let cost = if i % 3 == 0 { format!("-{i}.12345678901") } else { format!("{i}.00000000007") };
        let (account, region) = if i % 4 == 0 { ("", "") } else { ("acct-1", "eu-west-1") };
        let currency = if i % 5 == 0 { "EUR" } else { "USD" };
        let tags = match i % 4 {
            0 => r#""{""team"":""data"",""cost"":1.50}""#,
            1 => r#""{""team"":""web"",""billable"":true}""#,
            2 => r#""{""team"":null,""env"":""prod""}""#,
            _ => "",
        };
        let hour = i % 30;
        text.push_str(&format!(
            "{cost},{cost},111,{currency},2026-11-01,2026-12-01,Usage,2026-11-02T{h:02}:15:00Z,2026-11-02T{h:02}:45:00Z,AWS,S{s},{account},{region},r-{i},{tags}\n",
            h = hour % 24,
            s = i % 7
        ));
    }
    app.ingestor().import_csv("odd-file", std::io::Cursor::new(text.into_bytes()), |_| {}).await.unwrap();
    assert!(assert_current(&app, "a bulk load with negative costs and odd tags").await > 0);

    // The same without the tags only the database prints: every rollup is the parser's.
    app.db
        .run(|c| {
            write_transaction(c, |c| {
                costguard::per_backend!(c, |c| diesel::sql_query("DELETE FROM cost_records").execute(c))?;
                rollups::rebuild_all(c)
            })
            .map_err(DbError::from)
        })
        .await
        .unwrap();
    let plain = "BilledCost,EffectiveCost,BillingAccountId,BillingCurrency,BillingPeriodStart,BillingPeriodEnd,ChargeCategory,ChargePeriodStart,ChargePeriodEnd,ProviderName,ServiceName,Tags\n\
                 -0.00000000001,-7.99999999999,111,USD,2026-11-01,2026-12-01,Usage,2026-11-21T05:00:00Z,2026-11-21T06:00:00Z,GCP,BigQuery,\"{\"\"team\"\":\"\"data\"\",\"\"on\"\":false}\"\n\
                 2.5,2.5,111,USD,2026-11-01,2026-12-01,Usage,2026-11-21T05:30:00Z,2026-11-21T06:00:00Z,GCP,BigQuery,\n\
                 3,3,111,JPY,2026-11-01,2026-12-01,Usage,2026-11-22T23:00:00Z,2026-11-23T00:00:00Z,GCP,Compute,\"{\"\"team\"\":\"\"data\"\"}\"\n";
    app.ingestor().import_csv("plain-file", std::io::Cursor::new(plain.as_bytes().to_vec()), |_| {}).await.unwrap();
    assert_eq!(assert_current(&app, "a bulk load the parser summed").await, 2 + 2 + 3);
}

/// (charge period start, service, tags, billed, effective) of every row.
type Row = (NaiveDateTime, String, Option<String>, i64, i64);

async fn queries_over_rollups_equal_sums_of_the_rows(app: Bare) {
    let day = |d: u32, h: u32, m: u32| format!("2026-11-{d:02}T{h:02}:{m:02}:00Z");
    let records: Vec<Value> = (0..24 * 4)
        .map(|i| {
            let (d, h, m) = (20 + i / 24, i % 24, [0, 15, 30, 45][(i % 4) as usize]);
            record(
                &day(d, h, m),
                ["EC2", "S3", "RDS"][(i % 3) as usize],
                Some("222"),
                &format!("{}.123456789", i % 7),
                (i % 2 == 0).then_some(["data", "web"][(i % 4 / 2) as usize]),
            )
        })
        .collect();
    push(&app, "push", &records).await;
    let rows: Vec<Row> = app
        .db
        .run(|c| {
            use costguard::db::schema::cost_records as cr;
            cr::table
                .select((cr::charge_period_start, cr::service_name, cr::tags, cr::billed_cost, cr::effective_cost))
                .load(c)
                .map_err(DbError::from)
        })
        .await
        .unwrap();

    // Mid-hour edges: the ledger answers the minutes, the rollups the hours and days between.
    let (from, to): (DateTime<Utc>, DateTime<Utc>) =
        (day(20, 10, 20).parse().unwrap(), day(23, 5, 40).parse().unwrap());
    for granularity in [Granularity::Hour, Granularity::Day, Granularity::Month] {
        let q = CostQuery { from, to, granularity, group_by: Some(GroupBy::Service), provider: None, service: None };
        let got = app.db.run(move |c| aggregate_costs(c, &q).map_err(DbError::from)).await.unwrap();
        let mut expected: BTreeMap<(String, String), (i128, i128, i64)> = BTreeMap::new();
        for (start, service, _, billed, effective) in &rows {
            let t = start.and_utc();
            if t < from || t >= to {
                continue;
            }
            let bucket = match granularity {
                Granularity::Hour => t.format("%Y-%m-%d %H:00"),
                Granularity::Day => t.format("%Y-%m-%d 00:00"),
                Granularity::Month => t.format("%Y-%m-01 00:00"),
            };
            let cell = expected.entry((bucket.to_string(), service.clone())).or_default();
            cell.0 += i128::from(*billed);
            cell.1 += i128::from(*effective);
            cell.2 += 1;
        }
        let got: BTreeMap<(String, String), (i128, i128, i64)> = got
            .into_iter()
            .map(|b| {
                let key = (b.period_start.format("%Y-%m-%d %H:%M").to_string(), b.group.unwrap());
                (key, (b.billed_cost.units(), b.effective_cost.units(), b.records))
            })
            .collect();
        assert_eq!(got, expected, "{granularity:?}");
    }

    // Tag series: per hour and team value, from the tag rollup and the rows at the edges.
    let got = app
        .db
        .run(move |c| sum_effective_cost_by_tag(c, from, to, &["team".into()]).map_err(DbError::from))
        .await
        .unwrap();
    let mut expected: BTreeMap<(String, String), i128> = BTreeMap::new();
    for (start, _, tags, _, effective) in &rows {
        let t = start.and_utc();
        let Some(team) = tags
            .as_deref()
            .and_then(|t| serde_json::from_str::<Value>(t).ok())
            .and_then(|v| v["team"].as_str().map(str::to_string))
        else {
            continue;
        };
        if t >= from && t < to {
            *expected.entry((t.format("%Y-%m-%d %H:00").to_string(), team)).or_default() += i128::from(*effective);
        }
    }
    let got: BTreeMap<(String, String), i128> = got
        .into_iter()
        .map(|g| {
            (
                (g.hour.unwrap().format("%Y-%m-%d %H:00").to_string(), g.keys[1].clone().unwrap()),
                g.effective_cost.units(),
            )
        })
        .collect();
    assert_eq!(got, expected);
}

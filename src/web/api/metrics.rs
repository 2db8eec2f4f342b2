//! `/metrics`: the Prometheus text exposition. Counters and histograms are recorded where
//! things happen; the gauges below are read from the database at scrape time, so every
//! replica reports the same state and a restart loses none of it.

use super::health::SourceStatus;
use crate::db::DbError;
use crate::domain::detect::series::SeriesId;
use crate::domain::money::Total;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use std::collections::BTreeMap;

/// What the gauges show, read in one go.
struct Snapshot {
    cursors: Vec<crate::ingest::runner::CursorRow>,
    series: Vec<crate::detect::store::SeriesRow>,
    open: Vec<(String, i64)>,
    actions: Vec<(String, i64)>,
    recovered: std::collections::BTreeMap<String, i128>,
    outbox: Vec<(String, i64)>,
}

fn snapshot(c: &mut crate::db::DbConn) -> diesel::QueryResult<Snapshot> {
    Ok(Snapshot {
        cursors: crate::ingest::runner::cursors(c)?,
        series: crate::detect::store::list_series(c)?,
        open: crate::detect::store::open_by_severity(c)?,
        actions: crate::approval::store::count_by_status(c)?,
        recovered: crate::approval::store::recovered_per_currency(c)?
            .into_iter()
            .map(|r| (r.currency, r.units))
            .collect(),
        outbox: crate::notify::store::counts(c)?,
    })
}

pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    metrics::gauge!("costguard_leader").set(f64::from(u8::from(state.leader.is_leader())));
    crate::telemetry::collect_process();
    let (in_use, idle) = state.db.pool_state();
    metrics::gauge!("costguard_db_pool_connections", "state" => "in_use").set(f64::from(in_use));
    metrics::gauge!("costguard_db_pool_connections", "state" => "idle").set(f64::from(idle));
    match state.db.run(|c| snapshot(c).map_err(DbError::from)).await {
        Ok(s) => record(s, state.limits.metrics_max_series),
        Err(e) => tracing::warn!(error = %e, "metrics: could not read the database"),
    }
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(state.metrics.render())
}

fn record(s: Snapshot, max_series: usize) {
    let now = chrono::Utc::now().naive_utc();
    for status in s.cursors.into_iter().map(|c| SourceStatus::of(c, now)) {
        for outcome in ["success", "error"] {
            metrics::counter!("costguard_ingest_runs_total", "source" => status.source.clone(), "outcome" => outcome)
                .increment(0);
        }
        if let Some(lag) = status.lag_seconds {
            metrics::gauge!("costguard_ingest_lag_seconds", "source" => status.source.clone()).set(lag as f64);
        }
        let failing = status.last_error_at.is_some_and(|e| status.last_success_at.is_none_or(|s| e > s));
        metrics::gauge!("costguard_ingest_failing", "source" => status.source).set(f64::from(u8::from(failing)));
    }
    spend(s.series, max_series);
    let counts = |rows: &[(String, i64)], key: &str| rows.iter().find(|(k, _)| k == key).map_or(0, |(_, n)| *n) as f64;
    for severity in crate::domain::detect::decision::Severity::ALL {
        metrics::gauge!("costguard_anomalies_open", "severity" => severity.as_str())
            .set(counts(&s.open, severity.as_str()));
    }
    for status in crate::domain::approval::Status::ALL {
        metrics::gauge!("costguard_actions", "status" => status.as_str()).set(counts(&s.actions, status.as_str()));
    }
    for status in ["pending", "sent", "failed"] {
        metrics::gauge!("costguard_notifications_outbox", "status" => status).set(counts(&s.outbox, status));
    }
    // Recovered amounts only grow, so the stored totals are counters (one per currency; USD
    // is always there, so the series exists before the first recovery).
    let mut recovered = s.recovered;
    recovered.entry("USD".into()).or_insert(0);
    for (currency, units) in recovered {
        metrics::counter!("costguard_cost_recovered_total", "currency" => currency)
            .absolute(Total::from_units(units).approx_whole().round() as u64);
    }
}

/// (provider, sub_account, service, currency) of a spend gauge.
type Labels = [(&'static str, String); 4];

fn spend(series: Vec<crate::detect::store::SeriesRow>, max_series: usize) {
    for (labels, actual, expected) in capped(series, max_series) {
        metrics::gauge!("costguard_spend_hourly", &labels).set(actual);
        metrics::gauge!("costguard_spend_expected_hourly", &labels).set(expected);
    }
}

/// Spend and expected spend per hour for the service series with the most spend, at most
/// `max_series` of them (label sets stay bounded); the rest summed per provider as "(other)".
fn capped(series: Vec<crate::detect::store::SeriesRow>, max_series: usize) -> Vec<(Labels, f64, f64)> {
    let mut services: Vec<(String, String, String, String, f64, f64)> = series
        .into_iter()
        .filter_map(|r| {
            let Some(SeriesId::Service { provider, sub_account, service }) = SeriesId::parse_key(&r.series_key) else {
                return None;
            };
            // Per hour, whatever the series' step (some sources only have days).
            let per_hour = 3_600.0 / r.step_secs.max(1) as f64;
            let whole = |units: i64| Total::from_units(i128::from(units)).approx_whole() * per_hour;
            Some((provider, sub_account, service, r.currency, whole(r.last_actual), whole(r.last_expected)))
        })
        .collect();
    services.sort_by(|a, b| b.4.total_cmp(&a.4));
    let mut out = Vec::new();
    let mut other: BTreeMap<(String, String), (f64, f64)> = BTreeMap::new();
    for (i, (provider, sub_account, service, currency, actual, expected)) in services.into_iter().enumerate() {
        if i < max_series {
            out.push((
                [("provider", provider), ("sub_account", sub_account), ("service", service), ("currency", currency)],
                actual,
                expected,
            ));
        } else {
            let sum = other.entry((provider, currency)).or_default();
            (sum.0, sum.1) = (sum.0 + actual, sum.1 + expected);
        }
    }
    for ((provider, currency), (actual, expected)) in other {
        let labels = [
            ("provider", provider),
            ("sub_account", "(other)".into()),
            ("service", "(other)".into()),
            ("currency", currency),
        ];
        out.push((labels, actual, expected));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(provider: &str, service: &str, step_secs: i64, actual_whole: i64) -> crate::detect::store::SeriesRow {
        let id = SeriesId::Service { provider: provider.into(), sub_account: "acct".into(), service: service.into() };
        crate::detect::store::SeriesRow {
            series_key: id.key(),
            series_kind: "service".into(),
            label: String::new(),
            step_secs,
            points: 100,
            ready: true,
            last_point_at: chrono::NaiveDateTime::default(),
            last_actual: actual_whole * crate::domain::money::UNITS_PER_WHOLE,
            last_expected: crate::domain::money::UNITS_PER_WHOLE,
            currency: "USD".into(),
            updated_at: chrono::NaiveDateTime::default(),
        }
    }

    #[test]
    fn the_biggest_series_keep_their_labels_and_the_rest_are_summed_per_provider() {
        let rows = vec![
            row("AWS", "EC2", 3_600, 50),
            row("AWS", "S3", 3_600, 2),
            row("AWS", "Lambda", 3_600, 3),
            row("Google Cloud", "BigQuery", 3_600, 400),
            row("Oracle", "Compute", 86_400, 240),
        ];
        let out = capped(rows, 2);
        let shown: Vec<(String, String, f64)> =
            out.iter().map(|(l, actual, _)| (l[0].1.clone(), l[2].1.clone(), *actual)).collect();
        assert_eq!(
            shown,
            [
                ("Google Cloud".into(), "BigQuery".into(), 400.0),
                ("AWS".into(), "EC2".into(), 50.0),
                ("AWS".into(), "(other)".into(), 5.0),
                ("Oracle".into(), "(other)".into(), 10.0),
            ],
            "a daily series counts per hour"
        );
    }
}

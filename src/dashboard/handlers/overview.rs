//! The overview page. Spend and trends come from the series histories the detective stores,
//! so the page never scans the ledger, however many rows it holds.

use super::html;
use crate::approval::store as actions;
use crate::dashboard::error::PageError;
use crate::dashboard::session::Signed;
use crate::dashboard::views::overview::{Overview, Pair, SpendRow};
use crate::detect::history::{ChartPoint, History};
use crate::detect::store::{self as anomalies, ListFilter};
use crate::domain::detect::series::SeriesId;
use crate::domain::money::Total;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};
use std::collections::BTreeMap;

const TREND_DAYS: i64 = 7;
const TOP_SERVICES: usize = 10;

/// Period bounds (epoch seconds) as of `at`: today (UTC), the last 7 days, this month.
fn periods(at: DateTime<Utc>) -> [(i64, i64); 3] {
    let end = at.timestamp() + 1;
    let day = at.date_naive().and_hms_opt(0, 0, 0).unwrap_or_default().and_utc().timestamp();
    let month = Utc.with_ymd_and_hms(at.year(), at.month(), 1, 0, 0, 0).single().map_or(day, |t| t.timestamp());
    [(day, end), ((at - Duration::days(7)).timestamp(), end), (month, end)]
}

fn pair(h: &History, (from, to): (i64, i64)) -> Pair {
    let (actual, expected) = h.sums(from, to);
    Pair { actual, expected }
}

fn merge(row: &mut SpendRow, h: &History, p: &[(i64, i64); 3]) {
    for (slot, bounds) in [&mut row.today, &mut row.week, &mut row.month].into_iter().zip(p) {
        let add_pair = pair(h, *bounds);
        slot.actual = slot.actual.plus(add_pair.actual);
        slot.expected = slot.expected.plus(add_pair.expected);
    }
}

/// Per provider and currency: its hourly points.
type Trend = (String, String, Vec<ChartPoint>);

/// The overview's figures: as of when, per provider, top services, trends.
type Summary = (DateTime<Utc>, Vec<SpendRow>, Vec<SpendRow>, Vec<Trend>);

/// Builds the page's figures from (series key, currency, history) of every service series.
pub fn summarize(series: &[(String, String, History)], now: DateTime<Utc>) -> Summary {
    // Simulated or restated data can run ahead of the clock: take the newest point as "now".
    let newest = series.iter().map(|(_, _, h)| h.end() - h.step).max().unwrap_or(0);
    let as_of = DateTime::from_timestamp(newest, 0).filter(|t| *t > now).unwrap_or(now);
    let p = periods(as_of);
    let blank = |label: String, currency: &str| SpendRow {
        label,
        currency: currency.to_string(),
        today: Pair::default(),
        week: Pair::default(),
        month: Pair::default(),
    };
    let mut providers: BTreeMap<(String, String), SpendRow> = BTreeMap::new();
    let mut services: BTreeMap<(String, String, String), SpendRow> = BTreeMap::new();
    let mut trends: BTreeMap<(String, String), BTreeMap<i64, [i128; 4]>> = BTreeMap::new();
    let trend_from = (as_of - Duration::days(TREND_DAYS)).timestamp();
    for (key, currency, h) in series {
        let Some(SeriesId::Service { provider, service, .. }) = SeriesId::parse_key(key) else { continue };
        let pk = (provider.clone(), currency.clone());
        merge(providers.entry(pk.clone()).or_insert_with(|| blank(provider.clone(), currency)), h, &p);
        let sk = (provider.clone(), service.clone(), currency.clone());
        merge(services.entry(sk).or_insert_with(|| blank(format!("{provider} · {service}"), currency)), h, &p);
        let points = trends.entry(pk).or_default();
        for point in h.points().filter(|pt| pt.at.timestamp() >= trend_from) {
            let slot = points.entry(point.at.timestamp()).or_insert([0; 4]);
            for (s, v) in slot.iter_mut().zip([point.actual, point.expected, point.lower, point.upper]) {
                *s += v.units();
            }
        }
    }
    let mut services: Vec<SpendRow> = services.into_values().collect();
    services.sort_by_key(|r| std::cmp::Reverse(r.month.actual.units()));
    services.truncate(TOP_SERVICES);
    let trends = trends
        .into_iter()
        .map(|((provider, currency), points)| {
            let points = points
                .into_iter()
                .map(|(at, [a, e, lo, hi])| ChartPoint {
                    at: DateTime::from_timestamp(at, 0).unwrap_or_default(),
                    actual: Total::from_units(a),
                    expected: Total::from_units(e),
                    lower: Total::from_units(lo),
                    upper: Total::from_units(hi),
                    warming_up: false,
                })
                .collect();
            (provider, currency, points)
        })
        .collect();
    (as_of, providers.into_values().collect(), services, trends)
}

fn severity_rank(s: &str) -> u8 {
    match s {
        "critical" => 0,
        "high" => 1,
        "medium" => 2,
        _ => 3,
    }
}

pub async fn page(user: Signed, state: web::Data<AppState>) -> Result<HttpResponse, PageError> {
    let found = state
        .db
        .run(move |c| {
            let series = anomalies::histories(c, "service")?;
            let filter = ListFilter { state: Some("open".into()), limit: 100, ..ListFilter::default() };
            let mut open = anomalies::list(c, &filter)?;
            open.sort_by(|a, b| {
                severity_rank(&a.severity)
                    .cmp(&severity_rank(&b.severity))
                    .then(b.projected_daily.cmp(&a.projected_daily))
            });
            // A notify-only item asks for an acknowledgement, not an approval.
            let pending: Vec<_> = actions::list(c, Some(crate::domain::approval::Status::PendingApproval), None, 40)?
                .into_iter()
                .filter(|a| a.kind != crate::domain::optimizer::ActionKind::NotifyOnly)
                .take(20)
                .collect();
            let pending = actions::with_currencies(c, pending)?;
            let recovered = actions::recovered_per_currency(c)?;
            let budgets = crate::budgets::store::list_with_crossings(c)?;
            Ok::<_, crate::db::DbError>((series, open, pending, recovered, budgets))
        })
        .await?;
    let (series, open_anomalies, pending, recovered, budgets) = found;
    let (as_of, providers, services, trends) = summarize(&series, Utc::now());
    let currency = providers.first().map_or("USD".to_string(), |p| p.currency.clone());
    let overview = Overview {
        as_of,
        providers,
        services,
        trends,
        open_anomalies,
        pending,
        recovered,
        currency,
        detection_on: state.detect.enabled,
        budgets,
    };
    Ok(html(crate::dashboard::views::overview::render(&user.0, &overview)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spend_is_summed_exactly_per_provider_and_period() {
        let key = |svc: &str| {
            SeriesId::Service { provider: "AWS".into(), sub_account: "1".into(), service: svc.into() }.key()
        };
        let start = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).single().unwrap_or_default().timestamp();
        let hours = 24 * 21;
        let h = |per_hour: i64| History {
            step: 3600,
            start,
            actual: vec![per_hour; hours],
            expected: vec![per_hour / 2; hours],
            lower: vec![0; hours],
            upper: vec![per_hour; hours],
            ready_from: 0,
        };
        let series = vec![(key("EC2"), "USD".to_string(), h(3)), (key("S3"), "USD".to_string(), h(5))];
        let (as_of, providers, services, trends) =
            summarize(&series, DateTime::from_timestamp(0, 0).unwrap_or_default());
        assert_eq!(as_of.timestamp(), start + 3600 * (hours as i64 - 1));
        assert_eq!(providers.len(), 1);
        assert_eq!(providers[0].today.actual.units(), 24 * 8);
        assert_eq!(providers[0].today.expected.units(), 24 * (1 + 2));
        assert_eq!(providers[0].month.actual.units(), hours as i128 * 8);
        assert_eq!(services[0].label, "AWS · S3", "the largest service first");
        assert_eq!(trends[0].2.len(), 7 * 24 + 1);
    }
}

//! What the detective saw per series: actual, expected and band per point. Each run stores it
//! in `detect_series.history` (compact JSON), so the dashboard draws charts and sums spend
//! against expectation without re-reading the ledger; an anomaly older than the stored
//! history is replayed from the ledger instead.

use super::history::{ChartPoint, History};
use super::replay::replay;
use super::series::{self, Scope};
use super::store::AnomalyRow;
use super::DetectSettings;
use crate::db::DbConn;
use crate::domain::detect::series::SeriesId;
use chrono::{DateTime, Duration, Utc};

/// Points from three days before the anomaly to a day after it (or now): from the stored
/// history when it reaches back far enough, else replayed exactly as the detective does.
/// None for manual anomalies and series no longer in the ledger.
pub fn for_anomaly(
    conn: &mut DbConn,
    settings: &DetectSettings,
    a: &AnomalyRow,
    now: DateTime<Utc>,
) -> diesel::QueryResult<Option<Vec<ChartPoint>>> {
    let Some(id) = SeriesId::parse_key(&a.series_key) else { return Ok(None) };
    let start = a.started_at.and_utc();
    // A day of context before it: enough to see the usual rhythm, not last week's incident.
    let shown_from = start - Duration::days(1);
    let shown_to = a.resolved_at.map_or(now, |t| t.and_utc()) + Duration::days(1);
    let within = |p: &ChartPoint| p.at >= shown_from && p.at <= shown_to;
    if let Some(h) = super::store::history(conn, &a.series_key)? {
        if h.start <= shown_from.timestamp() {
            return Ok(Some(h.points().filter(within).collect()));
        }
    }
    let scope = match &id {
        SeriesId::Service { provider, .. } => {
            Scope { providers: Some(vec![provider.clone()]), only: Some([id.clone()].into_iter().collect()) }
        }
        _ => Scope::default(),
    };
    let from = start.min(now) - Duration::days(i64::from(settings.lookback_days));
    let all = series::load(conn, from, now.max(start) + Duration::days(2), &scope, &settings.tag_keys)?;
    let Some(s) = all.into_iter().find(|s| s.id == id) else { return Ok(None) };
    let r = replay(&s, &settings.rules_for(&s.id), &[], true);
    let h = History::from_outcomes(&s, &r.outcomes, settings.detector.z_open);
    Ok(Some(h.points().filter(within).collect()))
}

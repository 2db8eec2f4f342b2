//! An anomaly's series with the baseline's expectation and band, for its detail view.

use super::replay::{replay, to_units};
use super::series::{self, Scope};
use super::store::AnomalyRow;
use super::DetectSettings;
use crate::db::DbConn;
use crate::domain::detect::series::SeriesId;
use crate::domain::money::Total;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ChartPoint {
    pub at: DateTime<Utc>,
    #[schema(value_type = String)]
    pub actual: Total,
    #[schema(value_type = String)]
    pub expected: Total,
    /// The band: outside it a point is statistically unusual (floors still apply).
    #[schema(value_type = String)]
    pub lower: Total,
    #[schema(value_type = String)]
    pub upper: Total,
    /// The series was still warming up here.
    pub warming_up: bool,
}

/// Points from three days before the anomaly to a day after it (or now), replayed exactly as
/// the detective does. None for manual anomalies and series no longer in the ledger.
pub fn for_anomaly(
    conn: &mut DbConn,
    settings: &DetectSettings,
    a: &AnomalyRow,
    now: DateTime<Utc>,
) -> diesel::QueryResult<Option<Vec<ChartPoint>>> {
    let Some(id) = SeriesId::parse_key(&a.series_key) else { return Ok(None) };
    let scope = match &id {
        SeriesId::Service { provider, .. } => {
            Scope { providers: Some(vec![provider.clone()]), only: Some([id.clone()].into_iter().collect()) }
        }
        _ => Scope::default(),
    };
    let start = a.started_at.and_utc();
    let from = start.min(now) - Duration::days(i64::from(settings.lookback_days));
    let all = series::load(conn, from, now.max(start) + Duration::days(2), &scope, &settings.tag_keys)?;
    let Some(s) = all.into_iter().find(|s| s.id == id) else { return Ok(None) };
    let r = replay(&s, &settings.rules_for(&s.id), &[], true);
    let shown_from = (start - Duration::days(3)).timestamp();
    let shown_to = (a.resolved_at.map_or(now, |t| t.and_utc()) + Duration::days(1)).timestamp();
    let z = settings.detector.z_open;
    Ok(Some(
        s.points
            .iter()
            .zip(&r.outcomes)
            .filter(|(_, o)| o.at >= shown_from && o.at <= shown_to)
            .map(|((_, actual), o)| {
                let e = &o.expectation;
                ChartPoint {
                    at: DateTime::from_timestamp(o.at, 0).unwrap_or_default(),
                    actual: *actual,
                    expected: to_units(e.expected),
                    lower: to_units((e.expected - z * e.sigma).max(0.0)),
                    upper: to_units(e.expected + z * e.sigma),
                    warming_up: !e.ready,
                }
            })
            .collect(),
    ))
}

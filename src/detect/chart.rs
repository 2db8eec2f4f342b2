//! What the detective saw per series: actual, expected and band per point. Each run stores it
//! in `detect_series.history` (compact JSON), so the dashboard draws charts and sums spend
//! against expectation without re-reading the ledger; an anomaly older than the stored
//! history is replayed from the ledger instead.

use super::replay::{replay, to_units};
use super::series::{self, Scope, Series};
use super::store::AnomalyRow;
use super::DetectSettings;
use crate::db::DbConn;
use crate::domain::detect::incident::PointOutcome;
use crate::domain::detect::series::SeriesId;
use crate::domain::money::Total;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
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

/// A series' points as stored: parallel arrays of exact amounts (1e-11 units), evenly spaced.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    pub step: i64,
    /// Epoch seconds of the first point.
    pub start: i64,
    pub actual: Vec<i64>,
    pub expected: Vec<i64>,
    pub lower: Vec<i64>,
    pub upper: Vec<i64>,
    /// Index of the first point after warm-up.
    pub ready_from: usize,
}

fn units(t: Total) -> i64 {
    i64::try_from(t.units()).unwrap_or(if t.units() < 0 { i64::MIN } else { i64::MAX })
}

impl History {
    /// From a replay that kept its outcomes; `z` is the band's half-width in sigmas.
    pub fn from_outcomes(s: &Series, outcomes: &[PointOutcome], z: f64) -> History {
        let mut h = History { step: s.step_secs, start: s.points.first().map_or(0, |p| p.0), ..History::default() };
        h.ready_from = outcomes.iter().position(|o| o.expectation.ready).unwrap_or(outcomes.len());
        for ((_, actual), o) in s.points.iter().zip(outcomes) {
            let e = &o.expectation;
            h.actual.push(units(*actual));
            h.expected.push(units(to_units(e.expected)));
            h.lower.push(units(to_units((e.expected - z * e.sigma).max(0.0))));
            h.upper.push(units(to_units(e.expected + z * e.sigma)));
        }
        h
    }

    pub fn parse(text: &str) -> Option<History> {
        serde_json::from_str(text).ok()
    }

    pub fn end(&self) -> i64 {
        self.start + self.step * self.actual.len() as i64
    }

    pub fn points(&self) -> impl Iterator<Item = ChartPoint> + '_ {
        (0..self.actual.len()).map(move |i| ChartPoint {
            at: DateTime::from_timestamp(self.start + self.step * i as i64, 0).unwrap_or_default(),
            actual: Total::from_units(self.actual[i].into()),
            expected: Total::from_units(self.expected[i].into()),
            lower: Total::from_units(self.lower[i].into()),
            upper: Total::from_units(self.upper[i].into()),
            warming_up: i < self.ready_from,
        })
    }

    /// Exact sums of actual and expected over the points starting in `[from, to)`.
    pub fn sums(&self, from: i64, to: i64) -> (Total, Total) {
        let (mut actual, mut expected) = (0i128, 0i128);
        for i in 0..self.actual.len() {
            let at = self.start + self.step * i as i64;
            if at >= from && at < to {
                actual += i128::from(self.actual[i]);
                expected += i128::from(self.expected[i]);
            }
        }
        (Total::from_units(actual), Total::from_units(expected))
    }
}

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

//! What the detective saw per series, as stored in `detect_series.history` (compact JSON):
//! actual, expected and band per point, in exact amounts. The charts and the overview's
//! spend-against-expectation read it without re-reading the ledger.

use super::replay::to_units;
use super::series::Series;
use crate::domain::detect::incident::PointOutcome;
use crate::domain::money::Total;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One point of a chart.
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

    /// (actual, expected, normal) per whole day (UTC) the history covers after its warm-up, in
    /// whole currency units, oldest first: how the baseline's daily sums compared with the
    /// spend; `normal` when every point of the day was inside its band.
    pub fn daily_sums(&self) -> Vec<(f64, f64, bool)> {
        const DAY: i64 = 86_400;
        if self.step <= 0 || self.step > DAY || DAY % self.step != 0 {
            return Vec::new();
        }
        // Points are evenly spaced: a whole day is a run of DAY / step of them, read once.
        let per_day = usize::try_from(DAY / self.step).unwrap_or(1);
        let first = self.start + self.step * self.ready_from as i64;
        let first_day = (first + DAY - 1).div_euclid(DAY) * DAY;
        let mut i = usize::try_from((first_day - self.start) / self.step).unwrap_or(0);
        let mut out = Vec::new();
        while i + per_day <= self.actual.len() {
            let day = i..i + per_day;
            let sum = |v: &[i64]| Total::from_units(v[day.clone()].iter().map(|&u| i128::from(u)).sum()).approx_whole();
            let normal = day.clone().all(|j| self.lower[j] <= self.actual[j] && self.actual[j] <= self.upper[j]);
            out.push((sum(&self.actual), sum(&self.expected), normal));
            i += per_day;
        }
        out
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

//! Replaying one series through the detector: the incidents it holds, with exact amounts,
//! severity and the latest expectation. No I/O; the runner loads and persists.

use super::series::Series;
use crate::domain::detect::decision::{Floors, Severity, SeverityThresholds};
use crate::domain::detect::incident::{DetectorParams, Direction, PointOutcome, Tracker};
use crate::domain::money::{Total, UNITS_PER_WHOLE};

/// An incident found in the replay, ready to persist.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub direction: Direction,
    pub started_at: i64,
    pub last_out_at: i64,
    pub resolved_at: Option<i64>,
    pub points: u32,
    /// Exact cost over the incident's points.
    pub actual: Total,
    /// What the baseline expected over the same points.
    pub expected: Total,
    /// Largest projected overspend per day seen during the incident (its severity's basis).
    pub projected_daily: Total,
    pub severity: Severity,
    pub peak_z: f64,
}

impl Found {
    pub fn impact(&self) -> Total {
        Total::from_units(self.actual.units() - self.expected.units())
    }
}

/// Everything one replay learnt about a series.
#[derive(Debug, Clone)]
pub struct Replay {
    pub found: Vec<Found>,
    pub points: u32,
    pub ready: bool,
    /// The newest point: (epoch, actual, expected).
    pub last: Option<(i64, Total, Total)>,
    /// Per-point outcomes, when asked for (charts).
    pub outcomes: Vec<PointOutcome>,
}

/// Suppression windows on this series: no incident may open in `(from, until]`.
pub type Suppressions = [(i64, i64)];

pub fn to_units(value: f64) -> Total {
    Total::from_units((value * UNITS_PER_WHOLE as f64).round() as i128)
}

pub fn to_f64(total: Total) -> f64 {
    total.units() as f64 / UNITS_PER_WHOLE as f64
}

/// How the detector judges one series.
#[derive(Debug, Clone, Copy)]
pub struct Rules<'a> {
    pub params: &'a DetectorParams,
    /// None mutes the series (it is still modelled, so charts work).
    pub floors: Option<Floors>,
    pub severity: &'a SeverityThresholds,
    /// A drop opens an incident only down to this fraction of the expectation.
    pub drop_to_fraction: f64,
}

/// Run the series through a fresh tracker. `keep_outcomes` keeps every point's expectation.
pub fn replay(series: &Series, rules: &Rules<'_>, suppressed: &Suppressions, keep_outcomes: bool) -> Replay {
    let (params, floors, severity) = (rules.params, rules.floors, rules.severity);
    let mut tracker = Tracker::new(*params, series.step_secs);
    let per_day = 86_400.0 / series.step_secs as f64;
    let last_at = series.points.last().map(|p| p.0);
    let mut outcomes = Vec::new();
    let mut found: Vec<Found> = Vec::new();
    // Running per-incident state: (index into found, max projected daily).
    let mut current: Option<usize> = None;
    let mut last_expected = 0.0;
    for &(at, total) in &series.points {
        let actual = to_f64(total);
        let partial = series.last_is_partial && Some(at) == last_at;
        let may_open = |d: Direction, e: &crate::domain::detect::model::Expectation, a: f64| {
            // A partial newest point can only grow, so it may show a rise but never a drop.
            let allowed = match d {
                Direction::Up => true,
                Direction::Down => !partial && a <= rules.drop_to_fraction * e.expected,
            };
            let quiet = suppressed.iter().any(|(from, until)| at > *from && at <= *until);
            allowed && !quiet && floors.is_some_and(|f| f.pass(e.expected, a, per_day))
        };
        let outcome = tracker.observe(at, actual, may_open);
        last_expected = outcome.expectation.expected;
        if outcome.opened {
            found.push(Found {
                direction: tracker.open_incident().map_or(Direction::Up, |i| i.direction),
                started_at: at,
                last_out_at: at,
                resolved_at: None,
                points: 0,
                actual: Total::ZERO,
                expected: Total::ZERO,
                projected_daily: Total::ZERO,
                severity: Severity::Low,
                peak_z: 0.0,
            });
            current = Some(found.len() - 1);
        }
        if let Some(i) = current {
            let f = &mut found[i];
            f.points += 1;
            f.actual = f.actual.plus(total);
            f.expected = f.expected.plus(to_units(outcome.expectation.expected));
            let projected = to_units((actual - outcome.expectation.expected).abs() * per_day);
            if projected > f.projected_daily {
                f.projected_daily = projected;
            }
            f.severity = severity.classify(to_f64(f.projected_daily));
            let snapshot = tracker.open_incident().or_else(|| tracker.resolved_incidents().last());
            if let Some(inc) = snapshot {
                f.last_out_at = inc.last_out_at;
                f.peak_z = inc.peak_z;
                f.resolved_at = inc.resolved_at;
            }
            if f.resolved_at.is_some() {
                current = None;
            }
        }
        if keep_outcomes {
            outcomes.push(outcome);
        }
    }
    let last = series.points.last().map(|&(at, total)| (at, total, to_units(last_expected)));
    let ready = tracker.expect(last_at.unwrap_or(0)).ready;
    Replay { found, points: tracker.points(), ready, last, outcomes }
}

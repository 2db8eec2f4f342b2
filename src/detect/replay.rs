//! Replaying one series through the detector: the incidents it holds, with exact amounts,
//! severity and the latest expectation. No I/O; the runner loads and persists.

use super::series::Series;
use crate::domain::budget::profile::Profile;
use crate::domain::detect::decision::{Floors, Severity, SeverityThresholds};
use crate::domain::detect::incident::{DetectorParams, Direction, Measured, PointOutcome, Tracker};
use crate::domain::detect::model::BaselineModel;
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
    /// Its newest point is running and its rate not yet confirmed (`partial::Running::settled`):
    /// the numbers may still move a lot, so nothing is proposed on them yet.
    pub provisional: bool,
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
    /// What the baseline expects of each step of the week after the newest point (budgets'
    /// forecasts).
    pub profile: Option<Profile>,
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
    replay_with(Tracker::new(*rules.params, series.step_secs), series, rules, suppressed, keep_outcomes)
}

/// As `replay`, over the given tracker: `costguard eval` runs production's rules (the fall
/// rule, suppressions, severity) through this one path, also over the comparison baselines.
pub fn replay_with<B: BaselineModel>(
    mut tracker: Tracker<B>,
    series: &Series,
    rules: &Rules<'_>,
    suppressed: &Suppressions,
    keep_outcomes: bool,
) -> Replay {
    let (floors, severity) = (rules.floors, rules.severity);
    let per_day = 86_400.0 / series.step_secs as f64;
    let last_at = series.points.last().map(|p| p.0);
    let mut outcomes = Vec::new();
    let mut found: Vec<Found> = Vec::new();
    // Running per-incident state: (index into found, max projected daily).
    let mut current: Option<usize> = None;
    let mut last_expected = 0.0;
    for &(at, total) in &series.points {
        let partial = series.last_is_partial && Some(at) == last_at;
        // A point whose hour still runs is judged by its rate (a full point's worth), while
        // the anomaly's amounts stay what was really spent so far.
        let running = series.running.filter(|_| Some(at) == last_at);
        let actual = running.map_or(to_f64(total), |r| to_f64(r.rate));
        let elapsed = running.map_or(1.0, |r| r.elapsed);
        let may_open = |d: Direction, e: &crate::domain::detect::model::Expectation, a: f64| {
            // A partial newest point can only grow, so it may show a rise but never a drop.
            let allowed = match d {
                Direction::Up => true,
                Direction::Down => !partial && a <= rules.drop_to_fraction * e.expected,
            };
            let quiet = suppressed.iter().any(|(from, until)| at > *from && at <= *until);
            allowed && !quiet && floors.is_some_and(|f| f.pass(e.expected, a, per_day))
        };
        let measured = if running.is_some() { Measured::RunningRate } else { Measured::Billed };
        let outcome = tracker.observe_point(at, actual, measured, may_open);
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
                provisional: false,
            });
            current = Some(found.len() - 1);
        }
        if let Some(i) = current {
            let f = &mut found[i];
            f.points += 1;
            f.actual = f.actual.plus(total);
            f.expected = f.expected.plus(to_units(outcome.expectation.expected * elapsed));
            let projected = to_units((actual - outcome.expectation.expected).abs() * per_day);
            if projected > f.projected_daily {
                f.projected_daily = projected;
            }
            f.severity = severity.classify(to_f64(f.projected_daily));
            f.provisional = running.is_some_and(|r| !r.settled);
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
    let profile = last_at.and_then(|at| {
        Profile::of(series.step_secs, at + series.step_secs, |t| {
            let e = tracker.expect(t);
            (e.expected, e.sigma)
        })
    });
    Replay { found, points: tracker.points(), ready, last, outcomes, profile }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::detect::series::SeriesId;

    const HOUR: i64 = 3_600;

    fn series(values: &[f64], partial: bool) -> Series {
        Series {
            id: SeriesId::Service { provider: "p".into(), sub_account: "a".into(), service: "s".into() },
            currency: "USD".into(),
            step_secs: HOUR,
            points: values.iter().enumerate().map(|(i, v)| (i as i64 * HOUR, to_units(*v))).collect(),
            last_is_partial: partial,
            running: None,
            last_as_of: None,
        }
    }

    fn steady(n: usize) -> Vec<f64> {
        (0..n).map(|i| 100.0 + (i % 5) as f64).collect()
    }

    fn run(values: &[f64], partial: bool, suppressed: &Suppressions) -> Replay {
        let params = DetectorParams::default();
        let severity = SeverityThresholds::default();
        let rules =
            Rules { params: &params, floors: Some(Floors::default()), severity: &severity, drop_to_fraction: 0.1 };
        replay(&series(values, partial), &rules, suppressed, false)
    }

    #[test]
    fn a_spike_is_found_with_exact_actual_and_severity_from_its_daily_projection() {
        let mut v = steady(200);
        v.push(600.0);
        let r = run(&v, true, &[]);
        assert_eq!(r.found.len(), 1);
        let f = &r.found[0];
        assert_eq!((f.direction, f.started_at, f.points), (Direction::Up, 200 * HOUR, 1));
        assert_eq!(f.actual, to_units(600.0));
        // About $498/h over the expectation: ~$12k a day.
        assert_eq!(f.severity, Severity::Critical);
        assert!(r.ready);
    }

    #[test]
    fn a_running_hour_is_judged_by_its_rate_while_its_amounts_stay_what_was_spent() {
        use crate::domain::detect::partial::{Running, Sighting};
        // Ten minutes into the hour, 100/h of usual spend plus a loop at 487.5/h since minute 8.
        let mut s = series(&steady(200), true);
        let so_far = to_units(100.0 / 6.0 + 487.5 * 2.0 / 60.0);
        s.points.push((200 * HOUR, so_far));
        let sighting = Sighting { point_at: 200 * HOUR, so_far, seen_at: 200 * HOUR + 600, rate: None, settled: false };
        s.running = Some(Running { rate: to_units(587.5), elapsed: 1.0 / 6.0, settled: true, sighting });
        let params = DetectorParams::default();
        let severity = SeverityThresholds::default();
        let rules =
            Rules { params: &params, floors: Some(Floors::default()), severity: &severity, drop_to_fraction: 0.1 };
        let r = replay(&s, &rules, &[], false);
        let f = r.found.last().expect("the loop opens an incident");
        assert_eq!(f.started_at, 200 * HOUR);
        assert_eq!(f.actual, so_far, "what was really spent");
        // The expectation for a sixth of the hour, so the excess is the loop's cost so far.
        assert!((to_f64(f.impact()) - 487.5 * 2.0 / 60.0).abs() < 2.0, "{:?}", f.impact());
        assert_eq!(f.severity, Severity::Critical, "487.5/h is 11,700 a day");
        // Without the rate, ten minutes of the loop look like a small hour.
        s.running = None;
        let r = replay(&s, &rules, &[], false);
        assert!(r.found.last().is_none_or(|f| f.severity < Severity::High), "{:?}", r.found);
    }

    #[test]
    fn a_suppression_window_keeps_an_incident_from_opening() {
        let mut v = steady(200);
        v.push(600.0);
        assert!(run(&v, false, &[(150 * HOUR, 300 * HOUR)]).found.is_empty());
        assert_eq!(run(&v, false, &[(0, 199 * HOUR)]).found.len(), 1, "the window ended before the spike");
    }

    #[test]
    fn only_a_fall_to_near_zero_is_a_drop_and_never_on_the_partial_newest_point() {
        let mut dip = steady(200);
        dip.extend([50.0, 50.0, 50.0, 50.0, 50.0, 50.0]);
        assert!(run(&dip, false, &[]).found.is_empty(), "halving is normal life for spend");
        let mut zero = steady(200);
        zero.push(0.0);
        assert!(run(&zero, true, &[]).found.is_empty(), "the newest hour may still be arriving");
        let r = run(&zero, false, &[]);
        assert_eq!(r.found.first().map(|f| f.direction), Some(Direction::Down));
    }

    #[test]
    fn a_muted_series_is_modelled_but_never_opens() {
        let mut v = steady(200);
        v.push(600.0);
        let params = DetectorParams::default();
        let severity = SeverityThresholds::default();
        let rules = Rules { params: &params, floors: None, severity: &severity, drop_to_fraction: 0.1 };
        let r = replay(&series(&v, false), &rules, &[], true);
        assert!(r.found.is_empty());
        assert_eq!(r.outcomes.len(), 201);
    }
}

//! One series, point by point: the baseline's expectation, the open/resolve decision and the
//! incident it belongs to. Pure and deterministic: replaying the same points gives the same
//! incidents, which is how restated data is handled (the detective replays a window).

use super::drift::WeekOverWeek;
use super::incident::{DetectorParams, Direction, Incident, Measured, PointOutcome};
use super::model::{Baseline, BaselineModel, Expectation};
use super::recurring::RecurringCharges;
use std::collections::VecDeque;

/// The first hour of a calendar month, UTC: when clouds book monthly fees.
fn is_month_start(at: i64) -> bool {
    use chrono::{Datelike, Timelike};
    chrono::DateTime::from_timestamp(at, 0).is_some_and(|t| t.day() == 1 && t.hour() == 0)
}

/// The streaming detector for one series, over the production baseline unless another
/// model is given (the evaluation compares them).
#[derive(Debug, Clone)]
pub struct Tracker<B: BaselineModel = Baseline> {
    params: DetectorParams,
    /// Seconds per point: the month-start rule is for hourly or finer series.
    step_secs: i64,
    baseline: B,
    cusum_up: f64,
    cusum_down: f64,
    /// Running estimate of the `tail_quantile` of |z| (stochastic quantile descent).
    tail: f64,
    open: Option<Incident>,
    /// The direction-signed z-scores of the current run of calm points inside the open
    /// incident, the latest `resolve_points` of them (its length is the run, capped).
    calm_z: VecDeque<f64>,
    index: usize,
    closed: Vec<Incident>,
    /// Lone out-of-band points seen before, so a recurring charge pages once, not monthly.
    recurring: RecurringCharges,
    /// The last point's lone excess, remembered if this point is back in band: (at, excess).
    lone: Option<(i64, f64)>,
    /// The first point's time, and the range of the normal points learnt (`young_days`).
    first_at: Option<i64>,
    learnt_range: Option<(f64, f64)>,
    /// The week-over-week drift test (hourly or coarser series, `drift_limit` > 0).
    drift: Option<WeekOverWeek>,
}

impl Tracker<Baseline> {
    pub fn new(params: DetectorParams, step_secs: i64) -> Self {
        Tracker::with_baseline(params, Baseline::new(params.model, step_secs), step_secs)
    }
}

impl<B: BaselineModel> Tracker<B> {
    pub fn with_baseline(params: DetectorParams, baseline: B, step_secs: i64) -> Self {
        Tracker {
            params,
            step_secs,
            baseline,
            cusum_up: 0.0,
            cusum_down: 0.0,
            tail: 0.0,
            open: None,
            calm_z: VecDeque::new(),
            index: 0,
            closed: Vec::new(),
            recurring: RecurringCharges::default(),
            lone: None,
            first_at: None,
            learnt_range: None,
            drift: if params.drift_limit > 0.0 { WeekOverWeek::for_step(step_secs) } else { None },
        }
    }

    /// Feed one point. `may_open` is the caller's floor check (dollar and percentage impact of
    /// this point, per-series overrides, suppressions); it is asked only about points that are
    /// statistically out of band.
    pub fn observe(
        &mut self,
        at: i64,
        actual: f64,
        may_open: impl Fn(Direction, &Expectation, f64) -> bool,
    ) -> PointOutcome {
        self.observe_point(at, actual, Measured::Billed, may_open)
    }

    /// Feed one point, saying how its cost was measured.
    pub fn observe_point(
        &mut self,
        at: i64,
        actual: f64,
        measured: Measured,
        may_open: impl Fn(Direction, &Expectation, f64) -> bool,
    ) -> PointOutcome {
        let e = self.baseline.expect(at);
        let z = e.z(actual);
        self.first_at.get_or_insert(at);
        let index = self.index;
        self.index += 1;
        let mut opened = false;
        let mut surprise = 0.0;
        // The point before was out of band alone (a charge, or the opening of a spike): once
        // this one is back, it is remembered as a possible recurring charge.
        if let Some((lone_at, excess)) = self.lone.take() {
            let back = z < self.params.z_close;
            let only_point = self.open.as_ref().is_none_or(|i| i.opened_at == lone_at && i.points == 1);
            if back && only_point {
                self.recurring.remember(lone_at, excess);
            }
        }
        if let Some(mut incident) = self.open.take() {
            Self::extend(&mut incident, at, actual, &e, z);
            if let Some(d) = self.drift.as_mut() {
                d.judge(at, actual, e.sigma);
            }
            self.remember_for_drift(at, actual, false);
            let back = match incident.direction {
                Direction::Up => z < self.params.z_close,
                Direction::Down => z > -self.params.z_close,
            };
            if !back {
                incident.last_out_at = at;
                self.calm_z.clear();
            }
            let signed = if incident.direction == Direction::Up { z } else { -z };
            if back {
                self.calm_z.push_back(signed);
                while self.calm_z.len() > self.params.resolve_points as usize {
                    self.calm_z.pop_front();
                }
            }
            let lone_point_over = self.params.close_lone_points
                && incident.points == 2
                && incident.last_out_at == incident.opened_at
                && signed < self.params.resolve_mean_z;
            // A rise the drift test still sees (spend above last week's) is the change
            // still on, even where the band has stopped seeing it.
            let drifting = incident.direction == Direction::Up && self.drift.as_ref().is_some_and(|d| d.still_above());
            let calm = self.calm_z.len() >= self.params.resolve_points as usize && self.settled() && !drifting;
            if calm || lone_point_over {
                self.calm_z.clear();
                incident.resolved_at = Some(at);
                self.closed.push(incident);
                self.reset_cusum();
                self.learn_normal(at, actual, e.ready);
            } else {
                if self.params.relearn_after_points > 0 && incident.points > self.params.relearn_after_points {
                    self.learn_normal(at, actual, e.ready);
                } else {
                    self.baseline.learn_immature(at, actual);
                }
                self.open = Some(incident);
            }
        } else {
            let z_open = self.params.z_open.max(self.params.tail_factor * self.tail);
            let excess = actual - e.expected;
            if z >= z_open && e.ready && self.is_known_charge(at, excess, measured) {
                // The same charge as a week or a month ago, or a month's fee: normal unless
                // the next point is out too, and not a point to learn the baseline from, nor
                // to push the CUSUM.
                self.lone = Some((at, excess));
                self.remember_for_drift(at, actual, false);
                let surprise = z / z_open;
                return PointOutcome { at, actual, expectation: e, opened, in_incident: false, surprise };
            }
            let zc = z.clamp(-self.params.z_open, self.params.z_open);
            self.cusum_up = (self.cusum_up + zc - self.params.cusum_drift).max(0.0);
            self.cusum_down = (self.cusum_down - zc - self.params.cusum_drift).max(0.0);
            let drift = self.drift.as_mut().map_or(0.0, |d| d.judge(at, actual, e.sigma));
            let drifted = self.drift.is_some() && drift >= self.params.drift_limit;
            if e.ready {
                let limit = self.params.cusum_limit.max(f64::MIN_POSITIVE);
                surprise = (z.abs() / z_open).max(self.cusum_up / limit).max(self.cusum_down / limit);
                if self.drift.is_some() {
                    surprise = surprise.max(drift / self.params.drift_limit);
                }
            }
            let direction = if z >= z_open || self.cusum_up >= self.params.cusum_limit || drifted {
                Some(Direction::Up)
            } else if self.params.detect_drops && (z <= -z_open || self.cusum_down >= self.params.cusum_limit) {
                Some(Direction::Down)
            } else {
                None
            };
            match direction {
                Some(d) if e.ready && self.news_for_its_age(at, d, actual) && may_open(d, &e, actual) => {
                    // The opening point teaches the tail estimate (later incident points do not),
                    // so spikes that recur as part of normal life stop opening incidents.
                    self.learn_tail(z);
                    opened = true;
                    self.calm_z.clear();
                    let mut incident = Incident {
                        direction: d,
                        opened_index: index,
                        opened_at: at,
                        last_out_at: at,
                        resolved_at: None,
                        points: 0,
                        actual_sum: 0.0,
                        expected_sum: 0.0,
                        peak_z: 0.0,
                        latest_actual: actual,
                        latest_expected: e.expected,
                    };
                    Self::extend(&mut incident, at, actual, &e, z);
                    self.remember_for_drift(at, actual, false);
                    self.open = Some(incident);
                    if d == Direction::Up {
                        self.lone = Some((at, actual - e.expected));
                    }
                }
                other => {
                    // Out of band but not allowed to open (warm-up, or too small to matter):
                    // still a charge to recognise when it comes again.
                    if other == Some(Direction::Up) && z >= z_open {
                        self.lone = Some((at, actual - e.expected));
                    }
                    self.learn_tail(z);
                    self.learn_normal(at, actual, e.ready);
                    self.remember_for_drift(at, actual, true);
                }
            }
        }
        PointOutcome { at, actual, expectation: e, opened, in_incident: self.open.is_some() || opened, surprise }
    }

    /// Whether an out-of-band point is a charge rather than news: one seen a week or a month
    /// ago, or a billed point in a month's first hour. Asked only about points out of band
    /// (the recurrence search is not free, and this is the hot path).
    fn is_known_charge(&self, at: i64, excess: f64, measured: Measured) -> bool {
        let month_fee = || {
            self.params.month_start_fees
                && measured == Measured::Billed
                && self.step_secs <= 3_600
                && is_month_start(at)
        };
        (self.params.recurring_charges && self.recurring.recurs(at, excess)) || month_fee()
    }

    /// The latest calm points are centred on the expectation, not on one side of it.
    fn settled(&self) -> bool {
        let n = self.calm_z.len().max(1) as f64;
        self.calm_z.iter().sum::<f64>() / n < self.params.resolve_mean_z
    }

    /// Learn from a normal point. Only points judged (after warm-up) widen the range a young
    /// series is held to: a loop during the first two days was never judged, and must not
    /// become the normal that hides the next one.
    fn learn_normal(&mut self, at: i64, actual: f64, judged: bool) {
        self.baseline.learn(at, actual);
        if judged && actual.is_finite() {
            let (low, high) = self.learnt_range.unwrap_or((actual, actual));
            self.learnt_range = Some((low.min(actual), high.max(actual)));
        }
    }

    /// Whether a point out of band is news given how long the series has been watched: a
    /// young series (`young_days`) opens only outside the range of its normal points.
    fn news_for_its_age(&self, at: i64, direction: Direction, actual: f64) -> bool {
        let young_secs = i64::from(self.params.young_days) * 86_400;
        let young = self.first_at.is_some_and(|first| at - first < young_secs);
        match (young, self.learnt_range) {
            (true, Some((low, high))) => match direction {
                Direction::Up => actual > high,
                Direction::Down => actual < low,
            },
            _ => true,
        }
    }

    fn extend(incident: &mut Incident, _at: i64, actual: f64, e: &Expectation, z: f64) {
        incident.points += 1;
        incident.actual_sum += actual;
        incident.expected_sum += e.expected;
        incident.latest_actual = actual;
        incident.latest_expected = e.expected;
        if z.abs() > incident.peak_z.abs() {
            incident.peak_z = z;
        }
    }

    /// Quantile tracking in log space: the estimate grows by a factor when a point exceeds it
    /// and shrinks by a smaller one otherwise, settling where `1 - tail_quantile` of points
    /// exceed it, whatever the series' units.
    fn learn_tail(&mut self, z: f64) {
        const RATE: f64 = 0.2;
        let q = self.params.tail_quantile;
        let x = z.abs().min(1e3);
        self.tail = self.tail.max(0.5);
        if x > self.tail {
            self.tail *= (RATE * q).exp();
        } else {
            self.tail *= (-RATE * (1.0 - q)).exp();
        }
    }

    fn reset_cusum(&mut self) {
        self.cusum_up = 0.0;
        self.cusum_down = 0.0;
    }

    /// Keep the point for next week's drift test (a reference only if it was normal).
    fn remember_for_drift(&mut self, at: i64, actual: f64, normal: bool) {
        if let Some(d) = self.drift.as_mut() {
            d.remember(at, actual, normal);
        }
    }

    /// The incident still open after the latest point, if any.
    pub fn open_incident(&self) -> Option<&Incident> {
        self.open.as_ref()
    }

    /// Incidents that opened and resolved, oldest first.
    pub fn resolved_incidents(&self) -> &[Incident] {
        &self.closed
    }

    /// Points seen so far.
    pub fn points(&self) -> u32 {
        self.baseline.points()
    }

    /// The expectation for a future point (for charts), without learning.
    pub fn expect(&self, at: i64) -> Expectation {
        self.baseline.expect(at)
    }
}

#[cfg(test)]
mod tests;

//! One series, point by point: the baseline's expectation, the open/resolve decision and the
//! incident it belongs to. Pure and deterministic: replaying the same points gives the same
//! incidents, which is how restated data is handled (the detective replays a window).

use super::drift::WeekOverWeek;
use super::model::{Baseline, BaselineModel, Expectation, ModelParams};
use super::recurring::RecurringCharges;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// Which way the series left its band.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Spend above the band: the anomalies CostGuard exists for.
    Up,
    /// A normally busy series fell below its band (possibly an ingestion failure).
    Down,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Up => "up",
            Direction::Down => "down",
        }
    }
}

/// When a point opens an incident and when the incident ends.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetectorParams {
    pub model: ModelParams,
    /// A single point this many standard deviations out opens an incident.
    pub z_open: f64,
    /// Sustained smaller excess: a one-sided CUSUM of z-scores minus `cusum_drift`...
    pub cusum_drift: f64,
    /// ...opens an incident when it reaches this sum.
    pub cusum_limit: f64,
    /// A climb the baseline would follow (`drift`): the mean log ratio of the last half day
    /// to the same hours a week earlier opens an incident at this many of its own spreads
    /// (hourly or coarser series). 0: off.
    pub drift_limit: f64,
    /// An incident resolves after this many consecutive points back within `z_close`...
    pub resolve_points: u32,
    pub z_close: f64,
    /// ...whose mean (in the incident's direction) is also below this: a level shift whose
    /// points are each inside the band but all on its high side is still the shift, not a
    /// return to normal (resolving it would open it again an hour later).
    pub resolve_mean_z: f64,
    /// An incident of one point (a spike, a fee) closes at its next point when that one is
    /// clearly normal again (below `resolve_mean_z`), so a second excess two hours later is
    /// an incident of its own rather than hidden in the first.
    pub close_lone_points: bool,
    /// After this many points an incident that is still open lets the baseline learn again
    /// (clipped), so a permanent change of level eventually becomes the new normal. 0: never.
    pub relearn_after_points: u32,
    /// Also open `Down` incidents.
    pub detect_drops: bool,
    /// Heavy tails: the detector tracks this quantile of |z| over normal points...
    pub tail_quantile: f64,
    /// ...and a point must also exceed it times this factor to open an incident, so a series
    /// whose normal life is spiky is judged against its own spikes.
    pub tail_factor: f64,
    /// A lone excess repeating one seen a week or a calendar month earlier is a recurring
    /// charge, not an incident (`recurring`).
    pub recurring_charges: bool,
    /// Clouds book monthly fees (support plans, reservations, marketplace subscriptions) in
    /// the first hour of a month, UTC. A billed point there (of an hourly or finer series:
    /// on a daily one the hold would cost a day) that is out of band alone is
    /// taken as such a fee: it opens an incident only if the next point is out of band too
    /// (a loop that begins in that hour is an hour late, never missed). A point whose hour
    /// still runs is judged on its rate and opens at once (the Saturday loop at 00:05 on the 1st).
    pub month_start_fees: bool,
    /// For its first this many days a series has not seen every weekday's shape, so its
    /// expectation can be wrong in ways its band does not know (the Monday after a series'
    /// first weekend, when a batch that skips weekends comes back). While young it opens only
    /// on a point outside the range of every normal point it has seen. 0: off.
    pub young_days: u32,
}

impl Default for DetectorParams {
    fn default() -> Self {
        DetectorParams {
            model: ModelParams::default(),
            z_open: 5.0,
            cusum_drift: 1.0,
            cusum_limit: 20.0,
            drift_limit: 4.0,
            resolve_points: 12,
            z_close: 2.5,
            resolve_mean_z: 1.0,
            // Off: it finds more spikes on the cost scenarios but costs NAB's spiky files
            // more false alarms (docs/DETECTION.md).
            close_lone_points: false,
            relearn_after_points: 0,
            detect_drops: true,
            tail_quantile: 0.99,
            tail_factor: 1.5,
            recurring_charges: true,
            month_start_fees: true,
            young_days: 14,
        }
    }
}

/// One incident as it stands after the latest point.
#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    pub direction: Direction,
    pub opened_index: usize,
    pub opened_at: i64,
    /// The last point that was still out of band.
    pub last_out_at: i64,
    pub resolved_at: Option<i64>,
    pub points: u32,
    pub actual_sum: f64,
    pub expected_sum: f64,
    pub peak_z: f64,
    /// The latest point's actual and expected, for the projection.
    pub latest_actual: f64,
    pub latest_expected: f64,
}

impl Incident {
    /// Actual minus expected over the incident so far (negative for drops).
    pub fn excess(&self) -> f64 {
        self.actual_sum - self.expected_sum
    }
}

/// What one point did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PointOutcome {
    pub at: i64,
    pub actual: f64,
    pub expectation: Expectation,
    /// This point opened an incident.
    pub opened: bool,
    /// The point belongs to an open incident (including the one it opened).
    pub in_incident: bool,
    /// How far the point went towards opening an incident, 1 at the threshold (the larger of
    /// |z| over the opening z and the CUSUMs over their limit); 0 inside an open incident
    /// and in warm-up.
    pub surprise: f64,
}

impl PointOutcome {
    /// A continuous anomaly score in [0, 1) for benchmarks whose scorer picks its own
    /// threshold (NAB): 0.5 is production's own threshold. A point that opened an incident
    /// scores at least 0.5, every other point below it by how close it came, so a lower
    /// threshold trades more alarms for earlier ones.
    pub fn anomaly_score(&self) -> f64 {
        let r = self.surprise.max(0.0);
        let score = if r.is_finite() { r / (1.0 + r) } else { 1.0 };
        if self.opened {
            score.max(0.5)
        } else {
            score.min(0.499)
        }
    }
}

/// How a point's cost was measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measured {
    /// Booked cost (billing data): what a fee lands in.
    Billed,
    /// Extrapolated from the rate of a point whose hour still runs (live job metadata, a
    /// push of the current hour): judged at once, since a loop starting is what it shows.
    RunningRate,
}

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
mod tests {
    use super::*;

    const HOUR: i64 = 3_600;
    const DAY: i64 = 86_400;
    fn always(_: Direction, _: &Expectation, _: f64) -> bool {
        true
    }

    fn noisy(i: i64) -> f64 {
        // Deterministic wobble of ±3 around 100.
        100.0 + ((i * 7919) % 7 - 3) as f64
    }

    #[test]
    fn a_step_up_opens_once_at_its_first_point_and_resolves_after_it_ends() {
        let mut t = Tracker::new(DetectorParams::default(), HOUR);
        let mut opened = vec![];
        for i in 0..500 {
            let v = if (400..430).contains(&i) { 400.0 } else { noisy(i) };
            if t.observe(i * HOUR, v, always).opened {
                opened.push(i);
            }
        }
        assert_eq!(opened, vec![400]);
        let done = t.resolved_incidents();
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].points, 30 + DetectorParams::default().resolve_points, "30 out plus the calm points");
        assert_eq!(done[0].last_out_at, 429 * HOUR);
        assert!((done[0].excess() - 30.0 * 300.0).abs() < 200.0, "{}", done[0].excess());
    }

    #[test]
    fn the_anomaly_score_is_half_at_production_s_threshold_and_ranks_the_near_misses() {
        let mut t = Tracker::new(DetectorParams::default(), HOUR);
        let mut scores = vec![];
        for i in 0..320 {
            let v = match i {
                300 => 1_000.0,
                290 => noisy(i) + 6.0,
                _ => noisy(i),
            };
            let o = t.observe(i * HOUR, v, always);
            scores.push((o.opened, o.anomaly_score()));
        }
        assert!(scores[..48].iter().all(|&(_, s)| s == 0.0), "warm-up");
        assert!(scores[300].0 && scores[300].1 >= 0.5);
        assert!(scores[301].1 == 0.0, "inside the open incident");
        let calm = scores[250].1;
        assert!(scores[290].1 > calm && scores[290].1 < 0.5, "a near miss: {} vs {calm}", scores[290].1);
        assert!(scores.iter().filter(|s| !s.0).all(|&(_, s)| s < 0.5));
    }

    /// 300 normal points, then a spike that opens an incident, then 40 points `lift` standard
    /// deviations above the expectation with a small wobble. Returns the tracker.
    /// Hour at which a climb of `percent_per_day` from hour `start` first opened, if ever, on
    /// a series wobbling ±5 % (a 13-hour pattern, so a week ago is never the same wobble).
    fn ramp_opens_at(params: DetectorParams, start: i64, percent_per_day: f64) -> Option<i64> {
        let mut t = Tracker::new(params, HOUR);
        (0..start + 96).find(|&i| {
            let wobble = 1.0 + 0.05 * ((i * 7919) % 13 - 6) as f64 / 6.0;
            let rise = 1.0 + percent_per_day / 100.0 * ((i - start).max(0) as f64 / 24.0);
            t.observe(i * HOUR, 100.0 * wobble * rise, always).opened
        })
    }

    #[test]
    fn a_climb_the_band_follows_is_caught_within_half_a_day_against_last_week() {
        // +15 % a day from day 21 (under 1 % an hour): each hour is inside the band, which
        // follows the climb; the same hours a week earlier do not. (Measured: 7 h with the
        // drift test, 35 h without.)
        let start = 21 * 24;
        let found = ramp_opens_at(DetectorParams::default(), start, 15.0).map(|i| i - start);
        let without = DetectorParams { drift_limit: 0.0, ..DetectorParams::default() };
        let late = ramp_opens_at(without, start, 15.0).map(|i| i - start);
        assert!(found.is_some_and(|h| h <= 12), "opened {found:?} h after the climb began");
        assert!(late.is_none_or(|h| h > 24), "without the drift test: {late:?} h");
    }

    fn spike_then_lifted(params: DetectorParams, lift: f64) -> Tracker {
        let mut t = Tracker::new(params, HOUR);
        for i in 0..300 {
            t.observe(i * HOUR, noisy(i), always);
        }
        assert!(t.observe(300 * HOUR, 1_000.0, always).opened);
        for i in 301..341 {
            let e = t.expect(i * HOUR);
            let wobble = if i % 2 == 0 { 0.3 } else { -0.3 };
            t.observe(i * HOUR, e.expected + (lift + wobble) * e.sigma, always);
        }
        t
    }

    #[test]
    fn points_each_inside_the_band_but_all_on_its_high_side_keep_the_incident_open() {
        let t = spike_then_lifted(DetectorParams::default(), 1.5);
        assert!(t.open_incident().is_some(), "a shift, not a return to normal");
        let t = spike_then_lifted(DetectorParams::default(), 0.0);
        assert_eq!(t.resolved_incidents().len(), 1, "centred again: resolved");
        let closing = DetectorParams { close_lone_points: true, ..DetectorParams::default() };
        assert!(spike_then_lifted(closing, 1.5).open_incident().is_some(), "not a lone point once lifted");
        let without = DetectorParams { resolve_mean_z: f64::INFINITY, ..DetectorParams::default() };
        assert_eq!(spike_then_lifted(without, 1.5).resolved_incidents().len(), 1);
    }

    #[test]
    fn a_second_spike_two_hours_after_the_first_is_an_incident_of_its_own() {
        let run = |params: DetectorParams| {
            let mut t = Tracker::new(params, HOUR);
            (0..320)
                .filter(|&i| {
                    let v = if i == 300 || i == 302 { 1_000.0 } else { noisy(i) };
                    t.observe(i * HOUR, v, always).opened
                })
                .collect::<Vec<_>>()
        };
        let closing = DetectorParams { close_lone_points: true, ..DetectorParams::default() };
        assert_eq!(run(closing), vec![300, 302]);
        assert_eq!(run(DetectorParams::default()), vec![300], "off: hidden in the first one's open incident");
    }

    /// Hourly from 2026-01-05 (a Monday) 00:00, with `fee` added at 00:00 on each 1st; hour
    /// `running` (if any) is measured on a running rate. Returns the hours that opened.
    fn with_monthly_fee(
        params: DetectorParams,
        hours: i64,
        fee: f64,
        running: Option<i64>,
        extra: impl Fn(i64) -> f64,
    ) -> Vec<i64> {
        use chrono::{Datelike, Timelike};
        let start = chrono::DateTime::parse_from_rfc3339("2026-01-05T00:00:00Z").unwrap().timestamp();
        let mut t = Tracker::new(params, HOUR);
        let mut opened = vec![];
        for i in 0..hours {
            let at = start + i * HOUR;
            let when = chrono::DateTime::from_timestamp(at, 0).unwrap();
            let due = when.day() == 1 && when.hour() == 0;
            let v = noisy(i) + if due { fee } else { 0.0 } + extra(i);
            let measured = if running == Some(i) { Measured::RunningRate } else { Measured::Billed };
            if t.observe_point(at, v, measured, always).opened {
                opened.push(i);
            }
        }
        opened
    }

    fn without_month_start_fees() -> DetectorParams {
        DetectorParams { month_start_fees: false, ..DetectorParams::default() }
    }

    #[test]
    fn a_fee_in_a_months_first_hour_is_a_fee_from_its_first_visit() {
        // Feb 1st is hour 648, Mar 1st 1320, Apr 1st 2064.
        assert_eq!(with_monthly_fee(DetectorParams::default(), 2_200, 2_000.0, None, |_| 0.0), Vec::<i64>::new());
        // Without the rule it pages once, then is known as a recurring charge...
        assert_eq!(with_monthly_fee(without_month_start_fees(), 2_200, 2_000.0, None, |_| 0.0), vec![648]);
        // ...and a fee of another size is news.
        let opened =
            with_monthly_fee(
                without_month_start_fees(),
                2_200,
                2_000.0,
                None,
                |i| if i == 1_320 { 8_000.0 } else { 0.0 },
            );
        assert!(opened.contains(&1_320), "{opened:?}");
    }

    #[test]
    fn a_running_rate_in_a_months_first_hour_opens_at_once() {
        // The Saturday loop seen by live job metadata just after midnight on the 1st.
        let loop_from = |i: i64| if i >= 648 { 5_000.0 } else { 0.0 };
        assert_eq!(with_monthly_fee(DetectorParams::default(), 700, 0.0, Some(648), loop_from), vec![648]);
        assert_eq!(
            with_monthly_fee(DetectorParams::default(), 700, 0.0, None, loop_from),
            vec![649],
            "billed: an hour later"
        );
    }

    #[test]
    fn on_a_daily_series_the_first_of_the_month_opens_at_once() {
        // A day's total holds far more than a fee, and holding it would cost a day.
        let start = chrono::DateTime::parse_from_rfc3339("2026-01-05T00:00:00Z").unwrap().timestamp();
        let mut t = Tracker::new(DetectorParams::default(), DAY);
        let opened: Vec<i64> = (0..150)
            .filter(|&i| {
                let v = noisy(i) + if i == 116 { 5_000.0 } else { 0.0 }; // day 116: May 1st
                t.observe(start + i * DAY, v, always).opened
            })
            .collect();
        assert_eq!(opened, vec![116]);
    }

    #[test]
    fn a_weekly_fee_first_seen_in_warm_up_is_known_at_its_next_visit() {
        // Hour 0 is a Monday 00:00 (1970-01-05) and the fee's first visit, before the series
        // may alert; it comes again each Monday.
        let monday = 4 * 24 * HOUR;
        let mut t = Tracker::new(DetectorParams::default(), HOUR);
        for i in 0..(4 * 7 * 24) {
            let v = noisy(i) + if i % (7 * 24) == 0 { 2_000.0 } else { 0.0 };
            assert!(!t.observe(monday + i * HOUR, v, always).opened, "hour {i}");
        }
    }

    #[test]
    fn a_loop_that_begins_at_a_known_fee_opens_an_hour_later() {
        let in_march = |i: i64| if (1_320..1_330).contains(&i) { 400.0 } else { 0.0 };
        assert_eq!(with_monthly_fee(without_month_start_fees(), 1_400, 2_000.0, None, in_march), vec![648, 1_321]);
        assert_eq!(with_monthly_fee(DetectorParams::default(), 1_400, 2_000.0, None, in_march), vec![1_321]);
    }

    /// Weekdays busy 08–19 h, everything else at a fifth; from hour `broken` a weekend runs
    /// its weekdays' pattern. Returns the hours that opened an incident.
    fn business_hours(params: DetectorParams, broken: Option<i64>) -> Vec<i64> {
        let mut t = Tracker::new(params, HOUR);
        let mut opened = vec![];
        // Hour 0 is a Monday 00:00 (1970-01-05).
        let monday = 4 * 24;
        for i in 0..(6 * 7 * 24) {
            let (day, hour) = (i / 24 % 7, i % 24);
            let weekend = day >= 5 && !broken.is_some_and(|b| (b..b + 48).contains(&i));
            let busy = !weekend && (8..19).contains(&hour);
            let v = if busy { 100.0 } else { 20.0 } * (1.0 + ((i * 7919) % 7 - 3) as f64 / 100.0);
            // Rises only: production opens a fall only when spend all but stops.
            if t.observe((monday + i) * HOUR, v, |d, _, _| d == Direction::Up).opened {
                opened.push(i);
            }
        }
        opened
    }

    #[test]
    fn a_weekend_that_runs_like_a_weekday_is_an_incident_with_the_hour_of_week_profile() {
        let saturday = 4 * 7 * 24 + 5 * 24; // the fifth week's Saturday 00:00
        let with = DetectorParams::default();
        assert!(with.model.hour_of_week, "the default");
        assert_eq!(business_hours(with, None), Vec::<i64>::new(), "normal weeks are quiet");
        let opened = business_hours(with, Some(saturday));
        assert_eq!(opened.first(), Some(&(saturday + 8)), "at its first busy hour: {opened:?}");
        let mut without = DetectorParams::default();
        without.model.hour_of_week = false;
        assert!(business_hours(without, Some(saturday)).is_empty(), "one offset per weekday cannot see it");
    }

    /// Ten times the day's rate from 02:00 to 05:00 every night, each hour with 10 % noise
    /// (deterministic, near normal): the noise of spend grows with its level. Returns the
    /// openings.
    fn nightly_batch(params: DetectorParams) -> Vec<i64> {
        let mut t = Tracker::new(params, HOUR);
        let mut opened = vec![];
        let mut seed = 7_u64;
        let mut uniform = || {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (seed >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        for i in 0..(6 * 7 * 24) {
            // A sum of four uniforms has a standard deviation of 0.577.
            let wobble = (uniform() + uniform() + uniform() + uniform()) * 0.1 / 0.577;
            let v = if (2..5).contains(&(i % 24)) { 100.0 } else { 10.0 } * (1.0 + wobble);
            if t.observe(i * HOUR, v, |d, _, _| d == Direction::Up).opened {
                opened.push(i);
            }
        }
        opened
    }

    #[test]
    fn a_nightly_batch_is_judged_against_the_wobble_of_its_own_hours() {
        assert_eq!(nightly_batch(DetectorParams::default()), Vec::<i64>::new(), "a band per slot");
        let mut one_band = DetectorParams::default();
        one_band.model.band_per_slot = false;
        // One band for all hours is the quiet hours' width, too narrow for the batch.
        assert!(!nightly_batch(one_band).is_empty());
    }

    /// A batch 02:00–05:00 on weekdays only, from a Monday (1970-01-05) for three weeks, plus
    /// `extra` at some hours. Returns the openings.
    fn young_weekday_batch(params: DetectorParams, extra: impl Fn(i64) -> f64) -> Vec<i64> {
        let mut t = Tracker::new(params, HOUR);
        let monday = 4 * 24;
        let mut opened = vec![];
        for i in 0..(3 * 7 * 24) {
            let weekday = i / 24 % 7 < 5;
            let v = if weekday && (2..5).contains(&(i % 24)) { 100.0 } else { 10.0 } + extra(i) + noisy(i) / 100.0;
            if t.observe((monday + i) * HOUR, v, |d, _, _| d == Direction::Up).opened {
                opened.push(i);
            }
        }
        opened
    }

    #[test]
    fn a_young_series_opens_only_outside_the_range_it_has_seen() {
        let always_news = DetectorParams { young_days: 0, ..DetectorParams::default() };
        let second_monday_batch = 7 * 24 + 2;
        assert!(
            young_weekday_batch(always_news, |_| 0.0).contains(&second_monday_batch),
            "the weekend taught the daily profile a quiet night"
        );
        assert_eq!(young_weekday_batch(DetectorParams::default(), |_| 0.0), Vec::<i64>::new());
        let runaway = 3 * 24 + 12;
        let loop_ = |i| if (runaway..runaway + 6).contains(&i) { 1_000.0 } else { 0.0 };
        assert_eq!(young_weekday_batch(DetectorParams::default(), loop_).first(), Some(&runaway));
    }

    #[test]
    fn a_loop_in_warm_up_does_not_widen_the_range_a_young_series_is_held_to() {
        // Hours 10–15 loop during warm-up (never judged); a smaller loop on day 5 still opens.
        let first = 10..16;
        let second = 5 * 24 + 2..5 * 24 + 8;
        let loops = |i: i64| {
            if first.contains(&i) {
                1_000.0
            } else if second.contains(&i) {
                800.0
            } else {
                0.0
            }
        };
        assert_eq!(young_weekday_batch(DetectorParams::default(), loops).first(), Some(&(5 * 24 + 2)));
    }

    #[test]
    fn no_alert_during_warm_up() {
        let mut t = Tracker::new(DetectorParams::default(), HOUR);
        for i in 0..10 {
            assert!(!t.observe(i * HOUR, if i == 5 { 1e6 } else { 1.0 }, always).opened);
        }
    }

    #[test]
    fn a_sustained_moderate_rise_is_caught_by_the_cusum() {
        let mut t = Tracker::new(DetectorParams::default(), HOUR);
        let mut first = None;
        for i in 0..400 {
            let v = noisy(i) + if i >= 300 { 9.0 } else { 0.0 };
            if t.observe(i * HOUR, v, always).opened && first.is_none() {
                first = Some(i);
            }
        }
        let first = first.unwrap_or(0);
        assert!((300..312).contains(&first), "{first}");
    }

    #[test]
    fn the_floor_check_can_veto_an_opening() {
        let mut t = Tracker::new(DetectorParams::default(), HOUR);
        for i in 0..200 {
            let v = if i == 150 { 1_000.0 } else { noisy(i) };
            assert!(!t.observe(i * HOUR, v, |_, _, _| false).opened);
        }
    }

    #[test]
    fn drops_are_their_own_direction_and_can_be_switched_off() {
        let params = DetectorParams { detect_drops: false, ..DetectorParams::default() };
        let mut off = Tracker::new(params, HOUR);
        let mut on = Tracker::new(DetectorParams::default(), HOUR);
        for i in 0..200 {
            let v = if i >= 150 { 0.0 } else { noisy(i) };
            assert!(!off.observe(i * HOUR, v, always).opened);
            on.observe(i * HOUR, v, always);
        }
        assert_eq!(on.open_incident().map(|i| i.direction), Some(Direction::Down));
    }
}

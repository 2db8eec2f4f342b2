//! Week-over-week drift: a ramp against a fixed reference.
//!
//! The baseline follows slow change by design (a level that moves is the new normal), so a
//! cost climbing a few percent an hour is learnt as it climbs and alerts a day or more late,
//! if ever. This test compares each point with the same hour a week earlier, a reference the
//! climb cannot drag along: a one-sided CUSUM of the log ratio, in units of that ratio's own
//! typical wobble, opens an incident when spend has run above last week's for long enough.
//!
//! The reference is a week-old point that was normal: a point inside an incident (or a known
//! charge) is no reference, so last week's outage or spike does not make this week look like
//! a rise, nor does last week's false alarm (whose expectation was the wrong one). Only for
//! hourly or coarser series (a week is at most 168 points to remember).

use std::collections::VecDeque;

const WEEK_SECS: i64 = 7 * 86_400;
/// The test opens on the mean log ratio over this many points (half a day, hourly)...
const WINDOW: usize = 12;
/// ...and holds an incident open on the mean over a whole day, so that a daily cycle's quiet
/// hours (a weekend night between two busy days) do not read as the change's end.
const HOLD_WINDOW: usize = 24;
/// ...against that mean's own typical size over normal points, learnt at this rate per point
/// (the mean of neighbouring hours is not the mean of independent ones: a series that wanders
/// from week to week has a wider spread of it, and is judged by that)...
const SCALE_RATE: f64 = 0.02;
/// ...clipped at this many of itself, so a blip does not widen it...
const SCALE_CLIP: f64 = 4.0;
/// ...after this many window means (two days of them after the first week).
const WARMUP_MEANS: u32 = 48;
/// An incident is held open while the day's mean is more than this many spreads up.
const STILL_ABOVE: f64 = 1.0;
/// Mean absolute deviation to standard deviation for a normal distribution.
const MAD_TO_SIGMA: f64 = 1.2533;

/// The drift test's state for one series.
#[derive(Debug, Clone)]
pub struct WeekOverWeek {
    step_secs: i64,
    /// (epoch seconds, value if it was normal) of the last week's points, oldest first.
    week: VecDeque<(i64, Option<f64>)>,
    /// The latest log ratios to last week (None: no reference), newest last.
    recent: VecDeque<Option<f64>>,
    /// The latest window means (opening, holding), their mean absolute sizes over normal
    /// points, and how many were learnt.
    mean: Option<f64>,
    scale: f64,
    day_mean: Option<f64>,
    day_scale: f64,
    means: u32,
}

impl WeekOverWeek {
    /// A drift test for a series with this step, or None where a week is too many points.
    pub fn for_step(step_secs: i64) -> Option<WeekOverWeek> {
        let hourly_or_coarser = (3_600..=WEEK_SECS).contains(&step_secs);
        hourly_or_coarser.then(|| WeekOverWeek {
            step_secs,
            week: VecDeque::new(),
            recent: VecDeque::new(),
            mean: None,
            scale: 0.0,
            day_mean: None,
            day_scale: 0.0,
            means: 0,
        })
    }

    /// The point a week before `at`, if it was seen and normal.
    fn week_ago(&self, at: i64) -> Option<f64> {
        let target = at - WEEK_SECS;
        let i = self.week.partition_point(|(t, _)| *t < target);
        self.week.get(i).filter(|(t, _)| *t == target).and_then(|(_, v)| *v)
    }

    /// Judge a point: how many spreads the last `WINDOW` points stand above last week's
    /// (0 until the test is warm or while last week's points were incidents). `softening`
    /// (the baseline's sigma) keeps near-zero hours from turning noise into huge ratios.
    pub fn judge(&mut self, at: i64, actual: f64, softening: f64) -> f64 {
        let c = softening.max(f64::MIN_POSITIVE);
        let ratio = self.week_ago(at).map(|reference| ((actual.max(0.0) + c) / (reference.max(0.0) + c)).ln());
        self.recent.push_back(ratio.filter(|r| r.is_finite()));
        while self.recent.len() > HOLD_WINDOW {
            self.recent.pop_front();
        }
        self.mean = self.window_mean(WINDOW);
        self.day_mean = self.window_mean(HOLD_WINDOW);
        self.standardised(self.mean, self.scale)
    }

    /// The mean of the latest `n` ratios if all of them had a reference (a week after an
    /// incident there is no verdict).
    fn window_mean(&self, n: usize) -> Option<f64> {
        let latest = || self.recent.iter().rev().take(n);
        let complete = latest().count() == n && latest().all(Option::is_some);
        complete.then(|| latest().flatten().sum::<f64>() / n as f64)
    }

    fn standardised(&self, mean: Option<f64>, scale: f64) -> f64 {
        let sigma = MAD_TO_SIGMA * scale;
        match mean {
            Some(m) if self.means >= WARMUP_MEANS && sigma > 0.0 => m / sigma,
            _ => 0.0,
        }
    }

    /// Spend is still above last week's over the last day, by the test's own evidence.
    pub fn still_above(&self) -> bool {
        self.standardised(self.day_mean, self.day_scale) > STILL_ABOVE
    }

    /// Remember the point for next week: a `normal` point is a reference (and its window
    /// teaches the spread), any other is none.
    pub fn remember(&mut self, at: i64, actual: f64, normal: bool) {
        if let (true, Some(m), Some(day)) = (normal, self.mean, self.day_mean) {
            let warm = self.means >= WARMUP_MEANS;
            let rate = SCALE_RATE.max(1.0 / f64::from(self.means + 1));
            let learn = |scale: &mut f64, x: f64| {
                let clip = if warm { SCALE_CLIP * *scale } else { f64::INFINITY };
                *scale += rate * (x.abs().min(clip) - *scale);
            };
            learn(&mut self.scale, m);
            learn(&mut self.day_scale, day);
            self.means = self.means.saturating_add(1);
        }
        if self.week.back().is_some_and(|(t, _)| *t >= at) {
            return;
        }
        self.week.push_back((at, normal.then_some(actual)));
        while self.week.front().is_some_and(|(t, _)| at - t > WEEK_SECS) {
            self.week.pop_front();
        }
        let capacity = (WEEK_SECS / self.step_secs) as usize + 1;
        while self.week.len() > capacity {
            self.week.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600;
    const LIMIT: f64 = 4.0;

    fn wobble(i: i64) -> f64 {
        1.0 + 0.1 * ((i * 7919) % 13 - 6) as f64 / 6.0
    }

    /// A flat series with ±10 % wobble times `f(hour)`; each point normal while `f` is 1.
    /// Returns the test's verdict at every point.
    fn run(f: impl Fn(i64) -> f64, hours: i64) -> (Vec<f64>, WeekOverWeek) {
        let mut w = WeekOverWeek::for_step(HOUR).unwrap();
        let mut verdicts = Vec::new();
        for i in 0..hours {
            let at = i * HOUR;
            let actual = 100.0 * wobble(i) * f(i);
            verdicts.push(w.judge(at, actual, 1.0));
            w.remember(at, actual, f(i) == 1.0);
        }
        (verdicts, w)
    }

    #[test]
    fn a_steady_series_stays_quiet_and_a_climb_of_two_percent_an_hour_stands_out_within_half_a_day() {
        let start = 14 * 24;
        let climb = |i: i64| if i < start { 1.0 } else { 1.0 + 0.02 * (i - start) as f64 };
        let (verdicts, w) = run(climb, start + 24);
        let steady = &verdicts[..start as usize];
        assert!(steady.iter().all(|v| *v < LIMIT), "steady: {:?}", &steady[168..]);
        let first = verdicts[start as usize..].iter().position(|v| *v >= LIMIT);
        assert!(first.is_some_and(|h| h <= 12), "climb: {:?}", &verdicts[start as usize..]);
        assert!(w.still_above());
    }

    #[test]
    fn an_incident_last_week_is_no_reference() {
        // Last week's hours 200..210 were an outage (an incident, so no reference): this
        // week's normal hours there are not a rise.
        let outage = |i: i64| if (200..210).contains(&i) { 0.01 } else { 1.0 };
        let (verdicts, _) = run(outage, 3 * 168);
        assert!(verdicts.iter().all(|v| *v < LIMIT), "{:?}", &verdicts[360..390]);
    }

    #[test]
    fn the_spread_is_the_series_own_so_a_series_that_wanders_week_to_week_is_judged_by_it() {
        // A level that wanders ±30 % from day to day on an 11-day cycle (normal for it, and
        // never the same as a week ago): never a drift.
        let wander = |i: i64| 1.0 + 0.3 * (((i / 24) * 37 % 11) as f64 - 5.0) / 5.0;
        let mut w = WeekOverWeek::for_step(HOUR).unwrap();
        let mut peak: f64 = 0.0;
        for i in 0..(8 * 168) {
            let actual = 100.0 * wobble(i) * wander(i);
            let v = w.judge(i * HOUR, actual, 1.0);
            if i > 4 * 168 {
                peak = peak.max(v);
            }
            w.remember(i * HOUR, actual, true);
        }
        assert!(peak < LIMIT, "{peak}");
    }

    #[test]
    fn sub_hourly_series_have_no_weekly_reference() {
        assert!(WeekOverWeek::for_step(300).is_none());
        assert!(WeekOverWeek::for_step(3_600).is_some());
        assert!(WeekOverWeek::for_step(86_400).is_some());
    }
}

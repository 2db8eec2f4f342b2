//! A series' baseline looking ahead: what it expects of each step of one week. The detector's
//! baseline has a level and daily and weekly profiles but no trend, so its expectation for
//! any future step is the one for the same step of the week; one week of them is enough to
//! forecast any period's rest. The detective stores it with each series after every run.

use super::Expected;
use serde::{Deserialize, Serialize};

const WEEK_SECS: i64 = 7 * 86_400;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    pub step_secs: i64,
    /// (expected, sigma) per step of the week: slot `i` is every step `t` with
    /// `(t / step_secs) mod slots.len() == i`.
    pub slots: Vec<(f64, f64)>,
    /// How far the baseline's daily sums missed lately, as a fraction (`daily_miss`). The
    /// hourly sigmas describe noise that averages out over a month; a baseline still learning
    /// its weekly profile, or a level that moved, misses every day the same way, so the range
    /// takes this miss as holding for the whole rest.
    #[serde(default)]
    pub daily_miss: f64,
}

impl Profile {
    /// The profile with its level set to `week_expected`, what the baseline itself expected of
    /// the last whole week (one step ahead each time), keeping its seasonal shape. Without a
    /// trend, the baseline's level swings within each week: spend below the level all weekend
    /// learns it down, the weekdays learn it back up, so a profile taken on a Tuesday morning
    /// runs a few percent low and one taken on a Friday high. A week of its own expectations
    /// has no such tilt, and, learnt only from normal points, no anomaly in it either.
    pub fn anchored(mut self, week_expected: f64) -> Profile {
        let total: f64 = self.slots.iter().map(|s| s.0.max(0.0)).sum();
        if total > 0.0 && week_expected > 0.0 && week_expected.is_finite() {
            let scale = week_expected / total;
            for slot in &mut self.slots {
                *slot = (slot.0 * scale, slot.1 * scale);
            }
        }
        self
    }
}

/// Days of misses [`daily_miss`] weighs.
pub const MISS_DAYS: usize = 14;

/// The root mean square of the relative misses of daily (actual, expected) sums, the last
/// `MISS_DAYS` of them, 0 without any. The caller passes normal days only: a day an anomaly
/// ran (a looping job at fifty times the normal) is not how the baseline misses normal spend
/// and would set the range alone.
pub fn daily_miss(days: &[(f64, f64)]) -> f64 {
    let recent: Vec<f64> = days
        .iter()
        .rev()
        .take(MISS_DAYS)
        .filter(|(_, expected)| *expected > 0.0)
        .map(|(actual, expected)| (actual - expected) / expected)
        .filter(|m| m.is_finite())
        .collect();
    if recent.is_empty() {
        return 0.0;
    }
    (recent.iter().map(|m| m * m).sum::<f64>() / recent.len() as f64).sqrt()
}

impl Profile {
    /// The week from the step holding `from` on, from `expect(t) -> (expected, sigma)`
    /// (asked of future times: a baseline picks its model by the history it has at `t`);
    /// none for a step that does not divide a week.
    pub fn of(step_secs: i64, from: i64, expect: impl Fn(i64) -> (f64, f64)) -> Option<Profile> {
        if step_secs <= 0 || WEEK_SECS % step_secs != 0 {
            return None;
        }
        let n = WEEK_SECS / step_secs;
        let mut slots = vec![(0.0, 0.0); usize::try_from(n).ok()?];
        let first = from.div_euclid(step_secs);
        for k in first..first + n {
            let (e, s) = expect(k * step_secs);
            slots[usize::try_from(k.rem_euclid(n)).ok()?] = (finite(e), finite(s));
        }
        Some(Profile { step_secs, slots, daily_miss: 0.0 })
    }

    /// What the baseline expects of `[from, to)`: each step's expectation, in part for a step
    /// the range only partly covers, summed; the steps' sigmas added as independent, and with
    /// them the daily miss as one error over the whole range.
    pub fn rest(&self, from: i64, to: i64) -> Expected {
        let (step, n) = (self.step_secs, self.slots.len() as i64);
        if step <= 0 || n == 0 || to <= from {
            return Expected { value: 0.0, sigma: 0.0 };
        }
        let (mut value, mut variance) = (0.0, 0.0);
        let mut t = from.div_euclid(step) * step;
        while t < to {
            let covered = (t + step).min(to) - t.max(from);
            let share = covered as f64 / step as f64;
            let (e, s) = self.slots[usize::try_from(t.div_euclid(step).rem_euclid(n)).unwrap_or(0)];
            value += e.max(0.0) * share;
            variance += (s.max(0.0) * share).powi(2);
            t += step;
        }
        let miss = self.daily_miss.max(0.0) * value;
        Expected { value, sigma: (variance + miss * miss).sqrt() }
    }
}

fn finite(x: f64) -> f64 {
    if x.is_finite() {
        x
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600;

    #[test]
    fn the_rest_of_a_range_sums_the_week_profile_with_partial_steps() {
        // 10 an hour by day (06:00-18:00), 2 by night, the same every day; sigma 1.
        let p = Profile::of(HOUR, 5 * HOUR, |t| (if (6..18).contains(&(t / HOUR % 24)) { 10.0 } else { 2.0 }, 1.0))
            .unwrap();
        assert_eq!(p.slots.len(), 168);
        let day = p.rest(0, 24 * HOUR);
        assert!((day.value - (12.0 * 10.0 + 12.0 * 2.0)).abs() < 1e-9, "{day:?}");
        assert!((day.sigma - 24f64.sqrt()).abs() < 1e-9);
        // Thirty days from any hour: thirty times a day, whatever the start.
        let month = p.rest(1_000 * 24 * HOUR + 5 * HOUR, 1_030 * 24 * HOUR + 5 * HOUR);
        assert!((month.value - 30.0 * 144.0).abs() < 1e-6);
        // Half of the 06:00 hour and the hour after it.
        let part = p.rest(6 * HOUR + HOUR / 2, 8 * HOUR);
        assert!((part.value - 15.0).abs() < 1e-9, "{part:?}");
        assert_eq!(p.rest(5, 5), Expected { value: 0.0, sigma: 0.0 });
        // Negative expectations add nothing; a step that does not divide a week has no profile.
        assert_eq!(Profile::of(HOUR, 0, |_| (-3.0, 0.0)).unwrap().rest(0, HOUR).value, 0.0);
        assert!(Profile::of(7 * 3_599, 0, |_| (1.0, 1.0)).is_none());
        assert_eq!(Profile::of(86_400, 0, |_| (1.0, f64::NAN)).unwrap().slots, vec![(1.0, 0.0); 7]);
    }

    #[test]
    fn anchoring_keeps_the_shape_and_sets_the_weeks_total() {
        let p = Profile::of(HOUR, 0, |t| (if t / HOUR % 2 == 0 { 3.0 } else { 1.0 }, 0.5)).unwrap();
        let a = p.clone().anchored(2.0 * 336.0);
        assert_eq!((a.slots[0], a.slots[1]), ((6.0, 1.0), (2.0, 1.0)));
        assert!((a.rest(0, 7 * 86_400).value - 672.0).abs() < 1e-9);
        assert_eq!(p.clone().anchored(0.0), p, "nothing to anchor on");
    }

    #[test]
    fn a_daily_miss_widens_the_range_as_one_error_over_the_rest() {
        // Misses of +10 % and -10 %: 10 % RMS; days with nothing expected are left out.
        assert!((daily_miss(&[(110.0, 100.0), (90.0, 100.0), (5.0, 0.0)]) - 0.1).abs() < 1e-12);
        assert_eq!(daily_miss(&[]), 0.0);
        // Only the last fourteen days count.
        let mut days = vec![(200.0, 100.0); 30];
        days.extend([(100.0, 100.0); MISS_DAYS]);
        assert_eq!(daily_miss(&days), 0.0);
        let mut p = Profile::of(HOUR, 0, |_| (10.0, 0.0)).unwrap();
        p.daily_miss = 0.05;
        let rest = p.rest(0, 100 * HOUR);
        assert!((rest.value - 1_000.0).abs() < 1e-9 && (rest.sigma - 50.0).abs() < 1e-9, "{rest:?}");
    }
}

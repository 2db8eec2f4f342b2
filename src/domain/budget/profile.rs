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
        Some(Profile { step_secs, slots })
    }

    /// What the baseline expects of `[from, to)`: each step's expectation, in part for a step
    /// the range only partly covers, summed; the sigmas added as independent.
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
        Expected { value, sigma: variance.sqrt() }
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
}

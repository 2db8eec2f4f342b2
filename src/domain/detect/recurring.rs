//! Recurring charges: a monthly fee at 00:00 on the 1st, a weekly one on Mondays. Each is one
//! point far above the band, back to normal at the next point; the seasonal profiles cannot
//! learn them (one hour a month), so without this every one of them would page someone.
//! Once a charge has been seen as a lone out-of-band point, the same excess (within a factor
//! of two) at the same time one to four weeks or one or two calendar months later is taken
//! as that charge again (a visit that fell inside an open incident was not remembered, and
//! must not make the next one news):
//! it opens nothing, and if the next point is still out of band, the detector opens there
//! as usual (a loop that happens to begin at a fee's hour is an hour late, never missed).

use chrono::{DateTime, Months};

/// Lone excesses are remembered this long: two months and a bit, so a monthly charge finds
/// the one before a visit it missed.
const MEMORY_SECS: i64 = 63 * 86_400;
/// A recurrence is looked for this many weeks and calendar months back.
const WEEKS_BACK: i64 = 4;
const MONTHS_BACK: u32 = 2;
/// At most this many remembered, whatever the series (memory stays bounded).
const CAPACITY: usize = 256;
/// A recurrence's excess lies within this factor of the last one's.
const SIMILAR: f64 = 2.0;

#[derive(Debug, Clone, Default)]
pub struct RecurringCharges {
    /// (epoch seconds, excess over the expectation) of lone out-of-band points, oldest first.
    seen: Vec<(i64, f64)>,
}

impl RecurringCharges {
    /// Remember a lone out-of-band point (the next one was back in band).
    pub fn remember(&mut self, at: i64, excess: f64) {
        if excess <= 0.0 || !excess.is_finite() {
            return;
        }
        self.seen.retain(|(t, _)| at - t <= MEMORY_SECS);
        if self.seen.len() >= CAPACITY {
            self.seen.remove(0);
        }
        self.seen.push((at, excess));
    }

    /// Whether an excess at `at` repeats a remembered lone one whole weeks or calendar months
    /// earlier.
    pub fn recurs(&self, at: i64, excess: f64) -> bool {
        if excess <= 0.0 {
            return false;
        }
        let weeks_before = (1..=WEEKS_BACK).map(|k| at - k * 7 * 86_400);
        let months_before = (1..=MONTHS_BACK).filter_map(|k| {
            DateTime::from_timestamp(at, 0).and_then(|t| t.checked_sub_months(Months::new(k))).map(|t| t.timestamp())
        });
        let earlier: Vec<i64> = weeks_before.chain(months_before).collect();
        self.seen.iter().any(|&(t, e)| earlier.contains(&t) && excess <= e * SIMILAR && excess * SIMILAR >= e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn at(y: i32, m: u32, d: u32, h: u32) -> i64 {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap().timestamp()
    }

    #[test]
    fn a_fee_recurs_a_calendar_month_or_a_week_later() {
        let mut r = RecurringCharges::default();
        r.remember(at(2026, 1, 31, 0), 50.0);
        r.remember(at(2026, 2, 1, 0), 100.0);
        assert!(r.recurs(at(2026, 3, 1, 0), 120.0), "28 days later: the 1st of the next month");
        assert!(r.recurs(at(2026, 2, 8, 0), 60.0), "a week later");
        assert!(r.recurs(at(2026, 2, 15, 0), 60.0), "two weeks later: last week's visit was missed");
        assert!(r.recurs(at(2026, 4, 1, 0), 100.0), "two months later");
        assert!(!r.recurs(at(2026, 2, 4, 0), 100.0), "three days later");
        assert!(!r.recurs(at(2026, 3, 1, 1), 100.0), "another hour");
        assert!(!r.recurs(at(2026, 3, 1, 0), 250.0), "far larger: not the same charge");
        assert!(!r.recurs(at(2026, 3, 1, 0), 40.0), "far smaller");
        assert!(!r.recurs(at(2026, 3, 1, 0), -100.0));
    }

    #[test]
    fn memory_is_bounded_and_forgets_after_a_month() {
        let mut r = RecurringCharges::default();
        let start = at(2026, 1, 1, 0);
        for i in 0..10_000 {
            r.remember(start + i * 60, 10.0);
        }
        assert!(r.seen.len() <= CAPACITY);
        let mut old = RecurringCharges::default();
        old.remember(at(2026, 1, 1, 0), 10.0);
        old.remember(at(2026, 4, 1, 0), 10.0);
        assert_eq!(old.seen.len(), 1, "three months ago is forgotten");
    }
}

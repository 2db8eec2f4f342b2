//! The newest point of a series while its hour is still running: its cost so far says little
//! (eight minutes of a loop look like a small hour), so severity, floors and estimates read
//! the *rate* the point is growing at instead, as a full point's worth.
//!
//! The rate comes from the growth of the point between two detective runs that saw new data
//! (the marginal rate, which shows a loop at its full speed from its second sighting even when
//! it began late in the hour). Without a usable earlier sighting it is the cost so far divided
//! by the elapsed fraction of the hour, with the fraction never taken below a twelfth, so a
//! point seen seconds into its hour is not multiplied a hundredfold.
//!
//! A rate is *settled* once two marginal measurements in a row agree (within a quarter): the
//! first interval a loop appears in holds only part of it (it began somewhere inside), so the
//! first reading is low. Until then an anomaly measured on it is provisional and nothing is
//! proposed on its numbers.

use crate::domain::money::Total;

/// A sighting of a running point, kept between runs (`detect_series`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sighting {
    /// The point's start (epoch seconds).
    pub point_at: i64,
    /// Its cost so far when seen.
    pub so_far: Total,
    /// When it was seen (epoch seconds).
    pub seen_at: i64,
    /// The rate taken then, per step; None until one was measured.
    pub rate: Option<Total>,
    /// That rate agreed with the one measured before it.
    pub settled: bool,
}

/// How a running point is read now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Running {
    /// A full point's worth at the current rate.
    pub rate: Total,
    /// How much of the point has elapsed, in (0, 1].
    pub elapsed: f64,
    /// The rate is confirmed by two agreeing measurements.
    pub settled: bool,
    /// What to keep for the next run.
    pub sighting: Sighting,
}

/// Two marginal rates within this fraction of each other confirm each other.
pub const AGREEMENT: f64 = 0.25;

/// Shortest interval a marginal rate is measured over; closer runs reuse the last rate.
pub const MIN_INTERVAL_SECS: i64 = 10;
/// A point that has not grown for this long is read from its cost so far again (its spend
/// may really have stopped).
pub const STALE_AFTER_SECS: i64 = 600;

/// Reads the point starting at `point_at` (length `step`) with `so_far`, true as of `as_of`
/// (when its newest data was pulled), at clock time `now`. None when the clock says the point
/// is not running (already over, or not begun: data from a source running ahead of the
/// clock), so it is taken as it is. Rates are measured between the times the data was true
/// as of, so a run that comes late after a pull does not stretch or squeeze them; whether
/// a point that stopped growing is stale goes by the clock.
pub fn read(
    point_at: i64,
    step: i64,
    so_far: Total,
    as_of: i64,
    now: i64,
    before: Option<&Sighting>,
) -> Option<Running> {
    let as_of = as_of.clamp(point_at + 1, now.max(point_at + 1));
    if step <= 0 || now <= point_at || now - point_at >= step {
        return None;
    }
    let elapsed_secs = as_of - point_at;
    let elapsed = elapsed_secs as f64 / step as f64;
    let fresh = Sighting { point_at, so_far, seen_at: as_of, rate: None, settled: false };
    let over = |secs: i64| scale(so_far, step, secs.max(step / 12).max(1));
    let from_so_far = || over(elapsed_secs);
    let before = before.filter(|b| b.point_at == point_at && b.seen_at <= as_of);
    let (rate, sighting) = match before {
        None => (from_so_far(), fresh),
        Some(b) if so_far.units() < b.so_far.units() => (from_so_far(), fresh),
        Some(b) if so_far == b.so_far => match b.rate {
            // No new data since: keep the rate and the older sighting to measure from.
            Some(rate) if now - b.seen_at < STALE_AFTER_SECS => (rate, *b),
            // Nothing new for that long by the clock: its spend may have stopped.
            _ => (over(now - point_at), Sighting { rate: None, ..*b }),
        },
        Some(b) if as_of - b.seen_at < MIN_INTERVAL_SECS => match b.rate {
            Some(rate) => (rate, *b),
            None => (from_so_far(), *b),
        },
        Some(b) => {
            let grown = Total::from_units(so_far.units() - b.so_far.units());
            let rate = scale(grown, step, as_of - b.seen_at);
            let settled = b.rate.is_some_and(|r| agree(r, rate));
            (rate, Sighting { rate: Some(rate), settled, ..fresh })
        }
    };
    Some(Running { rate, elapsed, settled: sighting.settled && sighting.rate == Some(rate), sighting })
}

fn agree(a: Total, b: Total) -> bool {
    let (a, b) = (a.units() as f64, b.units() as f64);
    (a - b).abs() <= AGREEMENT * a.abs().max(b.abs())
}

/// `amount` accrued over `secs`, as a full `step`'s worth (exact integer arithmetic).
fn scale(amount: Total, step: i64, secs: i64) -> Total {
    Total::from_units(amount.units() * i128::from(step) / i128::from(secs.max(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600;
    fn usd(v: i128) -> Total {
        Total::from_units(v * 100_000_000_000)
    }

    #[test]
    fn a_point_that_is_over_or_not_begun_is_taken_as_it_is() {
        assert_eq!(read(0, H, usd(5), H, H, None), None);
        assert_eq!(read(0, H, usd(5), 2 * H, 2 * H, None), None);
        assert_eq!(read(10 * H, H, usd(5), H, H, None), None, "a source ahead of the clock");
    }

    #[test]
    fn first_sight_divides_the_cost_so_far_by_the_elapsed_fraction() {
        let r = read(0, H, usd(25), H / 4, H / 4, None).unwrap();
        assert_eq!(r.rate, usd(100));
        assert!((r.elapsed - 0.25).abs() < 1e-9);
        assert_eq!(r.sighting, Sighting { point_at: 0, so_far: usd(25), seen_at: H / 4, rate: None, settled: false });
        assert!(!r.settled, "a first sight is never settled");
    }

    #[test]
    fn seconds_into_the_hour_the_fraction_is_at_least_a_twelfth() {
        let r = read(0, H, usd(1), 30, 30, None).unwrap();
        assert_eq!(r.rate, usd(12));
    }

    #[test]
    fn a_loop_that_began_late_in_the_hour_shows_its_full_rate_from_the_second_sighting() {
        // Base 100/h all hour; a loop of 487.5/h from minute 52. Seen at 53:00 and 53:20.
        let base = |secs: i128| 100 * secs * 100_000_000_000 / 3_600;
        let lp = |secs: i128| 4875 * secs * 10_000_000_000 / 3_600;
        let at1 = 53 * 60;
        let first = read(0, H, Total::from_units(base(at1 as i128) + lp(60)), at1, at1, None).unwrap();
        assert!(first.rate.units() < usd(120).units(), "cost so far alone hides it: {:?}", first.rate);
        let at2 = at1 + 20;
        let second =
            read(0, H, Total::from_units(base(at2 as i128) + lp(80)), at2, at2, Some(&first.sighting)).unwrap();
        let full = base(3_600) + lp(3_600);
        assert!((second.rate.units() - full).abs() < 1_000_000, "100 + 487.5 an hour: {:?}", second.rate);
        assert_eq!(second.sighting.rate, Some(second.rate));
        assert!(!second.settled, "one marginal rate is not yet confirmed");
        // The third sighting agrees with the second: settled.
        let at3 = at2 + 20;
        let third =
            read(0, H, Total::from_units(base(at3 as i128) + lp(100)), at3, at3, Some(&second.sighting)).unwrap();
        assert!(third.settled, "{third:?}");
    }

    #[test]
    fn a_first_interval_holding_part_of_a_loop_does_not_settle_the_next_one() {
        // 20 s pulls over 100/h of usual spend; a 487.5/h loop began 3 s before a sighting:
        // that interval reads about 173/h, the next one 587.5/h.
        let first = Sighting { point_at: 0, so_far: usd(10), seen_at: 600, rate: Some(usd(100)), settled: true };
        let partial_loop =
            read(0, H, Total::from_units(usd(10).units() + 96_200_000_000), 620, 620, Some(&first)).unwrap();
        assert!(!partial_loop.settled, "100/h then about 173/h disagree");
        let full = Total::from_units(partial_loop.sighting.so_far.units() + 326_400_000_000);
        let next = read(0, H, full, 640, 640, Some(&partial_loop.sighting)).unwrap();
        assert!(!next.settled, "the partial interval's rate does not confirm the full one");
    }

    #[test]
    fn without_new_data_the_last_rate_and_its_sighting_are_kept_until_stale() {
        let before = Sighting { point_at: 0, so_far: usd(10), seen_at: 600, rate: Some(usd(300)), settled: true };
        let r = read(0, H, usd(10), 900, 900, Some(&before)).unwrap();
        assert!(r.settled, "a settled rate stays settled without new data");
        assert_eq!((r.rate, r.sighting), (usd(300), before));
        let stale = read(0, H, usd(10), 600, 600 + STALE_AFTER_SECS, Some(&before)).unwrap();
        assert_eq!(stale.rate, scale(usd(10), H, 600 + STALE_AFTER_SECS));
    }

    #[test]
    fn a_run_that_comes_late_after_a_pull_measures_between_the_pulls() {
        // Pulls every 20 s of a 360/h series; the second run waits 7 s behind another one.
        let first = read(0, H, usd(60), 600, 600, None).unwrap();
        let second = read(0, H, usd(62), 620, 627, Some(&first.sighting)).unwrap();
        assert_eq!(second.rate, usd(360), "2 USD in the 20 s between the pulls, not the 27 s between the runs");
        assert_eq!(second.sighting.seen_at, 620);
        let third = read(0, H, usd(64), 640, 641, Some(&second.sighting)).unwrap();
        assert_eq!(third.rate, usd(360));
        assert!(third.settled);
    }

    #[test]
    fn runs_closer_than_the_minimum_interval_reuse_the_rate() {
        let before = Sighting { point_at: 0, so_far: usd(10), seen_at: 600, rate: Some(usd(300)), settled: false };
        let r = read(0, H, usd(11), 605, 605, Some(&before)).unwrap();
        assert_eq!((r.rate, r.sighting), (usd(300), before));
    }

    #[test]
    fn a_restated_lower_point_or_another_hour_starts_over() {
        let before = Sighting { point_at: 0, so_far: usd(10), seen_at: 600, rate: Some(usd(300)), settled: false };
        assert_eq!(read(0, H, usd(5), 1_200, 1_200, Some(&before)).unwrap().rate, usd(15));
        assert_eq!(read(H, H, usd(5), H + 1_200, H + 1_200, Some(&before)).unwrap().rate, usd(15));
    }
}

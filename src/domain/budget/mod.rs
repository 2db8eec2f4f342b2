//! Budgets, the pure part: the period a moment falls in (calendar month, quarter or year,
//! UTC), the forecast of a period's end from what is spent and what the baseline expects
//! for the hours left (with a range), and which thresholds a status crosses for the first
//! time in its period: each threshold alerts once per period, so a forecast that dips back
//! under and crosses again stays quiet.
//!
//! Money stays exact where it is known (spent, the budget's amount); the baseline's
//! expectations are estimates in floating point and become money once, rounded, at the end.

pub mod profile;
pub mod scope;
pub mod spec;

use super::detect::decision::Severity;
use super::money::{Total, UNITS_PER_WHOLE};
use chrono::{DateTime, Datelike, Months, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// How long a budget runs before it starts again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Month,
    Quarter,
    Year,
}

impl Period {
    pub const ALL: [Period; 3] = [Period::Month, Period::Quarter, Period::Year];

    pub fn as_str(self) -> &'static str {
        match self {
            Period::Month => "month",
            Period::Quarter => "quarter",
            Period::Year => "year",
        }
    }

    pub fn parse(text: &str) -> Option<Period> {
        Period::ALL.into_iter().find(|p| p.as_str() == text)
    }

    fn months(self) -> u32 {
        match self {
            Period::Month => 1,
            Period::Quarter => 3,
            Period::Year => 12,
        }
    }

    /// The period `at` falls in: `[start, end)`, calendar-aligned in UTC.
    pub fn bounds(self, at: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        let first_month = (at.month0() / self.months()) * self.months() + 1;
        let start = Utc
            .with_ymd_and_hms(at.year(), first_month, 1, 0, 0, 0)
            .single()
            .unwrap_or_else(|| unreachable!("the first of a month at midnight UTC exists"));
        let end = start.checked_add_months(Months::new(self.months())).unwrap_or(start);
        (start, end)
    }
}

/// What a threshold is measured on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// What is spent so far in the period.
    Actual,
    /// What the period is expected to end at.
    Forecast,
}

impl Basis {
    pub fn as_str(self) -> &'static str {
        match self {
            Basis::Actual => "actual",
            Basis::Forecast => "forecast",
        }
    }

    pub fn parse(text: &str) -> Option<Basis> {
        [Basis::Actual, Basis::Forecast].into_iter().find(|b| b.as_str() == text)
    }
}

/// "Alert at `percent` % of the budget, on actual or forecast spend".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Threshold {
    #[schema(minimum = 1, maximum = 1000)]
    pub percent: u32,
    pub on: Basis,
}

impl Threshold {
    /// How loud its crossing is: money already spent past the whole budget is high, a
    /// forecast past it medium, anything short of the budget low.
    pub fn severity(self) -> Severity {
        match (self.percent >= 100, self.on) {
            (true, Basis::Actual) => Severity::High,
            (true, Basis::Forecast) => Severity::Medium,
            (false, _) => Severity::Low,
        }
    }
}

/// What the baseline expects of one hour still to come: the value and its standard
/// deviation, in whole currency units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Expected {
    pub value: f64,
    pub sigma: f64,
}

/// A period's end as seen now: what is spent, and the expected end with a range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Forecast {
    pub spent: Total,
    pub expected: Total,
    pub low: Total,
    pub high: Total,
}

/// The range is the expectation plus or minus this many standard deviations (about 90 %).
const RANGE_SIGMAS: f64 = 1.645;

/// The period's end: `spent` so far plus the expected rest. The hours' errors are taken as
/// independent, so the range grows with the square root of the hours left; spend is never
/// negative, so neither is the expected rest nor the range's low end below what is spent.
pub fn forecast(spent: Total, remaining: &[Expected]) -> Forecast {
    let rest: f64 = remaining.iter().map(|e| e.value.max(0.0)).sum();
    let sigma = remaining.iter().map(|e| e.sigma.max(0.0).powi(2)).sum::<f64>().sqrt();
    let money = |whole: f64| spent.plus(Total::from_units((whole.max(0.0) * UNITS_PER_WHOLE as f64).round() as i128));
    Forecast {
        spent,
        expected: money(rest),
        low: money(rest - RANGE_SIGMAS * sigma),
        high: money(rest + RANGE_SIGMAS * sigma),
    }
}

/// `value` as a percentage of `amount` (0 for a budget of nothing).
pub fn percent_of(value: Total, amount: Total) -> f64 {
    if amount.units() <= 0 {
        return 0.0;
    }
    value.units() as f64 * 100.0 / amount.units() as f64
}

/// The thresholds this status crosses that had not been crossed before in the period
/// (`already`), in the order they are listed. A crossing is for good: once recorded, the
/// same threshold never alerts again in that period, whatever the forecast does after.
pub fn newly_crossed(thresholds: &[Threshold], amount: Total, f: &Forecast, already: &[Threshold]) -> Vec<Threshold> {
    thresholds
        .iter()
        .filter(|t| !already.contains(t))
        .filter(|t| {
            let measured = match t.on {
                Basis::Actual => f.spent,
                Basis::Forecast => f.expected,
            };
            // Exact: measured / amount >= percent / 100.
            amount.units() > 0 && measured.units() * 100 >= amount.units() * i128::from(t.percent)
        })
        .copied()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
    }

    fn whole(n: i128) -> Total {
        Total::from_units(n * i128::from(UNITS_PER_WHOLE))
    }

    #[test]
    fn periods_are_calendar_months_quarters_and_years_in_utc() {
        assert_eq!(Period::Month.bounds(at(2026, 12, 7, 20)), (at(2026, 12, 1, 0), at(2027, 1, 1, 0)));
        assert_eq!(Period::Month.bounds(at(2026, 2, 28, 23)), (at(2026, 2, 1, 0), at(2026, 3, 1, 0)));
        assert_eq!(Period::Quarter.bounds(at(2026, 12, 7, 20)), (at(2026, 10, 1, 0), at(2027, 1, 1, 0)));
        assert_eq!(Period::Quarter.bounds(at(2026, 4, 1, 0)), (at(2026, 4, 1, 0), at(2026, 7, 1, 0)));
        assert_eq!(Period::Year.bounds(at(2026, 6, 15, 0)), (at(2026, 1, 1, 0), at(2027, 1, 1, 0)));
        for p in Period::ALL {
            assert_eq!(Period::parse(p.as_str()), Some(p));
        }
    }

    #[test]
    fn the_forecast_adds_the_expected_rest_and_its_range_to_what_is_spent() {
        // 100 spent; 24 hours left at 10 an hour, each ±2: the rest is 240 ± 1.645·2·√24.
        let f = forecast(whole(100), &[Expected { value: 10.0, sigma: 2.0 }; 24]);
        assert_eq!((f.spent, f.expected), (whole(100), whole(340)));
        let half = 1.645 * 2.0 * 24f64.sqrt();
        assert!((f.high.approx_whole() - (340.0 + half)).abs() < 1e-6, "{f:?}");
        assert!((f.low.approx_whole() - (340.0 - half)).abs() < 1e-6, "{f:?}");
        // Nothing left: the forecast is what is spent, exactly.
        assert_eq!(
            forecast(whole(7), &[]),
            Forecast { spent: whole(7), expected: whole(7), low: whole(7), high: whole(7) }
        );
        // A wide hour never takes the low end below what is spent.
        assert_eq!(forecast(whole(5), &[Expected { value: 1.0, sigma: 50.0 }]).low, whole(5));
    }

    #[test]
    fn each_threshold_alerts_once_a_period() {
        let ts = [
            Threshold { percent: 50, on: Basis::Actual },
            Threshold { percent: 80, on: Basis::Forecast },
            Threshold { percent: 100, on: Basis::Forecast },
        ];
        let status = |spent, expected| Forecast {
            spent: whole(spent),
            expected: whole(expected),
            low: whole(spent),
            high: whole(expected),
        };
        let amount = whole(1000);
        assert_eq!(newly_crossed(&ts, amount, &status(100, 700), &[]), []);
        let first = newly_crossed(&ts, amount, &status(100, 800), &[]);
        assert_eq!(first, [ts[1]], "exactly at 80 %");
        // The forecast dips and comes back: 80 % was crossed already, nothing new.
        assert_eq!(newly_crossed(&ts, amount, &status(120, 810), &first), []);
        let later = newly_crossed(&ts, amount, &status(500, 1200), &first);
        assert_eq!(later, [ts[0], ts[2]]);
        assert_eq!(newly_crossed(&ts, Total::ZERO, &status(5, 5), &[]), [], "a budget of nothing never alerts");
        assert!((percent_of(whole(250), amount) - 25.0).abs() < 1e-12);
    }
}

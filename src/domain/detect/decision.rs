//! Whether a statistically unusual point matters in money, and how much: impact floors
//! combined with AND/OR (as AWS Cost Anomaly Detection offers), and severity from the
//! projected overspend per day.

use serde::{Deserialize, Serialize};
use std::fmt;

/// How the dollar and percentage floors combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FloorLogic {
    /// Both floors must pass (fewer, bigger alerts).
    #[default]
    And,
    /// Either floor is enough.
    Or,
}

/// Impact floors for opening an anomaly. Amounts are in the series' currency.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Floors {
    /// Projected overspend per day (the point's excess times points per day).
    pub min_daily_impact: f64,
    /// Excess as a percentage of the expected value.
    pub min_percent_impact: f64,
    pub logic: FloorLogic,
}

impl Default for Floors {
    fn default() -> Self {
        Floors { min_daily_impact: 50.0, min_percent_impact: 20.0, logic: FloorLogic::And }
    }
}

impl Floors {
    /// No floors at all (the evaluation against labelled data uses this).
    pub const NONE: Floors = Floors { min_daily_impact: 0.0, min_percent_impact: 0.0, logic: FloorLogic::And };

    /// Does a point with this expected and actual value pass? `points_per_day` turns the
    /// point's excess into a daily projection. Works on magnitudes, so drops are judged alike.
    pub fn pass(&self, expected: f64, actual: f64, points_per_day: f64) -> bool {
        let excess = (actual - expected).abs();
        let daily = excess * points_per_day;
        let percent = percent_of(excess, expected);
        let dollars_ok = daily >= self.min_daily_impact;
        let percent_ok = percent >= self.min_percent_impact;
        match self.logic {
            FloorLogic::And => dollars_ok && percent_ok,
            FloorLogic::Or => dollars_ok || percent_ok,
        }
    }
}

/// `part` as a percentage of `whole`; an excess over nothing is infinitely large.
pub fn percent_of(part: f64, whole: f64) -> f64 {
    if whole.abs() > f64::EPSILON {
        100.0 * part / whole.abs()
    } else if part.abs() > f64::EPSILON {
        f64::INFINITY
    } else {
        0.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 4] = [Severity::Low, Severity::Medium, Severity::High, Severity::Critical];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Projected overspend per day at which each severity starts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SeverityThresholds {
    pub medium: f64,
    pub high: f64,
    pub critical: f64,
}

impl Default for SeverityThresholds {
    fn default() -> Self {
        SeverityThresholds { medium: 250.0, high: 2_500.0, critical: 10_000.0 }
    }
}

impl SeverityThresholds {
    pub fn classify(&self, daily_overspend: f64) -> Severity {
        let d = daily_overspend.abs();
        if d >= self.critical {
            Severity::Critical
        } else if d >= self.high {
            Severity::High
        } else if d >= self.medium {
            Severity::Medium
        } else {
            Severity::Low
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        let ordered = 0.0 <= self.medium && self.medium <= self.high && self.high <= self.critical;
        if ordered {
            Ok(())
        } else {
            Err("thresholds must satisfy 0 <= medium <= high <= critical".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn and_needs_both_floors_or_needs_either() {
        let and = Floors { min_daily_impact: 100.0, min_percent_impact: 50.0, logic: FloorLogic::And };
        let or = Floors { logic: FloorLogic::Or, ..and };
        // +$5/h on $100/h: $120/day but only 5%.
        assert!(!and.pass(100.0, 105.0, 24.0));
        assert!(or.pass(100.0, 105.0, 24.0));
        // +$1/h on $1/h: 100% but only $24/day.
        assert!(!and.pass(1.0, 2.0, 24.0));
        assert!(or.pass(1.0, 2.0, 24.0));
        // Both.
        assert!(and.pass(10.0, 30.0, 24.0));
        // Neither.
        assert!(!or.pass(100.0, 101.0, 24.0));
    }

    #[test]
    fn spend_from_nothing_is_an_infinite_percentage() {
        assert_eq!(percent_of(5.0, 0.0), f64::INFINITY);
        assert_eq!(percent_of(0.0, 0.0), 0.0);
        assert!(Floors::default().pass(0.0, 10.0, 24.0));
    }

    #[test]
    fn no_floors_pass_everything() {
        assert!(Floors::NONE.pass(1.0, 1.0, 1.0));
    }

    #[test]
    fn severity_boundaries_are_inclusive_from_below() {
        let t = SeverityThresholds::default();
        assert_eq!(t.classify(0.0), Severity::Low);
        assert_eq!(t.classify(249.99), Severity::Low);
        assert_eq!(t.classify(250.0), Severity::Medium);
        assert_eq!(t.classify(2_500.0), Severity::High);
        assert_eq!(t.classify(10_000.0), Severity::Critical);
        assert_eq!(t.classify(-20_000.0), Severity::Critical);
        assert!(t.validate().is_ok());
        assert!(SeverityThresholds { medium: 5.0, high: 1.0, critical: 9.0 }.validate().is_err());
        assert_eq!(Severity::parse("high"), Some(Severity::High));
        assert_eq!(Severity::parse("urgent"), None);
    }
}

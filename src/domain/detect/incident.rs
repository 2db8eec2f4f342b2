//! One series' incidents: which way a series left its band, the incident as it stands, and
//! what each point did. The streaming detector that produces them is `tracker.rs`; its
//! parameters are `params.rs` (both re-exported here, where callers look for them).

use super::model::Expectation;
use serde::{Deserialize, Serialize};

pub use super::params::DetectorParams;
pub use super::tracker::Tracker;

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

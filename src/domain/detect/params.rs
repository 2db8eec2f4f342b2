//! When a point opens an incident and when the incident ends: the detector's parameters
//! (`[detect.detector]` in config.toml), with the shipped values as defaults.

use super::model::ModelParams;
use serde::{Deserialize, Serialize};

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

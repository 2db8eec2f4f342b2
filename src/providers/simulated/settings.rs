//! `[providers.simulated]`: the simulated clouds that let CostGuard run the whole flow with
//! no account (the README's first command).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimulatedSettings {
    /// Generate realistic spend for a fictitious company across five providers.
    pub enabled: bool,
    /// Same seed, same data.
    pub seed: u64,
    /// Days of history generated on first start.
    pub history_days: u32,
    /// Simulated seconds per real second.
    pub speed: f64,
    /// When to pull new simulated data (6-field cron, seconds first).
    pub schedule: String,
    /// Real seconds after first start at which a BigQuery job starts looping live.
    /// Negative disables the live incident.
    pub live_incident_delay_secs: i64,
    /// Play the scripted incidents (false: a quiet company, e.g. to see a normal month).
    pub incidents: bool,
    /// How long a simulated cloud API call takes to answer after its effect has landed, in
    /// milliseconds (0: at once). Lets you watch, or kill, an action mid-execution.
    pub api_latency_ms: u64,
}

impl Default for SimulatedSettings {
    fn default() -> Self {
        SimulatedSettings {
            enabled: false,
            seed: 42,
            history_days: 60,
            speed: 1.0,
            schedule: "*/20 * * * * *".into(),
            live_incident_delay_secs: 120,
            incidents: true,
            api_latency_ms: 0,
        }
    }
}

impl SimulatedSettings {
    /// The first bad key and what is wrong with it.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if !(self.speed.is_finite() && self.speed > 0.0 && self.speed <= 10_000.0) {
            return Err(("providers.simulated.speed", "must be a number above 0 and at most 10000".into()));
        }
        if self.history_days > 3 * 366 {
            return Err(("providers.simulated.history_days", "at most 1098 days".into()));
        }
        crate::cron::validate_cron(&self.schedule).map_err(|e| ("providers.simulated.schedule", e))
    }
}

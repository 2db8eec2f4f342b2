//! The built-in simulated clouds: realistic hourly spend for a fictitious company across
//! AWS, Google Cloud, Azure, OpenAI and Anthropic, with scripted incidents, so a newcomer
//! sees the whole flow with no cloud account.
//!
//! Its first pull fixes the epoch (stored in the cursor) and backfills `history_days`.
//! Simulated time then runs at `speed` times real time from the epoch. Each pull restates
//! the last two hours (the current hour is partial: its cost so far), as real billing
//! exports do. Stopping a resource (see [`resources`]) lowers its cost from then on.

pub mod catalog;
pub mod executor;
pub mod incidents;
pub mod model;
pub mod resources;
mod settings;

pub use settings::SimulatedSettings;

use crate::db::Db;
use crate::ingest::sources::{CostSource, Pull};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// Maps real time to simulated time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SimClock {
    pub epoch: DateTime<Utc>,
    pub speed: f64,
}

impl SimClock {
    pub fn sim_time(&self, real: DateTime<Utc>) -> DateTime<Utc> {
        let elapsed_ms = (real - self.epoch).num_milliseconds() as f64 * self.speed;
        self.epoch + Duration::milliseconds(elapsed_ms as i64)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Cursor {
    epoch: DateTime<Utc>,
    /// Simulated time generated through.
    through: DateTime<Utc>,
}

/// Most history one pull generates; the runner keeps pulling while `more` is set.
const CHUNK: Duration = Duration::days(7);
/// Hours restated on every pull (billing data arrives late and is revised).
const RESTATE: Duration = Duration::hours(2);

#[derive(Debug, Clone)]
pub struct Simulator {
    settings: SimulatedSettings,
    db: Db,
}

impl Simulator {
    pub fn new(settings: SimulatedSettings, db: Db) -> Self {
        Simulator { settings, db }
    }

    pub fn clock(&self, epoch: DateTime<Utc>) -> SimClock {
        SimClock { epoch, speed: self.settings.speed }
    }

    pub fn settings(&self) -> &SimulatedSettings {
        &self.settings
    }
}

/// The start of a backfill during which the detector is still learning each series (its
/// `warmup_points`, 48 hourly points by default): an incident that begins there cannot be
/// found, and it teaches the baseline that a runaway is normal, so the live one that follows
/// goes unseen on its series.
const DETECTOR_WARMUP: Duration = Duration::hours(48);

/// The incident plan for an epoch, the live incident included when configured. History
/// incidents that would begin in the backfill's first `DETECTOR_WARMUP` are left out, so a
/// short history (a demo of a few days) tells the same story whatever the hour it starts.
pub fn incident_plan(settings: &SimulatedSettings, epoch: DateTime<Utc>) -> Vec<incidents::Incident> {
    if !settings.incidents {
        return Vec::new();
    }
    let clock = SimClock { epoch, speed: settings.speed };
    let live = (settings.live_incident_delay_secs >= 0)
        .then(|| clock.sim_time(epoch + Duration::seconds(settings.live_incident_delay_secs)));
    let settled = epoch - Duration::days(i64::from(settings.history_days)) + DETECTOR_WARMUP;
    incidents::plan(epoch, live).into_iter().filter(|i| i.end.is_none() || i.start >= settled).collect()
}

/// Pure generation of `[from, to)` in simulated time, given the stops in simulated time.
/// Same settings and arguments, same records.
pub fn generate(
    settings: &SimulatedSettings,
    epoch: DateTime<Utc>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    stops: &std::collections::HashMap<String, DateTime<Utc>>,
) -> crate::ingest::Batch {
    let lines = catalog::lines();
    let incidents = incident_plan(settings, epoch);
    let world = model::World { seed: settings.seed, lines: &lines, incidents: &incidents, stops };
    model::generate(&world, from, to)
}

#[async_trait::async_trait]
impl CostSource for Simulator {
    fn name(&self) -> &str {
        "simulated"
    }

    async fn pull(&self, cursor: Option<String>, now: DateTime<Utc>) -> anyhow::Result<Pull> {
        let previous: Option<Cursor> =
            cursor.filter(|c| !c.is_empty()).map(|c| serde_json::from_str(&c)).transpose()?;
        let epoch = previous.as_ref().map_or(now, |c| c.epoch);
        let clock = self.clock(epoch);
        let sim_now = clock.sim_time(now);
        let from = match &previous {
            Some(c) => c.through - RESTATE,
            None => sim_now - Duration::days(i64::from(self.settings.history_days)),
        };
        let to = sim_now.min(from + CHUNK);
        let stops = resources::stops_in_sim_time(&self.db, clock).await?;
        let batch = generate(&self.settings, epoch, from, to, &stops);
        let cursor = serde_json::to_string(&Cursor { epoch, through: to })?;
        Ok(Pull { batch, cursor, more: to < sim_now, supersedes: Vec::new(), estimates_of: None, reread: None })
    }

    async fn test_connection(&self) -> anyhow::Result<String> {
        // No endpoint to reach: report what the simulation would serve.
        Ok(format!(
            "{} simulated cost lines across AWS, Google Cloud, Azure, OpenAI and Anthropic at {}x real time",
            catalog::lines().len(),
            self.settings.speed
        ))
    }

    async fn reseed(&self) -> anyhow::Result<()> {
        use crate::db::schema::{cost_records as cr, ingest_cursors as ic, llm_usage as lu, sim_resource_stops as st};
        use diesel::prelude::*;
        let name = self.name().to_string();
        self.db
            .run(move |c| {
                crate::db::write_transaction(c, |c| {
                    let mine = cr::table.filter(cr::source.eq(&name));
                    let span: (Option<chrono::NaiveDateTime>, Option<chrono::NaiveDateTime>) = mine
                        .select((diesel::dsl::min(cr::charge_period_start), diesel::dsl::max(cr::charge_period_start)))
                        .first(c)?;
                    diesel::delete(mine).execute(c)?;
                    if let (Some(first), Some(last)) = span {
                        let mut touched = crate::ledger::rollups::Touched::default();
                        touched.add_span(first, last);
                        crate::ledger::rollups::refresh(c, &touched)?;
                    }
                    diesel::delete(lu::table.filter(lu::source.eq(&name))).execute(c)?;
                    diesel::delete(st::table).execute(c)?;
                    diesel::delete(ic::table.filter(ic::source.eq(&name))).execute(c)?;
                    Ok::<_, diesel::result::Error>(())
                })
                .map_err(crate::db::DbError::from)
            })
            .await?;
        Ok(())
    }
}

use super::{Connection, Provider, Wiring};
use crate::providers::simulated::executor::SimulatedExecutor;
use std::sync::Arc;

pub const PROVIDER: Provider = Provider {
    name: "simulated",
    title: "Simulated clouds",
    credentials: &[],
    validate: |s| s.simulated.validate(),
    connect,
};

fn connect(w: &Wiring<'_>) -> Connection {
    let sim = &w.settings.simulated;
    if !sim.enabled {
        return Connection::default();
    }
    let simulator = Arc::new(Simulator::new(sim.clone(), w.db.clone()));
    let latency = std::time::Duration::from_millis(sim.api_latency_ms);
    Connection::default()
        .source(simulator.clone(), &sim.schedule)
        .executor(Arc::new(SimulatedExecutor::new(simulator).with_latency(latency)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn ids(history_days: u32, epoch: DateTime<Utc>) -> Vec<&'static str> {
        let settings = SimulatedSettings { history_days, ..SimulatedSettings::default() };
        incident_plan(&settings, epoch).into_iter().map(|i| i.id).collect()
    }

    #[test]
    fn no_history_incident_starts_while_the_detector_is_still_learning() {
        // Monday 20:40: ten days back is Friday 20:40, and the Saturday loop starts at 02:00
        // the next day, inside the first 48 hours.
        let monday = Utc.with_ymd_and_hms(2026, 12, 7, 20, 40, 0).unwrap();
        assert!(!ids(10, monday).contains(&"bigquery-saturday-loop"), "{:?}", ids(10, monday));
        assert!(ids(10, monday).contains(&"bigquery-live-loop"), "the live one always runs");
        assert!(ids(60, monday).contains(&"bigquery-saturday-loop"), "a long history keeps it");
        // Thursday: ten days back is a Monday, the Saturday five days in, after the warm-up.
        let thursday = Utc.with_ymd_and_hms(2026, 12, 10, 20, 40, 0).unwrap();
        assert!(ids(10, thursday).contains(&"bigquery-saturday-loop"), "{:?}", ids(10, thursday));
    }
}

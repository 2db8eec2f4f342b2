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

/// The incident plan for an epoch, the live incident included when configured.
pub fn incident_plan(settings: &SimulatedSettings, epoch: DateTime<Utc>) -> Vec<incidents::Incident> {
    if !settings.incidents {
        return Vec::new();
    }
    let clock = SimClock { epoch, speed: settings.speed };
    let live = (settings.live_incident_delay_secs >= 0)
        .then(|| clock.sim_time(epoch + Duration::seconds(settings.live_incident_delay_secs)));
    incidents::plan(epoch, live)
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

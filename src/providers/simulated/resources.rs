//! The simulated clouds' resources: running BigQuery jobs, EC2 instances, Azure VMs and
//! LLM API keys, behind [`CloudResources`] so executors can act on them as on real ones.
//! A stop is persisted (so a restart keeps it) and lowers the generated cost from then on.

use super::catalog::{self, ResourceKind};
use super::incidents::Effect;
use super::{SimClock, Simulator};
use crate::db::schema::{ingest_cursors as ic, sim_resource_stops as stops};
use crate::db::{Db, DbError};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ResourceState {
    pub id: String,
    pub kind: ResourceKind,
    pub name: String,
    pub provider: String,
    pub sub_account: String,
    pub service: String,
    pub running: bool,
    /// Simulated time it was stopped, if it was.
    pub stopped_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopOutcome {
    Stopped,
    AlreadyStopped,
}

#[async_trait::async_trait]
pub trait CloudResources: Send + Sync {
    async fn list(&self, now: DateTime<Utc>) -> anyhow::Result<Vec<ResourceState>>;
    /// Stops (cancels, deallocates, disables) a resource; repeating it is harmless.
    async fn stop(&self, resource_id: &str, actor: &str, now: DateTime<Utc>) -> anyhow::Result<StopOutcome>;
}

/// Stops recorded so far, mapped to simulated time.
pub async fn stops_in_sim_time(db: &Db, clock: SimClock) -> Result<HashMap<String, DateTime<Utc>>, DbError> {
    let rows: Vec<(String, NaiveDateTime)> = db
        .run(|conn| Ok::<_, DbError>(stops::table.select((stops::resource_id, stops::stopped_at)).load(conn)?))
        .await?;
    Ok(rows.into_iter().map(|(id, at)| (id, clock.sim_time(at.and_utc()))).collect())
}

impl Simulator {
    async fn epoch(&self) -> Result<Option<DateTime<Utc>>, DbError> {
        let cursor: Option<String> = self
            .db
            .run(|conn| Ok::<_, DbError>(ic::table.find("simulated").select(ic::cursor).first(conn).optional()?))
            .await?;
        Ok(cursor
            .and_then(|c| serde_json::from_str::<serde_json::Value>(&c).ok())
            .and_then(|v| v.get("epoch").and_then(|e| e.as_str()).and_then(|e| e.parse().ok())))
    }
}

#[async_trait::async_trait]
impl CloudResources for Simulator {
    async fn list(&self, now: DateTime<Utc>) -> anyhow::Result<Vec<ResourceState>> {
        let epoch = self.epoch().await?.unwrap_or(now);
        let clock = self.clock(epoch);
        let sim_now = clock.sim_time(now);
        let stopped = stops_in_sim_time(&self.db, clock).await?;
        let state = |line: &catalog::Line, started: bool| {
            line.resource.map(|(id, kind, name)| {
                let stopped_at = stopped.get(id).copied();
                ResourceState {
                    id: id.to_string(),
                    kind,
                    name: name.to_string(),
                    provider: line.provider.to_string(),
                    sub_account: line.sub_account.0.to_string(),
                    service: line.service.to_string(),
                    running: started && stopped_at.is_none(),
                    stopped_at,
                }
            })
        };
        let mut resources: Vec<ResourceState> = catalog::lines().iter().filter_map(|l| state(l, true)).collect();
        for incident in super::incident_plan(self.settings(), epoch) {
            if let Effect::ExtraLine { line, .. } = &incident.effect {
                let live = incident.start <= sim_now && incident.end.is_none_or(|e| sim_now < e);
                resources.extend(state(line, live));
            }
        }
        Ok(resources)
    }

    async fn stop(&self, resource_id: &str, actor: &str, now: DateTime<Utc>) -> anyhow::Result<StopOutcome> {
        let known = self.list(now).await?.into_iter().any(|r| r.id == resource_id);
        if !known {
            anyhow::bail!("no simulated resource has the id {resource_id}");
        }
        let (id, actor) = (resource_id.to_string(), actor.to_string());
        let inserted = self
            .db
            .run(move |conn| {
                let exists = stops::table.find(&id).count().get_result::<i64>(conn)? > 0;
                if exists {
                    return Ok::<_, DbError>(false);
                }
                diesel::insert_into(stops::table)
                    .values((
                        stops::resource_id.eq(&id),
                        stops::stopped_at.eq(now.naive_utc()),
                        stops::stopped_by.eq(&actor),
                    ))
                    .execute(conn)?;
                Ok(true)
            })
            .await?;
        Ok(if inserted { StopOutcome::Stopped } else { StopOutcome::AlreadyStopped })
    }
}

//! The sources this process runs, each on its cron schedule (6 fields, seconds first), with
//! the schedule and on/off switch from config.toml unless an admin changed them in the
//! dashboard (table `provider_settings`, which wins and survives restarts). A run that is
//! still going when the next tick comes is not started twice.

use super::runner::run_once;
use super::sources::CostSource;
use super::Ingestor;
use crate::cron::validate_cron;
use crate::db::schema::provider_settings as ps;
use crate::db::DbError;
use chrono::Utc;
use diesel::prelude::*;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::Mutex;
use tokio_cron_scheduler::{Job, JobScheduler};

/// A source as configured in config.toml.
pub struct Configured {
    pub source: Arc<dyn CostSource>,
    pub enabled: bool,
    pub schedule: String,
}

struct Entry {
    source: Arc<dyn CostSource>,
    busy: Arc<Mutex<()>>,
    configured: (bool, String),
    job: Mutex<Option<uuid::Uuid>>,
}

/// The running sources; cheap to clone.
#[derive(Clone)]
pub struct Sources {
    scheduler: JobScheduler,
    ingestor: Ingestor,
    entries: Arc<HashMap<String, Entry>>,
    /// Scheduled runs happen on the leader only; "run now" on any replica.
    leader: crate::cluster::Leadership,
}

impl Sources {
    /// Registers every source and, for the enabled ones, runs each once right away (the first
    /// run backfills) and schedules the rest. An empty schedule means "only at start-up".
    pub async fn start(
        scheduler: JobScheduler,
        ingestor: Ingestor,
        configured: Vec<Configured>,
        leader: crate::cluster::Leadership,
    ) -> anyhow::Result<Sources> {
        let entries = configured
            .into_iter()
            .map(|c| {
                let entry = Entry {
                    source: c.source.clone(),
                    busy: Arc::new(Mutex::new(())),
                    configured: (c.enabled, c.schedule),
                    job: Mutex::new(None),
                };
                (c.source.name().to_string(), entry)
            })
            .collect();
        let sources = Sources { scheduler, ingestor, entries: Arc::new(entries), leader };
        for name in sources.names() {
            let (enabled, schedule) = sources.effective(&name).await?;
            sources.reschedule(&name, enabled, &schedule).await?;
        }
        tokio::spawn(sources.clone().run_on_taking_the_lead());
        Ok(sources)
    }

    /// Whenever this replica starts leading (at once on SQLite), every enabled source runs
    /// once, as a first start would: a backfill must not wait for the first scheduled tick.
    async fn run_on_taking_the_lead(self) {
        let mut leader = self.leader.clone();
        let never = tokio_util::sync::CancellationToken::new();
        while leader.wait_to_lead(&never).await {
            for name in self.names() {
                if matches!(self.effective(&name).await, Ok((true, _))) {
                    tokio::spawn(self.clone().scheduled_run(name));
                }
            }
            leader.lost().await;
        }
    }

    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.entries.keys().cloned().collect();
        names.sort();
        names
    }

    pub fn source(&self, name: &str) -> Option<Arc<dyn CostSource>> {
        self.entries.get(name).map(|e| e.source.clone())
    }

    /// (enabled, schedule) in force: the dashboard's override, else config.toml.
    pub async fn effective(&self, name: &str) -> Result<(bool, String), DbError> {
        let Some(entry) = self.entries.get(name) else { return Ok((false, String::new())) };
        let key = name.to_string();
        let saved: Option<(bool, String)> = self
            .ingestor
            .db()
            .run(move |c| {
                ps::table.find(&key).select((ps::enabled, ps::schedule)).first(c).optional().map_err(DbError::from)
            })
            .await?;
        Ok(saved.unwrap_or_else(|| entry.configured.clone()))
    }

    /// Saves an admin's change and applies it at once.
    pub async fn change(&self, name: &str, enabled: bool, schedule: &str, by: &str) -> anyhow::Result<()> {
        anyhow::ensure!(self.entries.contains_key(name), "no source named '{name}' runs here");
        if !schedule.trim().is_empty() {
            validate_cron(schedule.trim()).map_err(anyhow::Error::msg)?;
        }
        let (key, cron, by) = (name.to_string(), schedule.trim().to_string(), by.to_string());
        self.ingestor
            .db()
            .run(move |c| {
                let now = Utc::now().naive_utc();
                crate::db::write_transaction(c, |c| {
                    diesel::delete(ps::table.find(&key)).execute(c)?;
                    diesel::insert_into(ps::table)
                        .values((
                            ps::provider.eq(&key),
                            ps::enabled.eq(enabled),
                            ps::schedule.eq(&cron),
                            ps::updated_at.eq(now),
                            ps::updated_by.eq(&by),
                        ))
                        .execute(c)?;
                    let detail = format!("enabled={enabled} schedule='{cron}'");
                    crate::audit::note_in(c, &by, "provider.settings", &key, &detail)?;
                    Ok::<_, diesel::result::Error>(())
                })
                .map_err(DbError::from)
            })
            .await?;
        self.reschedule(name, enabled, schedule.trim()).await
    }

    async fn reschedule(&self, name: &str, enabled: bool, cron: &str) -> anyhow::Result<()> {
        let Some(entry) = self.entries.get(name) else { return Ok(()) };
        let mut job = entry.job.lock().await;
        if let Some(old) = job.take() {
            self.scheduler.remove(&old).await?;
        }
        if !enabled || cron.trim().is_empty() {
            return Ok(());
        }
        let this = self.clone();
        let key = name.to_string();
        let new = Job::new_async(cron, move |_, _| Box::pin(this.clone().scheduled_run(key.clone())))?;
        *job = Some(self.scheduler.add(new).await?);
        Ok(())
    }

    /// A scheduled (or start-up) run: on the leader only.
    async fn scheduled_run(self, name: String) {
        if self.leader.is_leader() {
            self.run_now(name).await;
        }
    }

    /// Runs a source now unless its previous run is still going. Errors are recorded by
    /// run_once (cursor row, metrics, log); a scheduled job never panics.
    pub async fn run_now(self, name: String) {
        let Some(entry) = self.entries.get(&name) else { return };
        let Ok(_running) = entry.busy.try_lock() else {
            tracing::debug!(source = %name, "previous run still going; skipping this tick");
            return;
        };
        let _ = run_once(&self.ingestor, entry.source.as_ref()).await;
    }

    /// Wipes what a source wrote and starts it again, never while one of its runs is going
    /// (the wipe and a run's writes would race).
    pub async fn reseed(&self, name: &str) -> anyhow::Result<()> {
        let entry = self.entries.get(name).ok_or_else(|| anyhow::anyhow!("no source named '{name}' runs here"))?;
        {
            let _running = entry.busy.lock().await;
            entry.source.reseed().await?;
        }
        tokio::spawn(self.clone().run_now(name.to_string()));
        Ok(())
    }

    /// Asks the source whether its credentials and endpoint work, without writing anything.
    pub async fn test(&self, name: &str) -> anyhow::Result<String> {
        let source = self.source(name).ok_or_else(|| anyhow::anyhow!("no source named '{name}' runs here"))?;
        source.test_connection().await
    }
}

//! The detective's worker: a full sweep at start-up and on taking the lead (so nothing
//! pending is lost across a restart), then one run per wake-up, coalescing the wake-ups that
//! queued meanwhile; the cron sweep and ledger writes by other processes wake it too.

use super::series::Scope;
use super::{DetectSettings, Detective};
use crate::bus::{CostsIngested, SeriesKey};
use crate::cluster::{wakeups, Leadership};
use crate::db::DbError;
use std::collections::BTreeSet;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// How often the leader's detective looks for ledger writes made by other processes.
const WAKEUP_POLL: std::time::Duration = std::time::Duration::from_secs(2);

/// Wake-ups for the detective's worker.
#[derive(Debug, Clone)]
pub enum Wake {
    /// Every series.
    Sweep,
    /// The service series an ingest touched (and the tag and LLM series, which cut across).
    Series(Vec<SeriesKey>),
}

/// Starts the detective (when `[detect]` is on): its worker, the forwarder from ingestion,
/// and the sweep on `sweep_schedule`.
pub async fn spawn(
    ctx: &crate::worker::Context,
    settings: &DetectSettings,
    capacity: usize,
    ingests: mpsc::Receiver<CostsIngested>,
) -> anyhow::Result<()> {
    if !settings.enabled {
        return Ok(());
    }
    let detective = Detective::new(ctx.db.clone(), settings.clone(), ctx.bus.clone()).with_clock(ctx.clock.clone());
    let (wake, wakes) = mpsc::channel(capacity);
    ctx.start(worker(detective), wakes);
    ctx.spawn(forward_ingests(ingests, wake.clone(), ctx.cancel.clone()));
    // Not leader-only: a follower's wake-up is dropped by its worker anyway.
    ctx.every(&settings.sweep_schedule, false, move || {
        let _ = wake.try_send(Wake::Sweep);
        std::future::ready(())
    })
    .await
}

/// The detective as a worker (tests run it on their own loop).
pub fn worker(detective: Detective) -> DetectWorker {
    DetectWorker { detective, ledger_seq: None }
}

pub struct DetectWorker {
    detective: Detective,
    /// The cross-process ledger counter at the last look; a change means a write elsewhere.
    ledger_seq: Option<i64>,
}

impl DetectWorker {
    async fn run(&self, scope: Scope) {
        if let Err(e) = self.detective.run(scope, self.detective.clock.now()).await {
            tracing::error!(error = %e, "detection run failed; the next wake-up retries");
        }
    }
}

impl crate::worker::Worker for DetectWorker {
    type Wake = Wake;

    fn tick_every(&self) -> std::time::Duration {
        WAKEUP_POLL
    }

    async fn catch_up(&mut self, _: &mut Leadership) {
        self.run(Scope::default()).await
    }

    async fn on_wakes(&mut self, wakes: Vec<Wake>, _: &mut Leadership) {
        let mut touched: BTreeSet<SeriesKey> = BTreeSet::new();
        let mut sweep = false;
        for w in wakes {
            match w {
                Wake::Sweep => sweep = true,
                Wake::Series(keys) => touched.extend(keys),
            }
        }
        let scope = if sweep { Scope::default() } else { Scope::touched(&touched.into_iter().collect::<Vec<_>>()) };
        self.run(scope).await
    }

    /// Ledger writes by other processes (a follower replica, a CLI import) sweep.
    async fn on_tick(&mut self, _: &mut Leadership) {
        let seen = self.detective.db.run(|c| wakeups::seq(c, wakeups::LEDGER).map_err(DbError::from)).await;
        if let Ok(seq) = seen {
            let changed = self.ledger_seq.is_some_and(|last| last != seq);
            self.ledger_seq = Some(seq);
            if changed {
                self.run(Scope::default()).await;
            }
        }
    }
}

/// Turns `CostsIngested` messages into wake-ups for the series they touched.
async fn forward_ingests(
    mut ingests: mpsc::Receiver<CostsIngested>,
    wakes: mpsc::Sender<Wake>,
    cancel: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            message = ingests.recv() => match message {
                Some(m) => {
                    if let Some(end) = m.period_end {
                        metrics::gauge!("costguard_ledger_newest_data_timestamp_seconds", "source" => m.source.clone()).set(end.timestamp() as f64);
                    }
                    if m.inserted + m.updated == 0 {
                        continue;
                    }
                    // A full queue already holds a wake-up; a sweep catches anything it misses.
                    if wakes.try_send(Wake::Series(m.series)).is_err() {
                        let _ = wakes.try_send(Wake::Sweep);
                    }
                }
                None => break,
            }
        }
    }
}

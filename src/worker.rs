//! What every background worker shares: the `Context` a module's `spawn` receives, and the one
//! loop the workers run (`Worker` + `run`).
//!
//! The loop is the architecture's rule in code: the database is the truth, channels are
//! wake-ups. A worker catches up from the database when it starts and whenever it takes the
//! lead, handles wake-ups only while it leads (a follower drops them: the leader's catch-up
//! finds the same rows), and runs a periodic pass that catches up on dropped wake-ups and on
//! work committed by other processes.

use crate::bus::Bus;
use crate::clock::Clock;
use crate::cluster::Leadership;
use crate::db::Db;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinHandle;
use tokio_cron_scheduler::{Job, JobScheduler};
use tokio_util::sync::CancellationToken;

/// What a module needs to start its workers and scheduled jobs. Each module's settings are
/// passed beside it, so no module reads another's configuration.
pub struct Context {
    pub db: Db,
    pub bus: Bus,
    pub clock: Clock,
    /// The server's leadership (SQLite: always the leader).
    pub leader: Leadership,
    /// Cancelled when the server stops; workers finish their current step and return.
    pub cancel: CancellationToken,
    scheduler: JobScheduler,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl Context {
    pub fn new(db: Db, bus: Bus, clock: Clock, leader: Leadership, scheduler: JobScheduler) -> Self {
        let cancel = CancellationToken::new();
        Context { db, bus, clock, leader, cancel, scheduler, tasks: Mutex::new(Vec::new()) }
    }

    /// Starts a worker on the shared loop, woken by `wakes`.
    pub fn start<W: Worker, S: Wakes<Item = W::Wake>>(&self, worker: W, wakes: S) {
        self.spawn(run(worker, wakes, self.leader.clone(), self.cancel.clone()));
    }

    /// Starts a task that is not a worker (a forwarder); it must return once `cancel` fires.
    pub fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        self.tasks().push(tokio::spawn(task));
    }

    /// Runs `job` on a cron schedule (already validated by the owning module's settings).
    /// Only the leader runs it when `leader_only`, so two replicas never do the same pass.
    pub async fn every<F, Fut>(&self, schedule: &str, leader_only: bool, job: F) -> anyhow::Result<()>
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (job, leader) = (Arc::new(job), self.leader.clone());
        let scheduled = Job::new_async(schedule, move |_, _| {
            let (job, leads) = (job.clone(), !leader_only || leader.is_leader());
            Box::pin(async move {
                if leads {
                    job().await;
                }
            })
        })
        .map_err(|e| anyhow::anyhow!("schedule {schedule:?}: {e}"))?;
        self.scheduler.add(scheduled).await?;
        Ok(())
    }

    /// A push cannot leave the list half-changed, so a poisoned lock is still a good list.
    fn tasks(&self) -> std::sync::MutexGuard<'_, Vec<JoinHandle<()>>> {
        self.tasks.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The started tasks, for the server to await on shutdown (after `cancel`).
    pub fn take_tasks(&self) -> Vec<JoinHandle<()>> {
        std::mem::take(&mut *self.tasks())
    }
}

/// A background worker: what it does on each occasion of the shared loop.
pub trait Worker: Send + 'static {
    type Wake: Send + 'static;

    /// How often `on_tick` runs (on the leader only).
    fn tick_every(&self) -> Duration;

    /// Everything pending in the database: at start and on taking the lead.
    fn catch_up(&mut self, leader: &mut Leadership) -> impl Future<Output = ()> + Send;

    /// The wake-ups that were waiting together (at least one), on the leader only.
    fn on_wakes(&mut self, wakes: Vec<Self::Wake>, leader: &mut Leadership) -> impl Future<Output = ()> + Send;

    /// The periodic pass; by default another catch-up.
    fn on_tick(&mut self, leader: &mut Leadership) -> impl Future<Output = ()> + Send {
        self.catch_up(leader)
    }
}

/// Where a worker's wake-ups come from: a bounded channel of ids, or a bare nudge.
pub trait Wakes: Send + 'static {
    type Item: Send + 'static;
    /// The next wake-up; None when every sender is gone (the worker stops).
    fn next(&mut self) -> impl Future<Output = Option<Self::Item>> + Send;
    /// One more that is already waiting, without blocking.
    fn waiting(&mut self) -> Option<Self::Item>;
}

impl<T: Send + 'static> Wakes for mpsc::Receiver<T> {
    type Item = T;
    fn next(&mut self) -> impl Future<Output = Option<T>> + Send {
        self.recv()
    }
    fn waiting(&mut self) -> Option<T> {
        self.try_recv().ok()
    }
}

/// `Notify` coalesces nudges, so there is never one more waiting.
impl Wakes for Arc<Notify> {
    type Item = ();
    async fn next(&mut self) -> Option<()> {
        self.notified().await;
        Some(())
    }
    fn waiting(&mut self) -> Option<()> {
        None
    }
}

/// The loop: catch up while behind and leading, then wait for the first of stop, a change of
/// leadership, the tick or a wake-up.
pub async fn run<W: Worker, S: Wakes<Item = W::Wake>>(
    mut worker: W,
    mut wakes: S,
    mut leader: Leadership,
    cancel: CancellationToken,
) {
    let period = worker.tick_every();
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut behind = true;
    loop {
        if behind && leader.is_leader() {
            behind = false;
            worker.catch_up(&mut leader).await;
        }
        tokio::select! {
            _ = cancel.cancelled() => break,
            // Whoever becomes leader catches up from the database.
            _ = leader.changed() => behind = true,
            _ = tick.tick() => {
                if leader.is_leader() {
                    worker.on_tick(&mut leader).await;
                }
            }
            wake = wakes.next() => match wake {
                None => break,
                Some(first) if leader.is_leader() => {
                    let batch = std::iter::once(first).chain(std::iter::from_fn(|| wakes.waiting())).collect();
                    worker.on_wakes(batch, &mut leader).await;
                }
                // A follower drops it; the leader's catch-up or tick finds the same rows.
                Some(_) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[derive(Clone, Default)]
    struct Counting {
        catch_ups: Arc<AtomicUsize>,
        woken: Arc<Mutex<Vec<Vec<u32>>>>,
    }

    impl Worker for Counting {
        type Wake = u32;
        fn tick_every(&self) -> Duration {
            Duration::from_secs(3600)
        }
        async fn catch_up(&mut self, _: &mut Leadership) {
            self.catch_ups.fetch_add(1, Ordering::SeqCst);
        }
        async fn on_wakes(&mut self, wakes: Vec<u32>, _: &mut Leadership) {
            self.woken.lock().unwrap().push(wakes);
        }
    }

    #[tokio::test]
    async fn it_catches_up_at_start_batches_waiting_wakes_and_stops_when_the_senders_go() {
        let worker = Counting::default();
        let (tx, rx) = mpsc::channel(8);
        for n in [1, 2, 3] {
            tx.send(n).await.unwrap();
        }
        drop(tx);
        run(worker.clone(), rx, Leadership::always(), CancellationToken::new()).await;
        assert_eq!(worker.catch_ups.load(Ordering::SeqCst), 1);
        assert_eq!(*worker.woken.lock().unwrap(), vec![vec![1, 2, 3]]);
    }

    #[tokio::test]
    async fn it_stops_when_cancelled() {
        let worker = Counting::default();
        let (_tx, rx) = mpsc::channel::<u32>(8);
        let cancel = CancellationToken::new();
        cancel.cancel();
        run(worker.clone(), rx, Leadership::always(), cancel).await;
        assert!(worker.woken.lock().unwrap().is_empty());
    }
}

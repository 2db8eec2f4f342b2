//! Messages between modules, over bounded tokio channels built once in `app.rs`.
//!
//! The database is the truth; a message is only a wake-up carrying ids and a summary.
//! A sender never waits: when a channel is full the message is dropped and logged, and the
//! consumer catches up from the database on its next wake-up or at start-up.

use crate::domain::ids::ActionId;
use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

/// One series' identity as the detective will see it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SeriesKey {
    pub provider: String,
    pub sub_account: String,
    pub service: String,
}

/// New or restated cost data was committed.
#[derive(Debug, Clone)]
pub struct CostsIngested {
    pub source: String,
    pub inserted: u64,
    pub updated: u64,
    pub period_start: Option<DateTime<Utc>>,
    pub period_end: Option<DateTime<Utc>>,
    pub series: Vec<SeriesKey>,
}

/// An anomaly was opened, re-measured or resolved (`AnomalyOpened/Updated/Resolved`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnomalyChanged {
    pub anomaly_id: crate::domain::ids::AnomalyId,
    pub lifecycle: crate::domain::detect::lifecycle::Lifecycle,
}

/// The sending side, cloned into every producer.
#[derive(Debug, Clone)]
pub struct Bus {
    costs_ingested: mpsc::Sender<CostsIngested>,
    anomalies: mpsc::Sender<AnomalyChanged>,
    actions: mpsc::Sender<ActionId>,
    /// Wakes the notifier, which reads what changed from the database.
    notifier: std::sync::Arc<tokio::sync::Notify>,
    budgets: std::sync::Arc<tokio::sync::Notify>,
}

/// The receiving side, handed to exactly one consumer each.
#[derive(Debug)]
pub struct Receivers {
    pub costs_ingested: mpsc::Receiver<CostsIngested>,
    pub anomalies: mpsc::Receiver<AnomalyChanged>,
    /// Ids of actions that became approved (for the executors).
    pub actions: mpsc::Receiver<ActionId>,
}

pub fn channels(capacity: usize) -> (Bus, Receivers) {
    let (costs_tx, costs_rx) = mpsc::channel(capacity);
    let (anomalies_tx, anomalies_rx) = mpsc::channel(capacity);
    let (actions_tx, actions_rx) = mpsc::channel(capacity);
    (
        Bus {
            costs_ingested: costs_tx,
            anomalies: anomalies_tx,
            actions: actions_tx,
            notifier: std::sync::Arc::new(tokio::sync::Notify::new()),
            budgets: std::sync::Arc::new(tokio::sync::Notify::new()),
        },
        Receivers { costs_ingested: costs_rx, anomalies: anomalies_rx, actions: actions_rx },
    )
}

impl Bus {
    pub fn publish_costs_ingested(&self, message: CostsIngested) {
        publish(&self.costs_ingested, "costs-ingested", message);
    }

    pub fn publish_anomaly(&self, message: AnomalyChanged) {
        publish(&self.anomalies, "anomalies", message);
        self.nudge_notifier();
    }

    /// An action was approved and waits for an executor.
    pub fn publish_action_approved(&self, action_id: ActionId) {
        publish(&self.actions, "actions", action_id);
        self.nudge_notifier();
    }

    /// Something people may hear about was committed (a stored permit: a wake-up sent while
    /// the notifier is busy is not lost).
    pub fn nudge_notifier(&self) {
        self.notifier.notify_one();
    }

    /// For the notifier's task.
    /// A detective run ended: the budgets' forecasts have new baselines to read.
    pub fn nudge_budgets(&self) {
        self.budgets.notify_one();
    }

    pub fn budgets_wake(&self) -> std::sync::Arc<tokio::sync::Notify> {
        self.budgets.clone()
    }

    pub fn notifier_wake(&self) -> std::sync::Arc<tokio::sync::Notify> {
        self.notifier.clone()
    }
}

fn publish<T>(channel: &mpsc::Sender<T>, name: &str, message: T) {
    match channel.try_send(message) {
        Ok(()) => {}
        Err(mpsc::error::TrySendError::Full(_)) => {
            tracing::warn!(channel = name, "channel full; its consumer will catch up from the database")
        }
        Err(mpsc::error::TrySendError::Closed(_)) => tracing::debug!(channel = name, "no consumer"),
    }
}

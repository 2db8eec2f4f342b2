//! Several replicas on one PostgreSQL: exactly one is the leader, which runs the background
//! work (scheduled ingestion, detection, the optimizer, executors, the notifier); every
//! replica serves the API, the dashboard and Slack's callbacks.
//!
//! Leadership is a lease row (`leases`), taken and renewed with the database's clock, so the
//! replicas' clocks never matter. The leader renews every `lease_secs / 3` and steps down by
//! itself once `lease_secs / 2` pass without a successful renewal, measured on its own
//! monotonic clock from the start of the last renewal that worked: by then its work has
//! stopped, and no other replica can take the lease before `lease_secs` after that renewal.
//! A killed leader is replaced within `lease_secs` plus one retry.
//!
//! With SQLite there is one process (the data file is locked, see `SqliteGuard`), which is
//! always the leader.

use crate::db::{Backend, Db, DbError};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterSettings {
    /// How long a leader's lease lasts without renewal, in seconds (PostgreSQL only). A dead
    /// leader is replaced within about this long.
    pub lease_secs: u64,
    /// This replica's name in the lease row and logs. Empty: host name and process id.
    pub node_name: String,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        ClusterSettings { lease_secs: 15, node_name: String::new() }
    }
}

impl ClusterSettings {
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if !(3..=300).contains(&self.lease_secs) {
            return Err(("cluster.lease_secs", "must be between 3 and 300 seconds".into()));
        }
        Ok(())
    }

    pub fn node(&self) -> String {
        match self.node_name.trim() {
            "" => {
                let host =
                    std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()).unwrap_or_else(|| "costguard".into());
                format!("{host}-{}-{:04x}", std::process::id(), rand::random::<u16>())
            }
            name => name.to_string(),
        }
    }
}

/// Whether this replica leads, for the workers to consult (cheap to clone).
#[derive(Debug, Clone)]
pub struct Leadership {
    state: watch::Receiver<bool>,
    /// Keeps a fixed state's sender alive, so waiting on it never sees a closed channel.
    _fixed: Option<std::sync::Arc<watch::Sender<bool>>>,
}

impl Leadership {
    /// A replica that always leads (SQLite, tests).
    pub fn always() -> Leadership {
        let (tx, state) = watch::channel(true);
        Leadership { state, _fixed: Some(std::sync::Arc::new(tx)) }
    }

    pub fn is_leader(&self) -> bool {
        *self.state.borrow()
    }

    /// Waits until this replica leads; false when `cancel` fired first.
    pub async fn wait_to_lead(&mut self, cancel: &CancellationToken) -> bool {
        tokio::select! {
            _ = cancel.cancelled() => false,
            led = self.state.wait_for(|lead| *lead) => led.is_ok(),
        }
    }

    /// Resolves at the next change of leadership.
    pub async fn changed(&mut self) {
        if self.state.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// Resolves when this replica stops leading.
    pub async fn lost(&mut self) {
        if self.state.wait_for(|lead| !*lead).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Starts leadership for `db`: always the leader on SQLite; on PostgreSQL, campaigns in the
/// background until `cancel`.
pub fn start(
    db: &Db,
    settings: &ClusterSettings,
    cancel: CancellationToken,
) -> (Leadership, Option<tokio::task::JoinHandle<()>>) {
    if db.backend() == Backend::Sqlite {
        return (Leadership::always(), None);
    }
    let (tx, state) = watch::channel(false);
    let leadership = Leadership { state, _fixed: None };
    let task =
        tokio::spawn(campaign(db.clone(), settings.node(), Duration::from_secs(settings.lease_secs), tx, cancel));
    (leadership, Some(task))
}

async fn campaign(db: Db, node: String, lease: Duration, tx: watch::Sender<bool>, cancel: CancellationToken) {
    let renew_every = lease / 3;
    let step_down_after = lease / 2;
    let mut last_renewed: Option<Instant> = None;
    loop {
        let started = Instant::now();
        let (who, secs) = (node.clone(), lease.as_secs_f64());
        match db.run(move |c| store::take_or_renew(c, &who, secs).map_err(DbError::from)).await {
            Ok(true) => {
                last_renewed = Some(started);
                if !*tx.borrow() {
                    tracing::info!(node, "this replica is now the leader");
                    let _ = tx.send(true);
                }
            }
            Ok(false) => {
                if *tx.borrow() {
                    tracing::warn!(node, "another replica holds the lease; stepping down");
                    let _ = tx.send(false);
                }
                last_renewed = None;
            }
            Err(e) => tracing::warn!(node, error = %e, "could not reach the lease"),
        }
        if *tx.borrow() && last_renewed.is_none_or(|t| t.elapsed() >= step_down_after) {
            tracing::warn!(node, "lease not renewed in time; stopping leader work");
            let _ = tx.send(false);
        }
        // Followers ask every two seconds (or as often as leaders renew, if that is more
        // often), so a released lease is taken at once and an expired one soon after.
        let wait = match last_renewed {
            Some(t) => (t + renew_every).saturating_duration_since(Instant::now()),
            None => renew_every.min(Duration::from_secs(2)),
        };
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tokio::time::sleep(wait) => {}
        }
    }
    if *tx.borrow() {
        let _ = tx.send(false);
        // Hand over at once on a clean shutdown.
        let _ = db.run(move |c| store::release(c, &node).map_err(DbError::from)).await;
    }
}

pub mod store {
    //! The lease row, on PostgreSQL's clock.

    use crate::db::DbConn;
    use diesel::prelude::*;
    use diesel::sql_types::{Double, Text};

    #[derive(QueryableByName)]
    struct Holder {
        #[diesel(sql_type = Text)]
        holder: String,
    }

    /// Takes the lease when it is free or expired, or renews it when `node` holds it; true
    /// when `node` holds it afterwards.
    pub fn take_or_renew(conn: &mut DbConn, node: &str, lease_secs: f64) -> QueryResult<bool> {
        let rows: Vec<Holder> = diesel::sql_query(
            "INSERT INTO leases (name, holder, expires_at) \
             VALUES ('leader', $1, CAST(now() AT TIME ZONE 'UTC' AS TIMESTAMP) + make_interval(secs => $2)) \
             ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at \
             WHERE leases.holder = EXCLUDED.holder OR leases.expires_at < CAST(now() AT TIME ZONE 'UTC' AS TIMESTAMP) \
             RETURNING holder",
        )
        .bind::<Text, _>(node)
        .bind::<Double, _>(lease_secs)
        .load(conn)?;
        Ok(rows.iter().any(|r| r.holder == node))
    }

    /// Gives the lease up (clean shutdown), so another replica takes over at once.
    pub fn release(conn: &mut DbConn, node: &str) -> QueryResult<()> {
        diesel::sql_query("DELETE FROM leases WHERE name = 'leader' AND holder = $1")
            .bind::<Text, _>(node)
            .execute(conn)
            .map(|_| ())
    }

    /// Who leads now, if the lease is current (for /readyz and tests).
    pub fn leader(conn: &mut DbConn) -> QueryResult<Option<String>> {
        let rows: Vec<Holder> = diesel::sql_query(
            "SELECT holder FROM leases WHERE name = 'leader' AND expires_at >= CAST(now() AT TIME ZONE 'UTC' AS TIMESTAMP)",
        )
        .load(conn)?;
        Ok(rows.into_iter().next().map(|r| r.holder))
    }
}

/// Wake-ups between processes through the database: whoever writes to the ledger without
/// being the leader bumps a counter the leader's detective polls.
pub mod wakeups {
    use crate::db::schema::wakeups as w;
    use crate::db::DbConn;
    use diesel::prelude::*;

    pub const LEDGER: &str = "ledger";

    pub fn bump(conn: &mut DbConn, topic: &str) -> QueryResult<()> {
        diesel::update(w::table.find(topic)).set(w::seq.eq(w::seq + 1)).execute(conn).map(|_| ())
    }

    pub fn seq(conn: &mut DbConn, topic: &str) -> QueryResult<i64> {
        Ok(w::table.find(topic).select(w::seq).first(conn).optional()?.unwrap_or(0))
    }
}

/// SQLite's single-server lock lives with the database it guards.
pub use crate::db::single_server::SqliteGuard;

//! Storage: one Diesel codebase over SQLite (embedded default) and PostgreSQL (production).
//!
//! The backend is chosen by the URL scheme. Portable queries go through [`DbConn`], a
//! `MultiConnection`; where SQL must differ (upserts, date bucketing, immediate
//! transactions) [`per_backend!`] compiles the same body once per concrete connection.
//! Nothing above this module opens connections except through [`Db::run`], which moves
//! the work onto tokio's blocking pool so async workers never wait on the database.

pub mod backup;
pub mod migrate;
pub mod schema;
pub mod single_server;
mod states;
pub mod types;
mod url;

pub use url::{Backend, DatabaseUrl};

use crate::domain::audit::AuditKey;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2;
use std::time::Duration;

#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Sqlite(diesel::SqliteConnection),
    Postgres(diesel::PgConnection),
}

impl DbConn {
    pub fn backend(&self) -> Backend {
        match self {
            DbConn::Sqlite(_) => Backend::Sqlite,
            DbConn::Postgres(_) => Backend::Postgres,
        }
    }
}

/// Runs `$body` with `$c` bound to the concrete connection; the body is compiled once per
/// backend, so it may use backend-specific Diesel features (upserts, `immediate_transaction`).
#[macro_export]
macro_rules! per_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConn::Sqlite($c) => $body,
            $crate::db::DbConn::Postgres($c) => $body,
        }
    };
}

/// Runs `work` in a write transaction. On SQLite it begins with `BEGIN IMMEDIATE`, so a
/// transaction that reads before it writes queues on the busy timeout instead of failing
/// when its read lock cannot be upgraded. Diesel's `MultiConnection` has no such method;
/// its transaction manager delegates to the inner one, so committing through it is sound.
pub fn write_transaction<T, E, F>(conn: &mut DbConn, work: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConn) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    match conn {
        DbConn::Postgres(_) => conn.transaction(work),
        DbConn::Sqlite(inner) => {
            AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE")?;
            match work(conn) {
                Ok(value) => {
                    <DbConn as Connection>::TransactionManager::commit_transaction(conn)?;
                    Ok(value)
                }
                Err(e) => {
                    <DbConn as Connection>::TransactionManager::rollback_transaction(conn)?;
                    Err(e)
                }
            }
        }
    }
}

/// Inside a write transaction: waits until no other transaction holds `key`, and holds it
/// until this one ends, so two writers that read, decide and write the same thing (two
/// detective runs on one series) take turns instead of both inserting. PostgreSQL: a
/// transaction-scoped advisory lock, across every process on the database. SQLite needs
/// nothing more: `BEGIN IMMEDIATE` already lets one writer in at a time.
pub fn lock_in_transaction(conn: &mut DbConn, key: &str) -> QueryResult<()> {
    match conn {
        DbConn::Sqlite(_) => Ok(()),
        DbConn::Postgres(pg) => {
            diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                .bind::<diesel::sql_types::Text, _>(key)
                .execute(pg)?;
            Ok(())
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database pool: {0}")]
    Pool(#[from] r2d2::PoolError),
    /// No connection was free within a request's wait: the database is saturated.
    #[error("no database connection was free within {0:?}")]
    Busy(Duration),
    /// A bounded read ran past its limit and the server cancelled it.
    #[error("the query ran longer than {0:?} and was cancelled")]
    TimedOut(Duration),
    #[error("database: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("database task did not finish: {0}")]
    Join(#[from] tokio::task::JoinError),
    #[error("cannot connect to the database: {0}")]
    Connect(#[from] diesel::ConnectionError),
    #[error("migrations: {0}")]
    Migration(String),
    /// Work inside a transaction that failed for a reason of its own (e.g. encryption).
    #[error("{0}")]
    Other(String),
}

/// Establishes connections of the backend the URL names, with per-connection settings.
#[derive(Debug, Clone)]
pub struct Manager {
    url: DatabaseUrl,
    busy_timeout: Duration,
}

impl Manager {
    pub fn connect_now(&self) -> Result<DbConn, DbError> {
        match self.url.backend() {
            Backend::Sqlite => {
                let mut conn = diesel::SqliteConnection::establish(self.url.sqlite_path())?;
                // busy_timeout first, so the other settings wait for a busy writer too.
                // journal_mode = WAL is set once in `Db::open` (it persists in the file);
                // NORMAL sync is durable in WAL mode but for the last commits on power loss.
                conn.batch_execute(&format!(
                    "PRAGMA busy_timeout = {}; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
                    self.busy_timeout.as_millis()
                ))?;
                Ok(DbConn::Sqlite(conn))
            }
            Backend::Postgres => Ok(DbConn::Postgres(diesel::PgConnection::establish(self.url.as_str())?)),
        }
    }
}

impl r2d2::ManageConnection for Manager {
    type Connection = DbConn;
    type Error = DbError;

    fn connect(&self) -> Result<DbConn, DbError> {
        self.connect_now()
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), DbError> {
        Ok(conn.batch_execute("SELECT 1")?)
    }

    fn has_broken(&self, _conn: &mut DbConn) -> bool {
        false
    }
}

pub type Pool = r2d2::Pool<Manager>;

/// The shared handle every module uses: a pool plus the backend it serves.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    backend: Backend,
    /// One detective run at a time on this database in this process (see `detective_turn`).
    detective_turn: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// How long `run` waits for a connection; None: the pool's own timeout (30 s).
    wait: Option<Duration>,
    /// What authenticates audit entries written through this handle (see [`current_audit_key`]).
    audit_key: Option<std::sync::Arc<AuditKey>>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("backend", &self.backend).finish()
    }
}

impl Db {
    /// Held for a whole detective run: two runs that overlap (the worker and a sweep, a test's
    /// own run) would each load the ledger before writing, and the one that loaded older data
    /// could commit last and undo what the newer one stored. Taking turns makes the order of
    /// loads the order of commits. Other processes never run the detective beside the leader.
    pub fn detective_turn(&self) -> std::sync::Arc<tokio::sync::Mutex<()>> {
        self.detective_turn.clone()
    }

    /// Runs pending migrations on a dedicated connection, then builds the pool.
    pub fn open(url: &DatabaseUrl, pool_size: u32, busy_timeout: Duration) -> Result<Db, DbError> {
        let manager = Manager { url: url.clone(), busy_timeout };
        url.prepare()?;
        let mut conn = manager.connect_now()?;
        migrate::run_pending(&mut conn)?;
        drop(conn);
        let pool =
            r2d2::Pool::builder().max_size(pool_size).connection_timeout(Duration::from_secs(30)).build(manager)?;
        Ok(Db { pool, backend: url.backend(), detective_turn: Default::default(), wait: None, audit_key: None })
    }

    /// The same pool, writing and checking audit entries under `key`.
    pub fn with_audit_key(self, key: AuditKey) -> Db {
        Db { audit_key: Some(std::sync::Arc::new(key)), ..self }
    }

    /// The same pool, waiting at most `wait` for a connection: what HTTP handlers use, so a
    /// saturated pool answers "busy, retry" (`DbError::Busy`) long before a client gives up,
    /// while background workers keep the longer wait.
    pub fn waiting_at_most(&self, wait: Duration) -> Db {
        Db { wait: Some(wait), ..self.clone() }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Runs `work` with a pooled connection on the blocking thread pool.
    pub async fn run<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let (pool, wait, key) = (self.pool.clone(), self.wait, self.audit_key.clone());
        tokio::task::spawn_blocking(move || {
            let mut conn = match wait {
                Some(wait) => pool.get_timeout(wait).map_err(|_| DbError::Busy(wait))?,
                None => pool.get().map_err(DbError::from)?,
            };
            let _key = AuditKeyScope::enter(key);
            work(&mut conn)
        })
        .await
        .map_err(DbError::from)?
    }

    /// Runs a read that may be expensive (a large aggregation) with a time limit. On
    /// PostgreSQL it runs in a read-only transaction with `SET LOCAL statement_timeout`, so
    /// the server itself cancels a runaway statement and the connection goes back to the pool
    /// (`DbError::TimedOut`). On SQLite a progress handler interrupts the statement once the
    /// deadline has passed, with the same answer.
    pub async fn read_within<T, F>(&self, limit: Duration, work: F) -> Result<T, DbError>
    where
        F: FnOnce(&mut DbConn) -> Result<T, diesel::result::Error> + Send + 'static,
        T: Send + 'static,
    {
        self.run(move |conn| match conn {
            DbConn::Sqlite(_) => read_before_deadline(conn, limit, work),
            DbConn::Postgres(_) => {
                let timeout = format!("SET LOCAL statement_timeout = {}", limit.as_millis().max(1));
                let result = conn.transaction(|c| {
                    diesel::sql_query("SET TRANSACTION READ ONLY").execute(c)?;
                    diesel::sql_query(timeout).execute(c)?;
                    work(c)
                });
                result.map_err(|e| match e {
                    diesel::result::Error::DatabaseError(_, ref info)
                        if info.message().contains("statement timeout") =>
                    {
                        DbError::TimedOut(limit)
                    }
                    other => DbError::from(other),
                })
            }
        })
        .await
    }

    /// For callers that are already on a blocking thread (the CSV importer's reader).
    pub fn get_blocking(&self) -> Result<r2d2::PooledConnection<Manager>, DbError> {
        Ok(self.pool.get()?)
    }

    /// Connections in use and idle, for the metrics.
    pub fn pool_state(&self) -> (u32, u32) {
        let state = self.pool.state();
        (state.connections - state.idle_connections, state.idle_connections)
    }
}

/// SQLite's side of [`Db::read_within`]: SQLite runs the handler every
/// `PROGRESS_STEPS` virtual-machine instructions (tens of microseconds), and the first call
/// past the deadline interrupts the statement. The handler is removed afterwards, so writes
/// on the same pooled connection are never interrupted.
fn read_before_deadline<T>(
    conn: &mut DbConn,
    limit: Duration,
    work: impl FnOnce(&mut DbConn) -> Result<T, diesel::result::Error>,
) -> Result<T, DbError> {
    use diesel::sqlite::ProgressDecision;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    const PROGRESS_STEPS: std::num::NonZeroU32 = std::num::NonZeroU32::new(10_000).unwrap();
    let deadline = std::time::Instant::now() + limit;
    let interrupted = Arc::new(AtomicBool::new(false));
    if let DbConn::Sqlite(c) = &mut *conn {
        let flag = interrupted.clone();
        c.on_progress(PROGRESS_STEPS, move || {
            if std::time::Instant::now() < deadline {
                return ProgressDecision::Continue;
            }
            flag.store(true, Ordering::Relaxed);
            ProgressDecision::Interrupt
        });
    }
    let result = work(conn);
    if let DbConn::Sqlite(c) = conn {
        c.remove_progress_handler();
    }
    result.map_err(|e| if interrupted.load(Ordering::Relaxed) { DbError::TimedOut(limit) } else { DbError::from(e) })
}

thread_local! {
    /// The audit key of the [`Db`] whose `run` is executing on this thread.
    static AUDIT_KEY: std::cell::RefCell<Option<std::sync::Arc<AuditKey>>> = const { std::cell::RefCell::new(None) };
}

/// The key that audit entries written on this thread are authenticated with. It travels with
/// the pool rather than through every signature: every write goes through [`Db::run`],
/// which makes its handle's key current for the closure, and the audit log reads it here. A
/// thread outside `run` has none, and the audit log refuses to write.
pub fn current_audit_key() -> Option<std::sync::Arc<AuditKey>> {
    AUDIT_KEY.with(|k| k.borrow().clone())
}

/// Makes a key current until dropped, then restores the one before.
struct AuditKeyScope(Option<std::sync::Arc<AuditKey>>);

impl AuditKeyScope {
    fn enter(key: Option<std::sync::Arc<AuditKey>>) -> Self {
        AuditKeyScope(AUDIT_KEY.with(|k| k.replace(key)))
    }
}

impl Drop for AuditKeyScope {
    fn drop(&mut self) {
        let previous = self.0.take();
        AUDIT_KEY.with(|k| *k.borrow_mut() = previous);
    }
}

//! Embedded migrations, one tree per backend with identical version names
//! (see migrations/README.md). They run on a concrete connection before the pool exists.

use super::{DbConn, DbError};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

pub const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");

fn err(e: impl std::fmt::Display) -> DbError {
    DbError::Migration(e.to_string())
}

/// The PostgreSQL advisory lock that replicas starting together take in turn, so one
/// applies the pending migrations and the others then find nothing pending ("costguar").
const MIGRATION_LOCK: i64 = 0x636f_7374_6775_6172;

/// Applies what is pending; returns the versions applied. On PostgreSQL under a session
/// advisory lock: two replicas starting at once would otherwise both run the same migration
/// and one would fail half-way. (SQLite's write lock already serialises them.)
pub fn run_pending(conn: &mut DbConn) -> Result<Vec<String>, DbError> {
    use diesel::connection::SimpleConnection;
    let applied = match conn {
        DbConn::Sqlite(c) => c.run_pending_migrations(SQLITE).map_err(err)?,
        DbConn::Postgres(c) => {
            c.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))?;
            let applied = c.run_pending_migrations(POSTGRES).map(|v| v.into_iter().map(|v| v.to_string()).collect());
            // Released whatever happened (the connection may also just close, which releases it).
            c.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"))?;
            return applied.map_err(err);
        }
    };
    Ok(applied.into_iter().map(|v| v.to_string()).collect())
}

/// True when every embedded migration has been applied (readiness).
pub fn is_current(conn: &mut DbConn) -> Result<bool, DbError> {
    let pending = match conn {
        DbConn::Sqlite(c) => c.has_pending_migration(SQLITE).map_err(err)?,
        DbConn::Postgres(c) => c.has_pending_migration(POSTGRES).map_err(err)?,
    };
    Ok(!pending)
}

/// Reverts every applied migration, newest first (used by the round-trip test).
pub fn revert_all(conn: &mut DbConn) -> Result<usize, DbError> {
    let reverted = match conn {
        DbConn::Sqlite(c) => c.revert_all_migrations(SQLITE).map_err(err)?,
        DbConn::Postgres(c) => c.revert_all_migrations(POSTGRES).map_err(err)?,
    };
    Ok(reverted.len())
}

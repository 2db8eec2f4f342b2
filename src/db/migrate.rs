//! Embedded migrations, one tree per backend with identical version names
//! (see migrations/README.md). They run on a concrete connection before the pool exists.

use super::{DbConn, DbError};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

pub const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");

fn err(e: impl std::fmt::Display) -> DbError {
    DbError::Migration(e.to_string())
}

/// Applies what is pending; returns the versions applied.
pub fn run_pending(conn: &mut DbConn) -> Result<Vec<String>, DbError> {
    let applied = match conn {
        DbConn::Sqlite(c) => c.run_pending_migrations(SQLITE).map_err(err)?,
        DbConn::Postgres(c) => c.run_pending_migrations(POSTGRES).map_err(err)?,
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

//! `costguard backup FILE` and `costguard restore FILE`.
//!
//! SQLite: `VACUUM INTO` writes a consistent copy from one read snapshot while the server
//! keeps serving and writing (WAL lets writers go on); restore checks the copy, then swaps it
//! in for the database file, refusing while a server holds that file. PostgreSQL: the
//! standard tools, `pg_dump --format=custom` and `pg_restore --clean`, which must be on PATH
//! (the PostgreSQL client package).

use super::{Backend, DatabaseUrl};
use diesel::prelude::*;
use diesel::sql_types::Text;
use std::path::Path;
use std::process::Command;

#[derive(QueryableByName)]
struct Check {
    #[diesel(sql_type = Text)]
    integrity_check: String,
}

/// Writes a backup of the database at `url` to `file`, which must not exist yet.
pub fn backup(url: &DatabaseUrl, file: &Path) -> anyhow::Result<()> {
    anyhow::ensure!(!file.exists(), "{} already exists; choose a new file", file.display());
    match url.backend() {
        Backend::Sqlite => {
            let mut conn = SqliteConnection::establish(url.sqlite_path())?;
            // Writers hold the lock only briefly; wait for them rather than fail.
            diesel::sql_query("PRAGMA busy_timeout = 30000").execute(&mut conn)?;
            let target = file.to_str().ok_or_else(|| anyhow::anyhow!("the backup path is not UTF-8"))?;
            diesel::sql_query("VACUUM INTO ?").bind::<Text, _>(target).execute(&mut conn)?;
            Ok(())
        }
        Backend::Postgres => tool(
            Command::new("pg_dump").args(["--format=custom", "--no-owner", "--file"]).arg(file).arg(url.as_str()),
            "pg_dump",
        ),
    }
}

/// Replaces the database at `url` with the backup in `file`. No server may be running on it.
pub fn restore(url: &DatabaseUrl, file: &Path) -> anyhow::Result<()> {
    anyhow::ensure!(file.is_file(), "{} is not a file", file.display());
    match url.backend() {
        Backend::Sqlite => {
            let target = Path::new(url.sqlite_path());
            // Refuses while a server holds the file.
            let _guard = crate::db::single_server::SqliteGuard::take(target)?;
            check_sqlite(file)?;
            let staged = target.with_extension("restoring");
            std::fs::copy(file, &staged)?;
            std::fs::File::open(&staged)?.sync_all()?;
            // The old database's journal must not be replayed into the restored file.
            for suffix in ["-wal", "-shm"] {
                let side = format!("{}{suffix}", target.display());
                match std::fs::remove_file(&side) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(anyhow::anyhow!("cannot remove {side}: {e}")),
                }
            }
            std::fs::rename(&staged, target)?;
            Ok(())
        }
        Backend::Postgres => tool(
            Command::new("pg_restore")
                .args(["--clean", "--if-exists", "--no-owner", "--single-transaction", "--dbname"])
                .arg(url.as_str())
                .arg(file),
            "pg_restore",
        ),
    }
}

/// A backup worth restoring: SQLite's own integrity check passes and it is a CostGuard
/// database (it has our migrations table).
fn check_sqlite(file: &Path) -> anyhow::Result<()> {
    let path = file.to_str().ok_or_else(|| anyhow::anyhow!("the backup path is not UTF-8"))?;
    let mut conn = SqliteConnection::establish(&format!("file:{path}?mode=ro"))
        .map_err(|e| anyhow::anyhow!("{} is not a SQLite database: {e}", file.display()))?;
    let checks: Vec<Check> = diesel::sql_query("PRAGMA integrity_check")
        .load(&mut conn)
        .map_err(|e| anyhow::anyhow!("{} is not a SQLite database: {e}", file.display()))?;
    let ok = checks.len() == 1 && checks[0].integrity_check == "ok";
    anyhow::ensure!(ok, "{} fails SQLite's integrity check", file.display());
    let migrations: i64 =
        diesel::dsl::sql::<diesel::sql_types::BigInt>("SELECT COUNT(*) FROM __diesel_schema_migrations")
            .get_result(&mut conn)
            .map_err(|_| anyhow::anyhow!("{} is not a CostGuard database", file.display()))?;
    anyhow::ensure!(migrations > 0, "{} is not a CostGuard database", file.display());
    Ok(())
}

fn tool(command: &mut Command, name: &str) -> anyhow::Result<()> {
    let status = command
        .status()
        .map_err(|e| anyhow::anyhow!("cannot run {name} ({e}); install the PostgreSQL client tools"))?;
    anyhow::ensure!(status.success(), "{name} failed ({status})");
    Ok(())
}

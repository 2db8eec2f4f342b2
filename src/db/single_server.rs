//! One server per SQLite file. SQLite allows one writing process, so `serve` (and a restore
//! into a file) takes this lock first; a second server on the same file is refused with a
//! clear message instead of fighting over the file. Replicas need PostgreSQL (`cluster`).

/// Holds an exclusive lock on `<database>.lock` beside a SQLite file for as long as the
/// server runs: SQLite allows one writing process, so a second `serve` on the same file is
/// refused with a clear message instead of fighting over the file.
pub struct SqliteGuard {
    _file: std::fs::File,
}

impl SqliteGuard {
    pub fn take(database: &std::path::Path) -> anyhow::Result<SqliteGuard> {
        if let Some(dir) = database.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let path = database.with_extension("lock");
        let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path)?;
        match file.try_lock() {
            Ok(()) => Ok(SqliteGuard { _file: file }),
            Err(_) => anyhow::bail!(
                "another CostGuard server is already using {} (SQLite allows one; stop it, or use PostgreSQL to run several replicas)",
                database.display()
            ),
        }
    }
}

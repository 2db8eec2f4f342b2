//! The chain's head (`SEQ:HASH` of its last entry) published outside the database, so that
//! deleting entries from the end, or rebuilding the chain, shows against something the
//! database does not hold: a line in the server log, the `costguard_audit_head_seq` gauge on
//! `/metrics`, and a line appended to `audit.head_file`, which `costguard audit verify` reads.
//! The publisher also checks, each time, that the head it published last is still in the
//! chain unchanged, and when it is not says so loudly and publishes nothing more. (After a
//! restore from a backup that is expected: move the head file aside once `audit verify` has
//! confirmed the restored chain.)

use crate::db::schema::audit_log as al;
use crate::db::{Db, DbConn, DbError};
use crate::domain::audit::Head;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// `[audit]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditSettings {
    /// The file the head is appended to whenever it moves. Empty: `<data.dir>/audit-heads.log`.
    /// Put it where the database's writers cannot rewrite it (another volume, `chattr +a`).
    pub head_file: String,
    /// How often the head is checked and published, in seconds.
    pub publish_secs: u64,
}

impl Default for AuditSettings {
    fn default() -> Self {
        AuditSettings { head_file: String::new(), publish_secs: 5 }
    }
}

impl AuditSettings {
    pub fn head_path(&self, data_dir: &Path) -> PathBuf {
        if self.head_file.trim().is_empty() {
            data_dir.join("audit-heads.log")
        } else {
            PathBuf::from(&self.head_file)
        }
    }

    /// The first key that is out of range, and why.
    pub fn check(&self) -> Result<(), (&'static str, &'static str)> {
        if !(1..=3600).contains(&self.publish_secs) {
            return Err(("audit.publish_secs", "must be between 1 and 3600"));
        }
        Ok(())
    }
}

/// The last head in `path` (its last line, `SEQ:HASH AT`); None when there is no file yet.
pub fn last_published(path: &Path) -> anyhow::Result<Option<Head>> {
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(anyhow::anyhow!("cannot read {}: {e}", path.display())),
    };
    // Only the tail matters, however long the file has grown.
    let length = file.metadata()?.len();
    file.seek(std::io::SeekFrom::Start(length.saturating_sub(4096)))?;
    let mut tail = String::new();
    file.read_to_string(&mut tail)?;
    let Some(line) = tail.lines().rev().find(|l| !l.trim().is_empty()) else { return Ok(None) };
    let head = line.split_whitespace().next().unwrap_or_default();
    let parsed = head.parse().map_err(|e| anyhow::anyhow!("{}: the last line is not a head ({e})", path.display()))?;
    Ok(Some(parsed))
}

fn append_line(path: &Path, head: &Head) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    writeln!(file, "{head} {at}")?;
    file.sync_data()
}

/// Whether the chain still holds `published` unchanged.
fn still_holds(conn: &mut DbConn, published: &Head) -> QueryResult<bool> {
    let stored: Option<String> = al::table.filter(al::seq.eq(published.seq)).select(al::hash).first(conn).optional()?;
    Ok(stored.as_deref() == Some(published.hash.as_str()))
}

/// Publishes heads as the chain grows, remembering the last one.
pub struct Publisher {
    path: PathBuf,
    last: Option<Head>,
}

impl Publisher {
    /// Starts from the last head in the file, so a restart checks what was published before.
    pub fn new(path: PathBuf) -> Self {
        let last = last_published(&path).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "audit log: cannot read the published heads");
            None
        });
        Publisher { path, last }
    }

    /// One round: checks the last published head is still in the chain, then publishes the
    /// current head if it moved.
    pub async fn publish(&mut self, db: &Db) -> Result<(), DbError> {
        let last = self.last.clone();
        let (holds, current) = db
            .run(move |c| {
                let look = |c: &mut DbConn| -> QueryResult<(bool, Option<Head>)> {
                    let holds = match &last {
                        Some(published) if published.seq > 0 => still_holds(c, published)?,
                        _ => true,
                    };
                    Ok((holds, super::head(c)?))
                };
                look(c).map_err(DbError::from)
            })
            .await?;
        metrics::gauge!("costguard_audit_chain_holds_published_head").set(f64::from(u8::from(holds)));
        if !holds {
            // The published head stays the reference: publishing the shortened or rewritten
            // chain's head would hide what happened from the next `audit verify`.
            let published = self.last.as_ref().map(ToString::to_string).unwrap_or_default();
            tracing::error!(%published, "audit log: the published head is no longer in the chain; entries were deleted or rewritten (run costguard audit verify)");
            return Ok(());
        }
        let Some(current) = current else { return Ok(()) };
        metrics::gauge!("costguard_audit_head_seq").set(current.seq as f64);
        if self.last.as_ref() == Some(&current) {
            return Ok(());
        }
        tracing::info!(head = %current, "audit head");
        if let Err(e) = append_line(&self.path, &current) {
            tracing::warn!(error = %e, path = %self.path.display(), "audit log: cannot append the head");
        }
        self.last = Some(current);
        Ok(())
    }
}

/// Starts the publisher: at once, then every `publish_secs`.
pub fn spawn(ctx: &crate::worker::Context, settings: &AuditSettings, data_dir: &Path) {
    let (db, cancel) = (ctx.db.clone(), ctx.cancel.clone());
    let mut publisher = Publisher::new(settings.head_path(data_dir));
    let every = std::time::Duration::from_secs(settings.publish_secs);
    ctx.spawn(async move {
        loop {
            if let Err(e) = publisher.publish(&db).await {
                tracing::warn!(error = %e, "audit log: cannot read the head");
            }
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(every) => {}
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_line_of_the_file_is_the_published_head() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("heads.log");
        assert_eq!(last_published(&path).ok().flatten(), None);
        let head = |seq: i64| Head { seq, hash: format!("{seq:064x}") };
        for seq in 1..=300 {
            append_line(&path, &head(seq)).unwrap_or_else(|e| panic!("{e}"));
        }
        assert_eq!(last_published(&path).ok().flatten(), Some(head(300)));
        std::fs::write(&path, "garbage\n").unwrap_or_else(|e| panic!("{e}"));
        assert!(last_published(&path).is_err());
    }
}

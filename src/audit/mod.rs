//! The audit log: append an entry to the keyed chain in the caller's transaction, page it,
//! verify it (against a published head too), and publish its head outside the database
//! (`heads.rs`). The chain's rules live in `domain::audit`; the key is the one current for the
//! database handle (`db::current_audit_key`).

pub mod heads;

pub use heads::AuditSettings;

use crate::db::schema::audit_log as al;
use crate::db::DbConn;
use crate::domain::audit::{self, AuditKey, Break, Entry, Head, Record};
use chrono::{DateTime, Utc};
use diesel::prelude::*;

type Row = (
    i64,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    String,
    Option<String>,
    String,
    String,
);

fn entry(r: Row) -> Entry {
    let (seq, at, actor, action, target, before, after, build_sha, result, detail, prev_hash, hash) = r;
    Entry {
        record: Record { seq, at, actor, action, target, before, after, build_sha, result, detail },
        prev_hash,
        hash,
    }
}

/// The table's columns, in the order of [`Row`].
const COLUMNS: <al::table as diesel::Table>::AllColumns = al::all_columns;

/// What to record; time and build SHA are filled in.
#[derive(Debug, Clone, Default)]
pub struct Event<'a> {
    pub actor: &'a str,
    pub action: &'a str,
    pub target: &'a str,
    pub before: Option<&'a str>,
    pub after: Option<&'a str>,
    pub result: &'a str,
    pub detail: Option<&'a str>,
}

/// A settings change (who changed what on which target), inside the caller's transaction.
pub fn note_in(conn: &mut DbConn, actor: &str, action: &str, target: &str, detail: &str) -> QueryResult<Entry> {
    let event = Event { actor, action, target, before: None, after: None, result: "ok", detail: Some(detail) };
    append(conn, &event, chrono::Utc::now())
}

/// [`note_in`] in a transaction of its own (the chain's append must run in one), for changes
/// that committed on their own.
pub fn note(conn: &mut DbConn, actor: &str, action: &str, target: &str, detail: &str) -> QueryResult<Entry> {
    crate::db::write_transaction(conn, |c| note_in(c, actor, action, target, detail))
}

/// The key for this thread's database handle; writing or checking without one is an error,
/// never an unauthenticated entry.
fn key() -> QueryResult<std::sync::Arc<AuditKey>> {
    crate::db::current_audit_key().ok_or_else(|| {
        diesel::result::Error::QueryBuilderError("no audit key: open the database with app::open_database".into())
    })
}

/// Appends to the chain. Call inside the transaction that made the change, so the entry and
/// the change commit together (and concurrent appends serialise on the last entry).
pub fn append(conn: &mut DbConn, e: &Event<'_>, now: DateTime<Utc>) -> QueryResult<Entry> {
    let key = key()?;
    if let DbConn::Postgres(c) = conn {
        // SQLite's write transaction already serialises writers; PostgreSQL needs the lock
        // so two appends never read the same last entry.
        use diesel::connection::SimpleConnection;
        c.batch_execute("LOCK TABLE audit_log IN EXCLUSIVE MODE")?;
    }
    let last: Option<Row> = al::table.order_by(al::seq.desc()).select(COLUMNS).first(conn).optional()?;
    let previous = last.map(entry);
    let record = Record {
        seq: 0,
        at: now.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        actor: e.actor.to_string(),
        action: e.action.to_string(),
        target: e.target.to_string(),
        before: e.before.map(str::to_string),
        after: e.after.map(str::to_string),
        build_sha: crate::build_info::info().git_sha.to_string(),
        result: e.result.to_string(),
        detail: e.detail.map(str::to_string),
    };
    let next = audit::chain(&key, previous.as_ref(), record);
    insert(conn, &next)?;
    Ok(next)
}

/// Stores an entry exactly as given, links and all (`append` chains it first).
pub fn insert(conn: &mut DbConn, e: &Entry) -> QueryResult<()> {
    let r = &e.record;
    diesel::insert_into(al::table)
        .values((
            al::seq.eq(r.seq),
            al::at.eq(&r.at),
            al::actor.eq(&r.actor),
            al::action.eq(&r.action),
            al::target.eq(&r.target),
            al::before_state.eq(&r.before),
            al::after_state.eq(&r.after),
            al::build_sha.eq(&r.build_sha),
            al::result.eq(&r.result),
            al::detail.eq(&r.detail),
            al::prev_hash.eq(&e.prev_hash),
            al::hash.eq(&e.hash),
        ))
        .execute(conn)
        .map(|_| ())
}

/// Entries with seq after `after`, oldest first, at most `limit`.
pub fn page(conn: &mut DbConn, after: i64, limit: i64) -> QueryResult<Vec<Entry>> {
    let rows: Vec<Row> =
        al::table.filter(al::seq.gt(after)).order_by(al::seq.asc()).limit(limit).select(COLUMNS).load(conn)?;
    Ok(rows.into_iter().map(entry).collect())
}

/// Newest first: entries by `actor` (exactly) whose action starts with `action`, one page.
pub fn search(
    conn: &mut DbConn,
    actor: Option<&str>,
    action: Option<&str>,
    offset: i64,
    limit: i64,
) -> QueryResult<Vec<Entry>> {
    let mut q = al::table.select(COLUMNS).into_boxed();
    if let Some(a) = actor {
        q = q.filter(al::actor.eq(a.to_string()));
    }
    if let Some(a) = action {
        let escaped = a.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        q = q.filter(al::action.like(format!("{escaped}%")).escape('\\'));
    }
    let rows: Vec<Row> = q.order_by(al::seq.desc()).limit(limit).offset(offset).load(conn)?;
    Ok(rows.into_iter().map(entry).collect())
}

fn all_entries(conn: &mut DbConn) -> QueryResult<Vec<Entry>> {
    let rows: Vec<Row> = al::table.order_by(al::seq.asc()).select(COLUMNS).load(conn)?;
    Ok(rows.into_iter().map(entry).collect())
}

/// Walks the whole chain; Ok(number of entries) or the first break.
pub fn verify(conn: &mut DbConn) -> QueryResult<Result<usize, Break>> {
    let key = key()?;
    Ok(audit::verify(&key, &all_entries(conn)?))
}

/// [`verify`], and the chain must still hold `head` (published earlier) unchanged.
pub fn verify_against(conn: &mut DbConn, head: &Head) -> QueryResult<Result<usize, Break>> {
    let key = key()?;
    Ok(audit::verify_against(&key, &all_entries(conn)?, head))
}

/// The chain's last entry as `SEQ:HASH` (None: the chain is empty).
pub fn head(conn: &mut DbConn) -> QueryResult<Option<Head>> {
    let last: Option<(i64, String)> =
        al::table.order_by(al::seq.desc()).select((al::seq, al::hash)).first(conn).optional()?;
    Ok(last.map(|(seq, hash)| Head { seq, hash }))
}

/// Start-up: a chain written before entries were keyed (plain SHA-256) is re-linked under
/// the key, once, if it is intact, and the re-linking is itself recorded. A chain that
/// verifies neither way is left as it is for `audit verify` to report.
pub async fn rekey_if_unkeyed(db: &crate::db::Db) -> anyhow::Result<()> {
    let outcome = db
        .run(|c| {
            crate::db::write_transaction(c, |c| -> QueryResult<Option<Result<usize, Break>>> {
                let key = key()?;
                let last: Option<Row> = al::table.order_by(al::seq.desc()).select(COLUMNS).first(c).optional()?;
                let Some(last) = last.map(entry) else { return Ok(None) };
                if audit::hash(&key, &last.prev_hash, &last.record) == last.hash {
                    return Ok(None);
                }
                let entries = all_entries(c)?;
                let rekeyed = match audit::rekey(&key, &entries) {
                    Ok(rekeyed) => rekeyed,
                    Err(broken) => return Ok(Some(Err(broken))),
                };
                for e in &rekeyed {
                    diesel::update(al::table.filter(al::seq.eq(e.record.seq)))
                        .set((al::prev_hash.eq(&e.prev_hash), al::hash.eq(&e.hash)))
                        .execute(c)?;
                }
                let detail =
                    format!("{} entries written before entries were keyed, re-linked under the key", rekeyed.len());
                note_in(c, "costguard", "audit.rekey", "audit log", &detail)?;
                Ok(Some(Ok(rekeyed.len())))
            })
            .map_err(crate::db::DbError::from)
        })
        .await?;
    match outcome {
        Some(Ok(n)) => tracing::info!(entries = n, "audit log: re-linked the unkeyed chain under the key"),
        Some(Err(broken)) => {
            tracing::error!(%broken, "audit log: the chain verifies neither under this key nor unkeyed; left as it is")
        }
        None => {}
    }
    Ok(())
}

/// Start-up: records `config` (what config.toml and the environment now say for `action`'s
/// settings) when it differs from what the chain last recorded, so a safety rule loosened
/// by editing the file or the environment shows in the audit log as one changed in the
/// dashboard does.
pub async fn note_config_if_changed(db: &crate::db::Db, action: &'static str, config: String) -> anyhow::Result<()> {
    db.run(move |c| {
        crate::db::write_transaction(c, |c| {
            let last: Option<Option<String>> = al::table
                .filter(al::action.eq(action))
                .order_by(al::seq.desc())
                .select(al::detail)
                .first(c)
                .optional()?;
            if last.flatten().as_deref() != Some(config.as_str()) {
                note_in(c, "costguard", action, "config.toml and environment", &config)?;
            }
            Ok::<_, diesel::result::Error>(())
        })
        .map_err(crate::db::DbError::from)
    })
    .await?;
    Ok(())
}

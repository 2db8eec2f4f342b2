//! The audit log: append an entry to the hash chain in the caller's transaction, page it,
//! verify it. The chain's rules live in `domain::audit`.

use crate::db::schema::audit_log as al;
use crate::db::DbConn;
use crate::domain::audit::{self, Break, Entry, Record};
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

/// Appends to the chain. Call inside the transaction that made the change, so the entry and
/// the change commit together (and concurrent appends serialise on the last entry).
pub fn append(conn: &mut DbConn, e: &Event<'_>, now: DateTime<Utc>) -> QueryResult<Entry> {
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
    let next = audit::chain(previous.as_ref(), record);
    let r = &next.record;
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
            al::prev_hash.eq(&next.prev_hash),
            al::hash.eq(&next.hash),
        ))
        .execute(conn)?;
    Ok(next)
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

/// Walks the whole chain; Ok(number of entries) or the first break.
pub fn verify(conn: &mut DbConn) -> QueryResult<Result<usize, Break>> {
    let rows: Vec<Row> = al::table.order_by(al::seq.asc()).select(COLUMNS).load(conn)?;
    let entries: Vec<Entry> = rows.into_iter().map(entry).collect();
    Ok(audit::verify(&entries))
}

//! Server-side sessions. The browser holds a random token in an HttpOnly cookie; the database
//! holds its SHA-256, the user and a per-session CSRF token, so any replica serves any browser
//! and logging out (or disabling a user) ends a session everywhere at once.

use super::users::User;
use super::{hash_token, random_token};
use crate::db::schema::{sessions as se, users as us};
use crate::db::DbConn;
use crate::domain::role::Role;
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;

/// How long sessions live.
#[derive(Debug, Clone, Copy)]
pub struct Lifetime {
    /// From log-in, however active the session.
    pub absolute: Duration,
    /// Without a request.
    pub idle: Duration,
}

/// A signed-in person, as a request sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionUser {
    pub user_id: String,
    pub name: String,
    pub role: Role,
    pub csrf_token: String,
    /// A message for this request's page only (failed log-ins since the last one, shown once).
    pub notice: Option<String>,
}

/// Starts a session; returns the cookie token (shown to this browser only). `notice` is shown
/// on the session's first page.
pub fn start(
    conn: &mut DbConn,
    user: &User,
    life: Lifetime,
    now: DateTime<Utc>,
    notice: Option<String>,
) -> QueryResult<String> {
    let token = random_token();
    let n = now.naive_utc();
    diesel::insert_into(se::table)
        .values((
            se::token_hash.eq(hash_token(&token)),
            se::user_id.eq(&user.id),
            se::csrf_token.eq(random_token()),
            se::created_at.eq(n),
            se::last_seen_at.eq(n),
            se::expires_at.eq(n + life.idle.min(life.absolute)),
            se::notice.eq(notice),
        ))
        .execute(conn)?;
    Ok(token)
}

/// The live session for a cookie token, sliding its idle expiry forward (at most once a
/// minute, so reading pages does not write on every request).
pub fn resume(conn: &mut DbConn, token: &str, life: Lifetime, now: DateTime<Utc>) -> QueryResult<Option<SessionUser>> {
    let n = now.naive_utc();
    type Row = (String, String, chrono::NaiveDateTime, chrono::NaiveDateTime, Option<String>, String, String);
    let found: Option<Row> = se::table
        .inner_join(us::table)
        .filter(se::token_hash.eq(hash_token(token)))
        .filter(se::expires_at.gt(n))
        .filter(us::disabled_at.is_null())
        .select((se::token_hash, se::csrf_token, se::created_at, se::last_seen_at, se::notice, us::id, us::name))
        .first(conn)
        .optional()?;
    let Some((hash, csrf_token, created, seen, notice, user_id, name)) = found else { return Ok(None) };
    if notice.is_some() {
        diesel::update(se::table.find(&hash)).set(se::notice.eq(None::<String>)).execute(conn)?;
    }
    if n - seen > Duration::minutes(1) {
        let expires = (n + life.idle).min(created + life.absolute);
        diesel::update(se::table.find(&hash))
            .set((se::last_seen_at.eq(n), se::expires_at.eq(expires)))
            .execute(conn)?;
    }
    // Read the role each time: a demotion takes effect on the next request.
    let role: String = us::table.find(&user_id).select(us::role).first(conn)?;
    Ok(Some(SessionUser { user_id, name, role: role.parse().unwrap_or(Role::Viewer), csrf_token, notice }))
}

pub fn end(conn: &mut DbConn, token: &str) -> QueryResult<usize> {
    diesel::delete(se::table.find(hash_token(token))).execute(conn)
}

/// Deletes expired sessions; returns how many.
pub fn purge_expired(conn: &mut DbConn, now: DateTime<Utc>) -> QueryResult<usize> {
    diesel::delete(se::table.filter(se::expires_at.le(now.naive_utc()))).execute(conn)
}

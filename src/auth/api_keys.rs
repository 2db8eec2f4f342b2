//! API key storage: create (returns the secret once), list, revoke, authenticate.

use crate::db::schema::api_keys as ak;
use crate::db::{DbConn, DbError};
use crate::domain::role::Role;
use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;

/// Keys start with this, so secret scanners and people can recognise them.
pub const KEY_PREFIX: &str = "cg_";

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = ak)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    pub role: String,
    /// The first characters of the key, to tell keys apart; never enough to use one.
    pub key_prefix: String,
    pub created_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
}

impl ApiKey {
    pub fn role(&self) -> Role {
        // The CHECK constraint admits only valid roles; fall back to the least privilege.
        self.role.parse().unwrap_or(Role::Viewer)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("a key named '{0}' already exists")]
    NameTaken(String),
    #[error("the key name must be 1 to 100 printable characters")]
    BadName,
    #[error("no key has the id or name '{0}'")]
    NotFound(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for KeyError {
    fn from(e: diesel::result::Error) -> Self {
        KeyError::Db(DbError::Query(e))
    }
}

pub fn hash_key(secret: &str) -> String {
    super::hash_token(secret)
}

/// Creates a key; returns its record and the secret, which is never stored or shown again.
pub fn create(conn: &mut DbConn, name: &str, role: Role) -> Result<(ApiKey, String), KeyError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(KeyError::BadName);
    }
    let secret = format!("{KEY_PREFIX}{}", super::random_token());
    let id = uuid::Uuid::now_v7().to_string();
    let now = Utc::now().naive_utc();
    let prefix: String = secret.chars().take(KEY_PREFIX.len() + 6).collect();
    let taken = ak::table.filter(ak::name.eq(name)).count().get_result::<i64>(conn)? > 0;
    if taken {
        return Err(KeyError::NameTaken(name.to_string()));
    }
    diesel::insert_into(ak::table)
        .values((
            ak::id.eq(&id),
            ak::name.eq(name),
            ak::role.eq(role.as_str()),
            ak::key_prefix.eq(&prefix),
            ak::key_hash.eq(hash_key(&secret)),
            ak::created_at.eq(now),
        ))
        .execute(conn)?;
    let key = ak::table.find(&id).select(ApiKey::as_select()).first(conn)?;
    Ok((key, secret))
}

pub fn list(conn: &mut DbConn) -> Result<Vec<ApiKey>, KeyError> {
    list_page(conn, 0, i64::MAX)
}

/// Oldest first, `limit` keys after skipping `offset`.
pub fn list_page(conn: &mut DbConn, offset: i64, limit: i64) -> Result<Vec<ApiKey>, KeyError> {
    Ok(ak::table.order((ak::created_at, ak::id)).offset(offset).limit(limit).select(ApiKey::as_select()).load(conn)?)
}

/// Revokes by id or name; revoking twice keeps the first time.
pub fn revoke(conn: &mut DbConn, id_or_name: &str) -> Result<ApiKey, KeyError> {
    let key = ak::table
        .filter(ak::id.eq(id_or_name).or(ak::name.eq(id_or_name)))
        .select(ApiKey::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| KeyError::NotFound(id_or_name.to_string()))?;
    diesel::update(ak::table.find(&key.id).filter(ak::revoked_at.is_null()))
        .set(ak::revoked_at.eq(Some(Utc::now().naive_utc())))
        .execute(conn)?;
    Ok(ak::table.find(&key.id).select(ApiKey::as_select()).first(conn)?)
}

/// Why a presented key was not accepted (the API answers 401 for both).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejected {
    Unknown,
    Revoked,
}

/// Finds the live key for a presented secret and notes its use (at most once a minute,
/// so reads do not turn into a write per request).
pub fn authenticate(conn: &mut DbConn, secret: &str) -> Result<Result<ApiKey, Rejected>, KeyError> {
    let Some(key) =
        ak::table.filter(ak::key_hash.eq(hash_key(secret))).select(ApiKey::as_select()).first(conn).optional()?
    else {
        return Ok(Err(Rejected::Unknown));
    };
    if key.revoked_at.is_some() {
        return Ok(Err(Rejected::Revoked));
    }
    let now = Utc::now().naive_utc();
    if key.last_used_at.is_none_or(|t| now - t > chrono::Duration::minutes(1)) {
        diesel::update(ak::table.find(&key.id)).set(ak::last_used_at.eq(Some(now))).execute(conn)?;
    }
    Ok(Ok(key))
}

//! Dashboard users: create, list, change role or password, disable.

use super::passwords::{self, WeakPassword};
use crate::db::schema::{sessions, users as us};
use crate::db::{write_transaction, DbConn, DbError};
use crate::domain::role::Role;
use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = us)]
pub struct User {
    pub id: String,
    pub name: String,
    pub role: String,
    #[serde(skip)]
    pub password_hash: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub disabled_at: Option<NaiveDateTime>,
}

impl User {
    pub fn role(&self) -> Role {
        // The CHECK constraint admits only valid roles; fall back to the least privilege.
        self.role.parse().unwrap_or(Role::Viewer)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("a user named '{0}' already exists")]
    NameTaken(String),
    #[error("the user name must be 1 to 64 characters: letters, digits, '.', '_', '-' or '@'")]
    BadName,
    #[error(transparent)]
    Weak(#[from] WeakPassword),
    #[error("no user has the id or name '{0}'")]
    NotFound(String),
    #[error("this would leave no active admin")]
    LastAdmin,
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Hash(#[from] anyhow::Error),
}

impl From<diesel::result::Error> for UserError {
    fn from(e: diesel::result::Error) -> Self {
        UserError::Db(DbError::Query(e))
    }
}

/// A valid user name: short, and safe to show anywhere (it is the actor in the audit log).
pub fn check_name(name: &str) -> Result<&str, UserError> {
    let name = name.trim();
    let ok = (1..=64).contains(&name.chars().count())
        && name.chars().all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    ok.then_some(name).ok_or(UserError::BadName)
}

pub fn create(conn: &mut DbConn, name: &str, role: Role, password: &str) -> Result<User, UserError> {
    let hash = checked_hash(password, name)?;
    write_transaction(conn, |conn| insert(conn, name, role, &hash))
}

/// Checks and hashes a new password for the user `name` (slow: do it outside transactions).
pub fn checked_hash(password: &str, name: &str) -> Result<String, UserError> {
    passwords::check_strength(password, &[name])?;
    Ok(passwords::hash(password)?)
}

/// Inserts a user with an already hashed password, inside the caller's transaction.
pub fn insert(conn: &mut DbConn, name: &str, role: Role, password_hash: &str) -> Result<User, UserError> {
    let name = check_name(name)?;
    if us::table.filter(us::name.eq(name)).count().get_result::<i64>(conn)? > 0 {
        return Err(UserError::NameTaken(name.to_string()));
    }
    let id = uuid::Uuid::now_v7().to_string();
    let now = Utc::now().naive_utc();
    diesel::insert_into(us::table)
        .values((
            us::id.eq(&id),
            us::name.eq(name),
            us::role.eq(role.as_str()),
            us::password_hash.eq(password_hash),
            us::created_at.eq(now),
            us::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(us::table.find(&id).select(User::as_select()).first(conn)?)
}

pub fn count(conn: &mut DbConn) -> QueryResult<i64> {
    us::table.count().get_result(conn)
}

pub fn list(conn: &mut DbConn) -> QueryResult<Vec<User>> {
    list_page(conn, 0, i64::MAX)
}

/// By name, `limit` users after skipping `offset`.
pub fn list_page(conn: &mut DbConn, offset: i64, limit: i64) -> QueryResult<Vec<User>> {
    us::table.order(us::name).offset(offset).limit(limit).select(User::as_select()).load(conn)
}

pub fn find(conn: &mut DbConn, id_or_name: &str) -> Result<User, UserError> {
    us::table
        .filter(us::id.eq(id_or_name).or(us::name.eq(id_or_name)))
        .select(User::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| UserError::NotFound(id_or_name.to_string()))
}

fn active_admins_besides(conn: &mut DbConn, id: &str) -> QueryResult<i64> {
    us::table
        .filter(us::role.eq(Role::Admin.as_str()))
        .filter(us::disabled_at.is_null())
        .filter(us::id.ne(id))
        .count()
        .get_result(conn)
}

/// Changes the role; refuses to demote the last active admin.
pub fn set_role(conn: &mut DbConn, id_or_name: &str, role: Role) -> Result<User, UserError> {
    write_transaction(conn, |conn| {
        let user = find(conn, id_or_name)?;
        if user.role() == Role::Admin && role != Role::Admin && active_admins_besides(conn, &user.id)? == 0 {
            return Err(UserError::LastAdmin);
        }
        diesel::update(us::table.find(&user.id))
            .set((us::role.eq(role.as_str()), us::updated_at.eq(Utc::now().naive_utc())))
            .execute(conn)?;
        find(conn, &user.id)
    })
}

/// Sets a new password and ends the user's sessions everywhere.
pub fn set_password(conn: &mut DbConn, id_or_name: &str, password: &str) -> Result<User, UserError> {
    let name = find(conn, id_or_name)?.name;
    let hash = checked_hash(password, &name)?;
    write_transaction(conn, |conn| {
        let user = find(conn, id_or_name)?;
        diesel::update(us::table.find(&user.id))
            .set((us::password_hash.eq(&hash), us::updated_at.eq(Utc::now().naive_utc())))
            .execute(conn)?;
        diesel::delete(sessions::table.filter(sessions::user_id.eq(&user.id))).execute(conn)?;
        find(conn, &user.id)
    })
}

/// Disables (or re-enables) a user; disabling ends their sessions. The last admin stays.
pub fn set_disabled(conn: &mut DbConn, id_or_name: &str, disabled: bool) -> Result<User, UserError> {
    write_transaction(conn, |conn| {
        let user = find(conn, id_or_name)?;
        if disabled && user.role() == Role::Admin && active_admins_besides(conn, &user.id)? == 0 {
            return Err(UserError::LastAdmin);
        }
        let now = Utc::now().naive_utc();
        let at = disabled.then_some(user.disabled_at.unwrap_or(now));
        diesel::update(us::table.find(&user.id)).set((us::disabled_at.eq(at), us::updated_at.eq(now))).execute(conn)?;
        if disabled {
            diesel::delete(sessions::table.filter(sessions::user_id.eq(&user.id))).execute(conn)?;
        }
        find(conn, &user.id)
    })
}

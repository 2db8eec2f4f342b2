//! The first admin on a fresh install: with no users, start-up makes a one-time setup token
//! and logs a link; whoever opens it first creates the admin, and the token is spent.

use super::users::{self, User, UserError};
use super::{hash_token, random_token};
use crate::db::schema::setup_tokens as st;
use crate::db::{write_transaction, DbConn};
use crate::domain::role::Role;
use chrono::{DateTime, Utc};
use diesel::prelude::*;

/// With no users, replaces any earlier token with a new one and returns it; else None.
pub fn issue_if_no_users(conn: &mut DbConn, now: DateTime<Utc>) -> QueryResult<Option<String>> {
    write_transaction(conn, |conn| {
        if users::count(conn)? > 0 {
            return Ok(None);
        }
        let token = random_token();
        diesel::delete(st::table).execute(conn)?;
        diesel::insert_into(st::table)
            .values((st::token_hash.eq(hash_token(&token)), st::created_at.eq(now.naive_utc())))
            .execute(conn)?;
        Ok(Some(token))
    })
}

/// True while the token may still create the first admin.
pub fn is_valid(conn: &mut DbConn, token: &str) -> QueryResult<bool> {
    let unused = st::table
        .filter(st::token_hash.eq(hash_token(token)))
        .filter(st::used_at.is_null())
        .count()
        .get_result::<i64>(conn)?
        > 0;
    Ok(unused && users::count(conn)? == 0)
}

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("this setup link was already used or is not valid; ask an admin, or run `costguard user create`")]
    Spent,
    #[error(transparent)]
    User(#[from] UserError),
}

impl From<diesel::result::Error> for SetupError {
    fn from(e: diesel::result::Error) -> Self {
        SetupError::User(e.into())
    }
}

/// Spends the token and creates the admin, in one transaction.
pub fn create_admin(
    conn: &mut DbConn,
    token: &str,
    name: &str,
    password: &str,
    now: DateTime<Utc>,
) -> Result<User, SetupError> {
    let hash = users::checked_hash(password, name)?;
    write_transaction(conn, |conn| {
        let spent = diesel::update(st::table.find(hash_token(token)).filter(st::used_at.is_null()))
            .set(st::used_at.eq(Some(now.naive_utc())))
            .execute(conn)?;
        if spent != 1 || users::count(conn)? > 0 {
            return Err(SetupError::Spent);
        }
        Ok(users::insert(conn, name, Role::Admin, &hash)?)
    })
}

//! Running a hand-built SELECT with bound values on either backend. The grouped sums are
//! built as text (their shape depends on the table and the grouping), but every value that
//! came from a caller is bound, never inlined.

use crate::db::DbConn;
use chrono::NaiveDateTime;
use diesel::pg::Pg;
use diesel::query_builder::QueryFragment;
use diesel::sql_types::{Text, Timestamp};
use diesel::sqlite::Sqlite;
use diesel::{QueryResult, QueryableByName, RunQueryDsl};

/// A value for the next `?` of the SQL.
#[derive(Debug, Clone)]
pub enum Arg {
    Text(String),
    Time(NaiveDateTime),
}

/// Runs `sql` (written with `?` placeholders) with `args` bound in order.
pub fn load<R>(conn: &mut DbConn, sql: &str, args: &[Arg]) -> QueryResult<Vec<R>>
where
    R: QueryableByName<Sqlite> + QueryableByName<Pg> + 'static,
{
    match conn {
        DbConn::Sqlite(c) => bind_all(diesel::sql_query(sql).into_boxed::<Sqlite>(), args).load(c),
        DbConn::Postgres(c) => bind_all(diesel::sql_query(numbered(sql)).into_boxed::<Pg>(), args).load(c),
    }
}

fn bind_all<'f, DB>(
    mut query: diesel::query_builder::BoxedSqlQuery<'f, DB, diesel::query_builder::SqlQuery>,
    args: &[Arg],
) -> diesel::query_builder::BoxedSqlQuery<'f, DB, diesel::query_builder::SqlQuery>
where
    DB: diesel::backend::Backend + diesel::sql_types::HasSqlType<Text> + diesel::sql_types::HasSqlType<Timestamp>,
    String: diesel::serialize::ToSql<Text, DB>,
    NaiveDateTime: diesel::serialize::ToSql<Timestamp, DB>,
    diesel::query_builder::SqlQuery: QueryFragment<DB>,
{
    for arg in args {
        query = match arg {
            Arg::Text(text) => query.bind::<Text, _>(text.clone()),
            Arg::Time(time) => query.bind::<Timestamp, _>(*time),
        };
    }
    query
}

/// PostgreSQL numbers its placeholders: `?` becomes `$1`, `$2`, ... (the SQL built here has
/// no `?` anywhere else).
fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for ch in sql.chars() {
        if ch == '?' {
            n += 1;
            out.push_str(&format!("${n}"));
        } else {
            out.push(ch);
        }
    }
    out
}

/// `?, ?, ?` for a list of `n` values.
pub fn list(n: usize) -> String {
    vec!["?"; n].join(", ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_are_numbered_in_order() {
        assert_eq!(super::numbered("a = ? AND b IN (?, ?)"), "a = $1 AND b IN ($2, $3)");
        assert_eq!(super::list(3), "?, ?, ?");
    }
}

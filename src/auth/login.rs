//! Password log-in with rate limiting per user name and per address. Failures are rows in the
//! database, so the limit holds across replicas and restarts; a success clears the user's.

use super::passwords;
use super::users::User;
use crate::db::schema::{login_failures as lf, users as us};
use crate::db::DbConn;
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub per_user: i64,
    pub per_address: i64,
    pub window: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Success(Box<User>),
    /// Wrong name or password (never which one).
    Invalid,
    /// Too many failures lately; try again after this many seconds.
    Throttled {
        retry_after_secs: i64,
    },
}

fn recent_failures(
    conn: &mut DbConn,
    scope: &str,
    subject: &str,
    since: DateTime<Utc>,
) -> QueryResult<Vec<DateTime<Utc>>> {
    let at: Vec<chrono::NaiveDateTime> = lf::table
        .filter(lf::scope.eq(scope))
        .filter(lf::subject.eq(subject))
        .filter(lf::at.gt(since.naive_utc()))
        .order(lf::at.asc())
        .select(lf::at)
        .load(conn)?;
    Ok(at.into_iter().map(|t| t.and_utc()).collect())
}

/// Seconds until the oldest failure that keeps the subject over its limit leaves the window.
fn throttled(failures: &[DateTime<Utc>], limit: i64, window: Duration, now: DateTime<Utc>) -> Option<i64> {
    let over = failures.len() as i64 - limit;
    (over >= 0).then(|| failures.get(over as usize).map_or(1, |t| (*t + window - now).num_seconds().max(1)))
}

/// Checks the limits, then the password. The password hash is compared even for unknown
/// names, so timing does not reveal which names exist.
pub fn attempt(
    conn: &mut DbConn,
    name: &str,
    password: &str,
    address: &str,
    limits: Limits,
    now: DateTime<Utc>,
) -> QueryResult<Outcome> {
    let since = now - limits.window;
    let name = name.trim();
    let by_user = recent_failures(conn, "user", name, since)?;
    let by_address = recent_failures(conn, "address", address, since)?;
    let wait = [
        throttled(&by_user, limits.per_user, limits.window, now),
        throttled(&by_address, limits.per_address, limits.window, now),
    ]
    .into_iter()
    .flatten()
    .max();
    if let Some(retry_after_secs) = wait {
        return Ok(Outcome::Throttled { retry_after_secs });
    }
    let user: Option<User> = us::table.filter(us::name.eq(name)).select(User::as_select()).first(conn).optional()?;
    let valid = match &user {
        Some(u) => passwords::verify(&u.password_hash, password) && u.disabled_at.is_none(),
        None => {
            passwords::waste_equal_time(password);
            false
        }
    };
    match user {
        Some(u) if valid => {
            diesel::delete(lf::table.filter(lf::scope.eq("user")).filter(lf::subject.eq(name))).execute(conn)?;
            Ok(Outcome::Success(Box::new(u)))
        }
        _ => {
            let n = now.naive_utc();
            for (scope, subject) in [("user", name), ("address", address)] {
                diesel::insert_into(lf::table)
                    .values((lf::scope.eq(scope), lf::subject.eq(subject), lf::at.eq(n)))
                    .execute(conn)?;
            }
            // Old rows only matter inside the window; keep the table small.
            diesel::delete(lf::table.filter(lf::at.le((now - limits.window * 2).naive_utc()))).execute(conn)?;
            Ok(Outcome::Invalid)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_lifts_when_the_oldest_counted_failure_leaves_the_window() {
        let now = DateTime::from_timestamp(1_000_000, 0).unwrap_or_default();
        let w = Duration::minutes(15);
        let fails: Vec<_> = (0..5).map(|i| now - Duration::minutes(10 - i)).collect();
        assert_eq!(throttled(&fails[..4], 5, w, now), None);
        assert_eq!(throttled(&fails, 5, w, now), Some(5 * 60));
        assert_eq!(throttled(&fails, 3, w, now), Some(7 * 60));
    }
}

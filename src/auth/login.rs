//! Password log-in, throttled the way NIST SP 800-63B asks: it slows guessing without letting
//! a stranger lock the owner out. Failures are rows in the database (per user name and
//! address), so the limits hold across replicas and restarts:
//! - per user name *and* address, a few free failures, then a wait that doubles with each
//!   further one up to a cap: someone guessing Olga's password from one address is slowed to
//!   a crawl, while Olga, from her own address, signs in as usual;
//! - per address, a fixed number of failures in the window, whatever the names: one address
//!   cannot spread its guesses over every user;
//! - no limit per user name alone, on purpose: that is the lock-out a stranger could cause.
//!
//! At the next successful log-in the owner is told how many attempts failed since the last one.

use super::passwords;
use super::users::User;
use crate::db::schema::{login_failures as lf, users as us};
use crate::db::DbConn;
use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use diesel::prelude::*;

/// How long failures are kept, for the notice at the owner's next log-in.
const NOTICE_HORIZON_DAYS: i64 = 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Failures per user name and address, within the window, before waits begin.
    pub free_failures: i64,
    /// The first wait; each further failure doubles it.
    pub backoff_base: Duration,
    /// The longest wait.
    pub backoff_max: Duration,
    /// How long a pair's failures count towards its wait (a day holds a patient guesser to
    /// about a hundred tries, NIST's bound).
    pub backoff_memory: Duration,
    /// Failures per address, within `window`, whatever the names.
    pub per_address: i64,
    pub window: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Signed in; `notice` tells of failed attempts on the account since the last log-in.
    Success { user: Box<User>, notice: Option<String> },
    /// Wrong name or password (never which one).
    Invalid,
    /// Too many failures lately; try again after this many seconds.
    Throttled { retry_after_secs: i64 },
}

/// Whole seconds until `until`, rounded up (a client told 0 would retry at once).
fn seconds_until(until: DateTime<Utc>, now: DateTime<Utc>) -> Option<i64> {
    (until > now).then(|| ((until - now).num_milliseconds() + 999) / 1000)
}

/// The wait the pair's failures impose: none for the first `free_failures`, then
/// `backoff_base`, doubling with each further failure, never above `backoff_max`, counted
/// from the latest failure.
fn pair_wait(failures: &[DateTime<Utc>], limits: &Limits, now: DateTime<Utc>) -> Option<i64> {
    let over = failures.len() as i64 - limits.free_failures;
    let latest = failures.last()?;
    if over < 0 {
        return None;
    }
    let doublings = over.min(40) as u32;
    let base_ms = limits.backoff_base.num_milliseconds().max(1);
    let wait = Duration::milliseconds(base_ms.saturating_mul(1_i64 << doublings)).min(limits.backoff_max);
    seconds_until(*latest + wait, now)
}

/// The wait the address's failures impose: once it has `limit` in the window, until the
/// oldest of those that keep it at the limit leaves the window.
fn address_wait(failures: &[DateTime<Utc>], limits: &Limits, now: DateTime<Utc>) -> Option<i64> {
    let over = failures.len() as i64 - limits.per_address;
    if over < 0 {
        return None;
    }
    failures.get(over as usize).map_or(Some(1), |t| seconds_until(*t + limits.window, now).or(Some(1)))
}

/// When `address` failed since `since`, oldest first: with any name, or only with `name`.
fn failures(
    conn: &mut DbConn,
    address: &str,
    name: Option<&str>,
    since: DateTime<Utc>,
) -> QueryResult<Vec<DateTime<Utc>>> {
    let mut query = lf::table.filter(lf::address.eq(address)).filter(lf::at.gt(since.naive_utc())).into_boxed();
    if let Some(name) = name {
        query = query.filter(lf::user_name.eq(name));
    }
    let rows: Vec<NaiveDateTime> = query.order(lf::at.asc()).select(lf::at).load(conn)?;
    Ok(rows.into_iter().map(|t| t.and_utc()).collect())
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
    let wait = pair_wait(&failures(conn, address, Some(name), now - limits.backoff_memory)?, &limits, now)
        .into_iter()
        .chain(address_wait(&failures(conn, address, None, since)?, &limits, now))
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
            let notice = failures_notice(conn, &u, address)?;
            // This address proved it knows the password: its own slate is clean. Other
            // addresses' failures stay, so a guesser elsewhere is still slowed.
            diesel::delete(lf::table.filter(lf::user_name.eq(name)).filter(lf::address.eq(address))).execute(conn)?;
            diesel::update(us::table.find(&u.id)).set(us::last_login_at.eq(Some(now.naive_utc()))).execute(conn)?;
            Ok(Outcome::Success { user: Box::new(u), notice })
        }
        _ => {
            record_failure(conn, name, address, now)?;
            Ok(Outcome::Invalid)
        }
    }
}

fn record_failure(conn: &mut DbConn, name: &str, address: &str, now: DateTime<Utc>) -> QueryResult<()> {
    diesel::insert_into(lf::table)
        .values((lf::user_name.eq(name), lf::address.eq(address), lf::at.eq(now.naive_utc())))
        .execute(conn)?;
    let horizon = now - Duration::days(NOTICE_HORIZON_DAYS);
    diesel::delete(lf::table.filter(lf::at.le(horizon.naive_utc()))).execute(conn)?;
    Ok(())
}

/// "3 failed log-in attempts on your account since your last log-in, from 2 addresses; the
/// latest from 203.0.113.9 at 2026-12-04 03:12 UTC." Every one counts, the owner's own typos
/// too (marked as from this address): a notice that hid some would hide a guesser on the
/// same network.
fn failures_notice(conn: &mut DbConn, user: &User, address: &str) -> QueryResult<Option<String>> {
    let last_login: Option<NaiveDateTime> = us::table.find(&user.id).select(us::last_login_at).first(conn)?;
    let from = last_login.unwrap_or(user.created_at);
    let rows: Vec<(String, NaiveDateTime)> = lf::table
        .filter(lf::user_name.eq(&user.name))
        .filter(lf::at.gt(from))
        .order(lf::at.asc())
        .select((lf::address, lf::at))
        .load(conn)?;
    let Some((latest_address, latest_at)) = rows.last() else { return Ok(None) };
    let mut addresses: Vec<&str> = rows.iter().map(|(a, _)| a.as_str()).collect();
    addresses.sort_unstable();
    addresses.dedup();
    let n = rows.len();
    let yours = if latest_address == address { " (the address you signed in from)" } else { "" };
    let attempts = if n == 1 { "1 failed log-in attempt".to_string() } else { format!("{n} failed log-in attempts") };
    let spread = match addresses.len() {
        1 => String::new(),
        k => format!(", from {k} addresses"),
    };
    Ok(Some(format!(
        "{attempts} on your account since your last log-in{spread}; the latest from {latest_address}{yours} at {} UTC. \
         If that was not you, choose a new password.",
        latest_at.format("%Y-%m-%d %H:%M")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            free_failures: 5,
            backoff_base: Duration::seconds(2),
            backoff_max: Duration::minutes(15),
            backoff_memory: Duration::hours(24),
            per_address: 50,
            window: Duration::minutes(15),
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_000_000, 0).unwrap_or_default()
    }

    /// `n` failures, the latest `secs_ago` seconds before now.
    fn failures(n: usize, secs_ago: i64) -> Vec<DateTime<Utc>> {
        (0..n).map(|i| now() - Duration::seconds(secs_ago + (n - 1 - i) as i64)).collect()
    }

    #[test]
    fn a_pair_tries_freely_then_waits_twice_as_long_after_each_failure() {
        assert_eq!(pair_wait(&failures(4, 0), &limits(), now()), None);
        assert_eq!(pair_wait(&failures(5, 0), &limits(), now()), Some(2));
        assert_eq!(pair_wait(&failures(6, 0), &limits(), now()), Some(4));
        assert_eq!(pair_wait(&failures(9, 0), &limits(), now()), Some(32));
        assert_eq!(pair_wait(&failures(30, 0), &limits(), now()), Some(15 * 60), "capped");
        assert_eq!(pair_wait(&failures(6, 3), &limits(), now()), Some(1), "counted from the latest failure");
        assert_eq!(pair_wait(&failures(6, 4), &limits(), now()), None, "the wait is over");
    }

    #[test]
    fn an_address_is_held_until_the_oldest_counted_failure_leaves_the_window() {
        let l = Limits { per_address: 5, ..limits() };
        let fails: Vec<_> = (0..5).map(|i| now() - Duration::minutes(10 - i)).collect();
        assert_eq!(address_wait(&fails[..4], &l, now()), None);
        assert_eq!(address_wait(&fails, &l, now()), Some(5 * 60));
        assert_eq!(address_wait(&fails, &Limits { per_address: 3, ..l }, now()), Some(7 * 60));
    }

    #[test]
    fn guessing_at_the_cap_is_slow() {
        // A guesser who always waits as long as told makes few attempts in a day.
        let l = limits();
        let mut at = now();
        let (mut fails, mut tries) = (Vec::new(), 0);
        while at < now() + Duration::days(1) {
            fails.retain(|t| *t > at - l.backoff_memory);
            match pair_wait(&fails, &l, at) {
                Some(secs) => at += Duration::seconds(secs),
                None => {
                    fails.push(at);
                    tries += 1;
                    at += Duration::seconds(1);
                }
            }
        }
        // Without a limit that is 86,400 guesses; the address limit alone would allow 4,800.
        assert!((90..=120).contains(&tries), "{tries} guesses in a day");
    }
}

//! SQL mappings of our own value types.

use chrono::{Datelike, NaiveDateTime, Timelike};
use diesel::pg::Pg;
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::Timestamp;
use diesel::sqlite::Sqlite;
use std::fmt::Write;

/// A UTC time bound as SQL `TIMESTAMP`. On SQLite it is written as the same text Diesel's
/// chrono mapping writes (`YYYY-MM-DD HH:MM:SS[.fraction]`), formatted by hand once, when
/// the value is made: an import binds six per row, chrono's format-string interpreter was
/// 8 % of import time, and making rows happens on the parser thread, not the writer's.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, diesel::AsExpression)]
#[diesel(sql_type = Timestamp)]
pub struct UtcTime(pub NaiveDateTime, String);

impl From<chrono::DateTime<chrono::Utc>> for UtcTime {
    fn from(t: chrono::DateTime<chrono::Utc>) -> Self {
        UtcTime::new(t.naive_utc())
    }
}

impl UtcTime {
    pub fn new(time: NaiveDateTime) -> Self {
        UtcTime(time, sqlite_text(&time))
    }
}

fn sqlite_text(t: &NaiveDateTime) -> String {
    let mut text = String::with_capacity(29);
    let _ = write!(
        text,
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    // chrono's "%.f": nothing for whole seconds, else 3, 6 or 9 digits, the fewest exact.
    let nanos = t.nanosecond() % 1_000_000_000;
    if nanos != 0 {
        let _ = match (nanos % 1_000_000, nanos % 1_000) {
            (0, _) => write!(text, ".{:03}", nanos / 1_000_000),
            (_, 0) => write!(text, ".{:06}", nanos / 1_000),
            _ => write!(text, ".{nanos:09}"),
        };
    }
    text
}

impl ToSql<Timestamp, Sqlite> for UtcTime {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(self.1.as_str());
        Ok(IsNull::No)
    }
}

impl ToSql<Timestamp, Pg> for UtcTime {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        <NaiveDateTime as ToSql<Timestamp, Pg>>::to_sql(&self.0, &mut out.reborrow())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_what_chrono_writes() {
        for text in [
            "2024-09-18 22:00:00",
            "1999-01-02 03:04:05.5",
            "2026-11-22 04:27:44.200266807",
            "0099-12-31 23:59:59.000001",
        ] {
            let t = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").unwrap();
            assert_eq!(UtcTime::new(t).1, t.format("%F %T%.f").to_string());
        }
    }
}

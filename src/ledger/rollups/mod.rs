//! Rollups of the cost ledger (`cost_hourly`, `cost_daily`, `cost_tag_hourly`; see the
//! migration `2026-12-04-000000_cost_rollups`), kept current inside the transaction that
//! writes the ledger.
//!
//! Every write records the hours it touched ([`Touched`], carried by `WriteSummary`), and
//! [`refresh`] rebuilds exactly those hours from the rows, then the days around them from the
//! hours. Rebuilding instead of adding deltas keeps one rule for inserts, restatements and
//! deletions alike, and the result is exact by construction: the same GROUP BY the migration
//! ran over all rows, over fewer rows. An unchanged re-import touches nothing and refreshes
//! nothing. A bulk load into an empty ledger sums its rows as they pass instead ([`Sums`]).

use crate::db::{Backend, DbConn};
use crate::domain::money::UNITS_PER_WHOLE;
use crate::per_backend;
use chrono::{DateTime, NaiveDateTime};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use std::collections::BTreeSet;

mod sums;
pub use sums::Sums;

const HOUR: i64 = 3_600;
const DAY: i64 = 86_400;

/// Touched hours this far apart are rebuilt in one pass: reading the untouched hours between
/// them costs less than another round of statements (daily data touches one hour a day).
const JOIN_GAP: i64 = 2 * DAY;

/// The hours (epoch seconds of their start) whose ledger rows a write changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Touched(BTreeSet<i64>);

impl Touched {
    /// The hour holding a row that starts at `start`.
    pub fn add(&mut self, start: NaiveDateTime) {
        self.0.insert(start.and_utc().timestamp().div_euclid(HOUR) * HOUR);
    }

    /// Every hour from the one holding `first` to the one holding `last`.
    pub fn add_span(&mut self, first: NaiveDateTime, last: NaiveDateTime) {
        let (from, to) = (first.and_utc().timestamp().div_euclid(HOUR), last.and_utc().timestamp().div_euclid(HOUR));
        self.0.extend((from..=to).map(|h| h * HOUR));
    }

    pub fn merge(&mut self, other: Touched) {
        self.0.extend(other.0);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `[from, to)` spans covering every touched hour, nearby ones joined.
    fn spans(&self) -> Vec<(i64, i64)> {
        let mut spans: Vec<(i64, i64)> = Vec::new();
        for &hour in &self.0 {
            match spans.last_mut() {
                Some((_, to)) if hour - *to <= JOIN_GAP => *to = hour + HOUR,
                _ => spans.push((hour, hour + HOUR)),
            }
        }
        spans
    }
}

/// Rebuilds the rollups for the touched hours; call inside the ledger write's transaction,
/// after its last change to `cost_records`.
pub fn refresh(conn: &mut DbConn, touched: &Touched) -> QueryResult<()> {
    for (from, to) in touched.spans() {
        let days = Span::of(from.div_euclid(DAY) * DAY, to.div_euclid(DAY) * DAY + if to % DAY == 0 { 0 } else { DAY });
        let statements = rebuild_all_sql(conn.backend(), Some(&Span::of(from, to)), Some(&days));
        per_backend!(conn, |c| c.batch_execute(&statements))?;
    }
    Ok(())
}

/// Rebuilds every rollup from the whole ledger (a source wiped, a repair).
pub fn rebuild_all(conn: &mut DbConn) -> QueryResult<()> {
    let statements = rebuild_all_sql(conn.backend(), None, None);
    per_backend!(conn, |c| c.batch_execute(&statements))
}

/// `[from, to)` as formatted timestamps, made here from whole hours (never input), so they
/// can be inlined into one batch of statements per span.
struct Span(String, String);

impl Span {
    fn of(from: i64, to: i64) -> Span {
        let text = |t: i64| {
            DateTime::from_timestamp(t, 0).unwrap_or_default().naive_utc().format("%Y-%m-%d %H:%M:%S").to_string()
        };
        Span(text(from), text(to))
    }
}

/// The condition that `column` lies in the span; everything when there is none.
fn within(column: &str, span: Option<&Span>) -> String {
    match span {
        Some(Span(from, to)) => format!("{column} >= '{from}' AND {column} < '{to}'"),
        None => "1 = 1".into(),
    }
}

/// One of the rollup tables, rebuilt by its own statements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    /// `cost_hourly`, from the rows.
    Hourly,
    /// `cost_tag_hourly`, from the rows.
    Tags,
    /// `cost_daily`, from `cost_hourly` (so after it).
    Daily,
}

/// The statements that rebuild the rollups of `hours` and of `days` (the days holding them),
/// in the order the parts depend on each other.
fn rebuild_all_sql(backend: Backend, hours: Option<&Span>, days: Option<&Span>) -> String {
    [Part::Hourly, Part::Tags, Part::Daily].map(|part| rebuild_sql(backend, part, hours, days)).join("\n")
}

/// The statements that rebuild one part for `hours` (or, for the daily part, `days`), the
/// same on both backends but for the date and JSON functions.
fn rebuild_sql(backend: Backend, part: Part, hours: Option<&Span>, days: Option<&Span>) -> String {
    let u = UNITS_PER_WHOLE;
    let (hour_of_start, day_of_hour, tag_pairs, tag_value, tag_present) = match backend {
        Backend::Sqlite => (
            "strftime('%Y-%m-%d %H:00:00', c.charge_period_start)",
            "strftime('%Y-%m-%d 00:00:00', hour)",
            "json_each(c.tags) t",
            "CASE WHEN t.type = 'text' THEN t.value WHEN t.type IN ('true', 'false') THEN t.type \
             ELSE CAST(t.value AS TEXT) END",
            "t.type <> 'null'",
        ),
        Backend::Postgres => (
            "date_trunc('hour', c.charge_period_start)",
            "date_trunc('day', hour)",
            "json_each(CAST(c.tags AS json)) AS t(key, value)",
            "CASE WHEN json_typeof(t.value) = 'string' THEN t.value #>> '{}' ELSE CAST(t.value AS TEXT) END",
            "json_typeof(t.value) <> 'null'",
        ),
    };
    let rows = within("c.charge_period_start", hours);
    match part {
        Part::Hourly => format!(
            "DELETE FROM cost_hourly WHERE {in_hours};
INSERT INTO cost_hourly
SELECT {hour_of_start}, c.provider_name, c.sub_account_id, c.service_name, c.region_id, c.billing_currency,
       SUM(c.billed_cost / {u}), SUM(c.billed_cost % {u}), SUM(c.effective_cost / {u}), SUM(c.effective_cost % {u}),
       COUNT(*), MAX(c.updated_at)
FROM cost_records c WHERE {rows}
GROUP BY 1, c.provider_name, c.sub_account_id, c.service_name, c.region_id, c.billing_currency;",
            in_hours = within("hour", hours)
        ),
        Part::Tags => format!(
            "DELETE FROM cost_tag_hourly WHERE {in_hours};
INSERT INTO cost_tag_hourly
SELECT {hour_of_start}, t.key, {tag_value}, c.billing_currency,
       SUM(c.effective_cost / {u}), SUM(c.effective_cost % {u}), MAX(c.updated_at)
FROM cost_records c, {tag_pairs}
WHERE {rows} AND c.tags IS NOT NULL AND {tag_present}
GROUP BY 1, 2, 3, c.billing_currency;",
            in_hours = within("hour", hours)
        ),
        Part::Daily => format!(
            "DELETE FROM cost_daily WHERE {in_days};
INSERT INTO cost_daily
SELECT {day_of_hour}, provider_name, sub_account_id, service_name, region_id, billing_currency,
       SUM(billed_whole), SUM(billed_fraction), SUM(effective_whole), SUM(effective_fraction), SUM(records),
       MAX(updated_at)
FROM cost_hourly WHERE {hours_of_days}
GROUP BY 1, provider_name, sub_account_id, service_name, region_id, billing_currency;",
            in_days = within("day", days),
            hours_of_days = within("hour", days)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn rows_touch_the_hour_that_holds_their_start() {
        let mut touched = Touched::default();
        touched.add(t("2026-11-01 10:45:00"));
        touched.add(t("2026-11-01 10:00:00"));
        assert_eq!(
            touched.spans(),
            vec![(t("2026-11-01 10:00:00").and_utc().timestamp(), t("2026-11-01 11:00:00").and_utc().timestamp())]
        );
    }

    #[test]
    fn near_hours_join_and_far_ones_do_not() {
        let mut touched = Touched::default();
        touched.add(t("2026-11-01 00:00:00"));
        touched.add(t("2026-11-02 00:00:00"));
        touched.add(t("2026-11-20 05:00:00"));
        let spans = touched.spans();
        assert_eq!(spans.len(), 2);
        assert_eq!(spans[0].1 - spans[0].0, DAY + HOUR);
        assert_eq!(spans[1].1 - spans[1].0, HOUR);
    }

    #[test]
    fn a_span_covers_every_hour_between() {
        let mut touched = Touched::default();
        touched.add_span(t("2026-11-01 00:30:00"), t("2026-11-01 03:10:00"));
        assert_eq!(touched.0.len(), 4);
    }
}

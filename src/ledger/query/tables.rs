//! Which table answers which part of a time range: the daily rollup for whole days, the
//! hourly rollup for whole hours, and the ledger's rows only for the minutes at the edges of
//! a range that does not start or end on the hour (and for what the rollups do not keep).

use chrono::{DateTime, Duration, DurationRound, Utc};

/// Dimensions both rollups keep; grouping or filtering by anything else reads the rows.
pub const ROLLED_UP: [&str; 4] = ["provider_name", "sub_account_id", "service_name", "region_id"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Ledger,
    Hourly,
    Daily,
}

impl Table {
    pub fn name(self) -> &'static str {
        match self {
            Table::Ledger => "cost_records",
            Table::Hourly => "cost_hourly",
            Table::Daily => "cost_daily",
        }
    }

    /// The column a range filters on: a row's start, or the rollup's hour or day.
    pub fn time(self) -> &'static str {
        match self {
            Table::Ledger => "charge_period_start",
            Table::Hourly => "hour",
            Table::Daily => "day",
        }
    }

    /// The split sums (whole units, fraction) of a cost column, `billed` or `effective`:
    /// split per row on the ledger, already split in the rollups.
    pub fn split_sums(self, cost: &str) -> (String, String) {
        match self {
            Table::Ledger => super::split_sums(&format!("{cost}_cost")),
            Table::Hourly | Table::Daily => {
                (format!("CAST(SUM({cost}_whole) AS TEXT)"), format!("CAST(SUM({cost}_fraction) AS TEXT)"))
            }
        }
    }

    pub fn count(self) -> &'static str {
        match self {
            Table::Ledger => "COUNT(*)",
            Table::Hourly | Table::Daily => "CAST(SUM(records) AS BIGINT)",
        }
    }
}

/// How coarse a rollup may be for a question: buckets of an hour need hours at least.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coarsest {
    /// Only the rows answer (a dimension the rollups do not keep).
    Ledger,
    Hourly,
    Daily,
}

/// `[from, to)` split into consecutive parts, each with the coarsest table that answers it
/// exactly; empty parts are left out.
pub fn plan(from: DateTime<Utc>, to: DateTime<Utc>, coarsest: Coarsest) -> Vec<(Table, DateTime<Utc>, DateTime<Utc>)> {
    let (hour, day) = (Duration::hours(1), Duration::days(1));
    let up = |t: DateTime<Utc>, step: Duration| {
        let down = t.duration_trunc(step).unwrap_or(t);
        if down == t {
            t
        } else {
            down + step
        }
    };
    let down = |t: DateTime<Utc>, step: Duration| t.duration_trunc(step).unwrap_or(t);
    let (h1, h2) = (up(from, hour), down(to, hour));
    let mut parts = Vec::new();
    if coarsest == Coarsest::Ledger || h1 >= h2 {
        parts.push((Table::Ledger, from, to));
    } else {
        let (d1, d2) = (up(from, day), down(to, day));
        parts.push((Table::Ledger, from, h1));
        if coarsest == Coarsest::Daily && d1 < d2 {
            parts.push((Table::Hourly, h1, d1));
            parts.push((Table::Daily, d1, d2));
            parts.push((Table::Hourly, d2, h2));
        } else {
            parts.push((Table::Hourly, h1, h2));
        }
        parts.push((Table::Ledger, h2, to));
    }
    parts.retain(|(_, a, b)| a < b);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn whole_days_read_the_daily_rollup_and_edges_the_finer_tables() {
        let parts = plan(t("2026-11-01T10:30:00Z"), t("2026-11-04T05:15:00Z"), Coarsest::Daily);
        assert_eq!(
            parts,
            vec![
                (Table::Ledger, t("2026-11-01T10:30:00Z"), t("2026-11-01T11:00:00Z")),
                (Table::Hourly, t("2026-11-01T11:00:00Z"), t("2026-11-02T00:00:00Z")),
                (Table::Daily, t("2026-11-02T00:00:00Z"), t("2026-11-04T00:00:00Z")),
                (Table::Hourly, t("2026-11-04T00:00:00Z"), t("2026-11-04T05:00:00Z")),
                (Table::Ledger, t("2026-11-04T05:00:00Z"), t("2026-11-04T05:15:00Z")),
            ]
        );
    }

    #[test]
    fn an_aligned_range_reads_no_rows() {
        let parts = plan(t("2026-11-01T00:00:00Z"), t("2026-11-03T00:00:00Z"), Coarsest::Daily);
        assert_eq!(parts, vec![(Table::Daily, t("2026-11-01T00:00:00Z"), t("2026-11-03T00:00:00Z"))]);
        let parts = plan(t("2026-11-01T00:00:00Z"), t("2026-11-03T00:00:00Z"), Coarsest::Hourly);
        assert_eq!(parts, vec![(Table::Hourly, t("2026-11-01T00:00:00Z"), t("2026-11-03T00:00:00Z"))]);
    }

    #[test]
    fn less_than_an_hour_or_an_unkept_dimension_reads_the_rows() {
        let (a, b) = (t("2026-11-01T10:10:00Z"), t("2026-11-01T10:50:00Z"));
        assert_eq!(plan(a, b, Coarsest::Daily), vec![(Table::Ledger, a, b)]);
        let (a, b) = (t("2026-11-01T00:00:00Z"), t("2026-11-09T00:00:00Z"));
        assert_eq!(plan(a, b, Coarsest::Ledger), vec![(Table::Ledger, a, b)]);
    }

    #[test]
    fn a_range_inside_one_day_uses_hours() {
        let parts = plan(t("2026-11-01T01:00:00Z"), t("2026-11-01T23:00:00Z"), Coarsest::Daily);
        assert_eq!(parts, vec![(Table::Hourly, t("2026-11-01T01:00:00Z"), t("2026-11-01T23:00:00Z"))]);
    }
}

//! Aggregations over the ledger, exact to the last unit.
//!
//! Sums are computed in SQL per bucket and group, split into whole currency units and
//! the remaining fraction (`x / 10^11` and `x % 10^11`, which truncate the same way on
//! both backends). Neither part can overflow SQLite's 64-bit SUM, and Rust recombines
//! them in i128. Grand totals add the group sums, so they always match exactly. The
//! rollups (src/ledger/rollups.rs) keep the same two parts, so a sum over them is the same
//! sum; [`tables`] decides which table answers which part of a range.

use crate::db::schema::cost_records as cr;
use crate::db::{Backend, DbConn};
use crate::domain::cost_query::{CostQuery, Granularity, GroupBy};
use crate::domain::money::{Total, UNITS_PER_WHOLE};
use bound::Arg;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};
use std::collections::BTreeMap;
use tables::{Coarsest, Table, ROLLED_UP};

mod bound;
mod llm;
pub mod tables;

pub use llm::{aggregate_llm_usage, LlmBucket, LlmGroupBy, LlmQuery};

/// SQL producing the bucket start as `YYYY-MM-DD HH:MM:SS` text.
fn bucket_sql(backend: Backend, granularity: Granularity, column: &str) -> String {
    match (backend, granularity) {
        (Backend::Sqlite, Granularity::Hour) => format!("strftime('%Y-%m-%d %H:00:00', {column})"),
        (Backend::Sqlite, Granularity::Day) => format!("strftime('%Y-%m-%d 00:00:00', {column})"),
        (Backend::Sqlite, Granularity::Month) => format!("strftime('%Y-%m-01 00:00:00', {column})"),
        (Backend::Postgres, g) => {
            let unit = match g {
                Granularity::Hour => "hour",
                Granularity::Day => "day",
                Granularity::Month => "month",
            };
            format!("to_char(date_trunc('{unit}', {column}), 'YYYY-MM-DD HH24:MI:SS')")
        }
    }
}

/// `CAST(SUM(col / 10^11) AS TEXT)` and `CAST(SUM(col % 10^11) AS TEXT)`
fn split_sums(column: &str) -> (String, String) {
    (
        format!("CAST(SUM({column} / {UNITS_PER_WHOLE}) AS TEXT)"),
        format!("CAST(SUM({column} % {UNITS_PER_WHOLE}) AS TEXT)"),
    )
}

/// `CAST(SUM(col / 10^11) AS TEXT), CAST(SUM(col % 10^11) AS TEXT)`
fn split_sum_sql(column: &str) -> String {
    let (whole, fraction) = split_sums(column);
    format!("{whole}, {fraction}")
}

/// A split sum's two parts named `{name}_whole` and `{name}_fraction`.
fn named((whole, fraction): (String, String), name: &str) -> String {
    format!("{whole} AS {name}_whole, {fraction} AS {name}_fraction")
}

fn recombine(whole: Option<String>, fraction: Option<String>) -> Total {
    let parse = |s: Option<String>| s.and_then(|s| s.trim().parse::<i128>().ok()).unwrap_or(0);
    Total::from_units(parse(whole) * i128::from(UNITS_PER_WHOLE) + parse(fraction))
}

fn parse_bucket(text: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").ok().map(|n| n.and_utc())
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct CostBucket {
    /// Start of the hour, day or month (UTC).
    pub period_start: DateTime<Utc>,
    /// The value of the group_by dimension; null when not grouped or absent.
    pub group: Option<String>,
    pub currency: String,
    #[schema(value_type = Total)]
    pub billed_cost: Total,
    #[schema(value_type = Total)]
    pub effective_cost: Total,
    pub records: i64,
}

/// PostgreSQL refuses a constant in GROUP BY, so an absent group is left out of it.
fn group_by_sql(bucket: &str, group: &str, currency: &str) -> String {
    if group == NO_GROUP {
        format!("{bucket}, {currency}")
    } else {
        format!("{bucket}, {group}, {currency}")
    }
}

/// Selected when nothing is grouped: a typed NULL, valid on both backends.
const NO_GROUP: &str = "CAST(NULL AS TEXT)";

fn group_column(group_by: Option<GroupBy>) -> &'static str {
    match group_by {
        None => NO_GROUP,
        Some(GroupBy::Provider) => "provider_name",
        Some(GroupBy::Service) => "service_name",
        Some(GroupBy::SubAccount) => "sub_account_id",
        Some(GroupBy::Region) => "region_id",
        Some(GroupBy::Resource) => "resource_id",
        Some(GroupBy::Sku) => "sku_id",
    }
}

/// One bucket of one table's part of [`aggregate_costs`].
#[derive(QueryableByName)]
struct BucketRow {
    #[diesel(sql_type = Text)]
    bucket: String,
    #[diesel(sql_type = Nullable<Text>)]
    grp: Option<String>,
    #[diesel(sql_type = Text)]
    currency: String,
    #[diesel(sql_type = Nullable<Text>)]
    billed_whole: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    billed_fraction: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    effective_whole: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    effective_fraction: Option<String>,
    #[diesel(sql_type = BigInt)]
    records: i64,
}

type BucketSums = (Total, Total, i64);

/// Totals per bucket, group and currency, ordered by bucket then group. Whole days come from
/// the daily rollup, whole hours from the hourly one, and only a range's minutes past the
/// hour (or a grouping by resource or SKU) from the rows.
pub fn aggregate_costs(conn: &mut DbConn, q: &CostQuery) -> QueryResult<Vec<CostBucket>> {
    let group = group_column(q.group_by);
    let coarsest = match (group == NO_GROUP || ROLLED_UP.contains(&group), q.granularity) {
        (false, _) => Coarsest::Ledger,
        (true, Granularity::Hour) => Coarsest::Hourly,
        (true, _) => Coarsest::Daily,
    };
    // (bucket, group, currency) -> (billed, effective, records)
    let mut totals: BTreeMap<(String, Option<String>, String), BucketSums> = BTreeMap::new();
    for (table, from, to) in tables::plan(q.from, q.to, coarsest) {
        let bucket = bucket_sql(conn.backend(), q.granularity, table.time());
        let time = table.time();
        let mut sql = format!(
            "SELECT {bucket} AS bucket, {group} AS grp, billing_currency AS currency, {}, {}, {} AS records \
             FROM {} WHERE {time} >= ? AND {time} < ?",
            named(table.split_sums("billed"), "billed"),
            named(table.split_sums("effective"), "effective"),
            table.count(),
            table.name(),
        );
        let mut args = vec![Arg::Time(from.naive_utc()), Arg::Time(to.naive_utc())];
        for (column, value) in [("provider_name", &q.provider), ("service_name", &q.service)] {
            if let Some(value) = value {
                sql.push_str(&format!(" AND {column} = ?"));
                args.push(Arg::Text(value.clone()));
            }
        }
        sql.push_str(&format!(" GROUP BY {}", group_by_sql(&bucket, group, "billing_currency")));
        for row in bound::load::<BucketRow>(conn, &sql, &args)? {
            let cell = totals.entry((row.bucket, row.grp, row.currency)).or_default();
            cell.0 = cell.0.plus(recombine(row.billed_whole, row.billed_fraction));
            cell.1 = cell.1.plus(recombine(row.effective_whole, row.effective_fraction));
            cell.2 += row.records;
        }
    }
    Ok(totals
        .into_iter()
        .filter_map(|((bucket, group, currency), (billed_cost, effective_cost, records))| {
            Some(CostBucket {
                period_start: parse_bucket(&bucket)?,
                group,
                currency,
                billed_cost,
                effective_cost,
                records,
            })
        })
        .collect())
}

/// Number of rows in the ledger (tests, readiness, the CLI's summary).
pub fn count_costs(conn: &mut DbConn) -> QueryResult<i64> {
    cr::table.count().get_result(conn)
}

/// Which rows a grouped sum covers; `None` matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CostFilter {
    pub providers: Option<Vec<String>>,
    /// Empty string matches a missing sub-account.
    pub sub_account: Option<String>,
    pub service: Option<String>,
    /// Only rows that carry tags.
    pub tagged_only: bool,
}

/// One group of [`sum_effective_cost`]: the group's column values in the order asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSum {
    pub hour: Option<DateTime<Utc>>,
    pub keys: Vec<Option<String>>,
    pub currency: String,
    pub effective_cost: Total,
    /// When the newest row in the group was pulled (its `updated_at`): the time the sum is
    /// true as of, which a running hour's rate is measured against.
    pub as_of: Option<DateTime<Utc>>,
}

/// Columns the detective may group by.
pub const GROUPABLE: [&str; 9] = [
    "provider_name",
    "sub_account_id",
    "service_name",
    "sku_id",
    "resource_id",
    "region_id",
    "consumed_unit",
    "pricing_unit",
    "tags",
];

/// Exact EffectiveCost per (hour if asked, `columns`..., currency) over charge periods
/// starting in `[from, to)`. The group columns come back as one JSON array per row, which
/// keeps the query's shape fixed whatever the number of columns. Groupings the rollups keep
/// read them (see [`tables::plan`]); the others, and `tagged_only`, read the rows.
pub fn sum_effective_cost(
    conn: &mut DbConn,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    hourly: bool,
    columns: &[&'static str],
    filter: &CostFilter,
) -> QueryResult<Vec<GroupSum>> {
    if let Some(bad) = columns.iter().find(|c| !GROUPABLE.contains(c)) {
        return Err(diesel::result::Error::QueryBuilderError(format!("cannot group by {bad}").into()));
    }
    let coarsest = match (filter.tagged_only || columns.iter().any(|c| !ROLLED_UP.contains(c)), hourly) {
        (true, _) => Coarsest::Ledger,
        (false, true) => Coarsest::Hourly,
        (false, false) => Coarsest::Daily,
    };
    let backend = conn.backend();
    let list = if columns.is_empty() { "NULL".to_string() } else { columns.join(", ") };
    let keys = json_array(backend, &list);
    let mut sums = GroupSums::default();
    for (table, from, to) in tables::plan(from, to, coarsest) {
        let time = table.time();
        let hour = if hourly { bucket_sql(backend, Granularity::Hour, time) } else { NO_GROUP.into() };
        let mut sql = format!(
            "SELECT {hour} AS hour, {keys} AS keys, billing_currency AS currency, {}, MAX(updated_at) AS as_of \
             FROM {} WHERE {time} >= ? AND {time} < ?",
            named(table.split_sums("effective"), "effective"),
            table.name(),
        );
        let mut args = vec![Arg::Time(from.naive_utc()), Arg::Time(to.naive_utc())];
        if let Some(providers) = &filter.providers {
            sql.push_str(&format!(" AND provider_name IN ({})", bound::list(providers.len())));
            args.extend(providers.iter().cloned().map(Arg::Text));
        }
        match filter.sub_account.as_deref() {
            None => {}
            Some("") => sql.push_str(" AND (sub_account_id IS NULL OR sub_account_id = '')"),
            Some(s) => {
                sql.push_str(" AND sub_account_id = ?");
                args.push(Arg::Text(s.to_string()));
            }
        }
        if let Some(service) = &filter.service {
            sql.push_str(" AND service_name = ?");
            args.push(Arg::Text(service.clone()));
        }
        if filter.tagged_only {
            sql.push_str(" AND tags IS NOT NULL");
        }
        let mut group: Vec<String> = Vec::new();
        if hourly {
            group.push(hour.clone());
        }
        group.extend(columns.iter().map(|c| c.to_string()));
        group.push("billing_currency".into());
        sql.push_str(&format!(" GROUP BY {}", group.join(", ")));
        sums.add(bound::load::<GroupRow>(conn, &sql, &args)?);
    }
    Ok(sums.into_vec())
}

/// Exact EffectiveCost per hour, tag key and value, and currency over `[from, to)`, for the
/// given tag keys: keys come back as `[key, value]`. Rows whose tag is null carry no value.
pub fn sum_effective_cost_by_tag(
    conn: &mut DbConn,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    tag_keys: &[String],
) -> QueryResult<Vec<GroupSum>> {
    let mut sums = GroupSums::default();
    if tag_keys.is_empty() {
        return Ok(Vec::new());
    }
    let backend = conn.backend();
    for (table, from, to) in tables::plan(from, to, Coarsest::Hourly) {
        if table == Table::Ledger {
            let filter = CostFilter { tagged_only: true, ..CostFilter::default() };
            let by_tags = sum_effective_cost(conn, from, to, true, &["tags"], &filter)?;
            sums.add_sums(split_tags(by_tags, tag_keys));
            continue;
        }
        let sql = format!(
            "SELECT {} AS hour, {} AS keys, billing_currency AS currency, {}, MAX(updated_at) AS as_of \
             FROM cost_tag_hourly WHERE hour >= ? AND hour < ? AND tag_key IN ({}) \
             GROUP BY hour, tag_key, tag_value, billing_currency",
            bucket_sql(backend, Granularity::Hour, "hour"),
            json_array(backend, "tag_key, tag_value"),
            named(Table::Hourly.split_sums("effective"), "effective"),
            bound::list(tag_keys.len()),
        );
        let mut args = vec![Arg::Time(from.naive_utc()), Arg::Time(to.naive_utc())];
        args.extend(tag_keys.iter().cloned().map(Arg::Text));
        sums.add(bound::load::<GroupRow>(conn, &sql, &args)?);
    }
    Ok(sums.into_vec())
}

/// One row per wanted tag key present in a row's tags, keyed [key, value]; non-string values
/// as their JSON text (as the rollup keeps them).
fn split_tags(rows: Vec<GroupSum>, tag_keys: &[String]) -> Vec<GroupSum> {
    let mut out = Vec::new();
    for row in rows {
        let Some(Some(text)) = row.keys.first() else { continue };
        let Ok(serde_json::Value::Object(tags)) = serde_json::from_str::<serde_json::Value>(text) else { continue };
        for key in tag_keys {
            let value = match tags.get(key) {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(serde_json::Value::Null) | None => continue,
                Some(other) => other.to_string(),
            };
            out.push(GroupSum { keys: vec![Some(key.clone()), Some(value)], ..row.clone() });
        }
    }
    out
}

fn json_array(backend: Backend, list: &str) -> String {
    match backend {
        Backend::Sqlite => format!("json_array({list})"),
        Backend::Postgres => format!("CAST(json_build_array({list}) AS TEXT)"),
    }
}

/// Sums from several tables' parts of one range, added per (hour, keys, currency), in hour
/// order.
#[derive(Default)]
struct GroupSums(BTreeMap<GroupKey, (Total, Option<NaiveDateTime>)>);

/// (hour, keys as JSON, currency)
type GroupKey = (Option<String>, String, String);

impl GroupSums {
    fn add(&mut self, rows: Vec<GroupRow>) {
        for row in rows {
            let cell = self.0.entry((row.hour, row.keys, row.currency)).or_default();
            cell.0 = cell.0.plus(recombine(row.effective_whole, row.effective_fraction));
            cell.1 = cell.1.max(row.as_of);
        }
    }

    fn add_sums(&mut self, sums: Vec<GroupSum>) {
        for sum in sums {
            let hour = sum.hour.map(|h| h.naive_utc().format("%Y-%m-%d %H:%M:%S").to_string());
            let keys = serde_json::to_string(&sum.keys).unwrap_or_default();
            let cell = self.0.entry((hour, keys, sum.currency)).or_default();
            cell.0 = cell.0.plus(sum.effective_cost);
            cell.1 = cell.1.max(sum.as_of.map(|t| t.naive_utc()));
        }
    }

    fn into_vec(self) -> Vec<GroupSum> {
        self.0
            .into_iter()
            .map(|((hour, keys, currency), (effective_cost, as_of))| GroupSum {
                hour: hour.as_deref().and_then(parse_bucket),
                keys: serde_json::from_str(&keys).unwrap_or_default(),
                currency,
                effective_cost,
                as_of: as_of.map(|t| t.and_utc()),
            })
            .collect()
    }
}

/// Exact known LLM cost per (provider, API key, model, hour, currency) over buckets starting in
/// `[from, to)`, optionally for some providers only. Buckets reported without a cost add nothing.
pub fn sum_llm_cost_by_key_model(
    conn: &mut DbConn,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    providers: Option<&[String]>,
) -> QueryResult<Vec<GroupSum>> {
    let hour = bucket_sql(conn.backend(), Granularity::Hour, "bucket_start");
    let mut sql = format!(
        "SELECT {hour} AS hour, {} AS keys, currency, {}, MAX(updated_at) AS as_of FROM llm_usage \
         WHERE bucket_start >= ? AND bucket_start < ? AND cost IS NOT NULL",
        json_array(conn.backend(), "provider, api_key_id, model"),
        named(split_sums("cost"), "effective"),
    );
    let mut args = vec![Arg::Time(from.naive_utc()), Arg::Time(to.naive_utc())];
    if let Some(providers) = providers {
        sql.push_str(&format!(" AND provider IN ({})", bound::list(providers.len())));
        args.extend(providers.iter().cloned().map(Arg::Text));
    }
    sql.push_str(&format!(" GROUP BY {hour}, provider, api_key_id, model, currency"));
    let mut sums = GroupSums::default();
    sums.add(bound::load::<GroupRow>(conn, &sql, &args)?);
    Ok(sums.into_vec())
}

/// One group of one table's part of a grouped sum: (hour, keys as JSON, currency, whole
/// units, fraction, newest updated_at).
#[derive(QueryableByName)]
struct GroupRow {
    #[diesel(sql_type = Nullable<Text>)]
    hour: Option<String>,
    #[diesel(sql_type = Text)]
    keys: String,
    #[diesel(sql_type = Text)]
    currency: String,
    #[diesel(sql_type = Nullable<Text>)]
    effective_whole: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    effective_fraction: Option<String>,
    #[diesel(sql_type = Nullable<diesel::sql_types::Timestamp>)]
    as_of: Option<chrono::NaiveDateTime>,
}

/// The tags of a resource's newest ledger record (for the safety policy's protected tags);
/// empty when the resource is unknown or untagged.
pub fn resource_tags(conn: &mut DbConn, resource_id: &str) -> QueryResult<std::collections::BTreeMap<String, String>> {
    let tags: Option<Option<String>> = cr::table
        .filter(cr::resource_id.eq(resource_id))
        .filter(cr::tags.is_not_null())
        .order_by(cr::charge_period_start.desc())
        .select(cr::tags)
        .first(conn)
        .optional()?;
    let parsed: serde_json::Map<String, serde_json::Value> =
        tags.flatten().and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default();
    Ok(parsed.into_iter().map(|(k, v)| (k, v.as_str().map_or_else(|| v.to_string(), str::to_string))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_split_into_one_row_per_configured_key() {
        let tagged = GroupSum {
            hour: DateTime::from_timestamp(0, 0),
            keys: vec![Some(r#"{"team":"data","env":"prod","cost":3}"#.into())],
            currency: "USD".into(),
            effective_cost: Total::from_units(9),
            as_of: None,
        };
        let out = split_tags(vec![tagged], &["team".into(), "cost".into(), "owner".into()]);
        let keys: Vec<Vec<Option<String>>> = out.iter().map(|r| r.keys.clone()).collect();
        assert_eq!(
            keys,
            vec![vec![Some("team".into()), Some("data".into())], vec![Some("cost".into()), Some("3".into())]]
        );
    }
}

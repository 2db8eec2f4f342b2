//! Aggregations over the ledger, exact to the last unit.
//!
//! Sums are computed in SQL per bucket and group, split into whole currency units and
//! the remaining fraction (`x / 10^11` and `x % 10^11`, which truncate the same way on
//! both backends). Neither part can overflow SQLite's 64-bit SUM, and Rust recombines
//! them in i128. Grand totals add the group sums, so they always match exactly.

use crate::db::schema::{cost_records as cr, llm_usage as lu};
use crate::db::{Backend, DbConn};
use crate::domain::cost_query::{CostQuery, Granularity, GroupBy};
use crate::domain::money::{Total, UNITS_PER_WHOLE};
use crate::per_backend;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};

mod llm;

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

/// `CAST(SUM(col / 10^11) AS TEXT), CAST(SUM(col % 10^11) AS TEXT)`
fn split_sum_sql(column: &str) -> String {
    format!("CAST(SUM({column} / {UNITS_PER_WHOLE}) AS TEXT), CAST(SUM({column} % {UNITS_PER_WHOLE}) AS TEXT)")
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
    #[schema(value_type = String, example = "12.50")]
    pub billed_cost: Total,
    #[schema(value_type = String, example = "11.80")]
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

type SplitRow = (String, Option<String>, String, Option<String>, Option<String>, Option<String>, Option<String>, i64);

/// Totals per bucket, group and currency, ordered by bucket then group.
pub fn aggregate_costs(conn: &mut DbConn, q: &CostQuery) -> QueryResult<Vec<CostBucket>> {
    let bucket = bucket_sql(conn.backend(), q.granularity, "charge_period_start");
    let group = group_column(q.group_by);
    let select = format!(
        "{bucket}, {group}, billing_currency, {}, {}, COUNT(*)",
        split_sum_sql("billed_cost"),
        split_sum_sql("effective_cost")
    );
    let group_by = group_by_sql(&bucket, group, "billing_currency");
    let (from, to) = (q.from.naive_utc(), q.to.naive_utc());
    let rows: Vec<SplitRow> = per_backend!(conn, |c| {
        let mut query = cr::table
            .filter(cr::charge_period_start.ge(from))
            .filter(cr::charge_period_start.lt(to))
            .select(sql::<(
                Text,
                Nullable<Text>,
                Text,
                Nullable<Text>,
                Nullable<Text>,
                Nullable<Text>,
                Nullable<Text>,
                BigInt,
            )>(&select))
            .group_by(sql::<Text>(&group_by))
            .order_by(sql::<Text>("1, 2"))
            .into_boxed();
        if let Some(provider) = &q.provider {
            query = query.filter(cr::provider_name.eq(provider));
        }
        if let Some(service) = &q.service {
            query = query.filter(cr::service_name.eq(service));
        }
        query.load(c)
    })?;
    Ok(rows
        .into_iter()
        .filter_map(|(bucket, group, currency, bw, bf, ew, ef, records)| {
            Some(CostBucket {
                period_start: parse_bucket(&bucket)?,
                group,
                currency,
                billed_cost: recombine(bw, bf),
                effective_cost: recombine(ew, ef),
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
/// keeps the query's shape fixed whatever the number of columns.
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
    let backend = conn.backend();
    let hour = if hourly { bucket_sql(backend, Granularity::Hour, "charge_period_start") } else { NO_GROUP.into() };
    let list = if columns.is_empty() { "NULL".to_string() } else { columns.join(", ") };
    let keys = match backend {
        Backend::Sqlite => format!("json_array({list})"),
        Backend::Postgres => format!("CAST(json_build_array({list}) AS TEXT)"),
    };
    let select = format!("{hour}, {keys}, billing_currency, {}, MAX(updated_at)", split_sum_sql("effective_cost"));
    let mut group: Vec<String> = Vec::new();
    if hourly {
        group.push(hour.clone());
    }
    group.extend(columns.iter().map(|c| c.to_string()));
    group.push("billing_currency".into());
    let group_by = group.join(", ");
    let (from, to) = (from.naive_utc(), to.naive_utc());
    let rows: Vec<GroupRow> = per_backend!(conn, |c| {
        let mut query = cr::table
            .filter(cr::charge_period_start.ge(from))
            .filter(cr::charge_period_start.lt(to))
            .select(sql::<GroupSql>(&select))
            .group_by(sql::<Text>(&group_by))
            .order_by(sql::<Text>("1"))
            .into_boxed();
        if let Some(providers) = &filter.providers {
            query = query.filter(cr::provider_name.eq_any(providers.clone()));
        }
        match filter.sub_account.as_deref() {
            None => {}
            Some("") => query = query.filter(cr::sub_account_id.is_null().or(cr::sub_account_id.eq(""))),
            Some(s) => query = query.filter(cr::sub_account_id.eq(s.to_string())),
        }
        if let Some(service) = &filter.service {
            query = query.filter(cr::service_name.eq(service.clone()));
        }
        if filter.tagged_only {
            query = query.filter(cr::tags.is_not_null());
        }
        query.load(c)
    })?;
    Ok(rows.into_iter().map(group_sum).collect())
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
    let keys = match conn.backend() {
        Backend::Sqlite => "json_array(provider, api_key_id, model)",
        Backend::Postgres => "CAST(json_build_array(provider, api_key_id, model) AS TEXT)",
    };
    let select = format!("{hour}, {keys}, currency, {}, MAX(updated_at)", split_sum_sql("cost"));
    let group_by = format!("{hour}, provider, api_key_id, model, currency");
    let (from, to) = (from.naive_utc(), to.naive_utc());
    let rows: Vec<GroupRow> = per_backend!(conn, |c| {
        let mut query = lu::table
            .filter(lu::bucket_start.ge(from))
            .filter(lu::bucket_start.lt(to))
            .filter(lu::cost.is_not_null())
            .select(sql::<GroupSql>(&select))
            .group_by(sql::<Text>(&group_by))
            .order_by(sql::<Text>("1"))
            .into_boxed();
        if let Some(providers) = providers {
            query = query.filter(lu::provider.eq_any(providers.to_vec()));
        }
        query.load(c)
    })?;
    Ok(rows.into_iter().map(group_sum).collect())
}

/// (hour, keys as JSON, currency, whole units, fraction, newest updated_at) as the grouped
/// queries return them.
type GroupRow = (Option<String>, String, String, Option<String>, Option<String>, Option<chrono::NaiveDateTime>);
type GroupSql = (Nullable<Text>, Text, Text, Nullable<Text>, Nullable<Text>, Nullable<diesel::sql_types::Timestamp>);

fn group_sum((hour, keys, currency, whole, fraction, as_of): GroupRow) -> GroupSum {
    GroupSum {
        hour: hour.as_deref().and_then(parse_bucket),
        keys: serde_json::from_str(&keys).unwrap_or_default(),
        currency,
        effective_cost: recombine(whole, fraction),
        as_of: as_of.map(|t| t.and_utc()),
    }
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

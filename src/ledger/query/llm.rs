//! LLM usage over time: tokens and cost per bucket, grouped by provider, model or key.

use super::{bucket_sql, group_by_sql, parse_bucket, recombine, split_sum_sql, NO_GROUP};
use crate::db::schema::llm_usage as lu;
use crate::db::DbConn;
use crate::domain::cost_query::Granularity;
use crate::domain::money::Total;
use crate::per_backend;
use chrono::{DateTime, Utc};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LlmGroupBy {
    Provider,
    Model,
    ApiKey,
    Project,
}

impl LlmGroupBy {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "provider" => Some(Self::Provider),
            "model" => Some(Self::Model),
            "api_key" => Some(Self::ApiKey),
            "project" => Some(Self::Project),
            _ => None,
        }
    }

    fn column(group_by: Option<Self>) -> &'static str {
        match group_by {
            None => NO_GROUP,
            Some(Self::Provider) => "provider",
            Some(Self::Model) => "model",
            Some(Self::ApiKey) => "api_key_id",
            Some(Self::Project) => "project_id",
        }
    }
}

#[derive(Debug, Clone)]
pub struct LlmQuery {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub granularity: Granularity,
    pub group_by: Option<LlmGroupBy>,
    pub provider: Option<String>,
    pub model: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct LlmBucket {
    pub period_start: DateTime<Utc>,
    pub group: Option<String>,
    pub currency: String,
    pub input_tokens: i64,
    pub cached_input_tokens: i64,
    pub output_tokens: i64,
    pub requests: i64,
    /// Sum of the known costs; buckets reported without a cost add nothing here.
    #[schema(value_type = Total)]
    pub cost: Total,
    pub records: i64,
}

type LlmSplitRow = (
    String,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
);

pub fn aggregate_llm_usage(conn: &mut DbConn, q: &LlmQuery) -> QueryResult<Vec<LlmBucket>> {
    let bucket = bucket_sql(conn.backend(), q.granularity, "bucket_start");
    let group = LlmGroupBy::column(q.group_by);
    // Token sums are plain BIGINT sums; CAST keeps the type the same on both backends.
    let select = format!(
        "{bucket}, {group}, currency, CAST(SUM(input_tokens) AS TEXT), CAST(SUM(cached_input_tokens) AS TEXT), CAST(SUM(output_tokens) AS TEXT), CAST(SUM(requests) AS TEXT), {}, COUNT(*)",
        split_sum_sql("cost")
    );
    let group_by = group_by_sql(&bucket, group, "currency");
    let (from, to) = (q.from.naive_utc(), q.to.naive_utc());
    let rows: Vec<LlmSplitRow> = per_backend!(conn, |c| {
        let mut query = lu::table
            .filter(lu::bucket_start.ge(from))
            .filter(lu::bucket_start.lt(to))
            .select(sql::<(
                Text,
                Nullable<Text>,
                Text,
                Nullable<Text>,
                Nullable<Text>,
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
            query = query.filter(lu::provider.eq(provider));
        }
        if let Some(model) = &q.model {
            query = query.filter(lu::model.eq(model));
        }
        query.load(c)
    })?;
    let int = |s: Option<String>| s.and_then(|s| s.parse::<i64>().ok()).unwrap_or(0);
    Ok(rows
        .into_iter()
        .filter_map(|(bucket, group, currency, input, cached, output, requests, cw, cf, records)| {
            Some(LlmBucket {
                period_start: parse_bucket(&bucket)?,
                group,
                currency,
                input_tokens: int(input),
                cached_input_tokens: int(cached),
                output_tokens: int(output),
                requests: int(requests),
                cost: recombine(cw, cf),
                records,
            })
        })
        .collect())
}

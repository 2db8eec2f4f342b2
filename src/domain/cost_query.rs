//! A validated question to the ledger: which period, how fine, grouped by what.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Granularity {
    Hour,
    Day,
    Month,
}

impl Granularity {
    pub const ALL: [Granularity; 3] = [Self::Hour, Self::Day, Self::Month];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hour => "hour",
            Self::Day => "day",
            Self::Month => "month",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.as_str() == text)
    }

    /// The longest period one query may span at this granularity, to bound response size.
    fn max_span(self) -> Duration {
        match self {
            Self::Hour => Duration::days(93),
            Self::Day => Duration::days(3 * 366),
            Self::Month => Duration::days(20 * 366),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    Provider,
    Service,
    SubAccount,
    Region,
    Resource,
    Sku,
}

impl GroupBy {
    pub const ALL: [GroupBy; 6] =
        [Self::Provider, Self::Service, Self::SubAccount, Self::Region, Self::Resource, Self::Sku];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Provider => "provider",
            Self::Service => "service",
            Self::SubAccount => "sub_account",
            Self::Region => "region",
            Self::Resource => "resource",
            Self::Sku => "sku",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.as_str() == text)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CostQuery {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub granularity: Granularity,
    pub group_by: Option<GroupBy>,
    pub provider: Option<String>,
    pub service: Option<String>,
}

/// The query string as received.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CostQueryParams {
    /// Start, inclusive (RFC 3339 or YYYY-MM-DD). Default: 30 days before `to`.
    #[param(schema_with = super::time::accepted_schema)]
    pub from: Option<String>,
    /// End, exclusive (RFC 3339 or YYYY-MM-DD). Default: the end of the current hour.
    #[param(schema_with = super::time::accepted_schema)]
    pub to: Option<String>,
    /// hour, day (default) or month.
    #[param(value_type = Option<Granularity>)]
    pub granularity: Option<String>,
    /// provider, service, sub_account, region, resource or sku. Default: no grouping.
    #[param(value_type = Option<GroupBy>)]
    pub group_by: Option<String>,
    /// Only this ProviderName.
    pub provider: Option<String>,
    /// Only this ServiceName.
    pub service: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("parameter {parameter}: {problem}")]
pub struct QueryError {
    pub parameter: &'static str,
    pub problem: String,
}

fn qerr(parameter: &'static str, problem: impl ToString) -> QueryError {
    QueryError { parameter, problem: problem.to_string() }
}

/// The end of the hour holding `t` (nothing starts later within it before `t` passes): the
/// default end of a period, which keeps a default query on whole hours, so it reads only the
/// ledger's rollups.
fn end_of_hour(t: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::DurationRound;
    let start = t.duration_trunc(Duration::hours(1)).unwrap_or(t);
    if start == t {
        t
    } else {
        start + Duration::hours(1)
    }
}

/// Parses `from`/`to`; shared by every ledger query.
pub fn parse_period(
    from: Option<&str>,
    to: Option<&str>,
    now: DateTime<Utc>,
    default_span: Duration,
) -> Result<(DateTime<Utc>, DateTime<Utc>), QueryError> {
    let to = to
        .map(|t| super::time::parse_utc(t).map_err(|e| qerr("to", e)))
        .transpose()?
        .unwrap_or_else(|| end_of_hour(now));
    let from =
        from.map(|f| super::time::parse_utc(f).map_err(|e| qerr("from", e))).transpose()?.unwrap_or(to - default_span);
    if from >= to {
        return Err(qerr("from", "must be before 'to'"));
    }
    Ok((from, to))
}

impl CostQuery {
    pub fn parse(params: &CostQueryParams, now: DateTime<Utc>) -> Result<Self, QueryError> {
        let granularity = match params.granularity.as_deref() {
            None => Granularity::Day,
            Some(g) => {
                Granularity::parse(g).ok_or_else(|| qerr("granularity", format!("'{g}' is not hour, day or month")))?
            }
        };
        let group_by = params
            .group_by
            .as_deref()
            .map(|g| {
                GroupBy::parse(g).ok_or_else(|| {
                    qerr("group_by", format!("'{g}' is not provider, service, sub_account, region, resource or sku"))
                })
            })
            .transpose()?;
        let (from, to) = parse_period(params.from.as_deref(), params.to.as_deref(), now, Duration::days(30))?;
        if to - from > granularity.max_span() {
            return Err(qerr(
                "from",
                format!(
                    "the period is too long for granularity {granularity:?}: at most {} days",
                    granularity.max_span().num_days()
                ),
            ));
        }
        let non_empty = |v: &Option<String>| v.as_ref().map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        Ok(CostQuery {
            from,
            to,
            granularity,
            group_by,
            provider: non_empty(&params.provider),
            service: non_empty(&params.service),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()
    }

    #[test]
    fn defaults_to_last_30_days_by_day() {
        let q = CostQuery::parse(&CostQueryParams::default(), now()).unwrap();
        assert_eq!(q.granularity, Granularity::Day);
        assert_eq!(q.to, now());
        assert_eq!(q.to - q.from, Duration::days(30));
        assert_eq!(q.group_by, None);
    }

    #[test]
    fn rejects_bad_parameters_by_name() {
        let cases = [
            (CostQueryParams { granularity: Some("week".into()), ..Default::default() }, "granularity"),
            (CostQueryParams { group_by: Some("team".into()), ..Default::default() }, "group_by"),
            (CostQueryParams { from: Some("soon".into()), ..Default::default() }, "from"),
            (
                CostQueryParams {
                    to: Some("2020-01-01".into()),
                    from: Some("2021-01-01".into()),
                    ..Default::default()
                },
                "from",
            ),
            (
                CostQueryParams {
                    granularity: Some("hour".into()),
                    from: Some("2026-01-01".into()),
                    ..Default::default()
                },
                "from",
            ),
        ];
        for (params, parameter) in cases {
            assert_eq!(CostQuery::parse(&params, now()).unwrap_err().parameter, parameter);
        }
    }
}

//! Each series' state after a run (`detect_series`): its newest point, the sighting of a
//! running hour for the next run's rate, and the history the charts draw.

use super::rows::utc;
use super::{naive, saturate};
use crate::db::schema::detect_series as ds;
use crate::db::{write_transaction, DbConn};
use crate::domain::detect::partial::Sighting;
use crate::domain::detect::series::SeriesId;
use crate::domain::money::{serialize_units as units, Total};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

/// One row of `detect_series`.
pub struct SeriesState<'a> {
    pub id: &'a SeriesId,
    pub step_secs: i64,
    pub points: u32,
    pub ready: bool,
    pub last: (i64, Total, Total),
    pub currency: &'a str,
    /// `history::History` as JSON.
    pub history: String,
    /// The newest point's sighting while its hour runs, for the next run's rate.
    pub running: Option<Sighting>,
    /// `domain::budget::profile::Profile` as JSON: the week ahead, for budgets' forecasts.
    pub profile: Option<String>,
}

/// The sightings of running points the last run kept, by series key.
pub fn sightings(conn: &mut DbConn) -> QueryResult<std::collections::HashMap<String, Sighting>> {
    type Row = (String, Option<NaiveDateTime>, Option<i64>, Option<NaiveDateTime>, Option<i64>, Option<bool>);
    let rows: Vec<Row> = ds::table
        .filter(ds::running_point_at.is_not_null())
        .select((
            ds::series_key,
            ds::running_point_at,
            ds::running_so_far,
            ds::running_seen_at,
            ds::running_rate,
            ds::running_settled,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(key, at, so_far, seen, rate, settled)| {
            let sighting = Sighting {
                point_at: at?.and_utc().timestamp(),
                so_far: Total::from_units(so_far?.into()),
                seen_at: seen?.and_utc().timestamp(),
                rate: rate.map(|r| Total::from_units(r.into())),
                settled: settled.unwrap_or(false),
            };
            Some((key, sighting))
        })
        .collect())
}

/// Every series' state of one run, in one transaction.
pub fn save_series_states(conn: &mut DbConn, states: &[SeriesState<'_>], now: DateTime<Utc>) -> QueryResult<()> {
    write_transaction(conn, |conn| states.iter().try_for_each(|s| save_series_state(conn, s, now)))
}

fn save_series_state(conn: &mut DbConn, s: &SeriesState<'_>, now: DateTime<Utc>) -> QueryResult<()> {
    let values = (
        ds::series_key.eq(s.id.key()),
        ds::series_kind.eq(s.id.kind()),
        ds::label.eq(s.id.to_string()),
        ds::step_secs.eq(s.step_secs),
        ds::points.eq(i64::from(s.points)),
        ds::ready.eq(s.ready),
        ds::last_point_at.eq(naive(s.last.0)),
        ds::last_actual.eq(saturate(s.last.1)),
        ds::last_expected.eq(saturate(s.last.2)),
        ds::currency.eq(s.currency),
        ds::updated_at.eq(now.naive_utc()),
        ds::history.eq(&s.history),
        ds::running_point_at.eq(s.running.map(|r| naive(r.point_at))),
        ds::running_so_far.eq(s.running.map(|r| saturate(r.so_far))),
        ds::running_seen_at.eq(s.running.map(|r| naive(r.seen_at))),
        ds::running_rate.eq(s.running.and_then(|r| r.rate).map(saturate)),
        ds::running_settled.eq(s.running.map(|r| r.settled)),
        ds::forecast_profile.eq(s.profile.as_deref()),
    );
    crate::per_backend!(conn, |c| {
        diesel::insert_into(ds::table)
            .values(values.clone())
            .on_conflict(ds::series_key)
            .do_update()
            .set(values.clone())
            .execute(c)
    })?;
    Ok(())
}

/// The stored history of one series, if it has one.
pub fn history(conn: &mut DbConn, series_key: &str) -> QueryResult<Option<crate::detect::history::History>> {
    let text: Option<String> = ds::table.find(series_key).select(ds::history).first(conn).optional()?;
    Ok(text.as_deref().and_then(crate::detect::history::History::parse))
}

/// Every stored series of one kind with its history (the dashboard's spend and trends).
pub fn histories(conn: &mut DbConn, kind: &str) -> QueryResult<Vec<(String, String, crate::detect::history::History)>> {
    let rows: Vec<(String, String, String)> =
        ds::table.filter(ds::series_kind.eq(kind)).select((ds::series_key, ds::currency, ds::history)).load(conn)?;
    Ok(rows.into_iter().filter_map(|(k, c, h)| crate::detect::history::History::parse(&h).map(|h| (k, c, h))).collect())
}

/// Watched series as of the last run, for `GET /api/v1/anomalies/series`.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = ds)]
pub struct SeriesRow {
    #[serde(skip)]
    pub series_key: String,
    pub series_kind: String,
    pub label: String,
    pub step_secs: i64,
    pub points: i64,
    /// False while the series is younger than its warm-up: it raises no alert yet.
    pub ready: bool,
    #[serde(serialize_with = "utc")]
    #[schema(value_type = String, format = DateTime)]
    pub last_point_at: NaiveDateTime,
    #[serde(serialize_with = "units")]
    #[schema(value_type = crate::domain::money::Total)]
    pub last_actual: i64,
    #[serde(serialize_with = "units")]
    #[schema(value_type = crate::domain::money::Total)]
    pub last_expected: i64,
    pub currency: String,
    #[serde(serialize_with = "utc")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: NaiveDateTime,
}

pub fn list_series(conn: &mut DbConn) -> QueryResult<Vec<SeriesRow>> {
    ds::table.order_by(ds::label.asc()).select(SeriesRow::as_select()).load(conn)
}

/// What a budget's forecast reads of one series.
pub struct Outlook {
    pub series_key: String,
    pub currency: String,
    pub step_secs: i64,
    pub last_point_at: DateTime<Utc>,
    pub profile: crate::domain::budget::profile::Profile,
}

/// Every series of `kind` that has a week-ahead profile.
pub fn outlooks(conn: &mut DbConn, kind: &str) -> QueryResult<Vec<Outlook>> {
    let rows: Vec<(String, String, i64, NaiveDateTime, Option<String>)> = ds::table
        .filter(ds::series_kind.eq(kind))
        .filter(ds::forecast_profile.is_not_null())
        .select((ds::series_key, ds::currency, ds::step_secs, ds::last_point_at, ds::forecast_profile))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(series_key, currency, step_secs, last, profile)| {
            let profile = serde_json::from_str(profile.as_deref()?).ok()?;
            Some(Outlook { series_key, currency, step_secs, last_point_at: last.and_utc(), profile })
        })
        .collect())
}

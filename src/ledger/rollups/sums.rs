//! The rollups of a bulk load into an empty ledger, summed in memory as the rows pass.
//!
//! Rebuilding the hours of a million-row import from the rows afterwards is a GROUP BY over
//! every row (with JSON per row for the tags): a quarter of the import's time. The parser
//! thread, which waits on the writer anyway, adds each row to [`Sums`] instead, and the
//! writer stores them in place of the rebuild. Into an empty ledger the sums are the rollups:
//! the same grouping and the same split integer sums as `rebuild_sql`, which the rollups
//! test compares after a bulk import. Memory is bounded by the number of groups; past
//! `MAX_GROUPS`, on an overflowing sum, or when a tag value is not text or a boolean (the two databases print
//! numbers differently), the writer falls back to the rebuild for that part.

use super::{rebuild_sql, Part};
use crate::db::types::UtcTime;
use crate::db::DbConn;
use crate::domain::money::UNITS_PER_WHOLE;
use crate::ledger::rows::CostRow;
use crate::per_backend;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use foldhash::HashMap;

/// Groups held before the sums give up (about 200 bytes each).
const MAX_GROUPS: usize = 100_000;

const HOUR: i64 = 3_600;

/// (hour, provider, sub-account, service, region, currency): `cost_hourly`'s grouping, the
/// texts numbered by [`Names`].
type HourGroup = (i64, Name, Option<Name>, Name, Option<Name>, Name);
/// (hour, tag key, tag value, currency): `cost_tag_hourly`'s.
type TagGroup = (i64, Name, Name, Name);

type Name = u32;

/// Every distinct text the groups name, numbered, so that a group is a small copyable key and
/// a row costs lookups by `&str` instead of copies of its strings.
#[derive(Debug, Default)]
struct Names {
    ids: HashMap<String, Name>,
    texts: Vec<String>,
}

impl Names {
    fn id(&mut self, text: &str) -> Name {
        if let Some(id) = self.ids.get(text) {
            return *id;
        }
        let id = self.texts.len() as Name;
        self.ids.insert(text.to_string(), id);
        self.texts.push(text.to_string());
        id
    }

    fn text(&self, id: Name) -> String {
        self.texts.get(id as usize).cloned().unwrap_or_default()
    }
}

/// Whole units and the 10^-11 fraction, each summed separately as the SQL does.
#[derive(Debug, Clone, Copy, Default)]
struct Split {
    whole: i64,
    fraction: i64,
}

impl Split {
    /// False when a sum would overflow (the rebuild then reports it as the database's error).
    #[must_use]
    fn add(&mut self, units: i64) -> bool {
        match (self.whole.checked_add(units / UNITS_PER_WHOLE), self.fraction.checked_add(units % UNITS_PER_WHOLE)) {
            (Some(whole), Some(fraction)) => {
                *self = Split { whole, fraction };
                true
            }
            _ => false,
        }
    }
}

#[derive(Debug, Clone)]
struct HourSums {
    billed: Split,
    effective: Split,
    records: i64,
    updated_at: UtcTime,
}

#[derive(Debug, Clone)]
struct TagSums {
    effective: Split,
    updated_at: UtcTime,
}

/// The rollups of the rows added so far.
#[derive(Debug, Default)]
pub struct Sums {
    names: Names,
    hours: HashMap<HourGroup, HourSums>,
    tags: HashMap<TagGroup, TagSums>,
    /// Too many groups: the hourly sums were dropped.
    hours_overflowed: bool,
    /// Too many groups or a tag value only the database can print: the tag sums were dropped.
    tags_need_rebuild: bool,
}

impl Sums {
    pub fn add(&mut self, row: &CostRow) {
        let hour = row.charge_period_start.0.and_utc().timestamp().div_euclid(HOUR) * HOUR;
        let newer = |held: &mut UtcTime| {
            if row.updated_at.0 > held.0 {
                *held = row.updated_at.clone();
            }
        };
        if !self.hours_overflowed {
            let names = &mut self.names;
            let group = (
                hour,
                names.id(&row.provider_name),
                row.sub_account_id.as_deref().map(|a| names.id(a)),
                names.id(&row.service_name),
                row.region_id.as_deref().map(|r| names.id(r)),
                names.id(&row.billing_currency),
            );
            let sums = self.hours.entry(group).or_insert_with(|| HourSums {
                billed: Split::default(),
                effective: Split::default(),
                records: 0,
                updated_at: row.updated_at.clone(),
            });
            let added = sums.billed.add(row.billed_cost) && sums.effective.add(row.effective_cost);
            sums.records += 1;
            newer(&mut sums.updated_at);
            if !added || self.hours.len() > MAX_GROUPS || self.names.texts.len() > MAX_GROUPS {
                self.hours_overflowed = true;
                self.hours = HashMap::default();
            }
        }
        if self.tags_need_rebuild {
            return;
        }
        let Some(tags) = &row.tags else { return };
        let Ok(serde_json::Value::Object(pairs)) = serde_json::from_str::<serde_json::Value>(tags) else {
            self.give_up_tags();
            return;
        };
        for (key, value) in pairs {
            let text = match value {
                serde_json::Value::Null => continue,
                serde_json::Value::String(text) => text,
                serde_json::Value::Bool(b) => b.to_string(),
                _ => return self.give_up_tags(),
            };
            let group = (hour, self.names.id(&key), self.names.id(&text), self.names.id(&row.billing_currency));
            let sums = self
                .tags
                .entry(group)
                .or_insert_with(|| TagSums { effective: Split::default(), updated_at: row.updated_at.clone() });
            let added = sums.effective.add(row.effective_cost);
            newer(&mut sums.updated_at);
            if !added {
                return self.give_up_tags();
            }
        }
        if self.tags.len() > MAX_GROUPS || self.names.texts.len() > MAX_GROUPS {
            self.give_up_tags();
        }
    }

    fn give_up_tags(&mut self) {
        self.tags_need_rebuild = true;
        self.tags = HashMap::default();
    }

    /// Stores the sums as the rollups of a ledger that was empty before this load (whatever
    /// the rollup tables held is discarded), rebuilding from the rows what the sums dropped.
    /// Call inside the load's transaction, after its last row.
    pub fn store_as_rollups(self, conn: &mut DbConn) -> QueryResult<()> {
        per_backend!(conn, |c| c
            .batch_execute("DELETE FROM cost_hourly; DELETE FROM cost_tag_hourly; DELETE FROM cost_daily;"))?;
        let backend = conn.backend();
        if self.hours_overflowed {
            per_backend!(conn, |c| c.batch_execute(&rebuild_sql(backend, Part::Hourly, None, None)))?;
        } else {
            let rows: Vec<_> =
                self.hours.into_iter().map(|(group, sums)| hourly_row(&self.names, group, sums)).collect();
            for chunk in rows.chunks(2_000) {
                per_backend!(conn, |c| diesel::insert_into(crate::db::schema::cost_hourly::table)
                    .values(chunk)
                    .execute(c))?;
            }
        }
        if self.tags_need_rebuild {
            per_backend!(conn, |c| c.batch_execute(&rebuild_sql(backend, Part::Tags, None, None)))?;
        } else {
            let rows: Vec<_> = self.tags.into_iter().map(|(group, sums)| tag_row(&self.names, group, sums)).collect();
            for chunk in rows.chunks(2_000) {
                per_backend!(conn, |c| diesel::insert_into(crate::db::schema::cost_tag_hourly::table)
                    .values(chunk)
                    .execute(c))?;
            }
        }
        per_backend!(conn, |c| c.batch_execute(&rebuild_sql(backend, Part::Daily, None, None)))
    }
}

#[derive(Insertable)]
#[diesel(table_name = crate::db::schema::cost_hourly)]
struct HourlyRow {
    hour: UtcTime,
    provider_name: String,
    sub_account_id: Option<String>,
    service_name: String,
    region_id: Option<String>,
    billing_currency: String,
    billed_whole: i64,
    billed_fraction: i64,
    effective_whole: i64,
    effective_fraction: i64,
    records: i64,
    updated_at: UtcTime,
}

#[derive(Insertable)]
#[diesel(table_name = crate::db::schema::cost_tag_hourly)]
struct TagHourlyRow {
    hour: UtcTime,
    tag_key: String,
    tag_value: String,
    billing_currency: String,
    effective_whole: i64,
    effective_fraction: i64,
    updated_at: UtcTime,
}

fn hour_time(hour: i64) -> UtcTime {
    UtcTime::new(chrono::DateTime::from_timestamp(hour, 0).unwrap_or_default().naive_utc())
}

fn hourly_row(names: &Names, group: HourGroup, s: HourSums) -> HourlyRow {
    let (hour, provider, account, service, region, currency) = group;
    HourlyRow {
        hour: hour_time(hour),
        provider_name: names.text(provider),
        sub_account_id: account.map(|a| names.text(a)),
        service_name: names.text(service),
        region_id: region.map(|r| names.text(r)),
        billing_currency: names.text(currency),
        billed_whole: s.billed.whole,
        billed_fraction: s.billed.fraction,
        effective_whole: s.effective.whole,
        effective_fraction: s.effective.fraction,
        records: s.records,
        updated_at: s.updated_at,
    }
}

fn tag_row(names: &Names, (hour, key, value, currency): TagGroup, s: TagSums) -> TagHourlyRow {
    TagHourlyRow {
        hour: hour_time(hour),
        tag_key: names.text(key),
        tag_value: names.text(value),
        billing_currency: names.text(currency),
        effective_whole: s.effective.whole,
        effective_fraction: s.effective.fraction,
        updated_at: s.updated_at,
    }
}

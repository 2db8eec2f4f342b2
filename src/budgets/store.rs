//! Budgets over the database: the definitions (created over the API or the dashboard, or kept
//! in step with config.toml), each one's status as of the last sweep, and the thresholds
//! crossed, once per budget, period and threshold.

use super::status::Status;
use crate::db::schema::{budget_crossings as bc, budgets as b};
use crate::db::{write_transaction, DbConn};
use crate::domain::budget::spec::BudgetSpec;
use crate::domain::budget::{Basis, Threshold};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

/// Who keeps a budget: people (API, dashboard) or config.toml, which start-up follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ManagedBy {
    Api,
    Config,
}

impl ManagedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            ManagedBy::Api => "api",
            ManagedBy::Config => "config",
        }
    }
}

/// One budget as stored: its definition parsed back, and its last status.
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetRow {
    pub id: String,
    pub spec: BudgetSpec,
    pub managed_by: ManagedBy,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub status: Option<Status>,
    pub evaluated_at: Option<DateTime<Utc>>,
}

type Raw = (String, String, String, NaiveDateTime, NaiveDateTime, Option<String>, Option<NaiveDateTime>);

#[allow(clippy::type_complexity)]
fn select() -> (b::id, b::spec, b::managed_by, b::created_at, b::updated_at, b::status, b::evaluated_at) {
    (b::id, b::spec, b::managed_by, b::created_at, b::updated_at, b::status, b::evaluated_at)
}

/// A stored definition that no longer parses is a query error, never a silent default.
fn row((id, spec, managed_by, created_at, updated_at, status, evaluated_at): Raw) -> QueryResult<BudgetRow> {
    let bad = |what: String| diesel::result::Error::DeserializationError(what.into());
    let value: serde_json::Value = serde_json::from_str(&spec).map_err(|e| bad(format!("budget {id}: {e}")))?;
    let spec = BudgetSpec::parse(&value).map_err(|e| bad(format!("budget {id}: {e}")))?;
    let managed_by = match managed_by.as_str() {
        "config" => ManagedBy::Config,
        "api" => ManagedBy::Api,
        other => return Err(bad(format!("budget {id}: managed_by '{other}'"))),
    };
    let status = status.and_then(|s| serde_json::from_str(&s).ok());
    Ok(BudgetRow {
        id,
        spec,
        managed_by,
        created_at: created_at.and_utc(),
        updated_at: updated_at.and_utc(),
        status,
        evaluated_at: evaluated_at.map(|t| t.and_utc()),
    })
}

pub fn list(conn: &mut DbConn) -> QueryResult<Vec<BudgetRow>> {
    let raw: Vec<Raw> = b::table.order_by(b::name).select(select()).load(conn)?;
    raw.into_iter().map(row).collect()
}

pub fn get(conn: &mut DbConn, id: &str) -> QueryResult<Option<BudgetRow>> {
    let raw: Option<Raw> = b::table.find(id).select(select()).first(conn).optional()?;
    raw.map(row).transpose()
}

/// Why a write was refused.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error("a budget named '{0}' exists already")]
    NameTaken(String),
    #[error("no budget {0}")]
    NotFound(String),
    #[error("budget '{0}' is defined in config.toml; change it there")]
    InConfig(String),
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

fn name_taken(conn: &mut DbConn, name: &str, other_than: &str) -> QueryResult<bool> {
    let n: i64 = b::table.filter(b::name.eq(name)).filter(b::id.ne(other_than)).count().get_result(conn)?;
    Ok(n > 0)
}

/// Who changed a budget, for the audit log: a key's or user's name, or "config.toml".
pub struct Actor<'a>(pub &'a str);

/// Every change of a budget is audited in its transaction, with the definitions before and after.
fn audit(
    c: &mut DbConn,
    actor: &Actor<'_>,
    verb: &str,
    before: Option<&BudgetRow>,
    after: Option<&BudgetRow>,
) -> QueryResult<()> {
    let text = |r: Option<&BudgetRow>| r.map(|r| r.spec.to_json().to_string());
    let (before_text, after_text) = (text(before), text(after));
    let id = after.or(before).map_or("", |r| r.id.as_str());
    let target = format!("budget {id}");
    let event = crate::audit::Event {
        actor: actor.0,
        action: verb,
        target: &target,
        before: before_text.as_deref(),
        after: after_text.as_deref(),
        result: "ok",
        detail: None,
    };
    crate::audit::append(c, &event, Utc::now()).map(|_| ())
}

pub fn create(
    conn: &mut DbConn,
    spec: &BudgetSpec,
    actor: &Actor<'_>,
    now: DateTime<Utc>,
) -> Result<BudgetRow, Refused> {
    write_transaction(conn, |c| {
        let row = insert(c, spec, ManagedBy::Api, now)?;
        audit(c, actor, "budget.create", None, Some(&row))?;
        Ok(row)
    })
}

fn insert(c: &mut DbConn, spec: &BudgetSpec, by: ManagedBy, now: DateTime<Utc>) -> Result<BudgetRow, Refused> {
    let id = uuid::Uuid::now_v7().to_string();
    if name_taken(c, &spec.name, &id)? {
        return Err(Refused::NameTaken(spec.name.clone()));
    }
    diesel::insert_into(b::table)
        .values((
            b::id.eq(&id),
            b::name.eq(&spec.name),
            b::spec.eq(spec.to_json().to_string()),
            b::managed_by.eq(by.as_str()),
            b::created_at.eq(now.naive_utc()),
            b::updated_at.eq(now.naive_utc()),
        ))
        .execute(c)?;
    get(c, &id)?.ok_or_else(|| Refused::NotFound(id.clone()))
}

/// Replaces a budget's definition. Its crossings stay: a threshold crossed this period is not
/// announced again because the budget was edited (a new threshold, or a lower amount, is).
pub fn update(
    conn: &mut DbConn,
    id: &str,
    spec: &BudgetSpec,
    actor: &Actor<'_>,
    now: DateTime<Utc>,
) -> Result<BudgetRow, Refused> {
    write_transaction(conn, |c| {
        let before = get(c, id)?;
        let row = replace(c, id, spec, ManagedBy::Api, now)?;
        audit(c, actor, "budget.update", before.as_ref(), Some(&row))?;
        Ok(row)
    })
}

fn replace(
    c: &mut DbConn,
    id: &str,
    spec: &BudgetSpec,
    by: ManagedBy,
    now: DateTime<Utc>,
) -> Result<BudgetRow, Refused> {
    let current = get(c, id)?.ok_or_else(|| Refused::NotFound(id.to_string()))?;
    if current.managed_by != by {
        return Err(Refused::InConfig(current.spec.name));
    }
    if name_taken(c, &spec.name, id)? {
        return Err(Refused::NameTaken(spec.name.clone()));
    }
    diesel::update(b::table.find(id))
        .set((
            b::name.eq(&spec.name),
            b::spec.eq(spec.to_json().to_string()),
            b::updated_at.eq(now.naive_utc()),
            // The next sweep computes it for the new definition.
            b::status.eq(None::<String>),
            b::evaluated_at.eq(None::<NaiveDateTime>),
        ))
        .execute(c)?;
    get(c, id)?.ok_or_else(|| Refused::NotFound(id.to_string()))
}

pub fn delete(conn: &mut DbConn, id: &str, actor: &Actor<'_>) -> Result<BudgetRow, Refused> {
    write_transaction(conn, |c| {
        let row = remove(c, id, ManagedBy::Api)?;
        audit(c, actor, "budget.delete", Some(&row), None)?;
        Ok(row)
    })
}

fn remove(c: &mut DbConn, id: &str, by: ManagedBy) -> Result<BudgetRow, Refused> {
    let current = get(c, id)?.ok_or_else(|| Refused::NotFound(id.to_string()))?;
    if current.managed_by != by {
        return Err(Refused::InConfig(current.spec.name));
    }
    diesel::delete(bc::table.filter(bc::budget_id.eq(id))).execute(c)?;
    diesel::delete(b::table.find(id)).execute(c)?;
    Ok(current)
}

/// Makes the config-managed budgets what config.toml lists (by name): new ones created,
/// changed ones updated, those no longer listed deleted. A name people already use for a
/// budget of their own stops start-up (`Refused::NameTaken`).
pub fn sync_config(conn: &mut DbConn, specs: &[BudgetSpec], now: DateTime<Utc>) -> Result<(), Refused> {
    write_transaction(conn, |c| {
        let (existing, actor) = (list(c)?, Actor("config.toml"));
        for gone in existing.iter().filter(|r| r.managed_by == ManagedBy::Config) {
            if !specs.iter().any(|s| s.name == gone.spec.name) {
                remove(c, &gone.id, ManagedBy::Config)?;
                audit(c, &actor, "budget.delete", Some(gone), None)?;
            }
        }
        for spec in specs {
            match existing.iter().find(|r| r.spec.name == spec.name) {
                Some(r) if r.managed_by == ManagedBy::Api => return Err(Refused::NameTaken(spec.name.clone())),
                Some(r) if r.spec != *spec => {
                    let row = replace(c, &r.id, spec, ManagedBy::Config, now)?;
                    audit(c, &actor, "budget.update", Some(r), Some(&row))?;
                }
                Some(_) => {}
                None => {
                    let row = insert(c, spec, ManagedBy::Config, now)?;
                    audit(c, &actor, "budget.create", None, Some(&row))?;
                }
            }
        }
        Ok(())
    })
}

/// One threshold crossed in one period.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Crossing {
    pub id: i64,
    pub budget_id: String,
    pub period_start: DateTime<Utc>,
    pub threshold: Threshold,
    pub at: DateTime<Utc>,
}

type CrossingRaw = (i64, String, NaiveDateTime, i64, String, NaiveDateTime);

fn crossing((id, budget_id, period_start, percent, basis, at): CrossingRaw) -> Option<Crossing> {
    Some(Crossing {
        id,
        budget_id,
        period_start: period_start.and_utc(),
        threshold: Threshold { percent: u32::try_from(percent).ok()?, on: Basis::parse(&basis)? },
        at: at.and_utc(),
    })
}

fn crossing_columns() -> (bc::id, bc::budget_id, bc::period_start, bc::percent, bc::basis, bc::at) {
    (bc::id, bc::budget_id, bc::period_start, bc::percent, bc::basis, bc::at)
}

/// The crossings of one budget's period, oldest first.
pub fn crossings(conn: &mut DbConn, budget_id: &str, period_start: DateTime<Utc>) -> QueryResult<Vec<Crossing>> {
    let raw: Vec<CrossingRaw> = bc::table
        .filter(bc::budget_id.eq(budget_id))
        .filter(bc::period_start.eq(period_start.naive_utc()))
        .order_by(bc::id)
        .select(crossing_columns())
        .load(conn)?;
    Ok(raw.into_iter().filter_map(crossing).collect())
}

/// The crossings of the period a budget's last status is for (none before its first evaluation).
pub fn current_crossings(conn: &mut DbConn, budget: &BudgetRow) -> QueryResult<Vec<Crossing>> {
    match &budget.status {
        Some(s) => crossings(conn, &budget.id, s.period_start),
        None => Ok(Vec::new()),
    }
}

/// Every budget, by name, with the crossings of its current period.
pub fn list_with_crossings(conn: &mut DbConn) -> QueryResult<Vec<(BudgetRow, Vec<Crossing>)>> {
    list(conn)?
        .into_iter()
        .map(|b| {
            let crossed = current_crossings(conn, &b)?;
            Ok((b, crossed))
        })
        .collect()
}

/// Crossings after `after` (the notifier's cursor), oldest first.
pub fn crossings_after(conn: &mut DbConn, after: i64, limit: i64) -> QueryResult<Vec<Crossing>> {
    let raw: Vec<CrossingRaw> =
        bc::table.filter(bc::id.gt(after)).order_by(bc::id).limit(limit).select(crossing_columns()).load(conn)?;
    Ok(raw.into_iter().filter_map(crossing).collect())
}

/// The newest crossing's id (the notifier starts after it).
pub fn newest_crossing(conn: &mut DbConn) -> QueryResult<Option<i64>> {
    bc::table.select(diesel::dsl::max(bc::id)).first(conn)
}

/// A sweep's result for one budget, in one transaction: its status, and the thresholds it
/// crossed for the first time this period. The unique key keeps a crossing once even if
/// two processes evaluate at once; returns the crossings this call recorded.
pub fn record_evaluation(
    conn: &mut DbConn,
    budget_id: &str,
    status: &Status,
    crossed: &[Threshold],
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    write_transaction(conn, |c| {
        let updated = diesel::update(b::table.find(budget_id))
            .set((b::status.eq(serde_json::to_string(status).ok()), b::evaluated_at.eq(now.naive_utc())))
            .execute(c)?;
        if updated == 0 {
            return Ok(0); // Deleted meanwhile.
        }
        let mut recorded = 0;
        for t in crossed {
            let values = (
                bc::budget_id.eq(budget_id),
                bc::period_start.eq(status.period_start.naive_utc()),
                bc::percent.eq(i64::from(t.percent)),
                bc::basis.eq(t.on.as_str()),
                bc::at.eq(now.naive_utc()),
            );
            recorded += crate::per_backend!(c, |c| diesel::insert_into(bc::table)
                .values(values)
                .on_conflict((bc::budget_id, bc::period_start, bc::percent, bc::basis))
                .do_nothing()
                .execute(c))?;
        }
        Ok(recorded)
    })
}

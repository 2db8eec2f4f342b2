//! Verdicts on an anomaly: expected (closes it and mutes its series), false positive (closes
//! it, kept for evaluation), confirmed (recorded).

use super::rows::{get, resolve_if_open, AnomalyRow};
use super::saturate;
use super::timeline::record_event;
use crate::db::schema::{anomalies as an, anomaly_suppressions as sup};
use crate::db::{write_transaction, DbConn};
use chrono::{DateTime, Utc};
use diesel::prelude::*;

/// A person's verdict on an anomaly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feedback {
    /// Not a problem: closes it, and no new anomaly on this series until `until`.
    Expected { until: DateTime<Utc> },
    /// The detector was wrong: closes it; kept for evaluating the detector.
    FalsePositive,
    /// A real problem (it stays as it is).
    Confirmed,
}

impl Feedback {
    /// From what a person sent: "expected" (muting the series for `suppress_days`, default 7,
    /// 1 to 90), "false_positive" or "confirmed". Errors name the field.
    pub fn parse(
        kind: &str,
        suppress_days: Option<u32>,
        now: DateTime<Utc>,
    ) -> Result<Feedback, (&'static str, &'static str)> {
        // Checked whatever the kind: a value out of range is a mistake even where it is unused.
        let days = suppress_days.unwrap_or(7);
        if !(1..=90).contains(&days) {
            return Err(("suppress_days", "must be between 1 and 90"));
        }
        match kind {
            "expected" => Ok(Feedback::Expected { until: now + chrono::Duration::days(i64::from(days)) }),
            "false_positive" => Ok(Feedback::FalsePositive),
            "confirmed" => Ok(Feedback::Confirmed),
            _ => Err(("kind", "must be expected, false_positive or confirmed")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Feedback::Expected { .. } => "expected",
            Feedback::FalsePositive => "false_positive",
            Feedback::Confirmed => "confirmed",
        }
    }

    /// Whether this verdict closes the anomaly (for good: the detector does not reopen it).
    pub fn closes(self) -> bool {
        !matches!(self, Feedback::Confirmed)
    }
}

/// Verdicts that closed an anomaly for good.
pub const CLOSING_VERDICTS: [&str; 2] = ["expected", "false_positive"];

/// Records feedback (and for `expected` a suppression from the anomaly's start); returns the
/// updated anomaly, or None when there is no such anomaly.
pub fn add_feedback(
    conn: &mut DbConn,
    id: &crate::domain::ids::AnomalyId,
    feedback: Feedback,
    actor: &str,
    comment: Option<&str>,
    now: DateTime<Utc>,
) -> QueryResult<Option<AnomalyRow>> {
    write_transaction(conn, |conn| {
        let Some(row) = get(conn, id)? else { return Ok(None) };
        let kind = feedback.as_str();
        diesel::update(an::table.find(id))
            .set((
                an::verdict.eq(kind),
                an::feedback_by.eq(actor),
                an::feedback_at.eq(now.naive_utc()),
                an::updated_at.eq(now.naive_utc()),
                an::version.eq(an::version + 1),
            ))
            .execute(conn)?;
        if let Feedback::Expected { until } = feedback {
            diesel::insert_into(sup::table)
                .values((
                    sup::id.eq(uuid::Uuid::now_v7().to_string()),
                    sup::series_key.eq(&row.series_key),
                    sup::anomaly_id.eq(Some(&**id)),
                    sup::from_at.eq(row.started_at),
                    sup::until_at.eq(until.naive_utc()),
                    sup::created_by.eq(actor),
                    sup::created_at.eq(now.naive_utc()),
                ))
                .execute(conn)?;
        }
        let detail = serde_json::json!({ "feedback": kind, "comment": comment }).to_string();
        record_event(
            conn,
            id,
            "feedback",
            now.naive_utc(),
            actor,
            &row.severity,
            saturate(row.impact()),
            Some(&detail),
        )?;
        if feedback.closes() && row.state == "open" {
            close(conn, &row, actor, &format!("closed: marked {} by {actor}", kind.replace('_', " ")), now)?;
        }
        get(conn, id)
    })
}

/// Resolves an open anomaly now, by a person, with a timeline entry saying why.
pub(super) fn close(
    conn: &mut DbConn,
    row: &AnomalyRow,
    actor: &str,
    why: &str,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    resolve_if_open(conn, &row.id, now)?;
    record_event(conn, &row.id, "resolved", now.naive_utc(), actor, &row.severity, saturate(row.impact()), Some(why))
}

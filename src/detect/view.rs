//! What the API and the notifications' payloads show of an anomaly: a contract kept apart from
//! the stored rows, which carry columns the wire never shows (the root causes as JSON text,
//! row ids), so changing the schema never changes the API by accident. The shape is the one
//! the API has always had.

use super::store::{AnomalyEvent, AnomalyRow};
use chrono::NaiveDateTime;
use serde::Serialize;

use super::store::rows::{utc, utc_opt};

/// An anomaly as the API and notification payloads show it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AnomalyView {
    pub id: String,
    pub series_key: String,
    pub series_kind: String,
    pub provider: Option<String>,
    pub sub_account: Option<String>,
    pub service: Option<String>,
    pub label: String,
    pub origin: String,
    pub direction: String,
    pub state: String,
    pub severity: String,
    pub description: Option<String>,
    #[serde(serialize_with = "utc")]
    #[schema(value_type = String, format = DateTime)]
    pub started_at: NaiveDateTime,
    #[serde(serialize_with = "utc")]
    #[schema(value_type = String, format = DateTime)]
    pub last_out_at: NaiveDateTime,
    #[serde(serialize_with = "utc_opt")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub resolved_at: Option<NaiveDateTime>,
    pub step_secs: i64,
    pub points: i64,
    #[serde(serialize_with = "crate::domain::money::serialize_units")]
    #[schema(value_type = crate::domain::money::Total)]
    pub actual: i64,
    #[serde(serialize_with = "crate::domain::money::serialize_units")]
    #[schema(value_type = crate::domain::money::Total)]
    pub expected: i64,
    #[serde(serialize_with = "crate::domain::money::serialize_units")]
    #[schema(value_type = crate::domain::money::Total)]
    pub projected_daily: i64,
    pub currency: String,
    pub peak_z: f64,
    /// The verdict people gave: expected, false_positive or confirmed.
    pub feedback: Option<String>,
    pub feedback_by: Option<String>,
    #[serde(serialize_with = "utc_opt")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub feedback_at: Option<NaiveDateTime>,
    #[serde(serialize_with = "utc")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "utc")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: NaiveDateTime,
    pub version: i64,
    /// When an action on it was verified ("fixed, watching" until resolved).
    #[serde(serialize_with = "utc_opt")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub mitigated_at: Option<NaiveDateTime>,
    /// The anomaly of another series that explains this one (one incident, one anomaly).
    pub merged_into: Option<String>,
    /// Measured only on a running hour's unconfirmed rate: its numbers may still move, so the
    /// optimizer waits for the next measurement before proposing.
    pub provisional: bool,
}

impl From<&AnomalyRow> for AnomalyView {
    fn from(a: &AnomalyRow) -> Self {
        AnomalyView {
            id: a.id.to_string(),
            series_key: a.series_key.clone(),
            series_kind: a.series_kind.clone(),
            provider: a.provider.clone(),
            sub_account: a.sub_account.clone(),
            service: a.service.clone(),
            label: a.label.clone(),
            origin: a.origin.clone(),
            direction: a.direction.clone(),
            state: a.state.clone(),
            severity: a.severity.clone(),
            description: a.description.clone(),
            started_at: a.started_at,
            last_out_at: a.last_out_at,
            resolved_at: a.resolved_at,
            step_secs: a.step_secs,
            points: a.points,
            actual: a.actual,
            expected: a.expected,
            projected_daily: a.projected_daily,
            currency: a.currency.clone(),
            peak_z: a.peak_z,
            feedback: a.feedback.clone(),
            feedback_by: a.feedback_by.clone(),
            feedback_at: a.feedback_at,
            created_at: a.created_at,
            updated_at: a.updated_at,
            version: a.version,
            mitigated_at: a.mitigated_at,
            merged_into: a.merged_into.clone(),
            provisional: a.provisional,
        }
    }
}

/// One entry of an anomaly's timeline, as shown.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct EventView {
    /// opened, updated, mitigated, resolved or feedback.
    pub kind: String,
    #[serde(serialize_with = "utc")]
    #[schema(value_type = String, format = DateTime)]
    pub at: NaiveDateTime,
    /// "detective", or the API key / user that acted.
    pub actor: String,
    pub severity: String,
    #[serde(serialize_with = "crate::domain::money::serialize_units")]
    #[schema(value_type = crate::domain::money::Total)]
    pub impact: i64,
    pub detail: Option<String>,
}

impl From<&AnomalyEvent> for EventView {
    fn from(e: &AnomalyEvent) -> Self {
        EventView {
            kind: e.kind.clone(),
            at: e.at,
            actor: e.actor.clone(),
            severity: e.severity.clone(),
            impact: e.impact,
            detail: e.detail.clone(),
        }
    }
}

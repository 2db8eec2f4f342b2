//! What the API and the notifications' payloads show of an action and its history: kept
//! apart from the stored rows (which carry row ids the wire never shows), so a schema change
//! never changes the API by accident. The shape is the one the API has always had.

use super::store::{ActionRow, TransitionRow};
use crate::domain::approval::{Risk, Status};
use crate::domain::optimizer::ActionKind;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// An action as the API and notification payloads show it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ActionView {
    pub id: String,
    pub anomaly_id: Option<String>,
    pub kind: ActionKind,
    pub target: String,
    pub provider: Option<String>,
    pub account: Option<String>,
    /// The executor's parameters, as a JSON object in a string.
    pub params: String,
    pub risk: Risk,
    pub status: Status,
    #[serde(serialize_with = "crate::domain::money::serialize_units")]
    #[schema(value_type = crate::domain::money::Total)]
    pub estimated_saving_per_hour: i64,
    pub proposed_by: String,
    pub routed_at: Option<DateTime<Utc>>,
    /// Who approved so far, as a JSON array in a string.
    pub approvals: String,
    pub reason: Option<String>,
    pub idempotency_key: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
    /// What it saved, once it succeeded.
    #[serde(serialize_with = "crate::domain::money::serialize_units_opt")]
    #[schema(value_type = Option<crate::domain::money::Total>)]
    pub recovered: Option<i64>,
    /// When the anomaly's cost was seen back within its band after this action succeeded.
    pub cost_verified_at: Option<DateTime<Utc>>,
}

impl From<&ActionRow> for ActionView {
    fn from(a: &ActionRow) -> Self {
        ActionView {
            id: a.id.to_string(),
            anomaly_id: a.anomaly_id.as_ref().map(ToString::to_string),
            kind: a.kind,
            target: a.target.clone(),
            provider: a.provider.clone(),
            account: a.account.clone(),
            params: a.params.clone(),
            risk: a.risk,
            status: a.status,
            estimated_saving_per_hour: a.estimated_saving_per_hour,
            proposed_by: a.proposed_by.clone(),
            routed_at: a.routed_at.map(|t| t.and_utc()),
            approvals: a.approvals.clone(),
            reason: a.reason.clone(),
            idempotency_key: a.idempotency_key.clone(),
            created_at: a.created_at.and_utc(),
            updated_at: a.updated_at.and_utc(),
            version: a.version,
            recovered: a.recovered,
            cost_verified_at: a.cost_verified_at.map(|t| t.and_utc()),
        }
    }
}

/// One step of an action's history, as shown.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TransitionView {
    pub from_status: String,
    pub to_status: String,
    pub command: String,
    pub actor: String,
    pub at: DateTime<Utc>,
    pub comment: Option<String>,
    pub reason: Option<String>,
    pub build_sha: String,
}

impl From<&TransitionRow> for TransitionView {
    fn from(t: &TransitionRow) -> Self {
        TransitionView {
            from_status: t.from_status.clone(),
            to_status: t.to_status.clone(),
            command: t.command.clone(),
            actor: t.actor.clone(),
            at: t.at.and_utc(),
            comment: t.comment.clone(),
            reason: t.reason.clone(),
            build_sha: t.build_sha.clone(),
        }
    }
}

//! Remediation actions over HTTP: list, detail with history and safety checks, manual
//! proposals, and approve / reject / cancel (approver role).

use super::ErrorBody;
use crate::approval::store::{self, CommandError, NewAction};
use crate::approval::view::{ActionView, TransitionView};
use crate::approval::{self, Proposed, Proposer};
use crate::db::DbError;
use crate::domain::approval::safety::{self, Block, Context, Stage};
use crate::domain::approval::{Command, Refusal, Risk, Status};
use crate::domain::optimizer::ActionKind;
use crate::domain::role::Role;
use crate::state::AppState;
use crate::web::auth::{Caller, WithBody};
use crate::web::error::ApiError;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// proposed, pending_approval, approved, executing, verifying, succeeded, failed, rejected, expired, withdrawn or dry_run.
    #[param(value_type = Option<Status>)]
    status: Option<String>,
    anomaly_id: Option<String>,
    /// At most this many, newest first (default 100, at most 1000).
    #[param(schema_with = crate::web::api::schema::limit)]
    limit: Option<i64>,
}

/// Actions, newest first.
#[utoipa::path(get, path = "/api/v1/actions", tag = "actions", operation_id = "list_actions", params(ListParams),
    responses((status = 200, description = "actions", body = Vec<ActionView>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn list(
    caller: Caller,
    state: web::Data<AppState>,
    params: web::Query<ListParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Viewer)?;
    let status = match &params.status {
        Some(s) => Some(
            Status::parse(s)
                .ok_or_else(|| ApiError::bad_parameter("status", format!("'{s}' is not an action status")))?,
        ),
        None => None,
    };
    let limit = super::page_limit(params.limit)?;
    let anomaly = params.anomaly_id.clone().map(crate::domain::ids::AnomalyId::new);
    let rows = state.db.run(move |c| store::list(c, status, anomaly.as_ref(), limit).map_err(DbError::from)).await?;
    Ok(HttpResponse::Ok().json(rows.iter().map(ActionView::from).collect::<Vec<_>>()))
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Detail {
    #[serde(flatten)]
    action: ActionView,
    history: Vec<TransitionView>,
    /// What the safety policy would say if an executor took it now.
    safety_checks: Vec<Block>,
}

/// One action with its transition history and current safety checks.
#[utoipa::path(get, path = "/api/v1/actions/{id}", tag = "actions", operation_id = "get_action", params(("id" = String, Path, description = "The action's id")),
    responses((status = 200, description = "the action", body = Detail), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn detail(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<crate::domain::ids::ActionId>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Viewer)?;
    let id = id.into_inner();
    let found = state
        .db
        .run(move |c| -> Result<_, DbError> {
            let Some(a) = store::get(c, &id)? else { return Ok(None) };
            let history = store::history(c, &id)?;
            let tags = crate::ledger::query::resource_tags(c, &a.target)?;
            Ok(Some((a, history, tags)))
        })
        .await?;
    let Some((action, history, tags)) = found else { return Err(ApiError::not_found("no action with this id")) };
    let ctx = Context { build_sha: crate::build_info::info().git_sha.to_string(), ..Context::default() };
    let target = approval::target(action.provider.as_deref(), action.account.as_deref(), &action.target, tags);
    let safety_checks = safety::check(&state.safety, &target, &ctx, Stage::Execution);
    let (action, history) = (ActionView::from(&action), history.iter().map(TransitionView::from).collect());
    Ok(HttpResponse::Ok().json(Detail { action, history, safety_checks }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewActionBody {
    /// cancel_bigquery_job, stop_ec2_instance, start_ec2_instance, resize_ec2_instance, deallocate_azure_vm, disable_llm_key, enable_llm_key or notify_only.
    #[schema(value_type = ActionKind)]
    kind: String,
    /// The job, instance, VM or key to act on.
    #[schema(min_length = 1, max_length = 1000, pattern = r"\S")]
    target: String,
    /// low, medium or high (high needs two approvers).
    #[schema(value_type = Risk)]
    risk: String,
    provider: Option<String>,
    account: Option<String>,
    anomaly_id: Option<String>,
}

/// Proposes an action by hand (approver role); it is routed for approval at once, or
/// rejected with the safety rule that blocks it.
#[utoipa::path(post, path = "/api/v1/actions", tag = "actions", operation_id = "create_action", request_body = NewActionBody,
    responses((status = 201, description = "the proposal, routed", body = ActionView), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    state: web::Data<AppState>,
    WithBody(caller, body): WithBody<web::Json<NewActionBody>>,
) -> Result<HttpResponse, ApiError> {
    let invalid = |field: &str, message: String| ApiError::invalid(json!({ "field": field, "message": message }));
    let Some(kind) = ActionKind::parse(&body.kind) else {
        let kinds: Vec<&str> = ActionKind::ALL.iter().map(|k| k.as_str()).collect();
        return Err(invalid("kind", format!("'{}' is not one of {}", body.kind, kinds.join(", "))));
    };
    let Some(risk) = Risk::parse(&body.risk) else {
        return Err(invalid("risk", format!("'{}' is not low, medium or high", body.risk)));
    };
    if body.target.trim().is_empty() || body.target.len() > 1_000 {
        return Err(invalid("target", "must be 1 to 1000 characters".into()));
    }
    let new = NewAction {
        anomaly_id: body.anomaly_id.clone().map(crate::domain::ids::AnomalyId::new),
        kind,
        target: body.target.trim().to_string(),
        provider: body.provider.clone(),
        account: body.account.clone(),
        params: "{}".into(),
        risk,
        estimated_saving_per_hour: 0,
        proposed_by: caller.name.clone(),
    };
    let (policy, rules, now) = (state.approval.policy(), state.safety.clone(), state.clock.now());
    let proposed = state
        .db
        .run(move |c| {
            if let Some(anomaly) = &new.anomaly_id {
                if crate::detect::store::get(c, anomaly)?.is_none() {
                    return Ok(None);
                }
            }
            Ok::<_, DbError>(Some(approval::propose(
                c,
                &rules,
                &policy,
                Proposer::Person,
                &new,
                &Context::default(),
                now,
            )))
        })
        .await?;
    let Some(proposed) = proposed else { return Err(invalid("anomaly_id", "no anomaly has this id".into())) };
    match proposed {
        Ok(Proposed::Routed(row)) => Ok(HttpResponse::Created().json(ActionView::from(&*row))),
        Ok(Proposed::AlreadyThere) => {
            Err(ApiError::new(StatusCode::CONFLICT, "conflict", "this anomaly already has that action for that target"))
        }
        Err(e) => Err(ApiError::internal(e.to_string())),
    }
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentBody {
    #[schema(max_length = 2000)]
    comment: Option<String>,
}

async fn command(
    caller: Caller,
    state: web::Data<AppState>,
    id: crate::domain::ids::ActionId,
    body: web::Bytes,
    make: impl FnOnce(String) -> Command,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Approver)?;
    let comment = super::optional_json::<CommentBody>(&body)?.and_then(|b| b.comment);
    if comment.as_ref().is_some_and(|c| c.len() > 2_000) {
        return Err(ApiError::invalid(json!({ "field": "comment", "message": "at most 2000 characters" })));
    }
    let cmd = make(caller.name.clone());
    let result = crate::approval::decide(
        &state.db,
        &state.bus,
        &state.approval,
        crate::approval::Decision {
            action_id: id,
            command: cmd,
            actor: caller.name.clone(),
            comment,
            at: state.clock.now(),
        },
    )
    .await?;
    match result {
        Ok(row) => Ok(HttpResponse::Ok().json(ActionView::from(&row))),
        Err(CommandError::NotFound) => Err(ApiError::not_found("no action with this id")),
        Err(CommandError::Refused(Refusal::OwnProposal)) => Err(ApiError::forbidden(Refusal::OwnProposal.to_string())),
        Err(CommandError::Refused(r)) => Err(ApiError::new(StatusCode::CONFLICT, "conflict", r.to_string())),
        Err(CommandError::Conflict) => {
            Err(ApiError::new(StatusCode::CONFLICT, "conflict", CommandError::Conflict.to_string()))
        }
        Err(CommandError::Db(e)) => Err(ApiError::internal(e)),
    }
}

/// Approves (approver role; not your own proposal; high risk needs two people).
#[utoipa::path(post, path = "/api/v1/actions/{id}/approve", tag = "actions", request_body = Option<CommentBody>, params(("id" = String, Path, description = "The action's id")),
    responses((status = 200, description = "the action", body = ActionView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn approve(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<crate::domain::ids::ActionId>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    command(caller, state, id.into_inner(), body, |by| Command::Approve { by }).await
}

/// Rejects a proposal (approver role).
#[utoipa::path(post, path = "/api/v1/actions/{id}/reject", tag = "actions", request_body = Option<CommentBody>, params(("id" = String, Path, description = "The action's id")),
    responses((status = 200, description = "the action", body = ActionView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn reject(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<crate::domain::ids::ActionId>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    command(caller, state, id.into_inner(), body, |by| Command::Reject { by }).await
}

/// Cancels an action that has not started (approver role).
#[utoipa::path(post, path = "/api/v1/actions/{id}/cancel", tag = "actions", request_body = Option<CommentBody>, params(("id" = String, Path, description = "The action's id")),
    responses((status = 200, description = "the action", body = ActionView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn cancel(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<crate::domain::ids::ActionId>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    command(caller, state, id.into_inner(), body, |by| Command::Cancel { by }).await
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Recovered {
    /// The sum over every succeeded action when they all recovered one currency (or none
    /// did: "0"); null when there are several, which are never added together.
    pub recovered: Option<crate::domain::money::Total>,
    /// That one currency; null when there is none or several.
    pub currency: Option<String>,
    /// How many actions recovered something.
    pub actions: usize,
    /// One sum per currency.
    pub by_currency: Vec<RecoveredIn>,
}

/// What succeeded actions recovered in one currency.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct RecoveredIn {
    pub currency: String,
    pub recovered: crate::domain::money::Total,
    pub actions: usize,
}

/// Cost recovered by every succeeded action, exactly, per currency (the currency of each
/// action's anomaly).
#[utoipa::path(get, path = "/api/v1/actions/recovered", tag = "actions",
    responses((status = 200, body = Recovered), (status = 401, body = ErrorBody)))]
pub async fn recovered(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Viewer)?;
    let sums = state.db.run(|c| store::recovered_per_currency(c).map_err(DbError::from)).await?;
    let by_currency: Vec<RecoveredIn> = sums
        .into_iter()
        .map(|r| RecoveredIn {
            currency: r.currency,
            recovered: crate::domain::money::Total::from_units(r.units),
            actions: r.actions,
        })
        .collect();
    let (recovered, currency) = match by_currency.as_slice() {
        [] => (Some(crate::domain::money::Total::ZERO), None),
        [one] => (Some(one.recovered), Some(one.currency.clone())),
        _ => (None, None),
    };
    let actions = by_currency.iter().map(|r| r.actions).sum();
    Ok(HttpResponse::Ok().json(Recovered { recovered, currency, actions, by_currency }))
}

//! The approval queue, one action, and Approve / Reject.

use super::{has_more, html, redirect, window, NoticeQuery};
use crate::approval::store::{self, CommandError};
use crate::dashboard::error::PageError;
use crate::dashboard::session::{Posted, Signed};
use crate::dashboard::views::actions::{self as view, Detail, Filters};
use crate::dashboard::DashboardState;
use crate::domain::approval::safety::{self, Context, Stage, Target};
use crate::domain::approval::{Command, Refusal, Status};
use crate::domain::role::Role;
use crate::state::AppState;
use actix_web::{web, HttpResponse};

pub async fn list(
    user: Signed,
    state: web::Data<AppState>,
    ui: web::Data<DashboardState>,
    q: web::Query<Filters>,
) -> Result<HttpResponse, PageError> {
    let f = q.into_inner();
    let status = match super::given(&f.status) {
        Some(s) => {
            Some(Status::parse(&s).ok_or_else(|| PageError::BadRequest(format!("'{s}' is not an action status")))?)
        }
        None => None,
    };
    let size = ui.settings.page_size;
    let (offset, limit) = window(f.page, size);
    let (queue, mut rows) = state
        .db
        .run(move |c| {
            let queue = store::list(c, Some(Status::PendingApproval), None, 100)?;
            let rows = store::list_page(c, status, None, limit, offset)?;
            Ok::<_, crate::db::DbError>((store::with_currencies(c, queue)?, store::with_currencies(c, rows)?))
        })
        .await?;
    let more = has_more(&mut rows, size);
    Ok(html(view::list(&user.0, &f, &queue, &rows, more)))
}

pub async fn detail(
    user: Signed,
    state: web::Data<AppState>,
    id: web::Path<crate::domain::ids::ActionId>,
    q: web::Query<NoticeQuery>,
) -> Result<HttpResponse, PageError> {
    let id = id.into_inner();
    let found = state
        .db
        .run(move |c| {
            let Some(a) = store::get(c, &id)? else { return Ok(None) };
            let history = store::history(c, &id)?;
            let tags = crate::ledger::query::resource_tags(c, &a.target)?;
            let Some((a, currency)) = store::with_currencies(c, vec![a])?.pop() else { return Ok(None) };
            Ok::<_, crate::db::DbError>(Some((a, history, tags, currency)))
        })
        .await?;
    let Some((action, history, tags, currency)) = found else {
        return Err(PageError::NotFound("no action with this id".into()));
    };
    let target = Target {
        provider: action.provider.clone().unwrap_or_default(),
        account: action.account.clone().unwrap_or_default(),
        resource_id: action.target.clone(),
        tags,
    };
    let ctx = Context { build_sha: crate::build_info::info().git_sha.to_string(), ..Context::default() };
    let checks = safety::check(&state.safety, &target, &ctx, Stage::Execution);
    let (mode, executor_plan) = state.runner.describe(&action);
    let mut plan = vec!["Check every safety rule again just before acting.".to_string()];
    match executor_plan {
        Some(p) => plan.push(p),
        None => plan.push(format!("No executor here handles {}: it would fail, changing nothing.", action.kind)),
    }
    plan.push("Verify the effect with the provider.".into());
    plan.push("Watch the series until its cost is back within the normal band, and count the cost recovered.".into());
    if mode == "dry_run" {
        plan.push("Dry run for this provider: the steps above are recorded, not performed.".into());
    }
    let machine = action.machine();
    let approvers_needed = state.approval.policy().approvers_needed(machine.risk);
    let approved_by = machine.approvals.len();
    let detail = Detail {
        action,
        currency,
        history,
        checks,
        plan,
        mode: mode.to_string(),
        approvers_needed,
        approved_by,
        notice: q.into_inner().notice,
    };
    Ok(html(view::detail(&user.0, &detail)))
}

#[derive(Debug, serde::Deserialize)]
pub struct CommentForm {
    comment: Option<String>,
}

async fn decide(
    posted: Posted<CommentForm>,
    state: web::Data<AppState>,
    id: crate::domain::ids::ActionId,
    make: impl FnOnce(String) -> Command,
    notice: &str,
) -> Result<HttpResponse, PageError> {
    posted.user.require(Role::Approver)?;
    let comment = super::given(&posted.form.comment);
    if comment.as_ref().is_some_and(|c| c.len() > 2_000) {
        return Err(PageError::BadRequest("the comment may have at most 2000 characters".into()));
    }
    let actor = posted.user.0.name.clone();
    let result = crate::approval::decide(
        &state.db,
        &state.bus,
        &state.approval,
        crate::approval::Decision {
            action_id: id.clone(),
            command: make(actor.clone()),
            actor,
            comment,
            at: state.clock.now(),
        },
    )
    .await?;
    match result {
        Ok(row) => Ok(redirect(&format!("/actions/{}?notice={notice}", row.id))),
        Err(CommandError::NotFound) => Err(PageError::NotFound("no action with this id".into())),
        Err(CommandError::Refused(Refusal::OwnProposal)) => Err(PageError::Forbidden(Refusal::OwnProposal.to_string())),
        Err(CommandError::Refused(r)) => Err(PageError::Conflict(r.to_string())),
        Err(CommandError::Conflict) => Err(PageError::Conflict(CommandError::Conflict.to_string())),
        Err(CommandError::Db(e)) => Err(PageError::internal(e)),
    }
}

pub async fn approve(
    posted: Posted<CommentForm>,
    state: web::Data<AppState>,
    id: web::Path<crate::domain::ids::ActionId>,
) -> Result<HttpResponse, PageError> {
    decide(posted, state, id.into_inner(), |by| Command::Approve { by }, "approved").await
}

pub async fn reject(
    posted: Posted<CommentForm>,
    state: web::Data<AppState>,
    id: web::Path<crate::domain::ids::ActionId>,
) -> Result<HttpResponse, PageError> {
    decide(posted, state, id.into_inner(), |by| Command::Reject { by }, "rejected").await
}

//! Anomaly pages and the feedback form.

use super::{has_more, html, redirect, window, NoticeQuery};
use crate::approval::store as actions;
use crate::dashboard::error::PageError;
use crate::dashboard::session::{Posted, Signed};
use crate::dashboard::views::anomalies::{self as view, Detail, Filters};
use crate::dashboard::DashboardState;
use crate::detect::chart;
use crate::detect::store::{self, Feedback, ListFilter};
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
    let size = ui.settings.page_size;
    let (offset, limit) = window(f.page, size);
    let filter = ListFilter {
        state: super::given(&f.state),
        severity: super::given(&f.severity),
        provider: super::given(&f.provider),
        limit,
        offset,
        ..ListFilter::default()
    };
    let mut rows = state.db.run(move |c| store::list(c, &filter).map_err(crate::db::DbError::from)).await?;
    let more = has_more(&mut rows, size);
    Ok(html(view::list(&user.0, &f, &rows, more)))
}

pub async fn detail(
    user: Signed,
    state: web::Data<AppState>,
    id: web::Path<crate::domain::ids::AnomalyId>,
    q: web::Query<NoticeQuery>,
) -> Result<HttpResponse, PageError> {
    let (id, settings, now) = (id.into_inner(), state.detect.clone(), state.clock.now());
    let found = state
        .db
        .run(move |c| {
            let Some(anomaly) = store::get(c, &id)? else { return Ok(None) };
            let chart = chart::for_anomaly(c, &settings, &anomaly, now)?;
            let events = store::events(c, &id)?;
            let actions = actions::list(c, None, Some(&id), 100)?;
            let also_affected = store::also_affected(c, &id)?;
            Ok::<_, crate::db::DbError>(Some((anomaly, chart, events, actions, also_affected)))
        })
        .await?;
    let Some((anomaly, chart, events, actions, also_affected)) = found else {
        return Err(PageError::NotFound("no anomaly with this id".into()));
    };
    let causes = anomaly.root_causes();
    let notice = q.into_inner().notice;
    let detail = Detail { anomaly, chart, causes, events, actions, also_affected, notice };
    Ok(html(view::detail(&user.0, &detail)))
}

#[derive(Debug, serde::Deserialize)]
pub struct FeedbackForm {
    kind: String,
    suppress_days: Option<String>,
}

pub async fn feedback(
    posted: Posted<FeedbackForm>,
    state: web::Data<AppState>,
    id: web::Path<crate::domain::ids::AnomalyId>,
) -> Result<HttpResponse, PageError> {
    posted.user.require(Role::Approver)?;
    let days = match super::given(&posted.form.suppress_days) {
        None => None,
        Some(d) => Some(
            d.parse::<u32>()
                .map_err(|_| PageError::BadRequest("suppress_days must be a whole number of days".into()))?,
        ),
    };
    let now = state.clock.now();
    let feedback = Feedback::parse(&posted.form.kind, days, now)
        .map_err(|(field, m)| PageError::BadRequest(format!("{field} {m}")))?;
    let (id, actor) = (id.into_inner(), posted.user.0.name.clone());
    let target = id.clone();
    let row = state
        .db
        .run(move |c| store::add_feedback(c, &target, feedback, &actor, None, now).map_err(crate::db::DbError::from))
        .await?;
    match row {
        Some(_) => Ok(redirect(&format!("/anomalies/{id}?notice=feedback"))),
        None => Err(PageError::NotFound("no anomaly with this id".into())),
    }
}

#[derive(Debug, serde::Deserialize)]
pub struct ResolveForm {}

/// Resolves a manual anomaly by hand (approvers).
pub async fn resolve(
    posted: Posted<ResolveForm>,
    state: web::Data<AppState>,
    id: web::Path<crate::domain::ids::AnomalyId>,
) -> Result<HttpResponse, PageError> {
    posted.user.require(Role::Approver)?;
    let (id, actor, now) = (id.into_inner(), posted.user.0.name.clone(), state.clock.now());
    let target = id.clone();
    let result = state
        .db
        .run(move |c| store::resolve_manual(c, &target, &actor, None, now).map_err(crate::db::DbError::from))
        .await?;
    match result {
        Some(Ok(_)) => Ok(redirect(&format!("/anomalies/{id}?notice=resolved"))),
        Some(Err(refusal)) => Err(PageError::Conflict(refusal.to_string())),
        None => Err(PageError::NotFound("no anomaly with this id".into())),
    }
}

//! Users (admins): list, add, change role or password, disable.

use super::{redirect, NoticeQuery};
use crate::auth::users::{self, UserError};
use crate::dashboard::error::PageError;
use crate::dashboard::session::{Posted, Signed};
use crate::dashboard::views::settings as view;
use crate::dashboard::DashboardState;
use crate::db::DbError;
use crate::domain::role::Role;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};

async fn page(
    user: &Signed,
    state: &AppState,
    ui: &DashboardState,
    status: StatusCode,
    error: Option<&str>,
    note: Option<&str>,
    page: Option<u32>,
) -> Result<HttpResponse, PageError> {
    let size = ui.settings.page_size;
    let (offset, limit) = super::window(page, size);
    let mut rows = state.db.run(move |c| users::list_page(c, offset, limit).map_err(DbError::from)).await?;
    let paging = (page.unwrap_or(1), super::has_more(&mut rows, size));
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(view::users(&user.0, &rows, error, note, paging).into_string()))
}

pub async fn list(
    user: Signed,
    state: web::Data<AppState>,
    ui: web::Data<DashboardState>,
    q: web::Query<NoticeQuery>,
) -> Result<HttpResponse, PageError> {
    user.require(Role::Admin)?;
    page(&user, &state, &ui, StatusCode::OK, None, q.notice.as_deref(), q.page).await
}

fn role(text: &str) -> Result<Role, PageError> {
    text.parse().map_err(|e: crate::domain::role::UnknownRole| PageError::BadRequest(e.to_string()))
}

/// A user error the admin can fix is shown on the page (422); the rest are failures.
async fn outcome(
    user: &Signed,
    state: &AppState,
    ui: &DashboardState,
    result: Result<users::User, UserError>,
    notice: &str,
) -> Result<HttpResponse, PageError> {
    match result {
        Ok(_) => Ok(redirect(&format!("/settings/users?notice={notice}"))),
        Err(UserError::Db(e)) => Err(PageError::from(e)),
        Err(UserError::Hash(e)) => Err(PageError::internal(e)),
        Err(e) => page(user, state, ui, StatusCode::UNPROCESSABLE_ENTITY, Some(&e.to_string()), None, None).await,
    }
}

#[derive(Debug, serde::Deserialize)]
pub struct NewUser {
    name: String,
    role: String,
    password: String,
}

pub async fn create(
    posted: Posted<NewUser>,
    state: web::Data<AppState>,
    ui: web::Data<DashboardState>,
) -> Result<HttpResponse, PageError> {
    posted.user.require(Role::Admin)?;
    let role = role(&posted.form.role)?;
    let (name, password, by) = (posted.form.name.clone(), posted.form.password.clone(), posted.user.0.name.clone());
    let result = state
        .db
        .run(move |c| {
            let created = users::create(c, &name, role, &password);
            if let Ok(u) = &created {
                let detail = format!("role {}", u.role);
                crate::audit::note(c, &by, "user.create", &u.name, &detail)?;
            }
            Ok::<_, DbError>(created)
        })
        .await?;
    outcome(&posted.user, &state, &ui, result, "created").await
}

#[derive(Debug, serde::Deserialize)]
pub struct UserChange {
    role: String,
    disabled: Option<String>,
    password: Option<String>,
}

pub async fn update(
    posted: Posted<UserChange>,
    state: web::Data<AppState>,
    ui: web::Data<DashboardState>,
    id: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    posted.user.require(Role::Admin)?;
    let role = role(&posted.form.role)?;
    let disabled = posted.form.disabled.as_deref() == Some("true");
    let password = super::given(&posted.form.password);
    let (id, by) = (id.into_inner(), posted.user.0.name.clone());
    let result = state
        .db
        .run(move |c| {
            let changed =
                users::set_role(c, &id, role).and_then(|u| users::set_disabled(c, &u.id, disabled)).and_then(|u| {
                    match &password {
                        Some(p) => users::set_password(c, &u.id, p),
                        None => Ok(u),
                    }
                });
            if let Ok(u) = &changed {
                let detail = format!(
                    "role {}, disabled {disabled}, password {}",
                    u.role,
                    if password.is_some() { "changed" } else { "kept" }
                );
                crate::audit::note(c, &by, "user.update", &u.name, &detail)?;
            }
            Ok::<_, DbError>(changed)
        })
        .await?;
    outcome(&posted.user, &state, &ui, result, "saved").await
}

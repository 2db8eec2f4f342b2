//! API keys (admins): create (the secret is shown once), list with last use, revoke.

use super::{html, redirect, NoticeQuery};
use crate::auth::api_keys::{self, KeyError};
use crate::dashboard::error::PageError;
use crate::dashboard::session::{Posted, Signed};
use crate::dashboard::views::settings as view;
use crate::dashboard::DashboardState;
use crate::db::DbError;
use crate::domain::role::Role;
use crate::state::AppState;
use actix_web::{web, HttpResponse};

pub async fn list(
    user: Signed,
    state: web::Data<AppState>,
    ui: web::Data<DashboardState>,
    q: web::Query<NoticeQuery>,
) -> Result<HttpResponse, PageError> {
    user.require(Role::Admin)?;
    let size = ui.settings.page_size;
    let (offset, limit) = super::window(q.page, size);
    let mut keys =
        state.db.run(move |c| api_keys::list_page(c, offset, limit).map_err(|e| DbError::Other(e.to_string()))).await?;
    let more = super::has_more(&mut keys, size);
    Ok(html(view::api_keys(&user.0, &keys, None, None, q.notice.as_deref(), (q.page.unwrap_or(1), more))))
}

#[derive(Debug, serde::Deserialize)]
pub struct NewKey {
    name: String,
    role: String,
}

fn audit(c: &mut crate::db::DbConn, by: &str, action: &str, key: &api_keys::ApiKey) -> diesel::QueryResult<()> {
    let detail = format!("role {}", key.role);
    crate::audit::note(c, by, action, &key.name, &detail).map(|_| ())
}

pub async fn create(
    posted: Posted<NewKey>,
    state: web::Data<AppState>,
    ui: web::Data<DashboardState>,
) -> Result<HttpResponse, PageError> {
    posted.user.require(Role::Admin)?;
    let role: Role =
        posted.form.role.parse().map_err(|e: crate::domain::role::UnknownRole| PageError::BadRequest(e.to_string()))?;
    let (name, by) = (posted.form.name.clone(), posted.user.0.name.clone());
    let size = ui.settings.page_size;
    let (created, keys) = state
        .db
        .run(move |c| {
            let created = api_keys::create(c, &name, role);
            if let Ok((key, _)) = &created {
                audit(c, &by, "apikey.create", key)?;
            }
            let keys = api_keys::list_page(c, 0, i64::from(size)).map_err(|e| DbError::Other(e.to_string()))?;
            Ok::<_, DbError>((created, keys))
        })
        .await?;
    match created {
        // Shown in this answer only; reloading the page does not show it again.
        Ok((key, secret)) => {
            Ok(html(view::api_keys(&posted.user.0, &keys, Some((&key, &secret)), None, None, (1, false))))
        }
        Err(KeyError::Db(e)) => Err(PageError::from(e)),
        Err(e) => Ok(HttpResponse::UnprocessableEntity()
            .content_type("text/html; charset=utf-8")
            .body(view::api_keys(&posted.user.0, &keys, None, Some(&e.to_string()), None, (1, false)).into_string())),
    }
}

pub async fn revoke(
    posted: Posted<super::NoFields>,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    posted.user.require(Role::Admin)?;
    let (id, by) = (id.into_inner(), posted.user.0.name.clone());
    let result = state
        .db
        .run(move |c| {
            let revoked = api_keys::revoke(c, &id);
            if let Ok(key) = &revoked {
                audit(c, &by, "apikey.revoke", key)?;
            }
            Ok::<_, DbError>(revoked)
        })
        .await?;
    match result {
        Ok(_) => Ok(redirect("/settings/api-keys?notice=revoked")),
        Err(KeyError::NotFound(_)) => Err(PageError::NotFound("no API key with this id".into())),
        Err(e) => Err(PageError::internal(e)),
    }
}

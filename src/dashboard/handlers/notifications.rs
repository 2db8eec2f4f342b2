//! Settings → Notifications (admins): the destinations in force with their routes (never
//! their URLs or secrets), the write-only form for the secrets config.toml marks "stored",
//! and the latest messages with their delivery state.

use super::{html, redirect, NoticeQuery};
use crate::credentials;
use crate::dashboard::error::PageError;
use crate::dashboard::session::{Posted, Signed};
use crate::dashboard::views::notifications as view;
use crate::dashboard::DashboardState;
use crate::db::DbError;
use crate::domain::role::Role;
use crate::notify::secrets;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use chrono::Utc;
use std::collections::{BTreeMap, HashMap};

/// Messages shown, newest first.
const RECENT: i64 = 50;

pub async fn page(
    user: Signed,
    state: web::Data<AppState>,
    ui: web::Data<DashboardState>,
    q: web::Query<NoticeQuery>,
) -> Result<HttpResponse, PageError> {
    user.require(Role::Admin)?;
    let names: Vec<String> = ui.notify_routes.iter().filter(|d| !d.stored.is_empty()).map(|d| d.name.clone()).collect();
    let (stored, recent) = state
        .db
        .run(move |c| {
            let mut stored = BTreeMap::new();
            for name in names {
                let status = credentials::status(c, &secrets::owner(&name))?;
                stored.insert(name, status);
            }
            Ok::<_, DbError>((stored, crate::notify::store::recent(c, RECENT)?))
        })
        .await?;
    Ok(html(view::page(&user.0, &ui.notify_routes, &stored, &recent, q.notice.as_deref())))
}

/// Stores the given secrets of one destination, encrypted; only the fields config.toml
/// marks "stored", and an empty field keeps what is there.
pub async fn save_secrets(
    posted: Posted<HashMap<String, String>>,
    state: web::Data<AppState>,
    ui: web::Data<DashboardState>,
    name: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    posted.user.require(Role::Admin)?;
    let destination = ui
        .notify_routes
        .iter()
        .find(|d| d.name == *name && !d.stored.is_empty())
        .ok_or_else(|| PageError::NotFound(format!("no destination '{name}' takes secrets here")))?;
    let values: Vec<(&'static str, String)> = destination
        .stored
        .iter()
        .filter_map(|f| posted.form.get(*f).filter(|v| !v.trim().is_empty()).map(|v| (*f, v.trim().to_string())))
        .collect();
    if values.iter().any(|(_, v)| v.len() > 64 * 1024) {
        return Err(PageError::BadRequest("a secret may have at most 64 KiB".into()));
    }
    let (cipher, by, owner) = (state.cipher.clone(), posted.user.0.name.clone(), secrets::owner(&destination.name));
    let name = destination.name.clone();
    state
        .db
        .run(move |c| {
            crate::db::write_transaction(c, |c| {
                for (field, value) in &values {
                    credentials::set(c, &cipher, &owner, field, value, &by, Utc::now())
                        .map_err(|e| DbError::Other(e.to_string()))?;
                }
                let names: Vec<&str> = values.iter().map(|(f, _)| *f).collect();
                crate::audit::note_in(c, &by, "notify.secrets", &owner, &format!("set {}", names.join(", ")))?;
                // What waited for the secret goes now, not after its backoff (up to an hour).
                if !values.is_empty() {
                    crate::notify::store::retry_now(c, &name, Utc::now())?;
                }
                Ok::<_, DbError>(())
            })
        })
        .await?;
    state.bus.nudge_notifier();
    Ok(redirect(&format!("/settings/notifications?notice=saved#destination-{}", destination.name)))
}

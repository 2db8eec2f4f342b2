//! Settings → Notifications (admins): the destinations in force with their routes (never
//! their URLs or secrets) and the latest messages with their delivery state.

use super::html;
use crate::dashboard::error::PageError;
use crate::dashboard::session::Signed;
use crate::dashboard::views::notifications as view;
use crate::dashboard::DashboardState;
use crate::db::DbError;
use crate::domain::role::Role;
use crate::state::AppState;
use actix_web::{web, HttpResponse};

/// Messages shown, newest first.
const RECENT: i64 = 50;

pub async fn page(
    user: Signed,
    state: web::Data<AppState>,
    ui: web::Data<DashboardState>,
) -> Result<HttpResponse, PageError> {
    user.require(Role::Admin)?;
    let recent = state.db.run(|c| crate::notify::store::recent(c, RECENT).map_err(DbError::from)).await?;
    Ok(html(view::page(&user.0, &ui.notify_routes, &recent)))
}

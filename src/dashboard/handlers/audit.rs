//! The audit log page.

use super::{has_more, html, window};
use crate::dashboard::error::PageError;
use crate::dashboard::session::Signed;
use crate::dashboard::views::audit::{self as view, Filters};
use crate::dashboard::DashboardState;
use crate::state::AppState;
use actix_web::{web, HttpResponse};

pub async fn page(
    user: Signed,
    state: web::Data<AppState>,
    ui: web::Data<DashboardState>,
    q: web::Query<Filters>,
) -> Result<HttpResponse, PageError> {
    let f = q.into_inner();
    let size = ui.settings.page_size;
    let (offset, limit) = window(f.page, size);
    let (actor, action) = (super::given(&f.actor), super::given(&f.action));
    let (mut entries, verdict) = state
        .db
        .run(move |c| {
            let entries = crate::audit::search(c, actor.as_deref(), action.as_deref(), offset, limit)?;
            let verdict = crate::audit::verify(c)?.map_err(|b| b.to_string());
            Ok::<_, crate::db::DbError>((entries, verdict))
        })
        .await?;
    let more = has_more(&mut entries, size);
    Ok(html(view::render(&user.0, &f, &entries, more, &verdict)))
}

//! Dashboard handlers, one file per area: extract (session, form), authorize (role), call the
//! module that owns the data, render a view or redirect (POST -> redirect -> GET).

pub mod actions;
pub mod anomalies;
pub mod api_keys;
pub mod audit;
pub mod budgets;
pub mod llm;
pub mod login;
pub mod notifications;
pub mod overview;
pub mod settings;
pub mod users;

use actix_web::http::header;
use actix_web::HttpResponse;
use maud::Markup;

pub fn html(markup: Markup) -> HttpResponse {
    HttpResponse::Ok().content_type("text/html; charset=utf-8").body(markup.into_string())
}

pub fn redirect(to: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header((header::LOCATION, to.to_string())).finish()
}

/// (offset, limit + 1) for a 1-based page: the extra row tells whether there is a next page.
pub fn window(page: Option<u32>, size: u32) -> (i64, i64) {
    let page = i64::from(page.unwrap_or(1).max(1));
    ((page - 1) * i64::from(size), i64::from(size) + 1)
}

/// Trims the probe row off; returns whether there was one.
pub fn has_more<T>(rows: &mut Vec<T>, size: u32) -> bool {
    let more = rows.len() > size as usize;
    rows.truncate(size as usize);
    more
}

/// Empty form fields mean "not given".
pub fn given(value: &Option<String>) -> Option<String> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_string)
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct NoticeQuery {
    pub notice: Option<String>,
    /// For pages that hold a list.
    pub page: Option<u32>,
}

/// A form whose only field is the CSRF token (checked by `Posted`).
#[derive(Debug, serde::Deserialize)]
pub struct NoFields {}

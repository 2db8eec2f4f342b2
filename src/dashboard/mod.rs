//! The browser dashboard: server-rendered maud pages that work without JavaScript, for
//! people signed in with a session (the JSON API stays on API keys).
//!
//! Handlers (one file per area) follow extract -> authorize -> call a module -> render;
//! views are pure functions from data to `Markup`, tested without a server. Every
//! state-changing form carries the session's CSRF token, checked by [`session::Posted`].

pub mod assets;
pub mod error;
pub mod handlers;
pub mod session;
mod settings;
pub mod views;

pub use settings::DashboardSettings;

use actix_web::web;

/// What only the dashboard's handlers read, beside the shared `AppState` (registered as its
/// own app data, so the shared state holds no dashboard type).
#[derive(Clone)]
pub struct DashboardState {
    pub settings: DashboardSettings,
    /// The notification destinations and routes, for the notifications page (no URLs or
    /// secrets).
    pub notify_routes: Vec<views::notifications::DestinationView>,
}

/// Registers every dashboard route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    use handlers::*;
    cfg.route("/", web::get().to(overview::page))
        .route("/static/{name}", web::get().to(assets::serve))
        .route("/login", web::get().to(login::form))
        .route("/login", web::post().to(login::submit))
        .route("/logout", web::post().to(login::logout))
        .route("/setup", web::get().to(login::setup_form))
        .route("/setup", web::post().to(login::setup_submit))
        .route("/anomalies", web::get().to(anomalies::list))
        .route("/anomalies/{id}", web::get().to(anomalies::detail))
        .route("/anomalies/{id}/feedback", web::post().to(anomalies::feedback))
        .route("/anomalies/{id}/resolve", web::post().to(anomalies::resolve))
        .route("/actions", web::get().to(actions::list))
        .route("/actions/{id}", web::get().to(actions::detail))
        .route("/actions/{id}/approve", web::post().to(actions::approve))
        .route("/actions/{id}/reject", web::post().to(actions::reject))
        .route("/audit", web::get().to(audit::page))
        .route("/llm", web::get().to(llm::page))
        .route("/settings", web::get().to(settings::index))
        .route("/settings/providers", web::get().to(settings::providers))
        .route("/settings/providers/{name}", web::post().to(settings::save_provider))
        .route("/settings/providers/{name}/credentials", web::post().to(settings::save_credentials))
        .route("/settings/providers/{name}/test", web::post().to(settings::test_provider))
        .route("/settings/demo/reseed", web::post().to(settings::reseed_demo))
        .route("/settings/safety", web::get().to(settings::safety))
        .route("/settings/budgets", web::get().to(budgets::page))
        .route("/settings/budgets", web::post().to(budgets::create))
        .route("/settings/budgets/{id}/delete", web::post().to(budgets::delete))
        .route("/settings/notifications", web::get().to(notifications::page))
        .route("/settings/notifications/{name}/secrets", web::post().to(notifications::save_secrets))
        .route("/settings/users", web::get().to(users::list))
        .route("/settings/users", web::post().to(users::create))
        .route("/settings/users/{id}", web::post().to(users::update))
        .route("/settings/api-keys", web::get().to(api_keys::list))
        .route("/settings/api-keys", web::post().to(api_keys::create))
        .route("/settings/api-keys/{id}/revoke", web::post().to(api_keys::revoke));
}

/// Browser hardening for HTML answers: no framing, no sniffing, and a content security
/// policy that allows only this server's own scripts, styles and forms (no inline script).
pub fn security_headers(res: &mut actix_web::dev::ServiceResponse) {
    use actix_web::http::header::{HeaderName, HeaderValue};
    let html = res
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    // Swagger UI (under /docs) brings its own inline scripts.
    if !html || res.request().path().starts_with("/docs") {
        return;
    }
    let headers = res.headers_mut();
    for (name, value) in [
        (
            "content-security-policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "same-origin"),
        ("cache-control", "no-store"),
    ] {
        headers.insert(HeaderName::from_static(name), HeaderValue::from_static(value));
    }
}

/// Starts the sessions' housekeeping: expired sessions are deleted on
/// `session_purge_schedule` (they are refused from the moment they expire).
pub async fn spawn(ctx: &crate::worker::Context, settings: &DashboardSettings) -> anyhow::Result<()> {
    let db = ctx.db.clone();
    ctx.every(&settings.session_purge_schedule, true, move || {
        let db = db.clone();
        async move {
            let purged = db
                .run(|c| crate::auth::sessions::purge_expired(c, chrono::Utc::now()).map_err(crate::db::DbError::from))
                .await;
            if let Err(e) = purged {
                tracing::warn!(error = %e, "could not purge expired sessions");
            }
        }
    })
    .await
}

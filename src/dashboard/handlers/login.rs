//! Log-in, log-out and the first-admin set-up link.

use super::redirect;
use crate::auth::login::{self, Outcome};
use crate::auth::{random_token, sessions, setup};
use crate::dashboard::error::PageError;
use crate::dashboard::session::{cookie, removal, tokens_match, Client, Posted, LOGIN_CSRF_COOKIE, SESSION_COOKIE};
use crate::dashboard::views;
use crate::dashboard::DashboardState;
use crate::db::DbError;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;
use serde::Deserialize;

/// Only paths on this site, so the log-in page cannot bounce people elsewhere.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.starts_with("/\\") => n.to_string(),
        _ => "/".into(),
    }
}

/// This browser's pre-log-in CSRF token, and whether the cookie must be (re)set.
fn login_csrf(req: &HttpRequest) -> (String, bool) {
    match req.cookie(LOGIN_CSRF_COOKIE).map(|c| c.value().to_string()).filter(|v| v.len() == 64) {
        Some(token) => (token, false),
        None => (random_token(), true),
    }
}

fn form_page(
    ui: &DashboardState,
    req: &HttpRequest,
    status: StatusCode,
    render: impl FnOnce(&str) -> maud::Markup,
) -> HttpResponse {
    let (token, fresh) = login_csrf(req);
    let mut res = HttpResponse::build(status);
    res.content_type("text/html; charset=utf-8");
    if fresh {
        res.cookie(cookie(LOGIN_CSRF_COOKIE, token.clone(), ui.settings.cookies_secure(), None));
    }
    res.body(render(&token).into_string())
}

#[derive(Debug, Default, Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

pub async fn form(ui: web::Data<DashboardState>, req: HttpRequest, q: web::Query<NextQuery>) -> HttpResponse {
    let next = safe_next(q.next.as_deref());
    form_page(&ui, &req, StatusCode::OK, |t| views::login::login(t, &next, None))
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf: String,
    name: String,
    password: String,
    next: Option<String>,
}

fn pre_login_csrf_ok(req: &HttpRequest, sent: &str) -> bool {
    req.cookie(LOGIN_CSRF_COOKIE).is_some_and(|c| tokens_match(c.value(), sent))
}

/// Starts a session for `user` and sends the browser on.
async fn signed_in(
    state: &AppState,
    ui: &DashboardState,
    user: crate::auth::users::User,
    notice: Option<String>,
    to: &str,
) -> Result<HttpResponse, PageError> {
    let life = ui.settings.lifetime();
    let token =
        state.db.run(move |c| sessions::start(c, &user, life, Utc::now(), notice).map_err(DbError::from)).await?;
    let secure = ui.settings.cookies_secure();
    let mut res = redirect(to);
    res.add_cookie(&cookie(SESSION_COOKIE, token, secure, Some(life.absolute))).map_err(PageError::internal)?;
    res.add_cookie(&removal(LOGIN_CSRF_COOKIE, secure)).map_err(PageError::internal)?;
    Ok(res)
}

pub async fn submit(
    state: web::Data<AppState>,
    ui: web::Data<DashboardState>,
    req: HttpRequest,
    client: Client,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.into_inner();
    let next = safe_next(form.next.as_deref());
    if !pre_login_csrf_ok(&req, &form.csrf) {
        return Err(PageError::Csrf);
    }
    let limits = ui.settings.login_limits();
    let (name, password, address) = (form.name.clone(), form.password, client.0);
    let client_address = address.clone();
    let outcome = state
        .db
        .run(move |c| login::attempt(c, &name, &password, &address, limits, Utc::now()).map_err(DbError::from))
        .await?;
    match outcome {
        Outcome::Success { user, notice } => {
            tracing::info!(user = %user.name, failed_attempts_noticed = notice.is_some(), "logged in");
            signed_in(&state, &ui, *user, notice, &next).await
        }
        Outcome::Invalid => {
            tracing::info!(user = %form.name, "failed log-in");
            Ok(form_page(&ui, &req, StatusCode::UNAUTHORIZED, |t| {
                views::login::login(t, &next, Some("Wrong user name or password."))
            }))
        }
        Outcome::Throttled { retry_after_secs } => {
            tracing::warn!(user = %form.name, address = %client_address, retry_after_secs, "log-in throttled");
            let message = match retry_after_secs {
                s if s < 60 => format!("Too many failed attempts. Try again in {s} second(s)."),
                s => format!("Too many failed attempts. Try again in {} minute(s).", (s + 59) / 60),
            };
            let mut res =
                form_page(&ui, &req, StatusCode::TOO_MANY_REQUESTS, |t| views::login::login(t, &next, Some(&message)));
            if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&retry_after_secs.to_string()) {
                res.headers_mut().insert(actix_web::http::header::RETRY_AFTER, v);
            }
            Ok(res)
        }
    }
}

pub async fn logout(
    state: web::Data<AppState>,
    ui: web::Data<DashboardState>,
    req: HttpRequest,
    _posted: Posted<super::NoFields>,
) -> Result<HttpResponse, PageError> {
    if let Some(token) = req.cookie(SESSION_COOKIE).map(|c| c.value().to_string()) {
        state.db.run(move |c| sessions::end(c, &token).map_err(DbError::from)).await?;
    }
    let mut res = redirect("/login");
    res.add_cookie(&removal(SESSION_COOKIE, ui.settings.cookies_secure())).map_err(PageError::internal)?;
    Ok(res)
}

#[derive(Debug, Default, Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

async fn setup_valid(state: &AppState, token: &str) -> Result<bool, PageError> {
    let token = token.to_string();
    Ok(state.db.run(move |c| setup::is_valid(c, &token).map_err(DbError::from)).await?)
}

pub async fn setup_form(
    state: web::Data<AppState>,
    ui: web::Data<DashboardState>,
    req: HttpRequest,
    q: web::Query<TokenQuery>,
) -> Result<HttpResponse, PageError> {
    let token = q.token.clone().unwrap_or_default();
    if !setup_valid(&state, &token).await? {
        return Err(PageError::NotFound(setup::SetupError::Spent.to_string()));
    }
    Ok(form_page(&ui, &req, StatusCode::OK, |t| views::login::setup(t, &token, None)))
}

#[derive(Debug, Deserialize)]
pub struct SetupForm {
    #[serde(default)]
    csrf: String,
    token: String,
    name: String,
    password: String,
}

pub async fn setup_submit(
    state: web::Data<AppState>,
    ui: web::Data<DashboardState>,
    req: HttpRequest,
    form: web::Form<SetupForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.into_inner();
    if !pre_login_csrf_ok(&req, &form.csrf) {
        return Err(PageError::Csrf);
    }
    let (token, name, password) = (form.token.clone(), form.name, form.password);
    let created = state
        .db
        .run(move |c| {
            let created = setup::create_admin(c, &token, &name, &password, Utc::now());
            if let Ok(user) = &created {
                crate::audit::note(c, &user.name, "user.create", &user.name, "role admin, through the setup link")?;
            }
            Ok::<_, DbError>(created)
        })
        .await?;
    match created {
        Ok(user) => {
            tracing::info!(user = %user.name, "first admin created through the setup link");
            signed_in(&state, &ui, user, None, "/").await
        }
        Err(setup::SetupError::Spent) => Err(PageError::NotFound(setup::SetupError::Spent.to_string())),
        Err(e) => {
            let message = e.to_string();
            Ok(form_page(&ui, &req, StatusCode::UNPROCESSABLE_ENTITY, |t| {
                views::login::setup(t, &form.token, Some(&message))
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(super::safe_next(Some("/actions/1")), "/actions/1");
        assert_eq!(super::safe_next(Some("//evil.example")), "/");
        assert_eq!(super::safe_next(Some("https://evil.example")), "/");
        assert_eq!(super::safe_next(None), "/");
    }
}

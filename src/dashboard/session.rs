//! Extractors for dashboard handlers.
//! - [`Signed`]: the signed-in user, or a redirect to the log-in page.
//! - [`Posted<T>`]: a state-changing form from a signed-in user, refused (403, nothing
//!   changed) unless it carries the session's CSRF token.
//! - [`Client`]: the address log-in limits count against.

use super::error::PageError;
use crate::auth::sessions::{self, SessionUser};
use crate::dashboard::DashboardState;
use crate::domain::role::Role;
use crate::state::AppState;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

pub const SESSION_COOKIE: &str = "costguard_session";
/// Before log-in there is no session to hold a CSRF token, so the log-in and setup forms use
/// a double-submit cookie instead.
pub const LOGIN_CSRF_COOKIE: &str = "costguard_login_csrf";

/// A signed-in user.
#[derive(Debug, Clone)]
pub struct Signed(pub SessionUser);

impl Signed {
    pub fn require(&self, needed: Role) -> Result<(), PageError> {
        if self.0.role.allows(needed) {
            Ok(())
        } else {
            Err(PageError::Forbidden(format!("this page needs the {needed} role; you are {}", self.0.role)))
        }
    }
}

fn state(req: &HttpRequest) -> Result<web::Data<AppState>, PageError> {
    req.app_data::<web::Data<AppState>>().cloned().ok_or_else(|| PageError::internal("application state missing"))
}

fn ui(req: &HttpRequest) -> Result<web::Data<DashboardState>, PageError> {
    req.app_data::<web::Data<DashboardState>>().cloned().ok_or_else(|| PageError::internal("dashboard state missing"))
}

async fn signed(req: HttpRequest) -> Result<Signed, PageError> {
    let next = req.uri().path_and_query().map_or("/".to_string(), |p| p.to_string());
    let next = if req.method() == actix_web::http::Method::GET { next } else { "/".to_string() };
    let token = req.cookie(SESSION_COOKIE).map(|c| c.value().to_string());
    let Some(token) = token else { return Err(PageError::SignIn { next }) };
    let state = state(&req)?;
    let life = ui(&req)?.settings.lifetime();
    let found = state
        .db
        .run(move |c| sessions::resume(c, &token, life, chrono::Utc::now()).map_err(crate::db::DbError::from))
        .await?;
    found.map(Signed).ok_or(PageError::SignIn { next })
}

impl FromRequest for Signed {
    type Error = PageError;
    type Future = LocalBoxFuture<'static, Result<Signed, PageError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        Box::pin(signed(req.clone()))
    }
}

#[derive(serde::Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf: String,
}

/// Constant-time comparison, so the token cannot be guessed byte by byte from timings.
pub fn tokens_match(a: &str, b: &str) -> bool {
    a.len() == b.len() && !a.is_empty() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A form post from a signed-in user with a valid CSRF token.
pub struct Posted<T> {
    pub user: Signed,
    pub form: T,
}

impl<T: DeserializeOwned + 'static> FromRequest for Posted<T> {
    type Error = PageError;
    type Future = LocalBoxFuture<'static, Result<Posted<T>, PageError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let body = web::Bytes::from_request(&req, payload);
        Box::pin(async move {
            let user = signed(req).await?;
            let body = body.await.map_err(|e| PageError::BadRequest(e.to_string()))?;
            let field: CsrfField = serde_urlencoded::from_bytes(&body).map_err(|_| PageError::Csrf)?;
            if !tokens_match(&field.csrf, &user.0.csrf_token) {
                return Err(PageError::Csrf);
            }
            let form =
                serde_urlencoded::from_bytes(&body).map_err(|e| PageError::BadRequest(format!("bad form: {e}")))?;
            Ok(Posted { user, form })
        })
    }
}

/// The client address: the TCP peer, or the proxy's forwarded address when configured.
pub struct Client(pub String);

impl FromRequest for Client {
    type Error = PageError;
    type Future = std::future::Ready<Result<Client, PageError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let trust = req.app_data::<web::Data<DashboardState>>().is_some_and(|s| s.settings.trust_forwarded_for);
        let address = if trust {
            req.connection_info().realip_remote_addr().map(str::to_string)
        } else {
            req.peer_addr().map(|a| a.ip().to_string())
        };
        std::future::ready(Ok(Client(address.unwrap_or_else(|| "unknown".into()))))
    }
}

/// A cookie the way every dashboard cookie is set: HttpOnly, SameSite=Lax, path /, Secure
/// when configured. `None` for max_age makes a browser-session cookie.
pub fn cookie(name: &'static str, value: String, secure: bool, max_age: Option<chrono::Duration>) -> Cookie<'static> {
    let mut c = Cookie::build(name, value).path("/").http_only(true).same_site(SameSite::Lax).secure(secure).finish();
    if let Some(age) = max_age {
        c.set_max_age(actix_web::cookie::time::Duration::seconds(age.num_seconds()));
    }
    c
}

/// A cookie that removes `name`.
pub fn removal(name: &'static str, secure: bool) -> Cookie<'static> {
    let mut c = cookie(name, String::new(), secure, None);
    c.make_removal();
    c
}

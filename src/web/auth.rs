//! The `Caller` extractor: a valid `Authorization: Bearer <api key>` or 401.
//! Handlers then call `caller.require(Role::...)`, which answers 403 when too weak.
//! Handlers that take a body use [`WithBody`], which checks the approver role before it reads
//! the body, so a caller without the right gets 403 whatever they sent.

use super::error::ApiError;
use crate::auth::api_keys::{self, Rejected};
use crate::domain::role::Role;
use crate::state::AppState;
use actix_web::dev::Payload;
use actix_web::{http::header, web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;

#[derive(Debug, Clone)]
pub struct Caller {
    pub key_id: String,
    pub name: String,
    pub role: Role,
}

impl Caller {
    pub fn require(&self, needed: Role) -> Result<(), ApiError> {
        if self.role.allows(needed) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!("this needs the {needed} role; the key '{}' has {}", self.name, self.role)))
        }
    }
}

fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_string()).filter(|t| !t.is_empty())
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Caller, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = bearer(req);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let token = token.ok_or_else(|| ApiError::unauthorized("send Authorization: Bearer <api key>"))?;
            let state = state.ok_or_else(|| ApiError::internal("application state missing"))?;
            let found = state.db.run(move |conn| api_keys::authenticate(conn, &token)).await.map_err(|e| match e {
                api_keys::KeyError::Db(db) => ApiError::from(db),
                other => ApiError::internal(other),
            })?;
            match found {
                Ok(key) => Ok(Caller { role: key.role(), key_id: key.id, name: key.name }),
                Err(Rejected::Revoked) => Err(ApiError::unauthorized("this API key was revoked")),
                Err(Rejected::Unknown) => Err(ApiError::unauthorized("unknown API key")),
            }
        })
    }
}

/// An approver (or admin) and then `T` extracted from the rest of the request. The role is
/// checked first: actix polls a handler's extractors together, so a body error could
/// otherwise answer before the caller is known.
pub struct WithBody<T>(pub Caller, pub T);

/// As [`WithBody`], for an admin.
pub struct AdminBody<T>(pub Caller, pub T);

/// The caller, held to `needed`, then `T` from the rest of the request.
fn caller_then<T: FromRequest + 'static>(
    req: &HttpRequest,
    payload: &mut Payload,
    needed: Role,
) -> LocalBoxFuture<'static, Result<(Caller, T), actix_web::Error>>
where
    T::Error: Into<actix_web::Error>,
{
    let req = req.clone();
    let mut payload = payload.take();
    Box::pin(async move {
        let caller = Caller::from_request(&req, &mut Payload::None).await?;
        caller.require(needed)?;
        let body = T::from_request(&req, &mut payload).await.map_err(Into::into)?;
        Ok((caller, body))
    })
}

impl<T: FromRequest + 'static> FromRequest for WithBody<T>
where
    T::Error: Into<actix_web::Error>,
{
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<WithBody<T>, actix_web::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let both = caller_then::<T>(req, payload, Role::Approver);
        Box::pin(async move { both.await.map(|(caller, body)| WithBody(caller, body)) })
    }
}

impl<T: FromRequest + 'static> FromRequest for AdminBody<T>
where
    T::Error: Into<actix_web::Error>,
{
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<AdminBody<T>, actix_web::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let both = caller_then::<T>(req, payload, Role::Admin);
        Box::pin(async move { both.await.map(|(caller, body)| AdminBody(caller, body)) })
    }
}

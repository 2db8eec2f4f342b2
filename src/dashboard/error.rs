//! What a page answers when something is wrong: an HTML page (or, for a missing session, a
//! redirect to the log-in page that comes back afterwards).

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};

#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// No valid session: log in, then come back to `next`.
    #[error("sign in to continue")]
    SignIn { next: String },
    #[error("{0}")]
    Forbidden(String),
    /// The form's CSRF token is missing or not this session's.
    #[error("this form has expired or did not come from CostGuard; reload the page and try again")]
    Csrf,
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Conflict(String),
    #[error("something went wrong on our side; the log has the details")]
    Internal(String),
    /// The database was saturated; nothing was done.
    #[error("CostGuard is busy right now; nothing was changed. Try again in a moment.")]
    Busy,
}

impl PageError {
    pub fn internal(e: impl std::fmt::Display) -> Self {
        PageError::Internal(e.to_string())
    }
}

impl From<crate::db::DbError> for PageError {
    fn from(e: crate::db::DbError) -> Self {
        match e {
            crate::db::DbError::Busy(_) => PageError::Busy,
            other => PageError::internal(other),
        }
    }
}

impl From<diesel::result::Error> for PageError {
    fn from(e: diesel::result::Error) -> Self {
        PageError::internal(e)
    }
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self {
            PageError::SignIn { .. } => StatusCode::SEE_OTHER,
            PageError::Forbidden(_) | PageError::Csrf => StatusCode::FORBIDDEN,
            PageError::NotFound(_) => StatusCode::NOT_FOUND,
            PageError::BadRequest(_) => StatusCode::BAD_REQUEST,
            PageError::Conflict(_) => StatusCode::CONFLICT,
            PageError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            PageError::Busy => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let PageError::SignIn { next } = self {
            let to = format!("/login?next={}", super::views::components::url_encode(next));
            return HttpResponse::SeeOther().insert_header((header::LOCATION, to)).finish();
        }
        if let PageError::Internal(detail) = self {
            tracing::error!(error = %detail, "page failed");
        }
        let status = self.status_code();
        let mut response = HttpResponse::build(status);
        if let PageError::Busy = self {
            response.insert_header((header::RETRY_AFTER, "1"));
        }
        response
            .content_type("text/html; charset=utf-8")
            .body(super::views::layout::error_page(status, &self.to_string()).into_string())
    }
}

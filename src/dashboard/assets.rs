//! Static files of the dashboard (templates/static), embedded in the binary: no CDN, and the
//! container needs no files beside the binary.

use actix_web::http::header;
use actix_web::{web, HttpResponse};

const FILES: &[(&str, &str, &[u8])] = &[
    ("app.css", "text/css; charset=utf-8", include_bytes!("../../templates/static/app.css")),
    ("app.js", "text/javascript; charset=utf-8", include_bytes!("../../templates/static/app.js")),
    ("favicon.svg", "image/svg+xml", include_bytes!("../../templates/static/favicon.svg")),
];

/// A cache-busting tag for asset URLs: changes whenever the build does.
pub fn version() -> &'static str {
    crate::build_info::info().git_sha
}

pub async fn serve(name: web::Path<String>) -> HttpResponse {
    match FILES.iter().find(|(n, _, _)| *n == name.as_str()) {
        Some((_, mime, body)) => HttpResponse::Ok()
            .content_type(*mime)
            .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .body(*body),
        None => HttpResponse::NotFound().content_type("text/plain").body("no such file"),
    }
}

//! The error answers of the OpenAPI document, stated once: which statuses any operation can
//! answer besides its own, and the shape of `detail`. Handlers list only the answers that are
//! theirs (201, 404, 409 ...); this adds the ones every operation shares, so none is missing.

use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
use utoipa::openapi::{Ref, RefOr, ResponseBuilder, Schema};

/// `detail` is a sentence, or an object naming where the problem is.
pub fn detail_schema() -> RefOr<Schema> {
    OneOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::String))
        .item(ObjectBuilder::new().schema_type(Type::Object))
        .description(Some("A message, or an object with message and index/line/column/field/parameter"))
        .into()
}

fn error(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            utoipa::openapi::ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build(),
        )
        .build()
}

/// Answers any operation under /api can give, whatever its handler.
const API: [(&str, &str); 5] = [
    ("400", "A parameter or the body cannot be read; detail names it"),
    ("401", "No valid API key (send Authorization: Bearer <key>)"),
    ("403", "The key's role may not do this"),
    ("500", "The server failed; see its log"),
    ("503", "Busy or a query ran past its limit (timeout); retry after Retry-After"),
];

/// Answers only an operation that takes a body can give.
const WITH_BODY: [(&str, &str); 3] = [
    ("413", "The body is larger than the limit"),
    ("415", "The body is not of the declared content type"),
    ("422", "The body is readable but invalid; detail names the field"),
];

fn add_missing(op: &mut Operation, answers: &[(&str, &str)]) {
    for (status, description) in answers {
        op.responses.responses.entry((*status).to_string()).or_insert_with(|| RefOr::T(error(description)));
    }
}

pub struct EveryErrorDocumented;

impl utoipa::Modify for EveryErrorDocumented {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            if !path.starts_with("/api/") {
                continue;
            }
            let ops = [&mut item.get, &mut item.post, &mut item.put, &mut item.delete, &mut item.patch];
            for op in ops.into_iter().flatten() {
                add_missing(op, &API);
                if op.request_body.is_some() {
                    add_missing(op, &WITH_BODY);
                }
            }
        }
    }
}

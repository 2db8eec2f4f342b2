//! Budgets over HTTP: list and read (viewer), create, replace and delete (admin). A body is
//! parsed by `domain::budget::spec` (422 naming the field); a budget kept in config.toml is
//! changed there (409).

use super::ErrorBody;
use crate::budgets::store::{self, Actor, BudgetRow, Refused};
use crate::budgets::view::BudgetView;
use crate::db::{DbConn, DbError};
use crate::domain::budget::spec::BudgetSpec;
use crate::domain::role::Role;
use crate::state::AppState;
use crate::web::auth::{AdminBody, Caller};
use crate::web::error::ApiError;
use actix_web::{web, HttpResponse};
use serde_json::{json, Value};

/// The body of a create or a replace (the document's picture of what `BudgetSpec::parse` takes).
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct BudgetBody {
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^\s*[^\s\x00-\x1f\x7f](?:[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f])?\s*$"
    )]
    name: String,
    /// A plain decimal string, more than 0, at most 11 decimals.
    #[schema(example = "25000.00", pattern = r"^\s*[0-9]{1,16}(\.[0-9]{0,11})?\s*$")]
    amount: String,
    /// ISO 4217 code.
    #[schema(example = "USD", pattern = r"^\s*[A-Za-z]{3}\s*$")]
    currency: String,
    /// Default month.
    #[schema(value_type = Option<crate::domain::budget::Period>)]
    period: Option<String>,
    /// What it counts; empty (or absent) is everything. A tag stands alone; an LLM key may
    /// name its provider.
    #[schema(value_type = Option<ScopeBody>)]
    scope: Option<Value>,
    /// Default: 80 % and 100 % of the forecast, 100 % spent.
    #[schema(value_type = Option<Vec<crate::domain::budget::Threshold>>, max_items = 20)]
    thresholds: Option<Value>,
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ScopeBody {
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    provider: Option<String>,
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    sub_account: Option<String>,
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    service: Option<String>,
    tag: Option<crate::domain::budget::scope::TagValue>,
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    llm_key: Option<String>,
}

fn view(c: &mut DbConn, row: &BudgetRow) -> Result<BudgetView, DbError> {
    Ok(BudgetView::new(row, &store::current_crossings(c, row)?))
}

fn refused(e: Refused) -> ApiError {
    match e {
        Refused::NameTaken(_) | Refused::InConfig(_) => {
            ApiError::new(actix_web::http::StatusCode::CONFLICT, "conflict", e.to_string())
        }
        Refused::NotFound(_) => ApiError::not_found(e.to_string()),
        Refused::Db(db) => ApiError::from(DbError::from(db)),
    }
}

fn parse(body: &Value) -> Result<BudgetSpec, ApiError> {
    BudgetSpec::parse(body).map_err(|e| ApiError::invalid(json!({ "field": e.field, "message": e.message })))
}

/// Budgets with their status this period, by name.
#[utoipa::path(get, path = "/api/v1/budgets", tag = "budgets", operation_id = "list_budgets",
    responses((status = 200, body = Vec<BudgetView>), (status = 401, body = ErrorBody)))]
pub async fn list(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Viewer)?;
    let views =
        state.db.run(|c| store::list(c)?.iter().map(|r| view(c, r)).collect::<Result<Vec<_>, DbError>>()).await?;
    Ok(HttpResponse::Ok().json(views))
}

/// One budget with its status.
#[utoipa::path(get, path = "/api/v1/budgets/{id}", tag = "budgets", operation_id = "get_budget",
    params(("id" = String, Path, description = "The budget's id")),
    responses((status = 200, body = BudgetView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn detail(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Viewer)?;
    let id = id.into_inner();
    let found = state
        .db
        .run(move |c| match store::get(c, &id)? {
            Some(row) => view(c, &row).map(Some),
            None => Ok(None),
        })
        .await?;
    found.map(|v| HttpResponse::Ok().json(v)).ok_or_else(|| ApiError::not_found("no budget with this id"))
}

/// Writes a budget, then evaluates it at once so the answer has its status (and a threshold
/// it already crosses is announced).
async fn write(
    state: &AppState,
    change: impl FnOnce(&mut DbConn) -> Result<BudgetRow, Refused> + Send + 'static,
) -> Result<BudgetView, ApiError> {
    let now = state.clock.now();
    let (written, crossed) = state
        .db
        .run(move |c| match crate::budgets::save_and_evaluate(c, change, now) {
            Ok((row, crossed)) => Ok::<_, DbError>(Ok((view(c, &row)?, crossed))),
            Err(e) => Ok(Err(e)),
        })
        .await?
        .map_err(refused)?;
    if crossed > 0 {
        state.bus.nudge_notifier();
    }
    Ok(written)
}

/// Creates a budget (admin).
#[utoipa::path(post, path = "/api/v1/budgets", tag = "budgets", operation_id = "create_budget", request_body = BudgetBody,
    responses((status = 201, body = BudgetView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    state: web::Data<AppState>,
    AdminBody(caller, body): AdminBody<web::Json<Value>>,
) -> Result<HttpResponse, ApiError> {
    let spec = parse(&body)?;
    let now = state.clock.now();
    let view = write(&state, move |c| store::create(c, &spec, &Actor(&caller.name), now)).await?;
    Ok(HttpResponse::Created().json(view))
}

/// Replaces a budget's definition (admin); crossings this period stay recorded.
#[utoipa::path(put, path = "/api/v1/budgets/{id}", tag = "budgets", operation_id = "replace_budget", request_body = BudgetBody,
    params(("id" = String, Path, description = "The budget's id")),
    responses((status = 200, body = BudgetView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn replace(
    state: web::Data<AppState>,
    id: web::Path<String>,
    AdminBody(caller, body): AdminBody<web::Json<Value>>,
) -> Result<HttpResponse, ApiError> {
    let spec = parse(&body)?;
    let (id, now) = (id.into_inner(), state.clock.now());
    let view = write(&state, move |c| store::update(c, &id, &spec, &Actor(&caller.name), now)).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Deletes a budget (admin) with its crossings.
#[utoipa::path(delete, path = "/api/v1/budgets/{id}", tag = "budgets", operation_id = "delete_budget",
    params(("id" = String, Path, description = "The budget's id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Admin)?;
    let id = id.into_inner();
    state.db.run(move |c| Ok::<_, DbError>(store::delete(c, &id, &Actor(&caller.name)))).await?.map_err(refused)?;
    Ok(HttpResponse::NoContent().finish())
}

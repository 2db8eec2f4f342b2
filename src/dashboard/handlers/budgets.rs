//! Settings → Budgets: every budget with its status (viewers too), and for admins adding one
//! (the form becomes the API's JSON body and goes through the same `BudgetSpec::parse`, so a
//! refusal names the same field) and deleting one. Both are audited in the budget's store.

use super::{html, redirect, NoticeQuery};
use crate::budgets::store::{self, Actor, BudgetRow, Crossing, Refused};
use crate::dashboard::error::PageError;
use crate::dashboard::session::{Posted, Signed};
use crate::dashboard::views::budgets::{self as view, BudgetForm};
use crate::db::{DbConn, DbError};
use crate::domain::budget::spec::BudgetSpec;
use crate::domain::role::Role;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use serde_json::{json, Map, Value};

fn with_crossings(c: &mut DbConn) -> Result<Vec<(BudgetRow, Vec<Crossing>)>, DbError> {
    Ok(store::list_with_crossings(c)?)
}

pub async fn page(
    user: Signed,
    state: web::Data<AppState>,
    q: web::Query<NoticeQuery>,
) -> Result<HttpResponse, PageError> {
    user.require(Role::Viewer)?;
    let budgets = state.db.run(with_crossings).await?;
    Ok(html(view::page_of(&user.0, &budgets, None, q.notice.as_deref())))
}

/// The form as the API's body: empty fields left out, "80 forecast, 100 actual" as a list.
fn body(f: &BudgetForm) -> Value {
    let mut scope = Map::new();
    for (key, value) in
        [("provider", &f.provider), ("sub_account", &f.sub_account), ("service", &f.service), ("llm_key", &f.llm_key)]
    {
        if !value.trim().is_empty() {
            scope.insert(key.into(), json!(value));
        }
    }
    if !f.tag.trim().is_empty() {
        let (key, value) = f.tag.split_once('=').unwrap_or((f.tag.as_str(), ""));
        scope.insert("tag".into(), json!({ "key": key, "value": value }));
    }
    let mut body =
        json!({ "name": f.name, "amount": f.amount, "currency": f.currency, "period": f.period, "scope": scope });
    if !f.thresholds.trim().is_empty() {
        let list: Vec<Value> = f
            .thresholds
            .split(',')
            .map(|t| {
                let mut words = t.split_whitespace();
                let percent = words.next().unwrap_or("");
                let percent = percent.trim_end_matches('%').parse::<u64>().map_or(json!(percent), |p| json!(p));
                json!({ "percent": percent, "on": words.next().unwrap_or("") })
            })
            .collect();
        body["thresholds"] = json!(list);
    }
    body
}

pub async fn create(posted: Posted<BudgetForm>, state: web::Data<AppState>) -> Result<HttpResponse, PageError> {
    posted.user.require(Role::Admin)?;
    let refuse = async |why: String| -> Result<HttpResponse, PageError> {
        let budgets = state.db.run(with_crossings).await?;
        let page = view::page_of(&posted.user.0, &budgets, Some((&posted.form, &why)), None);
        Ok(HttpResponse::UnprocessableEntity().content_type("text/html; charset=utf-8").body(page.into_string()))
    };
    let spec = match BudgetSpec::parse(&body(&posted.form)) {
        Ok(spec) => spec,
        Err(e) => return refuse(format!("Not added: {} {}", e.field, e.message)).await,
    };
    let (by, now) = (posted.user.0.name.clone(), state.clock.now());
    let create = move |c: &mut DbConn| store::create(c, &spec, &Actor(&by), now);
    let result = state.db.run(move |c| Ok::<_, DbError>(crate::budgets::save_and_evaluate(c, create, now))).await?;
    match result {
        Ok((_, crossed)) => {
            if crossed > 0 {
                state.bus.nudge_notifier();
            }
            Ok(redirect("/settings/budgets?notice=saved"))
        }
        Err(Refused::Db(e)) => Err(PageError::from(DbError::from(e))),
        Err(e) => refuse(format!("Not added: {e}")).await,
    }
}

pub async fn delete(
    posted: Posted<super::NoFields>,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    posted.user.require(Role::Admin)?;
    let (id, by) = (id.into_inner(), posted.user.0.name.clone());
    let result = state.db.run(move |c| Ok::<_, DbError>(store::delete(c, &id, &Actor(&by)))).await?;
    match result {
        Ok(_) => Ok(redirect("/settings/budgets?notice=deleted")),
        Err(Refused::NotFound(_)) => Err(PageError::NotFound("no budget with this id".into())),
        Err(Refused::Db(e)) => Err(PageError::from(DbError::from(e))),
        Err(e) => Err(PageError::Conflict(e.to_string())),
    }
}

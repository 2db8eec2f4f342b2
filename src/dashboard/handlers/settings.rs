//! Settings pages for admins: providers (switch, schedule, credentials, connection test,
//! demo re-seed) and the safety policy in force.

use super::{html, redirect, NoticeQuery};
use crate::credentials;
use crate::dashboard::error::PageError;
use crate::dashboard::session::{Posted, Signed};
use crate::dashboard::views::settings::{self as view, ProviderView};
use crate::db::DbError;
use crate::domain::role::Role;
use crate::providers::{self, PROVIDERS};
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use chrono::Utc;
use std::collections::HashMap;

pub async fn index(user: Signed) -> Result<HttpResponse, PageError> {
    user.require(Role::Admin)?;
    Ok(html(view::index(&user.0)))
}

async fn provider_views(state: &AppState) -> Result<Vec<ProviderView>, PageError> {
    let (mut statuses, cursors) = state
        .db
        .run(|c| {
            let mut statuses = HashMap::new();
            for kind in PROVIDERS {
                statuses.insert(kind.name, credentials::status(c, kind.name)?);
            }
            let cursors = crate::ingest::runner::cursors(c)?;
            Ok::<_, DbError>((statuses, cursors))
        })
        .await?;
    let mut views = Vec::new();
    for kind in PROVIDERS {
        let available = state.sources.source(kind.name).is_some();
        let (enabled, schedule) = state.sources.effective(kind.name).await?;
        let cursor = cursors.iter().find(|c| c.source == kind.name);
        views.push(ProviderView {
            kind,
            available,
            enabled,
            schedule,
            credentials: statuses.remove(kind.name).unwrap_or_default(),
            last_success: cursor.and_then(|c| c.last_success_at),
            last_error: cursor.and_then(|c| c.last_error.clone()),
        });
    }
    Ok(views)
}

pub async fn providers(
    user: Signed,
    state: web::Data<AppState>,
    q: web::Query<NoticeQuery>,
) -> Result<HttpResponse, PageError> {
    user.require(Role::Admin)?;
    let views = provider_views(&state).await?;
    Ok(html(view::providers(&user.0, &views, None, q.notice.as_deref(), state.demo)))
}

fn kind(name: &str) -> Result<&'static providers::Provider, PageError> {
    providers::find(name).ok_or_else(|| PageError::NotFound(format!("no provider named '{name}'")))
}

#[derive(Debug, serde::Deserialize)]
pub struct ProviderForm {
    enabled: Option<String>,
    schedule: String,
}

pub async fn save_provider(
    posted: Posted<ProviderForm>,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    posted.user.require(Role::Admin)?;
    let kind = kind(&name)?;
    let enabled = posted.form.enabled.as_deref() == Some("true");
    state
        .sources
        .change(kind.name, enabled, &posted.form.schedule, &posted.user.0.name)
        .await
        .map_err(|e| PageError::BadRequest(format!("{e:#}")))?;
    Ok(redirect(&format!("/settings/providers?notice=saved#{}", kind.name)))
}

pub async fn save_credentials(
    posted: Posted<HashMap<String, String>>,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    posted.user.require(Role::Admin)?;
    let kind = kind(&name)?;
    let clear = posted.form.get("clear").map(String::as_str) == Some("true");
    // Only the fields this provider declares, and only those given: empty keeps the stored value.
    let values: Vec<(&'static str, String)> = kind
        .credentials
        .iter()
        .filter_map(|f| posted.form.get(f.name).filter(|v| !v.is_empty()).map(|v| (f.name, v.clone())))
        .collect();
    if values.iter().any(|(_, v)| v.len() > 64 * 1024) {
        return Err(PageError::BadRequest("a credential may have at most 64 KiB".into()));
    }
    let (cipher, by, provider) = (state.cipher.clone(), posted.user.0.name.clone(), kind.name);
    let fields: Vec<&'static str> = kind.credentials.iter().map(|f| f.name).collect();
    state
        .db
        .run(move |c| {
            crate::db::write_transaction(c, |c| {
                let now = Utc::now();
                if clear {
                    for f in &fields {
                        credentials::clear(c, provider, f)?;
                    }
                }
                for (field, value) in &values {
                    credentials::set(c, &cipher, provider, field, value, &by, now)
                        .map_err(|e| DbError::Other(e.to_string()))?;
                }
                let names: Vec<&str> = values.iter().map(|(f, _)| *f).collect();
                let detail =
                    if clear { "cleared every field".to_string() } else { format!("set {}", names.join(", ")) };
                crate::audit::note_in(c, &by, "provider.credentials", provider, &detail)?;
                Ok::<_, DbError>(())
            })
        })
        .await?;
    Ok(redirect(&format!("/settings/providers?notice=saved#{provider}")))
}

pub async fn test_provider(
    posted: Posted<super::NoFields>,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    posted.user.require(Role::Admin)?;
    let kind = kind(&name)?;
    let result = state.sources.test(kind.name).await.map_err(|e| crate::clouds::errors::one_line(&e));
    let views = provider_views(&state).await?;
    Ok(html(view::providers(&posted.user.0, &views, Some((kind.name, result)), None, state.demo)))
}

pub async fn reseed_demo(
    posted: Posted<super::NoFields>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    posted.user.require(Role::Admin)?;
    if state.sources.source("simulated").is_none() {
        return Err(PageError::Conflict("the simulated clouds are off".into()));
    }
    state.sources.reseed("simulated").await.map_err(PageError::internal)?;
    let by = posted.user.0.name.clone();
    state
        .db
        .run(move |c| {
            let detail = "wiped the simulated clouds' data; they start again from now";
            crate::audit::note(c, &by, "demo.reseed", "simulated", detail).map(|_| ()).map_err(DbError::from)
        })
        .await?;
    Ok(redirect("/settings/providers?notice=reseeded"))
}

/// A settings struct as (key, value) rows, from its serialized form.
fn rows(section: &str, value: serde_json::Value) -> Vec<(String, String)> {
    match value {
        serde_json::Value::Object(map) => {
            map.into_iter().map(|(k, v)| (format!("{section}.{k}"), v.to_string())).collect()
        }
        other => vec![(section.to_string(), other.to_string())],
    }
}

pub async fn safety(user: Signed, state: web::Data<AppState>) -> Result<HttpResponse, PageError> {
    user.require(Role::Admin)?;
    let mut all = rows("safety", serde_json::to_value(&state.safety).map_err(PageError::internal)?);
    all.extend(rows("approval", serde_json::to_value(&state.approval).map_err(PageError::internal)?));
    let refs: Vec<(&str, String)> = all.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    Ok(html(view::safety(&user.0, &refs)))
}

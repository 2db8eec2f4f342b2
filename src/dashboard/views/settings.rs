//! Settings (admins): providers with write-only credentials and a connection test, the
//! safety policy in force, users and API keys.

use super::components::{badge, csrf, empty, naive_time, notice, opt_time, pager, select};
use super::layout::{page, Nav};
use crate::auth::api_keys::ApiKey;
use crate::auth::sessions::SessionUser;
use crate::auth::users::User;
use crate::credentials::FieldStatus;
use crate::providers::Provider;
use maud::{html, Markup};

/// The role choices of the user and key forms.
const ROLES: &[(&str, &str)] = &[("viewer", "viewer"), ("approver", "approver"), ("admin", "admin")];

pub fn index(user: &SessionUser) -> Markup {
    let content = html! {
        ul.plain.links {
            li { a href="/settings/providers" { "Providers" } " — enable, schedule, credentials, test connection" }
            li { a href="/settings/budgets" { "Budgets" } " — amounts per scope and period, forecasts and alerts" }
            li { a href="/settings/safety" { "Safety policy" } " — the rules in force" }
            li { a href="/settings/notifications" { "Notifications" } " — where messages go, and how the latest fared" }
            li { a href="/settings/users" { "Users" } " — who may log in, and their roles" }
            li { a href="/settings/api-keys" { "API keys" } " — for scripts and gateways" }
        }
    };
    page("Settings", user, Nav::Settings, content)
}

pub struct ProviderView {
    pub kind: &'static Provider,
    /// Its source runs in this process (config.toml turned it on).
    pub available: bool,
    pub enabled: bool,
    pub schedule: String,
    pub credentials: Vec<FieldStatus>,
    pub last_success: Option<chrono::NaiveDateTime>,
    pub last_error: Option<String>,
}

/// `tested`: the provider just tested and what it answered.
pub fn providers(
    user: &SessionUser,
    views: &[ProviderView],
    tested: Option<(&str, Result<String, String>)>,
    note: Option<&str>,
    demo: bool,
) -> Markup {
    let content = html! {
        (notice(note))
        @for p in views {
            section.card id=(p.kind.name) {
                h2 { (p.kind.title) " " @if p.enabled && p.available { (badge("enabled")) } @else { span.badge { "off" } } }
                @if !p.available {
                    p.muted { "Not turned on: set " code { "enabled = true" } " under " code { "[providers." (p.kind.name) "]" } " in config.toml and restart. Credentials stored now are used then." }
                }
                @if let Some((name, result)) = &tested {
                    @if *name == p.kind.name {
                        @match result {
                            Ok(text) => p.good role="status" { "Connection works: " (text) },
                            Err(text) => p.bad role="alert" { "Connection failed: " (text) },
                        }
                    }
                }
                p.muted { "Last success: " (opt_time(p.last_success)) @if let Some(e) = &p.last_error { " · last error: " (e) } }
                @if p.available {
                    form.inline method="post" action=(format!("/settings/providers/{}", p.kind.name)) {
                        (csrf(&user.csrf_token))
                        label { input type="checkbox" name="enabled" value="true" checked[p.enabled]; " enabled" }
                        label { "Schedule (6-field cron) " input type="text" name="schedule" value=(p.schedule) size="18"; }
                        button type="submit" { "Save" }
                    }
                    form.inline method="post" action=(format!("/settings/providers/{}/test", p.kind.name)) {
                        (csrf(&user.csrf_token))
                        button type="submit" { "Test connection" }
                    }
                }
                @if !p.kind.credentials.is_empty() {
                    form.stack method="post" action=(format!("/settings/providers/{}/credentials", p.kind.name)) autocomplete="off" {
                        (csrf(&user.csrf_token))
                        @for f in p.kind.credentials {
                            @let status = p.credentials.iter().find(|s| s.field == f.name);
                            label {
                                (f.label) " "
                                @match status {
                                    Some(s) => { span.badge.good { "set" } span.muted { " " (naive_time(s.updated_at)) " by " (s.updated_by) } },
                                    None => span.badge { "not set" },
                                }
                                // Write-only: the stored value is never sent back.
                                input type="password" name=(f.name) value="" placeholder="leave empty to keep" autocomplete="new-password";
                            }
                        }
                        label { input type="checkbox" name="clear" value="true"; " clear every stored field" }
                        button type="submit" { "Save credentials" }
                    }
                }
            }
        }
        @if demo {
            section.card {
                h2 { "Demo data" }
                p { "Wipe the simulated clouds' data and start them again from now, live incident included." }
                form method="post" action="/settings/demo/reseed" {
                    (csrf(&user.csrf_token))
                    button.danger type="submit" { "Re-seed demo data" }
                }
            }
        }
    };
    page("Providers", user, Nav::Settings, content)
}

/// The policy as (name, value) rows, already formatted.
pub fn safety(user: &SessionUser, rows: &[(&str, String)]) -> Markup {
    let content = html! {
        p.muted { "Set in config.toml ([safety] and [approval]); shown here as the running server has it." }
        table { tbody { @for (k, v) in rows { tr { th scope="row" { code { (k) } } td { (v) } } } } }
    };
    page("Safety policy", user, Nav::Settings, content)
}

/// `paging`: (page, whether there is a next one).
pub fn users(
    user: &SessionUser,
    rows: &[User],
    error: Option<&str>,
    note: Option<&str>,
    paging: (u32, bool),
) -> Markup {
    let content = html! {
        (notice(note))
        @if let Some(e) = error { p.error role="alert" { (e) } }
        table {
            thead { tr { th { "Name" } th { "Role" } th { "Created" } th { "State" } th { "" } } }
            tbody {
                @for u in rows {
                    tr {
                        td { (u.name) }
                        td { (badge(&u.role)) }
                        td { (naive_time(u.created_at)) }
                        td { @if u.disabled_at.is_some() { span.badge.bad { "disabled" } } @else { "active" } }
                        td {
                            form.inline method="post" action=(format!("/settings/users/{}", u.id)) {
                                (csrf(&user.csrf_token))
                                (select("role", ROLES, Some(&u.role)))
                                label { input type="checkbox" name="disabled" value="true" checked[u.disabled_at.is_some()]; " disabled" }
                                label { "new password " input type="password" name="password" autocomplete="new-password"; }
                                button type="submit" { "Save" }
                            }
                        }
                    }
                }
            }
        }
        (pager("/settings/users", paging.0, paging.1))
        h2 { "Add a user" }
        form.stack method="post" action="/settings/users" autocomplete="off" {
            (csrf(&user.csrf_token))
            label { "Name" input type="text" name="name" required; }
            label { "Role" (select("role", ROLES, Some("viewer"))) }
            label { "Password (at least " (crate::auth::passwords::MIN_LENGTH) " characters; tell them to change it)" input type="password" name="password" autocomplete="new-password" required; }
            button type="submit" { "Add user" }
        }
    };
    page("Users", user, Nav::Settings, content)
}

/// `created`: a key just made, with its secret, shown this once.
pub fn api_keys(
    user: &SessionUser,
    keys: &[ApiKey],
    created: Option<(&ApiKey, &str)>,
    error: Option<&str>,
    note: Option<&str>,
    paging: (u32, bool),
) -> Markup {
    let content = html! {
        (notice(note))
        @if let Some(e) = error { p.error role="alert" { (e) } }
        @if let Some((key, secret)) = created {
            div.secret role="status" {
                p { strong { "The key '" (key.name) "' — copy it now; it is not shown again:" } }
                pre { code { (secret) } }
                p.muted { "Send it as " code { "Authorization: Bearer <key>" } "." }
            }
        }
        @if keys.is_empty() {
            (empty("No API keys yet.", html! { "Create one below for a script, a CI job or an LLM gateway that pushes usage." }))
        } @else {
            table {
                thead { tr { th { "Name" } th { "Role" } th { "Starts with" } th { "Created" } th { "Last used" } th { "" } } }
                tbody {
                    @for k in keys {
                        tr {
                            td { (k.name) } td { (badge(&k.role)) } td { code { (k.key_prefix) "…" } }
                            td { (naive_time(k.created_at)) } td { (opt_time(k.last_used_at)) }
                            td {
                                @if let Some(at) = k.revoked_at { "revoked " (naive_time(at)) }
                                @else {
                                    form.inline method="post" action=(format!("/settings/api-keys/{}/revoke", k.id)) {
                                        (csrf(&user.csrf_token))
                                        button.danger type="submit" { "Revoke" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        (pager("/settings/api-keys", paging.0, paging.1))
        h2 { "Create a key" }
        form.inline method="post" action="/settings/api-keys" {
            (csrf(&user.csrf_token))
            label { "Name " input type="text" name="name" required; }
            label { "Role " (select("role", ROLES, Some("viewer"))) }
            button type="submit" { "Create" }
        }
    };
    page("API keys", user, Nav::Settings, content)
}

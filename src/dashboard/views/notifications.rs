//! The notifications page: where messages go and what happened to the latest ones.

use super::components::{badge, csrf, empty, naive_time, notice};
use super::layout::{page as layout, Nav};
use crate::auth::sessions::SessionUser;
use crate::credentials::FieldStatus;
use crate::domain::notify::Route;
use crate::notify::store::Notification;
use crate::notify::DestinationKind;
use maud::{html, Markup};

/// A destination as shown: its name, kind, route and the secret fields an admin enters here
/// ("stored" in config.toml); never a URL or a secret.
#[derive(Debug, Clone)]
pub struct DestinationView {
    pub name: String,
    pub kind: DestinationKind,
    pub route: Route,
    pub stored: Vec<&'static str>,
}

impl From<&crate::notify::Destination> for DestinationView {
    fn from(d: &crate::notify::Destination) -> Self {
        DestinationView { name: d.name.clone(), kind: d.kind, route: d.route.clone(), stored: d.stored_fields() }
    }
}

fn listed(items: &[String]) -> String {
    if items.is_empty() {
        "any".into()
    } else {
        items.join(", ")
    }
}

/// What a destination hears; an empty event list is its kind's default, spelled out.
fn route(r: &Route, kind: DestinationKind) -> String {
    let events = if r.events.is_empty() { kind.heard_by_default() } else { &r.events };
    let events: Vec<String> = events.iter().map(|e| e.to_string()).collect();
    format!(
        "events: {}; severity {} and above; providers: {}; teams: {}",
        events.join(", "),
        r.min_severity,
        listed(&r.providers),
        listed(&r.teams)
    )
}

fn subject_link(n: &Notification) -> Markup {
    let path = if n.event.starts_with("action_") { "actions" } else { "anomalies" };
    html! { a href=(format!("/{path}/{}", n.subject_id)) { (n.event) } }
}

/// The write-only form for a destination's stored secrets; `set` says which are set, when
/// and by whom.
fn secrets_form(user: &SessionUser, d: &DestinationView, set: &[FieldStatus]) -> Markup {
    html! {
        form.stack method="post" action=(format!("/settings/notifications/{}/secrets", d.name)) autocomplete="off" {
            (csrf(&user.csrf_token))
            @for field in &d.stored {
                label {
                    code { (field) } " "
                    @match set.iter().find(|s| s.field == *field) {
                        Some(s) => { span.badge.good { "set" } span.muted { " " (naive_time(s.updated_at)) " by " (s.updated_by) } },
                        None => span.badge.bad { "not set: nothing is sent" },
                    }
                    // Write-only: the stored value is never sent back.
                    input type="password" name=(field) value="" placeholder="leave empty to keep" autocomplete="new-password";
                }
            }
            button type="submit" { "Save" }
        }
    }
}

pub fn page(
    user: &SessionUser,
    destinations: &[DestinationView],
    stored: &std::collections::BTreeMap<String, Vec<FieldStatus>>,
    recent: &[Notification],
    notice_code: Option<&str>,
) -> Markup {
    let content = html! {
        (notice(notice_code))
        p.muted { "Set in config.toml ([notify]); URLs and secrets are never shown. A secret written as \"stored\" there is entered below and kept encrypted." }
        h2 { "Destinations" }
        @if destinations.is_empty() {
            (empty("No destination is configured, so nothing is sent.", html! { "Add " code { "[[notify.destinations]]" } " to config.toml (see the README, Notifications)." }))
        } @else {
            table {
                thead { tr { th { "Name" } th { "Kind" } th { "Hears" } th { "Secrets entered here" } } }
                tbody {
                    @for d in destinations {
                        tr id=(format!("destination-{}", d.name)) {
                            td { (d.name) }
                            td { (d.kind.title()) }
                            td { (route(&d.route, d.kind)) }
                            td {
                                @if d.stored.is_empty() { span.muted { "none" } }
                                @else { (secrets_form(user, d, stored.get(&d.name).map(Vec::as_slice).unwrap_or_default())) }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Latest messages" }
        @if recent.is_empty() {
            (empty("No message yet.", html! { "Messages appear here as anomalies open and actions wait for approval." }))
        } @else {
            table {
                thead { tr { th { "Queued" } th { "Destination" } th { "Event" } th { "Severity" } th { "State" } th { "Tries" } th { "Last error" } } }
                tbody {
                    @for n in recent {
                        tr {
                            td { (naive_time(n.created_at)) }
                            td { (n.destination) }
                            td { (subject_link(n)) }
                            td { (badge(&n.severity)) }
                            td {
                                @if n.status == "sent" { span.badge.good { "sent" } }
                                @else if n.status == "failed" { span.badge.bad { "failed" } }
                                @else { "waiting until " (naive_time(n.next_attempt_at)) }
                            }
                            td { (n.attempts) }
                            td { @if let Some(e) = &n.last_error { code { (e) } } }
                        }
                    }
                }
            }
        }
    };
    layout("Notifications", user, Nav::Settings, content)
}

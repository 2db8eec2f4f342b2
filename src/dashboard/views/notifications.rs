//! The notifications page: where messages go and what happened to the latest ones.

use super::components::{badge, empty, naive_time};
use super::layout::{page as layout, Nav};
use crate::auth::sessions::SessionUser;
use crate::domain::notify::Route;
use crate::notify::store::Notification;
use crate::notify::DestinationKind;
use maud::{html, Markup};

/// A destination as shown: its name, kind and route.
pub type RouteView = (String, DestinationKind, Route);

fn listed(items: &[String]) -> String {
    if items.is_empty() {
        "any".into()
    } else {
        items.join(", ")
    }
}

fn route(r: &Route) -> String {
    let events: Vec<String> = r.events.iter().map(|e| e.to_string()).collect();
    format!(
        "events: {}; severity {} and above; providers: {}; teams: {}",
        listed(&events),
        r.min_severity,
        listed(&r.providers),
        listed(&r.teams)
    )
}

fn subject_link(n: &Notification) -> Markup {
    let path = if n.event.starts_with("action_") { "actions" } else { "anomalies" };
    html! { a href=(format!("/{path}/{}", n.subject_id)) { (n.event) } }
}

pub fn page(user: &SessionUser, destinations: &[RouteView], recent: &[Notification]) -> Markup {
    let content = html! {
        p.muted { "Set in config.toml ([notify]); URLs and secrets are never shown." }
        h2 { "Destinations" }
        @if destinations.is_empty() {
            (empty("No destination is configured, so nothing is sent.", html! { "Add " code { "[[notify.destinations]]" } " to config.toml (see the README, Notifications)." }))
        } @else {
            table {
                thead { tr { th { "Name" } th { "Kind" } th { "Hears" } } }
                tbody {
                    @for (name, kind, r) in destinations {
                        tr {
                            td { (name) }
                            td { @match kind { DestinationKind::Slack => "Slack", DestinationKind::Webhook => "webhook" } }
                            td { (route(r)) }
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

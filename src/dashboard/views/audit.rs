//! The audit log: newest first, filtered by actor or action, with the chain's verdict.

use super::components::{empty, pager};
use super::layout::{page, Nav};
use crate::auth::sessions::SessionUser;
use crate::domain::audit::Entry;
use maud::{html, Markup};

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
pub struct Filters {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub page: Option<u32>,
}

/// The chain's verification result: Ok(entries checked) or the first break, described.
pub type Verdict = Result<usize, String>;

pub fn render(user: &SessionUser, f: &Filters, entries: &[Entry], has_more: bool, verdict: &Verdict) -> Markup {
    let mut base = Vec::new();
    for (k, v) in [("actor", &f.actor), ("action", &f.action)] {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            base.push(format!("{k}={}", super::components::url_encode(v)));
        }
    }
    let base = if base.is_empty() { "/audit".to_string() } else { format!("/audit?{}", base.join("&")) };
    let content = html! {
        @match verdict {
            Ok(n) => p.good { "Chain verified: " (n) " entries, none edited, deleted or reordered." },
            Err(e) => p.bad.banner { "The chain is broken: " (e) },
        }
        form.filters method="get" action="/audit" {
            label { "Actor " input type="text" name="actor" value=(f.actor.clone().unwrap_or_default()); }
            label { "Action starts with " input type="text" name="action" value=(f.action.clone().unwrap_or_default()) placeholder="action.approve"; }
            button type="submit" { "Filter" }
        }
        @if entries.is_empty() {
            (empty("No audit entries match.", html! { "Every approval, execution and settings change is recorded here." }))
        } @else {
            table {
                thead { tr { th.num { "#" } th { "When" } th { "Actor" } th { "Action" } th { "Target" } th { "Change" } th { "Result" } th { "Build" } } }
                tbody {
                    @for e in entries {
                        @let r = &e.record;
                        tr {
                            td.num { (r.seq) }
                            td {
                                @match chrono::DateTime::parse_from_rfc3339(&r.at) {
                                    Ok(t) => (super::components::time(t.with_timezone(&chrono::Utc))),
                                    Err(_) => (r.at),
                                }
                            }
                            td { (r.actor) }
                            td { code { (r.action) } }
                            td { (r.target) }
                            td { (r.before.clone().unwrap_or_default()) @if r.after.is_some() { " → " (r.after.clone().unwrap_or_default()) } }
                            td { (r.result) @if let Some(d) = &r.detail { br; span.muted { (d) } } }
                            td { code { (r.build_sha.chars().take(10).collect::<String>()) } }
                        }
                    }
                }
            }
            (pager(&base, f.page.unwrap_or(1), has_more))
        }
    };
    page("Audit log", user, Nav::Audit, content)
}

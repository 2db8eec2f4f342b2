//! Anomalies: a filtered, paged list, and one anomaly with its chart, causes, timeline,
//! linked actions and feedback.

use super::chart;
use super::components::{badge, csrf, empty, money, money_units, naive_time, notice, opt_time, pager, select};
use super::layout::{page, Nav};
use crate::approval::store::ActionRow;
use crate::auth::sessions::SessionUser;
use crate::detect::history::ChartPoint;
use crate::detect::store::{AnomalyEvent, AnomalyRow};
use crate::domain::detect::root_cause::Contributor;
use crate::domain::money::Total;
use crate::domain::role::Role;
use maud::{html, Markup};

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
pub struct Filters {
    pub state: Option<String>,
    pub severity: Option<String>,
    pub provider: Option<String>,
    pub page: Option<u32>,
}

impl Filters {
    /// The list's URL with these filters (without the page).
    pub fn base(&self) -> String {
        let mut q = Vec::new();
        for (k, v) in [("state", &self.state), ("severity", &self.severity), ("provider", &self.provider)] {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                q.push(format!("{k}={}", super::components::url_encode(v)));
            }
        }
        if q.is_empty() {
            "/anomalies".into()
        } else {
            format!("/anomalies?{}", q.join("&"))
        }
    }
}

pub fn list(user: &SessionUser, f: &Filters, rows: &[AnomalyRow], has_more: bool) -> Markup {
    let content = html! {
        form.filters method="get" action="/anomalies" {
            label { "State " (select("state", &[("", "any"), ("open", "open"), ("resolved", "resolved"), ("expected", "expected")], f.state.as_deref())) }
            label { "Severity " (select("severity", &[("", "any"), ("low", "low"), ("medium", "medium"), ("high", "high"), ("critical", "critical")], f.severity.as_deref())) }
            label { "Provider " input type="text" name="provider" value=(f.provider.clone().unwrap_or_default()); }
            button type="submit" { "Filter" }
        }
        @if rows.is_empty() {
            (empty("No anomalies match.", html! { "Clear the filters, or wait: the detective checks every series after each ingest. " a href="/" { "Back to the overview" } }))
        } @else {
            table {
                thead { tr { th { "Series" } th { "Severity" } th { "State" } th { "Started" } th.num { "Over expected" } th.num { "Per day" } } }
                tbody {
                    @for a in rows {
                        tr {
                            td { a href=(format!("/anomalies/{}", a.id)) { (a.label) } }
                            td { (badge(&a.severity)) }
                            td { (badge(a.lifecycle().as_str())) }
                            td { (naive_time(a.started_at)) }
                            td.num { (money(a.impact(), &a.currency)) }
                            td.num { (money_units(a.projected_daily, &a.currency)) }
                        }
                    }
                }
            }
            (pager(&f.base(), f.page.unwrap_or(1), has_more))
        }
    };
    page("Anomalies", user, Nav::Anomalies, content)
}

pub struct Detail {
    pub anomaly: AnomalyRow,
    pub chart: Option<Vec<ChartPoint>>,
    pub causes: Vec<Contributor>,
    pub events: Vec<AnomalyEvent>,
    pub actions: Vec<ActionRow>,
    pub notice: Option<String>,
    /// Other series the same incident raised.
    pub also_affected: Vec<String>,
}

/// What the anomaly's succeeded actions recovered, exactly; None before any did.
fn recovered(actions: &[crate::approval::store::ActionRow]) -> Option<Total> {
    let values: Vec<i128> = actions.iter().filter_map(|x| x.recovered).map(i128::from).collect();
    (!values.is_empty()).then(|| Total::from_units(values.iter().sum()))
}

pub fn detail(user: &SessionUser, d: &Detail) -> Markup {
    let a = &d.anomaly;
    let content = html! {
        (notice(d.notice.as_deref()))
        dl.facts {
            dt { "Series" } dd { (a.label) }
            dt { "Severity" } dd { (badge(&a.severity)) }
            @if !d.also_affected.is_empty() { dt { "Also affected" } dd { (d.also_affected.join(", ")) } }
            dt { "State" } dd { (badge(a.lifecycle().as_str())) @if let Some(at) = a.mitigated_at { " since " (naive_time(at)) } @if a.provisional && a.state == "open" && a.mitigated_at.is_none() { " · measuring its rate (a proposal waits for it to be confirmed, 30 s at most)" } @if let Some(f) = &a.feedback { " · marked " (f) " by " (a.feedback_by.clone().unwrap_or_default()) } }
            dt { "Started" } dd { (naive_time(a.started_at)) }
            dt { "Resolved" } dd { (opt_time(a.resolved_at)) }
            dt { "Actual / expected" } dd { (money_units(a.actual, &a.currency)) " / " (money_units(a.expected, &a.currency)) }
            dt { "Projected overspend" } dd { (money_units(a.projected_daily, &a.currency)) " per day" }
            @if let Some(recovered) = recovered(&d.actions) {
                dt { "Cost recovered" } dd { (money(recovered, &a.currency)) " by its verified actions" }
            }
        }
        @if let Some(text) = &a.description { p { (text) } }
        @match &d.chart {
            Some(points) => (chart::series(&format!("{}: actual against expected", a.label), points, Some(a.started_at.and_utc()), &a.currency)),
            None => p.muted { "No chart: this anomaly was recorded by hand or its series left the ledger." },
        }
        h2 { "Root causes" }
        @if d.causes.is_empty() {
            p.muted { "No breakdown for this series." }
        } @else {
            table {
                thead { tr { th { "Dimension" } th { "Value" } th.num { "Share of the excess" } th.num { "Excess" } } }
                tbody {
                    @for c in &d.causes {
                        tr {
                            td { (c.dimension) } td { code { (c.value) } }
                            td.num { (format!("{:.0}%", c.share * 100.0)) }
                            td.num { (money(c.delta, &a.currency)) }
                        }
                    }
                }
            }
        }
        h2 { "Actions" }
        @if d.actions.is_empty() {
            p.muted { "No action was proposed for this anomaly." }
        } @else {
            ul.plain {
                @for x in &d.actions {
                    li { a href=(format!("/actions/{}", x.id)) { (x.kind.words()) " · " (x.target) } " " (badge(x.status.as_str())) }
                }
            }
        }
        h2 { "Timeline" }
        ol.timeline {
            @for e in &d.events {
                li { (naive_time(e.at)) " — " strong { (e.kind) } " by " (e.actor) " (" (e.severity) ")" @if let Some(t) = &e.detail { ": " (t) } }
            }
        }
        @if user.role.allows(Role::Approver) && a.feedback.is_none() {
            h2 { "Your verdict" }
            form.inline method="post" action=(format!("/anomalies/{}/feedback", a.id)) {
                (csrf(&user.csrf_token))
                input type="hidden" name="kind" value="expected";
                label { "Mute this series for " input type="number" name="suppress_days" min="1" max="90" value="7"; " days" }
                button type="submit" { "It was expected" }
            }
            form.inline method="post" action=(format!("/anomalies/{}/feedback", a.id)) {
                (csrf(&user.csrf_token))
                input type="hidden" name="kind" value="false_positive";
                button type="submit" { "False alarm: close it" }
            }
            form.inline method="post" action=(format!("/anomalies/{}/feedback", a.id)) {
                (csrf(&user.csrf_token))
                input type="hidden" name="kind" value="confirmed";
                button type="submit" { "Confirm: it is a real problem" }
            }
        }
        @if user.role.allows(Role::Approver) && a.origin == "manual" && a.state == "open" {
            form.inline method="post" action=(format!("/anomalies/{}/resolve", a.id)) {
                (csrf(&user.csrf_token))
                button type="submit" { "Resolve" }
            }
        }
    };
    page(&format!("Anomaly: {}", a.label), user, Nav::Anomalies, content)
}

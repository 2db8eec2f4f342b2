//! Actions: the approval queue and history, and one action with its safety checks, dry-run
//! plan, transitions and the Approve / Reject forms (approvers only).

use super::components::{badge, csrf, empty, money_units, naive_time, notice, opt_time, pager, select};
use super::layout::{page, Nav};
use crate::approval::store::{ActionRow, TransitionRow};
use crate::auth::sessions::SessionUser;
use crate::domain::approval::safety::Block;
use crate::domain::approval::Status;
use crate::domain::role::Role;
use maud::{html, Markup};

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
pub struct Filters {
    pub status: Option<String>,
    pub page: Option<u32>,
}

/// (action, its currency) for each row.
pub fn list(
    user: &SessionUser,
    f: &Filters,
    queue: &[(ActionRow, String)],
    rows: &[(ActionRow, String)],
    has_more: bool,
) -> Markup {
    let statuses: Vec<(&str, &str)> =
        std::iter::once(("", "any")).chain(Status::ALL.iter().map(|s| (s.as_str(), s.as_str()))).collect();
    let table = |rows: &[(ActionRow, String)]| {
        html! {
            table {
                thead { tr { th { "Action" } th { "Target" } th { "Risk" } th { "Status" } th.num { "Saves per hour" } th { "Proposed" } } }
                tbody {
                    @for (a, currency) in rows {
                        tr {
                            td { a href=(format!("/actions/{}", a.id)) { (a.kind.words()) } }
                            td { code { (a.target) } }
                            td { (badge(a.risk.as_str())) }
                            td { (badge(a.status.as_str())) }
                            td.num { (money_units(a.estimated_saving_per_hour, currency)) }
                            td { (naive_time(a.created_at)) " by " (a.proposed_by) }
                        }
                    }
                }
            }
        }
    };
    let content = html! {
        h2 { "Waiting for approval" }
        @if queue.is_empty() {
            p.muted { "Nothing waits for approval. Proposals appear here when an anomaly opens that a rule can act on." }
        } @else { (table(queue)) }
        h2 { "All actions" }
        form.filters method="get" action="/actions" {
            label { "Status " (select("status", &statuses, f.status.as_deref())) }
            button type="submit" { "Filter" }
        }
        @if rows.is_empty() {
            (empty("No actions match.", html! { "Actions are proposed from anomalies; see " a href="/anomalies" { "Anomalies" } "." }))
        } @else {
            (table(rows))
            (pager(&f.status.as_deref().filter(|s| !s.is_empty()).map_or("/actions".into(), |s| format!("/actions?status={}", super::components::url_encode(s))), f.page.unwrap_or(1), has_more))
        }
    };
    page("Actions", user, Nav::Actions, content)
}

pub struct Detail {
    pub action: ActionRow,
    pub currency: String,
    pub history: Vec<TransitionRow>,
    pub checks: Vec<Block>,
    /// What the executor will do, step by step (the dry-run plan).
    pub plan: Vec<String>,
    /// dry_run or live: how the executor runs for this action's provider.
    pub mode: String,
    /// Distinct approvers this action needs (high risk: `approval.high_risk_approvers`).
    pub approvers_needed: usize,
    /// Approvals it has so far.
    pub approved_by: usize,
    pub notice: Option<String>,
}

pub fn detail(user: &SessionUser, d: &Detail) -> Markup {
    let a = &d.action;
    let status = a.status;
    let waiting = status == Status::PendingApproval;
    let notify_only = a.kind == crate::domain::optimizer::ActionKind::NotifyOnly;
    // A succeeded action still waits for its anomaly's cost to come back within the band.
    let settled = status.is_terminal() && (status != Status::Succeeded || a.cost_verified_at.is_some());
    let content = html! {
        @if !settled && !waiting {
            // Refreshes until the action settles (works without JavaScript); never while it
            // waits for a decision, which would wipe a comment being typed.
            meta http-equiv="refresh" content="5";
        }
        (notice(d.notice.as_deref()))
        dl.facts {
            dt { "Status" } dd { (badge(a.status.as_str())) @if let Some(r) = &a.reason { " — " (r) } }
            dt { "Target" } dd { code { (a.target) } " (" (a.provider.clone().unwrap_or_default()) " " (a.account.clone().unwrap_or_default()) ")" }
            dt { "Risk" } dd { (badge(a.risk.as_str())) }
            dt { "Estimated saving" } dd { (money_units(a.estimated_saving_per_hour, &d.currency)) " per hour" }
            dt { "Recovered" } dd { @match a.recovered { Some(r) => (money_units(r, &d.currency)), None => span.muted { "—" } } }
            dt { "Cost back to normal" } dd { (opt_time(a.cost_verified_at)) }
            dt { "Proposed" } dd { (naive_time(a.created_at)) " by " (a.proposed_by) }
            dt { "Execution mode" } dd { (d.mode.replace('_', " ")) }
            @if let Some(anomaly) = &a.anomaly_id { dt { "Anomaly" } dd { a href=(format!("/anomalies/{anomaly}")) { "open the anomaly" } } }
        }
        h2 { "Plan" }
        ol { @for step in &d.plan { li { (step) } } }
        h2 { "Safety checks" }
        @if d.checks.is_empty() {
            p.good { "All safety rules pass for this target now." }
        } @else {
            ul.plain { @for b in &d.checks { li.bad { strong { (b.rule) } ": " (b.reason) } } }
        }
        @if waiting && user.role.allows(Role::Approver) {
            h2 { "Decide" }
            @if notify_only {
                p.muted { "Nothing will change in the cloud: acknowledge that you have seen it." }
            } @else if d.approvers_needed > 1 {
                p { strong { "Needs " (d.approvers_needed) " approvers" } " (" (a.risk) " risk); "
                    (d.approvers_needed.saturating_sub(d.approved_by)) " more to go. The proposer cannot approve their own." }
            }
            form.decide method="post" action=(format!("/actions/{}/approve", a.id)) {
                (csrf(&user.csrf_token))
                label { "Comment (optional) " input type="text" name="comment" maxlength="2000"; }
                button.primary type="submit" { @if notify_only { "Acknowledge" } @else { "Approve" } }
            }
            form.decide method="post" action=(format!("/actions/{}/reject", a.id)) {
                (csrf(&user.csrf_token))
                label { "Comment (optional) " input type="text" name="comment" maxlength="2000"; }
                button.danger type="submit" { "Reject" }
            }
        } @else if waiting {
            p.muted { "Waiting for an approver." }
        }
        h2 { "History" }
        table {
            thead { tr { th { "When" } th { "From" } th { "To" } th { "By" } th { "Note" } th { "Build" } } }
            tbody {
                @for t in &d.history {
                    tr {
                        td { (naive_time(t.at)) } td { (badge(&t.from_status)) } td { (badge(&t.to_status)) }
                        td { (t.actor) }
                        td { (t.comment.clone().or(t.reason.clone()).unwrap_or_default()) }
                        td { code { (t.build_sha.chars().take(10).collect::<String>()) } }
                    }
                }
            }
        }
    };
    page(&format!("Action: {}", a.kind.words()), user, Nav::Actions, content)
}

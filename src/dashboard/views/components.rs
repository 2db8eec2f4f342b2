//! Small pieces every page uses: times, money, badges, forms, paging, empty states.

use crate::domain::money::{format_display, Total};
use chrono::{DateTime, NaiveDateTime, Utc};
use maud::{html, Markup};

/// Percent-encodes a query value.
pub fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A time in UTC; the page script shows it in the viewer's zone, UTC stays on hover.
pub fn time(t: DateTime<Utc>) -> Markup {
    let utc = t.format("%Y-%m-%d %H:%M UTC").to_string();
    html! { time datetime=(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)) title=(utc) { (utc) } }
}

pub fn naive_time(t: NaiveDateTime) -> Markup {
    time(t.and_utc())
}

pub fn opt_time(t: Option<NaiveDateTime>) -> Markup {
    match t {
        Some(t) => naive_time(t),
        None => html! { span.muted { "—" } },
    }
}

/// Money with its currency, rounded for display ("1,234.57 USD").
pub fn money(amount: Total, currency: &str) -> Markup {
    html! { span.money { (format_display(amount.units(), 2)) " " span.currency { (currency) } } }
}

pub fn money_units(units: i64, currency: &str) -> Markup {
    money(Total::from_units(units.into()), currency)
}

/// Actual against expected, with the difference as a percentage.
pub fn versus(actual: Total, expected: Total, currency: &str) -> Markup {
    let (a, e) = (actual.units(), expected.units());
    let delta = if e > 0 { Some((a - e) * 100 / e) } else { None };
    html! {
        (money(actual, currency))
        br;
        span.muted { "expected " (format_display(e, 2)) }
        @if let Some(d) = delta {
            @if d >= 20 { " " span.badge.bad { "+" (d) "%" } }
            @else if d <= -20 { " " span.badge.info { (d) "%" } }
        }
    }
}

/// A coloured label for a severity, state, status or risk.
pub fn badge(text: &str) -> Markup {
    let class = match text {
        "critical" | "high" | "failed" | "open" => "badge bad",
        "medium" | "mitigated" | "pending_approval" | "executing" | "verifying" | "approved" => "badge warn",
        "succeeded" | "resolved" | "low" => "badge good",
        _ => "badge",
    };
    html! { span class=(class) { (text.replace('_', " ")) } }
}

/// The hidden field every state-changing form carries.
pub fn csrf(token: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(token); }
}

/// Previous / next links; `base` already holds the page's filters ("/anomalies?state=open").
pub fn pager(base: &str, page: u32, has_more: bool) -> Markup {
    let sep = if base.contains('?') { '&' } else { '?' };
    html! {
        @if page > 1 || has_more {
            nav.pager aria-label="pages" {
                @if page > 1 { a href=(format!("{base}{sep}page={}", page - 1)) { "← newer" } }
                span.muted { "page " (page) }
                @if has_more { a href=(format!("{base}{sep}page={}", page + 1)) { "older →" } }
            }
        }
    }
}

/// What to show when a list is empty, and what to do next.
pub fn empty(what: &str, next: Markup) -> Markup {
    html! { div.empty { p { strong { (what) } } p { (next) } } }
}

/// A one-line message after a form: a fixed set, so nothing from the URL is echoed.
pub fn notice(code: Option<&str>) -> Markup {
    let text = match code {
        Some("approved") => "Approved. The executor picks it up now.",
        Some("rejected") => "Rejected.",
        Some("feedback") => "Thanks: your verdict is recorded.",
        Some("resolved") => "Resolved.",
        Some("saved") => "Saved.",
        Some("created") => "Created.",
        Some("revoked") => "Revoked.",
        Some("deleted") => "Deleted.",
        Some("reseeded") => "Demo data re-seeded: the simulated clouds start again from now.",
        _ => return html! {},
    };
    html! { p.notice role="status" { (text) } }
}

/// A select with the current value chosen.
pub fn select(name: &str, options: &[(&str, &str)], current: Option<&str>) -> Markup {
    html! {
        select name=(name) {
            @for (value, label) in options {
                option value=(value) selected[current == Some(*value)] { (label) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_escapes_and_encodes() {
        assert_eq!(url_encode("/a b?x=<y>"), "/a%20b%3Fx%3D%3Cy%3E");
        assert!(badge("<script>").into_string().contains("&lt;script&gt;"));
        let t = DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default();
        assert_eq!(
            time(t).into_string(),
            r#"<time datetime="2023-11-14T22:13:20Z" title="2023-11-14 22:13 UTC">2023-11-14 22:13 UTC</time>"#
        );
        assert!(notice(Some("<b>")).into_string().is_empty());
    }
}

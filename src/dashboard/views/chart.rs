//! Inline SVG charts drawn by the server: actual spend as a line over the expected line and
//! its band, with an optional marker where an anomaly started. No script needed.

use crate::detect::history::ChartPoint;
use crate::domain::money::format_display;
use chrono::{DateTime, Utc};
use maud::{html, Markup};

const W: f64 = 720.0;
const H: f64 = 200.0;
const LEFT: f64 = 64.0;
const BOTTOM: f64 = 22.0;

fn as_f64(t: crate::domain::money::Total) -> f64 {
    t.units() as f64 / crate::domain::money::UNITS_PER_WHOLE as f64
}

fn path(points: &[(f64, f64)]) -> String {
    let mut d = String::with_capacity(points.len() * 16);
    for (i, (x, y)) in points.iter().enumerate() {
        d.push_str(&format!("{}{x:.1},{y:.1}", if i == 0 { "M" } else { " L" }));
    }
    d
}

/// The frame every chart shares: title, baseline, the top value and the first and last labels.
fn frame(title: &str, top: f64, currency: &str, first: String, last: String) -> Markup {
    let top_label = format_display((top * crate::domain::money::UNITS_PER_WHOLE as f64) as i128, 0);
    html! {
        title { (title) }
        line.axis x1=(LEFT) y1=(H - BOTTOM) x2=(W) y2=(H - BOTTOM) {}
        text.tick x="4" y="14" { (top_label) " " (currency) }
        text.tick x="4" y=(H - BOTTOM) { "0" }
        text.tick x=(LEFT) y=(H - 4.0) { (first) }
        text.tick x=(W - 8.0) y=(H - 4.0) text-anchor="end" { (last) }
    }
}

/// A chart of `points` (oldest first); `title` is its accessible name.
pub fn series(title: &str, points: &[ChartPoint], marker: Option<DateTime<Utc>>, currency: &str) -> Markup {
    if points.len() < 2 {
        return html! { p.muted { "Not enough data to draw " (title) " yet." } };
    }
    let (t0, t1) = (points[0].at.timestamp() as f64, points[points.len() - 1].at.timestamp() as f64);
    // With a marker (an anomaly's start) the y-axis is the anomaly's own: its points and the
    // band, so an older, larger incident in view is clipped at the top instead of flattening it.
    let framed = |p: &&ChartPoint| marker.is_none_or(|m| p.at >= m);
    let peak = points.iter().filter(framed).map(|p| as_f64(p.actual)).fold(0.0, f64::max);
    let top = points.iter().map(|p| as_f64(p.upper)).fold(peak, f64::max).max(1e-9) * 1.05;
    let x = |t: DateTime<Utc>| LEFT + (t.timestamp() as f64 - t0) / (t1 - t0).max(1.0) * (W - LEFT - 8.0);
    let y = |v: f64| 8.0 + (1.0 - v.min(top) / top) * (H - BOTTOM - 8.0);
    let upper: Vec<_> = points.iter().map(|p| (x(p.at), y(as_f64(p.upper)))).collect();
    let lower: Vec<_> = points.iter().rev().map(|p| (x(p.at), y(as_f64(p.lower)))).collect();
    let band = format!("{} L{} Z", path(&upper), &path(&lower)[1..]);
    let expected: Vec<_> = points.iter().map(|p| (x(p.at), y(as_f64(p.expected)))).collect();
    let actual: Vec<_> = points.iter().map(|p| (x(p.at), y(as_f64(p.actual)))).collect();
    let (first, last) = (
        points[0].at.format("%b %d %H:%M").to_string(),
        points[points.len() - 1].at.format("%b %d %H:%M UTC").to_string(),
    );
    html! {
        figure.chart {
            svg viewBox=(format!("0 0 {W} {H}")) role="img" aria-label=(title) {
                (frame(title, top, currency, first, last))
                path.band d=(band) {}
                path.expected d=(path(&expected)) {}
                path.actual d=(path(&actual)) {}
                @if let Some(m) = marker.filter(|m| m.timestamp() as f64 >= t0 && m.timestamp() as f64 <= t1) {
                    line.marker x1=(format!("{:.1}", x(m))) y1="8" x2=(format!("{:.1}", x(m))) y2=(H - BOTTOM) {}
                    text.tick x=(format!("{:.1}", x(m) + 4.0)) y="20" { "anomaly starts" }
                }
            }
            figcaption.legend {
                span.key.actual { "actual" } span.key.expected { "expected" } span.key.band { "normal band" }
            }
        }
    }
}

/// Bars of one value per period (e.g. daily LLM spend), oldest first.
pub fn bars(title: &str, values: &[(DateTime<Utc>, crate::domain::money::Total)], currency: &str) -> Markup {
    if values.is_empty() {
        return html! { p.muted { "No data for " (title) " yet." } };
    }
    let top = values.iter().map(|(_, v)| as_f64(*v)).fold(0.0, f64::max).max(1e-9) * 1.05;
    let slot = (W - LEFT - 8.0) / values.len() as f64;
    let (first, last) =
        (values[0].0.format("%b %d").to_string(), values[values.len() - 1].0.format("%b %d").to_string());
    html! {
        figure.chart {
            svg viewBox=(format!("0 0 {W} {H}")) role="img" aria-label=(title) {
                (frame(title, top, currency, first, last))
                @for (i, (at, v)) in values.iter().enumerate() {
                    @let h = as_f64(*v) / top * (H - BOTTOM - 8.0);
                    rect.bar x=(format!("{:.1}", LEFT + i as f64 * slot + 1.0)) y=(format!("{:.1}", H - BOTTOM - h))
                        width=(format!("{:.1}", (slot - 2.0).max(1.0))) height=(format!("{h:.1}")) {
                        title { (at.format("%Y-%m-%d")) ": " (format_display(v.units(), 2)) " " (currency) }
                    }
                }
            }
        }
    }
}

/// A budget's period: cumulative spend by day to now, the forecast from there to the period's
/// end with its range, and the budget's amount as a rule.
pub struct BudgetChart<'a> {
    pub title: &'a str,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub now: DateTime<Utc>,
    pub by_day: &'a [crate::domain::money::Total],
    /// (low, expected, high) at the period's end.
    pub forecast: (crate::domain::money::Total, crate::domain::money::Total, crate::domain::money::Total),
    pub amount: crate::domain::money::Total,
    pub currency: &'a str,
}

pub fn budget(c: &BudgetChart<'_>) -> Markup {
    let (t0, t1) = (c.start.timestamp() as f64, c.end.timestamp() as f64);
    let now = (c.now.timestamp() as f64).clamp(t0, t1);
    let (low, mid, high) = (as_f64(c.forecast.0), as_f64(c.forecast.1), as_f64(c.forecast.2));
    let amount = as_f64(c.amount);
    let top = high.max(mid).max(amount).max(1e-9) * 1.08;
    let x = |t: f64| LEFT + (t - t0) / (t1 - t0).max(1.0) * (W - LEFT - 8.0);
    let y = |v: f64| 8.0 + (1.0 - v.min(top) / top) * (H - BOTTOM - 8.0);
    // The cumulative line: each day's end, the running day ending at now.
    let mut sum = 0.0;
    let mut spent = vec![(x(t0), y(0.0))];
    for (i, day) in c.by_day.iter().enumerate() {
        sum += as_f64(*day);
        let at = (t0 + (i as f64 + 1.0) * 86_400.0).min(now);
        spent.push((x(at), y(sum)));
    }
    let (nx, ny) = (x(now), y(sum));
    let range = format!("M{nx:.1},{ny:.1} L{:.1},{:.1} L{:.1},{:.1} Z", x(t1), y(high), x(t1), y(low));
    let expected = format!("M{nx:.1},{ny:.1} L{:.1},{:.1}", x(t1), y(mid));
    let rule = y(amount);
    html! {
        figure.chart {
            svg viewBox=(format!("0 0 {W} {H}")) role="img" aria-label=(c.title) {
                (frame(c.title, top, c.currency, c.start.format("%b %d").to_string(), c.end.format("%b %d").to_string()))
                line.budget-rule x1=(LEFT) y1=(format!("{rule:.1}")) x2=(W - 8.0) y2=(format!("{rule:.1}")) {}
                text.tick x=(LEFT + 4.0) y=(format!("{:.1}", rule - 4.0)) { "budget " (format_display(c.amount.units(), 0)) " " (c.currency) }
                path.band d=(range) {}
                path.expected d=(expected) {}
                path.actual d=(path(&spent)) {}
            }
            figcaption.legend {
                span.key.actual { "spent" } span.key.expected { "forecast" } span.key.band { "forecast range" }
                span.key.budget-rule { "budget" }
            }
        }
    }
}

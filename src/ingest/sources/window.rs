//! Time-window cursors shared by the cloud adapters: each run reads from where the last one
//! left off, minus a restatement window (billing data is revised after the fact), and a first
//! run backfills. Long backfills go in chunks, each its own commit.

use chrono::{DateTime, Duration, DurationRound, Utc};
use serde::{Deserialize, Serialize};

/// What a cloud adapter stores as its cursor (JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cursor {
    /// The next pull starts here.
    pub from: DateTime<Utc>,
    /// Adapter-specific memory, e.g. the granularity the account turned out to support.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Cursor {
    pub fn parse(text: Option<&str>) -> anyhow::Result<Option<Cursor>> {
        match text.map(str::trim).filter(|t| !t.is_empty()) {
            None => Ok(None),
            Some(t) => Ok(Some(serde_json::from_str(t).map_err(|e| anyhow::anyhow!("unreadable cursor '{t}': {e}"))?)),
        }
    }

    pub fn to_text(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The span one pull reads: [from, to), with `more` when a backfill continues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub more: bool,
}

/// From the cursor (or `now - backfill` on the first run), to the end of the period holding
/// `now`, at most `max_span` long; both ends on `step` boundaries.
pub fn next(
    cursor: Option<&Cursor>,
    now: DateTime<Utc>,
    backfill: Duration,
    step: Duration,
    max_span: Duration,
) -> Window {
    let floor = |t: DateTime<Utc>| t.duration_trunc(step).unwrap_or(t);
    let from = floor(cursor.map_or(now - backfill, |c| c.from).min(now));
    let end = floor(now) + step;
    let to = end.min(from + max_span.max(step));
    Window { from, to, more: to < end }
}

/// Where the next run starts after reading `window`: the next chunk of a backfill, else the
/// earliest period the provider still called estimated, or `restate` before the end.
pub fn after(window: &Window, first_estimated: Option<DateTime<Utc>>, restate: Duration) -> DateTime<Utc> {
    if window.more {
        return window.to;
    }
    let restated = (window.to - restate).max(window.from);
    first_estimated.map_or(restated, |e| e.min(restated))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, d, h, 0, 0).unwrap()
    }

    #[test]
    fn first_run_backfills_in_chunks_then_reads_to_now() {
        let now = at(20, 5) + Duration::minutes(30);
        let w = next(None, now, Duration::days(10), Duration::hours(1), Duration::days(7));
        assert_eq!((w.from, w.to, w.more), (at(10, 5), at(17, 5), true));
        let c = Cursor { from: after(&w, None, Duration::days(3)), note: None };
        let w2 = next(Some(&c), now, Duration::days(10), Duration::hours(1), Duration::days(7));
        assert_eq!((w2.from, w2.to, w2.more), (at(17, 5), at(20, 6), false));
    }

    #[test]
    fn later_runs_reread_the_estimated_or_restated_tail() {
        let w = Window { from: at(10, 0), to: at(20, 0), more: false };
        assert_eq!(after(&w, None, Duration::days(3)), at(17, 0));
        assert_eq!(after(&w, Some(at(15, 0)), Duration::days(3)), at(15, 0));
        assert_eq!(after(&w, Some(at(19, 0)), Duration::days(3)), at(17, 0));
        let short = Window { from: at(19, 0), to: at(20, 0), more: false };
        assert_eq!(after(&short, None, Duration::days(3)), at(19, 0));
    }

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let c = Cursor { from: at(1, 0), note: Some("DAILY".into()) };
        assert_eq!(Cursor::parse(Some(&c.to_text())).unwrap(), Some(c));
        assert_eq!(Cursor::parse(Some("")).unwrap(), None);
        assert!(Cursor::parse(Some("{")).is_err());
    }
}

//! Notifications, the pure part: the events people are told about, which destination hears
//! which (routes), when quiet hours hold a message back, how long a failed delivery waits
//! before its next try, and the HMAC signatures that receivers (and we, for Slack) check.

use super::detect::decision::Severity;
use chrono::{DateTime, Duration, NaiveTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::fmt;

/// What happened, as receivers see it (`event` in payloads, template names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    AnomalyOpened,
    /// An open anomaly's severity rose.
    AnomalyEscalated,
    AnomalyResolved,
    /// An action on an open anomaly was executed and verified: the spend is stopped, and the
    /// anomaly is watched until its cost is back in its band.
    AnomalyMitigated,
    /// An action waits for people to approve it.
    ActionPending,
    /// An action has the approvals it needs and goes to the executor.
    ActionApproved,
    /// Executed and verified.
    ActionSucceeded,
    ActionFailed,
    /// A budget's threshold was crossed for the first time in its period.
    BudgetThresholdCrossed,
}

impl Event {
    pub const ALL: [Event; 9] = [
        Event::AnomalyOpened,
        Event::AnomalyEscalated,
        Event::AnomalyResolved,
        Event::AnomalyMitigated,
        Event::ActionPending,
        Event::ActionApproved,
        Event::ActionSucceeded,
        Event::ActionFailed,
        Event::BudgetThresholdCrossed,
    ];

    /// What a route with no `events` list hears on a chat or mail destination: every event
    /// but the two steps between a proposal and its end, which would double the messages in
    /// a channel (the approval is visible in the "Done" that follows). A route that lists
    /// them hears them; PagerDuty hears them always, to acknowledge and resolve its incident.
    pub const UNLESS_LISTED: [Event; 7] = [
        Event::AnomalyOpened,
        Event::AnomalyEscalated,
        Event::AnomalyResolved,
        Event::ActionPending,
        Event::ActionSucceeded,
        Event::ActionFailed,
        Event::BudgetThresholdCrossed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Event::AnomalyOpened => "anomaly_opened",
            Event::AnomalyEscalated => "anomaly_escalated",
            Event::AnomalyResolved => "anomaly_resolved",
            Event::AnomalyMitigated => "anomaly_mitigated",
            Event::ActionPending => "action_pending",
            Event::ActionApproved => "action_approved",
            Event::ActionSucceeded => "action_succeeded",
            Event::ActionFailed => "action_failed",
            Event::BudgetThresholdCrossed => "budget_threshold_crossed",
        }
    }

    pub fn parse(s: &str) -> Option<Event> {
        Event::ALL.into_iter().find(|e| e.as_str() == s)
    }

    /// The event an anomaly timeline entry stands for; `previous` is the severity of the
    /// entry before it (an update is news only when the severity rose).
    pub fn of_anomaly(kind: &str, severity: Severity, previous: Option<Severity>) -> Option<Event> {
        match kind {
            "opened" => Some(Event::AnomalyOpened),
            "resolved" => Some(Event::AnomalyResolved),
            "mitigated" => Some(Event::AnomalyMitigated),
            "updated" if previous.is_some_and(|p| severity > p) => Some(Event::AnomalyEscalated),
            _ => None,
        }
    }

    /// Where an event goes among those one notifier pass finds (anomaly timelines and action
    /// transitions are two streams): an anomaly's opening and escalation before the actions
    /// it led to, its mitigation (by a verified action) and resolution after them. That is
    /// the order they happened in, since an anomaly only resolves once no action on it is
    /// under way.
    pub fn place_in_pass(self) -> u8 {
        match self {
            Event::AnomalyOpened | Event::AnomalyEscalated => 0,
            Event::ActionPending | Event::ActionApproved | Event::ActionSucceeded | Event::ActionFailed => 1,
            Event::AnomalyMitigated => 2,
            Event::AnomalyResolved => 3,
            Event::BudgetThresholdCrossed => 4,
        }
    }

    /// The event an action transition stands for.
    pub fn of_action(to_status: &str) -> Option<Event> {
        match to_status {
            "pending_approval" => Some(Event::ActionPending),
            "approved" => Some(Event::ActionApproved),
            "succeeded" => Some(Event::ActionSucceeded),
            "failed" => Some(Event::ActionFailed),
            _ => None,
        }
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An anomaly as the notifier finds it when it reads one of its events (or one of its
/// actions' transitions).
#[derive(Debug, Clone, Copy)]
pub struct AnomalyNow {
    /// Its latest anomalous point.
    pub last_out: DateTime<Utc>,
    /// Resolved already: a replayed history, or news that came and went before it was read.
    pub ended: bool,
    /// A message about it was queued before.
    pub announced: bool,
}

/// Whether an event is news worth telling. Nobody is told (least of all paged) that an
/// anomaly opened when it has already ended, nor of a replayed history (incidents whose
/// latest anomalous point is older than `max_age` at `now`), nor asked to approve an action
/// on either; a resolution or mitigation is news only for an anomaly people were told about,
/// so every incident opened on a pager is also closed there. `anomaly` is None for an action
/// proposed without one and for budget crossings.
pub fn is_news(event: Event, anomaly: Option<AnomalyNow>, now: DateTime<Utc>, max_age: Duration) -> bool {
    let Some(a) = anomaly else { return true };
    let fresh = now - a.last_out <= max_age;
    match event {
        Event::AnomalyResolved | Event::AnomalyMitigated => a.announced,
        Event::AnomalyOpened | Event::AnomalyEscalated | Event::ActionPending => fresh && !a.ended,
        // What was done is told, even once the anomaly has ended.
        Event::ActionApproved | Event::ActionSucceeded | Event::ActionFailed => fresh,
        // The notifier reads only crossings of periods still running.
        Event::BudgetThresholdCrossed => true,
    }
}

/// What routes match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subject<'a> {
    pub event: Event,
    pub provider: Option<&'a str>,
    /// The `team` tag of the anomaly (its series, or its main root cause).
    pub team: Option<&'a str>,
    pub severity: Severity,
}

/// Which events a destination hears. Every list left empty matches everything (for
/// `events`: everything its kind hears by default).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Route {
    pub events: Vec<Event>,
    /// Only this severity and above.
    pub min_severity: Severity,
    /// Provider names as in the ledger (e.g. "Google Cloud", "AWS"), case-insensitive.
    pub providers: Vec<String>,
    /// Values of the `team` tag.
    pub teams: Vec<String>,
}

impl Default for Route {
    fn default() -> Self {
        Route { events: Vec::new(), min_severity: Severity::Low, providers: Vec::new(), teams: Vec::new() }
    }
}

impl Route {
    /// Whether the subject goes to a destination with this route whose kind hears `by_default`
    /// when `events` is empty.
    pub fn matches(&self, s: &Subject<'_>, by_default: &[Event]) -> bool {
        let listed = |list: &[String], value: Option<&str>| {
            list.is_empty() || value.is_some_and(|v| list.iter().any(|l| l.eq_ignore_ascii_case(v)))
        };
        let events = if self.events.is_empty() { by_default } else { &self.events };
        events.contains(&s.event)
            && s.severity >= self.min_severity
            && listed(&self.providers, s.provider)
            && listed(&self.teams, s.team)
    }
}

/// A daily window (UTC) in which messages of `max_severity` and below wait until it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    pub start: NaiveTime,
    pub end: NaiveTime,
    pub max_severity: Severity,
}

impl QuietHours {
    /// "22:00-07:00" (the window may cross midnight); "" is none.
    pub fn parse(text: &str, max_severity: Severity) -> Result<Option<QuietHours>, String> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        let (a, b) = text.split_once('-').ok_or_else(|| format!("'{text}' is not HH:MM-HH:MM"))?;
        let time = |t: &str| {
            NaiveTime::parse_from_str(t.trim(), "%H:%M").map_err(|_| format!("'{}' is not a time (HH:MM)", t.trim()))
        };
        let (start, end) = (time(a)?, time(b)?);
        if start == end {
            return Err("the quiet window is empty (start equals end)".into());
        }
        Ok(Some(QuietHours { start, end, max_severity }))
    }

    /// When a message of `severity` created at `now` may go: None for at once.
    pub fn hold_until(&self, severity: Severity, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if severity > self.max_severity {
            return None;
        }
        let t = now.time();
        let inside =
            if self.start < self.end { t >= self.start && t < self.end } else { t >= self.start || t < self.end };
        if !inside {
            return None;
        }
        let today_end = now.date_naive().and_time(self.end).and_utc();
        Some(if today_end > now { today_end } else { today_end + Duration::days(1) })
    }
}

/// The wait before try number `attempts + 1`: doubling from `base`, at most an hour.
pub fn retry_delay(base: Duration, attempts: u32) -> Duration {
    let factor = 1i32 << attempts.saturating_sub(1).min(16);
    (base * factor).min(Duration::hours(1))
}

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &[u8], parts: &[&[u8]]) -> HmacSha256 {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = HmacSha256::new_from_slice(secret).unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    for part in parts {
        mac.update(part);
    }
    mac
}

/// Slack's request signature: `v0=` and the hex HMAC-SHA256 of `v0:{timestamp}:{body}`.
pub fn slack_signature(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    format!("v0={}", hex::encode(mac(secret, &[b"v0:", timestamp.as_bytes(), b":", body]).finalize().into_bytes()))
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the request is not signed")]
    Missing,
    #[error("the request timestamp is outside the replay window")]
    Stale,
    #[error("the signature does not match")]
    Mismatch,
}

/// Checks a Slack request: the timestamp within `window_secs` of `now`, and the signature,
/// compared in constant time.
pub fn verify_slack(
    secret: &[u8],
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: DateTime<Utc>,
    window_secs: i64,
) -> Result<(), SignatureError> {
    let (Some(timestamp), Some(signature)) = (timestamp, signature) else { return Err(SignatureError::Missing) };
    let at: i64 = timestamp.parse().map_err(|_| SignatureError::Stale)?;
    if (now.timestamp() - at).abs() > window_secs {
        return Err(SignatureError::Stale);
    }
    let given = signature.strip_prefix("v0=").and_then(|h| hex::decode(h).ok()).ok_or(SignatureError::Mismatch)?;
    mac(secret, &[b"v0:", timestamp.as_bytes(), b":", body]).verify_slice(&given).map_err(|_| SignatureError::Mismatch)
}

/// Our webhook signature: `sha256=` and the hex HMAC-SHA256 of `{timestamp}.{body}`, sent in
/// `X-CostGuard-Signature` beside `X-CostGuard-Timestamp`.
pub fn webhook_signature(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    format!("sha256={}", hex::encode(mac(secret, &[timestamp.as_bytes(), b".", body]).finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 28, h, m, 0).unwrap()
    }

    fn subject(
        event: Event,
        provider: &'static str,
        team: Option<&'static str>,
        severity: Severity,
    ) -> Subject<'static> {
        Subject { event, provider: Some(provider), team, severity }
    }

    #[test]
    fn routes_match_every_listed_dimension() {
        let any = Route::default();
        let chat = &Event::UNLESS_LISTED;
        let s = subject(Event::AnomalyOpened, "Google Cloud", Some("data"), Severity::Medium);
        assert!(any.matches(&s, chat));
        let gcp_high =
            Route { providers: vec!["google cloud".into()], min_severity: Severity::High, ..Route::default() };
        assert!(!gcp_high.matches(&s, chat));
        assert!(gcp_high.matches(&Subject { severity: Severity::Critical, ..s }, chat));
        assert!(!gcp_high.matches(&subject(Event::AnomalyOpened, "AWS", None, Severity::Critical), chat));
        let team = Route { teams: vec!["web".into()], ..Route::default() };
        assert!(!team.matches(&s, chat));
        assert!(!team.matches(&Subject { team: None, ..s }, chat), "a listed team needs a team");
        let approvals = Route { events: vec![Event::ActionPending], ..Route::default() };
        assert!(!approvals.matches(&s, chat));
        assert!(approvals.matches(&Subject { event: Event::ActionPending, ..s }, chat));
    }

    #[test]
    fn approvals_and_mitigations_are_heard_where_listed_or_by_default() {
        let s = subject(Event::ActionApproved, "AWS", None, Severity::High);
        let mitigated = Subject { event: Event::AnomalyMitigated, ..s };
        assert!(!Route::default().matches(&s, &Event::UNLESS_LISTED), "a channel hears no approval by default");
        assert!(!Route::default().matches(&mitigated, &Event::UNLESS_LISTED));
        let listed = Route { events: vec![Event::ActionApproved], ..Route::default() };
        assert!(listed.matches(&s, &Event::UNLESS_LISTED));
        assert!(Route::default().matches(&s, &Event::ALL) && Route::default().matches(&mitigated, &Event::ALL));
    }

    #[test]
    fn anomaly_updates_are_news_only_when_severity_rises() {
        use Severity::*;
        assert_eq!(Event::of_anomaly("opened", Low, None), Some(Event::AnomalyOpened));
        assert_eq!(Event::of_anomaly("updated", High, Some(Medium)), Some(Event::AnomalyEscalated));
        assert_eq!(Event::of_anomaly("updated", Medium, Some(Medium)), None);
        assert_eq!(Event::of_anomaly("updated", Low, Some(High)), None);
        assert_eq!(Event::of_anomaly("resolved", Low, Some(High)), Some(Event::AnomalyResolved));
        assert_eq!(Event::of_anomaly("feedback", Low, None), None);
        assert_eq!(Event::of_anomaly("mitigated", High, Some(High)), Some(Event::AnomalyMitigated));
        assert_eq!(Event::of_action("pending_approval"), Some(Event::ActionPending));
        assert_eq!(Event::of_action("approved"), Some(Event::ActionApproved));
        assert_eq!(Event::of_action("executing"), None);
        for e in Event::ALL {
            assert_eq!(Event::parse(e.as_str()), Some(e));
        }
    }

    #[test]
    fn one_pass_tells_an_opening_before_its_actions_and_a_resolution_after_them() {
        use Event::*;
        let mut pass = vec![AnomalyResolved, AnomalyMitigated, AnomalyOpened, ActionSucceeded, ActionPending];
        pass.sort_by_key(|e| e.place_in_pass());
        // Stable: the two action events keep the order their stream gave them.
        assert_eq!(pass, [AnomalyOpened, ActionSucceeded, ActionPending, AnomalyMitigated, AnomalyResolved]);
    }

    #[test]
    fn replayed_history_is_not_news_and_resolutions_follow_what_was_said() {
        let (now, day, max_age) = (at(12, 0), Duration::hours(24), Duration::hours(72));
        let seen = |last_out, ended, announced| Some(AnomalyNow { last_out, ended, announced });
        let news = |event, anomaly| is_news(event, anomaly, now, max_age);
        assert!(news(Event::AnomalyOpened, seen(now - Duration::hours(30), false, false)));
        assert!(!news(Event::AnomalyOpened, seen(now - day * 5, false, false)));
        assert!(!news(Event::AnomalyEscalated, seen(now - day * 5, false, true)));
        assert!(news(Event::AnomalyResolved, seen(now - day * 5, true, true)));
        assert!(!news(Event::AnomalyResolved, seen(now, true, false)));
        assert!(!news(Event::AnomalyMitigated, seen(now, false, false)));
        assert!(news(Event::AnomalyMitigated, seen(now - day * 5, false, true)));
        assert!(news(Event::ActionPending, None), "an action proposed by hand, without an anomaly");
        assert!(!news(Event::ActionPending, seen(now - day * 9, false, false)), "a proposal on history");
        assert!(news(Event::BudgetThresholdCrossed, None));
    }

    #[test]
    fn an_anomaly_that_ended_before_it_was_read_pages_nobody() {
        // The first start's backfill finds last Saturday's loop (within max_age) and its end in
        // one pass: an opening without its resolution would leave a pager's incident open.
        let (now, max_age) = (at(12, 0), Duration::hours(72));
        let ended = Some(AnomalyNow { last_out: now - Duration::hours(30), ended: true, announced: false });
        for event in [Event::AnomalyOpened, Event::AnomalyEscalated, Event::ActionPending, Event::AnomalyResolved] {
            assert!(!is_news(event, ended, now, max_age), "{event}");
        }
        // What was done on it is still told.
        assert!(is_news(Event::ActionSucceeded, ended, now, max_age));
        assert!(is_news(Event::ActionFailed, ended, now, max_age));
    }

    #[test]
    fn quiet_hours_hold_low_severities_until_they_end() {
        let q = QuietHours::parse("22:00-07:00", Severity::Medium).unwrap().unwrap();
        assert_eq!(q.hold_until(Severity::Low, at(23, 30)), Some(at(7, 0) + Duration::days(1)));
        assert_eq!(q.hold_until(Severity::Medium, at(2, 0)), Some(at(7, 0)));
        assert_eq!(q.hold_until(Severity::High, at(2, 0)), None, "high severities always go");
        assert_eq!(q.hold_until(Severity::Low, at(7, 0)), None, "the end is outside");
        assert_eq!(q.hold_until(Severity::Low, at(12, 0)), None);
        let day = QuietHours::parse("12:00-13:30", Severity::Low).unwrap().unwrap();
        assert_eq!(day.hold_until(Severity::Low, at(12, 0)), Some(at(13, 30)));
        assert_eq!(QuietHours::parse(" ", Severity::Low), Ok(None));
        assert!(QuietHours::parse("22-07", Severity::Low).unwrap_err().contains("22"));
        assert!(QuietHours::parse("07:00-07:00", Severity::Low).is_err());
    }

    #[test]
    fn retries_double_up_to_an_hour() {
        let base = Duration::seconds(5);
        let waits: Vec<i64> = (1..=5).map(|a| retry_delay(base, a).num_seconds()).collect();
        assert_eq!(waits, [5, 10, 20, 40, 80]);
        assert_eq!(retry_delay(base, 40), Duration::hours(1));
    }

    #[test]
    fn slack_signatures_follow_slacks_worked_example() {
        // The example in Slack's "Verifying requests from Slack" guide.
        let secret = b"8f742231b10e8888abcd99yyyzzz85a5";
        let body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        let ts = "1531420618";
        let expected = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
        assert_eq!(slack_signature(secret, ts, body), expected);
        let now = Utc.timestamp_opt(1_531_420_618 + 60, 0).unwrap();
        assert_eq!(verify_slack(secret, Some(ts), Some(expected), body, now, 300), Ok(()));
        let later = now + Duration::minutes(10);
        assert_eq!(verify_slack(secret, Some(ts), Some(expected), body, later, 300), Err(SignatureError::Stale));
        let tampered = verify_slack(secret, Some(ts), Some(expected), b"token=x", now, 300);
        assert_eq!(tampered, Err(SignatureError::Mismatch));
        assert_eq!(verify_slack(secret, None, Some(expected), body, now, 300), Err(SignatureError::Missing));
        assert_eq!(verify_slack(secret, Some(ts), Some("v0=zz"), body, now, 300), Err(SignatureError::Mismatch));
    }

    #[test]
    fn webhook_signatures_cover_timestamp_and_body() {
        let a = webhook_signature(b"s3cret", "1700000000", b"{}");
        assert!(a.starts_with("sha256=") && a.len() == 7 + 64);
        assert_ne!(a, webhook_signature(b"s3cret", "1700000001", b"{}"));
        assert_ne!(a, webhook_signature(b"other", "1700000000", b"{}"));
    }
}

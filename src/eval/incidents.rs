//! The figures an on-call engineer cares about, beside NAB's score: of the labelled incidents,
//! how many raised an alert and how soon; how many alerts came outside any incident (per
//! series-month); how many extra alerts one incident raised; and, per incident kind, where
//! the detector is weak. Benign recurring charges are not incidents: an alert on one is a
//! false alarm, counted apart as well.

use super::scenarios::{LabelledSpan, SpanKind};
use serde::Serialize;
use std::collections::BTreeMap;

/// One kind's tally (or the total over every incident).
#[derive(Debug, Clone, Default, Serialize)]
pub struct KindScore {
    pub incidents: usize,
    /// With at least one alert inside the incident's span.
    pub found: usize,
    /// With its first alert at most an hour after the incident began.
    pub found_within_hour: usize,
    /// Sum of (first alert − start) over found incidents, hours.
    pub delay_hours: f64,
    /// Alerts inside an incident beyond its first.
    pub re_alerts: usize,
}

impl KindScore {
    pub fn recall(&self) -> f64 {
        ratio(self.found, self.incidents)
    }

    pub fn mean_delay_hours(&self) -> f64 {
        if self.found == 0 {
            return f64::NAN;
        }
        self.delay_hours / self.found as f64
    }

    fn add(&mut self, other: &KindScore) {
        self.incidents += other.incidents;
        self.found += other.found;
        self.found_within_hour += other.found_within_hour;
        self.delay_hours += other.delay_hours;
        self.re_alerts += other.re_alerts;
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        return f64::NAN;
    }
    a as f64 / b as f64
}

/// One file's (or the corpus') incident figures.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IncidentScore {
    pub all: KindScore,
    pub by_kind: BTreeMap<String, KindScore>,
    /// Alerts outside every incident's span.
    pub false_alarms: usize,
    /// Hours outside every incident's span.
    pub quiet_hours: f64,
    pub benign_charges: usize,
    pub benign_charges_alerted: usize,
}

impl IncidentScore {
    pub fn false_alarms_per_series_month(&self) -> f64 {
        if self.quiet_hours <= 0.0 {
            return f64::NAN;
        }
        self.false_alarms as f64 / (self.quiet_hours / (24.0 * 30.0))
    }

    pub fn add(&mut self, other: &IncidentScore) {
        self.all.add(&other.all);
        for (kind, s) in &other.by_kind {
            self.by_kind.entry(kind.clone()).or_default().add(s);
        }
        self.false_alarms += other.false_alarms;
        self.quiet_hours += other.quiet_hours;
        self.benign_charges += other.benign_charges;
        self.benign_charges_alerted += other.benign_charges_alerted;
    }
}

/// A labelled span in epoch seconds, inclusive.
#[derive(Debug, Clone, Copy)]
pub struct Span {
    pub kind: Option<SpanKind>,
    pub start: i64,
    pub end: i64,
}

impl Span {
    pub fn from_label(l: &LabelledSpan) -> Option<Span> {
        let parse = |s: &str| super::parse_time(s).map(|t| t.and_utc().timestamp());
        Some(Span { kind: Some(l.kind), start: parse(&l.start)?, end: parse(&l.end)? })
    }
}

fn kind_name(kind: Option<SpanKind>) -> String {
    kind.map_or_else(
        || "unlabelled".to_string(),
        |k| serde_json::to_value(k).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default(),
    )
}

/// Scores one series: `alerts` are the epochs at which an incident opened, `epochs` every
/// point's, `step` the spacing in seconds.
pub fn score(alerts: &[i64], epochs: &[i64], step: i64, spans: &[Span]) -> IncidentScore {
    let incidents: Vec<&Span> = spans.iter().filter(|s| s.kind.is_none_or(SpanKind::is_incident)).collect();
    let inside = |t: i64, s: &Span| t >= s.start && t <= s.end;
    let mut out = IncidentScore::default();
    for s in &incidents {
        let mut k = KindScore { incidents: 1, ..KindScore::default() };
        let hits: Vec<i64> = alerts.iter().copied().filter(|t| inside(*t, s)).collect();
        if let Some(first) = hits.first() {
            k.found = 1;
            let delay = (first - s.start) as f64 / 3_600.0;
            k.delay_hours = delay;
            k.found_within_hour = usize::from(delay <= 1.0);
            k.re_alerts = hits.len() - 1;
        }
        out.all.add(&k);
        out.by_kind.entry(kind_name(s.kind)).or_default().add(&k);
    }
    out.false_alarms = alerts.iter().filter(|t| !incidents.iter().any(|s| inside(**t, s))).count();
    let quiet_points = epochs.iter().filter(|t| !incidents.iter().any(|s| inside(**t, s))).count();
    out.quiet_hours = quiet_points as f64 * step as f64 / 3_600.0;
    for b in spans.iter().filter(|s| s.kind == Some(SpanKind::BenignCharge)) {
        out.benign_charges += 1;
        out.benign_charges_alerted += usize::from(alerts.iter().any(|t| inside(*t, b)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600;

    fn span(kind: SpanKind, start: i64, end: i64) -> Span {
        Span { kind: Some(kind), start: start * H, end: end * H }
    }

    #[test]
    fn counts_found_delay_re_alerts_and_false_alarms() {
        let epochs: Vec<i64> = (0..720).map(|h| h * H).collect();
        let spans =
            [span(SpanKind::Ramp, 100, 200), span(SpanKind::Spike, 300, 300), span(SpanKind::BenignCharge, 400, 400)];
        // The ramp at +3 h and again at +50 h; the spike missed; one alert on the fee, one
        // more out of nowhere.
        let alerts = [103 * H, 150 * H, 400 * H, 600 * H];
        let s = score(&alerts, &epochs, H, &spans);
        assert_eq!((s.all.incidents, s.all.found, s.all.found_within_hour, s.all.re_alerts), (2, 1, 0, 1));
        assert!((s.all.mean_delay_hours() - 3.0).abs() < 1e-9);
        assert_eq!(s.by_kind["ramp"].found, 1);
        assert_eq!(s.by_kind["spike"].found, 0);
        assert_eq!((s.false_alarms, s.benign_charges, s.benign_charges_alerted), (2, 1, 1));
        // 720 hours minus the 102 inside incidents.
        assert!((s.quiet_hours - 618.0).abs() < 1e-9);
        assert!((s.false_alarms_per_series_month() - 2.0 / (618.0 / 720.0)).abs() < 1e-9);
    }

    #[test]
    fn an_alert_at_the_first_point_has_no_delay() {
        let epochs: Vec<i64> = (0..48).map(|h| h * H).collect();
        let s = score(&[10 * H], &epochs, H, &[span(SpanKind::Runaway, 10, 12)]);
        assert_eq!((s.all.found_within_hour, s.false_alarms), (1, 0));
        assert_eq!(s.all.mean_delay_hours(), 0.0);
    }
}

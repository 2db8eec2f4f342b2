//! Labelled hourly cost scenarios for `costguard eval`: series shaped like real spend
//! (flat, diurnal, business hours, nightly batch), multiplicative noise, benign recurring
//! charges (a monthly fee at 00:00 on the 1st, a weekly one on Mondays), and incidents of the
//! kinds spend really has (runaway, spike, level shift, ramp, weekend break), each labelled
//! with its kind and span.
//!
//! The detector was never tuned on these: a seed is a fresh draw of shapes, levels, noise,
//! charges and incidents, so tuning on some seeds and reporting on others is honest.
//! Output, in the NAB layout `costguard eval` reads: `<shape>/<name>.csv` (timestamp,value),
//! `windows.json` (NAB windows: each incident's span) and `kinds.json` (the same spans with
//! their kinds, plus the benign charges, which are not incidents).

use chrono::{DateTime, Datelike, Duration, Timelike, Utc, Weekday};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// What a series usually looks like hour by hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeriesShape {
    Flat,
    Diurnal,
    BusinessHours,
    NightlyBatch,
}

impl SeriesShape {
    const ALL: [SeriesShape; 4] =
        [SeriesShape::Flat, SeriesShape::Diurnal, SeriesShape::BusinessHours, SeriesShape::NightlyBatch];

    fn as_str(self) -> &'static str {
        match self {
            SeriesShape::Flat => "flat",
            SeriesShape::Diurnal => "diurnal",
            SeriesShape::BusinessHours => "business_hours",
            SeriesShape::NightlyBatch => "nightly_batch",
        }
    }
}

/// A labelled span: an incident, or a benign charge (which an alert should not be raised on).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpanKind {
    /// Something starts costing several times the series' level (a loop, a leak).
    Runaway,
    /// One hour far above normal.
    Spike,
    /// The level steps up and stays (a bigger instance, a new workload).
    LevelShift,
    /// Cost climbs a few percent per hour or day and keeps climbing.
    Ramp,
    /// A job that stops at weekends keeps running through one.
    WeekendBreak,
    /// A recurring fee (monthly on the 1st, weekly on Monday) at 00:00: normal, not an incident.
    BenignCharge,
}

impl SpanKind {
    pub fn is_incident(self) -> bool {
        self != SpanKind::BenignCharge
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelledSpan {
    pub kind: SpanKind,
    pub start: String,
    pub end: String,
}

/// How many series, how long, which draw.
#[derive(Debug, Clone, Copy)]
pub struct ScenarioSpec {
    pub seed: u64,
    pub series: usize,
    pub days: i64,
}

/// One generated series: its values per hour and its labels.
pub struct Scenario {
    pub name: String,
    pub shape: SeriesShape,
    pub values: Vec<f64>,
    pub spans: Vec<LabelledSpan>,
}

const TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// Where every scenario starts: a Monday 00:00, two months before a 1st (so the series sees
/// monthly charges before incidents start).
pub fn epoch() -> DateTime<Utc> {
    DateTime::from_timestamp(1_767_571_200, 0).unwrap_or_default() // 2026-01-05T00:00:00Z
}

/// Incidents start after three weeks, when every baseline has seen weekdays and weekends.
const FIRST_INCIDENT_DAY: i64 = 21;

pub fn generate(spec: ScenarioSpec) -> Vec<Scenario> {
    let mut rng = StdRng::seed_from_u64(spec.seed);
    (0..spec.series).map(|i| one_series(&mut rng, i, spec.days)).collect()
}

fn normal(rng: &mut StdRng) -> f64 {
    // Box-Muller: two uniforms to one standard normal.
    let (u, v): (f64, f64) = (rng.random::<f64>().max(f64::MIN_POSITIVE), rng.random());
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// The usual cost of an hour, relative to the series' level (1.0), before noise.
fn usual(shape: SeriesShape, hour: DateTime<Utc>, p: &ShapeParams) -> f64 {
    let h = f64::from(hour.hour());
    let weekend = matches!(hour.weekday(), Weekday::Sat | Weekday::Sun);
    match shape {
        SeriesShape::Flat => 1.0,
        SeriesShape::Diurnal => 1.0 + p.amplitude * ((h - p.peak_hour) / 24.0 * std::f64::consts::TAU).cos(),
        SeriesShape::BusinessHours => {
            let busy = !weekend && (8.0..19.0).contains(&h);
            if busy {
                1.0
            } else {
                p.quiet_fraction
            }
        }
        SeriesShape::NightlyBatch => {
            let in_window = (p.batch_start..p.batch_start + p.batch_hours).contains(&h);
            let runs_tonight = !weekend || p.batch_on_weekends;
            if in_window && runs_tonight {
                p.batch_multiple
            } else {
                1.0
            }
        }
    }
}

struct ShapeParams {
    amplitude: f64,
    peak_hour: f64,
    quiet_fraction: f64,
    batch_start: f64,
    batch_hours: f64,
    batch_multiple: f64,
    batch_on_weekends: bool,
}

fn one_series(rng: &mut StdRng, index: usize, days: i64) -> Scenario {
    let shape = SeriesShape::ALL[rng.random_range(0..SeriesShape::ALL.len())];
    // Levels from cents to hundreds of dollars an hour (log-uniform).
    let level = 10f64.powf(rng.random_range(-1.0..2.7));
    let sigma = rng.random_range(0.03..0.15);
    let p = ShapeParams {
        amplitude: rng.random_range(0.2..0.6),
        peak_hour: rng.random_range(10.0..20.0),
        quiet_fraction: rng.random_range(0.15..0.5),
        batch_start: f64::from(rng.random_range(0..4u32)),
        batch_hours: f64::from(rng.random_range(1..6u32)),
        batch_multiple: rng.random_range(3.0..10.0),
        batch_on_weekends: rng.random_bool(0.5),
    };
    let hours = (days * 24) as usize;
    let at = |i: usize| epoch() + Duration::hours(i as i64);
    let mut values: Vec<f64> =
        (0..hours).map(|i| level * usual(shape, at(i), &p) * (sigma * normal(rng)).exp()).collect();
    let mut spans = Vec::new();

    // Benign recurring charges on a third of the series.
    if rng.random_bool(0.35) {
        let fee = level * rng.random_range(5.0..30.0);
        let weekly = rng.random_bool(0.3);
        for (i, v) in values.iter_mut().enumerate() {
            let t = at(i);
            let due = t.hour() == 0 && if weekly { t.weekday() == Weekday::Mon } else { t.day() == 1 };
            if due {
                *v += fee;
                spans.push(span(SpanKind::BenignCharge, t, t));
            }
        }
    }

    // One or two incidents, far enough apart that each is judged on its own.
    let count = if rng.random_bool(0.3) { 2 } else { 1 };
    let mut next_free = FIRST_INCIDENT_DAY * 24;
    for _ in 0..count {
        let room = hours as i64 - next_free - 24 * 7;
        if room <= 0 {
            break;
        }
        let start = next_free + rng.random_range(0..room.min(24 * 20));
        let weekend_quiet = match shape {
            SeriesShape::BusinessHours => true,
            SeriesShape::NightlyBatch => !p.batch_on_weekends,
            SeriesShape::Flat | SeriesShape::Diurnal => false,
        };
        let kind = pick_kind(rng, weekend_quiet);
        let (start, end) = apply_incident(rng, kind, &mut values, start as usize, level, shape, &p);
        spans.push(span(kind, at(start), at(end)));
        next_free = end as i64 + 24 * 7;
    }
    spans.sort_by(|a, b| a.start.cmp(&b.start));
    Scenario { name: format!("{}/series_{index:03}", shape.as_str()), shape, values, spans }
}

/// A weekend break needs a series that is quiet at weekends.
fn pick_kind(rng: &mut StdRng, weekend_quiet: bool) -> SpanKind {
    let kinds: &[SpanKind] = if weekend_quiet {
        &[SpanKind::Runaway, SpanKind::Spike, SpanKind::LevelShift, SpanKind::Ramp, SpanKind::WeekendBreak]
    } else {
        &[SpanKind::Runaway, SpanKind::Spike, SpanKind::LevelShift, SpanKind::Ramp]
    };
    kinds[rng.random_range(0..kinds.len())]
}

/// Changes `values` from about `start`; returns the incident's first and last hour.
fn apply_incident(
    rng: &mut StdRng,
    kind: SpanKind,
    values: &mut [f64],
    start: usize,
    level: f64,
    shape: SeriesShape,
    p: &ShapeParams,
) -> (usize, usize) {
    let last = values.len() - 1;
    match kind {
        SpanKind::Runaway => {
            let extra = level * rng.random_range(2.0..10.0);
            let end = (start + rng.random_range(2..24)).min(last);
            for v in &mut values[start..=end] {
                *v += extra * rng.random_range(0.9..1.1);
            }
            (start, end)
        }
        SpanKind::Spike => {
            values[start] += level * rng.random_range(3.0..10.0);
            (start, start)
        }
        SpanKind::LevelShift => {
            let factor = rng.random_range(1.4..2.5);
            let end = (start + rng.random_range(72..240)).min(last);
            for v in &mut values[start..=end] {
                *v *= factor;
            }
            (start, end)
        }
        SpanKind::Ramp => {
            // From +0 to ×(1 + rise) over one to four days, then held there.
            let rise = rng.random_range(1.0..3.0);
            let climb = rng.random_range(24..96) as f64;
            let end = (start + rng.random_range(120..240)).min(last);
            for (k, v) in values[start..=end].iter_mut().enumerate() {
                *v *= 1.0 + rise * (k as f64 / climb).min(1.0);
            }
            (start, end)
        }
        SpanKind::WeekendBreak => {
            // From the next Saturday 00:00, the weekday pattern (Friday's hours) keeps running
            // for 48 h; the incident is that weekend, whatever start was drawn.
            let mut saturday = start - start % 24;
            while saturday + 47 < last && epoch_weekday(saturday) != Weekday::Sat {
                saturday += 24;
            }
            let end = (saturday + 47).min(last);
            for (h, v) in values.iter_mut().enumerate().take(end + 1).skip(saturday) {
                let at = epoch() + Duration::hours(h as i64);
                let friday = at - Duration::days(if at.weekday() == Weekday::Sat { 1 } else { 2 });
                *v *= usual(shape, friday, p) / usual(shape, at, p);
            }
            (saturday, end)
        }
        SpanKind::BenignCharge => (start, start),
    }
}

fn epoch_weekday(hour: usize) -> Weekday {
    (epoch() + Duration::hours(hour as i64)).weekday()
}

fn span(kind: SpanKind, start: DateTime<Utc>, end: DateTime<Utc>) -> LabelledSpan {
    LabelledSpan { kind, start: start.format(TIME_FORMAT).to_string(), end: end.format(TIME_FORMAT).to_string() }
}

/// Writes the scenarios in the layout `costguard eval` reads.
pub fn write(dir: &Path, scenarios: &[Scenario]) -> std::io::Result<()> {
    let mut windows: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut kinds: BTreeMap<String, Vec<LabelledSpan>> = BTreeMap::new();
    for s in scenarios {
        let file = format!("{}.csv", s.name);
        let path = dir.join(&file);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut w = csv::Writer::from_path(&path)?;
        w.write_record(["timestamp", "value"])?;
        for (i, v) in s.values.iter().enumerate() {
            let t = (epoch() + Duration::hours(i as i64)).format(TIME_FORMAT).to_string();
            w.write_record([t, format!("{v:.6}")])?;
        }
        w.flush()?;
        windows.insert(
            file.clone(),
            s.spans.iter().filter(|l| l.kind.is_incident()).map(|l| (l.start.clone(), l.end.clone())).collect(),
        );
        kinds.insert(file, s.spans.clone());
    }
    std::fs::write(dir.join("windows.json"), serde_json::to_string_pretty(&windows)?)?;
    std::fs::write(dir.join("kinds.json"), serde_json::to_string_pretty(&kinds)?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> DateTime<Utc> {
        chrono::NaiveDateTime::parse_from_str(s, TIME_FORMAT).unwrap().and_utc()
    }

    #[test]
    fn a_seed_is_one_draw_and_its_labels_say_what_was_drawn() {
        let spec = ScenarioSpec { seed: 7, series: 40, days: 90 };
        let (a, b) = (generate(spec), generate(spec));
        assert_eq!(a.iter().map(|s| &s.values).collect::<Vec<_>>(), b.iter().map(|s| &s.values).collect::<Vec<_>>());
        let other = generate(ScenarioSpec { seed: 8, ..spec });
        assert_ne!(a[0].values, other[0].values);
        let mut incidents = 0;
        for s in &a {
            assert_eq!(s.values.len(), 90 * 24);
            assert!(s.values.iter().all(|v| v.is_finite() && *v >= 0.0), "{}", s.name);
            for l in &s.spans {
                let (start, end) = (parse(&l.start), parse(&l.end));
                assert!(start <= end && start >= epoch() && end < epoch() + Duration::days(90));
                match l.kind {
                    SpanKind::BenignCharge => assert_eq!((start.hour(), start == end), (0, true)),
                    SpanKind::WeekendBreak => {
                        assert_eq!((start.weekday(), start.hour(), (end - start).num_hours()), (Weekday::Sat, 0, 47))
                    }
                    _ => {
                        incidents += 1;
                        assert!(start >= epoch() + Duration::days(FIRST_INCIDENT_DAY), "after the warm-up");
                    }
                }
            }
        }
        assert!(incidents >= 40, "one or two incidents per series: {incidents}");
    }
}

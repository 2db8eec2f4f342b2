//! The detective: turns the ledger into series, replays each through the pure detector in
//! `domain::detect`, and keeps the `anomalies` table and the bus in step with what it finds.
//!
//! Every run rebuilds each series it looks at from the last `lookback_days` of the ledger
//! and replays it from scratch. That makes late and restated data a non-issue (the replay
//! simply sees the corrected numbers) and keeps no model state outside the database. Runs
//! are serialised in one worker task: ingestion wakes it for the providers it touched, the
//! cron sweep for everything.

pub mod chart;
pub mod history;
pub mod plan;
pub mod replay;
pub mod root_causes;
pub mod series;
mod settings;
pub mod store;
pub mod view;
mod worker;

pub use settings::{DetectSettings, SeriesOverride};
pub use worker::{spawn, worker, Wake};

use crate::bus::{AnomalyChanged, Bus};
use crate::db::{write_transaction, Db, DbConn, DbError};
use crate::domain::detect::partial;
use chrono::{DateTime, Duration, Utc};
use plan::Change;
use series::Scope;

/// What one run did, for logs and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunSummary {
    pub series: usize,
    pub opened: usize,
    pub updated: usize,
    pub resolved: usize,
}

#[derive(Clone)]
pub struct Detective {
    db: Db,
    settings: DetectSettings,
    bus: Bus,
    clock: crate::clock::Clock,
}

impl Detective {
    pub fn new(db: Db, settings: DetectSettings, bus: Bus) -> Self {
        Detective { db, settings, bus, clock: crate::clock::Clock::system() }
    }

    /// Measures "as of" `clock` when woken (the application's, shared with its other workers).
    pub fn with_clock(self, clock: crate::clock::Clock) -> Self {
        Detective { clock, ..self }
    }

    pub fn settings(&self) -> &DetectSettings {
        &self.settings
    }

    /// One run over `scope`, as of `now`; publishes every lifecycle change after its commit.
    pub async fn run(&self, scope: Scope, now: DateTime<Utc>) -> Result<RunSummary, DbError> {
        let turn = self.db.detective_turn();
        let _held = turn.lock().await;
        let started = std::time::Instant::now();
        let settings = self.settings.clone();
        let (summary, published) =
            self.db.run(move |conn| run_blocking(conn, &settings, &scope, now).map_err(DbError::from)).await?;
        self.log_changes(&published).await;
        for (id, lifecycle) in published {
            metrics::counter!("costguard_anomaly_events_total", "event" => format!("{lifecycle:?}").to_lowercase())
                .increment(1);
            self.bus.publish_anomaly(AnomalyChanged { anomaly_id: crate::domain::ids::AnomalyId::new(id), lifecycle });
        }
        metrics::histogram!("costguard_detection_duration_seconds").record(started.elapsed().as_secs_f64());
        self.bus.nudge_budgets();
        tracing::debug!(?summary, "detection run");
        Ok(summary)
    }
}

impl Detective {
    /// One line per change people care about (opened, escalated, resolved), naming the series,
    /// severity and money; re-measures stay at debug, and so does history a first start
    /// replays (incidents opened and resolved within this one run).
    async fn log_changes(&self, published: &[(String, store::Lifecycle)]) {
        use store::Lifecycle::*;
        let replayed = |id: &str| published.iter().filter(|(i, _)| i == id).count() > 1;
        let wanted: Vec<(String, store::Lifecycle)> = published
            .iter()
            .filter(|(id, l)| matches!(l, Opened | Escalated | Resolved) && !replayed(id))
            .cloned()
            .collect();
        tracing::debug!(changes = published.len(), "detection run published");
        if wanted.is_empty() {
            return;
        }
        let ids: Vec<String> = wanted.iter().map(|(id, _)| id.clone()).collect();
        let rows = self.db.run(move |c| store::get_many(c, &ids).map_err(DbError::from)).await.unwrap_or_default();
        for (id, lifecycle) in &wanted {
            let Some(a) = rows.iter().find(|a| *a.id == **id) else { continue };
            let per_day = crate::domain::money::Total::from_units(a.projected_daily.into());
            let (series, severity, currency) = (&a.label, &a.severity, &a.currency);
            match lifecycle {
                Opened => {
                    tracing::info!(anomaly = %id, %series, %severity, projected_per_day = %per_day, %currency, "anomaly opened")
                }
                Escalated => {
                    tracing::info!(anomaly = %id, %series, %severity, projected_per_day = %per_day, %currency, "anomaly escalated")
                }
                _ => {
                    tracing::info!(anomaly = %id, %series, %severity, projected_per_day = %per_day, %currency, "anomaly resolved")
                }
            }
        }
    }
}

fn run_blocking(
    conn: &mut DbConn,
    settings: &DetectSettings,
    scope: &Scope,
    now: DateTime<Utc>,
) -> diesel::QueryResult<(RunSummary, Vec<(String, store::Lifecycle)>)> {
    let from = now - Duration::days(i64::from(settings.lookback_days));
    // Simulated and restated data may run ahead of the wall clock; take all of it.
    let to = now + Duration::days(2);
    let mut all = series::load(conn, from, to, scope, &settings.tag_keys)?;
    let sightings = store::sightings(conn)?;
    for s in &mut all {
        if let Some(&(at, so_far)) = s.points.last() {
            // The cost so far is true as of its pull, which may be seconds before this run
            // (a run waits its turn behind another one): measuring the rate against the run's
            // clock would stretch or squeeze the interval, most of all on a busy machine.
            let seen = s.last_as_of.filter(|t| *t > at && *t <= now.timestamp()).unwrap_or(now.timestamp());
            s.running = partial::read(at, s.step_secs, so_far, seen, now.timestamp(), sightings.get(&s.id.key()));
        }
    }
    let mut summary = RunSummary { series: all.len(), ..RunSummary::default() };
    let mut published = Vec::new();
    let mut states = Vec::with_capacity(all.len());
    for s in &all {
        let key = s.id.key();
        let suppressed = store::suppressions_for(conn, &key)?;
        let replayed = replay::replay(s, &settings.rules_for(&s.id), &suppressed, true);
        let first = s.points.first().map_or(0, |p| p.0);
        let trusted_from = first + i64::from(settings.detector.model.warmup_points) * s.step_secs;
        let facts = store::SeriesFacts { id: &s.id, currency: &s.currency, step_secs: s.step_secs };
        // The newest point back within the band (what a mitigated anomaly waits for).
        let z_close = settings.detector.z_close;
        let calm_at = replayed.outcomes.last().filter(|o| o.expectation.z(o.actual) < z_close).map(|o| o.at);
        let turning = s.points.last().is_some_and(|p| plan::point_turning(p.0, s.step_secs, now.timestamp()));
        let planned = |stored: &[plan::Stored]| {
            let changes = plan::plan(stored, replayed.found.clone(), trusted_from, calm_at);
            if turning {
                plan::while_the_point_turns(changes, stored)
            } else {
                changes
            }
        };
        // A quiet series (the usual case) needs no write transaction.
        if planned(&store::stored_for(conn, &key)?).is_empty() {
            push_state(&mut states, s, &replayed, settings);
            continue;
        }
        // Read what is stored, plan and write in one transaction that holds the series, so a
        // second run meeting this one (the worker and a test, a sweep and a wake-up) waits and
        // then finds this run's anomaly instead of inserting a second one.
        let lifecycles = write_transaction(conn, |conn| {
            crate::db::lock_in_transaction(conn, &key)?;
            let stored = store::stored_for(conn, &key)?;
            let changes = planned(&stored);
            let mut with_causes = Vec::with_capacity(changes.len());
            for change in changes {
                let abnormal = |f: &replay::Found| not_normal(&replayed.found, &stored, &suppressed, f, s.step_secs);
                let causes = match &change {
                    Change::Insert(f) => Some(root_causes::compute(conn, &s.id, s.step_secs, f, first, &abnormal(f))?),
                    Change::Update { id, found } if stored.iter().any(|st| &st.id == id && st.differs(found)) => {
                        Some(root_causes::compute(conn, &s.id, s.step_secs, found, first, &abnormal(found))?)
                    }
                    _ => None,
                };
                with_causes.push((change, causes));
            }
            store::apply(conn, &facts, &with_causes, now)
        })?;
        for (id, lifecycle) in lifecycles {
            match lifecycle {
                store::Lifecycle::Opened => summary.opened += 1,
                store::Lifecycle::Updated | store::Lifecycle::Escalated => summary.updated += 1,
                store::Lifecycle::Resolved => summary.resolved += 1,
            }
            published.push((id, lifecycle));
        }
        push_state(&mut states, s, &replayed, settings);
    }
    store::save_series_states(conn, &states, now)?;
    Ok((summary, published))
}

/// Spans `[from, until)` of a series that must not serve as its normal when `f`'s root causes
/// are measured: every other incident the replay found or the store holds (open ones run on),
/// and the suppressed windows (spend someone marked expected).
fn not_normal(
    found: &[replay::Found],
    stored: &[plan::Stored],
    suppressed: &[(i64, i64)],
    f: &replay::Found,
    step: i64,
) -> Vec<(i64, i64)> {
    let others = found
        .iter()
        .filter(|o| o.started_at != f.started_at)
        .map(|o| (o.started_at, o.resolved_at.map_or(i64::MAX, |r| r + step)));
    let kept = stored
        .iter()
        .filter(|st| st.started_at != f.started_at)
        .map(|st| (st.started_at, st.resolved_at.map_or(i64::MAX, |r| r + step)));
    let quiet = suppressed.iter().map(|&(from, until)| (from + 1, until + 1));
    others.chain(kept).chain(quiet).collect()
}

/// The week ahead as budgets read it: anchored on what the baseline expected of the last
/// whole week, with how far its daily sums missed lately (`domain::budget::profile`).
fn forecast_profile(
    p: &crate::domain::budget::profile::Profile,
    history: &history::History,
) -> crate::domain::budget::profile::Profile {
    use crate::domain::budget::profile::{daily_miss, Profile};
    let days = history.daily_sums();
    let anchored = match days.len() {
        n if n >= 7 => p.clone().anchored(days[n - 7..].iter().map(|d| d.1).sum()),
        _ => p.clone(),
    };
    let normal: Vec<(f64, f64)> = days.iter().filter(|d| d.2).map(|d| (d.0, d.1)).collect();
    Profile { daily_miss: daily_miss(&normal), ..anchored }
}

/// What the dashboard and the metrics show of a series after this run.
fn push_state<'a>(
    states: &mut Vec<store::SeriesState<'a>>,
    s: &'a series::Series,
    replayed: &replay::Replay,
    settings: &DetectSettings,
) {
    if let Some(last) = replayed.last {
        let history = history::History::from_outcomes(s, &replayed.outcomes, settings.detector.z_open);
        states.push(store::SeriesState {
            history: serde_json::to_string(&history).unwrap_or_default(),
            id: &s.id,
            step_secs: s.step_secs,
            points: replayed.points,
            ready: replayed.ready,
            last,
            currency: &s.currency,
            running: s.running.map(|r| r.sighting),
            profile: replayed.profile.as_ref().and_then(|p| serde_json::to_string(&forecast_profile(p, &history)).ok()),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::detect::decision::Severity;
    use crate::domain::detect::incident::Direction;
    use crate::domain::money::Total;

    const H: i64 = 3_600;

    fn found(start: i64, resolved: Option<i64>) -> replay::Found {
        replay::Found {
            direction: Direction::Up,
            started_at: start,
            last_out_at: start,
            resolved_at: resolved,
            points: 1,
            actual: Total::ZERO,
            expected: Total::ZERO,
            projected_daily: Total::ZERO,
            severity: Severity::Critical,
            peak_z: 9.0,
            provisional: false,
        }
    }

    #[test]
    fn last_weeks_incident_and_suppressed_spend_never_serve_as_normal() {
        // Today's loop at hour 200; last Saturday's at hours 26..58; a suppression (40, 50].
        let today = found(200 * H, None);
        let last_week = found(26 * H, Some(58 * H));
        let spans = not_normal(&[last_week, today.clone()], &[], &[(40 * H, 50 * H)], &today, H);
        assert_eq!(spans, vec![(26 * H, 59 * H), (40 * H + 1, 50 * H + 1)]);
        let normal = |hour: i64| !spans.iter().any(|(f, u)| hour * H >= *f && hour * H < *u);
        assert!(normal(25) && !normal(26) && !normal(58) && normal(59), "the loop's hours, not the rest");
        assert!(normal(199), "the hours before today's anomaly are its reference");
    }
}

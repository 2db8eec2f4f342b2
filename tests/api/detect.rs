//! The detective end to end: the simulated clouds' scripted incidents, a quiet month, and
//! the anomalies API fed by ingestion through the bus.

use crate::both_backends;
use crate::helpers::TestApp;
use chrono::{DateTime, Datelike, Duration, DurationRound, TimeZone, Timelike, Utc};
use costguard::config::SimulatedSettings;
use costguard::detect::series::Scope;
use costguard::detect::store::{self, AnomalyRow, ListFilter};
use costguard::detect::{DetectSettings, Detective};
use costguard::domain::detect::incident::DetectorParams;
use costguard::domain::role::Role;
use costguard::ingest::Ingestor;
use costguard::providers::simulated::{catalog, generate, incident_plan, incidents::Effect};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Instant;

fn epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 4, 0, 0).unwrap()
}

fn simulated(incidents: bool) -> SimulatedSettings {
    SimulatedSettings { enabled: true, live_incident_delay_secs: -1, incidents, ..SimulatedSettings::default() }
}

/// Writes `days` of simulated history before the epoch, then runs the detective once as of
/// the epoch; returns every anomaly.
async fn detect_simulated(app: &TestApp, sim: &SimulatedSettings, days: i64) -> Vec<AnomalyRow> {
    // The app's own detective, woken by these writes, measures as of the same epoch.
    app.clock.set(epoch());
    let (bus, mut receivers) = costguard::bus::channels(10_000);
    let ingestor = Ingestor::new(app.db.clone(), bus.clone());
    let mut from = epoch() - Duration::days(days);
    while from < epoch() {
        let to = (from + Duration::days(7)).min(epoch());
        ingestor.write("simulated", generate(sim, epoch(), from, to, &HashMap::new())).await.unwrap();
        from = to;
    }
    let detective = Detective::new(app.db.clone(), DetectSettings::default(), bus);
    let summary = detective.run(Scope::default(), epoch()).await.unwrap();
    assert!(summary.series > 30, "{summary:?}");
    // Every lifecycle change was published after its commit.
    let mut published = 0;
    while let Ok(m) = receivers.anomalies.try_recv() {
        assert!(!m.anomaly_id.is_empty());
        published += 1;
    }
    assert_eq!(published, summary.opened + summary.updated + summary.resolved);
    every_anomaly(app).await
}

/// Every stored anomaly, those merged into another's incident too (lists hide them).
async fn every_anomaly(app: &TestApp) -> Vec<AnomalyRow> {
    use costguard::db::schema::anomalies as an;
    use diesel::prelude::*;
    app.db
        .run(|c| an::table.select(AnomalyRow::as_select()).load(c).map_err(costguard::db::DbError::from))
        .await
        .unwrap()
}

fn service_of(effect: &Effect) -> &'static str {
    match effect {
        Effect::ExtraLine { line, .. } => line.service,
        Effect::TokenMultiplier { key_id, .. } => {
            let lines = catalog::lines();
            let line = lines.iter().find(|l| l.llm.as_ref().is_some_and(|k| k.key_id == *key_id)).unwrap();
            line.service
        }
    }
}

fn team_of(effect: &Effect) -> &'static str {
    match effect {
        Effect::ExtraLine { line, .. } => line.team,
        Effect::TokenMultiplier { key_id, .. } => {
            catalog::lines().into_iter().find(|l| l.llm.as_ref().is_some_and(|k| k.key_id == *key_id)).unwrap().team
        }
    }
}

/// The anomaly on a series that opened within three hours of `start`.
fn opened_near(
    anomalies: &[AnomalyRow],
    start: DateTime<Utc>,
    matches: impl Fn(&AnomalyRow) -> bool,
) -> Option<&AnomalyRow> {
    let start = start.naive_utc();
    anomalies.iter().find(|a| matches(a) && a.started_at >= start && a.started_at <= start + Duration::hours(3))
}

async fn every_scripted_incident_is_detected_with_its_service_as_top_root_cause(app: TestApp) {
    let sim = simulated(true);
    let anomalies = detect_simulated(&app, &sim, 40).await;
    let plan = incident_plan(&sim, epoch());
    assert_eq!(plan.len(), 4);
    for incident in &plan {
        let (service, team) = (service_of(&incident.effect), team_of(&incident.effect));
        // The service's own series opens, and its breakdown names the culprit.
        let on_service = opened_near(&anomalies, incident.start, |a| {
            a.series_kind == "service" && a.service.as_deref() == Some(service)
        })
        .unwrap_or_else(|| panic!("{} not detected on {service}", incident.id));
        assert_eq!(on_service.direction, "up");
        if let (Effect::ExtraLine { .. }, Some(resource)) = (&incident.effect, incident.resource_id()) {
            let causes = on_service.root_causes();
            assert!(
                causes.iter().take(3).any(|c| c.dimension == "resource" && c.value == resource),
                "{}: {causes:?}",
                incident.id
            );
        }
        // The owning team's series sees it too, with the right service among its main causes,
        // and is the same incident: merged into the service's anomaly.
        let label = format!("tag team={team}");
        let on_team = opened_near(&anomalies, incident.start, |a| a.label == label)
            .unwrap_or_else(|| panic!("{} not detected on {label}", incident.id));
        let causes = on_team.root_causes();
        let by_service = causes.iter().find(|c| c.dimension == "service" && c.value == service);
        assert!(by_service.is_some_and(|c| c.share > 0.9), "{}: {causes:?}", incident.id);
        assert_eq!(on_team.merged_into.as_deref(), Some(&*on_service.id), "{}: one incident", incident.id);
        if incident.id == "bigquery-saturday-loop" {
            assert_eq!(
                on_service.started_at,
                incident.start.naive_utc(),
                "opened at the first hourly point that shows the loop"
            );
            assert_eq!(on_service.severity, "critical");
            assert_eq!(on_service.state, "resolved");
            assert!(on_service.resolved_at.unwrap() > (incident.start + Duration::hours(31)).naive_utc());
        }
    }
    // A second run over the same data changes nothing: one anomaly per incident.
    let (bus, _r) = costguard::bus::channels(16);
    let again =
        Detective::new(app.db.clone(), DetectSettings::default(), bus).run(Scope::default(), epoch()).await.unwrap();
    assert_eq!((again.opened, again.updated, again.resolved), (0, 0, 0), "{again:?}");
}

async fn a_normal_month_raises_nothing_above_low(app: TestApp) {
    let anomalies = detect_simulated(&app, &simulated(false), 40).await;
    let loud: Vec<(&str, &str, &str)> = anomalies
        .iter()
        .filter(|a| a.severity != "low")
        .map(|a| (a.label.as_str(), a.severity.as_str(), a.direction.as_str()))
        .collect();
    assert!(loud.is_empty(), "{loud:?}");
}

fn hourly(start: DateTime<Utc>, hours: i64, cost: impl Fn(i64) -> String) -> Value {
    let rows: Vec<Value> = (0..hours)
        .map(|h| {
            let at = start + Duration::hours(h);
            json!({
                "BilledCost": cost(h), "EffectiveCost": cost(h), "BillingAccountId": "111", "BillingCurrency": "USD",
                "BillingPeriodStart": "2026-11-01", "BillingPeriodEnd": "2026-12-01", "ChargeCategory": "Usage",
                "ChargePeriodStart": at.to_rfc3339(), "ChargePeriodEnd": (at + Duration::hours(1)).to_rfc3339(),
                "ProviderName": "Google Cloud", "ServiceName": "BigQuery", "SubAccountId": "analytics",
                "SkuId": if h >= hours - 1 { "Analysis" } else { "Storage" }, "Tags": {"team": "data"}
            })
        })
        .collect();
    Value::Array(rows)
}

async fn wait_for_anomalies(app: &TestApp, query: &str) -> Vec<Value> {
    let deadline = Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let list = app.get_json(&format!("/api/v1/anomalies{query}")).await;
        let items = list.as_array().unwrap().clone();
        if !items.is_empty() || Instant::now() > deadline {
            return items;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

async fn an_ingested_spike_becomes_an_anomaly_with_series_and_feedback(app: TestApp) {
    // Ending with the last whole hour (the running one would be judged by its rate), or the
    // one before when that is a month's first hour (a lone excess there is taken as a fee).
    let last_whole = Utc::now().duration_trunc(Duration::hours(1)).unwrap() - Duration::hours(1);
    let month_start = last_whole.day() == 1 && last_whole.hour() == 0;
    let start = last_whole - Duration::days(6) - Duration::hours(i64::from(month_start));
    // Six days at about $10/h, then one hour at $400.
    let history = hourly(start, 6 * 24, |h| format!("{}.{:02}", 10 + h % 3, h % 7));
    assert_eq!(app.post_json("/api/v1/costs", &history).await.status(), 200);
    let spike =
        hourly(start, 6 * 24 + 1, |h| if h == 6 * 24 { "400".into() } else { format!("{}.{:02}", 10 + h % 3, h % 7) });
    let last = spike.as_array().unwrap().last().unwrap().clone();
    assert_eq!(app.post_json("/api/v1/costs", &json!([last])).await.status(), 200);

    let items = wait_for_anomalies(&app, "?state=open&provider=Google%20Cloud&service=BigQuery").await;
    assert_eq!(items.len(), 1, "the ingest woke the detective: {items:?}");
    let a = &items[0];
    assert_eq!((a["direction"].as_str(), a["severity"].as_str()), (Some("up"), Some("high")));
    let id = a["id"].as_str().unwrap();
    let detail = app.get_json(&format!("/api/v1/anomalies/{id}")).await;
    let series = detail["series"].as_array().unwrap();
    let opened = series.iter().find(|p| p["at"] == a["started_at"]).unwrap();
    assert_eq!(opened["actual"], "400.00");
    let upper: f64 = opened["upper"].as_str().unwrap().parse().unwrap();
    assert!(upper < 20.0, "the band stays near $10/h: {opened}");
    let top = &detail["root_causes"][0];
    assert_eq!((top["dimension"].as_str(), top["value"].as_str()), (Some("sku"), Some("Analysis")), "{detail}");
    assert_eq!(detail["timeline"][0]["kind"], "opened");

    // The same anomaly is listed under every filter that matches it, and under none that does not.
    assert_eq!(
        app.get_json("/api/v1/anomalies?severity=high&state=open").await.as_array().unwrap().len(),
        2,
        "service and team=data"
    );
    assert!(app.get_json("/api/v1/anomalies?state=resolved").await.as_array().unwrap().is_empty());
    assert!(app.get_json("/api/v1/anomalies?provider=AWS").await.as_array().unwrap().is_empty());

    // Feedback needs an approver; who and when are recorded.
    let viewer = app.key("viewer", Role::Viewer).await;
    let body = serde_json::to_vec(&json!({"kind": "expected", "suppress_days": 2, "comment": "backfill job"})).unwrap();
    let path = format!("/api/v1/anomalies/{id}/feedback");
    assert_eq!(app.post_raw(&path, &viewer, "application/json", body.clone()).await.status(), 403);
    let r = app.post_raw(&path, &app.admin_key, "application/json", body).await;
    assert_eq!(r.status(), 200);
    let after: Value = r.json().await.unwrap();
    assert_eq!((after["feedback"].as_str(), after["feedback_by"].as_str()), (Some("expected"), Some("test-admin")));
    assert_eq!(after["lifecycle"], "resolved", "expected closes it");
    let detail = app.get_json(&format!("/api/v1/anomalies/{id}")).await;
    let kinds: Vec<&str> = detail["timeline"].as_array().unwrap().iter().filter_map(|e| e["kind"].as_str()).collect();
    assert_eq!(&kinds[kinds.len() - 2..], ["feedback", "resolved"], "{kinds:?}");
    // The detective's next run does not reopen what a person closed.
    let (bus, _r) = costguard::bus::channels(100);
    Detective::new(app.db.clone(), DetectSettings::default(), bus).run(Scope::default(), Utc::now()).await.unwrap();
    let still = app.get_json(&format!("/api/v1/anomalies/{id}")).await;
    assert_eq!(still["lifecycle"], "resolved", "{still}");
    let bad = app.post_json(&path, &json!({"kind": "maybe"})).await;
    assert_eq!(bad.status(), 422);
    assert_eq!(app.get(&format!("/api/v1/anomalies/{}", uuid::Uuid::new_v4())).await.status(), 404);

    let series = app.get_json("/api/v1/anomalies/series").await;
    assert!(series
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["label"] == "Google Cloud / analytics / BigQuery" && s["ready"] == true));
}

async fn manual_anomalies_and_their_validation(app: TestApp) {
    let r = app.post_json("/api/v1/anomalies", &json!({"severity": "high", "description": "BigQuery spike"})).await;
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    assert_eq!((created["origin"].as_str(), created["state"].as_str()), (Some("manual"), Some("open")));
    let listed = app.get_json("/api/v1/anomalies?severity=high").await;
    assert_eq!(listed[0]["id"], created["id"]);
    for (body, field) in [
        (json!({"severity": "urgent", "description": "x"}), "severity"),
        (json!({"severity": "low", "description": "  "}), "description"),
        (json!({"severity": "low", "description": "x", "started_at": "yesterday"}), "started_at"),
    ] {
        let r = app.post_json("/api/v1/anomalies", &body).await;
        assert_eq!(r.status(), 422, "{body}");
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["detail"]["field"], field);
    }
    assert_eq!(app.post_json("/api/v1/anomalies", &json!({"severity": "low"})).await.status(), 400);
    // A manual anomaly is resolved by hand, once; a viewer may not.
    let id = created["id"].as_str().unwrap();
    let path = format!("/api/v1/anomalies/{id}/resolve");
    let viewer = app.key("viewer-1", Role::Viewer).await;
    assert_eq!(app.post_raw(&path, &viewer, "application/json", "{}").await.status(), 403);
    let r = app.post_json(&path, &json!({"comment": "fixed the query"})).await;
    assert_eq!(r.status(), 200);
    let resolved: Value = r.json().await.unwrap();
    assert_eq!((resolved["state"].as_str(), resolved["lifecycle"].as_str()), (Some("resolved"), Some("resolved")));
    assert_eq!(app.post_json(&path, &json!({})).await.status(), 409, "already resolved");
    let unknown = format!("/api/v1/anomalies/{}/resolve", uuid::Uuid::new_v4());
    assert_eq!(app.post_json(&unknown, &json!({})).await.status(), 404);
    assert_eq!(app.get("/api/v1/anomalies?state=closed").await.status(), 400);
    assert_eq!(app.get("/api/v1/anomalies?limit=0").await.status(), 400);
    let viewer = app.key("viewer", Role::Viewer).await;
    let body = serde_json::to_vec(&json!({"severity": "low", "description": "x"})).unwrap();
    assert_eq!(app.post_raw("/api/v1/anomalies", &viewer, "application/json", body).await.status(), 403);
    let anonymous = app.client.get(app.url("/api/v1/anomalies")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let r = app.client.get(app.url("/api/v1/anomalies")).bearer_auth(&viewer).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

/// Two detective runs that meet on the same series (the app's worker, a sweep, a test or a
/// CLI import's wake-up) end with one anomaly per incident and no error, however they
/// interleave: each holds the series while it reads, plans and writes.
async fn runs_that_meet_on_a_series_end_with_one_anomaly(app: TestApp) {
    app.clock.set(epoch());
    let ingestor = Ingestor::new(app.db.clone(), costguard::bus::channels(10_000).0);
    let mut from = epoch() - Duration::days(30);
    while from < epoch() {
        let to = (from + Duration::days(7)).min(epoch());
        ingestor.write("simulated", generate(&simulated(true), epoch(), from, to, &HashMap::new())).await.unwrap();
        from = to;
    }
    let run = || {
        let (bus, _r) = costguard::bus::channels(10_000);
        let detective = Detective::new(app.db.clone(), DetectSettings::default(), bus);
        async move { detective.run(Scope::default(), epoch()).await }
    };
    for round in 0..3 {
        let (a, b, c) = tokio::join!(run(), run(), run());
        for (i, r) in [a, b, c].into_iter().enumerate() {
            assert!(r.is_ok(), "round {round}, run {i}: {r:?}");
        }
    }
    let all = ListFilter { limit: 1_000, ..ListFilter::default() };
    let found = app.db.run(move |c| store::list(c, &all).map_err(costguard::db::DbError::from)).await.unwrap();
    let mut per_incident: HashMap<(String, String, chrono::NaiveDateTime), usize> = HashMap::new();
    for a in &found {
        *per_incident.entry((a.series_key.clone(), a.direction.clone(), a.started_at)).or_default() += 1;
    }
    assert!(!found.is_empty());
    assert!(per_incident.values().all(|n| *n == 1), "{per_incident:?}");
}

/// A tag anomaly first measured on a few minutes of a loop may show the service as a minor
/// cause; once re-measured with the service as its main one, it joins the service's anomaly
/// (one incident, one proposal), and says so to the optimizer.
async fn a_tag_anomaly_joins_its_service_when_a_remeasure_shows_it(app: TestApp) {
    use costguard::detect::plan::Change;
    use costguard::detect::replay::Found;
    use costguard::detect::store::{Lifecycle, SeriesFacts};
    use costguard::domain::detect::decision::Severity;
    use costguard::domain::detect::incident::Direction;
    use costguard::domain::detect::root_cause::Contributor;
    use costguard::domain::detect::series::SeriesId;
    use costguard::domain::money::Total;

    let start = epoch().timestamp();
    let found = move |actual: i128| Found {
        direction: Direction::Up,
        started_at: start,
        last_out_at: start,
        resolved_at: None,
        points: 1,
        actual: Total::from_units(actual),
        expected: Total::from_units(1_000_000_000),
        projected_daily: Total::from_units(actual * 24),
        severity: Severity::High,
        peak_z: 9.0,
        provisional: false,
    };
    let cause = |value: &str, share: f64| Contributor {
        dimension: "service".into(),
        value: value.into(),
        delta: Total::ZERO,
        share,
    };
    let service = SeriesId::Service { provider: "gcp".into(), sub_account: "p".into(), service: "BigQuery".into() };
    let tag = SeriesId::Tag { key: "team".into(), value: "data".into() };
    let at = epoch();
    let (ids, first, again) = app
        .db
        .run(move |c| {
            let facts = |id| SeriesFacts { id, currency: "USD", step_secs: 3_600 };
            let on_service =
                store::apply(c, &facts(&service), &[(Change::Insert(found(9_000_000_000)), Some(vec![]))], at)?;
            // Seconds into the loop, the team's other services weigh more than BigQuery.
            let weak = vec![cause("Dataflow", 0.6), cause("BigQuery", 0.4)];
            let on_tag = store::apply(c, &facts(&tag), &[(Change::Insert(found(3_000_000_000)), Some(weak))], at)?;
            let tag_id = on_tag[0].0.clone();
            let first = store::get(c, &tag_id.as_str().into())?.unwrap().merged_into;
            let strong = vec![cause("BigQuery", 0.95), cause("Dataflow", 0.05)];
            let update = Change::Update { id: tag_id.clone(), found: found(9_500_000_000) };
            let published = store::apply(c, &facts(&tag), &[(update, Some(strong))], at)?;
            let again = store::get(c, &tag_id.as_str().into())?.unwrap().merged_into;
            Ok::<_, costguard::db::DbError>(((on_service[0].0.clone(), tag_id, published), first, again))
        })
        .await
        .unwrap();
    let (service_id, tag_id, published) = ids;
    assert_eq!(first, None, "a minor share is not yet the same incident");
    assert_eq!(again.as_deref(), Some(service_id.as_str()), "joined once the service is its main cause");
    assert!(published.iter().any(|(id, l)| id == &tag_id && *l == Lifecycle::Updated), "{published:?}");
}

both_backends!(
    a_tag_anomaly_joins_its_service_when_a_remeasure_shows_it,
    runs_that_meet_on_a_series_end_with_one_anomaly,
    every_scripted_incident_is_detected_with_its_service_as_top_root_cause,
    a_normal_month_raises_nothing_above_low,
    an_ingested_spike_becomes_an_anomaly_with_series_and_feedback,
    manual_anomalies_and_their_validation,
);

/// Hourly series per service straight from the simulator, keyed by service name.
fn simulated_series(sim: &SimulatedSettings, days: i64) -> Vec<(String, Vec<(i64, f64)>)> {
    let batch = generate(sim, epoch(), epoch() - Duration::days(days), epoch() - Duration::hours(1), &HashMap::new());
    let mut by: std::collections::BTreeMap<(String, String, String), std::collections::BTreeMap<i64, f64>> =
        Default::default();
    for r in &batch.costs {
        let key = (r.provider_name.clone(), r.sub_account_id.clone().unwrap_or_default(), r.service_name.clone());
        let cell = by.entry(key).or_default().entry(r.charge_period_start.timestamp()).or_default();
        *cell += r.effective_cost.units() as f64 / 1e11;
    }
    by.into_iter().map(|((_, _, service), hours)| (service, hours.into_iter().collect())).collect()
}

/// When each series (hourly) opened incidents, for one baseline, without floors (raw statistics).
fn openings<B: costguard::domain::detect::model::BaselineModel>(
    params: DetectorParams,
    series: &[(String, Vec<(i64, f64)>)],
    make: impl Fn() -> B,
) -> Vec<(String, i64)> {
    use costguard::domain::detect::incident::Tracker;
    let mut out = Vec::new();
    for (service, points) in series {
        let mut t = Tracker::with_baseline(params, make(), 3_600);
        for (at, v) in points {
            if t.observe(*at, *v, |_, _, _| true).opened {
                out.push((service.clone(), *at));
            }
        }
    }
    out
}

/// (scripted incidents opened at their first hour, moderate rises caught, false alarms on a
/// quiet month) for one baseline. The moderate rises: every quiet series at +50% for 12
/// hours from 10:00 on day 28.
fn score_on_costs<B: costguard::domain::detect::model::BaselineModel>(
    params: DetectorParams,
    make: impl Fn() -> B + Copy,
) -> (usize, usize, usize) {
    let sim = simulated(true);
    let plan = incident_plan(&sim, epoch());
    let with = openings(params, &simulated_series(&sim, 35), make);
    let caught = plan
        .iter()
        .filter(|i| {
            let hit = with.iter().any(|(s, at)| s == service_of(&i.effect) && *at == i.start.timestamp());
            hit
        })
        .count();
    let quiet = simulated_series(&simulated(false), 35);
    let first = quiet.iter().filter_map(|(_, p)| p.first().map(|x| x.0)).min().unwrap_or(0);
    let rise_from = first - first.rem_euclid(86_400) + 28 * 86_400 + 10 * 3_600;
    let rise_to = rise_from + 12 * 3_600;
    let risen: Vec<(String, Vec<(i64, f64)>)> = quiet
        .iter()
        .enumerate()
        .map(|(i, (_, points))| {
            let points = points
                .iter()
                .map(|&(at, v)| (at, if (rise_from..rise_to).contains(&at) { v * 1.5 } else { v }))
                .collect();
            (i.to_string(), points)
        })
        .collect();
    let rises = openings(params, &risen, make);
    let moderate = (0..risen.len())
        .filter(|i| rises.iter().any(|(s, at)| *s == i.to_string() && (rise_from..rise_to).contains(at)))
        .count();
    (caught, moderate, openings(params, &quiet, make).len())
}

#[test]
fn on_cost_data_the_seasonal_robust_baseline_is_the_most_sensitive_to_moderate_rises() {
    use costguard::domain::detect::alternatives::{EwmaGaussian, SeasonalMedian};
    use costguard::domain::detect::model::{Baseline, ModelParams};
    let m = ModelParams::default();
    // The baselines compared on their own: the drift test against last week (which any of
    // them would be given) off.
    let p = DetectorParams { drift_limit: 0.0, ..DetectorParams::default() };
    let robust = score_on_costs(p, || Baseline::new(m, 3_600));
    let median = score_on_costs(p, || SeasonalMedian::new(&m, 3_600));
    let ewma = score_on_costs(p, || EwmaGaussian::new(&m));
    eprintln!("(scripted incidents opened at their first hour of 4, +50% rises caught, false alarms in a quiet 35 days; no floors): robust-hw {robust:?}, seasonal-median {median:?}, ewma {ewma:?}");
    // The figures docs/DETECTION.md reports; the floors then remove the raw false alarms
    // (a_normal_month_raises_nothing_above_low).
    assert!(robust.1 > 2 * ewma.1 && robust.1 > median.1, "{robust:?} {median:?} {ewma:?}");
    assert!(robust.2 < median.2, "{robust:?} vs {median:?}");
    assert!(robust.0 >= 3, "{robust:?}");
    // Production's detector, the drift test on: no rise or scripted incident lost, no more
    // raw false alarms.
    let production = score_on_costs(DetectorParams::default(), || Baseline::new(m, 3_600));
    eprintln!("production detector: {production:?}");
    assert!(
        production.0 >= robust.0 && production.1 >= robust.1 && production.2 <= robust.2,
        "{production:?} vs {robust:?}"
    );
}

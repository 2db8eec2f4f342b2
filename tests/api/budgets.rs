//! Budgets end to end: the month-end forecast on generated series whose month-end total is
//! known, the API's shape and refusals, and each threshold announced once per period across
//! restarts, on both databases.

use crate::helpers::{test_settings, until, Backend, TestApp};
use crate::peers::receiver::Receiver;
use chrono::{DateTime, Duration, TimeZone, Timelike, Utc};
use costguard::domain::focus::{CostRecord, Tags, Usage};
use costguard::domain::money::{Amount, Currency, Total, UNITS_PER_WHOLE};
use costguard::domain::role::Role;
use costguard::ingest::{Batch, Ingestor};
use serde_json::{json, Value};

/// Mid-month: the forecast has half a month of the spend to come.
fn cut() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 15, 10, 0, 0).unwrap()
}

/// A deterministic uniform number in [-1, 1) per (seed, hour).
fn noise(seed: u64, hour: i64) -> f64 {
    let mut x = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(hour as u64);
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    (x % 2_000_000) as f64 / 1_000_000.0 - 1.0
}

/// Three services with a daily cycle, quieter weekends and ±10 % noise; the data team's runs
/// tagged team=data.
const SERVICES: [(&str, f64, Option<&str>); 3] =
    [("Compute", 40.0, None), ("Warehouse", 25.0, Some("data")), ("Storage", 6.0, None)];

/// One service's cost in the hour at `at`, in the world generated with `seed`.
fn cost_seeded(seed: u64, service: usize, at: DateTime<Utc>) -> Amount {
    let (_, base, _) = SERVICES[service];
    let hour = at.timestamp() / 3_600;
    let daily = 1.0 + 0.5 * (std::f64::consts::TAU * (f64::from(at.hour()) - 6.0) / 24.0).sin();
    let weekly = if matches!(chrono::Datelike::weekday(&at).number_from_monday(), 6 | 7) { 0.6 } else { 1.0 };
    let value = base * daily * weekly * (1.0 + 0.1 * noise(seed * 10 + service as u64 + 1, hour));
    Amount::from_units((value * UNITS_PER_WHOLE as f64).round() as i64)
}

fn record(seed: u64, service: usize, at: DateTime<Utc>) -> CostRecord {
    let (name, _, team) = SERVICES[service];
    let mut r = CostRecord::usage(Usage {
        provider: "AWS",
        billing_account_id: "111122223333".into(),
        sub_account_id: Some("111122223333".into()),
        service_name: name.into(),
        currency: Currency::usd(),
        start: at,
        end: at + Duration::hours(1),
        billed_cost: cost_seeded(seed, service, at),
        effective_cost: cost_seeded(seed, service, at),
    });
    if let Some(team) = team {
        r.tags = Tags::parse(&json!({ "team": team }).to_string()).unwrap();
    }
    r
}

/// Writes every hour of the services in `[from, to)`.
async fn write_hours(db: &costguard::db::Db, from: DateTime<Utc>, to: DateTime<Utc>) {
    write_seeded(db, 0, from, to).await
}

async fn write_seeded(db: &costguard::db::Db, seed: u64, from: DateTime<Utc>, to: DateTime<Utc>) {
    let ingestor = Ingestor::new(db.clone(), costguard::bus::channels(64).0);
    let mut day = from;
    while day < to {
        let end = (day + Duration::days(7)).min(to);
        let mut costs = Vec::new();
        let mut at = day;
        while at < end {
            costs.extend((0..SERVICES.len()).map(|s| record(seed, s, at)));
            at += Duration::hours(1);
        }
        ingestor.write("generated", Batch { costs, llm_usage: Vec::new() }).await.unwrap();
        day = end;
    }
}

/// What the services really spend in the whole month of `at` (`only`: one service's).
fn month_total(seed: u64, of: DateTime<Utc>, only: Option<usize>) -> f64 {
    let (mut at, end) = costguard::domain::budget::Period::Month.bounds(of);
    let mut units: i128 = 0;
    while at < end {
        for s in (0..SERVICES.len()).filter(|s| only.is_none_or(|o| o == *s)) {
            units += i128::from(cost_seeded(seed, s, at).units());
        }
        at += Duration::hours(1);
    }
    Total::from_units(units).approx_whole()
}

fn whole(v: &Value) -> f64 {
    v.as_str().unwrap().parse().unwrap()
}

async fn create(app: &TestApp, body: Value) -> Value {
    let res = app.post_json("/api/v1/budgets", &body).await;
    assert_eq!(res.status(), 201, "{body}");
    res.json().await.unwrap()
}

/// The forecast of the month's end from six weeks of history is within 3 % of what the month
/// really costs, for everything, one service and one tag, and the truth is inside the
/// forecast's range. The method (the week-ahead profile anchored on the baseline's last week)
/// was chosen on seed 0 at `cut()`, a Tuesday morning; the other worlds, a Saturday evening
/// early in the month and a night near its end, were not looked at before it was kept.
async fn the_month_end_forecast_lands_near_the_known_total(backend: Backend) {
    let worlds = [
        (0, cut()),
        (3, Utc.with_ymd_and_hms(2026, 12, 5, 18, 0, 0).unwrap()),
        (5, Utc.with_ymd_and_hms(2026, 12, 24, 3, 0, 0).unwrap()),
        // Added after the range's miss was changed to leave out days with points outside the
        // band (seed 3 had been seen by then), and run once: held out from every choice.
        (11, Utc.with_ymd_and_hms(2026, 12, 28, 15, 0, 0).unwrap()),
        (17, Utc.with_ymd_and_hms(2026, 12, 10, 0, 0, 0).unwrap()),
    ];
    for (seed, at) in worlds {
        forecast_in(TestApp::spawn(backend).await, seed, at).await;
    }
}

async fn forecast_in(app: TestApp, seed: u64, cut: DateTime<Utc>) {
    write_seeded(&app.db, seed, cut - Duration::days(45), cut).await;
    app.detect_at(cut).await;
    let cases = [
        (json!({}), month_total(seed, cut, None)),
        (json!({"service": "Warehouse"}), month_total(seed, cut, Some(1))),
        (json!({"tag": {"key": "team", "value": "data"}}), month_total(seed, cut, Some(1))),
    ];
    for (i, (scope, truth)) in cases.into_iter().enumerate() {
        let b =
            create(&app, json!({"name": format!("b{i}"), "amount": "30000", "currency": "USD", "scope": scope})).await;
        let (forecast, low, high) = (whole(&b["forecast"]), whole(&b["forecast_low"]), whole(&b["forecast_high"]));
        let error = (forecast - truth).abs() / truth;
        println!("seed {seed} at {cut}, scope {scope}: forecast {forecast:.2} [{low:.2}, {high:.2}], truth {truth:.2}, error {:.2} %", error * 100.0);
        assert!(error < 0.03, "scope {scope}: forecast {forecast} against {truth} ({b})");
        assert!(low <= truth && truth <= high, "scope {scope}: {truth} outside [{low}, {high}]");
        assert!(whole(&b["spent"]) < forecast && b["series"].as_u64().unwrap() >= 1, "{b}");
        assert_eq!(b["period_start"], json!("2026-12-01T00:00:00Z"), "{b}");
        assert_eq!(b["period_end"], json!("2027-01-01T00:00:00Z"));
    }
}

/// The API's shape, its refusals (each naming the field), roles, and a budget kept in
/// config.toml, which only config.toml changes.
async fn budgets_over_the_api(app: TestApp) {
    app.clock.set(cut());
    write_hours(&app.db, cut() - Duration::days(3), cut()).await;
    let body = json!({"name": "Cloud", "amount": "25000.50", "currency": "USD", "period": "month",
        "scope": {"provider": "AWS"}, "thresholds": [{"percent": 1, "on": "actual"}, {"percent": 500, "on": "forecast"}]});
    let b = create(&app, body.clone()).await;
    assert_eq!(
        (b["name"].as_str(), b["amount"].as_str(), b["currency"].as_str()),
        (Some("Cloud"), Some("25000.50"), Some("USD"))
    );
    assert_eq!(b["scope"], json!({"provider": "AWS"}));
    assert_eq!(b["managed_by"], "api");
    // Fourteen days and ten hours spent at about 71 an hour: well past 1 %, far from 500 %.
    assert!(b["percent_of_budget"].as_f64().unwrap() > 1.0, "{b}");
    assert_eq!(b["crossed"].as_array().unwrap().len(), 1, "{b}");
    assert_eq!((b["crossed"][0]["threshold"].as_u64(), b["crossed"][0]["on"].as_str()), (Some(1), Some("actual")));
    let id = b["id"].as_str().unwrap().to_string();
    let listed = app.get_json("/api/v1/budgets").await;
    assert_eq!(listed.as_array().unwrap().len(), 2, "with the config one: {listed}");
    assert_eq!(app.get_json(&format!("/api/v1/budgets/{id}")).await["spent"], b["spent"]);

    for (bad, field) in [
        (json!({"name": "x", "amount": 100, "currency": "USD"}), "amount"),
        (json!({"name": "x", "amount": "1", "currency": "dollar"}), "currency"),
        (json!({"name": "x", "amount": "1", "currency": "USD", "period": "week"}), "period"),
        (
            json!({"name": "x", "amount": "1", "currency": "USD", "scope": {"tag": {"key": "team", "value": "a"}, "provider": "AWS"}}),
            "scope.tag",
        ),
        (
            json!({"name": "x", "amount": "1", "currency": "USD", "thresholds": [{"percent": 80, "on": "later"}]}),
            "thresholds[0].on",
        ),
        (json!({"amount": "1", "currency": "USD"}), "name"),
    ] {
        let res = app.post_json("/api/v1/budgets", &bad).await;
        assert_eq!(res.status(), 422, "{bad}");
        let err: Value = res.json().await.unwrap();
        assert_eq!(
            (err["error"].as_str(), err["detail"]["field"].as_str()),
            (Some("invalid_input"), Some(field)),
            "{err}"
        );
    }
    assert_eq!(app.post_json("/api/v1/budgets", &body).await.status(), 409, "the name is taken");
    let viewer = app.key("v", Role::Viewer).await;
    let approver = app.key("a", Role::Approver).await;
    assert_eq!(app.client.get(app.url("/api/v1/budgets")).bearer_auth(&viewer).send().await.unwrap().status(), 200);
    for key in [&viewer, &approver] {
        let res = app.client.post(app.url("/api/v1/budgets")).bearer_auth(key).json(&body).send().await.unwrap();
        assert_eq!(res.status(), 403);
        let res = app.client.delete(app.url(&format!("/api/v1/budgets/{id}"))).bearer_auth(key).send().await.unwrap();
        assert_eq!(res.status(), 403);
    }

    // Raising the amount takes the forecast under; lowering it back crosses nothing anew:
    // each threshold alerts once a period.
    let put = |amount: &str| {
        let mut b = body.clone();
        b["amount"] = json!(amount);
        app.client.put(app.url(&format!("/api/v1/budgets/{id}"))).bearer_auth(&app.admin_key).json(&b).send()
    };
    let raised: Value = put("100000000").await.unwrap().json().await.unwrap();
    assert_eq!(raised["crossed"], b["crossed"], "{raised}");
    let back: Value = put("25000.50").await.unwrap().json().await.unwrap();
    assert_eq!(back["crossed"], b["crossed"], "crossed once, at the first time: {back}");

    let config_id = listed.as_array().unwrap().iter().find(|x| x["managed_by"] == "config").unwrap()["id"].clone();
    let config_id = config_id.as_str().unwrap();
    let res = app.client.delete(app.url(&format!("/api/v1/budgets/{config_id}"))).bearer_auth(&app.admin_key).send();
    assert_eq!(res.await.unwrap().status(), 409, "config.toml keeps it");
    let res = app.client.delete(app.url(&format!("/api/v1/budgets/{id}"))).bearer_auth(&app.admin_key).send();
    assert_eq!(res.await.unwrap().status(), 204);
    assert_eq!(app.get(&format!("/api/v1/budgets/{id}")).await.status(), 404);
    let audit = app.get_json("/api/v1/audit?limit=1000").await;
    let verbs: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .filter(|a| a.starts_with("budget."))
        .collect();
    assert_eq!(verbs.iter().filter(|v| **v == "budget.update").count(), 2, "{verbs:?}");
    assert!(verbs.contains(&"budget.create") && verbs.contains(&"budget.delete"), "{verbs:?}");

    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains("costguard_budget_amount{budget=\"Team data\",currency=\"EUR\"} 1000"), "{metrics}");
    assert!(metrics.contains("costguard_budget_forecast{budget=\"Team data\""), "{metrics}");
    assert!(metrics.contains("costguard_budget_spent{budget=\"Team data\",currency=\"EUR\"} 0"), "{metrics}");
}

async fn spawn_with_config_budget(backend: Backend) -> TestApp {
    TestApp::spawn_with(backend, |s| {
        s.budgets = costguard::budgets::BudgetsConfig(vec![
            json!({"name": "Team data", "amount": 1000, "currency": "EUR", "scope": {"tag": {"key": "team", "value": "data"}}}),
        ]);
    })
    .await
}

mod budgets_over_the_api {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::budgets_over_the_api(super::spawn_with_config_budget(crate::helpers::Backend::Sqlite).await).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        if crate::helpers::postgres_admin_url().is_some() {
            super::budgets_over_the_api(super::spawn_with_config_budget(crate::helpers::Backend::Postgres).await).await
        }
    }
}

crate::with_backend!(the_month_end_forecast_lands_near_the_known_total);

/// Budget messages a receiver got: (threshold, on).
fn announced(hooks: &Receiver) -> Vec<(u64, String)> {
    hooks
        .received()
        .iter()
        .map(|r| r.json())
        .filter(|m| m["event"] == "budget_threshold_crossed")
        .map(|m| (m["threshold"]["percent"].as_u64().unwrap(), m["threshold"]["on"].as_str().unwrap().to_string()))
        .collect()
}

/// A budget kept in config.toml crosses three of its four thresholds; each is announced once,
/// and a restart (and every evaluation after it) announces none again.
async fn each_threshold_is_announced_once_across_restarts(backend: Backend) {
    let hooks = Receiver::start();
    let dir = tempfile::tempdir().unwrap();
    let url = crate::helpers::fresh_database(backend, dir.path());
    let settings = || {
        let mut s = test_settings(&url, dir.path());
        crate::notify::quick(
            &mut s,
            vec![costguard::notify::settings::Destination {
                name: "hooks".into(),
                kind: costguard::notify::settings::DestinationKind::Webhook,
                url: format!("{}/hook", hooks.url).into(),
                secret: "a-webhook-secret-of-enough-length".to_string().into(),
                ..Default::default()
            }],
        );
        // Spent by the 15th at 10:00: about 14 400 of 30 000 (48 %); forecast about 29 000 (97 %).
        s.budgets =
            costguard::budgets::BudgetsConfig(vec![json!({"name": "Everything", "amount": "30000", "currency": "USD",
            "thresholds": [{"percent": 40, "on": "actual"}, {"percent": 80, "on": "forecast"},
                {"percent": 90, "on": "forecast"}, {"percent": 100, "on": "actual"}]})]);
        s
    };
    let clock = costguard::clock::Clock::fixed(cut());
    let first = costguard::app::Application::build_with_clock(settings(), clock.clone()).await.unwrap();
    let (stop, db) = (first.stop_handle(), first.db().clone());
    let running = tokio::spawn(first.run_until_stopped());
    write_hours(&db, cut() - Duration::days(45), cut()).await;
    costguard::detect::Detective::new(db.clone(), Default::default(), costguard::bus::channels(16).0)
        .run(Default::default(), cut())
        .await
        .unwrap();
    costguard::budgets::evaluate(&db, cut()).await.unwrap();
    let expected = vec![(40, "actual".to_string()), (80, "forecast".to_string()), (90, "forecast".to_string())];
    let sent = until("three budget messages", std::time::Duration::from_secs(30), async || {
        let mut got = announced(&hooks);
        got.sort();
        (got.len() >= 3).then_some(got)
    })
    .await;
    assert_eq!(sent, expected);
    stop.stop(true).await;
    running.await.unwrap().unwrap();

    let second = costguard::app::Application::build_with_clock(settings(), clock.clone()).await.unwrap();
    let stop = second.stop_handle();
    let running = tokio::spawn(second.run_until_stopped());
    for _ in 0..3 {
        assert_eq!(costguard::budgets::evaluate(&db, cut() + Duration::minutes(5)).await.unwrap(), 0);
    }
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    assert_eq!(announced(&hooks).len(), 3, "nothing announced again after the restart");
    let budgets = db.run(|c| costguard::budgets::store::list(c).map_err(costguard::db::DbError::from)).await.unwrap();
    assert_eq!(budgets.len(), 1, "config.toml's budget kept, not duplicated, by the second start");
    stop.stop(true).await;
    running.await.unwrap().unwrap();
}

crate::with_backend!(each_threshold_is_announced_once_across_restarts);

/// The optimizer reads budget status: spend that takes its budget over is proposed even under
/// the overspend floor, and `propose_only_over_budget` holds back what a budget still covers.
async fn the_safety_policy_reads_the_budget(app: TestApp) {
    use costguard::approval::store::NewAction;
    use costguard::approval::{propose, Proposed, Proposer};
    use costguard::domain::approval::safety::{Context, SafetyRules};
    use costguard::domain::detect::series::SeriesId;
    write_seeded(&app.db, 0, cut() - Duration::days(45), cut()).await;
    app.detect_at(cut()).await;
    // About 47,000 this month: over a 10,000 budget on the AWS spend.
    let b =
        create(&app, json!({"name": "AWS", "amount": "10000", "currency": "USD", "scope": {"provider": "AWS"}})).await;
    let anomaly = crate::helpers::manual_anomaly(
        &app.db,
        costguard::domain::detect::decision::Severity::Low,
        "AWS",
        Some("Compute"),
    )
    .await;
    let series =
        SeriesId::Service { provider: "AWS".into(), sub_account: "111122223333".into(), service: "Compute".into() };
    {
        use costguard::db::schema::anomalies as an;
        use diesel::prelude::*;
        let (id, key) = (anomaly.clone(), series.key());
        app.db
            .run(move |c| {
                diesel::update(an::table.find(id))
                    .set(an::series_key.eq(key))
                    .execute(c)
                    .map_err(costguard::db::DbError::from)
            })
            .await
            .unwrap();
    }
    let run = |rules: SafetyRules, target: &'static str| {
        let (db, anomaly) = (app.db.clone(), anomaly.clone());
        async move {
            db.run(move |c| {
                let new = NewAction {
                    anomaly_id: Some(costguard::domain::ids::AnomalyId::new(anomaly)),
                    kind: costguard::domain::optimizer::ActionKind::StopEc2Instance,
                    target: target.into(),
                    provider: Some("AWS".into()),
                    account: Some("111122223333".into()),
                    params: "{}".into(),
                    risk: costguard::domain::approval::Risk::Low,
                    estimated_saving_per_hour: 0,
                    proposed_by: "optimizer".into(),
                };
                // Five a day over: far under the 100-a-day floor.
                let facts = Context { projected_daily_overspend: 5.0, ..Context::default() };
                let policy = costguard::approval::ApprovalSettings::default().policy();
                Ok::<_, costguard::db::DbError>(
                    propose(c, &rules, &policy, Proposer::Optimizer, &new, &facts, cut()).unwrap(),
                )
            })
            .await
            .unwrap()
        }
    };
    let routed = |p: Proposed| match p {
        Proposed::Routed(row) => (row.status.as_str().to_string(), row.reason.clone().unwrap_or_default()),
        Proposed::AlreadyThere => panic!("already there"),
    };
    let (status, _) = routed(run(SafetyRules::default(), "i-over").await);
    assert_eq!(status, "pending_approval", "the budget forecast over waives the floor");
    let strict = SafetyRules { propose_only_over_budget: true, ..SafetyRules::default() };
    assert_eq!(routed(run(strict.clone(), "i-strict-over").await).0, "pending_approval");

    // The same budget raised above the forecast: the floor holds, and the strict rule says why.
    let id = b["id"].as_str().unwrap();
    let raised = json!({"name": "AWS", "amount": "1000000", "currency": "USD", "scope": {"provider": "AWS"}});
    let res =
        app.client.put(app.url(&format!("/api/v1/budgets/{id}"))).bearer_auth(&app.admin_key).json(&raised).send();
    assert_eq!(res.await.unwrap().status(), 200);
    let (status, reason) = routed(run(SafetyRules::default(), "i-within").await);
    assert_eq!(status, "rejected");
    assert!(reason.contains("below_budget_floor"), "{reason}");
    let (status, reason) = routed(run(strict, "i-strict-within").await);
    assert_eq!(status, "rejected");
    assert!(
        reason.contains("budget_not_forecast_over") && reason.contains("budget AWS is forecast within"),
        "{reason}"
    );
}

crate::both_backends!(the_safety_policy_reads_the_budget);

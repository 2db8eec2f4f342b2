//! Notifications against local receivers: signed webhooks retried until they land and sent
//! once, Slack messages whose Approve button (a signed interactivity request) approves the
//! action and updates the message, routes and quiet hours, a hung receiver that stalls
//! nothing, a restart that neither loses nor repeats a message, and an anomaly over before
//! it was read that is told to nobody.

use crate::helpers::{manual_anomaly, outbox, test_settings, until, Backend, TestApp};
use crate::peers::receiver::{Received, Receiver};
use costguard::config::Settings;
use costguard::domain::notify::{Event, Route};
use costguard::domain::role::Role;
use costguard::notify::{Destination, DestinationKind};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::time::Duration;

const WEBHOOK_SECRET: &str = "whsec_5e6b1d";
const SLACK_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";

fn hmac_hex(secret: &str, message: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(message);
    hex::encode(mac.finalize().into_bytes())
}

fn destination(name: &str, kind: DestinationKind, url: String, route: Route) -> Destination {
    let secret = if kind == DestinationKind::Webhook { WEBHOOK_SECRET } else { "" };
    Destination {
        name: name.into(),
        kind,
        url: url.into(),
        secret: secret.to_string().into(),
        route,
        ..Destination::default()
    }
}

/// Fast polls and retries, so tests take seconds.
pub fn quick(s: &mut Settings, destinations: Vec<Destination>) {
    (s.notify.poll_ms, s.notify.retry_base_ms, s.notify.timeout_secs) = (100, 50, 2);
    s.notify.destinations = destinations;
}

pub async fn anomaly(app: &TestApp, severity: &str, provider: &str) -> String {
    anomaly_since(app, severity, provider, chrono::Utc::now()).await
}

async fn anomaly_since(
    app: &TestApp,
    severity: &str,
    provider: &str,
    started: chrono::DateTime<chrono::Utc>,
) -> String {
    let body = json!({"severity": severity, "description": format!("{provider} spend jumped"), "provider": provider,
        "service": "BigQuery", "started_at": started.to_rfc3339()});
    let r = app.post_json("/api/v1/anomalies", &body).await;
    assert_eq!(r.status(), 201);
    r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string()
}

async fn webhooks_are_signed_retried_and_sent_once(backend: Backend) {
    let hooks = Receiver::start();
    hooks.fail_next(2);
    let app = TestApp::spawn_with(backend, |s| {
        quick(s, vec![destination("hooks", DestinationKind::Webhook, format!("{}/hook", hooks.url), Route::default())])
    })
    .await;
    let id = anomaly(&app, "high", "Google Cloud").await;
    let sent = until("the webhook to land after two failures", Duration::from_secs(20), async || {
        let rows = outbox(&app.db, &id).await;
        rows.iter().find(|n| n.status == "sent").cloned()
    })
    .await;
    assert_eq!((sent.attempts, sent.event.as_str()), (3, "anomaly_opened"));
    // A few more passes: nothing is sent again.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let got = hooks.received();
    assert_eq!(got.len(), 3, "two failed tries and one delivery");
    for r in &got {
        assert_eq!(r.header("x-costguard-delivery"), Some(sent.id.as_str()), "the same id on every try");
        let ts = r.header("x-costguard-timestamp").unwrap();
        let expected = format!("sha256={}", hmac_hex(WEBHOOK_SECRET, &[ts.as_bytes(), b".", &r.body].concat()));
        assert_eq!(r.header("x-costguard-signature"), Some(expected.as_str()));
        assert_eq!(r.header("x-costguard-event"), Some("anomaly_opened"));
    }
    let body = got[2].json();
    assert_eq!((body["event"].as_str(), body["severity"].as_str()), (Some("anomaly_opened"), Some("high")));
    // Admins see the destination (never its URL or secret) and the delivery on the dashboard.
    let (token, _) = crate::dashboard::session(&app, Role::Admin).await;
    let page =
        app.client.get(app.url("/settings/notifications")).header("cookie", format!("costguard_session={token}"));
    let page = page.send().await.unwrap().text().await.unwrap();
    assert!(
        page.contains("<td>hooks</td>") && page.contains(">sent<") && page.contains(&format!("/anomalies/{id}")),
        "{page}"
    );
    assert!(!page.contains(&hooks.url) && !page.contains(WEBHOOK_SECRET));
    assert_eq!(body["anomaly"]["id"], json!(id));
    assert_eq!(body["anomaly"]["url"], json!(format!("{}/anomalies/{id}", app.address)));
    assert!(body["text"].as_str().unwrap().contains("HIGH cost anomaly"), "{body}");
}

/// A Slack interactivity request as Slack sends it: form-encoded `payload`, signed.
async fn click(app: &TestApp, payload: &Value, secret: &str, age_secs: i64) -> reqwest::StatusCode {
    click_at(app, payload, secret, chrono::Utc::now().timestamp() - age_secs).await
}

/// [`click`] signed at the given Unix time: sent twice, the very same request.
async fn click_at(app: &TestApp, payload: &Value, secret: &str, at: i64) -> reqwest::StatusCode {
    let body = serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap();
    let ts = at.to_string();
    let signature = format!("v0={}", hmac_hex(secret, format!("v0:{ts}:{body}").as_bytes()));
    app.client
        .post(app.url("/slack/interactivity"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", ts)
        .header("x-slack-signature", signature)
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
}

async fn status(app: &TestApp, id: &str) -> String {
    app.get_json(&format!("/api/v1/actions/{id}")).await["status"].as_str().unwrap_or("").to_string()
}

async fn slack_buttons_approve_and_the_message_shows_it(backend: Backend) {
    let slack = Receiver::start();
    let app = TestApp::spawn_with(backend, |s| {
        (s.providers.simulated.enabled, s.providers.simulated.history_days) = (true, 1);
        s.providers.simulated.schedule = String::new();
        s.providers.simulated.live_incident_delay_secs = 0;
        let route = Route { events: vec![Event::ActionPending, Event::ActionSucceeded], ..Route::default() };
        quick(s, vec![destination("oncall", DestinationKind::Slack, format!("{}/services/T0/B0/x", slack.url), route)]);
        s.notify.slack.signing_secret = SLACK_SECRET.to_string().into();
        s.notify.slack.users =
            [("U0ONCALL".to_string(), "oncall".to_string()), ("U0VIEWER".into(), "viewer".into())].into();
    })
    .await;
    app.db
        .run(|c| {
            costguard::auth::users::create(c, "oncall", Role::Approver, "correct horse battery").unwrap();
            costguard::auth::users::create(c, "viewer", Role::Viewer, "correct horse battery").unwrap();
            Ok::<_, costguard::db::DbError>(())
        })
        .await
        .unwrap();
    let proposal = json!({"kind": "cancel_bigquery_job", "target": "bquxjob_7d3e9b21_live_loop", "risk": "low", "provider": "Google Cloud", "account": "analytics-prod"});
    let action: Value = app.post_json("/api/v1/actions", &proposal).await.json().await.unwrap();
    let id = action["id"].as_str().unwrap().to_string();
    let message = until("the approval request in Slack", Duration::from_secs(20), async || {
        slack.received().into_iter().find(|r| r.path == "/services/T0/B0/x").map(|r| r.json())
    })
    .await;
    let buttons = message["blocks"][1]["elements"].as_array().unwrap();
    assert_eq!(
        (buttons[0]["action_id"].as_str(), buttons[0]["value"].as_str()),
        (Some("costguard_approve"), Some(id.as_str()))
    );
    assert!(message["text"].as_str().unwrap().contains("`bquxjob_7d3e9b21_live_loop`"), "{message}");

    let payload = |user: &str| {
        json!({"type": "block_actions", "user": {"id": user, "username": user}, "response_url": format!("{}/response", slack.url),
            "message": message, "actions": [{"action_id": "costguard_approve", "block_id": "costguard_decision", "value": id}]})
    };
    // Forged, replayed, and unlinked or under-privileged clicks change nothing.
    assert_eq!(click(&app, &payload("U0ONCALL"), "not-the-secret", 0).await, 401);
    assert_eq!(click(&app, &payload("U0ONCALL"), SLACK_SECRET, 600).await, 401);
    assert_eq!(click(&app, &payload("U0STRANGER"), SLACK_SECRET, 0).await, 200);
    let at = chrono::Utc::now().timestamp();
    assert_eq!(click_at(&app, &payload("U0VIEWER"), SLACK_SECRET, at).await, 200);
    // The very same signed request again, inside the window: a replay, refused.
    assert_eq!(click_at(&app, &payload("U0VIEWER"), SLACK_SECRET, at).await, 401);
    let refusals = until("two refusals shown to the clicker", Duration::from_secs(10), async || {
        let r: Vec<Value> = slack.received().iter().filter(|r| r.path == "/response").map(Received::json).collect();
        (r.len() == 2).then_some(r)
    })
    .await;
    assert!(refusals.iter().all(|r| r["response_type"] == "ephemeral" && r["replace_original"] == false));
    assert!(refusals[0]["text"].as_str().unwrap().contains("not linked"), "{refusals:?}");
    assert_eq!(status(&app, &id).await, "pending_approval");

    assert_eq!(click(&app, &payload("U0ONCALL"), SLACK_SECRET, 0).await, 200);
    let update = until("the message replaced with the outcome", Duration::from_secs(10), async || {
        slack
            .received()
            .iter()
            .filter(|r| r.path == "/response")
            .map(Received::json)
            .find(|r| r["replace_original"] == true)
    })
    .await;
    assert!(update["text"].as_str().unwrap().contains("Approved by oncall"), "{update}");
    assert_eq!(update["blocks"].as_array().unwrap().len(), 2, "no buttons left: {update}");
    until("the cancel to run and be announced", Duration::from_secs(30), async || {
        let done = slack
            .received()
            .iter()
            .map(Received::json)
            .any(|m| m["text"].as_str().is_some_and(|t| t.contains("*Done*")));
        done.then_some(())
    })
    .await;
    let history = app.get_json(&format!("/api/v1/actions/{id}")).await["history"].clone();
    assert_eq!(history[1]["actor"], "oncall");
    assert_eq!(history[1]["comment"], "via Slack (U0ONCALL)");
}

async fn routes_and_quiet_hours_pick_what_goes_when(backend: Backend) {
    let (all, gcp) = (Receiver::start(), Receiver::start());
    let now = chrono::Utc::now();
    let window = format!(
        "{}-{}",
        (now - chrono::Duration::hours(1)).format("%H:%M"),
        (now + chrono::Duration::hours(1)).format("%H:%M")
    );
    let app = TestApp::spawn_with(backend, |s| {
        let gcp_high = Route {
            providers: vec!["google cloud".into()],
            min_severity: costguard::domain::detect::decision::Severity::High,
            ..Route::default()
        };
        quick(
            s,
            vec![
                destination("all", DestinationKind::Webhook, all.url.clone(), Route::default()),
                destination("gcp-high", DestinationKind::Webhook, gcp.url.clone(), gcp_high),
            ],
        );
        s.notify.quiet_hours = window;
    })
    .await;
    // Found long after the fact (like a backfill replaying history): not news.
    let old = anomaly_since(&app, "critical", "AWS", now - chrono::Duration::days(5)).await;
    // ... nor is a proposal on it (a backfill proposes for its incidents, then withdraws).
    let on_old =
        json!({"kind": "notify_only", "target": "i-0old", "risk": "low", "provider": "AWS", "anomaly_id": old});
    let on_old: Value = app.post_json("/api/v1/actions", &on_old).await.json().await.unwrap();
    let aws_critical = anomaly(&app, "critical", "AWS").await;
    let gcp_low = anomaly(&app, "low", "Google Cloud").await;
    let gcp_high = anomaly(&app, "high", "Google Cloud").await;
    until("the loud ones to land", Duration::from_secs(20), async || {
        (all.received().len() == 2 && gcp.received().len() == 1).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let subjects = |r: &Receiver| -> Vec<String> {
        r.received().iter().map(|m| m.json()["anomaly"]["id"].as_str().unwrap().to_string()).collect()
    };
    let mut to_all = subjects(&all);
    to_all.sort();
    let mut expected = vec![aws_critical.clone(), gcp_high.clone()];
    expected.sort();
    assert_eq!(to_all, expected);
    assert_eq!(subjects(&gcp), [gcp_high]);
    assert!(outbox(&app.db, &old).await.is_empty(), "history is not announced");
    assert!(outbox(&app.db, on_old["id"].as_str().unwrap()).await.is_empty(), "nor a proposal on it");
    // The low one waits for the end of the quiet hours, for "all" only (gcp-high never hears it).
    let held = outbox(&app.db, &gcp_low).await;
    assert_eq!(held.len(), 1);
    assert_eq!((held[0].destination.as_str(), held[0].status.as_str(), held[0].attempts), ("all", "pending", 0));
    assert!(held[0].next_attempt_at > (now + chrono::Duration::minutes(59)).naive_utc(), "{held:?}");
}

async fn a_hung_receiver_holds_up_nothing(backend: Backend) {
    let (slow, fast) = (Receiver::start(), Receiver::start());
    slow.hang(true);
    let app = TestApp::spawn_with(backend, |s| {
        quick(
            s,
            vec![
                destination("slow", DestinationKind::Webhook, slow.url.clone(), Route::default()),
                destination("fast", DestinationKind::Webhook, fast.url.clone(), Route::default()),
            ],
        );
        s.notify.timeout_secs = 1;
    })
    .await;
    let id = anomaly(&app, "high", "AWS").await;
    // The approval flow goes on while the slow receiver hangs.
    let proposal =
        json!({"kind": "notify_only", "target": "i-0abc", "risk": "low", "provider": "AWS", "anomaly_id": id});
    let action: Value = app.post_json("/api/v1/actions", &proposal).await.json().await.unwrap();
    let action_id = action["id"].as_str().unwrap().to_string();
    let bob = app.key("bob", Role::Approver).await;
    let approved = app
        .client
        .post(app.url(&format!("/api/v1/actions/{action_id}/approve")))
        .bearer_auth(&bob)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(approved.status(), 200);
    let events = until("the fast receiver to hear the anomaly and the proposal", Duration::from_secs(20), async || {
        let events: Vec<String> =
            fast.received().iter().map(|r| r.header("x-costguard-event").unwrap_or("").to_string()).collect();
        (events.contains(&"anomaly_opened".to_string()) && events.contains(&"action_pending".to_string()))
            .then_some(events)
    })
    .await;
    assert!(events.len() >= 2, "{events:?}");
    let slow_try = until("the hung tries to time out and wait for a retry", Duration::from_secs(20), async || {
        outbox(&app.db, &id).await.into_iter().find(|n| n.destination == "slow" && n.attempts >= 1)
    })
    .await;
    assert_eq!(
        (slow_try.status.as_str(), slow_try.last_error.as_deref()),
        ("pending", Some("no answer within the timeout"))
    );
}

async fn a_restart_neither_loses_nor_repeats(backend: Backend) {
    let hooks = Receiver::start();
    hooks.fail_next(usize::MAX);
    let dir = tempfile::tempdir().unwrap();
    let url = crate::helpers::fresh_database(backend, dir.path());
    let settings = || {
        let mut s = test_settings(&url, dir.path());
        quick(&mut s, vec![destination("hooks", DestinationKind::Webhook, hooks.url.clone(), Route::default())]);
        s
    };
    let first = costguard::app::Application::build(settings()).await.unwrap();
    let (stop, db) = (first.stop_handle(), first.db().clone());
    let running = tokio::spawn(first.run_until_stopped());
    let anomaly = manual_anomaly(&db, costguard::domain::detect::decision::Severity::High, "AWS", None).await;
    until("a failed try", Duration::from_secs(20), async || (!hooks.received().is_empty()).then_some(())).await;
    stop.stop(true).await;
    running.await.unwrap().unwrap();

    hooks.fail_next(0);
    let tries_before = hooks.received().len();
    let second = costguard::app::Application::build(settings()).await.unwrap();
    let stop = second.stop_handle();
    let running = tokio::spawn(second.run_until_stopped());
    let id = anomaly.clone();
    let rows = until("the message delivered after the restart", Duration::from_secs(20), async || {
        let subject = id.clone();
        let rows = db
            .run(move |c| costguard::notify::store::for_subject(c, &subject).map_err(costguard::db::DbError::from))
            .await
            .unwrap();
        rows.iter().all(|n| n.status == "sent").then_some(rows)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(rows.len(), 1, "queued once: {rows:?}");
    assert_eq!(hooks.received().len(), tries_before + 1, "delivered once after the restart");
    let deliveries: std::collections::BTreeSet<String> =
        hooks.received().iter().map(|r| r.header("x-costguard-delivery").unwrap().to_string()).collect();
    assert_eq!(deliveries.len(), 1, "every try carried the one delivery id");
    stop.stop(true).await;
    running.await.unwrap().unwrap();
}

crate::with_backend!(
    webhooks_are_signed_retried_and_sent_once,
    slack_buttons_approve_and_the_message_shows_it,
    routes_and_quiet_hours_pick_what_goes_when,
    a_hung_receiver_holds_up_nothing,
    a_restart_neither_loses_nor_repeats,
    an_anomaly_over_before_it_was_read_is_told_to_nobody,
);

/// One reading pass of the notifier, as its worker runs it, for a pager and a webhook that
/// hear everything; returns how many messages it queued.
async fn notifier_pass(app: &TestApp, now: chrono::DateTime<chrono::Utc>) -> usize {
    use costguard::notify::store::{enqueue, Listener};
    let policy = Settings::default().approval.policy();
    app.db
        .run(move |c| {
            let route = Route::default();
            let listeners = [
                Listener { name: "pager", route: &route, kind: DestinationKind::PagerDuty },
                Listener { name: "hooks", route: &route, kind: DestinationKind::Webhook },
            ];
            let max_age = chrono::Duration::hours(72);
            enqueue(c, &listeners, None, "http://cg", &policy, max_age, now).map_err(costguard::db::DbError::from)
        })
        .await
        .unwrap()
}

/// An anomaly that opened and ended before the notifier read it (a first start's backfill
/// finds last Saturday's loop, within `max_age_hours`, and its end in one pass) is told to
/// nobody: its opening without its resolution would leave a pager's incident open for ever.
/// One still open from the same time is told, and so is its resolution later.
async fn an_anomaly_over_before_it_was_read_is_told_to_nobody(backend: Backend) {
    use costguard::detect::store::{insert_manual, resolve_manual, Manual};
    use costguard::domain::detect::decision::Severity;
    // The app's own notifier stays off: the test runs its reading pass once both are in.
    let app = TestApp::spawn_with(backend, |s| s.notify.enabled = false).await;
    let now = chrono::Utc::now();
    let saturday = Manual {
        severity: Severity::Critical,
        description: "the Saturday loop".into(),
        provider: Some("Google Cloud".into()),
        sub_account: None,
        service: Some("BigQuery".into()),
        started_at: now - chrono::Duration::hours(30),
    };
    let still_open = Manual { description: "still looping".into(), ..saturday.clone() };
    let (ended, open) = app
        .db
        .run(move |c| {
            let ended = insert_manual(c, &saturday, "detective", now)?;
            resolve_manual(c, &ended.id, "detective", None, now)?;
            let open = insert_manual(c, &still_open, "detective", now)?;
            Ok::<_, costguard::db::DbError>((ended.id, open.id))
        })
        .await
        .unwrap();
    assert_eq!(notifier_pass(&app, now).await, 2, "the open one's opening, to both destinations");
    assert!(outbox(&app.db, &ended).await.is_empty(), "nothing about the one that had ended");
    let told: Vec<String> = outbox(&app.db, &open).await.into_iter().map(|n| n.event).collect();
    assert_eq!(told, ["anomaly_opened", "anomaly_opened"]);

    let id = open.clone();
    app.db
        .run(move |c| Ok::<_, costguard::db::DbError>(resolve_manual(c, &id, "detective", None, now)?))
        .await
        .unwrap();
    assert_eq!(notifier_pass(&app, now).await, 2, "its resolution, to both");
    assert!(outbox(&app.db, &ended).await.is_empty());
}

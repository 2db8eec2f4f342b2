//! Paging the on-call: PagerDuty (a fake of the Events API v2), e-mail (a real SMTP server,
//! aiosmtpd, in plain TCP and behind STARTTLS or implicit TLS) and Microsoft Teams (a fake of
//! its webhook that checks the Adaptive Card), as destinations of the one outbox: one
//! PagerDuty incident follows one anomaly from trigger to acknowledge to resolve, mail
//! arrives as plain text and HTML with no way to approve without signing in, and a restart in
//! the middle of a delivery loses nothing and repeats nothing.

use crate::helpers::{manual_anomaly, outbox, test_settings, until, Backend, TestApp};
use crate::peers::pagerduty::{IncidentState, PagerDuty, ROUTING_KEY};
use crate::peers::smtp::{self, Smtp};
use crate::peers::teams::Teams;
use costguard::config::Settings;
use costguard::domain::role::Role;
use costguard::notify::{Destination, DestinationKind};
use serde_json::{json, Value};
use std::time::Duration;

/// Fast polls and retries; the simulated clouds on (their executor cancels the job).
fn quick(s: &mut Settings, destinations: Vec<Destination>) {
    crate::notify::quick(s, destinations);
    (s.providers.simulated.enabled, s.providers.simulated.history_days) = (true, 1);
    s.providers.simulated.schedule = String::new();
    s.providers.simulated.live_incident_delay_secs = 0;
}

fn pagerduty(url: &str) -> Destination {
    Destination {
        name: "pager".into(),
        kind: DestinationKind::PagerDuty,
        url: url.to_string().into(),
        routing_key: ROUTING_KEY.to_string().into(),
        ..Destination::default()
    }
}

fn email(name: &str, smtp_url: String, password: &str) -> Destination {
    Destination {
        name: name.into(),
        kind: DestinationKind::Email,
        smtp_url,
        from: "CostGuard <costguard@example.com>".into(),
        to: vec!["oncall@example.com".into(), "finops@example.com".into()],
        username: smtp::USER.to_string().into(),
        password: password.to_string().into(),
        ..Destination::default()
    }
}

/// Proposes cancelling the simulated looping job for `anomaly`; returns the action id.
async fn propose_cancel(app: &TestApp, anomaly: &str) -> String {
    let proposal = json!({"kind": "cancel_bigquery_job", "target": "bquxjob_7d3e9b21_live_loop", "risk": "low",
        "provider": "Google Cloud", "account": "analytics-prod", "anomaly_id": anomaly});
    let r = app.post_json("/api/v1/actions", &proposal).await;
    assert_eq!(r.status(), 201);
    r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string()
}

async fn approve(app: &TestApp, action: &str) {
    let bob = app.key("bob", Role::Approver).await;
    let url = app.url(&format!("/api/v1/actions/{action}/approve"));
    let r = app.client.post(url).bearer_auth(&bob).json(&json!({"comment": "stop it"})).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

async fn one_pagerduty_incident_follows_the_anomaly(backend: Backend) {
    let pd = PagerDuty::start();
    let app = TestApp::spawn_with(backend, |s| quick(s, vec![pagerduty(&pd.url)])).await;
    let id = crate::notify::anomaly(&app, "high", "Google Cloud").await;
    let triggered = until("PagerDuty to open an incident", Duration::from_secs(20), async || {
        pd.incidents().into_iter().find(|i| i.dedup_key == id)
    })
    .await;
    let trigger = &triggered.log[0];
    assert_eq!(
        (trigger["event_action"].as_str(), trigger["routing_key"].as_str()),
        (Some("trigger"), Some(ROUTING_KEY))
    );
    let payload = &trigger["payload"];
    assert_eq!((payload["severity"].as_str(), payload["source"].as_str()), (Some("error"), Some("127.0.0.1")));
    assert!(payload["summary"].as_str().unwrap().contains("HIGH cost anomaly"), "{payload}");
    assert_eq!(payload["custom_details"]["series"], "Google Cloud / BigQuery", "{payload}");
    assert_eq!(trigger["links"][0]["href"], json!(format!("{}/anomalies/{id}", app.address)));

    // The proposal adds the approve link to the open incident; the approval acknowledges it;
    // the verified cancel mitigates the anomaly, which resolves it.
    let action = propose_cancel(&app, &id).await;
    let approve_link =
        json!({"href": format!("{}/actions/{action}", app.address), "text": "Approve or reject in CostGuard"});
    until("the approve link on the incident", Duration::from_secs(20), async || {
        let incident = pd.incidents().into_iter().find(|i| i.dedup_key == id)?;
        incident.log.iter().any(|e| e["links"].as_array().is_some_and(|l| l.contains(&approve_link))).then_some(())
    })
    .await;
    approve(&app, &action).await;
    let resolved = until("the incident acknowledged, then resolved", Duration::from_secs(40), async || {
        let incident = pd.incidents().into_iter().find(|i| i.dedup_key == id)?;
        (incident.state == IncidentState::Resolved).then_some(incident)
    })
    .await;
    let actions: Vec<&str> = resolved.log.iter().map(|e| e["event_action"].as_str().unwrap()).collect();
    let ack = actions.iter().position(|a| *a == "acknowledge").expect("acknowledged");
    assert!(actions[..ack].iter().all(|a| *a == "trigger") && actions.last() == Some(&"resolve"), "{actions:?}");
    assert_eq!(pd.incidents().len(), 1, "one incident for one anomaly");
    assert!(pd.rejected().is_empty(), "PagerDuty refused: {:?}", pd.rejected());
    let lifecycle = app.get_json(&format!("/api/v1/anomalies/{id}")).await["lifecycle"].clone();
    assert!(matches!(lifecycle.as_str(), Some("mitigated" | "resolved")), "{lifecycle}");

    // Admins see the destination by kind, and the deliveries.
    let (token, _) = crate::dashboard::session(&app, Role::Admin).await;
    let page =
        app.client.get(app.url("/settings/notifications")).header("cookie", format!("costguard_session={token}"));
    let page = page.send().await.unwrap().text().await.unwrap();
    assert!(
        page.contains("<td>PagerDuty</td>") && page.contains("action_approved") && page.contains(">sent<"),
        "{page}"
    );
    assert!(!page.contains(ROUTING_KEY), "the routing key is never shown");
}

async fn mail_arrives_as_text_and_html_and_approves_nothing(backend: Backend) {
    let Some(server) = Smtp::start().await else { return };
    let port = server.port;
    // A server that takes the connection and never says a word.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let app = TestApp::spawn_with(backend, |s| {
        quick(
            s,
            vec![
                email("mail", format!("smtp://127.0.0.1:{port}?tls=none"), smtp::PASSWORD),
                email("mail-wrong-password", format!("smtp://127.0.0.1:{port}?tls=none"), "guess"),
                // STARTTLS is required unless the URL says otherwise; this server has none.
                email("mail-starttls", format!("smtp://127.0.0.1:{port}"), smtp::PASSWORD),
                email("mail-silent", format!("smtp://127.0.0.1:{silent_port}?tls=none"), smtp::PASSWORD),
            ],
        )
    })
    .await;
    // User data in a message is text, never markup.
    let id = crate::notify::anomaly(&app, "high", "Google <b>Cloud</b>").await;
    let action = propose_cancel(&app, &id).await;
    let is_cancel = |m: &smtp::Mail| m.header("Subject").is_some_and(|s| s.contains("bquxjob_7d3e9b21_live_loop"));
    let mails = until("the opening and the approval request by mail", Duration::from_secs(20), async || {
        let got = server.received();
        got.iter().any(is_cancel).then_some(got)
    })
    .await;
    let opened = &mails[0];
    assert_eq!(opened.header("From"), Some("CostGuard <costguard@example.com>"));
    assert_eq!(opened.header("To"), Some("oncall@example.com, finops@example.com"));
    let subject = opened.header("Subject").unwrap();
    assert!(subject.starts_with("[CostGuard] 🚨 HIGH cost anomaly: Google <b>Cloud</b>"), "{subject}");
    assert!(
        opened.plain.contains("HIGH cost anomaly: Google <b>Cloud</b>") && !opened.plain.contains('*'),
        "{opened:?}"
    );
    assert!(
        opened.html.contains("<strong>HIGH cost anomaly</strong>: Google &lt;b&gt;Cloud&lt;/b&gt;"),
        "{}",
        opened.html
    );
    assert!(opened.plain.contains(&format!("Open in CostGuard: {}/anomalies/{id}", app.address)), "{}", opened.plain);

    let pending = mails.iter().find(|m| is_cancel(m)).unwrap();
    assert!(pending.header("Subject").unwrap().contains("Approval needed"), "{pending:?}");
    let page = format!("{}/actions/{action}", app.address);
    assert!(pending.html.contains(&format!("<a href=\"{page}\">Open in CostGuard</a> (sign in")), "{}", pending.html);
    // The only link is the page, where approving needs a signed-in approver.
    assert!(!pending.html.contains("/approve") && !pending.plain.contains("/approve"), "{}", pending.html);
    assert_eq!(app.get_json(&format!("/api/v1/actions/{action}")).await["status"], "pending_approval");

    // Each message's Message-ID is its outbox row's id.
    let rows = outbox(&app.db, &id).await;
    let sent = rows.iter().find(|n| n.destination == "mail" && n.status == "sent").unwrap();
    assert_eq!(opened.header("Message-ID"), Some(format!("<{}@costguard>", sent.id).as_str()));
    // The wrong password and the missing STARTTLS are refused and retried, never sent in
    // clear; the silent server costs one timeout a try and holds up no other destination.
    let failing = until("the three failures recorded", Duration::from_secs(20), async || {
        let rows = outbox(&app.db, &id).await;
        let failing: Vec<_> = rows.into_iter().filter(|n| n.destination != "mail" && n.last_error.is_some()).collect();
        (failing.len() == 3).then_some(failing)
    })
    .await;
    let ids: Vec<String> =
        server.received().iter().filter_map(|m| m.header("Message-ID").map(str::to_string)).collect();
    for n in &failing {
        assert_eq!(n.status, "pending", "retried: {n:?}");
        let (error, silent) = (n.last_error.as_deref().unwrap(), n.destination == "mail-silent");
        assert!(if silent { error == "no answer within the timeout" } else { error.starts_with("SMTP") }, "{n:?}");
        assert!(!ids.contains(&format!("<{}@costguard>", n.id)), "never delivered: {n:?}");
    }
    let starttls = failing.iter().find(|n| n.destination == "mail-starttls").unwrap();
    assert!(starttls.last_error.as_deref().unwrap().contains("STARTTLS"), "{starttls:?}");
    drop(silent);
}

/// Mail goes over TLS, STARTTLS or implicit, with the server's certificate checked against
/// the roots plus `ca_file`; a certificate nobody vouches for is refused, and nothing is
/// sent (the log-in included) over that connection.
async fn mail_goes_over_tls_and_checks_the_certificate(backend: Backend) {
    let Some(starttls) = Smtp::start_tls(smtp::Security::StartTls).await else { return };
    let Some(implicit) = Smtp::start_tls(smtp::Security::Implicit).await else { return };
    let with_ca = |name: &str, url: String, server: &Smtp| Destination {
        ca_file: server.ca_file(),
        ..email(name, url, smtp::PASSWORD)
    };
    let app = TestApp::spawn_with(backend, |s| {
        crate::notify::quick(
            s,
            vec![
                with_ca("mail-starttls", format!("smtp://127.0.0.1:{}", starttls.port), &starttls),
                with_ca("mail-smtps", format!("smtps://127.0.0.1:{}", implicit.port), &implicit),
                email("mail-untrusted", format!("smtps://127.0.0.1:{}", implicit.port), smtp::PASSWORD),
            ],
        )
    })
    .await;
    let id = crate::notify::anomaly(&app, "high", "Google Cloud").await;
    let opened = |server: &Smtp| server.received().into_iter().find(|m| m.plain.contains("HIGH cost anomaly"));
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let (over_starttls, over_tls) = loop {
        if let (Some(a), Some(b)) = (opened(&starttls), opened(&implicit)) {
            break (a, b);
        }
        let rows = outbox(&app.db, &id).await;
        assert!(std::time::Instant::now() < deadline, "the opening over both kinds of TLS: {rows:#?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let rows = outbox(&app.db, &id).await;
    for (mail, destination) in [(&over_starttls, "mail-starttls"), (&over_tls, "mail-smtps")] {
        let row = rows.iter().find(|n| n.destination == destination && n.status == "sent").unwrap();
        assert_eq!(mail.header("Message-ID"), Some(format!("<{}@costguard>", row.id).as_str()), "{destination}");
    }
    let untrusted = until("the untrusted certificate refused", Duration::from_secs(20), async || {
        outbox(&app.db, &id).await.into_iter().find(|n| n.destination == "mail-untrusted" && n.last_error.is_some())
    })
    .await;
    let error = untrusted.last_error.as_deref().unwrap();
    assert!(error.starts_with("SMTP") && error.contains("certificate"), "{untrusted:?}");
    assert_eq!(untrusted.status, "pending", "retried: {untrusted:?}");
    assert_eq!(implicit.received().len(), 1, "only the trusted destination's message arrived");
}

async fn teams_gets_an_adaptive_card_with_a_link(backend: Backend) {
    let teams = Teams::start();
    let url = teams.url.clone();
    let app = TestApp::spawn_with(backend, |s| {
        let d = Destination {
            name: "teams".into(),
            kind: DestinationKind::Teams,
            url: url.into(),
            ..Destination::default()
        };
        quick(s, vec![d])
    })
    .await;
    let id = crate::notify::anomaly(&app, "high", "Google Cloud").await;
    let action = propose_cancel(&app, &id).await;
    let is_cancel = |c: &Value| c["body"][0]["text"].as_str().is_some_and(|t| t.contains("bquxjob_7d3e9b21_live_loop"));
    let cards = until("the opening and the approval request in the channel", Duration::from_secs(20), async || {
        let cards = teams.cards();
        cards.iter().any(is_cancel).then_some(cards)
    })
    .await;
    assert!(teams.rejected().is_empty(), "{:?}", teams.rejected());
    assert_eq!(cards[0]["body"][0]["text"], "🚨 **HIGH cost anomaly**: Google Cloud / BigQuery");
    let facts: Vec<(String, String)> = cards[0]["body"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "FactSet")
        .flat_map(|e| e["facts"].as_array().unwrap().clone())
        .map(|f| (f["title"].as_str().unwrap().to_string(), f["value"].as_str().unwrap().to_string()))
        .collect();
    assert!(facts.contains(&("Severity".into(), "high".into())), "{facts:?}");
    assert_eq!(cards[0]["actions"][0]["url"], json!(format!("{}/anomalies/{id}", app.address)));
    let pending = cards.iter().find(|c| is_cancel(c)).unwrap();
    assert!(pending["body"][0]["text"].as_str().unwrap().contains("**Approval needed**"), "{pending}");
    assert_eq!(pending["actions"][0]["url"], json!(format!("{}/actions/{action}", app.address)));
}

/// A routing key written as "stored" is entered by an admin in Settings → Notifications:
/// until then nothing goes out (the outbox says why and retries); after, the next try pages
/// with it. The page never shows it back.
async fn a_stored_routing_key_is_entered_in_the_dashboard(backend: Backend) {
    let pd = PagerDuty::start();
    let app = TestApp::spawn_with(backend, |s| {
        let d = Destination { routing_key: "stored".to_string().into(), ..pagerduty(&pd.url) };
        quick(s, vec![d]);
        // A failed try waits a minute, then two: entering the key makes them due at once.
        s.notify.retry_base_ms = 60_000;
    })
    .await;
    let id = crate::notify::anomaly(&app, "high", "Google Cloud").await;
    let waiting = until("the missing key recorded", Duration::from_secs(20), async || {
        outbox(&app.db, &id).await.into_iter().find(|n| n.last_error.is_some())
    })
    .await;
    assert_eq!(waiting.last_error.as_deref(), Some("routing_key is not entered yet (Settings → Notifications)"));
    assert_eq!(waiting.status, "pending");
    assert!(pd.events().is_empty());

    let (token, csrf) = crate::dashboard::session(&app, Role::Admin).await;
    let page = |client: &reqwest::Client| {
        client.get(app.url("/settings/notifications")).header("cookie", format!("costguard_session={token}")).send()
    };
    let before = page(&app.client).await.unwrap().text().await.unwrap();
    assert!(before.contains("not set: nothing is sent") && before.contains("name=\"routing_key\""), "{before}");
    let saved = crate::dashboard::no_redirects()
        .post(app.url("/settings/notifications/pager/secrets"))
        .header("cookie", format!("costguard_session={token}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={csrf}&routing_key={ROUTING_KEY}&secret=ignored"))
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), 303);
    let incident = until("the page with the stored key, at once", Duration::from_secs(10), async || {
        pd.incidents().into_iter().find(|i| i.dedup_key == id)
    })
    .await;
    assert_eq!(incident.log[0]["routing_key"], ROUTING_KEY);
    let after = page(&app.client).await.unwrap().text().await.unwrap();
    assert!(after.contains(">set<") && !after.contains(ROUTING_KEY), "{after}");
    // Only the fields config.toml marks "stored"; the entry is audited.
    let stored = app
        .db
        .run(|c| costguard::credentials::status(c, "notify:pager").map_err(costguard::db::DbError::from))
        .await
        .unwrap();
    assert_eq!(stored.iter().map(|s| s.field.as_str()).collect::<Vec<_>>(), ["routing_key"]);
    let audit = app.get_json("/api/v1/audit?limit=200").await;
    assert!(audit.to_string().contains("notify.secrets"), "{audit}");
}

/// PagerDuty takes the trigger but the answer never comes; CostGuard is stopped mid-try and
/// started again: the message goes again under the same dedup key, so PagerDuty keeps one
/// incident, and nothing queued is lost. E-mail queued while the SMTP server is down is
/// sent once after the restart, under its one Message-ID.
async fn a_restart_mid_delivery_neither_loses_nor_repeats(backend: Backend) {
    let pd = PagerDuty::start();
    pd.hang(true);
    let smtp_port = crate::peers::free_port();
    let dir = tempfile::tempdir().unwrap();
    let url = crate::helpers::fresh_database(backend, dir.path());
    let settings = || {
        let mut s = test_settings(&url, dir.path());
        let mail = email("mail", format!("smtp://127.0.0.1:{smtp_port}?tls=none"), smtp::PASSWORD);
        (s.notify.poll_ms, s.notify.retry_base_ms, s.notify.timeout_secs) = (100, 50, 2);
        s.notify.destinations = vec![pagerduty(&pd.url), mail];
        s
    };
    let first = costguard::app::Application::build(settings()).await.unwrap();
    let (stop, db) = (first.stop_handle(), first.db().clone());
    let running = tokio::spawn(first.run_until_stopped());
    let id = manual_anomaly(&db, costguard::domain::detect::decision::Severity::Critical, "AWS", Some("EC2")).await;
    until("PagerDuty to take the trigger (its answer hangs)", Duration::from_secs(20), async || {
        (!pd.incidents().is_empty()).then_some(())
    })
    .await;
    until("a failed mail try", Duration::from_secs(20), async || {
        outbox(&db, &id).await.into_iter().find(|n| n.destination == "mail" && n.attempts >= 1)
    })
    .await;
    stop.stop(true).await;
    running.await.unwrap().unwrap();

    pd.hang(false);
    let Some(server) = Smtp::start_on(smtp_port).await else { return };
    let second = costguard::app::Application::build(settings()).await.unwrap();
    let stop = second.stop_handle();
    let running = tokio::spawn(second.run_until_stopped());
    let rows = until("every message delivered after the restart", Duration::from_secs(30), async || {
        let rows = outbox(&db, &id).await;
        (rows.len() == 2 && rows.iter().all(|n| n.status == "sent")).then_some(rows)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let incidents = pd.incidents();
    assert_eq!(incidents.len(), 1, "one incident: {incidents:?}");
    assert_eq!((incidents[0].dedup_key.as_str(), &incidents[0].state), (&id[..], &IncidentState::Triggered));
    assert!(pd.events().iter().all(|e| e["dedup_key"] == json!(id)), "every try under the anomaly's key");
    let mails = server.received();
    let mail_row = rows.iter().find(|n| n.destination == "mail").unwrap();
    assert_eq!(mails.len(), 1, "sent once");
    assert_eq!(mails[0].header("Message-ID"), Some(format!("<{}@costguard>", mail_row.id).as_str()));
    stop.stop(true).await;
    running.await.unwrap().unwrap();
}

crate::with_backend!(
    one_pagerduty_incident_follows_the_anomaly,
    mail_arrives_as_text_and_html_and_approves_nothing,
    mail_goes_over_tls_and_checks_the_certificate,
    teams_gets_an_adaptive_card_with_a_link,
    a_stored_routing_key_is_entered_in_the_dashboard,
    a_restart_mid_delivery_neither_loses_nor_repeats,
);

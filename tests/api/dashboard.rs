//! The dashboard's access rules and form protections, against the real app:
//! - every route × {anonymous, viewer, approver, admin session, API key of each role};
//! - a POST without the session's CSRF token is refused and changes nothing;
//! - log-in sets a hardened cookie, is rate limited, and the setup link works once.

use crate::helpers::TestApp;
use costguard::auth::{sessions, setup, users};
use costguard::db::DbError;
use costguard::domain::role::Role;
use reqwest::{Method, StatusCode};
use serde_json::json;

/// Who calls.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Caller {
    Anonymous,
    Session(Role),
    Key(Role),
}

const CALLERS: [Caller; 7] = [
    Caller::Anonymous,
    Caller::Session(Role::Viewer),
    Caller::Session(Role::Approver),
    Caller::Session(Role::Admin),
    Caller::Key(Role::Viewer),
    Caller::Key(Role::Approver),
    Caller::Key(Role::Admin),
];

/// Which door a route has.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Door {
    /// Anyone.
    Public,
    /// JSON API: a bearer key of at least this role.
    Api(Role),
    /// Dashboard: a session of at least this role.
    Page(Role),
    /// Anyone may call, but the form's own one-time token decides (log-in, set-up): without
    /// one every caller is refused.
    TokenForm,
    /// Only a request signed with the Slack app's signing secret: every caller here is 401.
    SlackSigned,
}

const X: &str = "00000000-0000-0000-0000-000000000000";

/// Every route the server has, as registered (a test below checks that none is missing).
fn routes() -> Vec<(Method, &'static str, Door)> {
    use Door::*;
    use Role::*;
    vec![
        (Method::GET, "/healthz", Public),
        (Method::GET, "/readyz", Public),
        (Method::GET, "/version", Public),
        (Method::GET, "/metrics", Public),
        (Method::GET, "/login", Public),
        (Method::POST, "/login", TokenForm),
        (Method::GET, "/setup", TokenForm),
        (Method::POST, "/setup", TokenForm),
        (Method::GET, "/static/{name}", Public),
        (Method::POST, "/slack/interactivity", SlackSigned),
        (Method::GET, "/api/v1/costs", Api(Viewer)),
        (Method::POST, "/api/v1/costs", Api(Approver)),
        (Method::POST, "/api/v1/costs/import", Api(Approver)),
        (Method::GET, "/api/v1/llm-usage", Api(Viewer)),
        (Method::POST, "/api/v1/llm-usage", Api(Approver)),
        (Method::GET, "/api/v1/anomalies", Api(Viewer)),
        (Method::POST, "/api/v1/anomalies", Api(Approver)),
        (Method::GET, "/api/v1/anomalies/series", Api(Viewer)),
        (Method::GET, "/api/v1/anomalies/{id}", Api(Viewer)),
        (Method::POST, "/api/v1/anomalies/{id}/feedback", Api(Approver)),
        (Method::POST, "/api/v1/anomalies/{id}/resolve", Api(Approver)),
        (Method::GET, "/api/v1/actions", Api(Viewer)),
        (Method::POST, "/api/v1/actions", Api(Approver)),
        (Method::GET, "/api/v1/actions/recovered", Api(Viewer)),
        (Method::GET, "/api/v1/actions/{id}", Api(Viewer)),
        (Method::POST, "/api/v1/actions/{id}/approve", Api(Approver)),
        (Method::POST, "/api/v1/actions/{id}/reject", Api(Approver)),
        (Method::POST, "/api/v1/actions/{id}/cancel", Api(Approver)),
        (Method::GET, "/api/v1/audit", Api(Viewer)),
        (Method::POST, "/mcp", Api(Viewer)),
        (Method::GET, "/api/v1/budgets", Api(Viewer)),
        (Method::POST, "/api/v1/budgets", Api(Admin)),
        (Method::GET, "/api/v1/budgets/{id}", Api(Viewer)),
        (Method::PUT, "/api/v1/budgets/{id}", Api(Admin)),
        (Method::DELETE, "/api/v1/budgets/{id}", Api(Admin)),
        (Method::GET, "/", Page(Viewer)),
        (Method::GET, "/anomalies", Page(Viewer)),
        (Method::GET, "/anomalies/{id}", Page(Viewer)),
        (Method::POST, "/anomalies/{id}/feedback", Page(Approver)),
        (Method::POST, "/anomalies/{id}/resolve", Page(Approver)),
        (Method::GET, "/actions", Page(Viewer)),
        (Method::GET, "/actions/{id}", Page(Viewer)),
        (Method::POST, "/actions/{id}/approve", Page(Approver)),
        (Method::POST, "/actions/{id}/reject", Page(Approver)),
        (Method::GET, "/audit", Page(Viewer)),
        (Method::GET, "/llm", Page(Viewer)),
        (Method::GET, "/settings", Page(Admin)),
        (Method::GET, "/settings/providers", Page(Admin)),
        (Method::POST, "/settings/providers/{name}", Page(Admin)),
        (Method::POST, "/settings/providers/{name}/credentials", Page(Admin)),
        (Method::POST, "/settings/providers/{name}/test", Page(Admin)),
        (Method::POST, "/settings/demo/reseed", Page(Admin)),
        (Method::GET, "/settings/safety", Page(Admin)),
        (Method::GET, "/settings/budgets", Page(Viewer)),
        (Method::POST, "/settings/budgets", Page(Admin)),
        (Method::POST, "/settings/budgets/{id}/delete", Page(Admin)),
        (Method::GET, "/settings/notifications", Page(Admin)),
        (Method::POST, "/settings/notifications/{name}/secrets", Page(Admin)),
        (Method::GET, "/settings/users", Page(Admin)),
        (Method::POST, "/settings/users", Page(Admin)),
        (Method::POST, "/settings/users/{id}", Page(Admin)),
        (Method::GET, "/settings/api-keys", Page(Admin)),
        (Method::POST, "/settings/api-keys", Page(Admin)),
        (Method::POST, "/settings/api-keys/{id}/revoke", Page(Admin)),
        (Method::POST, "/logout", Page(Viewer)),
    ]
}

/// A concrete path for a route pattern.
fn concrete(pattern: &str) -> String {
    let name = if pattern.starts_with("/static/") { "app.css" } else { "simulated" };
    pattern.replace("{id}", X).replace("{name}", name)
}

/// A fresh session (token, CSRF token) for a new user of `role`.
pub async fn session(app: &TestApp, role: Role) -> (String, String) {
    let name = format!("{role}-{}", uuid::Uuid::new_v4().simple());
    app.db
        .run(move |c| {
            let user = users::insert(c, &name, role, "not-a-real-hash").map_err(|e| DbError::Other(e.to_string()))?;
            let life = sessions::Lifetime { absolute: chrono::Duration::hours(1), idle: chrono::Duration::hours(1) };
            let token = sessions::start(c, &user, life, chrono::Utc::now(), None)?;
            let found = sessions::resume(c, &token, life, chrono::Utc::now())?.expect("session");
            Ok::<_, DbError>((token, found.csrf_token))
        })
        .await
        .unwrap()
}

pub fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

async fn call(
    app: &TestApp,
    client: &reqwest::Client,
    method: &Method,
    path: &str,
    who: Caller,
) -> (StatusCode, String) {
    let mut req = client.request(method.clone(), app.url(path));
    let mut form = String::from("comment=x&kind=confirmed&schedule=&name=n&role=viewer&password=p&token=t");
    match who {
        Caller::Anonymous => {}
        Caller::Session(role) => {
            let (token, csrf) = session(app, role).await;
            req = req.header("cookie", format!("costguard_session={token}"));
            form.push_str(&format!("&csrf={csrf}"));
        }
        Caller::Key(role) => {
            let key = app.key(&format!("{role}-{}", uuid::Uuid::new_v4().simple()), role).await;
            req = req.bearer_auth(key);
        }
    }
    if *method == Method::POST {
        req = if path.starts_with("/api/") {
            req.json(&json!({}))
        } else {
            req.header("content-type", "application/x-www-form-urlencoded").body(form)
        };
    }
    let res = req.send().await.unwrap();
    let location = res.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    (res.status(), location)
}

fn allowed(needed: Role, who: Caller, api: bool) -> bool {
    match who {
        Caller::Anonymous => false,
        Caller::Session(role) => !api && role.allows(needed),
        Caller::Key(role) => api && role.allows(needed),
    }
}

async fn every_route_for_every_caller(app: TestApp) {
    let client = no_redirects();
    let mut failures = Vec::new();
    for (method, pattern, door) in routes() {
        let path = concrete(pattern);
        for who in CALLERS {
            let (status, location) = call(&app, &client, &method, &path, who).await;
            let to_login = status == StatusCode::SEE_OTHER && location.starts_with("/login");
            // Logging out answers with the log-in page, which is its success.
            let signed_out = path == "/logout" && location == "/login";
            let ok = match door {
                Door::Public => status.is_success(),
                Door::TokenForm => status == 403 || status == 404,
                Door::SlackSigned => status == 401,
                Door::Api(needed) if allowed(needed, who, true) => {
                    status != 401 && status != 403 && !status.is_server_error()
                }
                Door::Api(_) if matches!(who, Caller::Key(_)) => status == 403,
                Door::Api(_) => status == 401,
                Door::Page(needed) if allowed(needed, who, false) => {
                    status != 401 && status != 403 && (!to_login || signed_out)
                }
                Door::Page(_) if matches!(who, Caller::Session(_)) => status == 403,
                Door::Page(_) => to_login,
            };
            if !ok {
                failures.push(format!("{method} {path} as {who:?}: {status} {location}"));
            }
        }
    }
    assert!(failures.is_empty(), "unexpected outcomes:\n{}", failures.join("\n"));
}

/// Every route registered in the dashboard's and the API's source is in the table above.
#[test]
fn the_table_covers_every_route() {
    let table: Vec<String> = routes().iter().map(|(m, p, _)| format!("{m} {p}")).collect();
    let sources = [
        ("", include_str!("../../src/dashboard/mod.rs")),
        ("/api/v1", include_str!("../../src/web/api/mod.rs")),
        ("", include_str!("../../src/web/mod.rs")),
        ("", include_str!("../../src/web/mcp/mod.rs")),
    ];
    for (scope, source) in sources {
        for line in source.lines().filter(|l| l.contains(".route(\"")) {
            let path = line.split('"').nth(1).unwrap();
            let method = if line.contains("web::post()") { "POST" } else { "GET" };
            // In the API module, health and metrics sit outside the /api/v1 scope.
            let outside = ["/healthz", "/readyz", "/version", "/metrics"].contains(&path);
            let full = if outside { path.to_string() } else { format!("{scope}{path}") };
            assert!(table.contains(&format!("{method} {full}")), "{method} {full} is not in the authorization table");
        }
    }
}

async fn a_post_without_the_csrf_token_changes_nothing(app: TestApp) {
    let proposer = app.key("proposer", Role::Approver).await;
    let body = json!({"kind": "notify_only", "target": "nothing", "risk": "low"});
    let created: serde_json::Value = app
        .client
        .post(app.url("/api/v1/actions"))
        .bearer_auth(&proposer)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["status"], "pending_approval");
    let transitions = app.get_json(&format!("/api/v1/actions/{id}")).await["history"].as_array().unwrap().len();
    let (token, csrf) = session(&app, Role::Approver).await;
    let client = no_redirects();
    let post = |form: String| {
        client
            .post(app.url(&format!("/actions/{id}/approve")))
            .header("cookie", format!("costguard_session={token}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
    };
    for forged in ["comment=x".to_string(), "csrf=&comment=x".into(), format!("csrf={}&comment=x", "0".repeat(64))] {
        let res = post(forged.clone()).await.unwrap();
        assert_eq!(res.status(), 403, "{forged}");
        assert!(res.text().await.unwrap().contains("reload the page"));
        let now = app.get_json(&format!("/api/v1/actions/{id}")).await;
        assert_eq!(now["status"], "pending_approval", "{forged} changed the action");
        assert_eq!(now["history"].as_array().unwrap().len(), transitions, "no transition was recorded");
    }
    let res = post(format!("csrf={csrf}&comment=ok")).await.unwrap();
    assert_eq!(res.status(), 303);
    let now = app.get_json(&format!("/api/v1/actions/{id}")).await;
    assert_ne!(now["status"], "pending_approval");
}

async fn log_in(client: &reqwest::Client, app: &TestApp, name: &str, password: &str) -> reqwest::Response {
    log_in_from(client, app, name, password, "127.0.0.1").await
}

/// A log-in from `address`, as a trusted proxy reports it (X-Forwarded-For).
async fn log_in_from(
    client: &reqwest::Client,
    app: &TestApp,
    name: &str,
    password: &str,
    address: &str,
) -> reqwest::Response {
    let page = client.get(app.url("/login")).send().await.unwrap();
    let cookie = page.headers().get("set-cookie").unwrap().to_str().unwrap().split(';').next().unwrap().to_string();
    let csrf = cookie.split('=').nth(1).unwrap().to_string();
    client
        .post(app.url("/login"))
        .header("cookie", cookie)
        .header("x-forwarded-for", address)
        .form(&[("csrf", csrf.as_str()), ("name", name), ("password", password), ("next", "/actions")])
        .send()
        .await
        .unwrap()
}

async fn log_in_sets_a_hardened_cookie_and_is_rate_limited(app: TestApp) {
    app.db
        .run(|c| users::create(c, "olga", Role::Viewer, "olga-password-1").map_err(|e| DbError::Other(e.to_string())))
        .await
        .unwrap();
    let client = no_redirects();
    let ok = log_in(&client, &app, "olga", "olga-password-1").await;
    assert_eq!(ok.status(), 303);
    assert_eq!(ok.headers().get("location").unwrap(), "/actions");
    let cookie = ok
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("costguard_session="))
        .unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain http on loopback: {cookie}");
    // Without the double-submit cookie the form is refused.
    let bare = client
        .post(app.url("/login"))
        .form(&[("csrf", "x"), ("name", "olga"), ("password", "olga-password-1")])
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), 403);
    for _ in 0..5 {
        assert_eq!(log_in(&client, &app, "olga", "wrong-password").await.status(), 401);
    }
    // One address guessing many names is limited too (50 by default): other users' log-ins
    // from it are refused once it has failed that often.
    app.db
        .run(|c| users::create(c, "pia", Role::Viewer, "pia-password-12").map_err(|e| DbError::Other(e.to_string())))
        .await
        .unwrap();
    for i in 0..45 {
        assert_eq!(log_in(&client, &app, &format!("guess{i}"), "x").await.status(), 401);
    }
    assert_eq!(log_in(&client, &app, "pia", "pia-password-12").await.status(), 429, "the address is throttled");
    let throttled = log_in(&client, &app, "olga", "olga-password-1").await;
    assert_eq!(throttled.status(), 429, "the right password is refused while throttled");
    assert!(throttled.headers().get("retry-after").is_some());
}

async fn the_setup_link_creates_the_first_admin_once(app: TestApp) {
    let token = app
        .db
        .run(|c| setup::issue_if_no_users(c, chrono::Utc::now()).map_err(DbError::from))
        .await
        .unwrap()
        .expect("no users yet");
    let client = no_redirects();
    let page = client.get(app.url(&format!("/setup?token={token}"))).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let cookie = page.headers().get("set-cookie").unwrap().to_str().unwrap().split(';').next().unwrap().to_string();
    let csrf = cookie.split('=').nth(1).unwrap().to_string();
    let submit_with = |name: &'static str, password: &'static str| {
        client
            .post(app.url("/setup"))
            .header("cookie", cookie.clone())
            .form(&[("csrf", csrf.as_str()), ("token", token.as_str()), ("name", name), ("password", password)])
            .send()
    };
    let submit = |name: &'static str| submit_with(name, "first-admin-pass");
    // Weak passwords are refused with the reason, and spend nothing.
    for (weak, reason) in [
        ("            ", "at least 12 characters"),
        ("Qwerty123456", "most common passwords"),
        ("Password2026!", "most common passwords"),
        ("abcdabcdabcd", "a short pattern repeated"),
        ("first.admin!!", "the user name"),
    ] {
        let refused = submit_with("first.admin", weak).await.unwrap();
        assert_eq!(refused.status(), 422, "{weak:?}");
        let page = refused.text().await.unwrap();
        assert!(page.contains(reason), "{weak:?}: {page}");
    }
    assert_eq!(app.db.run(|c| users::count(c).map_err(DbError::from)).await.unwrap(), 0);
    let created = submit("first").await.unwrap();
    assert_eq!(created.status(), 303);
    assert_eq!(submit("second").await.unwrap().status(), 404, "the link works once");
    let all = app.db.run(|c| users::list(c).map_err(DbError::from)).await.unwrap();
    assert_eq!(all.iter().map(|u| (u.name.as_str(), u.role.as_str())).collect::<Vec<_>>(), vec![("first", "admin")]);
    assert_eq!(client.get(app.url(&format!("/setup?token={token}"))).send().await.unwrap().status(), 404);
}

async fn an_expired_session_signs_out(app: TestApp) {
    let token = app
        .db
        .run(|c| {
            let user =
                users::insert(c, "eve", Role::Admin, "not-a-real-hash").map_err(|e| DbError::Other(e.to_string()))?;
            let life =
                sessions::Lifetime { absolute: chrono::Duration::hours(12), idle: chrono::Duration::minutes(30) };
            // Started (and last seen) an hour ago: idle for longer than 30 minutes.
            Ok::<_, DbError>(sessions::start(c, &user, life, chrono::Utc::now() - chrono::Duration::hours(1), None)?)
        })
        .await
        .unwrap();
    let res = no_redirects()
        .get(app.url("/settings"))
        .header("cookie", format!("costguard_session={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers().get("location").unwrap(), "/login?next=/settings");
}

async fn lists_page(app: TestApp) {
    app.db
        .run(|c| {
            for i in 0..12 {
                users::insert(c, &format!("user{i:02}"), Role::Viewer, "not-a-real-hash")
                    .map_err(|e| DbError::Other(e.to_string()))?;
            }
            Ok::<_, DbError>(())
        })
        .await
        .unwrap();
    let (token, _) = session(&app, Role::Admin).await;
    let get = |page: u32| {
        app.client
            .get(app.url(&format!("/settings/users?page={page}")))
            .header("cookie", format!("costguard_session={token}"))
            .send()
    };
    let first = get(1).await.unwrap().text().await.unwrap();
    let second = get(2).await.unwrap().text().await.unwrap();
    assert!(first.contains("user00") && first.contains("/settings/users?page=2"), "page 1 links to page 2");
    assert!(!second.contains("user00") && second.contains("/settings/users?page=1"));
}

/// Re-seeding wipes the simulated clouds' data and starts them again from a new epoch.
async fn reseed_restarts_the_demo(backend: crate::helpers::Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        let sim = &mut s.providers.simulated;
        sim.enabled = true;
        sim.history_days = 3;
        sim.live_incident_delay_secs = -1;
        sim.schedule = String::new();
    })
    .await;
    let epoch = |app: &TestApp| {
        let db = app.db.clone();
        async move {
            let cursors = db.run(|c| costguard::ingest::runner::cursors(c).map_err(DbError::from)).await.unwrap();
            cursors
                .into_iter()
                .find(|c| c.source == "simulated")
                .and_then(|c| serde_json::from_str::<serde_json::Value>(&c.cursor).ok())
                .map(|v| v["epoch"].to_string())
        }
    };
    let before =
        crate::helpers::until("the backfill", std::time::Duration::from_secs(60), async || epoch(&app).await).await;
    assert!(app.count_costs().await > 0);
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let (token, csrf) = session(&app, Role::Admin).await;
    let res = no_redirects()
        .post(app.url("/settings/demo/reseed"))
        .header("cookie", format!("costguard_session={token}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={csrf}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let after = crate::helpers::until("a new epoch", std::time::Duration::from_secs(60), async || {
        epoch(&app).await.filter(|e| *e != before)
    })
    .await;
    assert_ne!(after, before);
    assert!(app.count_costs().await > 0, "backfilled again");
    let audit = app.get_json("/api/v1/audit?limit=1000").await;
    assert!(audit["entries"].as_array().unwrap().iter().any(|e| e["action"] == "demo.reseed"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reseed_restarts_the_demo_sqlite() {
    reseed_restarts_the_demo(crate::helpers::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reseed_restarts_the_demo_postgres() {
    if crate::helpers::postgres_admin_url().is_some() {
        reseed_restarts_the_demo(crate::helpers::Backend::Postgres).await;
    }
}

crate::both_backends!(
    an_expired_session_signs_out,
    lists_page,
    every_route_for_every_caller,
    a_post_without_the_csrf_token_changes_nothing,
    log_in_sets_a_hardened_cookie_and_is_rate_limited,
    the_setup_link_creates_the_first_admin_once,
);

fn served_over_https(settings: &mut costguard::config::Settings) {
    settings.dashboard.public_url = "https://costguard.example.com".into();
}

/// Behind TLS (an https public_url), every cookie the dashboard sets is Secure.
async fn cookies_are_secure_when_the_dashboard_is_https(app: TestApp) {
    app.db
        .run(|c| users::create(c, "olga", Role::Viewer, "olga-password-1").map_err(|e| DbError::Other(e.to_string())))
        .await
        .unwrap();
    let client = no_redirects();
    let page = client.get(app.url("/login")).send().await.unwrap();
    let csrf_cookie = page.headers().get("set-cookie").unwrap().to_str().unwrap().to_string();
    assert!(csrf_cookie.contains("Secure"), "{csrf_cookie}");
    let ok = log_in(&client, &app, "olga", "olga-password-1").await;
    let cookies: Vec<String> =
        ok.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_string()).collect();
    assert!(!cookies.is_empty() && cookies.iter().all(|c| c.contains("Secure")), "{cookies:?}");
}

crate::both_backends_with!(super::served_over_https => cookies_are_secure_when_the_dashboard_is_https);

fn behind_a_proxy(settings: &mut costguard::config::Settings) {
    settings.dashboard.trust_forwarded_for = true;
}

fn retry_after(res: &reqwest::Response) -> i64 {
    res.headers().get("retry-after").unwrap().to_str().unwrap().parse().unwrap()
}

/// A stranger guessing Olga's password from one address is slowed, more after each failure;
/// Olga, from her own address, signs in at once and is told about the attempts, once.
async fn a_guesser_is_slowed_but_never_locks_the_owner_out(app: TestApp) {
    app.db
        .run(|c| users::create(c, "olga", Role::Viewer, "olga-password-1").map_err(|e| DbError::Other(e.to_string())))
        .await
        .unwrap();
    let client = no_redirects();
    let (stranger, olga) = ("203.0.113.9", "198.51.100.7");
    for _ in 0..5 {
        assert_eq!(log_in_from(&client, &app, "olga", "guess-number-x", stranger).await.status(), 401);
    }
    let held = log_in_from(&client, &app, "olga", "olga-password-1", stranger).await;
    assert_eq!(held.status(), 429, "even the right password waits after five failures from the stranger's address");
    assert!((1..=2).contains(&retry_after(&held)), "the first wait is the base, 2 s");

    let ok = log_in_from(&client, &app, "olga", "olga-password-1", olga).await;
    assert_eq!(ok.status(), 303, "the owner is not locked out");
    let session = ok
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string())
        .find(|c| c.starts_with("costguard_session="))
        .unwrap();
    let actions = app.url("/actions");
    let page = || async { client.get(&actions).header("cookie", &session).send().await.unwrap().text().await.unwrap() };
    let first = page().await;
    assert!(
        first.contains("5 failed log-in attempts on your account since your last log-in; the latest from 203.0.113.9"),
        "the owner is told: {first}"
    );
    assert!(!page().await.contains("failed log-in attempts"), "once");

    // The owner's success does not clear the stranger's record: it still waits, and the wait
    // doubles with the next failure.
    assert_eq!(log_in_from(&client, &app, "olga", "guess-number-y", stranger).await.status(), 429);
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
    assert_eq!(log_in_from(&client, &app, "olga", "guess-number-z", stranger).await.status(), 401);
    let longer = log_in_from(&client, &app, "olga", "olga-password-1", stranger).await;
    assert_eq!(longer.status(), 429);
    assert!((3..=4).contains(&retry_after(&longer)), "the second wait is twice the first: {}", retry_after(&longer));
}

crate::both_backends_with!(super::behind_a_proxy => a_guesser_is_slowed_but_never_locks_the_owner_out);

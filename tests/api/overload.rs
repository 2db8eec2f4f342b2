//! Load cannot take the API down: when every pooled connection is taken, a request answers
//! 503 with `Retry-After` within the configured wait (never a 500 after the pool's 30 s),
//! `/healthz` keeps answering, and once connections are free the same request succeeds. On
//! the shipped `[database]` settings (pool size and request wait read from config.toml).

use crate::both_backends_with;
use crate::helpers::TestApp;
use costguard::config::Settings;
use std::time::{Duration, Instant};

fn shipped() -> Settings {
    Settings::load(Some(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config.toml")))
        .expect("the shipped config.toml loads")
}

fn shipped_database(settings: &mut Settings) {
    let shipped = shipped();
    settings.database.pool_size = shipped.pool_size();
    settings.database.request_wait_ms = shipped.database.request_wait_ms;
}

/// Takes every connection of the app's pool until the returned sender is dropped.
async fn hold_every_connection(app: &TestApp, size: u32) -> std::sync::mpsc::Sender<()> {
    let (release, released) = std::sync::mpsc::channel::<()>();
    let (taken, all_taken) = tokio::sync::oneshot::channel();
    let db = app.db.clone();
    tokio::task::spawn_blocking(move || {
        let held: Vec<_> = (0..size).map(|_| db.get_blocking().expect("a connection")).collect();
        let _ = taken.send(());
        let _ = released.recv();
        drop(held);
    });
    all_taken.await.expect("every connection taken");
    release
}

async fn a_saturated_pool_answers_busy_with_retry_after(app: TestApp) {
    let shipped = shipped();
    let wait = Duration::from_millis(shipped.database.request_wait_ms);
    let path = "/api/v1/costs?group_by=provider&granularity=day";
    assert_eq!(app.get(path).await.status(), 200, "answers while the pool is free");

    let release = hold_every_connection(&app, shipped.pool_size()).await;
    let started = Instant::now();
    let busy = app.get(path).await;
    let took = started.elapsed();
    assert_eq!(busy.status(), 503, "a saturated pool is 'busy', not a failure");
    assert_eq!(busy.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
    let body: serde_json::Value = busy.json().await.unwrap();
    assert_eq!(body["error"], "busy", "{body}");
    assert!(body["detail"].as_str().is_some_and(|d| d.contains("nothing was done")), "{body}");
    // Well before the pool's own 30 s, with room for a machine busy with other tests.
    assert!(took >= wait && took < wait + Duration::from_secs(5), "answered after {took:?} (wait {wait:?})");

    let started = Instant::now();
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert!(started.elapsed() < Duration::from_secs(2), "health answers at once: {:?}", started.elapsed());
    // Readiness reports the pool busy but stays ready: failing it would pull the only
    // replica out of its Service for being loaded.
    let asked = Instant::now();
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    assert!(asked.elapsed() < Duration::from_secs(1), "inside a probe's 1 s timeout: {:?}", asked.elapsed());
    assert_eq!(ready.json::<serde_json::Value>().await.unwrap()["database"], "busy");
    let page = app.client.get(app.url("/login")).send().await.unwrap();
    assert!(page.status() == 200 || page.status() == 503, "the log-in page never fails: {}", page.status());

    drop(release);
    let again = crate::helpers::until("the pool to be free again", Duration::from_secs(30), async || {
        let r = app.get(path).await;
        (r.status() == 200).then_some(())
    });
    again.await;
}

both_backends_with!(super::shipped_database => a_saturated_pool_answers_busy_with_retry_after);

/// The database stops an expensive read past its limit (PostgreSQL's statement timeout,
/// SQLite's progress handler), and the connection serves again.
async fn a_bounded_read_past_its_limit_is_cancelled(app: crate::helpers::Bare) {
    use costguard::db::Backend;
    use diesel::RunQueryDsl;
    // A read far past the limit, and one just past it.
    let count_to = |n: u64| {
        format!("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {n}) SELECT count(*) FROM c")
    };
    let (slow_sql, longer_than_limit) = match app.db.backend() {
        Backend::Postgres => ("SELECT pg_sleep(10)".to_string(), "SELECT pg_sleep(0.5)".to_string()),
        // Counting to 10^9 one row at a time is minutes of work for SQLite.
        Backend::Sqlite => (count_to(1_000_000_000), count_to(3_000_000)),
    };
    let limit = Duration::from_millis(200);
    let started = Instant::now();
    let slow = app.db.read_within(limit, move |c| diesel::sql_query(slow_sql).execute(c)).await;
    assert!(matches!(slow, Err(costguard::db::DbError::TimedOut(l)) if l == limit), "{slow:?}");
    assert!(started.elapsed() < Duration::from_secs(3), "cancelled at once: {:?}", started.elapsed());
    for _ in 0..8 {
        app.db.read_within(limit, |c| diesel::sql_query("SELECT 1").execute(c)).await.unwrap();
    }
    // The deadline belongs to that read alone: other work on the same connections runs on.
    let unbounded = Instant::now();
    let longer =
        app.db.run(move |c| diesel::sql_query(longer_than_limit).execute(c).map_err(costguard::db::DbError::from));
    longer.await.unwrap();
    assert!(unbounded.elapsed() > limit, "the unbounded read outlasts the limit: {:?}", unbounded.elapsed());
}

crate::on_both_bare!(a_bounded_read_past_its_limit_is_cancelled);

//! `TestApp`: the real application on 127.0.0.1:0 with a fresh database, plus helpers.

use costguard::app::Application;
use costguard::auth::api_keys;
use costguard::config::Settings;
use costguard::db::Db;
use costguard::domain::role::Role;
use diesel::{Connection, RunQueryDsl};
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub address: String,
    pub db: Db,
    /// The app's clock: on the wall clock until a test pins it (`clock.set`), after which
    /// the app's own workers and the test's direct calls share one "now".
    pub clock: costguard::clock::Clock,
    pub client: reqwest::Client,
    pub admin_key: String,
    pub database_url: String,
    pub backend: Backend,
    _dir: tempfile::TempDir,
}

/// Runs the test body once per backend: `both_backends!(name)` makes `name::sqlite` and
/// `name::postgres` from `async fn name(app: TestApp)`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::helpers::TestApp::spawn($crate::helpers::Backend::Sqlite).await).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if $crate::helpers::postgres_admin_url().is_some() {
                    super::$name($crate::helpers::TestApp::spawn($crate::helpers::Backend::Postgres).await).await
                }
            }
        }
    )*};
}

/// `both_backends_with!(adjust => name)`: as `both_backends!`, the settings changed by
/// `fn adjust(&mut Settings)` first (a path as seen from inside the generated module:
/// `super::adjust`).
#[macro_export]
macro_rules! both_backends_with {
    ($adjust:path => $($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = $crate::helpers::TestApp::spawn_with($crate::helpers::Backend::Sqlite, $adjust).await;
                super::$name(app).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if $crate::helpers::postgres_admin_url().is_some() {
                    let app = $crate::helpers::TestApp::spawn_with($crate::helpers::Backend::Postgres, $adjust).await;
                    super::$name(app).await
                }
            }
        }
    )*};
}

/// Set by .ci/run: a test that would skip fails instead.
fn all_tests_required() -> bool {
    std::env::var("CG_REQUIRE_ALL_TESTS").is_ok_and(|v| v == "1")
}

/// The admin URL of a PostgreSQL server for tests. In CI its absence is a failure, not a skip.
pub fn postgres_admin_url() -> Option<String> {
    match std::env::var("TEST_DATABASE_URL").ok().filter(|u| !u.is_empty()) {
        Some(url) => Some(url),
        None if all_tests_required() => {
            panic!("CG_REQUIRE_ALL_TESTS=1 but TEST_DATABASE_URL is not set: the PostgreSQL tests must run")
        }
        None => {
            eprintln!("TEST_DATABASE_URL not set: skipping the PostgreSQL variant");
            None
        }
    }
}

/// A fresh database URL for the backend: a temp SQLite file, or a new PostgreSQL database.
pub fn fresh_database(backend: Backend, dir: &std::path::Path) -> String {
    match backend {
        Backend::Sqlite => format!("sqlite://{}", dir.join("costguard.db").display()),
        Backend::Postgres => {
            let admin = postgres_admin_url().expect("TEST_DATABASE_URL");
            let name = format!("cg_test_{}", uuid::Uuid::new_v4().simple());
            let mut conn = diesel::PgConnection::establish(&admin).expect("connect to TEST_DATABASE_URL");
            diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut conn).expect("create test database");
            let base = admin.rsplit_once('/').map(|(b, _)| b.to_string()).expect("URL with a database name");
            format!("{base}/{name}")
        }
    }
}

pub fn test_settings(database_url: &str, dir: &std::path::Path) -> Settings {
    let mut settings = Settings::default();
    settings.server.bind = "127.0.0.1:0".into();
    settings.database.url = database_url.to_string();
    settings.database.pool_size = 4;
    settings.data.dir = dir.to_path_buf();
    settings.log.level = "warn".into();
    // The smallest page, so paging shows with little data.
    settings.dashboard.page_size = 10;
    settings
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, |_| {}).await
    }

    pub async fn spawn_with(backend: Backend, adjust: impl FnOnce(&mut Settings)) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let database_url = fresh_database(backend, dir.path());
        let mut settings = test_settings(&database_url, dir.path());
        adjust(&mut settings);
        costguard::telemetry::init_logging(&settings.log.level, "text");
        let clock = costguard::clock::Clock::system();
        let app = Application::build_with_clock(settings, clock.clone()).await.expect("app builds");
        let address = format!("http://127.0.0.1:{}", app.port());
        let db = app.db().clone();
        tokio::spawn(app.run_until_stopped());
        let admin_key = create_key(&db, "test-admin", Role::Admin).await;
        TestApp { address, db, clock, client: reqwest::Client::new(), admin_key, database_url, backend, _dir: dir }
    }

    /// One detection run over everything as of `now`, after pinning the app's clock there,
    /// so the app's own detective (woken by the writes) measures the same world.
    pub async fn detect_at(&self, now: chrono::DateTime<chrono::Utc>) -> costguard::detect::RunSummary {
        self.clock.set(now);
        let (bus, _r) = costguard::bus::channels(10_000);
        costguard::detect::Detective::new(self.db.clone(), costguard::detect::DetectSettings::default(), bus)
            .run(costguard::detect::series::Scope::default(), now)
            .await
            .expect("detection run")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn key(&self, name: &str, role: Role) -> String {
        create_key(&self.db, name, role).await
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).bearer_auth(&self.admin_key).send().await.expect("request")
    }

    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        let response = self.get(path).await;
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.expect("json")
    }

    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> reqwest::Response {
        self.client.post(self.url(path)).bearer_auth(&self.admin_key).json(body).send().await.expect("request")
    }

    /// The binary as a CLI on this app's database and data directory (so on its secrets key,
    /// which authenticates the audit log).
    pub fn cli(&self) -> std::process::Command {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_costguard"));
        c.env("COSTGUARD_DATABASE__URL", &self.database_url)
            .env("COSTGUARD_DATA__DIR", self._dir.path())
            .env("COSTGUARD_LOG__LEVEL", "warn");
        c
    }

    pub fn data_dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    pub async fn post_csv(&self, body: Vec<u8>) -> reqwest::Response {
        self.post_raw("/api/v1/costs/import", &self.admin_key, "text/csv", body).await
    }

    /// POSTs a body as given, with any key and content type (for malformed-input tests).
    pub async fn post_raw(
        &self,
        path: &str,
        key: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        let request = self.client.post(self.url(path)).bearer_auth(key).header("content-type", content_type);
        request.body(body).send().await.expect("request")
    }

    pub async fn count_costs(&self) -> i64 {
        self.db
            .run(|c| costguard::ledger::query::count_costs(c).map_err(costguard::db::DbError::from))
            .await
            .expect("count")
    }
}

pub async fn create_key(db: &Db, name: &str, role: Role) -> String {
    let name = name.to_string();
    db.run(move |c| api_keys::create(c, &name, role)).await.expect("create key").1
}

/// A file of the shared data folder beside the checkout (../shared/data). Absent outside
/// this workplace: the test says so and skips, except in CI, where that is a failure.
pub fn shared_data(relative: &str) -> Option<PathBuf> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data").join(relative);
    if path.exists() {
        return Some(path);
    }
    assert!(!all_tests_required(), "{} is missing and CG_REQUIRE_ALL_TESTS=1", path.display());
    eprintln!("{} is absent: skipping", path.display());
    None
}

/// Polls `check` every 200 ms until it yields a value; fails naming `what` after `timeout`.
pub async fn until<T>(what: &str, timeout: std::time::Duration, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// A real `costguard` process on a free port, with the simulated clouds at an hour per second
/// and a live BigQuery loop two seconds after its first start.
pub struct Node {
    pub url: String,
    pub database_url: String,
    pub port: u16,
}

impl Node {
    pub fn new(database_url: String) -> Node {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        Node { url: format!("http://127.0.0.1:{port}"), database_url, port }
    }

    /// The binary with this node's settings plus `env` (later entries win), in an accelerated
    /// world: 10 days of history, an hour per second, the live loop after 2 s.
    pub fn command(&self, env: &[(&str, &str)]) -> std::process::Command {
        let mut c = self.shipped_command(&[]);
        c.env("COSTGUARD_PROVIDERS__SIMULATED__HISTORY_DAYS", "10")
            .env("COSTGUARD_PROVIDERS__SIMULATED__SPEED", "3600")
            .env("COSTGUARD_PROVIDERS__SIMULATED__SCHEDULE", "* * * * * *")
            .env("COSTGUARD_PROVIDERS__SIMULATED__LIVE_INCIDENT_DELAY_SECS", "2");
        for (k, v) in env {
            c.env(k, v);
        }
        c
    }

    /// The binary exactly as shipped (config.toml) but for this node's database, address and
    /// log level, plus `env`.
    pub fn shipped_command(&self, env: &[(&str, &str)]) -> std::process::Command {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_costguard"));
        c.arg("--config")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/config.toml"))
            .env("COSTGUARD_DATABASE__URL", &self.database_url)
            .env("COSTGUARD_SERVER__BIND", format!("127.0.0.1:{}", self.port))
            .env("COSTGUARD_LOG__LEVEL", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        if self.database_url.starts_with("sqlite://") {
            // The credential key file goes beside the database.
            let dir = std::path::Path::new(self.database_url.trim_start_matches("sqlite://"))
                .parent()
                .map(|p| p.to_path_buf());
            if let Some(dir) = dir {
                c.env("COSTGUARD_DATA__DIR", dir);
            }
        } else {
            // One data directory per database, shared by its replicas and the CLI: the same
            // secrets key (which authenticates the audit log) and the same published heads,
            // and none shared with another test's database.
            let name = self.database_url.rsplit('/').next().unwrap_or("postgres");
            let dir = std::env::temp_dir().join("costguard-test-nodes").join(name);
            std::fs::create_dir_all(&dir).unwrap();
            c.env("COSTGUARD_DATA__DIR", dir);
        }
        for (k, v) in env {
            c.env(k, v);
        }
        c
    }

    /// An admin API key made through the CLI (printed once, on the last line).
    pub fn create_admin_key(&self) -> String {
        let created = self
            .command(&[])
            .args(["apikey", "create", "--name", "admin", "--role", "admin"])
            .stdout(std::process::Stdio::piped())
            .output()
            .unwrap();
        assert!(created.status.success(), "apikey create: {}", String::from_utf8_lossy(&created.stderr));
        String::from_utf8(created.stdout).unwrap().lines().last().unwrap().trim().to_string()
    }

    pub fn serve(&self, env: &[(&str, &str)]) -> Served {
        Served(self.command(env).arg("serve").spawn().unwrap())
    }

    /// `costguard serve` on the shipped configuration, plus `env`.
    pub fn serve_shipped(&self, env: &[(&str, &str)]) -> Served {
        Served(self.shipped_command(env).arg("serve").spawn().unwrap())
    }

    /// Creates a dashboard user through the CLI, the password on standard input.
    pub fn create_user(&self, name: &str, role: &str, password: &str) {
        use std::io::Write;
        let mut child = self
            .command(&[])
            .args(["user", "create", "--name", name, "--role", role])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(format!("{password}\n").as_bytes()).unwrap();
        assert!(child.wait().unwrap().success(), "user create {name}");
    }
}

/// True when `program` runs; in CI its absence is a failure.
pub fn tool_present(what: &str, present: bool) -> bool {
    if !present {
        assert!(!all_tests_required(), "{what} is missing and CG_REQUIRE_ALL_TESTS=1");
        eprintln!("{what} is absent: skipping");
    }
    present
}

/// A tool installed by .ci/tools.sh, at the path in the environment variable `env`.
pub fn tool(env: &str) -> Option<String> {
    let path = std::env::var(env).ok().filter(|p| std::path::Path::new(p).exists());
    tool_present(&format!("{env} (run: eval \"$(.ci/tools.sh)\")"), path.is_some()).then(|| path.unwrap())
}

/// A migrated database with no application around it, for tests that drive a worker (the
/// executor runner, one ingestion run) themselves, so no background worker races them.
pub struct Bare {
    pub db: Db,
    _dir: tempfile::TempDir,
}

impl Bare {
    pub async fn new(backend: Backend) -> Bare {
        let dir = tempfile::tempdir().unwrap();
        let settings = test_settings(&fresh_database(backend, dir.path()), dir.path());
        Bare { db: costguard::app::open_database(&settings).await.unwrap(), _dir: dir }
    }

    /// The (migrated) database at `url`, which another process may share.
    pub async fn at(url: &str, dir: &std::path::Path) -> Bare {
        let settings = test_settings(url, dir);
        Bare { db: costguard::app::open_database(&settings).await.unwrap(), _dir: tempfile::tempdir().unwrap() }
    }

    /// A credential store with a fresh key, holding `fields` for `provider`.
    pub async fn vault(&self, provider: &'static str, fields: &[(&'static str, &str)]) -> costguard::clouds::Vault {
        use base64::Engine;
        let key = base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>());
        let cipher = costguard::credentials::Cipher::from_base64(&key).unwrap();
        self.store_credentials(&cipher, provider, fields).await;
        costguard::clouds::Vault::new(self.db.clone(), cipher)
    }

    pub async fn store_credentials(
        &self,
        cipher: &costguard::credentials::Cipher,
        provider: &'static str,
        fields: &[(&'static str, &str)],
    ) {
        store_credentials(&self.db, cipher, provider, fields).await
    }

    /// (rows, sum of BilledCost in nano-units) of one provider's ledger rows.
    pub async fn ledger(&self, provider: &str) -> (i64, i128) {
        use costguard::db::schema::cost_records as cr;
        use diesel::prelude::*;
        let provider = provider.to_string();
        let costs: Vec<i64> = self
            .db
            .run(move |c| {
                cr::table
                    .filter(cr::provider_name.eq(provider))
                    .select(cr::billed_cost)
                    .load(c)
                    .map_err(costguard::db::DbError::from)
            })
            .await
            .unwrap();
        (costs.len() as i64, costs.iter().map(|&c| i128::from(c)).sum())
    }

    pub fn ingestor(&self) -> costguard::ingest::Ingestor {
        costguard::ingest::Ingestor::new(self.db.clone(), costguard::bus::channels(64).0)
    }
}

/// `with_backend!(name)` runs `async fn name(backend: Backend)` on SQLite and on
/// PostgreSQL, for tests that build (and restart) the app themselves.
#[macro_export]
macro_rules! with_backend {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::helpers::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if $crate::helpers::postgres_admin_url().is_some() {
                    super::$name($crate::helpers::Backend::Postgres).await
                }
            }
        }
    )*};
}

/// `on_both_bare!(name)` runs `async fn name(app: Bare)` on SQLite and on PostgreSQL.
#[macro_export]
macro_rules! on_both_bare {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::helpers::Bare::new($crate::helpers::Backend::Sqlite).await).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if $crate::helpers::postgres_admin_url().is_some() {
                    super::$name($crate::helpers::Bare::new($crate::helpers::Backend::Postgres).await).await
                }
            }
        }
    )*};
}

/// Encrypts and stores `fields` for `provider`, as the dashboard would.
pub async fn store_credentials(
    db: &Db,
    cipher: &costguard::credentials::Cipher,
    provider: &'static str,
    fields: &[(&'static str, &str)],
) {
    for &(field, value) in fields {
        let (c, value) = (cipher.clone(), value.to_string());
        db.run(move |conn| {
            costguard::credentials::set(conn, &c, provider, field, &value, "test", chrono::Utc::now())
                .map_err(|e| costguard::db::DbError::Other(e.to_string()))
        })
        .await
        .unwrap();
    }
}

/// A `costguard serve` process that is killed when it goes out of scope, also when the test
/// panics: a server left running holds the test binary's output open, and the run that
/// failed would never end.
pub struct Served(pub std::process::Child);

impl std::ops::Deref for Served {
    type Target = std::process::Child;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for Served {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Every outbox message about one anomaly or action, oldest first.
pub async fn outbox(db: &Db, subject: &str) -> Vec<costguard::notify::store::Notification> {
    let subject = subject.to_string();
    db.run(move |c| costguard::notify::store::for_subject(c, &subject).map_err(costguard::db::DbError::from))
        .await
        .unwrap()
}

/// Records an anomaly by hand straight in the database (as `POST /api/v1/anomalies` does),
/// for tests that run the app themselves; returns its id.
pub async fn manual_anomaly(
    db: &Db,
    severity: costguard::domain::detect::decision::Severity,
    provider: &str,
    service: Option<&str>,
) -> String {
    let manual = costguard::detect::store::Manual {
        severity,
        description: "spend jumped".into(),
        provider: Some(provider.into()),
        sub_account: None,
        service: service.map(str::to_string),
        started_at: chrono::Utc::now(),
    };
    let anomaly = db
        .run(move |c| {
            costguard::detect::store::insert_manual(c, &manual, "tester", chrono::Utc::now())
                .map_err(costguard::db::DbError::from)
        })
        .await
        .unwrap();
    anomaly.id.to_string()
}

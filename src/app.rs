//! The composition root: the only module that knows every other. It opens the database
//! (running migrations), builds the bus, starts the background workers and the scheduler,
//! and serves HTTP. `Application::build` binds (port 0 works for tests), `port()` tells
//! where, `run_until_stopped()` serves until a signal, then stops the workers.

use crate::approval;
use crate::bus;
use crate::config::Settings;
use crate::dashboard;
use crate::db::Db;
use crate::detect;
use crate::execute::{self, Runner};
use crate::ingest::{schedule::Sources, Ingestor};
use crate::notify;
use crate::optimize;
use crate::providers;
use crate::state::AppState;
use crate::web::{self, error};
use crate::worker::Context;
use actix_web::dev::{Server, Service};
use actix_web::{App, HttpServer};
use std::net::TcpListener;
use std::time::Duration;
use tokio_cron_scheduler::JobScheduler;
use tokio_util::sync::CancellationToken;

pub struct Application {
    port: u16,
    server: Server,
    db: Db,
    scheduler: JobScheduler,
    workers: Vec<tokio::task::JoinHandle<()>>,
    cancel: CancellationToken,
    /// SQLite: the lock that keeps a second server off this data file, held until stopped.
    _sqlite_guard: Option<crate::db::single_server::SqliteGuard>,
    /// PostgreSQL: the leadership campaign, stopped (and the lease released) only after the
    /// workers have finished, so no other replica starts while this one still works.
    campaign: Option<(tokio::task::JoinHandle<()>, CancellationToken)>,
}

/// Opens the database named by the settings, running pending migrations first.
pub async fn open_database(settings: &Settings) -> anyhow::Result<Db> {
    let url = settings.database_url()?;
    tracing::info!(database = %url.redacted(), "opening database");
    let (pool_size, busy) = (settings.pool_size(), Duration::from_millis(settings.database.busy_timeout_ms));
    let audit_key = settings.cipher()?.audit_key();
    let db = tokio::task::spawn_blocking(move || Db::open(&url, pool_size, busy)).await??.with_audit_key(audit_key);
    crate::audit::rekey_if_unkeyed(&db).await?;
    Ok(db)
}

/// SQLite: the lock that keeps a second server off this data file.
fn lock_sqlite_file(settings: &Settings) -> anyhow::Result<Option<crate::db::single_server::SqliteGuard>> {
    let url = settings.database_url()?;
    Ok(match url.backend() {
        crate::db::Backend::Sqlite => {
            Some(crate::db::single_server::SqliteGuard::take(std::path::Path::new(url.sqlite_path()))?)
        }
        crate::db::Backend::Postgres => None,
    })
}

/// The HTTP server: the JSON API and the dashboard over one shared state.
fn serve(listener: TcpListener, settings: &Settings, state: AppState) -> anyhow::Result<Server> {
    let state = actix_web::web::Data::new(state);
    let ui = actix_web::web::Data::new(dashboard::DashboardState {
        settings: settings.dashboard.clone(),
        notify_routes: settings.notify.destinations.iter().map(Into::into).collect(),
    });
    let json_limit = settings.server.max_json_bytes;
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(ui.clone())
            .app_data(actix_web::web::JsonConfig::default().limit(json_limit).error_handler(error::json_error))
            .app_data(actix_web::web::QueryConfig::default().error_handler(error::query_error))
            .wrap_fn(|req, srv| {
                let fut = srv.call(req);
                async move {
                    let mut res = fut.await?;
                    dashboard::security_headers(&mut res);
                    Ok(res)
                }
            })
            .wrap(actix_web::middleware::from_fn(web::refuse_nul))
            .wrap_fn(web::observe)
            .configure(web::configure)
            .configure(dashboard::configure)
            .default_service(actix_web::web::route().to(error::not_found))
    })
    .workers(settings.server.workers)
    .listen(listener)?
    .shutdown_timeout(settings.server.shutdown_timeout_secs)
    .run();
    Ok(server)
}

/// On a fresh install (no users), logs a one-time link that creates the first admin.
async fn announce_setup_link(db: &Db, settings: &Settings, port: u16) -> anyhow::Result<()> {
    let token = db
        .run(|c| crate::auth::setup::issue_if_no_users(c, chrono::Utc::now()).map_err(crate::db::DbError::from))
        .await?;
    if let Some(token) = token {
        let base = settings.public_url(port);
        tracing::warn!(
            "No users yet. Create the first admin at {base}/setup?token={token} (works once), or run `costguard user create --name NAME --role admin`"
        );
    }
    Ok(())
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        Self::build_with_clock(settings, crate::clock::Clock::system()).await
    }

    /// `build` with the clock every decision reads (tests pin it; see `clock`). Each module
    /// starts its own workers and timers from its settings; the providers come from the
    /// registry.
    pub async fn build_with_clock(settings: Settings, clock: crate::clock::Clock) -> anyhow::Result<Application> {
        let sqlite_guard = lock_sqlite_file(&settings)?;
        let db = open_database(&settings).await?;
        let (bus, receivers) = bus::channels(settings.bus.capacity);
        let campaign_cancel = CancellationToken::new();
        let (leader, campaign) = crate::cluster::start(&db, &settings.cluster, campaign_cancel.clone());
        let scheduler = JobScheduler::new().await?;
        let ctx = Context::new(db.clone(), bus.clone(), clock, leader, scheduler.clone());
        let cipher = settings.cipher()?;
        let vault = crate::clouds::Vault::new(db.clone(), cipher.clone());
        let connection = providers::connect(&settings.providers, &db, &vault);
        let (safety, approval) = (settings.safety.clone(), settings.approval.clone());
        let runner = Runner::new(db.clone(), connection.executors, safety, approval).with_clock(ctx.clock.clone());

        detect::spawn(&ctx, &settings.detect, settings.bus.capacity, receivers.costs_ingested).await?;
        crate::budgets::spawn(&ctx, &settings.budgets).await?;
        optimize::spawn(&ctx, &settings.optimizer, &settings.safety, &settings.approval, receivers.anomalies);
        execute::spawn(&ctx, runner.clone(), receivers.actions);
        approval::spawn(&ctx, &settings.approval).await?;
        dashboard::spawn(&ctx, &settings.dashboard).await?;
        let safety = serde_json::to_string(&(&settings.safety, &settings.approval))?;
        crate::audit::note_config_if_changed(&db, "config.safety", safety).await?;
        crate::audit::heads::spawn(&ctx, &settings.audit, &settings.data.dir);
        crate::telemetry::register_known(settings.notify.destinations.iter().map(|d| d.name.as_str()));
        let ingestor = Ingestor::new(db.clone(), bus).led_by(ctx.leader.clone()).with_import_limits(settings.import);
        let sources =
            Sources::start(scheduler.clone(), ingestor.clone(), connection.sources, ctx.leader.clone()).await?;
        scheduler.start().await?;

        let listener = TcpListener::bind(settings.bind_addr())
            .map_err(|e| anyhow::anyhow!("cannot listen on {} (server.bind): {e}", settings.server.bind))?;
        let port = listener.local_addr()?.port();
        announce_setup_link(&db, &settings, port).await?;
        let (templates, public_url) = (settings.notify_templates_dir(), settings.public_url(port));
        let policy_and_cipher = (settings.approval.policy(), cipher.clone());
        notify::spawn(&ctx, &settings.notify, &templates, public_url, policy_and_cipher).await?;
        // Requests wait briefly for a connection and answer 503 when the pool is saturated.
        let request_wait = Duration::from_millis(settings.database.request_wait_ms);
        let request_db = db.waiting_at_most(request_wait);
        let state = AppState {
            db: request_db,
            clock: ctx.clock.clone(),
            ingestor,
            limits: settings.server.clone(),
            metrics: crate::telemetry::metrics_handle(),
            detect: settings.detect.clone(),
            approval: settings.approval.clone(),
            safety: settings.safety.clone(),
            bus: ctx.bus.clone(),
            cipher,
            sources,
            runner,
            demo: settings.providers.simulated.enabled,
            slack: settings.notify.slack.clone(),
            leader: ctx.leader.clone(),
            llm_prices: settings.providers.llm_prices(),
            heavy: crate::state::Gate::for_pool(settings.pool_size(), request_wait),
            query_limit: Duration::from_millis(settings.database.query_timeout_ms),
        };
        let server = serve(listener, &settings, state)?;
        tracing::info!(port, "CostGuard is serving on http://{}:{port}", settings.bind_addr().ip());
        if !settings.bind_addr().ip().is_loopback() && !settings.dashboard.cookies_secure() {
            tracing::warn!(
                "serving beyond this machine without https: session cookies are not marked Secure; serve it behind TLS and set dashboard.public_url to its https:// address"
            );
        }
        Ok(Application {
            port,
            server,
            db,
            scheduler,
            workers: ctx.take_tasks(),
            cancel: ctx.cancel.clone(),
            _sqlite_guard: sqlite_guard,
            campaign: campaign.map(|task| (task, campaign_cancel)),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Stops the server (gracefully when asked); `run_until_stopped` then stops the workers.
    pub fn stop_handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until the server stops (SIGINT/SIGTERM or a handle), then stops the workers.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let result = self.server.await;
        self.cancel.cancel();
        let mut scheduler = self.scheduler;
        scheduler.shutdown().await.ok();
        // Workers finish what they are doing (an action in flight runs to its end).
        for worker in self.workers {
            worker.await.ok();
        }
        if let Some((task, cancel)) = self.campaign {
            cancel.cancel();
            task.await.ok();
        }
        tracing::info!("stopped");
        Ok(result?)
    }
}

//! The composition root: the only module that knows every other. It opens the database
//! (running migrations), builds the bus, starts the background workers and the scheduler,
//! and serves HTTP. `Application::build` binds (port 0 works for tests), `port()` tells
//! where, `run_until_stopped()` serves until a signal, then stops the workers.

use crate::bus;
use crate::config::Settings;
use crate::db::Db;
use crate::detect::{self, Detective};
use crate::ingest::providers::Simulator;
use crate::ingest::{schedule, Ingestor};
use crate::state::AppState;
use crate::web::{self, error};
use actix_web::dev::{Server, Service};
use actix_web::{App, HttpServer};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_cron_scheduler::{Job, JobScheduler};
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
    let (pool_size, busy) = (settings.database.pool_size, Duration::from_millis(settings.database.busy_timeout_ms));
    Ok(tokio::task::spawn_blocking(move || Db::open(&url, pool_size, busy)).await??)
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

/// The sources and executors config.toml turns on: the simulated clouds and the real ones.
pub fn connections(
    settings: &Settings,
    db: &Db,
    vault: &crate::clouds::Vault,
) -> (Vec<schedule::Configured>, Vec<Arc<dyn crate::execute::Executor>>) {
    use crate::ingest::providers::aws::AwsCostExplorer;
    use crate::ingest::providers::azure::AzureCostManagement;
    use crate::ingest::providers::gcp::{BillingExport, JobMetadata};
    use crate::ingest::providers::llm::costs::BilledCosts;
    let mut sources = Vec::new();
    let mut executors: Vec<Arc<dyn crate::execute::Executor>> = Vec::new();
    let aws = &settings.providers.aws;
    if aws.enabled {
        let source = Arc::new(AwsCostExplorer::new(aws.clone(), vault.clone()));
        sources.push(schedule::Configured { source, enabled: true, schedule: aws.schedule.clone() });
        executors.push(Arc::new(crate::execute::ec2::Ec2Executor::new(aws.clone(), vault.clone())));
    }
    let gcp = &settings.providers.gcp;
    if gcp.enabled {
        let export = Arc::new(BillingExport::new(gcp.clone(), vault.clone()));
        sources.push(schedule::Configured { source: export, enabled: true, schedule: gcp.schedule.clone() });
        if !gcp.job_projects.is_empty() {
            let jobs = Arc::new(JobMetadata::new(gcp.clone(), vault.clone()));
            sources.push(schedule::Configured { source: jobs, enabled: true, schedule: gcp.jobs_schedule.clone() });
        }
        executors.push(Arc::new(crate::execute::bigquery::BigQueryExecutor::new(gcp.clone(), vault.clone())));
    }
    let openai = &settings.providers.openai;
    if openai.enabled {
        let source = Arc::new(crate::ingest::providers::llm::openai::OpenAiUsage::new(openai.clone(), vault.clone()));
        sources.push(schedule::Configured { source, enabled: true, schedule: openai.schedule.clone() });
        let billed = Arc::new(BilledCosts::openai(openai.clone(), vault.clone()));
        sources.push(schedule::Configured { source: billed, enabled: true, schedule: openai.costs_schedule.clone() });
        executors.push(Arc::new(crate::execute::llm_keys::LlmKeyExecutor::openai(openai, vault.clone())));
    }
    let anthropic = &settings.providers.anthropic;
    if anthropic.enabled {
        let source =
            Arc::new(crate::ingest::providers::llm::anthropic::AnthropicUsage::new(anthropic.clone(), vault.clone()));
        sources.push(schedule::Configured { source, enabled: true, schedule: anthropic.schedule.clone() });
        let billed = Arc::new(BilledCosts::anthropic(anthropic.clone(), vault.clone()));
        sources.push(schedule::Configured {
            source: billed,
            enabled: true,
            schedule: anthropic.costs_schedule.clone(),
        });
        executors.push(Arc::new(crate::execute::llm_keys::LlmKeyExecutor::anthropic(anthropic, vault.clone())));
    }
    let azure = &settings.providers.azure;
    if azure.enabled {
        let source = Arc::new(AzureCostManagement::new(azure.clone(), vault.clone()));
        sources.push(schedule::Configured { source, enabled: true, schedule: azure.schedule.clone() });
        executors.push(Arc::new(crate::execute::azure_vm::AzureVmExecutor::new(azure.clone(), vault.clone())));
    }
    // Last: the simulated executor claims every kind, so real ones are asked first.
    let sim = &settings.providers.simulated;
    if sim.enabled {
        let simulator = Arc::new(Simulator::new(sim.clone(), db.clone()));
        let latency = Duration::from_millis(sim.api_latency_ms);
        executors
            .push(Arc::new(crate::execute::simulated::SimulatedExecutor::new(simulator.clone()).with_latency(latency)));
        sources.push(schedule::Configured { source: simulator, enabled: true, schedule: sim.schedule.clone() });
    }
    (sources, executors)
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        Self::build_with_clock(settings, crate::clock::Clock::system()).await
    }

    /// `build` with the clock every decision reads (tests pin it; see `clock`).
    pub async fn build_with_clock(settings: Settings, clock: crate::clock::Clock) -> anyhow::Result<Application> {
        let url = settings.database_url()?;
        let sqlite_guard = match url.backend() {
            crate::db::Backend::Sqlite => {
                Some(crate::db::single_server::SqliteGuard::take(std::path::Path::new(url.sqlite_path()))?)
            }
            crate::db::Backend::Postgres => None,
        };
        let db = open_database(&settings).await?;
        let metrics = crate::telemetry::metrics_handle();
        let (bus, receivers) = bus::channels(settings.bus.capacity);
        let cancel = CancellationToken::new();
        let campaign_cancel = CancellationToken::new();
        let (leader, campaign) = crate::cluster::start(&db, &settings.cluster, campaign_cancel.clone());
        let ingestor = Ingestor::new(db.clone(), bus.clone()).led_by(leader.clone());
        let scheduler = JobScheduler::new().await?;
        let optimizer = crate::optimize::Optimizer::new(
            db.clone(),
            settings.optimizer.rules.clone(),
            settings.safety.clone(),
            settings.approval.clone(),
        )
        .with_clock(clock.clone());
        let mut workers: Vec<tokio::task::JoinHandle<()>> = Vec::new();
        workers.push(tokio::spawn(crate::optimize::work(
            optimizer,
            receivers.anomalies,
            leader.clone(),
            cancel.clone(),
        )));
        if settings.detect.enabled {
            let detective = Detective::new(db.clone(), settings.detect.clone(), bus.clone()).with_clock(clock.clone());
            let (wake_tx, wake_rx) = mpsc::channel(settings.bus.capacity);
            workers.push(tokio::spawn(detect::work(detective, wake_rx, leader.clone(), cancel.clone())));
            workers.push(tokio::spawn(detect::forward_ingests(
                receivers.costs_ingested,
                wake_tx.clone(),
                cancel.clone(),
            )));
            let job = Job::new_async(settings.detect.sweep_schedule.as_str(), move |_, _| {
                let wake = wake_tx.clone();
                Box::pin(async move {
                    let _ = wake.try_send(detect::Wake::Sweep);
                })
            })?;
            scheduler.add(job).await?;
        }

        let cipher = settings.cipher()?;
        let vault = crate::clouds::Vault::new(db.clone(), cipher.clone());
        let (sources, executors) = connections(&settings, &db, &vault);
        let sim = &settings.providers.simulated;
        let runner =
            crate::execute::Runner::new(db.clone(), executors, settings.safety.clone(), settings.approval.clone())
                .with_clock(clock.clone());
        workers.push(tokio::spawn(crate::execute::work(
            runner.clone(),
            receivers.actions,
            leader.clone(),
            cancel.clone(),
        )));
        let sources = schedule::Sources::start(scheduler.clone(), ingestor.clone(), sources, leader.clone()).await?;
        // The approval timer: proposals and approvals whose TTL lapsed become expired.
        let (expiry_db, expiry_settings, expiry_leader, expiry_clock) =
            (db.clone(), settings.approval.clone(), leader.clone(), clock.clone());
        scheduler
            .add(Job::new_async("30 * * * * *", move |_, _| {
                let (db, settings, leader, now) =
                    (expiry_db.clone(), expiry_settings.clone(), expiry_leader.clone(), expiry_clock.now());
                Box::pin(async move {
                    if !leader.is_leader() {
                        return;
                    }
                    match crate::approval::expire_due(&db, &settings, now).await {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(expired = n, "approval timer"),
                        Err(e) => tracing::warn!(error = %e, "approval timer failed"),
                    }
                })
            })?)
            .await?;
        let purge_db = db.clone();
        scheduler
            .add(Job::new_async("0 17 * * * *", move |_, _| {
                let db = purge_db.clone();
                Box::pin(async move {
                    let purged = db
                        .run(|c| {
                            crate::auth::sessions::purge_expired(c, chrono::Utc::now())
                                .map_err(crate::db::DbError::from)
                        })
                        .await;
                    if let Err(e) = purged {
                        tracing::warn!(error = %e, "could not purge expired sessions");
                    }
                })
            })?)
            .await?;
        scheduler.start().await?;

        let listener = TcpListener::bind(settings.bind_addr())
            .map_err(|e| anyhow::anyhow!("cannot listen on {} (server.bind): {e}", settings.server.bind))?;
        let port = listener.local_addr()?.port();
        announce_setup_link(&db, &settings, port).await?;
        if settings.notify.enabled {
            let notifier = crate::notify::Notifier::new(
                db.clone(),
                &settings.notify,
                &settings.notify_templates_dir(),
                settings.public_url(port),
                settings.approval.policy(),
            )
            .map_err(|e| anyhow::anyhow!("configuration key notify: {e}"))?;
            notifier.start_cursors().await?;
            workers.push(tokio::spawn(crate::notify::work(
                notifier,
                bus.notifier_wake(),
                leader.clone(),
                cancel.clone(),
            )));
        }
        let state = actix_web::web::Data::new(AppState {
            db: db.clone(),
            clock,
            ingestor,
            limits: settings.server.clone(),
            metrics,
            detect: settings.detect.clone(),
            approval: settings.approval.clone(),
            safety: settings.safety.clone(),
            bus: bus.clone(),
            cipher,
            sources,
            runner,
            demo: sim.enabled,
            slack: settings.notify.slack.clone(),
            leader: leader.clone(),
            llm_prices: [
                ("openai".to_string(), settings.providers.openai.prices.clone()),
                ("anthropic".to_string(), settings.providers.anthropic.prices.clone()),
            ]
            .into(),
        });
        let ui = actix_web::web::Data::new(crate::dashboard::DashboardState {
            settings: settings.dashboard.clone(),
            notify_routes: settings
                .notify
                .destinations
                .iter()
                .map(|d| (d.name.clone(), d.kind, d.route.clone()))
                .collect(),
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
                        crate::dashboard::security_headers(&mut res);
                        Ok(res)
                    }
                })
                .wrap_fn(web::observe)
                .configure(web::configure)
                .configure(crate::dashboard::configure)
                .default_service(actix_web::web::route().to(error::not_found))
        })
        .listen(listener)?
        .shutdown_timeout(settings.server.shutdown_timeout_secs)
        .run();
        tracing::info!(port, "CostGuard is serving on http://{}:{port}", settings.bind_addr().ip());
        Ok(Application {
            port,
            server,
            db,
            scheduler,
            workers,
            cancel,
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

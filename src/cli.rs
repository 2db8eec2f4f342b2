//! The command line: `serve` (default), `migrate`, `import focus`, `apikey`, `user`, `ingest`,
//! `audit`, `backup`, `restore`, `eval`, `version`.

use crate::app::{open_database, Application};
use crate::auth::api_keys;
use crate::config::Settings;
use crate::domain::role::Role;
use crate::ingest::Ingestor;
use clap::{Parser, Subcommand};
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(name = "costguard", version, about = "Catch runaway cloud and LLM spend and stop it safely.")]
pub struct Cli {
    /// Configuration file (default: ./config.toml when present).
    #[arg(long, env = "COSTGUARD_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API and dashboard and run ingestion on schedule (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Import cost data.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Manage API keys.
    #[command(subcommand)]
    Apikey(ApiKeyCommand),
    /// Manage dashboard users.
    #[command(subcommand)]
    User(UserCommand),
    /// Run one ingestion pass of every enabled provider (or one) and exit; non-zero when any
    /// fails. `serve` runs the same passes on their schedules.
    Ingest {
        /// One pass, then exit (the only mode; scheduling is `serve`'s job).
        #[arg(long, required = true)]
        once: bool,
        /// Only this provider's sources (a provider of the registry: simulated, aws, gcp, ...),
        /// or one source by its name (gcp-jobs, openai-costs).
        #[arg(long, value_parser = provider_or_source)]
        provider: Option<String>,
    },
    /// Write a consistent backup of the database to FILE while the server keeps running
    /// (SQLite: VACUUM INTO; PostgreSQL: pg_dump --format=custom).
    Backup { file: PathBuf },
    /// Replace the database with the backup in FILE (SQLite: refused while a server runs on
    /// the file; PostgreSQL: pg_restore --clean, stop the servers first).
    Restore {
        file: PathBuf,
        /// Confirm that the current database is to be replaced.
        #[arg(long)]
        yes: bool,
    },
    /// Exit 0 when the server at URL is ready (GET /readyz answers 200): the container's
    /// health check, so the image needs no curl.
    Healthcheck {
        /// Default: /readyz on this configuration's server.bind port, on 127.0.0.1.
        #[arg(long)]
        url: Option<String>,
    },
    /// Print version, git SHA and build time.
    Version,
    /// The tamper-evident audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Score the detector (as configured, without impact floors) against labelled series in
    /// the Numenta Anomaly Benchmark layout.
    Eval {
        /// Folder of `timestamp,value` CSV files (searched recursively).
        #[arg(long)]
        data: PathBuf,
        /// NAB windows file: {"group/file.csv": [[start, end], ...]}.
        #[arg(long)]
        windows: PathBuf,
        /// The spans with their kinds (`kinds.json` from `costguard scenarios`): figures per
        /// incident kind, and alerts on benign charges counted apart.
        #[arg(long)]
        kinds: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "standard")]
        profile: crate::eval::Profile,
        /// The baseline to score (the others are kept for comparison).
        #[arg(long, value_enum, default_value = "robust-hw")]
        method: crate::eval::Method,
        /// Write one NAB results CSV per input file here.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Print the summary as one JSON object on the last line.
        #[arg(long)]
        json: bool,
    },
    /// Write labelled hourly cost scenarios (for `costguard eval --kinds`): series shapes,
    /// benign recurring charges and incidents of every kind, drawn from one seed.
    Scenarios {
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, default_value_t = 60)]
        series: usize,
        #[arg(long, default_value_t = 90)]
        days: i64,
    },
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Import a FinOps FOCUS CSV file (.csv or .csv.gz; "-" reads stdin), all or nothing.
    Focus {
        file: String,
        /// Recorded as the rows' source.
        #[arg(long, default_value = "import")]
        source: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walk the hash chain; exit non-zero naming the first edited, deleted or reordered entry.
    Verify,
}

#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Create a key; the key itself is printed once, alone on the last line.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
    },
    /// List keys (never the secrets).
    List,
    /// Revoke a key by id or name.
    Revoke { key: String },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user. The password is read from the terminal (asked twice), or from the first
    /// line of standard input when that is not a terminal; never from an argument.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
    },
    /// List users (never their password hashes).
    List,
    /// Set a new password (read like `create`) and end the user's sessions.
    SetPassword {
        #[arg(long)]
        name: String,
    },
}

fn parse_role(text: &str) -> Result<Role, String> {
    text.parse().map_err(|e: crate::domain::role::UnknownRole| e.to_string())
}

fn config_path(cli: &Cli) -> Option<PathBuf> {
    cli.config.clone().or_else(|| Some(PathBuf::from("config.toml")).filter(|p| p.exists()))
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    if let Some(Command::Version) = cli.command {
        let info = crate::build_info::info();
        println!(
            "costguard {} (git {}, built {})",
            info.version,
            info.git_sha,
            info.build_time.map(|t| t.to_rfc3339()).unwrap_or_else(|| "unknown".into())
        );
        return Ok(());
    }
    let settings = Settings::load(config_path(&cli).as_deref())?;
    crate::telemetry::init_logging(&settings.log.level, &settings.log.format);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings).await,
        Command::Migrate => {
            open_database(&settings).await?;
            println!("migrations are current ({})", settings.database_url()?.redacted());
            Ok(())
        }
        Command::Import(ImportCommand::Focus { file, source }) => import_focus(&settings, &file, &source).await,
        Command::Apikey(command) => apikey(&settings, command).await,
        Command::Ingest { once: _, provider } => ingest_once(&settings, provider.as_deref()).await,
        Command::User(command) => user(&settings, command).await,
        Command::Audit(AuditCommand::Verify) => {
            let db = open_database(&settings).await?;
            match db.run(|c| crate::audit::verify(c).map_err(crate::db::DbError::from)).await? {
                Ok(n) => {
                    println!("audit chain intact: {n} entries");
                    Ok(())
                }
                Err(broken) => Err(anyhow::anyhow!("audit chain broken: {broken}")),
            }
        }
        Command::Backup { file } => {
            let url = settings.database_url()?;
            tokio::task::spawn_blocking(move || crate::db::backup::backup(&url, &file).map(|()| file))
                .await?
                .map(|file| println!("backup written to {}", file.display()))
        }
        Command::Restore { file, yes } => {
            anyhow::ensure!(yes, "restore replaces the current database; run again with --yes to confirm");
            let url = settings.database_url()?;
            let shown = url.redacted();
            tokio::task::spawn_blocking(move || crate::db::backup::restore(&url, &file)).await??;
            println!("restored into {shown}; start the server to apply any newer migrations");
            Ok(())
        }
        Command::Healthcheck { url } => {
            let url = url.unwrap_or_else(|| format!("http://127.0.0.1:{}/readyz", settings.bind_addr().port()));
            let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(3)).build()?;
            let status = client.get(&url).send().await?.status();
            anyhow::ensure!(status.is_success(), "{url} answered {status}");
            Ok(())
        }
        Command::Version => Ok(()),
        Command::Eval { data, windows, kinds, profile, method, out, json } => {
            let input = crate::eval::Labelled { data: &data, windows: &windows, kinds: kinds.as_deref() };
            eval(&settings, &input, (method, profile), out.as_deref(), json)
        }
        Command::Scenarios { out, seed, series, days } => {
            anyhow::ensure!(series > 0 && (28..=400).contains(&days), "--series must be positive and --days 28 to 400");
            let spec = crate::eval::scenarios::ScenarioSpec { seed, series, days };
            crate::eval::scenarios::write(&out, &crate::eval::scenarios::generate(spec))?;
            println!("{series} series of {days} days (seed {seed}) written to {}", out.display());
            Ok(())
        }
    }
}

fn eval(
    settings: &Settings,
    input: &crate::eval::Labelled<'_>,
    (method, profile): (crate::eval::Method, crate::eval::Profile),
    out: Option<&std::path::Path>,
    json: bool,
) -> anyhow::Result<()> {
    let result = crate::eval::evaluate(input, &settings.detect, method, profile, out)?;
    for (name, f) in &result.files {
        println!(
            "{name:<60} windows {:>2}  detected {:>2}  false positives {:>3}  raw {:>7.3}",
            f.windows, f.detected_windows, f.false_positives, f.raw
        );
    }
    let i = &result.incidents;
    for (kind, k) in &i.by_kind {
        println!(
            "{kind:<16} incidents {:>4}  found {:>4} ({:.2})  within 1 h {:>4}  mean delay {:>6.1} h  re-alerts {:>4}",
            k.incidents,
            k.found,
            k.recall(),
            k.found_within_hour,
            k.mean_delay_hours(),
            k.re_alerts
        );
    }
    if i.benign_charges > 0 {
        println!("benign charges {}  alerted on {}", i.benign_charges, i.benign_charges_alerted);
    }
    println!(
        "{method:?}: incidents {}  recall {:.3}  within 1 h {:.3}  mean delay {:.1} h  false alarms {} ({:.3} per series-month)  re-alerts {:.2} per incident",
        i.all.incidents,
        i.all.recall(),
        i.all.found_within_hour as f64 / i.all.incidents.max(1) as f64,
        i.all.mean_delay_hours(),
        i.false_alarms,
        i.false_alarms_per_series_month(),
        i.all.re_alerts as f64 / i.all.incidents.max(1) as f64,
    );
    let c = &result.corpus;
    println!(
        "{method:?}: NAB score ({profile:?}) {:.1}  precision {:.3}  recall {:.3}  false positives {}  mean delay {:.1} points  files {}",
        c.score, c.precision, c.recall, c.false_positives, c.mean_delay_points, c.files
    );
    let (threshold, best) = &result.best_threshold;
    println!(
        "{method:?}: NAB score ({profile:?}) at NAB's optimised threshold {threshold:.2} on the anomaly score (production's: 0.50) {:.1}  false positives {}",
        best.score, best.false_positives
    );
    if json {
        let mut summary = serde_json::to_value(c)?;
        summary["best_threshold"] = serde_json::json!({ "threshold": threshold, "score": best.score });
        summary["incidents"] = serde_json::json!({
            "incidents": i.all.incidents,
            "recall": i.all.recall(),
            "within_hour": i.all.found_within_hour,
            "mean_delay_hours": i.all.mean_delay_hours(),
            "false_alarms": i.false_alarms,
            "false_alarms_per_series_month": i.false_alarms_per_series_month(),
            "re_alerts": i.all.re_alerts,
            "benign_charges": i.benign_charges,
            "benign_charges_alerted": i.benign_charges_alerted,
            "by_kind": i.by_kind,
        });
        println!("{summary}");
    }
    Ok(())
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let app = Application::build(settings).await?;
    let keys = app.db().run(api_keys::list).await?;
    if keys.iter().all(|k| k.revoked_at.is_some()) {
        tracing::info!("no API key yet: create one with `cargo run --release -- apikey create --name me --role admin` (or `costguard apikey create ...`)");
    }
    app.run_until_stopped().await
}

/// `--provider`: a provider of the registry, or one of its sources (named `<provider>-…`).
fn provider_or_source(value: &str) -> Result<String, String> {
    let provider = value.split_once('-').map_or(value, |(p, _)| p);
    if crate::registry::find(provider).is_some() {
        return Ok(value.to_string());
    }
    let known: Vec<&str> = crate::registry::PROVIDERS.iter().map(|p| p.name).collect();
    Err(format!("no provider named '{value}' (known: {})", known.join(", ")))
}

async fn ingest_once(settings: &Settings, provider: Option<&str>) -> anyhow::Result<()> {
    let db = open_database(settings).await?;
    let cipher = settings.cipher()?;
    let vault = crate::clouds::Vault::new(db.clone(), cipher);
    let chosen: Vec<_> = crate::registry::connect(&settings.providers, &db, &vault)
        .sources
        .into_iter()
        .filter(|c| provider.is_none_or(|p| c.source.name() == p || c.source.name().starts_with(&format!("{p}-"))))
        .collect();
    if chosen.is_empty() {
        anyhow::bail!("no enabled provider matches {} (turn one on in config.toml)", provider.unwrap_or("any"));
    }
    // No serve process listens to this one's bus; a running server finds the rows in the database.
    let ingestor = Ingestor::new(db, crate::bus::channels(1).0);
    let mut failed = Vec::new();
    for configured in chosen {
        let name = configured.source.name().to_string();
        match crate::ingest::runner::run_once(&ingestor, configured.source.as_ref()).await {
            Ok(s) => println!("{name}: {} records read, {} new, {} updated", s.received, s.inserted, s.updated),
            Err(e) => {
                eprintln!("{name}: failed: {e:#}");
                failed.push(name);
            }
        }
    }
    anyhow::ensure!(failed.is_empty(), "ingestion failed for {}", failed.join(", "));
    Ok(())
}

async fn import_focus(settings: &Settings, file: &str, source: &str) -> anyhow::Result<()> {
    let db = open_database(settings).await?;
    let input: Box<dyn std::io::Read + Send> = if file == "-" {
        Box::new(std::io::stdin())
    } else {
        Box::new(std::fs::File::open(file).map_err(|e| anyhow::anyhow!("cannot open {file}: {e}"))?)
    };
    let bar = indicatif::ProgressBar::new_spinner();
    if std::io::stderr().is_terminal() {
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {human_pos} rows  {rate}  {elapsed}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner())
                .with_key("rate", |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(w, "{:.0} rows/s", state.per_sec());
                }),
        );
        bar.enable_steady_tick(std::time::Duration::from_millis(200));
    } else {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let started = std::time::Instant::now();
    // No serve process listens to this one's bus; a running server finds the rows in the database.
    let ingestor = Ingestor::new(db, crate::bus::channels(1).0);
    let progress = bar.clone();
    let report = ingestor.import_csv(source, input, move |rows| progress.set_position(rows)).await?;
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    let s = &report.summary;
    println!(
        "imported {} rows from {file}: {} new, {} updated, {} unchanged in {secs:.1}s ({:.0} rows/s)",
        report.rows,
        s.inserted,
        s.updated,
        s.received - s.changed(),
        report.rows as f64 / secs.max(1e-9)
    );
    Ok(())
}

async fn apikey(settings: &Settings, command: ApiKeyCommand) -> anyhow::Result<()> {
    let db = open_database(settings).await?;
    match command {
        ApiKeyCommand::Create { name, role } => {
            let (key, secret) = db.run(move |conn| api_keys::create(conn, &name, role)).await?;
            println!(
                "created API key '{}' (id {}, role {}). Store it now; it is not shown again:",
                key.name, key.id, key.role
            );
            println!("{secret}");
        }
        ApiKeyCommand::List => {
            let keys = db.run(api_keys::list).await?;
            println!(
                "{:<38} {:<24} {:<9} {:<10} {:<20} {:<20} REVOKED",
                "ID", "NAME", "ROLE", "PREFIX", "CREATED", "LAST USED"
            );
            let time = |t: Option<chrono::NaiveDateTime>| {
                t.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string()).unwrap_or_else(|| "-".into())
            };
            for k in keys {
                println!(
                    "{:<38} {:<24} {:<9} {:<10} {:<20} {:<20} {}",
                    k.id,
                    k.name,
                    k.role,
                    k.key_prefix,
                    time(Some(k.created_at)),
                    time(k.last_used_at),
                    time(k.revoked_at)
                );
            }
        }
        ApiKeyCommand::Revoke { key } => {
            let revoked = db.run(move |conn| api_keys::revoke(conn, &key)).await?;
            println!("revoked API key '{}' ({})", revoked.name, revoked.id);
        }
    }
    Ok(())
}

/// A new password: from the terminal without echo (twice), else stdin's first line.
fn read_new_password() -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ")?;
        let again = rpassword::prompt_password("Again: ")?;
        anyhow::ensure!(first == again, "the passwords differ");
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    }
}

async fn user(settings: &Settings, command: UserCommand) -> anyhow::Result<()> {
    use crate::auth::users;
    let db = open_database(settings).await?;
    match command {
        UserCommand::Create { name, role } => {
            let password = read_new_password()?;
            let user = db.run(move |c| users::create(c, &name, role, &password)).await?;
            println!("created user '{}' (id {}, role {})", user.name, user.id, user.role);
        }
        UserCommand::List => {
            println!("{:<38} {:<24} {:<9} {:<20} DISABLED", "ID", "NAME", "ROLE", "CREATED");
            for u in db.run(|c| users::list(c).map_err(crate::db::DbError::from)).await? {
                let disabled =
                    u.disabled_at.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string()).unwrap_or_else(|| "-".into());
                println!(
                    "{:<38} {:<24} {:<9} {:<20} {disabled}",
                    u.id,
                    u.name,
                    u.role,
                    u.created_at.format("%Y-%m-%d %H:%M:%S")
                );
            }
        }
        UserCommand::SetPassword { name } => {
            let password = read_new_password()?;
            let user = db.run(move |c| users::set_password(c, &name, &password)).await?;
            println!("set a new password for '{}'; their sessions have ended", user.name);
        }
    }
    Ok(())
}

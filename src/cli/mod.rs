//! The command line: `serve` (default), `migrate`, `import focus`, `apikey`, `user`, `ingest`,
//! `audit`, `backup`, `restore`, `eval`, `version`.

mod accounts;
mod data;

use crate::app::{open_database, Application};
use crate::config::Settings;
use crate::domain::role::Role;
use accounts::{apikey, user};
use clap::{Parser, Subcommand};
use data::{eval, import_focus, ingest_once, provider_or_source};
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
    /// Walk the keyed chain and check it still holds the published head; exit non-zero naming
    /// the first edited, forged, deleted or reordered entry, or the entries missing at the end.
    Verify {
        /// The head to check against, as published (`SEQ:HASH`: the server log's "audit head",
        /// `costguard_audit_head_seq`). Default: the last line of `audit.head_file`.
        #[arg(long)]
        head: Option<crate::domain::audit::Head>,
    },
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
        Command::Audit(AuditCommand::Verify { head }) => verify_audit(&settings, head).await,
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

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let app = Application::build(settings).await?;
    let keys = app.db().run(crate::auth::api_keys::list).await?;
    if keys.iter().all(|k| k.revoked_at.is_some()) {
        tracing::info!("no API key yet: create one with `cargo run --release -- apikey create --name me --role admin` (or `costguard apikey create ...`)");
    }
    app.run_until_stopped().await
}

/// `audit verify`: the chain, against the head given or the last one published to the file.
async fn verify_audit(settings: &Settings, head: Option<crate::domain::audit::Head>) -> anyhow::Result<()> {
    let file = settings.audit.head_path(&settings.data.dir);
    let (head, from) = match head {
        Some(head) => (Some(head), "given".to_string()),
        None => (crate::audit::heads::last_published(&file)?, format!("last published in {}", file.display())),
    };
    let db = open_database(settings).await?;
    let checked = head.clone();
    let verdict = db
        .run(move |c| {
            match &checked {
                Some(head) => crate::audit::verify_against(c, head),
                None => crate::audit::verify(c),
            }
            .map_err(crate::db::DbError::from)
        })
        .await?;
    match (verdict, head) {
        (Ok(n), Some(head)) => {
            println!("audit chain intact: {n} entries, authenticated, holding the head {head} ({from})");
            Ok(())
        }
        (Ok(n), None) => {
            println!("audit chain intact: {n} entries, authenticated; no published head to check for deleted entries at the end (pass --head SEQ:HASH)");
            Ok(())
        }
        (Err(broken), _) => Err(anyhow::anyhow!("audit chain broken: {broken}")),
    }
}

//! The command line: `serve` (default), `migrate`, `import focus`, `apikey`, `user`, `ingest`,
//! `audit`, `backup`, `restore`, `eval`, `version`; `costs`, `anomalies` and `actions` ask a
//! running server; `completions` and `man` describe the command line itself.

mod accounts;
mod args;
mod data;
mod docs;
mod progress;
mod remote;

use crate::app::{open_database, Application};
use crate::config::Settings;
use accounts::{apikey, user};
pub use args::Cli;
use args::{ApiKeyCommand, AuditCommand, Command, ImportCommand, UserCommand};
use data::{eval, import_focus, ingest_once};
use std::path::PathBuf;

/// Writes a command's output to standard output. A reader that stops early (`| head`)
/// closes the pipe: that ends the output quietly, as it does for other Unix tools, instead
/// of a panic.
fn emit(output: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(output).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        written => Ok(written?),
    }
}

fn config_path(cli: &Cli) -> Option<PathBuf> {
    cli.config.clone().or_else(|| Some(PathBuf::from("config.toml")).filter(|p| p.exists()))
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    // These describe the binary itself: no configuration, no logging set-up.
    match &cli.command {
        Some(Command::Completions { shell }) => return docs::completions(*shell),
        Some(Command::Man { out }) => return docs::man(out.as_deref()),
        _ => {}
    }
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
        Command::Costs(args) => remote::costs(&settings, args).await,
        Command::Anomalies(args) => remote::anomalies(&settings, args).await,
        Command::Actions(args) => remote::actions(&settings, args).await,
        Command::Version | Command::Completions { .. } | Command::Man { .. } => Ok(()),
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

//! What the command line accepts: every command, flag, help text and value list. Value lists
//! come from the domain's own `ALL` constants, so help, completions and the man page list
//! exactly what the server accepts.

use crate::domain::approval::Status;
use crate::domain::cost_query::{Granularity, GroupBy};
use crate::domain::detect::decision::Severity;
use crate::domain::role::Role;
use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand, ValueHint};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(name = "costguard", version, about = "Catch runaway cloud and LLM spend and stop it safely.")]
pub struct Cli {
    /// Configuration file (default: ./config.toml when present).
    #[arg(long, env = "COSTGUARD_CONFIG", global = true, value_hint = ValueHint::FilePath)]
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
        /// Only this provider's sources, or one source by its name (gcp-jobs, openai-costs).
        #[arg(long, value_parser = ProviderOrSource)]
        provider: Option<String>,
    },
    /// Cost totals from a running server (GET /api/v1/costs), by period and optionally by a
    /// dimension. The API key is read from COSTGUARD_API_KEY.
    Costs(CostsArgs),
    /// Anomalies from a running server, newest first (key from COSTGUARD_API_KEY).
    Anomalies(AnomaliesArgs),
    /// Remediation actions on a running server: list them (the default), approve or reject
    /// one (key from COSTGUARD_API_KEY; approving needs an approver key).
    Actions(ActionsArgs),
    /// Write a consistent backup of the database to FILE while the server keeps running
    /// (SQLite: VACUUM INTO; PostgreSQL: pg_dump --format=custom).
    Backup {
        /// Where to write the backup.
        #[arg(value_hint = ValueHint::FilePath)]
        file: PathBuf,
    },
    /// Replace the database with the backup in FILE (SQLite: refused while a server runs on
    /// the file; PostgreSQL: pg_restore --clean, stop the servers first).
    Restore {
        /// A file written by `costguard backup`.
        #[arg(value_hint = ValueHint::FilePath)]
        file: PathBuf,
        /// Confirm that the current database is to be replaced.
        #[arg(long)]
        yes: bool,
    },
    /// Exit 0 when the server at URL is ready (GET /readyz answers 200): the container's
    /// health check, so the image needs no curl.
    Healthcheck {
        /// Default: /readyz on this configuration's server.bind port, on 127.0.0.1.
        #[arg(long, value_hint = ValueHint::Url)]
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
        #[arg(long, value_hint = ValueHint::DirPath)]
        data: PathBuf,
        /// NAB windows file: {"group/file.csv": [[start, end], ...]}.
        #[arg(long, value_hint = ValueHint::FilePath)]
        windows: PathBuf,
        /// The spans with their kinds (`kinds.json` from `costguard scenarios`): figures per
        /// incident kind, and alerts on benign charges counted apart.
        #[arg(long, value_hint = ValueHint::FilePath)]
        kinds: Option<PathBuf>,
        /// NAB's scoring profile: how much a false positive costs against a late detection.
        #[arg(long, value_enum, default_value = "standard")]
        profile: crate::eval::Profile,
        /// The baseline to score (the others are kept for comparison).
        #[arg(long, value_enum, default_value = "robust-hw")]
        method: crate::eval::Method,
        /// Write one NAB results CSV per input file here.
        #[arg(long, value_hint = ValueHint::DirPath)]
        out: Option<PathBuf>,
        /// Print the summary as one JSON object on the last line.
        #[arg(long)]
        json: bool,
    },
    /// Write labelled hourly cost scenarios (for `costguard eval --kinds`): series shapes,
    /// benign recurring charges and incidents of every kind, drawn from one seed.
    Scenarios {
        /// The folder to write the series, windows.json and kinds.json into.
        #[arg(long, value_hint = ValueHint::DirPath)]
        out: PathBuf,
        /// The random seed: the same seed writes the same scenarios.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// How many series to write.
        #[arg(long, default_value_t = 60)]
        series: usize,
        /// Days of hourly history per series (28 to 400).
        #[arg(long, default_value_t = 90)]
        days: i64,
    },
    /// Print a shell completion script: `source <(costguard completions bash)`, or write it
    /// where your shell loads completions from.
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to standard output, or write one page per command into DIR:
    /// `costguard man | man -l -`.
    Man {
        /// Write costguard.1, costguard-serve.1, ... here instead.
        #[arg(long, value_hint = ValueHint::DirPath)]
        out: Option<PathBuf>,
    },
}

/// Where the server is and how to print its answer, for the commands that ask one.
#[derive(Debug, Args)]
pub struct ServerArgs {
    /// The server's base URL. Default: http://127.0.0.1 on this configuration's server.bind port.
    #[arg(long, env = "COSTGUARD_URL", value_hint = ValueHint::Url)]
    pub url: Option<String>,
    /// Print the API's JSON answer instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CostsArgs {
    /// Start, inclusive (RFC 3339 or YYYY-MM-DD). Default: 30 days before --to.
    #[arg(long)]
    pub from: Option<String>,
    /// End, exclusive (RFC 3339 or YYYY-MM-DD). Default: the end of the current hour.
    #[arg(long)]
    pub to: Option<String>,
    /// The period of each row (default day).
    #[arg(long, value_parser = one_of(Granularity::ALL.map(Granularity::as_str)))]
    pub granularity: Option<String>,
    /// Split each period by this dimension.
    #[arg(long, value_parser = one_of(GroupBy::ALL.map(GroupBy::as_str)))]
    pub group_by: Option<String>,
    /// Only this provider (its FOCUS ProviderName, e.g. "Google Cloud").
    #[arg(long)]
    pub provider: Option<String>,
    /// Only this service (its FOCUS ServiceName, e.g. BigQuery).
    #[arg(long)]
    pub service: Option<String>,
    #[command(flatten)]
    pub server: ServerArgs,
}

#[derive(Debug, Args)]
pub struct AnomaliesArgs {
    /// Only open (including mitigated) or only resolved anomalies.
    #[arg(long, value_parser = one_of(["open", "resolved"]))]
    pub state: Option<String>,
    /// Only this severity.
    #[arg(long, value_parser = one_of(Severity::ALL.map(Severity::as_str)))]
    pub severity: Option<String>,
    /// Only this provider (as the anomaly names it: aws, gcp, openai, ...).
    #[arg(long)]
    pub provider: Option<String>,
    /// At most this many (default 100, at most 1000).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub limit: Option<u32>,
    #[command(flatten)]
    pub server: ServerArgs,
}

/// `costguard actions [--status S]` lists; `costguard actions approve|reject ID` decides.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ActionsArgs {
    #[command(subcommand)]
    pub verb: Option<ActionVerb>,
    #[command(flatten)]
    pub list: ActionListArgs,
}

#[derive(Debug, Args)]
pub struct ActionListArgs {
    /// Only actions in this status (pending_approval: waiting for a human).
    #[arg(long, value_parser = one_of(Status::ALL.map(Status::as_str)))]
    pub status: Option<String>,
    /// At most this many (default 100, at most 1000).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub limit: Option<u32>,
    #[command(flatten)]
    pub server: ServerArgs,
}

#[derive(Debug, Subcommand)]
pub enum ActionVerb {
    /// List actions, newest first (the same as no verb).
    List(ActionListArgs),
    /// Approve an action pending approval; the server's safety rules still apply when it runs.
    Approve(Decision),
    /// Reject an action pending approval; it will not run.
    Reject(Decision),
}

#[derive(Debug, Args)]
pub struct Decision {
    /// The action's id (from `costguard actions`).
    pub id: String,
    /// Why, recorded in the audit log and the action's history.
    #[arg(long)]
    pub comment: Option<String>,
    #[command(flatten)]
    pub server: ServerArgs,
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Import a FinOps FOCUS CSV file (.csv or .csv.gz; "-" reads stdin), all or nothing.
    Focus {
        /// The file to import, or "-" for standard input.
        #[arg(value_hint = ValueHint::FilePath)]
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
        /// A name to know the key by (shown in lists and the audit log), unique.
        #[arg(long)]
        name: String,
        /// What the key may do: viewer reads; approver also writes cost data and approves;
        /// admin also manages keys, users and settings.
        #[arg(long, value_parser = roles())]
        role: Role,
    },
    /// List keys (never the secrets).
    List,
    /// Revoke a key by id or name.
    Revoke {
        /// The key's id or name.
        key: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user. The password is read from the terminal (asked twice), or from the first
    /// line of standard input when that is not a terminal; never from an argument.
    Create {
        /// The user's log-in name, unique.
        #[arg(long)]
        name: String,
        /// What the user may do: viewer reads; approver also approves and rejects actions;
        /// admin also manages keys, users and settings.
        #[arg(long, value_parser = roles())]
        role: Role,
    },
    /// List users (never their password hashes).
    List,
    /// Set a new password (read like `create`) and end the user's sessions.
    SetPassword {
        /// The user's log-in name.
        #[arg(long)]
        name: String,
    },
}

/// A flag taking one of a fixed list of words, listed in help and completions.
fn one_of<const N: usize>(values: [&'static str; N]) -> PossibleValuesParser {
    PossibleValuesParser::new(values)
}

fn roles() -> impl TypedValueParser<Value = Role> {
    one_of(Role::ALL.map(Role::as_str)).try_map(|s| s.parse::<Role>())
}

/// `ingest --provider`: a provider of the registry, or one of its sources (`gcp-jobs`),
/// whose names start with the provider's. Help and completions list the providers.
#[derive(Clone)]
struct ProviderOrSource;

impl TypedValueParser for ProviderOrSource {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        let text = clap::builder::NonEmptyStringValueParser::new().parse_ref(cmd, arg, value)?;
        let provider = text.split_once('-').map_or(text.as_str(), |(p, _)| p);
        if crate::providers::find(provider).is_some() {
            return Ok(text);
        }
        let known: Vec<&str> = crate::providers::PROVIDERS.iter().map(|p| p.name).collect();
        let message = format!("no provider named '{text}' (known: {})\n", known.join(", "));
        Err(clap::Error::raw(clap::error::ErrorKind::InvalidValue, message).with_cmd(cmd))
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(crate::providers::PROVIDERS.iter().map(|p| PossibleValue::new(p.name).help(p.title))))
    }
}

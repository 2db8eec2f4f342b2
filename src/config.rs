//! Settings: built-in defaults, then `config.toml` (or `--config FILE` / `COSTGUARD_CONFIG`),
//! then `COSTGUARD_<SECTION>__<KEY>` environment variables. Unknown keys and bad values
//! stop start-up with a message naming the key. Passed explicitly; never a global.

use crate::db::DatabaseUrl;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub data: DataSettings,
    pub log: LogSettings,
    pub bus: BusSettings,
    pub providers: ProviderSettings,
    pub detect: crate::detect::DetectSettings,
    pub approval: crate::approval::ApprovalSettings,
    pub safety: crate::domain::approval::safety::SafetyRules,
    pub optimizer: crate::optimize::OptimizerSettings,
    pub dashboard: crate::dashboard::DashboardSettings,
    pub notify: crate::notify::NotifySettings,
    pub cluster: crate::cluster::ClusterSettings,
    pub secrets: SecretsSettings,
    pub import: crate::ingest::focus_csv::ImportLimits,
    pub audit: crate::audit::AuditSettings,
    /// `[[budgets]]`: budgets kept in config.toml.
    pub budgets: crate::budgets::BudgetsConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecretsSettings {
    /// Base64 of 32 bytes: the key that encrypts provider credentials stored in the database.
    /// Set it through the environment (COSTGUARD_SECRETS__ENCRYPTION_KEY), never in this file.
    #[serde(serialize_with = "crate::domain::redact::never_shown")]
    pub encryption_key: secrecy::SecretString,
    /// Used when `encryption_key` is empty: read, or created with mode 0600 on first start.
    /// Empty: <data.dir>/costguard.key.
    pub key_file: String,
}

impl Default for SecretsSettings {
    fn default() -> Self {
        SecretsSettings { encryption_key: secrecy::SecretString::from(""), key_file: String::new() }
    }
}

/// Secrets serialize as empty (settings are serialized only as figment's defaults layer).
impl SecretsSettings {
    pub fn key_path(&self, data_dir: &Path) -> PathBuf {
        if self.key_file.trim().is_empty() {
            data_dir.join("costguard.key")
        } else {
            PathBuf::from(self.key_file.trim())
        }
    }
}

/// Connections the background workers may hold at once (see [`Settings::pool_size`]).
const BACKGROUND_CONNECTIONS: u32 = 4;

/// `[server]` belongs to the HTTP edge's shared state.
pub use crate::state::ServerSettings;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    /// `sqlite://PATH` or `postgres://...`; empty means `sqlite://<data.dir>/costguard.db`.
    pub url: String,
    /// Pooled connections; 0 sizes the pool from `server.workers` (see [`Settings::pool_size`]).
    pub pool_size: u32,
    /// How long a SQLite writer waits for the lock, in milliseconds.
    pub busy_timeout_ms: u64,
    /// How long an HTTP request waits for a pooled connection before it answers 503 with
    /// `Retry-After`, in milliseconds (background workers wait longer and retry).
    pub request_wait_ms: u64,
    /// The longest an expensive API read (cost and LLM aggregations) may run, in
    /// milliseconds; the database stops it past that (see `Db::read_within`).
    pub query_timeout_ms: u64,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        DatabaseSettings {
            url: String::new(),
            pool_size: 0,
            busy_timeout_ms: 15_000,
            request_wait_ms: 2_000,
            query_timeout_ms: 10_000,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataSettings {
    /// Folder for the SQLite file and other state.
    pub dir: PathBuf,
}

impl Default for DataSettings {
    fn default() -> Self {
        DataSettings { dir: PathBuf::from("data") }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    /// A tracing filter, e.g. "info" or "costguard=debug,actix_web=info".
    pub level: String,
    /// "text" or "json".
    pub format: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings { level: "info".into(), format: "text".into() }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BusSettings {
    /// Messages each internal channel holds before senders skip a wake-up.
    pub capacity: usize,
}

impl Default for BusSettings {
    fn default() -> Self {
        BusSettings { capacity: 1024 }
    }
}

pub use crate::providers::ProviderSettings;

/// The simulated clouds' settings live with the simulator.
pub use crate::providers::simulated::SimulatedSettings;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Parse(Box<figment::Error>),
    #[error("configuration key {key}: {problem}")]
    Invalid { key: &'static str, problem: String },
}

fn invalid(key: &'static str, problem: impl ToString) -> ConfigError {
    ConfigError::Invalid { key, problem: problem.to_string() }
}

impl Settings {
    /// Loads defaults, then the file if given (a missing explicit file is an error), then env.
    pub fn load(file: Option<&Path>) -> Result<Settings, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(path) = file {
            if !path.exists() {
                return Err(invalid("--config", format!("{} does not exist", path.display())));
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        // COSTGUARD_CONFIG names the file, COSTGUARD_BUILD_SHA feeds build.rs, and
        // COSTGUARD_API_KEY / COSTGUARD_URL tell the client commands (`costguard costs`) which
        // server to ask with which key; none of them is a setting.
        let not_settings = ["config", "build_sha", "api_key", "url"];
        figment = figment.merge(Env::prefixed("COSTGUARD_").ignore(&not_settings).split("__"));
        let settings: Settings = figment.extract().map_err(|e| ConfigError::Parse(Box::new(e)))?;
        settings.validate()?;
        Ok(settings)
    }

    /// Connections in the pool: `database.pool_size`, or when that is 0, two per HTTP worker
    /// (a request and the expensive read it may start) plus one each for the detective, the
    /// executor, ingestion and the notifier with the timers, so background work never
    /// queues behind requests: 8 for the shipped 2 workers.
    pub fn pool_size(&self) -> u32 {
        match self.database.pool_size {
            0 => 2 * self.server.workers as u32 + BACKGROUND_CONNECTIONS,
            n => n,
        }
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        self.server
            .bind
            .parse::<SocketAddr>()
            .map_err(|e| invalid("server.bind", format!("'{}' is not ADDRESS:PORT ({e})", self.server.bind)))?;
        if self.server.max_json_bytes == 0 || self.server.max_import_bytes == 0 {
            return Err(invalid("server.max_json_bytes", "body limits must be positive"));
        }
        self.database_url()?;
        self.import.check().map_err(|(key, why)| invalid(key, why))?;
        self.audit.check().map_err(|(key, why)| invalid(key, why))?;
        if !(1..=64).contains(&self.server.workers) {
            return Err(invalid("server.workers", "must be between 1 and 64"));
        }
        if !(100..=600_000).contains(&self.database.query_timeout_ms) {
            return Err(invalid("database.query_timeout_ms", "must be between 100 and 600000"));
        }
        if !(10..=60_000).contains(&self.database.request_wait_ms) {
            return Err(invalid("database.request_wait_ms", "must be between 10 and 60000"));
        }
        tracing_subscriber::EnvFilter::try_new(&self.log.level).map_err(|e| invalid("log.level", e))?;
        if !matches!(self.log.format.as_str(), "text" | "json") {
            return Err(invalid("log.format", format!("'{}' is not text or json", self.log.format)));
        }
        if self.bus.capacity == 0 {
            return Err(invalid("bus.capacity", "must be at least 1"));
        }
        crate::providers::validate(&self.providers).map_err(|(key, problem)| invalid(key, problem))?;
        self.detect.validate().map_err(|(key, problem)| invalid(key, problem))?;
        self.approval.validate().map_err(|(key, problem)| invalid(key, problem))?;
        self.dashboard.validate().map_err(|(key, problem)| invalid(key, problem))?;
        self.notify.validate().map_err(|(key, problem)| invalid(key, problem))?;
        self.cluster.validate().map_err(|(key, problem)| invalid(key, problem))?;
        if let Err((key, problem)) = self.budgets.specs() {
            // The key is built ("budgets[2].amount"); the error ends start-up, so leaking it
            // once costs nothing and keeps every other key a `&'static str`.
            return Err(invalid(Box::leak(key.into_boxed_str()), problem));
        }
        use secrecy::ExposeSecret;
        let key = self.secrets.encryption_key.expose_secret();
        if !key.trim().is_empty() {
            crate::credentials::Cipher::from_base64(key).map_err(|e| invalid("secrets.encryption_key", e))?;
        }
        Ok(())
    }

    /// Where users' notification templates live.
    pub fn notify_templates_dir(&self) -> PathBuf {
        match self.notify.templates_dir.trim() {
            "" => self.data.dir.join("templates").join("notify"),
            dir => PathBuf::from(dir),
        }
    }

    /// The dashboard's address for links: `dashboard.public_url`, else the address served on.
    pub fn public_url(&self, port: u16) -> String {
        match self.dashboard.public_url.trim() {
            "" => {
                let mut addr = self.bind_addr();
                addr.set_port(port);
                if addr.ip().is_unspecified() {
                    addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
                }
                format!("http://{addr}")
            }
            url => url.trim_end_matches('/').to_string(),
        }
    }

    pub fn database_url(&self) -> Result<DatabaseUrl, ConfigError> {
        if self.database.url.trim().is_empty() {
            return Ok(DatabaseUrl::sqlite_file(&self.data.dir.join("costguard.db")));
        }
        DatabaseUrl::parse(self.database.url.trim()).map_err(|e| invalid("database.url", e))
    }

    /// The cipher for stored credentials: the configured key, else the key file.
    pub fn cipher(&self) -> Result<crate::credentials::Cipher, crate::credentials::KeyError> {
        use secrecy::ExposeSecret;
        crate::credentials::Cipher::load(
            self.secrets.encryption_key.expose_secret(),
            &self.secrets.key_path(&self.data.dir),
        )
    }

    pub fn bind_addr(&self) -> SocketAddr {
        self.server.bind.parse().unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 8080)))
    }
}

#[cfg(test)]
// figment::Jail's closures return figment's own (large) error type; not ours to shrink.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;
    use figment::Jail;

    fn message(result: Result<Settings, ConfigError>) -> String {
        result.err().map(|e| e.to_string()).unwrap_or_default()
    }

    #[test]
    fn the_shipped_file_is_complete_and_valid() {
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.toml");
        let text = std::fs::read_to_string(&shipped).unwrap();
        // Every key the struct knows appears in the documented file, and nothing else.
        let from_file: toml_like::Table = toml_like::parse(&text);
        let defaults = toml_like::from_settings(&Settings::default());
        assert_eq!(from_file.keys, defaults.keys, "config.toml and Settings differ");
        Jail::expect_with(|_| {
            let settings = Settings::load(Some(&shipped)).unwrap();
            assert!(settings.providers.simulated.enabled);
            assert_eq!(settings.server.bind, "127.0.0.1:8080");
            Ok(())
        });
    }

    #[test]
    fn environment_overrides_the_file() {
        Jail::expect_with(|jail| {
            jail.create_file("c.toml", "[server]\nbind = \"127.0.0.1:9000\"\n[providers.simulated]\nseed = 1\n")?;
            jail.set_env("COSTGUARD_SERVER__BIND", "0.0.0.0:7000");
            jail.set_env("COSTGUARD_PROVIDERS__SIMULATED__SPEED", "60");
            jail.set_env("COSTGUARD_CONFIG", "ignored-here");
            jail.set_env("COSTGUARD_API_KEY", "cg_for_the_client_commands");
            jail.set_env("COSTGUARD_URL", "http://costguard.example.com");
            let s = Settings::load(Some(Path::new("c.toml"))).unwrap();
            assert_eq!(
                (s.server.bind.as_str(), s.providers.simulated.seed, s.providers.simulated.speed),
                ("0.0.0.0:7000", 1, 60.0)
            );
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_key() {
        Jail::expect_with(|jail| {
            jail.create_file("typo.toml", "[server]\nbnid = \"x\"\n")?;
            assert!(message(Settings::load(Some(Path::new("typo.toml")))).contains("bnid"));
            jail.create_file("type.toml", "[database]\npool_size = \"many\"\n")?;
            assert!(message(Settings::load(Some(Path::new("type.toml")))).contains("pool_size"));
            jail.create_file("bind.toml", "[server]\nbind = \"localhost\"\n")?;
            assert!(message(Settings::load(Some(Path::new("bind.toml")))).contains("server.bind"));
            jail.create_file("url.toml", "[database]\nurl = \"mysql://x/y\"\n")?;
            assert!(message(Settings::load(Some(Path::new("url.toml")))).contains("database.url"));
            jail.create_file("cron.toml", "[providers.simulated]\nschedule = \"hourly\"\n")?;
            assert!(message(Settings::load(Some(Path::new("cron.toml")))).contains("providers.simulated.schedule"));
            assert!(message(Settings::load(Some(Path::new("missing.toml")))).contains("does not exist"));
            jail.set_env("COSTGUARD_LOG__FORMAT", "xml");
            assert!(message(Settings::load(None)).contains("log.format"));
            Ok(())
        });
    }

    /// Just enough TOML reading to compare key sets without another dependency.
    mod toml_like {
        use std::collections::BTreeSet;

        pub struct Table {
            pub keys: BTreeSet<String>,
        }

        pub fn parse(text: &str) -> Table {
            // None inside an array of tables ([[x]]): the array itself is the key, as in Settings.
            let mut section = Some(String::new());
            let mut keys = BTreeSet::new();
            for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
                if let Some(name) = line.strip_prefix("[[").and_then(|l| l.strip_suffix("]]")) {
                    keys.insert(name.to_string());
                    section = None;
                } else if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                    // [prices."gpt-4.1"]: a quoted key is one key, written as Settings writes it.
                    section = Some(name.replace('"', ""));
                } else if let (Some(section), Some((key, _))) = (&section, line.split_once('=')) {
                    keys.insert(if section.is_empty() {
                        key.trim().to_string()
                    } else {
                        format!("{section}.{}", key.trim())
                    });
                }
            }
            Table { keys }
        }

        pub fn from_settings(settings: &super::Settings) -> Table {
            fn walk(prefix: &str, value: &serde_json::Value, keys: &mut BTreeSet<String>) {
                match value {
                    // An empty map (e.g. provider_modes = {}) is a key of its own, as in the file.
                    serde_json::Value::Object(map) if !map.is_empty() => {
                        for (k, v) in map {
                            let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                            walk(&path, v, keys);
                        }
                    }
                    _ => {
                        keys.insert(prefix.to_string());
                    }
                }
            }
            let mut keys = BTreeSet::new();
            walk("", &serde_json::to_value(settings).unwrap(), &mut keys);
            Table { keys }
        }
    }
}

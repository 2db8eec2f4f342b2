//! The detective: turns the ledger into series, replays each through the pure detector in
//! `domain::detect`, and keeps the `anomalies` table and the bus in step with what it finds.

mod settings;

pub use settings::{DetectSettings, SeriesOverride};

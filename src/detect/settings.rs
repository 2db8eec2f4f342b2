//! `[detect]` in config.toml.

use crate::domain::detect::decision::{Floors, SeverityThresholds};
use crate::domain::detect::incident::DetectorParams;
use crate::domain::detect::series::SeriesId;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetectSettings {
    /// Run the detective at all.
    pub enabled: bool,
    /// Full sweep over every series (6-field cron, seconds first); ingestion also wakes the
    /// detective for just the series it touched.
    pub sweep_schedule: String,
    /// How far back each run replays a series to rebuild its baseline.
    pub lookback_days: u32,
    /// Tag keys that get their own series (one per value), e.g. ["team"].
    pub tag_keys: Vec<String>,
    /// Impact floors for opening an anomaly.
    pub floors: Floors,
    /// A fall is reported (as a possible ingestion failure) only when the series drops to at
    /// most this fraction of what was expected; smaller dips are normal life for spend.
    pub drop_to_fraction: f64,
    /// Projected overspend per day at which each severity starts.
    pub severity: SeverityThresholds,
    /// The statistical detector (the evaluation command uses the same values).
    pub detector: DetectorParams,
    /// Per-series floors or muting, first match wins.
    pub overrides: Vec<SeriesOverride>,
}

impl Default for DetectSettings {
    fn default() -> Self {
        DetectSettings {
            enabled: true,
            sweep_schedule: "0 */5 * * * *".into(),
            lookback_days: 35,
            tag_keys: vec!["team".into()],
            floors: Floors::default(),
            drop_to_fraction: 0.1,
            severity: SeverityThresholds::default(),
            detector: DetectorParams::default(),
            overrides: Vec::new(),
        }
    }
}

/// Matches series by any of their parts; an absent part matches everything.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeriesOverride {
    pub provider: Option<String>,
    pub sub_account: Option<String>,
    pub service: Option<String>,
    /// false mutes the series entirely.
    #[serde(default = "yes")]
    pub enabled: bool,
    pub min_daily_impact: Option<f64>,
    pub min_percent_impact: Option<f64>,
}

fn yes() -> bool {
    true
}

impl DetectSettings {
    /// The floors for one series (None when it is muted).
    pub fn floors_for(&self, series: &SeriesId) -> Option<Floors> {
        let Some(o) = self.overrides.iter().find(|o| o.matches(series)) else {
            return Some(self.floors);
        };
        o.enabled.then(|| Floors {
            min_daily_impact: o.min_daily_impact.unwrap_or(self.floors.min_daily_impact),
            min_percent_impact: o.min_percent_impact.unwrap_or(self.floors.min_percent_impact),
            logic: self.floors.logic,
        })
    }

    /// Everything the replay needs to judge one series.
    pub fn rules_for(&self, series: &SeriesId) -> crate::detect::replay::Rules<'_> {
        crate::detect::replay::Rules {
            params: &self.detector,
            floors: self.floors_for(series),
            severity: &self.severity,
            drop_to_fraction: self.drop_to_fraction,
        }
    }

    /// Problems as (key, message), for the config loader.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        crate::ingest::schedule::validate_cron(&self.sweep_schedule).map_err(|e| ("detect.sweep_schedule", e))?;
        if !(1..=400).contains(&self.lookback_days) {
            return Err(("detect.lookback_days", "must be between 1 and 400".into()));
        }
        let f = &self.floors;
        if !(f.min_daily_impact >= 0.0 && f.min_percent_impact >= 0.0) {
            return Err(("detect.floors", "floors must be zero or positive numbers".into()));
        }
        self.severity.validate().map_err(|e| ("detect.severity", e))?;
        if !(0.0..=1.0).contains(&self.drop_to_fraction) {
            return Err(("detect.drop_to_fraction", "must be between 0 and 1".into()));
        }
        let d = &self.detector;
        let m = &d.model;
        let unit = |x: f64| x > 0.0 && x <= 1.0;
        if !(unit(m.alpha) && unit(m.gamma_daily) && unit(m.gamma_weekly) && unit(m.scale_rate)) {
            return Err((
                "detect.detector.model",
                "alpha, gamma_daily, gamma_weekly and scale_rate must be in (0, 1]".into(),
            ));
        }
        if !(m.huber_k > 0.0 && m.min_scale_ratio >= 0.0 && m.min_slot_secs > 0) {
            return Err((
                "detect.detector.model",
                "huber_k and min_slot_secs must be positive, min_scale_ratio >= 0".into(),
            ));
        }
        if !(d.z_open > 0.0 && d.z_close > 0.0 && d.z_close <= d.z_open && d.cusum_limit > 0.0 && d.cusum_drift >= 0.0)
        {
            return Err(("detect.detector", "need z_open >= z_close > 0, cusum_limit > 0, cusum_drift >= 0".into()));
        }
        if d.resolve_points == 0 {
            return Err(("detect.detector.resolve_points", "must be at least 1".into()));
        }
        for key in &self.tag_keys {
            if key.is_empty() || key.len() > 128 {
                return Err(("detect.tag_keys", format!("'{key}' is not a usable tag key")));
            }
        }
        Ok(())
    }
}

impl SeriesOverride {
    fn matches(&self, s: &SeriesId) -> bool {
        let part = |want: &Option<String>, have: Option<&str>| want.as_deref().is_none_or(|w| Some(w) == have);
        part(&self.provider, s.provider())
            && part(&self.sub_account, s.sub_account())
            && part(&self.service, s.service())
    }
}

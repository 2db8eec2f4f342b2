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
        crate::cron::validate_cron(&self.sweep_schedule).map_err(|e| ("detect.sweep_schedule", e))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn series(provider: &str, service: &str) -> SeriesId {
        SeriesId::Service { provider: provider.into(), sub_account: "a".into(), service: service.into() }
    }

    #[test]
    fn the_first_matching_override_wins_and_can_mute() {
        let settings = DetectSettings {
            overrides: vec![
                SeriesOverride { service: Some("Support".into()), enabled: false, ..SeriesOverride::default() },
                SeriesOverride {
                    provider: Some("gcp".into()),
                    enabled: true,
                    min_daily_impact: Some(500.0),
                    ..SeriesOverride::default()
                },
            ],
            ..DetectSettings::default()
        };
        assert_eq!(settings.floors_for(&series("gcp", "Support")), None);
        let gcp = settings.floors_for(&series("gcp", "BigQuery")).unwrap_or(Floors::NONE);
        assert_eq!((gcp.min_daily_impact, gcp.min_percent_impact), (500.0, 20.0));
        assert_eq!(settings.floors_for(&series("aws", "EC2")), Some(Floors::default()));
        let tag = SeriesId::Tag { key: "team".into(), value: "data".into() };
        assert_eq!(
            settings.floors_for(&tag),
            Some(Floors::default()),
            "provider-less series match only open overrides"
        );
    }

    #[test]
    fn bad_values_name_their_key() {
        let check = |f: fn(&mut DetectSettings)| {
            let mut s = DetectSettings::default();
            f(&mut s);
            s.validate().err().map(|(key, _)| key)
        };
        assert_eq!(check(|_| {}), None);
        assert_eq!(check(|s| s.sweep_schedule = "hourly".into()), Some("detect.sweep_schedule"));
        assert_eq!(check(|s| s.lookback_days = 0), Some("detect.lookback_days"));
        assert_eq!(check(|s| s.floors.min_daily_impact = -1.0), Some("detect.floors"));
        assert_eq!(check(|s| s.severity.high = 1.0), Some("detect.severity"));
        assert_eq!(check(|s| s.drop_to_fraction = 2.0), Some("detect.drop_to_fraction"));
        assert_eq!(check(|s| s.detector.model.alpha = 0.0), Some("detect.detector.model"));
        assert_eq!(check(|s| s.detector.z_close = 9.0), Some("detect.detector"));
        assert_eq!(check(|s| s.detector.resolve_points = 0), Some("detect.detector.resolve_points"));
        assert_eq!(check(|s| s.tag_keys = vec![String::new()]), Some("detect.tag_keys"));
    }
}

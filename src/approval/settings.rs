//! `[approval]` and `[safety]` in config.toml.

use crate::domain::approval::{Mode, Policy};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApprovalSettings {
    /// An approval, and a proposal waiting for one, lapses after this many minutes.
    pub approval_ttl_minutes: u32,
    /// Distinct approvers a high-risk action needs (others need one).
    pub high_risk_approvers: u32,
    /// Real clouds: "dry_run" records what would be done; "live" acts.
    pub mode: String,
    /// Per-provider overrides of `mode`, by provider name, e.g. {"Google Cloud" = "live"}.
    pub provider_modes: std::collections::BTreeMap<String, String>,
    /// The built-in simulated clouds ("live" by default, so the demo closes the loop).
    pub simulated_mode: String,
    /// "Cost recovered" by an action: its excess per hour before the action times this many
    /// hours (how long a runaway would have gone on unnoticed, e.g. over a weekend); 0 means
    /// until the end of the billing month.
    pub recovery_horizon_hours: u32,
    /// When the expiry timer looks for lapsed proposals and approvals (cron, with seconds).
    pub expiry_schedule: String,
}

impl Default for ApprovalSettings {
    fn default() -> Self {
        ApprovalSettings {
            approval_ttl_minutes: 60,
            high_risk_approvers: 2,
            mode: "dry_run".into(),
            provider_modes: Default::default(),
            simulated_mode: "live".into(),
            recovery_horizon_hours: 24,
            expiry_schedule: "30 * * * * *".into(),
        }
    }
}

impl ApprovalSettings {
    /// The policy for real clouds.
    pub fn policy(&self) -> Policy {
        self.policy_for(false, None)
    }

    /// The policy for an action on the simulated clouds (`simulated`) or on a real provider.
    pub fn policy_for(&self, simulated: bool, provider: Option<&str>) -> Policy {
        let mode = if simulated {
            &self.simulated_mode
        } else {
            provider.and_then(|p| self.provider_modes.get(p)).unwrap_or(&self.mode)
        };
        Policy {
            approval_ttl: chrono::Duration::minutes(i64::from(self.approval_ttl_minutes)),
            high_risk_approvers: self.high_risk_approvers as usize,
            mode: if mode == "live" { Mode::Live } else { Mode::DryRun },
        }
    }

    /// Hours of avoided spend credited to an action that succeeded at `now`.
    pub fn recovery_hours(&self, now: chrono::DateTime<chrono::Utc>) -> u32 {
        use chrono::Datelike;
        if self.recovery_horizon_hours > 0 {
            return self.recovery_horizon_hours;
        }
        let (y, m) = if now.month() == 12 { (now.year() + 1, 1) } else { (now.year(), now.month() + 1) };
        let month_end =
            chrono::NaiveDate::from_ymd_opt(y, m, 1).and_then(|d| d.and_hms_opt(0, 0, 0)).map(|t| t.and_utc());
        // Whole hours, rounded up: in the month's last hour there is still that hour to save.
        month_end.map_or(1, |end| u32::try_from(((end - now).num_minutes() + 59) / 60).unwrap_or(0).max(1))
    }

    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.approval_ttl_minutes == 0 {
            return Err(("approval.approval_ttl_minutes", "must be at least 1".into()));
        }
        if !(1..=5).contains(&self.high_risk_approvers) {
            return Err(("approval.high_risk_approvers", "must be between 1 and 5".into()));
        }
        if !matches!(self.mode.as_str(), "dry_run" | "live") {
            return Err(("approval.mode", format!("'{}' is not dry_run or live", self.mode)));
        }
        if self.recovery_horizon_hours > 24 * 31 {
            return Err(("approval.recovery_horizon_hours", "must be between 0 (month end) and 744".into()));
        }
        if let Some((p, m)) = self.provider_modes.iter().find(|(_, m)| !matches!(m.as_str(), "dry_run" | "live")) {
            return Err(("approval.provider_modes", format!("{p}: '{m}' is not dry_run or live")));
        }
        if !matches!(self.simulated_mode.as_str(), "dry_run" | "live") {
            return Err(("approval.simulated_mode", format!("'{}' is not dry_run or live", self.simulated_mode)));
        }
        crate::cron::validate_cron(&self.expiry_schedule).map_err(|e| ("approval.expiry_schedule", e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_resolve_per_cloud() {
        let s = ApprovalSettings {
            provider_modes: [("Google Cloud".to_string(), "live".to_string())].into(),
            ..ApprovalSettings::default()
        };
        assert_eq!(s.policy_for(true, Some("AWS")).mode, Mode::Live, "simulated: live by default");
        assert_eq!(s.policy_for(false, Some("Google Cloud")).mode, Mode::Live);
        assert_eq!(s.policy_for(false, Some("AWS")).mode, Mode::DryRun, "real clouds: dry run by default");
        assert_eq!(s.policy().mode, Mode::DryRun);
        let bad = ApprovalSettings { provider_modes: [("AWS".to_string(), "yolo".to_string())].into(), ..s };
        assert_eq!(bad.validate().err().map(|e| e.0), Some("approval.provider_modes"));
    }

    #[test]
    fn recovery_runs_a_fixed_horizon_or_to_the_month_end() {
        use chrono::TimeZone;
        let at = chrono::Utc.with_ymd_and_hms(2026, 11, 30, 20, 0, 0).single().unwrap_or_default();
        assert_eq!(ApprovalSettings::default().recovery_hours(at), 24);
        let month_end = ApprovalSettings { recovery_horizon_hours: 0, ..ApprovalSettings::default() };
        assert_eq!(month_end.recovery_hours(at), 4);
        let december = chrono::Utc.with_ymd_and_hms(2026, 12, 31, 0, 0, 0).single().unwrap_or_default();
        assert_eq!(month_end.recovery_hours(december), 24);
        // The month's and the year's last hour still has time to save, rounded up.
        let last_hour = chrono::Utc.with_ymd_and_hms(2026, 12, 31, 23, 40, 0).single().unwrap_or_default();
        assert_eq!(month_end.recovery_hours(last_hour), 1);
        let half_past = chrono::Utc.with_ymd_and_hms(2026, 11, 30, 21, 30, 0).single().unwrap_or_default();
        assert_eq!(month_end.recovery_hours(half_past), 3);
    }
}

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
    /// "dry_run" records what would be done; "live" acts.
    pub mode: String,
}

impl Default for ApprovalSettings {
    fn default() -> Self {
        ApprovalSettings { approval_ttl_minutes: 60, high_risk_approvers: 2, mode: "dry_run".into() }
    }
}

impl ApprovalSettings {
    pub fn policy(&self) -> Policy {
        Policy {
            approval_ttl: chrono::Duration::minutes(i64::from(self.approval_ttl_minutes)),
            high_risk_approvers: self.high_risk_approvers as usize,
            mode: if self.mode == "live" { Mode::Live } else { Mode::DryRun },
        }
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
        Ok(())
    }
}

//! What this binary is: version, the git SHA it was built from, and when.

use chrono::{DateTime, Utc};

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// Embedded by build.rs; "unknown" when built outside a git checkout.
pub const GIT_SHA: &str = env!("CG_BUILD_GIT_SHA");
const BUILD_EPOCH: &str = env!("CG_BUILD_EPOCH");

pub fn build_time() -> Option<DateTime<Utc>> {
    BUILD_EPOCH.parse::<i64>().ok().and_then(|s| DateTime::from_timestamp(s, 0))
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct BuildInfo {
    pub version: &'static str,
    pub git_sha: &'static str,
    pub build_time: Option<DateTime<Utc>>,
}

pub fn info() -> BuildInfo {
    BuildInfo { version: VERSION, git_sha: GIT_SHA, build_time: build_time() }
}

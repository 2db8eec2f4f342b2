//! One incident, one anomaly. A looping BigQuery job raises its service's series and the
//! series of the team tag it carries at the same hour; both are the same excess, so people
//! should see one anomaly (the service's, which names the job and can be acted on) with the
//! tag series listed as also affected, one proposal and one notification.

use super::root_cause::Contributor;

/// A tag series' anomaly is explained by a service series' anomaly when they started within
/// one step of each other and that service carries at least this share of the tag's excess.
pub const MIN_SHARE: f64 = 0.5;

/// Whether the tag anomaly (its root causes and start) and the service anomaly (its service
/// name and start) are one incident. Directions are the caller's to match.
pub fn explained_by_service(
    tag_causes: &[Contributor],
    tag_start: i64,
    service: &str,
    service_start: i64,
    step_secs: i64,
) -> bool {
    (tag_start - service_start).abs() <= step_secs
        && tag_causes.iter().any(|c| c.dimension == "service" && c.value == service && c.share >= MIN_SHARE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::money::Total;

    fn cause(dimension: &str, value: &str, share: f64) -> Contributor {
        Contributor { dimension: dimension.into(), value: value.into(), delta: Total::ZERO, share }
    }

    const H: i64 = 3_600;

    #[test]
    fn the_team_tag_of_a_looping_service_is_the_same_incident() {
        let tag = [cause("service", "BigQuery", 0.98), cause("resource", "bquxjob_loop", 0.97)];
        assert!(explained_by_service(&tag, 10 * H, "BigQuery", 10 * H, H));
        assert!(explained_by_service(&tag, 11 * H, "BigQuery", 10 * H, H), "seen an hour apart");
    }

    #[test]
    fn another_time_another_service_or_a_minor_share_is_another_incident() {
        let tag = [cause("service", "BigQuery", 0.98)];
        assert!(!explained_by_service(&tag, 12 * H, "BigQuery", 10 * H, H), "two hours apart");
        assert!(!explained_by_service(&tag, 10 * H, "Cloud Storage", 10 * H, H));
        let minor = [cause("service", "BigQuery", 0.3), cause("service", "Compute Engine", 0.7)];
        assert!(!explained_by_service(&minor, 10 * H, "BigQuery", 10 * H, H));
        assert!(!explained_by_service(&[], 10 * H, "BigQuery", 10 * H, H));
    }
}

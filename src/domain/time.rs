//! Timestamps at the edges: everything inside CostGuard is UTC.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a timestamp (expected RFC 3339, 'YYYY-MM-DD HH:MM:SS' in UTC, or a date)")]
pub struct TimeError(pub String);

/// Accepts RFC 3339 (`2024-09-18T22:00:00Z`, any offset), a zone-less
/// `YYYY-MM-DD HH:MM:SS` / `YYYY-MM-DDTHH:MM:SS` taken as UTC (as FOCUS exports write it),
/// and a bare date meaning its midnight UTC.
pub fn parse_utc(text: &str) -> Result<DateTime<Utc>, TimeError> {
    let t = text.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Ok(dt.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(t, format) {
            return Ok(Utc.from_utc_datetime(&naive));
        }
    }
    if let Ok(date) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Ok(Utc.from_utc_datetime(&date.and_time(chrono::NaiveTime::MIN)));
    }
    Err(TimeError(text.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_shapes_sources_use() {
        let expected = Utc.with_ymd_and_hms(2024, 9, 18, 22, 0, 0).unwrap();
        for text in [
            "2024-09-18 22:00:00",
            "2024-09-18T22:00:00",
            "2024-09-18T22:00:00Z",
            "2024-09-19T00:00:00+02:00",
            "2024-09-18 22:00",
        ] {
            assert_eq!(parse_utc(text).unwrap(), expected, "{text}");
        }
        assert_eq!(parse_utc("2024-09-18").unwrap(), Utc.with_ymd_and_hms(2024, 9, 18, 0, 0, 0).unwrap());
    }

    #[test]
    fn rejects_other_text() {
        for text in ["", "yesterday", "2024-13-01", "18/09/2024", "2024-09-18 25:00:00"] {
            assert!(parse_utc(text).is_err(), "{text}");
        }
    }
}

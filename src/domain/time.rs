//! Timestamps at the edges: everything inside CostGuard is UTC.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a timestamp (expected RFC 3339, 'YYYY-MM-DD HH:MM:SS' in UTC, or a date)")]
pub struct TimeError(pub String);

/// What [`parse_utc`] accepts, for the OpenAPI document: an RFC 3339 time or a date
/// (YYYY-MM-DD, midnight UTC).
pub fn accepted_schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
    use utoipa::openapi::schema::{AnyOfBuilder, KnownFormat, ObjectBuilder, SchemaFormat, Type};
    let string =
        |format| ObjectBuilder::new().schema_type(Type::String).format(Some(SchemaFormat::KnownFormat(format)));
    AnyOfBuilder::new()
        .item(string(KnownFormat::DateTime))
        .item(string(KnownFormat::Date))
        .description(Some("An RFC 3339 time, or a date (midnight UTC)"))
        .into()
}

/// Accepts RFC 3339 (`2024-09-18T22:00:00Z`, any offset), a zone-less
/// `YYYY-MM-DD HH:MM:SS` / `YYYY-MM-DDTHH:MM:SS` taken as UTC (as FOCUS exports write it),
/// and a bare date meaning its midnight UTC.
pub fn parse_utc(text: &str) -> Result<DateTime<Utc>, TimeError> {
    let t = text.trim();
    if let Some(fast) = parse_plain(t) {
        return Ok(fast);
    }
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

/// The shape billing exports write millions of times, `YYYY-MM-DD HH:MM:SS` (or with `T`,
/// optionally ending in `Z`), read without chrono's format interpreter. Anything else,
/// including out-of-range values, falls through to the general parser.
fn parse_plain(t: &str) -> Option<DateTime<Utc>> {
    let b = t.as_bytes();
    let b = match b.len() {
        19 => b,
        20 if b[19] == b'Z' => &b[..19],
        _ => return None,
    };
    let separators = b[4] == b'-' && b[7] == b'-' && (b[10] == b' ' || b[10] == b'T') && b[13] == b':' && b[16] == b':';
    if !separators {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        b[range].iter().try_fold(0u32, |acc, &d| d.is_ascii_digit().then(|| acc * 10 + u32::from(d - b'0')))
    };
    let date = NaiveDate::from_ymd_opt(i32::try_from(number(0..4)?).ok()?, number(5..7)?, number(8..10)?)?;
    let time = chrono::NaiveTime::from_hms_opt(number(11..13)?, number(14..16)?, number(17..19)?)?;
    Some(Utc.from_utc_datetime(&date.and_time(time)))
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
    fn the_fast_path_agrees_with_chrono() {
        for text in ["2024-02-29 23:59:59", "1999-12-31T00:00:00", "2026-11-22T04:00:00Z", "0001-01-01 00:00:00"] {
            let slow = NaiveDateTime::parse_from_str(
                text.trim_end_matches('Z'),
                if text.contains('T') { "%Y-%m-%dT%H:%M:%S" } else { "%Y-%m-%d %H:%M:%S" },
            )
            .unwrap();
            assert_eq!(parse_plain(text), Some(Utc.from_utc_datetime(&slow)), "{text}");
        }
        for text in [
            "2023-02-29 00:00:00",
            "2024-01-01 24:00:00",
            "2024-1-01 00:00:00",
            "2024-01-01 00:00:0x",
            "2024-01-01+00:00:00",
        ] {
            assert_eq!(parse_plain(text), None, "{text}");
        }
    }

    #[test]
    fn rejects_other_text() {
        for text in ["", "yesterday", "2024-13-01", "18/09/2024", "2024-09-18 25:00:00"] {
            assert!(parse_utc(text).is_err(), "{text}");
        }
    }
}

/// The calendar month (UTC) holding `t`: a charge's billing period when the provider does
/// not say.
pub fn billing_month(t: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    use chrono::Datelike;
    let first = |y: i32, m: u32| Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0).single().unwrap_or(t);
    let (y, m) = if t.month() == 12 { (t.year() + 1, 1) } else { (t.year(), t.month() + 1) };
    (first(t.year(), t.month()), first(y, m))
}

#[cfg(test)]
mod billing_month_tests {
    use super::*;

    #[test]
    fn december_runs_into_january() {
        let t = Utc.with_ymd_and_hms(2026, 12, 31, 23, 0, 0).unwrap();
        let (start, end) = billing_month(t);
        assert_eq!(start, Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap());
        assert_eq!(end, Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap());
    }
}

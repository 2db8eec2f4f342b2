//! Schemas for what the API accepts as text, so the OpenAPI document states the real rules
//! (a value list, a date or a time) instead of "a string": client generators and contract
//! testers (schemathesis in CI) then send what the server takes, and nothing else passes.

use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::{RefOr, Schema};

fn one_of(values: &[&str], description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values.iter().copied()))
        .description(Some(description))
        .into()
}

/// A time (RFC 3339) or a date, as every period parameter takes.
pub use crate::domain::time::accepted_schema as date_or_time;

/// [`date_or_time`], or null (meaning the default).
pub fn date_or_time_or_null() -> RefOr<Schema> {
    utoipa::openapi::schema::AnyOfBuilder::new()
        .item(date_or_time())
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .into()
}

/// An optional whole number however JSON spells it: `7` and `7.0` are the same number to JSON
/// Schema (and to clients that only have floats), so both are taken; `7.5` is refused.
pub fn whole_number<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: TryFrom<u64>,
{
    use serde::de::Error;
    use serde::Deserialize;
    let Some(n) = Option::<serde_json::Number>::deserialize(d)? else { return Ok(None) };
    let whole =
        n.as_u64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= 4e9).map(|f| f as u64));
    whole
        .and_then(|w| T::try_from(w).ok())
        .map(Some)
        .ok_or_else(|| D::Error::custom(format!("{n} is not a whole number in range")))
}

/// A list's `limit`.
pub fn limit() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
        .minimum(Some(1))
        .maximum(Some(1000))
        .description(Some("At most this many (default 100)"))
        .into()
}

pub fn anomaly_state() -> RefOr<Schema> {
    one_of(&["open", "resolved"], "open or resolved")
}

pub fn granularity() -> RefOr<Schema> {
    one_of(&["hour", "day", "month"], "hour, day or month")
}

pub fn cost_group_by() -> RefOr<Schema> {
    one_of(&["provider", "service", "sub_account", "region", "resource", "sku"], "the dimension to group by")
}

pub fn llm_group_by() -> RefOr<Schema> {
    one_of(&["provider", "model", "api_key", "project"], "the dimension to group by")
}

pub fn feedback_kind() -> RefOr<Schema> {
    one_of(&["expected", "false_positive", "confirmed"], "the verdict")
}

/// One FOCUS record as `POST /api/v1/costs` takes it, built from the ledger's own column list
/// (so the document cannot drift from the parser): required columns required, amounts as
/// exact decimal strings or JSON numbers, times as [`date_or_time`], Tags an object.
pub struct FocusRecord;

impl utoipa::PartialSchema for FocusRecord {
    fn schema() -> RefOr<Schema> {
        use crate::domain::focus::{ColumnKind, COLUMNS};
        let decimal = || -> RefOr<Schema> {
            utoipa::openapi::schema::AnyOfBuilder::new()
                .item(ObjectBuilder::new().schema_type(Type::Number))
                .item(ObjectBuilder::new().schema_type(Type::String).pattern(Some(r"^-?[0-9]+(\.[0-9]+)?$")))
                .into()
        };
        let mut record = ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some("A FOCUS 1.0 record with FOCUS column names; amounts are kept exact"));
        for column in COLUMNS {
            let schema: RefOr<Schema> = match column.kind {
                ColumnKind::Text => {
                    ObjectBuilder::new().schema_type(Type::String).min_length(Some(1)).max_length(Some(1024)).into()
                }
                ColumnKind::Money | ColumnKind::Decimal => decimal(),
                ColumnKind::Timestamp => date_or_time(),
                ColumnKind::Tags => ObjectBuilder::new()
                    .schema_type(Type::Object)
                    .additional_properties(Some(ObjectBuilder::new().schema_type(Type::String)))
                    .into(),
            };
            record = record.property(column.name, schema);
            if column.required {
                record = record.required(column.name);
            }
        }
        record.into()
    }
}

impl utoipa::ToSchema for FocusRecord {}

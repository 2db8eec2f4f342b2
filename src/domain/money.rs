//! Exact money: an integer count of 10^-11 currency units plus an ISO 4217 code.
//!
//! Why 10^-11 and not nano (10^-9): billing exports carry 10–11 decimals, and in the
//! FinOps FOCUS sample 439 of 1,000 `BilledCost` values have non-zero 10th/11th decimals,
//! which nano-units would silently round. An i64 at this scale holds ±92 million per
//! record, far above any single line item; sums use i128. Values finer than 10^-11
//! (e.g. GCP's FLOAT64 costs) are rounded half-to-even, which is the only rounding here.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Decimal places kept for every amount.
pub const SCALE: u32 = 11;
/// Units per whole currency unit (10^SCALE).
pub const UNITS_PER_WHOLE: i64 = 100_000_000_000;

/// An exact amount in 10^-11 currency units (currency carried separately).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Amount(i64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("'{0}' is not a decimal number")]
    NotANumber(String),
    #[error("'{0}' is too large (an amount must stay within ±92,233,720)")]
    OutOfRange(String),
    #[error("'{0}' is not a three-letter ISO 4217 currency code")]
    BadCurrency(String),
}

impl Amount {
    pub const ZERO: Amount = Amount(0);

    pub const fn from_units(units: i64) -> Self {
        Amount(units)
    }

    pub const fn units(self) -> i64 {
        self.0
    }

    /// Whole currency units, e.g. `Amount::from_whole(5)` is 5.00.
    pub fn from_whole(whole: i64) -> Option<Self> {
        whole.checked_mul(UNITS_PER_WHOLE).map(Amount)
    }

    /// Parses a decimal literal such as `12`, `-0.00001605990`, `4.1370E-7` or `1e3`.
    pub fn parse(text: &str) -> Result<Self, MoneyError> {
        let units = parse_scaled(text.trim(), SCALE).ok_or_else(|| MoneyError::NotANumber(text.to_string()))?;
        i64::try_from(units).map(Amount).map_err(|_| MoneyError::OutOfRange(text.to_string()))
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_scaled(i128::from(self.0), SCALE))
    }
}

impl FromStr for Amount {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Amount::parse(s)
    }
}

/// A sum of amounts: wide enough that no realistic ledger overflows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Total(i128);

impl Total {
    pub const ZERO: Total = Total(0);

    pub const fn from_units(units: i128) -> Self {
        Total(units)
    }

    pub const fn units(self) -> i128 {
        self.0
    }

    pub fn plus(self, other: Total) -> Total {
        Total(self.0 + other.0)
    }

    /// Whole currency units as a float: for Prometheus gauges only, never for sums or storage.
    pub fn approx_whole(self) -> f64 {
        self.0 as f64 / UNITS_PER_WHOLE as f64
    }
}

impl fmt::Display for Total {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_scaled(self.0, SCALE))
    }
}

impl Serialize for Amount {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// How every amount appears in the API: an exact decimal string (never a JSON number, which
/// clients would read as a float), named `Decimal` in the OpenAPI document.
impl utoipa::PartialSchema for Total {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(r"^-?[0-9]+(\.[0-9]+)?$"))
            .description(Some("An exact decimal amount, in the currency given beside it"))
            .examples([serde_json::json!("12.50")])
            .into()
    }
}

impl utoipa::ToSchema for Total {
    fn name() -> std::borrow::Cow<'static, str> {
        "Decimal".into()
    }
}

impl Serialize for Total {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Serializes a stored amount (an i64 of 1e-11 units) as an exact decimal string, as the API
/// shows every amount.
pub fn serialize_units<S: serde::Serializer>(units: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&Amount(*units))
}

/// [`serialize_units`] for an optional amount.
pub fn serialize_units_opt<S: serde::Serializer>(units: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
    match units {
        Some(u) => serialize_units(u, s),
        None => s.serialize_none(),
    }
}

impl<'de> Deserialize<'de> for Total {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        parse_scaled(text.trim(), SCALE)
            .map(Total)
            .ok_or_else(|| serde::de::Error::custom(format!("'{text}' is not a decimal number")))
    }
}

/// ISO 4217 alphabetic code, upper case.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency(String);

impl Currency {
    pub fn parse(text: &str) -> Result<Self, MoneyError> {
        let code = text.trim();
        if code.len() == 3 && code.bytes().all(|b| b.is_ascii_alphabetic()) {
            Ok(Currency(code.to_ascii_uppercase()))
        } else {
            Err(MoneyError::BadCurrency(text.to_string()))
        }
    }

    pub fn usd() -> Self {
        Currency("USD".to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Currency {
    type Error = MoneyError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Currency::parse(&value)
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> Self {
        c.0
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parses a decimal literal into an integer scaled by 10^scale, rounding half-to-even.
/// Returns None for anything that is not a plain decimal (with optional exponent).
pub fn parse_scaled(text: &str, scale: u32) -> Option<i128> {
    let (negative, rest) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(i) => (&rest[..i], rest[i + 1..].parse::<i32>().ok()?),
        None => (rest, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (int_part.is_empty() && frac_part.is_empty()) || !all_digits(int_part) || !all_digits(frac_part) {
        return None;
    }
    // digits * 10^(shift) where shift = exponent - frac_len + scale; read in place (this runs
    // for every amount of every imported row, so it allocates nothing).
    let digits = || int_part.bytes().chain(frac_part.bytes()).skip_while(|b| *b == b'0').map(|b| i128::from(b - b'0'));
    let len = digits().count();
    let shift = i64::from(exponent) - frac_part.len() as i64 + i64::from(scale);
    let value = if len == 0 {
        0
    } else if shift >= 0 {
        let shift = u32::try_from(shift).ok().filter(|s| *s < 40)?;
        let read = digits().try_fold(0i128, |acc, d| acc.checked_mul(10)?.checked_add(d))?;
        read.checked_mul(10i128.checked_pow(shift)?)?
    } else {
        round_half_even(digits, len, usize::try_from(-shift).ok()?)?
    };
    Some(if negative { -value } else { value })
}

/// Drops the last `cut` of the `len` digits `digits` yields, rounding half-to-even.
fn round_half_even<I: Iterator<Item = i128>>(digits: impl Fn() -> I, len: usize, cut: usize) -> Option<i128> {
    if cut > len {
        // Everything is below the first dropped place, which is a zero: the result is 0.
        return Some(0);
    }
    let kept = len - cut;
    let kept_value = digits().take(kept).try_fold(0i128, |acc, d| acc.checked_mul(10)?.checked_add(d))?;
    let mut dropped = digits().skip(kept);
    let first = dropped.next().unwrap_or(0);
    let rest_nonzero = dropped.any(|d| d != 0);
    let round_up = first > 5 || (first == 5 && (rest_nonzero || kept_value % 2 == 1));
    Some(kept_value + i128::from(round_up))
}

/// Formats an integer scaled by 10^scale as a plain decimal without trailing zeros
/// beyond two places ("12.50", "0.00001605990" -> "0.0000160599").
pub fn format_scaled(value: i128, scale: u32) -> String {
    let divisor = 10i128.pow(scale);
    let sign = if value < 0 { "-" } else { "" };
    let abs = value.unsigned_abs();
    let whole = abs / divisor.unsigned_abs();
    let frac = abs % divisor.unsigned_abs();
    let mut frac_text = format!("{frac:0width$}", width = scale as usize);
    while frac_text.len() > 2 && frac_text.ends_with('0') {
        frac_text.pop();
    }
    format!("{sign}{whole}.{frac_text}")
}

/// An exact amount as text ("4.1243545141") as people read it ("4.12", "12,347.00"); None
/// when the text is not an amount.
pub fn for_reading(text: &str) -> Option<String> {
    parse_scaled(text.trim(), SCALE).map(|v| format_display(v, 2))
}

/// For people: rounded half away from zero to `decimals` places, with thousands separators
/// ("1,234.57"). Storage and sums stay exact; only what is shown is rounded.
pub fn format_display(value: i128, decimals: u32) -> String {
    let drop = 10u128.pow(SCALE.saturating_sub(decimals));
    let abs = value.unsigned_abs();
    let rounded = (abs + drop / 2) / drop;
    let unit = 10u128.pow(decimals.min(SCALE));
    let (whole, frac) = (rounded / unit, rounded % unit);
    let digits = whole.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if value < 0 && rounded > 0 { "-" } else { "" };
    if decimals == 0 {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped}.{frac:0width$}", width = decimals as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn display_rounds_and_groups() {
        let u = |whole: i128, cents: i128| whole * 100_000_000_000 + cents * 1_000_000_000;
        assert_eq!(format_display(u(1234, 56) + 600_000_000, 2), "1,234.57");
        assert_eq!(format_display(u(999, 99) + 500_000_000, 2), "1,000.00");
        assert_eq!(format_display(-u(1_234_567, 0), 0), "-1,234,567");
        assert_eq!(format_display(-1, 2), "0.00");
        assert_eq!(format_display(0, 2), "0.00");
    }

    #[test]
    fn parses_focus_style_values_exactly() {
        assert_eq!(Amount::parse("0.00001605990").unwrap().units(), 1_605_990);
        assert_eq!(Amount::parse("4.1370E-7").unwrap().units(), 41_370);
        assert_eq!(Amount::parse("-0.00000764078").unwrap().units(), -764_078);
        assert_eq!(Amount::parse("2").unwrap().units(), 200_000_000_000);
        assert_eq!(Amount::parse("1e3").unwrap().to_string(), "1000.00");
        assert_eq!(Amount::parse(".5").unwrap().to_string(), "0.50");
    }

    #[test]
    fn rounds_half_to_even_below_the_scale() {
        assert_eq!(Amount::parse("0.000000000005").unwrap().units(), 0);
        assert_eq!(Amount::parse("0.000000000015").unwrap().units(), 2);
        assert_eq!(Amount::parse("0.0000000000151").unwrap().units(), 2);
        assert_eq!(Amount::parse("0.000000000025").unwrap().units(), 2);
        assert_eq!(Amount::parse("0.0000000000250001").unwrap().units(), 3);
        assert_eq!(Amount::parse("1e-20").unwrap().units(), 0);
        assert_eq!(Amount::parse("9e-12").unwrap().units(), 1);
    }

    #[test]
    fn rejects_garbage_and_overflow() {
        for bad in ["", "-", "abc", "1.2.3", "1,5", "1e", "0x10", "NaN", "inf", " 1 2"] {
            assert!(Amount::parse(bad).is_err(), "{bad:?} should be rejected");
        }
        assert!(matches!(Amount::parse("100000000"), Err(MoneyError::OutOfRange(_))));
        assert!(Amount::parse("1e400").is_err());
    }

    #[test]
    fn formats_with_at_least_two_places() {
        assert_eq!(Amount::from_units(1_605_990).to_string(), "0.0000160599");
        assert_eq!(Amount::from_units(-150_000_000_000).to_string(), "-1.50");
        assert_eq!(Amount::ZERO.to_string(), "0.00");
        assert_eq!(Total::from_units(i128::from(i64::MAX) * 4).to_string(), "368934881.47419103228");
    }

    #[test]
    fn currency_is_three_letters() {
        assert_eq!(Currency::parse("usd").unwrap().as_str(), "USD");
        assert!(Currency::parse("US").is_err());
        assert!(Currency::parse("US1").is_err());
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(units in any::<i64>()) {
            let amount = Amount::from_units(units);
            prop_assert_eq!(Amount::parse(&amount.to_string()).unwrap(), amount);
        }
    }
}

//! Token prices per provider and model, to estimate what LLM usage costs before the
//! provider's billed cost arrives. Pure and exact: prices are decimal text per million tokens.

use super::money::Amount;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Price per million tokens, as decimal text ("2.50").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub input: String,
    pub cached_input: String,
    pub output: String,
}

/// Model name (or prefix) to price.
pub type PriceTable = BTreeMap<String, Price>;

/// The price of the longest model name in the table that `model` starts with, so
/// "gpt-4o-mini-2024-07-18" takes "gpt-4o-mini" and not "gpt-4o".
pub fn price_for<'a>(table: &'a PriceTable, model: &str) -> Option<&'a Price> {
    table.iter().filter(|(name, _)| model.starts_with(name.as_str())).max_by_key(|(name, _)| name.len()).map(|(_, p)| p)
}

/// Checks every price parses; the error names the model and field.
pub fn validate(table: &PriceTable) -> Result<(), String> {
    for (model, p) in table {
        for (field, text) in [("input", &p.input), ("cached_input", &p.cached_input), ("output", &p.output)] {
            Amount::parse(text).map_err(|e| format!("{model}.{field}: '{text}': {e}"))?;
        }
    }
    Ok(())
}

/// Prompt-cache writes (Anthropic's), which cost more than plain input: by its published
/// pricing, 1.25 times the base input price for 5-minute writes and twice it for 1-hour ones.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheWrites {
    pub five_minute: i64,
    pub one_hour: i64,
}

/// Uncached input, cached input and output tokens at `price`, rounded to the nearest unit.
/// `input` includes the cached tokens, as both providers' reports count them.
pub fn estimate(price: &Price, input: i64, cached: i64, output: i64) -> Option<Amount> {
    estimate_with_writes(price, input, cached, output, CacheWrites::default())
}

/// As [`estimate`], where `input` also includes the cache `writes`.
pub fn estimate_with_writes(
    price: &Price,
    input: i64,
    cached: i64,
    output: i64,
    writes: CacheWrites,
) -> Option<Amount> {
    let per = |text: &str| Amount::parse(text).ok().map(|a| i128::from(a.units()));
    let base = per(&price.input)?;
    let uncached = i128::from((input - cached - writes.five_minute - writes.one_hour).max(0));
    // In quarters, so the 1.25 multiple stays exact until the one rounding at the end.
    let quarters = 4
        * (uncached * base + i128::from(cached) * per(&price.cached_input)? + i128::from(output) * per(&price.output)?)
        + 5 * i128::from(writes.five_minute) * base
        + 8 * i128::from(writes.one_hour) * base;
    i64::try_from((quarters + 2_000_000) / 4_000_000).ok().map(Amount::from_units)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(i: &str, c: &str, o: &str) -> Price {
        Price { input: i.into(), cached_input: c.into(), output: o.into() }
    }

    #[test]
    fn the_longest_prefix_wins() {
        let table: PriceTable =
            [("gpt-4o".to_string(), p("2.50", "1.25", "10")), ("gpt-4o-mini".to_string(), p("0.15", "0.075", "0.60"))]
                .into();
        assert_eq!(price_for(&table, "gpt-4o-mini-2024-07-18").unwrap().input, "0.15");
        assert_eq!(price_for(&table, "gpt-4o-2024-08-06").unwrap().input, "2.50");
        assert!(price_for(&table, "o1").is_none());
    }

    #[test]
    fn a_million_tokens_cost_the_list_price_exactly() {
        let price = p("3", "0.30", "15");
        assert_eq!(estimate(&price, 1_000_000, 0, 0), Amount::parse("3").ok());
        assert_eq!(estimate(&price, 1_000_000, 1_000_000, 1_000_000), Amount::parse("15.30").ok());
        // 1,234 uncached input, 100 cached, 56 output tokens.
        assert_eq!(estimate(&price, 1_334, 100, 56), Amount::parse("0.004572").ok());
        assert!(validate(&[("m".to_string(), p("x", "1", "1"))].into()).unwrap_err().contains("m.input"));
    }

    #[test]
    fn cache_writes_cost_a_quarter_or_all_of_input_more() {
        let price = p("3", "0.30", "15");
        let writes = |five_minute, one_hour| CacheWrites { five_minute, one_hour };
        // A million input tokens of which 400k were 5-minute and 200k 1-hour cache writes:
        // 400k at $3, 400k at $3.75, 200k at $6.
        assert_eq!(estimate_with_writes(&price, 1_000_000, 0, 0, writes(400_000, 200_000)), Amount::parse("3.90").ok());
        assert_eq!(estimate_with_writes(&price, 10, 0, 0, writes(0, 0)), estimate(&price, 10, 0, 0));
        // One 5-minute write token: $0.00000375, exact.
        assert_eq!(estimate_with_writes(&price, 1, 0, 0, writes(1, 0)), Amount::parse("0.00000375").ok());
    }
}

//! The pure cost model: every value is a function of (seed, line, hour), so a backfill and
//! a live run produce the same numbers, and the same seed always gives the same ledger.
//! Floats only shape the generated rates; amounts become exact integers before storage.

use super::catalog::{Line, Shape};
use super::incidents::{Effect, Incident};
use crate::domain::focus::{CostRecord, DecimalText, Tags};
use crate::domain::llm::LlmUsage;
use crate::domain::money::{Amount, Currency, UNITS_PER_WHOLE};
use crate::ingest::Batch;
use chrono::{DateTime, Datelike, Duration, DurationRound, TimeZone, Timelike, Utc, Weekday};
use std::collections::HashMap;

/// splitmix64: a fast, well-mixed hash; the simulator's only source of "randomness".
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A deterministic value in [-1, 1], triangular around 0.
pub fn noise(seed: u64, stream: u64, hour: i64) -> f64 {
    let a = mix(seed ^ mix(stream.wrapping_mul(0x1000_0000_01b3) ^ hour as u64));
    let b = mix(a);
    let unit = |x: u64| (x >> 11) as f64 / (1u64 << 53) as f64;
    unit(a) + unit(b) - 1.0
}

/// Growth is anchored to a fixed date so it does not depend on when the simulator started.
fn growth_factor(shape: &Shape, hour: DateTime<Utc>) -> f64 {
    let anchor = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().unwrap_or(hour);
    let months = (hour - anchor).num_hours() as f64 / (24.0 * 30.0);
    (1.0 + shape.growth).powf(months)
}

/// The mean-relative level of a line at an hour: daily and weekly seasonality, growth, noise.
pub fn level(shape: &Shape, seed: u64, stream: u64, hour: DateTime<Utc>) -> f64 {
    let phase = (f64::from(hour.hour()) - 15.0) / 24.0 * std::f64::consts::TAU;
    let diurnal = 1.0 + shape.diurnal * phase.cos();
    let weekly = if matches!(hour.weekday(), Weekday::Sat | Weekday::Sun) { shape.weekend } else { 1.0 };
    let noise = 1.0 + shape.noise * noise(seed, stream, hour.timestamp() / 3600);
    (diurnal * weekly * growth_factor(shape, hour) * noise).max(0.0)
}

fn usd(value: f64) -> Amount {
    // Round to 1e-10 USD: finer than any bill, and keeps the last digit honest.
    Amount::from_units(((value * 1e10).round() as i64).saturating_mul(UNITS_PER_WHOLE / 10_000_000_000))
}

/// Hours of `[from, to)` that overlap `[start, end)`.
fn overlap_hours(from: DateTime<Utc>, to: DateTime<Utc>, start: DateTime<Utc>, end: Option<DateTime<Utc>>) -> f64 {
    let lo = from.max(start);
    let hi = end.map_or(to, |e| to.min(e));
    if hi <= lo {
        0.0
    } else {
        (hi - lo).num_milliseconds() as f64 / 3_600_000.0
    }
}

/// Everything generation needs besides the hour range.
pub struct World<'a> {
    pub seed: u64,
    pub lines: &'a [Line],
    pub incidents: &'a [Incident],
    /// Resource id -> simulated time it was stopped.
    pub stops: &'a HashMap<String, DateTime<Utc>>,
}

fn record(line: &Line, hour: DateTime<Utc>, cost: Amount, quantity: f64) -> CostRecord {
    let (billing_start, billing_end) = crate::domain::time::billing_month(hour);
    let resource = line.resource;
    CostRecord {
        availability_zone: None,
        billed_cost: cost,
        billing_account_id: line.billing_account.0.to_string(),
        billing_account_name: Some(line.billing_account.1.to_string()),
        billing_currency: Currency::usd(),
        billing_period_end: billing_end,
        billing_period_start: billing_start,
        charge_category: "Usage".into(),
        charge_class: None,
        charge_description: Some(format!("{} {}", line.service, line.sku)),
        charge_frequency: Some("Usage-Based".into()),
        charge_period_end: hour + Duration::hours(1),
        charge_period_start: hour,
        commitment_discount_category: None,
        commitment_discount_id: None,
        commitment_discount_name: None,
        commitment_discount_status: None,
        commitment_discount_type: None,
        consumed_quantity: DecimalText::parse(&format!("{quantity:.6}")).ok(),
        consumed_unit: Some(line.unit.to_string()),
        contracted_cost: Some(cost),
        contracted_unit_price: None,
        effective_cost: cost,
        invoice_issuer_name: Some(line.provider.to_string()),
        list_cost: Some(cost),
        list_unit_price: None,
        pricing_category: Some("Standard".into()),
        pricing_quantity: DecimalText::parse(&format!("{quantity:.6}")).ok(),
        pricing_unit: Some(line.unit.to_string()),
        provider_name: line.provider.to_string(),
        publisher_name: Some(line.provider.to_string()),
        region_id: Some(line.region.to_string()),
        region_name: Some(line.region.to_string()),
        resource_id: resource.map(|r| r.0.to_string()),
        resource_name: resource.map(|r| r.2.to_string()),
        resource_type: resource.map(|r| format!("{:?}", r.1)),
        service_category: Some(line.category.to_string()),
        service_name: line.service.to_string(),
        sku_id: Some(line.sku.to_string()),
        sku_price_id: None,
        sub_account_id: Some(line.sub_account.0.to_string()),
        sub_account_name: Some(line.sub_account.1.to_string()),
        tags: Tags::from_pairs([("team", line.team), ("env", line.env)]),
    }
}

/// Generates every hourly record from the hour containing `from` up to `now` (the hour
/// containing `now` is partial: its cost so far). Records with no usage are left out.
pub fn generate(world: &World<'_>, from: DateTime<Utc>, now: DateTime<Utc>) -> Batch {
    let mut batch = Batch::default();
    let Ok(mut hour) = from.duration_trunc(Duration::hours(1)) else { return batch };
    while hour < now {
        let seen_until = now.min(hour + Duration::hours(1));
        for (index, line) in world.lines.iter().enumerate() {
            generate_line(world, &mut batch, line, index as u64, hour, seen_until);
        }
        for (index, incident) in world.incidents.iter().enumerate() {
            if let Effect::ExtraLine { line, hourly_usd } = &incident.effect {
                let stop = line.resource.and_then(|r| world.stops.get(r.0)).copied();
                let end = [incident.end, stop].into_iter().flatten().min();
                let hours = overlap_hours(hour, seen_until, incident.start, end);
                if hours > 0.0 {
                    let level = level(&line.shape, world.seed, 10_000 + index as u64, hour);
                    batch.costs.push(record(line, hour, usd(hourly_usd * hours * level), hours));
                }
            }
        }
        hour += Duration::hours(1);
    }
    batch
}

fn generate_line(
    world: &World<'_>,
    batch: &mut Batch,
    line: &Line,
    stream: u64,
    hour: DateTime<Utc>,
    seen_until: DateTime<Utc>,
) {
    let stop = line.resource.and_then(|r| world.stops.get(r.0)).copied();
    let active = overlap_hours(hour, seen_until, hour, stop);
    if active <= 0.0 {
        return;
    }
    let level = level(&line.shape, world.seed, stream, hour);
    let Some(key) = &line.llm else {
        batch.costs.push(record(line, hour, usd(line.hourly_usd * active * level), active));
        return;
    };
    // Token lines: the level scales tokens; a runaway incident multiplies them while it lasts.
    let mut effective_hours = active;
    for incident in world.incidents {
        if let Effect::TokenMultiplier { key_id, factor } = incident.effect {
            if key_id == key.key_id {
                effective_hours += (factor - 1.0)
                    * overlap_hours(hour, seen_until.min(stop.unwrap_or(seen_until)), incident.start, incident.end);
            }
        }
    }
    let input = (key.input_tokens_per_hour * level * effective_hours).round();
    let cached = (input * 0.3).round();
    let output = (input * 0.25).round();
    let cost_usd =
        ((input - cached) * key.prices.input + cached * key.prices.cached_input + output * key.prices.output) / 1e6;
    let cost = usd(cost_usd);
    batch.costs.push(record(line, hour, cost, input + output));
    batch.llm_usage.push(LlmUsage {
        provider: line.provider.to_ascii_lowercase(),
        model: key.model.to_string(),
        api_key_id: key.key_id.to_string(),
        api_key_name: Some(key.key_name.to_string()),
        project_id: line.sub_account.0.to_string(),
        bucket_start: hour,
        bucket_end: hour + Duration::hours(1),
        input_tokens: input as i64,
        cached_input_tokens: cached as i64,
        output_tokens: output as i64,
        requests: (input / 1_500.0).ceil() as i64,
        cost: Some(cost),
        currency: Currency::usd(),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_is_deterministic_and_bounded() {
        for h in 0..1000 {
            let n = noise(7, 3, h);
            assert_eq!(n, noise(7, 3, h));
            assert!((-1.0..=1.0).contains(&n));
        }
        assert_ne!(noise(7, 3, 1), noise(8, 3, 1));
    }

    #[test]
    fn weekends_and_nights_differ_for_office_lines() {
        let shape = Shape { diurnal: 0.6, weekend: 0.25, growth: 0.0, noise: 0.0 };
        let weekday_peak = Utc.with_ymd_and_hms(2026, 11, 18, 15, 0, 0).unwrap();
        let weekend_peak = Utc.with_ymd_and_hms(2026, 11, 21, 15, 0, 0).unwrap();
        let night = Utc.with_ymd_and_hms(2026, 11, 18, 3, 0, 0).unwrap();
        assert!((level(&shape, 1, 1, weekday_peak) - 1.6).abs() < 1e-9);
        assert!((level(&shape, 1, 1, weekend_peak) - 0.4).abs() < 1e-9);
        assert!(level(&shape, 1, 1, night) < 0.5);
    }
}

//! Root causes: which SKU, resource, region, unit or tag value carries an anomaly's excess.
//!
//! Each dimension partitions the series' cost (missing values count as "(none)"), so within a
//! dimension the contributions add up to the whole excess. The baseline of each value is its
//! average per point over a reference period before the anomaly; its contribution is what it
//! cost during the anomaly minus that average times the anomaly's points.
//!
//! A dimension with a single value across the series (its own service, a region everything
//! runs in, the team tag of a team's series) explains everything and says nothing, so it is
//! left out.

use crate::domain::money::Total;
use serde::{Deserialize, Serialize};

/// Amount sums in the ledger's exact units (1e-11 of a currency unit).
pub type Units = i128;

/// One dimension value's cost in the reference period and during the anomaly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Breakdown {
    pub dimension: String,
    pub value: String,
    pub reference: Units,
    pub incident: Units,
}

/// One root cause, as stored with the anomaly and shown to people.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Contributor {
    /// service, sub_account, sku, resource, region, unit, or tag:<key>.
    pub dimension: String,
    pub value: String,
    /// Cost during the anomaly minus its usual cost over the same number of points.
    #[schema(value_type = String, example = "512.25")]
    pub delta: Total,
    /// delta as a fraction of the anomaly's whole excess (0..1 for the main causes; negative
    /// when the value went the other way).
    pub share: f64,
}

/// Dimension order, used to break ties so the most actionable dimension comes first.
pub const DIMENSIONS: [&str; 6] = ["service", "sub_account", "sku", "resource", "region", "unit"];

fn rank(dimension: &str) -> usize {
    DIMENSIONS.iter().position(|d| *d == dimension).unwrap_or(DIMENSIONS.len())
}

/// The top `limit` contributors in the direction of the anomaly (`up`: the largest increases).
pub fn contributors(
    rows: &[Breakdown],
    reference_points: u32,
    incident_points: u32,
    up: bool,
    limit: usize,
) -> Vec<Contributor> {
    if reference_points == 0 || incident_points == 0 {
        return Vec::new();
    }
    let delta = |b: &Breakdown| b.incident - b.reference * Units::from(incident_points) / Units::from(reference_points);
    let mut values_per_dimension: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for b in rows {
        *values_per_dimension.entry(b.dimension.as_str()).or_default() += 1;
    }
    // When no dimension discriminates (a series made of one service, one SKU, ...), the
    // single values are the whole story, so they are kept.
    let any_informative = values_per_dimension.values().any(|n| *n > 1);
    let informative =
        |b: &&Breakdown| !any_informative || values_per_dimension.get(b.dimension.as_str()).is_some_and(|n| *n > 1);
    // Every dimension partitions the same cost; the first one present gives the total.
    let total: Units = match rows.first() {
        Some(first) => rows.iter().filter(|b| b.dimension == first.dimension).map(delta).sum(),
        None => 0,
    };
    let mut all: Vec<Contributor> = rows
        .iter()
        .filter(informative)
        .map(|b| {
            let d = delta(b);
            Contributor {
                dimension: b.dimension.clone(),
                value: b.value.clone(),
                delta: Total::from_units(d),
                share: if total != 0 { d as f64 / total as f64 } else { 0.0 },
            }
        })
        .filter(|c| if up { c.delta.units() > 0 } else { c.delta.units() < 0 })
        .collect();
    // Largest share first, to the nearest 5% so that near-equal explanations are ordered by
    // how actionable their dimension is (a service before the account it runs in), then the
    // exact amount.
    let bucket = |c: &Contributor| (c.share * 20.0).floor() as i64;
    all.sort_by(|a, b| {
        let (ka, kb) = if up { (b.delta, a.delta) } else { (a.delta, b.delta) };
        bucket(b)
            .cmp(&bucket(a))
            .then_with(|| rank(&a.dimension).cmp(&rank(&b.dimension)))
            .then_with(|| ka.cmp(&kb))
            .then_with(|| a.value.cmp(&b.value))
    });
    all.truncate(limit);
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(dimension: &str, value: &str, reference: Units, incident: Units) -> Breakdown {
        Breakdown { dimension: dimension.into(), value: value.into(), reference, incident }
    }

    #[test]
    fn the_value_carrying_the_excess_comes_first_with_its_share() {
        // Reference: 10 points; incident: 2 points.
        let rows = vec![
            b("region", "US", 1_000, 1_200),
            b("service", "BigQuery", 600, 1_150),
            b("service", "Storage", 400, 50),
            b("sku", "Analysis", 500, 1_100),
            b("sku", "Storage", 500, 100),
            b("resource", "job-1", 0, 1_000),
            b("resource", "(none)", 1_000, 200),
        ];
        let top = contributors(&rows, 10, 2, true, 10);
        // Whole excess: 1200 - 1000*2/10 = 1000. BigQuery: 1150 - 120 = 1030.
        assert_eq!((top[0].dimension.as_str(), top[0].value.as_str()), ("service", "BigQuery"));
        assert_eq!(top[0].delta.units(), 1_030);
        assert!((top[0].share - 1.03).abs() < 1e-12);
        assert_eq!(top[1].dimension, "sku", "ties go to the earlier dimension");
        assert_eq!((top[1].value.as_str(), top[1].delta.units()), ("Analysis", 1_000));
        assert_eq!((top[2].value.as_str(), top[2].delta.units()), ("job-1", 1_000));
        assert_eq!(top.len(), 3, "values that fell are not causes of a rise, and the single region says nothing");
    }

    #[test]
    fn drops_rank_the_largest_falls() {
        let rows = vec![b("region", "eu", 600, 0), b("region", "us", 400, 0)];
        let top = contributors(&rows, 10, 1, false, 10);
        assert_eq!(top.iter().map(|c| c.value.as_str()).collect::<Vec<_>>(), ["eu", "us"]);
        assert!((top[0].share - 0.6).abs() < 1e-12);
    }

    #[test]
    fn a_series_with_no_discriminating_dimension_keeps_its_single_values() {
        let rows = vec![b("service", "OpenAI API", 100, 300), b("region", "global", 100, 300)];
        let top = contributors(&rows, 10, 1, true, 10);
        assert_eq!(top.iter().map(|c| c.dimension.as_str()).collect::<Vec<_>>(), ["service", "region"]);
    }

    #[test]
    fn limit_and_degenerate_inputs() {
        let rows: Vec<Breakdown> = (0..20).map(|i| b("resource", &format!("r{i:02}"), 0, 10 + i)).collect();
        assert_eq!(contributors(&rows, 5, 1, true, 10).len(), 10);
        assert_eq!(contributors(&rows, 0, 1, true, 10), vec![]);
        assert_eq!(contributors(&[], 5, 1, true, 10), vec![]);
    }

    #[test]
    fn contributors_round_trip_through_json_exactly() {
        let c = Contributor {
            dimension: "sku".into(),
            value: "x".into(),
            delta: Total::from_units(12_345_678_901_234_567_890),
            share: 0.5,
        };
        let text = serde_json::to_string(&c).unwrap_or_default();
        assert!(text.contains("\"123456789.0123456789\""), "{text}");
        assert_eq!(serde_json::from_str::<Contributor>(&text).ok(), Some(c));
    }
}

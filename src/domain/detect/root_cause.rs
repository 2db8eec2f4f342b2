//! Root causes: which SKU, resource, region, unit or tag value carries an anomaly's excess.
//!
//! Each dimension partitions the series' cost (missing values count as "(none)"), so within a
//! dimension the contributions add up to the whole excess. The whole excess is the anomaly's
//! cost over what the detector *expected* for those points (its seasonal baseline, not the raw
//! week before, which may hold last week's incident). That expectation is shared out among a
//! dimension's values by their part of the cost in a clean reference period (hours of other
//! anomalies and suppressions left out by the caller); a value's contribution is what it cost
//! during the anomaly minus its part of the expectation. A job that did not run in the
//! reference period is expected to cost nothing, so a new looping job carries its whole cost.
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
    /// delta as a fraction of the anomaly's whole excess over its expectation (in (0, 1] for
    /// the causes of a rise; the causes listed in one dimension add up to about 1).
    pub share: f64,
}

/// Dimension order among causes that carry about the same share: the most actionable first
/// (a job or an instance can be stopped; a SKU names what it bought; a service the bill line;
/// the account, region and unit only say where).
pub const DIMENSIONS: [&str; 6] = ["resource", "sku", "service", "sub_account", "region", "unit"];

/// Causes carrying at least this fraction of the largest share count as the main causes,
/// ordered by dimension; below it, by share.
const MAIN_CAUSE: f64 = 0.9;

fn rank(dimension: &str) -> usize {
    DIMENSIONS.iter().position(|d| *d == dimension).unwrap_or(DIMENSIONS.len())
}

/// The top `limit` contributors in the direction of the anomaly (`up`: the largest increases).
/// `expected` is what the detector expected over the anomaly's points, in the same units and
/// over the same span as the rows' `incident` amounts.
pub fn contributors(rows: &[Breakdown], expected: Units, up: bool, limit: usize) -> Vec<Contributor> {
    let Some(first) = rows.first() else { return Vec::new() };
    // Every dimension partitions the same cost; the first one present gives the totals.
    let in_first = || rows.iter().filter(|b| b.dimension == first.dimension);
    let (reference_total, incident_total): (Units, Units) =
        in_first().fold((0, 0), |(r, i), b| (r + b.reference, i + b.incident));
    let total = incident_total - expected;
    if total == 0 {
        return Vec::new();
    }
    // Each value's part of the expectation: its part of the clean reference, or (with no
    // reference at all) its part of the anomaly's own cost.
    let expected_of = |b: &Breakdown| match reference_total {
        0 if incident_total != 0 => b.incident * expected / incident_total,
        0 => 0,
        r => b.reference * expected / r,
    };
    let delta = |b: &Breakdown| b.incident - expected_of(b);
    let mut values_per_dimension: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for b in rows {
        *values_per_dimension.entry(b.dimension.as_str()).or_default() += 1;
    }
    // When no dimension discriminates (a series made of one service, one SKU, ...), the
    // single values are the whole story, so they are kept.
    let any_informative = values_per_dimension.values().any(|n| *n > 1);
    let informative =
        |b: &&Breakdown| !any_informative || values_per_dimension.get(b.dimension.as_str()).is_some_and(|n| *n > 1);
    let mut all: Vec<Contributor> = rows
        .iter()
        .filter(informative)
        .map(|b| {
            let d = delta(b);
            Contributor {
                dimension: b.dimension.clone(),
                value: b.value.clone(),
                delta: Total::from_units(d),
                share: d as f64 / total as f64,
            }
        })
        .filter(|c| if up { c.delta.units() > 0 } else { c.delta.units() < 0 })
        .collect();
    // The main causes (about the largest share: a job and the SKU it bought usually explain
    // the same excess) first, the most actionable dimension first among them; then the rest
    // by share; then the exact amount.
    let best = all.iter().map(|c| c.share).fold(0.0, f64::max);
    let main = |c: &Contributor| c.share >= MAIN_CAUSE * best;
    all.sort_by(|a, b| {
        let (ka, kb) = if up { (b.delta, a.delta) } else { (a.delta, b.delta) };
        main(b)
            .cmp(&main(a))
            .then_with(|| if main(a) { rank(&a.dimension).cmp(&rank(&b.dimension)) } else { std::cmp::Ordering::Equal })
            .then_with(|| b.share.total_cmp(&a.share))
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
        // The detector expected 1000 over the anomaly; it cost 2000. A new job carries it.
        let rows = vec![
            b("region", "US", 10_000, 2_000),
            b("service", "BigQuery", 6_000, 1_600),
            b("service", "Storage", 4_000, 400),
            b("sku", "Analysis", 5_000, 1_500),
            b("sku", "Storage", 5_000, 500),
            b("resource", "job-1", 0, 1_000),
            b("resource", "(none)", 10_000, 1_000),
        ];
        let top = contributors(&rows, 1_000, true, 10);
        let at = |v: &str| top.iter().find(|c| c.value == v).unwrap_or_else(|| panic!("{v} in {top:?}"));
        // BigQuery: 1600 - 6000/10000 * 1000 = 1000 of an excess of 1000.
        assert_eq!(at("BigQuery").delta.units(), 1_000);
        assert!((at("job-1").share - 1.0).abs() < 1e-12, "a job absent from the reference carries its cost");
        assert!((at("Analysis").share - 1.0).abs() < 1e-12);
        assert_eq!(top[0].value, "job-1", "among equal shares the job comes first: it can be stopped");
        assert_eq!(top[1].dimension, "sku");
        assert_eq!(top.len(), 3, "values that fell are not causes of a rise, and the single region says nothing");
    }

    #[test]
    fn a_contaminated_week_left_out_by_the_caller_no_longer_inflates_the_reference() {
        // Clean reference: the usual job only. The anomaly: usual 100 + a new loop 500,
        // expected 100. The loop's share is its cost over the excess: 1.
        let rows = vec![b("resource", "usual", 2_400, 100), b("resource", "loop", 0, 500)];
        let top = contributors(&rows, 100, true, 10);
        assert_eq!((top[0].value.as_str(), top[0].delta.units()), ("loop", 500));
        assert!((top[0].share - 1.0).abs() < 1e-12);
        assert!(top.iter().all(|c| c.share > 0.0 && c.share <= 1.0 + 1e-9), "{top:?}");
    }

    #[test]
    fn the_shares_of_one_dimension_add_up_to_the_whole_excess() {
        let rows = vec![
            b("resource", "a", 300, 200),
            b("resource", "b", 300, 450),
            b("resource", "c", 400, 350),
            b("resource", "d", 0, 150),
        ];
        let expected = 900;
        let all = contributors(&rows, expected, true, 10);
        let rising: f64 = all.iter().map(|c| c.share).sum();
        // Rising values carry at least the whole excess (falling ones give some back).
        assert!(rising >= 1.0 - 1e-9, "{all:?}");
        let exact: Units = rows.iter().map(|r| r.incident - r.reference * expected / 1_000).sum();
        assert_eq!(exact, 1_150 - 900);
    }

    #[test]
    fn drops_rank_the_largest_falls() {
        let rows = vec![b("region", "eu", 600, 0), b("region", "us", 400, 0)];
        let top = contributors(&rows, 100, false, 10);
        assert_eq!(top.iter().map(|c| c.value.as_str()).collect::<Vec<_>>(), ["eu", "us"]);
        assert!((top[0].share - 0.6).abs() < 1e-12);
    }

    #[test]
    fn a_series_with_no_discriminating_dimension_keeps_its_single_values() {
        let rows = vec![b("service", "OpenAI API", 100, 300), b("region", "global", 100, 300)];
        let top = contributors(&rows, 100, true, 10);
        assert_eq!(top.iter().map(|c| c.dimension.as_str()).collect::<Vec<_>>(), ["service", "region"]);
    }

    #[test]
    fn a_job_carrying_nearly_all_of_the_excess_leads_its_sku() {
        // The looping job carries 97 %; its SKU a little more (other queries grew too).
        let rows = vec![
            b("sku", "Analysis", 1_000, 4_300),
            b("sku", "Storage", 100, 100),
            b("resource", "loop", 0, 3_200),
            b("resource", "(none)", 1_100, 1_200),
        ];
        let top = contributors(&rows, 1_100, true, 10);
        assert_eq!((top[0].dimension.as_str(), top[0].value.as_str()), ("resource", "loop"), "{top:?}");
        assert_eq!(top[1].value, "Analysis");
    }

    #[test]
    fn without_any_clean_reference_the_expectation_is_shared_by_cost() {
        let rows = vec![b("resource", "a", 0, 300), b("resource", "b", 0, 100)];
        let top = contributors(&rows, 200, true, 10);
        assert_eq!(top.iter().map(|c| c.delta.units()).collect::<Vec<_>>(), [150, 50]);
    }

    #[test]
    fn limit_and_degenerate_inputs() {
        let rows: Vec<Breakdown> = (0..20).map(|i| b("resource", &format!("r{i:02}"), 0, 10 + i)).collect();
        assert_eq!(contributors(&rows, 5, true, 10).len(), 10);
        assert_eq!(contributors(&rows, 390, true, 10), vec![], "no excess, no cause");
        assert_eq!(contributors(&[], 5, true, 10), vec![]);
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

//! From Cost Explorer results to FOCUS records. Pure: no client, no clock.

use crate::domain::focus::{CostRecord, Tags, Usage};
use crate::domain::money::{Amount, Currency};
use aws_sdk_costexplorer::types::{MetricValue, ResultByTime};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};

/// Cost Explorer's SERVICE value for EC2 instance hours (the resource-level pass).
pub const EC2_COMPUTE: &str = "Amazon Elastic Compute Cloud - Compute";

/// A finer split of a (period, account, service) line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Split {
    Tag((String, String)),
    Resource(String),
}

/// One group of one period.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub estimated: bool,
    /// Cost Explorer's SERVICE value.
    pub service: String,
    pub account: String,
    pub split: Option<Split>,
    pub unblended: Amount,
    pub amortized: Amount,
    pub currency: String,
}

/// FOCUS ServiceName for Cost Explorer's SERVICE values that differ (CE splits EC2 in two).
fn focus_service(ce: &str) -> &str {
    match ce {
        EC2_COMPUTE | "EC2 - Other" => "Amazon Elastic Compute Cloud",
        other => other,
    }
}

fn parse_period(text: &str) -> Option<DateTime<Utc>> {
    crate::domain::time::parse_utc(text).ok()
}

fn amount(metrics: Option<&HashMap<String, MetricValue>>, name: &str) -> (Amount, String) {
    let value = metrics.and_then(|m| m.get(name));
    let parsed = value.and_then(|v| v.amount()).and_then(|a| Amount::parse(a).ok()).unwrap_or(Amount::ZERO);
    (parsed, value.and_then(|v| v.unit()).unwrap_or("USD").to_string())
}

/// Every group of every period; `keys` turns a group's keys into (service, account, split),
/// None to skip it. Pages can split one period's groups, so they are simply concatenated.
pub fn lines(
    results: &[ResultByTime],
    keys: impl Fn(&[String]) -> Option<(String, String, Option<Split>)>,
) -> Vec<Line> {
    let mut out = Vec::new();
    for result in results {
        let Some(period) = result.time_period() else { continue };
        let (Some(start), Some(end)) = (parse_period(period.start()), parse_period(period.end())) else { continue };
        for group in result.groups() {
            let Some((service, account, split)) = keys(group.keys()) else { continue };
            let (unblended, currency) = amount(group.metrics(), "UnblendedCost");
            let (amortized, _) = amount(group.metrics(), "AmortizedCost");
            out.push(Line {
                start,
                end,
                estimated: result.estimated(),
                service,
                account,
                split,
                unblended,
                amortized,
                currency,
            });
        }
    }
    out
}

/// Replaces each coarse line that has finer lines by those lines plus what they leave over.
/// The remainder keeps the coarse line's identity (even at zero), so a coarse row stored by
/// an earlier run is overwritten instead of counted beside its refinement.
pub fn refine(coarse: Vec<Line>, fine: Vec<Line>) -> Vec<Line> {
    let key = |l: &Line| (l.start, l.account.clone(), l.service.clone());
    let mut by_key: BTreeMap<_, Vec<Line>> = BTreeMap::new();
    for line in fine {
        by_key.entry(key(&line)).or_default().push(line);
    }
    let mut out = Vec::new();
    for line in coarse {
        let (start, account, service) = key(&line);
        let Some(finer) = by_key.remove(&(start, account, service)) else {
            out.push(line);
            continue;
        };
        // An unsplit fine line (untagged cost) is what the remainder stands for.
        let finer: Vec<Line> = finer.into_iter().filter(|l| l.split.is_some()).collect();
        let sum = |f: fn(&Line) -> Amount| finer.iter().map(|l| f(l).units()).sum::<i64>();
        let remainder = Line {
            unblended: Amount::from_units(line.unblended.units() - sum(|l| l.unblended)),
            amortized: Amount::from_units(line.amortized.units() - sum(|l| l.amortized)),
            ..line
        };
        out.extend(finer);
        out.push(remainder);
    }
    out
}

impl Line {
    /// The FOCUS record; `billing_account` empty: the linked account stands for itself.
    pub fn record(&self, billing_account: &str) -> anyhow::Result<CostRecord> {
        let billing = if billing_account.is_empty() { self.account.as_str() } else { billing_account };
        let (tags, resource) = match &self.split {
            Some(Split::Tag((k, v))) => (Tags::from_pairs([(k.as_str(), v.as_str())]), None),
            Some(Split::Resource(id)) => (Tags::default(), Some(id.clone())),
            None => (Tags::default(), None),
        };
        let usage = Usage {
            provider: "AWS",
            billing_account_id: billing.to_string(),
            sub_account_id: Some(self.account.clone()),
            service_name: focus_service(&self.service).to_string(),
            currency: Currency::parse(&self.currency).map_err(|e| anyhow::anyhow!("{e}"))?,
            start: self.start,
            end: self.end,
            billed_cost: self.unblended,
            effective_cost: self.amortized,
        };
        Ok(CostRecord {
            charge_description: Some(self.service.clone()),
            invoice_issuer_name: Some("Amazon Web Services, Inc.".into()),
            publisher_name: Some("Amazon Web Services, Inc.".into()),
            resource_type: resource.as_ref().map(|_| "Instance".to_string()),
            resource_id: resource,
            tags,
            ..CostRecord::usage(usage)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn line(service: &str, split: Option<Split>, cost: i64) -> Line {
        Line {
            start: Utc.with_ymd_and_hms(2026, 11, 20, 3, 0, 0).unwrap(),
            end: Utc.with_ymd_and_hms(2026, 11, 20, 4, 0, 0).unwrap(),
            estimated: false,
            service: service.into(),
            account: "111111111111".into(),
            split,
            unblended: Amount::from_whole(cost).unwrap(),
            amortized: Amount::from_whole(cost).unwrap(),
            currency: "USD".into(),
        }
    }

    #[test]
    fn refinement_keeps_the_total_and_the_coarse_identity() {
        let coarse = vec![line(EC2_COMPUTE, None, 10), line("Amazon S3", None, 3)];
        let fine = vec![line(EC2_COMPUTE, Some(Split::Resource("i-1".into())), 7)];
        let out = refine(coarse, fine);
        let total: i64 = out.iter().map(|l| l.unblended.units()).sum();
        assert_eq!(total, Amount::from_whole(13).unwrap().units());
        assert_eq!(out.len(), 3);
        let remainder = out.iter().find(|l| l.service == EC2_COMPUTE && l.split.is_none()).unwrap();
        assert_eq!(remainder.unblended, Amount::from_whole(3).unwrap());
        let keys: std::collections::HashSet<_> = out.iter().map(|l| l.record("").unwrap().key()).collect();
        assert_eq!(keys.len(), 3, "every refined row has its own identity");
        assert_eq!(
            line(EC2_COMPUTE, None, 1).record("").unwrap().key(),
            remainder.record("").unwrap().key(),
            "the remainder overwrites the coarse row"
        );
    }

    #[test]
    fn ec2_names_map_to_focus_and_days_parse() {
        assert_eq!(focus_service(EC2_COMPUTE), "Amazon Elastic Compute Cloud");
        assert_eq!(focus_service("Amazon S3"), "Amazon S3");
        assert_eq!(parse_period("2026-11-20"), Utc.with_ymd_and_hms(2026, 11, 20, 0, 0, 0).single());
        assert_eq!(parse_period("2026-11-20T05:00:00Z"), Utc.with_ymd_and_hms(2026, 11, 20, 5, 0, 0).single());
    }
}

//! Scripted incidents, placed relative to the simulator's epoch (its first start), so a
//! newcomer finds them in the backfilled history and sees one begin live.

use super::catalog::{self, Line, ResourceKind, Shape};
use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Utc, Weekday};

#[derive(Debug, Clone)]
pub enum Effect {
    /// A resource of its own (a looping job, a forgotten instance) billing `hourly_usd`.
    ExtraLine { line: Box<Line>, hourly_usd: f64 },
    /// The named key's token use multiplied by `factor`.
    TokenMultiplier { key_id: &'static str, factor: f64 },
}

#[derive(Debug, Clone)]
pub struct Incident {
    pub id: &'static str,
    pub title: &'static str,
    pub start: DateTime<Utc>,
    /// None: until someone stops its resource.
    pub end: Option<DateTime<Utc>>,
    pub effect: Effect,
}

impl Incident {
    pub fn resource_id(&self) -> Option<&'static str> {
        match &self.effect {
            Effect::ExtraLine { line, .. } => line.resource.map(|r| r.0),
            Effect::TokenMultiplier { key_id, .. } => Some(key_id),
        }
    }
}

/// The latest `weekday` at `hour`:00 UTC that is not after `not_after`.
pub fn last_weekday_at(not_after: DateTime<Utc>, weekday: Weekday, hour: u32) -> DateTime<Utc> {
    let mut date = not_after.date_naive();
    while date.weekday() != weekday {
        date = date.pred_opt().unwrap_or(date);
    }
    let at = Utc.from_utc_datetime(&date.and_time(NaiveTime::from_hms_opt(hour, 0, 0).unwrap_or(NaiveTime::MIN)));
    if at > not_after {
        at - Duration::weeks(1)
    } else {
        at
    }
}

const NO_SHAPE: Shape = Shape { diurnal: 0.0, weekend: 1.0, growth: 0.0, noise: 0.03 };

fn bigquery_job(job_id: &'static str) -> Line {
    Line {
        provider: catalog::GCP,
        billing_account: ("01A2B3-C4D5E6-F7A8B9", "Northwind Labs"),
        sub_account: catalog::GCP_ANALYTICS,
        service: "BigQuery",
        category: "Analytics",
        region: "US",
        sku: "Analysis",
        unit: "tebibyte",
        resource: Some((job_id, ResourceKind::BigqueryJob, "scheduled query: sessionize_events")),
        hourly_usd: 0.0,
        shape: NO_SHAPE,
        team: "data",
        env: "prod",
        llm: None,
    }
}

/// The history incidents and, when `live_after` is given, the live one.
pub fn plan(epoch: DateTime<Utc>, live_after: Option<DateTime<Utc>>) -> Vec<Incident> {
    let saturday = last_weekday_at(epoch - Duration::days(3), Weekday::Sat, 2);
    let tuesday = last_weekday_at(epoch - Duration::days(8), Weekday::Tue, 14);
    let friday = last_weekday_at(epoch - Duration::days(12), Weekday::Fri, 18);
    let wednesday = last_weekday_at(epoch - Duration::days(20), Weekday::Wed, 9);
    let mut incidents = vec![
        Incident {
            id: "bigquery-saturday-loop",
            title: "A scheduled BigQuery query loops from 02:00 on a Saturday, scanning 80 TiB an hour",
            start: saturday,
            end: Some(saturday + Duration::hours(31)),
            // 83 TiB/h at $6.25/TiB
            effect: Effect::ExtraLine { line: Box::new(bigquery_job("bquxjob_5f1c2a9e_saturday_loop")), hourly_usd: 518.75 },
        },
        Incident {
            id: "llm-key-runaway",
            title: "The support agent's OpenAI key loops on a tool call: 30x its usual tokens",
            start: tuesday,
            end: Some(tuesday + Duration::hours(7)),
            effect: Effect::TokenMultiplier { key_id: catalog::RUNAWAY_KEY, factor: 30.0 },
        },
        Incident {
            id: "ec2-gpu-forgotten",
            title: "A p4d.24xlarge left running over a weekend in the ML sandbox",
            start: friday,
            end: Some(friday + Duration::hours(63)),
            effect: Effect::ExtraLine {
                line: Box::new(Line {
                    provider: catalog::AWS,
                    billing_account: ("111111111111", "Northwind Labs"),
                    sub_account: ("456789012345", "ml-sandbox"),
                    service: "Amazon Elastic Compute Cloud",
                    category: "Compute",
                    region: "us-east-1",
                    sku: "BoxUsage:p4d.24xlarge",
                    unit: "Hrs",
                    resource: Some(("i-0d4e5f6a7b8c90031", ResourceKind::Ec2Instance, "llm-finetune-tmp")),
                    hourly_usd: 0.0,
                    shape: NO_SHAPE,
                    team: "ml",
                    env: "dev",
                    llm: None,
                }),
                hourly_usd: 32.77,
            },
        },
        Incident {
            id: "azure-etl-scale-out",
            title: "An ETL scale-out VM is not scaled back in",
            start: wednesday,
            end: Some(wednesday + Duration::hours(40)),
            effect: Effect::ExtraLine {
                line: Box::new(Line {
                    provider: catalog::AZURE,
                    billing_account: ("8811-northwind-ea", "Northwind EA"),
                    sub_account: catalog::AZ_DATA,
                    service: "Virtual Machines",
                    category: "Compute",
                    region: "westeurope",
                    sku: "E64s v5",
                    unit: "1 Hour",
                    resource: Some((
                        "/subscriptions/c2d4e6f8-1a3b-4c5d-8e9f-0a1b2c3d4e5f/resourceGroups/etl/providers/Microsoft.Compute/virtualMachines/vm-etl-burst-02",
                        ResourceKind::AzureVm,
                        "vm-etl-burst-02",
                    )),
                    hourly_usd: 0.0,
                    shape: NO_SHAPE,
                    team: "data",
                    env: "prod",
                    llm: None,
                }),
                hourly_usd: 4.03,
            },
        },
    ];
    if let Some(start) = live_after {
        incidents.push(Incident {
            id: "bigquery-live-loop",
            title: "Live: a BigQuery job starts looping now and runs until someone cancels it",
            start,
            end: None,
            effect: Effect::ExtraLine { line: Box::new(bigquery_job("bquxjob_7d3e9b21_live_loop")), hourly_usd: 487.5 },
        });
    }
    incidents
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saturday_incident_starts_at_two_on_a_saturday_before_the_epoch() {
        let epoch = Utc.with_ymd_and_hms(2026, 11, 22, 4, 0, 0).unwrap();
        let incidents = plan(epoch, None);
        let sat = incidents.iter().find(|i| i.id == "bigquery-saturday-loop").unwrap();
        assert_eq!(sat.start.weekday(), Weekday::Sat);
        assert_eq!(sat.start.format("%H:%M").to_string(), "02:00");
        assert!(sat.start <= epoch - Duration::days(3));
        assert!(sat.start > epoch - Duration::days(11));
        assert!(incidents.iter().all(|i| i.end.is_some()));
    }

    #[test]
    fn last_weekday_at_is_inclusive() {
        let sat_two = Utc.with_ymd_and_hms(2026, 11, 21, 2, 0, 0).unwrap();
        assert_eq!(last_weekday_at(sat_two, Weekday::Sat, 2), sat_two);
        assert_eq!(last_weekday_at(sat_two - Duration::seconds(1), Weekday::Sat, 2), sat_two - Duration::weeks(1));
    }
}

//! The whole story once per real cloud, against its peer: the peer's cost jumps on one
//! resource, the detective opens an anomaly, the optimizer proposes the action on exactly
//! that resource, an approver approves it over the API, the executor acts on the peer and
//! verification passes.

use crate::helpers::{until, Backend, TestApp};
use crate::peers;
use chrono::{DateTime, Duration, DurationRound, Utc};
use costguard::config::Settings;
use costguard::domain::role::Role;
use serde_json::{json, Value};
use std::time::Duration as Wait;

/// The key the app encrypts credentials with, so the test can store them for it.
const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

fn every_second(settings: &mut Settings) {
    settings.secrets.encryption_key = secrecy::SecretString::from(KEY);
    settings.approval.mode = "live".into();
}

async fn store_credentials(app: &TestApp, provider: &'static str, fields: &[(&'static str, &str)]) {
    let cipher = costguard::credentials::Cipher::from_base64(KEY).unwrap();
    crate::helpers::store_credentials(&app.db, &cipher, provider, fields).await;
}

/// Waits for the proposal on `target`, approves it, and waits for it to succeed.
async fn approve_and_finish(app: &TestApp, kind: &str, target: &str) -> Value {
    let action = until(&format!("a proposal to {kind} {target}"), Wait::from_secs(120), async || {
        let list = app.get_json("/api/v1/actions?status=pending_approval").await;
        list.as_array()?
            .iter()
            .find(|a| a["kind"] == kind && a["target"].as_str().is_some_and(|t| t.eq_ignore_ascii_case(target)))
            .cloned()
    })
    .await;
    let anomaly = app.get_json(&format!("/api/v1/anomalies/{}", action["anomaly_id"].as_str().unwrap())).await;
    assert_eq!(anomaly["state"], "open", "{anomaly}");
    let oncall = app.key("on-call", Role::Approver).await;
    let id = action["id"].as_str().unwrap();
    let body = serde_json::to_vec(&json!({"comment": "stop it"})).unwrap();
    let r = app.post_raw(&format!("/api/v1/actions/{id}/approve"), &oncall, "application/json", body).await;
    assert_eq!(r.status(), 200);
    until("the action to succeed", Wait::from_secs(90), async || {
        let a = app.get_json(&format!("/api/v1/actions/{id}")).await;
        assert!(!["failed", "rejected", "expired"].contains(&a["status"].as_str().unwrap_or("")), "{a}");
        (a["status"] == "succeeded").then_some(a)
    })
    .await
}

fn hours(n: i64) -> Vec<DateTime<Utc>> {
    let now = Utc::now().duration_trunc(Duration::hours(1)).unwrap();
    (0..n).rev().map(|i| now - Duration::hours(i)).collect()
}

/// Dollars per hour with a daily rhythm, as decimal text with 11 places.
fn dollars(base: f64, hour: DateTime<Utc>) -> String {
    let h = f64::from(chrono::Timelike::hour(&hour));
    format!("{:.11}", base * (1.0 + 0.2 * (h / 24.0 * std::f64::consts::TAU).sin()))
}

async fn aws_story(backend: Backend) {
    let Some(aws) = peers::aws::Aws::start().await else { return };
    let steady = crate::ec2::launch(&aws, "m5.large", &[]).await;
    let runaway = crate::ec2::launch(&aws, "p4d.24xlarge", &[]).await;
    let all: Vec<(usize, DateTime<Utc>)> = hours(13 * 24).into_iter().enumerate().collect();
    let last = all.len() - 3;
    let cost = |i: usize, hour| if i >= last { "40.0".to_string() } else { dollars(1.0, hour) };
    let account = "123456789012";
    let ec2 = crate::aws_costs::pages(&all, usize::MAX, all.len(), |i| {
        let total = costguard::domain::money::Amount::parse(&dollars(2.0, all[i].1)).unwrap().units()
            + costguard::domain::money::Amount::parse(&cost(i, all[i].1)).unwrap().units();
        vec![
            (vec!["Amazon Elastic Compute Cloud - Compute".into(), account.into()], total),
            (vec!["Amazon Simple Storage Service".into(), account.into()], 50_000_000_000),
        ]
    });
    let resources = crate::aws_costs::pages(&all, usize::MAX, all.len(), |i| {
        let units = |t: &str| costguard::domain::money::Amount::parse(t).unwrap().units();
        vec![
            (vec![account.into(), steady.clone()], units(&dollars(2.0, all[i].1))),
            (vec![account.into(), runaway.clone()], units(&cost(i, all[i].1))),
        ]
    });
    aws.queue_cost_and_usage(ec2.into_iter().chain([json!({"ResultsByTime": []})]).collect()).await;
    aws.queue_resources(resources);
    let app = TestApp::spawn_with(backend, |s| {
        every_second(s);
        s.providers.aws = costguard::providers::aws::connection::AwsSettings {
            schedule: "* * * * * *".into(),
            resource_level: true,
            backfill_days: 13,
            restate_days: 1,
            ..aws.settings()
        };
    })
    .await;
    store_credentials(&app, "aws", &[("access_key_id", "testing"), ("secret_access_key", "testing")]).await;
    approve_and_finish(&app, "stop_ec2_instance", &runaway).await;
    assert_eq!(crate::ec2::instance(&aws, &runaway).await.0, "stopped");
    assert_eq!(crate::ec2::instance(&aws, &steady).await.0, "running", "only the runaway");
}

async fn gcp_story(backend: Backend) {
    let Some(bq) = peers::bigquery::BigQuery::start().await else { return };
    let history: Vec<peers::bigquery::ExportRow> = hours(10 * 24)
        .into_iter()
        .filter(|h| *h < Utc::now().duration_trunc(Duration::hours(1)).unwrap())
        .map(|hour| peers::bigquery::ExportRow {
            hour,
            project: "analytics-prod",
            service: "BigQuery",
            sku: "Analysis",
            resource: "",
            cost: format!("{:.9}", dollars(2.0, hour).parse::<f64>().unwrap()),
            credit: None,
        })
        .collect();
    bq.export(&history).await;
    // The 2 AM loop: a script whose child queries bill 12 TiB in this hour.
    let script = crate::gcp::SCRIPT;
    bq.start_script("analytics-prod", script, &[("team", "data")], Utc::now() - Duration::minutes(50));
    let now = Utc::now();
    let start = now.duration_trunc(Duration::hours(1)).unwrap();
    for i in 0..12 {
        bq.child("analytics-prod", script, &format!("child_{i}"), start + (now - start) * i / 12, 1 << 40);
    }
    let app = TestApp::spawn_with(backend, |s| {
        every_second(s);
        s.providers.gcp = costguard::providers::gcp::connection::GcpSettings {
            schedule: "*/5 * * * * *".into(),
            jobs_schedule: "* * * * * *".into(),
            backfill_days: 10,
            ..bq.settings()
        };
    })
    .await;
    let target = format!("analytics-prod:US.{script}");
    approve_and_finish(&app, "cancel_bigquery_job", &target).await;
    assert_eq!(bq.job_state("analytics-prod", script), ("DONE".into(), Some("stopped".into())));
}

async fn azure_story(backend: Backend) {
    let arm = peers::arm::Arm::start();
    let vm = crate::azure::VM;
    let other = "/subscriptions/sub-1/resourceGroups/batch-rg/providers/Microsoft.Compute/virtualMachines/render-01";
    arm.add_vm(vm, &[]);
    arm.add_vm(other, &[]);
    let all = hours(10 * 24);
    let last = all.len() - 3;
    let mut usage = Vec::new();
    for (i, hour) in all.iter().enumerate() {
        let runaway = if i >= last { "30.0".to_string() } else { dollars(1.0, *hour) };
        for (id, cost) in [(vm, runaway), (other, dollars(1.5, *hour))] {
            usage.push(peers::arm::Usage {
                date: *hour,
                service: "Virtual Machines".into(),
                resource_id: id.into(),
                cost,
            });
        }
    }
    arm.set_usage(usage);
    let app = TestApp::spawn_with(backend, |s| {
        every_second(s);
        s.providers.azure = costguard::providers::azure::connection::AzureSettings {
            schedule: "* * * * * *".into(),
            granularity: "Hourly".into(),
            ..arm.settings()
        };
    })
    .await;
    store_credentials(&app, "azure", &peers::arm::Arm::credentials()).await;
    approve_and_finish(&app, "deallocate_azure_vm", vm).await;
    assert_eq!(arm.power(vm), "deallocated");
    assert_eq!(arm.power(other), "running");
}

macro_rules! story {
    ($($name:ident),*) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(super::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if crate::helpers::postgres_admin_url().is_some() {
                    super::$name(super::Backend::Postgres).await
                }
            }
        }
    )*};
}

story!(aws_story, gcp_story, azure_story);

/// A runaway agent loop on one Anthropic key: its tokens jump this hour, the detective flags
/// the key's series, the proposal names the key, two approvers approve (disabling a key is
/// high risk), and the key is set inactive and falls silent.
async fn llm_story(backend: Backend) {
    use peers::llm::{Key, LlmApi, Row};
    let api = LlmApi::start();
    let key = "apikey_01Runaway7Agent";
    api.add_key(key, Key { project: "wrkspc_agents", name: "support-agent", status: "active", live: true });
    api.add_key("apikey_01Steady", Key { project: "wrkspc_web", name: "web", status: "active", live: false });
    let all = hours(4 * 24);
    let mut rows = Vec::new();
    for (i, hour) in all.iter().enumerate() {
        let rhythm = 1.0 + 0.2 * (f64::from(chrono::Timelike::hour(hour)) / 24.0 * std::f64::consts::TAU).sin();
        let normal = (400_000.0 * rhythm) as i64;
        let input = if i + 1 == all.len() { 60_000_000 } else { normal };
        rows.push(Row {
            hour: *hour,
            key,
            project: "wrkspc_agents",
            model: "claude-sonnet-4-20250514",
            input,
            cached: input / 10,
            output: input / 5,
        });
        rows.push(Row {
            hour: *hour,
            key: "apikey_01Steady",
            project: "wrkspc_web",
            model: "claude-3-5-haiku-20241022",
            input: normal,
            cached: 0,
            output: normal / 5,
        });
    }
    api.set_rows(rows);
    let app = TestApp::spawn_with(backend, |s| {
        every_second(s);
        let a = &mut s.providers.anthropic;
        (a.enabled, a.endpoint_url, a.schedule, a.backfill_days) = (true, api.url.clone(), "* * * * * *".into(), 4);
    })
    .await;
    store_credentials(&app, "anthropic", &[("admin_key", peers::llm::ADMIN_KEY)]).await;
    let action = until("a proposal to disable the runaway key", Wait::from_secs(120), async || {
        let list = app.get_json("/api/v1/actions?status=pending_approval").await;
        list.as_array()?.iter().find(|a| a["kind"] == "disable_llm_key" && a["target"] == key).cloned()
    })
    .await;
    let id = action["id"].as_str().unwrap();
    for who in ["on-call", "lead"] {
        let approver = app.key(who, Role::Approver).await;
        let body = serde_json::to_vec(&json!({"comment": "kill the loop"})).unwrap();
        let r = app.post_raw(&format!("/api/v1/actions/{id}/approve"), &approver, "application/json", body).await;
        assert_eq!(r.status(), 200);
    }
    until("the key to be disabled and verified", Wait::from_secs(90), async || {
        let a = app.get_json(&format!("/api/v1/actions/{id}")).await;
        assert!(!["failed", "rejected", "expired"].contains(&a["status"].as_str().unwrap_or("")), "{a}");
        (a["status"] == "succeeded").then_some(())
    })
    .await;
    assert_eq!(api.key_status(key), Some("inactive"));
    assert_eq!(api.key_status("apikey_01Steady"), Some("active"), "only the runaway");
}

story!(llm_story);

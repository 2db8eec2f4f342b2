//! The LLM kill switch against the fakes: Anthropic keys set inactive (and active again, the
//! undo), verified by status and by the key's usage stopping; OpenAI project keys deleted
//! (OpenAI cannot pause one), verified gone; a dry run changes nothing; a protected key is
//! refused; a disable interrupted by a crash is verified, not sent again.

use crate::ec2::{approved, live, started};
use crate::helpers::Bare;
use crate::peers::llm::{Key, LlmApi, Row, ADMIN_KEY};
use chrono::{Duration, DurationRound, Utc};
use costguard::approval::ApprovalSettings;
use costguard::domain::approval::safety::SafetyRules;
use costguard::execute::Runner;
use costguard::providers::llm::connection::{Anthropic, LlmSettings, OpenAi};
use costguard::providers::llm::keys::LlmKeyExecutor;
use std::sync::Arc;

const RUNAWAY: &str = "apikey_01Rj2N8SVvo6BePZj99NhmiT";
const OPENAI_KEY: &str = "key_7fQ2runaway";

async fn runner(app: &Bare, api: &LlmApi, approval: ApprovalSettings, rules: SafetyRules) -> Runner {
    let mut anthropic = LlmSettings::<Anthropic>::default();
    anthropic.endpoint_url = api.url.clone();
    let mut openai = LlmSettings::<OpenAi>::default();
    openai.endpoint_url = api.url.clone();
    let a = LlmKeyExecutor::anthropic(&anthropic, app.vault("anthropic", &[("admin_key", ADMIN_KEY)]).await);
    let o = LlmKeyExecutor::openai(&openai, app.vault("openai", &[("admin_key", ADMIN_KEY)]).await);
    Runner::new(app.db.clone(), vec![Arc::new(a), Arc::new(o)], rules, approval)
}

fn runaway(api: &LlmApi) {
    api.add_key(RUNAWAY, Key { project: "wrkspc_agents", name: "support-agent", status: "active", live: true });
}

async fn a_runaway_anthropic_key_is_disabled_and_its_usage_stops(app: Bare) {
    let api = LlmApi::start();
    runaway(&api);
    let action = approved(&app, "disable_llm_key", RUNAWAY, "{}", &live()).await;
    assert_eq!(
        runner(&app, &api, live(), SafetyRules::default()).await.process(&action).await.unwrap().as_str(),
        "succeeded"
    );
    assert_eq!(api.key_status(RUNAWAY), Some("inactive"));
    assert_eq!(api.key_calls().iter().filter(|c| c.starts_with("POST")).count(), 1);

    // The undo.
    let undo = approved(&app, "enable_llm_key", RUNAWAY, "{}", &live()).await;
    assert_eq!(
        runner(&app, &api, live(), SafetyRules::default()).await.process(&undo).await.unwrap().as_str(),
        "succeeded"
    );
    assert_eq!(api.key_status(RUNAWAY), Some("active"));
}

async fn a_dry_run_and_a_protected_key_change_nothing(app: Bare) {
    let api = LlmApi::start();
    runaway(&api);
    let dry = ApprovalSettings::default();
    let action = approved(&app, "disable_llm_key", RUNAWAY, "{}", &dry).await;
    assert_eq!(
        runner(&app, &api, dry, SafetyRules::default()).await.process(&action).await.unwrap().as_str(),
        "dry_run"
    );
    let protected = SafetyRules { deny_resources: vec![RUNAWAY.into()], ..SafetyRules::default() };
    let action = approved(&app, "disable_llm_key", RUNAWAY, "{}", &live()).await;
    assert_eq!(runner(&app, &api, live(), protected).await.process(&action).await.unwrap().as_str(), "rejected");
    assert_eq!(api.key_status(RUNAWAY), Some("active"));
    assert!(!api.key_calls().iter().any(|c| c.starts_with("POST")));
}

async fn a_disable_interrupted_by_a_crash_is_verified_not_sent_again(app: Bare) {
    let api = LlmApi::start();
    runaway(&api);
    let action = approved(&app, "disable_llm_key", RUNAWAY, "{}", &live()).await;
    started(&app, &action, "anthropic").await;
    // The call reached Anthropic; the process died before recording it.
    reqwest::Client::new()
        .post(format!("{}/v1/organizations/api_keys/{RUNAWAY}", api.url))
        .header("x-api-key", ADMIN_KEY)
        .json(&serde_json::json!({"status": "inactive"}))
        .send()
        .await
        .unwrap();
    let before = api.key_calls().len();
    assert_eq!(
        runner(&app, &api, live(), SafetyRules::default()).await.process(&action).await.unwrap().as_str(),
        "succeeded"
    );
    assert!(!api.key_calls()[before..].iter().any(|c| c.starts_with("POST")), "verified first, not sent again");
}

async fn an_openai_key_is_deleted_in_its_project(app: Bare) {
    let api = LlmApi::start();
    api.add_key(OPENAI_KEY, Key { project: "proj_etl", name: "etl-batch", status: "active", live: false });
    let hour = Utc::now().duration_trunc(Duration::hours(1)).unwrap();
    api.set_rows(vec![Row {
        hour,
        key: OPENAI_KEY,
        project: "proj_etl",
        model: "gpt-4o",
        input: 5_000_000,
        cached: 0,
        output: 1_000_000,
    }]);
    let action = approved(&app, "disable_llm_key", OPENAI_KEY, "{}", &live()).await;
    assert_eq!(
        runner(&app, &api, live(), SafetyRules::default()).await.process(&action).await.unwrap().as_str(),
        "succeeded"
    );
    assert_eq!(api.key_status(OPENAI_KEY), None, "deleted: OpenAI cannot pause a key");
    assert_eq!(api.key_calls().iter().filter(|c| c.starts_with("DELETE")).count(), 1);
}

crate::on_both_bare!(
    a_runaway_anthropic_key_is_disabled_and_its_usage_stops,
    a_dry_run_and_a_protected_key_change_nothing,
    a_disable_interrupted_by_a_crash_is_verified_not_sent_again,
    an_openai_key_is_deleted_in_its_project,
);

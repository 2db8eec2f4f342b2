//! OpenAI's and Anthropic's usage APIs against faithful fakes: a backfill then an incremental
//! run hold exactly the tokens the fake holds, with costs estimated from the price table
//! (none for a model without a price); a restated hour updates in place; 429 with
//! Retry-After mid-run ends in the same data; a wrong admin key is a clear error.

use crate::helpers::Bare;
use crate::peers::llm::{cache_writes, Billed, LlmApi, Row, ADMIN_KEY};
use chrono::{DateTime, Duration, DurationRound, Utc};
use costguard::db::DbError;
use costguard::domain::llm_prices::{estimate_with_writes, price_for, CacheWrites};
use costguard::ingest::runner::run_once;
use costguard::ingest::sources::CostSource;
use costguard::providers::llm::anthropic_usage::AnthropicUsage;
use costguard::providers::llm::connection::{Anthropic, LlmSettings, OpenAi, Provider};
use costguard::providers::llm::costs::BilledCosts;
use costguard::providers::llm::openai_usage::OpenAiUsage;

fn hour(back: i64) -> DateTime<Utc> {
    Utc::now().duration_trunc(Duration::hours(1)).unwrap() - Duration::hours(back)
}

fn rows(models: [&'static str; 2], hours: i64, version: i64) -> Vec<Row> {
    let mut out = Vec::new();
    for h in 0..hours {
        for (i, (key, project)) in [("key_batch", "proj_etl"), ("key_chat", "proj_web")].into_iter().enumerate() {
            for (m, model) in models.into_iter().enumerate() {
                let input = 10_000 + h * 1_337 + i as i64 * 500 + m as i64 * 77 + version;
                out.push(Row { hour: hour(h), key, project, model, input, cached: input / 4, output: input / 3 });
            }
        }
    }
    out
}

/// (rows, input tokens, output tokens, summed cost units, rows without a cost) in the ledger.
async fn ledger(app: &Bare, provider: &str) -> (i64, i64, i64, i64, i64) {
    use costguard::db::schema::llm_usage as lu;
    use diesel::prelude::*;
    let provider = provider.to_string();
    let rows: Vec<(i64, i64, Option<i64>)> = app
        .db
        .run(move |c| {
            lu::table
                .filter(lu::provider.eq(provider))
                .select((lu::input_tokens, lu::output_tokens, lu::cost))
                .load(c)
                .map_err(DbError::from)
        })
        .await
        .unwrap();
    let n = rows.len() as i64;
    let input = rows.iter().map(|r| r.0).sum();
    let output = rows.iter().map(|r| r.1).sum();
    let cost = rows.iter().filter_map(|r| r.2).sum();
    (n, input, output, cost, rows.iter().filter(|r| r.2.is_none()).count() as i64)
}

/// What the fake reports as cache writes: Anthropic splits them out, OpenAI does not.
trait Writes {
    fn writes(r: &Row) -> CacheWrites;
}

impl Writes for OpenAi {
    fn writes(_: &Row) -> CacheWrites {
        CacheWrites::default()
    }
}

impl Writes for Anthropic {
    fn writes(r: &Row) -> CacheWrites {
        cache_writes(r)
    }
}

fn row_cost<P: Writes>(settings: &LlmSettings<P>, r: &Row) -> Option<i64> {
    price_for(&settings.prices, r.model)
        .and_then(|p| estimate_with_writes(p, r.input, r.cached, r.output, P::writes(r)))
        .map(|a| a.units())
}

fn expected<P: Writes>(settings: &LlmSettings<P>, rows: &[Row]) -> (i64, i64, i64, i64, i64) {
    let cost = |r: &Row| row_cost(settings, r);
    (
        rows.len() as i64,
        rows.iter().map(|r| r.input).sum(),
        rows.iter().map(|r| r.output).sum(),
        rows.iter().filter_map(cost).sum(),
        rows.iter().filter(|r| cost(r).is_none()).count() as i64,
    )
}

fn settings<P: Provider>(api: &LlmApi) -> LlmSettings<P> {
    let mut s = LlmSettings::<P>::default();
    (s.enabled, s.endpoint_url, s.backfill_days, s.restate_hours, s.max_attempts) = (true, api.url.clone(), 2, 3, 4);
    s
}

/// Backfill (30 hours in pages of 24 buckets), then the last hours restated and a new one.
async fn backfill_restate<S: CostSource>(
    app: &Bare,
    api: &LlmApi,
    source: &S,
    models: [&'static str; 2],
    provider: &str,
    expect: impl Fn(&[Row]) -> (i64, i64, i64, i64, i64),
) {
    let first = rows(models, 30, 0);
    api.set_rows(first.clone());
    run_once(&app.ingestor(), source).await.unwrap();
    assert_eq!(ledger(app, provider).await, expect(&first), "tokens and estimated cost as the API holds them");
    assert!(api.calls() >= 3, "49 hourly buckets need three pages of 24");

    let restated: Vec<Row> = first.iter().filter(|r| r.hour < hour(1)).cloned().chain(rows(models, 2, 999)).collect();
    api.set_rows(restated.clone());
    let summary = run_once(&app.ingestor(), source).await.unwrap();
    assert_eq!(summary.inserted, 0);
    assert_eq!(ledger(app, provider).await, expect(&restated), "the re-read hours updated, nothing duplicated");
}

async fn openai_usage_lands_with_estimated_cost(app: Bare) {
    let api = LlmApi::start();
    let s = settings::<OpenAi>(&api);
    let source = OpenAiUsage::new(s.clone(), app.vault("openai", &[("admin_key", ADMIN_KEY)]).await);
    // gpt-4o-mini has a price; a fine-tune has none and keeps its tokens without a cost.
    backfill_restate(&app, &api, &source, ["gpt-4o-mini-2024-07-18", "ft:gpt-4o:acme::x1"], "openai", |r| {
        expected(&s, r)
    })
    .await;
}

async fn anthropic_usage_lands_with_estimated_cost(app: Bare) {
    let api = LlmApi::start();
    let s = settings::<Anthropic>(&api);
    let source = AnthropicUsage::new(s.clone(), app.vault("anthropic", &[("admin_key", ADMIN_KEY)]).await);
    backfill_restate(
        &app,
        &api,
        &source,
        ["claude-sonnet-4-20250514", "claude-3-5-haiku-20241022"],
        "anthropic",
        |r| expected(&s, r),
    )
    .await;
}

async fn rate_limits_mid_run_end_in_the_same_data(app: Bare) {
    let api = LlmApi::start();
    let s = settings::<Anthropic>(&api);
    let data = rows(["claude-sonnet-4-20250514", "claude-3-5-haiku-20241022"], 30, 0);
    api.set_rows(data.clone());
    api.fail_call(2, LlmApi::rate_limited());
    api.fail_call(3, LlmApi::rate_limited());
    let source = AnthropicUsage::new(s.clone(), app.vault("anthropic", &[("admin_key", ADMIN_KEY)]).await);
    run_once(&app.ingestor(), &source).await.unwrap();
    assert_eq!(ledger(&app, "anthropic").await, expected(&s, &data));
}

async fn a_wrong_admin_key_is_a_clear_error_and_writes_nothing(app: Bare) {
    let api = LlmApi::start();
    api.set_rows(rows(["gpt-4o", "gpt-4o-mini"], 3, 0));
    let source =
        OpenAiUsage::new(settings::<OpenAi>(&api), app.vault("openai", &[("admin_key", "sk-admin-wrong")]).await);
    let error = run_once(&app.ingestor(), &source).await.unwrap_err().to_string();
    assert!(error.contains("401") && error.contains("Incorrect API key"), "{error}");
    assert!(!error.contains("sk-admin-wrong"), "the key is never shown");
    assert_eq!(ledger(&app, "openai").await.0, 0);
}

/// (rows, summed BilledCost) of one provider's FOCUS rows, estimates and billed alike.
async fn focus(app: &Bare, provider: &str) -> (i64, i128) {
    app.ledger(provider).await
}

fn estimate_units<P: Writes>(settings: &LlmSettings<P>, rows: &[Row]) -> i128 {
    rows.iter().filter_map(|r| row_cost(settings, r)).map(i128::from).sum()
}

/// Usage first (estimates), then the billed days: each billed day replaces that day's
/// estimates, the next usage run does not bring them back, and the tokens stay for the
/// estimated-vs-billed comparison.
async fn billed_replace<U: CostSource, B: CostSource, P: Writes>(
    app: &Bare,
    api: &LlmApi,
    s: &LlmSettings<P>,
    usage: &U,
    billed: &B,
    models: [&'static str; 2],
    (provider, focus_provider): (&str, &str),
) {
    let data = rows(models, 30, 0);
    api.set_rows(data.clone());
    run_once(&app.ingestor(), usage).await.unwrap();
    let priced = data.iter().filter(|r| price_for(&s.prices, r.model).is_some()).count() as i64;
    assert_eq!(
        focus(app, focus_provider).await,
        (priced, estimate_units(s, &data)),
        "estimates count in the spend until billed"
    );

    let today = hour(0).duration_trunc(Duration::days(1)).unwrap();
    let mut days: Vec<DateTime<Utc>> =
        data.iter().map(|r| r.hour.duration_trunc(Duration::days(1)).unwrap()).filter(|d| *d < today).collect();
    days.dedup();
    let lines: Vec<Billed> = days
        .iter()
        .flat_map(|d| {
            [
                Billed { day: *d, project: "proj_etl", item: "input tokens", dollars: "41.25" },
                Billed { day: *d, project: "proj_web", item: "output tokens", dollars: "7.123456789" },
            ]
        })
        .collect();
    let billed_units: i128 =
        lines.iter().map(|b| i128::from(costguard::domain::money::Amount::parse(b.dollars).unwrap().units())).sum();
    api.set_billed(lines.clone());
    run_once(&app.ingestor(), billed).await.unwrap();
    let still_estimated: Vec<Row> = data.iter().filter(|r| r.hour >= today).cloned().collect();
    let estimated_rows = still_estimated.iter().filter(|r| price_for(&s.prices, r.model).is_some()).count() as i64;
    let expected = (lines.len() as i64 + estimated_rows, billed_units + estimate_units(s, &still_estimated));
    assert_eq!(
        focus(app, focus_provider).await,
        expected,
        "billed days replace their estimates, today stays estimated"
    );

    run_once(&app.ingestor(), usage).await.unwrap();
    assert_eq!(focus(app, focus_provider).await, expected, "a billed day takes no estimate back");
    assert_eq!(
        ledger(app, provider).await.0,
        data.len() as i64,
        "the tokens stay, so estimate and bill can be compared"
    );
}

async fn openai_billed_costs_replace_the_estimates(app: Bare) {
    let api = LlmApi::start();
    let s = settings::<OpenAi>(&api);
    let vault = app.vault("openai", &[("admin_key", ADMIN_KEY)]).await;
    let (usage, billed) = (OpenAiUsage::new(s.clone(), vault.clone()), BilledCosts::openai(s.clone(), vault));
    billed_replace(&app, &api, &s, &usage, &billed, ["gpt-4o-mini", "ft:gpt-4o:acme::x1"], ("openai", "OpenAI")).await;
}

async fn anthropic_billed_costs_replace_the_estimates(app: Bare) {
    let api = LlmApi::start();
    let s = settings::<Anthropic>(&api);
    let vault = app.vault("anthropic", &[("admin_key", ADMIN_KEY)]).await;
    let (usage, billed) = (AnthropicUsage::new(s.clone(), vault.clone()), BilledCosts::anthropic(s.clone(), vault));
    billed_replace(
        &app,
        &api,
        &s,
        &usage,
        &billed,
        ["claude-sonnet-4-20250514", "claude-3-5-haiku-20241022"],
        ("anthropic", "Anthropic"),
    )
    .await;
}

async fn openai_embeddings_images_and_audio_are_read_beside_completions(app: Bare) {
    let api = LlmApi::start();
    let s = settings::<OpenAi>(&api);
    // Embeddings have input tokens only.
    let tokens: Vec<Row> = rows(["gpt-4o-mini", "text-embedding-3-small"], 5, 0)
        .into_iter()
        .map(|r| if r.model.starts_with("text-embedding") { Row { cached: 0, output: 0, ..r } } else { r })
        .collect();
    // Images, speech and transcription count images, characters and seconds (in `input`).
    let other: Vec<Row> =
        rows(["dall-e-3", "whisper-1"], 5, 0).into_iter().chain(rows(["tts-1", "tts-1-hd"], 1, 0)).collect();
    api.set_rows(tokens.iter().chain(&other).cloned().collect());
    let source = OpenAiUsage::new(s.clone(), app.vault("openai", &[("admin_key", ADMIN_KEY)]).await);
    run_once(&app.ingestor(), &source).await.unwrap();
    let (n, input, output, cost, unpriced) = expected(&s, &tokens);
    let requests: i64 = other.iter().map(|r| r.input / 1000 + 1).sum();
    assert_eq!(
        ledger(&app, "openai").await,
        (n + other.len() as i64, input, output, cost, unpriced + other.len() as i64),
        "one row per key, model and hour of every kind; only tokens are priced"
    );
    assert_eq!(requests_of(&app, &["dall-e-3", "whisper-1", "tts-1", "tts-1-hd"]).await, requests);
}

/// Requests stored for these models.
async fn requests_of(app: &Bare, models: &[&str]) -> i64 {
    use costguard::db::schema::llm_usage as lu;
    use diesel::prelude::*;
    let models: Vec<String> = models.iter().map(|m| m.to_string()).collect();
    let requests: Vec<i64> = app
        .db
        .run(move |c| lu::table.filter(lu::model.eq_any(models)).select(lu::requests).load(c).map_err(DbError::from))
        .await
        .unwrap();
    requests.iter().sum()
}

/// Buckets the provider no longer reports go, and a changed bucket width re-reads the restate
/// window without counting it twice (tokens and FOCUS estimates both).
async fn a_reread_window_replaces_what_it_held(app: Bare) {
    let api = LlmApi::start();
    let mut s = settings::<Anthropic>(&api);
    let models = ["claude-sonnet-4-20250514", "claude-3-5-haiku-20241022"];
    let vault = app.vault("anthropic", &[("admin_key", ADMIN_KEY)]).await;
    api.set_rows(rows(models, 5, 0));
    run_once(&app.ingestor(), &AnthropicUsage::new(s.clone(), vault.clone())).await.unwrap();

    // Upstream, the newest hour's haiku usage was withdrawn; and we now ask for minutes.
    let now: Vec<Row> =
        rows(models, 5, 0).into_iter().filter(|r| !(r.hour == hour(0) && r.model == models[1])).collect();
    api.set_rows(now.clone());
    s.bucket_width = "1m".into();
    run_once(&app.ingestor(), &AnthropicUsage::new(s.clone(), vault)).await.unwrap();
    let (_, input, output, cost, _) = ledger(&app, "anthropic").await;
    let e = expected(&s, &now);
    assert_eq!((input, output, cost), (e.1, e.2, e.3));
    assert_eq!(focus(&app, "Anthropic").await.1, estimate_units(&s, &now));
}

crate::on_both_bare!(
    a_reread_window_replaces_what_it_held,
    openai_embeddings_images_and_audio_are_read_beside_completions,
    openai_billed_costs_replace_the_estimates,
    anthropic_billed_costs_replace_the_estimates,
    openai_usage_lands_with_estimated_cost,
    anthropic_usage_lands_with_estimated_cost,
    rate_limits_mid_run_end_in_the_same_data,
    a_wrong_admin_key_is_a_clear_error_and_writes_nothing,
);

/// The LLM page sets each day's usage estimate against the provider's bill.
async fn the_llm_page_shows_estimated_against_billed(app: crate::helpers::TestApp) {
    let api = LlmApi::start();
    let s = settings::<Anthropic>(&api);
    let bare = Bare::at(&app.database_url, std::path::Path::new("/tmp")).await;
    let vault = bare.vault("anthropic", &[("admin_key", ADMIN_KEY)]).await;
    let data = rows(["claude-sonnet-4-20250514", "claude-3-5-haiku-20241022"], 30, 0);
    api.set_rows(data.clone());
    let yesterday = hour(0).duration_trunc(Duration::days(1)).unwrap() - Duration::days(1);
    api.set_billed(vec![Billed { day: yesterday, project: "proj_etl", item: "tokens", dollars: "123.45" }]);
    run_once(&bare.ingestor(), &AnthropicUsage::new(s.clone(), vault.clone())).await.unwrap();
    run_once(&bare.ingestor(), &BilledCosts::anthropic(s, vault)).await.unwrap();
    let (token, _) = crate::dashboard::session(&app, costguard::domain::role::Role::Viewer).await;
    let html = app
        .client
        .get(app.url("/llm"))
        .header("cookie", format!("costguard_session={token}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Estimated from usage against billed"), "{html}");
    assert!(html.contains(">123.45 <"), "yesterday's bill");
    assert!(html.contains("not billed yet"), "today is still an estimate");
}

crate::both_backends!(the_llm_page_shows_estimated_against_billed);

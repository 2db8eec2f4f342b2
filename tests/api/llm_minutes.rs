//! "Flagged within minutes": with 1-minute buckets from Anthropic's usage report, a key that
//! starts running away six minutes ago is an open anomaly on the next detection run, while its
//! hour is still partial, and the steady key beside it is not.

use crate::helpers::Bare;
use crate::peers::llm::{LlmApi, Row, ADMIN_KEY};
use chrono::{Duration, DurationRound, Utc};
use costguard::detect::series::Scope;
use costguard::detect::store::{self, ListFilter};
use costguard::detect::{DetectSettings, Detective};
use costguard::ingest::runner::run_once;
use costguard::providers::llm::anthropic_usage::AnthropicUsage;
use costguard::providers::llm::connection::{Anthropic, LlmSettings};

const RUNAWAY: &str = "apikey_01LoopingAgent";
const STEADY: &str = "apikey_01Steady";
const MODEL: &str = "claude-sonnet-4-20250514";

async fn a_runaway_key_is_flagged_minutes_after_it_starts(app: Bare) {
    let now = Utc::now();
    let this_hour = now.duration_trunc(Duration::hours(1)).unwrap();
    let mut rows = Vec::new();
    // Three days of ordinary hours (about $1.20 an hour per key, with a daily rhythm), the
    // current one as far as it has run...
    let elapsed = (now - this_hour).num_seconds() as f64 / 3_600.0;
    for back in 0..72 {
        let hour = this_hour - Duration::hours(back);
        let rhythm = 1.0 + 0.2 * (f64::from(chrono::Timelike::hour(&hour)) / 24.0 * std::f64::consts::TAU).sin();
        let so_far = if back == 0 { elapsed } else { 1.0 };
        let input = (200_000.0 * rhythm * so_far) as i64;
        for key in [RUNAWAY, STEADY] {
            rows.push(Row { hour, key, project: "wrkspc_agents", model: MODEL, input, cached: 0, output: input / 5 });
        }
    }
    // ...then a loop that has been burning about $6.75 a minute for six minutes.
    let started = now.duration_trunc(Duration::minutes(1)).unwrap() - Duration::minutes(6);
    for minute in 0..6 {
        let at = started + Duration::minutes(minute);
        rows.push(Row {
            hour: at,
            key: RUNAWAY,
            project: "wrkspc_agents",
            model: MODEL,
            input: 1_500_000,
            cached: 0,
            output: 150_000,
        });
    }
    let api = LlmApi::start();
    api.set_rows(rows);
    let mut settings = LlmSettings::<Anthropic>::default();
    (settings.enabled, settings.endpoint_url, settings.backfill_days, settings.bucket_width) =
        (true, api.url.clone(), 3, "1m".into());
    let source = AnthropicUsage::new(settings, app.vault("anthropic", &[("admin_key", ADMIN_KEY)]).await);
    run_once(&app.ingestor(), &source).await.unwrap();

    let (bus, _receivers) = costguard::bus::channels(1_000);
    Detective::new(app.db.clone(), DetectSettings::default(), bus).run(Scope::default(), now).await.unwrap();
    let all = ListFilter { limit: 100, ..ListFilter::default() };
    let anomalies = app.db.run(move |c| store::list(c, &all).map_err(costguard::db::DbError::from)).await.unwrap();
    let on = |key: &str| anomalies.iter().filter(|a| a.series_kind == "llm" && a.series_key.contains(key)).count();
    assert_eq!(on(RUNAWAY), 1, "{anomalies:#?}");
    assert_eq!(on(STEADY), 0, "{anomalies:#?}");
    let flagged = anomalies.iter().find(|a| a.series_key.contains(RUNAWAY)).unwrap();
    assert_eq!(flagged.state, "open");
    assert!(flagged.started_at >= (started - Duration::hours(1)).naive_utc(), "{flagged:?}");
}

crate::on_both_bare!(a_runaway_key_is_flagged_minutes_after_it_starts);

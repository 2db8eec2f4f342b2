//! Views as pure functions: fixed data in, HTML out, compared with reviewed snapshots
//! (src/dashboard/views/snapshots) and checked for what each role may see.

use super::*;
use crate::approval::store::{ActionRow, TransitionRow};
use crate::auth::sessions::SessionUser;
use crate::detect::history::ChartPoint;
use crate::detect::store::{AnomalyEvent, AnomalyRow};
use crate::domain::money::Total;
use crate::domain::role::Role;
use chrono::{DateTime, NaiveDateTime};

fn at(hour: i64) -> NaiveDateTime {
    DateTime::from_timestamp(1_795_000_000 + hour * 3_600, 0).unwrap_or_default().naive_utc()
}

fn user(role: Role) -> SessionUser {
    SessionUser { user_id: "u1".into(), name: format!("{role}-person"), role, csrf_token: "c".repeat(64), notice: None }
}

fn usd(whole: i64) -> i64 {
    whole * crate::domain::money::UNITS_PER_WHOLE
}

fn anomaly() -> AnomalyRow {
    AnomalyRow {
        id: "a1".into(),
        series_key: r#"["service","Google Cloud","analytics-prod","BigQuery"]"#.into(),
        series_kind: "service".into(),
        provider: Some("Google Cloud".into()),
        sub_account: Some("analytics-prod".into()),
        service: Some("BigQuery".into()),
        label: "Google Cloud / analytics-prod / BigQuery".into(),
        origin: "detected".into(),
        direction: "up".into(),
        state: "open".into(),
        severity: "critical".into(),
        description: None,
        started_at: at(0),
        last_out_at: at(2),
        resolved_at: None,
        step_secs: 3600,
        points: 3,
        actual: usd(900),
        expected: usd(30),
        projected_daily: usd(10_440),
        currency: "USD".into(),
        peak_z: 40.0,
        root_causes: r#"[{"dimension":"resource","value":"bquxjob_loop","delta":"860.00","share":0.99}]"#.into(),
        feedback: None,
        feedback_by: None,
        feedback_at: None,
        created_at: at(0),
        updated_at: at(2),
        version: 3,
        mitigated_at: None,
        merged_into: None,
        provisional: false,
    }
}

fn action(status: &str) -> ActionRow {
    let status = crate::domain::approval::Status::parse(status).expect("a known status");
    ActionRow {
        id: "x1".into(),
        anomaly_id: Some("a1".into()),
        kind: crate::domain::optimizer::ActionKind::CancelBigqueryJob,
        target: "bquxjob_loop".into(),
        provider: Some("Google Cloud".into()),
        account: Some("analytics-prod".into()),
        params: "{}".into(),
        risk: crate::domain::approval::Risk::Low,
        status,
        estimated_saving_per_hour: usd(290),
        proposed_by: "optimizer".into(),
        routed_at: Some(at(1)),
        approvals: "[]".into(),
        reason: None,
        idempotency_key: "k".into(),
        created_at: at(1),
        updated_at: at(1),
        version: 1,
        recovered: None,
        cost_verified_at: None,
    }
}

fn transition() -> TransitionRow {
    TransitionRow {
        id: 1,
        action_id: "x1".into(),
        from_status: "proposed".into(),
        to_status: "pending_approval".into(),
        command: "route".into(),
        actor: "policy".into(),
        at: at(1),
        comment: None,
        reason: None,
        build_sha: "0123456789abcdef".into(),
    }
}

/// One tag per line, with the asset version (the build's SHA) blanked, for readable diffs.
fn pretty(markup: maud::Markup) -> String {
    let html = markup.into_string().replace("><", ">\n<");
    let sha = crate::build_info::info().git_sha;
    html.replace(&format!("?v={sha}"), "?v=[build]")
}

fn action_detail(status: &str) -> actions::Detail {
    actions::Detail {
        action: action(status),
        currency: "USD".into(),
        history: vec![transition()],
        checks: vec![],
        plan: vec!["Cancel BigQuery job bquxjob_loop.".into()],
        mode: "live".into(),
        approvers_needed: 1,
        approved_by: 0,
        notice: None,
    }
}

#[test]
fn action_detail_snapshot_and_who_may_decide() {
    let approver = pretty(actions::detail(&user(Role::Approver), &action_detail("pending_approval")));
    insta::assert_snapshot!("action_pending_as_approver", approver);
    assert!(approver.contains(">Approve<") && approver.contains(&format!("value=\"{}\"", "c".repeat(64))));
    assert!(!approver.contains("http-equiv=\"refresh\""), "no refresh while a comment may be typed");
    let viewer = pretty(actions::detail(&user(Role::Viewer), &action_detail("pending_approval")));
    assert!(!viewer.contains(">Approve<") && !viewer.contains(">Reject<"));
    assert!(viewer.contains("Waiting for an approver."));
    let executing = pretty(actions::detail(&user(Role::Approver), &action_detail("executing")));
    assert!(executing.contains("http-equiv=\"refresh\"") && !executing.contains(">Approve<"));
}

#[test]
fn anomaly_detail_snapshot_with_chart_and_causes() {
    let points: Vec<ChartPoint> = (0..6)
        .map(|h| ChartPoint {
            at: at(h - 3).and_utc(),
            actual: Total::from_units(i128::from(if h >= 3 { usd(300) } else { usd(10) })),
            expected: Total::from_units(i128::from(usd(10))),
            lower: Total::from_units(i128::from(usd(5))),
            upper: Total::from_units(i128::from(usd(15))),
            warming_up: false,
        })
        .collect();
    let event = AnomalyEvent {
        id: 1,
        anomaly_id: "a1".into(),
        kind: "opened".into(),
        at: at(0),
        actor: "detective".into(),
        severity: "critical".into(),
        impact: usd(290),
        detail: None,
    };
    let a = anomaly();
    let detail = anomalies::Detail {
        causes: a.root_causes(),
        anomaly: a,
        chart: Some(points),
        events: vec![event],
        actions: vec![action("pending_approval")],
        also_affected: vec!["tag team=data".into()],
        notice: Some("feedback".into()),
    };
    let html = pretty(anomalies::detail(&user(Role::Approver), &detail));
    insta::assert_snapshot!("anomaly_detail_as_approver", html);
    assert!(html.contains("bquxjob_loop") && html.contains("99%") && html.contains("<svg"));
    assert!(
        !pretty(anomalies::detail(&user(Role::Viewer), &detail)).contains("/feedback\""),
        "viewers give no verdict"
    );
}

#[test]
fn a_provisional_rate_is_mentioned_only_while_a_proposal_may_wait_for_it() {
    let detail = |provisional: bool, mitigated: bool| anomalies::Detail {
        anomaly: AnomalyRow { provisional, mitigated_at: mitigated.then(|| at(1)), ..anomaly() },
        causes: vec![],
        chart: None,
        events: vec![],
        actions: vec![],
        also_affected: vec![],
        notice: None,
    };
    let shown = |d| pretty(anomalies::detail(&user(Role::Approver), &d)).contains("measuring its rate");
    assert!(shown(detail(true, false)));
    assert!(!shown(detail(false, false)));
    assert!(!shown(detail(true, true)), "mitigated: nothing waits for its rate any more");
}

#[test]
fn overview_snapshot_and_empty_state() {
    let pair = |a: i64, e: i64| overview::Pair {
        actual: Total::from_units(usd(a).into()),
        expected: Total::from_units(usd(e).into()),
    };
    let row = overview::SpendRow {
        label: "Google Cloud".into(),
        currency: "USD".into(),
        today: pair(900, 40),
        week: pair(1200, 280),
        month: pair(3000, 2100),
    };
    let o = overview::Overview {
        as_of: at(3).and_utc(),
        providers: vec![row.clone()],
        services: vec![overview::SpendRow { label: "Google Cloud · BigQuery".into(), ..row }],
        trends: vec![],
        open_anomalies: vec![anomaly()],
        pending: vec![(action("pending_approval"), "USD".into())],
        recovered: vec![crate::approval::store::Recovery {
            currency: "USD".into(),
            units: usd(6_960).into(),
            actions: 1,
        }],
        currency: "USD".into(),
        detection_on: true,
        budgets: vec![],
    };
    let html = pretty(overview::render(&user(Role::Viewer), &o));
    insta::assert_snapshot!("overview", html);
    assert!(html.contains("1 open anomaly") && html.contains("6,960.00") && html.contains("+2150%"));
    let empty =
        overview::Overview { providers: vec![], services: vec![], open_anomalies: vec![], pending: vec![], ..o };
    let html = pretty(overview::render(&user(Role::Viewer), &empty));
    assert!(html.contains("No spend measured yet.") && html.contains("Nothing waits for you."));
    assert!(!html.contains("Settings<"), "viewers get no settings link");
}

#[test]
fn audit_shows_a_broken_chain_and_login_keeps_next() {
    let html =
        pretty(audit::render(&user(Role::Viewer), &Default::default(), &[], false, &Err("entry 7 was edited".into())));
    assert!(html.contains("The chain is broken: entry 7 was edited") && html.contains("No audit entries match."));
    let login = pretty(login::login("t", "/actions/x1", Some("Wrong user name or password.")));
    insta::assert_snapshot!("login", login);
    assert!(login.contains("value=\"/actions/x1\"") && login.contains("type=\"password\""));
}

#[test]
fn credentials_are_write_only_on_the_providers_page() {
    let status = crate::credentials::FieldStatus {
        field: "secret_access_key".into(),
        updated_at: at(0),
        updated_by: "ada".into(),
    };
    let views = vec![settings::ProviderView {
        kind: crate::providers::find("aws").unwrap_or(&crate::providers::PROVIDERS[0]),
        available: false,
        enabled: false,
        schedule: String::new(),
        credentials: vec![status],
        last_success: None,
        last_error: None,
    }];
    let html = pretty(settings::providers(&user(Role::Admin), &views, None, None, true));
    assert!(html.contains(">set<") && html.contains(">not set<"), "each field says whether it is set");
    assert!(html.contains("value=\"\" placeholder=\"leave empty to keep\""), "no stored value is sent back");
    assert!(html.contains("Re-seed demo data"));
    assert!(
        html.contains("[providers.aws]"),
        "an adapter this build has but config.toml leaves off says how to turn it on"
    );
    assert!(!html.contains("no adapter"));
}

#[test]
fn the_llm_page_sets_estimates_against_bills() {
    let day = |d: i64| chrono::DateTime::from_naive_utc_and_offset(at(0), chrono::Utc) - chrono::Duration::days(d);
    let bill = |d, billed: Option<i64>| llm::BillCheck {
        day: day(d),
        provider: "anthropic".into(),
        currency: "USD".into(),
        estimated: Total::from_units(i128::from(usd(40))),
        billed: billed.map(|b| Total::from_units(i128::from(usd(b)))),
    };
    let row = llm::UsageRow {
        group: "anthropic".into(),
        currency: "USD".into(),
        input_tokens: 1,
        cached_input_tokens: 0,
        output_tokens: 1,
        requests: 1,
        cost: Total::from_units(i128::from(usd(80))),
    };
    let page = llm::LlmPage {
        days: 30,
        bills: vec![bill(0, None), bill(1, Some(42))],
        tables: vec![("By provider", vec![row])],
        trends: vec![],
    };
    let html = pretty(llm::render(&user(Role::Viewer), &page));
    assert!(html.contains("Estimated from usage against billed"));
    assert!(html.contains("not billed yet"), "today is still an estimate");
    assert!(
        html.contains(">42.00 <") && html.contains(">2.00 <"),
        "yesterday's bill and its difference from the estimate"
    );
}

fn budget_row() -> crate::budgets::store::BudgetRow {
    use crate::budgets::status::Status;
    use crate::domain::budget::spec::BudgetSpec;
    use chrono::TimeZone;
    let spec = BudgetSpec::parse(&serde_json::json!({"name": "Data <team>", "amount": "10000", "currency": "USD",
        "scope": {"tag": {"key": "team", "value": "data"}},
        "thresholds": [{"percent": 50, "on": "actual"}, {"percent": 100, "on": "forecast"}]}))
    .unwrap();
    let day = |n: i64| Total::from_units(usd(n).into());
    crate::budgets::store::BudgetRow {
        id: "b-1".into(),
        spec,
        managed_by: crate::budgets::store::ManagedBy::Api,
        created_at: at(1).and_utc(),
        updated_at: at(1).and_utc(),
        status: Some(Status {
            period_start: chrono::Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap(),
            period_end: chrono::Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap(),
            spent: day(6_200),
            forecast: day(11_400),
            forecast_low: day(10_900),
            forecast_high: day(11_900),
            series: 2,
            by_day: (0..15).map(|i| day(400 + 10 * i)).collect(),
        }),
        evaluated_at: Some(at(3).and_utc()),
    }
}

#[test]
fn budgets_show_spend_forecast_crossings_and_the_forms() {
    use crate::budgets::store::Crossing;
    use crate::domain::budget::{Basis, Threshold};
    let row = budget_row();
    let crossed = vec![Crossing {
        id: 1,
        budget_id: "b-1".into(),
        period_start: row.status.as_ref().unwrap().period_start,
        threshold: Threshold { percent: 50, on: Basis::Actual },
        at: at(2).and_utc(),
    }];
    let list = vec![(row, crossed)];
    let html = pretty(super::budgets::page_of(&user(Role::Admin), &list, None, Some("saved")));
    insta::assert_snapshot!("budgets", html);
    assert!(html.contains("Data &lt;team&gt;") && html.contains("tag team=data"), "escaped name, scope");
    assert!(html.contains("6,200.00") && html.contains("11,400.00") && html.contains("114 %"));
    assert!(html.contains("50 % spent ✓") && html.contains("Add a budget") && html.contains("budget-rule"));
    let viewer = pretty(super::budgets::page_of(&user(Role::Viewer), &list, None, None));
    assert!(!viewer.contains("Add a budget") && !viewer.contains("Delete"), "viewers see, admins change");
}

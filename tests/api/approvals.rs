//! The approval store over both databases: one transition wins a race, every transition is
//! recorded and audited, and tampering with the audit chain is caught.

use crate::both_backends;
use crate::helpers::TestApp;
use chrono::{Duration, Utc};
use costguard::approval::store::{self, CommandError, NewAction};
use costguard::db::DbError;
use costguard::domain::approval::{Command, Mode, Policy, Refusal, Risk};
use costguard::domain::audit::Break;

fn policy() -> Policy {
    Policy { approval_ttl: Duration::hours(1), high_risk_approvers: 2, mode: Mode::Live }
}

fn proposal() -> NewAction {
    NewAction {
        anomaly_id: None,
        kind: costguard::domain::optimizer::ActionKind::CancelBigqueryJob,
        target: "bquxjob_5f1c2a9e_saturday_loop".into(),
        provider: Some("Google Cloud".into()),
        account: Some("analytics-prod".into()),
        params: "{}".into(),
        risk: Risk::Low,
        estimated_saving_per_hour: 50_000_000_000_000,
        proposed_by: "optimizer".into(),
    }
}

async fn run(app: &TestApp, id: &str, command: Command, actor: &str) -> Result<String, String> {
    let (id, actor) = (costguard::domain::ids::ActionId::new(id), actor.to_string());
    app.db
        .run(move |c| {
            Ok::<_, DbError>(
                store::apply(c, &id, &command, &actor, None, &policy(), Utc::now())
                    .map(|(row, _)| row.status.to_string())
                    .map_err(|e| match e {
                        CommandError::Conflict => "conflict".to_string(),
                        CommandError::Refused(Refusal::NotNow { .. }) => "not_now".to_string(),
                        other => other.to_string(),
                    }),
            )
        })
        .await
        .unwrap()
}

async fn verify(app: &TestApp) -> Result<usize, Break> {
    app.db.run(|c| costguard::audit::verify(c).map_err(DbError::from)).await.unwrap()
}

async fn simultaneous_approvals_make_exactly_one_transition(app: TestApp) {
    let created = app.db.run(|c| store::create(c, &proposal(), Utc::now()).map_err(DbError::from)).await.unwrap();
    let id = created.unwrap().id;
    assert_eq!(run(&app, &id, Command::Route { blocked: vec![] }, "policy").await, Ok("pending_approval".into()));

    let approvers: Vec<String> = (0..12).map(|i| format!("approver-{i}")).collect();
    let results = futures_util::future::join_all(
        approvers.iter().map(|who| run(&app, &id, Command::Approve { by: who.clone() }, who)),
    )
    .await;
    let won = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(won, 1, "{results:?}");
    assert!(results.iter().filter_map(|r| r.as_ref().err()).all(|e| e == "conflict" || e == "not_now"), "{results:?}");
    let row = app.db.run(move |c| store::get(c, &id).map_err(DbError::from)).await.unwrap().unwrap();
    assert_eq!((row.status.as_str(), row.version), ("approved", 3));
    // Start-up records the safety settings; then propose, route, approve: one entry each, chained.
    assert_eq!(verify(&app).await, Ok(4));
}

async fn own_approvals_and_policy_blocks_are_refused(app: TestApp) {
    let mut mine = proposal();
    mine.proposed_by = "alice".into();
    mine.anomaly_id = None;
    let id = app.db.run(move |c| store::create(c, &mine, Utc::now()).map_err(DbError::from)).await.unwrap().unwrap().id;
    run(&app, &id, Command::Route { blocked: vec![] }, "policy").await.unwrap();
    let own = run(&app, &id, Command::Approve { by: "alice".into() }, "alice").await;
    assert_eq!(own, Err("whoever proposed an action cannot approve it".into()));
    let blocked = app
        .db
        .run(|c| {
            let a = store::create(c, &proposal(), Utc::now())?.unwrap();
            Ok::<_, DbError>(
                store::apply(
                    c,
                    &a.id,
                    &Command::Route { blocked: vec!["protected_tag: costguard:protect=true".into()] },
                    "policy",
                    None,
                    &policy(),
                    Utc::now(),
                )
                .map(|(row, _)| (row.status, row.reason)),
            )
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(blocked.0.as_str(), "rejected");
    assert!(blocked.1.unwrap().contains("costguard:protect=true"));
}

async fn tampering_with_the_audit_chain_is_named(app: TestApp) {
    use diesel::RunQueryDsl;
    for _ in 0..3 {
        let id =
            app.db.run(|c| store::create(c, &proposal(), Utc::now()).map_err(DbError::from)).await.unwrap().unwrap().id;
        run(&app, &id, Command::Route { blocked: vec![] }, "policy").await.unwrap();
    }
    // The start-up entry (the safety settings), then two per action.
    assert_eq!(verify(&app).await, Ok(7));
    let sql = |s: &'static str| {
        move |c: &mut costguard::db::DbConn| {
            costguard::per_backend!(c, |inner| diesel::sql_query(s).execute(inner)).map_err(DbError::from)
        }
    };
    app.db.run(sql("UPDATE audit_log SET actor = 'mallory' WHERE seq = 5")).await.unwrap();
    assert_eq!(verify(&app).await, Err(Break::Edited { seq: 5 }));
    app.db.run(sql("UPDATE audit_log SET actor = 'policy' WHERE seq = 5")).await.unwrap();
    assert_eq!(verify(&app).await, Ok(7), "restoring the original content restores the chain");
    let cli = |app: &TestApp| app.cli().args(["audit", "verify"]).output().unwrap();
    let intact = cli(&app);
    assert!(intact.status.success());
    assert!(String::from_utf8_lossy(&intact.stdout).contains("7 entries"));
    // Reordering: two rows swap places in the sequence.
    app.db.run(sql("UPDATE audit_log SET seq = 1000 WHERE seq = 6")).await.unwrap();
    app.db.run(sql("UPDATE audit_log SET seq = 6 WHERE seq = 7")).await.unwrap();
    app.db.run(sql("UPDATE audit_log SET seq = 7 WHERE seq = 1000")).await.unwrap();
    assert!(
        matches!(verify(&app).await, Err(Break::Edited { seq: 6 } | Break::Reordered { seq: 6, .. })),
        "{:?}",
        verify(&app).await
    );
    app.db.run(sql("UPDATE audit_log SET seq = 1000 WHERE seq = 6")).await.unwrap();
    app.db.run(sql("UPDATE audit_log SET seq = 6 WHERE seq = 7")).await.unwrap();
    app.db.run(sql("UPDATE audit_log SET seq = 7 WHERE seq = 1000")).await.unwrap();
    assert_eq!(verify(&app).await, Ok(7), "swapped back");
    app.db.run(sql("DELETE FROM audit_log WHERE seq = 2")).await.unwrap();
    assert_eq!(verify(&app).await, Err(Break::Deleted { missing: 2, before: 1, after: 3 }));
    let broken = cli(&app);
    assert!(!broken.status.success());
    let stderr = String::from_utf8_lossy(&broken.stderr);
    assert!(stderr.contains("entry 2 is missing"), "{stderr}");
}

async fn lapsed_proposals_and_approvals_expire_on_the_timer(app: TestApp) {
    let settings = costguard::approval::ApprovalSettings { approval_ttl_minutes: 30, ..Default::default() };
    let start = Utc::now();
    let (waiting, approved) = app
        .db
        .run(move |c| {
            let p = settings.policy();
            let a = store::create(c, &proposal(), start)?.unwrap();
            store::apply(c, &a.id, &Command::Route { blocked: vec![] }, "policy", None, &p, start).unwrap();
            let mut other = proposal();
            other.target = "bquxjob_2".into();
            let b = store::create(c, &other, start)?.unwrap();
            store::apply(c, &b.id, &Command::Route { blocked: vec![] }, "policy", None, &p, start).unwrap();
            store::apply(
                c,
                &b.id,
                &Command::Approve { by: "bob".into() },
                "bob",
                None,
                &p,
                start + Duration::minutes(20),
            )
            .unwrap();
            Ok::<_, DbError>((a.id, b.id))
        })
        .await
        .unwrap();
    let settings = costguard::approval::ApprovalSettings { approval_ttl_minutes: 30, ..Default::default() };
    let expire = |at| costguard::approval::expire_due(&app.db, &settings, at);
    assert_eq!(expire(start + Duration::minutes(29)).await.unwrap(), 0);
    assert_eq!(expire(start + Duration::minutes(31)).await.unwrap(), 1, "the proposal nobody approved");
    assert_eq!(expire(start + Duration::minutes(51)).await.unwrap(), 1, "the approval given at minute 20");
    for id in [waiting, approved] {
        let row = app.db.run(move |c| store::get(c, &id).map_err(DbError::from)).await.unwrap().unwrap();
        assert_eq!(row.status.as_str(), "expired");
    }
}

/// The database admits only the action kinds CostGuard knows (a CHECK on PostgreSQL,
/// triggers on SQLite), so an action that no executor or page understands cannot be stored.
async fn the_database_refuses_an_action_kind_it_does_not_know(app: TestApp) {
    use costguard::domain::optimizer::ActionKind;
    use diesel::RunQueryDsl;
    let id =
        app.db.run(|c| store::create(c, &proposal(), Utc::now()).map_err(DbError::from)).await.unwrap().unwrap().id;
    let set_kind = |kind: String| {
        let sql = format!("UPDATE actions SET kind = '{kind}' WHERE id = '{id}'");
        app.db.run(move |c| {
            costguard::per_backend!(c, |inner| diesel::sql_query(&sql).execute(inner)).map_err(DbError::from)
        })
    };
    for kind in ActionKind::ALL {
        assert_eq!(set_kind(kind.as_str().to_string()).await.unwrap(), 1, "{kind} is admitted");
    }
    let refused = set_kind("delete_everything".into()).await.unwrap_err().to_string();
    assert!(refused.contains("actions_kind_known"), "{refused}");
    let row = app.db.run(move |c| store::get(c, &id).map_err(DbError::from)).await.unwrap().unwrap();
    assert_eq!(row.kind, ActionKind::NotifyOnly, "the refused update changed nothing");
}

both_backends!(
    the_database_refuses_an_action_kind_it_does_not_know,
    lapsed_proposals_and_approvals_expire_on_the_timer,
    simultaneous_approvals_make_exactly_one_transition,
    own_approvals_and_policy_blocks_are_refused,
    tampering_with_the_audit_chain_is_named,
);

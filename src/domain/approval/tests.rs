//! Every (state, command) pair, the approval rules, and property tests of the invariants.

use super::*;
use chrono::TimeZone;
use proptest::prelude::*;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 2, 0, 0).single().unwrap_or_default()
}

fn policy(mode: Mode) -> Policy {
    Policy { approval_ttl: Duration::hours(1), high_risk_approvers: 2, mode }
}

/// An action in `status` as the machine would have left it, approved by bob 10 minutes ago
/// where that matters.
fn at(status: Status) -> Action {
    let mut a = Action::proposed(Risk::Low, "alice");
    a.status = status;
    if status != Status::Proposed {
        a.routed_at = Some(t0() - Duration::minutes(10));
    }
    if !matches!(status, Status::Proposed | Status::PendingApproval) {
        a.approvals.push(Approval { by: "bob".into(), at: t0() - Duration::minutes(10) });
    }
    a
}

fn commands() -> Vec<Command> {
    vec![
        Command::Route { blocked: vec![] },
        Command::Route { blocked: vec!["protected resource".into()] },
        Command::Approve { by: "carol".into() },
        Command::Reject { by: "carol".into() },
        Command::Cancel { by: "alice".into() },
        Command::Withdraw { why: Withdrawal::AnomalyResolved },
        Command::Expire,
        Command::Start { blocked: vec![] },
        Command::Start { blocked: vec!["rate limit".into()] },
        Command::Executed,
        Command::ExecutionFailed { reason: "timeout".into() },
        Command::Verified,
        Command::VerificationFailed { reason: "still billing".into() },
    ]
}

/// The expected outcome of every pair: the new status, or the refusal's kind.
fn expected(status: Status, command: usize) -> &'static str {
    use Status as S;
    if status.is_terminal() {
        return "terminal";
    }
    match (status, command) {
        (S::Proposed, 0) => "pending_approval",
        (S::Proposed, 1) => "rejected",
        (S::PendingApproval, 2) => "approved",
        (S::Proposed | S::PendingApproval | S::Approved, 3) => "rejected",
        (S::Proposed | S::PendingApproval | S::Approved, 4 | 5) => "withdrawn",
        (S::PendingApproval | S::Approved, 6) => "not_expired",
        (S::Approved, 7) => "executing",
        (S::Approved, 8) => "rejected",
        (S::Executing, 9) => "verifying",
        (S::Executing, 10) => "failed",
        (S::Verifying, 11) => "succeeded",
        (S::Verifying, 12) => "failed",
        _ => "not_now",
    }
}

fn outcome(result: &Result<Transition, Refusal>) -> &'static str {
    match result {
        Ok(t) => t.action.status.as_str(),
        Err(Refusal::Terminal(_)) => "terminal",
        Err(Refusal::NotNow { .. }) => "not_now",
        Err(Refusal::NotExpired) => "not_expired",
        Err(Refusal::OwnProposal) => "own_proposal",
        Err(Refusal::AlreadyApproved(_)) => "already_approved",
    }
}

#[test]
fn every_state_and_command_pair() {
    let p = policy(Mode::Live);
    let mut checked = 0;
    for status in Status::ALL {
        for (i, command) in commands().iter().enumerate() {
            let got = outcome(&transition(&at(status), command, &p, t0()));
            assert_eq!(got, expected(status, i), "{} + {command:?}", status.as_str());
            checked += 1;
        }
    }
    assert_eq!(checked, 11 * 13);
}

#[test]
fn effects_follow_the_transition() {
    let p = policy(Mode::Live);
    let routed = transition(&at(Status::Proposed), &Command::Route { blocked: vec![] }, &p, t0());
    assert_eq!(routed.map(|t| t.effects), Ok(vec![Effect::RequestApproval]));
    let approved = transition(&at(Status::PendingApproval), &Command::Approve { by: "bob".into() }, &p, t0());
    assert_eq!(approved.map(|t| t.effects), Ok(vec![Effect::Execute]));
    let executed = transition(&at(Status::Executing), &Command::Executed, &p, t0());
    assert_eq!(executed.map(|t| t.effects), Ok(vec![Effect::Verify]));
    let blocked =
        transition(&at(Status::Proposed), &Command::Route { blocked: vec!["deny-listed account".into()] }, &p, t0());
    assert_eq!(blocked.ok().and_then(|t| t.reason), Some("blocked by policy: deny-listed account".into()));
}

#[test]
fn a_proposer_cannot_approve_and_nobody_approves_twice() {
    let p = policy(Mode::Live);
    let mine = transition(&at(Status::PendingApproval), &Command::Approve { by: "alice".into() }, &p, t0());
    assert_eq!(mine, Err(Refusal::OwnProposal));
    let mut high = at(Status::PendingApproval);
    high.risk = Risk::High;
    let once = transition(&high, &Command::Approve { by: "bob".into() }, &p, t0()).map(|t| t.action);
    let once = once.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(once.status, Status::PendingApproval, "high risk needs a second approver");
    let twice = transition(&once, &Command::Approve { by: "bob".into() }, &p, t0());
    assert_eq!(twice, Err(Refusal::AlreadyApproved("bob".into())));
    let second = transition(&once, &Command::Approve { by: "carol".into() }, &p, t0());
    assert_eq!(second.map(|t| t.action.status), Ok(Status::Approved));
}

#[test]
fn an_expired_approval_never_executes() {
    let p = policy(Mode::Live);
    let later = t0() + Duration::hours(1);
    let start = transition(&at(Status::Approved), &Command::Start { blocked: vec![] }, &p, later);
    assert_eq!(start.map(|t| t.action.status), Ok(Status::Expired));
    let expire = transition(&at(Status::Approved), &Command::Expire, &p, later);
    assert_eq!(expire.map(|t| t.action.status), Ok(Status::Expired));
    // A proposal nobody approved in time expires; one still inside its TTL does not.
    let waiting = transition(&at(Status::PendingApproval), &Command::Expire, &p, t0() + Duration::minutes(50));
    assert_eq!(waiting.map(|t| t.action.status), Ok(Status::Expired));
    let fresh = transition(&at(Status::PendingApproval), &Command::Expire, &p, t0() + Duration::minutes(49));
    assert_eq!(fresh, Err(Refusal::NotExpired));
}

#[test]
fn dry_run_mode_records_the_plan_instead_of_executing() {
    let start = transition(&at(Status::Approved), &Command::Start { blocked: vec![] }, &policy(Mode::DryRun), t0());
    let t = start.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(t.action.status, Status::DryRun);
    assert_eq!(t.effects, vec![Effect::RecordDryRun, Effect::Announce(Status::DryRun)]);
    assert!(Status::DryRun.is_terminal());
}

#[test]
fn statuses_round_trip_as_text() {
    for s in Status::ALL {
        assert_eq!(Status::parse(s.as_str()), Some(s));
    }
    assert_eq!(Status::parse("done"), None);
}

fn any_command() -> impl Strategy<Value = Command> {
    let who = prop_oneof![Just("alice"), Just("bob"), Just("carol")].prop_map(String::from);
    let reasons = prop_oneof![Just(vec![]), Just(vec!["protected".to_string()])];
    prop_oneof![
        reasons.clone().prop_map(|blocked| Command::Route { blocked }),
        who.clone().prop_map(|by| Command::Approve { by }),
        who.clone().prop_map(|by| Command::Reject { by }),
        who.prop_map(|by| Command::Cancel { by }),
        Just(Command::Withdraw { why: Withdrawal::AnomalyResolved }),
        Just(Command::Expire),
        reasons.prop_map(|blocked| Command::Start { blocked }),
        Just(Command::Executed),
        Just(Command::ExecutionFailed { reason: "x".into() }),
        Just(Command::Verified),
        Just(Command::VerificationFailed { reason: "x".into() }),
    ]
}

fn any_risk() -> impl Strategy<Value = Risk> {
    prop_oneof![Just(Risk::Low), Just(Risk::Medium), Just(Risk::High)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    /// Random histories (commands with random waits) keep every invariant.
    #[test]
    fn invariants_hold_for_any_history(
        risk in any_risk(),
        dry_run in any::<bool>(),
        steps in proptest::collection::vec((any_command(), 0i64..40), 1..25),
    ) {
        let p = policy(if dry_run { Mode::DryRun } else { Mode::Live });
        let mut action = Action::proposed(risk, "alice");
        let mut now = t0();
        for (command, wait_minutes) in steps {
            now += Duration::minutes(wait_minutes);
            let before = action.clone();
            let result = transition(&before, &command, &p, now);
            // Nothing leaves a terminal state.
            if before.status.is_terminal() {
                prop_assert!(result.is_err());
            }
            let Ok(t) = result else { continue };
            if t.action.status == Status::Executing {
                // Nothing executes without the approvals its risk needs, all still valid,
                // from distinct people other than the proposer, in live mode, unblocked.
                prop_assert_eq!(before.status, Status::Approved);
                prop_assert!(!dry_run);
                prop_assert_eq!(&command, &Command::Start { blocked: vec![] });
                let valid: Vec<&Approval> = t.action.approvals.iter().filter(|a| now < a.at + p.approval_ttl).collect();
                prop_assert!(valid.len() >= p.approvers_needed(risk));
                let mut people: Vec<&str> = valid.iter().map(|a| a.by.as_str()).collect();
                people.sort_unstable();
                people.dedup();
                prop_assert_eq!(people.len(), valid.len());
                prop_assert!(!people.contains(&"alice"));
            }
            // Approvals only ever grow, and only by approving.
            prop_assert!(t.action.approvals.len() >= before.approvals.len());
            if t.action.approvals.len() > before.approvals.len() {
                let is_approve = matches!(command, Command::Approve { .. });
                prop_assert!(is_approve);
            }
            action = t.action;
        }
    }
}

#[test]
fn a_proposal_is_made_again_only_when_nothing_stands_in_its_way() {
    for status in Status::ALL {
        for routed in [false, true] {
            for would_block in [false, true] {
                let again = may_propose_again(Some((status, routed)), would_block);
                let expected = match status {
                    Status::Proposed
                    | Status::PendingApproval
                    | Status::Approved
                    | Status::Executing
                    | Status::Verifying => false,
                    Status::Succeeded | Status::DryRun => false,
                    // A person said no: that stands. The policy said no: ask again once it would pass.
                    Status::Rejected => !routed && !would_block,
                    Status::Expired | Status::Failed | Status::Withdrawn => true,
                };
                assert_eq!(again, expected, "{status:?}, routed {routed}, would block {would_block}");
            }
        }
    }
    assert!(may_propose_again(None, true), "a first proposal is always made (the policy then routes it)");
}

#[test]
fn withdrawals_say_why() {
    let a = Action {
        status: Status::PendingApproval,
        risk: Risk::Low,
        proposed_by: "optimizer".into(),
        routed_at: Some(t0()),
        approvals: vec![],
    };
    let why = Withdrawal::Superseded { by: "cancel bigquery job bquxjob_1".into() };
    let t = transition(&a, &Command::Withdraw { why }, &policy(Mode::Live), t0()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(t.action.status, Status::Withdrawn);
    assert_eq!(t.reason.as_deref(), Some("superseded by the proposal to cancel bigquery job bquxjob_1"));
}

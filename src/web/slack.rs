//! Slack's interactivity endpoint: the Approve / Reject buttons on approval messages.
//!
//! Every request is checked against the app's signing secret (v0 HMAC over the timestamp and
//! the raw body, within the replay window) before anything is read, and refused when its
//! signature was already received inside the window (a replay). The clicking Slack user
//! must be mapped (`notify.slack.users`) to an active CostGuard user with the approver role;
//! the decision then goes through the same state machine as the API and the dashboard, and
//! the original message is replaced with the outcome through Slack's `response_url`.

use crate::approval::store::CommandError;
use crate::domain::approval::Command;
use crate::domain::notify::verify_slack;
use crate::domain::role::Role;
use crate::notify::slack::{decided, APPROVE, REJECT};
use crate::state::AppState;
use crate::web::error::ApiError;
use actix_web::{web, HttpRequest, HttpResponse};
use secrecy::ExposeSecret;
use serde_json::{json, Value};

pub async fn interactivity(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let secret = state.slack.signing_secret.expose_secret();
    if secret.is_empty() {
        return Err(ApiError::unauthorized("Slack is not configured (notify.slack.signing_secret)"));
    }
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    verify_slack(
        secret.as_bytes(),
        header("x-slack-request-timestamp"),
        header("x-slack-signature"),
        &body,
        chrono::Utc::now(),
        state.slack.replay_window_secs,
    )
    .map_err(|e| ApiError::unauthorized(&e.to_string()))?;
    let (signature, window) =
        (header("x-slack-signature").unwrap_or_default().to_string(), state.slack.replay_window_secs);
    let now = chrono::Utc::now().timestamp();
    let first = state
        .db
        .run(move |c| {
            crate::notify::slack::first_sighting(c, &signature, now, window).map_err(crate::db::DbError::from)
        })
        .await?;
    if !first {
        return Err(ApiError::unauthorized("a replayed request: this signature was already received"));
    }

    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let payload: Value = form
        .iter()
        .find(|(k, _)| k == "payload")
        .and_then(|(_, v)| serde_json::from_str(v).ok())
        .ok_or_else(|| ApiError::bad_request(json!({"parameter": "payload", "message": "no JSON payload"})))?;
    let Some(click) = payload["actions"].as_array().and_then(|a| a.first()) else {
        return Ok(HttpResponse::Ok().finish());
    };
    let command = match click["action_id"].as_str() {
        Some(APPROVE) => "approve",
        Some(REJECT) => "reject",
        // The "Open in CostGuard" link button also reports its click; nothing to do.
        _ => return Ok(HttpResponse::Ok().finish()),
    };
    let action_id = click["value"].as_str().unwrap_or_default().to_string();
    let slack_user = payload["user"]["id"].as_str().unwrap_or_default().to_string();
    let reply = decide(&state, &slack_user, &action_id, command).await;
    if let Some(url) = payload["response_url"].as_str() {
        let message = match &reply {
            Reply::Decided { outcome, still_pending } => decided(&payload["message"], outcome, *still_pending),
            Reply::Refused(why) => json!({"response_type": "ephemeral", "replace_original": false, "text": why}),
        };
        respond(url.to_string(), message);
    }
    tracing::info!(slack_user, action_id, command, ?reply, "Slack decision");
    Ok(HttpResponse::Ok().finish())
}

#[derive(Debug)]
enum Reply {
    Decided {
        outcome: String,
        still_pending: bool,
    },
    /// Shown only to the person who clicked.
    Refused(String),
}

async fn decide(state: &AppState, slack_user: &str, action_id: &str, command: &str) -> Reply {
    let Some(name) = state.slack.users.get(slack_user).cloned() else {
        return Reply::Refused(format!(
            "Your Slack user ({slack_user}) is not linked to a CostGuard user; ask an admin to add it to notify.slack.users."
        ));
    };
    let lookup = name.clone();
    let user = state.db.run(move |c| Ok::<_, crate::db::DbError>(crate::auth::users::find(c, &lookup).ok())).await;
    let allowed = matches!(&user, Ok(Some(u)) if u.disabled_at.is_none() && u.role().allows(Role::Approver));
    if !allowed {
        return Reply::Refused(format!("CostGuard user '{name}' is not an active approver."));
    }
    let cmd = match command {
        "approve" => Command::Approve { by: name.clone() },
        _ => Command::Reject { by: name.clone() },
    };
    let comment = Some(format!("via Slack ({slack_user})"));
    let result = crate::approval::decide(
        &state.db,
        &state.bus,
        &state.approval,
        crate::approval::Decision {
            action_id: crate::domain::ids::ActionId::new(action_id),
            command: cmd,
            actor: name.clone(),
            comment,
            at: state.clock.now(),
        },
    )
    .await;
    match result {
        Ok(Ok(row)) => {
            let when = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC");
            let still_pending = row.status == crate::domain::approval::Status::PendingApproval;
            let outcome = match (command, still_pending) {
                ("approve", true) => format!("Approved by {name} at {when}; waiting for another approver."),
                ("approve", false) => format!("Approved by {name} at {when}; CostGuard is running it."),
                _ => format!("Rejected by {name} at {when}."),
            };
            Reply::Decided { outcome, still_pending }
        }
        Ok(Err(CommandError::NotFound)) => Reply::Refused("That action no longer exists.".into()),
        Ok(Err(e)) => Reply::Refused(format!("Not done: {e}")),
        Err(e) => {
            tracing::error!(error = %e, "database error on a Slack decision");
            Reply::Refused("CostGuard could not record that; try again or use the dashboard.".into())
        }
    }
}

/// Posts to Slack's `response_url` in the background: Slack wants its answer within three
/// seconds, and the decision is already stored whatever happens to this message.
fn respond(url: String, message: Value) {
    tokio::spawn(async move {
        let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(10)).build();
        let sent = match client {
            Ok(c) => c.post(&url).json(&message).send().await.map(|r| r.status().is_success()),
            Err(e) => Err(e),
        };
        if !matches!(sent, Ok(true)) {
            tracing::warn!("could not update the Slack message");
        }
    });
}

//! The MCP endpoint driven by the official MCP Python SDK (tests/api/peers/mcp_client.py), on
//! the stateless 2026-07-28 revision and on the initialize handshake: it connects, lists and
//! calls every tool, reads the resources, files a proposal that waits
//! for people, finds no way to approve, and is refused as a viewer. Then the server's side:
//! the proposal is pending and audited under the key's name, and nothing ran.

use crate::helpers::{manual_anomaly, TestApp};
use crate::peers::program;
use costguard::domain::role::Role;
use serde_json::{json, Value};

async fn an_assistant_explains_and_proposes_but_never_approves(app: TestApp) {
    let Some(python) = program("CG_MCP_PYTHON") else { return };
    let anomaly =
        manual_anomaly(&app.db, costguard::domain::detect::decision::Severity::High, "Google Cloud", Some("BigQuery"))
            .await;
    let budget = json!({"name": "Everything", "amount": "5000", "currency": "USD"});
    assert_eq!(app.post_json("/api/v1/budgets", &budget).await.status(), 201);
    // The SDK's default probes `server/discover` (the stateless revision); "legacy" is the
    // initialize handshake older clients use. The same story holds on both. A key each: each
    // run's thirty-odd calls in a second are the per-key burst.
    for (mode, version, target) in
        [("auto", "2026-07-28", "bquxjob_from_the_assistant"), ("legacy", "2025-11-25", "bquxjob_from_a_legacy_client")]
    {
        let approver = app.key(&format!("assistant-{mode}"), Role::Approver).await;
        let viewer = app.key(&format!("reader-{mode}"), Role::Viewer).await;
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/api/peers/mcp_client.py");
        let out = tokio::process::Command::new(&python)
            .args([script, &app.url("/mcp"), &approver, &viewer, &anomaly, mode, target])
            .output()
            .await
            .unwrap();
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "the MCP client ({mode}) failed:\n{stdout}\n{stderr}");
        let seen: Value = serde_json::from_str(stdout.lines().last().unwrap_or("")).unwrap();
        println!("{mode}: negotiated {}; proposal: {}", seen["protocol_version"], seen["proposed"]["text"]);
        assert_eq!(seen["protocol_version"], version, "{mode}");
        if mode == "legacy" {
            assert_eq!(seen["server"], "costguard");
        }
        the_story_holds(&seen, &anomaly, target, &format!("assistant-{mode}"));
    }

    // On the server: one proposal per client, pending; none by the viewers.
    let actions = app.get_json("/api/v1/actions").await;
    let actions = actions.as_array().unwrap();
    assert_eq!(actions.len(), 2, "{actions:?}");
    assert!(
        actions
            .iter()
            .all(|a| a["status"] == "pending_approval" && a["proposed_by"].as_str().unwrap().starts_with("assistant-")),
        "{actions:?}"
    );
    let audit = app.get_json("/api/v1/audit?limit=1000").await;
    let mcp: Vec<&Value> = audit["entries"].as_array().unwrap().iter().filter(|e| e["action"] == "mcp.tool").collect();
    assert!(mcp.len() >= 24, "every call audited: {}", mcp.len());
    assert!(mcp
        .iter()
        .any(|e| e["actor"] == "api key assistant-auto" && e["target"] == "propose_action" && e["result"] == "ok"));
    assert!(mcp
        .iter()
        .any(|e| e["actor"] == "api key reader-legacy" && e["target"] == "propose_action" && e["result"] == "refused"));
}

/// What one client saw: the tools with their schemas, every call answered, the proposal
/// waiting for people, and each thing that must fail failing the way it should.
fn the_story_holds(seen: &Value, anomaly: &str, target: &str, proposer: &str) {
    let tools: Vec<&str> = seen["tools"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert_eq!(
        tools,
        [
            "budget_status",
            "get_action",
            "get_anomaly",
            "list_actions",
            "list_anomalies",
            "propose_action",
            "query_costs"
        ]
    );
    assert!(tools.iter().all(|t| !t.contains("approve") && !t.contains("execute")), "no tool approves or runs");
    assert_eq!(seen["schemas"]["propose_action"]["required"], json!(["kind", "target", "risk"]));

    // Every tool answers with structured content and a summary.
    for (name, call) in seen["calls"].as_object().unwrap() {
        assert_eq!(call["is_error"], false, "{name}: {call}");
        assert!(!call["text"].as_str().unwrap().is_empty() && call["structured"].is_object(), "{name}: {call}");
    }
    assert_eq!(seen["calls"]["get_anomaly"]["structured"]["id"], json!(anomaly));
    assert!(seen["calls"]["list_anomalies"]["text"].as_str().unwrap().starts_with("1 anomalies"), "{seen}");
    assert_eq!(seen["calls"]["budget_status"]["structured"]["items"][0]["name"], "Everything");
    assert!(seen["calls"]["query_costs"]["text"].as_str().unwrap().starts_with("Costs from"), "{seen}");

    // The proposal waits for people; reading it back says so.
    let proposed = &seen["proposed"]["structured"];
    assert_eq!(
        (proposed["status"].as_str(), proposed["target"].as_str()),
        (Some("pending_approval"), Some(target)),
        "{seen}"
    );
    assert_eq!(proposed["proposed_by"], proposer);
    assert!(seen["proposed"]["text"].as_str().unwrap().contains("nothing runs before"));
    assert_eq!(seen["get_action"]["structured"]["status"], "pending_approval");
    assert_eq!(seen["missing_anomaly"]["is_error"], true);

    // What must fail: an approve tool (there is none), bad arguments (naming the field),
    // the API's own rule on a period, a missing resource, a viewer's proposal.
    assert_eq!(seen["approve_tool"]["data"]["field"], "name", "{seen}");
    assert_eq!(
        (seen["bad_granularity"]["code"].as_i64(), seen["bad_granularity"]["data"]["field"].as_str()),
        (Some(-32602), Some("granularity"))
    );
    assert_eq!(seen["unknown_argument"]["data"]["field"], "colour");
    assert_eq!(seen["api_rejects_period"]["data"]["field"], "from", "{seen}");
    assert_eq!(seen["missing_resource"]["code"], -32002);
    assert_eq!(seen["viewer_propose"]["is_error"], true);
    assert!(seen["viewer_propose"]["text"].as_str().unwrap().contains("approver"), "{seen}");
    assert_eq!(seen["viewer_read"]["is_error"], false);
    assert_eq!(seen["resources"], json!(["costguard://anomalies/open"]));
    assert_eq!(seen["templates"], json!(["costguard://anomaly/{id}"]));
    assert_eq!(seen["anomaly_resource"]["id"], json!(anomaly));
    assert_eq!(seen["open_resource"].as_array().unwrap().len(), 1);
}

crate::both_backends!(an_assistant_explains_and_proposes_but_never_approves);

/// Without a key, 401; a foreign Origin, 403; GET (a server stream) 405; a version the server
/// does not speak, 400 listing those it does; and a key that calls too fast is told to wait
/// (429 with Retry-After).
async fn the_endpoint_is_guarded(app: TestApp) {
    let ping = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
    let post = || app.client.post(app.url("/mcp")).header("accept", "application/json, text/event-stream");
    assert_eq!(post().json(&ping).send().await.unwrap().status(), 401);
    let key = app.key("fast", Role::Viewer).await;
    let res = post().bearer_auth(&key).header("origin", "https://evil.example").json(&ping).send().await.unwrap();
    assert_eq!(res.status(), 403);
    let res = app.client.get(app.url("/mcp")).bearer_auth(&key).send().await.unwrap();
    assert_eq!(res.status(), 405);
    let res = post().bearer_auth(&key).body("{").header("content-type", "application/json").send().await.unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.unwrap()["error"]["code"], -32700);
    let res = post().bearer_auth(&key).header("mcp-protocol-version", "1999-01-01").json(&ping).send().await.unwrap();
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        (body["error"]["code"].as_i64(), body["error"]["data"]["supported"][0].as_str()),
        (Some(-32022), Some("2026-07-28"))
    );
    let mut limited = None;
    for i in 0..200 {
        let res = post().bearer_auth(&key).json(&ping).send().await.unwrap();
        if res.status() == 429 {
            limited = Some((i, res.headers().get("retry-after").is_some(), res.json::<Value>().await.unwrap()));
            break;
        }
    }
    let (after, retry_after, body) = limited.expect("a burst of calls is limited");
    assert!(after >= 29 && retry_after, "{after} {body}");
    assert_eq!(body["error"]["code"], -32029);
    // Another key is not held back by this one.
    let other = app.key("calm", Role::Viewer).await;
    assert_eq!(post().bearer_auth(&other).json(&ping).send().await.unwrap().status(), 200);
}

crate::both_backends!(the_endpoint_is_guarded);

//! The browser flow (tests/browser/approve.mjs): Debian's Chromium, driven by playwright-core,
//! against the real binary on the shipped config.toml (60 days of history, speed 1), with only
//! the live loop's start-up delay shortened. An approver sees
//! the BigQuery anomaly, approves the cancel, and watches it execute, verify and resolve; a
//! viewer finds no Approve button and a forged approve is refused; an admin adds a budget and
//! sees it on the overview. Screenshots of every page
//! go to a folder the test prints (CI keeps it as an artifact).

use crate::helpers::{fresh_database, tool_present, until, Backend, Node};
use std::path::PathBuf;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approve_in_the_browser() {
    let scripts = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser"));
    let ready =
        std::path::Path::new("/usr/bin/chromium").exists() && scripts.join("node_modules/playwright-core").exists();
    if !tool_present("Chromium and tests/browser/node_modules (npm ci)", ready) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let node = Node::new(fresh_database(Backend::Sqlite, dir.path()));
    let people = [
        ("ann", "approver", "approver-password-1"),
        ("vic", "viewer", "viewer-password-1"),
        ("ada", "admin", "admin-password-12"),
    ];
    for (name, role, password) in people {
        node.create_user(name, role, password);
    }
    let mut server = node.serve_shipped(&[("COSTGUARD_PROVIDERS__SIMULATED__LIVE_INCIDENT_DELAY_SECS", "15")]);
    let client = reqwest::Client::new();
    until("the server", Duration::from_secs(30), async || {
        client.get(format!("{}/healthz", node.url)).send().await.ok()
    })
    .await;

    let shots = std::env::var("CG_SCREENSHOTS_DIR").map(PathBuf::from).unwrap_or_else(|_| {
        let target = std::env::var("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|_| PathBuf::from("target"));
        target.join("browser-screenshots")
    });
    println!("screenshots: {}", shots.display());
    let out = tokio::process::Command::new("node")
        .arg(scripts.join("approve.mjs"))
        .env("BASE_URL", &node.url)
        .env("APPROVER", "ann:approver-password-1")
        .env("VIEWER", "vic:viewer-password-1")
        .env("ADMIN", "ada:admin-password-12")
        .env("SHOTS", &shots)
        .output()
        .await
        .unwrap();
    server.kill().unwrap();
    server.wait().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    println!("{stdout}");
    assert!(out.status.success(), "the browser flow failed:\n{stdout}\n{stderr}");
}

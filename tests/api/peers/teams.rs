//! A fake Microsoft Teams webhook (Workflows' "post to a channel when a webhook request is
//! received"), written from Microsoft's references for it and for Adaptive Cards (no peer
//! exists). It accepts what Teams would post: a `message` with attachments of content type
//! `application/vnd.microsoft.card.adaptive` whose content is an AdaptiveCard of a version
//! Teams renders (at most 1.5) with only elements and actions it knows, each with its
//! required properties, the whole message within Teams' 28 KB; it answers 202 as Workflows
//! does, and 400 naming the problem otherwise.

use actix_web::{web, App, HttpResponse};
use serde_json::Value;
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct State {
    cards: Vec<Value>,
    rejected: Vec<String>,
}

pub struct Teams {
    pub url: String,
    state: Arc<Mutex<State>>,
}

const MAX_BYTES: usize = 28 * 1024;

/// The first problem Teams would have with a posted body.
fn problem(body: &[u8]) -> Option<String> {
    if body.len() > MAX_BYTES {
        return Some(format!("the message is {} bytes, over Teams' 28 KB", body.len()));
    }
    let Ok(m) = serde_json::from_slice::<Value>(body) else { return Some("not JSON".into()) };
    if m["type"] != "message" {
        return Some("type must be \"message\"".into());
    }
    let attachments = m["attachments"].as_array().filter(|a| !a.is_empty());
    let Some(attachments) = attachments else { return Some("attachments is empty".into()) };
    for a in attachments {
        if a["contentType"] != "application/vnd.microsoft.card.adaptive" {
            return Some(format!("contentType {} is not an Adaptive Card", a["contentType"]));
        }
        if let Some(p) = card_problem(&a["content"]) {
            return Some(p);
        }
    }
    None
}

fn card_problem(card: &Value) -> Option<String> {
    if card["type"] != "AdaptiveCard" {
        return Some("content.type must be AdaptiveCard".into());
    }
    let version = card["version"].as_str().unwrap_or("");
    if !["1.0", "1.1", "1.2", "1.3", "1.4", "1.5"].contains(&version) {
        return Some(format!("card version '{version}' is not one Teams renders"));
    }
    for element in card["body"].as_array().into_iter().flatten() {
        let ok = match element["type"].as_str().unwrap_or("") {
            "TextBlock" => element["text"].is_string(),
            "FactSet" => element["facts"]
                .as_array()
                .is_some_and(|f| f.iter().all(|fact| fact["title"].is_string() && fact["value"].is_string())),
            "ColumnSet" | "Container" | "Image" | "ActionSet" | "RichTextBlock" => true,
            other => return Some(format!("unknown element type '{other}'")),
        };
        if !ok {
            return Some(format!("a {} misses a required property", element["type"]));
        }
    }
    for action in card["actions"].as_array().into_iter().flatten() {
        match action["type"].as_str().unwrap_or("") {
            "Action.OpenUrl" if action["url"].as_str().is_some_and(|u| u.starts_with("http")) => {}
            "Action.OpenUrl" => return Some("Action.OpenUrl needs an http(s) url".into()),
            "Action.Submit" | "Action.ShowCard" | "Action.ToggleVisibility" | "Action.Execute" => {}
            other => return Some(format!("unknown action type '{other}'")),
        }
    }
    None
}

async fn post(body: web::Bytes, state: web::Data<Arc<Mutex<State>>>) -> HttpResponse {
    let mut s = state.lock().unwrap();
    match problem(&body) {
        Some(p) => {
            s.rejected.push(p.clone());
            HttpResponse::BadRequest().body(p)
        }
        None => {
            let message: Value = serde_json::from_slice(&body).unwrap_or_default();
            s.cards.push(message["attachments"][0]["content"].clone());
            HttpResponse::Accepted().finish()
        }
    }
}

impl Teams {
    pub fn start() -> Teams {
        let state = Arc::new(Mutex::new(State::default()));
        let data = web::Data::new(state.clone());
        let url = super::serve(move || App::new().app_data(data.clone()).default_service(web::post().to(post)));
        Teams { url: format!("{url}/workflows/triggers/manual/paths/invoke"), state }
    }

    /// The cards accepted, oldest first.
    pub fn cards(&self) -> Vec<Value> {
        self.state.lock().unwrap().cards.clone()
    }

    pub fn rejected(&self) -> Vec<String> {
        self.state.lock().unwrap().rejected.clone()
    }
}

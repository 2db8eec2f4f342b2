//! A local receiver for notifications: records every request (path, headers, body) and
//! answers as told: 200, a run of failures, or not at all (a hung receiver). It stands in for
//! a Slack incoming webhook, Slack's response_url, and a home-made webhook receiver; the
//! tests check signatures against it with their own HMAC, not CostGuard's.

use actix_web::{web, App, HttpRequest, HttpResponse};
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_default()
    }
}

#[derive(Default)]
struct State {
    received: Vec<Received>,
    /// Answer 500 to this many requests first.
    failures: usize,
    hang: bool,
}

pub struct Receiver {
    pub url: String,
    state: Arc<Mutex<State>>,
}

async fn receive(req: HttpRequest, body: web::Bytes, state: web::Data<Arc<Mutex<State>>>) -> HttpResponse {
    let hang = {
        let mut s = state.lock().unwrap();
        s.received.push(Received {
            path: req.path().to_string(),
            headers: req.headers().iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string())).collect(),
            body: body.to_vec(),
        });
        if s.failures > 0 {
            s.failures -= 1;
            return HttpResponse::InternalServerError().body("receiver down");
        }
        s.hang
    };
    if hang {
        tokio::time::sleep(std::time::Duration::from_secs(600)).await;
    }
    HttpResponse::Ok().body("ok")
}

impl Receiver {
    pub fn start() -> Receiver {
        let state = Arc::new(Mutex::new(State::default()));
        let data = web::Data::new(state.clone());
        let url = super::serve(move || App::new().app_data(data.clone()).default_service(web::post().to(receive)));
        Receiver { url, state }
    }

    pub fn fail_next(&self, n: usize) {
        self.state.lock().unwrap().failures = n;
    }

    pub fn hang(&self, hang: bool) {
        self.state.lock().unwrap().hang = hang;
    }

    /// Every request so far, oldest first (failed ones included).
    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }
}

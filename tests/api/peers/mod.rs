//! Local peers for the cloud adapters: real servers (moto, bqemulator) started as processes
//! on free ports, thin fronts that add only what a peer lacks (fault injection, an API it
//! does not implement, a rule it does not enforce), and a fake ARM server for Azure, which
//! has no emulator; an SMTP server (aiosmtpd) and fakes of PagerDuty's Events API and a
//! Teams webhook for the notifications. Each test starts its own, so tests never share cloud state.

pub mod arm;
pub mod aws;
pub mod bigquery;
pub mod llm;
pub mod pagerduty;
pub mod receiver;
pub mod smtp;
pub mod teams;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A peer process, killed when dropped.
pub struct Process {
    child: Child,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The peer's program from the environment (.ci/peers.sh prints it); None skips the test
/// locally and fails it in CI.
pub fn program(env: &str) -> Option<String> {
    let path = std::env::var(env).ok().filter(|p| std::path::Path::new(p).exists());
    crate::helpers::tool_present(&format!("{env} (run: eval \"$(.ci/peers.sh)\")"), path.is_some())
        .then(|| path.unwrap())
}

/// Starts `command` and waits until `ready_url` answers.
pub async fn start(mut command: Command, ready_url: &str, timeout: Duration) -> Process {
    let child = command.stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("start the peer");
    let process = Process { child };
    let client = reqwest::Client::new();
    let deadline = std::time::Instant::now() + timeout;
    while std::time::Instant::now() < deadline {
        if client.get(ready_url).send().await.is_ok() {
            return process;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the peer at {ready_url} did not answer within {timeout:?}");
}

/// A transient failure a front answers instead of forwarding.
#[derive(Debug, Clone)]
pub struct Fault {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

/// Serves an actix app on a free port in the background; returns its base URL.
pub fn serve<F, S>(factory: F) -> String
where
    F: Fn() -> actix_web::App<S> + Send + Clone + 'static,
    S: actix_web::dev::ServiceFactory<
            actix_web::dev::ServiceRequest,
            Config = (),
            Response = actix_web::dev::ServiceResponse<actix_web::body::BoxBody>,
            Error = actix_web::Error,
            InitError = (),
        > + 'static,
{
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = actix_web::HttpServer::new(factory).workers(1).listen(listener).unwrap().run();
    tokio::spawn(server);
    format!("http://127.0.0.1:{port}")
}

/// Forwards a request to `base` unchanged and hands back the answer.
pub async fn forward(
    http: &reqwest::Client,
    base: &str,
    req: &actix_web::HttpRequest,
    body: bytes::Bytes,
) -> actix_web::HttpResponse {
    let url = format!("{base}{}", req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/"));
    let method = reqwest::Method::from_bytes(req.method().as_str().as_bytes()).unwrap();
    let mut out = http.request(method, url).body(body);
    for (name, value) in req.headers() {
        if name != "host" && name != "content-length" {
            out = out.header(name.as_str(), value.as_bytes());
        }
    }
    let answer = out.send().await.unwrap();
    let status = actix_web::http::StatusCode::from_u16(answer.status().as_u16()).unwrap();
    let mut response = actix_web::HttpResponse::build(status);
    for (name, value) in answer.headers() {
        if name != "content-length" && name != "transfer-encoding" {
            response.insert_header((name.as_str(), value.as_bytes()));
        }
    }
    response.body(answer.bytes().await.unwrap())
}

pub fn fault_response(fault: &Fault) -> actix_web::HttpResponse {
    let mut response = actix_web::HttpResponse::build(actix_web::http::StatusCode::from_u16(fault.status).unwrap());
    for (name, value) in &fault.headers {
        response.insert_header((*name, value.clone()));
    }
    response.body(fault.body.clone())
}

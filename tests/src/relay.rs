//! A relay between clients and the server that plays a malicious or compromised server:
//! it can rewrite any JSON the server answers, rewrite any JSON a client sends, answer in
//! the server's place (so a request never arrives), or lose an answer after the server
//! committed. Clients talk to it exactly as to the server.

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicBool, Ordering},
};

use serde_json::Value;

/// Rewrites a JSON body in flight: `(method, path with query, body)`.
pub type Rewrite = Box<dyn Fn(&str, &str, &mut Value) + Send + Sync>;
/// Answers in the server's place when it returns `Some((status, body))`: `(method, path,
/// request body)`; the request then never reaches the server.
pub type Intercept = Box<dyn Fn(&str, &str, &Value) -> Option<(u16, Value)> + Send + Sync>;

/// A relay between clients and the server (a malicious or compromised server).
pub struct Relay {
    /// Where clients connect instead of the server.
    pub url: String,
    /// While true, every listed pending request carries [`ATTACKER_KEY_B64`] as the
    /// requester's key (a server swapping the new device's key).
    pub swap: Arc<AtomicBool>,
    /// The bodies of the approvals that reached the server.
    pub approvals_forwarded: Arc<Mutex<Vec<String>>>,
    /// Path endings whose next non-GET request is delivered to the server but whose
    /// answer is lost (502 without a body): what a client sees when it is killed or the
    /// network drops right after the server committed.
    pub lose_answer: Arc<Mutex<Vec<String>>>,
    /// Rewrites of the server's JSON answers, applied in order.
    pub answers: Arc<Mutex<Vec<Rewrite>>>,
    /// Rewrites of the clients' JSON requests, applied in order before forwarding.
    pub requests: Arc<Mutex<Vec<Rewrite>>>,
    /// Answers in the server's place (the first that returns `Some` wins).
    pub intercepts: Arc<Mutex<Vec<Intercept>>>,
    /// Every request that passed, as `"METHOD path"`.
    pub log: Arc<Mutex<Vec<String>>>,
}

impl Relay {
    /// Loses the answer to the next non-GET request whose path ends with `suffix`.
    pub fn lose_next_answer(&self, suffix: &str) {
        self.lose_answer.lock().unwrap().push(suffix.to_owned());
    }

    /// Adds a rewrite of the server's answers.
    pub fn rewrite_answers(&self, f: impl Fn(&str, &str, &mut Value) + Send + Sync + 'static) {
        self.answers.lock().unwrap().push(Box::new(f));
    }

    /// Adds a rewrite of the clients' requests.
    pub fn rewrite_requests(&self, f: impl Fn(&str, &str, &mut Value) + Send + Sync + 'static) {
        self.requests.lock().unwrap().push(Box::new(f));
    }

    /// Adds an answer in the server's place.
    pub fn intercept(
        &self,
        f: impl Fn(&str, &str, &Value) -> Option<(u16, Value)> + Send + Sync + 'static,
    ) {
        self.intercepts.lock().unwrap().push(Box::new(f));
    }

    /// Stops tampering: plain pass-through again.
    pub fn clear(&self) {
        self.answers.lock().unwrap().clear();
        self.requests.lock().unwrap().clear();
        self.intercepts.lock().unwrap().clear();
        self.swap.store(false, Ordering::SeqCst);
    }

    /// How many requests matching `method` and whose path contains `part` passed.
    pub fn count(&self, method: &str, part: &str) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.starts_with(method) && l.contains(part))
            .count()
    }
}

/// The key the relay substitutes (an attacker's X25519 public key: RFC 7748's Bob), as a
/// key bundle in base64url.
pub const ATTACKER_KEY_B64: &str = "AQEBACDentt9e33BtNNbYcLs5DU3P4NDyFt4Z02t_H4Ub4grTw";

/// Starts a relay to the server at `upstream` on a loopback port (pass-through until told
/// otherwise).
pub async fn start_relay(upstream: String) -> Relay {
    use axum::{body::Bytes, extract::Request, response::Response};
    let relay = Relay {
        url: String::new(),
        swap: Arc::new(AtomicBool::new(false)),
        approvals_forwarded: Arc::new(Mutex::new(Vec::new())),
        lose_answer: Arc::new(Mutex::new(Vec::new())),
        answers: Arc::new(Mutex::new(Vec::new())),
        requests: Arc::new(Mutex::new(Vec::new())),
        intercepts: Arc::new(Mutex::new(Vec::new())),
        log: Arc::new(Mutex::new(Vec::new())),
    };
    let (swap, fwd, lose, answers, requests, intercepts, log) = (
        relay.swap.clone(),
        relay.approvals_forwarded.clone(),
        relay.lose_answer.clone(),
        relay.answers.clone(),
        relay.requests.clone(),
        relay.intercepts.clone(),
        relay.log.clone(),
    );
    let http = reqwest::Client::new();
    let app = axum::Router::new().fallback(move |req: Request| {
        let (swap, fwd, lose, answers, requests, intercepts, log, http, upstream) = (
            swap.clone(),
            fwd.clone(),
            lose.clone(),
            answers.clone(),
            requests.clone(),
            intercepts.clone(),
            log.clone(),
            http.clone(),
            upstream.clone(),
        );
        async move {
            let (parts, body) = req.into_parts();
            let mut body: Bytes = axum::body::to_bytes(body, 1 << 20)
                .await
                .unwrap_or_default();
            let path = parts
                .uri
                .path_and_query()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default();
            let method = parts.method.as_str().to_owned();
            log.lock().unwrap().push(format!("{method} {path}"));
            let json_in: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            for f in intercepts.lock().unwrap().iter() {
                if let Some((status, v)) = f(&method, &path, &json_in) {
                    return Response::builder()
                        .status(status)
                        .header("content-type", "application/json")
                        .body(axum::body::Body::from(serde_json::to_vec(&v).unwrap()))
                        .unwrap();
                }
            }
            if !json_in.is_null() && !requests.lock().unwrap().is_empty() {
                let mut v = json_in.clone();
                for f in requests.lock().unwrap().iter() {
                    f(&method, &path, &mut v);
                }
                body = Bytes::from(serde_json::to_vec(&v).unwrap());
            }
            if path.contains("/approve") {
                fwd.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&body).into_owned());
            }
            let mut r = http
                .request(parts.method.clone(), format!("{upstream}{path}"))
                .body(body.to_vec());
            for h in ["authorization", "content-type", "accept", "last-event-id"] {
                if let Some(a) = parts.headers.get(h) {
                    r = r.header(h, a);
                }
            }
            let lost = parts.method != axum::http::Method::GET && {
                let mut l = lose.lock().unwrap();
                let bare = parts.uri.path();
                match l.iter().position(|suffix| bare.ends_with(suffix.as_str())) {
                    Some(i) => {
                        l.remove(i);
                        true
                    }
                    None => false,
                }
            };
            let resp = r.send().await.unwrap();
            if lost {
                let _ = resp.bytes().await;
                return Response::builder()
                    .status(502)
                    .body(axum::body::Body::empty())
                    .unwrap();
            }
            let status = resp.status();
            let content_type = resp
                .headers()
                .get("content-type")
                .and_then(|c| c.to_str().ok())
                .unwrap_or("application/json")
                .to_owned();
            if content_type.starts_with("text/event-stream") {
                // Event streams pass through untouched (a relay that drops them only
                // slows clients down to polling).
                return Response::builder()
                    .status(status.as_u16())
                    .header("content-type", content_type)
                    .body(axum::body::Body::from_stream(resp.bytes_stream()))
                    .unwrap();
            }
            let mut bytes = resp.bytes().await.unwrap().to_vec();
            let tamper = swap.load(Ordering::SeqCst) && path.starts_with("/v1/approval-requests?");
            if (tamper || !answers.lock().unwrap().is_empty())
                && let Ok(mut v) = serde_json::from_slice::<Value>(&bytes)
            {
                {
                    if tamper {
                        for p in v.as_array_mut().into_iter().flatten() {
                            p["device"]["key_bundle"] = Value::String(ATTACKER_KEY_B64.into());
                        }
                    }
                    for f in answers.lock().unwrap().iter() {
                        f(&method, &path, &mut v);
                    }
                    bytes = serde_json::to_vec(&v).unwrap();
                }
            }
            Response::builder()
                .status(status.as_u16())
                .header("content-type", content_type)
                .body(axum::body::Body::from(bytes))
                .unwrap()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Relay { url, ..relay }
}

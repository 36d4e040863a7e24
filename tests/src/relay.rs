//! A relay between clients and the server that can tamper with what the server says or
//! lose its answers.

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicBool, Ordering},
};

/// A relay between a client and the server that can replace the requester's public key
/// in pending-request listings (a malicious or compromised server).
pub struct Relay {
    /// Where clients connect instead of the server.
    pub url: String,
    /// While true, every listed pending request carries [`ATTACKER_KEY_B64`].
    pub swap: Arc<AtomicBool>,
    /// The bodies of the approvals that reached the server.
    pub approvals_forwarded: Arc<Mutex<Vec<String>>>,
    /// Path endings whose next non-GET request is delivered to the server but whose
    /// answer is lost (502 without a body): what a client sees when it is killed or the
    /// network drops right after the server committed.
    pub lose_answer: Arc<Mutex<Vec<String>>>,
}

impl Relay {
    /// Loses the answer to the next non-GET request whose path ends with `suffix`.
    pub fn lose_next_answer(&self, suffix: &str) {
        self.lose_answer.lock().unwrap().push(suffix.to_owned());
    }
}

/// The key the relay substitutes (an attacker's X25519 public key: RFC 7748's Bob).
pub const ATTACKER_KEY_B64: &str = "3p7bfXt9wbTTW2HC7OQ1Nz-DQ8hbeGdNrfx-FG-IK08";

/// Starts a relay to the server at `upstream` on a loopback port (pass-through until told
/// otherwise).
pub async fn start_relay(upstream: String) -> Relay {
    use axum::{body::Bytes, extract::Request, response::Response};
    let swap = Arc::new(AtomicBool::new(false));
    let forwarded = Arc::new(Mutex::new(Vec::new()));
    let lose = Arc::new(Mutex::new(Vec::<String>::new()));
    let (swap2, fwd2, lose2) = (swap.clone(), forwarded.clone(), lose.clone());
    let http = reqwest::Client::new();
    let app = axum::Router::new().fallback(move |req: Request| {
        let (swap, fwd, lose, http, upstream) = (
            swap2.clone(),
            fwd2.clone(),
            lose2.clone(),
            http.clone(),
            upstream.clone(),
        );
        async move {
            let (parts, body) = req.into_parts();
            let body: Bytes = axum::body::to_bytes(body, 1 << 20)
                .await
                .unwrap_or_default();
            let path = parts
                .uri
                .path_and_query()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default();
            if path.contains("/approve") {
                fwd.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&body).into_owned());
            }
            let mut r = http
                .request(parts.method.clone(), format!("{upstream}{path}"))
                .body(body.to_vec());
            if let Some(a) = parts.headers.get("authorization") {
                r = r.header("authorization", a);
            }
            if let Some(c) = parts.headers.get("content-type") {
                r = r.header("content-type", c);
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
            let mut bytes = resp.bytes().await.unwrap().to_vec();
            if swap.load(Ordering::SeqCst) && path.starts_with("/v1/approval-requests?") {
                let mut v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
                for p in v.as_array_mut().unwrap() {
                    p["device"]["public_key"] = serde_json::Value::String(ATTACKER_KEY_B64.into());
                }
                bytes = serde_json::to_vec(&v).unwrap();
            }
            Response::builder()
                .status(status.as_u16())
                .header("content-type", "application/json")
                .body(axum::body::Body::from(bytes))
                .unwrap()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Relay {
        url,
        swap,
        approvals_forwarded: forwarded,
        lose_answer: lose,
    }
}

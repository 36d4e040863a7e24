//! A real `vouch-server` process on a loopback port, and a small JSON client for it.
#![allow(dead_code)]

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    time::Duration,
};

use futures_util::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

pub struct Server {
    child: Child,
    pub url: String,
    pub dir: tempfile::TempDir,
}

impl Server {
    /// Starts `vouch-server --dev` on an ephemeral port with its own data directory.
    pub fn start(extra: &[&str]) -> Self {
        Self::start_with(true, extra)
    }

    pub fn start_with(dev: bool, extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vouch-server"));
        cmd.arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data")
            .arg(dir.path());
        if dev {
            cmd.arg("--dev");
        }
        cmd.args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd.spawn().expect("spawn vouch-server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .expect("listening line")
            .to_owned();
        Self { child, url, dir }
    }

    pub fn client(&self) -> Api {
        Api {
            base: self.url.clone(),
            http: reqwest::Client::new(),
        }
    }

    /// Stops the process with SIGTERM (graceful) and waits for it.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        for _ in 0..100 {
            if let Ok(Some(s)) = self.child.try_wait() {
                return s;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        self.child.wait().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
}

/// A response: status, JSON body (Null if none) and the Retry-After header.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub body: Value,
    pub retry_after: Option<String>,
}

impl Resp {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
    #[track_caller]
    pub fn ok(self) -> Value {
        assert!(
            self.status.is_success(),
            "expected success, got {} {}",
            self.status,
            self.body
        );
        self.body
    }
    #[track_caller]
    pub fn err(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status.as_u16(), self.code()),
            (status, code),
            "body: {}",
            self.body
        );
    }
}

pub const PASSWORD: &str = "dev-password";

impl Api {
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
        let text = resp.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Resp {
            status,
            body,
            retry_after,
        }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Resp {
        self.call(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Resp {
        self.call(Method::POST, path, token, Some(body)).await
    }

    pub async fn login(&self, email: &str) -> (String, Value) {
        let v = self
            .post(
                "/v1/auth/login",
                None,
                json!({"email": email, "password": PASSWORD}),
            )
            .await
            .ok();
        (
            v["account_token"].as_str().unwrap().to_owned(),
            v["user"].clone(),
        )
    }

    pub async fn register(&self, account: &str, name: &str, kind: &str) -> Resp {
        self.post(
            "/v1/devices",
            Some(account),
            json!({"name": name, "kind": kind, "platform": "Test OS / test", "public_key": b64(&new_public_key())}),
        )
        .await
    }

    /// The newest code mailed to `email`, read from the dev outbox as a person would.
    pub async fn latest_code(&self, email: &str) -> String {
        let mails = self
            .get(&format!("/v1/dev/outbox?to={email}"), None)
            .await
            .ok();
        let body = mails
            .as_array()
            .unwrap()
            .last()
            .expect("a mail")
            .get("body")
            .unwrap()
            .as_str()
            .unwrap()
            .to_owned();
        body.split(|c: char| !c.is_ascii_digit())
            .find(|w| w.len() == 6)
            .expect("6-digit code")
            .to_owned()
    }

    /// Signs in, registers a device of `kind` and trusts it by email code.
    /// Returns (account token, device json, device token).
    pub async fn trusted_device(
        &self,
        email: &str,
        name: &str,
        kind: &str,
    ) -> (String, Value, String) {
        let (account, _) = self.login(email).await;
        let device = self.register(&account, name, kind).await.ok();
        let id = device["id"].as_str().unwrap().to_owned();
        self.post(
            &format!("/v1/devices/{id}/email-code"),
            Some(&account),
            json!({}),
        )
        .await
        .ok();
        let code = self.latest_code(email).await;
        let t = self
            .post(
                &format!("/v1/devices/{id}/email-code/verify"),
                Some(&account),
                json!({"code": code}),
            )
            .await
            .ok();
        (
            account,
            t["device"].clone(),
            t["device_token"].as_str().unwrap().to_owned(),
        )
    }
}

pub fn new_public_key() -> [u8; 32] {
    let mut sk = [0u8; 32];
    getrandom::fill(&mut sk).unwrap();
    *x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from(sk)).as_bytes()
}

pub fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// An open SSE connection.
pub struct Events {
    stream: std::pin::Pin<
        Box<dyn futures_util::Stream<Item = Result<eventsource_stream::Event, String>> + Send>,
    >,
}

impl Events {
    pub async fn connect(api: &Api, token: &str, query: &str, last_event_id: Option<&str>) -> Self {
        let mut req = api
            .http
            .get(format!("{}/v1/events{query}", api.base))
            .bearer_auth(token);
        if let Some(id) = last_event_id {
            req = req.header("Last-Event-ID", id);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(
            resp.status(),
            200,
            "events: {}",
            resp.text().await.unwrap_or_default()
        );
        use eventsource_stream::Eventsource;
        let stream = resp
            .bytes_stream()
            .eventsource()
            .map(|r| r.map_err(|e| e.to_string()));
        Self {
            stream: Box::pin(stream),
        }
    }

    /// The next event (skipping keep-alives), or panics after 10 s.
    pub async fn next(&mut self) -> eventsource_stream::Event {
        tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                let ev = self
                    .stream
                    .next()
                    .await
                    .expect("stream ended")
                    .expect("sse error");
                if !ev.event.is_empty() && ev.event != "message" {
                    return ev;
                }
            }
        })
        .await
        .expect("no event within 10 s")
    }

    /// Waits for the next event named `kind`, returning its data.
    pub async fn expect(&mut self, kind: &str) -> (String, Value) {
        loop {
            let ev = self.next().await;
            if ev.event == kind {
                return (ev.id, serde_json::from_str(&ev.data).unwrap());
            }
        }
    }
}

//! The one JSON client of the tests, bench and stress binaries.

use std::time::Duration;

use reqwest::{Method, StatusCode, header::HeaderMap};
use serde_json::{Value, json};

use crate::{DEV_PASSWORD, Events, poll_until};

/// How long [`Api::latest_code`] waits for a mail to arrive.
const MAIL_WAIT: Duration = Duration::from_secs(10);

/// A JSON client for one server (`base` is `http://HOST:PORT`, no trailing slash).
#[derive(Clone, Debug)]
pub struct Api {
    /// The server's URL.
    pub base: String,
    /// The underlying client, for requests the helpers do not cover.
    pub http: reqwest::Client,
}

/// An answer: status, headers and the JSON body (`Null` if empty, a JSON string if the
/// body is not JSON).
#[derive(Debug)]
pub struct Resp {
    /// HTTP status.
    pub status: StatusCode,
    /// Response headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Value,
}

impl Resp {
    /// The error code (`error.code`), or `""`.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    /// The `Retry-After` header in seconds, if there is one.
    pub fn retry_after(&self) -> Option<u64> {
        self.headers
            .get(reqwest::header::RETRY_AFTER)?
            .to_str()
            .ok()?
            .parse()
            .ok()
    }

    /// The body of a 2xx answer.
    ///
    /// # Panics
    /// If the status is not 2xx.
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

    /// Asserts the status and the error code.
    ///
    /// # Panics
    /// If either differs.
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

/// The HTTP client of an [`Api`]. In the PostgreSQL pass it keeps no idle connection, so
/// each request opens one of its own and the balancer in front of the replicas spreads
/// the requests of every test over them, not only its clients.
fn client() -> reqwest::ClientBuilder {
    let builder = reqwest::Client::builder();
    if crate::postgres::enabled() {
        builder.pool_max_idle_per_host(0)
    } else {
        builder
    }
}

impl Api {
    /// A client for the server at `base`.
    pub fn new(base: impl Into<String>) -> Self {
        Self {
            base: base.into(),
            http: client().build().expect("HTTP client"),
        }
    }

    /// A client for the server at `base` that gives up on a request after `timeout`
    /// (as a hasty app would; [`Api::try_call`] then returns `Err`).
    pub fn with_timeout(base: impl Into<String>, timeout: Duration) -> Self {
        Self {
            base: base.into(),
            http: client().timeout(timeout).build().expect("HTTP client"),
        }
    }

    /// A client for the server at `base` whose requests come from `address` (another
    /// loopback address such as 127.0.0.2 plays a second network on one machine).
    pub fn from_address(base: impl Into<String>, address: std::net::IpAddr) -> Self {
        Self {
            base: base.into(),
            http: client()
                .local_address(address)
                .build()
                .expect("HTTP client"),
        }
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// One request with an optional bearer token and JSON body; `Err` only if the server
    /// could not be reached or the answer not read.
    pub async fn try_call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> reqwest::Result<Resp> {
        let mut req = self.http.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await?;
        let (status, headers) = (resp.status(), resp.headers().clone());
        let text = resp.text().await?;
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Ok(Resp {
            status,
            headers,
            body,
        })
    }

    /// [`Api::try_call`] that must reach the server.
    ///
    /// # Panics
    /// If the server cannot be reached.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        match self.try_call(method, path, token, body).await {
            Ok(r) => r,
            Err(e) => panic!("{path}: {e}"),
        }
    }

    /// GET.
    pub async fn get(&self, path: &str, token: Option<&str>) -> Resp {
        self.call(Method::GET, path, token, None).await
    }

    /// POST with a JSON body.
    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Resp {
        self.call(Method::POST, path, token, Some(body)).await
    }

    /// PUT with a JSON body.
    pub async fn put(&self, path: &str, token: Option<&str>, body: Value) -> Resp {
        self.call(Method::PUT, path, token, Some(body)).await
    }

    /// DELETE.
    pub async fn delete(&self, path: &str, token: Option<&str>) -> Resp {
        self.call(Method::DELETE, path, token, None).await
    }

    /// Signs in with [`DEV_PASSWORD`]; returns the account token and the user.
    ///
    /// # Panics
    /// If the sign-in fails.
    pub async fn login(&self, email: &str) -> (String, Value) {
        self.sign_in(email, DEV_PASSWORD).await
    }

    /// Signs in with `password`; returns the account token and the user.
    ///
    /// # Panics
    /// If the sign-in fails.
    pub async fn sign_in(&self, email: &str, password: &str) -> (String, Value) {
        let v = self
            .post(
                "/v1/auth/login",
                None,
                json!({"email": email, "password": password}),
            )
            .await
            .ok();
        (
            v["account_token"].as_str().unwrap().to_owned(),
            v["user"].clone(),
        )
    }

    /// Registers a pending device of `kind` with a fresh X25519 key (the answer unchecked).
    pub async fn register(&self, account: &str, name: &str, kind: &str) -> Resp {
        self.post(
            "/v1/devices",
            Some(account),
            json!({"name": name, "kind": kind, "platform": "Test OS / test",
                "key_bundle": b64(&new_key_bundle())}),
        )
        .await
    }

    /// Opens an approval request for `device_id` (enrollment with an account token,
    /// key sharing with the device's own token); the answer unchecked.
    pub async fn open_approval(&self, token: &str, device_id: &str) -> Resp {
        let path = format!("/v1/devices/{device_id}/approval-requests");
        self.post(&path, Some(token), json!({})).await
    }

    /// Trusts the pending device `device_id` by the code mailed to `email`; returns the
    /// answer (`device`, `device_token`).
    ///
    /// # Panics
    /// If a step fails.
    pub async fn verify_by_email(&self, account: &str, email: &str, device_id: &str) -> Value {
        let path = format!("/v1/devices/{device_id}/email-code");
        self.post(&path, Some(account), json!({})).await.ok();
        let code = self.latest_code(email).await;
        self.post(
            &format!("{path}/verify"),
            Some(account),
            json!({"code": code}),
        )
        .await
        .ok()
    }

    /// Signs in, registers a device of `kind` and trusts it by email code. Returns
    /// (account token, device, device token).
    ///
    /// # Panics
    /// If a step fails.
    pub async fn trusted_device(
        &self,
        email: &str,
        name: &str,
        kind: &str,
    ) -> (String, Value, String) {
        let (account, _) = self.login(email).await;
        let device = self.register(&account, name, kind).await.ok();
        let id = device["id"].as_str().unwrap();
        let t = self.verify_by_email(&account, email, id).await;
        let token = t["device_token"].as_str().unwrap().to_owned();
        (account, t["device"].clone(), token)
    }

    /// Has the key holder whose device token is `approver` approve the pending device
    /// `device_id` (registered by `account`) through a whole Trust v2 run, making it a key
    /// holder; returns its device token. The server only relays the PAKE, so the messages
    /// here are opaque bytes of the right sizes: this exercises the server's rules, not
    /// the crypto (the e2e tests run the real clients for that).
    ///
    /// # Panics
    /// If a step fails.
    pub async fn approve_pending(&self, account: &str, device_id: &str, approver: &str) -> String {
        let rid = id(&self.open_approval(account, device_id).await.ok());
        let ack = self.complete_approval(&rid, account, approver).await;
        ack["device_token"].as_str().unwrap().to_owned()
    }

    /// Runs open request `rid` to its end: the key holder `approver` starts a run, the
    /// `requester` (its account or device token) answers, the approver approves, the
    /// requester acknowledges. Returns the acknowledgement's answer.
    ///
    /// # Panics
    /// If a step is refused.
    pub async fn complete_approval(&self, rid: &str, requester: &str, approver: &str) -> Value {
        let run = self.start_run(rid, approver).await;
        self.answer_run(rid, &run, requester).await.ok();
        self.approve_run(rid, &run, approver).await.ok();
        self.post(
            &format!("/v1/approval-requests/{rid}/ack"),
            Some(requester),
            json!({"run_id": run, "opened": true}),
        )
        .await
        .ok()
    }

    /// Starts a run on request `rid` as the key holder `approver` (an opaque A message:
    /// the server only relays it); returns the run id.
    ///
    /// # Panics
    /// If the server refuses.
    pub async fn start_run(&self, rid: &str, approver: &str) -> String {
        let r = self
            .post(
                &format!("/v1/approval-requests/{rid}/runs"),
                Some(approver),
                json!({"secret": "code", "msg_a": b64(&[0x41; 33])}),
            )
            .await
            .ok();
        r["run_id"].as_str().unwrap().to_owned()
    }

    /// The requester answers run `run` (an opaque B message and MAC); the answer unchecked.
    pub async fn answer_run(&self, rid: &str, run: &str, requester: &str) -> Resp {
        self.post(
            &format!("/v1/approval-requests/{rid}/runs/{run}/response"),
            Some(requester),
            json!({"msg_b": b64(&[0x42; 33]), "mac_b": b64(&[1; 32])}),
        )
        .await
    }

    /// The run's approver approves it (an opaque MAC and payload); the answer unchecked.
    pub async fn approve_run(&self, rid: &str, run: &str, approver: &str) -> Resp {
        self.post(
            &format!("/v1/approval-requests/{rid}/approve"),
            Some(approver),
            json!({"run_id": run, "mac_a": b64(&[2; 32]), "payload": b64(&[3; 96])}),
        )
        .await
    }

    /// Signs in, registers a device of `kind` and has the key holder `approver` approve
    /// it: a second key holder (an email verification would make it email-only). Returns
    /// (account token, device, device token).
    ///
    /// # Panics
    /// If a step fails.
    pub async fn approved_device(
        &self,
        email: &str,
        name: &str,
        kind: &str,
        approver: &str,
    ) -> (String, Value, String) {
        let (account, _) = self.login(email).await;
        let device = self.register(&account, name, kind).await.ok();
        let token = self.approve_pending(&account, &id(&device), approver).await;
        let device = self
            .get("/v1/devices", Some(&token))
            .await
            .ok()
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["id"] == device["id"])
            .unwrap()
            .clone();
        (account, device, token)
    }

    /// The 6-digit code of the newest mail to `email` (whose text contains `containing`,
    /// if given) in the dev outbox, as a person would read it; waits up to 10 s for one
    /// to arrive. `None` if none did.
    pub async fn mailed_code(&self, email: &str, containing: Option<&str>) -> Option<String> {
        let path = &format!("/v1/dev/outbox?to={email}");
        poll_until(MAIL_WAIT, || async move {
            let mails = self.try_call(Method::GET, path, None, None).await.ok()?;
            mails
                .body
                .as_array()?
                .iter()
                .rev()
                .filter_map(|m| m["body"].as_str())
                .filter(|text| containing.is_none_or(|c| text.contains(c)))
                .find_map(|text| {
                    text.split(|c: char| !c.is_ascii_digit())
                        .find(|w| w.len() == 6)
                        .map(str::to_owned)
                })
        })
        .await
    }

    /// [`Api::mailed_code`] for the newest mail to `email`.
    ///
    /// # Panics
    /// If no code arrives.
    pub async fn latest_code(&self, email: &str) -> String {
        match self.mailed_code(email, None).await {
            Some(code) => code,
            None => panic!("no code mailed to {email}"),
        }
    }

    /// Moves the server's clock forward by `secs` (`POST /v1/dev/clock`, `--dev` only):
    /// codes, requests, tokens and throttles see the time passed. Each replica keeps its
    /// clock in memory, so every replica of a [`crate::TestServer`] moves, by the same
    /// amount, whichever of its URLs `base` is.
    ///
    /// # Panics
    /// If a replica refuses.
    pub async fn advance_clock(&self, secs: u64) {
        for base in crate::server::replica_urls_of(&self.base) {
            let replica = Self {
                base,
                http: self.http.clone(),
            };
            replica
                .post("/v1/dev/clock", None, json!({"advance_secs": secs}))
                .await
                .ok();
        }
    }

    /// The server's `GET /metrics` text (Prometheus), read with [`metric`].
    ///
    /// # Panics
    /// If it does not answer 200.
    pub async fn metrics(&self) -> String {
        let r = self.http.get(self.url("/metrics")).send().await.unwrap();
        assert_eq!(r.status(), 200, "GET /metrics");
        r.text().await.unwrap()
    }

    /// Opens `GET /v1/events{query}` (resuming after `last_event_id`, if given).
    ///
    /// # Panics
    /// If the stream is not opened with 200.
    pub async fn events(&self, token: &str, query: &str, last_event_id: Option<&str>) -> Events {
        Events::connect(self, token, query, last_event_id).await
    }
}

/// `n` registrations of `account` at once, racing for the last places under the device
/// limit (racer `i` asks through `apis[i % apis.len()]`, so replicas race each other).
/// Returns how many were created and the refused answers.
///
/// # Panics
/// If `apis` is empty, or an answer is neither 201 nor 409 `device_limit_reached`.
pub async fn register_at_once(apis: &[Api], account: &str, n: usize) -> (usize, Vec<Resp>) {
    let racers = crate::all_at_once(n, |i| {
        let (api, account) = (apis[i % apis.len()].clone(), account.to_owned());
        async move { api.register(&account, &format!("racer {i}"), "web").await }
    })
    .await;
    let (created, refused): (Vec<_>, Vec<_>) = racers.into_iter().partition(|r| r.status == 201);
    for r in &refused {
        r.err(409, "device_limit_reached");
    }
    (created.len(), refused)
}

/// The sum of every series named `name` in a Prometheus text (`vouch_http_requests_total`
/// adds up all its labels; `vouch_db_write_wait_seconds_sum` is the one line); 0 if none.
pub fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// The `id` field of a JSON object, as a string.
///
/// # Panics
/// If there is none.
#[track_caller]
pub fn id(v: &Value) -> String {
    match v["id"].as_str() {
        Some(id) => id.to_owned(),
        None => panic!("no id in {v}"),
    }
}

/// A fresh X25519 public key (as a device would register).
pub fn new_public_key() -> [u8; 32] {
    let mut sk = [0u8; 32];
    getrandom::fill(&mut sk).expect("random bytes");
    *x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from(sk)).as_bytes()
}

/// A fresh key bundle (what a device registers) around a fresh X25519 key.
pub fn new_key_bundle() -> Vec<u8> {
    key_bundle(new_public_key())
}

/// The key bundle of an X25519 key (valid or not: tests send bad ones on purpose).
pub fn key_bundle(x25519: [u8; 32]) -> Vec<u8> {
    let mut out = vec![0x01, 0x01, 0x01, 0x00, 0x20];
    out.extend_from_slice(&x25519);
    out
}

/// base64url without padding, the wire form of bytes.
pub fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

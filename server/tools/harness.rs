//! HTTP client helpers shared by the bench binaries (`load`, `race`): a thin JSON client
//! over reqwest that drives a running server the way the apps do.

use serde_json::{Value, json};
use vouch_server::seed;

pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
}

impl Client {
    pub fn new(base: &str) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: base.to_owned(),
        }
    }

    /// POST, returning the status and the JSON body (no assertion).
    pub async fn try_post(&self, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        let mut r = self.http.post(format!("{}{path}", self.base)).json(&body);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        let resp = r.send().await.expect("request");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// POST that must succeed.
    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Value {
        let (status, v) = self.try_post(path, token, body).await;
        assert!((200..300).contains(&status), "{path}: {status} {v}");
        v
    }
    pub async fn get(&self, path: &str) -> Value {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("get")
            .json()
            .await
            .expect("json")
    }
    pub async fn login(&self, email: &str) -> String {
        let v = self
            .post(
                "/v1/auth/login",
                None,
                json!({"email": email, "password": seed::DEV_PASSWORD}),
            )
            .await;
        v["account_token"].as_str().unwrap().to_owned()
    }
    /// Registers a pending device with a fresh key; returns its id.
    pub async fn register(&self, account: &str, name: &str, kind: &str) -> String {
        let mut sk = [0u8; 32];
        getrandom::fill(&mut sk).unwrap();
        let pk = x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from(sk));
        let v = self
            .post(
                "/v1/devices",
                Some(account),
                json!({"name": name, "kind": kind, "platform": "load", "public_key": vouch_proto::Bytes(pk.as_bytes().to_vec())}),
            )
            .await;
        v["id"].as_str().unwrap().to_owned()
    }
    pub async fn email_verify(&self, account: &str, email: &str, device: &str) -> String {
        self.post(
            &format!("/v1/devices/{device}/email-code"),
            Some(account),
            json!({}),
        )
        .await;
        let mails = self.get(&format!("/v1/dev/outbox?to={email}")).await;
        let body = mails.as_array().unwrap().last().unwrap()["body"]
            .as_str()
            .unwrap()
            .to_owned();
        let code = body
            .split(|c: char| !c.is_ascii_digit())
            .find(|w| w.len() == 6)
            .unwrap()
            .to_owned();
        let v = self
            .post(
                &format!("/v1/devices/{device}/email-code/verify"),
                Some(account),
                json!({"code": code}),
            )
            .await;
        v["device_token"].as_str().unwrap().to_owned()
    }
}

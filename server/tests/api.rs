//! The v1 contract driven over real HTTP against a real `vouch-server` process:
//! every route, every error code and every rule of DESIGN.md.

// Helpers below (fake SMTP server, …) unwrap like the tests they serve.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use serde_json::{Value, json};
use vouch_testkit::{
    Api, DEV_PASSWORD, Method, TestServer, all_at_once, b64, id, new_key_bundle, poll_until,
};

const SERVER: &str = env!("CARGO_BIN_EXE_vouch-server");
/// An SMTP relay URL for servers started without `--dev` whose tests send no mail
/// (lettre connects only when sending).
const UNUSED_SMTP: &str = "smtp://127.0.0.1:9";

// ---- transport-level errors ------------------------------------------------------------

#[tokio::test]
async fn bad_input_never_500() {
    let s = TestServer::start(SERVER, &[]);
    let api = s.api();
    let http = &api.http;
    let url = |p: &str| api.url(p);

    let r = http
        .post(url("/v1/auth/login"))
        .header("content-type", "application/json")
        .body("{bad")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "invalid_json"
    );

    api.post("/v1/auth/login", None, json!({"email": "x@y"}))
        .await
        .err(400, "bad_request");
    api.post(
        "/v1/auth/login",
        None,
        json!({"email": 5, "password": "secret-value-123"}),
    )
    .await
    .err(400, "bad_request");
    let r = api
        .post(
            "/v1/auth/login",
            None,
            json!({"email": ["a"], "password": 123456}),
        )
        .await;
    assert!(
        !r.body.to_string().contains("123456"),
        "error echoes input: {}",
        r.body
    );

    let r = http
        .post(url("/v1/auth/login"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    let big = "x".repeat(70 * 1024);
    let r = http
        .post(url("/v1/auth/login"))
        .header("content-type", "application/json")
        .body(format!("{{\"email\":\"{big}\",\"password\":\"p\"}}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "payload_too_large"
    );

    api.get("/v1/nothing-here", None)
        .await
        .err(404, "not_found");
    api.delete("/v1/auth/login", None)
        .await
        .err(405, "method_not_allowed");
    api.get("/v1/devices", None).await.err(401, "unauthorized");
    api.get("/v1/devices", Some("vdt_not-a-token"))
        .await
        .err(401, "unauthorized");
    api.get("/v1/devices", Some("garbage"))
        .await
        .err(401, "unauthorized");
    let (account, _) = api.login("alice@acme.test").await;
    api.get("/v1/approval-requests/not-a-uuid", Some(&account))
        .await
        .err(400, "bad_request");
    api.get("/v1/devices", Some(&account))
        .await
        .err(403, "device_not_trusted");
}

#[tokio::test]
async fn login_and_credentials() {
    let s = TestServer::start(SERVER, &[]);
    let api = s.api();
    let (token, user) = api.login("Alice@Acme.test").await;
    assert!(token.starts_with("vat_"));
    assert_eq!(user["email"], "alice@acme.test");
    assert_eq!(user["username"], "alice");
    assert_eq!(user["role"], "member");
    assert_eq!(user["workspace_name"], "Acme");
    api.post(
        "/v1/auth/login",
        None,
        json!({"email": "alice@acme.test", "password": "nope"}),
    )
    .await
    .err(401, "invalid_credentials");
    api.post(
        "/v1/auth/login",
        None,
        json!({"email": "nobody@acme.test", "password": "nope"}),
    )
    .await
    .err(401, "invalid_credentials");
}

/// Password guessing slows down after 5 wrong passwords for one email (1 s, 2 s, … up to
/// 15 min), whether the account exists or not; the check and the count are one
/// transaction, and a right password resets the count.
#[tokio::test]
async fn wrong_passwords_slow_sign_in_down() {
    let s = TestServer::start(SERVER, &[]);
    let api = s.api();
    let wrong = |email: &'static str| {
        let api = api.clone();
        async move {
            api.post(
                "/v1/auth/login",
                None,
                json!({"email": email, "password": "guess"}),
            )
            .await
        }
    };
    for email in ["alice@acme.test", "nobody@acme.test"] {
        for _ in 0..5 {
            wrong(email).await.err(401, "invalid_credentials");
        }
        let r = wrong(email).await;
        r.err(429, "too_many_requests");
        assert_eq!(r.retry_after(), Some(1));
        // While throttled even the right password waits (nothing is checked).
        api.post(
            "/v1/auth/login",
            None,
            json!({"email": email, "password": DEV_PASSWORD}),
        )
        .await
        .err(429, "too_many_requests");
    }
    // Parallel guesses cannot share one window: exactly one of them is checked.
    api.advance_clock(1).await;
    let mut checked = 0;
    for r in all_at_once(4, |_| wrong("alice@acme.test")).await {
        if r.status == 401 {
            checked += 1;
        } else {
            r.err(429, "too_many_requests");
        }
    }
    assert_eq!(checked, 1);
    let r = wrong("alice@acme.test").await;
    r.err(429, "too_many_requests");
    assert_eq!(r.retry_after(), Some(2), "the wait doubles");
    api.advance_clock(2).await;
    let (token, _) = api.login("Alice@acme.test").await;
    assert!(token.starts_with("vat_"));
    // The count starts over after a sign-in.
    for _ in 0..5 {
        wrong("alice@acme.test")
            .await
            .err(401, "invalid_credentials");
    }
}

#[tokio::test]
async fn openapi_lists_every_route() {
    let s = TestServer::start(SERVER, &[]);
    let api = s.api();
    let doc = api.get("/v1/openapi.json", None).await.ok();
    assert_eq!(doc["openapi"].as_str().unwrap().chars().next(), Some('3'));
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/v1/auth/login", "post"),
        ("/v1/devices", "post"),
        ("/v1/devices", "get"),
        ("/v1/devices/{id}/email-code", "post"),
        ("/v1/devices/{id}/email-code/verify", "post"),
        ("/v1/devices/{id}/approval-requests", "post"),
        ("/v1/approval-requests/{id}", "get"),
        ("/v1/approval-requests", "get"),
        ("/v1/approval-requests/{id}/cancel", "post"),
        ("/v1/approval-requests/{id}/runs", "post"),
        ("/v1/approval-requests/{id}/runs/{run}", "get"),
        ("/v1/approval-requests/{id}/runs/{run}/response", "post"),
        ("/v1/approval-requests/{id}/runs/{run}/abort", "post"),
        ("/v1/approval-requests/{id}/approve", "post"),
        ("/v1/approval-requests/{id}/ack", "post"),
        ("/v1/approval-requests/{id}/deny", "post"),
        ("/v1/devices/{id}/disable", "post"),
        ("/v1/events", "get"),
        ("/v1/vaults", "post"),
        ("/v1/vaults", "get"),
        ("/v1/vaults/{id}/items", "get"),
        ("/v1/vaults/{id}/items/{item_id}", "put"),
        ("/v1/admin/devices", "get"),
        ("/v1/admin/users/{id}/deprovision", "post"),
        ("/v1/admin/users/{id}/unlock", "post"),
        ("/v1/dev/outbox", "get"),
        ("/v1/dev/clock", "post"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} missing from openapi.json"
        );
    }
    let codes = doc["components"]["schemas"]["ErrorCode"].to_string();
    for code in [
        "device_limit_reached",
        "already_decided",
        "code_locked",
        "version_conflict",
    ] {
        assert!(codes.contains(code), "{code}");
    }
}

#[tokio::test]
async fn dev_outbox_only_with_dev_flag() {
    let s = TestServer::builder(SERVER)
        .dev(false)
        .args(&["--smtp-url", UNUSED_SMTP])
        .start();
    let api = s.api();
    api.get("/v1/dev/outbox?to=alice@acme.test", None)
        .await
        .err(404, "not_found");
    api.post("/v1/dev/clock", None, json!({"advance_secs": 60}))
        .await
        .err(404, "not_found");
    api.post(
        "/v1/auth/login",
        None,
        json!({"email": "alice@acme.test", "password": DEV_PASSWORD}),
    )
    .await
    .err(401, "invalid_credentials");
}

// ---- registration ----------------------------------------------------------------------

#[tokio::test]
async fn registration_rules() {
    let s = TestServer::start(SERVER, &[]);
    let api = s.api();
    let (account, user) = api.login("alice@acme.test").await;
    let d = api.register(&account, "Alice's Phone", "mobile").await;
    assert_eq!(d.status, 201);
    assert_eq!(d.body["status"], "pending");
    assert_eq!(d.body["user_id"], user["id"]);
    assert_eq!(d.body["origin"], "127.0.0.1");

    api.register(&account, "  alice's phone ", "web")
        .await
        .err(409, "device_name_taken");
    for bad in ["", "   ", "a\u{202E}b", "tab\there", &"x".repeat(65)] {
        api.register(&account, bad, "web")
            .await
            .err(400, "invalid_device_name");
    }
    let mut order8 = [0u8; 32];
    order8.copy_from_slice(&hex(
        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
    ));
    for key in [
        vec![0u8; 32],
        vec![1u8; 31],
        vec![9u8; 33],
        order8.to_vec(),
        vec![0xff; 32],
    ] {
        api.post(
            "/v1/devices",
            Some(&account),
            json!({"name": "k", "kind": "web", "platform": "p", "key_bundle": b64(&bundle_of(&key))}),
        )
        .await
        .err(400, "invalid_public_key");
    }
    api.post("/v1/devices", Some(&account), json!({"name": "k", "kind": "tablet", "platform": "p", "key_bundle": b64(&new_key_bundle())}))
        .await
        .err(400, "bad_request");
    // Another user may use the same name.
    let (bob, _) = api.login("bob@acme.test").await;
    assert_eq!(
        api.register(&bob, "Alice's Phone", "mobile").await.status,
        201
    );
}

#[tokio::test]
async fn a_repeated_registration_of_the_same_pending_key_is_the_same_device() {
    let s = TestServer::start(SERVER, &[]);
    let api = s.api();
    let (account, _) = api.login("alice@acme.test").await;
    let key = b64(&new_key_bundle());
    let body =
        |name: &str| json!({"name": name, "kind": "web", "platform": "p", "key_bundle": key});
    let first = api
        .post("/v1/devices", Some(&account), body("laptop"))
        .await;
    assert_eq!(first.status, 201);
    // The client crashed before it stored the answer and registers again.
    let again = api
        .post("/v1/devices", Some(&account), body("laptop"))
        .await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body["id"], first.body["id"]);
    // … or picked another name meanwhile: the same device, renamed.
    let renamed = api
        .post("/v1/devices", Some(&account), body("work laptop"))
        .await
        .ok();
    assert_eq!(renamed["id"], first.body["id"]);
    assert_eq!(renamed["name"], "work laptop");
    // The name it left is free again; another session's repeat of the key is a new device
    // only if the name is free, never a takeover of this one.
    assert_eq!(api.register(&account, "laptop", "web").await.status, 201);
    let (other, _) = api.login("alice@acme.test").await;
    let theirs = api
        .post("/v1/devices", Some(&other), body("tablet"))
        .await
        .ok();
    assert_ne!(theirs["id"], first.body["id"]);
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[tokio::test]
async fn exactly_one_of_ten_concurrent_registrations_at_19_succeeds() {
    let s = TestServer::start(SERVER, &[]);
    let api = s.api();
    let (account, _) = api.login("carol@acme.test").await;
    for i in 0..19 {
        assert_eq!(
            api.register(&account, &format!("device {i}"), "web")
                .await
                .status,
            201
        );
    }
    let (ok, refused) =
        vouch_testkit::register_at_once(std::slice::from_ref(&api), &account, 10).await;
    for r in refused {
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("disable one")
        );
    }
    assert_eq!(ok, 1);
    api.register(&account, "one more", "web")
        .await
        .err(409, "device_limit_reached");
}

// ---- email codes -----------------------------------------------------------------------

#[tokio::test]
async fn email_code_flow_and_rules() {
    let s = TestServer::start(SERVER, &["--code-resend-interval", "2"]);
    let api = s.api();
    let (account, _) = api.login("alice@acme.test").await;
    let dev = api.register(&account, "laptop", "web").await.ok();
    let path = format!("/v1/devices/{}/email-code", id(&dev));
    let sent = api.post(&path, Some(&account), json!({})).await;
    assert_eq!(sent.status, 202);
    let again = api.post(&path, Some(&account), json!({})).await;
    again.err(429, "too_many_requests");
    assert!(again.retry_after().unwrap() >= 1);

    let code = api.latest_code("alice@acme.test").await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let verify = format!("{path}/verify");
    let r = api
        .post(&verify, Some(&account), json!({"code": wrong}))
        .await;
    r.err(400, "invalid_code");
    assert_eq!(r.body["error"]["attempts_left"], 4);
    assert!(!r.body.to_string().contains(&code));
    let ok = api
        .post(&verify, Some(&account), json!({"code": code}))
        .await
        .ok();
    assert_eq!(ok["device"]["status"], "trusted");
    assert_eq!(ok["device"]["verified_by"], "email_code");
    let token = ok["device_token"].as_str().unwrap();
    assert!(token.starts_with("vdt_"));
    assert_eq!(
        api.get("/v1/devices", Some(token))
            .await
            .ok()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Single use: the device is no longer pending. The one exception is a retry by the
    // session that verified it (a client killed before it stored the token): the same
    // code, within its lifetime, gets a fresh token and revokes the unsaved one.
    let again = api
        .post(&verify, Some(&account), json!({"code": code}))
        .await
        .ok();
    let token2 = again["device_token"].as_str().unwrap();
    assert_ne!(token, token2);
    assert_eq!(again["device"]["id"], dev["id"]);
    api.get("/v1/devices", Some(token))
        .await
        .err(401, "unauthorized");
    assert_eq!(
        api.get("/v1/devices", Some(token2))
            .await
            .ok()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    api.post(&verify, Some(&account), json!({"code": wrong}))
        .await
        .err(409, "device_not_pending");
    // Another session of the same user cannot verify (or take over) this device.
    let (other_session, _) = api.login("alice@acme.test").await;
    api.post(&verify, Some(&other_session), json!({"code": code}))
        .await
        .err(404, "not_found");
    // Bound to its device: another user's session cannot touch it.
    let (bob, _) = api.login("bob@acme.test").await;
    api.post(&path, Some(&bob), json!({}))
        .await
        .err(404, "not_found");
}

#[tokio::test]
async fn five_wrong_tries_void_the_code() {
    let s = TestServer::start(SERVER, &[]);
    let api = s.api();
    let (account, _) = api.login("alice@acme.test").await;
    let dev = api.register(&account, "laptop", "web").await.ok();
    let path = format!("/v1/devices/{}/email-code", id(&dev));
    api.post(&path, Some(&account), json!({})).await.ok();
    let code = api.latest_code("alice@acme.test").await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for left in (0..5).rev() {
        let r = api
            .post(
                &format!("{path}/verify"),
                Some(&account),
                json!({"code": wrong}),
            )
            .await;
        r.err(400, "invalid_code");
        assert_eq!(r.body["error"]["attempts_left"], left);
    }
    api.post(
        &format!("{path}/verify"),
        Some(&account),
        json!({"code": code}),
    )
    .await
    .err(410, "code_expired");
}

#[tokio::test]
async fn code_used_after_ttl_is_expired() {
    let s = TestServer::start(SERVER, &["--code-ttl", "10"]);
    let api = s.api();
    let (account, _) = api.login("alice@acme.test").await;
    let dev = api.register(&account, "laptop", "web").await.ok();
    let path = format!("/v1/devices/{}/email-code", id(&dev));
    // Verifying before any code was sent is an expired (absent) code too.
    api.post(
        &format!("{path}/verify"),
        Some(&account),
        json!({"code": "123456"}),
    )
    .await
    .err(410, "code_expired");
    api.post(&path, Some(&account), json!({})).await.ok();
    let code = api.latest_code("alice@acme.test").await;
    api.advance_clock(11).await;
    api.post(
        &format!("{path}/verify"),
        Some(&account),
        json!({"code": code}),
    )
    .await
    .err(410, "code_expired");
}

#[tokio::test]
async fn hundred_consecutive_failures_lock_code_verification() {
    let s = TestServer::start(SERVER, &["--code-resend-interval", "0"]);
    let api = s.api();
    let (account, _) = api.login("bob@acme.test").await;
    let dev = api.register(&account, "laptop", "web").await.ok();
    let path = format!("/v1/devices/{}/email-code", id(&dev));
    for round in 0..20 {
        api.post(&path, Some(&account), json!({})).await.ok();
        let code = api.latest_code("bob@acme.test").await;
        let wrong = if code == "000000" { "111111" } else { "000000" };
        for i in 0..5 {
            let r = api
                .post(
                    &format!("{path}/verify"),
                    Some(&account),
                    json!({"code": wrong}),
                )
                .await;
            if round == 19 && i == 4 {
                r.err(423, "code_locked");
            } else {
                r.err(400, "invalid_code");
            }
        }
    }
    api.post(&path, Some(&account), json!({})).await.ok();
    let code = api.latest_code("bob@acme.test").await;
    api.post(
        &format!("{path}/verify"),
        Some(&account),
        json!({"code": code}),
    )
    .await
    .err(423, "code_locked");
    // Only an admin of the workspace lifts the lock; then the code works.
    let (_, _, alice) = api
        .trusted_device("alice@acme.test", "phone", "mobile")
        .await;
    let bob_id = api.login("bob@acme.test").await.1["id"]
        .as_str()
        .unwrap()
        .to_owned();
    api.post(
        &format!("/v1/admin/users/{bob_id}/unlock"),
        Some(&alice),
        json!({}),
    )
    .await
    .err(403, "forbidden");
    let (_, _, admin) = api
        .trusted_device("admin@acme.test", "admin phone", "mobile")
        .await;
    let r = api
        .post(
            &format!("/v1/admin/users/{bob_id}/unlock"),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    api.post(
        &format!("/v1/admin/users/{}/unlock", uuid::Uuid::new_v4()),
        Some(&admin),
        json!({}),
    )
    .await
    .err(404, "not_found");
    let ok = api
        .post(
            &format!("{path}/verify"),
            Some(&account),
            json!({"code": code}),
        )
        .await
        .ok();
    assert_eq!(ok["device"]["status"], "trusted");
}

// ---- approvals (Trust v2: the server relays PAKE runs it cannot read) ---------------------

async fn pending_laptop(api: &Api, email: &str, name: &str) -> (String, String, String) {
    let (account, _) = api.login(email).await;
    let dev = api.register(&account, name, "web").await.ok();
    let did = id(&dev);
    let opened = api.open_approval(&account, &did).await;
    assert_eq!(opened.status, 201, "{}", opened.body);
    (account, did, id(&opened.body))
}

fn approve_body(run: &str) -> serde_json::Value {
    json!({"run_id": run, "mac_a": b64(&[2; 32]), "payload": b64(&[3; 96])})
}

#[tokio::test]
async fn approval_runs_relay_and_the_device_is_trusted_only_when_it_acknowledges() {
    let s = TestServer::start(SERVER, &[]);
    let api = s.api();
    let (_, phone, phone_token) = api
        .trusted_device("alice@acme.test", "phone", "mobile")
        .await;
    let (_, _, ext_token) = api
        .trusted_device("alice@acme.test", "extension", "extension")
        .await;
    let mut phone_events = api.events(&phone_token, "", None).await;
    let (account, laptop, rid) = pending_laptop(&api, "alice@acme.test", "laptop").await;
    let mut laptop_events = api
        .events(&account, &format!("?device_id={laptop}"), None)
        .await;

    let (_, ev) = phone_events.expect("approval_requested").await;
    assert_eq!(ev["request"]["id"], rid);
    assert_eq!(ev["request"]["purpose"], "enroll");
    assert_eq!(ev["request"]["device"]["name"], "laptop");
    assert_eq!(ev["request"]["origin"], "127.0.0.1");

    let list = api
        .get("/v1/approval-requests?status=pending", Some(&phone_token))
        .await
        .ok();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["other_network"], false);
    assert_eq!(list[0]["device"]["key_bundle"].as_str().unwrap().len(), 50);
    // An email-only extension may neither list nor run.
    api.get("/v1/approval-requests?status=pending", Some(&ext_token))
        .await
        .err(403, "key_holder_required");
    api.post(
        &format!("/v1/approval-requests/{rid}/runs"),
        Some(&ext_token),
        json!({"secret": "code", "msg_a": b64(&[0x41; 33])}),
    )
    .await
    .err(403, "key_holder_required");

    // A run: A's message reaches the requester, B's answer reaches the approver.
    let run = api.start_run(&rid, &phone_token).await;
    let (_, ev) = laptop_events.expect("approval_run").await;
    assert_eq!(ev["run_id"], run.as_str());
    let st = api
        .get(&format!("/v1/approval-requests/{rid}"), Some(&account))
        .await
        .ok();
    assert_eq!(st["status"], "pending");
    assert_eq!(st["run"]["id"], run.as_str());
    assert_eq!(st["run"]["approver"]["id"], phone["id"]);
    assert_eq!(st["run"]["msg_a"], b64(&[0x41; 33]));
    // Approving before the device answered is refused.
    api.post(
        &format!("/v1/approval-requests/{rid}/approve"),
        Some(&phone_token),
        approve_body(&run),
    )
    .await
    .err(409, "already_decided");
    api.answer_run(&rid, &run, &account).await.ok();
    let (_, ev) = phone_events.expect("approval_run").await;
    assert_eq!(ev["run_id"], run.as_str());
    let seen = api
        .get(
            &format!("/v1/approval-requests/{rid}/runs/{run}"),
            Some(&phone_token),
        )
        .await
        .ok();
    assert_eq!(seen["mac_b"], b64(&[1; 32]));
    // A second answer to the same run is refused (one answer per run).
    api.answer_run(&rid, &run, &account)
        .await
        .err(409, "already_decided");

    let d = api
        .post(
            &format!("/v1/approval-requests/{rid}/approve"),
            Some(&phone_token),
            approve_body(&run),
        )
        .await
        .ok();
    assert_eq!(d["status"], "approved");
    let (_, ev) = laptop_events.expect("approval_decided").await;
    assert_eq!(ev["status"], "approved");
    // Approved is not trusted: the device is still pending, and listed as waiting.
    let st = api
        .get(&format!("/v1/approval-requests/{rid}"), Some(&account))
        .await
        .ok();
    assert_eq!(st["status"], "approved");
    assert_eq!(st["run"]["payload"], b64(&[3; 96]));
    assert_eq!(st["decided_by"], phone["id"]);
    let list = api
        .get("/v1/approval-requests?status=pending", Some(&phone_token))
        .await
        .ok();
    assert_eq!(list[0]["status"], "approved");
    let devices = api.get("/v1/devices", Some(&phone_token)).await.ok();
    let pending = devices
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == laptop.as_str())
        .unwrap()
        .clone();
    assert_eq!(pending["status"], "pending");

    // The acknowledgement trusts it, as a key holder approved by the phone.
    let ack_path = format!("/v1/approval-requests/{rid}/ack");
    let ack = api
        .post(
            &ack_path,
            Some(&account),
            json!({"run_id": run, "opened": true}),
        )
        .await
        .ok();
    assert_eq!(ack["status"], "completed");
    assert_eq!(ack["tier"], "key_holder");
    let token = ack["device_token"].as_str().unwrap().to_owned();
    let devices = api.get("/v1/devices", Some(&token)).await.ok();
    let me = devices
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == laptop.as_str())
        .unwrap()
        .clone();
    assert_eq!(me["status"], "trusted");
    assert_eq!(me["verified_by"], "approval");
    assert_eq!(me["tier"], "key_holder");
    assert_eq!(me["approved_by"], phone["id"]);
    let (_, ev) = phone_events.expect("device_added").await;
    assert_eq!(ev["device"]["id"], laptop);

    // A repeated acknowledgement (a lost answer) rotates the token.
    let again = api
        .post(
            &ack_path,
            Some(&account),
            json!({"run_id": run, "opened": true}),
        )
        .await
        .ok();
    let token2 = again["device_token"].as_str().unwrap();
    assert_ne!(token2, token);
    api.get("/v1/devices", Some(&token))
        .await
        .err(401, "unauthorized");
    api.get("/v1/devices", Some(token2)).await.ok();

    // Another session of the same user cannot read or acknowledge it.
    let (other, _) = api.login("alice@acme.test").await;
    api.get(&format!("/v1/approval-requests/{rid}"), Some(&other))
        .await
        .err(404, "not_found");
    api.post(
        &ack_path,
        Some(&other),
        json!({"run_id": run, "opened": true}),
    )
    .await
    .err(404, "not_found");
}

#[tokio::test]
async fn a_payload_the_device_cannot_open_fails_the_request_visibly() {
    let s = TestServer::start(SERVER, &[]);
    let api = s.api();
    let (_, _, phone) = api
        .trusted_device("alice@acme.test", "phone", "mobile")
        .await;
    let (account, laptop, rid) = pending_laptop(&api, "alice@acme.test", "laptop").await;
    let run = api.start_run(&rid, &phone).await;
    api.answer_run(&rid, &run, &account).await.ok();
    api.post(
        &format!("/v1/approval-requests/{rid}/approve"),
        Some(&phone),
        approve_body(&run),
    )
    .await
    .ok();
    let ack = api
        .post(
            &format!("/v1/approval-requests/{rid}/ack"),
            Some(&account),
            json!({"run_id": run, "opened": false}),
        )
        .await
        .ok();
    assert_eq!(ack["status"], "failed");
    assert!(ack.get("device_token").is_none());
    let list = api
        .get("/v1/approval-requests?status=pending", Some(&phone))
        .await
        .ok();
    assert!(
        list.as_array().unwrap().is_empty(),
        "no ghost on the approver"
    );
    // The device is still pending and can start again.
    let again = api.open_approval(&account, &laptop).await;
    assert_eq!(again.status, 201, "{}", again.body);
}

#[tokio::test]
async fn the_server_counts_runs_too_and_a_newer_run_replaces_an_older_one() {
    let s = TestServer::start(SERVER, &[]);
    let api = s.api();
    let (_, _, phone) = api
        .trusted_device("alice@acme.test", "phone", "mobile")
        .await;
    let (account, _, rid) = pending_laptop(&api, "alice@acme.test", "laptop").await;
    let first = api.start_run(&rid, &phone).await;
    let second = api.start_run(&rid, &phone).await;
    api.answer_run(&rid, &first, &account)
        .await
        .err(409, "already_decided");
    api.answer_run(&rid, &second, &account).await.ok();
    api.start_run(&rid, &phone).await;
    api.post(
        &format!("/v1/approval-requests/{rid}/runs"),
        Some(&phone),
        json!({"secret": "qr", "msg_a": b64(&[0x41; 33])}),
    )
    .await
    .err(429, "too_many_requests");
}

#[tokio::test]
async fn exactly_one_of_four_concurrent_decisions_wins() {
    let s = TestServer::start(SERVER, &[]);
    let api = s.api();
    let (_, _, first) = api
        .trusted_device("alice@acme.test", "approver 0", "mobile")
        .await;
    let mut approvers = vec![first.clone()];
    for i in 1..4 {
        approvers.push(
            api.approved_device(
                "alice@acme.test",
                &format!("approver {i}"),
                if i % 2 == 0 { "mobile" } else { "web" },
                &first,
            )
            .await
            .2,
        );
    }
    let (account, laptop, rid) = pending_laptop(&api, "alice@acme.test", "laptop").await;
    let run = api.start_run(&rid, &first).await;
    api.answer_run(&rid, &run, &account).await.ok();
    let mut tasks = Vec::new();
    for (i, t) in approvers.into_iter().enumerate() {
        let (api, rid, run) = (api.clone(), rid.clone(), run.clone());
        tasks.push(tokio::spawn(async move {
            if i == 0 {
                api.post(
                    &format!("/v1/approval-requests/{rid}/approve"),
                    Some(&t),
                    approve_body(&run),
                )
                .await
            } else {
                api.post(
                    &format!("/v1/approval-requests/{rid}/deny"),
                    Some(&t),
                    json!({}),
                )
                .await
            }
        }));
    }
    let mut wins = Vec::new();
    for t in tasks {
        let r = t.await.unwrap();
        if r.status == 200 {
            wins.push(r.body["status"].as_str().unwrap().to_owned());
        } else {
            r.err(409, "already_decided");
        }
    }
    assert_eq!(wins.len(), 1);
    let _ = laptop;
}

#[tokio::test]
async fn deny_one_open_request_per_device_cancel_throttle_and_expiry() {
    let s = TestServer::start(SERVER, &["--approval-ttl", "60"]);
    let api = s.api();
    let (_, _, phone) = api
        .trusted_device("alice@acme.test", "phone", "mobile")
        .await;
    let (account2, _) = api.login("alice@acme.test").await;
    let other = api.register(&account2, "tablet", "web").await.ok();
    let (account, laptop, rid) = pending_laptop(&api, "alice@acme.test", "laptop").await;
    // Asking again for the same device (a client that crashed after opening it) is the
    // same request, not a second prompt.
    let again = api.open_approval(&account, &laptop).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(id(&again.body), rid);
    // Nobody's request blocks another's: the tablet opens its own.
    let tablet_req = api.open_approval(&account2, &id(&other)).await.ok();
    // The requester may withdraw its own request.
    let c = api
        .post(
            &format!("/v1/approval-requests/{}/cancel", id(&tablet_req)),
            Some(&account2),
            json!({}),
        )
        .await
        .ok();
    assert_eq!(c["status"], "cancelled");
    // Issue 13: a cancelled enrollment gives the name back at once (it was held a day).
    let tablet = api.register(&account2, "tablet", "web").await.ok();
    // A new code is a new request in one step (`replace=true`); the device stays pending.
    let first = api.open_approval(&account2, &id(&tablet)).await.ok();
    let fresh = api
        .post(
            &format!("/v1/devices/{}/approval-requests?replace=true", id(&tablet)),
            Some(&account2),
            json!({}),
        )
        .await
        .ok();
    assert_ne!(id(&fresh), id(&first));
    let old = api
        .get(
            &format!("/v1/approval-requests/{}", id(&first)),
            Some(&account2),
        )
        .await
        .ok();
    assert_eq!(old["status"], "cancelled");
    // Expiry: after the TTL no run starts.
    api.advance_clock(61).await;
    api.post(
        &format!("/v1/approval-requests/{rid}/runs"),
        Some(&phone),
        json!({"secret": "code", "msg_a": b64(&[0x41; 33])}),
    )
    .await
    .err(410, "request_expired");
    let st = api
        .get(&format!("/v1/approval-requests/{rid}"), Some(&account))
        .await
        .ok();
    assert_eq!(st["status"], "expired");
    // Issue 13: the expired request freed the device's name and place at once.
    let laptop = id(&api.register(&account, "laptop", "web").await.ok());
    // Deny.
    let r2 = api.open_approval(&account, &laptop).await.ok();
    let d = api
        .post(
            &format!("/v1/approval-requests/{}/deny", id(&r2)),
            Some(&phone),
            json!({}),
        )
        .await
        .ok();
    assert_eq!(d["status"], "denied");
    api.post(
        &format!("/v1/approval-requests/{}/runs", id(&r2)),
        Some(&phone),
        json!({"secret": "code", "msg_a": b64(&[0x41; 33])}),
    )
    .await
    .err(409, "already_decided");
    api.open_approval(&account, &laptop)
        .await
        .err(409, "device_not_pending");
    // Throttle: at most 5 requests per user per 10 minutes (5 so far: laptop, tablet,
    // tablet again, its replacement, and the laptop's second).
    let d = api.register(&account2, "t-last", "web").await.ok();
    let r = api.open_approval(&account2, &id(&d)).await;
    r.err(429, "too_many_requests");
    assert!(r.retry_after().is_some());
}

#[tokio::test]
async fn key_sharing_and_new_root_purposes() {
    let s = TestServer::start(SERVER, &[]);
    let api = s.api();
    let (_, phone_dev, phone) = api
        .trusted_device("alice@acme.test", "phone", "mobile")
        .await;
    let (_, laptop, laptop_token) = api.trusted_device("alice@acme.test", "laptop", "web").await;
    assert_eq!(laptop["tier"], "email_only");
    let r = api.open_approval(&laptop_token, &id(&laptop)).await.ok();
    assert_eq!(r["purpose"], "share_keys");
    let pending = api
        .get("/v1/approval-requests?status=pending", Some(&phone))
        .await
        .ok();
    assert_eq!(pending[0]["purpose"], "share_keys");
    assert_eq!(pending[0]["device"]["tier"], "email_only");
    let rid = id(&r);
    let run = api.start_run(&rid, &phone).await;
    api.answer_run(&rid, &run, &laptop_token).await.ok();
    api.post(
        &format!("/v1/approval-requests/{rid}/approve"),
        Some(&phone),
        approve_body(&run),
    )
    .await
    .ok();
    let ack = api
        .post(
            &format!("/v1/approval-requests/{rid}/ack"),
            Some(&laptop_token),
            json!({"run_id": run, "opened": true}),
        )
        .await
        .ok();
    assert_eq!(ack["tier"], "key_holder");
    assert!(ack.get("device_token").is_none());
    // A key holder does not ask for keys.
    api.open_approval(&laptop_token, &id(&laptop))
        .await
        .err(403, "forbidden");

    // Bob loses his only key holder: his next device asks for a new root, which only an
    // admin's key holder sees and decides.
    let (_, bob_phone, bob_phone_token) = api
        .trusted_device("bob@acme.test", "bob phone", "mobile")
        .await;
    let (_, _, admin) = api
        .trusted_device("admin@acme.test", "admin laptop", "web")
        .await;
    api.post(
        &format!("/v1/devices/{}/disable", id(&bob_phone)),
        Some(&admin),
        json!({}),
    )
    .await
    .ok();
    let _ = bob_phone_token;
    let (bob_account, _, bob_rid) = pending_laptop(&api, "bob@acme.test", "bob laptop").await;
    let st = api
        .get(
            &format!("/v1/approval-requests/{bob_rid}"),
            Some(&bob_account),
        )
        .await
        .ok();
    assert_eq!(st["purpose"], "new_root");
    let listed = api
        .get("/v1/approval-requests?status=pending", Some(&admin))
        .await
        .ok();
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == bob_rid.as_str())
    );
    // Alice's key holder is no admin: not listed, not hers to decide.
    let listed = api
        .get("/v1/approval-requests?status=pending", Some(&phone))
        .await
        .ok();
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["id"] != bob_rid.as_str())
    );
    api.post(
        &format!("/v1/approval-requests/{bob_rid}/runs"),
        Some(&phone),
        json!({"secret": "code", "msg_a": b64(&[0x41; 33])}),
    )
    .await
    .err(404, "not_found");
    let run = api.start_run(&bob_rid, &admin).await;
    api.answer_run(&bob_rid, &run, &bob_account).await.ok();
    api.post(
        &format!("/v1/approval-requests/{bob_rid}/approve"),
        Some(&admin),
        approve_body(&run),
    )
    .await
    .ok();
    let ack = api
        .post(
            &format!("/v1/approval-requests/{bob_rid}/ack"),
            Some(&bob_account),
            json!({"run_id": run, "opened": true}),
        )
        .await
        .ok();
    assert_eq!(ack["tier"], "key_holder");
    let _ = phone_dev;
}

// ---- devices, admin, deprovisioning ---------------------------------------------------

#[tokio::test]
async fn disable_policy_and_revocation() {
    let s = TestServer::start(SERVER, &[]);
    let api = s.api();
    let (_, phone, phone_token) = api
        .trusted_device("alice@acme.test", "phone", "mobile")
        .await;
    let (_, web, web_token) = api
        .approved_device("alice@acme.test", "browser", "web", &phone_token)
        .await;
    let (_, _, bob_web) = api
        .trusted_device("bob@acme.test", "bob browser", "web")
        .await;
    // Mobile cannot manage devices.
    api.post(
        &format!("/v1/devices/{}/disable", id(&web)),
        Some(&phone_token),
        json!({}),
    )
    .await
    .err(403, "forbidden");
    // Another user's web device cannot see it.
    api.post(
        &format!("/v1/devices/{}/disable", id(&phone)),
        Some(&bob_web),
        json!({}),
    )
    .await
    .err(404, "not_found");
    let mut phone_events = api.events(&phone_token, "", None).await;
    let out = api
        .post(
            &format!("/v1/devices/{}/disable", id(&phone)),
            Some(&web_token),
            json!({}),
        )
        .await
        .ok();
    assert_eq!(out["disabled"][0], phone["id"]);
    let (_, ev) = phone_events.expect("device_disabled").await;
    assert_eq!(ev["device_id"], phone["id"]);
    api.get("/v1/devices", Some(&phone_token))
        .await
        .err(403, "device_disabled");
    api.get("/v1/vaults", Some(&phone_token))
        .await
        .err(403, "device_disabled");
    // The name is free again, and the device no longer counts.
    let (acc, _) = api.login("alice@acme.test").await;
    assert_eq!(api.register(&acc, "phone", "mobile").await.status, 201);
}

#[tokio::test]
async fn admin_lists_and_deprovisions() {
    let s = TestServer::start(SERVER, &[]);
    let api = s.api();
    let (_, _, admin) = api
        .trusted_device("admin@acme.test", "admin laptop", "web")
        .await;
    let (_, _, a1) = api
        .trusted_device("alice@acme.test", "phone", "mobile")
        .await;
    let (_, _, a2) = api
        .approved_device("alice@acme.test", "laptop", "web", &a1)
        .await;
    let (_, _, bob) = api
        .trusted_device("bob@acme.test", "bob laptop", "web")
        .await;
    let all = api.get("/v1/admin/devices", Some(&admin)).await.ok();
    assert_eq!(all.as_array().unwrap().len(), 4);
    api.get("/v1/admin/devices", Some(&bob))
        .await
        .err(403, "forbidden");
    let alice_id = api.get("/v1/devices", Some(&a1)).await.ok()[0]["user_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let only = api
        .get(
            &format!("/v1/admin/devices?user_id={alice_id}"),
            Some(&admin),
        )
        .await
        .ok();
    assert_eq!(only.as_array().unwrap().len(), 2);
    api.post(
        &format!("/v1/admin/users/{alice_id}/deprovision"),
        Some(&bob),
        json!({}),
    )
    .await
    .err(403, "forbidden");
    let mut events = api.events(&a2, "", None).await;
    let out = api
        .post(
            &format!("/v1/admin/users/{alice_id}/deprovision"),
            Some(&admin),
            json!({}),
        )
        .await
        .ok();
    assert_eq!(out["disabled"].as_array().unwrap().len(), 2);
    events.expect("device_disabled").await;
    for t in [&a1, &a2] {
        api.get("/v1/devices", Some(t))
            .await
            .err(403, "device_disabled");
    }
    api.post(
        "/v1/auth/login",
        None,
        json!({"email": "alice@acme.test", "password": DEV_PASSWORD}),
    )
    .await
    .err(403, "forbidden");
    let after = api
        .get(
            &format!("/v1/admin/devices?user_id={alice_id}"),
            Some(&admin),
        )
        .await
        .ok();
    assert!(
        after
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["status"] == "disabled")
    );
    api.get("/v1/devices", Some(&bob)).await.ok();
}

// ---- events ----------------------------------------------------------------------------

#[tokio::test]
async fn sse_reconnect_with_last_event_id_gets_what_it_missed() {
    let s = TestServer::start(SERVER, &[]);
    let api = s.api();
    let (_, _, phone) = api
        .trusted_device("alice@acme.test", "phone", "mobile")
        .await;
    let mut events = api.events(&phone, "", None).await;
    let (acc, first, rid) = pending_laptop(&api, "alice@acme.test", "laptop one").await;
    let (last_id, ev) = events.expect("approval_requested").await;
    assert_eq!(ev["request"]["id"], rid);
    drop(events);
    // While disconnected: a deny and a new device added by email code.
    api.post(
        &format!("/v1/approval-requests/{rid}/deny"),
        Some(&phone),
        json!({}),
    )
    .await
    .ok();
    let (_, added, _) = api
        .trusted_device("alice@acme.test", "laptop two", "web")
        .await;
    let mut events = api.events(&phone, "", Some(&last_id)).await;
    let (id1, ev) = events.expect("approval_decided").await;
    assert_eq!(ev["request_id"], rid);
    assert_eq!(ev["status"], "denied");
    let (id2, ev) = events.expect("device_added").await;
    assert_eq!(ev["device"]["id"], added["id"]);
    assert!(id2.parse::<i64>().unwrap() > id1.parse::<i64>().unwrap());
    assert!(id1.parse::<i64>().unwrap() > last_id.parse::<i64>().unwrap());
    let _ = (acc, first);
}

// ---- vaults ----------------------------------------------------------------------------

#[tokio::test]
async fn items_are_versioned_and_conflicts_detected() {
    let s = TestServer::start(SERVER, &[]);
    let api = s.api();
    let (_, _, phone) = api
        .trusted_device("alice@acme.test", "phone", "mobile")
        .await;
    let (_, _, laptop) = api
        .approved_device("alice@acme.test", "laptop", "web", &phone)
        .await;
    let (_, _, bob) = api.trusted_device("bob@acme.test", "bob", "web").await;
    let vault = uuid::Uuid::new_v4();
    let item = uuid::Uuid::new_v4();
    api.post(
        "/v1/vaults",
        Some(&phone),
        json!({"id": vault, "name": "Personal"}),
    )
    .await
    .ok();
    api.post(
        "/v1/vaults",
        Some(&phone),
        json!({"id": vault, "name": " "}),
    )
    .await
    .err(400, "bad_request");
    api.post(
        "/v1/vaults",
        Some(&bob),
        json!({"id": vault, "name": "mine"}),
    )
    .await
    .err(403, "forbidden");
    let path = format!("/v1/vaults/{vault}/items/{item}");
    let put = |tok: String, base: u64, ct: Option<&[u8]>| {
        let api = api.clone();
        let path = path.clone();
        let body = match ct {
            Some(c) => json!({"version": base + 1, "base_version": base, "ciphertext": b64(c)}),
            None => json!({"version": base + 1, "base_version": base}),
        };
        async move { api.put(&path, Some(&tok), body).await }
    };
    let first = put(phone.clone(), 0, Some(b"v1")).await.ok();
    assert_eq!(first["version"], 1);
    // The same write again (the client lost the answer): the same record, no conflict.
    let again = put(phone.clone(), 0, Some(b"v1")).await.ok();
    assert_eq!(again["seq"], first["seq"]);
    let r = put(laptop.clone(), 0, Some(b"other v1")).await;
    r.err(409, "version_conflict");
    assert_eq!(r.body["error"]["current_version"], 1);
    put(laptop.clone(), 1, Some(b"v2")).await.ok();
    // A delete is a sealed tombstone: an unsealed one is refused.
    put(phone.clone(), 2, None).await.err(400, "bad_request");
    put(phone.clone(), 2, Some(b"sealed tombstone")).await.ok();
    api.put(
        &path,
        Some(&phone),
        json!({"version": 9, "base_version": 3}),
    )
    .await
    .err(400, "bad_request");
    let items = api
        .get(&format!("/v1/vaults/{vault}/items?since=0"), Some(&laptop))
        .await
        .ok();
    assert_eq!(items.as_array().unwrap().len(), 1);
    assert_eq!(items[0]["version"], 3);
    assert_eq!(items[0]["ciphertext"], b64(b"sealed tombstone"));
    let seq = items[0]["seq"].as_u64().unwrap();
    assert!(
        api.get(
            &format!("/v1/vaults/{vault}/items?since={seq}"),
            Some(&laptop)
        )
        .await
        .ok()
        .as_array()
        .unwrap()
        .is_empty()
    );
    api.get(&format!("/v1/vaults/{vault}/items"), Some(&bob))
        .await
        .err(404, "not_found");
    assert_eq!(
        api.get("/v1/vaults", Some(&laptop))
            .await
            .ok()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert!(
        api.get("/v1/vaults", Some(&bob))
            .await
            .ok()
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn graceful_shutdown_on_sigterm_with_open_streams() {
    let mut s = TestServer::start(SERVER, &[]);
    let api = s.api();
    let (_, _, phone) = api
        .trusted_device("alice@acme.test", "phone", "mobile")
        .await;
    let _events = api.events(&phone, "", None).await;
    let status = tokio::task::spawn_blocking(move || s.stop())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn admin_command_creates_users_for_a_real_deployment() {
    let dir = tempfile::tempdir().unwrap();
    let out = vouch_testkit::server_command(SERVER, dir.path())
        .args([
            "admin",
            "create-user",
            "--workspace",
            "Initech",
            "--email",
            "peter@initech.test",
            "--admin",
        ])
        .env("VOUCH_NEW_PASSWORD", "a-long-password")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let missing = vouch_testkit::server_command(SERVER, dir.path())
        .args([
            "admin",
            "create-user",
            "--workspace",
            "W",
            "--email",
            "x@y.test",
        ])
        .env_remove("VOUCH_NEW_PASSWORD")
        .output()
        .unwrap();
    assert!(!missing.status.success());
    // The same data directory served without --dev: the user signs in, no dev users exist.
    let s = TestServer::builder(SERVER)
        .dev(false)
        .data(dir.path())
        .args(&["--smtp-url", UNUSED_SMTP])
        .start();
    let api = s.api();
    let r = api
        .post(
            "/v1/auth/login",
            None,
            json!({"email": "peter@initech.test", "password": "a-long-password"}),
        )
        .await
        .ok();
    assert_eq!(r["user"]["role"], "admin");
    assert_eq!(r["user"]["workspace_name"], "Initech");
    api.post(
        "/v1/auth/login",
        None,
        json!({"email": "alice@acme.test", "password": DEV_PASSWORD}),
    )
    .await
    .err(401, "invalid_credentials");
}

// ---- mail over SMTP ----------------------------------------------------------------------

/// A minimal SMTP server that greets after `greeting_delay` and keeps what it receives.
async fn fake_smtp(
    greeting_delay: std::time::Duration,
) -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let keep = received.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let keep = keep.clone();
            tokio::spawn(async move {
                let (r, mut w) = sock.into_split();
                let mut lines = BufReader::new(r).lines();
                tokio::time::sleep(greeting_delay).await;
                if w.write_all(b"220 fake ESMTP\r\n").await.is_err() {
                    return;
                }
                let (mut data, mut in_data) = (String::new(), false);
                while let Ok(Some(line)) = lines.next_line().await {
                    let reply: &[u8] = if in_data {
                        if line == "." {
                            in_data = false;
                            keep.lock().unwrap().push(std::mem::take(&mut data));
                            b"250 queued\r\n"
                        } else {
                            data.push_str(&line);
                            data.push('\n');
                            continue;
                        }
                    } else {
                        match line.get(..4).unwrap_or("").to_ascii_uppercase().as_str() {
                            "EHLO" | "HELO" => b"250 fake\r\n",
                            "DATA" => {
                                in_data = true;
                                b"354 go ahead\r\n"
                            }
                            "QUIT" => {
                                let _ = w.write_all(b"221 bye\r\n").await;
                                return;
                            }
                            _ => b"250 OK\r\n",
                        }
                    };
                    if w.write_all(reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, received)
}

/// Regression (crash stress): a client that hung up right after asking for a code got
/// the code stored and the re-send throttled — but the mail was never sent, because the
/// handler was dropped while it talked to the mail server. Also the SMTP path itself.
#[tokio::test]
async fn the_code_mail_goes_out_over_smtp_even_if_the_client_hangs_up() {
    let (port, received) = fake_smtp(Duration::from_millis(600)).await;
    let smtp = format!("smtp://127.0.0.1:{port}");
    let s = TestServer::start(SERVER, &["--smtp-url", &smtp]);
    let api = s.api();
    let (account, _) = api.login("alice@acme.test").await;
    let dev = api.register(&account, "laptop", "web").await.ok();
    let hasty = Api::with_timeout(api.base.clone(), Duration::from_millis(150));
    let path = format!("/v1/devices/{}/email-code", id(&dev));
    let r = hasty
        .try_call(Method::POST, &path, Some(&account), Some(json!({})))
        .await;
    assert!(r.is_err(), "the client gave up before the answer");
    let mail = poll_until(Duration::from_secs(5), || {
        std::future::ready(received.lock().unwrap().first().cloned())
    })
    .await
    .expect("the code mail reached the SMTP server");
    assert!(mail.contains("Your Vouch verification code is"), "{mail}");
    assert!(mail.contains("alice@acme.test"), "{mail}");
}

#[tokio::test]
async fn disable_with_what_it_approved() {
    let s = TestServer::start(SERVER, &[]);
    let api = s.api();
    let (_, _, web) = api
        .trusted_device("alice@acme.test", "browser", "web")
        .await;
    let (_, phone, phone_token) = api
        .approved_device("alice@acme.test", "phone", "mobile", &web)
        .await;
    let (_, laptop, laptop_token) = api
        .approved_device("alice@acme.test", "laptop", "web", &phone_token)
        .await;
    let (_, tablet, tablet_token) = api
        .approved_device("alice@acme.test", "tablet", "mobile", &web)
        .await;
    assert_eq!(laptop["approved_by"], phone["id"]);
    assert_eq!(laptop["tier"], "key_holder");
    // The stolen phone goes, and with it the laptop it approved; not the tablet.
    let out = api
        .post(
            &format!("/v1/devices/{}/disable?also_approved=true", id(&phone)),
            Some(&web),
            json!({}),
        )
        .await
        .ok();
    let disabled: Vec<&str> = out["disabled"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    assert_eq!(disabled, [id(&phone), id(&laptop)]);
    api.get("/v1/devices", Some(&laptop_token))
        .await
        .err(403, "device_disabled");
    api.get("/v1/devices", Some(&tablet_token)).await.ok();
    // Without the flag only the device itself.
    let out = api
        .post(
            &format!("/v1/devices/{}/disable", id(&tablet)),
            Some(&web),
            json!({}),
        )
        .await
        .ok();
    assert_eq!(out["disabled"].as_array().unwrap().len(), 1);
}

/// A key bundle around `key` whatever its length (to send bad keys on purpose).
fn bundle_of(key: &[u8]) -> Vec<u8> {
    let mut out = vec![0x01, 0x01, 0x01];
    out.extend_from_slice(&(key.len() as u16).to_be_bytes());
    out.extend_from_slice(key);
    out
}

//! The web console (issue 17) over real HTTP against a real server process, each control
//! tried as an attacker would: a browser that was never approved, guessed codes, an
//! email-only device approving, forged forms (CSRF), a member's console reaching for admin
//! powers, expiry on the server's dev clock, revocation, and the approving device's end.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use reqwest::{StatusCode, header};
use serde_json::{Value, json};
use vouch_testkit::{Api, TestServer, id};

const SERVER: &str = env!("CARGO_BIN_EXE_vouch-server");

/// A browser: its own cookie jar (set by hand), no redirects followed.
struct Browser {
    base: String,
    http: reqwest::Client,
    cookies: HashMap<String, String>,
    /// Cookies another site planted with a narrower `Path`: sent before `cookies`.
    planted: Vec<(String, String)>,
    /// Sent as `X-Forwarded-For` (a browser behind a reverse proxy, as the proxy says).
    forwarded_for: Option<String>,
}

/// An answer of a console page.
struct Page {
    status: StatusCode,
    headers: header::HeaderMap,
    body: String,
}

impl Page {
    fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The first CSRF token in the page's forms.
    fn csrf(&self) -> String {
        let at = self.body.find("name=\"csrf\" value=\"").expect("a form");
        let rest = &self.body[at + 19..];
        rest[..rest.find('"').unwrap()].to_owned()
    }

    #[track_caller]
    fn redirects_to(&self, to: &str) {
        assert_eq!(self.status, StatusCode::SEE_OTHER, "{}", self.body);
        assert!(self.location().starts_with(to), "to {}", self.location());
    }
}

impl Browser {
    fn new(s: &TestServer) -> Self {
        Self {
            base: s.url().to_owned(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .user_agent("ConsoleTest/1.0 (X11; Linux)")
                .build()
                .unwrap(),
            cookies: HashMap::new(),
            planted: Vec::new(),
            forwarded_for: None,
        }
    }

    /// A browser whose connections come from `ip` (another machine on the network).
    fn from_address(s: &TestServer, ip: std::net::IpAddr) -> Self {
        let mut b = Self::new(s);
        b.http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("ConsoleTest/1.0 (X11; Linux)")
            .local_address(ip)
            .build()
            .unwrap();
        b
    }

    fn cookie_header(&self) -> String {
        self.planted
            .iter()
            .map(|(k, v)| (k, v))
            .chain(self.cookies.iter())
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn send(&mut self, req: reqwest::RequestBuilder) -> Page {
        let req = match &self.forwarded_for {
            Some(client) => req.header("x-forwarded-for", client),
            None => req,
        };
        let resp = req
            .header(header::COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap();
        for c in resp.headers().get_all(header::SET_COOKIE) {
            let c = c.to_str().unwrap();
            let (kv, _) = c.split_once(';').unwrap();
            let (k, v) = kv.split_once('=').unwrap();
            if v.is_empty() || c.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.into(), v.into());
            }
        }
        Page {
            status: resp.status(),
            headers: resp.headers().clone(),
            body: resp.text().await.unwrap(),
        }
    }

    async fn get(&mut self, path: &str) -> Page {
        let req = self.http.get(format!("{}{path}", self.base));
        self.send(req).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let req = self.http.post(format!("{}{path}", self.base)).form(form);
        self.send(req).await
    }

    /// Posts the sign-in form (its CSRF token fetched first) with `password`; the answer.
    async fn post_sign_in(&mut self, email: &str, password: &str) -> Page {
        let form = self.get("/console/login").await;
        let csrf = form.csrf();
        self.post(
            "/console/login",
            &[("csrf", &csrf), ("email", email), ("password", password)],
        )
        .await
    }

    /// Signs in with the dev password; returns the code the wait page shows.
    async fn sign_in(&mut self, email: &str) -> String {
        self.post_sign_in(email, vouch_testkit::DEV_PASSWORD)
            .await
            .redirects_to("/console/wait");
        let wait = self.get("/console/wait").await;
        assert_eq!(wait.status, StatusCode::OK);
        let at = wait.body.find("aria-label=\"Code ").unwrap() + 17;
        wait.body[at..at + 6].to_owned()
    }

    /// After the approval: the wait page (which reloads itself every 5 s) gives the
    /// browser its new session cookie and moves on to the console.
    async fn approved(&mut self) {
        let before = self.cookies.get("vouch_console").cloned();
        self.get("/console/wait")
            .await
            .redirects_to("/console/devices");
        assert_ne!(
            self.cookies.get("vouch_console"),
            before.as_ref(),
            "rotated"
        );
    }

    /// The CSRF token of the devices page (an approved console).
    async fn csrf(&mut self) -> String {
        let page = self.get("/console/devices").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        page.csrf()
    }
}

async fn pending_console(api: &Api, key_holder: &str) -> String {
    let list = api.get("/v1/console-sessions", Some(key_holder)).await.ok();
    let pending: Vec<&Value> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == "pending")
        .collect();
    assert_eq!(pending.len(), 1, "{list}");
    id(pending[0])
}

async fn approve(api: &Api, key_holder: &str, session: &str, code: &str) -> vouch_testkit::Resp {
    api.post(
        &format!("/v1/console-sessions/{session}/approve"),
        Some(key_holder),
        json!({ "code": code }),
    )
    .await
}

/// A browser of `email` signed in and approved by `key_holder`.
async fn approved_console(s: &TestServer, email: &str, key_holder: &str) -> (Browser, String) {
    let api = s.api();
    let mut b = Browser::new(s);
    let code = b.sign_in(email).await;
    let session = pending_console(&api, key_holder).await;
    approve(&api, key_holder, &session, &code).await.ok();
    b.approved().await;
    (b, session)
}

/// Alice's laptop, her first key holder (verified by email): its device token.
async fn alice_laptop(api: &Api) -> String {
    api.trusted_device("alice@acme.test", "alice laptop", "web")
        .await
        .2
}

/// Alice's key holders: her laptop (verified by email) and a phone it approved.
struct Alice {
    laptop: String,
    laptop_token: String,
    phone: String,
    phone_token: String,
}

async fn alice_laptop_and_phone(api: &Api) -> Alice {
    let (_, laptop, laptop_token) = api
        .trusted_device("alice@acme.test", "alice laptop", "web")
        .await;
    let (account, _) = api.login("alice@acme.test").await;
    let phone = id(&api.register(&account, "alice phone", "mobile").await.ok());
    let phone_token = api.approve_pending(&account, &phone, &laptop_token).await;
    Alice {
        laptop: id(&laptop),
        laptop_token,
        phone,
        phone_token,
    }
}

fn wrong(code: &str) -> String {
    format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000)
}

#[tokio::test]
async fn the_console_routes_are_in_the_contract_and_pages_have_strict_headers() {
    let s = TestServer::start(SERVER, &[]);
    let doc = s.api().get("/v1/openapi.json", None).await.ok();
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/v1/console-sessions", "get"),
        ("/v1/console-sessions/{id}/approve", "post"),
        ("/v1/console-sessions/{id}/revoke", "post"),
    ] {
        let op = paths.get(path).and_then(|p| p.get(method));
        assert!(op.is_some(), "{method} {path} missing from openapi.json");
    }
    assert!(!paths.keys().any(|p| p.starts_with("/console")));
    // The push a key holder gets for a waiting console is in the contract: the id only.
    let pushed = doc["components"]["schemas"]["Event"]["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["properties"]["kind"]["enum"][0] == "console_requested")
        .expect("console_requested in the Event schema")
        .clone();
    let fields: Vec<&String> = pushed["properties"].as_object().unwrap().keys().collect();
    assert_eq!(fields, ["kind", "session_id"], "{pushed}");
    let mut b = Browser::new(&s);
    let page = b.get("/console/login").await;
    let h = |n: header::HeaderName| page.headers.get(n).unwrap().to_str().unwrap().to_owned();
    assert!(h(header::CONTENT_SECURITY_POLICY).contains("default-src 'none'"));
    assert!(h(header::CONTENT_SECURITY_POLICY).contains("frame-ancestors 'none'"));
    assert!(!h(header::CONTENT_SECURITY_POLICY).contains("script-src"));
    assert_eq!(h(header::X_FRAME_OPTIONS), "DENY");
    assert_eq!(h(header::CACHE_CONTROL), "no-store");
    let set = h(header::SET_COOKIE);
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    // No secret in the URL: the sign-in form posts.
    assert!(
        page.body
            .contains("method=\"post\" action=\"/console/login\"")
    );
    // Bad input is a page, never a 500.
    for path in [
        "/console/devices/not-a-uuid/disable",
        "/console/admin/users/x/deprovision",
    ] {
        let p = b.get(path).await;
        assert!(
            p.status.is_redirection() || p.status.is_client_error(),
            "{path}"
        );
    }
}

#[tokio::test]
async fn an_unapproved_console_gets_nothing() {
    let s = TestServer::start(SERVER, &[]);
    let api = s.api();
    let (_, laptop, alice) = api
        .trusted_device("alice@acme.test", "alice laptop", "web")
        .await;
    let (_, _, _admin) = api
        .trusted_device("admin@acme.test", "admin laptop", "web")
        .await;
    let laptop = id(&laptop);
    // No cookie, or a forged one: the sign-in page.
    let mut stranger = Browser::new(&s);
    stranger
        .get("/console/devices")
        .await
        .redirects_to("/console/login");
    stranger
        .cookies
        .insert("vouch_console".into(), "vcs_forged".into());
    stranger
        .get("/console/devices")
        .await
        .redirects_to("/console/login");
    // Signed in with the password, not approved: every page sends it to the password form
    // (never to the wait page: a waiting cookie may have been planted in this browser).
    let mut b = Browser::new(&s);
    b.sign_in("alice@acme.test").await;
    let csrf = b.get("/console/wait").await.csrf();
    for path in [
        "/console/devices",
        "/console/admin",
        "/console/admin/audit",
        "/console",
    ] {
        let p = b.get(path).await;
        p.redirects_to("/console/login");
        assert!(!p.body.contains("alice laptop"), "{path}");
    }
    b.post(
        &format!("/console/devices/{laptop}/disable"),
        &[("csrf", &csrf)],
    )
    .await
    .redirects_to("/console/login");
    let list = api.get("/v1/devices", Some(&alice)).await.ok();
    assert_eq!(list[0]["status"], "trusted");
    // The console's cookie is no API token, and the sign-in left no account token behind.
    let cookie = b.cookies["vouch_console"].clone();
    api.get("/v1/devices", Some(&cookie))
        .await
        .err(401, "unauthorized");
}

#[tokio::test]
async fn wrong_codes_end_the_sign_in_and_codes_are_bound_to_their_session() {
    let s = TestServer::start(SERVER, &[]);
    let api = s.api();
    let alice = alice_laptop(&api).await;
    let (_, _, bob) = api
        .trusted_device("bob@acme.test", "bob laptop", "web")
        .await;
    let mut b = Browser::new(&s);
    let code = b.sign_in("alice@acme.test").await;
    let session = pending_console(&api, &alice).await;
    // Another user's key holder does not even see it.
    approve(&api, &bob, &session, &code)
        .await
        .err(404, "not_found");
    // Not six digits: refused without counting.
    approve(&api, &alice, &session, "12345")
        .await
        .err(400, "bad_request");
    let r = approve(&api, &alice, &session, &wrong(&code)).await;
    r.err(400, "invalid_code");
    assert_eq!(r.body["error"]["attempts_left"], 2);
    let r = approve(&api, &alice, &session, &wrong(&wrong(&code))).await;
    assert_eq!(r.body["error"]["attempts_left"], 1);
    approve(&api, &alice, &session, &wrong(&code))
        .await
        .err(410, "code_expired");
    // The sign-in is gone: the right code no longer works, the browser starts again.
    approve(&api, &alice, &session, &code)
        .await
        .err(404, "not_found");
    b.get("/console/wait").await.redirects_to("/console/login");
    // A second browser's code does not approve the first's session (bound to it).
    let mut one = Browser::new(&s);
    let _ = one.sign_in("alice@acme.test").await;
    let first = pending_console(&api, &alice).await;
    let mut two = Browser::new(&s);
    let code_two = two.sign_in("alice@acme.test").await;
    approve(&api, &alice, &first, &code_two)
        .await
        .err(400, "invalid_code");
    one.get("/console/devices")
        .await
        .redirects_to("/console/login");
}

#[tokio::test]
async fn only_a_key_holder_web_or_mobile_device_approves_a_console() {
    let s = TestServer::start(SERVER, &[]);
    let api = s.api();
    let alice = alice_laptop(&api).await;
    // Email-only: a second device verified by email only.
    let (_, _, email_only) = api
        .trusted_device("alice@acme.test", "alice other browser", "web")
        .await;
    let (_, _, extension) = api
        .trusted_device("alice@acme.test", "alice extension", "extension")
        .await;
    let mut b = Browser::new(&s);
    let code = b.sign_in("alice@acme.test").await;
    let session = pending_console(&api, &alice).await;
    approve(&api, &email_only, &session, &code)
        .await
        .err(403, "key_holder_required");
    api.get("/v1/console-sessions", Some(&email_only))
        .await
        .err(403, "key_holder_required");
    let r = approve(&api, &extension, &session, &code).await;
    assert_eq!(r.status.as_u16(), 403, "{}", r.body);
    b.get("/console/devices")
        .await
        .redirects_to("/console/login");
    // The key holder sees browser, address and time, then approves.
    let list = api.get("/v1/console-sessions", Some(&alice)).await.ok();
    assert_eq!(list[0]["user_agent"], "ConsoleTest/1.0 (X11; Linux)");
    assert_eq!(list[0]["origin"], "127.0.0.1");
    assert!(list[0]["created_at"].is_string());
    assert_eq!(list[0]["other_network"], false);
    // Seen from a key holder on another address, the sign-in is flagged.
    let far = Api::from_address(s.url(), "127.0.0.2".parse().unwrap());
    let seen = far.get("/v1/console-sessions", Some(&alice)).await.ok();
    assert_eq!(seen[0]["other_network"], true, "{seen}");
    let ok = approve(&api, &alice, &session, &code).await.ok();
    assert_eq!(ok["status"], "active");
    assert_eq!(ok["admin"], false);
    b.approved().await;
    let page = b.get("/console/devices").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("alice laptop"));
    assert!(
        !page.body.contains(&code),
        "the code stays on the wait page"
    );
    approve(&api, &alice, &session, &code)
        .await
        .err(409, "already_decided");
}

#[tokio::test]
async fn forms_without_this_sessions_csrf_token_are_refused() {
    let s = TestServer::start(SERVER, &[]);
    let api = s.api();
    let Alice {
        laptop_token: alice,
        ..
    } = alice_laptop_and_phone(&api).await;
    // An email-only browser: what a console may disable (key holders are disabled from a
    // key holder, which signs the revocation).
    let (_, browser, _) = api
        .trusted_device("alice@acme.test", "alice browser", "web")
        .await;
    let phone = id(&browser);
    let (mut b, _) = approved_console(&s, "alice@acme.test", &alice).await;
    let (mut other, _) = approved_console(&s, "alice@acme.test", &alice).await;
    let disable = format!("/console/devices/{phone}/disable");
    for forged in [vec![], vec![("csrf", "")], vec![("csrf", "AAAA")]] {
        let p = b.post(&disable, &forged).await;
        assert_eq!(p.status, StatusCode::FORBIDDEN, "{}", p.body);
    }
    // Another session's token is not this one's.
    let theirs = other.csrf().await;
    let p = b.post(&disable, &[("csrf", &theirs)]).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    let list = api.get("/v1/devices", Some(&alice)).await.ok();
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|d| d["status"] == "trusted")
    );
    // The sign-in form too.
    let mut fresh = Browser::new(&s);
    fresh.get("/console/login").await;
    let p = fresh
        .post(
            "/console/login",
            &[
                ("email", "alice@acme.test"),
                ("password", vouch_testkit::DEV_PASSWORD),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert!(!fresh.cookies.contains_key("vouch_console"));
    // With its own token it works: the device is disabled through the API's rule.
    let csrf = b.csrf().await;
    b.post(&disable, &[("csrf", &csrf)])
        .await
        .redirects_to("/console/devices?done=disabled");
    let list = api.get("/v1/devices", Some(&alice)).await.ok();
    let phone_row = list
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == phone.as_str())
        .unwrap();
    assert_eq!(phone_row["status"], "disabled");
}

#[tokio::test]
async fn admin_powers_need_a_console_approved_by_an_admins_key_holder() {
    let s = TestServer::start(SERVER, &[]);
    let api = s.api();
    let alice = alice_laptop(&api).await;
    let (_, _, admin) = api
        .trusted_device("admin@acme.test", "admin laptop", "web")
        .await;
    let (_, bob_laptop, _) = api
        .trusted_device("bob@acme.test", "bob laptop", "web")
        .await;
    let bob_laptop = id(&bob_laptop);
    let users = api.get("/v1/admin/users", Some(&admin)).await.ok();
    let bob = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "bob@acme.test")
        .map(id)
        .unwrap();
    // A member's console: no admin page, no admin action, not another user's device.
    let (mut member, _) = approved_console(&s, "alice@acme.test", &alice).await;
    let csrf = member.csrf().await;
    for path in ["/console/admin", "/console/admin/audit"] {
        assert_eq!(
            member.get(path).await.status,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    let deprovision = format!("/console/admin/users/{bob}/deprovision");
    assert_eq!(
        member.post(&deprovision, &[("csrf", &csrf)]).await.status,
        StatusCode::FORBIDDEN
    );
    let p = member
        .post(
            &format!("/console/devices/{bob_laptop}/disable"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(p.status, StatusCode::NOT_FOUND, "{}", p.body);
    // Promoted to admin after the approval: that console still has no admin powers (they
    // need a console approved by an admin's key holder); a console approved now has them.
    s.execute_sql("UPDATE users SET role = 'admin' WHERE email = 'alice@acme.test'");
    assert_eq!(
        member.get("/console/admin").await.status,
        StatusCode::FORBIDDEN
    );
    let p = member
        .post(
            &format!("/console/devices/{bob_laptop}/disable"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(p.status, StatusCode::NOT_FOUND, "{}", p.body);
    let (mut promoted, _) = approved_console(&s, "alice@acme.test", &alice).await;
    assert_eq!(promoted.get("/console/admin").await.status, StatusCode::OK);
    drop(promoted);
    // The admin's console, approved by the admin's key holder: every device, audit, deprovision.
    let (mut a, _) = approved_console(&s, "admin@acme.test", &admin).await;
    let page = a.get("/console/admin?email=bob").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("bob laptop") && !page.body.contains("alice laptop"));
    // The admin is offered to deprovision bob, never themselves (the server refuses that).
    assert!(page.body.contains("Deprovision bob@acme.test"));
    assert!(
        !page.body.contains("Deprovision admin@acme.test")
            && page.body.contains("another admin can deprovision you"),
        "{}",
        page.body
    );
    let confirm = a.get(&deprovision).await;
    assert!(
        confirm.body.contains("All 1 device(s) of bob@acme.test"),
        "{}",
        confirm.body
    );
    let csrf = a.csrf().await;
    a.post(&deprovision, &[("csrf", &csrf)])
        .await
        .redirects_to("/console/admin?done=deprovisioned");
    let audit = a.get("/console/admin/audit").await;
    assert!(audit.body.contains("deprovisioned") && audit.body.contains("console approved"));
    a.post(
        &format!("/console/admin/users/{bob}/unlock"),
        &[("csrf", &csrf)],
    )
    .await
    .redirects_to("/console/admin?done=unlocked");
}

#[tokio::test]
async fn a_mobile_approved_console_views_but_does_not_manage_others() {
    let s = TestServer::start(SERVER, &[]);
    let api = s.api();
    let Alice {
        laptop,
        phone_token,
        ..
    } = alice_laptop_and_phone(&api).await;
    let (mut b, _) = approved_console(&s, "alice@acme.test", &phone_token).await;
    let page = b.get("/console/devices").await;
    assert!(page.body.contains("View only"), "{}", page.body);
    assert!(!page.body.contains("aria-label=\"Disable alice laptop\""));
    let csrf = b.csrf().await;
    // The forms the page does not offer are refused by the API's rule anyway.
    let p = b
        .post(
            &format!("/console/devices/{laptop}/disable"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN, "{}", p.body);
    let p = b
        .post(
            &format!("/console/devices/{laptop}/rename"),
            &[("csrf", &csrf), ("name", "x")],
        )
        .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN, "{}", p.body);
}

#[tokio::test]
async fn sessions_slide_then_expire_on_the_servers_clock() {
    let s = TestServer::start(SERVER, &[]);
    let api = s.api();
    let alice = alice_laptop(&api).await;
    // A sign-in nobody approves expires after 10 minutes.
    let mut late = Browser::new(&s);
    let code = late.sign_in("alice@acme.test").await;
    let session = pending_console(&api, &alice).await;
    api.advance_clock(10 * 60 + 1).await;
    approve(&api, &alice, &session, &code)
        .await
        .err(410, "request_expired");
    // (the approver's try ended it, so the browser hears it is gone)
    late.get("/console/wait")
        .await
        .redirects_to("/console/login");
    // Used every 25 minutes it lives on, until 8 hours after its approval.
    let (mut b, _) = approved_console(&s, "alice@acme.test", &alice).await;
    for _ in 0..19 {
        api.advance_clock(25 * 60).await;
        assert_eq!(b.get("/console/devices").await.status, StatusCode::OK);
    }
    api.advance_clock(25 * 60).await;
    b.get("/console/devices")
        .await
        .redirects_to("/console/login?ended=expired");
    assert!(!b.cookies.contains_key("vouch_console"));
    // Idle for more than 30 minutes: ended.
    let (mut idle, _) = approved_console(&s, "alice@acme.test", &alice).await;
    api.advance_clock(29 * 60).await;
    assert_eq!(idle.get("/console/devices").await.status, StatusCode::OK);
    api.advance_clock(31 * 60).await;
    idle.get("/console/devices")
        .await
        .redirects_to("/console/login?ended=expired");
}

#[tokio::test]
async fn sessions_are_listed_and_revoked_and_die_with_their_approver() {
    let s = TestServer::start(SERVER, &[]);
    let api = s.api();
    let Alice {
        laptop,
        laptop_token: alice,
        phone,
        phone_token,
    } = alice_laptop_and_phone(&api).await;
    // Revoked by another key holder (the phone), over the API.
    let (mut b, session) = approved_console(&s, "alice@acme.test", &alice).await;
    let list = api
        .get("/v1/console-sessions", Some(&phone_token))
        .await
        .ok();
    assert_eq!(list[0]["id"], session.as_str());
    assert_eq!(list[0]["approved_by"], laptop.as_str());
    let page = b.get("/console/devices").await;
    assert!(page.body.contains("this browser"));
    api.post(
        &format!("/v1/console-sessions/{session}/revoke"),
        Some(&phone_token),
        json!({}),
    )
    .await
    .ok();
    b.get("/console/devices")
        .await
        .redirects_to("/console/login");
    // Revoked from the console itself (its own row on the devices page).
    let (mut c, session) = approved_console(&s, "alice@acme.test", &alice).await;
    let csrf = c.csrf().await;
    c.post(
        &format!("/console/sessions/{session}/revoke"),
        &[("csrf", &csrf)],
    )
    .await
    .redirects_to("/console/login?ended=signed_out");
    assert!(!c.cookies.contains_key("vouch_console"));
    let list = api.get("/v1/console-sessions", Some(&alice)).await.ok();
    assert_eq!(list, json!([]));
    // Signed out from the header's button.
    let (mut d, _) = approved_console(&s, "alice@acme.test", &alice).await;
    let csrf = d.csrf().await;
    d.post("/console/logout", &[("csrf", &csrf)])
        .await
        .redirects_to("/console/login?ended=signed_out");
    // The approving device disabled: its console goes with it.
    let (mut e, _) = approved_console(&s, "alice@acme.test", &phone_token).await;
    assert_eq!(e.get("/console/devices").await.status, StatusCode::OK);
    api.post(
        &format!("/v1/devices/{phone}/disable"),
        Some(&alice),
        json!({}),
    )
    .await
    .ok();
    e.get("/console/devices")
        .await
        .redirects_to("/console/login?ended=approver");
    let list = api.get("/v1/console-sessions", Some(&alice)).await.ok();
    assert_eq!(list, json!([]));
}

/// Neither the password, the code, the session cookie nor a CSRF token reaches the
/// server's trace-level log or an error page.
#[tokio::test]
async fn console_secrets_stay_out_of_the_log_and_the_error_pages() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("server.log");
    let s = TestServer::builder(SERVER)
        .log_level("trace")
        .log_to(&log)
        .start();
    let api = s.api();
    let (_, laptop, alice) = api
        .trusted_device("alice@acme.test", "alice laptop", "web")
        .await;
    let mut b = Browser::new(&s);
    let code = b.sign_in("alice@acme.test").await;
    let session = pending_console(&api, &alice).await;
    let wrong_try = approve(&api, &alice, &session, &wrong(&code)).await;
    assert!(!wrong_try.body.to_string().contains(&code));
    approve(&api, &alice, &session, &code).await.ok();
    b.approved().await;
    let csrf = b.csrf().await;
    let refused = b
        .post(
            &format!("/console/devices/{}/disable", id(&laptop)),
            &[("csrf", "forged-token")],
        )
        .await;
    assert!(!refused.body.contains("forged-token"));
    b.post("/console/logout", &[("csrf", &csrf)]).await;
    // A wrong password's page does not echo it.
    let mut other = Browser::new(&s);
    let page = other
        .post_sign_in("alice@acme.test", "not-the-password-123")
        .await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    assert!(!page.body.contains("not-the-password-123"));
    let cookie = b.cookies.get("vouch_console").cloned().unwrap_or_default();
    let text = std::fs::read_to_string(&log).unwrap();
    for secret in [
        vouch_testkit::DEV_PASSWORD,
        "not-the-password-123",
        csrf.as_str(),
        "vcs_",
    ] {
        assert!(!text.contains(secret), "{secret} in the log");
    }
    // The code as a word of its own (timestamps and request ids hold digit runs too).
    let alone = text.match_indices(code.as_str()).any(|(i, _)| {
        let before = text[..i].chars().next_back().unwrap_or(' ');
        let after = text[i + 6..].chars().next().unwrap_or(' ');
        !before.is_ascii_alphanumeric() && !after.is_ascii_alphanumeric() && after != '.'
    });
    assert!(!alone, "the code in the log");
    assert!(cookie.is_empty() || !text.contains(&cookie));
    assert!(
        text.contains("/console/devices/{id}/disable"),
        "route templates are logged"
    );
}

/// A waiting console sign-in reaches the user's key-holder web and mobile devices as
/// `console_requested` (so a phone can show the prompt), with the session's id and
/// nothing else: never the code, the cookie or the CSRF token; its approval as
/// `console_decided` (so the prompt can go). Email-only devices and extensions are not
/// asked.
#[tokio::test]
async fn a_waiting_console_is_pushed_to_key_holders_without_its_code() {
    let s = TestServer::start(SERVER, &[]);
    let api = s.api();
    let Alice {
        laptop_token: alice,
        phone_token: phone,
        ..
    } = alice_laptop_and_phone(&api).await;
    let (_, _, email_only) = api
        .trusted_device("alice@acme.test", "alice other browser", "web")
        .await;
    let (_, extension, _) = api
        .trusted_device("alice@acme.test", "alice extension", "extension")
        .await;
    let mut on_phone = api.events(&phone, "", None).await;
    let mut on_laptop = api.events(&alice, "", None).await;
    let mut on_email_only = api.events(&email_only, "", None).await;
    let mut b = Browser::new(&s);
    let code = b.sign_in("alice@acme.test").await;
    let session = pending_console(&api, &alice).await;
    for events in [&mut on_phone, &mut on_laptop] {
        let (_, ev) = events.expect("console_requested").await;
        assert_eq!(
            ev,
            json!({"kind": "console_requested", "session_id": session}),
            "the id only"
        );
        let raw = ev.to_string();
        assert!(!raw.contains(&code), "{raw}");
        for secret in b.cookies.values() {
            assert!(!raw.contains(secret.as_str()), "{raw}");
        }
    }
    // Approved from the laptop: the phone hears the prompt can go (the id only).
    approve(&api, &alice, &session, &code).await.ok();
    let (_, ev) = on_phone.expect("console_decided").await;
    assert_eq!(
        ev,
        json!({"kind": "console_decided", "session_id": session})
    );
    // Everything the email-only device got up to an event that came after the sign-in
    // holds no console event: it was not asked to approve.
    api.post(
        &format!("/v1/devices/{}/disable", id(&extension)),
        Some(&alice),
        json!({}),
    )
    .await
    .ok();
    loop {
        let (kind, ev) = on_email_only.next_event().await;
        assert!(!kind.starts_with("console_"), "{ev}");
        if kind == "device_disabled" {
            break;
        }
    }
}

/// An unknown console path is a page, not the API's JSON, with the console's strict
/// headers (no script, no framing, no caching); the API keeps its JSON 404.
#[tokio::test]
async fn unknown_console_paths_are_an_html_404_with_the_pages_headers() {
    let s = TestServer::start(SERVER, &[]);
    let mut b = Browser::new(&s);
    for path in [
        "/console/nope",
        "/console/devices/x/y/z",
        "/console/admin/nothing-here",
        "/console/%3Cscript%3E",
    ] {
        let p = b.get(path).await;
        assert_eq!(p.status, StatusCode::NOT_FOUND, "{path}");
        let h = |n: header::HeaderName| {
            p.headers
                .get(n)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default()
        };
        assert!(h(header::CONTENT_TYPE).starts_with("text/html"), "{path}");
        assert!(p.body.contains("<h1>Not found</h1>"), "{path}: {}", p.body);
        assert!(!p.body.contains("<script"), "{path}");
        assert!(h(header::CONTENT_SECURITY_POLICY).contains("default-src 'none'"));
        assert!(h(header::CONTENT_SECURITY_POLICY).contains("frame-ancestors 'none'"));
        assert_eq!(h(header::X_FRAME_OPTIONS), "DENY");
        assert_eq!(h(header::CACHE_CONTROL), "no-store");
    }
    let api = s.api().get("/v1/nope", None).await;
    api.err(404, "not_found");
}

/// Session fixation (outside review, item 1). An attacker who knows the password holds a
/// pending console cookie and plants it in the victim's browser, or knows a session's id
/// (key holders, pushes and the audit log see it): a known id opens nothing; the planted
/// cookie does not skip the sign-in form (the victim's sign-in is a new session, a new
/// cookie, and the planted one ends); and even when the victim approves the planted
/// session itself, the approval rotates the cookie, so the value the attacker kept opens
/// nothing afterwards.
#[tokio::test]
async fn a_planted_or_known_pending_session_cannot_ride_the_victims_approval() {
    let s = TestServer::start(SERVER, &[]);
    let api = s.api();
    let alice = alice_laptop(&api).await;
    let mut attacker = Browser::new(&s);
    attacker.sign_in("alice@acme.test").await;
    let planted = attacker.cookies["vouch_console"].clone();
    let attacker_session = pending_console(&api, &alice).await;
    for forged in [attacker_session.clone(), format!("vcs_{attacker_session}")] {
        let mut b = Browser::new(&s);
        b.cookies.insert("vouch_console".into(), forged);
        b.get("/console/wait").await.redirects_to("/console/login");
    }
    // Planted: the sign-in page still asks for email and password.
    let mut victim = Browser::new(&s);
    victim
        .cookies
        .insert("vouch_console".into(), planted.clone());
    let form = victim.get("/console/login").await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.location());
    assert!(form.body.contains("name=\"password\""));
    let code = victim.sign_in("alice@acme.test").await;
    assert_ne!(victim.cookies["vouch_console"], planted, "a new cookie");
    let session = pending_console(&api, &alice).await;
    assert_ne!(session, attacker_session, "the planted sign-in ended");
    approve(&api, &alice, &session, &code).await.ok();
    victim.approved().await;
    assert_eq!(victim.get("/console/devices").await.status, StatusCode::OK);
    for path in ["/console/devices", "/console/wait", "/console"] {
        attacker.get(path).await.redirects_to("/console/login");
    }
    // Planted and sent straight to the wait page, whose code the victim approves: the
    // victim's browser gets a new cookie; the value the attacker kept is dead.
    let mut attacker = Browser::new(&s);
    let attacker_code = attacker.sign_in("alice@acme.test").await;
    let planted = attacker.cookies["vouch_console"].clone();
    let mut victim = Browser::new(&s);
    victim
        .cookies
        .insert("vouch_console".into(), planted.clone());
    let shown = victim.get("/console/wait").await;
    assert!(shown.body.contains(&attacker_code));
    let session = pending_console(&api, &alice).await;
    approve(&api, &alice, &session, &attacker_code).await.ok();
    victim.approved().await;
    assert_eq!(victim.get("/console/devices").await.status, StatusCode::OK);
    for path in ["/console/devices", "/console/wait", "/console/admin"] {
        attacker.get(path).await.redirects_to("/console/login");
    }
    let csrf = session_csrf(&planted);
    let p = attacker.post("/console/logout", &[("csrf", &csrf)]).await;
    p.redirects_to("/console/login");
    assert_eq!(
        victim.get("/console/devices").await.status,
        StatusCode::OK,
        "the stale cookie cannot even sign the victim out"
    );
}

/// On loopback (no `__Host-` prefix; cookies are not separated by port) another local
/// site can plant console cookies with a narrower `Path`, which the browser sends before
/// its own: a waiting sign-in's cookie, a dead one, a sign-in form secret. They lock
/// nobody out: the browser's own sign-in shows its own code, its approved console opens,
/// and it signs out its own session.
#[tokio::test]
async fn a_planted_narrower_path_cookie_locks_nobody_out() {
    let s = TestServer::start(SERVER, &[]);
    let api = s.api();
    let alice = alice_laptop(&api).await;
    let mut attacker = Browser::new(&s);
    attacker.sign_in("alice@acme.test").await;
    let mut victim = Browser::new(&s);
    victim.planted = vec![
        ("vouch_console".into(), "vcs_dead".into()),
        (
            "vouch_console".into(),
            attacker.cookies["vouch_console"].clone(),
        ),
        ("vouch_console_pre".into(), "planted".into()),
    ];
    let code = victim.sign_in("alice@acme.test").await;
    let session = pending_console(&api, &alice).await;
    approve(&api, &alice, &session, &code).await.ok();
    victim.approved().await;
    let csrf = victim.csrf().await;
    victim.get("/console/login").await.redirects_to("/console");
    victim
        .post("/console/logout", &[("csrf", &csrf)])
        .await
        .redirects_to("/console/login?ended=signed_out");
    victim
        .get("/console/devices")
        .await
        .redirects_to("/console/login");
}

/// The CSRF token a page of the session with cookie `token` carries (what an attacker
/// holding the token could compute).
fn session_csrf(token: &str) -> String {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    for p in [b"vouch/console/csrf".as_slice(), token.as_bytes()] {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    vouch_proto::Bytes(h.finalize().to_vec()).to_b64()
}

/// A password-only attacker (outside review, item 2; second review M2) can neither evict
/// the user's waiting sign-ins nor keep her out: from its address, at 2 waiting a further
/// sign-in is refused with a page saying so, and the user's own sign-in, from her
/// address, still opens and is approved with its code.
#[tokio::test]
async fn waiting_sign_ins_are_capped_without_eviction() {
    let s = TestServer::start(SERVER, &["--approval-rate", "50"]);
    let api = s.api();
    let alice = alice_laptop(&api).await;
    let thief_ip: std::net::IpAddr = "127.0.0.2".parse().unwrap();
    let mut user = Browser::new(&s);
    let code = user.sign_in("alice@acme.test").await;
    let session = pending_console(&api, &alice).await;
    for _ in 0..2 {
        Browser::from_address(&s, thief_ip)
            .sign_in("alice@acme.test")
            .await;
    }
    let mut third = Browser::from_address(&s, thief_ip);
    let p = third
        .post_sign_in("alice@acme.test", vouch_testkit::DEV_PASSWORD)
        .await;
    assert_eq!(p.status, StatusCode::TOO_MANY_REQUESTS, "{}", p.body);
    assert!(
        p.body
            .contains("from this network address are already waiting for approval"),
        "{}",
        p.body
    );
    assert!(!third.cookies.contains_key("vouch_console"));
    let list = api.get("/v1/console-sessions", Some(&alice)).await.ok();
    assert_eq!(list.as_array().unwrap().len(), 3);
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|x| x["id"] == session.as_str())
    );
    approve(&api, &alice, &session, &code).await.ok();
    user.approved().await;
    assert_eq!(user.get("/console/devices").await.status, StatusCode::OK);
}

/// Second review M2: someone with only the password used up the user's console sign-ins
/// (5 per 10 minutes) from another machine, signing each out at once, and kept her out
/// for as long as they liked. The rate is counted per address now: she still signs in
/// and is approved (her prompt is not pushed again, the prompts' budget being spent; her
/// key holder lists it and approves it with the code she shows).
#[tokio::test]
async fn another_address_cannot_use_up_the_users_console_sign_ins() {
    let s = TestServer::start(SERVER, &[]);
    let api = s.api();
    let alice = alice_laptop(&api).await;
    let thief_ip: std::net::IpAddr = "127.0.0.2".parse().unwrap();
    for _ in 0..5 {
        let mut b = Browser::from_address(&s, thief_ip);
        b.sign_in("alice@acme.test").await;
        let csrf = b.get("/console/wait").await.csrf();
        b.post("/console/logout", &[("csrf", &csrf)])
            .await
            .redirects_to("/console/login");
    }
    // Third review: a cap per user let ten addresses with two waiting sign-ins each keep
    // her out; there is none now.
    for i in 10..20 {
        let ip: std::net::IpAddr = format!("127.0.0.{i}").parse().unwrap();
        for _ in 0..2 {
            Browser::from_address(&s, ip)
                .sign_in("alice@acme.test")
                .await;
        }
    }
    let mut user = Browser::new(&s);
    let code = user.sign_in("alice@acme.test").await;
    // Among 21 waiting, the page names hers for the key holder (`--id`).
    let page = user.get("/console/wait").await;
    let list = api.get("/v1/console-sessions", Some(&alice)).await.ok();
    assert_eq!(list.as_array().unwrap().len(), 21);
    let session = list
        .as_array()
        .unwrap()
        .iter()
        .map(id)
        .find(|i| page.body.contains(&format!("--id {i}")))
        .expect("the wait page names its session");
    approve(&api, &alice, &session, &code).await.ok();
    user.approved().await;
    assert_eq!(user.get("/console/devices").await.status, StatusCode::OK);
}

#[tokio::test]
async fn console_sign_in_prompts_are_throttled_per_user() {
    let s = TestServer::start(SERVER, &[]);
    let api = s.api();
    let alice = alice_laptop(&api).await;
    let mut events = api.events(&alice, "", None).await;
    for _ in 0..5 {
        let mut b = Browser::new(&s);
        b.sign_in("alice@acme.test").await;
        let csrf = b.get("/console/wait").await.csrf();
        b.post("/console/logout", &[("csrf", &csrf)])
            .await
            .redirects_to("/console/login");
    }
    let mut b = Browser::new(&s);
    let p = b
        .post_sign_in("alice@acme.test", vouch_testkit::DEV_PASSWORD)
        .await;
    assert_eq!(p.status, StatusCode::TOO_MANY_REQUESTS, "{}", p.body);
    assert!(
        p.body
            .contains("too many console sign-ins for this account from this network address"),
        "{}",
        p.body
    );
    // After the window, a sign-in is pushed again: it is the sixth prompt the laptop got.
    api.advance_clock(10 * 60 + 1).await;
    Browser::new(&s).sign_in("alice@acme.test").await;
    let last = pending_console(&api, &alice).await;
    let mut prompts = 0;
    loop {
        let (kind, ev) = events.next_event().await;
        if kind == "console_requested" {
            prompts += 1;
            if ev["session_id"] == last.as_str() {
                break;
            }
        }
    }
    assert_eq!(prompts, 6);
}

/// A console path asked with a method it does not take answers the console's HTML 405
/// page with the console's strict headers (outside review, item 3); the API keeps its
/// JSON 405.
#[tokio::test]
async fn wrong_methods_on_console_paths_are_an_html_405_with_the_pages_headers() {
    let s = TestServer::start(SERVER, &[]);
    let http = reqwest::Client::new();
    for (method, path) in [
        (reqwest::Method::PUT, "/console/login"),
        (reqwest::Method::DELETE, "/console/devices"),
        (reqwest::Method::GET, "/console/logout"),
        (reqwest::Method::POST, "/console/wait"),
        (reqwest::Method::PATCH, "/console"),
        (reqwest::Method::POST, "/console/admin/audit"),
    ] {
        let r = http
            .request(method.clone(), format!("{}{path}", s.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        let h = |n: header::HeaderName| {
            r.headers()
                .get(n)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default()
        };
        assert!(
            h(header::CONTENT_TYPE).starts_with("text/html"),
            "{method} {path}"
        );
        assert!(h(header::CONTENT_SECURITY_POLICY).contains("default-src 'none'"));
        assert!(h(header::CONTENT_SECURITY_POLICY).contains("frame-ancestors 'none'"));
        assert_eq!(h(header::X_FRAME_OPTIONS), "DENY", "{method} {path}");
        assert_eq!(h(header::X_CONTENT_TYPE_OPTIONS), "nosniff");
        assert_eq!(h(header::CACHE_CONTROL), "no-store");
        let body = r.text().await.unwrap();
        assert!(body.contains("<h1>Not allowed</h1>"), "{body}");
    }
    let api = s.api().put("/v1/devices", None, json!({})).await;
    api.err(405, "method_not_allowed");
}

/// The `Set-Cookie` values of an answer.
fn set_cookies(p: &Page) -> Vec<String> {
    p.headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// Whether cookies are `Secure` follows the configuration, never the request's `Host`
/// (outside review, item 4): a server listening off loopback, or one told it sits behind
/// a TLS-terminating proxy (`--console-secure-cookies`), sets `Secure`, `__Host-` named,
/// `Path=/` cookies even to a request saying `Host: localhost`; a loopback server sets
/// plain ones whatever the `Host` says.
#[tokio::test]
async fn secure_cookies_follow_the_configuration_not_the_host_header() {
    let login_with_host = |base: String, host: &'static str| async move {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let r = http
            .get(format!("{base}/console/login"))
            .header(header::HOST, host)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        r.headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let secure = |set: &[String]| {
        assert_eq!(set.len(), 1, "{set:?}");
        let c = &set[0];
        assert!(c.starts_with("__Host-vouch_console_pre="), "{c}");
        assert!(c.contains("; Secure") && c.contains("; Path=/;"), "{c}");
        assert!(!c.contains("Domain"), "{c}");
    };
    // Off loopback (a real process listening on every address).
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(SERVER)
        .args([
            "--listen",
            "0.0.0.0:0",
            "--dev",
            "--dev-allow-remote",
            "--data",
        ])
        .arg(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut out, &mut line).unwrap();
    // The rest it prints is read and dropped (it never writes to a closed pipe).
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    let port = line.trim().rsplit(':').next().unwrap().to_owned();
    let far = format!("http://127.0.0.1:{port}");
    let set = login_with_host(far.clone(), "localhost").await;
    let _ = child.kill();
    let _ = child.wait();
    secure(&set);
    // Loopback behind a TLS proxy, said by the flag: secure too, and a whole sign-in works
    // with the prefixed cookies.
    let s = TestServer::start(SERVER, &["--console-secure-cookies"]);
    secure(&login_with_host(s.url().to_owned(), "localhost").await);
    let api = s.api();
    let alice = alice_laptop(&api).await;
    let mut b = Browser::new(&s);
    let p = b
        .post_sign_in("alice@acme.test", vouch_testkit::DEV_PASSWORD)
        .await;
    p.redirects_to("/console/wait");
    let session_cookie = set_cookies(&p)
        .into_iter()
        .find(|c| c.starts_with("__Host-vouch_console="))
        .expect("the session cookie");
    assert!(session_cookie.contains("; Secure") && session_cookie.contains("; Path=/;"));
    assert!(!b.cookies.contains_key("vouch_console"));
    let wait = b.get("/console/wait").await;
    let at = wait.body.find("aria-label=\"Code ").unwrap() + 17;
    let code = wait.body[at..at + 6].to_owned();
    let session = pending_console(&api, &alice).await;
    approve(&api, &alice, &session, &code).await.ok();
    b.get("/console/wait")
        .await
        .redirects_to("/console/devices");
    assert_eq!(b.get("/console/devices").await.status, StatusCode::OK);
    // The plain name means nothing to this server.
    let mut plain = Browser::new(&s);
    let value = b.cookies["__Host-vouch_console"].clone();
    plain.cookies.insert("vouch_console".into(), value);
    plain
        .get("/console/devices")
        .await
        .redirects_to("/console/login");
    // A loopback server: plain cookies, whatever the Host header claims.
    let s = TestServer::start(SERVER, &[]);
    let set = login_with_host(s.url().to_owned(), "vouch.example.com").await;
    assert!(set[0].starts_with("vouch_console_pre="), "{set:?}");
    assert!(!set[0].contains("Secure"), "{set:?}");
}

/// The audit log names what happens to console sign-ins (outside review, item 5): the
/// sign-in, a wrong code (on the key holder that typed it), the timeout, a sign-in
/// replaced in its browser or signed out while waiting, and an action
/// taken in a console names the approving device as actor and the console session in
/// its detail. A sign-in that times out is told to the key holders as `console_decided`,
/// so a phone's prompt goes.
#[tokio::test]
async fn console_sign_ins_codes_and_timeouts_are_audited_and_told() {
    let s = TestServer::start(SERVER, &[]);
    let api = s.api();
    let (_, laptop, alice) = api
        .trusted_device("alice@acme.test", "alice laptop", "web")
        .await;
    let laptop = id(&laptop);
    let (_, _, admin) = api
        .trusted_device("admin@acme.test", "admin laptop", "web")
        .await;
    let mut events = api.events(&alice, "", None).await;
    let mut late = Browser::new(&s);
    let code = late.sign_in("alice@acme.test").await;
    let timed_out = pending_console(&api, &alice).await;
    approve(&api, &alice, &timed_out, &wrong(&code))
        .await
        .err(400, "invalid_code");
    events.expect("console_requested").await;
    api.advance_clock(10 * 60 + 1).await;
    // The browser's wait page finds it timed out; the key holders hear it at once.
    late.get("/console/wait")
        .await
        .redirects_to("/console/login?ended=expired");
    let (_, ev) = events.expect("console_decided").await;
    assert_eq!(ev["session_id"], timed_out.as_str());
    // An action in an approved console.
    let (mut b, session) = approved_console(&s, "alice@acme.test", &alice).await;
    let csrf = b.csrf().await;
    b.post(
        &format!("/console/devices/{laptop}/rename"),
        &[("csrf", &csrf), ("name", "alice work laptop")],
    )
    .await
    .redirects_to("/console/devices?done=renamed");
    // A waiting sign-in replaced by a new one in the same browser, and that one signed
    // out from its wait page: each end is in the log.
    let mut twice = Browser::new(&s);
    twice.sign_in("alice@acme.test").await;
    let replaced = pending_console(&api, &alice).await;
    twice.sign_in("alice@acme.test").await;
    let given_up = pending_console(&api, &alice).await;
    let wait = twice.get("/console/wait").await;
    twice
        .post("/console/logout", &[("csrf", &wait.csrf())])
        .await
        .redirects_to("/console/login");
    let log = api.get("/v1/admin/audit", Some(&admin)).await.ok();
    let entry = |action: &str, about: &str| {
        log.as_array()
            .unwrap()
            .iter()
            .find(|e| e["action"] == action && e["detail"].as_str().unwrap_or("").contains(about))
            .unwrap_or_else(|| panic!("no {action} about {about} in {log:#}"))
            .clone()
    };
    let requested = entry("console_requested", &timed_out);
    assert!(
        requested["detail"]
            .as_str()
            .unwrap()
            .contains("ConsoleTest/1.0")
    );
    assert_eq!(requested["origin"], "127.0.0.1");
    let rejected = entry("console_code_rejected", &timed_out);
    assert_eq!(rejected["device_id"], laptop.as_str());
    assert_eq!(rejected["actor_device_id"], laptop.as_str());
    assert!(
        rejected["detail"]
            .as_str()
            .unwrap()
            .contains("2 attempt(s) left")
    );
    assert!(!rejected.to_string().contains(&code), "no code in the log");
    entry("console_expired", &timed_out);
    let ended = entry("console_revoked", &replaced);
    assert!(
        ended["detail"].as_str().unwrap().contains("replaced"),
        "{ended}"
    );
    let ended = entry("console_revoked", &given_up);
    assert!(
        ended["detail"].as_str().unwrap().contains("signed out"),
        "{ended}"
    );
    let renamed = entry("renamed", &format!("via console {session}"));
    assert_eq!(renamed["actor_device_id"], laptop.as_str());
}

/// Outside review (M1): a password thief signs in from its own machine and plants its
/// waiting cookie in the victim's browser (a page on a sibling origin can set a loopback
/// or non-`__Host-` cookie), or copies the victim's waiting cookie. The victim's browser
/// used to open straight onto the thief's wait page and code; once she approved it, the
/// first browser to come back with the waiting cookie got the session. Now a waiting
/// cookie never skips the password form, its wait page (code) and its approval are only
/// for the address its password came from, and an approval is collected within a minute.
#[tokio::test]
async fn a_planted_or_copied_waiting_cookie_rides_no_approval() {
    let s = TestServer::start(SERVER, &[]);
    let api = s.api();
    let Alice { laptop_token, .. } = alice_laptop_and_phone(&api).await;
    let thief_ip: std::net::IpAddr = "127.0.0.2".parse().unwrap();

    // 1. Planted: the thief's waiting cookie in the victim's browser shows no code.
    let mut thief = Browser::from_address(&s, thief_ip);
    let thief_code = thief.sign_in("alice@acme.test").await;
    let mut victim = Browser::new(&s);
    victim.cookies.insert(
        "vouch_console".into(),
        thief.cookies["vouch_console"].clone(),
    );
    victim.get("/console").await.redirects_to("/console/login");
    let w = victim.get("/console/wait").await;
    w.redirects_to("/console/login?ended=elsewhere");
    assert!(!w.body.contains(&thief_code[..3]));
    // The planted sign-in is over: nothing left to approve, and the thief's cookie is dead.
    let list = api
        .get("/v1/console-sessions", Some(&laptop_token))
        .await
        .ok();
    assert!(list.as_array().unwrap().is_empty(), "{list}");
    thief
        .get("/console/wait")
        .await
        .redirects_to("/console/login?ended=unknown");

    // 2. Copied: the victim signs in and approves her own code; the thief, holding a
    //    copy of her waiting cookie, cannot collect the session from its machine.
    let mut victim = Browser::new(&s);
    let code = victim.sign_in("alice@acme.test").await;
    let mut thief = Browser::from_address(&s, thief_ip);
    thief.cookies.insert(
        "vouch_console".into(),
        victim.cookies["vouch_console"].clone(),
    );
    let session = pending_console(&api, &laptop_token).await;
    approve(&api, &laptop_token, &session, &code).await.ok();
    thief
        .get("/console/wait")
        .await
        .redirects_to("/console/login?ended=elsewhere");
    thief
        .get("/console/devices")
        .await
        .redirects_to("/console/login");
    // (The copy ended it: the victim signs in again, knowing something is wrong.)
    victim
        .get("/console/wait")
        .await
        .redirects_to("/console/login?ended=unknown");

    // 3. An approval not collected within a minute is not collected at all.
    let mut late = Browser::new(&s);
    let code = late.sign_in("alice@acme.test").await;
    let session = pending_console(&api, &laptop_token).await;
    approve(&api, &laptop_token, &session, &code).await.ok();
    api.advance_clock(61).await;
    late.get("/console/wait")
        .await
        .redirects_to("/console/login?ended=expired");
}

/// Second review L1: a console sign-in still waiting when its user was deprovisioned
/// survived it, and after a reactivation and a new key holder the old browser was
/// approved into a session. Deprovisioning now ends the waiting ones too.
#[tokio::test]
async fn deprovisioning_ends_waiting_console_sign_ins() {
    let s = TestServer::start(SERVER, &[]);
    let api = s.api();
    let (_, _, admin) = api
        .trusted_device("admin@acme.test", "admin laptop", "web")
        .await;
    let (_, _, bob_key_holder) = api
        .trusted_device("bob@acme.test", "bob laptop", "web")
        .await;
    let mut browser = Browser::new(&s);
    browser.sign_in("alice@acme.test").await;
    let mut bobs = Browser::new(&s);
    bobs.sign_in("bob@acme.test").await;
    assert_eq!(
        api.get("/v1/console-sessions", Some(&bob_key_holder))
            .await
            .ok()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let users = api.get("/v1/admin/users", Some(&admin)).await.ok();
    let bob = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "bob@acme.test")
        .map(id)
        .unwrap();
    api.post(
        &format!("/v1/admin/users/{bob}/deprovision"),
        Some(&admin),
        json!({}),
    )
    .await
    .ok();
    bobs.get("/console/wait")
        .await
        .redirects_to("/console/login?ended=unknown");
    // Alice's waiting sign-in is not touched.
    assert_eq!(browser.get("/console/wait").await.status, StatusCode::OK);
}

/// Third review F2: behind the TLS proxy OPERATING.md recommends every browser had the
/// proxy's address, so the waiting cookie's address binding and the per-address limits
/// bound nothing. With `--trusted-proxy`, a request from that proxy is the client of its
/// `X-Forwarded-For`: a copied waiting cookie used by another client behind the proxy is
/// ended as from anywhere else; the same header from any other peer is ignored.
#[tokio::test]
async fn behind_a_trusted_proxy_the_console_binds_the_forwarded_client() {
    let s = TestServer::start(SERVER, &["--trusted-proxy", "127.0.0.1"]);
    let api = s.api();
    let alice = alice_laptop(&api).await;
    let mut victim = Browser::new(&s);
    victim.forwarded_for = Some("198.51.100.7".into());
    victim.sign_in("alice@acme.test").await;
    let list = api.get("/v1/console-sessions", Some(&alice)).await.ok();
    assert_eq!(list[0]["origin"], "198.51.100.7", "{list}");
    let mut thief = Browser::new(&s);
    thief.forwarded_for = Some("203.0.113.66".into());
    thief.cookies.insert(
        "vouch_console".into(),
        victim.cookies["vouch_console"].clone(),
    );
    thief
        .get("/console/wait")
        .await
        .redirects_to("/console/login?ended=elsewhere");
    // Not from the proxy: the header is the client's own say, and ignored.
    let mut direct = Browser::from_address(&s, "127.0.0.2".parse().unwrap());
    direct.forwarded_for = Some("198.51.100.7".into());
    direct.sign_in("alice@acme.test").await;
    let list = api.get("/v1/console-sessions", Some(&alice)).await.ok();
    assert_eq!(list[0]["origin"], "127.0.0.2", "{list}");
}

/// Outside review (stop 16, A-F4): one phished console approval let a thief lock every key
/// holder of the user — a console's disable is the server's word (key holders lock, and
/// nothing brings them back). A console disables no key holder of its own user: the
/// confirmation says to do it from a key holder (which signs the revocation on the chain),
/// and a posted form is refused, with or without "also the devices it approved".
#[tokio::test]
async fn a_console_disables_no_key_holder_of_its_user() {
    let s = TestServer::start(SERVER, &[]);
    let api = s.api();
    let Alice {
        laptop,
        laptop_token: alice,
        phone,
        ..
    } = alice_laptop_and_phone(&api).await;
    let (mut b, _) = approved_console(&s, "alice@acme.test", &alice).await;
    let page = b.get(&format!("/console/devices/{phone}/disable")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains("Disable a key holder from one of your key holders"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("name=\"also_approved\""));
    let csrf = b.csrf().await;
    for target in [&phone, &laptop] {
        for form in [
            vec![("csrf", csrf.as_str())],
            vec![("csrf", csrf.as_str()), ("also_approved", "on")],
        ] {
            let p = b
                .post(&format!("/console/devices/{target}/disable"), &form)
                .await;
            assert_eq!(p.status, StatusCode::FORBIDDEN, "{}", p.body);
        }
    }
    let list = api.get("/v1/devices", Some(&alice)).await.ok();
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|d| d["status"] == "trusted"),
        "{list}"
    );
}

//! `vouch console …` (issue 17): a browser signs in to the web console and a key holder
//! approves it from the CLI, after seeing which browser asks.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::*;
use vouch_testkit::{DEV_PASSWORD, mistype};

/// A browser's cookie and the page it got (redirects not followed).
async fn page(
    http: &reqwest::Client,
    req: reqwest::RequestBuilder,
    cookies: &mut Vec<String>,
) -> (u16, String) {
    let _ = http;
    let resp = req
        .header("cookie", cookies.join("; "))
        .send()
        .await
        .unwrap();
    for c in resp.headers().get_all("set-cookie") {
        let kv = c.to_str().unwrap().split(';').next().unwrap().to_owned();
        let name = kv.split('=').next().unwrap().to_owned();
        cookies.retain(|c| !c.starts_with(&format!("{name}=")));
        if !kv.ends_with('=') {
            cookies.push(kv);
        }
    }
    (resp.status().as_u16(), resp.text().await.unwrap())
}

fn between<'a>(body: &'a str, before: &str, after: &str) -> &'a str {
    let start = body.find(before).unwrap() + before.len();
    &body[start..start + body[start..].find(after).unwrap()]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_holder_approves_the_console_from_the_cli() {
    let (env, _server) = server().await;
    let u = env.url.as_str();
    let laptop = trusted_as(&env, "laptop", "alice@acme.test").await;
    let email_only = trusted_as(&env, "spare", "alice@acme.test").await;
    // The browser signs in and shows its code.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("CliConsoleTest/2.0")
        .build()
        .unwrap();
    let mut cookies = Vec::new();
    let (_, login) = page(&http, http.get(format!("{u}/console/login")), &mut cookies).await;
    let csrf = between(&login, "name=\"csrf\" value=\"", "\"").to_owned();
    let form = [
        ("csrf", csrf.as_str()),
        ("email", "alice@acme.test"),
        ("password", DEV_PASSWORD),
    ];
    let (status, _) = page(
        &http,
        http.post(format!("{u}/console/login")).form(&form),
        &mut cookies,
    )
    .await;
    assert_eq!(status, 303);
    let (_, wait) = page(&http, http.get(format!("{u}/console/wait")), &mut cookies).await;
    let code = between(&wait, "aria-label=\"Code ", "\"").to_owned();

    // An email-only device cannot approve it (said before asking the server).
    let o = vouch(&email_only, u, &["console", "approve", &code, "--yes"], "").await;
    one_line_error(&o, 6, "key holder");
    // Without a terminal and without --yes: the browser is shown, nothing is approved.
    let o = vouch(&laptop, u, &["console", "approve", &code], "").await;
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("CliConsoleTest/2.0") && err.contains("127.0.0.1"),
        "{err}"
    );
    // A mistyped code: attempts left.
    let o = vouch(
        &laptop,
        u,
        &["console", "approve", &mistype(&code), "--yes"],
        "",
    )
    .await;
    last_line_error(&o, 5, "2 attempt(s) left");
    let approved = ok_json(
        &vouch(
            &laptop,
            u,
            &["--json", "console", "approve", &code, "--yes"],
            "",
        )
        .await,
    );
    assert_eq!(approved["status"], "active");
    // The waiting page (it reloads itself) gives the browser its new session cookie.
    let pending_cookie = cookies.clone();
    let (status, _) = page(&http, http.get(format!("{u}/console/wait")), &mut cookies).await;
    assert_eq!(status, 303);
    assert_ne!(cookies, pending_cookie, "the approval rotates the cookie");
    let (status, devices) = page(
        &http,
        http.get(format!("{u}/console/devices")),
        &mut cookies,
    )
    .await;
    assert_eq!(status, 200);
    assert!(devices.contains("alice@acme.test laptop"));
    // Listed, then ended from the CLI: the browser is signed out.
    let list = ok_json(&vouch(&laptop, u, &["--json", "console", "list"], "").await);
    assert_eq!(list[0]["status"], "active");
    let id = list[0]["id"].as_str().unwrap().to_owned();
    ok_json(&vouch(&laptop, u, &["--json", "console", "revoke", &id], "").await);
    let (status, _) = page(
        &http,
        http.get(format!("{u}/console/devices")),
        &mut cookies,
    )
    .await;
    assert_eq!(status, 303);
    let o = vouch(&laptop, u, &["console", "approve", &code, "--yes"], "").await;
    one_line_error(&o, 6, "no console sign-in");
}

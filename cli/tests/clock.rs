//! CLI tests that move the server's dev clock. The clock of an in-process server is the
//! process's, so these run in a test binary of their own, never beside tests that a
//! jump of minutes would break (an email code expiring under another test).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::*;
use vouch_testkit::Api;

/// Issue 13 item 5: a device whose approval request expired kept its name and a place
/// under the device limit for a day. The expiry gives both back at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_request_gives_the_name_and_the_place_back() {
    let (env, _server) = server().await;
    let u = env.url.as_str();
    trusted_profile(&env, &env.profile("a"), "Alice laptop").await;
    let c = env.profile("c");
    sign_in_alice(&c, u).await;
    ok_json(&vouch(&c, u, &["--json", "register", "--name", "Work PC"], "").await);
    ok_json(&vouch(&c, u, &["--json", "approval", "request", "--no-wait"], "").await);
    // c's request expires: the server's clock moves past its ten minutes.
    Api::new(u).advance_clock(11 * 60).await;
    let d = env.profile("d");
    sign_in_alice(&d, u).await;
    let s = ok_json(&vouch(&d, u, &["--json", "register", "--name", "Work PC"], "").await);
    assert_eq!(s["state"], "verifying", "{s}");
    // c learns it from the server and can start over.
    let s = ok_json(&vouch(&c, u, &["--json", "status"], "").await);
    assert_eq!(s["state"]["state"], "expired", "{s}");
    let s = ok_json(&vouch(&c, u, &["--json", "register", "--name", "Work PC 2"], "").await);
    assert_eq!(s["state"], "verifying", "{s}");
}

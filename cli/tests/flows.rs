//! Issue 13: the flows as people live them — each test is a state someone got stuck in,
//! or a result that misled them, played through the `vouch` binary against a real server.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::*;
use vouch_testkit::{Api, mistype};

/// Item 1: a new user's first `vouch setup` went to approval and waited ten minutes for a
/// device that does not exist. Nobody can approve a first device: setup takes the email
/// path by itself, and a wrong code asks again (item 9: it used to quit at the first one,
/// printing "4 attempt(s) left" twice).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_users_first_setup_takes_the_email_path_and_asks_again_after_a_wrong_code() {
    let (env, _server) = server().await;
    let a = env.profile("a");
    let u = env.url.clone();
    sign_in_alice(&a, &u).await;
    let mut s = Session::start(&a, &u, &["--json", "setup", "--name", "Alice laptop"]);
    s.read_until("Code");
    let code = Api::new(&u).latest_code("alice@acme.test").await;
    s.say(&mistype(&code));
    s.read_until("Code");
    s.say(&code);
    let (status, stdout, stderr) = tokio::task::spawn_blocking(move || s.finish())
        .await
        .unwrap();
    assert_eq!(status, Some(0), "{stderr}");
    assert!(stderr.contains("it is your first"), "{stderr}");
    assert_eq!(
        stderr.matches("attempt(s) left").count(),
        1,
        "said once: {stderr}"
    );
    assert!(stderr.contains("wrong code: 4 attempt(s) left"), "{stderr}");
    let state: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(state["state"], "trusted");
    assert_eq!(state["tier"], "key_holder");
}

/// Items 1 and 5: a requester could not cancel its request, and a device whose request
/// was cancelled kept its name and a place under the limit for a day.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_or_expired_request_gives_the_name_and_the_place_back() {
    let (env, _server) = server().await;
    let u = env.url.as_str();
    trusted_profile(&env, &env.profile("a"), "Alice laptop").await;
    let b = env.profile("b");
    sign_in_alice(&b, u).await;
    ok_json(&vouch(&b, u, &["--json", "register", "--name", "Work PC"], "").await);
    ok_json(&vouch(&b, u, &["--json", "approval", "request", "--no-wait"], "").await);
    let s = ok_json(&vouch(&b, u, &["--json", "approval", "cancel"], "").await);
    assert_eq!(s["state"], "untrusted", "{s}");
    assert!(
        ok_json(&vouch(&env.profile("a"), u, &["--json", "pending"], "").await)
            .as_array()
            .unwrap()
            .is_empty()
    );
    // The name is free at once, for another device (an expired request: `clock.rs`).
    let c = env.profile("c");
    sign_in_alice(&c, u).await;
    ok_json(&vouch(&c, u, &["--json", "register", "--name", "Work PC"], "").await);
    // And the cancelled device starts over by itself.
    let s = ok_json(&vouch(&b, u, &["--json", "register", "--name", "Work PC 2"], "").await);
    assert_eq!(s["state"], "verifying", "{s}");
}

/// Item 4: the second device with the proposed name failed with no hint. A proposed name
/// that is taken becomes the first free "NAME (n)"; a chosen one is refused with a
/// suggestion.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_name_gets_a_free_one_suggested() {
    let (env, _server) = server().await;
    let u = env.url.as_str();
    let (a, b) = (env.profile("a"), env.profile("b"));
    sign_in_alice(&a, u).await;
    let first = ok_json(&vouch(&a, u, &["--json", "register"], "").await);
    sign_in_alice(&b, u).await;
    let second = ok_json(&vouch(&b, u, &["--json", "register"], "").await);
    let name = first["device_name"].as_str().unwrap();
    assert_eq!(second["device_name"], format!("{name} (2)"));
    let c = env.profile("c");
    sign_in_alice(&c, u).await;
    let o = vouch(&c, u, &["register", "--name", name], "").await;
    one_line_error(&o, 4, "choose another name");
}

/// Item 2: parallel commands on one profile failed ("no such profile"). Sixteen at once,
/// reads and writes: every one works (a command waits its turn on the profile lock).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_parallel_commands_on_one_profile_all_work() {
    let (env, _server) = server().await;
    let u = env.url.clone();
    let a = env.profile("a");
    // A new profile signed in from eight terminals at once: every command works, one
    // after the other (at once, the server's sign-in throttle let one through and
    // refused the rest as a guessing burst).
    let sign_ins: Vec<_> = (0..8)
        .map(|_| {
            let (a, u) = (a.clone(), u.clone());
            tokio::spawn(async move { sign_in_alice(&a, &u).await })
        })
        .collect();
    for r in sign_ins {
        r.await.unwrap();
    }
    ok_json(
        &vouch(
            &a,
            &u,
            &["--json", "register", "--name", "Alice laptop"],
            "",
        )
        .await,
    );
    ok_json(&vouch(&a, &u, &["--json", "email-code", "send"], "").await);
    let code = Api::new(&u).latest_code("alice@acme.test").await;
    ok_json(&vouch(&a, &u, &["--json", "email-code", "verify", &code], "").await);
    let v = ok_json(&vouch(&a, &u, &["--json", "vault", "create", "Shared"], "").await);
    let vault = v["id"].as_str().unwrap().to_owned();
    let runs: Vec<_> = (0..16)
        .map(|i| {
            let (a, u, vault) = (a.clone(), u.clone(), vault.clone());
            tokio::spawn(async move {
                let args: Vec<&str> = match i % 4 {
                    0 => vec!["--json", "vault", "list"],
                    1 => vec!["--json", "status"],
                    2 => vec!["--json", "vault", "items", &vault],
                    _ => vec!["--json", "vault", "put", &vault, "--value", "parallel"],
                };
                (i, vouch(&a, &u, &args, "").await)
            })
        })
        .collect();
    for r in runs {
        let (i, o) = r.await.unwrap();
        assert!(
            o.status.success(),
            "command {i}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        ok_json(&o);
    }
    let items = ok_json(&vouch(&a, &u, &["--json", "vault", "items", &vault], "").await);
    assert_eq!(items.as_array().unwrap().len(), 4, "{items}");
}

/// Profiles `a` (alice's first device) and `b` (approved by `a`), both key holders, and a
/// vault of `a`'s with one item holding `value`: (a, b, vault id, item id).
async fn two_key_holders_and_an_item(
    env: &Env,
    value: &str,
) -> (std::path::PathBuf, std::path::PathBuf, String, String) {
    let u = env.url.as_str();
    let (a, b) = (env.profile("a"), env.profile("b"));
    trusted_profile(env, &a, "Alice laptop").await;
    let v = ok_json(&vouch(&a, u, &["--json", "vault", "create", "Shared"], "").await);
    let vault = v["id"].as_str().unwrap().to_owned();
    let args = ["--json", "vault", "put", &vault, "--value", value];
    let item = ok_json(&vouch(&a, u, &args, "").await)["item_id"]
        .as_str()
        .unwrap()
        .to_owned();
    approved_profile(env, &a, &b, "Alice desktop").await;
    (a, b, vault, item)
}

/// Item 7: a write that lost to a newer version said "queued: server unreachable" with the
/// server up, and the item vanished. Now it says conflict, exit 4, and both versions show.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_write_says_conflict_and_keeps_both_versions() {
    let (env, _server) = server().await;
    let u = env.url.as_str();
    let (a, b, vault, item) = two_key_holders_and_an_item(&env, "one").await;
    ok_json(&vouch(&b, u, &["--json", "vault", "items", &vault], "").await);
    // a writes v2; b, which has only seen v1, writes its own v2 without reading first.
    ok_json(
        &vouch(
            &a,
            u,
            &[
                "--json", "vault", "put", &vault, "--item", &item, "--value", "from a",
            ],
            "",
        )
        .await,
    );
    let o = vouch(
        &b,
        u,
        &[
            "--json", "vault", "put", &vault, "--item", &item, "--value", "from b",
        ],
        "",
    )
    .await;
    assert_eq!(
        o.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["error"]["code"], "version_conflict", "{doc}");
    assert_eq!(doc["error"]["item_id"], item.as_str(), "{doc}");
    let copy = doc["error"]["copy_id"].as_str().unwrap().to_owned();
    let got = |id: String| {
        let (b, u, vault) = (b.clone(), u.to_owned(), vault.clone());
        async move { ok_json(&vouch(&b, &u, &["--json", "vault", "get", &vault, &id], "").await) }
    };
    assert_eq!(got(item.clone()).await["value"], "from a");
    assert_eq!(got(copy).await["value"], "from b");
}

/// Items 7 and 8: a revoked device's `put` said "queued" with exit 0, and `vault get` still
/// showed the secret minutes after the revocation. Now the next command that shows or
/// writes data learns it from the server: wiped, exit 7.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_device_learns_it_before_showing_or_writing_anything() {
    let (env, _server) = server().await;
    let u = env.url.as_str();
    let (a, b, vault, item) = two_key_holders_and_an_item(&env, "s3cret").await;
    let b_id = ok_json(&vouch(&b, u, &["--json", "status"], "").await)["state"]["device_id"]
        .as_str()
        .unwrap()
        .to_owned();
    ok_json(&vouch(&a, u, &["--json", "devices", "disable", &b_id, "--yes"], "").await);
    let o = vouch(&b, u, &["vault", "get", &vault, &item], "").await;
    assert_eq!(
        o.status.code(),
        Some(7),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.stdout.is_empty(), "no secret shown");
    // A second revoked device, whose first command after the revocation is a write.
    let c = env.profile("c");
    approved_profile(&env, &a, &c, "Alice tablet").await;
    let c_id = ok_json(&vouch(&c, u, &["--json", "status"], "").await)["state"]["device_id"]
        .as_str()
        .unwrap()
        .to_owned();
    ok_json(&vouch(&a, u, &["--json", "devices", "disable", &c_id, "--yes"], "").await);
    let o = vouch(&c, u, &["vault", "put", &vault, "--value", "late"], "").await;
    assert_eq!(
        o.status.code(),
        Some(7),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Profiles `a` (alice's first device, a key holder) and `b` (signed in as alice and
/// registered as "Alice desktop", not yet verified).
async fn key_holder_and_a_registered_device(env: &Env) -> (std::path::PathBuf, std::path::PathBuf) {
    let u = env.url.as_str();
    let (a, b) = (env.profile("a"), env.profile("b"));
    trusted_profile(env, &a, "Alice laptop").await;
    sign_in_alice(&b, u).await;
    ok_json(
        &vouch(
            &b,
            u,
            &["--json", "register", "--name", "Alice desktop"],
            "",
        )
        .await,
    );
    (a, b)
}

/// Item 9: the spinner gave up 2.6 s after the server went away. The wait goes on through
/// a server restart and ends with the approval.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wait_for_approval_outlives_a_server_restart() {
    let (env, server) = server().await;
    let u = env.url.clone();
    let (a, b) = key_holder_and_a_registered_device(&env).await;
    let prompt = ok_json(&vouch(&b, &u, &["--json", "approval", "request", "--no-wait"], "").await);
    let rid = prompt["request_id"].as_str().unwrap().to_owned();
    let code = prompt["code"].as_str().unwrap().to_owned();
    let mut waiting = Session::start(&b, &u, &["--json", "approval", "wait"]);
    waiting.read_until("Waiting for approval");
    let addr = server.addr();
    server.shutdown().await;
    // While the server is gone (as long as another device takes to find it unreachable),
    // the waiting device polls nothing.
    let o = vouch(&a, &u, &["status"], "").await;
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot be reached"));
    let _server = server_at(addr, &env.root.path().join("server")).await;
    let o = vouch(&a, &u, &["approve", &rid], &format!("{code}\n")).await;
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (status, stdout, stderr) = tokio::task::spawn_blocking(move || waiting.finish())
        .await
        .unwrap();
    assert_eq!(status, Some(0), "{stderr}");
    let state: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(state["state"], "trusted");
}

/// Item 9: Ctrl-C while waiting exited 130 silently and left the request open on every
/// approver's screen. It withdraws the request and says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_while_waiting_withdraws_the_request() {
    let (env, _server) = server().await;
    let u = env.url.clone();
    let (a, b) = key_holder_and_a_registered_device(&env).await;
    let mut s = Session::start(&b, &u, &["approval", "request"]);
    s.read_until("Waiting for approval");
    let pending = ok_json(&vouch(&a, &u, &["--json", "pending"], "").await);
    assert_eq!(pending.as_array().unwrap().len(), 1);
    let killed = std::process::Command::new("kill")
        .args(["-INT", &s.child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let (status, _, stderr) = tokio::task::spawn_blocking(move || s.finish())
        .await
        .unwrap();
    assert_eq!(status, Some(130), "{stderr}");
    assert!(stderr.contains("withdrawn"), "{stderr}");
    let pending = ok_json(&vouch(&a, &u, &["--json", "pending"], "").await);
    assert!(pending.as_array().unwrap().is_empty(), "{pending}");
}

/// Item 9: a denial was not noticed by `status`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_notices_a_denial() {
    let (env, _server) = server().await;
    let u = env.url.as_str();
    let (a, b) = key_holder_and_a_registered_device(&env).await;
    let prompt = ok_json(&vouch(&b, u, &["--json", "approval", "request", "--no-wait"], "").await);
    let rid = prompt["request_id"].as_str().unwrap();
    ok_json(&vouch(&a, u, &["--json", "deny", rid], "").await);
    let s = ok_json(&vouch(&b, u, &["--json", "status"], "").await);
    assert_eq!(s["state"]["state"], "denied", "{s}");
}

/// Item 7: a server answering HTTP 500 without a v1 body was reported as "offline"; now
/// "the server failed (HTTP 500)", exit 3, naming the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_server_is_not_called_offline() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for mut conn in listener.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let _ = conn.write_all(
                b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            );
        }
    });
    let root = tempfile::tempdir().unwrap();
    let p = root.path().join("p");
    let o = vouch(
        &p,
        &url,
        &["sign-in", "--email", "alice@acme.test", "--password-stdin"],
        "pw\n",
    )
    .await;
    one_line_error(&o, 3, "the server failed (HTTP 500)");
    one_line_error(&o, 3, &url);
    // Item 10: a server that did not take the password is not remembered.
    assert!(!p.join("cli.json").exists());
}

/// Item 10: a damaged `cli.json` read as "no such profile" while `sign-in` said "already
/// signed in"; `setup` on a trusted device said "sign in first".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_profile_states_say_what_happened_and_the_way_out() {
    let (env, _server) = server().await;
    let u = env.url.as_str();
    let a = env.profile("a");
    trusted_profile(&env, &a, "Alice laptop").await;
    let o = vouch(&a, u, &["setup"], "").await;
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("already trusted"));
    std::fs::write(a.join("cli.json"), "{not json").unwrap();
    one_line_error(
        &vouch(&a, u, &["status"], "").await,
        2,
        "cli.json is damaged",
    );
}

/// Item 5: at the device limit the message sent people to "My trusted devices", which the
/// CLI does not have. It names the command.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_device_limit_names_the_way_out() {
    let (env, _server) = server().await;
    let u = env.url.as_str();
    let api = Api::new(u);
    let (account, _) = api.login("alice@acme.test").await;
    for i in 0..vouch_core::proto::DEFAULT_DEVICE_LIMIT {
        api.register(&account, &format!("Old phone {i}"), "mobile")
            .await
            .ok();
    }
    let a = env.profile("a");
    sign_in_alice(&a, u).await;
    let o = vouch(&a, u, &["register", "--name", "One too many"], "").await;
    one_line_error(&o, 4, "`vouch devices disable`");
}

/// Item 10: a profile whose key store is gone said "wrapping key is missing" and nothing
/// else. It says the data cannot be read and how to start over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_key_store_says_how_to_start_over() {
    let (env, _server) = server().await;
    let u = env.url.as_str();
    let a = env.profile("a");
    trusted_profile(&env, &a, "Alice laptop").await;
    std::fs::remove_dir_all(a.join("keys")).unwrap();
    one_line_error(&vouch(&a, u, &["status"], "").await, 1, "start over");
}

/// Outside review: `setup` interrupted at the code prompt could not be resumed (a second
/// `setup` asked the server for another code and hit the resend throttle). It asks for
/// the code already sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_setup_asks_for_the_code_already_sent() {
    let (env, _server) = server().await;
    let a = env.profile("a");
    let u = env.url.clone();
    sign_in_alice(&a, &u).await;
    let mut s = Session::start(&a, &u, &["setup", "--name", "Alice laptop"]);
    s.read_until("Code");
    s.child.kill().unwrap();
    let _ = s.child.wait();
    let code = Api::new(&u).latest_code("alice@acme.test").await;
    let o = vouch(&a, &u, &["--json", "setup"], &format!("{code}\n")).await;
    let state = ok_json(&o);
    assert_eq!(state["state"], "trusted", "{state}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("already sent"));
}

/// Issue 15: `vouch chain` lists the key holders this device verified on the vouch chain,
/// who vouched for whom, and a revocation once a key holder was disabled; a vault made
/// after an approval reaches the approved device without asking for keys again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vouch_chain_lists_the_verified_key_holders_and_revocations() {
    let (env, _server) = server().await;
    let u = env.url.clone();
    let laptop = trusted_as(&env, "laptop", "alice@acme.test").await;
    let desk = env.profile("desk");
    approved_profile(&env, &laptop, &desk, "Alice desk").await;
    let put = vouch(&laptop, &u, &["vault", "create", "Work"], "").await;
    assert!(
        put.status.success(),
        "{}",
        String::from_utf8_lossy(&put.stderr)
    );
    let it = ok_json(&vouch(&laptop, &u, &["--json", "vault", "put", "Work"], "1234").await);
    let item = it["item_id"].as_str().unwrap().to_owned();
    // The desk was approved before the vault existed; it reads it all the same.
    let got = vouch(&desk, &u, &["vault", "get", "Work", &item], "").await;
    assert_eq!(String::from_utf8_lossy(&got.stdout), "1234");
    let listed = ok_json(&vouch(&desk, &u, &["--json", "chain"], "").await);
    let members = listed.as_array().unwrap();
    assert_eq!(members.len(), 2, "{listed}");
    assert_eq!(members[1]["name"], "Alice desk");
    assert_eq!(members[1]["this_device"], true);
    assert_eq!(members[1]["vouched_by"], members[0]["id"]);
    let desk_id = members[1]["id"].as_str().unwrap().to_owned();
    let off = vouch(&laptop, &u, &["devices", "disable", &desk_id, "--yes"], "").await;
    assert!(
        off.status.success(),
        "{}",
        String::from_utf8_lossy(&off.stderr)
    );
    let human = vouch(&laptop, &u, &["chain"], "").await;
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(text.contains("REVOKED at link 2"), "{text}");
    assert!(text.contains("vouched for by"), "{text}");
}

/// Every file under `dir` (recursively), as bytes.
fn files_under(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else if let Ok(b) = std::fs::read(&p) {
            out.push((p, b));
        }
    }
    out
}

/// "Item titles": `put --title` seals the title with the value (the server's files never
/// hold it), `items` shows titles decrypted on each device, an item is addressed by its
/// title as well as its id, a taken title is refused (nothing changes), and an item
/// written before titles still reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_have_sealed_titles_and_are_addressed_by_them() {
    let (env, server) = server().await;
    let u = env.url.as_str();
    let (a, b, vault, old) = two_key_holders_and_an_item(&env, "untitled").await;
    let title = "Home Wi-Fi Xq7";
    let put = [
        "--json", "vault", "put", "Shared", "--title", title, "--value", "hunter2",
    ];
    let it = ok_json(&vouch(&a, u, &put, "").await);
    assert_eq!(it["title"], title);
    let id = it["item_id"].as_str().unwrap().to_owned();
    // A taken title (compared without case) is refused; nothing is written.
    let dup = [
        "--json",
        "vault",
        "put",
        "Shared",
        "--title",
        " home wi-fi xq7",
        "--value",
        "x",
    ];
    let o = vouch(&a, u, &dup, "").await;
    assert_eq!(o.status.code(), Some(2));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["error"]["code"], "item_title_taken", "{doc}");
    assert!(
        !String::from_utf8_lossy(&o.stderr).contains("xq7"),
        "the title is echoed"
    );
    // Changed by title: it keeps its title.
    let upd = [
        "--json",
        "vault",
        "put",
        "Shared",
        "--item",
        "HOME WI-FI XQ7",
        "--value",
        "hunter3",
    ];
    assert_eq!(
        ok_json(&vouch(&a, u, &upd, "").await)["item_id"],
        id.as_str()
    );
    // The other device lists titles and reads by title; the old item has none.
    let items = ok_json(&vouch(&b, u, &["--json", "vault", "items", "Shared"], "").await);
    let items = items.as_array().unwrap();
    assert_eq!(items.len(), 2, "{items:?}");
    let titled = items.iter().find(|i| i["item_id"] == id.as_str()).unwrap();
    assert_eq!(titled["title"], title);
    let untitled = items.iter().find(|i| i["item_id"] == old.as_str()).unwrap();
    assert!(untitled["title"].is_null());
    let got = vouch(&b, u, &["vault", "get", "Shared", "home wi-fi xq7"], "").await;
    assert_eq!(got.stdout, b"hunter3");
    let got = vouch(&b, u, &["vault", "get", &vault, &old], "").await;
    assert_eq!(got.stdout, b"untitled");
    let o = vouch(
        &b,
        u,
        &["--json", "vault", "get", "Shared", "no such title"],
        "",
    )
    .await;
    assert_eq!(o.status.code(), Some(2));
    let plain = items.iter().find(|i| i["item_id"] == old.as_str()).unwrap();
    assert_eq!(plain["version"], 1);
    // The server never held the title (nor the value) in clear.
    drop(server);
    for (path, bytes) in files_under(&env.root.path().join("server")) {
        assert!(
            !bytes.windows(title.len()).any(|w| w == title.as_bytes()),
            "title in clear in {}",
            path.display()
        );
    }
}

/// "Delete a vault": asks first (without a terminal it needs `--yes` and changes nothing),
/// then the vault goes on this device and, at its next sync, on the user's other device.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vault_is_deleted_on_every_device_after_a_yes() {
    let (env, _server) = server().await;
    let u = env.url.as_str();
    let (a, b, vault, item) = two_key_holders_and_an_item(&env, "doomed").await;
    let o = vouch(&a, u, &["--json", "vault", "delete", "Shared"], "").await;
    assert_eq!(o.status.code(), Some(2));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["error"]["code"], "confirmation_required", "{doc}");
    let got = vouch(&b, u, &["vault", "get", "Shared", &item], "").await;
    assert_eq!(got.stdout, b"doomed");
    let done = ok_json(&vouch(&a, u, &["--json", "vault", "delete", "Shared", "--yes"], "").await);
    assert_eq!(done["vault_id"], vault.as_str());
    let list = ok_json(&vouch(&a, u, &["--json", "vault", "list"], "").await);
    assert_eq!(list, serde_json::json!([]));
    // The other device checks the sealed deletion at its next read and drops its copy.
    let list = ok_json(&vouch(&b, u, &["--json", "vault", "list"], "").await);
    assert_eq!(list, serde_json::json!([]));
    let o = vouch(&b, u, &["vault", "get", &vault, &item], "").await;
    assert!(!o.status.success());
    // The name is free again.
    ok_json(&vouch(&b, u, &["--json", "vault", "create", "Shared"], "").await);
}

/// Review leftover of issue 13: `approval cancel` from a second terminal waited behind the
/// waiting command's hold on the profile (up to ten minutes). It asks that command to
/// withdraw the request (as Ctrl-C does) and reports the withdrawal at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approval_cancel_from_another_terminal_withdraws_a_waiting_request() {
    let (env, _server) = server().await;
    let u = env.url.clone();
    let (a, b) = key_holder_and_a_registered_device(&env).await;
    let mut s = Session::start(&b, &u, &["approval", "request"]);
    s.read_until("Waiting for approval");
    let pending = ok_json(&vouch(&a, &u, &["--json", "pending"], "").await);
    assert_eq!(pending.as_array().unwrap().len(), 1);
    let cancelled = ok_json(&vouch(&b, &u, &["--json", "approval", "cancel"], "").await);
    assert_eq!(cancelled["state"], "untrusted", "{cancelled}");
    let (status, _, stderr) = tokio::task::spawn_blocking(move || s.finish())
        .await
        .unwrap();
    assert_eq!(status, Some(130), "{stderr}");
    assert!(stderr.contains("withdrawn"), "{stderr}");
    let pending = ok_json(&vouch(&a, &u, &["--json", "pending"], "").await);
    assert!(pending.as_array().unwrap().is_empty(), "{pending}");
}

/// Issue 15: `vouch recovery create` shows 24 words once; after every device is lost, a
/// new device verified by email code gets the vaults back with `vouch recovery use`
/// (words on stdin, never the command line); wrong words are refused with exit 2 or 5.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vouch_recovery_brings_the_vaults_back_on_a_new_device() {
    let (env, _server) = server().await;
    let u = env.url.clone();
    let laptop = trusted_as(&env, "laptop", "alice@acme.test").await;
    ok_json(&vouch(&laptop, &u, &["--json", "vault", "create", "Work"], "").await);
    let it = ok_json(&vouch(&laptop, &u, &["--json", "vault", "put", "Work"], "s3cret").await);
    let item = it["item_id"].as_str().unwrap().to_owned();
    let made = ok_json(&vouch(&laptop, &u, &["--json", "recovery", "create"], "").await);
    let words = made["words"].as_str().unwrap().to_owned();
    assert_eq!(words.split(' ').count(), 24);
    // A thief with the password and the mailbox adds a device by email code (email-only).
    // Then the laptop is lost. A new device: sign in, email code (email-only), the words.
    for (name, label) in [("thief", "Thief"), ("fresh", "Fresh")] {
        let p = env.profile(name);
        sign_in_alice(&p, &u).await;
        let mut s = Session::start(&p, &u, &["setup", "--email-code", "--name", label]);
        s.read_until("Code");
        let code = vouch_testkit::Api::new(&u)
            .latest_code("alice@acme.test")
            .await;
        s.say(&code);
        let (status, _, stderr) = tokio::task::spawn_blocking(move || s.finish())
            .await
            .unwrap();
        assert_eq!(status, Some(0), "{stderr}");
    }
    let fresh = env.profile("fresh");
    // It names the devices it will revoke (the laptop) and disable (the thief's, verified
    // by email only) and needs a yes (no terminal here: --yes).
    let asked = vouch(
        &fresh,
        &u,
        &["--json", "recovery", "use"],
        &format!("{words}\n"),
    )
    .await;
    assert_eq!(asked.status.code(), Some(2));
    let question = String::from_utf8_lossy(&asked.stdout).into_owned();
    assert!(question.contains("confirmation_required"), "{question}");
    assert!(
        question.contains("laptop") && question.contains("\\\"Thief\\\""),
        "{question}"
    );
    // Each kind of wrong words has its own code (exit 2), found on this device.
    let list: Vec<&str> = words.split(' ').collect();
    for (wrong, code, field) in [
        (
            "not my words".to_owned(),
            "recovery_word_unknown",
            ("word", 1),
        ),
        (list[..23].join(" "), "recovery_words_count", ("count", 23)),
    ] {
        let o = vouch(
            &fresh,
            &u,
            &["--json", "recovery", "use", "--yes"],
            &format!("{wrong}\n"),
        )
        .await;
        let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(o.status.code(), Some(2), "{doc}");
        assert_eq!(doc["error"]["code"], code, "{doc}");
        assert_eq!(doc["error"][field.0], field.1, "{doc}");
    }
    let used = ok_json(
        &vouch(
            &fresh,
            &u,
            &["--json", "recovery", "use", "--yes"],
            &format!("{words}\n"),
        )
        .await,
    );
    assert_eq!(used["vault_keys"], 1, "{used}");
    assert_eq!(used["revoked"].as_array().unwrap().len(), 1, "{used}");
    assert_eq!(used["disabled"].as_array().unwrap().len(), 1, "{used}");
    let got = vouch(&fresh, &u, &["vault", "get", "Work", &item], "").await;
    assert_eq!(String::from_utf8_lossy(&got.stdout), "s3cret");
}

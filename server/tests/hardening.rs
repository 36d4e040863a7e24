//! Regressions of the outside review (issue 12), each played as the attacker did, against a
//! real `vouch-server` process over real HTTP.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::IpAddr;

use serde_json::json;
use vouch_testkit::{Api, DEV_PASSWORD, TestServer};

const SERVER: &str = env!("CARGO_BIN_EXE_vouch-server");

fn loopback(a: u8, b: u8) -> IpAddr {
    IpAddr::from([127, 0, a, b])
}

/// A stranger guessing the owner's password from another network used to lock the owner
/// out (the throttle counted per email): now the owner's own address keeps its own count.
#[tokio::test]
async fn a_stranger_elsewhere_cannot_lock_the_owner_out() {
    let s = TestServer::start(SERVER, &[]);
    let stranger = Api::from_address(s.url(), loopback(9, 9));
    for _ in 0..5 {
        stranger
            .post(
                "/v1/auth/login",
                None,
                json!({"email": "alice@acme.test", "password": "guess"}),
            )
            .await
            .err(401, "invalid_credentials");
    }
    stranger
        .post(
            "/v1/auth/login",
            None,
            json!({"email": "alice@acme.test", "password": "guess"}),
        )
        .await
        .err(429, "too_many_requests");
    // The owner, on their own network, still gets in at once.
    let (token, _) = s.api().login("alice@acme.test").await;
    assert!(token.starts_with("vat_"));
    // ... and the stranger is still slowed down.
    stranger
        .post(
            "/v1/auth/login",
            None,
            json!({"email": "alice@acme.test", "password": DEV_PASSWORD}),
        )
        .await
        .err(429, "too_many_requests");
}

/// Guessing spread over many addresses meets the per-email ceiling.
#[tokio::test]
async fn guesses_spread_over_many_addresses_meet_the_email_ceiling() {
    let s = TestServer::start(SERVER, &[]);
    let free = vouch_proto::LOGIN_EMAIL_FREE_FAILURES as u8;
    for i in 0..free {
        // Four guesses from each address: none of them is slowed down on its own.
        let from = Api::from_address(s.url(), loopback(10, i / 4 + 1));
        from.post(
            "/v1/auth/login",
            None,
            json!({"email": "bob@acme.test", "password": "guess"}),
        )
        .await
        .err(401, "invalid_credentials");
    }
    let r = Api::from_address(s.url(), loopback(11, 1))
        .post(
            "/v1/auth/login",
            None,
            json!({"email": "bob@acme.test", "password": "guess"}),
        )
        .await;
    r.err(429, "too_many_requests");
}

/// 256 parallel sign-ins with distinct unknown emails from 64 addresses used to run 256
/// argon2 hashes at once (19 MiB each: ~900 MiB after 32). The hashing gate keeps the
/// server small, and every answer is one a client knows how to take.
#[tokio::test]
async fn a_sign_in_flood_without_accounts_keeps_the_server_small() {
    let s = TestServer::start(SERVER, &[]);
    let clients: Vec<Api> = (0..64)
        .map(|i| Api::from_address(s.url(), loopback(20, i + 1)))
        .collect();
    let tries: Vec<_> = (0..256)
        .map(|i| {
            let api = clients[i % clients.len()].clone();
            tokio::spawn(async move {
                api.post(
                    "/v1/auth/login",
                    None,
                    json!({"email": format!("nobody{i}@flood.test"), "password": "guess"}),
                )
                .await
            })
        })
        .collect();
    let mut by_status = std::collections::BTreeMap::<u16, u32>::new();
    for t in tries {
        let r = t.await.unwrap();
        assert!(
            [200, 401, 429, 503].contains(&r.status.as_u16()),
            "unexpected answer {} {}",
            r.status,
            r.body
        );
        if r.status == 503 {
            assert_eq!(r.code(), "server_busy");
            assert!(r.retry_after().is_some(), "503 carries Retry-After");
        }
        *by_status.entry(r.status.as_u16()).or_default() += 1;
    }
    let peak_mib = s.peak_rss_kib().unwrap() / 1024;
    eprintln!("answers {by_status:?}, server peak RSS {peak_mib} MiB");
    assert!(peak_mib < 300, "peak RSS {peak_mib} MiB");
    assert!(
        by_status.get(&401).copied().unwrap_or(0) > 0,
        "some were checked"
    );
}

fn server_command(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    vouch_testkit::server_command(SERVER, dir)
        .args(args)
        .env("VOUCH_NEW_PASSWORD", "a-long-password")
        .env_remove("VOUCH_DEV")
        .env_remove("VOUCH_SMTP_URL")
        .output()
        .unwrap()
}

/// The operator's admin command: an existing email is an error (it used to print the user
/// as if created, rc 0); workspace names do not split by case; errors are one line, not a
/// debug dump.
#[tokio::test]
async fn create_user_says_what_it_did() {
    let dir = tempfile::tempdir().unwrap();
    let create = |ws: &str, email: &str| {
        server_command(
            dir.path(),
            &["admin", "create-user", "--workspace", ws, "--email", email],
        )
    };
    let first = create("Initech", "peter@initech.test");
    assert!(first.status.success());
    assert!(String::from_utf8_lossy(&first.stdout).contains("created user peter@initech.test"));
    let again = create("Initech", "Peter@initech.test");
    assert!(
        !again.status.success(),
        "an existing email is not created again"
    );
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(err.contains("already exists"), "{err}");
    assert!(
        !err.contains("ApiError") && !err.contains("body"),
        "a debug dump: {err}"
    );
    assert!(create("initech", "milton@initech.test").status.success());
    let s = TestServer::builder(SERVER)
        .dev(false)
        .data(dir.path())
        .args(&["--smtp-url", "smtp://127.0.0.1:9"])
        .start();
    let api = s.api();
    let login = |email: &'static str| {
        let api = api.clone();
        async move {
            api.post(
                "/v1/auth/login",
                None,
                json!({"email": email, "password": "a-long-password"}),
            )
            .await
            .ok()
        }
    };
    let peter = login("peter@initech.test").await;
    let milton = login("milton@initech.test").await;
    assert_eq!(
        peter["user"]["workspace_id"], milton["user"]["workspace_id"],
        "\"initech\" is the workspace \"Initech\""
    );
}

/// Codes at rest: without SMTP and without --dev the server used to write live codes to
/// `outbox.jsonl` and the `mail` table, and its files were readable by every local user.
/// Now it refuses to start without a mail transport, and the directory is 0700, every
/// file 0600 (the WAL and SHM included).
#[tokio::test]
async fn data_at_rest_is_private_and_codes_never_go_to_a_file_without_dev() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = server_command(&data, &["--listen", "127.0.0.1:0"]);
    assert!(!out.status.success(), "started without a mail transport");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--smtp-url"), "{err}");
    assert!(!data.join("outbox.jsonl").exists());

    let s = TestServer::builder(SERVER).data(&data).start();
    let api = s.api();
    api.trusted_device("alice@acme.test", "laptop", "web").await;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&data), 0o700, "data directory");
        let files: Vec<_> = std::fs::read_dir(&data)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        // The data is in the SQLite file, or (PostgreSQL pass) nowhere in the directory.
        let sqlite = files.iter().any(|f| f.ends_with("vouch-server.db-wal"));
        assert_eq!(sqlite, !vouch_testkit::postgres::enabled(), "{files:?}");
        for f in files {
            assert_eq!(mode(&f), 0o600, "{}", f.display());
        }
    }
}

/// A second server on the same data directory used to start beside the first.
#[tokio::test]
async fn a_second_server_on_one_data_directory_refuses_to_start() {
    let s = TestServer::start(SERVER, &[]);
    let out = s
        .command()
        .args(["--dev", "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("another vouch-server"), "{err}");
    // The first one still serves.
    assert!(s.api().login("alice@acme.test").await.0.starts_with("vat_"));
}

/// `--dev` (known passwords, the mail outbox over HTTP) used to bind any address.
#[test]
fn dev_mode_listens_on_loopback_only() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(SERVER)
        .arg("--data")
        .arg(dir.path())
        .args(["--dev", "--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--dev-allow-remote"), "{err}");
}

/// Look-alike names (issue 12 item 5): each of these registered a visual duplicate of
/// "Alice's phone"; bidi overrides in the platform text reached approvers.
#[tokio::test]
async fn look_alike_device_names_are_taken() {
    let s = TestServer::start(SERVER, &[]);
    let api = s.api();
    let (account, _) = api.login("alice@acme.test").await;
    api.register(&account, "Alice's phone", "mobile").await.ok();
    for twin in [
        "Alice\u{200B}'s phone",
        "\u{410}lice's phone",
        "Alice's  phone",
        "ＡＬＩＣＥ'S PHONE",
        "AIice's phone",
        "Alice's phone \u{2800}",
        "Alice's\u{34F}phone",
        "\u{13AA}lice's phone",
        "Alice's phone\u{E47}",
    ] {
        let r = api.register(&account, twin, "mobile").await;
        assert!(
            r.status == 409 || r.status == 400,
            "{twin:?} registered: {}",
            r.body
        );
    }
    api.register(&account, "Cafe\u{301}", "web").await.ok();
    api.register(&account, "Caf\u{e9}", "web")
        .await
        .err(409, "device_name_taken");
    let r = api
        .post(
            "/v1/devices",
            Some(&account),
            json!({"name": "tablet", "kind": "mobile", "platform": "iOS \u{202E}evil\u{2028}x\u{2800}\u{34F}",
                "key_bundle": vouch_testkit::b64(&vouch_testkit::new_key_bundle())}),
        )
        .await
        .ok();
    let platform = r["platform"].as_str().unwrap();
    assert!(
        !platform.contains(['\u{202E}', '\u{2028}', '\u{2800}', '\u{34F}']),
        "{platform:?}"
    );
}

/// Issue 12 item 7: a non-base64 key is an invalid key, not a bad request.
#[tokio::test]
async fn a_key_that_is_not_base64_is_an_invalid_public_key() {
    let s = TestServer::start(SERVER, &[]);
    let api = s.api();
    let (account, _) = api.login("alice@acme.test").await;
    api.post(
        "/v1/devices",
        Some(&account),
        json!({"name": "x", "kind": "web", "platform": "p", "key_bundle": "not base64!"}),
    )
    .await
    .err(400, "invalid_public_key");
}

/// Issue 12 item 7: disabling a device used to leave the sign-in session that registered
/// it alive, and an account token kept following the trusted device's event stream.
#[tokio::test]
async fn a_disabled_device_takes_its_sign_in_session_with_it() {
    let s = TestServer::start(SERVER, &[]);
    let api = s.api();
    let (_, _, desktop) = api
        .trusted_device("alice@acme.test", "desktop", "web")
        .await;
    let (account, _) = api.login("alice@acme.test").await;
    let laptop = vouch_testkit::id(&api.register(&account, "laptop", "web").await.ok());
    api.verify_by_email(&account, "alice@acme.test", &laptop)
        .await;
    // The session follows its device only while the device is pending.
    api.get(&format!("/v1/events?device_id={laptop}"), Some(&account))
        .await
        .err(409, "device_not_pending");
    api.post(
        &format!("/v1/devices/{laptop}/disable"),
        Some(&desktop),
        json!({}),
    )
    .await
    .ok();
    api.register(&account, "another", "web")
        .await
        .err(401, "unauthorized");
}

/// Issue 12 item 7: an admin probing another workspace's device ids got 403 (so the id
/// existed) instead of 404.
#[tokio::test]
async fn another_workspaces_devices_do_not_exist_for_an_admin() {
    let s = TestServer::start(SERVER, &[]);
    let made = server_command(
        s.data_dir(),
        &[
            "admin",
            "create-user",
            "--workspace",
            "Globex",
            "--email",
            "hank@globex.test",
        ],
    );
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let api = s.api();
    let (_, _, admin) = api
        .trusted_device("admin@acme.test", "admin desk", "web")
        .await;
    let (account, _) = api
        .post(
            "/v1/auth/login",
            None,
            json!({"email": "hank@globex.test", "password": "a-long-password"}),
        )
        .await
        .ok()
        .as_object()
        .map(|o| (o["account_token"].as_str().unwrap().to_owned(), ()))
        .unwrap();
    let hank = vouch_testkit::id(&api.register(&account, "hank's phone", "mobile").await.ok());
    api.post(
        &format!("/v1/devices/{hank}/disable"),
        Some(&admin),
        json!({}),
    )
    .await
    .err(404, "not_found");
}

/// The operator's backup: taken while the server serves, restored into a fresh data
/// directory, it holds the users, devices and device tokens.
#[tokio::test]
async fn a_backup_taken_while_serving_restores() {
    let s = TestServer::start(SERVER, &[]);
    let api = s.api();
    api.get("/healthz", None).await.ok();
    let (_, device, token) = api.trusted_device("alice@acme.test", "laptop", "web").await;
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy.db");
    let out = server_command(s.data_dir(), &["backup", copy.to_str().unwrap()]);
    if vouch_testkit::postgres::enabled() {
        // PostgreSQL is backed up with its own tools; the command says so and writes nothing.
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("pg_dump"));
        assert!(!copy.exists());
        return;
    }
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A second backup onto the same file is refused, not overwritten.
    assert!(
        !server_command(s.data_dir(), &["backup", copy.to_str().unwrap()])
            .status
            .success()
    );
    let restored = dir.path().join("restored");
    std::fs::create_dir(&restored).unwrap();
    std::fs::copy(&copy, restored.join("vouch-server.db")).unwrap();
    drop(s);
    let r = TestServer::builder(SERVER).data(&restored).start();
    let list = r.api().get("/v1/devices", Some(&token)).await.ok();
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|d| d["id"] == device["id"]),
        "{list}"
    );
}

/// The operator's view: Prometheus text with requests by route template (never ids) and
/// status, codes sent, approvals, open event streams, the write lock's wait and hold.
#[tokio::test]
async fn metrics_count_what_the_operator_watches() {
    // Metrics are per process (each replica is scraped on its own): one replica.
    let s = TestServer::builder(SERVER).one_process().start();
    let api = s.api();
    let (_, device, _) = api.trusted_device("alice@acme.test", "laptop", "web").await;
    let r = api.http.get(api.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    for needle in [
        r#"vouch_http_requests_total{method="POST",route="/v1/auth/login",status="200"} 1"#,
        r#"route="/v1/devices/{id}/email-code/verify",status="200"} 1"#,
        r#"vouch_email_codes_total{outcome="Sent"} 1"#,
        "vouch_event_streams 0",
        "vouch_db_transaction_seconds_count",
        "vouch_db_write_wait_seconds_count",
    ] {
        assert!(text.contains(needle), "missing {needle} in\n{text}");
    }
    assert!(
        !text.contains(device["id"].as_str().unwrap()),
        "an id in the labels"
    );
}

/// Issue 12 item 6: a device that asked for approval and was then verified by email kept
/// its open request; denying it set the trusted device to `denied` (its token then got
/// `device_not_trusted` and it never wiped), approving it rotated its token away. Now the
/// email verification closes the request.
#[tokio::test]
async fn verifying_by_email_closes_the_devices_open_request() {
    let s = TestServer::start(SERVER, &[]);
    let api = s.api();
    let (_, _, desk) = api.trusted_device("alice@acme.test", "desk", "web").await;
    let (account, _) = api.login("alice@acme.test").await;
    let laptop = vouch_testkit::id(&api.register(&account, "laptop", "web").await.ok());
    let request = vouch_testkit::id(&api.open_approval(&account, &laptop).await.ok());
    let trusted = api
        .verify_by_email(&account, "alice@acme.test", &laptop)
        .await;
    let token = trusted["device_token"].as_str().unwrap().to_owned();
    let r = api
        .post(
            &format!("/v1/approval-requests/{request}/deny"),
            Some(&desk),
            json!({}),
        )
        .await;
    assert!(
        r.status == 409 || r.status == 404,
        "{} {}",
        r.status,
        r.body
    );
    // The laptop's token still works: it was not turned into a denied device.
    api.get("/v1/devices", Some(&token)).await.ok();
}

/// The outside review's worst find: without a header size limit, timeout or connection
/// cap, 6,000 connections sending 390 KB of unfinished headers held 2.5 GB and 20,000 idle
/// ones took every file descriptor. Now a head over 16 KiB is refused at once (431), and
/// connections beyond the cap are closed at accept — one address may hold a quarter.
#[tokio::test]
async fn unfinished_headers_and_idle_connections_cannot_pile_up() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // The connection cap is per process: one replica, its own port.
    let s = TestServer::builder(SERVER)
        .args(&["--max-connections", "8"])
        .one_process()
        .start();
    let addr = s.addr();
    // 1. A huge unfinished header is answered 431 and closed, not buffered.
    let mut big = Vec::new();
    for _ in 0..64 {
        let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
        c.write_all(b"POST /v1/auth/login HTTP/1.1\r\nhost: x\r\nx-pad: ")
            .await
            .unwrap();
        let pad = vec![b'a'; 64 * 1024];
        let _ = c.write_all(&pad).await; // the server may close while we write
        let mut answer = Vec::new();
        let _ = c.read_to_end(&mut answer).await;
        let head = String::from_utf8_lossy(&answer);
        assert!(
            head.is_empty() || head.starts_with("HTTP/1.1 431"),
            "{head}"
        );
        big.push(c);
    }
    // 2. One address holds at most a quarter of the connections (2 of 8); the next is
    //    closed at accept while another address is still served.
    let mut idle = Vec::new();
    for _ in 0..2 {
        idle.push(tokio::net::TcpStream::connect(addr).await.unwrap());
    }
    let mut third = tokio::net::TcpStream::connect(addr).await.unwrap();
    let _ = third
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await;
    let mut answer = Vec::new();
    let _ = third.read_to_end(&mut answer).await;
    assert!(answer.is_empty(), "a third idle connection was served");
    let other = Api::from_address(s.url(), loopback(30, 1));
    other.get("/healthz", None).await.ok();
    let peak_mib = s.peak_rss_kib().unwrap() / 1024;
    assert!(peak_mib < 200, "peak RSS {peak_mib} MiB");
    drop(idle);
}

/// The review's lock-out: 13 addresses × 4 guesses reached the per-email ceiling and the
/// owner's right password got 429 (up to 15 minutes, renewable). An address the owner
/// signed in from keeps working; a new address still meets the ceiling.
#[tokio::test]
async fn guesses_spread_over_many_addresses_do_not_lock_the_owner_out_at_home() {
    let s = TestServer::start(SERVER, &[]);
    let home = Api::from_address(s.url(), loopback(40, 1));
    home.login("carol@acme.test").await; // the owner's usual address
    for i in 0..(vouch_proto::LOGIN_EMAIL_FREE_FAILURES as u8 + 4) {
        let _ = Api::from_address(s.url(), loopback(41, i / 4 + 1))
            .post(
                "/v1/auth/login",
                None,
                json!({"email": "carol@acme.test", "password": "guess"}),
            )
            .await;
    }
    let (token, _) = home.login("carol@acme.test").await;
    assert!(token.starts_with("vat_"), "the owner is locked out at home");
    // Elsewhere the ceiling holds.
    Api::from_address(s.url(), loopback(42, 1))
        .post(
            "/v1/auth/login",
            None,
            json!({"email": "carol@acme.test", "password": DEV_PASSWORD}),
        )
        .await
        .err(429, "too_many_requests");
}

/// Review: `smtp://user:pass@…` sent `AUTH PLAIN` without STARTTLS. Refused at start.
#[test]
fn smtp_credentials_never_travel_in_the_clear() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(SERVER)
        .arg("--data")
        .arg(dir.path())
        .args([
            "--listen",
            "127.0.0.1:0",
            "--smtp-url",
            "smtp://user:secret@127.0.0.1:25",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("smtps://"), "{err}");
    assert!(!err.contains("secret"), "{err}");
}

/// Operator: an SMTP failure reached the client as "internal error" and started the
/// re-send throttle for a mail that never left. Now it is 503 `mail_not_sent`, nothing is
/// throttled, and the metrics count the failure.
#[tokio::test]
async fn a_mail_that_could_not_be_sent_is_not_throttled() {
    // Nothing listens on port 1: every send fails at once.
    // Metrics are per process: one replica.
    let s = TestServer::builder(SERVER)
        .args(&["--smtp-url", "smtp://127.0.0.1:1"])
        .one_process()
        .start();
    let api = s.api();
    let (account, _) = api.login("alice@acme.test").await;
    let laptop = vouch_testkit::id(&api.register(&account, "laptop", "web").await.ok());
    let path = format!("/v1/devices/{laptop}/email-code");
    for _ in 0..2 {
        api.post(&path, Some(&account), json!({}))
            .await
            .err(503, "mail_not_sent");
    }
    let metrics = api
        .http
        .get(api.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"vouch_email_codes_total{outcome="Failed"} 2"#),
        "{metrics}"
    );
}

/// Operator: bad start-up conditions are one line each (port in use, unwritable data
/// directory, an SMTP URL that does not parse, a database a newer server migrated —
/// opened as it is, its tables would be misread), exit status 1.
#[test]
fn bad_start_up_conditions_are_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"").unwrap();
    let newer = dir.path().join("newer");
    let db = newer.join("vouch-server.db");
    std::fs::create_dir(&newer).unwrap();
    rusqlite::Connection::open(&db)
        .unwrap()
        .pragma_update(None, "user_version", 999)
        .unwrap();
    for (path, mode) in [(&newer, 0o700), (&db, 0o600)] {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    for (args, says) in [
        (
            vec!["--dev", "--data", newer.to_str().unwrap()],
            "newer than this server",
        ),
        (
            vec!["--dev", "--listen", &format!("127.0.0.1:{port}")],
            "cannot listen on",
        ),
        (
            vec!["--dev", "--data", file.join("sub").to_str().unwrap()],
            "a-file",
        ),
        (vec!["--smtp-url", "not a url"], "SMTP"),
    ] {
        let mut cmd = std::process::Command::new(SERVER);
        if !args.contains(&"--data") {
            cmd.arg("--data").arg(dir.path().join("d"));
        }
        let out = cmd.args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

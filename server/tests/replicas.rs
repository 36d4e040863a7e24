//! Replicas sharing one database (issue 21). In the PostgreSQL pass (`VOUCH_TEST_POSTGRES`,
//! `scripts/postgres-tests.sh`) two `vouch-server` processes serve one database and the
//! clients are spread over both; on SQLite (one process per database file) both handles
//! are the same server, so the rules are checked on both back ends.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use vouch_testkit::{Api, TestServer, postgres};

const SERVER: &str = env!("CARGO_BIN_EXE_vouch-server");
/// Rounds of the race, each with a fresh user.
const ROUNDS: usize = 8;
/// Registrations racing for the last free place in each round.
const RACERS: usize = 12;
/// The device limit the servers run with.
const LIMIT: usize = 3;
const PASSWORD: &str = "a-long-password";

/// Server A, and B beside it on the same database (PostgreSQL pass only).
fn replicas(args: &[&str]) -> (TestServer, Option<TestServer>) {
    let a = TestServer::start(SERVER, args);
    let b = postgres::enabled().then(|| {
        TestServer::builder(SERVER)
            .database_of(&a)
            .args(args)
            .start()
    });
    (a, b)
}

/// A new user, made with the operator's admin command on the servers' database.
fn create_user(server: &TestServer, email: &str) {
    let out = std::process::Command::new(SERVER)
        .args(postgres::flags(server.data_dir()))
        .arg("--data")
        .arg(server.data_dir())
        .args([
            "admin",
            "create-user",
            "--workspace",
            "Acme",
            "--email",
            email,
        ])
        .env("VOUCH_NEW_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn sign_in(api: &Api, email: &str) -> String {
    let r = api
        .post(
            "/v1/auth/login",
            None,
            json!({"email": email, "password": PASSWORD}),
        )
        .await
        .ok();
    r["account_token"].as_str().unwrap().to_owned()
}

/// Registrations for one user hit both replicas at once: in every round exactly one takes
/// the last place under the device limit (the count is checked inside the database's
/// serialised write, not in one process).
#[tokio::test]
async fn the_device_limit_holds_across_replicas_in_every_round() {
    let limit = LIMIT.to_string();
    let (a, b) = replicas(&["--device-limit", &limit]);
    let apis = [a.api(), b.as_ref().unwrap_or(&a).api()];
    for round in 0..ROUNDS {
        let email = format!("racer{round}@acme.test");
        create_user(&a, &email);
        let account = sign_in(&apis[round % 2], &email).await;
        for i in 0..LIMIT - 1 {
            let r = apis[i % 2]
                .register(&account, &format!("device {i}"), "web")
                .await;
            assert_eq!(r.status, 201, "{}", r.body);
        }
        let racers: Vec<_> = (0..RACERS)
            .map(|i| {
                let (api, account) = (apis[i % 2].clone(), account.clone());
                tokio::spawn(
                    async move { api.register(&account, &format!("racer {i}"), "web").await },
                )
            })
            .collect();
        let mut won = 0;
        for t in racers {
            let r = t.await.unwrap();
            if r.status == 201 {
                won += 1;
            } else {
                r.err(409, "device_limit_reached");
            }
        }
        assert_eq!(
            won, 1,
            "round {round}: {won} registrations took the last place"
        );
    }
}

/// The right email code sent at once to both replicas, many times: a repeat by the same
/// session is the lost-answer retry (a fresh token that revokes the last), so in every
/// round exactly one of the tokens handed out still works, whichever replica asks.
#[tokio::test]
async fn an_email_code_leaves_one_live_token_across_replicas_in_every_round() {
    let (a, b) = replicas(&[]);
    let apis = [a.api(), b.as_ref().unwrap_or(&a).api()];
    for round in 0..ROUNDS {
        let email = format!("coder{round}@acme.test");
        create_user(&a, &email);
        let account = sign_in(&apis[round % 2], &email).await;
        let device = apis[0].register(&account, "laptop", "web").await.ok();
        let path = format!("/v1/devices/{}/email-code", vouch_testkit::id(&device));
        apis[1].post(&path, Some(&account), json!({})).await.ok();
        let code = apis[0].latest_code(&email).await;
        let racers: Vec<_> = (0..RACERS)
            .map(|i| {
                let (api, account, path) = (apis[i % 2].clone(), account.clone(), path.clone());
                let body = json!({ "code": code });
                tokio::spawn(async move {
                    api.post(&format!("{path}/verify"), Some(&account), body)
                        .await
                })
            })
            .collect();
        let mut tokens = Vec::new();
        for t in racers {
            let r = t.await.unwrap();
            assert!(
                r.status == 200 || r.status.is_client_error(),
                "{} {}",
                r.status,
                r.body
            );
            if r.status == 200 {
                tokens.push(r.body["device_token"].as_str().unwrap().to_owned());
            }
        }
        let mut live = 0;
        for (i, t) in tokens.iter().enumerate() {
            if apis[i % 2].get("/v1/devices", Some(t)).await.status == 200 {
                live += 1;
            }
        }
        assert_eq!(
            live,
            1,
            "round {round}: {live} of {} tokens work",
            tokens.len()
        );
    }
}

/// `vouch-server migrate` creates the schema and exits; a server started after it serves
/// that database, and a second `migrate` finds nothing to do.
#[tokio::test]
async fn migrate_prepares_the_database_before_the_servers_start() {
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        let out = std::process::Command::new(SERVER)
            .args(postgres::flags(dir.path()))
            .arg("--data")
            .arg(dir.path())
            .arg("migrate")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("up to date"));
    }
    let s = TestServer::builder(SERVER).data(dir.path()).start();
    assert!(s.api().login("alice@acme.test").await.0.starts_with("vat_"));
}

/// A database URL that is wrong or unreachable: one clear line, exit code 1, no panic,
/// and the URL's password in no line the server writes.
#[test]
fn a_bad_database_url_is_one_line_without_the_password() {
    let dir = tempfile::tempdir().unwrap();
    for (url, says) in [
        (
            "postgres://vouch:s3cret-pw@127.0.0.1:1/vouch",
            "Connection refused",
        ),
        (
            "mysql://vouch:s3cret-pw@127.0.0.1/vouch",
            "not a postgres:// URL",
        ),
    ] {
        let out = std::process::Command::new(SERVER)
            .args([
                "--dev",
                "--listen",
                "127.0.0.1:0",
                "--database",
                url,
                "--data",
            ])
            .arg(dir.path())
            .env("RUST_LOG", "trace")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{url}");
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(
            !stdout.contains("s3cret") && !stderr.contains("s3cret"),
            "{stdout}{stderr}"
        );
        let errors: Vec<_> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(errors.len(), 1, "{stderr}");
        assert!(
            errors[0].contains(says) && !stderr.contains("panicked"),
            "{stderr}"
        );
    }
}

/// Push across replicas: the phone streams its events from replica B; a new device of the
/// same user opens its approval request on replica A, and the phone hears of it at once
/// (through LISTEN/NOTIFY, not at its stream's 30 s re-check: the wait is 10 s).
#[tokio::test]
async fn a_request_opened_on_one_replica_is_pushed_to_a_device_on_the_other() {
    let (a, b) = replicas(&[]);
    let (api_a, api_b) = (a.api(), b.as_ref().unwrap_or(&a).api());
    let (_, _, phone) = api_a
        .trusted_device("alice@acme.test", "phone", "mobile")
        .await;
    let mut events = api_b.events(&phone, "", None).await;
    // A second device trusted on B: the phone's stream delivers it and waits for more.
    api_b
        .trusted_device("alice@acme.test", "tablet", "web")
        .await;
    events.expect("device_added").await;
    let (account, _) = api_a.login("alice@acme.test").await;
    let laptop = api_a.register(&account, "laptop", "web").await.ok();
    let opened = api_a
        .open_approval(&account, &vouch_testkit::id(&laptop))
        .await
        .ok();
    let (_, ev) = events.expect("approval_requested").await;
    assert_eq!(ev["request"]["id"], opened["id"]);
}

/// The operator's view of the replicas' shared limit, the write lock
/// (`vouch_db_write_wait_seconds`): every write transaction is counted with its wait. In
/// the PostgreSQL pass another session holds the write lock (as a replica's write does):
/// a registration then waits, changes nothing while it waits, and is counted with at
/// least the time the test saw it waiting (`pg_locks`: its lock not granted) — the
/// interval is measured by the test, never compared with a fixed time.
#[tokio::test]
async fn a_write_held_up_by_the_write_lock_is_counted_with_its_wait() {
    use std::io::Write;
    use vouch_testkit::metric;
    const WAITS: &str = "vouch_db_write_wait_seconds_count";
    const WAITED: &str = "vouch_db_write_wait_seconds_sum";
    let s = TestServer::start(SERVER, &[]);
    let api = s.api();
    let (account, _) = api.login("alice@acme.test").await;
    let before = api.metrics().await;
    api.register(&account, "one", "web").await.ok();
    let after = api.metrics().await;
    assert!(
        metric(&after, WAITS) > metric(&before, WAITS),
        "a write without its wait counted:\n{after}"
    );
    let Some(url) = s.database() else { return };
    let lock = vouch_server::store::postgres::WRITE_LOCK;
    let (hi, lo) = (lock >> 32, lock & 0xffff_ffff);
    let locks = move |granted: bool| {
        postgres::psql(
            url,
            &format!(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' \
                 AND classid = {hi} AND objid = {lo} AND granted = {granted}"
            ),
        )
        .trim()
        .to_owned()
    };
    let mut holder = std::process::Command::new("psql")
        .arg(url)
        .args(["-q", "-v", "ON_ERROR_STOP=1"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = holder.stdin.take().unwrap();
    writeln!(stdin, "BEGIN; SELECT pg_advisory_xact_lock({lock});").unwrap();
    stdin.flush().unwrap();
    let wait = std::time::Duration::from_secs(10);
    assert!(vouch_testkit::wait_until(wait, || locks(true) == "1").await);
    let register = {
        let (api, account) = (api.clone(), account.clone());
        tokio::spawn(async move { api.register(&account, "two", "web").await })
    };
    assert!(
        vouch_testkit::wait_until(wait, || locks(false) == "1").await,
        "the registration never waited for the write lock"
    );
    let seen = std::time::Instant::now();
    assert_eq!(
        postgres::psql(url, "SELECT count(*) FROM devices WHERE name = 'two'").trim(),
        "0",
        "a write changed the database without the write lock"
    );
    let held = seen.elapsed();
    writeln!(stdin, "COMMIT;").unwrap();
    drop(stdin);
    assert!(holder.wait().unwrap().success());
    register.await.unwrap().ok();
    let last = api.metrics().await;
    assert!(
        metric(&last, WAITED) - metric(&after, WAITED) >= held.as_secs_f64(),
        "the wait counted is shorter than the {held:?} the test saw the write waiting:\n{last}"
    );
}

//! Replicas sharing one database (issue 21). In the PostgreSQL pass (`VOUCH_TEST_POSTGRES`,
//! `scripts/postgres-tests.sh`) every `TestServer` is two `vouch-server` processes on one
//! database behind a round-robin balancer; these tests also aim their clients at each
//! replica directly. On SQLite (one process per database file) both handles are the same
//! server, so the rules are checked on both back ends.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use vouch_testkit::{
    Api, TestServer, all_at_once, postgres, register_at_once, server_command, succeeded,
};

const SERVER: &str = env!("CARGO_BIN_EXE_vouch-server");
/// Rounds of the race, each with a fresh user.
const ROUNDS: usize = 8;
/// Registrations racing for the last free place in each round.
const RACERS: usize = 12;
/// The device limit the servers run with.
const LIMIT: usize = 3;
const PASSWORD: &str = "a-long-password";

/// A client for each replica of `s` (twice the one server on SQLite).
fn replica_apis(s: &TestServer) -> [Api; 2] {
    let urls = s.replica_urls();
    [Api::new(&urls[0]), Api::new(&urls[urls.len() - 1])]
}

/// A new user of `s`'s workspace, and the account token of its sign-in through `api`.
async fn new_user(s: &TestServer, api: &Api, email: &str) -> String {
    s.create_user("Acme", email, PASSWORD);
    api.sign_in(email, PASSWORD).await.0
}

/// Registrations for one user hit both replicas at once: in every round exactly one takes
/// the last place under the device limit (the count is checked inside the database's
/// serialised write, not in one process).
#[tokio::test]
async fn the_device_limit_holds_across_replicas_in_every_round() {
    let limit = LIMIT.to_string();
    let s = TestServer::start(SERVER, &["--device-limit", &limit]);
    let apis = replica_apis(&s);
    for round in 0..ROUNDS {
        let account = new_user(&s, &apis[round % 2], &format!("racer{round}@acme.test")).await;
        for i in 0..LIMIT - 1 {
            let r = apis[i % 2]
                .register(&account, &format!("device {i}"), "web")
                .await;
            assert_eq!(r.status, 201, "{}", r.body);
        }
        let (won, _) = register_at_once(&apis, &account, RACERS).await;
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
    let s = TestServer::start(SERVER, &[]);
    let apis = replica_apis(&s);
    for round in 0..ROUNDS {
        let email = format!("coder{round}@acme.test");
        let account = new_user(&s, &apis[round % 2], &email).await;
        let device = apis[0].register(&account, "laptop", "web").await.ok();
        let path = format!("/v1/devices/{}/email-code", vouch_testkit::id(&device));
        apis[1].post(&path, Some(&account), json!({})).await.ok();
        let code = apis[0].latest_code(&email).await;
        let racers = all_at_once(RACERS, |i| {
            let (api, account, path) = (apis[i % 2].clone(), account.clone(), path.clone());
            let body = json!({ "code": code });
            async move {
                api.post(&format!("{path}/verify"), Some(&account), body)
                    .await
            }
        })
        .await;
        let mut tokens = Vec::new();
        for r in racers {
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
        let out = succeeded(server_command(SERVER, dir.path()).arg("migrate"));
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
    let s = TestServer::start(SERVER, &[]);
    let [api_a, api_b] = replica_apis(&s);
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

/// The PostgreSQL pass is real: a test server there is two replicas, the balancer hands
/// the connections of one client to both in turn, and each replica answers them (its own
/// request count, read from the replica directly, grew by its share).
#[tokio::test]
async fn the_balancer_spreads_connections_over_both_replicas() {
    let s = TestServer::start(SERVER, &[]);
    if !postgres::enabled() {
        assert_eq!(
            s.replica_urls(),
            [s.url()],
            "SQLite: one process, no balancer"
        );
        assert!(s.replica_connections().is_none());
        return;
    }
    let urls = s.replica_urls();
    assert_eq!(urls.len(), vouch_testkit::PG_REPLICAS);
    assert!(
        urls.iter().all(|u| u != s.url()),
        "the balancer is in front"
    );
    let served = |url: String| async move {
        let text = Api::new(url).get("/metrics", None).await.body;
        let text = text.as_str().unwrap_or_default().to_owned();
        text.lines()
            .filter(|l| l.contains(r#"method="GET",route="/v1/devices",status="401""#))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>()
    };
    let api = s.api();
    for _ in 0..10 {
        api.get("/v1/devices", None).await.err(401, "unauthorized");
    }
    assert_eq!(s.replica_connections().unwrap(), [5, 5]);
    for url in urls {
        assert_eq!(served(url.clone()).await, 5.0, "{url}");
    }
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
    // One process: its metrics are its own (two replicas count apart).
    let s = TestServer::builder(SERVER).one_process().start();
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

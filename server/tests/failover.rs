//! Failures across replicas (issue 21): a replica's push connection cut mid-run, a replica
//! killed mid-approval. In the PostgreSQL pass (`scripts/postgres-tests.sh`) two
//! `vouch-server` processes serve one database; on SQLite (one process per database file)
//! the push test has no second replica to cut, and the killed server is started again on
//! its file to serve the request.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use serde_json::json;
use vouch_testkit::{Method, TestServer, b64, id, postgres, wait_until};

const SERVER: &str = env!("CARGO_BIN_EXE_vouch-server");
/// How long a server or the database may take to do what the test waits for.
const WAIT: Duration = Duration::from_secs(10);

/// The one value `sql` reads from the database at `url`.
fn scalar(url: &str, sql: &str) -> String {
    postgres::psql(url, sql).trim().to_owned()
}

/// The phone streams its events from replica B; requests are opened on replica A. The
/// first is pushed through B's LISTEN connection. Then that connection is killed
/// (`pg_terminate_backend`) and a request opened on A while B has no listener, so its
/// notification reaches nobody: the phone still gets it, well before its stream's 30 s
/// re-check (each wait is 10 s), because B's listener reconnects and wakes every stream
/// to re-read the events table. Then the listener is back and pushes as before.
#[tokio::test]
async fn no_event_is_lost_when_a_replicas_push_connection_is_cut() {
    let a = TestServer::start(SERVER, &["--approval-rate", "100"]);
    let b = a.replica();
    let (api_a, api_b) = (a.api(), b.as_ref().unwrap_or(&a).api());
    let (account, _, phone) = api_a
        .trusted_device("alice@acme.test", "phone", "mobile")
        .await;
    let mut events = api_b.events(&phone, "", None).await;
    let mut n = 0;
    let mut open_one = async || {
        n += 1;
        let laptop = api_a
            .register(&account, &format!("laptop {n}"), "web")
            .await
            .ok();
        api_a.open_approval(&account, &id(&laptop)).await.ok()["id"].clone()
    };
    let opened = open_one().await;
    let (_, ev) = events.expect("approval_requested").await;
    assert_eq!(ev["request"]["id"], opened);
    let Some(b) = &b else {
        return; // SQLite: one process, no connection to cut
    };
    let url = a.database().unwrap();
    let listener = format!(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'vouch-push/{}'",
        b.pid().unwrap()
    );
    assert!(
        wait_until(WAIT, || scalar(url, &listener) == "1").await,
        "B's listener is not connected"
    );
    let mut missed = false;
    for _ in 0..5 {
        let pid = scalar(url, &listener.replace("count(*)", "pid"));
        let cut = format!("SELECT pg_terminate_backend({pid})");
        assert_eq!(scalar(url, &cut), "t");
        let gone = format!("SELECT count(*) FROM pg_stat_activity WHERE pid = {pid}");
        assert!(wait_until(WAIT, || scalar(url, &gone) == "0").await);
        let opened = open_one().await;
        // Still no listener on B after the commit: its notification went to nobody.
        missed = scalar(url, &listener) == "0";
        let (_, ev) = events.expect("approval_requested").await;
        assert_eq!(ev["request"]["id"], opened);
        if missed {
            break;
        }
    }
    assert!(
        missed,
        "B reconnected before every request committed: the cut was never played"
    );
    assert!(wait_until(WAIT, || scalar(url, &listener) == "1").await);
    let opened = open_one().await;
    let (_, ev) = events.expect("approval_requested").await;
    assert_eq!(ev["request"]["id"], opened);
}

/// What the database holds of one approval: the request's status and whether a decider
/// is set, and whether the run's MAC and payload are written ("none" / "both"; anything
/// else is half-written).
fn decision(server: &TestServer, rid: &str, run: &str) -> (String, String, String) {
    let req = server.query_rows(&format!(
        "SELECT status, CASE WHEN decided_by IS NULL THEN 'none' ELSE 'set' END FROM approval_requests WHERE id = '{rid}'"
    ));
    let written = server.query_rows(&format!(
        "SELECT CASE WHEN mac_a IS NULL AND payload IS NULL THEN 'none'
                     WHEN mac_a IS NOT NULL AND payload IS NOT NULL THEN 'both' ELSE 'half' END
         FROM approval_runs WHERE id = '{run}'"
    ));
    (req[0][0].clone(), req[0][1].clone(), written[0][0].clone())
}

/// Replica A is SIGKILLed in the middle of an approval: its transaction has written the
/// run's MAC and payload and waits (on a row lock the test holds) to mark the request
/// approved. Nothing of it stays: the request is pending with no decider and no payload,
/// and replica B serves the same request to the end (approved, then completed by the new
/// device's acknowledgement). On SQLite the kill lands while the approval waits for the
/// file's write lock, and the server started again on the file serves the request.
#[tokio::test]
async fn a_replica_killed_mid_approval_leaves_nothing_half_written() {
    let mut a = TestServer::start(SERVER, &[]);
    let b = a.replica();
    let api_a = a.api();
    let (account, _, phone) = api_a
        .trusted_device("alice@acme.test", "phone", "mobile")
        .await;
    let laptop = id(&api_a.register(&account, "laptop", "web").await.ok());
    let rid = id(&api_a.open_approval(&account, &laptop).await.ok());
    let run = api_a.start_run(&rid, &phone).await;
    api_a.answer_run(&rid, &run, &account).await.ok();

    // A's approval, with a payload of its own (B's will differ).
    let approving = {
        let (api, path) = (a.api(), format!("/v1/approval-requests/{rid}/approve"));
        let body = json!({"run_id": run, "mac_a": b64(&[7; 32]), "payload": b64(&[9; 96])});
        let phone = phone.clone();
        move || async move {
            api.try_call(Method::POST, &path, Some(&phone), Some(body))
                .await
        }
    };
    match a.database().map(str::to_owned) {
        Some(url) => {
            let blocker = postgres::connect(&url).await;
            blocker
                .batch_execute(&format!(
                    "BEGIN; SELECT 1 FROM approval_requests WHERE id = '{rid}' FOR UPDATE"
                ))
                .await
                .unwrap();
            let approval = tokio::spawn(approving());
            let waiting = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
                           AND wait_event_type = 'Lock' \
                           AND query LIKE 'UPDATE approval_requests SET decided_by%'";
            assert!(
                wait_until(WAIT, || scalar(&url, waiting) == "1").await,
                "A's approval never reached the request's row"
            );
            a.kill();
            blocker.batch_execute("ROLLBACK").await.unwrap();
            assert!(approval.await.unwrap().is_err(), "A answered after SIGKILL");
            // A's transaction ends with its connection: rolled back, its write lock free.
            let held = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = \
                        (SELECT oid FROM pg_database WHERE datname = current_database())";
            assert!(wait_until(WAIT, || scalar(&url, held) == "0").await);
        }
        None => {
            let db = rusqlite::Connection::open(a.data_dir().join("vouch-server.db")).unwrap();
            db.execute_batch("BEGIN IMMEDIATE").unwrap();
            let pid = a.pid().unwrap();
            let sockets =
                || std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count);
            let before = sockets();
            let approval = tokio::spawn(approving());
            // The approval's connection is accepted; the request then waits for the lock.
            assert!(wait_until(WAIT, || sockets() > before).await);
            a.kill();
            db.execute_batch("ROLLBACK").unwrap();
            assert!(approval.await.unwrap().is_err(), "A answered after SIGKILL");
        }
    }
    let (status, decider, written) = decision(&a, &rid, &run);
    assert_eq!(
        (status.as_str(), decider.as_str(), written.as_str()),
        ("pending", "none", "none"),
        "half-written after the kill"
    );

    // The other replica (on SQLite: the server started again) serves the same request.
    if b.is_none() {
        a.restart();
    }
    let other = b.as_ref().unwrap_or(&a);
    let api_b = other.api();
    let state = api_b
        .get(&format!("/v1/approval-requests/{rid}"), Some(&account))
        .await
        .ok();
    assert_eq!(state["status"], "pending");
    api_b.approve_run(&rid, &run, &phone).await.ok();
    assert_eq!(
        decision(other, &rid, &run),
        ("approved".into(), "set".into(), "both".into())
    );
    let payload = other.query_blob(&format!(
        "SELECT payload FROM approval_runs WHERE id = '{run}'"
    ));
    assert_eq!(payload, [3; 96], "B's payload, not A's");
    let ack = api_b
        .post(
            &format!("/v1/approval-requests/{rid}/ack"),
            Some(&account),
            json!({"run_id": run, "opened": true}),
        )
        .await
        .ok();
    let token = ack["device_token"].as_str().unwrap();
    assert_eq!(decision(other, &rid, &run).0, "completed");
    assert_eq!(api_b.get("/v1/devices", Some(token)).await.status, 200);
}

//! Per-request races across replicas (issue 21). In the PostgreSQL pass
//! (`scripts/postgres-tests.sh`) two `vouch-server` processes serve one database and every
//! race below is split over both at once; on SQLite (one process per database file) both
//! handles are the same server. Each rule must hold as on one server: its count lives in
//! the database, checked and written in one serialised transaction, never in one
//! process's memory (where two replicas would double the allowance).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use vouch_proto::{
    APPROVAL_REQUESTS_PER_WINDOW, CODE_LOCK_AFTER_FAILURES, CODE_MAX_ATTEMPTS, LOGIN_FREE_FAILURES,
};
use vouch_testkit::{Api, Resp, TestServer, id};

const SERVER: &str = env!("CARGO_BIN_EXE_vouch-server");

/// Server A and its replica B (A again on SQLite); keep the servers alive with the APIs.
fn replicas(args: &[&str]) -> (TestServer, Option<TestServer>, [Api; 2]) {
    let a = TestServer::start(SERVER, args);
    let b = a.replica();
    let apis = [a.api(), b.as_ref().unwrap_or(&a).api()];
    (a, b, apis)
}

/// Runs `n` requests at once, the `i`th through `apis[i % 2]`; their answers in `i` order.
async fn at_once<F, Fut>(apis: &[Api; 2], n: usize, f: F) -> Vec<Resp>
where
    F: Fn(Api, usize) -> Fut,
    Fut: std::future::Future<Output = Resp> + Send + 'static,
{
    let tasks: Vec<_> = (0..n)
        .map(|i| tokio::spawn(f(apis[i % 2].clone(), i)))
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

/// Key holders approve and deny one request at once on both replicas, round after round:
/// exactly one decision wins, the others are told `already_decided`, and the stored status
/// and decider are the winner's.
#[tokio::test]
async fn exactly_one_decision_per_request_across_replicas() {
    let (a, _b, apis) = replicas(&["--approval-rate", "1000"]);
    let (account, _, phone) = apis[0]
        .trusted_device("alice@acme.test", "phone", "mobile")
        .await;
    let mut holders = vec![phone];
    for name in ["tablet", "desktop"] {
        let d = apis[1].register(&account, name, "web").await.ok();
        holders.push(
            apis[1]
                .approve_pending(&account, &id(&d), &holders[0])
                .await,
        );
    }
    for round in 0..6 {
        let pending = apis[round % 2]
            .register(&account, &format!("new {round}"), "web")
            .await
            .ok();
        let rid = id(&apis[0].open_approval(&account, &id(&pending)).await.ok());
        // The approving holder's run, answered by the new device; then its approval races
        // the two others' denials (which one approves turns with the round).
        let approver = round % holders.len();
        let run = apis[1].start_run(&rid, &holders[approver]).await;
        apis[0].answer_run(&rid, &run, &account).await.ok();
        let tokens = holders.clone();
        let (rid2, run2) = (rid.clone(), run.clone());
        let answers = at_once(&apis, holders.len(), move |api, i| {
            let (token, rid, run) = (tokens[i].clone(), rid2.clone(), run2.clone());
            async move {
                if i == approver {
                    api.approve_run(&rid, &run, &token).await
                } else {
                    let path = format!("/v1/approval-requests/{rid}/deny");
                    api.post(&path, Some(&token), json!({})).await
                }
            }
        })
        .await;
        let mut won = Vec::new();
        for (i, r) in answers.iter().enumerate() {
            if r.status == 200 {
                won.push(i);
            } else {
                r.err(409, "already_decided");
            }
        }
        assert_eq!(won.len(), 1, "round {round}: {won:?} decided");
        let winner = won[0];
        let want = if winner == approver {
            "approved"
        } else {
            "denied"
        };
        let state = apis[1]
            .get(&format!("/v1/approval-requests/{rid}"), Some(&account))
            .await
            .ok();
        assert_eq!(state["status"], want, "round {round}");
        let rows = a.query_rows(&format!(
            "SELECT status, decided_by IS NOT NULL FROM approval_requests WHERE id = '{rid}'"
        ));
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0][0], want, "round {round}");
    }
}

/// One device asks for approval many times at once on both replicas (a client retrying
/// through a balancer): one request is opened (201), every other ask gets that same
/// request back (200), and the database holds one open request for the device.
#[tokio::test]
async fn one_pending_request_per_device_across_replicas() {
    let (a, _b, apis) = replicas(&["--approval-rate", "1000"]);
    let (account, _, _phone) = apis[0]
        .trusted_device("alice@acme.test", "phone", "mobile")
        .await;
    for round in 0..4 {
        let device = id(&apis[1]
            .register(&account, &format!("laptop {round}"), "web")
            .await
            .ok());
        let (account2, device2) = (account.clone(), device.clone());
        let answers = at_once(&apis, 8, move |api, _| {
            let (account, device) = (account2.clone(), device2.clone());
            async move { api.open_approval(&account, &device).await }
        })
        .await;
        let created = answers.iter().filter(|r| r.status == 201).count();
        assert_eq!(created, 1, "round {round}: {created} requests opened");
        let ids: std::collections::BTreeSet<String> = answers
            .into_iter()
            .map(|r| {
                assert!(
                    r.status == 201 || r.status == 200,
                    "{} {}",
                    r.status,
                    r.body
                );
                id(&r.body)
            })
            .collect();
        assert_eq!(ids.len(), 1, "round {round}: {ids:?}");
        let open = a.query_rows(&format!(
            "SELECT count(*) FROM approval_requests WHERE device_id = '{device}' AND status IN ('pending', 'approved')"
        ));
        assert_eq!(open, [["1"]], "round {round}");
    }
}

/// The approval prompt throttle (at most five requests per user per window) counts the
/// requests opened on both replicas: eight opened at once, split over both, open five.
#[tokio::test]
async fn the_approval_prompt_throttle_counts_across_replicas() {
    let (_a, _b, apis) = replicas(&[]);
    let (account, _, _phone) = apis[0]
        .trusted_device("alice@acme.test", "phone", "mobile")
        .await;
    let mut devices = Vec::new();
    for i in 0..8 {
        devices.push(id(&apis[i % 2]
            .register(&account, &format!("laptop {i}"), "web")
            .await
            .ok()));
    }
    let answers = at_once(&apis, devices.len(), move |api, i| {
        let (account, device) = (account.clone(), devices[i].clone());
        async move { api.open_approval(&account, &device).await }
    })
    .await;
    let opened = answers.iter().filter(|r| r.status == 201).count();
    for r in answers.iter().filter(|r| r.status != 201) {
        r.err(429, "too_many_requests");
    }
    assert_eq!(opened, APPROVAL_REQUESTS_PER_WINDOW as usize);
}

/// Wrong passwords sent at once, split over both replicas: exactly as many are checked
/// as on one server (`LOGIN_FREE_FAILURES`, then 429), each counted once in the
/// database's counts.
#[tokio::test]
async fn the_sign_in_throttle_counts_across_replicas() {
    let (a, _b, apis) = replicas(&[]);
    let tries = 2 * LOGIN_FREE_FAILURES as usize;
    let answers = at_once(&apis, tries, |api, _| async move {
        api.post(
            "/v1/auth/login",
            None,
            json!({"email": "bob@acme.test", "password": "a wrong guess"}),
        )
        .await
    })
    .await;
    let checked = answers.iter().filter(|r| r.status == 401).count();
    for r in answers.iter().filter(|r| r.status != 401) {
        r.err(429, "too_many_requests");
    }
    assert_eq!(checked, LOGIN_FREE_FAILURES as usize);
    // One count per key in the database, not one per replica.
    let counts = a.query_rows("SELECT email, failures FROM login_failures ORDER BY email");
    let want = LOGIN_FREE_FAILURES.to_string();
    assert_eq!(
        counts,
        [
            ["address:127.0.0.1".to_owned(), want.clone()],
            ["email:bob@acme.test".to_owned(), want.clone()],
            ["pair:127.0.0.1:bob@acme.test".to_owned(), want],
        ]
    );
}

/// Wrong email codes sent at once, split over both replicas: each code takes exactly
/// `CODE_MAX_ATTEMPTS` wrong tries (its attempts left counted down once each), and the
/// account's code verification locks at `CODE_LOCK_AFTER_FAILURES` failures in all, as on
/// one server; the right code is then refused on both replicas.
#[tokio::test]
async fn the_code_lock_outs_count_across_replicas() {
    let (a, _b, apis) = replicas(&["--code-resend-interval", "0"]);
    let (account, _) = apis[0].login("bob@acme.test").await;
    let device = id(&apis[1].register(&account, "laptop", "web").await.ok());
    let path = format!("/v1/devices/{device}/email-code");
    let codes = (CODE_LOCK_AFTER_FAILURES / CODE_MAX_ATTEMPTS) as usize;
    let racers = CODE_MAX_ATTEMPTS as usize + 2;
    let mut failures = 0;
    for round in 0..codes {
        apis[round % 2]
            .post(&path, Some(&account), json!({}))
            .await
            .ok();
        let code = apis[(round + 1) % 2].latest_code("bob@acme.test").await;
        let wrong = if code == "000000" { "111111" } else { "000000" };
        let (account2, path2) = (account.clone(), path.clone());
        let answers = at_once(&apis, racers, move |api, _| {
            let (account, path) = (account2.clone(), path2.clone());
            async move {
                api.post(
                    &format!("{path}/verify"),
                    Some(&account),
                    json!({ "code": wrong }),
                )
                .await
            }
        })
        .await;
        let mut left: Vec<u64> = Vec::new();
        let mut counted = 0;
        for r in &answers {
            match (r.status.as_u16(), r.code()) {
                (400, "invalid_code") => {
                    counted += 1;
                    left.push(r.body["error"]["attempts_left"].as_u64().unwrap());
                }
                (423, "code_locked") => {}
                (410, "code_expired") => {}
                _ => panic!("round {round}: {} {}", r.status, r.body),
            }
        }
        left.sort_unstable();
        failures += counted;
        if round + 1 < codes {
            assert_eq!(left, [0, 1, 2, 3, 4], "round {round}");
        } else {
            // The hundredth failure locks instead of answering invalid_code.
            assert_eq!(left, [1, 2, 3, 4], "round {round}");
            assert!(answers.iter().any(|r| r.code() == "code_locked"));
            failures += 1;
        }
    }
    assert_eq!(failures, CODE_LOCK_AFTER_FAILURES as usize);
    apis[0].post(&path, Some(&account), json!({})).await.ok();
    let code = apis[1].latest_code("bob@acme.test").await;
    for api in &apis {
        api.post(
            &format!("{path}/verify"),
            Some(&account),
            json!({ "code": code }),
        )
        .await
        .err(423, "code_locked");
    }
    // Nothing was trusted.
    let status = a.query_rows(&format!("SELECT status FROM devices WHERE id = '{device}'"));
    assert_eq!(status, [["pending"]]);
}

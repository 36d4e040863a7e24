//! Race stress of the server's atomic rules (a stress binary, not a timed test).
//!
//! Each round, on fresh users:
//! - device limit: 19 devices, then 10 concurrent registrations — exactly one may succeed
//!   and the user must end with exactly 20 live devices;
//! - single decision: 4 key holders racing on one request — the one whose PAKE run the
//!   new device answered approves while the 3 others deny — exactly one decision may win
//!   (the rest 409 `already_decided`) and the stored status must be the winner's;
//! - single use: the same email code submitted 6 times at once — at least one answer
//!   trusts the device, and exactly one of the device tokens handed out works (a repeat is
//!   the lost-answer retry, which revokes the token before it); a wrong code afterwards
//!   finds the code used.
//!
//! Without `--database` the server runs in this process on a SQLite file. With
//! `--database postgres://…` (or `VOUCH_DATABASE`) two `vouch-server` replicas (this very
//! binary, in the profile it was built in, started as server processes by the test kit)
//! serve that database, and each round's racers are spread over both.
//!
//! Prints the violations; exits 1 if there are any.
//!
//! `cargo run --release -p vouch-e2e --bin vouch-server-race -- --rounds 1000 [--database URL]`

// A stress binary: a failed unwrap is a failed run, not a crash in an app.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{net::SocketAddr, time::Instant};

use clap::Parser;
use serde_json::json;
use vouch_server::{Settings, seed, store::postgres::PoolOptions};
use vouch_testkit::{Api, DEV_PASSWORD, TestServer, b64, id, new_key_bundle, register_at_once};

/// Set in the environment of the replicas this binary starts of itself: run as the server.
const AS_SERVER: &str = "VOUCH_RACE_AS_SERVER";
/// Concurrent submissions of one email code per round.
const CODE_RACERS: usize = 6;

#[derive(Parser, Debug)]
struct Args {
    /// Rounds of each race.
    #[arg(long, default_value_t = 20)]
    rounds: usize,
    /// A PostgreSQL database (`postgres://USER:PASSWORD@HOST:PORT/DB`) for two replicas
    /// to serve; without it, one in-process server on a SQLite file.
    #[arg(long, env = "VOUCH_DATABASE", hide_env_values = true)]
    database: Option<String>,
}

/// The servers under test: one in-process (SQLite) or two replica processes (PostgreSQL).
enum Servers {
    InProcess(vouch_server::RunningServer),
    Replicas(Vec<TestServer>),
}

/// Violations of each rule.
#[derive(Default)]
struct Violations {
    limit: usize,
    decision: usize,
    code: usize,
}

/// Creates a member of workspace "Race" directly in the database and signs it in through
/// `c`; returns the account token.
async fn new_user(db: &vouch_server::Db, c: &Api, email: &str) -> String {
    let (db, e) = (db.clone(), email.to_owned());
    tokio::task::spawn_blocking(move || {
        seed::create_user(&db, "Race", &e, DEV_PASSWORD, vouch_proto::Role::Member)
    })
    .await
    .unwrap()
    .unwrap();
    c.login(email).await.0
}

fn main() -> std::process::ExitCode {
    if std::env::var_os(AS_SERVER).is_some() {
        return vouch_server::cli::run();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(race(Args::parse()))
}

async fn race(args: Args) -> std::process::ExitCode {
    let dir = std::env::temp_dir().join(format!("vouch-race-{}", std::process::id()));
    let (servers, db, apis) = match &args.database {
        None => {
            let mut settings = Settings::new(
                "127.0.0.1:0".parse::<SocketAddr>().unwrap(),
                dir.join("server"),
            );
            settings.dev = true;
            settings.code_resend_interval = std::time::Duration::ZERO;
            settings.approval_rate_limit = u32::MAX;
            let server = vouch_server::start(settings).await.expect("start server");
            let db = vouch_server::Db::open(&dir.join("server")).unwrap();
            let c = Api::new(server.url());
            (Servers::InProcess(server), db, [c.clone(), c])
        }
        Some(url) => {
            let db = vouch_server::Db::connect(url, PoolOptions::default())
                .await
                .unwrap_or_else(|e| panic!("the database: {e}"));
            let me = std::env::current_exe().unwrap();
            let replicas: Vec<TestServer> = (0..2)
                .map(|_| {
                    TestServer::builder(&me)
                        .env(AS_SERVER, "1")
                        .database(url.clone())
                        .args(&[
                            "--code-resend-interval",
                            "0",
                            "--approval-rate",
                            "4000000000",
                        ])
                        .start()
                })
                .collect();
            let apis = [replicas[0].api(), replicas[1].api()];
            (Servers::Replicas(replicas), db, apis)
        }
    };
    println!(
        "race stress: {} round(s) on {}",
        args.rounds,
        match &servers {
            Servers::InProcess(_) => "one in-process server (SQLite)",
            Servers::Replicas(_) => "two replicas of one PostgreSQL database",
        }
    );
    // Users of this run never meet those of an earlier run on the same database.
    let run = format!("{:08x}", rand_u32());
    let started = Instant::now();
    let mut v = Violations::default();
    for round in 0..args.rounds {
        let tag = format!("{run}-{round}");
        if !device_limit(&db, &apis, &tag).await {
            v.limit += 1;
        }
        if !single_decision(&db, &apis, &tag).await {
            v.decision += 1;
        }
        if !single_use_code(&db, &apis, &tag).await {
            v.code += 1;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    match servers {
        Servers::InProcess(s) => s.shutdown().await,
        Servers::Replicas(r) => drop(r),
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "race stress: {} rounds in {secs:.1} s — device-limit violations: {}, decision violations: {}, code single-use violations: {}",
        args.rounds, v.limit, v.decision, v.code
    );
    if v.limit + v.decision + v.code == 0 {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}

fn rand_u32() -> u32 {
    let mut b = [0u8; 4];
    getrandom::fill(&mut b).unwrap();
    u32::from_le_bytes(b)
}

/// 19 devices, then 10 registrations at once spread over the replicas: exactly one wins.
async fn device_limit(db: &vouch_server::Db, apis: &[Api; 2], tag: &str) -> bool {
    let email = format!("limit{tag}@race.test");
    let account = new_user(db, &apis[0], &email).await;
    for i in 0..19 {
        apis[i % 2]
            .register(&account, &format!("d{i}"), "web")
            .await
            .ok();
    }
    let (created, _) = register_at_once(&apis[..], &account, 10).await;
    let again = apis[1]
        .post(
            "/v1/devices",
            Some(&account),
            json!({"name": "after", "kind": "web", "platform": "race",
                "key_bundle": b64(&new_key_bundle())}),
        )
        .await;
    let ok = created == 1 && again.code() == "device_limit_reached";
    if !ok {
        eprintln!("{tag}: {created} registrations won the race");
    }
    ok
}

/// 4 key holders race on one request, one approving and 3 denying, spread over the
/// replicas: exactly one decision wins and is the one stored.
async fn single_decision(db: &vouch_server::Db, apis: &[Api; 2], tag: &str) -> bool {
    let email = format!("decide{tag}@race.test");
    let c = &apis[0];
    let account = new_user(db, c, &email).await;
    let mut approvers: Vec<String> = Vec::new();
    for i in 0..4 {
        let kind = if i % 2 == 0 { "mobile" } else { "web" };
        let d = id(&c
            .register(&account, &format!("approver {i}"), kind)
            .await
            .ok());
        // The first is the user's first key holder (email); the others are key holders by
        // its approval (an email verification would make them email-only).
        let token = match approvers.first() {
            None => c.verify_by_email(&account, &email, &d).await["device_token"]
                .as_str()
                .unwrap()
                .to_owned(),
            Some(first) => apis[i % 2].approve_pending(&account, &d, first).await,
        };
        approvers.push(token);
    }
    let pending = id(&c.register(&account, "new device", "web").await.ok());
    let rid = id(&apis[1].open_approval(&account, &pending).await.ok());
    // The first approver's run, answered by the new device (opaque PAKE bytes: the server
    // only relays them); then its approval races the others' denials.
    let run_id = apis[0].start_run(&rid, &approvers[0]).await;
    apis[1].answer_run(&rid, &run_id, &account).await.ok();
    let path = format!("/v1/approval-requests/{rid}");
    let deciders: Vec<_> = approvers
        .into_iter()
        .enumerate()
        .map(|(i, token)| {
            let (c, path, run_id) = (apis[i % 2].clone(), path.clone(), run_id.clone());
            tokio::spawn(async move {
                let (action, body) = if i == 0 {
                    (
                        "approve",
                        json!({"run_id": run_id, "mac_a": b64(&[2; 32]), "payload": b64(&[3; 96])}),
                    )
                } else {
                    ("deny", json!({}))
                };
                let r = c
                    .post(&format!("{path}/{action}"), Some(&token), body)
                    .await;
                (r, action)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for d in deciders {
        let (r, action) = d.await.unwrap();
        match r.status.as_u16() {
            200 => winners.push(if action == "approve" {
                "approved"
            } else {
                "denied"
            }),
            409 if r.code() == "already_decided" => {}
            other => panic!("unexpected answer {other} {}", r.body),
        }
    }
    let state = apis[1].get(&path, Some(&account)).await.ok();
    let ok = winners.len() == 1 && state["status"] == winners[0];
    if !ok {
        eprintln!("{tag}: winners {winners:?}, stored {}", state["status"]);
    }
    ok
}

/// The same email code submitted at once on both replicas: it trusts the device once —
/// exactly one device token handed out works — and is used up after.
async fn single_use_code(db: &vouch_server::Db, apis: &[Api; 2], tag: &str) -> bool {
    let email = format!("code{tag}@race.test");
    let account = new_user(db, &apis[1], &email).await;
    let device = id(&apis[0].register(&account, "laptop", "web").await.ok());
    let path = format!("/v1/devices/{device}/email-code");
    apis[1].post(&path, Some(&account), json!({})).await.ok();
    let code = apis[0].latest_code(&email).await;
    let racers: Vec<_> = (0..CODE_RACERS)
        .map(|i| {
            let (c, account, path) = (apis[i % 2].clone(), account.clone(), path.clone());
            let body = json!({ "code": code });
            tokio::spawn(async move {
                c.post(&format!("{path}/verify"), Some(&account), body)
                    .await
            })
        })
        .collect();
    let mut tokens = Vec::new();
    for r in racers {
        let r = r.await.unwrap();
        match r.status.as_u16() {
            200 => tokens.push(r.body["device_token"].as_str().unwrap().to_owned()),
            // The same session's repeat is the lost-answer retry (200); any other answer
            // is a violation, counted below.
            other => eprintln!("{tag}: a submission got {other} {}", r.body),
        }
    }
    let mut live = 0;
    for (i, t) in tokens.iter().enumerate() {
        if apis[i % 2].get("/v1/devices", Some(t)).await.status == 200 {
            live += 1;
        }
    }
    // Used: a wrong code afterwards meets a trusted device, not a code to guess.
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let after = apis[1]
        .post(
            &format!("{path}/verify"),
            Some(&account),
            json!({ "code": wrong }),
        )
        .await;
    let ok = tokens.len() == CODE_RACERS && live == 1 && after.status.is_client_error();
    if !ok {
        eprintln!(
            "{tag}: {} of {CODE_RACERS} submissions trusted the device, {live} token(s) work, a wrong code after: {}",
            tokens.len(),
            after.status
        );
    }
    ok
}

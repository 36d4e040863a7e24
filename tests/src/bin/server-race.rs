//! Race stress of the server's atomic rules (a stress binary, not a timed test).
//!
//! Each round, on a fresh user: 19 devices, then 10 concurrent registrations — exactly one
//! may succeed and the user must end with exactly 20 live devices; and 4 key holders
//! racing on one request — the one whose PAKE run the new device answered approves while
//! the 3 others deny — exactly one decision may win (the rest 409 `already_decided`) and
//! the stored status must be the winner's. Prints the violations;
//! exits 1 if there are any.
//!
//! `cargo run --release -p vouch-e2e --bin vouch-server-race -- --rounds 1000`

// A stress binary: a failed unwrap is a failed run, not a crash in an app.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{net::SocketAddr, time::Instant};

use clap::Parser;
use serde_json::json;
use vouch_server::{Settings, seed};
use vouch_testkit::{Api, DEV_PASSWORD, b64, id, new_key_bundle, register_at_once};

#[derive(Parser, Debug)]
struct Args {
    /// Rounds of each race.
    #[arg(long, default_value_t = 20)]
    rounds: usize,
}

/// Creates a member of workspace "Race" and signs it in; returns the account token.
async fn new_user(db: &vouch_server::Db, c: &Api, email: &str) -> String {
    seed::create_user(db, "Race", email, DEV_PASSWORD, vouch_proto::Role::Member).unwrap();
    c.login(email).await.0
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let dir = std::env::temp_dir().join(format!("vouch-race-{}", std::process::id()));
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
    let started = Instant::now();
    let (mut limit_violations, mut decision_violations) = (0usize, 0usize);
    for round in 0..args.rounds {
        // Device limit: 19 devices, then 10 at once.
        let email = format!("limit{round}@race.test");
        let account = new_user(&db, &c, &email).await;
        for i in 0..19 {
            c.register(&account, &format!("d{i}"), "web").await.ok();
        }
        let (created, _) = register_at_once(std::slice::from_ref(&c), &account, 10).await;
        let again = c
            .post(
                "/v1/devices",
                Some(&account),
                json!({"name": "after", "kind": "web", "platform": "race",
                    "key_bundle": b64(&new_key_bundle())}),
            )
            .await;
        if created != 1 || again.code() != "device_limit_reached" {
            limit_violations += 1;
            eprintln!("round {round}: {created} registrations won the race");
        }

        // Decisions: 4 trusted devices race on one request.
        let email = format!("decide{round}@race.test");
        let account = new_user(&db, &c, &email).await;
        let mut approvers: Vec<String> = Vec::new();
        for i in 0..4 {
            let kind = if i % 2 == 0 { "mobile" } else { "web" };
            let d = id(&c
                .register(&account, &format!("approver {i}"), kind)
                .await
                .ok());
            // The first is the user's first key holder (email); the others are key
            // holders by its approval (an email verification would make them email-only).
            let token = match approvers.first() {
                None => c.verify_by_email(&account, &email, &d).await["device_token"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
                Some(first) => c.approve_pending(&account, &d, first).await,
            };
            approvers.push(token);
        }
        let pending = id(&c.register(&account, "new device", "web").await.ok());
        let opened = c.open_approval(&account, &pending).await.ok();
        let rid = id(&opened);
        let path = format!("/v1/approval-requests/{rid}");
        // The first approver's run, answered by the new device (opaque PAKE bytes: the
        // server only relays them); then its approval races the others' denials.
        let run = c
            .post(
                &format!("{path}/runs"),
                Some(&approvers[0]),
                json!({"secret": "code", "msg_a": b64(&[0x41; 33])}),
            )
            .await
            .ok();
        let run_id = run["run_id"].as_str().unwrap().to_owned();
        c.post(
            &format!("{path}/runs/{run_id}/response"),
            Some(&account),
            json!({"msg_b": b64(&[0x42; 33]), "mac_b": b64(&[1; 32])}),
        )
        .await
        .ok();
        let deciders: Vec<_> = approvers
            .into_iter()
            .enumerate()
            .map(|(i, token)| {
                let (c, path, run_id) = (Api::new(&c.base), path.clone(), run_id.clone());
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
        let state = c
            .get(&format!("/v1/approval-requests/{rid}"), Some(&account))
            .await
            .ok();
        if winners.len() != 1 || state["status"] != winners[0] {
            decision_violations += 1;
            eprintln!(
                "round {round}: winners {winners:?}, stored {}",
                state["status"]
            );
        }
    }
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "race stress: {} rounds in {:.1} s — device-limit violations: {limit_violations}, decision violations: {decision_violations}",
        args.rounds,
        started.elapsed().as_secs_f64()
    );
    if limit_violations + decision_violations == 0 {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}

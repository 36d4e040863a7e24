//! Race stress of the server's atomic rules (a stress binary, not a timed test).
//!
//! Each round, on a fresh user: 19 devices, then 10 concurrent registrations — exactly one
//! may succeed and the user must end with exactly 20 live devices; and 4 trusted devices
//! racing approve/deny on one request — exactly one decision may win (the rest 409
//! `already_decided`) and the stored status must be the winner's. Prints the violations;
//! exits 1 if there are any.
//!
//! `cargo run --release -p vouch-server --bin vouch-server-race -- --rounds 1000`

use std::{net::SocketAddr, time::Instant};

use clap::Parser;
use serde_json::json;
use vouch_server::{Settings, seed};

#[path = "../../tools/harness.rs"]
mod harness;
use harness::Client;

#[derive(Parser, Debug)]
struct Args {
    /// Rounds of each race.
    #[arg(long, default_value_t = 20)]
    rounds: usize,
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
    let c = Client::new(&server.url());
    let started = Instant::now();
    let (mut limit_violations, mut decision_violations) = (0usize, 0usize);
    for round in 0..args.rounds {
        // Device limit: 19 devices, then 10 at once.
        let email = format!("limit{round}@race.test");
        seed::create_user(
            &db,
            "Race",
            &email,
            seed::DEV_PASSWORD,
            vouch_proto::Role::Member,
        )
        .unwrap();
        let account = c.login(&email).await;
        for i in 0..19 {
            c.register(&account, &format!("d{i}"), "web").await;
        }
        let racers: Vec<_> = (0..10)
            .map(|i| {
                let (c, account) = (Client::new(&c.base), account.clone());
                tokio::spawn(async move {
                    let mut sk = [0u8; 32];
                    getrandom::fill(&mut sk).unwrap();
                    let pk = x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from(sk));
                    let body = json!({"name": format!("racer {i}"), "kind": "web", "platform": "race",
                        "public_key": vouch_proto::Bytes(pk.as_bytes().to_vec())});
                    c.try_post("/v1/devices", Some(&account), body).await
                })
            })
            .collect();
        let mut created = 0;
        for r in racers {
            let (status, body) = r.await.unwrap();
            match status {
                201 => created += 1,
                409 if body["error"]["code"] == "device_limit_reached" => {}
                other => panic!("unexpected answer {other} {body}"),
            }
        }
        let (_, again) = c
            .try_post(
                "/v1/devices",
                Some(&account),
                json!({"name": "after", "kind": "web", "platform": "race",
            "public_key": vouch_proto::Bytes(vec![9; 32])}),
            )
            .await;
        if created != 1 || again["error"]["code"] != "device_limit_reached" {
            limit_violations += 1;
            eprintln!("round {round}: {created} registrations won the race");
        }

        // Decisions: 4 trusted devices race on one request.
        let email = format!("decide{round}@race.test");
        seed::create_user(
            &db,
            "Race",
            &email,
            seed::DEV_PASSWORD,
            vouch_proto::Role::Member,
        )
        .unwrap();
        let account = c.login(&email).await;
        let mut approvers = Vec::new();
        for i in 0..4 {
            let d = c
                .register(
                    &account,
                    &format!("approver {i}"),
                    if i % 2 == 0 { "mobile" } else { "web" },
                )
                .await;
            approvers.push(c.email_verify(&account, &email, &d).await);
        }
        let pending = c.register(&account, "new device", "web").await;
        let opened = c
            .post(
                &format!("/v1/devices/{pending}/approval-requests"),
                Some(&account),
                json!({}),
            )
            .await;
        let rid = opened["id"].as_str().unwrap().to_owned();
        let deciders: Vec<_> = approvers
            .into_iter()
            .enumerate()
            .map(|(i, token)| {
                let (c, rid) = (Client::new(&c.base), rid.clone());
                tokio::spawn(async move {
                    let action = if i % 2 == 0 { "approve" } else { "deny" };
                    let (status, body) = c
                        .try_post(
                            &format!("/v1/approval-requests/{rid}/{action}"),
                            Some(&token),
                            json!({"envelopes": []}),
                        )
                        .await;
                    (status, body, action)
                })
            })
            .collect();
        let mut winners = Vec::new();
        for d in deciders {
            let (status, body, action) = d.await.unwrap();
            match status {
                200 => winners.push(if action == "approve" {
                    "approved"
                } else {
                    "denied"
                }),
                409 if body["error"]["code"] == "already_decided" => {}
                other => panic!("unexpected answer {other} {body}"),
            }
        }
        let state: serde_json::Value = c
            .http
            .get(format!("{}/v1/approval-requests/{rid}", c.base))
            .bearer_auth(&account)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
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

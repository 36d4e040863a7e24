//! Load bench of the reference server on loopback (a bench binary, not a test).
//!
//! Runs N concurrent clients through two cycles and prints throughput and p50/p99
//! latency next to the raw SQLite commit rate (`synchronous=FULL`) of the same disk:
//! - enrollment by email: register → send code → read it from the dev outbox → verify;
//! - approval: open a request → approve it from a trusted device;
//!
//! and the delay from opening a request to a connected approver receiving
//! `approval_requested` over SSE.
//!
//! `cargo run --release -p vouch-e2e --bin vouch-server-load -- --clients 8 --cycles 50`

// A bench binary: a failed unwrap is a failed run, not a crash in an app.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use clap::Parser;
use serde_json::json;
use vouch_server::{Settings, seed};
use vouch_testkit::{Api, id};

#[derive(Parser, Debug)]
struct Args {
    /// Concurrent clients (each its own user).
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// Cycles per client and phase.
    #[arg(long, default_value_t = 50)]
    cycles: usize,
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn report(name: &str, mut lat: Vec<Duration>, wall: Duration) {
    lat.sort();
    println!(
        "{name:<34} {:>6} ops  {:>8.1} ops/s  p50 {:>7.2} ms  p99 {:>7.2} ms",
        lat.len(),
        lat.len() as f64 / wall.as_secs_f64(),
        pct(&lat, 0.50).as_secs_f64() * 1e3,
        pct(&lat, 0.99).as_secs_f64() * 1e3
    );
}

fn raw_commit_rate(dir: &std::path::Path, n: usize) -> f64 {
    let conn = rusqlite::Connection::open(dir.join("raw.db")).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "FULL").unwrap();
    conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)")
        .unwrap();
    let t = Instant::now();
    for i in 0..n {
        conn.execute(
            "INSERT INTO t (id, v) VALUES (?1, zeroblob(64))",
            [i as i64],
        )
        .unwrap();
    }
    n as f64 / t.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let dir = std::env::temp_dir().join(format!("vouch-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    println!(
        "raw SQLite commits (WAL, synchronous=FULL, one row each): {:.0} commits/s",
        raw_commit_rate(&dir, 1000)
    );

    let mut settings = Settings::new(
        "127.0.0.1:0".parse::<SocketAddr>().unwrap(),
        dir.join("server"),
    );
    settings.dev = true;
    settings.device_limit = u32::MAX;
    settings.approval_rate_limit = u32::MAX;
    settings.code_resend_interval = Duration::ZERO;
    let server = vouch_server::start(settings).await.expect("start server");
    let db = vouch_server::Db::open(&dir.join("server")).unwrap();
    let emails: Vec<String> = (0..args.clients)
        .map(|i| format!("load{i}@acme.test"))
        .collect();
    for e in &emails {
        seed::create_user(
            &db,
            "Acme",
            e,
            seed::DEV_PASSWORD,
            vouch_proto::Role::Member,
        )
        .unwrap();
    }
    drop(db);
    let base = server.url();
    println!(
        "server {base}, {} clients × {} cycles",
        args.clients, args.cycles
    );

    // Phase 1: enrollment by email code.
    let t = Instant::now();
    let mut tasks = Vec::new();
    for email in emails.clone() {
        let (api, cycles) = (Api::new(&base), args.cycles);
        tasks.push(tokio::spawn(async move {
            let (account, _) = api.login(&email).await;
            let mut lat = Vec::new();
            for i in 0..cycles {
                let t0 = Instant::now();
                let d = id(&api
                    .register(&account, &format!("email {i}"), "web")
                    .await
                    .ok());
                api.verify_by_email(&account, &email, &d).await;
                lat.push(t0.elapsed());
            }
            lat
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.unwrap());
    }
    report("register → code → verify", lat, t.elapsed());

    // Phase 2: approval open → approve, with the approver connected over SSE.
    let t = Instant::now();
    let mut tasks = Vec::new();
    for email in emails {
        let (api, cycles) = (Api::new(&base), args.cycles);
        tasks.push(tokio::spawn(async move {
            let (account, _) = api.login(&email).await;
            let approver_dev = id(&api.register(&account, "approver", "mobile").await.ok());
            let approver =
                api.verify_by_email(&account, &email, &approver_dev).await["device_token"]
                    .as_str()
                    .unwrap()
                    .to_owned();
            let mut events = api.events(&approver, "", None).await;
            let (mut cycle_lat, mut push_lat) = (Vec::new(), Vec::new());
            for i in 0..cycles {
                let d = id(&api
                    .register(&account, &format!("approval {i}"), "web")
                    .await
                    .ok());
                let t0 = Instant::now();
                let opened = api.open_approval(&account, &d).await.ok();
                let rid = id(&opened);
                while events.expect("approval_requested").await.1["request"]["id"] != rid.as_str() {
                }
                push_lat.push(t0.elapsed());
                api.post(
                    &format!("/v1/approval-requests/{rid}/approve"),
                    Some(&approver),
                    json!({"envelopes": []}),
                )
                .await
                .ok();
                cycle_lat.push(t0.elapsed());
            }
            (cycle_lat, push_lat)
        }));
    }
    let (mut cycles, mut pushes) = (Vec::new(), Vec::new());
    for t in tasks {
        let (c, p) = t.await.unwrap();
        cycles.extend(c);
        pushes.extend(p);
    }
    let wall = t.elapsed();
    report("open request → approve", cycles, wall);
    report("open → approver gets SSE event", pushes, wall);
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

//! Load bench of the reference server on loopback (a bench binary, not a test).
//!
//! Runs N concurrent clients through two cycles and prints throughput and p50/p99
//! latency next to the raw SQLite commit rate (`synchronous=FULL`) of the same disk:
//! - enrollment by email: register → send code → read it from the dev outbox → verify;
//! - approval (Trust v2): open a request → the approver, told over SSE, starts a SPAKE2
//!   run → the new device, told over SSE, answers with its MAC → the approver checks it,
//!   seals a vault key (HPKE auth+psk) into the payload and approves → the new device
//!   checks the approver's MAC, opens the payload and acknowledges → trusted. Both sides
//!   run the real crypto of `vouch-core`, in this process;
//!
//! and the delay from opening a request to a connected approver receiving
//! `approval_requested`, and from the approver's approve to the device being trusted.
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
use vouch_core::crypto::{
    ApprovalCode, ApprovalPayload, ApproverRun, Descriptor, DeviceIdentity, Envelope,
    EnvelopeContext, EnvelopePurpose, PakePassword, PayloadEnvelope, RequesterRun, RunContext,
    VaultKey,
};
use vouch_server::{Settings, seed};
use vouch_testkit::{Api, b64, id};

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
    // Phase 2 has users of its own: an approver must be its user's first key holder.
    let approvers: Vec<String> = (0..args.clients)
        .map(|i| format!("approve{i}@acme.test"))
        .collect();
    for e in emails.iter().chain(&approvers) {
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

    // Phase 2: Trust v2 approval cycles, both devices on their event streams.
    let t = Instant::now();
    let mut tasks = Vec::new();
    for email in approvers {
        let (api, cycles) = (Api::new(&base), args.cycles);
        tasks.push(tokio::spawn(async move {
            approval_cycles(&api, &email, cycles).await
        }));
    }
    let (mut cycles, mut pushes, mut trusted) = (Vec::new(), Vec::new(), Vec::new());
    for t in tasks {
        let (c, p, a) = t.await.unwrap();
        cycles.extend(c);
        pushes.extend(p);
        trusted.extend(a);
    }
    let wall = t.elapsed();
    report("open request → trusted (PAKE run)", cycles, wall);
    report("open → approver gets SSE event", pushes, wall);
    report("approve → device trusted (ack)", trusted, wall);
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// One client's approval cycles: (open → trusted, open → approver told, approve → trusted).
async fn approval_cycles(
    api: &Api,
    email: &str,
    cycles: usize,
) -> (Vec<Duration>, Vec<Duration>, Vec<Duration>) {
    let (account, user) = api.login(email).await;
    let user_id: uuid::Uuid = user["id"].as_str().unwrap().parse().unwrap();
    let approver_id = DeviceIdentity::generate().unwrap();
    let approver_dev = api
        .post(
            "/v1/devices",
            Some(&account),
            json!({"name": "approver", "kind": "mobile", "platform": "load / bench",
                "key_bundle": b64(&approver_id.public_key().bundle())}),
        )
        .await
        .ok();
    let approver = api
        .verify_by_email(&account, email, &id(&approver_dev))
        .await["device_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let approver_device: uuid::Uuid = id(&approver_dev).parse().unwrap();
    let vault_key = VaultKey::generate().unwrap();
    let vault = uuid::Uuid::new_v4();
    let mut approver_events = api.events(&approver, "", None).await;
    let (mut cycle_lat, mut push_lat, mut ack_lat) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..cycles {
        let me = DeviceIdentity::generate().unwrap();
        let dev = api
            .post(
                "/v1/devices",
                Some(&account),
                json!({"name": format!("approval {i}"), "kind": "web", "platform": "load / bench",
                    "key_bundle": b64(&me.public_key().bundle())}),
            )
            .await
            .ok();
        let did = id(&dev);
        let mut my_events = api
            .events(&account, &format!("?device_id={did}"), None)
            .await;
        let code = ApprovalCode::generate().unwrap();
        let t0 = Instant::now();
        let opened = api.open_approval(&account, &did).await.ok();
        let rid = id(&opened);
        // The approver is told and starts a run with the code the person typed.
        let listed = loop {
            let (_, ev) = approver_events.expect("approval_requested").await;
            if ev["request"]["id"] == rid.as_str() {
                break ev["request"].clone();
            }
        };
        push_lat.push(t0.elapsed());
        let device = &listed["device"];
        let ctx = RunContext {
            purpose: "enroll".into(),
            user_id,
            request_id: rid.parse().unwrap(),
            requester_id: did.parse().unwrap(),
            approver_id: approver_device,
            requester_bundle: vouch_proto::Bytes::from_b64(device["key_bundle"].as_str().unwrap())
                .unwrap()
                .0,
            approver_bundle: approver_id.public_key().bundle(),
            descriptor: Descriptor {
                name: device["name"].as_str().unwrap().into(),
                kind: device["kind"].as_str().unwrap().into(),
                platform: device["platform"].as_str().unwrap().into(),
                origin: device["origin"].as_str().unwrap().into(),
            },
        };
        let a = ApproverRun::start(PakePassword::Code(&code), user_id, ctx.request_id).unwrap();
        let path = format!("/v1/approval-requests/{rid}");
        let run = api
            .post(
                &format!("{path}/runs"),
                Some(&approver),
                json!({"secret": "code", "msg_a": b64(a.message())}),
            )
            .await
            .ok();
        let run_id = run["run_id"].as_str().unwrap().to_owned();
        // The new device is told, answers with its MAC.
        my_events.expect("approval_run").await;
        let st = api.get(&path, Some(&account)).await.ok();
        let msg_a = vouch_proto::Bytes::from_b64(st["run"]["msg_a"].as_str().unwrap()).unwrap();
        let (b, answer) = RequesterRun::answer(PakePassword::Code(&code), &ctx, &msg_a.0).unwrap();
        api.post(
            &format!("{path}/runs/{run_id}/response"),
            Some(&account),
            json!({"msg_b": b64(&answer.msg_b), "mac_b": b64(&answer.mac_b)}),
        )
        .await
        .ok();
        // The approver checks the MAC, seals the vault key and approves.
        while approver_events.expect("approval_run").await.1["run_id"] != run_id.as_str() {}
        let seen = api
            .get(&format!("{path}/runs/{run_id}"), Some(&approver))
            .await
            .ok();
        let msg_b = vouch_proto::Bytes::from_b64(seen["msg_b"].as_str().unwrap()).unwrap();
        let mac_b = vouch_proto::Bytes::from_b64(seen["mac_b"].as_str().unwrap()).unwrap();
        let confirmed = a.finish(&ctx, &msg_b.0, &mac_b.0).unwrap();
        let ectx = EnvelopeContext {
            purpose: EnvelopePurpose::Approval,
            user_id,
            request_id: ctx.request_id,
            vault_id: vault,
            epoch: 0,
        };
        let payload = ApprovalPayload {
            envelopes: vec![PayloadEnvelope {
                vault_id: vault,
                epoch: 0,
                envelope: Envelope::seal(
                    &vault_key,
                    &approver_id,
                    me.public_key(),
                    confirmed.psk(),
                    &ectx,
                )
                .unwrap(),
            }],
            ..Default::default()
        };
        let t_approve = Instant::now();
        api.post(
            &format!("{path}/approve"),
            Some(&approver),
            json!({"run_id": run_id, "mac_a": b64(&confirmed.mac_a().unwrap()),
                "payload": b64(&payload.seal(&confirmed).unwrap())}),
        )
        .await
        .ok();
        // The new device is told, checks the approver's MAC, opens and acknowledges.
        my_events.expect("approval_decided").await;
        let st = api.get(&path, Some(&account)).await.ok();
        let mac_a = vouch_proto::Bytes::from_b64(st["run"]["mac_a"].as_str().unwrap()).unwrap();
        b.confirm(&mac_a.0).unwrap();
        let sealed = vouch_proto::Bytes::from_b64(st["run"]["payload"].as_str().unwrap()).unwrap();
        let opened = ApprovalPayload::open(&b, &sealed.0).unwrap();
        let pk = vouch_core::crypto::PublicKey::from_bundle(&ctx.approver_bundle).unwrap();
        opened.envelopes[0]
            .envelope
            .open(&me, &pk, b.psk(), &ectx)
            .unwrap();
        let ack = api
            .post(
                &format!("{path}/ack"),
                Some(&account),
                json!({"run_id": run_id, "opened": true}),
            )
            .await
            .ok();
        assert!(ack["device_token"].is_string());
        ack_lat.push(t_approve.elapsed());
        cycle_lat.push(t0.elapsed());
    }
    (cycle_lat, push_lat, ack_lat)
}

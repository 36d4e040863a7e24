//! Rotation of a vault with many items, on the real path (README, "Speed"): a key holder
//! disables a device — the signed revocation on the vouch chain, the new key epoch sealed
//! to the key holders left, and the re-encryption of every item (opened under the old
//! key, sealed under the new one, 200 per SQLite transaction with their queued uploads) —
//! against a real `vouch-e2e-server` process over HTTP, then uploads the re-encrypted
//! items. The uploads are held back (a relay answers `503` to item writes) while the
//! rotation runs, so the two phases are timed apart; then the relay lets them through
//! (the uploads pay its extra loopback hop).
//!
//! The baseline is raw XChaCha20-Poly1305 (RustCrypto) decrypting and encrypting the same
//! plaintexts (same sizes, a fresh 24-byte nonce each), in this process.
//!
//! `cargo build --release -p vouch-e2e --bins && target/release/vouch-rotation-bench
//! [--items N] [--bytes N]`; prints the figures with the load average.

// A bench binary: a failed unwrap is a failed measurement, not a crash in an app.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{hint::black_box, time::Instant};

use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce, aead::Aead};
use serde_json::json;
use vouch_core::{crypto::sealed_item_epoch, proto::DeviceKind};
use vouch_e2e::{
    Device, enroll_by_approval, enroll_by_email, missing_children, numeric_flags, server_items,
    server_vault_epoch, sibling, start_relay,
};
use vouch_testkit::TestServer;

const EMAIL: &str = "alice@acme.test";

/// The plaintext of item `i`: `bytes` bytes, different per item.
fn plaintext(i: u64, bytes: usize) -> Vec<u8> {
    let mut p = format!("item {i} ").into_bytes();
    p.resize(bytes, b'x');
    p
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split(' ').take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// Raw XChaCha20-Poly1305 decrypt + encrypt of every plaintext (sealed once first, not
/// timed); seconds.
fn raw_reencrypt(plaintexts: &[Vec<u8>]) -> f64 {
    let old = XChaCha20Poly1305::new(&[1u8; 32].into());
    let new = XChaCha20Poly1305::new(&[2u8; 32].into());
    let nonce = || {
        let mut n = [0u8; 24];
        getrandom::fill(&mut n).unwrap();
        XNonce::from(n)
    };
    let sealed: Vec<(XNonce, Vec<u8>)> = plaintexts
        .iter()
        .map(|p| {
            let n = nonce();
            let ct = old.encrypt(&n, &p[..]).unwrap();
            (n, ct)
        })
        .collect();
    let start = Instant::now();
    for (n, ct) in &sealed {
        let p = old.decrypt(n, &ct[..]).unwrap();
        black_box(new.encrypt(&nonce(), &p[..]).unwrap());
    }
    start.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let f = match numeric_flags(&[("items", 10_000), ("bytes", 256)]) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{e}\nusage: vouch-rotation-bench [--items N] [--bytes N]");
            return std::process::ExitCode::from(2);
        }
    };
    if let Some(e) = missing_children("vouch-rotation-bench") {
        eprintln!("{e}");
        return std::process::ExitCode::from(2);
    }
    let (n, bytes) = (f["items"], f["bytes"] as usize);
    let root = tempfile::tempdir().unwrap();
    let mut server = TestServer::builder(sibling("vouch-e2e-server"))
        .data(root.path().join("server"))
        .log_level("error")
        .start();
    let url = server.url().to_owned();
    let relay = start_relay(url.clone()).await;

    // The laptop (a web key holder: it manages devices) writes the vault; the phone is
    // the device it revokes; the tablet stays a key holder.
    let laptop = Device::open(root.path(), "laptop", &relay.url, DeviceKind::Web);
    enroll_by_email(&laptop.client, &url, EMAIL).await;
    let phone = Device::open(root.path(), "phone", &url, DeviceKind::Mobile);
    enroll_by_approval(&phone.client, &laptop.client, EMAIL).await;
    let tablet = Device::open(root.path(), "tablet", &url, DeviceKind::Mobile);
    enroll_by_approval(&tablet.client, &laptop.client, EMAIL).await;
    let vault = laptop.client.create_vault("Big").await.unwrap().id;
    let plaintexts: Vec<Vec<u8>> = (0..n).map(|i| plaintext(i, bytes)).collect();
    for p in &plaintexts {
        laptop.client.put_item(vault, None, p).await.unwrap();
    }
    while laptop.client.flush_outbox().await.unwrap().queued > 0 {}
    let phone_id = phone.client.state().device_id().unwrap();
    drop(phone);

    // Phase 1: revocation, rotation, re-encryption; the uploads held back by the relay.
    relay.intercept(|method, path, _| {
        (method == "PUT" && path.contains("/items/"))
            .then(|| (503, json!({"code": "server_busy", "message": "held back"})))
    });
    let load_before = load_average();
    let start = Instant::now();
    laptop.client.disable_device(phone_id).await.unwrap();
    let rotation = start.elapsed().as_secs_f64();
    assert_eq!(laptop.client.reencryption_pending().unwrap(), 0);
    assert_eq!(laptop.client.queued_operations().unwrap(), n);

    // Phase 2: the uploads.
    relay.clear();
    let start = Instant::now();
    while laptop.client.flush_outbox().await.unwrap().queued > 0 {}
    let upload = start.elapsed().as_secs_f64();
    let load_after = load_average();

    let stored = server_items(&server, vault);
    assert_eq!(stored.len() as u64, n);
    assert_eq!(server_vault_epoch(&server, vault), 1);
    assert!(
        stored
            .iter()
            .all(|it| sealed_item_epoch(&it.ciphertext).unwrap() == 1)
    );
    tablet.client.sync().await.unwrap();
    let raw = raw_reencrypt(&plaintexts);
    server.stop();
    println!(
        "rotation of a vault with {n} items of {bytes} B (real server over HTTP, real SQLite):"
    );
    println!(
        "  revocation + rotation + re-encryption: {rotation:.2} s = {:.0} items/s",
        n as f64 / rotation
    );
    println!(
        "  uploads of the re-encrypted items: {upload:.2} s = {:.0} items/s",
        n as f64 / upload
    );
    println!(
        "  raw XChaCha20-Poly1305 decrypt+encrypt of the same bytes: {:.1} ms = {:.0} items/s; re-encryption / raw = {:.0}x",
        raw * 1e3,
        n as f64 / raw,
        rotation / raw
    );
    println!("  load average {load_before} (before), {load_after} (after)");
    std::process::ExitCode::SUCCESS
}

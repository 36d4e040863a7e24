//! Secret hygiene: a whole enrollment + approval + vault session with trace logging on
//! the client and the server; no password, email code, approval code (grouped or not),
//! QR text or QR secret (raw base64/hex), token or item plaintext may appear in any log
//! line or error string — the failed runs (a wrong code, a broken QR, another request's
//! QR) included.

// Helpers below unwrap like the tests they serve.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Mutex;

use vouch_core::proto::DeviceKind;
use vouch_e2e::{Device, sign_in_and_register, wait_in_background};
use vouch_testkit::{DEV_PASSWORD, TestServer, mistype};

static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, r: &log::Record<'_>) {
        LINES
            .lock()
            .unwrap()
            .push(format!("{} {} {}", r.level(), r.target(), r.args()));
    }
    fn flush(&self) {}
}

static CAPTURE: Capture = Capture;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_a_log_line_or_an_error() {
    log::set_logger(&CAPTURE).unwrap();
    log::set_max_level(log::LevelFilter::Trace);
    let root = tempfile::tempdir().unwrap();
    let server = TestServer::builder(env!("CARGO_BIN_EXE_vouch-e2e-server"))
        .log_to(root.path().join("server.log"))
        .log_level("trace")
        .args(&["--log-format", "json"])
        .start();
    let phone = Device::open(root.path(), "phone", server.url(), DeviceKind::Mobile);
    let mut errors = Vec::new();

    phone.client.sign_in(ALICE_H, DEV_PASSWORD).await.unwrap();
    phone.client.register_device("phone").await.unwrap();
    phone.client.request_email_code().await.unwrap();
    let code = server.api().latest_code(ALICE_H).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    errors.push(
        phone
            .client
            .submit_email_code(wrong)
            .await
            .unwrap_err()
            .to_string(),
    );
    errors.push(format!(
        "{:?}",
        phone.client.submit_email_code(wrong).await.unwrap_err()
    ));
    phone.client.submit_email_code(&code).await.unwrap();
    let vault = phone.client.create_vault("Personal").await.unwrap();
    let plaintext = "PLAINTEXT-wifi-correct-horse-battery";
    let item = phone
        .client
        .put_item(vault.id, None, plaintext.as_bytes())
        .await
        .unwrap();
    // A titled item, then a taken title and a lookup that misses (errors never repeat it).
    let title = "TITLE-home-router-7781";
    let titled = phone
        .client
        .put_titled_item(vault.id, None, Some(title), b"v")
        .await
        .unwrap();
    errors.push(format!(
        "{titled:?} {:?}",
        phone.client.list_items(vault.id)
    ));
    let e = phone
        .client
        .put_titled_item(vault.id, None, Some(title), b"w")
        .await
        .unwrap_err();
    errors.push(format!("{e} {e:?}"));
    let e = phone
        .client
        .find_item(vault.id, "TITLE-not-there")
        .unwrap_err();
    errors.push(format!("{e} {e:?}"));

    // Laptop: a mistyped code first (a failed run), then the code it shows.
    let laptop = Device::open(root.path(), "laptop", server.url(), DeviceKind::Web);
    sign_in_and_register(&laptop.client, ALICE_H).await;
    let prompt = laptop.client.start_approval().await.unwrap();
    let waiter = wait_in_background(&laptop.client);
    phone.client.pending_requests().await.unwrap();
    let mistyped = mistype(&prompt.code);
    for typed in [mistyped.as_str(), "not a code"] {
        let e = phone
            .client
            .approve(prompt.request_id, typed)
            .await
            .unwrap_err();
        errors.push(format!("{e} {e:?}"));
    }
    phone
        .client
        .approve(prompt.request_id, &prompt.code)
        .await
        .unwrap();
    waiter.await.unwrap().unwrap();
    laptop.client.sync().await.unwrap();
    // The client's own type (redacted Debug), not a copy of the bytes.
    let got = laptop
        .client
        .get_item(vault.id, item.item_id)
        .unwrap()
        .unwrap();
    assert_eq!(got.as_slice(), plaintext.as_bytes());
    errors.push(format!("{got:?} {prompt:?} {:?}", laptop.client.state()));

    // Tablet: a broken QR and another request's QR are refused, then its own is scanned.
    let tablet = Device::open(root.path(), "tablet", server.url(), DeviceKind::Mobile);
    sign_in_and_register(&tablet.client, ALICE_H).await;
    let tablet_prompt = tablet.client.start_approval().await.unwrap();
    let waiter = wait_in_background(&tablet.client);
    let listed = phone.client.pending_requests().await.unwrap();
    errors.push(format!("{listed:?}"));
    let broken = format!("{}A", tablet_prompt.qr_payload);
    for scanned in [
        "VOUCH2:garbage",
        broken.as_str(),
        prompt.qr_payload.as_str(),
    ] {
        let e = phone
            .client
            .approve_scanned(tablet_prompt.request_id, scanned)
            .await
            .unwrap_err();
        errors.push(format!("{e} {e:?}"));
    }
    phone
        .client
        .approve_scanned(tablet_prompt.request_id, &tablet_prompt.qr_payload)
        .await
        .unwrap();
    waiter.await.unwrap().unwrap();
    errors.push(format!(
        "{tablet_prompt:?} {:?} {:?}",
        tablet.client.approval_prompt(),
        tablet.client.state()
    ));
    drop((phone, laptop, tablet));

    // The secrets of this session, as they would appear in text.
    let tokens = ["phone", "laptop", "tablet"]
        .iter()
        .flat_map(|d| stored_tokens(&root.path().join(d)));
    let mut secrets: Vec<String> = vec![
        DEV_PASSWORD.into(),
        code.clone(),
        plaintext.into(),
        "TITLE-home-router-7781".into(),
        "TITLE-not-there".into(),
    ];
    for p in [&prompt, &tablet_prompt] {
        secrets.push(p.code.clone());
        secrets.push(p.code.replace(' ', ""));
        secrets.extend(qr_secrets(&p.qr_payload));
    }
    secrets.push(mistyped.replace(' ', ""));
    secrets.extend(tokens);

    let server_log = server.log_text();
    // Structured: every line one JSON object; a request's lines carry its id.
    let mut with_id = 0;
    for line in server_log.lines().filter(|l| l.starts_with('{')) {
        let v: serde_json::Value = serde_json::from_str(line).expect("a JSON log line");
        with_id += usize::from(v["request_id"].is_string());
    }
    assert!(with_id > 10, "{with_id} lines with a request id");
    let client_log = LINES.lock().unwrap().join("\n");
    eprintln!(
        "client log {} lines, server log {} bytes",
        client_log.lines().count(),
        server_log.len()
    );
    assert!(
        !client_log.is_empty() && !server_log.is_empty(),
        "control: logs were captured"
    );
    for (what, text) in [
        ("client log", &client_log),
        ("server log", &server_log),
        ("errors", &errors.join("\n")),
    ] {
        for s in &secrets {
            assert!(
                !text.contains(s.as_str()),
                "a secret appeared in the {what}"
            );
        }
    }
}

const ALICE_H: &str = "alice@acme.test";

/// The code with its last digit changed (what a person might mistype).
/// The QR text's body, and its 32-byte secret in the encodings a careless log would use
/// (base64url, base64, hex).
fn qr_secrets(qr: &str) -> Vec<String> {
    use base64::Engine as _;
    let body = qr.strip_prefix("VOUCH2:").expect("a v2 QR text");
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(body)
        .unwrap();
    // version (1) ‖ request id (16) ‖ descriptor hash (32) ‖ secret (32) ‖ checksum (4)
    assert_eq!(raw.len(), 85, "QR layout of docs/TRUST_V2.md");
    let secret = &raw[49..81];
    vec![
        body.to_owned(),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret),
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(secret),
        secret.iter().map(|b| format!("{b:02x}")).collect(),
    ]
}

/// The account and device tokens a profile stored (read through a second connection).
fn stored_tokens(profile: &std::path::Path) -> Vec<String> {
    let keys = vouch_core::keystore::SoftwareSecretStore::open(profile.join("keys")).unwrap();
    let store =
        vouch_core::store::Store::open(profile.join(vouch_core::DATABASE_FILE), &keys).unwrap();
    let secrets = store.account().unwrap().unwrap().secrets.unwrap();
    let v: serde_json::Value = serde_json::from_slice(&secrets).unwrap();
    ["account", "device"]
        .iter()
        .filter_map(|k| v[k].as_str().map(str::to_owned))
        .collect()
}

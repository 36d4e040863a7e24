//! Secret hygiene: a whole enrollment + approval + vault session with trace logging on
//! the client and the server; no password, code, token, QR secret or item plaintext may
//! appear in any log line or error string.

// Helpers below unwrap like the tests they serve.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Mutex;

use vouch_core::proto::DeviceKind;
use vouch_e2e::{Device, sign_in_and_register};
use vouch_testkit::{DEV_PASSWORD, TestServer};

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

    let laptop = Device::open(root.path(), "laptop", server.url(), DeviceKind::Web);
    sign_in_and_register(&laptop.client, ALICE_H).await;
    let prompt = laptop.client.start_approval().await.unwrap();
    phone.client.pending_requests().await.unwrap();
    errors.push(
        phone
            .client
            .approve(prompt.request_id, "xx")
            .await
            .unwrap_err()
            .to_string(),
    );
    errors.push(format!(
        "{:?}",
        phone.client.approve_qr("VOUCH1:garbage").await.unwrap_err()
    ));
    phone.client.approve_qr(&prompt.qr_payload).await.unwrap();
    laptop.client.wait_for_approval().await.unwrap();
    laptop.client.sync().await.unwrap();
    let got = laptop
        .client
        .get_item(vault.id, item.item_id)
        .unwrap()
        .unwrap();
    assert_eq!(got.as_slice(), plaintext.as_bytes());
    errors.push(format!("{got:?} {prompt:?} {:?}", laptop.client.state()));
    drop((phone, laptop));

    // The secrets of this session, as they would appear in text.
    let tokens = stored_tokens(&root.path().join("phone"))
        .into_iter()
        .chain(stored_tokens(&root.path().join("laptop")));
    let qr_body = prompt.qr_payload.trim_start_matches("VOUCH1:").to_owned();
    let mut secrets: Vec<String> =
        vec![DEV_PASSWORD.into(), code.clone(), plaintext.into(), qr_body];
    secrets.extend(tokens);

    let server_log = server.log_text();
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

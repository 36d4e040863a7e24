//! Trust v2 attacks (issue 19), each played against a real server process over HTTP by the
//! attacker the issue names: a thief with the password and the mailbox (who can enroll a
//! device by email code), a member of another user's workspace, or a server in the
//! middle. Each test failed on the code before its control and passes with it.

// Helpers below unwrap like the tests they serve.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use vouch_core::{
    Error,
    proto::{DeviceKind, Tier},
};
use vouch_e2e::*;
use vouch_testkit::{Api, TestServer, b64, id};

const ALICE: &str = "alice@acme.test";
const BOB: &str = "bob@acme.test";
const ADMIN: &str = "admin@acme.test";
const SERVER: &str = env!("CARGO_BIN_EXE_vouch-e2e-server");

/// The thief: signs in with the stolen password and verifies a `web` device with the code
/// read from the stolen mailbox. Returns (device, device token).
async fn thief_device(api: &Api, email: &str, name: &str) -> (serde_json::Value, String) {
    let (_, device, token) = api.trusted_device(email, name, "web").await;
    (device, token)
}

/// An envelope-shaped blob (the v1 approve body carries them; a thief would seal its own).
fn forged_envelopes(vault: uuid::Uuid) -> serde_json::Value {
    json!([{ "vault_id": vault, "envelope": b64(&[1u8; 82]) }])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_email_only_device_cannot_approve() {
    let root = tempfile::tempdir().unwrap();
    let server = TestServer::start(SERVER, &[]);
    let api = server.api();
    let phone = Device::open(root.path(), "phone", server.url(), DeviceKind::Mobile);
    enroll_by_email(&phone.client, server.url(), ALICE).await;
    assert_eq!(phone.client.state().tier(), Some(Tier::KeyHolder));
    let vault = phone.client.create_vault("Personal").await.unwrap();
    let item = phone
        .client
        .put_item(vault.id, None, b"pin 4711")
        .await
        .unwrap();

    // The thief's device is email-only: the server says so.
    let (thief, token) = thief_device(&api, ALICE, "thief laptop").await;
    assert_eq!(thief["tier"], "email_only");

    // Alice's real tablet asks to be trusted.
    let tablet = Device::open(root.path(), "tablet", server.url(), DeviceKind::Mobile);
    sign_in_and_register(&tablet.client, ALICE).await;
    let prompt = tablet.client.start_approval().await.unwrap();

    // The thief can neither list, approve (with keys of its choosing) nor deny it.
    api.get("/v1/approval-requests?status=pending", Some(&token))
        .await
        .err(403, "key_holder_required");
    let approve = format!("/v1/approval-requests/{}/approve", prompt.request_id);
    api.post(
        &approve,
        Some(&token),
        json!({ "envelopes": forged_envelopes(vault.id) }),
    )
    .await
    .err(403, "key_holder_required");
    let deny = format!("/v1/approval-requests/{}/deny", prompt.request_id);
    api.post(&deny, Some(&token), json!({}))
        .await
        .err(403, "key_holder_required");

    // A thief running the real client is told before anything is sent.
    let thief_client = Device::open(root.path(), "thief", server.url(), DeviceKind::Web);
    enroll_by_email(&thief_client.client, server.url(), ALICE).await;
    assert_eq!(thief_client.client.state().tier(), Some(Tier::EmailOnly));
    assert!(matches!(
        thief_client.client.pending_requests().await,
        Err(Error::KeyHolderRequired)
    ));

    // The request is untouched: the phone approves it, the tablet reads the phone's item.
    phone.client.pending_requests().await.unwrap();
    phone
        .client
        .approve(prompt.request_id, &prompt.number)
        .await
        .unwrap();
    tablet.client.wait_for_approval().await.unwrap();
    assert_eq!(tablet.client.state().tier(), Some(Tier::KeyHolder));
    tablet.client.sync().await.unwrap();
    let read = tablet
        .client
        .get_item(vault.id, item.item_id)
        .unwrap()
        .unwrap();
    assert_eq!(read.as_slice(), b"pin 4711");
    let _ = id(&thief);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_email_only_device_cannot_overwrite_keys() {
    let root = tempfile::tempdir().unwrap();
    let server = TestServer::start(SERVER, &[]);
    let api = server.api();
    let phone = Device::open(root.path(), "phone", server.url(), DeviceKind::Mobile);
    enroll_by_email(&phone.client, server.url(), ALICE).await;
    let vault = phone.client.create_vault("Personal").await.unwrap();
    let laptop = Device::open(root.path(), "laptop", server.url(), DeviceKind::Web);
    enroll_by_approval(&laptop.client, &phone.client, ALICE).await;

    // The laptop asks for keys (say, after the phone made a vault); the thief answers.
    let (_, token) = thief_device(&api, ALICE, "thief laptop").await;
    let prompt = laptop.client.request_vault_keys().await.unwrap();
    let approve = format!("/v1/approval-requests/{}/approve", prompt.request_id);
    api.post(
        &approve,
        Some(&token),
        json!({ "envelopes": forged_envelopes(vault.id) }),
    )
    .await
    .err(403, "key_holder_required");

    // The laptop keeps the phone's key: what it writes, the phone reads.
    let item = laptop
        .client
        .put_item(vault.id, None, b"written after")
        .await
        .unwrap();
    laptop.client.sync().await.unwrap();
    phone.client.sync().await.unwrap();
    let read = phone
        .client
        .get_item(vault.id, item.item_id)
        .unwrap()
        .unwrap();
    assert_eq!(read.as_slice(), b"written after");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_email_only_device_cannot_disable_or_administer() {
    let root = tempfile::tempdir().unwrap();
    let server = TestServer::start(SERVER, &[]);
    let api = server.api();
    let phone = Device::open(root.path(), "phone", server.url(), DeviceKind::Mobile);
    enroll_by_email(&phone.client, server.url(), ALICE).await;
    let vault = phone.client.create_vault("Personal").await.unwrap();
    let item = phone
        .client
        .put_item(vault.id, None, b"keep me")
        .await
        .unwrap();
    phone.client.sync().await.unwrap();
    let phone_id = phone.client.state().device_id().unwrap();

    let (_, token) = thief_device(&api, ALICE, "thief laptop").await;
    // No disable of the only key holder (whose wipe would shred the only vault key).
    api.post(
        &format!("/v1/devices/{phone_id}/disable"),
        Some(&token),
        json!({}),
    )
    .await
    .err(403, "key_holder_required");
    // No deletes or overwrites of items, no new vaults.
    let put = format!("/v1/vaults/{}/items/{}", vault.id, item.item_id);
    api.put(
        &put,
        Some(&token),
        json!({ "version": 2, "base_version": 1 }),
    )
    .await
    .err(403, "key_holder_required");
    api.put(
        &put,
        Some(&token),
        json!({ "version": 2, "base_version": 1, "ciphertext": b64(&[0u8; 64]) }),
    )
    .await
    .err(403, "key_holder_required");
    api.post(
        "/v1/vaults",
        Some(&token),
        json!({ "id": uuid::Uuid::new_v4(), "name": "x" }),
    )
    .await
    .err(403, "key_holder_required");

    // An admin's email-only device administers nothing.
    let admin = Device::open(root.path(), "admin-phone", server.url(), DeviceKind::Mobile);
    enroll_by_email(&admin.client, server.url(), ADMIN).await;
    let (_, admin_thief) = thief_device(&api, ADMIN, "thief at the admin's").await;
    api.get("/v1/admin/devices", Some(&admin_thief))
        .await
        .err(403, "key_holder_required");
    let alice_id = phone.client.state().user().unwrap().id;
    api.post(
        &format!("/v1/admin/users/{alice_id}/deprovision"),
        Some(&admin_thief),
        json!({}),
    )
    .await
    .err(403, "key_holder_required");
    api.post(
        &format!("/v1/devices/{phone_id}/disable"),
        Some(&admin_thief),
        json!({}),
    )
    .await
    .err(403, "key_holder_required");

    // The phone is still trusted and its item intact.
    phone.client.sync().await.unwrap();
    assert!(phone.client.state().is_key_holder());
    let read = phone
        .client
        .get_item(vault.id, item.item_id)
        .unwrap()
        .unwrap();
    assert_eq!(read.as_slice(), b"keep me");
    // The real client refuses before asking.
    let thief_client = Device::open(root.path(), "thief", server.url(), DeviceKind::Web);
    enroll_by_email(&thief_client.client, server.url(), ALICE).await;
    assert!(matches!(
        thief_client.client.disable_device(phone_id).await,
        Err(Error::KeyHolderRequired)
    ));
    assert!(matches!(
        thief_client.client.create_vault("mine").await,
        Err(Error::KeyHolderRequired)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_email_only_device_is_never_promoted() {
    let root = tempfile::tempdir().unwrap();
    let server = TestServer::start(SERVER, &[]);
    let api = server.api();
    let phone = Device::open(root.path(), "phone", server.url(), DeviceKind::Mobile);
    enroll_by_email(&phone.client, server.url(), ALICE).await;
    let phone_id = phone.client.state().device_id().unwrap();
    // The thief parks an email-only device and waits.
    let (parked, parked_token) = thief_device(&api, ALICE, "parked").await;
    assert_eq!(parked["tier"], "email_only");
    // Alice's only key holder goes away (lost, disabled by the admin).
    let admin = Device::open(root.path(), "admin", server.url(), DeviceKind::Web);
    enroll_by_email(&admin.client, server.url(), ADMIN).await;
    admin.client.disable_device(phone_id).await.unwrap();

    // The parked device is still email-only and can do nothing of a key holder's.
    let me = api.get("/v1/devices", Some(&parked_token)).await.ok();
    let row = me
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == parked["id"])
        .unwrap()
        .clone();
    assert_eq!(row["tier"], "email_only");
    api.get("/v1/approval-requests?status=pending", Some(&parked_token))
        .await
        .err(403, "key_holder_required");
    // Nor does the next email verification make a key holder: the user had one.
    let (next, _) = thief_device(&api, ALICE, "next").await;
    assert_eq!(next["tier"], "email_only");
    let (ext_account, _) = api.login(ALICE).await;
    let ext = api.register(&ext_account, "ext", "extension").await.ok();
    let ext = api.verify_by_email(&ext_account, ALICE, &id(&ext)).await;
    assert_eq!(ext["device"]["tier"], "email_only");

    // Only the operator's logged last resort allows one email root, once.
    let out = std::process::Command::new(SERVER)
        .args(["--data"])
        .arg(server.data_dir())
        .args(["admin", "allow-email-root", "--email", ALICE])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (root_device, _) = thief_device(&api, ALICE, "new root").await;
    assert_eq!(root_device["tier"], "key_holder");
    let (after, _) = thief_device(&api, ALICE, "after").await;
    assert_eq!(after["tier"], "email_only", "the allowance is used once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_cross_user_approval_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let server = TestServer::start(SERVER, &[]);
    let api = server.api();
    let phone = Device::open(root.path(), "phone", server.url(), DeviceKind::Mobile);
    enroll_by_email(&phone.client, server.url(), ALICE).await;
    let vault = phone.client.create_vault("Personal").await.unwrap();
    // Bob and the admin are key holders of their own accounts.
    let (_, _, bob) = api.trusted_device(BOB, "bob laptop", "web").await;
    let (_, _, admin) = api.trusted_device(ADMIN, "admin laptop", "web").await;

    let tablet = Device::open(root.path(), "tablet", server.url(), DeviceKind::Mobile);
    sign_in_and_register(&tablet.client, ALICE).await;
    let prompt = tablet.client.start_approval().await.unwrap();
    for token in [&bob, &admin] {
        let listed = api
            .get("/v1/approval-requests?status=pending", Some(token))
            .await
            .ok();
        assert!(
            listed
                .as_array()
                .unwrap()
                .iter()
                .all(|r| r["id"] != json!(prompt.request_id)),
            "another user's request is never listed"
        );
        let approve = format!("/v1/approval-requests/{}/approve", prompt.request_id);
        api.post(
            &approve,
            Some(token),
            json!({ "envelopes": forged_envelopes(vault.id) }),
        )
        .await
        .err(404, "not_found");
    }
    // Still pending for Alice's own key holder.
    let pending = phone.client.pending_requests().await.unwrap();
    assert_eq!(pending[0].request_id, prompt.request_id);
    assert_eq!(tablet.client.check_approval().await.unwrap(), None);
}

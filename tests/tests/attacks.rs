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

/// An approval a thief would send: a run of its own and a payload of keys it chose.
fn forged_approval() -> serde_json::Value {
    json!({ "run_id": uuid::Uuid::new_v4(), "mac_a": b64(&[1u8; 32]), "payload": b64(&[1u8; 128]) })
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
    api.post(&approve, Some(&token), forged_approval())
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
    approve_while_waiting(
        &tablet.client,
        &phone.client,
        prompt.request_id,
        &prompt.code,
    )
    .await;
    assert_eq!(tablet.client.state().tier(), Some(Tier::KeyHolder));
    tablet.client.sync().await.unwrap();
    let read = tablet.read(vault.id, item.item_id).unwrap();
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
    // Alice's laptop was set up with "I don't have access to my trusted device": it is
    // email-only and asks a key holder for the keys; the thief answers first, with keys
    // and a run of its own (v1 let it; the laptop would have sealed its items to them).
    let laptop = Device::open(root.path(), "laptop", server.url(), DeviceKind::Web);
    enroll_by_email(&laptop.client, server.url(), ALICE).await;
    let (_, token) = thief_device(&api, ALICE, "thief laptop").await;
    let prompt = laptop.client.request_vault_keys().await.unwrap();
    let path = format!("/v1/approval-requests/{}", prompt.request_id);
    api.post(
        &format!("{path}/runs"),
        Some(&token),
        json!({"secret": "code", "msg_a": b64(&[0x41; 33])}),
    )
    .await
    .err(403, "key_holder_required");
    api.post(&format!("{path}/approve"), Some(&token), forged_approval())
        .await
        .err(403, "key_holder_required");
    // The phone shares its key with the code the laptop shows.
    approve_while_waiting(
        &laptop.client,
        &phone.client,
        prompt.request_id,
        &prompt.code,
    )
    .await;
    laptop.client.sync().await.unwrap();
    assert!(laptop.client.state().is_key_holder());
    // Once it holds a key, no later request replaces it (a key holder asks for none).
    assert!(matches!(
        laptop.client.request_vault_keys().await,
        Err(Error::InvalidState(_))
    ));

    // The laptop keeps the phone's key: what it writes, the phone reads.
    let item = laptop
        .client
        .put_item(vault.id, None, b"written after")
        .await
        .unwrap();
    laptop.client.sync().await.unwrap();
    phone.client.sync().await.unwrap();
    let read = phone.read(vault.id, item.item_id).unwrap();
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
    let read = phone.read(vault.id, item.item_id).unwrap();
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
    vouch_testkit::succeeded(server.command().args([
        "admin",
        "allow-email-root",
        "--email",
        ALICE,
    ]));
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
    phone.client.create_vault("Personal").await.unwrap();
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
        api.post(&approve, Some(token), forged_approval())
            .await
            .err(404, "not_found");
    }
    // Still pending for Alice's own key holder.
    let pending = phone.client.pending_requests().await.unwrap();
    assert_eq!(pending[0].request_id, prompt.request_id);
    assert_eq!(tablet.client.check_approval().await.unwrap(), None);
}

// ---- a server in the middle (Trust v2: what authenticates travels through the person) ---

/// Alice's phone (first key holder, with a vault and an item) and her new laptop, each
/// talking to the server directly or through the relay as the test needs.
struct Scene {
    _root: tempfile::TempDir,
    server: TestServer,
    relay: Relay,
    phone: Device,
    vault: uuid::Uuid,
    item: uuid::Uuid,
}

async fn scene(phone_via_relay: bool) -> Scene {
    let root = tempfile::tempdir().unwrap();
    let server = TestServer::start(SERVER, &[]);
    let relay = start_relay(server.url().to_owned()).await;
    let url = if phone_via_relay {
        relay.url.clone()
    } else {
        server.url().to_owned()
    };
    let phone = Device::open(root.path(), "phone", &url, DeviceKind::Mobile);
    enroll_by_email(&phone.client, &url, ALICE).await;
    let vault = phone.client.create_vault("Personal").await.unwrap();
    let item = phone
        .client
        .put_item(vault.id, None, b"the secret")
        .await
        .unwrap();
    Scene {
        _root: root,
        server,
        relay,
        phone,
        vault: vault.id,
        item: item.item_id,
    }
}

impl Scene {
    /// A new device at `url`, signed in, registered and showing its code.
    async fn laptop(&self, name: &str, url: &str) -> (Device, vouch_core::ApprovalPrompt) {
        let d = Device::open(self._root.path(), name, url, DeviceKind::Web);
        sign_in_and_register(&d.client, ALICE).await;
        let p = d.client.start_approval().await.unwrap();
        (d, p)
    }

    /// Nothing was ever approved on the server (no payload was sent).
    fn nothing_sealed(&self) {
        assert!(
            self.relay.approvals_forwarded.lock().unwrap().is_empty(),
            "an approval went out"
        );
    }
}

/// Runs `approve` on the phone while `laptop` waits; returns both results.
async fn approve_during_wait(
    laptop: &Device,
    phone: &Device,
    request_id: uuid::Uuid,
    code: &str,
) -> (
    Result<(), Error>,
    Result<vouch_core::EnrollmentState, Error>,
) {
    let waiter = {
        let l = laptop.client.clone();
        tokio::spawn(async move {
            tokio::time::timeout(std::time::Duration::from_secs(20), l.wait_for_approval())
                .await
                .unwrap_or(Err(Error::NoAnswer))
        })
    };
    phone.client.pending_requests().await.unwrap();
    let approved = phone.client.approve(request_id, code).await;
    if approved.is_err() {
        waiter.abort();
        return (approved, Err(Error::NoAnswer));
    }
    (approved, waiter.await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_server_swapping_the_key_is_caught() {
    let s = scene(true).await;
    let (laptop, prompt) = s.laptop("laptop", s.server.url()).await;
    // The server shows the phone its own key (one it ground to look right) instead of
    // the laptop's: the phone's transcript binds that key, the laptop's its own.
    s.relay
        .swap
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let (approved, _) =
        approve_during_wait(&laptop, &s.phone, prompt.request_id, &prompt.code).await;
    assert!(matches!(approved, Err(Error::WrongCode)), "{approved:?}");
    s.nothing_sealed();
    assert!(!laptop.client.state().is_trusted());
    // The person asks for a new code; without the swap it goes through.
    s.relay.clear();
    let p2 = laptop.client.new_code().await.unwrap();
    approve_while_waiting(&laptop.client, &s.phone.client, p2.request_id, &p2.code).await;
    laptop.client.sync().await.unwrap();
    let read = laptop.read(s.vault, s.item).unwrap();
    assert_eq!(read.as_slice(), b"the secret");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_server_swapping_the_approver_key_is_caught() {
    let s = scene(false).await;
    let (laptop, prompt) = s.laptop("laptop", &s.relay.url).await;
    // The laptop is told the run comes from a key the server holds.
    s.relay.rewrite_answers(|method, path, v| {
        if method == "GET" && path.starts_with("/v1/approval-requests/") && v["run"].is_object() {
            v["run"]["approver"]["key_bundle"] = json!(ATTACKER_KEY_B64);
        }
    });
    let (approved, _) =
        approve_during_wait(&laptop, &s.phone, prompt.request_id, &prompt.code).await;
    assert!(matches!(approved, Err(Error::WrongCode)), "{approved:?}");
    assert_eq!(s.relay.count("POST", "/approve"), 0, "nothing was sealed");
    assert!(!laptop.client.state().is_trusted());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_qr_downgrade_is_refused() {
    let s = scene(false).await;
    let (laptop, prompt) = s.laptop("laptop", &s.relay.url).await;
    // The phone scans the QR; the server tells the laptop the approver typed the code
    // (a weaker secret) instead.
    s.relay.rewrite_answers(|method, path, v| {
        if method == "GET" && path.starts_with("/v1/approval-requests/") && v["run"].is_object() {
            v["run"]["secret"] = json!("code");
        }
    });
    let waiter = {
        let l = laptop.client.clone();
        tokio::spawn(async move {
            tokio::time::timeout(std::time::Duration::from_secs(10), l.wait_for_approval()).await
        })
    };
    s.phone.client.pending_requests().await.unwrap();
    let r = s
        .phone
        .client
        .approve_scanned(prompt.request_id, &prompt.qr_payload)
        .await;
    assert!(matches!(r, Err(Error::WrongCode)), "{r:?}");
    waiter.abort();
    assert_eq!(s.relay.count("POST", "/approve"), 0);
    assert!(!laptop.client.state().is_trusted());
    // Without tampering, the scanned QR approves (and the run says so).
    s.relay.clear();
    let p2 = laptop.client.new_code().await.unwrap();
    let waiter = wait_in_background(&laptop.client);
    s.phone.client.pending_requests().await.unwrap();
    s.phone
        .client
        .approve_scanned(p2.request_id, &p2.qr_payload)
        .await
        .unwrap();
    assert!(waiter.await.unwrap().unwrap().is_trusted());
}

/// The envelope layout of docs/TRUST_V2.md, sealed in any HPKE mode: what a forger who
/// learned the run's psk (say, by guessing the code right) could make without the
/// approver's identity key.
fn forge_envelope(
    mode: &str,
    key: &[u8; 32],
    recipient: &vouch_core::crypto::PublicKey,
    psk: &[u8],
    ctx: &vouch_core::crypto::EnvelopeContext,
    sender_secret: &[u8; 32],
) -> Vec<u8> {
    use hpke::{
        Deserializable, Kem as _, OpModeS, PskBundle, Serializable, aead::ChaCha20Poly1305,
        kdf::HkdfSha256, kem::X25519HkdfSha256 as K,
    };
    let header = [0x02u8, 0x01];
    let mut info = b"vouch/envelope/v2\0".to_vec();
    info.extend_from_slice(&header);
    info.extend_from_slice(ctx.user_id.as_bytes());
    info.extend_from_slice(ctx.request_id.as_bytes());
    info.extend_from_slice(ctx.vault_id.as_bytes());
    info.extend_from_slice(&ctx.epoch.to_be_bytes());
    info.extend_from_slice(recipient.as_bytes());
    let psk_id = {
        let mut id = b"vouch/v2/psk\0".to_vec();
        id.extend_from_slice(ctx.request_id.as_bytes());
        id
    };
    let (sk, pk) = K::derive_keypair(sender_secret);
    let bundle = |p: &'static [u8], i: &'static [u8]| PskBundle::new(p, i).unwrap();
    let psk: &'static [u8] = Box::leak(psk.to_vec().into_boxed_slice());
    let psk_id: &'static [u8] = Box::leak(psk_id.into_boxed_slice());
    let op: OpModeS<K> = match mode {
        "base" => OpModeS::Base,
        "psk" => OpModeS::Psk(bundle(psk, psk_id)),
        "auth" => OpModeS::Auth((sk, pk)),
        "auth_psk" => OpModeS::AuthPsk((sk, pk), bundle(psk, psk_id)),
        "auth_empty_psk" => OpModeS::AuthPsk((sk, pk), bundle(b"", b"")),
        _ => unreachable!(),
    };
    let rpk = <K as hpke::Kem>::PublicKey::from_bytes(recipient.as_bytes()).unwrap();
    let (enc, ct) =
        hpke::single_shot_seal::<ChaCha20Poly1305, HkdfSha256, K>(&op, &rpk, &info, key, &header)
            .unwrap();
    let mut out = header.to_vec();
    out.extend_from_slice(&enc.to_bytes());
    out.extend_from_slice(&ct);
    out
}

#[test]
fn attack_psk_only_or_empty_psk_envelope_is_refused() {
    use vouch_core::crypto::{
        ApprovalCode, ApproverRun, Descriptor, DeviceIdentity, Envelope, EnvelopeContext,
        EnvelopePurpose, PakePassword, RequesterRun, RunContext,
    };
    let approver = DeviceIdentity::generate().unwrap();
    let requester = DeviceIdentity::generate().unwrap();
    let ctx = RunContext {
        purpose: "enroll".into(),
        user_id: uuid::Uuid::new_v4(),
        request_id: uuid::Uuid::new_v4(),
        requester_id: uuid::Uuid::new_v4(),
        approver_id: uuid::Uuid::new_v4(),
        requester_bundle: requester.public_key().bundle(),
        approver_bundle: approver.public_key().bundle(),
        descriptor: Descriptor {
            name: "laptop".into(),
            kind: "web".into(),
            platform: "p".into(),
            origin: "o".into(),
        },
    };
    let code = ApprovalCode::generate().unwrap();
    let a = ApproverRun::start(PakePassword::Code(&code), ctx.user_id, ctx.request_id).unwrap();
    let (b, answer) = RequesterRun::answer(PakePassword::Code(&code), &ctx, a.message()).unwrap();
    let confirmed = a.finish(&ctx, &answer.msg_b, &answer.mac_b).unwrap();
    b.confirm(&confirmed.mac_a().unwrap()).unwrap();
    let psk = b.psk().bytes_for_testing();
    let ectx = EnvelopeContext {
        purpose: EnvelopePurpose::Approval,
        user_id: ctx.user_id,
        request_id: ctx.request_id,
        vault_id: uuid::Uuid::new_v4(),
        epoch: 0,
    };
    let key = [0x77u8; 32];
    let forger = [0x13u8; 32];
    // The forger knows the psk but not the approver's identity key: psk-only, base, auth
    // with its own key, auth+psk with its own key, auth with an empty psk — all refused.
    for mode in ["psk", "base", "auth", "auth_psk", "auth_empty_psk"] {
        let forged = forge_envelope(mode, &key, requester.public_key(), &psk, &ectx, &forger);
        let opened = Envelope::from_bytes(&forged)
            .and_then(|e| e.open(&requester, approver.public_key(), b.psk(), &ectx));
        assert!(matches!(opened, Err(Error::EnvelopeOpen)), "{mode} opened");
    }
    // The layout above is the real one: the same construction from the approver's own
    // key (auth+psk) opens, so the refusals are the mode, not the bytes.
    let genuine = Envelope::seal(
        &vouch_core::crypto::VaultKey::generate().unwrap(),
        &approver,
        requester.public_key(),
        confirmed.psk(),
        &ectx,
    )
    .unwrap();
    assert!(
        genuine
            .open(&requester, approver.public_key(), b.psk(), &ectx)
            .is_ok()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_injected_envelope_is_refused() {
    let s = scene(false).await;
    let (laptop, prompt) = s.laptop("laptop", &s.relay.url).await;
    // (a) An "approved" answer for a run the laptop never answered: nothing is stored.
    let rid = prompt.request_id;
    s.relay.intercept(move |method, path, _| {
        (method == "GET" && path == format!("/v1/approval-requests/{rid}")).then(|| {
            (
                200,
                json!({"id": rid, "status": "approved", "purpose": "enroll",
                    "expires_at": "2030-01-01T00:00:00Z",
                    "run": {"id": uuid::Uuid::new_v4(), "approver": serde_json::Value::Null,
                        "secret": "code", "msg_a": b64(&[1; 33]), "mac_a": b64(&[2; 32]),
                        "payload": b64(&[3; 200])}}),
            )
        })
    });
    let r = laptop.client.check_approval().await;
    assert!(r.is_err(), "{r:?}");
    assert!(!laptop.client.state().is_trusted());
    s.relay.clear();
    // (b) A payload with envelopes the server swapped in: it does not open.
    s.relay.rewrite_answers(|method, path, v| {
        if method == "GET"
            && path.starts_with("/v1/approval-requests/")
            && v["run"]["payload"].is_string()
        {
            let mut p = vouch_core::proto::Bytes::from_b64(v["run"]["payload"].as_str().unwrap())
                .unwrap()
                .0;
            let n = p.len();
            p[n - 1] ^= 1;
            v["run"]["payload"] = json!(b64(&p));
        }
    });
    let (approved, waited) =
        approve_during_wait(&laptop, &s.phone, prompt.request_id, &prompt.code).await;
    approved.unwrap();
    assert!(matches!(waited, Err(Error::MalformedPayload)), "{waited:?}");
    assert!(!laptop.client.state().is_trusted());
    assert!(laptop.client.vaults().is_err(), "no vault access");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unopenable_envelopes_leave_no_ghost() {
    let s = scene(false).await;
    let (laptop, prompt) = s.laptop("laptop", &s.relay.url).await;
    s.relay.rewrite_answers(|method, path, v| {
        if method == "GET"
            && path.starts_with("/v1/approval-requests/")
            && v["run"]["payload"].is_string()
        {
            v["run"]["payload"] = json!(b64(&[9u8; 150]));
        }
    });
    let (approved, waited) =
        approve_during_wait(&laptop, &s.phone, prompt.request_id, &prompt.code).await;
    approved.unwrap();
    assert!(matches!(waited, Err(Error::MalformedPayload)), "{waited:?}");
    // Both sides see it failed: the laptop is not trusted and can start again; the phone
    // no longer lists it; the server never trusted the device.
    assert!(!laptop.client.state().is_trusted());
    assert!(laptop.client.approval_prompt().unwrap().is_none());
    assert!(s.phone.client.pending_requests().await.unwrap().is_empty());
    s.relay.clear();
    let p2 = laptop.client.start_approval().await.unwrap();
    approve_while_waiting(&laptop.client, &s.phone.client, p2.request_id, &p2.code).await;
    laptop.client.sync().await.unwrap();
    let read = laptop.read(s.vault, s.item).unwrap();
    assert_eq!(read.as_slice(), b"the secret");
}

/// Alice's laptop (a key holder) reads items through the relay.
async fn laptop_via_relay(s: &Scene) -> Device {
    let laptop = Device::open(s._root.path(), "laptop", &s.relay.url, DeviceKind::Web);
    sign_in_and_register(&laptop.client, ALICE).await;
    let p = laptop.client.start_approval().await.unwrap();
    approve_while_waiting(&laptop.client, &s.phone.client, p.request_id, &p.code).await;
    laptop.client.sync().await.unwrap();
    laptop
}

/// Rewrites the pulled record of `item` (answers of `GET …/items?since=`).
fn rewrite_item(
    relay: &Relay,
    item: uuid::Uuid,
    f: impl Fn(&mut serde_json::Value) + Send + Sync + 'static,
) {
    relay.rewrite_answers(move |method, path, v| {
        if method == "GET" && path.contains("/items?since=") {
            for r in v.as_array_mut().into_iter().flatten() {
                if r["item_id"] == json!(item) {
                    f(r);
                }
            }
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_forged_delete_is_refused() {
    let s = scene(false).await;
    let laptop = laptop_via_relay(&s).await;
    // The server makes the item a newer version without content (an unsealed delete),
    // then a "tombstone" sealed under a key of its own.
    s.phone
        .client
        .put_item(s.vault, Some(s.item), b"the secret, v2")
        .await
        .unwrap();
    rewrite_item(&s.relay, s.item, |r| {
        r["ciphertext"] = serde_json::Value::Null;
    });
    let report = laptop.client.sync().await.unwrap();
    assert_eq!(report.refused, 1);
    let read = laptop.read(s.vault, s.item).unwrap();
    assert_eq!(read.as_slice(), b"the secret");
    s.relay.clear();
    let stranger = vouch_core::crypto::VaultKey::generate().unwrap();
    let forged = vouch_core::crypto::seal_item(
        &stranger,
        &vouch_core::crypto::ItemAad {
            vault_id: s.vault,
            item_id: s.item,
            version: 3,
            epoch: 0,
        },
        None,
    )
    .unwrap();
    s.phone
        .client
        .put_item(s.vault, Some(s.item), b"the secret, v3")
        .await
        .unwrap();
    rewrite_item(&s.relay, s.item, move |r| {
        r["ciphertext"] = json!(b64(&forged));
    });
    let report = laptop.client.sync().await.unwrap();
    assert!(report.refused >= 1);
    assert!(laptop.read(s.vault, s.item).is_some());
    // A delete by a key holder is a sealed tombstone and goes through.
    s.relay.clear();
    s.phone.client.delete_item(s.vault, s.item).await.unwrap();
    laptop.client.sync().await.unwrap();
    assert!(laptop.read(s.vault, s.item).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_garbage_item_does_not_replace_good_copy() {
    let s = scene(false).await;
    let laptop = laptop_via_relay(&s).await;
    s.phone
        .client
        .put_item(s.vault, Some(s.item), b"the secret, v2")
        .await
        .unwrap();
    rewrite_item(&s.relay, s.item, |r| {
        r["ciphertext"] = json!(b64(&[0x02; 90]));
    });
    let report = laptop.client.sync().await.unwrap();
    assert_eq!(report.refused, 1);
    // The last good version stays readable.
    let read = laptop.read(s.vault, s.item).unwrap();
    assert_eq!(read.as_slice(), b"the secret");
    // Once the server serves the real record again, it comes in.
    s.relay.clear();
    let report = laptop.client.sync().await.unwrap();
    assert_eq!(report.refused, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_item_rollback_is_refused() {
    let s = scene(false).await;
    // The server keeps the first version's record (genuinely sealed: it opens).
    let v1 = std::sync::Arc::new(std::sync::Mutex::new(serde_json::Value::Null));
    let (keep, item) = (v1.clone(), s.item);
    s.relay.rewrite_answers(move |method, path, v| {
        if method == "GET" && path.contains("/items?since=") {
            for r in v.as_array().into_iter().flatten() {
                if r["item_id"] == json!(item) && r["version"] == 1 {
                    *keep.lock().unwrap() = r.clone();
                }
            }
        }
    });
    let laptop = laptop_via_relay(&s).await;
    assert!(v1.lock().unwrap().is_object());
    s.phone
        .client
        .put_item(s.vault, Some(s.item), b"the secret, v2")
        .await
        .unwrap();
    laptop.client.sync().await.unwrap();
    // The laptop writes v3; the server claims someone else did (a forged conflict), so
    // the laptop keeps its write as a copy and forgets its own version of the item …
    s.relay.clear();
    s.relay.intercept(|method, path, _| {
        (method == "PUT" && path.contains("/items/")).then(|| {
            (
                409,
                json!({"error": {"code": "version_conflict", "message": "someone else wrote it"}}),
            )
        })
    });
    // … and serves version 1 back as the item's current record when the laptop then
    // pulls (at once, so that both versions show: issue 13).
    let old = v1.lock().unwrap().clone();
    let rollback = move |relay: &Relay| {
        let old = old.clone();
        rewrite_item(relay, s.item, move |r| *r = old.clone());
    };
    rollback(&s.relay);
    let info = laptop
        .client
        .put_item(s.vault, Some(s.item), b"v3 from the laptop")
        .await
        .unwrap();
    assert!(info.conflict_copy.is_some(), "{info:?}");
    s.relay.clear();
    rollback(&s.relay);
    let report = laptop.client.sync().await.unwrap();
    assert!(report.refused >= 1, "{report:?}");
    assert!(laptop.read(s.vault, s.item).is_none());
    for i in laptop.client.list_items(s.vault).unwrap() {
        let text = laptop.read(s.vault, i.item_id).unwrap();
        assert_ne!(text.as_slice(), b"the secret", "rolled back to version 1");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_transcript_field_swap_is_caught() {
    let s = scene(true).await;
    let (laptop, _) = s.laptop("laptop", s.server.url()).await;
    type Swap = (&'static str, fn(&mut serde_json::Value));
    let swaps: [Swap; 3] = [
        ("purpose", |p| p["purpose"] = json!("share_keys")),
        ("descriptor", |p| {
            p["device"]["name"] = json!("alice's laptop ")
        }),
        ("device id", |p| {
            p["device"]["id"] = json!(uuid::Uuid::new_v4())
        }),
    ];
    for (what, swap) in swaps {
        let p = laptop.client.new_code().await.unwrap();
        s.relay.clear();
        s.relay.rewrite_answers(move |method, path, v| {
            if method == "GET" && path.starts_with("/v1/approval-requests?") {
                for r in v.as_array_mut().into_iter().flatten() {
                    swap(r);
                }
            }
        });
        let (approved, _) = approve_during_wait(&laptop, &s.phone, p.request_id, &p.code).await;
        assert!(
            matches!(approved, Err(Error::WrongCode)),
            "{what}: {approved:?}"
        );
    }
    s.nothing_sealed();
    assert!(!laptop.client.state().is_trusted());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_relay_gets_at_most_three_guesses() {
    use vouch_core::crypto::{ApprovalCode, ApproverRun, PakePassword};
    let s = scene(false).await;
    let (laptop, prompt) = s.laptop("laptop", &s.relay.url).await;
    let phone_device = s
        .phone
        .client
        .devices()
        .await
        .unwrap()
        .into_iter()
        .find(|d| Some(d.id) == s.phone.client.state().device_id())
        .unwrap();
    let phone_json = serde_json::to_value(&phone_device).unwrap();
    let user = laptop.client.state().user().unwrap().id;
    let rid = prompt.request_id;
    // The server plays the approver with a guessed code in a fresh run on every look,
    // keeps the answers to itself, and never tells the laptop a run failed.
    let runs = std::sync::Arc::new(std::sync::Mutex::new(std::collections::HashMap::<
        uuid::Uuid,
        ApproverRun,
    >::new()));
    let answers = std::sync::Arc::new(std::sync::Mutex::new(Vec::<serde_json::Value>::new()));
    let (r2, a2) = (runs.clone(), answers.clone());
    s.relay.intercept(move |method, path, body| {
        if method == "GET" && path == format!("/v1/approval-requests/{rid}") {
            let guess = ApprovalCode::generate().unwrap();
            let run = ApproverRun::start(PakePassword::Code(&guess), user, rid).unwrap();
            let id = uuid::Uuid::new_v4();
            let msg = b64(run.message());
            r2.lock().unwrap().insert(id, run);
            return Some((
                200,
                json!({"id": rid, "status": "pending", "purpose": "enroll",
                    "expires_at": "2030-01-01T00:00:00Z",
                    "run": {"id": id, "approver": phone_json, "secret": "code", "msg_a": msg}}),
            ));
        }
        if method == "POST" && path.ends_with("/response") {
            a2.lock().unwrap().push(body.clone());
            return Some((200, json!({"id": rid, "status": "pending"})));
        }
        if method == "POST" && path.ends_with("/abort") {
            return Some((200, json!({"id": rid, "status": "pending"})));
        }
        None
    });
    // Many looks, as a waiting device makes them (and as parallel runs would).
    let mut refused = 0;
    for _ in 0..8 {
        match laptop.client.check_approval().await {
            Err(Error::CodeUsedUp) => refused += 1,
            Ok(None) => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        answers.lock().unwrap().len(),
        3,
        "three answers per code, no more"
    );
    assert_eq!(refused, 5);
    assert_eq!(
        laptop.client.approval_prompt().unwrap().unwrap().runs_left,
        0
    );
    // A fake "expired" does not make the device start over by itself.
    s.relay.clear();
    s.relay.intercept(move |method, path, _| {
        (method == "GET" && path == format!("/v1/approval-requests/{rid}")).then(|| {
            (
                200,
                json!({"id": rid, "status": "expired", "purpose": "enroll",
                "expires_at": "2030-01-01T00:00:00Z"}),
            )
        })
    });
    let st = laptop.client.check_approval().await.unwrap().unwrap();
    assert_eq!(st.name(), "expired");
    assert!(laptop.client.approval_prompt().unwrap().is_none());
    // Only the request the person opened; none opened again by the device itself.
    let opened = s
        .relay
        .log
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.starts_with("POST /v1/devices/") && l.ends_with("/approval-requests"))
        .count();
    assert_eq!(opened, 1, "no request reopened");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_root_by_admin_carries_no_envelopes() {
    let root = tempfile::tempdir().unwrap();
    let server = TestServer::start(SERVER, &[]);
    let url = server.url().to_owned();
    let bob_phone = Device::open(root.path(), "bob-phone", &url, DeviceKind::Mobile);
    enroll_by_email(&bob_phone.client, &url, BOB).await;
    let lost = bob_phone.client.create_vault("Bob's").await.unwrap();
    let admin = Device::open(root.path(), "admin", &url, DeviceKind::Web);
    enroll_by_email(&admin.client, &url, ADMIN).await;
    let admins_vault = admin.client.create_vault("Admin's").await.unwrap();
    // Bob's only key holder is gone.
    admin
        .client
        .disable_device(bob_phone.client.state().device_id().unwrap())
        .await
        .unwrap();
    let laptop = Device::open(root.path(), "bob-laptop", &url, DeviceKind::Web);
    sign_in_and_register(&laptop.client, BOB).await;
    let p = laptop.client.start_approval().await.unwrap();
    assert_eq!(p.purpose, vouch_core::proto::ApprovalPurpose::NewRoot);
    let listed = admin.client.pending_requests().await.unwrap();
    assert_eq!(
        listed[0].purpose,
        vouch_core::proto::ApprovalPurpose::NewRoot
    );
    approve_while_waiting(&laptop.client, &admin.client, p.request_id, &p.code).await;
    assert_eq!(laptop.client.state().tier(), Some(Tier::KeyHolder));
    // A first key holder again — with no key of the admin's, and Bob's old vault lost.
    laptop.client.sync().await.unwrap();
    let vaults = laptop.client.vaults().unwrap();
    assert!(vaults.iter().all(|v| v.id != admins_vault.id));
    assert!(vaults.iter().all(|v| v.id != lost.id || !v.has_key));
    laptop.client.create_vault("Bob's new").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approve_without_user_presence_is_refused() {
    let s = scene(false).await;
    let (laptop, prompt) = s.laptop("laptop", &s.relay.url).await;
    // The same phone profile, opened by an app whose biometric prompt was dismissed.
    let refusing = vouch_core::Client::open(vouch_core::ClientConfig {
        profile_dir: s.phone.dir.clone(),
        server_url: s.server.url().to_owned(),
        device: vouch_core::DeviceInfo {
            kind: DeviceKind::Mobile,
            model: "phone".into(),
            os: "TestOS 1".into(),
            app: "e2e".into(),
        },
        secret_store: std::sync::Arc::new(
            vouch_core::keystore::SoftwareSecretStore::open(s.phone.dir.join("keys")).unwrap(),
        ),
        listener: None,
        tls: Default::default(),
        presence: Some(std::sync::Arc::new(Present(false))),
    })
    .unwrap();
    refusing.pending_requests().await.unwrap();
    let r = refusing.approve(prompt.request_id, &prompt.code).await;
    assert!(matches!(r, Err(Error::UserPresenceRequired)), "{r:?}");
    // Nothing reached the server: the laptop sees no run and still has all three tries.
    assert_eq!(laptop.client.check_approval().await.unwrap(), None);
    assert_eq!(
        laptop.client.approval_prompt().unwrap().unwrap().runs_left,
        3
    );
    assert_eq!(s.relay.count("GET", "/runs"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupted_qr_is_refused_and_nothing_is_sealed() {
    let s = scene(true).await;
    let (laptop, prompt) = s.laptop("laptop", s.server.url()).await;
    s.phone.client.pending_requests().await.unwrap();
    // One character of the scanned text changed.
    let mut chars: Vec<char> = prompt.qr_payload.chars().collect();
    let i = chars.len() - 10;
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    let corrupted: String = chars.into_iter().collect();
    let r = s
        .phone
        .client
        .approve_scanned(prompt.request_id, &corrupted)
        .await;
    assert!(matches!(r, Err(Error::InvalidQrPayload(_))), "{r:?}");
    // Another device's QR code, scanned on this request's screen.
    let (_, other) = s.laptop("tablet", s.server.url()).await;
    let r = s
        .phone
        .client
        .approve_scanned(prompt.request_id, &other.qr_payload)
        .await;
    assert!(matches!(r, Err(Error::QrMismatch)), "{r:?}");
    assert_eq!(s.relay.count("POST", "/runs"), 0, "no run was started");
    s.nothing_sealed();
    assert_eq!(
        laptop.client.approval_prompt().unwrap().unwrap().runs_left,
        3
    );
}

// ---- found by the outside review of Trust v2 (each failed before its fix) ----------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_another_session_cannot_take_over_a_pending_device() {
    let root = tempfile::tempdir().unwrap();
    let server = TestServer::start(SERVER, &[]);
    let api = server.api();
    let phone = Device::open(root.path(), "phone", server.url(), DeviceKind::Mobile);
    enroll_by_email(&phone.client, server.url(), ALICE).await;
    // Alice's laptop waits for her approval …
    let laptop = Device::open(root.path(), "laptop", server.url(), DeviceKind::Web);
    sign_in_and_register(&laptop.client, ALICE).await;
    let prompt = laptop.client.start_approval().await.unwrap();
    let laptop_id = laptop.client.state().device_id().unwrap();
    // … and the thief, signed in with her password, asks for and reads an email code
    // for that pending device from her mailbox.
    let (thief_account, _) = api.login(ALICE).await;
    let path = format!("/v1/devices/{laptop_id}/email-code");
    api.post(&path, Some(&thief_account), json!({}))
        .await
        .err(404, "not_found");
    api.post(
        &format!("{path}/verify"),
        Some(&thief_account),
        json!({"code": "123456"}),
    )
    .await
    .err(404, "not_found");
    // Alice approves her laptop: it gets its own token and the keys.
    approve_while_waiting(
        &laptop.client,
        &phone.client,
        prompt.request_id,
        &prompt.code,
    )
    .await;
    assert!(laptop.client.state().is_key_holder());
    laptop.client.sync().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_approved_request_cannot_be_cancelled_into_a_hidden_device() {
    let server = TestServer::start(SERVER, &[]);
    let api = server.api();
    let (_, _, key_holder) = api.trusted_device(ALICE, "phone", "mobile").await;
    // A phished approval: the approver ran and approved; the requester holds the payload.
    let (account, _) = api.login(ALICE).await;
    let dev = api.register(&account, "alice laptop", "web").await.ok();
    let rid = id(&api.open_approval(&account, &id(&dev)).await.ok());
    let path = format!("/v1/approval-requests/{rid}");
    let run_id = api.start_run(&rid, &key_holder).await;
    api.answer_run(&rid, &run_id, &account).await.ok();
    api.approve_run(&rid, &run_id, &key_holder).await.ok();
    // Cancelling now would hide a device that holds the payload: refused.
    api.post(&format!("{path}/cancel"), Some(&account), json!({}))
        .await
        .err(409, "already_decided");
    // It stays on the approver's list as approved (waiting for the device) …
    let listed = api
        .get("/v1/approval-requests?status=pending", Some(&key_holder))
        .await
        .ok();
    assert_eq!(listed[0]["status"], "approved");
    // … and once it expires unacknowledged, its payload is no longer served.
    api.advance_clock(601).await;
    let st = api.get(&path, Some(&account)).await.ok();
    assert_eq!(st["status"], "expired");
    assert!(st.get("run").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_email_only_device_reads_no_vaults() {
    let server = TestServer::start(SERVER, &[]);
    let api = server.api();
    let (_, _, key_holder) = api.trusted_device(ALICE, "phone", "mobile").await;
    let vault = uuid::Uuid::new_v4();
    api.post(
        "/v1/vaults",
        Some(&key_holder),
        json!({"id": vault, "name": "Bank"}),
    )
    .await
    .ok();
    let (_, _, thief) = api.trusted_device(ALICE, "thief", "web").await;
    // Neither the vault names nor the item records (ids, versions, ciphertext).
    api.get("/v1/vaults", Some(&thief))
        .await
        .err(403, "key_holder_required");
    api.get(&format!("/v1/vaults/{vault}/items?since=0"), Some(&thief))
        .await
        .err(403, "key_holder_required");
}

/// Issue 12: a server in the middle (or a compromised loopback service) answered the
/// sign-in with `307 Location: http://0.0.0.0:PORT/…` and the client followed it, sending
/// the password body past its own "plain http only to loopback" rule. Now no redirect is
/// followed: the client stops with a typed error and the other address sees nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_a_redirect_cannot_carry_the_password_elsewhere() {
    use std::sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    };
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // Where the redirect points: counts every connection it gets.
    let elsewhere = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let elsewhere_port = elsewhere.local_addr().unwrap().port();
    let reached = Arc::new(AtomicUsize::new(0));
    let count = reached.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = elsewhere.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            let mut buf = vec![0u8; 4096];
            let _ = sock.read(&mut buf).await;
            let _ = sock
                .write_all(b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n\r\n")
                .await;
        }
    });
    // The "server" the client was configured with: redirects every request.
    let front = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let front_url = format!("http://{}", front.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = front.accept().await {
            let mut buf = vec![0u8; 8192];
            let _ = sock.read(&mut buf).await;
            let answer = format!(
                "HTTP/1.1 307 Temporary Redirect\r\nlocation: http://0.0.0.0:{elsewhere_port}/v1/auth/login\r\ncontent-length: 0\r\n\r\n"
            );
            let _ = sock.write_all(answer.as_bytes()).await;
        }
    });
    let root = tempfile::tempdir().unwrap();
    let phone = Device::open(root.path(), "phone", &front_url, DeviceKind::Mobile);
    let err = phone
        .client
        .sign_in(ALICE, vouch_testkit::DEV_PASSWORD)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Redirected), "{err:?}");
    assert_eq!(
        reached.load(Ordering::SeqCst),
        0,
        "the password went elsewhere"
    );
}

// ---- vault deletion (issue 13): only a deletion sealed under the vault key counts ------

/// Rewrites the server's vault list (answers of `GET /v1/vaults`).
fn rewrite_vault_list(
    relay: &Relay,
    f: impl Fn(&mut Vec<serde_json::Value>) + Send + Sync + 'static,
) {
    relay.rewrite_answers(move |method, path, v| {
        if method == "GET"
            && path == "/v1/vaults"
            && let Some(list) = v.as_array_mut()
        {
            f(list);
        }
    });
}

/// A server (or relay) that leaves a vault out of the list, or answers its items with 404,
/// does not make a device drop it: the vault and its items stay, the sync reports it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_server_omitting_a_vault_does_not_make_devices_drop_it() {
    let s = scene(false).await;
    let laptop = laptop_via_relay(&s).await;
    assert!(laptop.read(s.vault, s.item).is_some());
    let vault = s.vault;
    rewrite_vault_list(&s.relay, move |list| {
        list.retain(|v| v["id"] != json!(vault));
    });
    s.relay.intercept(move |_, path, _| {
        path.starts_with(&format!("/v1/vaults/{vault}/items"))
            .then(|| {
                (
                    404,
                    json!({"error": {"code": "not_found", "message": "no such vault"}}),
                )
            })
    });
    let report = laptop.client.sync().await.unwrap();
    assert_eq!(report.vaults_missing, vec![s.vault]);
    assert!(report.vaults_deleted.is_empty());
    assert!(
        laptop
            .client
            .vaults()
            .unwrap()
            .iter()
            .any(|v| v.id == s.vault)
    );
    let read = laptop.read(s.vault, s.item).unwrap();
    assert_eq!(read.as_slice(), b"the secret");
}

/// A server that marks a vault deleted with a deletion of its own making — random bytes of
/// the right shape, one sealed under a key of its own, an item's tombstone, or the real
/// deletion of *another* vault replayed — is refused: the vault and its items stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_forged_vault_deletion_is_refused() {
    let s = scene(false).await;
    // A second vault the phone really deletes: its genuine deletion is replayed below.
    let other = s.phone.client.create_vault("Old").await.unwrap();
    let laptop = laptop_via_relay(&s).await;
    s.phone.client.delete_vault(other.id).await.unwrap();
    let report = laptop.client.sync().await.unwrap();
    assert_eq!(
        report.vaults_deleted,
        vec![other.id],
        "the real deletion goes through"
    );
    // The genuine deletion of `other`, as the server stores it.
    let captured = std::sync::Arc::new(std::sync::Mutex::new(None::<serde_json::Value>));
    {
        let captured = captured.clone();
        let other = other.id;
        s.relay.rewrite_answers(move |method, path, v| {
            if method == "GET" && path == "/v1/vaults" {
                for x in v.as_array().into_iter().flatten() {
                    if x["id"] == json!(other) {
                        *captured.lock().unwrap() = Some(x["tombstone"].clone());
                    }
                }
            }
        });
    }
    laptop.client.sync().await.unwrap();
    let replayed = captured
        .lock()
        .unwrap()
        .clone()
        .expect("the deletion is listed");
    s.relay.clear();
    let stranger = vouch_core::crypto::VaultKey::generate().unwrap();
    let item_tombstone = vouch_core::crypto::seal_item(
        &stranger,
        &vouch_core::crypto::ItemAad {
            vault_id: s.vault,
            item_id: s.item,
            version: 9,
            epoch: 0,
        },
        None,
    )
    .unwrap();
    let mut shaped = vec![1u8; 45];
    shaped[1..5].copy_from_slice(&[0, 0, 0, 0]);
    let forgeries = [
        json!(b64(&shaped)),
        json!(b64(&vouch_core::crypto::seal_vault_tombstone(
            &stranger, s.vault, 0
        )
        .unwrap())),
        json!(b64(&item_tombstone)),
        replayed,
    ];
    for forged in forgeries {
        s.relay.clear();
        let vault = s.vault;
        rewrite_vault_list(&s.relay, move |list| {
            for v in list.iter_mut() {
                if v["id"] == json!(vault) {
                    v["tombstone"] = forged.clone();
                }
            }
        });
        let report = laptop.client.sync().await.unwrap();
        assert_eq!(report.deletions_refused, vec![s.vault]);
        assert!(report.vaults_deleted.is_empty());
        let read = laptop.read(s.vault, s.item).unwrap();
        assert_eq!(read.as_slice(), b"the secret");
    }
    // The phone's real deletion of the vault goes through on the laptop.
    s.relay.clear();
    s.phone.client.delete_vault(s.vault).await.unwrap();
    let report = laptop.client.sync().await.unwrap();
    assert_eq!(report.vaults_deleted, vec![s.vault]);
    assert!(
        laptop
            .client
            .vaults()
            .unwrap()
            .iter()
            .all(|v| v.id != s.vault)
    );
    assert!(laptop.client.get_item(s.vault, s.item).is_err());
}

/// An email-only device (a password + mailbox thief) cannot delete a vault: the server
/// refuses it (`key_holder_required`) and the client refuses before asking; the vault and
/// its items stay for the key holders.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_email_only_device_cannot_delete_a_vault() {
    let s = scene(false).await;
    let api = s.server.api();
    let (_, thief) = thief_device(&api, ALICE, "thief").await;
    let tombstone = b64(&[1u8; 45]);
    api.post(
        &format!("/v1/vaults/{}/delete", s.vault),
        Some(&thief),
        json!({ "tombstone": tombstone }),
    )
    .await
    .err(403, "key_holder_required");
    // The same device through the core: refused before anything is sent.
    let laptop = Device::open(s._root.path(), "laptop", s.server.url(), DeviceKind::Web);
    enroll_by_email(&laptop.client, s.server.url(), ALICE).await;
    assert!(matches!(
        laptop.client.delete_vault(s.vault).await,
        Err(Error::KeyHolderRequired)
    ));
    let report = s.phone.client.sync().await.unwrap();
    assert!(report.vaults_deleted.is_empty() && report.deletions_refused.is_empty());
    let read = s.phone.read(s.vault, s.item).unwrap();
    assert_eq!(read.as_slice(), b"the secret");
}

// ---- text a server sends is shown, never obeyed (black-box review, stop 16) ----------

/// Text of a server's choosing: a terminal escape that clears the screen and paints
/// "APPROVED", a window-title sequence, a line break with a fake `from:` line, a bidi
/// override, a zero-width space.
const PAINTED: &str = "Alice Desktop\u{1b}[2J\u{1b}[H\u{1b}[32mAPPROVED\u{1b}[0m\u{1b}]0;t\u{7}\r\nfrom:     10.0.0.1\u{202e}eman\u{200b}";

/// Rewrites every `name`, `platform`, `origin` and `message` in `v` to [`PAINTED`].
fn paint(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(fields) => {
            for (k, f) in fields.iter_mut() {
                if ["name", "platform", "origin", "message"].contains(&k.as_str()) && f.is_string()
                {
                    *f = json!(PAINTED);
                } else {
                    paint(f);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(paint),
        _ => {}
    }
}

#[track_caller]
fn shown_safely(text: &str) {
    assert!(
        !text.chars().any(vouch_core::proto::unsafe_to_show),
        "shown as sent: {text:?}"
    );
    assert!(
        text.contains("APPROVED") && text.contains('\u{FFFD}'),
        "{text:?}"
    );
}

/// A server (or relay) choosing the names, platforms, addresses and error messages the
/// approver's screens show cannot repaint them: every control character (escape
/// sequences, line breaks, a bell) and every invisible one (bidi overrides, zero-width)
/// in a server's answer reaches the app as U+FFFD, on the "Trust this session?" request,
/// the device list and an error alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_server_text_cannot_repaint_the_approval_screen() {
    let s = scene(true).await;
    let (_laptop, _) = s.laptop("laptop", s.server.url()).await;
    s.relay.rewrite_answers(|_, _, v| paint(v));
    let pending = s.phone.client.pending_requests().await.unwrap();
    assert_eq!(pending.len(), 1);
    for text in [
        &pending[0].device_name,
        &pending[0].platform,
        &pending[0].origin,
    ] {
        shown_safely(text);
    }
    let devices = s.phone.client.devices().await.unwrap();
    assert!(!devices.is_empty());
    for d in &devices {
        shown_safely(&d.name);
    }
    s.relay.intercept(|_, path, _| {
        path.starts_with("/v1/devices").then(|| {
            (
                409,
                json!({"error": {"code": "conflict", "message": PAINTED}}),
            )
        })
    });
    match s.phone.client.devices().await {
        Err(Error::Server { message, .. }) => shown_safely(&message),
        other => panic!("{other:?}"),
    }
}

/// A server listing a device of its own making as a trusted key holder (approved by the
/// phone, say) does not make a key holder show it as one: only a live member of the
/// chain the device verified is shown as a key holder; the invented one is shown
/// email-only, as the device treats it (nothing is ever sealed to it), while a laptop the
/// phone really approved is a key holder (black-box review, stop 16, F2).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_invented_key_holder_is_not_shown_as_one() {
    let s = scene(true).await;
    let laptop = laptop_via_relay(&s).await;
    let laptop_id = laptop.client.state().device_id().unwrap();
    let ghost = uuid::Uuid::new_v4();
    s.relay.rewrite_answers(move |method, path, v| {
        if method == "GET"
            && path == "/v1/devices"
            && let Some(list) = v.as_array_mut()
        {
            let mut fake = list[0].clone();
            fake["id"] = json!(ghost);
            fake["name"] = json!("Alice Phone 2");
            fake["status"] = json!("trusted");
            fake["tier"] = json!("key_holder");
            list.push(fake);
        }
    });
    let devices = s.phone.client.devices().await.unwrap();
    let tier = |id| devices.iter().find(|d| d.id == id).unwrap().tier;
    assert_eq!(tier(ghost), Some(Tier::EmailOnly), "{devices:?}");
    assert_eq!(tier(laptop_id), Some(Tier::KeyHolder));
}

/// A server answering with more than a client reads (`MAX_ANSWER_BYTES`; a device list of
/// 33 MiB here) gets a typed protocol error: the client stops reading there instead of
/// buffering whatever it is sent (black-box review, stop 16, F3). Vault items come in
/// pages (`ITEMS_PAGE`), so no honest answer comes near it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_oversized_answer_is_refused() {
    let s = scene(true).await;
    let huge = "x".repeat(vouch_core::proto::MAX_ANSWER_BYTES + 1024 * 1024);
    s.relay.intercept(move |_, path, _| {
        (path == "/v1/devices").then(|| (200, json!([{ "name": huge }])))
    });
    match s.phone.client.devices().await {
        Err(Error::Protocol(why)) => assert!(why.contains("larger"), "{why}"),
        other => panic!("{other:?}"),
    }
}

// ---- first key holders again (black-box review, stop 16) -----------------------------

/// Deprovisioning and reactivating a user gives no email root: a thief with her password
/// and mailbox would verify first and become her only key holder (review A-F1). Her next
/// device by email is email-only, whoever verifies it; the operator's `allow-email-root`
/// is refused while a key holder of hers works (A-F3: it would have replaced her chain),
/// and a thief's email verification after it stays email-only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_reactivation_or_allowance_gives_the_thief_no_root() {
    let root = tempfile::tempdir().unwrap();
    let server = TestServer::start(SERVER, &[]);
    let api = server.api();
    let phone = Device::open(root.path(), "phone", server.url(), DeviceKind::Mobile);
    enroll_by_email(&phone.client, server.url(), BOB).await;
    let admin = Device::open(root.path(), "admin", server.url(), DeviceKind::Web);
    enroll_by_email(&admin.client, server.url(), ADMIN).await;
    let bob = admin.client.admin_user(BOB).await.unwrap();
    admin.client.admin_deprovision(bob.id).await.unwrap();
    admin.client.admin_reactivate(bob.id).await.unwrap();
    let (thief, _) = thief_device(&api, BOB, "bob new laptop").await;
    assert_eq!(
        thief["tier"], "email_only",
        "reactivation opened an email root"
    );

    let alice = Device::open(root.path(), "alice", server.url(), DeviceKind::Mobile);
    enroll_by_email(&alice.client, server.url(), ALICE).await;
    let out = server
        .command()
        .args(["admin", "allow-email-root", "--email", ALICE])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "allowed over a live key holder");
    assert!(said.contains("still has a key holder"), "{said}");
    let (thief, _) = thief_device(&api, ALICE, "alice new laptop").await;
    assert_eq!(thief["tier"], "email_only");
    alice.client.sync().await.unwrap();
}

/// Two `new_root` requests of a user with no key holder left — hers and a thief's (her
/// password and mailbox) — and an admin who approves hers first: the thief's stale one
/// no longer applies (review A-F7). It is not listed, no run starts on it, and one
/// already approved does not complete: no second chain over hers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_stale_new_root_request_cannot_replace_the_chain() {
    let s = TestServer::start(SERVER, &[]);
    let api = s.api();
    let (_, phone, _) = api.trusted_device(BOB, "bob phone", "mobile").await;
    let (_, _, admin) = api.trusted_device(ADMIN, "admin laptop", "web").await;
    api.post(
        &format!("/v1/devices/{}/disable", id(&phone)),
        Some(&admin),
        json!({}),
    )
    .await
    .ok();
    let mut asks = Vec::new();
    for name in ["bob laptop", "thief one", "thief two"] {
        let (account, _) = api.login(BOB).await;
        let device = id(&api.register(&account, name, "web").await.ok());
        let opened = api.open_approval(&account, &device).await.ok();
        assert_eq!(opened["purpose"], "new_root", "{opened}");
        asks.push((account, id(&opened)));
    }
    let [(bob, mine), (thief, approved), (_, waiting)] = <[_; 3]>::try_from(asks).unwrap();
    // The admin is told whose first key holder each would make.
    let listed = api
        .get("/v1/approval-requests?status=pending", Some(&admin))
        .await
        .ok();
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["user_email"] == BOB),
        "{listed}"
    );
    // The thief's first request gets as far as approved (waiting for its device).
    let run = api.start_run(&approved, &admin).await;
    api.answer_run(&approved, &run, &thief).await.ok();
    api.approve_run(&approved, &run, &admin).await.ok();
    // Bob's is approved and completes: he has a key holder.
    let ack = api.complete_approval(&mine, &bob, &admin).await;
    assert_eq!(ack["tier"], "key_holder");
    let listed = api
        .get("/v1/approval-requests?status=pending", Some(&admin))
        .await
        .ok();
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["purpose"] != "new_root"),
        "{listed}"
    );
    api.post(
        &format!("/v1/approval-requests/{waiting}/runs"),
        Some(&admin),
        json!({"secret": "code", "msg_a": b64(&[0x41; 33])}),
    )
    .await
    .err(409, "already_decided");
    let ack = api
        .post(
            &format!("/v1/approval-requests/{approved}/ack"),
            Some(&thief),
            json!({"run_id": run, "opened": true}),
        )
        .await
        .ok();
    assert_eq!(ack["status"], "failed", "{ack}");
    assert!(ack["device_token"].is_null(), "{ack}");
}

/// A relay in the middle once hands a device a record with a sequence the server never
/// had (refused: it does not open): the device's item cursor used to jump past every
/// later change, so the vault froze on that device long after the relay was gone — a
/// password changed after a compromise never arrived (review B-F10). The vault list names
/// each vault's highest sequence; a cursor past it reads the vault again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_forged_sequence_does_not_freeze_a_vault() {
    let s = scene(false).await;
    let laptop = laptop_via_relay(&s).await;
    assert_eq!(
        laptop.read(s.vault, s.item).unwrap().as_slice(),
        b"the secret"
    );
    let (vault, item) = (s.vault, s.item);
    s.relay.rewrite_answers(move |method, path, v| {
        if method == "GET"
            && path.contains("/items?since=")
            && let Some(list) = v.as_array_mut()
        {
            list.push(json!({
                "vault_id": vault, "item_id": item, "version": 9_007_199_254_740_991u64,
                "ciphertext": b64(&[2u8; 80]), "seq": 9000,
            }));
        }
    });
    assert_eq!(laptop.client.sync().await.unwrap().refused, 1);
    s.relay.clear();
    s.phone
        .client
        .put_item(s.vault, Some(s.item), b"changed after the compromise")
        .await
        .unwrap();
    laptop.client.sync().await.unwrap();
    assert_eq!(
        laptop.read(s.vault, s.item).unwrap().as_slice(),
        b"changed after the compromise"
    );
}

/// An approval that fails after the approver signed its vouch (a relay turns the new
/// device's acknowledgement into "could not open"): the member stays on the chain, but
/// the server lists its device as not trusted, so no key holder seals a vault key to it
/// — not the vaults it had, not a vault made after (black-box review, stop 16, B-F6: every
/// key holder kept sealing every epoch to it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_failed_approval_leaves_no_member_that_receives_keys() {
    let s = scene(false).await;
    let (laptop, p) = s.laptop("laptop", &s.relay.url.clone()).await;
    let laptop_id = laptop.client.state().device_id().unwrap();
    s.relay.rewrite_requests(|method, path, v| {
        if method == "POST" && path.ends_with("/ack") {
            v["opened"] = json!(false);
        }
    });
    let (approved, waited) = approve_during_wait(&laptop, &s.phone, p.request_id, &p.code).await;
    approved.unwrap();
    assert!(waited.is_err(), "{waited:?}");
    let members = s.phone.client.chain_members().await.unwrap();
    assert!(
        members.iter().any(|m| m.id == laptop_id),
        "the vouch is on the chain"
    );
    s.phone.client.create_vault("After").await.unwrap();
    s.phone.client.sync().await.unwrap();
    s.phone.client.sync().await.unwrap();
    let sealed = s.server.query_rows(&format!(
        "SELECT vault_id FROM chain_envelopes WHERE recipient_id = '{laptop_id}'"
    ));
    assert!(sealed.is_empty(), "sealed to the failed member: {sealed:?}");
}

/// A server swapping two vault names in its list (vault names are plain on the server)
/// does not rename a device's vaults: vaults are never renamed, so a name a device knows
/// stays, and `vault put Work` still writes into Work (black-box review, stop 16, B-F8).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_swapped_vault_names_rename_nothing() {
    let s = scene(false).await;
    let work = s.phone.client.create_vault("Work").await.unwrap().id;
    let laptop = laptop_via_relay(&s).await;
    let personal = s.vault;
    s.relay.rewrite_answers(move |method, path, v| {
        if method == "GET"
            && path == "/v1/vaults"
            && let Some(list) = v.as_array_mut()
        {
            for l in list.iter_mut() {
                if l["id"] == json!(personal) {
                    l["name"] = json!("Work");
                } else if l["id"] == json!(work) {
                    l["name"] = json!("Personal");
                }
            }
        }
    });
    laptop.client.sync().await.unwrap();
    let names: Vec<(uuid::Uuid, String)> = laptop
        .client
        .vaults()
        .unwrap()
        .into_iter()
        .map(|v| (v.id, v.name))
        .collect();
    assert!(
        names.contains(&(personal, "Personal".to_owned())),
        "{names:?}"
    );
    assert!(names.contains(&(work, "Work".to_owned())), "{names:?}");
}

/// The operator's allowance is for one loss: when the user gets a key holder another way
/// (an admin's `new_root` approval here), it is spent — left waiting, the thief with the
/// password and the mailbox took it at the user's next loss and became the only key
/// holder (black-box re-review, stop 16, N1).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_a_spent_allowance_does_not_wait_for_the_thief() {
    let s = TestServer::start(SERVER, &[]);
    let api = s.api();
    let (_, _, admin) = api.trusted_device(ADMIN, "admin laptop", "web").await;
    let (_, phone, _) = api.trusted_device(BOB, "bob phone", "mobile").await;
    let disable = |device: String| {
        let (api, admin) = (&api, &admin);
        async move {
            api.post(
                &format!("/v1/devices/{device}/disable"),
                Some(admin),
                json!({}),
            )
            .await
            .ok();
        }
    };
    disable(id(&phone)).await;
    let (laptop, laptop_token) = thief_device(&api, BOB, "bob laptop").await;
    assert_eq!(laptop["tier"], "email_only");
    vouch_testkit::succeeded(
        s.command()
            .args(["admin", "allow-email-root", "--email", BOB]),
    );
    // Bob's laptop asks for the keys: an admin makes it his first key holder (new_root).
    let rid = id(&api.open_approval(&laptop_token, &id(&laptop)).await.ok());
    let ack = api.complete_approval(&rid, &laptop_token, &admin).await;
    assert_eq!(ack["tier"], "key_holder");
    // Later the laptop is lost too; the thief verifies first.
    disable(id(&laptop)).await;
    let (thief, _) = thief_device(&api, BOB, "bob thief later").await;
    assert_eq!(
        thief["tier"], "email_only",
        "the old allowance made the thief root"
    );
}

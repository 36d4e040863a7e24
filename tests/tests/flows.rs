//! The client end to end: three and more devices against a real server process.

// Helpers below unwrap like the tests they serve.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{io::BufRead, sync::atomic::Ordering};

use vouch_core::{
    EnrollmentState, Error,
    proto::{ApprovalPurpose, ApprovalStatus, DeviceKind, ErrorCode, Tier, VerifiedBy},
};
use vouch_e2e::*;
use vouch_testkit::{DEV_PASSWORD, TestServer, mistype};

const ALICE: &str = "alice@acme.test";
const SERVER: &str = env!("CARGO_BIN_EXE_vouch-e2e-server");

/// Phone by email code, laptop by the 6-digit code typed on the phone (then decrypts what
/// the phone wrote), tablet by the QR code the laptop scanned; listener, tiers and
/// persisted state along the way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_devices_email_code_and_qr() {
    let root = tempfile::tempdir().unwrap();
    let server = TestServer::start(SERVER, &[]);
    let phone = Device::open(root.path(), "phone", server.url(), DeviceKind::Mobile);
    assert_eq!(phone.client.state(), EnrollmentState::SignedOut);
    enroll_by_email(&phone.client, server.url(), ALICE).await;
    assert!(matches!(
        phone.client.state(),
        EnrollmentState::Trusted {
            verified_by: VerifiedBy::EmailCode,
            tier: Tier::KeyHolder,
            ..
        }
    ));
    assert_eq!(
        *phone.recorder.states.lock().unwrap(),
        ["untrusted", "verifying", "verifying", "trusted"]
    );
    let vault = phone.client.create_vault("Personal").await.unwrap();
    let item = phone
        .client
        .put_item(vault.id, None, b"wifi password: hunter2")
        .await
        .unwrap();
    assert!(item.synced);

    // Laptop: the code it shows, typed on the phone while the laptop waits.
    let laptop = Device::open(root.path(), "laptop", server.url(), DeviceKind::Web);
    sign_in_and_register(&laptop.client, ALICE).await;
    let laptop_name = laptop.client.default_device_name().unwrap();
    assert!(laptop_name.starts_with("alice laptop - TestOS 1/e2e"));
    let prompt = laptop.client.start_approval().await.unwrap();
    assert_eq!(prompt.purpose, ApprovalPurpose::Enroll);
    assert!(is_grouped_code(&prompt.code), "{:?}", prompt.code.len());
    assert!(prompt.qr_payload.starts_with("VOUCH2:"));
    assert_eq!(prompt.runs_left, vouch_core::RUNS_PER_CODE);
    assert_eq!(
        laptop.client.approval_prompt().unwrap(),
        Some(prompt.clone())
    );
    let waiter = wait_in_background(&laptop.client);
    let pending = phone.client.pending_requests().await.unwrap();
    assert_eq!(pending.len(), 1);
    let p = &pending[0];
    assert_eq!(p.request_id, prompt.request_id);
    assert_eq!(p.purpose, ApprovalPurpose::Enroll);
    assert_eq!(p.device_kind, DeviceKind::Web);
    assert_eq!(p.origin, "127.0.0.1");
    // "Trust this session?" names the device as it registered; no flags for a new
    // device asking from this network.
    assert_eq!(p.device_name, laptop_name);
    assert_eq!(p.requester_tier, None);
    assert!(!p.other_network);
    assert_eq!(p.status, ApprovalStatus::Pending);
    phone
        .client
        .approve(prompt.request_id, &prompt.code)
        .await
        .unwrap();
    let state = tokio::time::timeout(std::time::Duration::from_secs(15), waiter)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(matches!(
        state,
        EnrollmentState::Trusted {
            verified_by: VerifiedBy::Approval,
            tier: Tier::KeyHolder,
            ..
        }
    ));
    assert_eq!(
        laptop.client.approval_prompt().unwrap(),
        None,
        "the code is gone"
    );
    assert!(phone.client.pending_requests().await.unwrap().is_empty());
    laptop.client.sync().await.unwrap();
    let vaults = laptop.client.vaults().unwrap();
    assert_eq!(vaults.len(), 1);
    assert_eq!(vaults[0].name, "Personal");
    assert!(vaults[0].has_key);
    let plain = laptop.read(vault.id, item.item_id).unwrap();
    assert_eq!(plain.as_slice(), b"wifi password: hunter2");

    // Tablet: its QR code scanned by the laptop (a web device may approve too).
    let tablet = Device::open(root.path(), "tablet", server.url(), DeviceKind::Mobile);
    sign_in_and_register(&tablet.client, ALICE).await;
    let prompt = tablet.client.start_approval().await.unwrap();
    assert!(prompt.qr_payload.starts_with("VOUCH2:"));
    let waiter = wait_in_background(&tablet.client);
    laptop.client.pending_requests().await.unwrap();
    laptop
        .client
        .approve_scanned(prompt.request_id, &prompt.qr_payload)
        .await
        .unwrap();
    let state = waiter.await.unwrap().unwrap();
    assert!(matches!(
        state,
        EnrollmentState::Trusted {
            verified_by: VerifiedBy::Approval,
            tier: Tier::KeyHolder,
            ..
        }
    ));
    tablet.client.sync().await.unwrap();
    assert_eq!(
        tablet.read(vault.id, item.item_id).unwrap().as_slice(),
        b"wifi password: hunter2"
    );

    // State survives a restart of the client.
    drop(tablet);
    let tablet = Device::open(root.path(), "tablet", server.url(), DeviceKind::Mobile);
    assert!(tablet.client.state().is_key_holder());
    assert_eq!(
        tablet.read(vault.id, item.item_id).unwrap().as_slice(),
        b"wifi password: hunter2"
    );
    assert_eq!(tablet.client.devices().await.unwrap().len(), 3);
}

/// "482 913": six digits in two groups of three.
fn is_grouped_code(code: &str) -> bool {
    let b = code.as_bytes();
    b.len() == 7
        && b[3] == b' '
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 3 || c.is_ascii_digit())
}

/// A wrong code fails the run before anything is sealed (the new device proved it shows
/// another code); the request stays pending, the failed run counts against the code, and
/// the right code then works. Input that is not a code never leaves the approver.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_code_is_refused_and_nothing_is_sealed() {
    let root = tempfile::tempdir().unwrap();
    let server = TestServer::start(SERVER, &[]);
    let relay = start_relay(server.url().to_owned()).await;
    // The approver talks through the relay (in pass-through mode) so we see what it sends.
    let approver = Device::open(root.path(), "phone", &relay.url, DeviceKind::Mobile);
    enroll_by_email(&approver.client, server.url(), ALICE).await;
    approver.client.create_vault("V").await.unwrap();
    let laptop = Device::open(root.path(), "laptop", server.url(), DeviceKind::Web);
    sign_in_and_register(&laptop.client, ALICE).await;
    let prompt = laptop.client.start_approval().await.unwrap();
    let waiter = wait_in_background(&laptop.client);
    approver.client.pending_requests().await.unwrap();
    let wrong = mistype(&prompt.code);
    let r = approver.client.approve(prompt.request_id, &wrong).await;
    assert!(matches!(r, Err(Error::WrongCode)), "{r:?}");
    // Not a code at all: refused before any run starts.
    let runs = relay.count("POST", "/runs");
    for junk in ["banana", "12345", "1234567"] {
        let r = approver.client.approve(prompt.request_id, junk).await;
        assert!(matches!(r, Err(Error::InvalidInput(_))), "{r:?}");
    }
    assert_eq!(relay.count("POST", "/runs"), runs, "no run for a non-code");
    assert!(
        relay.approvals_forwarded.lock().unwrap().is_empty(),
        "nothing may be sealed and sent"
    );
    let still = approver.client.pending_requests().await.unwrap();
    assert_eq!(still[0].status, ApprovalStatus::Pending, "still pending");
    assert!(!waiter.is_finished(), "the new device still waits");
    assert_eq!(
        laptop.client.approval_prompt().unwrap().unwrap().runs_left,
        vouch_core::RUNS_PER_CODE - 1,
        "the failed run was counted by the new device"
    );
    // The right code then works (typed with a dash this time).
    let dashed = prompt.code.replace(' ', "-");
    approver
        .client
        .approve(prompt.request_id, &dashed)
        .await
        .unwrap();
    assert_eq!(relay.approvals_forwarded.lock().unwrap().len(), 1);
    assert!(waiter.await.unwrap().unwrap().is_trusted());
}

/// A server that puts another key in the listed request cannot get the vault key: the
/// new device's key is bound in the PAKE transcript, so the run fails as a wrong code
/// and nothing is sealed. A swap after the approver listed the request changes nothing:
/// it keeps its first snapshot and seals to the genuine key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_swaps_the_key_is_caught() {
    let root = tempfile::tempdir().unwrap();
    let server = TestServer::start(SERVER, &[]);
    // The phone talks through the relay from the start (a server in the middle sits at
    // the server's address; a profile belongs to one URL), in pass-through mode until the
    // test turns the swap on.
    let relay = start_relay(server.url().to_owned()).await;
    let approver = Device::open(root.path(), "phone", &relay.url, DeviceKind::Mobile);
    enroll_by_email(&approver.client, server.url(), ALICE).await;
    approver.client.create_vault("V").await.unwrap();

    // 1. Swapped before the approver lists: the transcripts differ, the new device's MAC
    //    does not verify, the person's right code is refused; nothing is sealed.
    let laptop = Device::open(root.path(), "laptop", server.url(), DeviceKind::Web);
    sign_in_and_register(&laptop.client, ALICE).await;
    let prompt = laptop.client.start_approval().await.unwrap();
    let waiter = wait_in_background(&laptop.client);
    relay.swap.store(true, Ordering::SeqCst);
    approver.client.pending_requests().await.unwrap();
    let r = approver
        .client
        .approve(prompt.request_id, &prompt.code)
        .await;
    assert!(matches!(r, Err(Error::WrongCode)), "{r:?}");
    assert!(relay.approvals_forwarded.lock().unwrap().is_empty());
    approver.client.deny(prompt.request_id).await.unwrap();
    assert!(matches!(
        waiter.await.unwrap().unwrap(),
        EnrollmentState::Denied { .. }
    ));

    // 2. Genuine when listed, swapped afterwards: the approver keeps its first snapshot
    //    and seals to the key it bound in the run; the new device opens it.
    relay.swap.store(false, Ordering::SeqCst);
    laptop.client.register_device("laptop again").await.unwrap();
    let prompt = laptop.client.start_approval().await.unwrap();
    let first = approver.client.pending_requests().await.unwrap();
    relay.swap.store(true, Ordering::SeqCst);
    let again = approver.client.pending_requests().await.unwrap();
    assert_eq!(again, first, "the first snapshot is kept");
    approve_while_waiting(
        &laptop.client,
        &approver.client,
        prompt.request_id,
        &prompt.code,
    )
    .await;
    laptop.client.sync().await.unwrap();
    assert!(
        laptop.client.vaults().unwrap()[0].has_key,
        "the envelope was sealed to the genuine key"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deny_expiry_and_device_limit() {
    let root = tempfile::tempdir().unwrap();
    let server = TestServer::start(SERVER, &["--approval-ttl", "60", "--device-limit", "3"]);
    let phone = Device::open(root.path(), "phone", server.url(), DeviceKind::Mobile);
    enroll_by_email(&phone.client, server.url(), ALICE).await;
    let laptop = Device::open(root.path(), "laptop", server.url(), DeviceKind::Web);
    sign_in_and_register(&laptop.client, ALICE).await;

    let prompt = laptop.client.start_approval().await.unwrap();
    phone.client.pending_requests().await.unwrap();
    phone.client.deny(prompt.request_id).await.unwrap();
    assert!(matches!(
        laptop.client.wait_for_approval().await.unwrap(),
        EnrollmentState::Denied { .. }
    ));

    laptop.client.register_device("laptop 2").await.unwrap();
    laptop.client.start_approval().await.unwrap();
    server.api().advance_clock(61).await;
    let state = laptop.client.wait_for_approval().await.unwrap();
    assert!(
        matches!(state, EnrollmentState::Expired { .. }),
        "{state:?}"
    );

    // Limit 3: phone + two pending devices. Laptop 2's expired request gave its place
    // back at once (issue 13: leftovers held it for a day).
    for name in ["third", "fourth"] {
        let d = Device::open(root.path(), name, server.url(), DeviceKind::Web);
        sign_in_and_register(&d.client, ALICE).await;
    }
    let fourth = Device::open(root.path(), "fifth", server.url(), DeviceKind::Web);
    fourth.client.sign_in(ALICE, DEV_PASSWORD).await.unwrap();
    match fourth.client.register_device("fifth").await {
        Err(Error::Server {
            code: ErrorCode::DeviceLimitReached,
            message,
            ..
        }) => assert!(message.contains("disable one")),
        other => panic!("expected device_limit_reached, got {other:?}"),
    }
    assert!(matches!(
        fourth.client.state(),
        EnrollmentState::Untrusted { .. }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_code_errors_are_typed() {
    let root = tempfile::tempdir().unwrap();
    // Expired after 10 s, re-sent after 30 s (the default): between the two.
    let server = TestServer::start(SERVER, &["--code-ttl", "10"]);
    let d = Device::open(root.path(), "d", server.url(), DeviceKind::Mobile);
    sign_in_and_register(&d.client, ALICE).await;
    d.client.remind_me_later().await.err();
    d.client.request_email_code().await.unwrap();
    let code = server.api().latest_code(ALICE).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    match d.client.submit_email_code(wrong).await {
        Err(Error::Server {
            code: ErrorCode::InvalidCode,
            attempts_left: Some(4),
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    server.api().advance_clock(11).await;
    match d.client.submit_email_code(&code).await {
        Err(Error::Server {
            code: ErrorCode::CodeExpired,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    match d.client.request_email_code().await {
        Err(Error::Server {
            code: ErrorCode::TooManyRequests,
            retry_after_secs: Some(_),
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    // "Remind me later" is only for an untrusted, unregistered session.
    let e = Device::open(root.path(), "e", server.url(), DeviceKind::Web);
    e.client.sign_in(ALICE, DEV_PASSWORD).await.unwrap();
    let s = e.client.remind_me_later().await.unwrap();
    assert!(matches!(
        s,
        EnrollmentState::Untrusted {
            reminded_later: true,
            ..
        }
    ));
    assert!(matches!(e.client.vaults(), Err(Error::InvalidState(_))));
    drop(e);
    let e = Device::open(root.path(), "e", server.url(), DeviceKind::Web);
    assert!(matches!(
        e.client.state(),
        EnrollmentState::Untrusted {
            reminded_later: true,
            ..
        }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_only_device_gets_keys_only_after_an_approval() {
    let root = tempfile::tempdir().unwrap();
    let server = TestServer::start(SERVER, &[]);
    let phone = Device::open(root.path(), "phone", server.url(), DeviceKind::Mobile);
    enroll_by_email(&phone.client, server.url(), ALICE).await;
    let vault = phone.client.create_vault("Personal").await.unwrap();
    let item = phone
        .client
        .put_item(vault.id, None, b"secret")
        .await
        .unwrap();
    let laptop = Device::open(root.path(), "laptop", server.url(), DeviceKind::Web);
    enroll_by_email(&laptop.client, server.url(), ALICE).await; // "I don't have access to my trusted device"
    assert!(
        matches!(
            laptop.client.state(),
            EnrollmentState::Trusted {
                verified_by: VerifiedBy::EmailCode,
                tier: Tier::EmailOnly,
                ..
            }
        ),
        "a later email-verified device is email-only"
    );
    // Email alone brings no vault access at all: not even the vault names.
    laptop.client.sync().await.unwrap();
    assert!(laptop.client.vaults().unwrap().is_empty());
    assert!(matches!(
        laptop.client.get_item(vault.id, item.item_id),
        Err(Error::InvalidState(_))
    ));
    // It asks a key holder, showing a code like a new device; the phone sees who asks.
    let prompt = laptop.client.request_vault_keys().await.unwrap();
    assert_eq!(prompt.purpose, ApprovalPurpose::ShareKeys);
    let pending = phone.client.pending_requests().await.unwrap();
    assert_eq!(pending[0].purpose, ApprovalPurpose::ShareKeys);
    assert_eq!(pending[0].requester_tier, Some(Tier::EmailOnly));
    approve_while_waiting(
        &laptop.client,
        &phone.client,
        prompt.request_id,
        &prompt.code,
    )
    .await;
    assert_eq!(
        laptop.client.state().tier(),
        Some(Tier::KeyHolder),
        "the approval makes it a key holder"
    );
    laptop.client.sync().await.unwrap();
    assert_eq!(
        laptop.read(vault.id, item.item_id).unwrap().as_slice(),
        b"secret"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicting_writes_are_kept() {
    let root = tempfile::tempdir().unwrap();
    let server = TestServer::start(SERVER, &[]);
    let phone = Device::open(root.path(), "phone", server.url(), DeviceKind::Mobile);
    enroll_by_email(&phone.client, server.url(), ALICE).await;
    let vault = phone.client.create_vault("V").await.unwrap();
    let laptop = Device::open(root.path(), "laptop", server.url(), DeviceKind::Web);
    enroll_by_approval(&laptop.client, &phone.client, ALICE).await;
    let item = phone.client.put_item(vault.id, None, b"v1").await.unwrap();
    laptop.client.sync().await.unwrap();
    // Both edit version 1.
    phone
        .client
        .put_item(vault.id, Some(item.item_id), b"phone edit")
        .await
        .unwrap();
    let mine = laptop
        .client
        .put_item(vault.id, Some(item.item_id), b"laptop edit")
        .await
        .unwrap();
    assert!(!mine.synced, "the server refused it as stale");
    // Said at once (issue 13: it read as "queued"), with the copy's id, and the vault
    // already shows both versions without another sync.
    let copy = mine.conflict_copy.expect("kept as a copy");
    assert_eq!(
        laptop.read(vault.id, copy).unwrap().as_slice(),
        b"laptop edit"
    );
    assert_eq!(
        laptop.read(vault.id, item.item_id).unwrap().as_slice(),
        b"phone edit"
    );
    let all: Vec<Vec<u8>> = laptop
        .client
        .list_items(vault.id)
        .unwrap()
        .iter()
        .map(|i| laptop.read(vault.id, i.item_id).unwrap().to_vec())
        .collect();
    assert!(
        all.contains(&b"laptop edit".to_vec()),
        "the losing write is kept as a copy"
    );
    phone.client.sync().await.unwrap();
    assert_eq!(phone.client.list_items(vault.id).unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disable_wipes_the_device_on_disk() {
    let root = tempfile::tempdir().unwrap();
    let server = TestServer::start(SERVER, &[]);
    let web = Device::open(root.path(), "web", server.url(), DeviceKind::Web);
    enroll_by_email(&web.client, server.url(), ALICE).await;
    let vault = web.client.create_vault("V").await.unwrap();
    let phone = Device::open(root.path(), "phone", server.url(), DeviceKind::Mobile);
    enroll_by_approval(&phone.client, &web.client, ALICE).await;
    phone.client.sync().await.unwrap();
    let plaintext = b"PLAINTEXT-the-phone-held-this";
    let it = phone
        .client
        .put_item(vault.id, None, plaintext)
        .await
        .unwrap();
    // The item's ciphertext as stored on the phone (and the server).
    let sealed = stored_ciphertext(&phone, vault.id, it.item_id);
    assert!(
        contains(&phone.database_bytes(), &sealed),
        "control: the ciphertext was on disk"
    );
    let events = {
        let c = phone.client.clone();
        tokio::spawn(async move { c.run_events().await })
    };
    let phone_id = phone.client.state().device_id().unwrap();
    web.client.disable_device(phone_id).await.unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(15), events)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(phone.client.state(), EnrollmentState::Wiped);
    assert!(phone.recorder.states.lock().unwrap().last().unwrap() == "wiped");
    let bytes = phone.database_bytes();
    assert!(!contains(&bytes, &sealed), "item ciphertext still on disk");
    assert!(!contains(&bytes, plaintext));
    assert!(matches!(
        phone.client.get_item(vault.id, it.item_id),
        Err(Error::Wiped)
    ));
    assert!(matches!(phone.client.devices().await, Err(Error::Wiped)));
}

/// The item's ciphertext as the device stored it (read through a second connection).
fn stored_ciphertext(d: &Device, vault: uuid::Uuid, item: uuid::Uuid) -> Vec<u8> {
    let keys = vouch_core::keystore::SoftwareSecretStore::open(d.dir.join("keys")).unwrap();
    let store = vouch_core::store::Store::open(d.client.database_path(), &keys).unwrap();
    store.item(vault, item).unwrap().unwrap().sealed.unwrap()
}

/// Rule 7 with the vouch chain: deprovisioning disables every device of the user in one
/// transaction, and each stops at once — but an admin is not on the user's chain, so a key
/// holder takes it as the server's word and *locks* (keys kept, nothing opens, nothing is
/// sealed to it any more); only a revocation signed by a key holder makes one shred. A
/// device that holds no vault key wipes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deprovisioning_stops_every_device_of_the_user() {
    let root = tempfile::tempdir().unwrap();
    let server = TestServer::start(SERVER, &[]);
    let admin = Device::open(root.path(), "admin", server.url(), DeviceKind::Web);
    enroll_by_email(&admin.client, server.url(), "admin@acme.test").await;
    let phone = Device::open(root.path(), "phone", server.url(), DeviceKind::Mobile);
    enroll_by_email(&phone.client, server.url(), ALICE).await;
    let vault = phone.client.create_vault("V").await.unwrap();
    let item = phone
        .client
        .put_item(vault.id, None, b"kept, locked")
        .await
        .unwrap();
    let laptop = Device::open(root.path(), "laptop", server.url(), DeviceKind::Web);
    enroll_by_approval(&laptop.client, &phone.client, ALICE).await;
    laptop.client.sync().await.unwrap();
    let browser = Device::open(root.path(), "browser", server.url(), DeviceKind::Web);
    enroll_by_email(&browser.client, server.url(), ALICE).await;
    assert!(!browser.client.state().is_key_holder());
    let alice_id = phone.client.state().user().unwrap().id;
    assert_eq!(
        admin
            .client
            .admin_devices(Some(alice_id))
            .await
            .unwrap()
            .len(),
        3
    );
    let disabled = admin.client.admin_deprovision(alice_id).await.unwrap();
    assert_eq!(disabled.len(), 3);
    for d in [&phone, &laptop] {
        assert!(matches!(d.client.sync().await, Err(Error::Locked)));
        assert!(d.client.is_locked());
        assert!(matches!(
            d.client.get_item(vault.id, item.item_id),
            Err(Error::Locked)
        ));
        assert!(matches!(d.client.devices().await, Err(Error::Locked)));
        // Kept: the vault key is still in its store.
        let keys = vouch_core::keystore::SoftwareSecretStore::open(d.dir.join("keys")).unwrap();
        let store = vouch_core::store::Store::open(d.client.database_path(), &keys).unwrap();
        assert_eq!(store.vault_key_epochs(vault.id).unwrap(), vec![0]);
    }
    assert!(matches!(browser.client.sync().await, Err(Error::Wiped)));
    assert_eq!(browser.client.state(), EnrollmentState::Wiped);
    // Nothing was left to rotate the vault keys to: the audit log says so.
    let log = admin
        .client
        .admin_audit(Some(alice_id), None)
        .await
        .unwrap();
    let entry = log
        .iter()
        .find(|e| e.action == vouch_core::proto::AuditAction::Deprovisioned)
        .unwrap();
    let detail = entry.detail.as_deref().unwrap();
    assert!(
        detail.contains("no vault key was rotated") && detail.contains("2 locked key holder(s)"),
        "{detail}"
    );
    // The admin is untouched.
    assert!(admin.client.devices().await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_reads_work_and_queued_writes_are_delivered_after_restart() {
    let root = tempfile::tempdir().unwrap();
    let mut server = TestServer::start(SERVER, &[]);
    let phone = Device::open(root.path(), "phone", server.url(), DeviceKind::Mobile);
    enroll_by_email(&phone.client, server.url(), ALICE).await;
    let vault = phone.client.create_vault("V").await.unwrap();
    let online = phone
        .client
        .put_item(vault.id, None, b"written online")
        .await
        .unwrap();
    server.stop();
    // Reads come from the store.
    assert_eq!(
        phone.read(vault.id, online.item_id).unwrap().as_slice(),
        b"written online"
    );
    // Writes are accepted locally and queued.
    let offline = phone
        .client
        .put_item(vault.id, None, b"written offline")
        .await
        .unwrap();
    assert!(!offline.synced);
    let v2 = phone.client.create_vault("Made offline").await.unwrap();
    let in_v2 = phone
        .client
        .put_item(v2.id, None, b"in the offline vault")
        .await
        .unwrap();
    assert_eq!(phone.client.queued_operations().unwrap(), 3);
    match phone.client.sync().await {
        Err(e @ Error::Offline) => {
            assert_eq!(e.to_string(), "offline: the server cannot be reached")
        }
        other => panic!("expected Offline, got {other:?}"),
    }
    assert!(matches!(phone.client.devices().await, Err(Error::Offline)));
    // Restart the client too: the queue is on disk.
    drop(phone);
    server.restart();
    let phone = Device::open(root.path(), "phone", server.url(), DeviceKind::Mobile);
    let report = phone.client.sync().await.unwrap();
    assert_eq!(report.sent, 3);
    assert_eq!(phone.client.queued_operations().unwrap(), 0);
    // Another device sees them.
    let laptop = Device::open(root.path(), "laptop", server.url(), DeviceKind::Web);
    enroll_by_approval(&laptop.client, &phone.client, ALICE).await;
    laptop.client.sync().await.unwrap();
    assert_eq!(
        laptop.read(vault.id, offline.item_id).unwrap().as_slice(),
        b"written offline"
    );
    assert_eq!(
        laptop.read(v2.id, in_v2.item_id).unwrap().as_slice(),
        b"in the offline vault"
    );
}

/// Regression (crash stress): the server committed, the client never heard. Registering,
/// verifying by code, opening a request and uploading an item are each asked again and
/// must land on the same device / request / item — not an orphan holding the device name,
/// a device stuck without its token, a blocked `approval_pending`, or a conflict copy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_lost_after_the_server_committed_are_retried_safely() {
    let root = tempfile::tempdir().unwrap();
    let server = TestServer::start(SERVER, &[]);
    let relay = start_relay(server.url().to_owned()).await;
    let phone = Device::open(root.path(), "phone", &relay.url, DeviceKind::Mobile);
    phone.client.sign_in(ALICE, DEV_PASSWORD).await.unwrap();
    relay.lose_next_answer("/v1/devices");
    assert!(matches!(
        phone.client.register_device("phone").await,
        Err(Error::ServerFailed { status: 502 })
    ));
    let state = phone.client.register_device("phone").await.unwrap();
    phone.client.request_email_code().await.unwrap();
    let code = server.api().latest_code(ALICE).await;
    relay.lose_next_answer("/email-code/verify");
    assert!(matches!(
        phone.client.submit_email_code(&code).await,
        Err(Error::ServerFailed { status: 502 })
    ));
    assert!(
        phone
            .client
            .submit_email_code(&code)
            .await
            .unwrap()
            .is_trusted()
    );
    let devices = phone.client.devices().await.unwrap();
    assert_eq!(devices.len(), 1, "no orphan pending device");
    assert_eq!(Some(devices[0].id), state.device_id());

    let vault = phone.client.create_vault("V").await.unwrap();
    let item = uuid::Uuid::new_v4();
    relay.lose_next_answer(&format!("/items/{item}"));
    let lost_put = phone
        .client
        .put_item(vault.id, Some(item), b"sent once, heard never")
        .await
        .unwrap();
    assert!(!lost_put.synced);
    let report = phone.client.flush_outbox().await.unwrap();
    assert_eq!((report.sent, report.conflicts, report.queued), (1, 0, 0));
    assert_eq!(
        phone.client.list_items(vault.id).unwrap().len(),
        1,
        "no conflict copy of our own write"
    );

    let laptop = Device::open(root.path(), "laptop", &relay.url, DeviceKind::Web);
    sign_in_and_register(&laptop.client, ALICE).await;
    relay.lose_next_answer("/approval-requests");
    assert!(matches!(
        laptop.client.start_approval().await,
        Err(Error::ServerFailed { status: 502 })
    ));
    let prompt = laptop.client.start_approval().await.unwrap();
    approve_while_waiting(
        &laptop.client,
        &phone.client,
        prompt.request_id,
        &prompt.code,
    )
    .await;
    assert_eq!(
        phone.client.devices().await.unwrap().len(),
        2,
        "no orphan request or device from the lost answer"
    );
    laptop.client.sync().await.unwrap();
    assert_eq!(
        laptop.read(vault.id, lost_put.item_id).unwrap().as_slice(),
        b"sent once, heard never"
    );
}

fn spawn_client(
    profile: &std::path::Path,
    url: &str,
    args: &[&str],
) -> (
    std::process::Child,
    std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
) {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_vouch-e2e-client"))
        .arg(profile)
        .arg(url)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    (child, lines)
}

fn sigkill(child: &mut std::process::Child) {
    let _ = std::process::Command::new("kill")
        .arg("-KILL")
        .arg(child.id().to_string())
        .status();
    let _ = child.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_approval_and_vault_writes_loses_nothing() {
    let root = tempfile::tempdir().unwrap();
    let server = TestServer::start(SERVER, &[]);
    let phone = Device::open(root.path(), "phone", server.url(), DeviceKind::Mobile);
    enroll_by_email(&phone.client, server.url(), ALICE).await;
    let vault = phone.client.create_vault("V").await.unwrap();
    let item = phone
        .client
        .put_item(vault.id, None, b"before the crash")
        .await
        .unwrap();
    // The crashing device: registered in this process, then driven by a child process.
    let crash_dir = root.path().join("crash");
    {
        let d = Device::open(root.path(), "crash", server.url(), DeviceKind::Web);
        sign_in_and_register(&d.client, ALICE).await;
    }
    let (mut child, mut lines) = spawn_client(&crash_dir, server.url(), &["request"]);
    let line = tokio::task::spawn_blocking(move || lines.next().unwrap().unwrap())
        .await
        .unwrap();
    let parts: Vec<&str> = line.split(' ').collect();
    assert_eq!(parts[0], "REQUEST");
    let request_id: uuid::Uuid = parts[1].parse().unwrap();
    let code = parts[2].to_owned();
    sigkill(&mut child); // killed while waiting, before any run
    // The person types the code on the phone while the new device is down: the run waits
    // on the server, and the restarted device answers it from its persisted request.
    let approval = {
        let c = phone.client.clone();
        tokio::spawn(async move {
            c.pending_requests().await?;
            c.approve(request_id, &code).await
        })
    };
    let (mut child, mut lines) = spawn_client(&crash_dir, server.url(), &["resume"]);
    let line = tokio::task::spawn_blocking(move || lines.next().unwrap().unwrap())
        .await
        .unwrap();
    approval.await.unwrap().unwrap();
    assert_eq!(line, "STATE trusted");
    let _ = child.wait();

    // Vault writes killed at a random point: every acknowledged item survives.
    let (mut child, lines) =
        spawn_client(&crash_dir, server.url(), &["write", &vault.id.to_string()]);
    let acked = tokio::task::spawn_blocking(move || {
        let mut acked = Vec::new();
        for line in lines.take(15) {
            acked.push(line.unwrap());
        }
        acked
    })
    .await
    .unwrap();
    sigkill(&mut child);
    let d = Device::open(root.path(), "crash", server.url(), DeviceKind::Web);
    assert!(d.client.state().is_trusted());
    let keys = vouch_core::keystore::SoftwareSecretStore::open(crash_dir.join("keys")).unwrap();
    assert!(
        vouch_core::store::Store::open(d.client.database_path(), &keys)
            .unwrap()
            .integrity_check()
            .unwrap()
    );
    for line in &acked {
        let parts: Vec<&str> = line.split(' ').collect();
        let got = d
            .client
            .get_item(vault.id, parts[1].parse().unwrap())
            .unwrap()
            .expect("acknowledged item lost");
        assert_eq!(got.as_slice(), format!("item {}", parts[2]).as_bytes());
    }
    d.client.sync().await.unwrap();
    assert_eq!(
        d.read(vault.id, item.item_id).unwrap().as_slice(),
        b"before the crash"
    );
    assert_eq!(d.client.queued_operations().unwrap(), 0);
}

/// Deleting a vault needs the server, and a delete that cannot go through changes nothing:
/// an unknown vault (`InvalidState`), offline (`Offline`). A vault created offline, whose
/// creation is still queued, is created on the server first and then deleted; the other
/// device drops what it had.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vault_delete_that_cannot_go_through_changes_nothing() {
    let root = tempfile::tempdir().unwrap();
    let mut server = TestServer::start(SERVER, &[]);
    let phone = Device::open(root.path(), "phone", server.url(), DeviceKind::Mobile);
    enroll_by_email(&phone.client, server.url(), ALICE).await;
    let vault = phone.client.create_vault("V").await.unwrap();
    let item = phone
        .client
        .put_item(vault.id, None, b"kept")
        .await
        .unwrap();
    let laptop = Device::open(root.path(), "laptop", server.url(), DeviceKind::Web);
    enroll_by_approval(&laptop.client, &phone.client, ALICE).await;
    laptop.client.sync().await.unwrap();
    assert!(matches!(
        phone.client.delete_vault(uuid::Uuid::new_v4()).await,
        Err(Error::InvalidState(_))
    ));
    server.stop();
    let offline = phone.client.create_vault("Made offline").await.unwrap();
    assert!(matches!(
        phone.client.delete_vault(vault.id).await,
        Err(Error::Offline)
    ));
    let read = phone.read(vault.id, item.item_id).unwrap();
    assert_eq!(read.as_slice(), b"kept");
    assert_eq!(phone.client.vaults().unwrap().len(), 2);
    server.restart();
    // The first call after the restart: the queued creation goes out before the deletion.
    phone.client.delete_vault(offline.id).await.unwrap();
    phone.client.delete_vault(vault.id).await.unwrap();
    assert!(phone.client.vaults().unwrap().is_empty());
    let report = laptop.client.sync().await.unwrap();
    assert_eq!(report.vaults_deleted, vec![vault.id], "{report:?}");
    assert!(laptop.client.vaults().unwrap().is_empty());
}

/// A vault of more items than one answer carries (`ITEMS_PAGE`) reaches a new key holder
/// whole: the client asks page after page (a server answers at most a page, so a
/// client's answers stay bounded).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vault_larger_than_a_page_arrives_whole() {
    let root = tempfile::tempdir().unwrap();
    let server = TestServer::start(SERVER, &[]);
    let [phone] = key_holders(
        root.path(),
        server.url(),
        ALICE,
        [("phone", DeviceKind::Mobile)],
    )
    .await;
    let vault = phone.client.create_vault("Many").await.unwrap().id;
    let n = 2 * vouch_core::proto::ITEMS_PAGE + 7;
    let mut items = Vec::with_capacity(n);
    for i in 0..n {
        let value = format!("secret {i}");
        items.push((
            phone
                .client
                .put_item(vault, None, value.as_bytes())
                .await
                .unwrap()
                .item_id,
            value,
        ));
    }
    let laptop = Device::open(root.path(), "laptop", server.url(), DeviceKind::Web);
    sign_in_and_register(&laptop.client, ALICE).await;
    let p = laptop.client.start_approval().await.unwrap();
    approve_while_waiting(&laptop.client, &phone.client, p.request_id, &p.code).await;
    let report = laptop.client.sync().await.unwrap();
    assert_eq!(report.refused, 0, "{report:?}");
    for (item, value) in &items {
        assert_eq!(laptop.read(vault, *item).as_deref(), Some(value.as_bytes()));
    }
}

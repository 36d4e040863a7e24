//! Unit tests of the enrollment state machine on a scripted fake transport: every
//! transition, without a server process. The fake answers as the v1/Trust v2 contract
//! says and, for an approval, plays the approver with the real crypto.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicBool, Ordering},
};

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;
use vouch_proto::{Bytes, DeviceKind, Tier, VerifiedBy};

use super::{Client, ClientConfig, DeviceInfo, EnrollmentState, Verification};
use crate::{
    crypto::{
        ApprovalCode, ApprovalPayload, ApproverRun, ConfirmedRun, Descriptor, DeviceIdentity,
        PakePassword, RunContext,
    },
    error::{Error, Result},
    keystore::SoftwareSecretStore,
    transport::{EventStream, Transport, Wire, WireFuture},
};

type Handler = Box<dyn FnMut(&Method, &str, Option<&Value>) -> Result<Value> + Send>;

/// A scripted server: one handler for every call; records `"METHOD path"`.
struct Fake {
    handler: Mutex<Handler>,
    calls: Mutex<Vec<String>>,
}

impl Wire for Fake {
    fn call<'a>(
        &'a self,
        method: Method,
        path: &'a str,
        _token: Option<&'a str>,
        body: Option<Vec<u8>>,
    ) -> WireFuture<'a, Vec<u8>> {
        self.calls.lock().unwrap().push(format!("{method} {path}"));
        let body: Option<Value> = body.map(|b| serde_json::from_slice(&b).unwrap());
        let r = (self.handler.lock().unwrap())(&method, path, body.as_ref())
            .map(|v| serde_json::to_vec(&v).unwrap());
        Box::pin(async move { r })
    }

    fn events<'a>(
        &'a self,
        _token: &'a str,
        _query: &'a str,
        _last_id: Option<i64>,
    ) -> WireFuture<'a, EventStream> {
        Box::pin(async { Err(Error::Offline) })
    }
}

const USER: Uuid = Uuid::from_u128(0xa11ce);
const DEVICE: Uuid = Uuid::from_u128(0xd1);
const REQUEST: Uuid = Uuid::from_u128(0x5e);

fn user() -> Value {
    json!({"id": USER, "email": "alice@acme.test", "username": "alice",
        "workspace_id": Uuid::nil(), "workspace_name": "Acme", "role": "member"})
}

fn device(bundle: &Value, status: &str, tier: Option<&str>) -> Value {
    json!({"id": DEVICE, "user_id": USER, "name": "alice laptop", "kind": "web",
        "platform": "Linux / test", "status": status, "key_bundle": bundle,
        "created_at": "2026-01-01T00:00:00Z", "origin": "127.0.0.1", "tier": tier})
}

fn server_error(code: &str) -> Error {
    Error::Server {
        code: serde_json::from_value(json!(code)).unwrap(),
        message: code.into(),
        attempts_left: None,
        retry_after_secs: None,
    }
}

struct Harness {
    client: Client,
    fake: Arc<Fake>,
    _dir: tempfile::TempDir,
}

fn client(handler: Handler) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let fake = Arc::new(Fake {
        handler: Mutex::new(handler),
        calls: Mutex::new(Vec::new()),
    });
    let config = ClientConfig {
        profile_dir: dir.path().join("p"),
        server_url: "http://127.0.0.1:9".into(),
        device: DeviceInfo {
            kind: DeviceKind::Web,
            model: "laptop".into(),
            os: "Linux".into(),
            app: "test".into(),
        },
        secret_store: Arc::new(SoftwareSecretStore::open(dir.path().join("keys")).unwrap()),
        listener: None,
        tls: Default::default(),
        presence: None,
    };
    let client = Client::open_on(config, Transport::with(fake.clone())).unwrap();
    Harness {
        client,
        fake,
        _dir: dir,
    }
}

/// The common routes up to a registered device; `rest` answers everything else.
fn server(
    mut rest: impl FnMut(&Method, &str, Option<&Value>, &Value) -> Result<Value> + Send + 'static,
) -> Handler {
    let bundle = Arc::new(Mutex::new(Value::Null));
    Box::new(move |method, path, body| match (method.as_str(), path) {
        ("POST", "/v1/auth/login") => Ok(json!({"account_token": "vat_x",
            "expires_at": "2030-01-01T00:00:00Z", "user": user()})),
        ("POST", "/v1/devices") => {
            let b = body.unwrap()["key_bundle"].clone();
            *bundle.lock().unwrap() = b.clone();
            Ok(device(&b, "pending", None))
        }
        _ => {
            let b = bundle.lock().unwrap().clone();
            rest(method, path, body, &b)
        }
    })
}

async fn registered(h: &Harness) {
    assert_eq!(h.client.state(), EnrollmentState::SignedOut);
    let s = h.client.sign_in("alice@acme.test", "pw").await.unwrap();
    assert!(matches!(
        s,
        EnrollmentState::Untrusted {
            reminded_later: false,
            ..
        }
    ));
    let s = h.client.register_device("alice laptop").await.unwrap();
    assert!(matches!(
        s,
        EnrollmentState::Verifying {
            verification: Verification::NotStarted,
            ..
        }
    ));
}

#[tokio::test]
async fn signed_out_untrusted_remind_later_and_back_to_setup() {
    let h = client(server(|_, _, _, _| Err(Error::Offline)));
    h.client.sign_in("alice@acme.test", "pw").await.unwrap();
    let s = h.client.remind_me_later().await.unwrap();
    assert!(matches!(
        s,
        EnrollmentState::Untrusted {
            reminded_later: true,
            ..
        }
    ));
    // Setup stays reachable from "not secure".
    let s = h.client.register_device("alice laptop").await.unwrap();
    assert_eq!(s.name(), "verifying");
    // Signing in again while verifying is refused, and nothing is sent.
    let before = h.fake.calls.lock().unwrap().len();
    assert!(matches!(
        h.client.sign_in("alice@acme.test", "pw").await,
        Err(Error::InvalidState(_))
    ));
    assert_eq!(h.fake.calls.lock().unwrap().len(), before);
}

#[tokio::test]
async fn email_code_makes_the_tier_the_server_says() {
    for (tier, expected) in [
        ("key_holder", Tier::KeyHolder),
        ("email_only", Tier::EmailOnly),
    ] {
        let h = client(server(move |_, path, _, bundle| {
            if path.ends_with("/email-code") {
                Ok(json!({"expires_at": "2030-01-01T00:00:00Z",
                    "resend_after": "2030-01-01T00:00:00Z"}))
            } else if path.ends_with("/email-code/verify") {
                Ok(json!({"device": device(bundle, "trusted", Some(tier)),
                    "device_token": "vdt_x"}))
            } else {
                Err(Error::Offline)
            }
        }));
        registered(&h).await;
        let s = h.client.request_email_code().await.unwrap();
        assert!(matches!(
            s,
            EnrollmentState::Verifying {
                verification: Verification::EmailCode { .. },
                ..
            }
        ));
        let s = h.client.submit_email_code("123456").await.unwrap();
        assert!(matches!(
            s,
            EnrollmentState::Trusted {
                verified_by: VerifiedBy::EmailCode,
                ..
            }
        ));
        assert_eq!(s.tier(), Some(expected));
        // An email-only device cannot create vaults, checked before asking.
        if expected == Tier::EmailOnly {
            assert!(matches!(
                h.client.create_vault("v").await,
                Err(Error::KeyHolderRequired)
            ));
        }
    }
}

/// Answers for an open request: opened, then `status` on every read.
fn request_routes(
    status: &'static str,
) -> impl FnMut(&Method, &str, Option<&Value>, &Value) -> Result<Value> + Send + 'static {
    move |_, path, _, bundle| {
        if path.ends_with("/approval-requests") {
            Ok(json!({"id": REQUEST, "purpose": "enroll",
                "expires_at": "2030-01-01T00:00:00Z", "device": device(bundle, "pending", None)}))
        } else if path == format!("/v1/approval-requests/{REQUEST}") {
            Ok(json!({"id": REQUEST, "status": status, "purpose": "enroll",
                "expires_at": "2030-01-01T00:00:00Z"}))
        } else {
            Err(server_error("not_found"))
        }
    }
}

#[tokio::test]
async fn approval_denied_expired_or_cancelled() {
    for (status, expected) in [
        ("denied", "denied"),
        ("expired", "expired"),
        ("cancelled", "verifying"),
    ] {
        let h = client(server(request_routes(status)));
        registered(&h).await;
        let p = h.client.start_approval().await.unwrap();
        assert_eq!(p.runs_left, 3);
        assert_eq!(p.code.len(), 7);
        assert!(matches!(
            h.client.state(),
            EnrollmentState::Verifying {
                verification: Verification::Approval { .. },
                ..
            }
        ));
        let s = h.client.check_approval().await.unwrap().unwrap();
        assert_eq!(s.name(), expected, "{status}");
        assert!(h.client.approval_prompt().unwrap().is_none());
        if expected != "verifying" {
            // Denied or expired: registering again starts over with a fresh key.
            let s = h.client.register_device("alice laptop").await.unwrap();
            assert_eq!(s.name(), "verifying");
        }
    }
}

/// The fake approver of a run: its message, then its confirmation once B answered.
struct Approver {
    identity: DeviceIdentity,
    run: Option<ApproverRun>,
    confirmed: Option<ConfirmedRun>,
}

#[tokio::test]
async fn approval_with_the_right_code_trusts_a_wrong_one_does_not() {
    for right in [true, false] {
        let code = Arc::new(Mutex::new(None::<ApprovalCode>));
        let approver = Arc::new(Mutex::new(Approver {
            identity: DeviceIdentity::generate().unwrap(),
            run: None,
            confirmed: None,
        }));
        let run_id = Uuid::from_u128(0x12);
        let (c2, a2) = (code.clone(), approver.clone());
        let mut opened = request_routes("pending");
        let h = client(server(move |method, path, body, bundle| {
            let base = format!("/v1/approval-requests/{REQUEST}");
            let mut a = a2.lock().unwrap();
            let approver_device = json!({"id": Uuid::from_u128(0xa9), "user_id": USER,
                "name": "phone", "kind": "mobile", "platform": "p", "status": "trusted",
                "key_bundle": Bytes(a.identity.public_key().bundle()),
                "created_at": "2026-01-01T00:00:00Z", "origin": "127.0.0.1", "tier": "key_holder"});
            let descriptor = Descriptor {
                name: "alice laptop".into(),
                kind: "web".into(),
                platform: "Linux / test".into(),
                origin: "127.0.0.1".into(),
            };
            let ctx = RunContext {
                purpose: "enroll".into(),
                user_id: USER,
                request_id: REQUEST,
                requester_id: DEVICE,
                approver_id: Uuid::from_u128(0xa9),
                requester_bundle: serde_json::from_value::<Bytes>(bundle.clone()).unwrap().0,
                approver_bundle: a.identity.public_key().bundle(),
                descriptor,
            };
            if method == Method::GET && path == base {
                if let Some(confirmed) = &a.confirmed {
                    let payload = ApprovalPayload::default().seal(confirmed).unwrap();
                    return Ok(
                        json!({"id": REQUEST, "status": "approved", "purpose": "enroll",
                        "expires_at": "2030-01-01T00:00:00Z",
                        "run": {"id": run_id, "approver": approver_device, "secret": "code",
                            "msg_a": Bytes(a.run.as_ref().map_or_else(Vec::new, |r| r.message().to_vec())),
                            "mac_a": Bytes(confirmed.mac_a().unwrap().to_vec()),
                            "payload": Bytes(payload)}}),
                    );
                }
                if a.run.is_none() {
                    // The person types the code on the approver (or a wrong one).
                    let shown = c2.lock().unwrap().clone().unwrap();
                    let typed = if right {
                        shown
                    } else {
                        loop {
                            let c = ApprovalCode::generate().unwrap();
                            if c != shown {
                                break c;
                            }
                        }
                    };
                    a.run = Some(
                        ApproverRun::start(PakePassword::Code(&typed), USER, REQUEST).unwrap(),
                    );
                }
                let msg_a = a.run.as_ref().unwrap().message().to_vec();
                return Ok(
                    json!({"id": REQUEST, "status": "pending", "purpose": "enroll",
                    "expires_at": "2030-01-01T00:00:00Z",
                    "run": {"id": run_id, "approver": approver_device, "secret": "code",
                        "msg_a": Bytes(msg_a)}}),
                );
            }
            if path.ends_with("/response") {
                let b = body.unwrap();
                let msg_b: Bytes = serde_json::from_value(b["msg_b"].clone()).unwrap();
                let mac_b: Bytes = serde_json::from_value(b["mac_b"].clone()).unwrap();
                let run = a.run.take().unwrap();
                // A MAC that does not verify: the approver stops (no confirmation).
                if let Ok(c) = run.finish(&ctx, &msg_b.0, &mac_b.0) {
                    a.confirmed = Some(c);
                }
                return Ok(json!({"id": REQUEST, "status": "pending"}));
            }
            if path.ends_with("/ack") {
                return Ok(
                    json!({"status": "completed", "device_token": "vdt_y", "tier": "key_holder"}),
                );
            }
            opened(method, path, body, bundle)
        }));
        registered(&h).await;
        let p = h.client.start_approval().await.unwrap();
        *code.lock().unwrap() = Some(ApprovalCode::parse(&p.code).unwrap());
        // First look: the run arrives and is answered (counted).
        assert_eq!(h.client.check_approval().await.unwrap(), None);
        assert_eq!(h.client.approval_prompt().unwrap().unwrap().runs_left, 2);
        let outcome = h.client.check_approval().await.unwrap();
        if right {
            let s = outcome.unwrap();
            assert!(matches!(
                s,
                EnrollmentState::Trusted {
                    verified_by: VerifiedBy::Approval,
                    tier: Tier::KeyHolder,
                    ..
                }
            ));
            assert!(h.client.approval_prompt().unwrap().is_none());
            let calls = h.fake.calls.lock().unwrap().clone();
            assert!(calls.iter().any(|c| c.ends_with("/ack")));
        } else {
            // The approver's check failed: no confirmation ever comes, nothing is trusted.
            assert_eq!(outcome, None);
            assert_eq!(h.client.state().name(), "verifying");
            let calls = h.fake.calls.lock().unwrap().clone();
            assert!(!calls.iter().any(|c| c.ends_with("/ack")));
        }
    }
}

/// A fake server that makes this device trusted by its email code (of `tier`); while
/// `disabled` is set it answers every other call `device_disabled`, else it answers the
/// device list and a sign-out.
fn disabling_server(tier: &'static str, disabled: Arc<AtomicBool>) -> Harness {
    client(server(move |method, path, _, bundle| {
        if path == "/v1/chain" {
            // The first key holder starts the chain right after its email code.
            Ok(match *method {
                Method::GET => json!({"links": []}),
                _ => Value::Null,
            })
        } else if path.ends_with("/email-code") {
            Ok(json!({"expires_at": "2030-01-01T00:00:00Z",
                "resend_after": "2030-01-01T00:00:00Z"}))
        } else if path.ends_with("/email-code/verify") {
            Ok(json!({"device": device(bundle, "trusted", Some(tier)),
                "device_token": "vdt_x"}))
        } else if disabled.load(Ordering::SeqCst) {
            Err(server_error("device_disabled"))
        } else if path == "/v1/devices" {
            Ok(json!([device(bundle, "trusted", Some(tier))]))
        } else if path.ends_with("/sign-out") {
            Ok(json!({"disabled": []}))
        } else {
            Err(Error::Offline)
        }
    }))
}

async fn trusted_by_email(h: &Harness) {
    registered(h).await;
    h.client.request_email_code().await.unwrap();
    h.client.submit_email_code("123456").await.unwrap();
}

#[tokio::test]
async fn a_key_holder_locks_when_the_server_alone_says_disabled_and_unlocks_when_answered() {
    let disabled = Arc::new(AtomicBool::new(true));
    let h = disabling_server("key_holder", disabled.clone());
    trusted_by_email(&h).await;
    let vault = h.client.create_vault("Personal").await.unwrap();
    // The chain the server serves holds no revocation of this device (here: it even
    // dropped the root this device made): no shredding on its word.
    assert!(matches!(h.client.sync().await, Err(Error::Locked)));
    assert!(h.client.state().is_key_holder());
    assert!(h.client.is_locked());
    assert!(matches!(h.client.vaults(), Err(Error::Locked)));
    assert!(matches!(h.client.devices().await, Err(Error::Locked)));
    // Any answer does not unlock it; the server listing it as trusted again does (at
    // the next sync): the vault is still there.
    disabled.store(false, Ordering::SeqCst);
    h.client.devices().await.unwrap();
    assert!(h.client.is_locked());
    let _ = h.client.sync().await;
    assert!(!h.client.is_locked());
    assert_eq!(h.client.vaults().unwrap()[0].id, vault.id);
}

#[tokio::test]
async fn trusted_signs_out_to_wiped() {
    let h = disabling_server("email_only", Arc::new(AtomicBool::new(false)));
    // Never trusted: nothing to end on the server, nothing changes.
    h.client.sign_in("alice@acme.test", "pw").await.unwrap();
    assert!(!h.client.sign_out().await.unwrap());
    assert_eq!(h.client.state().name(), "untrusted");
    let h = disabling_server("email_only", Arc::new(AtomicBool::new(false)));
    trusted_by_email(&h).await;
    assert!(h.client.sign_out().await.unwrap());
    assert_eq!(h.client.state(), EnrollmentState::Wiped);
}

#[tokio::test]
async fn an_email_only_device_wipes_when_the_server_says_disabled() {
    let h = disabling_server("email_only", Arc::new(AtomicBool::new(true)));
    trusted_by_email(&h).await;
    // It holds no vault key: nothing to keep.
    assert!(matches!(h.client.sync().await, Err(Error::Wiped)));
    assert_eq!(h.client.state(), EnrollmentState::Wiped);
    assert!(matches!(h.client.vaults(), Err(Error::Wiped)));
}

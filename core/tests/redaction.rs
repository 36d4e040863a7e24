//! `Debug` of every secret-bearing type is redacted: a secret put in never comes out of
//! `{:?}` — not as text, not as a decimal byte list, not as hex or base64. (`VaultKey`
//! has no `Debug` at all, so it cannot be printed.)

// Helpers below unwrap like the tests they serve.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine;
use uuid::Uuid;
use vouch_core::{
    ApprovalPrompt,
    crypto::{DeviceIdentity, QrPayload, SecretBytes},
    proto::{
        AckResult, ApprovalPurpose, ApprovalStatus, Device, DeviceKind, DeviceStatus, LoginRequest,
        LoginResponse, Mail, Role, TrustedDevice, UserInfo, VerifyCodeRequest,
    },
    store::{AccountRow, ApprovalSide, PendingApprovalRow},
};

const SECRET: &str = "hunter2-s3cr3t-token-481516";

/// Whether `debug` shows `bytes` in any usual rendering.
fn leaks(debug: &str, bytes: &[u8]) -> bool {
    let decimal = bytes
        .iter()
        .take(6)
        .map(u8::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let hex: String = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    debug.contains(&decimal)
        || debug.contains(&hex)
        || debug.contains(&b64[..b64.len().min(12)])
        || std::str::from_utf8(bytes).is_ok_and(|s| debug.contains(s))
}

fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::UNIX_EPOCH
}

fn user() -> UserInfo {
    UserInfo {
        id: Uuid::nil(),
        email: "a@b.c".into(),
        username: "a".into(),
        role: Role::Member,
        workspace_id: Uuid::nil(),
        workspace_name: "W".into(),
    }
}

fn device() -> Device {
    Device {
        id: Uuid::nil(),
        user_id: Uuid::nil(),
        name: "n".into(),
        kind: DeviceKind::Web,
        platform: "p".into(),
        status: DeviceStatus::Trusted,
        key_bundle: vec![1u8; 37].into(),
        created_at: now(),
        verified_at: None,
        verified_by: None,
        tier: None,
        approved_by: None,
        last_seen_at: None,
        origin: "o".into(),
    }
}

#[test]
fn wire_bodies_with_passwords_codes_tokens_or_mail_are_redacted() {
    let printed = [
        format!(
            "{:?}",
            LoginRequest {
                email: "a@b.c".into(),
                password: SECRET.into()
            }
        ),
        format!(
            "{:?}",
            LoginResponse {
                account_token: SECRET.into(),
                expires_at: now(),
                user: user()
            }
        ),
        format!(
            "{:?}",
            VerifyCodeRequest {
                code: SECRET.into()
            }
        ),
        format!(
            "{:?}",
            vouch_core::proto::ApproveConsole {
                code: SECRET.into()
            }
        ),
        format!(
            "{:?}",
            TrustedDevice {
                device: device(),
                device_token: SECRET.into()
            }
        ),
        format!(
            "{:?}",
            AckResult {
                status: ApprovalStatus::Completed,
                device_token: Some(SECRET.into()),
                tier: vouch_core::proto::Tier::KeyHolder,
            }
        ),
        format!(
            "{:?}",
            Mail {
                to: "a@b.c".into(),
                subject: "code".into(),
                body: SECRET.into(),
                sent_at: now()
            }
        ),
    ];
    for p in printed {
        assert!(!leaks(&p, SECRET.as_bytes()), "{p}");
    }
}

#[test]
fn core_secrets_are_redacted() {
    let secret_bytes = SECRET.as_bytes().to_vec();
    let p = format!("{:?}", SecretBytes::new(secret_bytes.clone()));
    assert!(!leaks(&p, &secret_bytes), "{p}");

    let p = format!(
        "{:?}",
        AccountRow {
            server_url: "https://s".into(),
            state_json: "{}".into(),
            secrets: Some(SecretBytes::new(secret_bytes.clone()))
        }
    );
    assert!(!leaks(&p, &secret_bytes), "{p}");
    let p = format!(
        "{:?}",
        PendingApprovalRow {
            role: ApprovalSide::Requester,
            payload: SecretBytes::new(secret_bytes.clone()),
            expires_at_ms: 0
        }
    );
    assert!(!leaks(&p, &secret_bytes), "{p}");

    // The QR payload: its secret (32 bytes before the 4-byte checksum) never shows.
    let id = DeviceIdentity::generate().unwrap();
    let qr = QrPayload {
        request_id: Uuid::new_v4(),
        descriptor_hash: [7; 32],
        secret: vouch_core::crypto::QrSecret::generate().unwrap(),
    };
    let text = qr.encode();
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text.trim_start_matches("VOUCH2:"))
        .unwrap();
    let qr_secret = &raw[raw.len() - 36..raw.len() - 4];
    let p = format!("{qr:?}");
    assert!(!leaks(&p, qr_secret), "{p}");
    let prompt = ApprovalPrompt {
        request_id: qr.request_id,
        purpose: ApprovalPurpose::Enroll,
        code: "482 913".into(),
        qr_payload: text.to_string(),
        expires_at: now(),
        runs_left: 3,
    };
    let p = format!("{prompt:?}");
    assert!(
        // The whole grouped code: three digits alone also occur in a random request id.
        !leaks(&p, qr_secret) && !p.contains(text.as_str()) && !p.contains("482 913"),
        "{p}"
    );
    // The 6-digit code and the PAKE's secrets.
    let code = vouch_core::crypto::ApprovalCode::parse("482913").unwrap();
    assert!(!format!("{code:?}").contains("482"));

    // Item titles (issue 13) are as secret as values.
    let info = vouch_core::ItemInfo {
        vault_id: Uuid::new_v4(),
        item_id: Uuid::new_v4(),
        title: Some(SECRET.into()),
        version: 1,
        synced: true,
        conflict_copy: None,
    };
    let p = format!("{info:?}");
    assert!(!leaks(&p, SECRET.as_bytes()), "{p}");
    let key = vouch_core::crypto::VaultKey::generate().unwrap();
    let at = vouch_core::crypto::ItemAad {
        vault_id: Uuid::new_v4(),
        item_id: Uuid::new_v4(),
        version: 1,
        epoch: 0,
    };
    let sealed = vouch_core::crypto::seal_entry(&key, &at, Some(SECRET), b"v").unwrap();
    let p = format!(
        "{:?}",
        vouch_core::crypto::open_item(&key, &at, &sealed).unwrap()
    );
    assert!(!leaks(&p, SECRET.as_bytes()), "{p}");

    // The identity prints its public key at most (the secret is not reachable to compare,
    // so check the shape: no 32-number list beyond the public key's).
    let p = format!("{id:?}");
    assert!(!p.contains("secret:") || p.contains("redacted"), "{p}");
}

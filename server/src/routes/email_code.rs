//! `POST /v1/devices/{id}/email-code` and `…/email-code/verify` (rule 3).
//!
//! Codes are 6 random digits, stored as SHA-256 over (device id ‖ code), compared in
//! constant time, single use, bound to their device, valid for `--code-ttl`; 5 wrong tries
//! void a code; 100 consecutive failures lock the account's code verification; a new code
//! for the same device waits `CODE_RESEND_INTERVAL_SECS`.

use crate::store::{Tx, params};
use axum::{Json, extract::State, http::StatusCode};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;
use vouch_proto::{
    CODE_LOCK_AFTER_FAILURES, CODE_MAX_ATTEMPTS, CodeSent, DeviceStatus, ErrorBody, ErrorCode,
    Event, TrustedDevice, VerifiedBy, VerifyCodeRequest,
};

use crate::{
    AppState,
    auth::Account,
    error::{ApiError, ApiResult},
    extract::{JsonBody, PathParams},
    model::{
        DeviceRow, email_tier, now, push_event_to_user, rotate_device_token, trust_device, ts,
    },
};

fn code_hash(device_id: Uuid, code: &str) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(b"vouch/email-code/v1\0");
    h.update(device_id.as_bytes());
    h.update(code.as_bytes());
    h.finalize().to_vec()
}

fn new_code() -> ApiResult<String> {
    // Rejection sampling keeps the 6 digits uniform.
    loop {
        let mut b = [0u8; 4];
        getrandom::fill(&mut b).map_err(|_| ApiError::internal())?;
        let n = u32::from_be_bytes(b);
        if n < 4_294_000_000 {
            return Ok(format!("{:06}", n % 1_000_000));
        }
    }
}

/// Loads a pending device of the caller's user (the session that registered it).
fn own_pending_device(tx: &Tx<'_>, account: &Account, id: Uuid) -> ApiResult<DeviceRow> {
    let d = DeviceRow::load(tx, id)?.ok_or_else(|| ApiError::not_found("device"))?;
    // Only the session that registered the device may verify it: another session of the
    // same account (a thief with the password) must not take over a device someone else
    // is setting up (the review found that hijack).
    if d.device.user_id != account.user.id || d.registered_by != account.token_hash {
        return Err(ApiError::not_found("device"));
    }
    if d.device.status != DeviceStatus::Pending {
        return Err(ApiError::new(
            ErrorCode::DeviceNotPending,
            "this device is not waiting for verification",
        ));
    }
    Ok(d)
}

/// A repeated verify of a device this very session already trusted with this code (the
/// client crashed or lost the answer before it stored the device token): while the code
/// is still within its lifetime, the same code gets a fresh device token (the one the
/// client never stored is revoked). Anything else is not a retry (`None`).
fn verified_again(
    tx: &Tx<'_>,
    account: &Account,
    id: Uuid,
    typed: &str,
) -> ApiResult<Option<TrustedDevice>> {
    let Some(d) = DeviceRow::load(tx, id)? else {
        return Ok(None);
    };
    if d.device.user_id != account.user.id
        || d.device.status != DeviceStatus::Trusted
        || d.device.verified_by != Some(VerifiedBy::EmailCode)
        || d.registered_by != account.token_hash
    {
        return Ok(None);
    }
    let row: Option<(Vec<u8>, i64, bool)> = tx.query_opt(
        "SELECT code_hash, expires_at, used FROM email_codes WHERE device_id = ?1",
        [id.to_string()],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let Some((stored, expires_at, used)) = row else {
        return Ok(None);
    };
    let same =
        typed.len() == vouch_proto::CODE_DIGITS && bool::from(code_hash(id, typed).ct_eq(&stored));
    if !used || expires_at <= now() || !same {
        return Ok(None);
    }
    let token = rotate_device_token(tx, id)?;
    Ok(Some(TrustedDevice {
        device: d.device,
        device_token: token,
    }))
}

/// Emails a verification code for a pending device (202). Throttled per device.
#[utoipa::path(post, path = vouch_proto::routes::DEVICE_EMAIL_CODE, tag = "verification", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "pending device id")),
    responses((status = 202, body = CodeSent),
        (status = 429, body = ErrorBody, description = "too_many_requests (Retry-After)"),
        (status = 409, body = ErrorBody, description = "device_not_pending"),
        (status = 503, body = ErrorBody, description = "mail_not_sent: the mail relay failed; nothing was throttled")))]
pub async fn send(
    State(state): State<AppState>,
    account: Account,
    PathParams(id): PathParams<Uuid>,
) -> ApiResult<(StatusCode, Json<CodeSent>)> {
    // Storing the code (which starts the re-send throttle) and mailing it are one unit:
    // axum drops a handler whose client hung up, so the unit runs in a task of its own
    // that a dropped request cannot cut between the commit and the mail.
    let sent = tokio::spawn(store_and_mail(state, account, id))
        .await
        .map_err(|_| ApiError::internal())??;
    Ok((StatusCode::ACCEPTED, Json(sent)))
}

async fn store_and_mail(state: AppState, account: Account, id: Uuid) -> ApiResult<CodeSent> {
    let ttl = state.settings.code_ttl.as_secs() as i64;
    let interval = state.settings.code_resend_interval.as_secs() as i64;
    let code = new_code()?;
    let hash = code_hash(id, &code);
    let acct = account.clone();
    let (sent, device_name) = state
        .db
        .tx(move |tx| {
            let d = own_pending_device(tx, &acct, id)?;
            let last: Option<i64> =
                tx.query_opt("SELECT sent_at FROM email_codes WHERE device_id = ?1", [id.to_string()], |r| r.get(0))?;
            let t = now();
            if let Some(last) = last {
                let wait = last + interval - t;
                if wait > 0 {
                    return Err(ApiError::too_many(wait as u64, "a code was sent moments ago"));
                }
            }
            tx.execute(
                "INSERT INTO email_codes (device_id, code_hash, sent_at, expires_at, attempts, used) VALUES (?1, ?2, ?3, ?4, 0, 0)
                 ON CONFLICT (device_id) DO UPDATE SET code_hash = excluded.code_hash, sent_at = excluded.sent_at,
                   expires_at = excluded.expires_at, attempts = 0, used = 0",
                params![id.to_string(), hash, t, t + ttl],
            )?;
            Ok((CodeSent { expires_at: ts(t + ttl), resend_after: ts(t + interval) }, d.device.name))
        })
        .await?;
    let minutes = (ttl + 59) / 60;
    let body = format!(
        "Your Vouch verification code is {code}\n\n\
         Enter it on the device \"{device_name}\" to trust it. The code expires in {minutes} minute(s) and works once.\n\
         If you did not try to sign in, change your password: someone knows it.\n"
    );
    let mailed = state
        .mailer
        .send(
            &state.db,
            &account.user.email,
            "Your Vouch verification code",
            &body,
        )
        .await;
    if let Err(e) = mailed {
        crate::metrics::METRICS.code(crate::metrics::CodeOutcome::Failed);
        // A code nobody received must not count: it is taken back, so the re-send
        // throttle does not make the person wait for a mail that never left.
        state
            .db
            .tx(move |tx| {
                tx.execute(
                    "DELETE FROM email_codes WHERE device_id = ?1 AND code_hash = ?2",
                    params![id.to_string(), code_hash(id, &code)],
                )?;
                Ok(())
            })
            .await?;
        return Err(e);
    }
    crate::metrics::METRICS.code(crate::metrics::CodeOutcome::Sent);
    log::debug!("email code sent for device {id}");
    Ok(sent)
}

enum Outcome {
    Trusted(Box<TrustedDevice>),
    Wrong(u32),
    Expired,
    Locked,
}

/// Verifies the emailed code: the device becomes trusted and gets its device token.
#[utoipa::path(post, path = vouch_proto::routes::DEVICE_EMAIL_CODE_VERIFY, tag = "verification", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "pending device id")), request_body = VerifyCodeRequest,
    responses((status = 200, body = TrustedDevice),
        (status = 400, body = ErrorBody, description = "invalid_code (attempts_left)"),
        (status = 410, body = ErrorBody, description = "code_expired"),
        (status = 423, body = ErrorBody, description = "code_locked")))]
pub async fn verify(
    State(state): State<AppState>,
    account: Account,
    crate::auth::Origin(origin): crate::auth::Origin,
    PathParams(id): PathParams<Uuid>,
    JsonBody(req): JsonBody<VerifyCodeRequest>,
) -> ApiResult<Json<TrustedDevice>> {
    let typed = req.code.trim().to_owned();
    let outcome = state
        .db
        .tx(move |tx| {
            if let Some(again) = verified_again(tx, &account, id, &typed)? {
                return Ok(Outcome::Trusted(Box::new(again)));
            }
            let d = own_pending_device(tx, &account, id)?;
            let uid = account.user.id.to_string();
            let failures: u32 = tx.query_one("SELECT code_failures FROM users WHERE id = ?1", [&uid], |r| r.get(0))?;
            if failures >= CODE_LOCK_AFTER_FAILURES {
                return Ok(Outcome::Locked);
            }
            let row: Option<(Vec<u8>, i64, u32, bool)> = tx
                .query_opt(
                    "SELECT code_hash, expires_at, attempts, used FROM email_codes WHERE device_id = ?1",
                    [id.to_string()],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )?;
            let Some((stored, expires_at, attempts, used)) = row else { return Ok(Outcome::Expired) };
            if used || attempts >= CODE_MAX_ATTEMPTS || expires_at <= now() {
                return Ok(Outcome::Expired);
            }
            let ok = typed.len() == vouch_proto::CODE_DIGITS
                && bool::from(code_hash(id, &typed).ct_eq(&stored));
            if !ok {
                tx.execute("UPDATE email_codes SET attempts = attempts + 1 WHERE device_id = ?1", [id.to_string()])?;
                tx.execute("UPDATE users SET code_failures = code_failures + 1 WHERE id = ?1", [&uid])?;
                let actor = crate::audit::Actor::at(origin);
                let left = (CODE_MAX_ATTEMPTS - attempts - 1).to_string();
                crate::audit::record_device(tx, id, vouch_proto::AuditAction::CodeRejected, &actor, Some(&left))?;
                if failures + 1 >= CODE_LOCK_AFTER_FAILURES {
                    return Ok(Outcome::Locked);
                }
                return Ok(Outcome::Wrong(CODE_MAX_ATTEMPTS - attempts - 1));
            }
            tx.execute("UPDATE email_codes SET used = 1 WHERE device_id = ?1", [id.to_string()])?;
            tx.execute("UPDATE users SET code_failures = 0 WHERE id = ?1", [&uid])?;
            // Trust v2: email makes a key holder only for a user who never had one.
            let tier = email_tier(tx, d.device.user_id, d.device.kind)?;
            // Trusted another way now: its open approval request can never complete.
            tx.execute(
                "UPDATE approval_requests SET status = 'cancelled' WHERE device_id = ?1 AND status IN ('pending', 'approved')",
                [id.to_string()],
            )?;
            let token = trust_device(tx, id, VerifiedBy::EmailCode, tier, None)?;
            let device = DeviceRow::load(tx, id)?.ok_or_else(ApiError::internal)?.device;
            // Rule 3: every existing device is told that a device was added.
            push_event_to_user(tx, d.device.user_id, Some(id), false, &Event::DeviceAdded { device: device.clone() })?;
            Ok(Outcome::Trusted(Box::new(TrustedDevice { device, device_token: token })))
        })
        .await?;
    match outcome {
        Outcome::Trusted(t) => Ok(Json(*t)),
        Outcome::Wrong(left) => Err(ApiError::invalid_code(left)),
        Outcome::Expired => Err(ApiError::new(
            ErrorCode::CodeExpired,
            "the code expired or was used; request a new one",
        )),
        Outcome::Locked => Err(ApiError::new(
            ErrorCode::CodeLocked,
            "too many wrong codes: code verification is locked for this account; ask an admin",
        )),
    }
}

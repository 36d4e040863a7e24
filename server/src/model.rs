//! Rows of the server database and their wire forms; tokens and time helpers.

use std::sync::atomic::{AtomicI64, Ordering};

use crate::store::{Row, StoreError, StoreResult, Tx, params};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;
use vouch_proto::{Device, DeviceKind, DeviceStatus, Event, Role, Tier, VerifiedBy};

use crate::error::{ApiError, ApiResult};

/// How far the server's clock runs ahead of the real time, in ms. Only the dev route
/// `POST /v1/dev/clock` (served with `--dev`) moves it; process-wide.
static CLOCK_OFFSET_MS: AtomicI64 = AtomicI64::new(0);

/// Milliseconds since the Unix epoch on the server's clock (real time + the dev offset).
pub fn now_ms() -> i64 {
    let real = OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
    real as i64 + CLOCK_OFFSET_MS.load(Ordering::Relaxed)
}

/// Seconds since the Unix epoch on the server's clock.
pub fn now() -> i64 {
    now_ms().div_euclid(1000)
}

/// Moves the server's clock forward by `secs` (dev only: tests skip waits with it).
/// Returns how far it is ahead now, in seconds.
pub fn advance_clock(secs: u32) -> i64 {
    let ms = i64::from(secs) * 1000;
    (CLOCK_OFFSET_MS.fetch_add(ms, Ordering::Relaxed) + ms) / 1000
}

/// Unix seconds to a wire timestamp.
pub fn ts(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

pub use vouch_proto::enum_name as enum_str;

/// Parses a stored snake_case enum value.
pub fn parse_enum<T: DeserializeOwned>(s: &str) -> StoreResult<T> {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|e| StoreError::decode(0, e.to_string()))
}

/// Parses a stored UUID.
pub fn parse_uuid(s: &str) -> StoreResult<Uuid> {
    Uuid::parse_str(s).map_err(|e| StoreError::decode(0, e.to_string()))
}

/// Token prefixes tell account tokens from device tokens without a lookup.
pub const ACCOUNT_TOKEN_PREFIX: &str = "vat_";
/// Prefix of device tokens.
pub const DEVICE_TOKEN_PREFIX: &str = "vdt_";

/// A fresh 256-bit token with its prefix, and the SHA-256 hash that is stored.
pub fn new_token(prefix: &str) -> ApiResult<(String, Vec<u8>)> {
    let mut raw = [0u8; 32];
    getrandom::fill(&mut raw).map_err(|_| ApiError::internal())?;
    let token = format!("{prefix}{}", vouch_proto::Bytes(raw.to_vec()).to_b64());
    let hash = token_hash(&token);
    Ok((token, hash))
}

/// The stored form of a token (tokens are 256-bit random, so a plain hash suffices).
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// A user row.
#[derive(Debug, Clone)]
pub struct UserRow {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub email: String,
    pub username: String,
    pub role: Role,
    pub deprovisioned: bool,
}

pub const USER_COLS: &str = "id, workspace_id, email, username, role, deprovisioned_at IS NOT NULL";

impl UserRow {
    pub fn from_row(r: &Row<'_>) -> StoreResult<Self> {
        Ok(Self {
            id: parse_uuid(&r.get::<String>(0)?)?,
            workspace_id: parse_uuid(&r.get::<String>(1)?)?,
            email: r.get(2)?,
            username: r.get(3)?,
            role: parse_enum(&r.get::<String>(4)?)?,
            deprovisioned: r.get(5)?,
        })
    }

    pub fn load(tx: &Tx<'_>, id: Uuid) -> ApiResult<Option<Self>> {
        Ok(tx.query_opt(
            &format!("SELECT {USER_COLS} FROM users WHERE id = ?1"),
            [id.to_string()],
            Self::from_row,
        )?)
    }
}

/// A device row (the wire [`Device`] plus server-only columns).
#[derive(Debug, Clone)]
pub struct DeviceRow {
    pub device: Device,
    pub registered_by: Vec<u8>,
}

pub const DEVICE_COLS: &str = "id, user_id, name, kind, platform, status, public_key, created_at, verified_at, verified_by, origin, registered_by, tier, approved_by, last_seen_at, signing_key";

/// The wire key bundle of a stored X25519 key and (since the vouch chain) Ed25519 key.
fn key_bundle(x25519: &[u8], ed25519: Option<Vec<u8>>) -> StoreResult<Vec<u8>> {
    let bad = |i, c: &str| StoreError::decode(i, format!("{c}: not a 32-byte key"));
    let key: [u8; 32] = x25519.try_into().map_err(|_| bad(6, "public_key"))?;
    let ed25519 = ed25519
        .map(|k| <[u8; 32]>::try_from(k.as_slice()).map_err(|_| bad(15, "signing_key")))
        .transpose()?;
    Ok(vouch_proto::KeyBundle {
        x25519: key,
        ed25519,
    }
    .encode())
}

impl DeviceRow {
    pub fn from_row(r: &Row<'_>) -> StoreResult<Self> {
        let verified_by: Option<String> = r.get(9)?;
        Ok(Self {
            device: Device {
                id: parse_uuid(&r.get::<String>(0)?)?,
                user_id: parse_uuid(&r.get::<String>(1)?)?,
                name: r.get(2)?,
                kind: parse_enum(&r.get::<String>(3)?)?,
                platform: r.get(4)?,
                status: parse_enum(&r.get::<String>(5)?)?,
                // The columns hold the two keys; the wire carries them as a key bundle.
                key_bundle: vouch_proto::Bytes(key_bundle(
                    &r.get::<Vec<u8>>(6)?,
                    r.get::<Option<Vec<u8>>>(15)?,
                )?),
                created_at: ts(r.get(7)?),
                verified_at: r.get::<Option<i64>>(8)?.map(ts),
                verified_by: verified_by
                    .as_deref()
                    .map(parse_enum::<VerifiedBy>)
                    .transpose()?,
                origin: r.get(10)?,
                tier: r
                    .get::<Option<String>>(12)?
                    .as_deref()
                    .map(parse_enum::<Tier>)
                    .transpose()?,
                approved_by: r
                    .get::<Option<String>>(13)?
                    .as_deref()
                    .map(parse_uuid)
                    .transpose()?,
                last_seen_at: r.get::<Option<i64>>(14)?.map(ts),
            },
            registered_by: r.get(11)?,
        })
    }

    pub fn load(tx: &Tx<'_>, id: Uuid) -> ApiResult<Option<Self>> {
        Ok(tx.query_opt(
            &format!("SELECT {DEVICE_COLS} FROM devices WHERE id = ?1"),
            [id.to_string()],
            Self::from_row,
        )?)
    }

    /// Devices of a user, optionally only those in the given statuses.
    pub fn for_user(tx: &Tx<'_>, user_id: Uuid) -> ApiResult<Vec<Self>> {
        let rows = tx.query_all(
            &format!(
                "SELECT {DEVICE_COLS} FROM devices WHERE user_id = ?1 ORDER BY created_at, id"
            ),
            [user_id.to_string()],
            Self::from_row,
        )?;
        Ok(rows)
    }
}

/// Sets a device's status. A denial is audited here, with the device that decided the
/// request as its actor (disables are audited by `disable_devices`, which knows its caller).
pub fn set_device_status(tx: &Tx<'_>, id: Uuid, status: DeviceStatus) -> ApiResult<()> {
    tx.execute(
        "UPDATE devices SET status = ?2 WHERE id = ?1",
        params![id.to_string(), enum_str(&status)],
    )?;
    if status == DeviceStatus::Disabled {
        // A disabled device's keys are not handed on, and nothing more reaches it.
        tx.execute(
            "DELETE FROM chain_envelopes WHERE sender_id = ?1 OR recipient_id = ?1",
            [id.to_string()],
        )?;
    }
    if status == DeviceStatus::Denied {
        let decided_by: Option<String> = tx
            .query_opt(
                "SELECT decided_by FROM approval_requests WHERE device_id = ?1 AND status = 'denied' ORDER BY decided_at DESC LIMIT 1",
                [id.to_string()],
                |r| r.get(0),
            )?
            .flatten();
        let actor = crate::audit::Actor {
            device: decided_by.as_deref().map(parse_uuid).transpose()?,
            origin: None,
            console: None,
        };
        crate::audit::record_device(tx, id, vouch_proto::AuditAction::Denied, &actor, None)?;
    }
    Ok(())
}

/// Marks a device trusted and issues its device token (returned in the clear once).
/// Trusts a pending device with its tier (and the key holder that approved it, if one
/// did) and returns its new device token.
pub fn trust_device(
    tx: &Tx<'_>,
    id: Uuid,
    by: VerifiedBy,
    tier: Tier,
    approved_by: Option<Uuid>,
) -> ApiResult<String> {
    let (token, hash) = new_token(DEVICE_TOKEN_PREFIX)?;
    tx.execute(
        "UPDATE devices SET status = 'trusted', verified_at = ?2, verified_by = ?3, token_hash = ?4,
         tier = ?5, approved_by = ?6 WHERE id = ?1",
        params![
            id.to_string(),
            now(),
            enum_str(&by),
            hash,
            enum_str(&tier),
            approved_by.map(|a| a.to_string())
        ],
    )?;
    let action = match by {
        VerifiedBy::EmailCode => vouch_proto::AuditAction::VerifiedByEmail,
        VerifiedBy::Approval => vouch_proto::AuditAction::Approved,
    };
    let actor = crate::audit::Actor {
        device: approved_by,
        origin: None,
        console: None,
    };
    crate::audit::record_device(
        tx,
        id,
        action,
        &actor,
        Some(&format!("tier {}", enum_str(&tier))),
    )?;
    if tier == Tier::KeyHolder {
        key_holder_made(tx, id)?;
    }
    Ok(token)
}

/// Device `id` just became a key holder (any way): the operator's email-root allowance
/// of its user, if one waits, is spent — it was for that one loss, and left waiting a
/// thief with the password and the mailbox would take it at the user's next loss
/// (black-box re-review, stop 16, N1).
pub fn key_holder_made(tx: &Tx<'_>, id: Uuid) -> ApiResult<()> {
    tx.execute(
        "UPDATE users SET email_root_allowed = 0 WHERE email_root_allowed = 1 AND id = (SELECT user_id FROM devices WHERE id = ?1)",
        [id.to_string()],
    )?;
    Ok(())
}

/// Makes a trusted device a key holder because `approver` (a key holder) approved it.
/// The only way a tier changes after verification.
pub fn make_key_holder(tx: &Tx<'_>, id: Uuid, approver: Uuid) -> ApiResult<()> {
    tx.execute(
        "UPDATE devices SET tier = 'key_holder', approved_by = ?2 WHERE id = ?1 AND status = 'trusted'",
        params![id.to_string(), approver.to_string()],
    )?;
    let actor = crate::audit::Actor {
        device: Some(approver),
        origin: None,
        console: None,
    };
    crate::audit::record_device(tx, id, vouch_proto::AuditAction::KeysShared, &actor, None)?;
    key_holder_made(tx, id)
}

/// The tier an email verification gives `kind` for `user_id`: a key holder only for a
/// `web`/`mobile` device of a user who never had a key holder (any status, ever) — or
/// once after the operator allowed an email root, which this consumes. Everything else is
/// email-only, for good: nothing promotes it later.
pub fn email_tier(tx: &Tx<'_>, user_id: Uuid, kind: DeviceKind) -> ApiResult<Tier> {
    if !kind.can_approve() {
        return Ok(Tier::EmailOnly);
    }
    let ever_had: bool = tx.query_one(
        "SELECT EXISTS (SELECT 1 FROM devices WHERE user_id = ?1 AND tier = 'key_holder')",
        [user_id.to_string()],
        |r| r.get(0),
    )?;
    if !ever_had {
        return Ok(Tier::KeyHolder);
    }
    // The operator's allowance is for a user with no key holder left: one that works
    // (it came back, or never went) keeps its chain, and the allowance is spent.
    let live: bool = tx.query_one(
        "SELECT EXISTS (SELECT 1 FROM devices WHERE user_id = ?1 AND status = 'trusted' AND tier = 'key_holder')",
        [user_id.to_string()],
        |r| r.get(0),
    )?;
    if live {
        tx.execute(
            "UPDATE users SET email_root_allowed = 0 WHERE id = ?1",
            [user_id.to_string()],
        )?;
        return Ok(Tier::EmailOnly);
    }
    let allowed = tx.execute(
        "UPDATE users SET email_root_allowed = 0 WHERE id = ?1 AND email_root_allowed = 1",
        [user_id.to_string()],
    )?;
    if allowed == 1 {
        // A new first key holder starts a new vouch chain: the old one names only devices
        // the user lost (a device that kept it sees a fork and refuses it).
        tx.execute(
            "DELETE FROM chain_links WHERE user_id = ?1",
            [user_id.to_string()],
        )?;
        return Ok(Tier::KeyHolder);
    }
    Ok(Tier::EmailOnly)
}

/// Whether an email code would make a `kind` device of `user_id` a key holder now (the
/// user never had one, or the operator allowed an email root), without consuming the
/// operator's allowance: what [`email_tier`] will decide.
pub fn email_gives_key_holder(tx: &Tx<'_>, user_id: Uuid, kind: DeviceKind) -> ApiResult<bool> {
    if !kind.can_approve() {
        return Ok(false);
    }
    Ok(tx.query_one(
        "SELECT NOT EXISTS (SELECT 1 FROM devices WHERE user_id = ?1 AND tier = 'key_holder')
             OR (EXISTS (SELECT 1 FROM users WHERE id = ?1 AND email_root_allowed = 1)
                 AND NOT EXISTS (SELECT 1 FROM devices WHERE user_id = ?1 AND status = 'trusted' AND tier = 'key_holder'))",
        [user_id.to_string()],
        |r| r.get(0),
    )?)
}

/// Replaces a trusted device's token (the old one stops working).
pub fn rotate_device_token(tx: &Tx<'_>, id: Uuid) -> ApiResult<String> {
    let (token, hash) = new_token(DEVICE_TOKEN_PREFIX)?;
    tx.execute(
        "UPDATE devices SET token_hash = ?2 WHERE id = ?1",
        params![id.to_string(), hash],
    )?;
    Ok(token)
}

/// Appends an event for one device; the event stream picks it up after commit.
pub fn push_event(tx: &Tx<'_>, device_id: Uuid, event: &Event) -> ApiResult<()> {
    let data = serde_json::to_string(event).map_err(|_| ApiError::internal())?;
    tx.execute(
        "INSERT INTO events (device_id, kind, data, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![device_id.to_string(), event.name(), data, now()],
    )?;
    crate::db::mark_event(device_id);
    Ok(())
}

/// Appends an event for every device of `user_id` in `statuses`, except `skip`.
pub fn push_event_to_user(
    tx: &Tx<'_>,
    user_id: Uuid,
    skip: Option<Uuid>,
    only_approvers: bool,
    event: &Event,
) -> ApiResult<()> {
    for d in DeviceRow::for_user(tx, user_id)? {
        let d = d.device;
        if Some(d.id) == skip || d.status != DeviceStatus::Trusted {
            continue;
        }
        if only_approvers && (!d.kind.can_approve() || d.tier != Some(Tier::KeyHolder)) {
            continue;
        }
        push_event(tx, d.id, event)?;
    }
    Ok(())
}

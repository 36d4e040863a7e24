//! The vouch chain's storage (DESIGN § The vouch chain): `GET/POST /v1/chain`, and the
//! chain envelopes key holders seal to each other (`POST /v1/vaults/{id}/envelopes`,
//! `GET /v1/envelopes`).
//!
//! The server keeps the links in order and refuses one that is not the next (position
//! and previous hash), so concurrent appends cannot fork what it stores, and one that does
//! not verify on the chain (a key holder cannot lock its user out with a bad link). Every
//! client still verifies the whole chain itself, so nothing a server adds, drops or
//! reorders is believed (docs/SECURITY.md § The vouch chain).

use crate::store::{Row, StoreResult, Tx, params};
use axum::{Json, extract::State, http::StatusCode};
use uuid::Uuid;
use vouch_proto::{
    Bytes, DeviceStatus, Disabled, ErrorBody, ErrorCode, Event,
    chain::{
        AppendLink, Chain, ChainEnvelope, ChainEnvelopes, ChainLinks, Link, LinkBody, LinkHeader,
        MAX_CHAIN_ENVELOPES, NO_PREV, NewChainEnvelope, PostChainEnvelopes, RecoveryRestore, Role,
        RotateVault, link_hash,
    },
};

use crate::{
    AppState,
    auth::{ChainReader, DeviceCaller, KeyHolder},
    error::{ApiError, ApiResult},
    extract::{JsonBody, PathParams},
    model::{DEVICE_COLS, DeviceRow, now, parse_uuid, push_event, push_event_to_user},
};

/// Largest chain envelope accepted (a signed suite-3 envelope is 146 bytes).
const MAX_ENVELOPE: usize = 512;

/// The user's stored chain, verified (`None` when empty).
fn stored_chain(tx: &Tx<'_>, user: Uuid) -> ApiResult<Option<Chain>> {
    let links = stored_links(tx, user)?;
    if links.is_empty() {
        return Ok(None);
    }
    Ok(Some(
        Chain::verify(user, &links).map_err(|_| ApiError::internal())?,
    ))
}

fn stored_links(tx: &Tx<'_>, user: Uuid) -> ApiResult<Vec<Link>> {
    tx.query_all(
        "SELECT link FROM chain_links WHERE user_id = ?1 ORDER BY seq",
        [user.to_string()],
        |r| r.get::<Vec<u8>>(0),
    )?
    .iter()
    .map(|b| Link::decode(b).map_err(|_| ApiError::internal()))
    .collect()
}

/// Appends `link` to `user`'s chain if it is the next one; `chain_conflict` otherwise.
/// Tells the user's trusted devices.
pub(crate) fn append(tx: &Tx<'_>, user: Uuid, link: &[u8]) -> ApiResult<u64> {
    let header = LinkHeader::parse(link)
        .ok_or_else(|| ApiError::bad_request("the link is not a vouch-chain link"))?;
    if header.user != user {
        return Err(ApiError::bad_request("the link names another user"));
    }
    let last: Option<(i64, Vec<u8>)> = tx.query_opt(
        "SELECT seq, hash FROM chain_links WHERE user_id = ?1 ORDER BY seq DESC LIMIT 1",
        [user.to_string()],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let (next, prev) = match &last {
        Some((seq, hash)) => (*seq as u64 + 1, hash.as_slice()),
        None => (0, &NO_PREV[..]),
    };
    if header.seq != next || header.prev[..] != *prev {
        return Err(ApiError::new(
            ErrorCode::ChainConflict,
            format!("the chain's next link is at position {next}: fetch the chain and sign again"),
        ));
    }
    // Every client verifies the whole chain and refuses one that does not: a link that
    // does not verify would lock every device of the user out for good, so it is refused
    // here (signatures, signer a live key holder, members added once).
    let mut links = stored_links(tx, user)?;
    links.push(
        Link::decode(link)
            .map_err(|e| ApiError::bad_request(format!("the link is not valid: {e}")))?,
    );
    Chain::verify(user, &links).map_err(|e| {
        ApiError::bad_request(format!("the link does not verify on the chain: {e}"))
    })?;
    // A revoked recovery key's envelopes go with it: its words may be why it was revoked.
    if let Some(Link {
        body: LinkBody::Revoke { member },
        ..
    }) = links.last()
    {
        tx.execute(
            "DELETE FROM recovery_envelopes WHERE user_id = ?1 AND member_id = ?2",
            params![user.to_string(), member.to_string()],
        )?;
    }
    tx.execute(
        "INSERT INTO chain_links (user_id, seq, link, hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![user.to_string(), next as i64, link, &link_hash(link)[..], now()],
    )?;
    push_event_to_user(tx, user, None, false, &Event::ChainChanged { seq: next })?;
    Ok(next)
}

/// Every link of the user's chain, in order (empty before the first key holder made one).
/// A disabled device may read it too: it shreds only on a revocation of itself that it
/// verifies here, never on the server's word alone.
#[utoipa::path(get, path = vouch_proto::routes::CHAIN, tag = "chain", security(("bearer" = [])),
    responses((status = 200, body = ChainLinks), (status = 403, body = ErrorBody, description = "device_not_trusted")))]
pub async fn get(
    State(state): State<AppState>,
    ChainReader(caller): ChainReader,
) -> ApiResult<Json<ChainLinks>> {
    let user = caller.user.id;
    let links = state
        .db
        .tx(move |tx| {
            let links = tx
                .query_all(
                    "SELECT link FROM chain_links WHERE user_id = ?1 ORDER BY seq",
                    [user.to_string()],
                    |r| r.get::<Vec<u8>>(0),
                )?
                .into_iter()
                .map(Bytes)
                .collect::<Vec<_>>();
            Ok(links)
        })
        .await?;
    Ok(Json(ChainLinks { links }))
}

/// Appends the next link: the first key holder's root on an empty chain, or a key
/// holder's revocation. A vouch arrives with its approval instead.
#[utoipa::path(post, path = vouch_proto::routes::CHAIN, tag = "chain", security(("bearer" = [])),
    request_body = AppendLink,
    responses((status = 204, description = "appended"),
        (status = 400, body = ErrorBody, description = "bad_request: not a link of this user"),
        (status = 403, body = ErrorBody, description = "key_holder_required"),
        (status = 409, body = ErrorBody, description = "chain_conflict: not the next link")))]
pub async fn post(
    State(state): State<AppState>,
    caller: KeyHolder,
    JsonBody(req): JsonBody<AppendLink>,
) -> ApiResult<StatusCode> {
    let user = caller.user.id;
    state.db.tx(move |tx| append(tx, user, &req.link.0)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A key holder seals a vault's key to the user's other devices it found on its verified
/// chain, for an epoch the vault has. Each sender's first envelope for a device, vault and
/// epoch stays (a retry is a no-op); an
/// envelope for a device that is no longer pending or trusted is dropped (an admin's
/// disable stops the sealing too); the recipient checks the sender against its own
/// verified chain.
#[utoipa::path(post, path = vouch_proto::routes::VAULT_ENVELOPES, tag = "chain", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "vault id")), request_body = PostChainEnvelopes,
    responses((status = 204, description = "stored"),
        (status = 400, body = ErrorBody, description = "bad_request: an envelope too large, for itself, or of an epoch the vault does not have"),
        (status = 403, body = ErrorBody, description = "key_holder_required"),
        (status = 404, body = ErrorBody, description = "no such vault")))]
pub async fn post_envelopes(
    State(state): State<AppState>,
    caller: KeyHolder,
    PathParams(vault): PathParams<Uuid>,
    JsonBody(req): JsonBody<PostChainEnvelopes>,
) -> ApiResult<StatusCode> {
    check_envelopes(&req.envelopes, Some(caller.device.device.id))?;
    let (user, sender) = (caller.user.id, caller.device.device.id);
    state
        .db
        .tx(move |tx| {
            let current = own_vault_epoch(tx, user, vault)?;
            // A new epoch exists only through a rotation: envelopes "for later" would be
            // waiting there when it comes.
            if req.envelopes.iter().any(|e| e.epoch > current) {
                return Err(ApiError::bad_request(format!(
                    "the vault's newest key epoch is {current}: a newer one is made by rotating"
                )));
            }
            store_envelopes(tx, user, vault, sender, &req.envelopes)
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A key holder rotates a vault's key: the new epoch (the current one plus one) and its
/// envelopes land together, or `version_conflict` when another key holder rotated first
/// (its envelopes arrive instead).
#[utoipa::path(post, path = vouch_proto::routes::VAULT_ROTATE, tag = "chain", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "vault id")), request_body = RotateVault,
    responses((status = 204, description = "rotated"),
        (status = 400, body = ErrorBody, description = "bad_request: no envelope, or one too large"),
        (status = 403, body = ErrorBody, description = "key_holder_required"),
        (status = 404, body = ErrorBody, description = "no such vault"),
        (status = 409, body = ErrorBody, description = "version_conflict: not the next epoch")))]
pub async fn rotate(
    State(state): State<AppState>,
    caller: KeyHolder,
    PathParams(vault): PathParams<Uuid>,
    JsonBody(req): JsonBody<RotateVault>,
) -> ApiResult<StatusCode> {
    if req.envelopes.is_empty() {
        return Err(ApiError::bad_request(
            "a rotation carries the new key's envelopes",
        ));
    }
    check_envelopes(&req.envelopes, None)?;
    if req.envelopes.iter().any(|e| e.epoch != req.epoch) {
        return Err(ApiError::bad_request("every envelope is of the new epoch"));
    }
    let chain_seq = i64::try_from(req.chain_seq)
        .map_err(|_| ApiError::bad_request("`chain_seq` is past any position"))?;
    let (user, sender) = (caller.user.id, caller.device.device.id);
    state
        .db
        .tx(move |tx| {
            let current = own_vault_epoch(tx, user, vault)?;
            if Some(req.epoch) != current.checked_add(1) {
                return Err(ApiError::new(
                    ErrorCode::VersionConflict,
                    format!("the vault is at key epoch {current}: rotate from there"),
                ));
            }
            tx.execute(
                "UPDATE vaults SET epoch = ?2, epoch_chain_seq = ?3 WHERE id = ?1",
                params![vault.to_string(), req.epoch, chain_seq],
            )?;
            store_envelopes(tx, user, vault, sender, &req.envelopes)
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Refuses too many, empty or oversized envelopes, and (for plain sharing) one to `me`.
fn check_envelopes(envelopes: &[NewChainEnvelope], me: Option<Uuid>) -> ApiResult<()> {
    if envelopes.len() > MAX_CHAIN_ENVELOPES {
        return Err(ApiError::bad_request(format!(
            "at most {MAX_CHAIN_ENVELOPES} envelopes at once"
        )));
    }
    for e in envelopes {
        if e.envelope.0.is_empty() || e.envelope.0.len() > MAX_ENVELOPE {
            return Err(ApiError::bad_request("an envelope is empty or too large"));
        }
        if Some(e.recipient) == me {
            return Err(ApiError::bad_request(
                "a device does not share keys with itself",
            ));
        }
    }
    Ok(())
}

/// The vault's current key epoch, if it is the user's and not deleted (a deleted vault
/// takes no more keys); 404 otherwise.
fn own_vault_epoch(tx: &Tx<'_>, user: Uuid, vault: Uuid) -> ApiResult<u32> {
    let row: Option<(String, u32)> = tx.query_opt(
        "SELECT user_id, epoch FROM vaults WHERE id = ?1 AND tombstone IS NULL",
        [vault.to_string()],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    match row {
        Some((owner, epoch)) if parse_uuid(&owner)? == user => Ok(epoch),
        _ => Err(ApiError::not_found("vault")),
    }
}

/// Stores envelopes for the user's pending and trusted devices and for a live recovery
/// key on the user's chain (others are dropped) and tells each device recipient.
fn store_envelopes(
    tx: &Tx<'_>,
    user: Uuid,
    vault: Uuid,
    sender: Uuid,
    envelopes: &[NewChainEnvelope],
) -> ApiResult<()> {
    let mut chain: Option<Option<Chain>> = None;
    for e in envelopes {
        let device = DeviceRow::load(tx, e.recipient)?.map(|d| d.device);
        if device.is_none() {
            let chain = match &chain {
                Some(c) => c,
                None => chain.insert(stored_chain(tx, user)?),
            };
            let recovery = chain
                .as_ref()
                .and_then(|c| c.member(e.recipient))
                .is_some_and(|m| m.is_live() && m.member.role == Role::RecoveryKey);
            if recovery {
                tx.execute(
                    "INSERT INTO recovery_envelopes (user_id, member_id, vault_id, epoch, sender_id, envelope, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING",
                    params![user.to_string(), e.recipient.to_string(), vault.to_string(), e.epoch, sender.to_string(), e.envelope.0, now()],
                )?;
            }
            continue;
        }
        let Some(recipient) = device.filter(|d| {
            d.user_id == user && matches!(d.status, DeviceStatus::Pending | DeviceStatus::Trusted)
        }) else {
            continue;
        };
        let added = tx.execute(
            "INSERT INTO chain_envelopes (recipient_id, vault_id, epoch, sender_id, envelope, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
            params![recipient.id.to_string(), vault.to_string(), e.epoch, sender.to_string(), e.envelope.0, now()],
        )?;
        if added > 0 && recipient.status == DeviceStatus::Trusted {
            push_event(tx, recipient.id, &Event::EnvelopeAdded { vault_id: vault })?;
        }
    }
    Ok(())
}

/// One envelope of a listing: columns vault id, epoch, sender id, envelope.
fn envelope_row(r: &Row<'_>) -> StoreResult<ChainEnvelope> {
    Ok(ChainEnvelope {
        vault_id: parse_uuid(&r.get::<String>(0)?)?,
        epoch: r.get(1)?,
        sender: parse_uuid(&r.get::<String>(2)?)?,
        envelope: Bytes(r.get(3)?),
    })
}

/// The vault keys other key holders sealed to this device (none of deleted vaults).
#[utoipa::path(get, path = vouch_proto::routes::ENVELOPES, tag = "chain", security(("bearer" = [])),
    responses((status = 200, body = ChainEnvelopes), (status = 403, body = ErrorBody, description = "device_not_trusted")))]
pub async fn envelopes(
    State(state): State<AppState>,
    caller: DeviceCaller,
) -> ApiResult<Json<ChainEnvelopes>> {
    let me = caller.device.device.id;
    let envelopes = state
        .db
        .tx(move |tx| {
            let rows = tx.query_all(
                "SELECT e.vault_id, e.epoch, e.sender_id, e.envelope FROM chain_envelopes e
                 JOIN vaults v ON v.id = e.vault_id
                 WHERE e.recipient_id = ?1 AND v.tombstone IS NULL
                 ORDER BY e.created_at, e.vault_id, e.epoch",
                [me.to_string()],
                envelope_row,
            )?;
            Ok(rows)
        })
        .await?;
    Ok(Json(ChainEnvelopes { envelopes }))
}

/// The vault keys sealed to the user's recovery key `id` while it is live on the chain
/// (any trusted device of the user may fetch them: they open only with the words; a
/// revoked key's are deleted with its revocation).
#[utoipa::path(get, path = vouch_proto::routes::RECOVERY_ENVELOPES, tag = "chain", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "the recovery key's id on the chain")),
    responses((status = 200, body = ChainEnvelopes), (status = 403, body = ErrorBody, description = "device_not_trusted")))]
pub async fn recovery_envelopes(
    State(state): State<AppState>,
    caller: DeviceCaller,
    PathParams(member): PathParams<Uuid>,
) -> ApiResult<Json<ChainEnvelopes>> {
    let user = caller.user.id;
    let envelopes = state
        .db
        .tx(move |tx| {
            // Only a live recovery key's: a revoked one's words may be in someone's hands.
            let live = stored_chain(tx, user)?
                .and_then(|c| c.member(member).copied())
                .is_some_and(|m| m.is_live() && m.member.role == Role::RecoveryKey);
            if !live {
                return Ok(Vec::new());
            }
            let rows = tx.query_all(
                "SELECT e.vault_id, e.epoch, e.sender_id, e.envelope FROM recovery_envelopes e
                 JOIN vaults v ON v.id = e.vault_id
                 WHERE e.user_id = ?1 AND e.member_id = ?2 AND v.tombstone IS NULL
                 ORDER BY e.created_at, e.vault_id, e.epoch",
                params![user.to_string(), member.to_string()],
                envelope_row,
            )?;
            Ok(rows)
        })
        .await?;
    Ok(Json(ChainEnvelopes { envelopes }))
}

/// The calling device, verified by email, becomes a key holder on the word of the user's
/// recovery key: the link must be the chain's next, a vouch for exactly this device and
/// its registered keys, signed by a live recovery key on the chain (checked here: the
/// server grants the tier on it). In the same transaction every other device of the user
/// verified by email only, or registered and not verified yet, is disabled (they hold no
/// key, so the chain does not name them; after every key holder was lost they are a
/// thief's as likely as the user's: with the password and the mailbox, a pending one
/// becomes trusted by its email code) and listed in the answer. Then the device fetches the recovery key's envelopes.
#[utoipa::path(post, path = vouch_proto::routes::RECOVERY_RESTORE, tag = "chain", security(("bearer" = [])),
    request_body = RecoveryRestore,
    responses((status = 200, body = Disabled, description = "the device is a key holder; the email-only devices disabled"),
        (status = 400, body = ErrorBody, description = "bad_request: not a recovery key's vouch for this device"),
        (status = 403, body = ErrorBody, description = "device_not_trusted"),
        (status = 409, body = ErrorBody, description = "chain_conflict: not the next link")))]
pub async fn recovery_restore(
    State(state): State<AppState>,
    caller: DeviceCaller,
    JsonBody(req): JsonBody<RecoveryRestore>,
) -> ApiResult<Json<Disabled>> {
    let user = caller.user.id;
    let device = caller.device.device.clone();
    let disabled = state
        .db
        .tx(move |tx| {
            let link = Link::decode(&req.link.0)
                .map_err(|e| ApiError::bad_request(format!("the link is not valid: {e}")))?;
            let bundle = vouch_proto::KeyBundle::decode(&device.key_bundle.0)
                .map_err(|_| ApiError::internal())?;
            let LinkBody::Vouch { member, approver } = link.body else {
                return Err(ApiError::bad_request("the link is not a vouch"));
            };
            if member.id != device.id
                || member.role != Role::Device
                || member.x25519 != bundle.x25519
                || Some(member.ed25519) != bundle.ed25519
            {
                return Err(ApiError::bad_request("the vouch is not for this device and its keys"));
            }
            let chain = stored_chain(tx, user)?
                .ok_or_else(|| ApiError::bad_request("there is no vouch chain"))?;
            let by_recovery = chain
                .member(approver)
                .is_some_and(|m| m.is_live() && m.member.role == Role::RecoveryKey);
            if !by_recovery {
                return Err(ApiError::bad_request("the vouch is not by a recovery key on the chain"));
            }
            // Verifies the whole chain with the link (the signature included) and appends.
            append(tx, user, &req.link.0)?;
            tx.execute(
                "UPDATE devices SET tier = 'key_holder', approved_by = NULL WHERE id = ?1 AND status = 'trusted'",
                [device.id.to_string()],
            )?;
            crate::model::key_holder_made(tx, device.id)?;
            let actor = crate::audit::Actor { device: Some(device.id), origin: None, console: None };
            crate::audit::record_device(
                tx,
                device.id,
                vouch_proto::AuditAction::Recovered,
                &actor,
                Some(&approver.to_string()),
            )?;
            let email_only: Vec<_> = tx
                .query_all(
                    &format!(
                        "SELECT {DEVICE_COLS} FROM devices WHERE user_id = ?1 AND id != ?2 AND (status = 'pending' OR (status = 'trusted' AND tier = 'email_only'))"
                    ),
                    params![user.to_string(), device.id.to_string()],
                    DeviceRow::from_row,
                )?
                .into_iter()
                .map(|d| d.device)
                .collect();
            super::devices::disable_devices(tx, &email_only, &actor)
        })
        .await?;
    Ok(Json(disabled))
}

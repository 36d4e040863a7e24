//! `/v1/vaults…`: vault metadata and items as
//! ciphertext with versions (a write based on a stale version gets 409
//! `version_conflict`, never a silent overwrite). The server never sees a usable key.

use crate::store::{Tx, params};
use axum::{Json, extract::State, http::StatusCode};
use serde::Deserialize;
use uuid::Uuid;
use vouch_proto::{
    AuditAction, Bytes, CreateVault, DeleteVault, ErrorBody, ErrorCode, Event, ItemRecord, PutItem,
    Vault,
};

use crate::{
    AppState,
    audit::{self, Actor},
    auth::{DeviceCaller, KeyHolder, Origin},
    error::{ApiError, ApiResult},
    extract::{JsonBody, PathParams, QueryParams},
    model::{now, parse_uuid, push_event_to_user, ts},
};

fn load_vault(tx: &Tx<'_>, id: Uuid) -> ApiResult<Option<Vault>> {
    Ok(tx.query_opt(
        "SELECT id, user_id, name, created_by, created_at, epoch, epoch_chain_seq, tombstone,
                    (SELECT COALESCE(MAX(seq), 0) FROM items WHERE items.vault_id = vaults.id)
             FROM vaults WHERE id = ?1",
        [id.to_string()],
        |r| {
            Ok(Vault {
                id: parse_uuid(&r.get::<String>(0)?)?,
                user_id: parse_uuid(&r.get::<String>(1)?)?,
                name: r.get(2)?,
                created_by: parse_uuid(&r.get::<String>(3)?)?,
                created_at: ts(r.get(4)?),
                epoch: r.get(5)?,
                epoch_chain_seq: r.get::<Option<i64>>(6)?.map(|s| s as u64),
                tombstone: r.get::<Option<Vec<u8>>>(7)?.map(Bytes),
                head_seq: r.get::<i64>(8)?.max(0) as u64,
            })
        },
    )?)
}

/// One of the caller's vaults that is not deleted (a deleted one has no items any more).
fn own_vault(tx: &Tx<'_>, caller: &DeviceCaller, id: Uuid) -> ApiResult<Vault> {
    match load_vault(tx, id)? {
        Some(v) if v.user_id == caller.user.id && v.tombstone.is_none() => Ok(v),
        _ => Err(ApiError::not_found("vault")),
    }
}

/// Creates a vault (metadata only). Repeating the same create is a no-op (200), so a
/// queued create can be retried safely.
#[utoipa::path(post, path = vouch_proto::routes::VAULTS, tag = "vaults", security(("bearer" = [])), request_body = CreateVault,
    responses((status = 201, body = Vault), (status = 200, body = Vault, description = "already existed"),
        (status = 409, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    caller: KeyHolder,
    JsonBody(req): JsonBody<CreateVault>,
) -> ApiResult<(StatusCode, Json<Vault>)> {
    let name = vouch_proto::validate_vault_name(&req.name)
        .ok_or_else(|| ApiError::bad_request(vouch_proto::VAULT_NAME_RULE))?
        .to_owned();
    let out = state
        .db
        .tx(move |tx| {
            if let Some(v) = load_vault(tx, req.id)? {
                if v.user_id == caller.user.id {
                    return Ok((StatusCode::OK, v));
                }
                return Err(ApiError::new(vouch_proto::ErrorCode::Forbidden, "this vault id is taken"));
            }
            tx.execute(
                // The first key is newer than every revocation on the chain so far: no
                // upkeep rotation for it (the creator's own chain position).
                "INSERT INTO vaults (id, user_id, name, created_by, created_at, epoch_chain_seq)
                 VALUES (?1, ?2, ?3, ?4, ?5, (SELECT max(seq) FROM chain_links WHERE user_id = ?2))",
                params![req.id.to_string(), caller.user.id.to_string(), name, caller.device.device.id.to_string(), now()],
            )?;
            Ok((crate::created(), load_vault(tx, req.id)?.ok_or_else(ApiError::internal)?))
        })
        .await?;
    Ok((out.0, Json(out.1)))
}

/// The caller's vaults, deleted ones included with their sealed deletion (`tombstone`):
/// devices drop a vault only on a deletion that opens under its key.
#[utoipa::path(get, path = vouch_proto::routes::VAULTS, tag = "vaults", security(("bearer" = [])), responses((status = 200, body = Vec<Vault>)))]
pub async fn list(State(state): State<AppState>, caller: KeyHolder) -> ApiResult<Json<Vec<Vault>>> {
    let out = state
        .db
        .tx(move |tx| {
            let ids: Vec<String> = tx.query_all(
                "SELECT id FROM vaults WHERE user_id = ?1 ORDER BY created_at, id",
                [caller.user.id.to_string()],
                |r| r.get(0),
            )?;
            ids.iter()
                .filter_map(|i| Uuid::parse_str(i).ok())
                .map(|id| load_vault(tx, id)?.ok_or_else(ApiError::internal))
                .collect()
        })
        .await?;
    Ok(Json(out))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ItemsQuery {
    /// Only changes after this sequence (0 = everything).
    #[param(minimum = 0, maximum = 9_223_372_036_854_775_807_i64)]
    since: Option<u64>,
}

/// Items (ciphertext, including deletions) changed after `since`, in change order, at
/// most [`vouch_proto::ITEMS_PAGE`] (a full page: ask again from its last `seq`).
#[utoipa::path(get, path = vouch_proto::routes::VAULT_ITEMS, tag = "vaults", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "vault id"), ItemsQuery),
    responses((status = 200, body = Vec<ItemRecord>), (status = 404, body = ErrorBody)))]
pub async fn list_items(
    State(state): State<AppState>,
    caller: KeyHolder,
    PathParams(id): PathParams<Uuid>,
    QueryParams(q): QueryParams<ItemsQuery>,
) -> ApiResult<Json<Vec<ItemRecord>>> {
    let since = i64::try_from(q.since.unwrap_or(0))
        .map_err(|_| ApiError::bad_request("`since` is past any sequence number"))?;
    let out = state
        .db
        .tx(move |tx| {
            own_vault(tx, &caller, id)?;
            let rows = tx.query_all("SELECT item_id, version, ciphertext, seq FROM items WHERE vault_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3", params![id.to_string(), since, vouch_proto::ITEMS_PAGE as i64], |r| {
                    Ok(ItemRecord {
                        vault_id: id,
                        item_id: parse_uuid(&r.get::<String>(0)?)?,
                        version: r.get::<i64>(1)? as u64,
                        ciphertext: r.get::<Option<Vec<u8>>>(2)?.map(Bytes),
                        seq: r.get::<i64>(3)? as u64,
                    })
                })?;
            Ok(rows)
        })
        .await?;
    Ok(Json(out))
}

/// Writes a new version of an item. A delete is a sealed tombstone like any other write
/// (Trust v2): a write without ciphertext is refused. The write must be based on the
/// server's current version; otherwise 409 `version_conflict` with it.
#[utoipa::path(put, path = vouch_proto::routes::VAULT_ITEM, tag = "vaults", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "vault id"), ("item_id" = Uuid, Path, description = "item id")),
    request_body = PutItem,
    responses((status = 200, body = ItemRecord), (status = 409, body = ErrorBody, description = "version_conflict, stale_key_epoch")))]
pub async fn put_item(
    State(state): State<AppState>,
    caller: KeyHolder,
    PathParams((id, item_id)): PathParams<(Uuid, Uuid)>,
    JsonBody(req): JsonBody<PutItem>,
) -> ApiResult<Json<ItemRecord>> {
    if req.version != req.base_version.saturating_add(1) || req.version > i64::MAX as u64 {
        return Err(ApiError::bad_request("version must be base_version + 1"));
    }
    if req.ciphertext.as_ref().is_none_or(|c| c.0.is_empty()) {
        return Err(ApiError::bad_request(
            "every version is sealed, deletes too (a sealed tombstone)",
        ));
    }
    let out = state
        .db
        .tx(move |tx| {
            let vault = own_vault(tx, &caller, id)?;
            let stored: Option<(i64, Option<Vec<u8>>, i64)> = tx
                .query_opt(
                    "SELECT version, ciphertext, seq FROM items WHERE vault_id = ?1 AND item_id = ?2",
                    params![id.to_string(), item_id.to_string()],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )?;
            let current = stored.as_ref().map_or(0, |s| s.0);
            // The very write again (a client that crashed or lost the answer after we
            // stored it): the ciphertext has a fresh random nonce, so equal bytes mean
            // the same write. Answer as before instead of a conflict.
            if let Some((v, ct, seq)) = &stored
                && *v as u64 == req.version
                && ct.as_deref() == req.ciphertext.as_ref().map(|b| b.0.as_slice())
            {
                return Ok(ItemRecord { vault_id: id, item_id, version: req.version, ciphertext: req.ciphertext, seq: *seq as u64 });
            }
            if current as u64 != req.base_version {
                return Err(ApiError::conflict(current as u64));
            }
            // A write sealed under a key older than the vault's newest epoch (a device that
            // has not caught up with a rotation) would be readable by a device revoked
            // since: refused, the writer re-seals under the newest key it receives.
            if let Some(epoch) = sealed_epoch(req.ciphertext.as_ref().map(|b| b.0.as_slice()))
                && epoch < vault.epoch
            {
                return Err(ApiError::new(
                    ErrorCode::StaleKeyEpoch,
                    format!("the vault's key was rotated to epoch {}: seal the item under it", vault.epoch),
                ));
            }
            let seq: i64 = tx.query_one("SELECT coalesce(max(seq), 0) + 1 FROM items WHERE vault_id = ?1", [id.to_string()], |r| r.get(0))?;
            let ct = req.ciphertext.as_ref().map(|b| b.0.clone());
            tx.execute(
                "INSERT INTO items (vault_id, item_id, version, ciphertext, seq) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(vault_id, item_id) DO UPDATE SET version = excluded.version, ciphertext = excluded.ciphertext, seq = excluded.seq",
                params![id.to_string(), item_id.to_string(), req.version as i64, ct, seq],
            )?;
            push_event_to_user(
                tx,
                vault.user_id,
                Some(caller.device.device.id),
                false,
                &Event::ItemChanged { vault_id: id, item_id, version: req.version },
            )?;
            Ok(ItemRecord { vault_id: id, item_id, version: req.version, ciphertext: req.ciphertext, seq: seq as u64 })
        })
        .await?;
    Ok(Json(out))
}

/// Deletes a vault: stores its deletion, sealed under the vault key by the calling key
/// holder (the server cannot check the seal; every other device does before dropping its
/// copy), drops the vault's item records and tells the user's other devices. Email-only
/// devices are refused (`key_holder_required`); a repeat of the same deletion answers as
/// the first (a retry), another deletion of a deleted vault is `conflict`.
#[utoipa::path(post, path = vouch_proto::routes::VAULT_DELETE, tag = "vaults", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "vault id")),
    request_body = DeleteVault,
    responses((status = 200, body = Vault, description = "deleted; `tombstone` is set"),
        (status = 400, body = ErrorBody, description = "not a sealed deletion (format 1, 45 bytes)"),
        (status = 403, body = ErrorBody, description = "`key_holder_required`: an email-only device"),
        (status = 404, body = ErrorBody, description = "no such vault of this user"),
        (status = 409, body = ErrorBody, description = "`vault_deleted`: already deleted with another deletion")))]
pub async fn delete(
    State(state): State<AppState>,
    caller: KeyHolder,
    Origin(origin): Origin,
    PathParams(id): PathParams<Uuid>,
    JsonBody(req): JsonBody<DeleteVault>,
) -> ApiResult<Json<Vault>> {
    // The shape only: `format 1 ‖ epoch ‖ nonce ‖ tag` (45 bytes). Whether it opens is for
    // the devices holding the key to check.
    if req.tombstone.0.len() != 45 || req.tombstone.0[0] != 1 {
        return Err(ApiError::bad_request(
            "a vault deletion is 45 bytes sealed under the vault key (format 1)",
        ));
    }
    let out = state
        .db
        .tx(move |tx| {
            let vault = match load_vault(tx, id)? {
                Some(v) if v.user_id == caller.user.id => v,
                _ => return Err(ApiError::not_found("vault")),
            };
            if let Some(held) = &vault.tombstone {
                if held.0 == req.tombstone.0 {
                    return Ok(vault);
                }
                return Err(ApiError::new(
                    ErrorCode::VaultDeleted,
                    "this vault is already deleted",
                ));
            }
            // Under the vault's newest key, as item writes: devices holding a newer key
            // refuse a deletion under an older one (it may be in a revoked device's hands).
            let epoch = u32::from_be_bytes([
                req.tombstone.0[1],
                req.tombstone.0[2],
                req.tombstone.0[3],
                req.tombstone.0[4],
            ]);
            if epoch < vault.epoch {
                return Err(ApiError::new(
                    ErrorCode::StaleKeyEpoch,
                    "the vault's key was rotated: sync, then delete it again",
                ));
            }
            tx.execute(
                "UPDATE vaults SET tombstone = ?2 WHERE id = ?1",
                params![id.to_string(), req.tombstone.0],
            )?;
            tx.execute("DELETE FROM items WHERE vault_id = ?1", [id.to_string()])?;
            tx.execute(
                "DELETE FROM chain_envelopes WHERE vault_id = ?1",
                [id.to_string()],
            )?;
            let device = caller.device.device.id;
            audit::record(
                tx,
                caller.user.id,
                Some(device),
                AuditAction::VaultDeleted,
                &Actor::device(device, origin),
                Some(&id.to_string()),
            )?;
            push_event_to_user(
                tx,
                vault.user_id,
                Some(device),
                false,
                &Event::VaultDeleted { vault_id: id },
            )?;
            load_vault(tx, id)?.ok_or_else(ApiError::internal)
        })
        .await?;
    Ok(Json(out))
}

/// The key epoch a sealed item names in its header (item format 2: `0x02 ‖ flags ‖ epoch
/// (u32 BE) ‖ …`); `None` for anything else, which the clients refuse on their own.
fn sealed_epoch(ct: Option<&[u8]>) -> Option<u32> {
    match ct? {
        [2, _, a, b, c, d, ..] => Some(u32::from_be_bytes([*a, *b, *c, *d])),
        _ => None,
    }
}

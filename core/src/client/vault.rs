//! Local vaults: keys only on trusted devices, items sealed on the device and synced to
//! the server as ciphertext with versions. Writes land in the store and the outbox
//! first, so they survive being offline or killed; a write the server refuses as stale
//! (`version_conflict`) is kept as a conflict copy, never silently lost.

use serde::{Deserialize, Serialize};
use uuid::Uuid;
use vouch_proto::routes;
use vouch_proto::{Bytes, CreateVault, DeleteVault, ErrorCode, ItemRecord, PutItem, Vault};

use super::{Client, EnrollmentState};
use crate::{
    crypto::{
        ItemAad, OpenedItem, SecretBytes, VaultKey, open_item, open_vault_tombstone, seal_entry,
        seal_item, seal_vault_tombstone, sealed_item_epoch, vault_tombstone_epoch,
    },
    error::{Error, Result},
    store::{Change, StoredItem, now_ms},
};

/// A vault as the UI lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultInfo {
    /// Vault id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Whether this device holds the key (an email-only device may not yet).
    pub has_key: bool,
}

/// An item's metadata (its value comes from [`Client::get_item`]). `Debug` leaves the
/// title out: it is as secret as the value.
#[derive(Clone, PartialEq, Eq)]
pub struct ItemInfo {
    /// Vault id.
    pub vault_id: Uuid,
    /// Item id.
    pub item_id: Uuid,
    /// The item's title, decrypted on this device (it travels only inside the item's
    /// ciphertext); `None` for an item without one (items written before titles).
    pub title: Option<String>,
    /// Version.
    pub version: u64,
    /// Acknowledged by the server.
    pub synced: bool,
    /// Set when this write lost to a newer version on the server (changed on another
    /// device): the written value was kept as a new item with this id, and `item_id`
    /// holds the server's version. Never set by reads.
    pub conflict_copy: Option<Uuid>,
}

impl std::fmt::Debug for ItemInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ItemInfo")
            .field("vault_id", &self.vault_id)
            .field("item_id", &self.item_id)
            .field("title", &self.title.as_ref().map(|_| "<redacted>"))
            .field("version", &self.version)
            .field("synced", &self.synced)
            .field("conflict_copy", &self.conflict_copy)
            .finish()
    }
}

/// Longest item title, in characters.
pub const MAX_ITEM_TITLE_CHARS: usize = 256;

/// An item title as stored: trimmed, 1–256 characters, no control characters. The error
/// never repeats the title (it is secret).
fn validate_item_title(title: &str) -> Result<&str> {
    let t = title.trim();
    let n = t.chars().count();
    if n == 0 || n > MAX_ITEM_TITLE_CHARS || t.chars().any(char::is_control) {
        return Err(Error::InvalidInput(
            "an item title is 1–256 characters without control characters".into(),
        ));
    }
    Ok(t)
}

/// How titles compare (trimmed, without case), as vault names do.
fn title_key(title: &str) -> String {
    title.trim().to_lowercase()
}

/// What a sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Queued operations delivered.
    pub sent: u32,
    /// Item versions received from the server.
    pub received: u32,
    /// Local writes that lost to a newer server version and were kept as copies.
    pub conflicts: u32,
    /// Operations still queued (the server was unreachable).
    pub queued: u32,
    /// Pulled records refused and held back: they did not open, were below a version this
    /// device already had (a rollback), or were unsealed deletes. The last good copy stays.
    pub refused: u32,
    /// For each write kept as a copy: the item it was meant for, and the copy's id.
    pub conflict_copies: Vec<(Uuid, Uuid)>,
    /// Vaults dropped here because a deletion sealed under their key arrived.
    pub vaults_deleted: Vec<Uuid>,
    /// Vaults kept although the server no longer lists them and sent no deletion: only a
    /// deletion sealed under the vault key makes a device drop one (the server may be
    /// tampering, or the vault's creation never reached it).
    pub vaults_missing: Vec<Uuid>,
    /// Vaults kept although the server says they were deleted: the deletion does not open
    /// under this device's key (forged).
    pub deletions_refused: Vec<Uuid>,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub(super) enum Op {
    CreateVault {
        id: Uuid,
        name: String,
    },
    PutItem {
        vault_id: Uuid,
        item_id: Uuid,
        version: u64,
        ciphertext: Option<Bytes>,
    },
    /// An item sealed again under a rotated key (sent like `PutItem`; on a conflict the
    /// other write stands and no copy is kept).
    Reseal {
        vault_id: Uuid,
        item_id: Uuid,
        version: u64,
        ciphertext: Option<Bytes>,
    },
}

const OUTBOX_BATCH: usize = 100;
/// Re-encryption batches one sync does after a rotation (the rest at the next syncs).
const REENCRYPT_BATCHES_PER_SYNC: usize = 50;
const RETRY_BASE_MS: i64 = 1_000;
const RETRY_MAX_MS: i64 = 60_000;

impl Client {
    fn require_trusted(&self) -> Result<()> {
        match self.state() {
            EnrollmentState::Trusted { .. } => self.require_unlocked(),
            EnrollmentState::Wiped => Err(Error::Wiped),
            _ => Err(Error::InvalidState("vaults need a trusted device")),
        }
    }

    pub(super) fn key_of(&self, vault_id: Uuid, epoch: u32) -> Result<VaultKey> {
        self.inner
            .store
            .vault_key(vault_id, epoch)?
            .ok_or(Error::InvalidState(
                "this device does not hold the vault's key",
            ))
    }

    /// The newest key epoch of a vault this device holds: what new writes are sealed under.
    pub(super) fn write_epoch(&self, vault_id: Uuid) -> Result<u32> {
        self.inner
            .store
            .vault_key_epochs(vault_id)?
            .last()
            .copied()
            .ok_or(Error::InvalidState(
                "this device does not hold the vault's key",
            ))
    }

    /// Opens a stored or pulled record with the key of the epoch it names.
    pub(super) fn open_record(&self, at: ItemAad, sealed: &[u8]) -> Result<OpenedItem> {
        let epoch = sealed_item_epoch(sealed)?;
        let key = self.key_of(at.vault_id, epoch)?;
        open_item(&key, &ItemAad { epoch, ..at }, sealed)
    }

    /// Creates a local vault: a fresh 256-bit key that never leaves the device unsealed.
    pub async fn create_vault(&self, name: &str) -> Result<VaultInfo> {
        // Vault and item writes are for key holders only (Trust v2).
        self.require_key_holder_device()?;
        let name = vouch_proto::validate_vault_name(name)
            .ok_or_else(|| Error::InvalidInput(vouch_proto::VAULT_NAME_RULE.into()))?;
        let id = Uuid::new_v4();
        let key = VaultKey::generate()?;
        let (kind, payload) = encode(&Op::CreateVault {
            id,
            name: name.to_owned(),
        })?;
        // The vault and its queued create land together or not at all.
        self.inner.store.apply(&[
            Change::NewVault {
                id,
                name,
                key: &key,
            },
            Change::Enqueue {
                kind,
                payload: &payload,
            },
        ])?;
        self.inner.store.audit("vault_created", &id.to_string())?;
        // Online: the vault reaches the server and every key holder on the verified chain
        // now; offline, the next sync does both.
        if self.flush(false).await.is_ok()
            && let Err(e) = self.share_vault_keys().await
        {
            log::warn!("the new vault's key was not shared yet: {e}");
        }
        self.notify_vaults();
        Ok(VaultInfo {
            id,
            name: name.to_owned(),
            has_key: true,
        })
    }

    /// The vaults this device knows (a local read; works offline).
    pub fn vaults(&self) -> Result<Vec<VaultInfo>> {
        self.require_trusted()?;
        Ok(self
            .inner
            .store
            .vaults()?
            .into_iter()
            .map(|v| VaultInfo {
                id: v.id,
                name: v.name,
                has_key: v.has_key,
            })
            .collect())
    }

    /// Writes an item (new when `item_id` is `None`): sealed here, stored, queued for the
    /// server. Works offline; `synced` tells whether the server already has it. An
    /// existing item keeps its title.
    pub async fn put_item(
        &self,
        vault_id: Uuid,
        item_id: Option<Uuid>,
        plaintext: &[u8],
    ) -> Result<ItemInfo> {
        self.put_titled_item(vault_id, item_id, None, plaintext)
            .await
    }

    /// Writes an item with a title (new when `item_id` is `None`). The title is sealed with
    /// the value (the server never sees it); `None` keeps an existing item's title. A
    /// title is 1–256 characters without control characters, unique in its vault
    /// (trimmed, without case): another item's title is [`Error::InvalidInput`], as is a
    /// bad one, and nothing changes.
    pub async fn put_titled_item(
        &self,
        vault_id: Uuid,
        item_id: Option<Uuid>,
        title: Option<&str>,
        value: &[u8],
    ) -> Result<ItemInfo> {
        self.require_key_holder_device()?;
        let item_id = item_id.unwrap_or_else(Uuid::new_v4);
        let title = match title {
            Some(t) => {
                let t = validate_item_title(t)?;
                if self.item_title_taken(vault_id, t, Some(item_id))? {
                    return Err(Error::InvalidInput(
                        "another item of this vault has this title".into(),
                    ));
                }
                Some(t.to_owned())
            }
            None => self.item_title(vault_id, item_id)?,
        };
        self.write_item(vault_id, item_id, Some((title.as_deref(), value)))
            .await
    }

    /// Whether a live item of the vault other than `except` has this title (trimmed,
    /// without case). Titles are decrypted here.
    pub fn item_title_taken(
        &self,
        vault_id: Uuid,
        title: &str,
        except: Option<Uuid>,
    ) -> Result<bool> {
        let key = title_key(title);
        Ok(self.list_items(vault_id)?.iter().any(|i| {
            Some(i.item_id) != except && i.title.as_deref().map(title_key) == Some(key.clone())
        }))
    }

    /// A live item of the vault by id or by title (trimmed, without case). A title more
    /// than one item has is refused as ambiguous (use the id). Errors never repeat the
    /// title.
    pub fn find_item(&self, vault_id: Uuid, title_or_id: &str) -> Result<ItemInfo> {
        let items = self.list_items(vault_id)?;
        if let Ok(id) = Uuid::parse_str(title_or_id.trim())
            && let Some(i) = items.iter().find(|i| i.item_id == id)
        {
            return Ok(i.clone());
        }
        let key = title_key(title_or_id);
        let mut named = items
            .into_iter()
            .filter(|i| i.title.as_deref().map(title_key).as_ref() == Some(&key));
        match (named.next(), named.next()) {
            (Some(i), None) => Ok(i),
            (Some(_), Some(_)) => Err(Error::InvalidInput(
                "more than one item has this title; use its id".into(),
            )),
            (None, _) => Err(Error::InvalidInput(
                "no item with this title or id in the vault".into(),
            )),
        }
    }

    /// The title of a live item (`None`: no such item, or one without a title).
    fn item_title(&self, vault_id: Uuid, item_id: Uuid) -> Result<Option<String>> {
        Ok(self
            .open_stored(vault_id, item_id)?
            .and_then(|o| o.title().map(str::to_owned)))
    }

    /// Opens the stored copy of an item (`None` when there is none or it is deleted).
    fn open_stored(&self, vault_id: Uuid, item_id: Uuid) -> Result<Option<OpenedItem>> {
        let Some(item) = self.inner.store.item(vault_id, item_id)? else {
            return Ok(None);
        };
        let Some(sealed) = item.sealed else {
            return Ok(None);
        };
        let at = ItemAad {
            vault_id,
            item_id,
            version: item.version,
            epoch: 0,
        };
        match self.open_record(at, &sealed)? {
            OpenedItem::Deleted => Ok(None),
            live => Ok(Some(live)),
        }
    }

    /// Deletes an item (a new version without content, synced like any write).
    pub async fn delete_item(&self, vault_id: Uuid, item_id: Uuid) -> Result<ItemInfo> {
        self.write_item(vault_id, item_id, None).await
    }

    /// Writes one version: `Some((title, value))` for a live item, `None` for a delete.
    async fn write_item(
        &self,
        vault_id: Uuid,
        item_id: Uuid,
        content: Option<(Option<&str>, &[u8])>,
    ) -> Result<ItemInfo> {
        // Vault and item writes are for key holders only (Trust v2).
        self.require_key_holder_device()?;
        let epoch = self.write_epoch(vault_id)?;
        let key = self.key_of(vault_id, epoch)?;
        let version = self
            .inner
            .store
            .item(vault_id, item_id)?
            .map(|i| i.version)
            .unwrap_or(0)
            + 1;
        let at = ItemAad {
            vault_id,
            item_id,
            version,
            epoch,
        };
        // A delete is a sealed tombstone: only a key holder can make one that opens. A live
        // item is an entry: its title is sealed with its value.
        let sealed = match content {
            Some((title, value)) => seal_entry(&key, &at, title, value)?,
            None => seal_item(&key, &at, None)?,
        };
        let item = StoredItem {
            vault_id,
            item_id,
            version,
            sealed: Some(sealed.clone()),
            deleted: content.is_none(),
            dirty: true,
            high: version,
        };
        let (kind, payload) = encode(&Op::PutItem {
            vault_id,
            item_id,
            version,
            ciphertext: Some(Bytes(sealed)),
        })?;
        // The item and its queued upload land together: a crash cannot leave a local
        // write that is never sent.
        self.inner.store.apply(&[
            Change::Item(&item),
            Change::Enqueue {
                kind,
                payload: &payload,
            },
        ])?;
        // Sent now when the server can be reached; a server that cannot be reached keeps
        // it queued. Anything else is said, never read as "queued": a revoked device
        // (wiped), a write that lost to a newer version (kept as a copy).
        let conflict_copy = match self.flush(false).await {
            Ok(report) => report
                .conflict_copies
                .iter()
                .find(|(meant, _)| *meant == item_id)
                .map(|(_, copy)| *copy),
            Err(e) if e.is_transient() => None,
            Err(e) => return Err(e),
        };
        if conflict_copy.is_some() {
            // The server's version replaces ours here and the copy goes out: both show in
            // the vault at once instead of the item vanishing until the next sync.
            match self.sync().await {
                Ok(_) => {}
                Err(e) if e.is_transient() => {}
                Err(e) => return Err(e),
            }
        }
        let stored = self.inner.store.item(vault_id, item_id)?;
        let synced = conflict_copy.is_none()
            && stored
                .as_ref()
                .is_some_and(|i| i.version == version && !i.dirty);
        self.notify_vaults();
        Ok(ItemInfo {
            vault_id,
            item_id,
            title: content.and_then(|(t, _)| t.map(str::to_owned)),
            version: if conflict_copy.is_some() {
                stored.map_or(0, |i| i.version)
            } else {
                version
            },
            synced,
            conflict_copy,
        })
    }

    /// The key epoch this device's copy of an item is sealed under (a local read; `None`
    /// for an unknown item): after a rotation, new writes show the new epoch.
    pub fn item_epoch(&self, vault_id: Uuid, item_id: Uuid) -> Result<Option<u32>> {
        self.require_trusted()?;
        self.inner
            .store
            .item(vault_id, item_id)?
            .and_then(|it| it.sealed)
            .map(|sealed| sealed_item_epoch(&sealed))
            .transpose()
    }

    /// The key epochs of a vault whose keys this device holds, oldest first (a local read):
    /// after a rotation a revoked device's copy lacks the new one.
    pub fn key_epochs(&self, vault_id: Uuid) -> Result<Vec<u32>> {
        self.require_trusted()?;
        self.inner.store.vault_key_epochs(vault_id)
    }

    /// An item's plaintext, decrypted on the device (a local read; works offline).
    /// `None` when the item does not exist or was deleted.
    pub fn get_item(&self, vault_id: Uuid, item_id: Uuid) -> Result<Option<SecretBytes>> {
        self.require_trusted()?;
        self.write_epoch(vault_id)?;
        Ok(match self.open_stored(vault_id, item_id)? {
            Some(OpenedItem::Live(value) | OpenedItem::Titled { value, .. }) => Some(value),
            _ => None,
        })
    }

    /// The live items of a vault with their titles, decrypted here (a local read). An item
    /// this device cannot open shows without a title.
    pub fn list_items(&self, vault_id: Uuid) -> Result<Vec<ItemInfo>> {
        self.require_trusted()?;
        self.inner
            .store
            .items(vault_id)?
            .into_iter()
            .map(|i| {
                let title = match &i.sealed {
                    Some(sealed) => self
                        .open_record(
                            ItemAad {
                                vault_id,
                                item_id: i.item_id,
                                version: i.version,
                                epoch: 0,
                            },
                            sealed,
                        )
                        .ok()
                        .and_then(|o| o.title().map(str::to_owned)),
                    None => None,
                };
                Ok(ItemInfo {
                    vault_id,
                    item_id: i.item_id,
                    title,
                    version: i.version,
                    synced: !i.dirty,
                    conflict_copy: None,
                })
            })
            .collect()
    }

    /// Deletes a vault on every device of the user: its deletion is sealed under the vault
    /// key here (only a device holding the key can make one that opens), sent, and the
    /// local copy dropped once the server took it. Writes still queued are sent first. Key
    /// holders only; needs the server (offline: [`Error::Offline`], nothing changes).
    pub async fn delete_vault(&self, vault_id: Uuid) -> Result<()> {
        self.require_key_holder_device()?;
        // The server must know the vault (a queued create) before it can delete it.
        loop {
            let report = self.flush(true).await?;
            if report.queued == 0 || report.sent == 0 {
                break;
            }
        }
        let token = self.device_token()?;
        // Sealed under the newest key this device holds; a key rotated meanwhile (409
        // `stale_key_epoch`) arrives with a sync, and the deletion is sealed again once.
        for attempt in 0..2 {
            let epoch = self.write_epoch(vault_id)?;
            let key = self.key_of(vault_id, epoch)?;
            let tombstone = seal_vault_tombstone(&key, vault_id, epoch)?;
            let sent = self
                .inner
                .transport
                .post::<_, Vault>(
                    &routes::fill(routes::VAULT_DELETE, &[&vault_id]),
                    Some(&token),
                    &DeleteVault {
                        tombstone: Bytes(tombstone),
                    },
                )
                .await;
            match self.guard(sent).await {
                Err(Error::Server {
                    code: ErrorCode::StaleKeyEpoch,
                    ..
                }) if attempt == 0 => {
                    self.sync().await?;
                }
                other => {
                    other?;
                    break;
                }
            }
        }
        self.inner.store.apply(&[Change::DropVault(vault_id)])?;
        self.inner
            .store
            .audit("vault_deleted", &vault_id.to_string())?;
        self.notify_vaults();
        Ok(())
    }

    /// Number of operations waiting for the server.
    pub fn queued_operations(&self) -> Result<u64> {
        self.inner.store.outbox_len()
    }

    fn notify_vaults(&self) {
        if let Some(l) = &self.inner.listener {
            l.vaults_changed();
        }
    }

    /// Delivers every queued operation now, in order (an explicit sync: retry delays
    /// are ignored). Fails with [`Error::Offline`] when the server cannot be reached; the
    /// operations stay queued.
    pub async fn flush_outbox(&self) -> Result<SyncReport> {
        self.flush(true).await
    }

    /// Delivers queued operations in order; stops at the first one the server cannot be
    /// reached for, which then waits out an exponential backoff unless `force`.
    pub(super) async fn flush(&self, force: bool) -> Result<SyncReport> {
        let (mut report, resealed) = self.flush_once(force).await?;
        if resealed {
            // Sealed again under a key rotated meanwhile: sent now, not by the next command.
            let (again, _) = self.flush_once(true).await?;
            report.sent += again.sent;
            report.conflicts += again.conflicts;
            report.conflict_copies.extend(again.conflict_copies);
            report.queued = again.queued;
        }
        Ok(report)
    }

    /// One pass over the due operations; and whether one was sealed again under a newer
    /// key (it waits for the next pass).
    async fn flush_once(&self, force: bool) -> Result<(SyncReport, bool)> {
        self.require_trusted()?;
        let token = self.device_token()?;
        let mut report = SyncReport::default();
        let mut resealed_any = false;
        let now = if force { i64::MAX } else { now_ms() };
        let entries = self.inner.store.outbox_due(now, OUTBOX_BATCH)?;
        for entry in entries {
            let op = Op::from_stored(&entry.payload).ok_or(Error::CorruptRow("outbox"))?;
            // A re-encryption travels as a write; it differs only when it loses a race.
            let (reseal, op) = match op {
                Op::Reseal {
                    vault_id,
                    item_id,
                    version,
                    ciphertext,
                } => (
                    true,
                    Op::PutItem {
                        vault_id,
                        item_id,
                        version,
                        ciphertext,
                    },
                ),
                other => (false, other),
            };
            let result = match &op {
                // Normalised to `PutItem` above.
                Op::Reseal { .. } => Ok(()),
                Op::CreateVault { id, name } => self
                    .inner
                    .transport
                    .post::<_, Vault>(
                        routes::VAULTS,
                        Some(&token),
                        &CreateVault {
                            id: *id,
                            name: name.clone(),
                        },
                    )
                    .await
                    .map(|_| ()),
                Op::PutItem {
                    vault_id,
                    item_id,
                    version,
                    ciphertext,
                } => {
                    let body = PutItem {
                        version: *version,
                        base_version: version - 1,
                        ciphertext: ciphertext.clone(),
                    };
                    self.inner
                        .transport
                        .send::<_, ItemRecord>(
                            reqwest::Method::PUT,
                            &routes::fill(routes::VAULT_ITEM, &[&vault_id, &item_id]),
                            Some(&token),
                            Some(&body),
                        )
                        .await
                        .map(|_| ())
                }
            };
            match self.guard(result).await {
                Ok(()) => {
                    match &op {
                        Op::PutItem {
                            vault_id,
                            item_id,
                            version,
                            ..
                        } => self.inner.store.apply(&[
                            Change::ItemSynced {
                                vault_id: *vault_id,
                                item_id: *item_id,
                                version: *version,
                            },
                            Change::OutboxAck(entry.seq),
                        ])?,
                        Op::CreateVault { .. } | Op::Reseal { .. } => {
                            self.inner.store.outbox_ack(entry.seq)?
                        }
                    }
                    report.sent += 1;
                }
                Err(e) if e.is_transient() => {
                    let delay = (RETRY_BASE_MS << entry.attempts.min(6)).min(RETRY_MAX_MS);
                    self.inner
                        .store
                        .outbox_retry_at(entry.seq, now_ms() + delay)?;
                    return Err(e);
                }
                Err(Error::Server {
                    code: ErrorCode::VersionConflict,
                    ..
                }) => match op {
                    // Someone wrote the item meanwhile: their version stands (it is sealed
                    // under the key they hold, or refused as stale); no copy of ours.
                    Op::PutItem {
                        vault_id,
                        item_id,
                        version,
                        ..
                    } if reseal => {
                        self.keep_conflict_copy(entry.seq, vault_id, item_id, version, None)?;
                    }
                    Op::PutItem {
                        vault_id,
                        item_id,
                        version,
                        ciphertext,
                    } => {
                        if let Some(copy) = self
                            .keep_conflict_copy(entry.seq, vault_id, item_id, version, ciphertext)?
                        {
                            report.conflict_copies.push((item_id, copy));
                        }
                        report.conflicts += 1;
                    }
                    Op::CreateVault { .. } | Op::Reseal { .. } => {
                        self.inner.store.outbox_ack(entry.seq)?
                    }
                },
                // The vault's key was rotated after this write was sealed: take the newest
                // key and seal it again; without that key yet (or a revoked device, which
                // never gets it), it waits.
                Err(Error::Server {
                    code: ErrorCode::StaleKeyEpoch,
                    ..
                }) => {
                    if let Err(e) = self.receive_chain_envelopes().await {
                        log::warn!("the rotated key was not received: {e}");
                    }
                    let resealed = match &op {
                        Op::PutItem {
                            vault_id,
                            item_id,
                            version,
                            ciphertext: Some(ct),
                        } => self.reseal_queued(entry.seq, *vault_id, *item_id, *version, &ct.0)?,
                        _ => false,
                    };
                    resealed_any |= resealed;
                    if !resealed {
                        let delay = (RETRY_BASE_MS << entry.attempts.min(6)).min(RETRY_MAX_MS);
                        self.inner
                            .store
                            .outbox_retry_at(entry.seq, now_ms() + delay)?;
                    }
                }
                Err(e @ (Error::Wiped | Error::Locked)) => return Err(e),
                Err(e) => {
                    // Refused for good (e.g. the vault is gone): drop it, keep a trace.
                    log::warn!("queued {} refused: {e}", entry.kind);
                    self.inner
                        .store
                        .audit("outbox_dropped", &format!("{}: {}", entry.kind, e))?;
                    self.inner.store.outbox_ack(entry.seq)?;
                }
            }
        }
        report.queued = self.inner.store.outbox_len()? as u32;
        Ok((report, resealed_any))
    }

    /// Seals a queued write again under the vault's newest key held here (same item,
    /// version, title and value), replacing the stored copy and the queued upload in one
    /// transaction. `false` when no newer key than the one it was sealed under is held.
    fn reseal_queued(
        &self,
        seq: i64,
        vault_id: Uuid,
        item_id: Uuid,
        version: u64,
        sealed: &[u8],
    ) -> Result<bool> {
        let at = ItemAad {
            vault_id,
            item_id,
            version,
            epoch: 0,
        };
        let old_epoch = sealed_item_epoch(sealed)?;
        let epoch = self.write_epoch(vault_id)?;
        if epoch <= old_epoch {
            return Ok(false);
        }
        let opened = self.open_record(at, sealed)?;
        let key = self.key_of(vault_id, epoch)?;
        let at = ItemAad { epoch, ..at };
        let resealed = match &opened {
            OpenedItem::Deleted => seal_item(&key, &at, None)?,
            other => seal_entry(
                &key,
                &at,
                other.title(),
                other.value().map(|v| v.as_slice()).unwrap_or_default(),
            )?,
        };
        let (kind, payload) = encode(&Op::PutItem {
            vault_id,
            item_id,
            version,
            ciphertext: Some(Bytes(resealed.clone())),
        })?;
        let stored = self.inner.store.item(vault_id, item_id)?;
        let updated = stored.filter(|s| s.version == version).map(|s| StoredItem {
            sealed: Some(resealed),
            ..s
        });
        let mut changes = vec![
            Change::OutboxAck(seq),
            Change::Enqueue {
                kind,
                payload: &payload,
            },
        ];
        if let Some(it) = &updated {
            changes.push(Change::Item(it));
        }
        self.inner.store.apply(&changes)?;
        self.inner.store.audit(
            "item_resealed",
            &format!("item {item_id} v{version} to key epoch {epoch}"),
        )?;
        Ok(true)
    }

    /// The server has a newer version of an item we changed: keep our version as a new
    /// item (re-sealed under its new id) and let the next pull bring the server's. The
    /// copy, its queued upload and the acknowledgement of the refused write `seq` are one
    /// transaction, so a crash cannot make two copies or none.
    fn keep_conflict_copy(
        &self,
        seq: i64,
        vault_id: Uuid,
        item_id: Uuid,
        version: u64,
        ciphertext: Option<Bytes>,
    ) -> Result<Option<Uuid>> {
        self.inner.store.audit(
            "conflict",
            &format!("item {item_id} v{version} kept as a copy"),
        )?;
        // Forget our losing version so the pull can bring the server's.
        let forget = StoredItem {
            vault_id,
            item_id,
            version: 0,
            sealed: None,
            deleted: false,
            dirty: false,
            high: 0,
        };
        let cursor = format!("items_seq.{vault_id}");
        let mut changes = vec![
            Change::Item(&forget),
            Change::Setting {
                name: &cursor,
                value: "0",
            },
            Change::OutboxAck(seq),
        ];
        let Some(ct) = ciphertext else {
            return self.inner.store.apply(&changes).map(|()| None);
        };
        let at = ItemAad {
            vault_id,
            item_id,
            version,
            epoch: 0,
        };
        // A losing delete needs no copy: the server's version wins.
        let opened = self.open_record(at, &ct.0)?;
        let Some(plain) = opened.value() else {
            return self.inner.store.apply(&changes).map(|()| None);
        };
        let epoch = self.write_epoch(vault_id)?;
        let key = self.key_of(vault_id, epoch)?;
        let copy_id = Uuid::new_v4();
        let sealed = seal_entry(
            &key,
            &ItemAad {
                vault_id,
                item_id: copy_id,
                version: 1,
                epoch,
            },
            opened.title(),
            plain,
        )?;
        let copy = StoredItem {
            vault_id,
            item_id: copy_id,
            version: 1,
            sealed: Some(sealed.clone()),
            deleted: false,
            dirty: true,
            high: 1,
        };
        let (kind, payload) = encode(&Op::PutItem {
            vault_id,
            item_id: copy_id,
            version: 1,
            ciphertext: Some(Bytes(sealed)),
        })?;
        changes.push(Change::Item(&copy));
        changes.push(Change::Enqueue {
            kind,
            payload: &payload,
        });
        self.inner.store.apply(&changes).map(|()| Some(copy_id))
    }

    /// Two-way sync: delivers queued writes, refreshes vault names, and pulls new item
    /// versions of every vault whose key this device holds.
    pub async fn sync(&self) -> Result<SyncReport> {
        // An approval whose keys are stored but whose acknowledgement is owed (killed in
        // between) is finished first: it is what makes this device a key holder.
        if self.approval_prompt().ok().flatten().is_some() && self.state().is_trusted() {
            let _ = self.check_approval().await;
        }
        // A locked device asks the server again first (unlocks, stays locked, or shreds
        // on a verified revocation).
        self.recheck_lock().await?;
        // An email-only device has no vault access at all (Trust v2): nothing to sync
        // until a key holder shares the keys.
        self.require_trusted()?;
        if !self.state().is_key_holder() {
            // Still ask the server about this device, so a revocation is learned (and
            // the device wipes) like on any other.
            self.devices().await?;
            return Ok(SyncReport::default());
        }
        let mut report = self.flush_outbox().await?;
        // A conflict copy queued during the flush goes out now too.
        if report.conflicts > 0 {
            let again = self.flush_outbox().await?;
            report.sent += again.sent;
            report.queued = again.queued;
        }
        let token = self.device_token()?;
        let vaults: Vec<Vault> = self
            .guard(self.inner.transport.get(routes::VAULTS, Some(&token)).await)
            .await?;
        let live = self.apply_vault_list(&vaults, &mut report)?;
        // Keys move only along the verified vouch chain: received from its key holders,
        // sealed to its key holders; a key made before a revocation is rotated (upkeep:
        // whoever signed the revocation may have gone offline before rotating). Deleted
        // vaults are neither rotated nor shared.
        self.receive_chain_envelopes().await?;
        // Revocations decided here (a disable, a recovery) that are not on the chain yet
        // are signed again here; key holders the server disabled get nothing more.
        self.finish_pending_revocations().await?;
        self.rotate_away_from_disabled().await?;
        let listed: Vec<Vault> = vaults
            .iter()
            .filter(|v| v.tombstone.is_none())
            .cloned()
            .collect();
        self.rotate_after_revocations(&listed).await?;
        self.share_vault_keys().await?;
        // Items under a key this device rotated away from are sealed again, a few batches
        // per sync (a kill resumes from the data); they go out with the next flush.
        if self.reencrypt_rotated(REENCRYPT_BATCHES_PER_SYNC).await? > 0 {
            let again = self.flush_outbox().await?;
            report.sent += again.sent;
            report.queued = again.queued;
        }
        for v in self.inner.store.vaults()?.into_iter().filter(|v| v.has_key) {
            if !live.contains(&v.id) {
                continue;
            }
            let head = listed.iter().find(|l| l.id == v.id).map(|l| l.head_seq);
            let (received, refused) = self.pull_items(&token, v.id, head).await?;
            report.received += received;
            report.refused += refused;
        }
        self.notify_vaults();
        Ok(report)
    }

    /// Takes the server's vault list: names of live vaults; a deletion drops the local
    /// copy only if it opens under the key this device holds for that vault (a vault
    /// without a key here holds nothing to protect and goes); a vault missing from the list
    /// is kept. Kept ones are reported and audited. Returns the vaults to pull.
    fn apply_vault_list(
        &self,
        vaults: &[Vault],
        report: &mut SyncReport,
    ) -> Result<std::collections::HashSet<Uuid>> {
        let local = self.inner.store.vaults()?;
        let mut live = std::collections::HashSet::new();
        for v in vaults {
            let Some(tombstone) = &v.tombstone else {
                // Vaults are never renamed: a name this device knows stays (a server that
                // swaps two names would send the next write into the other vault).
                if !local.iter().any(|l| l.id == v.id && !l.name.is_empty()) {
                    self.inner.store.upsert_vault(v.id, &v.name)?;
                }
                live.insert(v.id);
                continue;
            };
            let Some(held) = local.iter().find(|l| l.id == v.id) else {
                continue;
            };
            // Sealed under the newest key this device holds for the vault: a key from before
            // a rotation may be in a revoked device's hands.
            let newest = self.inner.store.vault_key_epochs(v.id)?.into_iter().max();
            let verified = !held.has_key
                || vault_tombstone_epoch(&tombstone.0)
                    .and_then(|epoch| {
                        if newest.is_some_and(|n| epoch < n) {
                            Err(Error::MalformedItem)
                        } else {
                            self.key_of(v.id, epoch)
                        }
                    })
                    .and_then(|key| open_vault_tombstone(&key, v.id, &tombstone.0))
                    .is_ok();
            if verified {
                self.inner.store.apply(&[Change::DropVault(v.id)])?;
                self.inner
                    .store
                    .audit("vault_deleted_elsewhere", &v.id.to_string())?;
                report.vaults_deleted.push(v.id);
            } else {
                log::warn!("vault {} kept: its deletion does not open", v.id);
                self.inner
                    .store
                    .audit("vault_deletion_refused", &v.id.to_string())?;
                report.deletions_refused.push(v.id);
            }
        }
        for l in &local {
            if !vaults.iter().any(|v| v.id == l.id) {
                log::warn!("vault {} kept: the server no longer lists it", l.id);
                self.inner.store.audit("vault_missing", &l.id.to_string())?;
                report.vaults_missing.push(l.id);
            }
        }
        Ok(live)
    }

    /// Pulls a vault's new records, page after page: (stored, refused). `head` is the
    /// highest sequence the server lists for the vault: a cursor past it was once set by
    /// a sequence the server never had (a relay in the middle), which would hide every
    /// later change; the vault's records are then read again from the start (what this
    /// device holds stays; only newer versions that open replace it).
    async fn pull_items(
        &self,
        token: &str,
        vault_id: Uuid,
        head: Option<u64>,
    ) -> Result<(u32, u32)> {
        let cursor_key = format!("items_seq.{vault_id}");
        let cursor: u64 = self
            .inner
            .store
            .setting(&cursor_key)?
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        if let Some(head) = head.filter(|h| cursor > *h) {
            log::warn!(
                "vault {vault_id}: item cursor {cursor} past the server's {head}; reading again"
            );
            self.inner.store.audit(
                "items_cursor_reset",
                &format!("vault {vault_id}: cursor {cursor} was past the server's {head}"),
            )?;
            self.inner.store.apply(&[Change::Setting {
                name: &cursor_key,
                value: "0",
            }])?;
        }
        let (mut stored, mut refused) = (0, 0);
        loop {
            let (page, moved, s, r) = self.pull_item_page(token, vault_id).await?;
            stored += s;
            refused += r;
            // A server answering full pages that do not move the cursor ends here.
            if page < vouch_proto::ITEMS_PAGE || !moved {
                return Ok((stored, refused));
            }
        }
    }

    /// Pulls one page of a vault's records after the stored cursor and moves the cursor
    /// past it: (records on the page, whether the cursor moved, stored, refused).
    async fn pull_item_page(&self, token: &str, vault_id: Uuid) -> Result<(usize, bool, u32, u32)> {
        let cursor_key = format!("items_seq.{vault_id}");
        let since: u64 = self
            .inner
            .store
            .setting(&cursor_key)?
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let records: Vec<ItemRecord> = self
            .guard(
                self.inner
                    .transport
                    .get(
                        &format!(
                            "{}?since={since}",
                            routes::fill(routes::VAULT_ITEMS, &[&vault_id])
                        ),
                        Some(token),
                    )
                    .await,
            )
            .await?;
        let page = records.len();
        let newest = self
            .inner
            .store
            .vault_key_epochs(vault_id)?
            .into_iter()
            .max();
        let mut max_seq = since;
        let mut fresh = Vec::new();
        let mut refused = Vec::new();
        for r in records {
            max_seq = max_seq.max(r.seq);
            let local = self.inner.store.item(vault_id, r.item_id)?;
            // A newer local write not yet acknowledged wins locally until it is sent.
            if local
                .as_ref()
                .is_some_and(|l| l.dirty && l.version > r.version)
            {
                continue;
            }
            if local
                .as_ref()
                .is_some_and(|l| l.version >= r.version && !l.dirty)
            {
                continue;
            }
            // Trust v2: a record replaces the local copy only if it opens, and never
            // below the highest version this device opened or wrote.
            let high = local.as_ref().map_or(0, |l| l.high);
            // Once this device holds an item under the vault's newest key, a change to it
            // under an older key is refused: the server stores nothing under an older key
            // once the key rotated (409 `stale_key_epoch`), and an older key may be in a
            // revoked device's hands. (An item still under the older key here may take a
            // change written before the rotation; the rotator re-seals it after.)
            let epoch_of = |sealed: &[u8]| sealed_item_epoch(sealed).ok();
            let held_newest = local
                .as_ref()
                .and_then(|l| l.sealed.as_deref())
                .and_then(epoch_of)
                .is_some_and(|e| Some(e) == newest);
            let stale = held_newest
                && r.ciphertext
                    .as_ref()
                    .and_then(|ct| epoch_of(&ct.0))
                    .is_some_and(|e| newest.is_some_and(|n| e < n));
            let verdict = match &r.ciphertext {
                _ if r.version < high => Err("rollback below a version this device had"),
                _ if stale => Err("a change sealed under a key older than the vault's newest"),
                None => Err("unsealed delete"),
                Some(ct) => {
                    let at = ItemAad {
                        vault_id,
                        item_id: r.item_id,
                        version: r.version,
                        epoch: 0,
                    };
                    self.open_record(at, &ct.0)
                        .map_err(|_| "does not open under the vault key")
                }
            };
            match verdict {
                Ok(opened) => fresh.push(StoredItem {
                    vault_id,
                    item_id: r.item_id,
                    version: r.version,
                    sealed: r.ciphertext.map(|b| b.0),
                    deleted: matches!(opened, OpenedItem::Deleted),
                    dirty: false,
                    high: r.version,
                }),
                Err(reason) => {
                    log::warn!("refused item {} v{}: {reason}", r.item_id, r.version);
                    refused.push((r.item_id, r.version, reason));
                }
            }
        }
        // The items, the refusals and the cursor move together.
        let cursor = max_seq.to_string();
        let mut changes: Vec<Change<'_>> = fresh.iter().map(Change::Item).collect();
        for (item_id, version, reason) in &refused {
            changes.push(Change::HoldBack {
                vault_id,
                item_id: *item_id,
                version: *version,
                reason,
            });
        }
        changes.push(Change::Setting {
            name: &cursor_key,
            value: &cursor,
        });
        self.inner.store.apply(&changes)?;
        if !refused.is_empty() {
            self.inner.store.audit(
                "items_refused",
                &format!("{} record(s) of vault {vault_id} held back", refused.len()),
            )?;
        }
        Ok((
            page,
            max_seq > since,
            fresh.len() as u32,
            refused.len() as u32,
        ))
    }
}

/// An operation's outbox kind and sealed-to-be payload.
impl Op {
    /// Reads a queued operation as the outbox keeps it: what `serde_json::from_slice::<Op>`
    /// gives, without the derived decoder of an internally tagged enum (which buffers the
    /// value in serde's `Content` and compiles a second decoder of every field type into
    /// the mobile library): a flat row of optional fields, then the op's required ones.
    fn from_stored(payload: &[u8]) -> Option<Self> {
        #[derive(Deserialize)]
        struct Row {
            op: String,
            id: Option<Uuid>,
            name: Option<String>,
            vault_id: Option<Uuid>,
            item_id: Option<Uuid>,
            version: Option<u64>,
            ciphertext: Option<Bytes>,
        }
        let row: Row = serde_json::from_slice(payload).ok()?;
        Some(match row.op.as_str() {
            "create_vault" => Op::CreateVault {
                id: row.id?,
                name: row.name?,
            },
            "put_item" => Op::PutItem {
                vault_id: row.vault_id?,
                item_id: row.item_id?,
                version: row.version?,
                ciphertext: row.ciphertext,
            },
            "reseal" => Op::Reseal {
                vault_id: row.vault_id?,
                item_id: row.item_id?,
                version: row.version?,
                ciphertext: row.ciphertext,
            },
            _ => return None,
        })
    }
}

pub(super) fn encode(op: &Op) -> Result<(&'static str, SecretBytes)> {
    let payload =
        SecretBytes::new(serde_json::to_vec(op).map_err(|_| Error::Internal("encoding"))?);
    let kind = match op {
        Op::CreateVault { .. } => "create_vault",
        Op::PutItem { .. } => "put_item",
        Op::Reseal { .. } => "reseal_item",
    };
    Ok((kind, payload))
}

#[cfg(test)]
mod op_tests {
    use super::*;

    /// `Op::from_stored` reads what `encode` wrote, as serde's derived decoder does.
    #[test]
    fn from_stored_reads_what_encode_wrote() {
        let ops = [
            Op::CreateVault {
                id: Uuid::from_u128(1),
                name: "Work".into(),
            },
            Op::PutItem {
                vault_id: Uuid::from_u128(1),
                item_id: Uuid::from_u128(2),
                version: 3,
                ciphertext: Some(Bytes(vec![0, 1, 255])),
            },
            Op::PutItem {
                vault_id: Uuid::from_u128(1),
                item_id: Uuid::from_u128(2),
                version: 4,
                ciphertext: None,
            },
        ];
        for op in ops {
            let json = serde_json::to_vec(&op).unwrap();
            let (ours, derived) = (
                Op::from_stored(&json).unwrap(),
                serde_json::from_slice::<Op>(&json).unwrap(),
            );
            assert_eq!(serde_json::to_vec(&ours).unwrap(), json);
            assert_eq!(serde_json::to_vec(&derived).unwrap(), json);
        }
        for bad in [
            &br#"{"op":"put_item","vault_id":"x"}"#[..],
            br#"{"op":"newer"}"#,
            b"{}",
        ] {
            assert!(Op::from_stored(bad).is_none());
            assert!(serde_json::from_slice::<Op>(bad).is_err());
        }
    }
}

//! Local vaults: keys only on trusted devices, items sealed on the device and synced to
//! the server as ciphertext with versions. Writes land in the store and the outbox
//! first, so they survive being offline or killed; a write the server refuses as stale
//! (`version_conflict`) is kept as a conflict copy, never silently lost.

use serde::{Deserialize, Serialize};
use uuid::Uuid;
use vouch_proto::routes;
use vouch_proto::{Bytes, CreateVault, ErrorCode, ItemRecord, PutItem, Vault};

use super::{Client, EnrollmentState};
use crate::{
    crypto::{ItemAad, OpenedItem, SecretBytes, VaultKey, open_item, seal_item, sealed_item_epoch},
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

/// An item's metadata (its plaintext comes from [`Client::get_item`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemInfo {
    /// Vault id.
    pub vault_id: Uuid,
    /// Item id.
    pub item_id: Uuid,
    /// Version.
    pub version: u64,
    /// Acknowledged by the server.
    pub synced: bool,
    /// Set when this write lost to a newer version on the server (changed on another
    /// device): the written value was kept as a new item with this id, and `item_id`
    /// holds the server's version. Never set by reads.
    pub conflict_copy: Option<Uuid>,
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
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Op {
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
}

const OUTBOX_BATCH: usize = 100;
const RETRY_BASE_MS: i64 = 1_000;
const RETRY_MAX_MS: i64 = 60_000;

impl Client {
    fn require_trusted(&self) -> Result<()> {
        match self.state() {
            EnrollmentState::Trusted { .. } => Ok(()),
            EnrollmentState::Wiped => Err(Error::Wiped),
            _ => Err(Error::InvalidState("vaults need a trusted device")),
        }
    }

    fn key_of(&self, vault_id: Uuid, epoch: u32) -> Result<VaultKey> {
        self.inner
            .store
            .vault_key(vault_id, epoch)?
            .ok_or(Error::InvalidState(
                "this device does not hold the vault's key",
            ))
    }

    /// The newest key epoch of a vault this device holds: what new writes are sealed under.
    fn write_epoch(&self, vault_id: Uuid) -> Result<u32> {
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
    fn open_record(&self, at: ItemAad, sealed: &[u8]) -> Result<OpenedItem> {
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
        let _ = self.flush(false).await;
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
    /// server. Works offline; `synced` tells whether the server already has it.
    pub async fn put_item(
        &self,
        vault_id: Uuid,
        item_id: Option<Uuid>,
        plaintext: &[u8],
    ) -> Result<ItemInfo> {
        self.write_item(
            vault_id,
            item_id.unwrap_or_else(Uuid::new_v4),
            Some(plaintext),
        )
        .await
    }

    /// Deletes an item (a new version without content, synced like any write).
    pub async fn delete_item(&self, vault_id: Uuid, item_id: Uuid) -> Result<ItemInfo> {
        self.write_item(vault_id, item_id, None).await
    }

    async fn write_item(
        &self,
        vault_id: Uuid,
        item_id: Uuid,
        plaintext: Option<&[u8]>,
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
        // A delete is a sealed tombstone: only a key holder can make one that opens.
        let sealed = seal_item(
            &key,
            &ItemAad {
                vault_id,
                item_id,
                version,
                epoch,
            },
            plaintext,
        )?;
        let item = StoredItem {
            vault_id,
            item_id,
            version,
            sealed: Some(sealed.clone()),
            deleted: plaintext.is_none(),
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
            version: if conflict_copy.is_some() {
                stored.map_or(0, |i| i.version)
            } else {
                version
            },
            synced,
            conflict_copy,
        })
    }

    /// An item's plaintext, decrypted on the device (a local read; works offline).
    /// `None` when the item does not exist or was deleted.
    pub fn get_item(&self, vault_id: Uuid, item_id: Uuid) -> Result<Option<SecretBytes>> {
        self.require_trusted()?;
        self.write_epoch(vault_id)?;
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
            OpenedItem::Live(plain) => Ok(Some(plain)),
            OpenedItem::Deleted => Ok(None),
        }
    }

    /// The live items of a vault (a local read).
    pub fn list_items(&self, vault_id: Uuid) -> Result<Vec<ItemInfo>> {
        self.require_trusted()?;
        Ok(self
            .inner
            .store
            .items(vault_id)?
            .into_iter()
            .map(|i| ItemInfo {
                vault_id,
                item_id: i.item_id,
                version: i.version,
                synced: !i.dirty,
                conflict_copy: None,
            })
            .collect())
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
        self.require_trusted()?;
        let token = self.device_token()?;
        let mut report = SyncReport::default();
        let now = if force { i64::MAX } else { now_ms() };
        let entries = self.inner.store.outbox_due(now, OUTBOX_BATCH)?;
        for entry in entries {
            let op = Op::from_stored(&entry.payload).ok_or(Error::CorruptRow("outbox"))?;
            let result = match &op {
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
                        Op::CreateVault { .. } => self.inner.store.outbox_ack(entry.seq)?,
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
                    Op::CreateVault { .. } => self.inner.store.outbox_ack(entry.seq)?,
                },
                Err(e @ Error::Wiped) => return Err(e),
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
        Ok(report)
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
        let OpenedItem::Live(plain) = self.open_record(at, &ct.0)? else {
            return self.inner.store.apply(&changes).map(|()| None);
        };
        let epoch = self.write_epoch(vault_id)?;
        let key = self.key_of(vault_id, epoch)?;
        let copy_id = Uuid::new_v4();
        let sealed = seal_item(
            &key,
            &ItemAad {
                vault_id,
                item_id: copy_id,
                version: 1,
                epoch,
            },
            Some(&plain),
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
        for v in &vaults {
            self.inner.store.upsert_vault(v.id, &v.name)?;
        }
        for v in self.inner.store.vaults()?.into_iter().filter(|v| v.has_key) {
            let (received, refused) = self.pull_items(&token, v.id).await?;
            report.received += received;
            report.refused += refused;
        }
        self.notify_vaults();
        Ok(report)
    }

    /// Pulls a vault's new records: (stored, refused).
    async fn pull_items(&self, token: &str, vault_id: Uuid) -> Result<(u32, u32)> {
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
            let verdict = match &r.ciphertext {
                _ if r.version < high => Err("rollback below a version this device had"),
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
        Ok((fresh.len() as u32, refused.len() as u32))
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
            _ => return None,
        })
    }
}

fn encode(op: &Op) -> Result<(&'static str, SecretBytes)> {
    let payload =
        SecretBytes::new(serde_json::to_vec(op).map_err(|_| Error::Protocol("encoding"))?);
    let kind = match op {
        Op::CreateVault { .. } => "create_vault",
        Op::PutItem { .. } => "put_item",
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

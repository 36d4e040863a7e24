//! Re-encryption after a rotation (issue 15): the device that rotated a vault's key seals
//! every live item still under an older epoch again, under the new key, as a new version
//! — in batches, one transaction each (the new sealed copies and their queued uploads
//! together), so a kill loses nothing and the next sync resumes where the data says.
//! Until an item is re-encrypted it is read with its own epoch's key.

use uuid::Uuid;

use super::{
    Client,
    vault::{Op, encode},
};
use crate::{
    crypto::{ItemAad, OpenedItem, seal_entry, sealed_item_epoch},
    error::Result,
    store::{Change, StoredItem},
};

/// Items re-encrypted per transaction.
pub const REENCRYPT_BATCH: usize = 200;

/// The setting that marks a vault this device rotated and has not finished re-encrypting.
pub(super) fn marker(vault_id: Uuid) -> String {
    format!("reencrypt.{vault_id}")
}

impl Client {
    /// Re-encrypts the next batches of every vault this device rotated (see the module
    /// doc), at most `max_batches` batches in all; returns how many items were sealed again.
    /// Items with a write of their own still queued are left to it.
    pub async fn reencrypt_rotated(&self, max_batches: usize) -> Result<u32> {
        let mut done = 0;
        let mut batches = 0;
        for v in self.inner.store.vaults()?.into_iter().filter(|v| v.has_key) {
            let name = marker(v.id);
            if self
                .inner
                .store
                .setting(&name)?
                .is_none_or(|s| s.is_empty())
            {
                continue;
            }
            let epoch = self.write_epoch(v.id)?;
            let stale = self.stale_items(v.id, epoch)?;
            for batch in stale.chunks(REENCRYPT_BATCH) {
                if batches == max_batches {
                    return Ok(done);
                }
                done += self.reencrypt_batch(v.id, epoch, batch)?;
                batches += 1;
            }
            self.inner.store.apply(&[Change::Setting {
                name: &name,
                value: "",
            }])?;
        }
        Ok(done)
    }

    /// How many items this device still has to seal again under a newer key (the work
    /// [`Self::reencrypt_rotated`] goes through, in vaults this device rotated; an app can
    /// show it as progress). A local read.
    pub fn reencryption_pending(&self) -> Result<u64> {
        let mut pending = 0;
        for v in self.inner.store.vaults()?.into_iter().filter(|v| v.has_key) {
            if self
                .inner
                .store
                .setting(&marker(v.id))?
                .is_none_or(|s| s.is_empty())
            {
                continue;
            }
            pending += self.stale_items(v.id, self.write_epoch(v.id)?)?.len() as u64;
        }
        Ok(pending)
    }

    /// The live items of `vault_id` sealed under an epoch older than `epoch`, with no write
    /// of their own still queued.
    fn stale_items(&self, vault_id: Uuid, epoch: u32) -> Result<Vec<StoredItem>> {
        Ok(self
            .inner
            .store
            .items(vault_id)?
            .into_iter()
            .filter(|it| !it.dirty)
            .filter(|it| {
                it.sealed
                    .as_deref()
                    .and_then(|s| sealed_item_epoch(s).ok())
                    .is_some_and(|e| e < epoch)
            })
            .collect())
    }

    fn reencrypt_batch(&self, vault_id: Uuid, epoch: u32, batch: &[StoredItem]) -> Result<u32> {
        let key = self.key_of(vault_id, epoch)?;
        let mut items = Vec::with_capacity(batch.len());
        let mut queued = Vec::with_capacity(batch.len());
        for it in batch {
            let Some(sealed) = &it.sealed else { continue };
            let at = ItemAad {
                vault_id,
                item_id: it.item_id,
                version: it.version,
                epoch: 0,
            };
            let opened = self.open_record(at, sealed)?;
            let (OpenedItem::Live(_) | OpenedItem::Titled { .. }) = &opened else {
                continue;
            };
            let version = it.version + 1;
            let resealed = seal_entry(
                &key,
                &ItemAad {
                    version,
                    epoch,
                    ..at
                },
                opened.title(),
                opened.value().map(|v| v.as_slice()).unwrap_or_default(),
            )?;
            queued.push(encode(&Op::Reseal {
                vault_id,
                item_id: it.item_id,
                version,
                ciphertext: Some(vouch_proto::Bytes(resealed.clone())),
            })?);
            items.push(StoredItem {
                version,
                sealed: Some(resealed),
                dirty: true,
                high: it.high.max(version),
                ..it.clone()
            });
        }
        let mut changes: Vec<Change<'_>> = items.iter().map(Change::Item).collect();
        for (kind, payload) in &queued {
            changes.push(Change::Enqueue { kind, payload });
        }
        self.inner.store.apply(&changes)?;
        log::debug!("re-encrypted {} item(s) under epoch {epoch}", items.len());
        Ok(items.len() as u32)
    }
}

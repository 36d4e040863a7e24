//! Vault items sealed with XChaCha20-Poly1305 under the vault key of one epoch. A delete
//! is a sealed tombstone, so only a key holder can delete, and a pulled record is trusted
//! only after it opens.
//!
//! Layout (format 2): `format (1) ‖ flags (1) ‖ epoch (u32 BE) ‖ nonce (24) ‖ ciphertext
//! ‖ tag (16)`; flags bit 0 = deleted (a tombstone's plaintext is empty); the epoch names
//! the vault key it is sealed under. The nonce is random (192 bits). The associated data is `"vouch/item/v2" ‖ vault id ‖ item id ‖ version (u64 BE)
//! ‖ epoch (u32 BE) ‖ flags`, so a ciphertext moved to another vault, item, version or
//! epoch, or a live record turned into a tombstone (or back), fails to open.

use chacha20poly1305::{
    KeyInit, XChaCha20Poly1305, XNonce,
    aead::{AeadInOut, inout::InOutBuf},
};
use uuid::Uuid;

use super::{SecretBytes, VaultKey};
use crate::error::{Error, Result};

/// Format byte of sealed items.
pub const ITEM_FORMAT_V2: u8 = 2;
const FLAG_DELETED: u8 = 1;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = 2 + 4 + NONCE_LEN;
/// Bytes a sealed item adds to its plaintext.
pub const ITEM_OVERHEAD: usize = HEADER_LEN + TAG_LEN;
const AAD_LABEL: &[u8] = b"vouch/item/v2";

/// Where an item ciphertext belongs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemAad {
    /// Vault.
    pub vault_id: Uuid,
    /// Item.
    pub item_id: Uuid,
    /// Version of this write.
    pub version: u64,
    /// Epoch of the vault key it is sealed under.
    pub epoch: u32,
}

impl ItemAad {
    fn bytes(&self, flags: u8) -> Vec<u8> {
        let mut aad = Vec::with_capacity(AAD_LABEL.len() + 45);
        aad.extend_from_slice(AAD_LABEL);
        aad.extend_from_slice(self.vault_id.as_bytes());
        aad.extend_from_slice(self.item_id.as_bytes());
        aad.extend_from_slice(&self.version.to_be_bytes());
        aad.extend_from_slice(&self.epoch.to_be_bytes());
        aad.push(flags);
        aad
    }
}

/// A sealed record, opened.
#[derive(Debug, PartialEq, Eq)]
pub enum OpenedItem {
    /// A live item's plaintext.
    Live(SecretBytes),
    /// An authenticated delete.
    Deleted,
}

/// Seals an item's plaintext, or a tombstone when `plaintext` is `None`.
pub fn seal_item(key: &VaultKey, at: &ItemAad, plaintext: Option<&[u8]>) -> Result<Vec<u8>> {
    let nonce: [u8; NONCE_LEN] = super::random_array()?;
    let flags = if plaintext.is_none() { FLAG_DELETED } else { 0 };
    let body = plaintext.unwrap_or_default();
    let cipher = XChaCha20Poly1305::new(key.expose().into());
    let mut out = Vec::with_capacity(ITEM_OVERHEAD + body.len());
    out.extend_from_slice(&[ITEM_FORMAT_V2, flags]);
    out.extend_from_slice(&at.epoch.to_be_bytes());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(body);
    let tag = cipher
        .encrypt_inout_detached(
            &XNonce::from(nonce),
            &at.bytes(flags),
            InOutBuf::from(&mut out[HEADER_LEN..]),
        )
        .map_err(|_| Error::ItemOpen)?;
    out.extend_from_slice(&tag);
    Ok(out)
}

/// The epoch a sealed record names (authenticated only when it opens): which vault key
/// to open it with.
pub fn sealed_item_epoch(sealed: &[u8]) -> Result<u32> {
    if sealed.len() < ITEM_OVERHEAD || sealed[0] != ITEM_FORMAT_V2 || sealed[1] > FLAG_DELETED {
        return Err(Error::MalformedItem);
    }
    let epoch: [u8; 4] = sealed[2..6].try_into().map_err(|_| Error::MalformedItem)?;
    Ok(u32::from_be_bytes(epoch))
}

/// Opens a sealed record: its plaintext, or [`OpenedItem::Deleted`] for a tombstone.
/// Fails with [`Error::MalformedItem`] or [`Error::ItemOpen`] for anything else.
pub fn open_item(key: &VaultKey, at: &ItemAad, sealed: &[u8]) -> Result<OpenedItem> {
    if sealed_item_epoch(sealed)? != at.epoch {
        return Err(Error::ItemOpen);
    }
    let flags = sealed[1];
    let nonce: [u8; NONCE_LEN] = sealed[6..HEADER_LEN]
        .try_into()
        .map_err(|_| Error::MalformedItem)?;
    let (body, tag) = sealed[HEADER_LEN..].split_at(sealed.len() - ITEM_OVERHEAD);
    let tag: [u8; TAG_LEN] = tag.try_into().map_err(|_| Error::MalformedItem)?;
    if flags == FLAG_DELETED && !body.is_empty() {
        return Err(Error::MalformedItem);
    }
    let cipher = XChaCha20Poly1305::new(key.expose().into());
    let mut buf = SecretBytes::new(body.to_vec());
    cipher
        .decrypt_inout_detached(
            &XNonce::from(nonce),
            &at.bytes(flags),
            InOutBuf::from(buf.as_mut_slice()),
            &tag.into(),
        )
        .map_err(|_| Error::ItemOpen)?;
    Ok(if flags == FLAG_DELETED {
        OpenedItem::Deleted
    } else {
        OpenedItem::Live(buf)
    })
}

//! Vault items sealed with XChaCha20-Poly1305 under the vault key of one epoch. A delete
//! is a sealed tombstone, so only a key holder can delete, and a pulled record is trusted
//! only after it opens.
//!
//! Layout (format 2): `format (1) ‖ flags (1) ‖ epoch (u32 BE) ‖ nonce (24) ‖ ciphertext
//! ‖ tag (16)`; flags bit 0 = deleted (a tombstone's plaintext is empty), bit 1 = the
//! plaintext is an *entry* (below), never both; the epoch names the vault key it is
//! sealed under.
//!
//! Plaintexts: without bit 1 (records written before item titles) the plaintext is the
//! value itself. With bit 1 it is an entry, format 1: `0x01 ‖ title length (u16 BE) ‖
//! title (UTF-8) ‖ value`; a title of length 0 means "no title". The title is as secret as
//! the value: it only ever travels inside the ciphertext. The flags are authenticated
//! (AAD), so a value cannot be re-read as an entry or the other way round. The nonce is random (192 bits). The associated data is `"vouch/item/v2" ‖ vault id ‖ item id ‖ version (u64 BE)
//! ‖ epoch (u32 BE) ‖ flags`, so a ciphertext moved to another vault, item, version or
//! epoch, or a live record turned into a tombstone (or back), fails to open.

use uuid::Uuid;
use vouch_aead::XChaCha20Poly1305;

use super::{SecretBytes, VaultKey};
use crate::error::{Error, Result};

/// Format byte of sealed items.
pub const ITEM_FORMAT_V2: u8 = 2;
const FLAG_DELETED: u8 = 1;
const FLAG_ENTRY: u8 = 2;
/// Format byte of an entry plaintext (title and value).
pub const ENTRY_FORMAT_V1: u8 = 1;
/// Longest item title, in bytes of UTF-8.
pub const MAX_TITLE_BYTES: usize = 1024;
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
    /// A live item's value, without a title (a record from before titles, or an entry
    /// whose title is empty).
    Live(SecretBytes),
    /// A live item with a title. Both are secret (`Debug` prints neither).
    Titled {
        /// The title, valid UTF-8 (checked when opened), at most [`MAX_TITLE_BYTES`].
        title: SecretBytes,
        /// The value.
        value: SecretBytes,
    },
    /// An authenticated delete.
    Deleted,
}

impl OpenedItem {
    /// The value of a live item (`None` for a tombstone).
    pub fn value(&self) -> Option<&SecretBytes> {
        match self {
            Self::Live(v) | Self::Titled { value: v, .. } => Some(v),
            Self::Deleted => None,
        }
    }

    /// The title of a live item, when it has one.
    pub fn title(&self) -> Option<&str> {
        match self {
            Self::Titled { title, .. } => std::str::from_utf8(title).ok(),
            _ => None,
        }
    }
}

/// Seals a live item as an entry: its title (none when `None` or empty) and its value.
/// A title longer than [`MAX_TITLE_BYTES`] is [`Error::InvalidInput`].
pub fn seal_entry(
    key: &VaultKey,
    at: &ItemAad,
    title: Option<&str>,
    value: &[u8],
) -> Result<Vec<u8>> {
    let title = title.unwrap_or_default().as_bytes();
    let len = u16::try_from(title.len())
        .ok()
        .filter(|l| usize::from(*l) <= MAX_TITLE_BYTES)
        .ok_or_else(|| Error::InvalidInput("an item title is at most 1024 bytes".into()))?;
    // Exact capacity: no reallocation leaves an unwiped copy behind.
    let mut plain = Vec::with_capacity(3 + title.len() + value.len());
    plain.push(ENTRY_FORMAT_V1);
    plain.extend_from_slice(&len.to_be_bytes());
    plain.extend_from_slice(title);
    plain.extend_from_slice(value);
    let body = SecretBytes::new(plain);
    seal_flagged(key, at, FLAG_ENTRY, &body)
}

/// Seals an item's plaintext, or a tombstone when `plaintext` is `None`.
/// (The plaintext is the value itself: the format from before titles, see [`seal_entry`].)
pub fn seal_item(key: &VaultKey, at: &ItemAad, plaintext: Option<&[u8]>) -> Result<Vec<u8>> {
    let flags = if plaintext.is_none() { FLAG_DELETED } else { 0 };
    seal_flagged(key, at, flags, plaintext.unwrap_or_default())
}

fn seal_flagged(key: &VaultKey, at: &ItemAad, flags: u8, body: &[u8]) -> Result<Vec<u8>> {
    let nonce: [u8; NONCE_LEN] = super::random_array()?;
    let cipher = XChaCha20Poly1305::new(key.expose());
    let mut out = Vec::with_capacity(ITEM_OVERHEAD + body.len());
    out.extend_from_slice(&[ITEM_FORMAT_V2, flags]);
    out.extend_from_slice(&at.epoch.to_be_bytes());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(body);
    let tag = cipher
        .encrypt_detached(&nonce, &at.bytes(flags), &mut out[HEADER_LEN..])
        .map_err(|_| Error::ItemOpen)?;
    out.extend_from_slice(&tag);
    Ok(out)
}

/// The epoch a sealed record names (authenticated only when it opens): which vault key
/// to open it with.
pub fn sealed_item_epoch(sealed: &[u8]) -> Result<u32> {
    if sealed.len() < ITEM_OVERHEAD
        || sealed[0] != ITEM_FORMAT_V2
        || !matches!(sealed[1], 0 | FLAG_DELETED | FLAG_ENTRY)
    {
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
    let cipher = XChaCha20Poly1305::new(key.expose());
    let mut buf = SecretBytes::new(body.to_vec());
    cipher
        .decrypt_detached(&nonce, &at.bytes(flags), buf.as_mut_slice(), &tag)
        .map_err(|_| Error::ItemOpen)?;
    match flags {
        FLAG_DELETED => Ok(OpenedItem::Deleted),
        FLAG_ENTRY => open_entry(&buf),
        _ => Ok(OpenedItem::Live(buf)),
    }
}

/// Splits an entry plaintext (format 1) into its title and value.
fn open_entry(body: &[u8]) -> Result<OpenedItem> {
    let [format, hi, lo, rest @ ..] = body else {
        return Err(Error::MalformedItem);
    };
    let len = usize::from(u16::from_be_bytes([*hi, *lo]));
    if *format != ENTRY_FORMAT_V1 || len > MAX_TITLE_BYTES || rest.len() < len {
        return Err(Error::MalformedItem);
    }
    let (title, value) = rest.split_at(len);
    if std::str::from_utf8(title).is_err() {
        return Err(Error::MalformedItem);
    }
    let value = SecretBytes::new(value.to_vec());
    Ok(if title.is_empty() {
        OpenedItem::Live(value)
    } else {
        OpenedItem::Titled {
            title: SecretBytes::new(title.to_vec()),
            value,
        }
    })
}

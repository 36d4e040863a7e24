//! Vault items sealed with XChaCha20-Poly1305 under the vault key.
//!
//! Layout (format 1): `format (1) ‖ nonce (24) ‖ ciphertext ‖ tag (16)`. The nonce is
//! random (192 bits, so random nonces are safe for any realistic number of items). The
//! associated data is `vault id (16) ‖ item id (16) ‖ version (u64 big-endian)`, so a
//! ciphertext moved to another vault, item or version fails to open.

use super::{SecretBytes, VaultKey};
use crate::error::{Error, Result};
use chacha20poly1305::{
    KeyInit, XChaCha20Poly1305, XNonce,
    aead::{AeadInOut, inout::InOutBuf},
};
use uuid::Uuid;

/// Format byte of the current item layout.
pub const ITEM_FORMAT_V1: u8 = 1;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = 1 + NONCE_LEN;
/// Bytes a sealed item adds to its plaintext.
pub const ITEM_OVERHEAD: usize = HEADER_LEN + TAG_LEN;

/// Where an item lives; the associated data of its seal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemAad {
    /// The vault holding the item.
    pub vault_id: Uuid,
    /// The item's id, stable across versions.
    pub item_id: Uuid,
    /// The version this ciphertext is (each write increments it).
    pub version: u64,
}

impl ItemAad {
    fn bytes(&self) -> [u8; 40] {
        let mut aad = [0u8; 40];
        aad[..16].copy_from_slice(self.vault_id.as_bytes());
        aad[16..32].copy_from_slice(self.item_id.as_bytes());
        aad[32..].copy_from_slice(&self.version.to_be_bytes());
        aad
    }
}

/// Seals `plaintext` for `at` under `key`. One allocation, encryption in place.
pub fn seal_item(key: &VaultKey, at: &ItemAad, plaintext: &[u8]) -> Result<Vec<u8>> {
    let nonce: [u8; NONCE_LEN] = super::random_array()?;
    let cipher = XChaCha20Poly1305::new(key.expose().into());
    let mut out = Vec::with_capacity(ITEM_OVERHEAD + plaintext.len());
    out.push(ITEM_FORMAT_V1);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(plaintext);
    let tag = cipher
        .encrypt_inout_detached(
            &XNonce::from(nonce),
            &at.bytes(),
            InOutBuf::from(&mut out[HEADER_LEN..]),
        )
        .map_err(|_| Error::ItemOpen)?;
    out.extend_from_slice(&tag);
    Ok(out)
}

/// Opens a sealed item; the plaintext is zeroized when dropped. Fails with
/// [`Error::ItemOpen`] on a wrong key, vault id, item id, version or any flipped bit.
pub fn open_item(key: &VaultKey, at: &ItemAad, sealed: &[u8]) -> Result<SecretBytes> {
    if sealed.len() < ITEM_OVERHEAD || sealed[0] != ITEM_FORMAT_V1 {
        return Err(Error::MalformedItem);
    }
    let nonce: [u8; NONCE_LEN] = sealed[1..HEADER_LEN]
        .try_into()
        .map_err(|_| Error::MalformedItem)?;
    let (body, tag) = sealed[HEADER_LEN..].split_at(sealed.len() - ITEM_OVERHEAD);
    let tag: [u8; TAG_LEN] = tag.try_into().map_err(|_| Error::MalformedItem)?;
    let cipher = XChaCha20Poly1305::new(key.expose().into());
    let mut buf = SecretBytes::new(body.to_vec());
    cipher
        .decrypt_inout_detached(
            &XNonce::from(nonce),
            &at.bytes(),
            InOutBuf::from(buf.as_mut_slice()),
            &tag.into(),
        )
        .map_err(|_| Error::ItemOpen)?;
    Ok(buf)
}

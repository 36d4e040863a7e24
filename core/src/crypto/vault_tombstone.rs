//! A vault's deletion, sealed under the vault key: only a device that holds the key can
//! make one that opens, so neither the server nor an email-only device can make the
//! user's devices drop a vault.
//!
//! Layout (format 1): `format (1) ‖ epoch (u32 BE) ‖ nonce (24) ‖ tag (16)`, an empty
//! plaintext sealed with XChaCha20-Poly1305 under the key of that epoch, associated data
//! `"vouch/vault-deleted/v1" ‖ vault id ‖ epoch (u32 BE)`. The label differs from the
//! items' (`vouch/item/v2`), so no item record (an item's tombstone included) opens as a
//! vault's deletion, and the vault id binds it to one vault.

use uuid::Uuid;
use vouch_aead::XChaCha20Poly1305;

use super::VaultKey;
use crate::error::{Error, Result};

/// Format byte of a sealed vault deletion.
pub const VAULT_TOMBSTONE_V1: u8 = 1;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
/// Length of a sealed vault deletion.
pub const VAULT_TOMBSTONE_LEN: usize = 1 + 4 + NONCE_LEN + TAG_LEN;
const AAD_LABEL: &[u8] = b"vouch/vault-deleted/v1";

fn aad(vault_id: Uuid, epoch: u32) -> Vec<u8> {
    let mut aad = Vec::with_capacity(AAD_LABEL.len() + 20);
    aad.extend_from_slice(AAD_LABEL);
    aad.extend_from_slice(vault_id.as_bytes());
    aad.extend_from_slice(&epoch.to_be_bytes());
    aad
}

/// Seals the deletion of `vault_id` under its key of `epoch`.
pub fn seal_vault_tombstone(key: &VaultKey, vault_id: Uuid, epoch: u32) -> Result<Vec<u8>> {
    let nonce: [u8; NONCE_LEN] = super::random_array()?;
    let cipher = XChaCha20Poly1305::new(key.expose());
    let tag = cipher
        .encrypt_detached(&nonce, &aad(vault_id, epoch), &mut [])
        .map_err(|_| Error::ItemOpen)?;
    let mut out = Vec::with_capacity(VAULT_TOMBSTONE_LEN);
    out.push(VAULT_TOMBSTONE_V1);
    out.extend_from_slice(&epoch.to_be_bytes());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&tag);
    Ok(out)
}

/// The key epoch a sealed vault deletion names (authenticated only when it opens), or
/// [`Error::MalformedItem`] for bytes of another shape.
pub fn vault_tombstone_epoch(sealed: &[u8]) -> Result<u32> {
    if sealed.len() != VAULT_TOMBSTONE_LEN || sealed[0] != VAULT_TOMBSTONE_V1 {
        return Err(Error::MalformedItem);
    }
    let epoch: [u8; 4] = sealed[1..5].try_into().map_err(|_| Error::MalformedItem)?;
    Ok(u32::from_be_bytes(epoch))
}

/// Checks that `sealed` is the deletion of `vault_id` sealed under `key` (of the epoch the
/// deletion names): [`Error::ItemOpen`] or [`Error::MalformedItem`] otherwise.
pub fn open_vault_tombstone(key: &VaultKey, vault_id: Uuid, sealed: &[u8]) -> Result<()> {
    let epoch = vault_tombstone_epoch(sealed)?;
    let nonce: [u8; NONCE_LEN] = sealed[5..5 + NONCE_LEN]
        .try_into()
        .map_err(|_| Error::MalformedItem)?;
    let tag: [u8; TAG_LEN] = sealed[5 + NONCE_LEN..]
        .try_into()
        .map_err(|_| Error::MalformedItem)?;
    let cipher = XChaCha20Poly1305::new(key.expose());
    cipher
        .decrypt_detached(&nonce, &aad(vault_id, epoch), &mut [], &tag)
        .map_err(|_| Error::ItemOpen)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn opens_only_for_its_vault_and_key() {
        let key = VaultKey::generate().unwrap();
        let vault = Uuid::new_v4();
        let sealed = seal_vault_tombstone(&key, vault, 0).unwrap();
        assert_eq!(sealed.len(), VAULT_TOMBSTONE_LEN);
        open_vault_tombstone(&key, vault, &sealed).unwrap();
        assert!(open_vault_tombstone(&key, Uuid::new_v4(), &sealed).is_err());
        let other = VaultKey::generate().unwrap();
        assert!(open_vault_tombstone(&other, vault, &sealed).is_err());
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 1;
            assert!(open_vault_tombstone(&key, vault, &bad).is_err(), "byte {i}");
        }
        assert!(open_vault_tombstone(&key, vault, &sealed[1..]).is_err());
    }
}

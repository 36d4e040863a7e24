//! Cryptography of Vouch: device identities, vault keys, HPKE envelopes, sealed items,
//! approval check values and the QR approval payload.
//!
//! Every algorithm comes from a maintained crate (`x25519-dalek`, `hpke`,
//! `chacha20poly1305`, `hkdf`, `sha2`); this module only fixes the parameters, the domain
//! labels and the byte layouts, which are versioned so a post-quantum suite can be added.
//! Secret types zeroize on drop and never print their bytes.

mod check;
mod envelope;
mod identity;
mod item;
mod qr;
mod secret_bytes;
mod vault_key;

pub use check::{CheckValues, PHRASE_WORDS, check_values};
pub use envelope::{ENVELOPE_LEN, Envelope, EnvelopeContext, EnvelopeMode, SUITE_X25519_CHACHA20};
pub use identity::{DeviceIdentity, PUBLIC_KEY_LEN, PublicKey};
pub use item::{ITEM_FORMAT_V1, ITEM_OVERHEAD, ItemAad, open_item, seal_item};
pub use qr::{QR_PREFIX, QrPayload, QrSecret};
pub use secret_bytes::SecretBytes;
pub use vault_key::VaultKey;

use crate::error::{Error, Result};

/// Fills an array from the operating system's CSPRNG; fails (never panics) if it is unavailable.
pub(crate) fn random_array<const N: usize>() -> Result<[u8; N]> {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).map_err(|_| Error::Random)?;
    Ok(out)
}

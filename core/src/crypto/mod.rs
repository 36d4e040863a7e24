//! Cryptography of Vouch: device identities, vault keys, the approval's PAKE and
//! transcript, HPKE envelopes, the approval payload, sealed items and the QR code.
//!
//! Every algorithm comes from a maintained crate (`x25519-dalek`, `spake2`, `hpke`,
//! `chacha20poly1305` through `vouch-aead`, `hkdf`, `hmac`, `sha2`); this module only
//! fixes the parameters, the domain labels and the byte layouts (docs/TRUST_V2.md),
//! which are versioned so a post-quantum suite can be added. Secret types zeroize on drop
//! and never print their bytes.

mod chain_envelope;
mod code;
mod envelope;
mod identity;
mod item;
mod pake;
mod payload;
mod qr;
mod recovery;
mod secret_bytes;
mod transcript;
mod vault_key;
mod vault_tombstone;

// The crate's crypto surface; tests, benches and fuzzers (feature `testing`) name all of it.
#[cfg_attr(not(feature = "testing"), allow(unused_imports))]
pub use chain_envelope::{
    CHAIN_ENVELOPE_LEN, ChainEnvelopeContext, SUITE_AUTH_SIGNED_X25519_CHACHA20,
    chain_envelope_purpose, open_chain_envelope, seal_chain_envelope,
};
#[cfg_attr(not(feature = "testing"), allow(unused_imports))]
pub use code::{ApprovalCode, CODE_DIGITS};
#[cfg_attr(not(feature = "testing"), allow(unused_imports))]
pub use envelope::{
    ENVELOPE_LEN, Envelope, EnvelopeContext, EnvelopePurpose, SUITE_AUTH_PSK_X25519_CHACHA20,
};
#[cfg_attr(not(feature = "testing"), allow(unused_imports))]
pub use identity::{DeviceIdentity, PUBLIC_KEY_LEN, PublicKey};
#[cfg_attr(not(feature = "testing"), allow(unused_imports))]
pub use item::{
    ENTRY_FORMAT_V1, ITEM_FORMAT_V2, ITEM_OVERHEAD, ItemAad, MAX_TITLE_BYTES, OpenedItem,
    open_item, seal_entry, seal_item, sealed_item_epoch,
};
#[cfg_attr(not(feature = "testing"), allow(unused_imports))]
pub use pake::{
    ApprovalPsk, ApproverRun, ConfirmedRun, MAC_LEN, PakePassword, RequesterRun, RunAnswer,
};
#[cfg_attr(not(feature = "testing"), allow(unused_imports))]
pub use payload::{ApprovalPayload, PAYLOAD_V1, PayloadEnvelope};
#[cfg_attr(not(feature = "testing"), allow(unused_imports))]
pub use qr::{QR_PREFIX, QrPayload, QrSecret};
#[cfg_attr(not(feature = "testing"), allow(unused_imports))]
pub use recovery::{RECOVERY_WORDS, RecoveryKey};
#[cfg_attr(not(feature = "testing"), allow(unused_imports))]
pub use secret_bytes::SecretBytes;
#[cfg_attr(not(feature = "testing"), allow(unused_imports))]
pub use transcript::{Descriptor, PROTOCOL_VERSION, RunContext};
#[cfg_attr(not(feature = "testing"), allow(unused_imports))]
pub use vault_key::VaultKey;
#[cfg_attr(not(feature = "testing"), allow(unused_imports))]
pub use vault_tombstone::{
    VAULT_TOMBSTONE_LEN, VAULT_TOMBSTONE_V1, open_vault_tombstone, seal_vault_tombstone,
    vault_tombstone_epoch,
};

use crate::error::{Error, Result};

/// Fills an array from the operating system's CSPRNG; fails (never panics) if it is unavailable.
pub(crate) fn random_array<const N: usize>() -> Result<[u8; N]> {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).map_err(|_| Error::Random)?;
    Ok(out)
}

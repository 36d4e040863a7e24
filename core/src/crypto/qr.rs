//! The QR approval payload: request id, the requester's key hash and a fresh 32-byte
//! secret. The approver scans it and seals in HPKE PSK mode with the secret, so the new
//! device knows the envelope came from the device that scanned its screen.
//!
//! Text form: `VOUCH1:` followed by base64url (no padding) of
//! `request id (16) ‖ key hash (32) ‖ secret (32)` — 115 characters, QR byte mode.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use subtle::ConstantTimeEq;
use uuid::Uuid;
use zeroize::Zeroizing;

use super::PublicKey;
use crate::error::{Error, Result};

/// Prefix (and version) of the payload text.
pub const QR_PREFIX: &str = "VOUCH1:";
const RAW_LEN: usize = 16 + 32 + 32;

/// The 32-byte QR secret (the HPKE PSK). Zeroized on drop, redacted from `Debug`.
#[derive(Clone)]
pub struct QrSecret(Zeroizing<[u8; 32]>);

impl QrSecret {
    /// A fresh random secret.
    pub fn generate() -> Result<Self> {
        Ok(Self(Zeroizing::new(super::random_array()?)))
    }

    pub(crate) fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    pub(crate) fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for QrSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("QrSecret(<redacted>)")
    }
}

/// What the new device's QR code carries.
#[derive(Debug, Clone)]
pub struct QrPayload {
    /// The approval request being answered.
    pub request_id: Uuid,
    /// SHA-256 of the requester's public key.
    pub key_hash: [u8; 32],
    /// The PSK for the envelope.
    pub secret: QrSecret,
}

impl QrPayload {
    /// Builds the payload for `request_id` and the requester's `key` with a fresh secret.
    pub fn new(request_id: Uuid, key: &PublicKey) -> Result<Self> {
        Ok(Self {
            request_id,
            key_hash: key.hash(),
            secret: QrSecret::generate()?,
        })
    }

    /// The text to put in the QR code. Contains the secret: show it, never log it.
    pub fn encode(&self) -> Zeroizing<String> {
        let mut raw = Zeroizing::new([0u8; RAW_LEN]);
        raw[..16].copy_from_slice(self.request_id.as_bytes());
        raw[16..48].copy_from_slice(&self.key_hash);
        raw[48..].copy_from_slice(self.secret.expose());
        let mut out = String::with_capacity(QR_PREFIX.len() + 107);
        out.push_str(QR_PREFIX);
        URL_SAFE_NO_PAD.encode_string(&raw[..], &mut out);
        Zeroizing::new(out)
    }

    /// Parses scanned text; refuses anything that is not exactly a version-1 payload.
    pub fn decode(text: &str) -> Result<Self> {
        let text = text.trim();
        let body = text
            .strip_prefix(QR_PREFIX)
            .ok_or(Error::InvalidQrPayload("not a Vouch approval code"))?;
        let raw = Zeroizing::new(
            URL_SAFE_NO_PAD
                .decode(body)
                .map_err(|_| Error::InvalidQrPayload("not base64url"))?,
        );
        if raw.len() != RAW_LEN {
            return Err(Error::InvalidQrPayload("wrong length"));
        }
        let request_id =
            Uuid::from_slice(&raw[..16]).map_err(|_| Error::InvalidQrPayload("wrong length"))?;
        let key_hash: [u8; 32] = raw[16..48]
            .try_into()
            .map_err(|_| Error::InvalidQrPayload("wrong length"))?;
        let secret: [u8; 32] = raw[48..]
            .try_into()
            .map_err(|_| Error::InvalidQrPayload("wrong length"))?;
        if secret.iter().all(|b| *b == 0) {
            return Err(Error::InvalidQrPayload("empty secret"));
        }
        Ok(Self {
            request_id,
            key_hash,
            secret: QrSecret::from_bytes(secret),
        })
    }

    /// Whether `key` is the key this payload names (constant-time hash comparison).
    pub fn names_key(&self, key: &PublicKey) -> bool {
        key.hash().ct_eq(&self.key_hash).into()
    }
}

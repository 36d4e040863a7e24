//! The QR code a new device shows beside its 6-digit code: version, request id, the hash
//! of the device's descriptor, a 32-byte secret (the PAKE password when scanned) and a
//! checksum, so a corrupted or foreign code is refused before anything is sent.
//!
//! Text form: `VOUCH2:` + base64url (no padding) of `version 0x02 ‖ request id (16) ‖
//! descriptor hash (32) ‖ secret (32) ‖ SHA-256(previous bytes)[0..4]`.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Prefix of the QR text.
pub const QR_PREFIX: &str = "VOUCH2:";
const QR_VERSION: u8 = 0x02;
const BODY_LEN: usize = 1 + 16 + 32 + 32;
const RAW_LEN: usize = BODY_LEN + 4;

/// The 32-byte secret of a QR code. Zeroized on drop; `Debug` never shows it.
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

/// A decoded QR code.
#[derive(Debug, Clone)]
pub struct QrPayload {
    /// The request it belongs to.
    pub request_id: Uuid,
    /// SHA-256 of the new device's descriptor.
    pub descriptor_hash: [u8; 32],
    /// The PAKE password when scanned.
    pub secret: QrSecret,
}

impl QrPayload {
    /// The QR text (contains the secret: show it, never log it).
    pub fn encode(&self) -> Zeroizing<String> {
        let mut raw = Zeroizing::new([0u8; RAW_LEN]);
        raw[0] = QR_VERSION;
        raw[1..17].copy_from_slice(self.request_id.as_bytes());
        raw[17..49].copy_from_slice(&self.descriptor_hash);
        raw[49..BODY_LEN].copy_from_slice(self.secret.expose());
        let sum = Sha256::digest(&raw[..BODY_LEN]);
        raw[BODY_LEN..].copy_from_slice(&sum[..4]);
        let mut out = String::with_capacity(QR_PREFIX.len() + 120);
        out.push_str(QR_PREFIX);
        URL_SAFE_NO_PAD.encode_string(&raw[..], &mut out);
        Zeroizing::new(out)
    }

    /// Decodes scanned text; refuses another prefix or version, a wrong length, a bad
    /// checksum and an all-zero secret ([`Error::InvalidQrPayload`]).
    pub fn decode(text: &str) -> Result<Self> {
        let body = text
            .trim()
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
        let sum = Sha256::digest(&raw[..BODY_LEN]);
        if !bool::from(sum[..4].ct_eq(&raw[BODY_LEN..])) {
            return Err(Error::InvalidQrPayload("checksum does not match"));
        }
        if raw[0] != QR_VERSION {
            return Err(Error::InvalidQrPayload("unknown version"));
        }
        let request_id =
            Uuid::from_slice(&raw[1..17]).map_err(|_| Error::InvalidQrPayload("wrong length"))?;
        let descriptor_hash: [u8; 32] = raw[17..49]
            .try_into()
            .map_err(|_| Error::InvalidQrPayload("wrong length"))?;
        let secret: [u8; 32] = raw[49..BODY_LEN]
            .try_into()
            .map_err(|_| Error::InvalidQrPayload("wrong length"))?;
        if secret.iter().all(|b| *b == 0) {
            return Err(Error::InvalidQrPayload("empty secret"));
        }
        Ok(Self {
            request_id,
            descriptor_hash,
            secret: QrSecret::from_bytes(secret),
        })
    }

    /// Whether the code names this descriptor hash (constant time).
    pub fn names(&self, descriptor_hash: &[u8; 32]) -> bool {
        self.descriptor_hash.ct_eq(descriptor_hash).into()
    }
}

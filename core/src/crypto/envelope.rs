//! HPKE envelopes: a vault key sealed to one device's public key (RFC 9180).
//!
//! Layout (version 1, 82 bytes): `suite (1) ‖ mode (1) ‖ enc (32) ‖ ciphertext+tag (48)`.
//! The two header bytes are the AEAD's associated data, so they cannot be changed
//! without detection. `info` binds a domain label, the suite and mode, the user id, the
//! request id, the vault id and the recipient's public key, so an envelope opens only for
//! the device, request and vault it was made for.

use hpke::{
    Deserializable, OpModeR, OpModeS, PskBundle, Serializable, aead::ChaCha20Poly1305,
    kdf::HkdfSha256, kem::X25519HkdfSha256,
};
use uuid::Uuid;
use zeroize::Zeroizing;

use super::{DeviceIdentity, PublicKey, QrSecret, VaultKey, vault_key::VAULT_KEY_LEN};
use crate::error::{Error, Result};

type Kem = X25519HkdfSha256;

/// Suite byte of DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / ChaCha20-Poly1305.
/// A post-quantum suite (X-Wing) gets a new byte and its own length.
pub const SUITE_X25519_CHACHA20: u8 = 0x01;

const HEADER_LEN: usize = 2;
const ENC_LEN: usize = 32;
const TAG_LEN: usize = 16;
/// Encoded length of a suite-1 envelope.
pub const ENVELOPE_LEN: usize = HEADER_LEN + ENC_LEN + VAULT_KEY_LEN + TAG_LEN;

const INFO_LABEL: &[u8] = b"vouch/envelope/v1\0";
const PSK_ID_LABEL: &[u8] = b"vouch/qr-psk/v1\0";

/// How an envelope was sealed; the opener states which one it requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvelopeMode {
    /// HPKE base mode: anyone who knows the recipient key could have sealed it; the
    /// requester relies on number matching done by the person approving.
    Base,
    /// HPKE PSK mode keyed by the QR secret: only the device that scanned the QR code
    /// could have sealed it.
    Qr,
}

impl EnvelopeMode {
    fn byte(self) -> u8 {
        match self {
            Self::Base => 0,
            Self::Qr => 1,
        }
    }
}

/// What an envelope is bound to besides the recipient key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnvelopeContext {
    /// The user both devices belong to.
    pub user_id: Uuid,
    /// The approval request (or key-sharing request) the envelope answers.
    pub request_id: Uuid,
    /// The vault whose key is inside.
    pub vault_id: Uuid,
}

/// A sealed vault key, as bytes ready for the wire. Holds no secret in the clear.
#[derive(Clone, PartialEq, Eq)]
pub struct Envelope(Vec<u8>);

impl std::fmt::Debug for Envelope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Envelope(suite={}, {} bytes)", self.0[0], self.0.len())
    }
}

impl Envelope {
    /// Seals `key` to `recipient` for `ctx`. With `psk` (the QR secret) it uses HPKE PSK
    /// mode, otherwise base mode. Seal to the exact key bytes the check values were shown
    /// for — never to a key fetched again later.
    pub fn seal(
        key: &VaultKey,
        recipient: &PublicKey,
        ctx: &EnvelopeContext,
        psk: Option<&QrSecret>,
    ) -> Result<Self> {
        let mode = if psk.is_some() {
            EnvelopeMode::Qr
        } else {
            EnvelopeMode::Base
        };
        let header = [SUITE_X25519_CHACHA20, mode.byte()];
        let info = info(&header, ctx, recipient);
        let psk_id = psk_id(ctx);
        let bundle = match psk {
            Some(secret) => {
                Some(PskBundle::new(secret.expose(), &psk_id).map_err(|_| Error::EnvelopeOpen)?)
            }
            None => None,
        };
        let op = match bundle {
            Some(b) => OpModeS::Psk(b),
            None => OpModeS::Base,
        };
        let pk = <Kem as hpke::Kem>::PublicKey::from_bytes(recipient.as_bytes())
            .map_err(|_| Error::InvalidPublicKey)?;
        let (enc, ct) = hpke::single_shot_seal::<ChaCha20Poly1305, HkdfSha256, Kem>(
            &op,
            &pk,
            &info,
            key.expose(),
            &header,
        )
        .map_err(|_| Error::InvalidPublicKey)?;
        let mut out = Vec::with_capacity(ENVELOPE_LEN);
        out.extend_from_slice(&header);
        out.extend_from_slice(&enc.to_bytes());
        out.extend_from_slice(&ct);
        debug_assert_eq!(out.len(), ENVELOPE_LEN);
        Ok(Self(out))
    }

    /// Parses wire bytes: checks the suite byte, the mode byte and the exact length.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let suite = *bytes.first().ok_or(Error::MalformedEnvelope)?;
        if suite != SUITE_X25519_CHACHA20 {
            return Err(Error::UnsupportedSuite(suite));
        }
        if bytes.len() != ENVELOPE_LEN || bytes[1] > 1 {
            return Err(Error::MalformedEnvelope);
        }
        Ok(Self(bytes.to_vec()))
    }

    /// The encoded bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The mode the envelope claims (authenticated when it is opened).
    pub fn mode(&self) -> EnvelopeMode {
        if self.0[1] == 1 {
            EnvelopeMode::Qr
        } else {
            EnvelopeMode::Base
        }
    }

    /// Opens the envelope with this device's identity. `psk` must be given exactly when
    /// the request was made with a QR code; a base-mode envelope is then refused, so a
    /// party that never scanned the code cannot stand in for the scanner.
    pub fn open(
        &self,
        identity: &DeviceIdentity,
        ctx: &EnvelopeContext,
        psk: Option<&QrSecret>,
    ) -> Result<VaultKey> {
        let expected = if psk.is_some() {
            EnvelopeMode::Qr
        } else {
            EnvelopeMode::Base
        };
        if self.mode() != expected {
            return Err(Error::EnvelopeModeMismatch);
        }
        let header = [self.0[0], self.0[1]];
        let info = info(&header, ctx, identity.public_key());
        let psk_id = psk_id(ctx);
        let op = match psk {
            Some(secret) => OpModeR::Psk(
                PskBundle::new(secret.expose(), &psk_id).map_err(|_| Error::EnvelopeOpen)?,
            ),
            None => OpModeR::Base,
        };
        let sk = identity.secret_bytes();
        let sk =
            <Kem as hpke::Kem>::PrivateKey::from_bytes(&sk[..]).map_err(|_| Error::EnvelopeOpen)?;
        let enc =
            <Kem as hpke::Kem>::EncappedKey::from_bytes(&self.0[HEADER_LEN..HEADER_LEN + ENC_LEN])
                .map_err(|_| Error::MalformedEnvelope)?;
        let pt = hpke::single_shot_open::<ChaCha20Poly1305, HkdfSha256, Kem>(
            &op,
            &sk,
            &enc,
            &info,
            &self.0[HEADER_LEN + ENC_LEN..],
            &header,
        )
        .map_err(|_| Error::EnvelopeOpen)?;
        let pt = Zeroizing::new(pt);
        let arr: [u8; VAULT_KEY_LEN] = pt.as_slice().try_into().map_err(|_| Error::EnvelopeOpen)?;
        Ok(VaultKey::from_bytes(Zeroizing::new(arr)))
    }
}

fn info(header: &[u8; HEADER_LEN], ctx: &EnvelopeContext, recipient: &PublicKey) -> Vec<u8> {
    let mut info = Vec::with_capacity(INFO_LABEL.len() + HEADER_LEN + 48 + 32);
    info.extend_from_slice(INFO_LABEL);
    info.extend_from_slice(header);
    info.extend_from_slice(ctx.user_id.as_bytes());
    info.extend_from_slice(ctx.request_id.as_bytes());
    info.extend_from_slice(ctx.vault_id.as_bytes());
    info.extend_from_slice(recipient.as_bytes());
    info
}

fn psk_id(ctx: &EnvelopeContext) -> Vec<u8> {
    let mut id = PSK_ID_LABEL.to_vec();
    id.extend_from_slice(ctx.request_id.as_bytes());
    id
}

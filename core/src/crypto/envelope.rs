//! HPKE envelopes (RFC 9180): a vault key sealed to one device, in **mode_auth_psk** only.
//!
//! Layout (suite 2, 82 bytes): `suite (1) ‖ context (1) ‖ enc (32) ‖ ciphertext+tag (48)`.
//! The two header bytes are the AEAD's associated data. The sender is authenticated by
//! its X25519 identity key (Auth) and by the run's PAKE-derived psk (Psk): only the
//! device the person entered the code on can have sealed what opens. The mode is fixed
//! here, in code — never read from the envelope or the server — and the psk type cannot
//! be empty (the `hpke` crate would treat an empty psk bundle as base mode).
//!
//! `info = "vouch/envelope/v2\0" ‖ suite ‖ context ‖ user ‖ request ‖ vault ‖ epoch (u32
//! BE) ‖ recipient public key`; `psk_id = "vouch/v2/psk\0" ‖ request id`.

use hpke::{
    Deserializable, OpModeR, OpModeS, PskBundle, Serializable, aead::ChaCha20Poly1305,
    kdf::HkdfSha256, kem::X25519HkdfSha256,
};
use uuid::Uuid;
use zeroize::Zeroizing;

use super::{ApprovalPsk, DeviceIdentity, PublicKey, VaultKey, vault_key::VAULT_KEY_LEN};
use crate::error::{Error, Result};

type Kem = X25519HkdfSha256;

/// Suite byte of DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / ChaCha20-Poly1305 in
/// mode_auth_psk. A post-quantum suite (X-Wing) gets a new byte and its own length.
pub const SUITE_AUTH_PSK_X25519_CHACHA20: u8 = 0x02;

const HEADER_LEN: usize = 2;
const ENC_LEN: usize = 32;
const TAG_LEN: usize = 16;
/// Encoded length of a suite-2 envelope.
pub const ENVELOPE_LEN: usize = HEADER_LEN + ENC_LEN + VAULT_KEY_LEN + TAG_LEN;

const INFO_LABEL: &[u8] = b"vouch/envelope/v2\0";
const PSK_ID_LABEL: &[u8] = b"vouch/v2/psk\0";

/// Why an envelope was made (bound in `info` and the header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvelopePurpose {
    /// Handed over in an approval's payload.
    Approval,
    /// A rotated key (the vouch chain).
    Rotation,
    /// A new vault's key for the user's other key holders (the vouch chain).
    VaultCreation,
}

impl EnvelopePurpose {
    pub(super) fn byte(self) -> u8 {
        match self {
            Self::Approval => 1,
            Self::Rotation => 2,
            Self::VaultCreation => 3,
        }
    }
}

/// What an envelope is bound to besides the two device keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnvelopeContext {
    /// Why it was made.
    pub purpose: EnvelopePurpose,
    /// The user both devices belong to.
    pub user_id: Uuid,
    /// The approval request the envelope answers.
    pub request_id: Uuid,
    /// The vault whose key is inside.
    pub vault_id: Uuid,
    /// The key's epoch (0 until the chain rotates keys).
    pub epoch: u32,
}

/// A sealed vault key, as bytes ready for the wire. Holds no secret in the clear.
#[derive(Clone, PartialEq, Eq)]
pub struct Envelope(Vec<u8>);

impl std::fmt::Debug for Envelope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Envelope({} bytes)", self.0.len())
    }
}

impl Envelope {
    /// Seals `key` from `sender` to `recipient` with the run's psk.
    pub fn seal(
        key: &VaultKey,
        sender: &DeviceIdentity,
        recipient: &PublicKey,
        psk: &ApprovalPsk,
        ctx: &EnvelopeContext,
    ) -> Result<Self> {
        let header = [SUITE_AUTH_PSK_X25519_CHACHA20, ctx.purpose.byte()];
        let info = info(&header, ctx, recipient);
        let psk_id = psk_id(ctx);
        let bundle = psk_bundle(psk, &psk_id)?;
        let sk = sender.secret_bytes();
        let sender_sk =
            <Kem as hpke::Kem>::PrivateKey::from_bytes(&sk[..]).map_err(|_| Error::EnvelopeOpen)?;
        let sender_pk = <Kem as hpke::Kem>::PublicKey::from_bytes(sender.public_key().as_bytes())
            .map_err(|_| Error::InvalidPublicKey)?;
        let op = OpModeS::AuthPsk((sender_sk, sender_pk), bundle);
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
        Ok(Self(out))
    }

    /// Parses wire bytes: the suite byte and the exact length.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let suite = *bytes.first().ok_or(Error::MalformedEnvelope)?;
        if suite != SUITE_AUTH_PSK_X25519_CHACHA20 {
            return Err(Error::UnsupportedSuite(suite));
        }
        if bytes.len() != ENVELOPE_LEN {
            return Err(Error::MalformedEnvelope);
        }
        Ok(Self(bytes.to_vec()))
    }

    /// The encoded bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Opens with this device's identity, the expected sender's key and the run's psk,
    /// in mode_auth_psk and nothing else. Any other sender, psk, context or mode fails
    /// with [`Error::EnvelopeOpen`].
    pub fn open(
        &self,
        identity: &DeviceIdentity,
        sender: &PublicKey,
        psk: &ApprovalPsk,
        ctx: &EnvelopeContext,
    ) -> Result<VaultKey> {
        let header = [SUITE_AUTH_PSK_X25519_CHACHA20, ctx.purpose.byte()];
        if self.0[..HEADER_LEN] != header {
            return Err(Error::EnvelopeOpen);
        }
        let info = info(&header, ctx, identity.public_key());
        let psk_id = psk_id(ctx);
        let sender_pk = <Kem as hpke::Kem>::PublicKey::from_bytes(sender.as_bytes())
            .map_err(|_| Error::InvalidPublicKey)?;
        let op = OpModeR::AuthPsk(sender_pk, psk_bundle(psk, &psk_id)?);
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

/// A psk bundle from the run's psk; an all-zero psk (never made by HKDF) is refused, and
/// the type cannot be empty, so HPKE can never fall back to Auth or Base mode.
fn psk_bundle<'a>(psk: &'a ApprovalPsk, psk_id: &'a [u8]) -> Result<PskBundle<'a>> {
    if psk.expose().iter().all(|b| *b == 0) {
        return Err(Error::EnvelopeOpen);
    }
    PskBundle::new(psk.expose(), psk_id).map_err(|_| Error::EnvelopeOpen)
}

fn info(header: &[u8; HEADER_LEN], ctx: &EnvelopeContext, recipient: &PublicKey) -> Vec<u8> {
    let mut info = Vec::with_capacity(INFO_LABEL.len() + HEADER_LEN + 52 + 32);
    info.extend_from_slice(INFO_LABEL);
    info.extend_from_slice(header);
    info.extend_from_slice(ctx.user_id.as_bytes());
    info.extend_from_slice(ctx.request_id.as_bytes());
    info.extend_from_slice(ctx.vault_id.as_bytes());
    info.extend_from_slice(&ctx.epoch.to_be_bytes());
    info.extend_from_slice(recipient.as_bytes());
    info
}

fn psk_id(ctx: &EnvelopeContext) -> Vec<u8> {
    let mut id = PSK_ID_LABEL.to_vec();
    id.extend_from_slice(ctx.request_id.as_bytes());
    id
}

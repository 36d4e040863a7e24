//! Chain envelopes: a vault key one key holder seals to another it found on its verified
//! vouch chain (a new vault, a rotation, the recovery key). No person is in the loop, so
//! there is no PSK: HPKE **mode_auth** (the sender's X25519 key on the chain) plus the
//! sender's Ed25519 signature, both checked against the recipient's own verified chain —
//! never against a key the server names.
//!
//! Layout (suite 3, 146 bytes): `suite (1) ‖ purpose (1) ‖ enc (32) ‖ ciphertext+tag (48)
//! ‖ signature (64)`. `info = "vouch/chain-envelope/v1\0" ‖ suite ‖ purpose ‖ user ‖
//! sender id ‖ recipient id ‖ vault ‖ epoch (u32 BE) ‖ recipient X25519 key`; the
//! signature covers `"vouch/chain-envelope/v1/sig\0" ‖ info ‖ enc ‖ ciphertext`.

use hpke::{
    Deserializable, OpModeR, OpModeS, Serializable, aead::ChaCha20Poly1305, kdf::HkdfSha256,
    kem::X25519HkdfSha256,
};
use uuid::Uuid;
use zeroize::Zeroizing;

use super::{DeviceIdentity, EnvelopePurpose, VaultKey, vault_key::VAULT_KEY_LEN};
use crate::{
    chain::{Member, SIG_LEN},
    error::{Error, Result},
};

type Kem = X25519HkdfSha256;

/// Suite byte of DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / ChaCha20-Poly1305 in
/// mode_auth, with an Ed25519 signature.
pub const SUITE_AUTH_SIGNED_X25519_CHACHA20: u8 = 0x03;
const HEADER_LEN: usize = 2;
const ENC_LEN: usize = 32;
const TAG_LEN: usize = 16;
const BODY_LEN: usize = HEADER_LEN + ENC_LEN + VAULT_KEY_LEN + TAG_LEN;
/// Encoded length of a suite-3 chain envelope.
pub const CHAIN_ENVELOPE_LEN: usize = BODY_LEN + SIG_LEN;

const INFO_LABEL: &[u8] = b"vouch/chain-envelope/v1\0";
const SIG_LABEL: &[u8] = b"vouch/chain-envelope/v1/sig\0";

/// What a chain envelope is bound to besides the two members' keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainEnvelopeContext {
    /// Why it was made (a new vault, a rotation).
    pub purpose: EnvelopePurpose,
    /// The user whose chain both members are on.
    pub user_id: Uuid,
    /// The sealing member's id.
    pub sender_id: Uuid,
    /// The receiving member's id.
    pub recipient_id: Uuid,
    /// The vault whose key is inside.
    pub vault_id: Uuid,
    /// The key's epoch.
    pub epoch: u32,
}

/// Seals `key` from this device (`sender`, a member of the chain) to `recipient` (a live
/// member of the sender's verified chain) and signs it.
pub fn seal_chain_envelope(
    key: &VaultKey,
    sender: &DeviceIdentity,
    recipient: &Member,
    ctx: &ChainEnvelopeContext,
) -> Result<Vec<u8>> {
    let header = [SUITE_AUTH_SIGNED_X25519_CHACHA20, ctx.purpose.byte()];
    let info = info(&header, ctx, &recipient.x25519);
    let sk = sender.secret_bytes();
    let sender_sk =
        <Kem as hpke::Kem>::PrivateKey::from_bytes(&sk[..]).map_err(|_| Error::EnvelopeOpen)?;
    let sender_pk = <Kem as hpke::Kem>::PublicKey::from_bytes(sender.public_key().as_bytes())
        .map_err(|_| Error::InvalidPublicKey)?;
    let pk = <Kem as hpke::Kem>::PublicKey::from_bytes(&recipient.x25519)
        .map_err(|_| Error::InvalidPublicKey)?;
    let (enc, ct) = hpke::single_shot_seal::<ChaCha20Poly1305, HkdfSha256, Kem>(
        &OpModeS::Auth((sender_sk, sender_pk)),
        &pk,
        &info,
        key.expose(),
        &header,
    )
    .map_err(|_| Error::InvalidPublicKey)?;
    let mut out = Vec::with_capacity(CHAIN_ENVELOPE_LEN);
    out.extend_from_slice(&header);
    out.extend_from_slice(&enc.to_bytes());
    out.extend_from_slice(&ct);
    let sig = sender
        .signing_key()
        .sign(&signed(&info, &out[HEADER_LEN..]));
    out.extend_from_slice(&sig);
    Ok(out)
}

/// Opens a chain envelope with this device's identity, from `sender` as this device's
/// verified chain names it: the signature first, then HPKE mode_auth from the sender's
/// X25519 key. Anything else fails with [`Error::EnvelopeOpen`].
pub fn open_chain_envelope(
    bytes: &[u8],
    me: &DeviceIdentity,
    sender: &Member,
    ctx: &ChainEnvelopeContext,
) -> Result<VaultKey> {
    let header = [SUITE_AUTH_SIGNED_X25519_CHACHA20, ctx.purpose.byte()];
    if bytes.len() != CHAIN_ENVELOPE_LEN {
        return Err(Error::MalformedEnvelope);
    }
    if bytes[..HEADER_LEN] != header {
        return Err(Error::EnvelopeOpen);
    }
    let info = info(&header, ctx, me.public_key().as_bytes());
    let (body, sig) = bytes.split_at(BODY_LEN);
    let sig: [u8; SIG_LEN] = sig.try_into().map_err(|_| Error::MalformedEnvelope)?;
    crate::chain::verify_signature(&sender.ed25519, &signed(&info, &body[HEADER_LEN..]), &sig)
        .map_err(|_| Error::EnvelopeOpen)?;
    let sender_pk = <Kem as hpke::Kem>::PublicKey::from_bytes(&sender.x25519)
        .map_err(|_| Error::InvalidPublicKey)?;
    let sk = me.secret_bytes();
    let sk =
        <Kem as hpke::Kem>::PrivateKey::from_bytes(&sk[..]).map_err(|_| Error::EnvelopeOpen)?;
    let enc = <Kem as hpke::Kem>::EncappedKey::from_bytes(&body[HEADER_LEN..HEADER_LEN + ENC_LEN])
        .map_err(|_| Error::MalformedEnvelope)?;
    let pt = hpke::single_shot_open::<ChaCha20Poly1305, HkdfSha256, Kem>(
        &OpModeR::Auth(sender_pk),
        &sk,
        &enc,
        &info,
        &body[HEADER_LEN + ENC_LEN..],
        &header,
    )
    .map_err(|_| Error::EnvelopeOpen)?;
    let pt = Zeroizing::new(pt);
    let arr: [u8; VAULT_KEY_LEN] = pt.as_slice().try_into().map_err(|_| Error::EnvelopeOpen)?;
    Ok(VaultKey::from_bytes(Zeroizing::new(arr)))
}

/// Why a chain envelope says it was made (its header's second byte): a new vault's key
/// or a rotated one; anything else is refused. The purpose is bound in `info`, so a
/// relabelled envelope does not open.
pub fn chain_envelope_purpose(bytes: &[u8]) -> Result<EnvelopePurpose> {
    match bytes.get(..HEADER_LEN) {
        Some([SUITE_AUTH_SIGNED_X25519_CHACHA20, b]) if *b == EnvelopePurpose::Rotation.byte() => {
            Ok(EnvelopePurpose::Rotation)
        }
        Some([SUITE_AUTH_SIGNED_X25519_CHACHA20, b])
            if *b == EnvelopePurpose::VaultCreation.byte() =>
        {
            Ok(EnvelopePurpose::VaultCreation)
        }
        _ => Err(Error::MalformedEnvelope),
    }
}

fn info(header: &[u8; HEADER_LEN], ctx: &ChainEnvelopeContext, recipient: &[u8; 32]) -> Vec<u8> {
    let mut info = Vec::with_capacity(INFO_LABEL.len() + HEADER_LEN + 4 * 16 + 4 + 32);
    info.extend_from_slice(INFO_LABEL);
    info.extend_from_slice(header);
    info.extend_from_slice(ctx.user_id.as_bytes());
    info.extend_from_slice(ctx.sender_id.as_bytes());
    info.extend_from_slice(ctx.recipient_id.as_bytes());
    info.extend_from_slice(ctx.vault_id.as_bytes());
    info.extend_from_slice(&ctx.epoch.to_be_bytes());
    info.extend_from_slice(recipient);
    info
}

fn signed(info: &[u8], sealed: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(SIG_LABEL.len() + info.len() + sealed.len());
    m.extend_from_slice(SIG_LABEL);
    m.extend_from_slice(info);
    m.extend_from_slice(sealed);
    m
}

//! The approval's payload after confirmation: one versioned, encrypted container with
//! typed sections (envelopes now; the vouch chain and the new device's counter-signature
//! later), so the server sees neither vault ids nor how many keys moved.
//!
//! Layout: `0x01 ‖ nonce (24) ‖ XChaCha20-Poly1305(payload key, AAD = transcript, body)`;
//! body = sections `type (1) ‖ len (u32 BE) ‖ bytes`; section 1 = envelopes, repeated
//! `vault id (16) ‖ epoch (u32 BE) ‖ len (u16 BE) ‖ envelope`; section 2 = the vouch
//! chain the approver verified, its new vouch last, repeated `len (u16 BE) ‖ link`.
//! Unknown or repeated section types and trailing bytes are refused.

use uuid::Uuid;
use vouch_aead::XChaCha20Poly1305;
use zeroize::Zeroizing;

use super::{ConfirmedRun, Envelope, RequesterRun, pake::RunKeys};
use crate::error::{Error, Result};

/// Container format version.
pub const PAYLOAD_V1: u8 = 0x01;
const SECTION_ENVELOPES: u8 = 1;
const SECTION_CHAIN: u8 = 2;
const NONCE_LEN: usize = 24;

/// One vault key in a payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadEnvelope {
    /// The vault.
    pub vault_id: Uuid,
    /// The key's epoch.
    pub epoch: u32,
    /// The sealed key.
    pub envelope: Envelope,
}

/// What a payload carries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApprovalPayload {
    /// Vault keys (none for `new_root`).
    pub envelopes: Vec<PayloadEnvelope>,
    /// The vouch chain's links as the approver verified them, ending with the vouch for
    /// the new device (empty when the approval adds nobody to a chain).
    pub chain: Vec<Vec<u8>>,
}

impl ApprovalPayload {
    fn body(&self) -> Result<Zeroizing<Vec<u8>>> {
        let mut envs = Vec::new();
        for e in &self.envelopes {
            envs.extend_from_slice(e.vault_id.as_bytes());
            envs.extend_from_slice(&e.epoch.to_be_bytes());
            let bytes = e.envelope.as_bytes();
            let len = u16::try_from(bytes.len()).map_err(|_| Error::MalformedEnvelope)?;
            envs.extend_from_slice(&len.to_be_bytes());
            envs.extend_from_slice(bytes);
        }
        let mut body = Zeroizing::new(Vec::with_capacity(envs.len() + 5));
        if !self.envelopes.is_empty() {
            body.push(SECTION_ENVELOPES);
            let len = u32::try_from(envs.len()).map_err(|_| Error::MalformedEnvelope)?;
            body.extend_from_slice(&len.to_be_bytes());
            body.extend_from_slice(&envs);
        }
        if !self.chain.is_empty() {
            let mut links = Vec::new();
            for l in &self.chain {
                let len = u16::try_from(l.len()).map_err(|_| Error::MalformedPayload)?;
                links.extend_from_slice(&len.to_be_bytes());
                links.extend_from_slice(l);
            }
            body.push(SECTION_CHAIN);
            let len = u32::try_from(links.len()).map_err(|_| Error::MalformedPayload)?;
            body.extend_from_slice(&len.to_be_bytes());
            body.extend_from_slice(&links);
        }
        Ok(body)
    }

    fn parse(body: &[u8]) -> Result<Self> {
        let bad = || Error::MalformedPayload;
        let mut out = Self::default();
        let mut rest = body;
        let mut seen_envelopes = false;
        let mut seen_chain = false;
        while let Some((&ty, r)) = rest.split_first() {
            let len =
                u32::from_be_bytes(r.get(..4).ok_or_else(bad)?.try_into().map_err(|_| bad())?);
            let section = r.get(4..4 + len as usize).ok_or_else(bad)?;
            rest = &r[4 + len as usize..];
            match ty {
                SECTION_ENVELOPES if !seen_envelopes => {
                    seen_envelopes = true;
                    let mut s = section;
                    while !s.is_empty() {
                        let vault_id =
                            Uuid::from_slice(s.get(..16).ok_or_else(bad)?).map_err(|_| bad())?;
                        let epoch = u32::from_be_bytes(
                            s.get(16..20)
                                .ok_or_else(bad)?
                                .try_into()
                                .map_err(|_| bad())?,
                        );
                        let n = u16::from_be_bytes(
                            s.get(20..22)
                                .ok_or_else(bad)?
                                .try_into()
                                .map_err(|_| bad())?,
                        ) as usize;
                        let envelope = Envelope::from_bytes(s.get(22..22 + n).ok_or_else(bad)?)?;
                        s = &s[22 + n..];
                        out.envelopes.push(PayloadEnvelope {
                            vault_id,
                            epoch,
                            envelope,
                        });
                    }
                }
                SECTION_CHAIN if !seen_chain => {
                    seen_chain = true;
                    let mut s = section;
                    while !s.is_empty() {
                        let n = u16::from_be_bytes(
                            s.get(..2).ok_or_else(bad)?.try_into().map_err(|_| bad())?,
                        ) as usize;
                        out.chain.push(s.get(2..2 + n).ok_or_else(bad)?.to_vec());
                        s = &s[2 + n..];
                    }
                }
                _ => return Err(bad()),
            }
        }
        Ok(out)
    }

    /// Encrypts the container under the confirmed run's payload key, bound to its transcript.
    pub fn seal(&self, run: &ConfirmedRun) -> Result<Vec<u8>> {
        seal(&run.keys, &self.body()?)
    }

    /// Opens a container with the requester's run keys (call only after the approver's
    /// MAC verified); [`Error::MalformedPayload`] for anything that does not open or parse.
    pub fn open(run: &RequesterRun, bytes: &[u8]) -> Result<Self> {
        let keys = &run.keys;
        if bytes.len() < 1 + NONCE_LEN || bytes[0] != PAYLOAD_V1 {
            return Err(Error::MalformedPayload);
        }
        let cipher = XChaCha20Poly1305::new(&keys.payload);
        let nonce: [u8; NONCE_LEN] = bytes[1..1 + NONCE_LEN]
            .try_into()
            .map_err(|_| Error::MalformedPayload)?;
        let body = Zeroizing::new(
            cipher
                .decrypt(&nonce, &bytes[1 + NONCE_LEN..], &keys.transcript)
                .map_err(|_| Error::MalformedPayload)?,
        );
        Self::parse(&body)
    }
}

fn seal(keys: &RunKeys, body: &[u8]) -> Result<Vec<u8>> {
    let nonce: [u8; NONCE_LEN] = super::random_array()?;
    let cipher = XChaCha20Poly1305::new(&keys.payload);
    let ct = cipher
        .encrypt(&nonce, body, &keys.transcript)
        .map_err(|_| Error::MalformedPayload)?;
    let mut out = Vec::with_capacity(1 + NONCE_LEN + ct.len());
    out.push(PAYLOAD_V1);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    Ok(out)
}

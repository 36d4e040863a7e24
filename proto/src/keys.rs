//! The key bundle a device registers (DESIGN: "registration carries the key bundle, not
//! one key"), and the one X25519 public-key check both the server and the client use.
//!
//! Layout: `version 0x01 ‖ count (1) ‖ entries`, each entry `type (1) ‖ len (u16 BE) ‖
//! key`. Type 1 is X25519 (32 bytes, required, exactly once). Ed25519 (the vouch chain)
//! and X-Wing get their own types; a decoder of this version refuses types it does not
//! know, so a bundle never carries a key that nobody checked.

use x25519_dalek::{PublicKey, StaticSecret};

/// Bundle format version.
pub const KEY_BUNDLE_V1: u8 = 0x01;
/// Entry type of the X25519 identity key.
pub const KEY_TYPE_X25519: u8 = 0x01;
/// Entry type of the Ed25519 signing key (the vouch chain).
pub const KEY_TYPE_ED25519: u8 = 0x02;
/// Length of an Ed25519 public key.
pub const ED25519_KEY_LEN: usize = 32;
/// Length of an X25519 public key.
pub const X25519_KEY_LEN: usize = 32;

/// Why a key or bundle was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Not a canonical, contributory X25519 public key.
    #[error("not a valid X25519 public key")]
    InvalidX25519,
    /// Not a valid Ed25519 public key (not a point, or of small order).
    #[error("not a valid Ed25519 public key")]
    InvalidEd25519,
    /// The bundle's bytes do not follow the layout, or name an unknown version or type.
    #[error("malformed key bundle")]
    MalformedBundle,
}

/// A device's public keys, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyBundle {
    /// The X25519 identity key (HPKE recipient and sender).
    pub x25519: [u8; X25519_KEY_LEN],
    /// The Ed25519 key the device signs vouch-chain links with (devices registered before
    /// the chain have none and cannot be vouched for).
    pub ed25519: Option<[u8; ED25519_KEY_LEN]>,
}

impl KeyBundle {
    /// A bundle holding one validated X25519 key.
    pub fn new(x25519: [u8; X25519_KEY_LEN]) -> Result<Self, KeyError> {
        validate_x25519(&x25519)?;
        Ok(Self {
            x25519,
            ed25519: None,
        })
    }

    /// A bundle holding a validated X25519 key and a validated Ed25519 key.
    pub fn with_signing_key(
        x25519: [u8; X25519_KEY_LEN],
        ed25519: [u8; ED25519_KEY_LEN],
    ) -> Result<Self, KeyError> {
        validate_x25519(&x25519)?;
        validate_ed25519(&ed25519)?;
        Ok(Self {
            x25519,
            ed25519: Some(ed25519),
        })
    }

    /// The wire bytes.
    pub fn encode(&self) -> Vec<u8> {
        let count = 1 + u8::from(self.ed25519.is_some());
        let mut out = Vec::with_capacity(5 + X25519_KEY_LEN + 3 + ED25519_KEY_LEN);
        out.extend_from_slice(&[KEY_BUNDLE_V1, count, KEY_TYPE_X25519]);
        out.extend_from_slice(&(X25519_KEY_LEN as u16).to_be_bytes());
        out.extend_from_slice(&self.x25519);
        if let Some(ed) = &self.ed25519 {
            out.push(KEY_TYPE_ED25519);
            out.extend_from_slice(&(ED25519_KEY_LEN as u16).to_be_bytes());
            out.extend_from_slice(ed);
        }
        out
    }

    /// Parses and validates wire bytes; refuses trailing bytes, duplicates and unknown
    /// versions or types.
    pub fn decode(bytes: &[u8]) -> Result<Self, KeyError> {
        let bad = KeyError::MalformedBundle;
        let (&version, rest) = bytes.split_first().ok_or(bad)?;
        let (&count, mut rest) = rest.split_first().ok_or(bad)?;
        if version != KEY_BUNDLE_V1 || count == 0 {
            return Err(bad);
        }
        let mut x25519 = None;
        let mut ed25519 = None;
        for _ in 0..count {
            let (&ty, r) = rest.split_first().ok_or(bad)?;
            let len_bytes: [u8; 2] = r.get(..2).ok_or(bad)?.try_into().map_err(|_| bad)?;
            let len = u16::from_be_bytes(len_bytes) as usize;
            let key = r.get(2..2 + len).ok_or(bad)?;
            rest = &r[2 + len..];
            match ty {
                KEY_TYPE_X25519 if x25519.is_none() => {
                    let arr: [u8; X25519_KEY_LEN] =
                        key.try_into().map_err(|_| KeyError::InvalidX25519)?;
                    validate_x25519(&arr)?;
                    x25519 = Some(arr);
                }
                KEY_TYPE_ED25519 if ed25519.is_none() => {
                    let arr: [u8; ED25519_KEY_LEN] =
                        key.try_into().map_err(|_| KeyError::InvalidEd25519)?;
                    validate_ed25519(&arr)?;
                    ed25519 = Some(arr);
                }
                _ => return Err(bad),
            }
        }
        if !rest.is_empty() {
            return Err(bad);
        }
        Ok(Self {
            x25519: x25519.ok_or(bad)?,
            ed25519,
        })
    }
}

/// Refuses bytes that are not a canonical Ed25519 point and points of small order (a
/// signature by such a key proves nothing).
pub fn validate_ed25519(key: &[u8; ED25519_KEY_LEN]) -> Result<(), KeyError> {
    match ed25519_dalek::VerifyingKey::from_bytes(key) {
        Ok(k) if !k.is_weak() => Ok(()),
        _ => Err(KeyError::InvalidEd25519),
    }
}

/// Refuses non-canonical encodings (high bit set, or ≥ 2^255 − 19), the all-zero key and
/// small-order points (a Diffie-Hellman with them is not contributory).
pub fn validate_x25519(key: &[u8; X25519_KEY_LEN]) -> Result<(), KeyError> {
    if !is_canonical(key) || key.iter().all(|b| *b == 0) {
        return Err(KeyError::InvalidX25519);
    }
    // Any fixed scalar works as a probe: the result is non-contributory exactly for
    // small-order inputs.
    let probe = StaticSecret::from([0x5a; 32]);
    if probe
        .diffie_hellman(&PublicKey::from(*key))
        .was_contributory()
    {
        Ok(())
    } else {
        Err(KeyError::InvalidX25519)
    }
}

/// 2^255 − 19, little-endian.
const P_LE: [u8; 32] = {
    let mut p = [0xff; 32];
    p[0] = 0xed;
    p[31] = 0x7f;
    p
};

fn is_canonical(k: &[u8; 32]) -> bool {
    for i in (0..32).rev() {
        if k[i] != P_LE[i] {
            return k[i] < P_LE[i];
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> [u8; 32] {
        *PublicKey::from(&StaticSecret::from([7u8; 32])).as_bytes()
    }

    #[test]
    fn round_trip_and_refusals() {
        let b = KeyBundle::new(key()).unwrap();
        assert_eq!(KeyBundle::decode(&b.encode()).unwrap(), b);
        let mut trailing = b.encode();
        trailing.push(0);
        assert_eq!(KeyBundle::decode(&trailing), Err(KeyError::MalformedBundle));
        let mut unknown = b.encode();
        unknown[2] = 9;
        assert_eq!(KeyBundle::decode(&unknown), Err(KeyError::MalformedBundle));
        assert_eq!(KeyBundle::decode(&[]), Err(KeyError::MalformedBundle));
        assert_eq!(KeyBundle::new([0; 32]), Err(KeyError::InvalidX25519));
        let mut high = key();
        high[31] |= 0x80;
        assert_eq!(validate_x25519(&high), Err(KeyError::InvalidX25519));
        // A small-order point (order 8, RFC 7748 §6.1's list).
        let mut small = [0u8; 32];
        small[0] = 1;
        assert_eq!(validate_x25519(&small), Err(KeyError::InvalidX25519));
    }

    #[test]
    fn signing_key_entry_round_trips_and_is_checked() {
        let ed = ed25519_dalek::SigningKey::from_bytes(&[9; 32])
            .verifying_key()
            .to_bytes();
        let b = KeyBundle::with_signing_key(key(), ed).unwrap();
        assert_eq!(KeyBundle::decode(&b.encode()).unwrap(), b);
        // The identity point (order 1) signs nothing that means anything.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(
            KeyBundle::with_signing_key(key(), identity),
            Err(KeyError::InvalidEd25519)
        );
        let mut twice = b.encode();
        twice[1] = 3;
        twice.extend_from_slice(&b.encode()[40..]);
        assert_eq!(KeyBundle::decode(&twice), Err(KeyError::MalformedBundle));
    }
}

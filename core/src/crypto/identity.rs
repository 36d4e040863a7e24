//! Device identity: the X25519 key pair made on the device, and validated public keys.

use sha2::{Digest, Sha256};
use x25519_dalek::StaticSecret;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Length of an X25519 public key in bytes.
pub const PUBLIC_KEY_LEN: usize = 32;

/// An X25519 public key that passed validation: 32 bytes, canonical, not all zero and not
/// of small order. Constructing one is the only way to name a key as an HPKE recipient.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey([u8; PUBLIC_KEY_LEN]);

/// A fixed clamped scalar used only to test keys for small order: `k·P` is the identity
/// exactly when `P` lies in the small subgroup, because every clamped scalar is a multiple
/// of the cofactor 8.
const ORDER_PROBE: [u8; 32] = [0x5a; 32];

impl PublicKey {
    /// Validates and wraps raw key bytes. Refuses wrong lengths, non-canonical encodings
    /// (≥ 2^255 − 19 or high bit set), the all-zero key and small-order points.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let arr: [u8; PUBLIC_KEY_LEN] = bytes.try_into().map_err(|_| Error::InvalidPublicKey)?;
        if !is_canonical(&arr) || arr.iter().all(|b| *b == 0) {
            return Err(Error::InvalidPublicKey);
        }
        let probe = StaticSecret::from(ORDER_PROBE);
        if !probe
            .diffie_hellman(&x25519_dalek::PublicKey::from(arr))
            .was_contributory()
        {
            return Err(Error::InvalidPublicKey);
        }
        Ok(Self(arr))
    }

    /// The 32 key bytes (public, safe to send and display).
    pub fn as_bytes(&self) -> &[u8; PUBLIC_KEY_LEN] {
        &self.0
    }

    /// SHA-256 of the key bytes: the key hash carried in the QR approval payload.
    pub fn hash(&self) -> [u8; 32] {
        Sha256::digest(self.0).into()
    }
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({})", hex_prefix(&self.0))
    }
}

/// Little-endian encoding of p = 2^255 − 19.
const P_LE: [u8; 32] = {
    let mut p = [0xffu8; 32];
    p[0] = 0xed;
    p[31] = 0x7f;
    p
};

/// True when `k < p` read as a little-endian integer (so the high bit is clear too).
fn is_canonical(k: &[u8; 32]) -> bool {
    for i in (0..32).rev() {
        if k[i] != P_LE[i] {
            return k[i] < P_LE[i];
        }
    }
    false
}

fn hex_prefix(bytes: &[u8]) -> String {
    bytes
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect::<String>()
        + "…"
}

/// This device's X25519 identity. The secret scalar is zeroized on drop, never leaves the
/// core except sealed under the database key, and is redacted from `Debug`.
pub struct DeviceIdentity {
    secret: StaticSecret,
    public: PublicKey,
}

impl DeviceIdentity {
    /// Makes a fresh identity from the OS random generator.
    pub fn generate() -> Result<Self> {
        let bytes = Zeroizing::new(super::random_array::<32>()?);
        Self::from_secret_bytes(&bytes)
    }

    /// Rebuilds an identity from its stored secret bytes.
    pub(crate) fn from_secret_bytes(bytes: &[u8; 32]) -> Result<Self> {
        let secret = StaticSecret::from(*bytes);
        let public = PublicKey::from_bytes(x25519_dalek::PublicKey::from(&secret).as_bytes())?;
        Ok(Self { secret, public })
    }

    /// The secret scalar bytes, for sealing into the store only.
    pub(crate) fn secret_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.secret.to_bytes())
    }

    /// The public half, safe to send to the server and show.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }
}

impl std::fmt::Debug for DeviceIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceIdentity")
            .field("public", &self.public)
            .field("secret", &"<redacted>")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_bound() {
        assert!(!is_canonical(&P_LE));
        let mut below = P_LE;
        below[0] -= 1;
        assert!(is_canonical(&below));
        assert!(!is_canonical(&[0xff; 32]));
    }

    #[test]
    fn small_order_points_are_refused() {
        // The points of order 1, 2, 4 and 8 that have canonical encodings (RFC 7748 §6 list).
        let one = {
            let mut k = [0u8; 32];
            k[0] = 1;
            k
        };
        let order8 = hex_arr("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800");
        let order8b = hex_arr("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157");
        for k in [one, order8, order8b] {
            assert!(matches!(
                PublicKey::from_bytes(&k),
                Err(Error::InvalidPublicKey)
            ));
        }
    }

    fn hex_arr(s: &str) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (i, b) in out.iter_mut().enumerate() {
            *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
        }
        out
    }
}

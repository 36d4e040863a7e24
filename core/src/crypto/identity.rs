//! Device identity: the X25519 key pair made on the device, and validated public keys.

use x25519_dalek::StaticSecret;
use zeroize::Zeroizing;

use crate::{
    chain::ChainKey,
    error::{Error, Result},
};

/// Length of an X25519 public key in bytes.
pub const PUBLIC_KEY_LEN: usize = 32;

/// An X25519 public key that passed validation: 32 bytes, canonical, not all zero and not
/// of small order. Constructing one is the only way to name a key as an HPKE recipient.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey([u8; PUBLIC_KEY_LEN]);

impl PublicKey {
    /// Validates and wraps raw key bytes with the one check the server uses too
    /// ([`vouch_proto::validate_x25519`]): wrong lengths, non-canonical encodings, the
    /// all-zero key and small-order points are refused.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let arr: [u8; PUBLIC_KEY_LEN] = bytes.try_into().map_err(|_| Error::InvalidPublicKey)?;
        vouch_proto::validate_x25519(&arr).map_err(|_| Error::InvalidPublicKey)?;
        Ok(Self(arr))
    }

    /// The X25519 key of a registered key bundle.
    pub fn from_bundle(bundle: &[u8]) -> Result<Self> {
        let b = vouch_proto::KeyBundle::decode(bundle).map_err(|_| Error::InvalidPublicKey)?;
        Ok(Self(b.x25519))
    }

    /// The key bundle bytes this key registers as.
    #[cfg(feature = "testing")]
    pub fn bundle(&self) -> Vec<u8> {
        vouch_proto::KeyBundle {
            x25519: self.0,
            ed25519: None,
        }
        .encode()
    }

    /// The 32 key bytes (public, safe to send and display).
    pub fn as_bytes(&self) -> &[u8; PUBLIC_KEY_LEN] {
        &self.0
    }
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({})", hex_prefix(&self.0))
    }
}

fn hex_prefix(bytes: &[u8]) -> String {
    bytes
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect::<String>()
        + "…"
}

/// This device's identity: its X25519 key pair and the Ed25519 signing key it signs vouch
/// chain links and chain envelopes with, derived from the X25519 secret (HKDF-SHA256, its
/// own label) so that one sealed secret holds both. Zeroized on drop, never leaves the
/// core except sealed under the database key, and redacted from `Debug`.
pub struct DeviceIdentity {
    secret: StaticSecret,
    public: PublicKey,
    signing: ChainKey,
}

const SIGNING_KEY_INFO: &[u8] = b"vouch/identity/v1/ed25519";

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
        let mut seed = Zeroizing::new([0u8; 32]);
        hkdf::Hkdf::<sha2::Sha256>::new(None, bytes)
            .expand(SIGNING_KEY_INFO, seed.as_mut())
            .map_err(|_| Error::Random)?;
        Ok(Self {
            secret,
            public,
            signing: ChainKey::from_seed(&seed),
        })
    }

    /// The Ed25519 signing key (vouch chain links, chain envelopes).
    pub fn signing_key(&self) -> &ChainKey {
        &self.signing
    }

    /// The key bundle this device registers: its X25519 and Ed25519 public keys.
    pub fn bundle(&self) -> Vec<u8> {
        vouch_proto::KeyBundle {
            x25519: *self.public.as_bytes(),
            ed25519: Some(self.signing.public()),
        }
        .encode()
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

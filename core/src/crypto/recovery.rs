//! The recovery key (DESIGN § The vouch chain): 24 words (BIP-39, English, 256 bits) the
//! person writes down, from which an offline key holder is derived — an X25519 + Ed25519
//! identity and a member id — that is vouched into the chain and receives every vault's
//! key. Nothing about the words is stored anywhere; the same words always give the same
//! key holder.
//!
//! Derivation: `HKDF-SHA256(ikm = the 32 entropy bytes)`; the X25519 secret is
//! `expand("vouch/recovery/v1/x25519", 32)` (its Ed25519 key follows from it as for any
//! device identity), the member id `expand("vouch/recovery/v1/id", 16)` as a v4 UUID.

use uuid::Uuid;
use zeroize::Zeroizing;

use super::DeviceIdentity;
use crate::{
    chain::{Member, Role},
    error::{Error, Result},
};

/// Words in a recovery key.
pub const RECOVERY_WORDS: usize = 24;
const X25519_INFO: &[u8] = b"vouch/recovery/v1/x25519";
const ID_INFO: &[u8] = b"vouch/recovery/v1/id";

/// A recovery key, rebuilt from its words. Its secrets zeroize on drop and never print.
pub struct RecoveryKey {
    id: Uuid,
    identity: DeviceIdentity,
}

impl RecoveryKey {
    /// A new recovery key and its 24 words (show them once; never store or log them).
    pub fn generate() -> Result<(Self, Zeroizing<String>)> {
        let entropy = Zeroizing::new(super::random_array::<32>()?);
        let words =
            bip39::Mnemonic::from_entropy(&entropy[..]).map_err(|_| Error::InvalidRecoveryWords)?;
        let words = Zeroizing::new(words.words().collect::<Vec<_>>().join(" "));
        Ok((Self::from_entropy(&entropy)?, words))
    }

    /// The recovery key the words name. Case, extra spaces and line breaks do not matter;
    /// a word that is not on the list or a failed checksum (a typo) is
    /// [`Error::InvalidRecoveryWords`] — decided here, without asking anyone.
    pub fn from_words(words: &str) -> Result<Self> {
        let normalized = Zeroizing::new(
            words
                .split_whitespace()
                .map(str::to_lowercase)
                .collect::<Vec<_>>()
                .join(" "),
        );
        let mnemonic = bip39::Mnemonic::parse_normalized(&normalized)
            .map_err(|_| Error::InvalidRecoveryWords)?;
        if mnemonic.word_count() != RECOVERY_WORDS {
            return Err(Error::InvalidRecoveryWords);
        }
        let (bytes, len) = mnemonic.to_entropy_array();
        let entropy: Zeroizing<[u8; 32]> = Zeroizing::new(
            bytes[..len]
                .try_into()
                .map_err(|_| Error::InvalidRecoveryWords)?,
        );
        Self::from_entropy(&entropy)
    }

    fn from_entropy(entropy: &[u8; 32]) -> Result<Self> {
        let hk = hkdf::Hkdf::<sha2::Sha256>::new(None, entropy);
        let mut secret = Zeroizing::new([0u8; 32]);
        hk.expand(X25519_INFO, secret.as_mut())
            .map_err(|_| Error::InvalidRecoveryWords)?;
        let mut id = [0u8; 16];
        hk.expand(ID_INFO, &mut id)
            .map_err(|_| Error::InvalidRecoveryWords)?;
        Ok(Self {
            id: uuid::Builder::from_random_bytes(id).into_uuid(),
            identity: DeviceIdentity::from_secret_bytes(&secret)?,
        })
    }

    /// Its id on the chain.
    pub fn id(&self) -> Uuid {
        self.id
    }

    /// Its identity (X25519 for envelopes, Ed25519 for the links it signs).
    pub fn identity(&self) -> &DeviceIdentity {
        &self.identity
    }

    /// How the chain names it.
    pub fn member(&self) -> Member {
        Member {
            id: self.id,
            role: Role::RecoveryKey,
            x25519: *self.identity.public_key().as_bytes(),
            ed25519: self.identity.signing_key().public(),
        }
    }
}

impl std::fmt::Debug for RecoveryKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecoveryKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_give_back_the_same_key_and_typos_are_refused() {
        let (key, words) = RecoveryKey::generate().unwrap();
        assert_eq!(words.split(' ').count(), RECOVERY_WORDS);
        let shouted = format!("  {}\n", words.to_uppercase().replace(' ', "   "));
        let again = RecoveryKey::from_words(&shouted).unwrap();
        assert_eq!(again.member(), key.member());
        // One word swapped for another on the list: the checksum catches it (or, rarely,
        // it names another key, which no chain holds).
        let mut list: Vec<&str> = words.split(' ').collect();
        list.swap(0, 1);
        match RecoveryKey::from_words(&list.join(" ")) {
            Err(Error::InvalidRecoveryWords) => {}
            Ok(other) => assert_ne!(other.member(), key.member()),
            Err(e) => panic!("{e}"),
        }
        assert!(matches!(
            RecoveryKey::from_words("not words at all"),
            Err(Error::InvalidRecoveryWords)
        ));
        assert!(!format!("{key:?}").contains(words.split(' ').next().unwrap()));
    }
}

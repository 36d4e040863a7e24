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
    error::{Error, RecoveryWordsProblem, Result},
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
        let words = bip39::Mnemonic::from_entropy(&entropy[..])
            .map_err(|_| Error::InvalidState("the recovery key's words could not be made"))?;
        let words = Zeroizing::new(words.words().collect::<Vec<_>>().join(" "));
        Ok((Self::from_entropy(&entropy)?, words))
    }

    /// The recovery key the words name. Case, extra spaces and line breaks do not matter.
    /// Words that are not a recovery key are [`Error::InvalidRecoveryWords`] with what is
    /// wrong, checked in this order: the first word not on the list (its position), then
    /// the count (24), then the checksum (a word mistyped as another word of the list) —
    /// decided here, without asking anyone.
    pub fn from_words(words: &str) -> Result<Self> {
        let bad = |problem| Error::InvalidRecoveryWords(problem);
        let normalized = Zeroizing::new(
            words
                .split_whitespace()
                .map(str::to_lowercase)
                .collect::<Vec<_>>()
                .join(" "),
        );
        let mut count = 0u32;
        for (i, word) in normalized.split(' ').filter(|w| !w.is_empty()).enumerate() {
            count += 1;
            if bip39::Language::English.find_word(word).is_none() {
                return Err(bad(RecoveryWordsProblem::UnknownWord {
                    position: i as u32 + 1,
                }));
            }
        }
        if count as usize != RECOVERY_WORDS {
            return Err(bad(RecoveryWordsProblem::WrongCount { count }));
        }
        let mnemonic = bip39::Mnemonic::parse_in_normalized(bip39::Language::English, &normalized)
            .map_err(|_| bad(RecoveryWordsProblem::Checksum))?;
        let (bytes, len) = mnemonic.to_entropy_array();
        let entropy: Zeroizing<[u8; 32]> = Zeroizing::new(
            bytes[..len]
                .try_into()
                .map_err(|_| bad(RecoveryWordsProblem::WrongCount { count }))?,
        );
        Self::from_entropy(&entropy)
    }

    fn from_entropy(entropy: &[u8; 32]) -> Result<Self> {
        let hk = hkdf::Hkdf::<sha2::Sha256>::new(None, entropy);
        let mut secret = Zeroizing::new([0u8; 32]);
        let derive = |_| Error::InvalidState("the recovery key could not be derived");
        hk.expand(X25519_INFO, secret.as_mut()).map_err(derive)?;
        let mut id = [0u8; 16];
        hk.expand(ID_INFO, &mut id).map_err(derive)?;
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
        assert!(!format!("{key:?}").contains(words.split(' ').next().unwrap()));
    }

    fn problem(words: &str) -> RecoveryWordsProblem {
        match RecoveryKey::from_words(words) {
            Err(Error::InvalidRecoveryWords(p)) => p,
            other => panic!("{other:?}"),
        }
    }

    /// Each kind of wrong words gets its own answer, decided here: a word not on the
    /// list (and which), a wrong count, a word mistyped as another word of the list.
    #[test]
    fn each_kind_of_wrong_words_is_told_apart() {
        let (_, words) = RecoveryKey::generate().unwrap();
        let list: Vec<&str> = words.split(' ').collect();
        // A misspelt word (not on the list) at position 7, even with a word missing too.
        let mut typo = list.clone();
        let misspelt = format!("{}q", typo[6]);
        typo[6] = &misspelt;
        assert_eq!(
            problem(&typo.join(" ")),
            RecoveryWordsProblem::UnknownWord { position: 7 }
        );
        assert_eq!(
            problem(&typo[..20].join(" ")),
            RecoveryWordsProblem::UnknownWord { position: 7 }
        );
        // A word left out, or one too many.
        assert_eq!(
            problem(&list[..23].join(" ")),
            RecoveryWordsProblem::WrongCount { count: 23 }
        );
        assert_eq!(
            problem(&format!("{} abandon", words.as_str())),
            RecoveryWordsProblem::WrongCount { count: 25 }
        );
        assert_eq!(problem(""), RecoveryWordsProblem::WrongCount { count: 0 });
        // A word replaced by another word of the list: the checksum (8 bits) catches all
        // but 1 in 256 such changes; over the 2048 words at one position, most are caught
        // and none is taken for another problem.
        let mut caught = 0;
        for other in bip39::Language::English.word_list().iter().step_by(7) {
            if *other == list[23] {
                continue;
            }
            let mut changed = list.clone();
            changed[23] = other;
            match RecoveryKey::from_words(&changed.join(" ")) {
                Err(Error::InvalidRecoveryWords(RecoveryWordsProblem::Checksum)) => caught += 1,
                Ok(_) => {}
                other => panic!("{other:?}"),
            }
        }
        assert!(caught > 250, "{caught} of 292 caught by the checksum");
        // No message repeats a word: each is the same text for the same problem in
        // other words (its own fixed words, "check" or "list", are BIP-39 words too, so
        // looking for the words in it would fail one run in a few).
        let (_, others) = RecoveryKey::generate().unwrap();
        let others: Vec<&str> = others.split(' ').collect();
        let mut other_typo = others.clone();
        let other_misspelt = format!("{}q", other_typo[6]);
        other_typo[6] = &other_misspelt;
        for (mine, theirs) in [
            (typo.join(" "), other_typo.join(" ")),
            (list[..23].join(" "), others[..23].join(" ")),
        ] {
            let text = Error::InvalidRecoveryWords(problem(&mine)).to_string();
            let other = Error::InvalidRecoveryWords(problem(&theirs)).to_string();
            assert_eq!(text, other);
            assert!(!text.contains(&misspelt), "{text}");
        }
    }
}

//! Check values of an approval request: the 2-digit number the approver must type
//! (number matching) and a word phrase both screens show.
//!
//! Both come from HKDF-SHA256 with the requester's public key as input keying material
//! and `user id ‖ request id` as info, so a server that swaps the requester's key changes
//! what the approver sees.

use hkdf::Hkdf;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use uuid::Uuid;

use super::PublicKey;

/// Number of BIP-39 words in the phrase: 6 × 11 = 66 bits (≥ 64).
pub const PHRASE_WORDS: usize = 6;
const SALT: &[u8] = b"vouch/check-values/v1";

/// What both devices show for one request.
#[derive(Clone, PartialEq, Eq)]
pub struct CheckValues {
    number: u8,
    phrase: [&'static str; PHRASE_WORDS],
}

impl std::fmt::Debug for CheckValues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not secret (both screens show it), but keep it out of logs anyway.
        f.write_str("CheckValues(<shown on screen only>)")
    }
}

impl CheckValues {
    /// The number, 0–99.
    pub fn number(&self) -> u8 {
        self.number
    }

    /// The number as the two digits shown on screen ("07").
    pub fn number_text(&self) -> String {
        format!("{:02}", self.number)
    }

    /// The phrase words (BIP-39 English list).
    pub fn phrase(&self) -> &[&'static str; PHRASE_WORDS] {
        &self.phrase
    }

    /// The phrase as one space-separated line.
    pub fn phrase_text(&self) -> String {
        self.phrase.join(" ")
    }

    /// Whether what the approver typed is the number (surrounding spaces ignored, "7" and
    /// "07" both accepted); compared in constant time.
    pub fn matches_number(&self, typed: &str) -> bool {
        let typed = typed.trim();
        if typed.is_empty() || typed.len() > 2 || !typed.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
        let value: u8 = typed.parse().unwrap_or(u8::MAX);
        value.ct_eq(&self.number).into()
    }
}

/// Derives the check values for `requester`'s key in request `request_id` of `user_id`.
pub fn check_values(requester: &PublicKey, user_id: &Uuid, request_id: &Uuid) -> CheckValues {
    let hk = Hkdf::<Sha256>::new(Some(SALT), requester.as_bytes());
    let mut info = [0u8; 32];
    info[..16].copy_from_slice(user_id.as_bytes());
    info[16..].copy_from_slice(request_id.as_bytes());
    let mut okm = [0u8; 17];
    // 17 bytes is far below HKDF-SHA256's 8160-byte limit: this cannot fail.
    let _ = hk.expand(&info, &mut okm);
    let number = (u64::from_be_bytes([
        okm[0], okm[1], okm[2], okm[3], okm[4], okm[5], okm[6], okm[7],
    ]) % 100) as u8;
    let words = bip39::Language::English.word_list();
    let mut phrase = [""; PHRASE_WORDS];
    for (i, w) in phrase.iter_mut().enumerate() {
        *w = words[bits11(&okm[8..], i * 11)];
    }
    CheckValues { number, phrase }
}

/// Reads 11 bits starting at bit `start` (big-endian bit order) of `bytes`.
fn bits11(bytes: &[u8], start: usize) -> usize {
    (0..11).fold(0usize, |acc, k| {
        let bit = start + k;
        let b = (bytes[bit / 8] >> (7 - bit % 8)) & 1;
        (acc << 1) | b as usize
    })
}

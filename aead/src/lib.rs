//! # vouch-aead
//!
//! XChaCha20-Poly1305 (RustCrypto's `chacha20poly1305`) for vouch-core, behind functions
//! that are neither generic nor `#[inline]`. Why a crate of its own: RustCrypto's AEAD,
//! ChaCha20 and Poly1305 code is generic or `#[inline]`, so it is compiled in whichever
//! crate names the concrete cipher, at *that* crate's opt-level. The release profile
//! builds this crate at opt-level 3 (`Cargo.toml`) and vouch-core at "z": naming the
//! cipher only here keeps its AVX2/NEON loops fast (at "z" every SIMD intrinsic was an
//! out-of-line call, 13–30× slower) without building all of vouch-core for speed (README,
//! Speed and Bindings; `docs/DECISIONS.md`, "Library size").
//!
//! Nothing here chooses a nonce or a key: the callers do, as before.

#![forbid(unsafe_code)]

use chacha20poly1305::{
    KeyInit, XNonce,
    aead::{Aead, AeadInOut, Payload, inout::InOutBuf},
};

/// Bytes of a key.
pub const KEY_LEN: usize = 32;
/// Bytes of an XChaCha20 nonce.
pub const NONCE_LEN: usize = 24;
/// Bytes of a Poly1305 tag.
pub const TAG_LEN: usize = 16;

/// A message that did not seal or open (wrong key, nonce, associated data or tag, or a
/// length the cipher refuses). Says nothing more, on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Error;

/// XChaCha20-Poly1305 under one key.
pub struct XChaCha20Poly1305(chacha20poly1305::XChaCha20Poly1305);

impl XChaCha20Poly1305 {
    /// The cipher under `key`.
    pub fn new(key: &[u8; KEY_LEN]) -> Self {
        Self(chacha20poly1305::XChaCha20Poly1305::new(key.into()))
    }

    /// `msg` sealed: the ciphertext followed by the tag.
    pub fn encrypt(
        &self,
        nonce: &[u8; NONCE_LEN],
        msg: &[u8],
        aad: &[u8],
    ) -> Result<Vec<u8>, Error> {
        self.0
            .encrypt(&XNonce::from(*nonce), Payload { msg, aad })
            .map_err(|_| Error)
    }

    /// The plaintext of `sealed` (ciphertext followed by tag), if it opens.
    pub fn decrypt(
        &self,
        nonce: &[u8; NONCE_LEN],
        sealed: &[u8],
        aad: &[u8],
    ) -> Result<Vec<u8>, Error> {
        self.0
            .decrypt(&XNonce::from(*nonce), Payload { msg: sealed, aad })
            .map_err(|_| Error)
    }

    /// Encrypts `buf` in place and returns the tag.
    pub fn encrypt_detached(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; TAG_LEN], Error> {
        self.0
            .encrypt_inout_detached(&XNonce::from(*nonce), aad, InOutBuf::from(buf))
            .map(Into::into)
            .map_err(|_| Error)
    }

    /// Checks `tag` and decrypts `buf` in place; on failure `buf` is left as it was.
    pub fn decrypt_detached(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<(), Error> {
        self.0
            .decrypt_inout_detached(&XNonce::from(*nonce), aad, InOutBuf::from(buf), tag.into())
            .map_err(|_| Error)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    // draft-irtf-cfrg-xchacha-03, appendix A.3.1.
    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    const KEY: &str = "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f";
    const NONCE: &str = "404142434445464748494a4b4c4d4e4f5051525354555657";
    const AAD: &str = "50515253c0c1c2c3c4c5c6c7";
    const TAG: &str = "c0875924c1c7987947deafd8780acf49";

    fn plaintext() -> Vec<u8> {
        b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.".to_vec()
    }

    fn cipher() -> (XChaCha20Poly1305, [u8; NONCE_LEN]) {
        let key: [u8; KEY_LEN] = hex(KEY).try_into().unwrap();
        (XChaCha20Poly1305::new(&key), hex(NONCE).try_into().unwrap())
    }

    #[test]
    fn the_draft_vector_seals_and_opens_both_ways() {
        let (c, nonce) = cipher();
        let sealed = c.encrypt(&nonce, &plaintext(), &hex(AAD)).unwrap();
        assert_eq!(&sealed[sealed.len() - TAG_LEN..], &hex(TAG)[..]);
        assert_eq!(c.decrypt(&nonce, &sealed, &hex(AAD)).unwrap(), plaintext());

        let mut buf = plaintext();
        let tag = c.encrypt_detached(&nonce, &hex(AAD), &mut buf).unwrap();
        assert_eq!(buf, sealed[..sealed.len() - TAG_LEN]);
        assert_eq!(tag[..], hex(TAG)[..]);
        c.decrypt_detached(&nonce, &hex(AAD), &mut buf, &tag)
            .unwrap();
        assert_eq!(buf, plaintext());
    }

    #[test]
    fn a_changed_byte_anywhere_does_not_open() {
        let (c, nonce) = cipher();
        let sealed = c.encrypt(&nonce, &plaintext(), &hex(AAD)).unwrap();
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 1;
            assert_eq!(c.decrypt(&nonce, &bad, &hex(AAD)), Err(Error));
        }
        assert_eq!(c.decrypt(&nonce, &sealed, b"other"), Err(Error));
        let mut other = nonce;
        other[0] ^= 1;
        assert_eq!(c.decrypt(&other, &sealed, &hex(AAD)), Err(Error));
        let mut buf = sealed[..sealed.len() - TAG_LEN].to_vec();
        let before = buf.clone();
        let tag = [0u8; TAG_LEN];
        assert_eq!(
            c.decrypt_detached(&nonce, &hex(AAD), &mut buf, &tag),
            Err(Error)
        );
        assert_eq!(buf, before);
    }
}

//! The database key: XChaCha20-Poly1305 over every secret column.
//!
//! Each sealed value is bound (as associated data) to its table, column and row key, so a
//! value copied into another row or column fails to open instead of being misread.

use vouch_aead::XChaCha20Poly1305;
use zeroize::Zeroizing;

use crate::{
    crypto::SecretBytes,
    error::{Error, Result},
};

const NONCE_LEN: usize = 24;

/// The unwrapped 256-bit database key. Zeroized on drop, no `Debug` of the bytes.
pub(crate) struct DbCipher {
    cipher: XChaCha20Poly1305,
    pub(super) _key: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for DbCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DbCipher(<redacted>)")
    }
}

impl DbCipher {
    pub(crate) fn new(key: Zeroizing<[u8; 32]>) -> Self {
        Self {
            cipher: XChaCha20Poly1305::new(&key),
            _key: key,
        }
    }

    /// Seals `plaintext` for the place named by `table`, `column` and `row`.
    pub(crate) fn seal(
        &self,
        table: &'static str,
        column: &str,
        row: &str,
        plaintext: &[u8],
    ) -> Result<Vec<u8>> {
        let nonce: [u8; NONCE_LEN] = crate::crypto::random_array()?;
        let aad = aad(table, column, row);
        let ct = self
            .cipher
            .encrypt(&nonce, plaintext, &aad)
            .map_err(|_| Error::CorruptRow(table))?;
        let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        Ok(out)
    }

    /// Opens a value sealed for the same place; the plaintext zeroizes on drop.
    pub(crate) fn open(
        &self,
        table: &'static str,
        column: &str,
        row: &str,
        sealed: &[u8],
    ) -> Result<SecretBytes> {
        if sealed.len() < NONCE_LEN + 16 {
            return Err(Error::CorruptRow(table));
        }
        let (nonce, ct) = sealed.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| Error::CorruptRow(table))?;
        let aad = aad(table, column, row);
        self.cipher
            .decrypt(&nonce, ct, &aad)
            .map(SecretBytes::new)
            .map_err(|_| Error::CorruptRow(table))
    }
}

fn aad(table: &str, column: &str, row: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(16 + table.len() + column.len() + row.len());
    aad.extend_from_slice(b"vouch/db/v1\0");
    for part in [table, column, row] {
        aad.extend_from_slice(&(part.len() as u32).to_be_bytes());
        aad.extend_from_slice(part.as_bytes());
    }
    aad
}

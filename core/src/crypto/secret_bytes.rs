//! Secret byte buffers: decrypted items and sealed-column plaintexts.

use zeroize::Zeroize;

/// Bytes that are secret (a decrypted item, a token blob). Zeroized on drop, including
/// spare capacity, and never printed by `Debug`.
///
/// Not `Zeroizing<Vec<u8>>`: zeroize's `Vec` impl wipes element by element with volatile
/// writes (≈20 µs for 64 KiB); wiping the slice uses one bulk fill plus an optimisation
/// barrier, which is just as final and ~10× cheaper (see the README item bench).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretBytes(Vec<u8>);

impl SecretBytes {
    /// Takes ownership of `bytes` (they are wiped when this value drops).
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.0
    }

    pub(crate) fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.0
    }
}

impl std::ops::Deref for SecretBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for SecretBytes {
    fn drop(&mut self) {
        self.0.as_mut_slice().zeroize();
        self.0.spare_capacity_mut().zeroize();
    }
}

impl std::fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretBytes(<{} bytes redacted>)", self.0.len())
    }
}

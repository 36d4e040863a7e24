//! Vault keys: 256-bit symmetric keys that exist only on trusted devices.

use zeroize::Zeroizing;

use crate::error::Result;

/// Length of a vault key in bytes.
pub(crate) const VAULT_KEY_LEN: usize = 32;

/// A 256-bit vault key. Zeroized on drop; deliberately has no `Debug`, `Display`, `Clone`
/// to a plain array, or serialisation: it leaves the core only sealed (HPKE envelope to a
/// device, or under the database key at rest).
pub struct VaultKey(Zeroizing<[u8; VAULT_KEY_LEN]>);

impl VaultKey {
    /// Makes a fresh random key.
    pub fn generate() -> Result<Self> {
        Ok(Self(Zeroizing::new(super::random_array()?)))
    }

    pub(crate) fn from_bytes(bytes: Zeroizing<[u8; VAULT_KEY_LEN]>) -> Self {
        Self(bytes)
    }

    pub(crate) fn expose(&self) -> &[u8; VAULT_KEY_LEN] {
        &self.0
    }

    /// Constant-time equality, for tests and key rotation checks.
    pub fn ct_eq(&self, other: &Self) -> bool {
        use subtle::ConstantTimeEq;
        self.0.ct_eq(&*other.0).into()
    }
}

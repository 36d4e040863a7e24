//! The one error type of the core.
//!
//! Every fallible call in `vouch-core` returns [`Error`]. Messages are fixed strings or carry
//! only non-secret context (lengths, versions, labels): no key, token, code or item bytes
//! ever reach an error message or its `Debug` output.

use crate::keystore::SecretStoreError;

/// Shorthand for `Result<T, vouch_core::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the core. Non-exhaustive: later layers add variants.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A public key is the wrong length, all zero, or of small order (no contributory DH).
    #[error("invalid public key")]
    InvalidPublicKey,
    /// An envelope is truncated, too long, or otherwise not an envelope.
    #[error("malformed envelope")]
    MalformedEnvelope,
    /// An envelope names a suite/version this build does not know.
    #[error("unsupported envelope suite {0}")]
    UnsupportedSuite(u8),
    /// The envelope was sealed in another mode (base vs QR/PSK) than the caller requires.
    #[error("envelope mode does not match the expected mode")]
    EnvelopeModeMismatch,
    /// Authentication failed: wrong recipient key, context, PSK, or tampered bytes.
    #[error("envelope could not be opened")]
    EnvelopeOpen,
    /// A sealed item is truncated or names an unknown format version.
    #[error("malformed sealed item")]
    MalformedItem,
    /// Authentication failed: wrong key, vault id, item id, version, or tampered bytes.
    #[error("item could not be opened")]
    ItemOpen,
    /// A scanned QR payload is not a Vouch approval payload.
    #[error("invalid QR payload: {0}")]
    InvalidQrPayload(&'static str),
    /// The operating system's random generator failed.
    #[error("random number generator unavailable")]
    Random,
    /// The platform secret store failed (see [`SecretStoreError`]).
    #[error("secret store: {0}")]
    SecretStore(#[from] SecretStoreError),
    /// The key that wraps the database key is gone (app data restored to a new device,
    /// keystore reset): the encrypted columns cannot be read on this device any more.
    #[error("the database wrapping key is missing from the secret store")]
    WrappingKeyLost,
    /// The secret store holds a different wrapping key than the one this database was
    /// created with (detected by the canary), so nothing is read as corrupt data.
    #[error("the database was created with a different wrapping key")]
    WrongWrappingKey,
    /// The database file was written by a newer version of Vouch.
    #[error("database schema version {found} is newer than this build supports ({supported})")]
    SchemaTooNew {
        /// Version found in the file.
        found: i64,
        /// Newest version this build knows.
        supported: i64,
    },
    /// A stored row failed to decode or authenticate (names the table, not the contents).
    #[error("corrupt stored row in {0}")]
    CorruptRow(&'static str),
    /// The requested record does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// SQLite failed (I/O, disk full, locked). Statements use bound parameters, so the
    /// message never contains stored values.
    #[error("storage: {0}")]
    Storage(#[from] rusqlite::Error),
    /// File-system error around the profile directory or software key files.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

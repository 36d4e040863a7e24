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
    /// Authentication failed: wrong recipient or sender key, context, psk, mode, or
    /// tampered bytes.
    #[error("envelope could not be opened")]
    EnvelopeOpen,
    /// A sealed item is truncated or names an unknown format version.
    #[error("malformed sealed item")]
    MalformedItem,
    /// Authentication failed: wrong key, vault id, item id, version, or tampered bytes.
    #[error("item could not be opened")]
    ItemOpen,
    /// An approval payload does not open under the run's key or does not parse.
    #[error("the approval payload could not be opened")]
    MalformedPayload,
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
    /// The server cannot be reached (no network, server down, timeout). Reads still work
    /// from the store; writes were queued and are sent when it is back.
    #[error("offline: the server cannot be reached")]
    Offline,
    /// The server failed without a v1 answer (HTTP 5xx with no error body: a crash, a
    /// proxy in front of a stopped server). Like `Offline`, nothing is lost: writes stay
    /// queued and waits go on.
    #[error("the server failed (HTTP {status}); try again later")]
    ServerFailed {
        /// The HTTP status.
        status: u16,
    },
    /// The server refused the request with a v1 error code.
    #[error("server refused: {code}: {message}")]
    Server {
        /// The v1 error code.
        code: vouch_proto::ErrorCode,
        /// The server's sentence (no secrets).
        message: String,
        /// For `invalid_code`: tries left.
        attempts_left: Option<u32>,
        /// For `too_many_requests`: seconds to wait.
        retry_after_secs: Option<u64>,
    },
    /// The profile was set up with another server; a profile belongs to one server (its
    /// device token must never be sent elsewhere). Use another profile for this server.
    #[error("this profile belongs to {profile_server}; use another profile for another server")]
    OtherServer {
        /// The server the profile belongs to.
        profile_server: String,
    },
    /// The server answered with a redirect. None is followed (a redirect could carry a
    /// password or token past the transport rules): configure the server's final URL.
    #[error("the server answered with a redirect; use the server's final URL")]
    Redirected,
    /// The vouch chain does not verify (see [`crate::chain::ChainError`]): nothing in it
    /// is used, and nothing is sealed to a key it names.
    #[error("the list of key holders does not verify: {0}")]
    Chain(#[from] crate::chain::ChainError),
    /// The words are not a recovery key, and why (found on the device, without asking
    /// anyone; the words themselves are never repeated).
    #[error("{0}")]
    InvalidRecoveryWords(RecoveryWordsProblem),
    /// The words are a recovery key, but not one on this user's verified chain (another
    /// key, or one that was replaced or revoked).
    #[error("this recovery key is not one of your key holders (it may have been replaced)")]
    RecoveryKeyNotOnChain,
    /// The server answered something the v1 contract does not allow.
    #[error("unexpected server response: {0}")]
    Protocol(&'static str),
    /// A local step that cannot fail did (encoding this device's own data, a key
    /// derivation, the TLS set-up): a bug here, not the server's doing.
    #[error("internal error: {0}")]
    Internal(&'static str),
    /// The call does not fit the current enrollment state (e.g. approving while untrusted).
    #[error("not possible now: {0}")]
    InvalidState(&'static str),
    /// The code (or QR) entered on the approver is not the one the new device shows, or
    /// something between them changed what both sides saw: the run failed and nothing was
    /// sealed. Ask the person to check the code and try again.
    #[error("the code does not match the one shown on the new device")]
    WrongCode,
    /// The scanned QR code belongs to another request or device: nothing was sent.
    #[error("the QR code does not belong to this request")]
    QrMismatch,
    /// The new device did not answer the run in time (a lost connection, not a wrong code).
    #[error("the new device did not answer; check that it is still showing the code")]
    NoAnswer,
    /// The new device's code was used up (three runs, or ten minutes on its own clock);
    /// the person asks for a new code on that device.
    #[error("this code can no longer be used; ask for a new code on the new device")]
    CodeUsedUp,
    /// The app did not confirm the user's presence (biometric or device credential);
    /// nothing was sent.
    #[error("approving needs your fingerprint, face or device passcode")]
    UserPresenceRequired,
    /// Only a key holder may do this; this device was verified by email only (it can ask
    /// a key holder for the vault keys, nothing else).
    #[error("only a device that holds the vault keys can do this; ask a key holder to share them")]
    KeyHolderRequired,
    /// A different key arrived for a vault and epoch this device already holds: refused
    /// and reported, the held key kept.
    #[error("a different key for a vault this device already holds was refused")]
    KeyConflict,
    /// No pending request with this id was shown on this device.
    #[error("no such pending request on this device")]
    UnknownRequest,
    /// This device was disabled (or its user deprovisioned); its keys and items are wiped.
    #[error("this device was disabled and its data wiped")]
    Wiped,
    /// The server says this device was disabled, but no key holder's revocation of it
    /// verifies on the vouch chain: its keys and items are kept and locked (unused) until
    /// the server answers it again or a verified revocation arrives.
    #[error(
        "the server says this device was disabled; its vault keys are kept but locked until a key holder's revocation of it arrives or the server answers it again"
    )]
    Locked,
    /// The server URL uses plain `http://` to a host that is not loopback.
    #[error("refusing plain http:// to a non-loopback server; use https://")]
    InsecureTransport,
    /// The server's TLS certificate failed validation (unknown issuer, wrong name,
    /// expired): the connection was refused, nothing was sent.
    #[error("the server's certificate is not trusted")]
    UntrustedCertificate,
    /// The server's certificate is valid but its key matches none of the pinned keys
    /// (see [`crate::TlsPolicy`]): the connection was refused, nothing was sent.
    #[error("the server's certificate does not match the pinned key")]
    CertificatePinMismatch,
    /// A name, id or argument is not acceptable.
    #[error("invalid input: {0}")]
    InvalidInput(String),
}

/// What kind of failure an [`Error`] is — the one classification the bindings and the CLI
/// both use (a UI's reaction, an exit code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The server cannot be reached, failed (HTTP 5xx) or is saturated, or its certificate
    /// was refused: try again later; writes stay queued.
    Offline,
    /// The server refused the request (a v1 error code).
    Refused,
    /// An argument is not acceptable.
    Input,
    /// What the person entered or scanned does not match the other device (a wrong code,
    /// another request's QR, a code used up, a device that did not answer).
    Mismatch,
    /// Not possible in this state (untrusted, email-only, no open request).
    State,
    /// This device was disabled: its keys and items are wiped, or — on the server's word
    /// alone — locked ([`Error::Locked`]).
    Wiped,
    /// The local database, files or platform key store failed.
    Storage,
    /// Anything else: a bug, or a server that broke the contract.
    Bug,
}

/// What is wrong with words entered as a recovery key; each is told apart on the device
/// (no server is asked, so there is nothing to count and no oracle). No variant carries a
/// word: a near miss of a real word would leak part of the key into a log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RecoveryWordsProblem {
    /// Word `position` (counted from 1) is not a word of the recovery key list.
    #[error("word {position} is not a word of the recovery key list (check its spelling)")]
    UnknownWord {
        /// Its position, from 1.
        position: u32,
    },
    /// Not 24 words: `count` were entered.
    #[error("a recovery key has 24 words; {count} were entered")]
    WrongCount {
        /// How many words were entered.
        count: u32,
    },
    /// Every word is on the list and there are 24, but the checksum the words carry does
    /// not match: a word is mistyped as another word of the list, or two are swapped.
    #[error("a word is mistyped or two are swapped (the recovery key's checksum does not match)")]
    Checksum,
}

impl Error {
    /// The kind of this failure.
    pub fn kind(&self) -> ErrorKind {
        use vouch_proto::ErrorCode as C;
        match self {
            Self::Offline
            | Self::ServerFailed { .. }
            | Self::UntrustedCertificate
            | Self::CertificatePinMismatch => ErrorKind::Offline,
            Self::Server {
                code: C::DeviceDisabled,
                ..
            }
            | Self::Wiped
            | Self::Locked => ErrorKind::Wiped,
            Self::Server {
                code: C::KeyHolderRequired,
                ..
            } => ErrorKind::State,
            Self::Server {
                code: C::Internal | C::ServerBusy,
                ..
            } => ErrorKind::Offline,
            Self::Server { .. } => ErrorKind::Refused,
            Self::WrongCode
            | Self::QrMismatch
            | Self::InvalidQrPayload(_)
            | Self::UnknownRequest
            | Self::CodeUsedUp
            | Self::NoAnswer => ErrorKind::Mismatch,
            Self::InvalidState(_)
            | Self::KeyHolderRequired
            | Self::UserPresenceRequired
            | Self::KeyConflict => ErrorKind::State,
            Self::InvalidInput(_)
            | Self::InsecureTransport
            | Self::InvalidPublicKey
            | Self::Redirected
            | Self::OtherServer { .. } => ErrorKind::Input,
            Self::SecretStore(_)
            | Self::WrappingKeyLost
            | Self::WrongWrappingKey
            | Self::SchemaTooNew { .. }
            | Self::CorruptRow(_)
            | Self::NotFound(_)
            | Self::Storage(_)
            | Self::Io(_) => ErrorKind::Storage,
            Self::InvalidRecoveryWords(_) => ErrorKind::Input,
            Self::RecoveryKeyNotOnChain => ErrorKind::Mismatch,
            _ => ErrorKind::Bug,
        }
    }

    /// Whether trying again later may work with nothing changed here: the server could
    /// not be reached or failed without an answer (not a refused certificate).
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Offline | Self::ServerFailed { .. })
            || self.server_code().is_some_and(|c| {
                matches!(
                    c,
                    vouch_proto::ErrorCode::ServerBusy | vouch_proto::ErrorCode::Internal
                )
            })
    }

    /// The v1 error code, when the server refused the request.
    pub fn server_code(&self) -> Option<vouch_proto::ErrorCode> {
        match self {
            Self::Server { code, .. } => Some(*code),
            _ => None,
        }
    }
}

//! The one error type Kotlin and Swift see: a sealed `VouchException` / `VouchError`
//! with a case per thing a UI reacts to differently. Messages never hold secrets.

use vouch_core::proto::ErrorCode;

/// Every failure of an exported call.
#[derive(Debug, thiserror::Error, uniffi::Error)]
#[non_exhaustive]
pub enum VouchError {
    /// The server cannot be reached; reads work, writes are queued.
    #[error("offline: the server cannot be reached")]
    Offline,
    /// The server failed without an answer (HTTP `status`, e.g. a proxy in front of a
    /// stopped server). Like `Offline`: writes stay queued, try again later.
    #[error("the server failed (HTTP {status})")]
    ServerFailed { status: u16 },
    /// The email code is wrong. `attempts_left` is the server's count when it sent one
    /// (null otherwise: nothing is invented).
    #[error("wrong code")]
    WrongCode { attempts_left: Option<u32> },
    /// The email code expired or was used up; ask for a new one.
    #[error("the code expired; request a new one")]
    CodeExpired,
    /// Too many wrong codes: code verification is locked for the account.
    #[error("code verification is locked for this account")]
    CodeLocked,
    /// Throttled (or the server is busy); retry after `retry_after_secs` seconds when the
    /// server said how long (null otherwise).
    #[error("too many requests")]
    TooManyRequests { retry_after_secs: Option<u64> },
    /// The user has the maximum number of devices; disable one first (from a web device).
    /// `detail` is the server's sentence.
    #[error("the maximum number of devices is reached; disable one first")]
    DeviceLimitReached { detail: String },
    /// Another device of the user has this name.
    #[error("another of your devices already has this name")]
    DeviceNameTaken,
    /// Wrong email or password.
    #[error("wrong email or password")]
    InvalidCredentials,
    /// The code entered does not match the new device's (or something between them
    /// changed what both saw); nothing was sealed. Ask the person to check and retry.
    #[error("the code does not match the one shown on the new device")]
    CodeMismatch,
    /// The new device did not answer in time: a lost connection, not a wrong code.
    #[error("the new device did not answer; is it still showing the code?")]
    NoAnswer,
    /// The new device's code is used up (three tries or ten minutes): ask for a new one
    /// on that device.
    #[error("this code can no longer be used; ask for a new code on the new device")]
    CodeUsedUp,
    /// The OS's user-presence check was not passed; nothing was sent.
    #[error("approving needs your fingerprint, face or device passcode")]
    UserPresenceRequired,
    /// The approval's payload could not be opened; the request failed on both sides and
    /// setup can start again.
    #[error("the approval could not be completed on this device; start again")]
    ApprovalFailed,
    /// The scanned QR code does not belong to the request (or is not a Vouch code).
    #[error("the QR code does not belong to this request")]
    InvalidQrCode,
    /// Only a key holder may do this; this device was verified by email only and can ask
    /// a key holder to share the vault keys.
    #[error("only a device that holds the vault keys can do this")]
    KeyHolderRequired,
    /// A different key arrived for a vault this device already holds: refused, the held
    /// key kept.
    #[error("a different key for a vault this device already holds was refused")]
    KeyConflict,
    /// The request was already approved or denied elsewhere.
    #[error("the request was already decided")]
    AlreadyDecided,
    /// The request expired.
    #[error("the request expired")]
    RequestExpired,
    /// The device was disabled and the core wiped its keys and items (crypto-shredding).
    #[error("this device was disabled and its data wiped")]
    DeviceWiped,
    /// The server says this device is disabled and the core wiped nothing: it holds vault
    /// keys and no key holder's revocation of it verifies on the vouch chain, so its keys
    /// and items are kept, locked, until the server answers it again (the next `sync`
    /// asks) or a verified revocation arrives (then it wipes).
    #[error("this device was disabled")]
    DeviceDisabled,
    /// The call does not fit the current state.
    #[error("not possible now: {reason}")]
    InvalidState { reason: String },
    /// The server's certificate is not trusted (unknown issuer, wrong name, expired).
    #[error("the server's certificate is not trusted")]
    UntrustedCertificate,
    /// The server's certificate does not match the pinned key: possibly intercepted.
    #[error("the server's certificate does not match the pinned key")]
    CertificatePinMismatch,
    /// The server URL is plain `http://` to a host that is not loopback; use `https://`.
    #[error("plain http:// is only allowed to loopback; use https://")]
    InsecureTransport,
    /// An argument is not acceptable (name, id, URL).
    #[error("invalid input: {reason}")]
    InvalidInput { reason: String },
    /// Any other refusal by the server, with its v1 code.
    #[error("server refused: {code}: {detail}")]
    Server { code: String, detail: String },
    /// The platform key store failed or holds another key than this profile's.
    #[error("key store: {reason}")]
    KeyStore { reason: String },
    /// The local database failed.
    #[error("storage: {reason}")]
    Storage { reason: String },
    /// The list of key holders (the vouch chain) the server sent does not verify: nothing
    /// in it is used and nothing was sealed to anyone on it.
    #[error("the list of key holders does not verify: {reason}")]
    ChainRefused { reason: String },
    /// The words are not a recovery key, and `problem` says what to fix (found on the
    /// device; no word is ever repeated).
    #[error("these are not the 24 words of a recovery key: {problem}")]
    InvalidRecoveryWords { problem: RecoveryWordsProblem },
    /// The words are a recovery key, but not one of this user's key holders (replaced or
    /// revoked).
    #[error("this recovery key is not one of your key holders")]
    RecoveryKeyNotOnChain,
    /// A bug: an unexpected condition or a caught panic inside Rust.
    #[error("internal error: {reason}")]
    Internal { reason: String },
}

/// What is wrong with words entered as a recovery key (each told apart on the device).
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum RecoveryWordsProblem {
    /// Word `position` (from 1) is not a word of the recovery key list.
    UnknownWord { position: u32 },
    /// Not 24 words: `count` were entered.
    WrongCount { count: u32 },
    /// A word is mistyped as another word of the list, or two are swapped (the checksum).
    Checksum,
}

impl std::fmt::Display for RecoveryWordsProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        vouch_core::RecoveryWordsProblem::from(*self).fmt(f)
    }
}

impl From<vouch_core::RecoveryWordsProblem> for RecoveryWordsProblem {
    fn from(p: vouch_core::RecoveryWordsProblem) -> Self {
        use vouch_core::RecoveryWordsProblem as P;
        match p {
            P::UnknownWord { position } => Self::UnknownWord { position },
            P::WrongCount { count } => Self::WrongCount { count },
            P::Checksum => Self::Checksum,
        }
    }
}

impl From<RecoveryWordsProblem> for vouch_core::RecoveryWordsProblem {
    fn from(p: RecoveryWordsProblem) -> Self {
        match p {
            RecoveryWordsProblem::UnknownWord { position } => Self::UnknownWord { position },
            RecoveryWordsProblem::WrongCount { count } => Self::WrongCount { count },
            RecoveryWordsProblem::Checksum => Self::Checksum,
        }
    }
}

impl From<vouch_core::Error> for VouchError {
    fn from(e: vouch_core::Error) -> Self {
        use vouch_core::Error as E;
        match e {
            E::Offline => Self::Offline,
            E::ServerFailed { status } => Self::ServerFailed { status },
            E::WrongCode => Self::CodeMismatch,
            E::NoAnswer => Self::NoAnswer,
            E::CodeUsedUp => Self::CodeUsedUp,
            E::UserPresenceRequired => Self::UserPresenceRequired,
            E::MalformedPayload => Self::ApprovalFailed,
            E::QrMismatch | E::InvalidQrPayload(_) => Self::InvalidQrCode,
            E::Wiped => Self::DeviceWiped,
            E::Locked => Self::DeviceDisabled,
            E::KeyHolderRequired => Self::KeyHolderRequired,
            E::KeyConflict => Self::KeyConflict,
            E::Chain(c) => Self::ChainRefused {
                reason: c.to_string(),
            },
            E::InvalidRecoveryWords(p) => Self::InvalidRecoveryWords { problem: p.into() },
            E::RecoveryKeyNotOnChain => Self::RecoveryKeyNotOnChain,
            E::InvalidState(r) => Self::InvalidState { reason: r.into() },
            E::UnknownRequest => Self::InvalidState {
                reason: "no such pending request on this device".into(),
            },
            E::InvalidInput(r) => Self::InvalidInput { reason: r },
            E::InsecureTransport => Self::InsecureTransport,
            E::UntrustedCertificate => Self::UntrustedCertificate,
            E::CertificatePinMismatch => Self::CertificatePinMismatch,
            E::Server {
                code,
                message,
                attempts_left,
                retry_after_secs,
            } => match code {
                ErrorCode::InvalidCode => Self::WrongCode { attempts_left },
                ErrorCode::CodeExpired => Self::CodeExpired,
                ErrorCode::CodeLocked => Self::CodeLocked,
                ErrorCode::TooManyRequests | ErrorCode::ServerBusy => {
                    Self::TooManyRequests { retry_after_secs }
                }
                ErrorCode::DeviceLimitReached => Self::DeviceLimitReached { detail: message },
                ErrorCode::DeviceNameTaken => Self::DeviceNameTaken,
                ErrorCode::InvalidCredentials => Self::InvalidCredentials,
                ErrorCode::AlreadyDecided => Self::AlreadyDecided,
                ErrorCode::RequestExpired => Self::RequestExpired,
                // Only `E::Wiped` means the core wiped; `E::Locked` or a bare
                // `device_disabled` did not.
                ErrorCode::DeviceDisabled => Self::DeviceDisabled,
                ErrorCode::KeyHolderRequired => Self::KeyHolderRequired,
                ErrorCode::InvalidDeviceName => Self::InvalidInput { reason: message },
                other => Self::Server {
                    code: other.to_string(),
                    detail: message,
                },
            },
            E::SecretStore(s) => Self::KeyStore {
                reason: s.to_string(),
            },
            E::WrappingKeyLost | E::WrongWrappingKey => Self::KeyStore {
                reason: e.to_string(),
            },
            E::Storage(_) | E::Io(_) | E::CorruptRow(_) | E::SchemaTooNew { .. } => Self::Storage {
                reason: e.to_string(),
            },
            // Everything else by its kind (the classification the CLI uses too).
            other => match other.kind() {
                vouch_core::ErrorKind::Input => Self::InvalidInput {
                    reason: other.to_string(),
                },
                vouch_core::ErrorKind::State => Self::InvalidState {
                    reason: other.to_string(),
                },
                vouch_core::ErrorKind::Storage => Self::Storage {
                    reason: other.to_string(),
                },
                _ => Self::Internal {
                    reason: other.to_string(),
                },
            },
        }
    }
}

/// Errors a foreign [`crate::SecretStore`] reports.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum SecretStoreError {
    /// No key under this label (deleted, app reinstalled).
    #[error("no key under this label")]
    KeyNotFound,
    /// The blob does not authenticate under the current key.
    #[error("wrapped secret does not match the key")]
    AuthenticationFailed,
    /// The platform store cannot be used now (locked device, hardware error).
    #[error("unavailable: {reason}")]
    Unavailable { reason: String },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for SecretStoreError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        Self::Unavailable { reason: e.reason }
    }
}

//! # vouch-core
//!
//! The trusted-devices core of Vouch, shared by the Android and iOS apps (through
//! `vouch-ffi`), the desktop CLI and the tests.
//!
//! - [`crypto`]: device identity, vault keys, the approval's PAKE and transcript, HPKE
//!   envelopes (mode_auth_psk), the approval payload, sealed items and the QR code.
//! - [`keystore`]: the [`keystore::SecretStore`] the apps implement over Android
//!   Keystore / iOS Keychain, and a software store for desktop, tests and CI.
//! - [`store`]: the on-device SQLite database with every secret column encrypted.
//! - [`Client`]: the whole client — enrollment, approvals, vaults, revocation — over HTTP.
//!
//! Every fallible call returns [`Error`]; no input makes the core panic, and no secret
//! reaches a log line, an error message or `Debug` output.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod chain;
mod client;
mod error;
pub mod keystore;
pub mod tls;
mod transport;

// The library's own parts: public only to tests, benches and fuzzers (feature `testing`),
// which play an attacker with the store, the crypto and the event decoder in hand. An app
// sees `Client` and its types.
#[cfg(feature = "testing")]
pub mod crypto;
#[cfg(not(feature = "testing"))]
mod crypto;
#[cfg(any(test, feature = "testing"))]
pub mod fixtures;
#[cfg(feature = "testing")]
pub mod sse;
#[cfg(not(feature = "testing"))]
mod sse;
#[cfg(feature = "testing")]
pub mod store;
#[cfg(not(feature = "testing"))]
mod store;

pub use client::{
    APPROVER_WARNING, ApprovalPrompt, CODE_LIFETIME_MS, ChainMember, Client, ClientConfig,
    ClientListener, DATABASE_FILE, DeviceInfo, EnrollmentState, ItemInfo, NEW_ROOT_WARNING,
    PendingRequest, REENCRYPT_BATCH, RUNS_PER_CODE, Recovered, SyncReport, UserPresence, VaultInfo,
    Verification, VerificationStarted, approver_warning,
};
pub use crypto::{ApprovalCode, SecretBytes};
pub use error::{Error, ErrorKind, RecoveryWordsProblem, Result};
pub use tls::TlsPolicy;
pub use vouch_proto as proto;

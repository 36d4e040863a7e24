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
pub mod crypto;
mod error;
pub mod keystore;
pub mod sse;
pub mod store;
pub mod tls;
mod transport;

pub use client::{
    APPROVER_WARNING, ApprovalPrompt, CODE_LIFETIME_MS, ChainMember, Client, ClientConfig,
    ClientListener, DATABASE_FILE, DeviceInfo, EnrollmentState, ItemInfo, PendingRequest,
    REENCRYPT_BATCH, RUNS_PER_CODE, Recovered, SyncReport, UserPresence, VaultInfo, Verification,
    VerificationStarted,
};
pub use error::{Error, ErrorKind, RecoveryWordsProblem, Result};
pub use tls::TlsPolicy;
pub use vouch_proto as proto;

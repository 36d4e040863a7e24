//! # vouch-proto
//!
//! The HTTP contract (v1 routes, Trust v2 approvals) of Vouch as Rust types: request and response bodies, the error
//! body and its codes, server-sent events, and the rules both sides check (device names,
//! public-key encoding). The server and the core client both use these types, so the
//! contract is defined exactly once; with the `openapi` feature each type also describes
//! itself for `GET /v1/openapi.json`.
//!
//! Conventions: JSON bodies; binary values base64url without padding ([`Bytes`]); times
//! RFC 3339 UTC ([`Timestamp`]).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod bytes;
mod error;
mod keys;
mod limits;
mod names;
pub mod routes;
#[macro_use]
mod types;
pub mod chain;
mod console;
mod manage;

pub use bytes::Bytes;
pub use console::*;
pub use error::{ErrorBody, ErrorCode, ErrorDetail};
pub use keys::{
    ED25519_KEY_LEN, KEY_BUNDLE_V1, KEY_TYPE_ED25519, KEY_TYPE_X25519, KeyBundle, KeyError,
    X25519_KEY_LEN, validate_ed25519, validate_x25519,
};
pub use limits::*;
pub use manage::*;
pub use names::{
    NameError, VAULT_NAME_RULE, default_device_name, normalize_name, safe_to_show, unsafe_to_show,
    validate_device_name, validate_vault_name,
};
#[cfg(feature = "names")]
pub use names::{canonical_device_name, display_text, name_keys};
pub use types::*;

/// A point in time on the wire (RFC 3339, UTC).
pub type Timestamp = time::OffsetDateTime;

/// `serde(with = …)` helper for [`Timestamp`] fields.
pub mod rfc3339 {
    pub use time::serde::rfc3339::*;
    /// For `Option<Timestamp>` fields.
    pub mod option {
        pub use time::serde::rfc3339::option::*;
    }
}

/// The snake_case wire name of a unit enum value (`DeviceKind::Web` → `"web"`).
pub fn enum_name<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

//! End-to-end tests of Vouch live in `tests/` of this crate: several `vouch-core` clients
//! (each its own profile directory and SQLite file) against a real `vouch-server` process
//! (the `vouch-e2e-server` binary of this crate runs the same `vouch_server::cli::run`) over
//! real HTTP. `vouch-e2e-client` is a client process the crash tests kill and restart.
//!
//! This library is what those tests and binaries share about clients: a profile directory
//! opened as a client ([`open_client`], [`Device`]), the enrollment steps, and a [`Relay`]
//! that can play a tampering server. The server process, the JSON client and the dev outbox
//! come from `vouch-testkit`.

// Test support: a failed unwrap here is a test failure with a message, not an app crash.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod device;
mod relay;
mod stress;

pub use device::{
    Device, Present, Recorder, approve_while_waiting, contains, enroll_by_approval,
    enroll_by_email, key_holders, open_client, sign_in_and_register, wait_in_background,
};
pub use relay::{ATTACKER_KEY_B64, Relay, start_relay};
pub use stress::{
    Rng, ServerItem, child_device_info, copy_profile, integrity_check, item_text, kills_by_step,
    missing_children, numeric_flags, rand_seed, server_ciphertext, server_items,
    server_vault_epoch, sibling, spawn_client_process,
};

#![no_main]
//! Stored-row decoding: the JSON the client keeps in its database (enrollment state,
//! approver snapshots) decodes garbage without panicking, and public keys found in rows
//! are validated without panicking.
use libfuzzer_sys::fuzz_target;
use vouch_core::{EnrollmentState, crypto::PublicKey, proto::PendingApproval};

fuzz_target!(|data: &[u8]| {
    let _ = serde_json::from_slice::<EnrollmentState>(data);
    // What `Client::open` runs on the stored state.
    let _ = EnrollmentState::from_stored(&String::from_utf8_lossy(data));
    let _ = serde_json::from_slice::<PendingApproval>(data);
    let _ = PublicKey::from_bytes(data);
    let _ = PublicKey::from_bundle(data);
    let _ = vouch_core::crypto::ApprovalCode::parse(&String::from_utf8_lossy(data));
});

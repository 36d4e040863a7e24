//! What the crate's own tests, its benches and the fuzzers build again and again: a PAKE
//! run's context and a freshly sealed local item (feature `testing` only; no app sees it).

use uuid::Uuid;

use crate::{
    crypto::{Descriptor, ItemAad, RunContext, VaultKey, seal_item},
    store::StoredItem,
};

/// An enrollment run's context between two devices with these key bundles: fresh user,
/// request and device ids, a laptop's descriptor.
pub fn run_context(approver_bundle: Vec<u8>, requester_bundle: Vec<u8>) -> RunContext {
    RunContext {
        purpose: "enroll".into(),
        user_id: Uuid::new_v4(),
        request_id: Uuid::new_v4(),
        requester_id: Uuid::new_v4(),
        approver_id: Uuid::new_v4(),
        requester_bundle,
        approver_bundle,
        descriptor: Descriptor {
            name: "alice laptop".into(),
            kind: "web".into(),
            platform: "Linux / Vouch".into(),
            origin: "127.0.0.1".into(),
        },
    }
}

/// A new item of `vault` (a fresh id, version 1, epoch 0) holding `plaintext` sealed
/// under `key`, not yet uploaded (dirty).
///
/// # Panics
/// If sealing fails (the system's random source is unavailable).
pub fn new_stored_item(vault: Uuid, key: &VaultKey, plaintext: &[u8]) -> StoredItem {
    let item_id = Uuid::new_v4();
    let aad = ItemAad {
        vault_id: vault,
        item_id,
        version: 1,
        epoch: 0,
    };
    #[allow(clippy::expect_used)]
    let sealed = seal_item(key, &aad, Some(plaintext)).expect("seal an item");
    StoredItem {
        vault_id: vault,
        item_id,
        version: 1,
        sealed: Some(sealed),
        deleted: false,
        dirty: true,
        high: 1,
    }
}

#![no_main]
//! Item ciphertext from the server: never panics, never opens under a fresh key.
use libfuzzer_sys::fuzz_target;
use vouch_core::crypto::{ItemAad, VaultKey, open_item};

fuzz_target!(|data: &[u8]| {
    let key = VaultKey::generate().unwrap();
    let at = ItemAad {
        vault_id: uuid::Uuid::nil(),
        item_id: uuid::Uuid::nil(),
        version: 1,
        epoch: 0,
    };
    assert!(open_item(&key, &at, data).is_err());
});

#![no_main]
//! Envelope bytes from the server: parse, then try to open; never panics, never opens.
use libfuzzer_sys::fuzz_target;
use vouch_core::crypto::{DeviceIdentity, Envelope, EnvelopeContext, QrSecret};

fuzz_target!(|data: &[u8]| {
    if let Ok(env) = Envelope::from_bytes(data) {
        let id = DeviceIdentity::generate().unwrap();
        let ctx = EnvelopeContext {
            user_id: uuid::Uuid::nil(),
            request_id: uuid::Uuid::nil(),
            vault_id: uuid::Uuid::nil(),
        };
        assert!(env.open(&id, &ctx, None).is_err());
        assert!(
            env.open(&id, &ctx, Some(&QrSecret::generate().unwrap()))
                .is_err()
        );
    }
});

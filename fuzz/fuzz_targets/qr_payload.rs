#![no_main]
//! Scanned QR text: decode never panics; a decoded payload re-encodes to the same text.
use libfuzzer_sys::fuzz_target;
use vouch_core::crypto::QrPayload;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(p) = QrPayload::decode(text) {
            assert_eq!(p.encode().as_str(), text.trim());
        }
    }
});

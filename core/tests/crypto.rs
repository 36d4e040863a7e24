//! Round trips and rejections of the core's cryptography, through the public API only.

// Helpers below unwrap like the tests they serve.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use uuid::Uuid;
use vouch_core::{
    Error,
    crypto::{
        CheckValues, DeviceIdentity, ENVELOPE_LEN, Envelope, EnvelopeContext, EnvelopeMode,
        ItemAad, PublicKey, QR_PREFIX, QrPayload, QrSecret, VaultKey, check_values, open_item,
        seal_item,
    },
};

static_assertions::assert_not_impl_any!(VaultKey: std::fmt::Debug, std::fmt::Display, Clone, serde::Serialize);

fn ctx() -> EnvelopeContext {
    EnvelopeContext {
        user_id: Uuid::new_v4(),
        request_id: Uuid::new_v4(),
        vault_id: Uuid::new_v4(),
    }
}

#[test]
fn envelope_round_trip_base_mode() {
    let device = DeviceIdentity::generate().unwrap();
    let key = VaultKey::generate().unwrap();
    let c = ctx();
    let env = Envelope::seal(&key, device.public_key(), &c, None).unwrap();
    assert_eq!(env.as_bytes().len(), ENVELOPE_LEN);
    assert_eq!(env.mode(), EnvelopeMode::Base);
    let parsed = Envelope::from_bytes(env.as_bytes()).unwrap();
    let opened = parsed.open(&device, &c, None).unwrap();
    assert!(opened.ct_eq(&key));
}

#[test]
fn envelope_opens_only_for_its_recipient_and_context() {
    let device = DeviceIdentity::generate().unwrap();
    let other = DeviceIdentity::generate().unwrap();
    let key = VaultKey::generate().unwrap();
    let c = ctx();
    let env = Envelope::seal(&key, device.public_key(), &c, None).unwrap();

    assert!(matches!(
        env.open(&other, &c, None),
        Err(Error::EnvelopeOpen)
    ));
    for wrong in [
        EnvelopeContext {
            request_id: Uuid::new_v4(),
            ..c
        },
        EnvelopeContext {
            vault_id: Uuid::new_v4(),
            ..c
        },
        EnvelopeContext {
            user_id: Uuid::new_v4(),
            ..c
        },
    ] {
        assert!(matches!(
            env.open(&device, &wrong, None),
            Err(Error::EnvelopeOpen)
        ));
    }
}

#[test]
fn envelope_psk_mode_needs_the_qr_secret() {
    let device = DeviceIdentity::generate().unwrap();
    let key = VaultKey::generate().unwrap();
    let c = ctx();
    let secret = QrSecret::generate().unwrap();
    let env = Envelope::seal(&key, device.public_key(), &c, Some(&secret)).unwrap();
    assert_eq!(env.mode(), EnvelopeMode::Qr);
    assert!(env.open(&device, &c, Some(&secret)).unwrap().ct_eq(&key));

    let wrong = QrSecret::generate().unwrap();
    assert!(matches!(
        env.open(&device, &c, Some(&wrong)),
        Err(Error::EnvelopeOpen)
    ));
    // A QR envelope is not accepted where base mode is expected, and vice versa: a party
    // that never scanned the code cannot pass a base-mode envelope off as the scanner's.
    assert!(matches!(
        env.open(&device, &c, None),
        Err(Error::EnvelopeModeMismatch)
    ));
    let base = Envelope::seal(&key, device.public_key(), &c, None).unwrap();
    assert!(matches!(
        base.open(&device, &c, Some(&secret)),
        Err(Error::EnvelopeModeMismatch)
    ));
}

#[test]
fn envelope_any_flipped_bit_fails() {
    let device = DeviceIdentity::generate().unwrap();
    let key = VaultKey::generate().unwrap();
    let c = ctx();
    for psk in [None, Some(QrSecret::generate().unwrap())] {
        let env = Envelope::seal(&key, device.public_key(), &c, psk.as_ref()).unwrap();
        let bytes = env.as_bytes().to_vec();
        for bit in 0..bytes.len() * 8 {
            let mut b = bytes.clone();
            b[bit / 8] ^= 1 << (bit % 8);
            let opened = Envelope::from_bytes(&b).and_then(|e| e.open(&device, &c, psk.as_ref()));
            assert!(opened.is_err(), "bit {bit} flipped still opened");
        }
    }
}

#[test]
fn envelope_rejects_malformed_bytes() {
    assert!(matches!(
        Envelope::from_bytes(&[]),
        Err(Error::MalformedEnvelope)
    ));
    assert!(matches!(
        Envelope::from_bytes(&[9; ENVELOPE_LEN]),
        Err(Error::UnsupportedSuite(9))
    ));
    let mut short = vec![1u8, 0];
    short.extend_from_slice(&[7; 40]);
    assert!(matches!(
        Envelope::from_bytes(&short),
        Err(Error::MalformedEnvelope)
    ));
    let mut long = vec![1u8, 0];
    long.extend_from_slice(&[7; ENVELOPE_LEN]);
    assert!(matches!(
        Envelope::from_bytes(&long),
        Err(Error::MalformedEnvelope)
    ));
    let mut bad_mode = vec![1u8, 7];
    bad_mode.extend_from_slice(&[7; ENVELOPE_LEN - 2]);
    assert!(matches!(
        Envelope::from_bytes(&bad_mode),
        Err(Error::MalformedEnvelope)
    ));
}

#[test]
fn public_key_validation() {
    assert!(matches!(
        PublicKey::from_bytes(&[0u8; 32]),
        Err(Error::InvalidPublicKey)
    ));
    assert!(matches!(
        PublicKey::from_bytes(&[5u8; 31]),
        Err(Error::InvalidPublicKey)
    ));
    assert!(matches!(
        PublicKey::from_bytes(&[5u8; 33]),
        Err(Error::InvalidPublicKey)
    ));
    assert!(matches!(
        PublicKey::from_bytes(&[]),
        Err(Error::InvalidPublicKey)
    ));
    assert!(matches!(
        PublicKey::from_bytes(&[0xff; 32]),
        Err(Error::InvalidPublicKey)
    ));
    let device = DeviceIdentity::generate().unwrap();
    assert_eq!(
        PublicKey::from_bytes(device.public_key().as_bytes()).unwrap(),
        *device.public_key()
    );
}

fn aad() -> ItemAad {
    ItemAad {
        vault_id: Uuid::new_v4(),
        item_id: Uuid::new_v4(),
        version: 3,
    }
}

#[test]
fn item_round_trip_and_binding() {
    let key = VaultKey::generate().unwrap();
    let at = aad();
    for len in [0usize, 1, 64, 1024, 65536] {
        let pt: Vec<u8> = (0..len).map(|i| i as u8).collect();
        let sealed = seal_item(&key, &at, &pt).unwrap();
        assert_eq!(open_item(&key, &at, &sealed).unwrap().as_slice(), &pt[..]);
    }
    let sealed = seal_item(&key, &at, b"hunter2").unwrap();
    for wrong in [
        ItemAad {
            vault_id: Uuid::new_v4(),
            ..at
        },
        ItemAad {
            item_id: Uuid::new_v4(),
            ..at
        },
        ItemAad { version: 4, ..at },
    ] {
        assert!(matches!(
            open_item(&key, &wrong, &sealed),
            Err(Error::ItemOpen)
        ));
    }
    let other = VaultKey::generate().unwrap();
    assert!(matches!(
        open_item(&other, &at, &sealed),
        Err(Error::ItemOpen)
    ));
}

#[test]
fn item_any_flipped_bit_fails_and_garbage_is_refused() {
    let key = VaultKey::generate().unwrap();
    let at = aad();
    let sealed = seal_item(&key, &at, b"correct horse battery staple").unwrap();
    for bit in 0..sealed.len() * 8 {
        let mut b = sealed.clone();
        b[bit / 8] ^= 1 << (bit % 8);
        assert!(open_item(&key, &at, &b).is_err(), "bit {bit}");
    }
    assert!(matches!(
        open_item(&key, &at, &[]),
        Err(Error::MalformedItem)
    ));
    assert!(matches!(
        open_item(&key, &at, &sealed[..40]),
        Err(Error::MalformedItem)
    ));
}

// ---- check values: fixed vectors -------------------------------------------------------

#[derive(serde::Deserialize, serde::Serialize)]
struct Vector {
    public_key: String,
    user_id: Uuid,
    request_id: Uuid,
    number: String,
    phrase: String,
}

const VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/vectors/check_values.json"
);

fn pk(hex_str: &str) -> PublicKey {
    PublicKey::from_bytes(&hex::decode(hex_str).unwrap()).unwrap()
}

fn derive(v: &Vector) -> CheckValues {
    check_values(&pk(&v.public_key), &v.user_id, &v.request_id)
}

/// Fixed vectors in the repository pin the derivation: any change to the label, the KDF,
/// the bit layout or the word list breaks this test (and every deployed pair of devices).
/// `VOUCH_WRITE_VECTORS=1` rewrites the file once, when the derivation is changed on purpose.
#[test]
fn check_values_match_fixed_vectors() {
    if std::env::var_os("VOUCH_WRITE_VECTORS").is_some() {
        let keys = [
            "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
            "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
            "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
        ];
        let ids = [
            (
                "6f1f4d2a-1c55-4c47-9f1e-0e3b6b8d2a10",
                "0b7d6c7e-55f8-4a3a-a1f8-8d3c6c1e9e01",
            ),
            (
                "6f1f4d2a-1c55-4c47-9f1e-0e3b6b8d2a10",
                "0b7d6c7e-55f8-4a3a-a1f8-8d3c6c1e9e02",
            ),
            (
                "c2d0f6a4-8f63-4a64-9d0e-5a4b2f7e3c99",
                "9a3f1e2d-4c5b-4a69-8e7f-1a2b3c4d5e6f",
            ),
        ];
        let mut out = Vec::new();
        for k in keys {
            for (u, r) in ids {
                let mut v = Vector {
                    public_key: k.into(),
                    user_id: u.parse().unwrap(),
                    request_id: r.parse().unwrap(),
                    number: String::new(),
                    phrase: String::new(),
                };
                let cv = derive(&v);
                v.number = cv.number_text();
                v.phrase = cv.phrase_text();
                out.push(v);
            }
        }
        std::fs::write(VECTORS, serde_json::to_string_pretty(&out).unwrap() + "\n").unwrap();
    }
    let vectors: Vec<Vector> =
        serde_json::from_str(&std::fs::read_to_string(VECTORS).unwrap()).unwrap();
    assert!(vectors.len() >= 9);
    for v in &vectors {
        let cv = derive(v);
        assert_eq!(cv.number_text(), v.number, "number for {}", v.public_key);
        assert_eq!(cv.phrase_text(), v.phrase, "phrase for {}", v.public_key);
        assert!(cv.matches_number(&v.number));
        assert_eq!(cv.phrase().len(), 6);
    }
}

#[test]
fn check_values_change_with_any_key_bit() {
    let device = DeviceIdentity::generate().unwrap();
    let (user, req) = (Uuid::new_v4(), Uuid::new_v4());
    let base = check_values(device.public_key(), &user, &req);
    let bytes = *device.public_key().as_bytes();
    let (mut tried, mut number_changed) = (0, 0);
    for bit in 0..255 {
        let mut b = bytes;
        b[bit / 8] ^= 1 << (bit % 8);
        let Ok(k) = PublicKey::from_bytes(&b) else {
            continue;
        };
        tried += 1;
        let cv = check_values(&k, &user, &req);
        assert_ne!(
            cv.phrase_text(),
            base.phrase_text(),
            "phrase unchanged after flipping bit {bit}"
        );
        if cv.number() != base.number() {
            number_changed += 1;
        }
    }
    assert!(tried > 240);
    // Two digits collide with probability 1/100 per flip; nearly every flip changes it.
    assert!(
        number_changed * 100 >= tried * 90,
        "{number_changed}/{tried}"
    );
    // And the request and user are bound too.
    assert_ne!(
        check_values(device.public_key(), &user, &Uuid::new_v4()).phrase_text(),
        base.phrase_text()
    );
    assert_ne!(
        check_values(device.public_key(), &Uuid::new_v4(), &req).phrase_text(),
        base.phrase_text()
    );
}

#[test]
fn number_matching_input() {
    let device = DeviceIdentity::generate().unwrap();
    let cv = check_values(device.public_key(), &Uuid::new_v4(), &Uuid::new_v4());
    let n = cv.number();
    assert!(n < 100);
    assert!(cv.matches_number(&format!("{n:02}")));
    assert!(cv.matches_number(&format!(" {n} ")));
    assert!(!cv.matches_number(&format!("{}", (n + 1) % 100)));
    for junk in ["", "abc", "100", "-1", "0x1", "１２", "007"] {
        assert!(!cv.matches_number(junk), "{junk:?}");
    }
}

// ---- QR payload ------------------------------------------------------------------------

#[test]
fn qr_payload_round_trip() {
    let device = DeviceIdentity::generate().unwrap();
    let req = Uuid::new_v4();
    let qr = QrPayload::new(req, device.public_key()).unwrap();
    let text = qr.encode();
    assert!(text.starts_with(QR_PREFIX));
    let back = QrPayload::decode(&text).unwrap();
    assert_eq!(back.request_id, req);
    assert!(back.names_key(device.public_key()));
    assert!(!back.names_key(DeviceIdentity::generate().unwrap().public_key()));
    // The decoded secret is the same PSK: an envelope sealed with one opens with the other.
    let key = VaultKey::generate().unwrap();
    let c = EnvelopeContext {
        user_id: Uuid::new_v4(),
        request_id: req,
        vault_id: Uuid::new_v4(),
    };
    let env = Envelope::seal(&key, device.public_key(), &c, Some(&back.secret)).unwrap();
    assert!(env.open(&device, &c, Some(&qr.secret)).unwrap().ct_eq(&key));
    assert!(!format!("{back:?}").contains(&text[QR_PREFIX.len() + 64..]));
}

#[test]
fn qr_payload_rejects_garbage() {
    let device = DeviceIdentity::generate().unwrap();
    let good = QrPayload::new(Uuid::new_v4(), device.public_key())
        .unwrap()
        .encode();
    let body = &good[QR_PREFIX.len()..];
    let zero_secret = format!("{QR_PREFIX}{}", {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
            [1u8; 16]
                .iter()
                .chain([2u8; 32].iter())
                .chain([0u8; 32].iter())
                .copied()
                .collect::<Vec<_>>(),
        )
    });
    let cases = [
        String::new(),
        "hello".into(),
        body.to_string(),
        format!("VOUCH2:{body}"),
        format!("{QR_PREFIX}{}", &body[..body.len() - 4]),
        format!("{}AAAA", good.as_str()),
        format!("{QR_PREFIX}{}!", &body[..body.len() - 1]),
        QR_PREFIX.to_string(),
        zero_secret,
    ];
    for c in cases {
        assert!(
            matches!(QrPayload::decode(&c), Err(Error::InvalidQrPayload(_))),
            "{c:?} accepted"
        );
    }
}
